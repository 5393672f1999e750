"""Stand-in only: clear what moto leaves behind when it deletes a stack.

moto's stack deletes leave route tables, internet-gateway attachments and
network interfaces in the VPC, so the VPC's own delete fails with
DependencyViolation while the stack is already gone (see
shared/notes/local-stand-in.md). CloudFormation on AWS deletes them itself;
this is never used there, and never changes a blueprint.
"""

from __future__ import annotations

import re
from typing import Any

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
