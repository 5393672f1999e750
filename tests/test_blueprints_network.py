"""The network blueprint's options for what production has beyond the defaults (issue 21,
item 2): public IPv4 addresses at launch per tier, gateway endpoints on some tiers' route
tables, and a network ACL of its own per tier. Each renders as CloudFormation documents it
and lints with no finding at all; each bad value is refused naming its key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import BLUEPRINTS
from relight.errors import BlueprintError
from relight.model.blueprint import load_registry
from relight.steps.lint import lint_template

NETWORK = load_registry(BLUEPRINTS)["network"]
WEB_ACL = {
    "ingress": [
        {"rule": 100, "protocol": "tcp", "action": "allow", "cidr": "0.0.0.0/0", "port": 443},
        {
            "rule": 90,
            "protocol": "tcp",
            "action": "deny",
            "cidr": "203.0.113.0/24",
            "port_range": [0, 65535],
        },
        {
            "rule": 110,
            "protocol": "icmp",
            "action": "allow",
            "cidr": "10.0.0.0/8",
            "icmp_type": 3,
            "icmp_code": 4,
        },
        {"rule": 120, "protocol": "all", "action": "allow", "ipv6_cidr": "::/0"},
    ],
    "egress": [
        {
            "rule": 100,
            "protocol": "udp",
            "action": "allow",
            "cidr": "0.0.0.0/0",
            "port_range": [1024, 65535],
        },
    ],
}


def _template(options: dict[str, Any]) -> dict[str, Any]:
    return NETWORK.render(options).to_dict()  # type: ignore[no-any-return]


def _of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == kind}


def _clean(template: dict[str, Any]) -> None:
    findings = lint_template(json.dumps(template), "us-west-2")
    assert findings == [], "\n".join(map(str, findings))


def test_only_the_named_tiers_subnets_map_a_public_ip_at_launch() -> None:
    template = _template({"az_count": 2, "public_ip_on_launch": ["public"]})
    subnets = _of(template, "AWS::EC2::Subnet")
    assert {k: s["MapPublicIpOnLaunch"] for k, s in subnets.items()} == {
        "PublicSubnet1": True,
        "PublicSubnet2": True,
        "PrivateSubnet1": False,
        "PrivateSubnet2": False,
        "DataSubnet1": False,
        "DataSubnet2": False,
    }
    _clean(template)
    default = _of(_template({"az_count": 2}), "AWS::EC2::Subnet")
    assert not any(s["MapPublicIpOnLaunch"] for s in default.values()), "none by default"


def test_a_gateway_endpoint_lands_only_on_the_named_tiers_route_tables() -> None:
    options = {
        "az_count": 2,
        "gateway_endpoints": ["s3", "dynamodb"],
        "endpoint_tiers": {"s3": ["private", "data"]},
    }
    template = _template(options)
    endpoints = _of(template, "AWS::EC2::VPCEndpoint")
    s3 = [r["Ref"] for r in endpoints["S3Endpoint"]["RouteTableIds"]]
    assert s3 == ["PrivateRouteTable1", "PrivateRouteTable2", "DataRouteTable1", "DataRouteTable2"]
    dynamodb = [r["Ref"] for r in endpoints["DynamoDbEndpoint"]["RouteTableIds"]]
    assert len(dynamodb) == 6, "a service endpoint_tiers does not name: every tier, as before"
    _clean(template)


def test_a_tier_with_a_network_acl_gets_its_rules_and_every_subnet_is_associated() -> None:
    template = _template({"az_count": 2, "network_acls": {"public": WEB_ACL}})
    (acl,) = _of(template, "AWS::EC2::NetworkAcl").values()
    assert acl["VpcId"] == {"Ref": "Vpc"}
    entries = _of(template, "AWS::EC2::NetworkAclEntry")
    assert {k: {p: v for p, v in e.items() if p != "NetworkAclId"} for k, e in entries.items()} == {
        "PublicAclIn90": {
            "RuleNumber": 90,
            "Protocol": 6,
            "RuleAction": "deny",
            "Egress": False,
            "CidrBlock": "203.0.113.0/24",
            "PortRange": {"From": 0, "To": 65535},
        },
        "PublicAclIn100": {
            "RuleNumber": 100,
            "Protocol": 6,
            "RuleAction": "allow",
            "Egress": False,
            "CidrBlock": "0.0.0.0/0",
            "PortRange": {"From": 443, "To": 443},
        },
        "PublicAclIn110": {
            "RuleNumber": 110,
            "Protocol": 1,
            "RuleAction": "allow",
            "Egress": False,
            "CidrBlock": "10.0.0.0/8",
            "Icmp": {"Type": 3, "Code": 4},
        },
        "PublicAclIn120": {
            "RuleNumber": 120,
            "Protocol": -1,
            "RuleAction": "allow",
            "Egress": False,
            "Ipv6CidrBlock": "::/0",
        },
        "PublicAclOut100": {
            "RuleNumber": 100,
            "Protocol": 17,
            "RuleAction": "allow",
            "Egress": True,
            "CidrBlock": "0.0.0.0/0",
            "PortRange": {"From": 1024, "To": 65535},
        },
    }
    assert {e["NetworkAclId"]["Ref"] for e in entries.values()} == {"PublicNetworkAcl"}
    associations = _of(template, "AWS::EC2::SubnetNetworkAclAssociation")
    assert sorted(
        (a["SubnetId"]["Ref"], a["NetworkAclId"]["Ref"]) for a in associations.values()
    ) == [("PublicSubnet1", "PublicNetworkAcl"), ("PublicSubnet2", "PublicNetworkAcl")]
    _clean(template)
    assert "AWS::EC2::NetworkAcl" not in json.dumps(_template({"az_count": 2})), (
        "no tier named: every subnet keeps the VPC's default NACL, as before"
    )


def _rule(**given: Any) -> dict[str, Any]:
    return {"rule": 100, "protocol": "tcp", "action": "allow", "cidr": "0.0.0.0/0", **given}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"public_ip_on_launch": ["data"], "tiers": ["public"], "nat": "none"},
            "public_ip_on_launch: data is not in tiers",
        ),
        ({"endpoint_tiers": {"s3": ["data"]}}, "endpoint_tiers.s3: no s3 gateway endpoint"),
        (
            {"gateway_endpoints": ["s3"], "endpoint_tiers": {"s3": []}},
            "endpoint_tiers.s3: name at least one tier",
        ),
        (
            {"network_acls": {"public": {"ingress": [_rule(port=443), _rule(port=80)]}}},
            "ingress.1: rule number 100 is used twice in ingress",
        ),
        ({"network_acls": {"public": {"ingress": [_rule()]}}}, "protocol tcp needs the ports"),
        (
            {"network_acls": {"public": {"egress": [_rule(protocol="all", port=80)]}}},
            "protocol all has no ports",
        ),
        (
            {"network_acls": {"public": {"egress": [_rule(protocol="icmp")]}}},
            "protocol icmp needs icmp_type and icmp_code",
        ),
        (
            {"network_acls": {"public": {"egress": [_rule(protocol="gre", port=1)]}}},
            "protocol 'gre' is not one of all, tcp, udp, icmp, icmpv6",
        ),
        (
            {"network_acls": {"public": {"egress": [_rule(rule=32767, port=1)]}}},
            "less than or equal to 32766",
        ),
        (
            {"network_acls": {"public": {"egress": [_rule(cidr="10.0.0.1/8", port=1)]}}},
            "cidr '10.0.0.1/8' is not an IPv4 CIDR",
        ),
        (
            {"network_acls": {"public": {"egress": [_rule(ipv6_cidr="::/0", port=1)]}}},
            "exactly one of cidr (IPv4) or ipv6_cidr",
        ),
    ],
)
def test_bad_network_options_are_refused_naming_the_key(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(BlueprintError) as caught:
        NETWORK.options_from(options)
    assert message in str(caught.value)
