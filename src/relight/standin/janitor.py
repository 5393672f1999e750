"""Stand-in only: what CloudFormation's delete of a resource removes and moto's leaves behind.

moto 5.2.5's models of route tables, routes, subnet associations, gateway attachments,
internet and NAT gateways, Elastic IPs, VPC endpoints, flow logs, volumes, target groups,
listeners, listener rules and health checks have no delete: a stack's delete left them all, so
the VPC's own delete failed (DependencyViolation) and, as moto had dropped the stack already,
the VPC was orphaned (shared/notes/local-stand-in.md). And an instance's termination left its
primary network interface in the subnet. `delete_resource` is what the stand-in's DeleteStack
(extensions/cloudformation/) does for each resource instead: moto's own delete where its
model (or an addition's, extensions/ec2.py, extensions/rds/) has one, else the service call
AWS's delete handler makes. Written against moto 5.2.5; never used on AWS, never changes a
blueprint.

`clear_vpc_leftovers` is the client-side workaround relight used before that: it cleared a
VPC's leftovers when DeleteStack answered DependencyViolation. The stand-in's DeleteStack no
longer answers so (a delete that fails leaves the stack DELETE_FAILED, with the reason in its
events), and relight no longer calls it; bench/peers.py still does, for the plain moto server
it runs Sceptre against.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

# server side: one resource's delete ----------------------------------------------------------


def _ec2(rmap: Any) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[rmap._account_id][rmap._region_name]


def _elbv2(rmap: Any) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[rmap._account_id][rmap._region_name]


def _delete_nat_gateway(rmap: Any, nat: Any) -> None:
    """DeleteNatGateway also deletes its network interface, which frees its Elastic IP."""
    backend = _ec2(rmap)
    backend.delete_nat_gateway(nat.id)
    eni = getattr(nat, "_eni", None)
    if eni is not None and eni.id in backend.enis:
        for address in backend.addresses:
            if address.eni is eni:
                backend.disassociate_address(address=address.public_ip)
        backend.delete_network_interface(eni.id)


def _detach(rmap: Any, attachment: Any) -> None:
    backend = _ec2(rmap)
    if str(attachment.gateway_id).startswith("igw-"):
        backend.detach_internet_gateway(attachment.gateway_id, attachment.vpc_id)
    else:
        backend.detach_vpn_gateway(attachment.gateway_id, attachment.vpc_id)


def _delete_route(rmap: Any, route: Any) -> None:
    prefix_list = getattr(route.destination_prefix_list, "id", route.destination_prefix_list)
    _ec2(rmap).delete_route(
        route.route_table.id,
        route.destination_cidr_block,
        destination_ipv6_cidr_block=route.destination_ipv6_cidr_block,
        destination_prefix_list_id=prefix_list,
    )


def _disassociate(rmap: Any, association: Any) -> None:
    table = _ec2(rmap).route_tables.get(association.route_table_id)
    if table is not None:
        for key, subnet in list(table._associations.items()):
            if subnet == association.subnet_id:
                table._associations.pop(key)


def _delete_health_check(rmap: Any, check: Any) -> None:
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    route53_backends[rmap._account_id][get_partition(rmap._region_name)].delete_health_check(
        check.id
    )


# AWS::* type → the service call CloudFormation's delete of it makes, for moto's models that
# have no delete of their own (AWS: each resource type's delete handler).
_DELETERS: dict[str, Callable[[Any, Any], None]] = {
    "AWS::EC2::EIP": lambda rmap, eip: _ec2(rmap).release_address(address=eip.public_ip),
    "AWS::EC2::InternetGateway": lambda rmap, igw: _ec2(rmap).delete_internet_gateway(igw.id),
    "AWS::EC2::VPCGatewayAttachment": _detach,
    "AWS::EC2::NatGateway": _delete_nat_gateway,
    "AWS::EC2::Route": _delete_route,
    "AWS::EC2::RouteTable": lambda rmap, table: _ec2(rmap).delete_route_table(table.id),
    "AWS::EC2::SubnetRouteTableAssociation": _disassociate,
    "AWS::EC2::VPCEndpoint": lambda rmap, vpce: _ec2(rmap).delete_vpc_endpoints([vpce.id]),
    "AWS::EC2::FlowLog": lambda rmap, log: _ec2(rmap).delete_flow_logs([log.id]),
    "AWS::EC2::Volume": lambda rmap, volume: _ec2(rmap).delete_volume(volume.id),
    "AWS::ElasticLoadBalancingV2::TargetGroup": (
        lambda rmap, group: _elbv2(rmap).delete_target_group(group.arn)
    ),
    "AWS::ElasticLoadBalancingV2::Listener": (
        lambda rmap, listener: _elbv2(rmap).delete_listener(listener.arn)
    ),
    "AWS::ElasticLoadBalancingV2::ListenerRule": (
        lambda rmap, rule: _elbv2(rmap).delete_rule(rule.arn)
    ),
    "AWS::Route53::HealthCheck": _delete_health_check,
}


def _moto_deletes(model: Any) -> bool:
    """Whether moto's model (or an addition's) deletes itself: `delete(account, region)` or
    `delete_from_cloudformation_json`, as moto's ResourceMap tries them."""
    own = getattr(model, "delete", None)
    if callable(own):
        try:
            if len(inspect.signature(own).parameters) >= 3:
                return True
        except (TypeError, ValueError):
            pass
    return not hasattr(model.delete_from_cloudformation_json, "__isabstractmethod__")


def _instances(made: Any) -> list[Any]:
    states = getattr(made, "instance_states", None)
    if states is not None:  # an Auto Scaling group
        return [state.instance for state in states]
    return [made] if hasattr(made, "nics") and hasattr(made, "_state") else []


def delete_resource(rmap: Any, made: Any, body: dict[str, Any]) -> None:
    """CloudFormation's delete of one resource: moto's, or the service call moto's model lacks;
    an instance's termination also deletes its primary network interface (EC2 User Guide,
    "Network interfaces": the primary one cannot be detached and goes with the instance)."""
    kind = body.get("Type", "")
    instances = _instances(made)
    if _moto_deletes(type(made)):
        rmap._delete_resource(made, body)
    elif kind in _DELETERS:
        _DELETERS[kind](rmap, made)
    for instance in instances:
        if instance._state.name == "terminated":
            backend = _ec2(rmap)
            for eni in list(instance.nics.values()):
                if eni.device_index == 0 and eni.id in backend.enis:
                    backend.delete_network_interface(eni.id)


# client side (to go): clear a VPC's leftovers after moto's failed delete ---------------------

_VPC = re.compile(r"DependencyViolation: The vpc (vpc-[0-9a-f]+) has dependencies")


def clear_vpc_leftovers(ec2: Any, error_message: str) -> str | None:
    """If the error is moto's VPC DependencyViolation, delete the VPC's leftovers and the VPC."""
    match = _VPC.search(error_message)
    if not match:
        return None
    vpc_id = match.group(1)
    by_vpc = [{"Name": "vpc-id", "Values": [vpc_id]}]
    for eni in ec2.describe_network_interfaces(Filters=by_vpc)["NetworkInterfaces"]:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    for table in ec2.describe_route_tables(Filters=by_vpc)["RouteTables"]:
        if any(a.get("Main") for a in table.get("Associations", [])):
            continue
        for assoc in table.get("Associations", []):
            ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
        ec2.delete_route_table(RouteTableId=table["RouteTableId"])
    gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}]
    )["InternetGateways"]
    for gateway in gateways:
        ec2.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
        ec2.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
    ec2.delete_vpc(VpcId=vpc_id)
    return vpc_id
