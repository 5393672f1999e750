"""What AWS does with a template that moto lets through: a small CloudFormation evaluator
and the rules of the services behind it, each as AWS documents it (docs/aws-behaviours.md).

`resolve(template, parameters)` gives each resource's properties as CloudFormation would
hand them to the service: conditions evaluated, `Fn::If` chosen, `AWS::NoValue` removed,
parameter `Ref`s replaced by their values (other references stay as they are). The rule
functions then raise `botocore.exceptions.ClientError` with the service's own error code and
text, so a test reads like a deploy against AWS would go.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

NO_VALUE = object()


def aws_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class _Evaluator:
    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]) -> None:
        self.template = template
        self.parameters = {
            name: parameters.get(name, spec.get("Default"))
            for name, spec in template.get("Parameters", {}).items()
        }
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def value(self, node: Any) -> Any:  # noqa: C901  (one branch per intrinsic function)
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.parameters:
                    return self.parameters[arg]
                return node
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                chosen = arg[1] if self.condition(arg[0]) else arg[2]
                return self.value(chosen)
            if key == "Fn::Equals":
                left, right = (self.value(a) for a in arg)
                return left == right
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
        resolved = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def resolve(template: str | Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """logical id → {"Type", "Properties", "DependsOn", ...} as CloudFormation would create it
    (resources whose Condition is false are left out)."""
    body = json.loads(template) if isinstance(template, str) else template
    evaluator = _Evaluator(body, parameters)
    resources = {}
    for logical, resource in body.get("Resources", {}).items():
        if "Condition" in resource and not evaluator.condition(resource["Condition"]):
            continue
        resources[logical] = evaluator.value(resource)
    return resources


def references(node: Any) -> Iterator[str]:
    """Every logical id a node refers to (Ref, Fn::GetAtt, and ${Name} in Fn::Sub)."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            else:
                yield from references(value)


def needs(resources: Mapping[str, Any], logical: str) -> set[str]:
    """Everything `logical` waits for in CloudFormation: its DependsOn and its references,
    followed transitively."""
    seen: set[str] = set()
    todo = [logical]
    while todo:
        current = resources.get(todo.pop())
        if current is None:
            continue
        depends = current.get("DependsOn", [])
        direct = set([depends] if isinstance(depends, str) else depends)
        direct |= set(references(current.get("Properties", {})))
        for name in direct - seen:
            if name in resources:
                seen.add(name)
                todo.append(name)
    return seen


# Elastic Load Balancing -------------------------------------------------------------------


def elb_attributes(resources: Mapping[str, Any]) -> None:
    """ModifyLoadBalancerAttributes, as CloudFormation calls it: a bucket name is required
    and must be a valid S3 bucket name; an empty one is refused."""
    for resource in resources.values():
        if resource["Type"] != "AWS::ElasticLoadBalancingV2::LoadBalancer":
            continue
        for attribute in resource["Properties"].get("LoadBalancerAttributes", []):
            if attribute["Key"] == "access_logs.s3.bucket" and attribute["Value"] == "":
                raise aws_error(
                    "ValidationError",
                    "The value of 'access_logs.s3.bucket' cannot be empty",
                    "ModifyLoadBalancerAttributes",
                )


# EC2 ----------------------------------------------------------------------------------------


def gateway_dependencies(resources: Mapping[str, Any]) -> None:
    """Gateway.NotAttached: an EIP for the VPC, a NAT gateway, or a route to the internet
    gateway created before the gateway is attached to the VPC."""
    attachments = {
        logical for logical, r in resources.items() if r["Type"] == "AWS::EC2::VPCGatewayAttachment"
    }
    if not attachments:
        return
    for logical, resource in resources.items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        sensitive = (
            (kind == "AWS::EC2::EIP" and properties.get("Domain") == "vpc")
            or kind == "AWS::EC2::NatGateway"
            or (kind == "AWS::EC2::Route" and "GatewayId" in properties)
        )
        if sensitive and not attachments & needs(resources, logical):
            raise aws_error(
                "Gateway.NotAttached",
                f"{logical}: Network vpc-0123 is not attached to any internet gateway",
                "CreateNatGateway" if kind == "AWS::EC2::NatGateway" else "AllocateAddress",
            )


def launch_volumes(
    mappings: list[dict[str, Any]], image: Mapping[str, Any], snapshots: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The volumes RunInstances attaches: the AMI's mappings overridden by the launch's, by
    device name. A volume from a snapshot may not be smaller than the snapshot; with no size
    it takes the snapshot's."""
    volumes = {m["DeviceName"]: dict(m.get("Ebs", {})) for m in image["BlockDeviceMappings"]}
    for mapping in mappings:
        merged = {**volumes.get(mapping["DeviceName"], {}), **mapping.get("Ebs", {})}
        volumes[mapping["DeviceName"]] = merged
    attached = []
    for device, ebs in volumes.items():
        snapshot = ebs.get("SnapshotId")
        size = int(ebs["VolumeSize"]) if "VolumeSize" in ebs else None
        if snapshot in snapshots:
            if size is None:
                size = snapshots[snapshot]
            elif size < snapshots[snapshot]:
                raise aws_error(
                    "InvalidBlockDeviceMapping",
                    f"Volume of size {size}GB is smaller than  snapshot '{snapshot}', "  # sic
                    f"expect size >= {snapshots[snapshot]}GB",
                    "RunInstances",
                )
        attached.append({"DeviceName": device, "SnapshotId": snapshot, "VolumeSize": size})
    return attached


# EC2 Auto Scaling ---------------------------------------------------------------------------


def images_after_update(before: Mapping[str, Any], after: Mapping[str, Any], group: str) -> str:
    """Which AMI the group's running instances have once CloudFormation has updated the
    stack from `before` to `after` (resolved resources, ImageId resolved to the AMI id).

    A new launch template version alone changes nothing that runs: only instances launched
    later use it. The running ones are replaced only by an UpdatePolicy that says so
    (AutoScalingRollingUpdate or AutoScalingReplacingUpdate with WillReplace)."""

    def image(resources: Mapping[str, Any]) -> str:
        spec = resources[group]["Properties"]["LaunchTemplate"]
        template = resources[spec["LaunchTemplateId"]["Ref"]]
        return str(template["Properties"]["LaunchTemplateData"]["ImageId"])

    policy = after[group].get("UpdatePolicy", {})
    replaces = "AutoScalingRollingUpdate" in policy or policy.get(
        "AutoScalingReplacingUpdate", {}
    ).get("WillReplace") in (True, "true")
    return image(after) if replaces else image(before)
