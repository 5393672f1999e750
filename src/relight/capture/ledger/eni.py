"""Who made a network interface, from the fields EC2 documents for it (EC2 API Reference,
NetworkInterface): `InterfaceType` (its valid values, exactly as EC2 spells them: `interface`,
`natGateway`, `efa`, `efa-only`, `trunk`, `load_balancer`, `network_load_balancer`,
`vpc_endpoint`, `branch`, `transit_gateway`, `lambda`, `quicksight`,
`global_accelerator_managed`, `api_gateway_managed`, `gateway_load_balancer`,
`gateway_load_balancer_endpoint`, `iot_rules_managed`, `aws_codestar_connections_managed`),
`RequesterId`, the `Description` the service writes, and the attached instance. An RDS
interface belongs to the captured database whose subnets and security groups it is in, or to
none (an RDS Proxy's, another database's)."""

from __future__ import annotations

from typing import Any

from relight.capture.ledger import kinds as t
from relight.capture.ledger.resources import Resource

# InterfaceType → the owner's type, for the services whose resources capture never reads
_MANAGED = {
    "transit_gateway": "AWS::EC2::TransitGatewayAttachment",
    "gateway_load_balancer": "AWS::ElasticLoadBalancingV2::LoadBalancer (gateway)",
    "quicksight": "AWS::QuickSight::VPCConnection",
    "global_accelerator_managed": "AWS::GlobalAccelerator::EndpointGroup",
    "api_gateway_managed": "AWS::ApiGatewayV2::VpcLink",
    "iot_rules_managed": "AWS::IoT::TopicRuleDestination",
    "aws_codestar_connections_managed": "AWS::CodeStarConnections::Connection",
    "branch": "a branch interface (an ECS task or EKS pod on a trunk)",
}
# interfaces attached to an instance that the blueprint's plain instances do not have
_ON_INSTANCE = {
    "efa": "an Elastic Fabric Adapter",
    "efa-only": "an EFA-only interface",
    "trunk": "a trunk interface (ECS awsvpc trunking)",
}
RDS = "AWS::RDS::DBInstance or DBProxy"


def eni_owner(eni: dict[str, Any]) -> tuple[str, str]:
    """(owner type, owner id or name) of a network interface."""
    kind = str(eni.get("InterfaceType", "interface"))
    desc = str(eni.get("Description", ""))
    requester = str(eni.get("RequesterId", ""))
    instance = str((eni.get("Attachment") or {}).get("InstanceId", ""))
    last = desc.rsplit(" ", 1)[-1] if desc else ""
    if kind == "natGateway" or desc.startswith("Interface for NAT Gateway"):
        return t.NAT, last
    if kind in ("vpc_endpoint", "gateway_load_balancer_endpoint") or desc.startswith(
        "VPC Endpoint Interface"
    ):
        return t.ENDPOINT, last
    if kind in _MANAGED:
        return _MANAGED[kind], last or requester or "?"
    if kind in _ON_INSTANCE:
        return f"{_ON_INSTANCE[kind]} of instance", instance or "?"
    if kind in ("load_balancer", "network_load_balancer") or desc.startswith("ELB "):
        parts = desc[4:].split("/")
        return t.LB, parts[1] if len(parts) > 1 else desc[4:]
    if requester == "amazon-rds" or desc == "RDSNetworkInterface":
        return RDS, ""
    if kind == "lambda" or desc.startswith("AWS Lambda VPC ENI"):
        name = desc.removeprefix("AWS Lambda VPC ENI-").rsplit("-", 5)[0] if desc else ""
        return "AWS::Lambda::Function", name
    if desc.startswith("EFS mount target"):  # InterfaceType `interface`: EC2 has no `efs`
        return "AWS::EFS::MountTarget", last.strip("()")
    if instance and not eni.get("RequesterManaged"):
        return t.INSTANCE, instance
    return "unknown requester", requester or instance or "?"


def rds_owner(eni: dict[str, Any], found: list[Resource]) -> str:
    """The captured database an RDS interface belongs to: the one whose DB subnet group holds
    the interface's subnet and whose VPC security groups hold all of the interface's; ""."""
    groups = {g.get("GroupId") for g in eni.get("Groups", [])}
    for r in found:
        if r.kind not in (t.DB, t.CLUSTER) or not (r.stack or r.owner):
            continue
        own = {g.get("VpcSecurityGroupId") for g in r.props.get("VpcSecurityGroups", [])}
        subnet_group = r.props.get("DBSubnetGroup")
        subnets = {
            s.get("SubnetIdentifier")
            for s in (subnet_group.get("Subnets", []) if isinstance(subnet_group, dict) else [])
        }
        if groups and groups <= own and eni.get("SubnetId") in subnets:
            return r.id
    return ""
