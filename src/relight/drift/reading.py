"""Reading production for drift: the live stacks, their resources, and describe calls.

Read-only: describe and list calls only. Each Auto Scaling group and launch template is
described once per stack, a launch template only at the version its group launches with.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from relight.aws.failures import translated
from relight.model.shapes import tag_dict


def _absent(exc: BaseException, service: str) -> bool:
    """The failure says the thing asked about does not exist (CloudFormation says so for a
    stack with a ValidationError)."""
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    missing_stack = service == "cloudformation" and code == "ValidationError"
    return "NotFound" in code or "Malformed" in code or missing_stack


class Reader:
    """The describe calls drift makes, in one region; None for what does not exist."""

    def __init__(self, client: Callable[[str], Any]) -> None:
        self._client = client

    def _call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        client = self._client(service)
        try:
            with translated(f"{service} {operation}", client):
                result: dict[str, Any] = getattr(client, operation)(**kwargs)
                return result
        except Exception as exc:
            cause = exc.__cause__ or exc
            if _absent(cause, service):
                return None
            raise

    def _first(
        self, key: str, service: str, operation: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        """The first item of the answer's `key` list; None when there is none."""
        found = self._call(service, operation, **kwargs)
        return next(iter((found or {}).get(key, [])), None)

    def stack(self, name: str) -> dict[str, Any] | None:
        found = self._call("cloudformation", "describe_stacks", StackName=name)
        stacks = (found or {}).get("Stacks", [])
        return stacks[0] if stacks and stacks[0]["StackStatus"] != "DELETE_COMPLETE" else None

    def home_stacks(self, env_name: str) -> list[dict[str, Any]]:
        """The live stacks tagged for the environment's production (`relight:env`, purpose
        `home`, no namespace): what relight built at home, whatever the file says today."""
        client = self._client("cloudformation")
        found = []
        with translated("cloudformation describe_stacks", client):
            for page in client.get_paginator("describe_stacks").paginate():
                for stack in page["Stacks"]:
                    tags = tag_dict(stack.get("Tags"))
                    if (
                        tags.get("relight:env") == env_name
                        and tags.get("relight:purpose") == "home"
                        and "relight:namespace" not in tags
                        and stack["StackStatus"] != "DELETE_COMPLETE"
                    ):
                        found.append(stack)
        return found

    def stack_resources(self, name: str) -> dict[str, str]:
        client = self._client("cloudformation")
        physical: dict[str, str] = {}
        with translated("cloudformation list_stack_resources", client):
            for page in client.get_paginator("list_stack_resources").paginate(StackName=name):
                for r in page["StackResourceSummaries"]:
                    if r.get("PhysicalResourceId") and r["ResourceStatus"] != "DELETE_COMPLETE":
                        physical[r["LogicalResourceId"]] = r["PhysicalResourceId"]
        return physical

    def vpc(self, vpc_id: str) -> dict[str, Any] | None:
        return self._first("Vpcs", "ec2", "describe_vpcs", VpcIds=[vpc_id])

    def subnets(self, vpc_id: str) -> list[dict[str, Any]]:
        found = self._call(
            "ec2", "describe_subnets", Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
        )
        return list((found or {}).get("Subnets", []))

    def subnet(self, subnet_id: str) -> dict[str, Any] | None:
        subnet = [{"Name": "subnet-id", "Values": [subnet_id]}]
        return self._first("Subnets", "ec2", "describe_subnets", Filters=subnet)

    def security_group(self, group_id: str) -> dict[str, Any] | None:
        return self._first("SecurityGroups", "ec2", "describe_security_groups", GroupIds=[group_id])

    def auto_scaling_group(self, name: str) -> dict[str, Any] | None:
        return self._first(
            "AutoScalingGroups",
            "autoscaling",
            "describe_auto_scaling_groups",
            AutoScalingGroupNames=[name],
        )

    def launch_template(self, template_id: str, version: str = "$Latest") -> dict[str, Any] | None:
        data = self._first(
            "LaunchTemplateVersions",
            "ec2",
            "describe_launch_template_versions",
            LaunchTemplateId=template_id,
            Versions=[version],
        )
        return None if data is None else dict(data.get("LaunchTemplateData", {}))

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        found = self._call("ec2", "describe_instances", InstanceIds=[instance_id])
        for reservation in (found or {}).get("Reservations", []):
            for instance in reservation.get("Instances", []):
                if instance.get("State", {}).get("Name") != "terminated":
                    return dict(instance)
        return None

    def listeners(self, load_balancer_arn: str) -> list[dict[str, Any]]:
        found = self._call("elbv2", "describe_listeners", LoadBalancerArn=load_balancer_arn)
        return list((found or {}).get("Listeners", []))

    def listener(self, arn: str) -> dict[str, Any] | None:
        return self._first("Listeners", "elbv2", "describe_listeners", ListenerArns=[arn])

    def target_group(self, arn: str) -> dict[str, Any] | None:
        return self._first("TargetGroups", "elbv2", "describe_target_groups", TargetGroupArns=[arn])

    def db_instance(self, name: str) -> dict[str, Any] | None:
        return self._first("DBInstances", "rds", "describe_db_instances", DBInstanceIdentifier=name)


def _describe(reader: Reader, kind: str, physical: str) -> dict[str, Any] | None:
    readers: dict[str, Callable[[str], dict[str, Any] | None]] = {
        "AWS::EC2::VPC": reader.vpc,
        "AWS::EC2::Subnet": reader.subnet,
        "AWS::EC2::SecurityGroup": reader.security_group,
        "AWS::AutoScaling::AutoScalingGroup": reader.auto_scaling_group,
        "AWS::EC2::Instance": reader.instance,
        "AWS::ElasticLoadBalancingV2::Listener": reader.listener,
        "AWS::ElasticLoadBalancingV2::TargetGroup": reader.target_group,
        "AWS::RDS::DBInstance": reader.db_instance,
    }
    return readers[kind](physical)


class Described:
    """One stack's resources as describe calls show them, each described once: an Auto
    Scaling group is read for itself and for the launch template version it launches."""

    def __init__(
        self, reader: Reader, resources: Mapping[str, Any], physical: Mapping[str, str]
    ) -> None:
        self._reader, self._resources, self._physical = reader, resources, physical
        self._described: dict[str, dict[str, Any] | None] = {}
        self._versions: dict[str, str] | None = None  # launch template id → version in use

    def __call__(self, kind: str, physical_id: str) -> dict[str, Any] | None:
        if kind == "AWS::EC2::LaunchTemplate":
            # the version the Auto Scaling group launches (what runs), else the newest
            if self._versions is None:
                self._versions = _versions_in_use(self._resources, self._physical, self)
            version = self._versions.get(physical_id, "$Latest")
            return self._reader.launch_template(physical_id, version)
        if physical_id not in self._described:
            self._described[physical_id] = _describe(self._reader, kind, physical_id)
        return self._described[physical_id]


def _versions_in_use(
    resources: Mapping[str, Any],
    physical: Mapping[str, str],
    describe: Callable[[str, str], dict[str, Any] | None],
) -> dict[str, str]:
    """Launch template id → the version the stack's Auto Scaling groups launch with (a number,
    `$Latest` or `$Default`): what runs, not a newer version nobody uses yet."""
    found = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::AutoScaling::AutoScalingGroup" or name not in physical:
            continue
        group = describe("AWS::AutoScaling::AutoScalingGroup", physical[name]) or {}
        spec = group.get("LaunchTemplate") or {}
        if spec.get("LaunchTemplateId") and spec.get("Version"):
            found[spec["LaunchTemplateId"]] = str(spec["Version"])
    return found
