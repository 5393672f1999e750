"""The sweep: the ledger's own read-only calls in the home region, for what capture's reads do
not reach: every network interface in the VPC (each classified by its owner), the network
ACLs, the internet gateway, the captured groups' scheduled actions and lifecycle hooks, the
captured instances' volumes, the load balancers' attributes, and every resource carrying
production's tags (the Resource Groups Tagging API). A refused call is an entry of the ledger
(`unread`: the call and the permission it needs), never a failure of capture."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.capture.common import Client
from relight.capture.ledger import table as t
from relight.capture.ledger.record import Recorder
from relight.capture.ledger.resources import Resource

# boto3's service name → the IAM action prefix of its calls
_PREFIX = {"elbv2": "elasticloadbalancing", "resourcegroupstaggingapi": "tag"}


@dataclass(frozen=True)
class Unread:
    call: str  # service:Operation
    permission: str  # the IAM action the call needs
    error: str


def _action(service: str, operation: str) -> str:
    return f"{_PREFIX.get(service, service)}:{operation}"


def _camel(op: str) -> str:
    return "".join(part.capitalize() for part in op.split("_"))


def sweep(
    factory: Client, vpc_id: str, kept: list[Resource], tags: dict[str, str]
) -> tuple[Recorder, list[Unread]]:
    """Run the sweep's calls through a recorder of their own; the refused ones as `Unread`."""
    rec = Recorder(factory, origin="sweep")
    unread: list[Unread] = []

    def read(service: str, op: str, fn: Callable[[Any], None]) -> None:
        try:
            fn(rec.client(service))
        except (ClientError, BotoCoreError) as exc:
            unread.append(Unread(f"{service}:{_camel(op)}", _action(service, _camel(op)), str(exc)))

    def pages(op: str, **kwargs: Any) -> Callable[[Any], None]:
        def walk(c: Any) -> None:
            for _ in c.get_paginator(op).paginate(**kwargs):
                pass  # the recorder keeps each page

        return walk

    def once(op: str, **kwargs: Any) -> Callable[[Any], None]:
        def call(c: Any) -> None:
            getattr(c, op)(**kwargs)

        return call

    vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    with rec:
        read(
            "ec2", "describe_network_interfaces", pages("describe_network_interfaces", Filters=vpc)
        )
        read("ec2", "describe_network_acls", pages("describe_network_acls", Filters=vpc))
        read(
            "ec2",
            "describe_internet_gateways",
            pages(
                "describe_internet_gateways",
                Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}],
            ),
        )
        for asg in (r for r in kept if r.kind == t.ASG):
            read(
                "autoscaling",
                "describe_scheduled_actions",
                pages("describe_scheduled_actions", AutoScalingGroupName=asg.id),
            )
            read(
                "autoscaling",
                "describe_lifecycle_hooks",
                once("describe_lifecycle_hooks", AutoScalingGroupName=asg.id),
            )
        instances = sorted(r.id for r in kept if r.kind == t.INSTANCE)
        for start in range(0, len(instances), 200):
            chunk = instances[start : start + 200]
            flt = [{"Name": "attachment.instance-id", "Values": chunk}]
            read("ec2", "describe_volumes", pages("describe_volumes", Filters=flt))
        for lb in (r for r in kept if r.kind == t.LB):
            read(
                "elbv2",
                "describe_load_balancer_attributes",
                once("describe_load_balancer_attributes", LoadBalancerArn=lb.id),
            )
        if tags:
            filters = [{"Key": k, "Values": [v]} for k, v in sorted(tags.items())]
            read(
                "resourcegroupstaggingapi",
                "get_resources",
                pages("get_resources", TagFilters=filters),
            )
    return rec, unread


# ENI owners: (InterfaceType, Description prefix, RequesterId) → the owner's type
def eni_owner(eni: dict[str, Any]) -> tuple[str, str]:
    """(owner type, owner id or name) of a network interface, from the fields AWS documents:
    InterfaceType, RequesterId (who made it for you), Description, Attachment.InstanceId."""
    kind = str(eni.get("InterfaceType", "interface"))
    desc = str(eni.get("Description", ""))
    requester = str(eni.get("RequesterId", ""))
    instance = str((eni.get("Attachment") or {}).get("InstanceId", ""))
    last = desc.rsplit(" ", 1)[-1] if desc else ""
    if kind == "nat_gateway" or desc.startswith("Interface for NAT Gateway"):
        return t.NAT, last
    if kind in ("vpc_endpoint", "gateway_load_balancer_endpoint") or desc.startswith(
        "VPC Endpoint Interface"
    ):
        return t.ENDPOINT, last
    if kind in ("load_balancer", "network_load_balancer") or desc.startswith("ELB "):
        parts = desc[4:].split("/")
        return t.LB, parts[1] if len(parts) > 1 else ""
    if requester == "amazon-rds" or desc == "RDSNetworkInterface":
        return t.DB, ""
    if kind == "lambda" or desc.startswith("AWS Lambda VPC ENI"):
        name = desc.removeprefix("AWS Lambda VPC ENI-").rsplit("-", 5)[0] if desc else ""
        return "AWS::Lambda::Function", name
    if kind == "efs" or desc.startswith("EFS mount target"):
        return "AWS::EFS::MountTarget", last
    if instance and not eni.get("RequesterManaged"):
        return t.INSTANCE, instance
    return "unknown requester", requester or instance or "?"


# an ARN's service[:type] → the type the ledger names it by, for those capture reads
_ARN_KIND = {
    "ec2:vpc": t.VPC,
    "ec2:subnet": t.SUBNET,
    "ec2:route-table": t.ROUTE_TABLE,
    "ec2:internet-gateway": t.IGW,
    "ec2:natgateway": t.NAT,
    "ec2:vpc-endpoint": t.ENDPOINT,
    "ec2:vpc-flow-log": t.FLOW_LOG,
    "ec2:network-acl": t.NACL,
    "ec2:security-group": t.GROUP,
    "ec2:network-interface": t.ENI,
    "ec2:instance": t.INSTANCE,
    "ec2:volume": t.VOLUME,
    "ec2:image": t.IMAGE,
    "ec2:snapshot": t.SNAPSHOT,
    "ec2:launch-template": "AWS::EC2::LaunchTemplate",
    "elasticloadbalancing:loadbalancer": t.LB,
    "elasticloadbalancing:targetgroup": t.TG,
    "elasticloadbalancing:listener": t.LISTENER,
    "autoscaling:autoScalingGroup": t.ASG,
    "rds:db": t.DB,
    "rds:cluster": t.CLUSTER,
    "rds:subgrp": t.DB_SUBNETS,
    "rds:pg": t.DB_PARAMS,
    "rds:cluster-pg": t.CLUSTER_PARAMS,
    "rds:og": "AWS::RDS::OptionGroup",
}


def arn_kind(arn: str) -> tuple[str, str]:
    """(type, id) of an ARN: `arn:partition:service:region:account:resource`, the resource
    `type/id`, `type:id` or `id` (AWS's ARN format)."""
    parts = arn.split(":", 5)
    service, resource = (parts[2], parts[5]) if len(parts) == 6 else ("?", arn)
    sep = min((i for i in (resource.find("/"), resource.find(":")) if i >= 0), default=-1)
    if sep < 0:
        return service, resource
    kind, ident = resource[:sep], resource[sep + 1 :]
    name = f"{service}:{kind}"
    return _ARN_KIND.get(name, name), ident.rsplit("/", 1)[-1] if service == "ec2" else ident
