"""Who made each network interface of the VPC (docs/aws-behaviours.md G2): the ledger names
the owner from `InterfaceType`, as EC2 spells its documented values, the service's
`Description`, `RequesterId` and the attachment, and counts an interface as captured only
when capture read that very owner. moto gives every interface `InterfaceType` `interface` and
a made-up `RequesterId`, so the interfaces here are shaped as EC2's reference documents them."""

from __future__ import annotations

from typing import Any

import botocore.session

from relight.capture.ledger import eni_entry
from relight.capture.ledger import table as t
from relight.capture.ledger.eni import RDS, eni_owner
from relight.capture.ledger.resources import Resource

# NetworkInterface.InterfaceType, "Valid Values" (EC2 API Reference), with an interface of
# each as EC2 describes it → the owner the ledger names
DOCUMENTED = {
    "interface": ({"Attachment": {"InstanceId": "i-0abc"}}, (t.INSTANCE, "i-0abc")),
    "natGateway": ({"Description": "Interface for NAT Gateway nat-0a"}, (t.NAT, "nat-0a")),
    "efa": (
        {"Attachment": {"InstanceId": "i-0hpc"}},
        ("an Elastic Fabric Adapter of instance", "i-0hpc"),
    ),
    "efa-only": (
        {"Attachment": {"InstanceId": "i-0hpc"}},
        ("an EFA-only interface of instance", "i-0hpc"),
    ),
    "trunk": (
        {"Attachment": {"InstanceId": "i-0ecs"}},
        ("a trunk interface (ECS awsvpc trunking) of instance", "i-0ecs"),
    ),
    "load_balancer": ({"Description": "ELB app/shop-lb/50dc6c495c0c9188"}, (t.LB, "shop-lb")),
    "network_load_balancer": ({"Description": "ELB net/nlb/1f"}, (t.LB, "nlb")),
    "vpc_endpoint": (
        {"Description": "VPC Endpoint Interface vpce-0d8d"},
        (t.ENDPOINT, "vpce-0d8d"),
    ),
    "branch": (
        {"Description": "branch eni-0b1"},
        ("a branch interface (an ECS task or EKS pod on a trunk)", "eni-0b1"),
    ),
    "transit_gateway": (
        {"Description": "Network Interface for Transit Gateway Attachment tgw-attach-0c"},
        ("AWS::EC2::TransitGatewayAttachment", "tgw-attach-0c"),
    ),
    "lambda": (
        {"Description": "AWS Lambda VPC ENI-orders-0f3e5a8c-1d2b-4c5d-9e8f-0a1b2c3d4e5f"},
        ("AWS::Lambda::Function", "orders"),
    ),
    "quicksight": ({"RequesterId": "AROAQS"}, ("AWS::QuickSight::VPCConnection", "AROAQS")),
    "global_accelerator_managed": (
        {"Description": "GlobalAccelerator ga-0e"},
        ("AWS::GlobalAccelerator::EndpointGroup", "ga-0e"),
    ),
    "api_gateway_managed": (
        {"Description": "VPC Link vl-0a"},
        ("AWS::ApiGatewayV2::VpcLink", "vl-0a"),
    ),
    "gateway_load_balancer": (
        {"Description": "ELB gwy/fw/1f"},
        ("AWS::ElasticLoadBalancingV2::LoadBalancer (gateway)", "gwy/fw/1f"),
    ),
    "gateway_load_balancer_endpoint": (
        {"Description": "VPC Endpoint Interface vpce-0gw"},
        (t.ENDPOINT, "vpce-0gw"),
    ),
    "iot_rules_managed": (
        {"Description": "IoT rule destination d-1"},
        ("AWS::IoT::TopicRuleDestination", "d-1"),
    ),
    "aws_codestar_connections_managed": (
        {"Description": "CodeStar connection c-1"},
        ("AWS::CodeStarConnections::Connection", "c-1"),
    ),
}


def test_every_documented_interface_type_names_its_owner() -> None:
    enum = botocore.session.get_session().get_service_model("ec2").shape_for("NetworkInterfaceType")
    assert set(DOCUMENTED) == set(enum.enum), "EC2's own list of values, as spelled"
    for kind, (eni, owner) in DOCUMENTED.items():
        assert eni_owner({"InterfaceType": kind, **eni}) == owner, kind
    # the values EC2 never returns are not read as if it did: `nat_gateway`, `efs`
    assert eni_owner({"InterfaceType": "nat_gateway", "RequesterId": "1"})[0] == (
        "unknown requester"
    )
    efs = {"InterfaceType": "interface", "Description": "EFS mount target for fs-12 (fsmt-3)"}
    assert eni_owner(efs) == ("AWS::EFS::MountTarget", "fsmt-3")


def _eni(kind: str, **props: Any) -> Resource:
    return Resource(
        t.ENI, props.get("NetworkInterfaceId", "eni-1"), {"InterfaceType": kind, **props}
    )


def _captured(kind: str, ident: str, **props: Any) -> Resource:
    res = Resource(kind, ident, props, {ident})
    res.stack = "app"
    return res


def test_a_transit_gateway_attachment_and_an_efa_are_not_read_with_their_kind() -> None:
    instance = _captured(t.INSTANCE, "i-0hpc")
    tgw = _eni(
        "transit_gateway",
        RequesterManaged=True,
        Description="Network Interface for Transit Gateway Attachment tgw-attach-0c",
    )
    efa = _eni("efa", NetworkInterfaceId="eni-2", Attachment={"InstanceId": "i-0hpc"})
    assert eni_entry(tgw, [instance])["status"] == "not read"
    assert eni_entry(tgw, [instance])["owner"] == "AWS::EC2::TransitGatewayAttachment tgw-attach-0c"
    entry = eni_entry(efa, [instance])
    assert (entry["status"], entry["owner"]) == (
        "not read",
        "an Elastic Fabric Adapter of instance i-0hpc",
    ), "the instance is captured, its EFA is not rebuilt"
    nat = _eni(
        "natGateway", NetworkInterfaceId="eni-3", Description="Interface for NAT Gateway nat-0a"
    )
    assert eni_entry(nat, [_captured(t.NAT, "nat-0a")])["status"] == "captured"


def _db(ident: str, group: str, subnets: list[str]) -> Resource:
    return _captured(
        t.DB,
        ident,
        VpcSecurityGroups=[{"VpcSecurityGroupId": group, "Status": "active"}],
        DBSubnetGroup={"Subnets": [{"SubnetIdentifier": s} for s in subnets]},
    )


def test_an_rds_interface_is_captured_only_with_the_database_it_belongs_to() -> None:
    """An RDS Proxy's interface (RequesterId amazon-rds, as a database's) is not hidden by a
    captured database: it is tied to one by its subnet and security groups, or not read."""
    orders = _db("orders", "sg-db", ["subnet-d1", "subnet-d2"])
    mine = _eni(
        "interface",
        RequesterId="amazon-rds",
        RequesterManaged=True,
        Description="RDSNetworkInterface",
        SubnetId="subnet-d1",
        Groups=[{"GroupId": "sg-db"}],
    )
    proxy = _eni(
        "interface",
        NetworkInterfaceId="eni-proxy",
        RequesterId="amazon-rds",
        RequesterManaged=True,
        Description="RDSNetworkInterface",
        SubnetId="subnet-d1",
        Groups=[{"GroupId": "sg-proxy"}],
    )
    assert eni_owner(proxy.props) == (RDS, "")
    assert (eni_entry(mine, [orders])["status"], eni_entry(mine, [orders])["owner"]) == (
        "captured",
        f"{t.DB} orders",
    )
    entry = eni_entry(proxy, [orders])
    assert (entry["status"], entry["owner"]) == ("not read", RDS)
    elsewhere = _db("reports", "sg-db", ["subnet-x"])
    assert eni_entry(mine, [elsewhere])["status"] == "not read", "not its subnet group"
