"""The sweep: the ledger's own read-only calls in the home region, for what capture's reads do
not reach: every network interface in the VPC (each classified by its owner), the network
ACLs, the internet gateway, the captured groups' scheduled actions and lifecycle hooks, the
captured instances' volumes, the load balancers' attributes, and every resource carrying
production's tags (the Resource Groups Tagging API). A refused call is an entry of the ledger
(`unread`: the call and the permission it needs), never a failure of capture."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.capture.common import Client
from relight.capture.ledger import table as t
from relight.capture.ledger.record import Call, Recorder
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


# one call of the sweep: (service, operation, paginated, its parameters)
_Read = tuple[str, str, bool, dict[str, Any]]


def _reads(vpc_id: str, kept: list[Resource], tags: dict[str, str]) -> list[_Read]:
    """The sweep's calls, in order."""
    vpc = {"Filters": [{"Name": "vpc-id", "Values": [vpc_id]}]}
    out: list[_Read] = [
        ("ec2", "describe_network_interfaces", True, vpc),
        ("ec2", "describe_network_acls", True, vpc),
        (
            "ec2",
            "describe_internet_gateways",
            True,
            {"Filters": [{"Name": "attachment.vpc-id", "Values": [vpc_id]}]},
        ),
    ]
    for asg in (r for r in kept if r.kind == t.ASG):
        out.append(
            ("autoscaling", "describe_scheduled_actions", True, {"AutoScalingGroupName": asg.id})
        )
        out.append(
            ("autoscaling", "describe_lifecycle_hooks", False, {"AutoScalingGroupName": asg.id})
        )
    instances = sorted(r.id for r in kept if r.kind == t.INSTANCE)
    for start in range(0, len(instances), 200):
        flt = [{"Name": "attachment.instance-id", "Values": instances[start : start + 200]}]
        out.append(("ec2", "describe_volumes", True, {"Filters": flt}))
    for lb in (r for r in kept if r.kind == t.LB):
        out.append(
            ("elbv2", "describe_load_balancer_attributes", False, {"LoadBalancerArn": lb.id})
        )
    for name in _option_groups(kept):
        out.append(("rds", "describe_option_groups", True, {"OptionGroupName": name}))
    if tags:
        filters = [{"Key": k, "Values": [v]} for k, v in sorted(tags.items())]
        out.append(("resourcegroupstaggingapi", "get_resources", True, {"TagFilters": filters}))
    return out


def sweep(
    factory: Client,
    vpc_id: str,
    kept: list[Resource],
    tags: dict[str, str],
    done: Sequence[Call] = (),
) -> tuple[Recorder, list[Unread]]:
    """Run the sweep's calls through a recorder of their own; the refused ones as `Unread`.
    A read capture itself already made (`done`: the same operation and parameters, e.g. the
    NACLs, a group's scheduled actions) is not made again: its answer is in `done`."""
    made = {(c.service, c.operation, _key(c.params)) for c in done}
    rec = Recorder(factory, origin="sweep")
    unread: list[Unread] = []
    with rec:
        for service, op, paginated, kwargs in _reads(vpc_id, kept, tags):
            if (service, _camel(op), _key(kwargs)) in made:
                continue
            try:
                client = rec.client(service)
                if paginated:
                    for _ in client.get_paginator(op).paginate(**kwargs):
                        pass  # the recorder keeps each page
                else:
                    getattr(client, op)(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                name = _camel(op)
                unread.append(Unread(f"{service}:{name}", _action(service, name), str(exc)))
    return rec, unread


def _key(params: dict[str, Any]) -> str:
    """A call's parameters, pagination aside, as one comparable string."""
    paging = {"NextToken", "MaxResults", "MaxRecords", "Marker", "PaginationToken"}
    return json.dumps({k: v for k, v in params.items() if k not in paging}, sort_keys=True)


def _option_groups(kept: list[Resource]) -> list[str]:
    """The captured databases' own option groups (not AWS's `default:` ones)."""
    return sorted(
        {
            str(m["OptionGroupName"])
            for r in kept
            if r.kind == t.DB
            for m in r.props.get("OptionGroupMemberships", [])
            if m.get("OptionGroupName") and not str(m["OptionGroupName"]).startswith("default:")
        }
    )


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
