"""The ledger's table (table.py), its network part: the VPC, its subnets, route tables,
gateways, endpoints, flow logs, NACLs and security groups."""

from __future__ import annotations

from relight.capture.ledger.kinds import (
    ENDPOINT,
    FLOW_LOG,
    GROUP,
    IGW,
    NACL,
    NAT,
    ROUTE_TABLE,
    SUBNET,
    VPC,
)
from relight.capture.ledger.predicates import (
    DEFAULT_GROUP,
    DEFAULT_NACL,
    default_group,
    default_nacl,
    full_access,
    gateway,
)
from relight.capture.ledger.rows import (
    Row,
    at_default,
    changed,
    empty,
    equals,
    is_,
    noted,
    reproduced,
)

NET = "stacks.network.params"
SG = "stacks.security.params.groups.{group}"
_TAGS = reproduced("tags")  # the file's top-level tags: CloudFormation propagates them
_NO_IPV6 = at_default(empty, "the network blueprint makes IPv4-only networks, as production's")

NETWORK_ROWS: dict[str, dict[str, Row]] = {
    VPC: {
        "CidrBlock": reproduced(f"{NET}.cidr", notes=("CidrBlock",)),
        "CidrBlockAssociationSet": reproduced(f"{NET}.cidr", notes=("CidrBlock",)),
        "InstanceTenancy": changed(
            "default", "the network blueprint makes default-tenancy VPCs", is_("default")
        ),
        "Ipv6CidrBlockAssociationSet": _NO_IPV6,
        "Tags": _TAGS,
    },
    SUBNET: {
        "CidrBlock": reproduced(
            f"{NET}.subnets.{{tier}}", f"{NET}.cidr", notes=("CidrBlock", "subnets")
        ),
        "AvailabilityZoneId": reproduced(f"{NET}.az_count"),
        "MapPublicIpOnLaunch": reproduced(
            f"{NET}.public_ip_on_launch", notes=("MapPublicIpOnLaunch",), default=equals(False)
        ),
        "AssignIpv6AddressOnCreation": _NO_IPV6,
        "Ipv6CidrBlockAssociationSet": _NO_IPV6,
        "Ipv6Native": _NO_IPV6,
        "EnableDns64": _NO_IPV6,
        "PrivateDnsNameOptionsOnLaunch": at_default(
            equals(
                {
                    "HostnameType": "ip-name",
                    "EnableResourceNameDnsARecord": False,
                    "EnableResourceNameDnsAAAARecord": False,
                }
            )
        ),
        "Tags": _TAGS,
    },
    ROUTE_TABLE: {
        "Routes": reproduced(f"{NET}.nat", notes=("Routes",)),
        "Associations": reproduced(f"{NET}.az_count"),
        "Tags": _TAGS,
    },
    IGW: {"Tags": _TAGS},
    NAT: {
        "SubnetId": reproduced(f"{NET}.nat", notes=("NatGateways",)),
        "ConnectivityType": reproduced(f"{NET}.nat", notes=("NatGateways",)),
        "Tags": _TAGS,
    },
    ENDPOINT: {
        "ServiceName": reproduced(f"{NET}.gateway_endpoints", notes=("ServiceName",)),
        "VpcEndpointType": reproduced(f"{NET}.gateway_endpoints", notes=("ServiceName",)),
        # absent for a service: every tier's route tables, as capture found production's
        "RouteTableIds": reproduced(
            f"{NET}.endpoint_tiers.{{svc}}", f"{NET}.gateway_endpoints", notes=("RouteTableIds",)
        ),
        "SubnetIds": noted("ServiceName", default=empty),  # a gateway endpoint has none
        "Groups": noted("ServiceName", default=empty),
        "PrivateDnsEnabled": noted(
            "ServiceName", default=gateway, by="a gateway endpoint has no private DNS"
        ),
        "PolicyDocument": noted("PolicyDocument", default=full_access),
        "Tags": _TAGS,
    },
    FLOW_LOG: {
        "LogDestinationType": reproduced(f"{NET}.flow_logs", notes=("LogDestinationType",)),
        "DeliverLogsPermissionArn": reproduced("stacks.identity.params.flow_logs"),
        "TrafficType": changed("ALL", "the network blueprint logs all traffic", is_("ALL")),
        "LogGroupName": changed(
            "the network stack's own log group",
            "a log group is regional: the recovery region writes to its own",
            is_(None),
        ),
        "LogDestination": changed(
            "the network stack's own log group",
            "a log destination is regional: the recovery region writes to its own",
            is_(None),
        ),
        "Tags": _TAGS,
    },
    NACL: {
        "Entries": reproduced(
            f"{NET}.network_acls.{{tier}}",
            notes=("Entries",),
            default=default_nacl,
            by=DEFAULT_NACL,
        ),
        "Associations": reproduced(
            f"{NET}.network_acls.{{tier}}",
            notes=("Associations", "Entries"),
            default=default_nacl,
            by=DEFAULT_NACL,
        ),
        # the rebuilt NACL has the file's tags; production's own tags on it are not read
        "Tags": at_default(empty),
    },
    GROUP: {
        "GroupName": reproduced(SG, default=default_group("default"), by=DEFAULT_GROUP),
        "Description": reproduced(
            f"{SG}.description",
            default=default_group("default VPC security group"),
            by=DEFAULT_GROUP,
        ),
        "IpPermissions": reproduced(
            f"{SG}.ingress",
            notes=("IpPermissions", "IpProtocol", "UserIdGroupPairs", "PrefixListIds"),
            note_on="ingress",
            default=default_group("self"),
            by=DEFAULT_GROUP,
        ),
        "IpPermissionsEgress": reproduced(
            f"{SG}.egress",
            notes=("IpPermissions", "IpProtocol", "UserIdGroupPairs", "PrefixListIds"),
            note_on="egress",
            default=default_group("all"),
            by=DEFAULT_GROUP,
        ),
        "Tags": _TAGS,
    },
}
