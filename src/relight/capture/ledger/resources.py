"""The resources in the recorded responses: each with its type, id, the names notes may use
for it, and its raw properties; kept to those of the captured VPC."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from relight.capture.ledger import table as t
from relight.capture.ledger.record import Call

# (service, operation) → (the response's list, resource type, id field, other name fields)
EXTRACT: dict[tuple[str, str], tuple[str, str, str, tuple[str, ...]]] = {
    ("ec2", "DescribeVpcs"): ("Vpcs", t.VPC, "VpcId", ()),
    ("ec2", "DescribeSubnets"): ("Subnets", t.SUBNET, "SubnetId", ("SubnetArn",)),
    ("ec2", "DescribeRouteTables"): ("RouteTables", t.ROUTE_TABLE, "RouteTableId", ()),
    ("ec2", "DescribeInternetGateways"): ("InternetGateways", t.IGW, "InternetGatewayId", ()),
    ("ec2", "DescribeNatGateways"): ("NatGateways", t.NAT, "NatGatewayId", ()),
    ("ec2", "DescribeVpcEndpoints"): ("VpcEndpoints", t.ENDPOINT, "VpcEndpointId", ()),
    ("ec2", "DescribeFlowLogs"): ("FlowLogs", t.FLOW_LOG, "FlowLogId", ()),
    ("ec2", "DescribeNetworkAcls"): ("NetworkAcls", t.NACL, "NetworkAclId", ()),
    ("ec2", "DescribeNetworkInterfaces"): ("NetworkInterfaces", t.ENI, "NetworkInterfaceId", ()),
    ("ec2", "DescribeSecurityGroups"): ("SecurityGroups", t.GROUP, "GroupId", ("GroupName",)),
    ("ec2", "DescribeLaunchTemplateVersions"): ("LaunchTemplateVersions", t.LT, "", ()),
    ("ec2", "DescribeVolumes"): ("Volumes", t.VOLUME, "VolumeId", ()),
    ("ec2", "DescribeImages"): ("Images", t.IMAGE, "ImageId", ()),
    ("ec2", "DescribeSnapshots"): ("Snapshots", t.SNAPSHOT, "SnapshotId", ()),
    ("elbv2", "DescribeLoadBalancers"): (
        "LoadBalancers",
        t.LB,
        "LoadBalancerArn",
        ("LoadBalancerName",),
    ),
    ("elbv2", "DescribeTargetGroups"): (
        "TargetGroups",
        t.TG,
        "TargetGroupArn",
        ("TargetGroupName",),
    ),
    ("elbv2", "DescribeListeners"): ("Listeners", t.LISTENER, "ListenerArn", ()),
    ("autoscaling", "DescribeAutoScalingGroups"): (
        "AutoScalingGroups",
        t.ASG,
        "AutoScalingGroupName",
        ("AutoScalingGroupARN",),
    ),
    ("autoscaling", "DescribeScheduledActions"): (
        "ScheduledUpdateGroupActions",
        t.SCHEDULED,
        "ScheduledActionARN",
        ("ScheduledActionName",),
    ),
    ("autoscaling", "DescribeLifecycleHooks"): ("LifecycleHooks", t.HOOK, "", ()),
    ("autoscaling", "DescribePolicies"): (
        "ScalingPolicies",
        t.POLICY,
        "PolicyARN",
        ("PolicyName",),
    ),
    ("rds", "DescribeDBInstances"): (
        "DBInstances",
        t.DB,
        "DBInstanceIdentifier",
        ("DBInstanceArn",),
    ),
    ("rds", "DescribeDBClusters"): (
        "DBClusters",
        t.CLUSTER,
        "DBClusterIdentifier",
        ("DBClusterArn",),
    ),
    ("rds", "DescribeDBSubnetGroups"): ("DBSubnetGroups", t.DB_SUBNETS, "DBSubnetGroupName", ()),
    ("rds", "DescribeDBParameterGroups"): (
        "DBParameterGroups",
        t.DB_PARAMS,
        "DBParameterGroupName",
        (),
    ),
    ("rds", "DescribeDBClusterParameterGroups"): (
        "DBClusterParameterGroups",
        t.CLUSTER_PARAMS,
        "DBClusterParameterGroupName",
        (),
    ),
    ("rds", "DescribeOptionGroups"): ("OptionGroupsList", t.OPTIONS, "OptionGroupName", ()),
    ("route53", "ListHostedZones"): ("HostedZones", t.ZONE, "Id", ("Name",)),
    ("route53", "ListResourceRecordSets"): ("ResourceRecordSets", t.RECORD, "", ()),
}


@dataclass
class Resource:
    kind: str
    id: str
    props: dict[str, Any]
    names: set[str] = field(default_factory=set)
    origin: str = "capture"  # capture, sweep, or tagging (the Resource Groups Tagging API)
    owner: str = ""  # what made it (an ENI's requester, a member instance's group)
    stack: str = ""  # the file's stack it is captured into
    context: dict[str, str] = field(default_factory=dict)  # {tier}, {group}, {artifact}

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.id)


def _ident(kind: str, item: dict[str, Any], id_field: str, params: dict[str, Any]) -> str:
    if kind == t.LT:
        return f"{item.get('LaunchTemplateId')}:{item.get('VersionNumber')}"
    if kind == t.SCHEDULED and not item.get(id_field):  # an ARN, where AWS gives one
        return f"{item.get('AutoScalingGroupName')}:{item.get('ScheduledActionName')}"
    if kind == t.HOOK:
        return f"{item.get('AutoScalingGroupName')}:{item.get('LifecycleHookName')}"
    if kind == t.RECORD:
        name = str(item.get("Name", "")).rstrip(".")
        extra = f" {item['SetIdentifier']}" if item.get("SetIdentifier") else ""
        zone = str(params.get("HostedZoneId", "")).rsplit("/", 1)[-1]
        return f"{zone} {name} {item.get('Type')}{extra}"
    if kind == t.ZONE:  # `/hostedzone/Z123`: a record names its zone by `Z123`
        return str(item.get(id_field, "")).rsplit("/", 1)[-1]
    return str(item.get(id_field, ""))


def _items(call: Call, list_key: str) -> list[dict[str, Any]]:
    if call.operation == "DescribeInstances":
        return [i for r in call.response.get("Reservations", []) for i in r.get("Instances", [])]
    return list(call.response.get(list_key, []))


def extract(calls: list[Call]) -> dict[tuple[str, str], Resource]:
    """Every resource in the responses, by (type, id); a later read adds to an earlier one."""
    found: dict[tuple[str, str], Resource] = {}

    def add(kind: str, ident: str, props: dict[str, Any], names: set[str], origin: str) -> Resource:
        res = found.setdefault((kind, ident), Resource(kind, ident, {}, {ident}, origin))
        res.props.update(props)
        res.names |= {n for n in names if n}
        return res

    for call in calls:
        op = (call.service, call.operation)
        if op == ("ec2", "DescribeInstances"):
            for item in _items(call, ""):
                add(t.INSTANCE, item["InstanceId"], item, set(), call.origin)
        elif op in EXTRACT:
            list_key, kind, id_field, more = EXTRACT[op]
            for item in _items(call, list_key):
                ident = _ident(kind, item, id_field, call.params)
                names = {str(item.get(m, "")) for m in more}
                if kind == t.LT:
                    names.add(str(item.get("LaunchTemplateName", "")))
                if kind == t.RECORD:
                    name = str(item.get("Name", "")).rstrip(".")
                    names |= {name, f"{name} {item.get('Type')}"}
                add(kind, ident, item, names, call.origin)
        else:
            _others(call, add)
    return found


def _others(call: Call, add: Callable[[str, str, dict[str, Any], set[str], str], Any]) -> None:
    """The reads that add to a resource rather than list one: a load balancer's attributes, an
    instance profile's roles, a role's policies."""
    op = (call.service, call.operation)
    if op == ("elbv2", "DescribeLoadBalancerAttributes"):
        attrs = {
            f"Attributes.{a['Key']}": a.get("Value") for a in call.response.get("Attributes", [])
        }
        add(t.LB, call.params.get("LoadBalancerArn", ""), attrs, set(), call.origin)
    elif op == ("elbv2", "DescribeTargetGroupAttributes"):
        attrs = {
            f"Attributes.{a['Key']}": a.get("Value") for a in call.response.get("Attributes", [])
        }
        add(t.TG, call.params.get("TargetGroupArn", ""), attrs, set(), call.origin)
    elif op == ("iam", "GetInstanceProfile"):
        profile = call.response.get("InstanceProfile", {})
        name = str(profile.get("InstanceProfileName", ""))
        add(t.PROFILE, name, profile, {str(profile.get("Arn", ""))}, call.origin)
        for role in profile.get("Roles", []):
            add(t.ROLE, role["RoleName"], {}, {name}, call.origin)
    elif op == ("iam", "ListAttachedRolePolicies"):
        policies = [p["PolicyName"] for p in call.response.get("AttachedPolicies", [])]
        props: dict[str, Any] = {"AttachedPolicies": policies}
        if t.SSM in policies:
            props[f"AttachedPolicies.{t.SSM}"] = True
        add(t.ROLE, call.params.get("RoleName", ""), props, set(), call.origin)
    elif op == ("iam", "ListRolePolicies") and call.response.get("PolicyNames"):
        props = {"InlinePolicies": list(call.response["PolicyNames"])}
        add(t.ROLE, call.params.get("RoleName", ""), props, set(), call.origin)
