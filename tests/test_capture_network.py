"""`relight capture` of the network beyond subnets and routes (issue 21, item 2): the subnets'
public IPv4 addresses at launch, the route tables each gateway endpoint is on, the network
ACLs, and production's own tags. Production is built with plain boto3 on moto; where moto
describes NACLs otherwise than AWS does, `AwsNacls` answers as AWS documents (below)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from conftest import MINIMAL
from relight.capture import Capture, CaptureError, capture, find_vpc
from relight.errors import ConfigError
from relight.model.config import load_environment
from relight.steps.render import build_plan, lint_plan

REGION = "us-east-1"
PROTOCOL = {"all": "-1", "icmp": "1", "tcp": "6", "udp": "17", "icmpv6": "58"}


class AwsNacls:
    """A moto EC2 client whose DescribeNetworkAcls answers as AWS documents (docs/aws-
    behaviours.md E31): every NACL ends with the rule `*` (32767, deny all, both ways), and an
    ICMP entry carries its `IcmpTypeCode`. moto 5.2.5 leaves the `*` rules out of a custom NACL
    and drops the type and code CreateNetworkAclEntry was given. In a VPC with an IPv6 block
    (E31) every NACL also ends with the IPv6 `*` rule, number 32768 (deny ::/0, both ways), and
    the default NACL allows all IPv6 traffic with rule 101: moto 5.2.5 adds neither."""

    def __init__(self, ec2: Any) -> None:
        self._ec2 = ec2
        self._icmp: dict[tuple[str, int, bool], dict[str, int]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ec2, name)

    def create_network_acl_entry(self, **kwargs: Any) -> Any:
        if "IcmpTypeCode" in kwargs:
            key = (kwargs["NetworkAclId"], kwargs["RuleNumber"], kwargs["Egress"])
            self._icmp[key] = dict(kwargs["IcmpTypeCode"])
        return self._ec2.create_network_acl_entry(**kwargs)

    def get_paginator(self, op: str) -> Any:
        real = self._ec2.get_paginator(op)
        if op != "describe_network_acls":
            return real
        fix = self._as_aws

        class Pages:
            def paginate(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
                for page in real.paginate(**kwargs):
                    yield {**page, "NetworkAcls": [fix(a) for a in page["NetworkAcls"]]}

        return Pages()

    def _as_aws(self, acl: dict[str, Any]) -> dict[str, Any]:
        entries = []
        for e in acl["Entries"]:
            key = (acl["NetworkAclId"], e["RuleNumber"], e["Egress"])
            entries.append({**e, "IcmpTypeCode": self._icmp[key]} if key in self._icmp else e)
        vpc = self._ec2.describe_vpcs(VpcIds=[acl["VpcId"]])["Vpcs"][0]
        ipv6 = bool(vpc.get("Ipv6CidrBlockAssociationSet"))
        aws_own = [(32767, "deny", "CidrBlock", "0.0.0.0/0")]
        if ipv6:
            aws_own.append((32768, "deny", "Ipv6CidrBlock", "::/0"))
            if acl.get("IsDefault"):
                aws_own.append((101, "allow", "Ipv6CidrBlock", "::/0"))
        for egress in (False, True):
            for number, action, field, cidr in aws_own:
                if not any(e["RuleNumber"] == number and e["Egress"] == egress for e in entries):
                    entries.append(
                        {
                            "RuleNumber": number,
                            "Protocol": "-1",
                            "RuleAction": action,
                            "Egress": egress,
                            field: cidr,
                        }
                    )
        return {**acl, "Entries": entries}


def _clients(ec2: AwsNacls) -> Callable[[str], Any]:
    return lambda service: ec2 if service == "ec2" else boto3.client(service, REGION)


DATA_RULES = {
    "ingress": [
        {"rule": 100, "protocol": "tcp", "action": "allow", "cidr": "10.70.10.0/23", "port": 5432},
        {
            "rule": 110,
            "protocol": "icmp",
            "action": "allow",
            "cidr": "10.70.0.0/16",
            "icmp_type": 3,
            "icmp_code": 4,
        },
        {
            "rule": 120,
            "protocol": "tcp",
            "action": "deny",
            "cidr": "0.0.0.0/0",
            "port_range": [0, 1023],
        },
    ],
    "egress": [
        {
            "rule": 100,
            "protocol": "tcp",
            "action": "allow",
            "cidr": "10.70.0.0/16",
            "port_range": [1024, 65535],
        },
    ],
}


def _acl_entry(ec2: Any, acl: str, egress: bool, rule: dict[str, Any]) -> None:
    extra: dict[str, Any] = {}
    if "port" in rule:
        extra["PortRange"] = {"From": rule["port"], "To": rule["port"]}
    if "port_range" in rule:
        extra["PortRange"] = {"From": rule["port_range"][0], "To": rule["port_range"][1]}
    if "icmp_type" in rule:
        extra["IcmpTypeCode"] = {"Type": rule["icmp_type"], "Code": rule["icmp_code"]}
    ec2.create_network_acl_entry(
        NetworkAclId=acl,
        RuleNumber=rule["rule"],
        Protocol=PROTOCOL[rule["protocol"]],
        RuleAction=rule["action"],
        Egress=egress,
        CidrBlock=rule["cidr"],
        **extra,
    )


def _associate(ec2: Any, vpc: str, acl: str, subnet: str) -> None:
    """Move `subnet` from the NACL it is on to `acl` (ReplaceNetworkAclAssociation)."""
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    (current,) = [
        a["NetworkAclAssociationId"]
        for n in acls["NetworkAcls"]
        for a in n["Associations"]
        if a["SubnetId"] == subnet
    ]
    ec2.replace_network_acl_association(AssociationId=current, NetworkAclId=acl)


def _production(ec2: AwsNacls, ipv6: bool = False) -> dict[str, Any]:
    """Three tiers in two AZs: the public subnets map public IPv4s at launch and share one
    route table; each private subnet has its own (through one NAT); the data subnets share one
    without a way out. S3's gateway endpoint is on the private and data tables, DynamoDB's on
    the data table only. The data tier has a NACL of its own. The VPC carries production's
    tags beside its Name. With `ipv6`, the VPC also has an Amazon-provided IPv6 block."""
    vpc = ec2.create_vpc(CidrBlock="10.70.0.0/16", AmazonProvidedIpv6CidrBlock=ipv6)["Vpc"]["VpcId"]
    ec2.create_tags(
        Resources=[vpc],
        Tags=[
            {"Key": k, "Value": v}
            for k, v in {"Name": "shop-vpc", "Environment": "shop", "Team": "payments"}.items()
        ],
    )
    azs = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"][:2]]
    subnets: dict[str, list[str]] = {}
    for tier, third in (("public", 0), ("private", 10), ("data", 20)):
        for index, az in enumerate(azs):
            block = f"10.70.{third + index}.0/24"
            sid = ec2.create_subnet(VpcId=vpc, CidrBlock=block, AvailabilityZone=az)
            subnets.setdefault(tier, []).append(sid["Subnet"]["SubnetId"])
    for sid in subnets["public"]:
        ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets["public"][0], AllocationId=eip)
    nat_id = nat["NatGateway"]["NatGatewayId"]
    tables: dict[str, list[str]] = {}

    def table(tier: str, members: list[str], **route: str) -> None:
        rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        if route:
            ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", **route)
        for sid in members:
            ec2.associate_route_table(RouteTableId=rtb, SubnetId=sid)
        tables.setdefault(tier, []).append(rtb)

    table("public", subnets["public"], GatewayId=igw)
    for sid in subnets["private"]:
        table("private", [sid], NatGatewayId=nat_id)
    table("data", subnets["data"])
    endpoints = {}
    for service, tiers in (("s3", ("private", "data")), ("dynamodb", ("data",))):
        endpoints[service] = ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.{service}",
            VpcEndpointType="Gateway",
            RouteTableIds=[t for tier in tiers for t in tables[tier]],
        )["VpcEndpoint"]["VpcEndpointId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for direction in ("ingress", "egress"):
        for rule in DATA_RULES[direction]:
            _acl_entry(ec2, acl, direction == "egress", rule)
    for sid in subnets["data"]:
        _associate(ec2, vpc, acl, sid)
    return {"vpc": vpc, "subnets": subnets, "tables": tables, "acl": acl, "endpoints": endpoints}


def _capture(ec2: AwsNacls, vpc: str) -> Capture:
    return capture(
        _clients(ec2),
        vpc_id=vpc,
        region=REGION,
        name="shop",
        recovery_regions=["us-west-2"],
        account_id="123456789012",
        stand_in=True,
    )


def _state(ec2: AwsNacls, vpc: str) -> str:
    """What capture could have changed: subnets, NACLs, endpoints, route tables, the VPC."""
    flt = [{"Name": "vpc-id", "Values": [vpc]}]
    return json.dumps(
        [
            ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"],
            ec2.describe_subnets(Filters=flt)["Subnets"],
            ec2.describe_network_acls(Filters=flt)["NetworkAcls"],
            ec2.describe_vpc_endpoints(Filters=flt)["VpcEndpoints"],
            ec2.describe_route_tables(Filters=flt)["RouteTables"],
        ],
        sort_keys=True,
        default=str,
    )


def _renders(result: Capture, tmp_path: Path) -> dict[str, Any]:
    """The file as written renders with no cfn-lint finding; the network template."""
    path = tmp_path / "shop.yaml"
    path.write_text(result.text)
    plan = build_plan(load_environment(str(path)), "us-west-2", stand_in=True)
    found = lint_plan(plan, prepared=True)
    assert {k: v for k, v in found.items() if v} == {}, "no error, no warning"
    for note in result.notes:
        assert f"# CAPTURE: {note.line()}" in result.text
    assert plan.tags("network", "run-1")["Team"] == "payments", "stack tags: on every resource"
    return json.loads(plan.stacks["network"].body)  # type: ignore[no-any-return]


def _of(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r["Properties"] for k, r in template["Resources"].items() if r["Type"] == kind}


def test_public_ips_endpoint_tiers_nacls_and_tags_are_read_written_and_rendered_as_production(
    tmp_path: Path,
) -> None:
    with mock_aws():
        ec2 = AwsNacls(boto3.client("ec2", REGION))
        prod = _production(ec2)
        before = _state(ec2, prod["vpc"])
        result = _capture(ec2, prod["vpc"])
        assert _state(ec2, prod["vpc"]) == before, "capture changes nothing"
        flt = [{"Name": "vpc-id", "Values": [prod["vpc"]]}]
        live_subnets = ec2.describe_subnets(Filters=flt)["Subnets"]
        live_endpoints = ec2.describe_vpc_endpoints(Filters=flt)["VpcEndpoints"]
        live_acl = next(
            a
            for a in ec2.get_paginator("describe_network_acls").paginate(Filters=flt)
            for a in a["NetworkAcls"]
            if a["NetworkAclId"] == prod["acl"]
        )
    doc = yaml.safe_load(result.text)
    net = doc["stacks"]["network"]["params"]
    assert net["public_ip_on_launch"] == ["public"]
    assert net["gateway_endpoints"] == ["s3", "dynamodb"]
    assert net["endpoint_tiers"] == {"s3": ["private", "data"], "dynamodb": ["data"]}
    assert net["network_acls"] == {"data": DATA_RULES}, "the `*` rule is AWS's own: not written"
    assert doc["tags"] == {"Environment": "shop", "Team": "payments"}, "not Name"
    assert [
        n
        for n in result.notes
        if "NetworkAcl" in n.property or n.resource.startswith(("acl-", "vpce-"))
    ] == [], "everything here is reproduced"

    template = _renders(result, tmp_path)
    # the round trip: what the template makes is what production has, tier by tier
    tier_of = {sid: t for t, ids in prod["subnets"].items() for sid in ids}
    live_maps = {(tier_of[s["SubnetId"]], s["MapPublicIpOnLaunch"]) for s in live_subnets}
    rendered = _of(template, "AWS::EC2::Subnet")
    made_maps = {
        (k.split("Subnet")[0].lower(), s["MapPublicIpOnLaunch"]) for k, s in rendered.items()
    }
    assert made_maps == live_maps == {("public", True), ("private", False), ("data", False)}
    table_tier = {t: tier for tier, ids in prod["tables"].items() for t in ids}
    live_on = {
        e["ServiceName"].rsplit(".", 1)[1]: {table_tier[t] for t in e["RouteTableIds"]}
        for e in live_endpoints
    }
    made_on = {
        k.removesuffix("Endpoint").lower(): {
            r["Ref"].split("RouteTable")[0].lower() for r in e["RouteTableIds"]
        }
        for k, e in _of(template, "AWS::EC2::VPCEndpoint").items()
    }
    assert made_on == live_on == {"s3": {"private", "data"}, "dynamodb": {"data"}}
    made_entries = {
        (
            e["RuleNumber"],
            str(e["Protocol"]),
            e["RuleAction"],
            e["Egress"],
            e["CidrBlock"],
            json.dumps(e.get("PortRange")),
            json.dumps(e.get("Icmp")),
        )
        for e in _of(template, "AWS::EC2::NetworkAclEntry").values()
    }
    live_entries = {
        (
            e["RuleNumber"],
            e["Protocol"],
            e["RuleAction"],
            e["Egress"],
            e["CidrBlock"],
            json.dumps(e.get("PortRange")),
            json.dumps(e.get("IcmpTypeCode")),
        )
        for e in live_acl["Entries"]
        if e["RuleNumber"] != 32767
    }
    assert made_entries == live_entries and len(made_entries) == 4
    associated = {
        a["SubnetId"]["Ref"]
        for a in _of(template, "AWS::EC2::SubnetNetworkAclAssociation").values()
    }
    assert associated == {"DataSubnet1", "DataSubnet2"}, "the data tier, the NACL's in production"


def test_what_the_blueprint_cannot_hold_is_a_note_naming_the_resource(tmp_path: Path) -> None:
    """Public subnets that disagree, an endpoint on part of a tier, a NACL across two tiers,
    a changed default NACL and an interface endpoint: each a CAPTURE comment naming it; the
    file still renders with no finding, and capture changes nothing."""
    with mock_aws():
        ec2 = AwsNacls(boto3.client("ec2", REGION))
        prod = _production(ec2)
        vpc, subnets, tables = prod["vpc"], prod["subnets"], prod["tables"]
        public_a, public_b = subnets["public"]
        ec2.modify_subnet_attribute(SubnetId=public_b, MapPublicIpOnLaunch={"Value": False})
        ec2.modify_vpc_endpoint(
            VpcEndpointId=prod["endpoints"]["s3"], RemoveRouteTableIds=[tables["private"][1]]
        )
        across = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        _associate(ec2, vpc, across, public_a)
        _associate(ec2, vpc, across, subnets["private"][0])
        (default,) = ec2.describe_network_acls(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "default", "Values": ["true"]}]
        )["NetworkAcls"]
        _acl_entry(
            ec2,
            default["NetworkAclId"],
            False,
            {"rule": 50, "protocol": "all", "action": "deny", "cidr": "198.51.100.0/24"},
        )
        ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.sqs",
            VpcEndpointType="Interface",
            SubnetIds=subnets["private"],
        )
        before = _state(ec2, vpc)
        result = _capture(ec2, vpc)
        assert _state(ec2, vpc) == before, "capture changes nothing"
    net = yaml.safe_load(result.text)["stacks"]["network"]["params"]
    notes = {(n.resource, n.property): n.text for n in result.notes}
    assert "public_ip_on_launch" not in net
    assert (
        f"{public_a} map a public IPv4 address at launch, {public_b} do not"
        in notes[("public tier", "MapPublicIpOnLaunch")]
    )
    assert net["endpoint_tiers"]["s3"] == ["private", "data"], "the tier it is partly on: kept"
    assert (
        f"on {tables['private'][0]} of the private tier's route tables, not on "
        f"{tables['private'][1]}"
    ) in notes[(prod["endpoints"]["s3"], "RouteTableIds")]
    assert "public" not in net.get("network_acls", {}) and "private" not in net["network_acls"]
    assert (
        f"serves {', '.join(sorted([public_a, subnets['private'][0]]))} (private, public), "
        "not every subnet of one tier: not reproduced" in notes[(across, "Associations")]
    )
    changed = notes[(default["NetworkAclId"], "Entries")]
    assert "the VPC's default NACL" in changed and "ingress 50 deny all 198.51.100.0/24" in changed
    assert "the rebuilt VPC's default NACL allows all traffic" in changed
    assert any("sqs not reproduced (Interface endpoint" in t for t in notes.values())
    _renders(result, tmp_path)


def test_production_tags_beyond_what_a_stack_takes_are_a_note(tmp_path: Path) -> None:
    """A stack takes 50 tags, relight writes up to 6: 44 of production's are kept, the rest
    named; a tag AWS would refuse on a stack is named too."""
    with mock_aws():
        ec2 = AwsNacls(boto3.client("ec2", REGION))
        vpc = ec2.create_vpc(CidrBlock="10.80.0.0/16")["Vpc"]["VpcId"]
        ec2.create_subnet(VpcId=vpc, CidrBlock="10.80.0.0/21")
        tags = [{"Key": f"k{n:02d}", "Value": "v"} for n in range(46)]
        ec2.create_tags(Resources=[vpc], Tags=[*tags, {"Key": "odd", "Value": "a;b"}])
        result = _capture(ec2, vpc)
    doc = yaml.safe_load(result.text)
    assert sorted(doc["tags"]) == [f"k{n:02d}" for n in range(44)]
    notes = {(n.resource, n.property): n.text for n in result.notes}
    assert notes[(vpc, "Tags")].startswith("k44, k45 not reproduced: a CloudFormation stack")
    assert "';'" in notes[(vpc, "Tags odd")]
    path = tmp_path / "shop.yaml"
    path.write_text(result.text)
    assert load_environment(str(path)).env.tags == doc["tags"], "the model takes what was written"


def test_find_vpc_leaves_out_a_copy_relight_built_with_productions_tags() -> None:
    """A test environment in the home region is built with the file's tags, which are
    production's, plus relight's own: capture and drift must not take it for production."""
    with mock_aws():
        ec2 = boto3.client("ec2", REGION)
        prod = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
        copy = ec2.create_vpc(CidrBlock="10.70.0.0/16")["Vpc"]["VpcId"]
        ec2.create_tags(Resources=[prod, copy], Tags=[{"Key": "Environment", "Value": "shop"}])
        ec2.create_tags(Resources=[copy], Tags=[{"Key": "relight:env", "Value": "shop"}])

        def client(service: str) -> Any:
            return boto3.client(service, REGION)

        assert find_vpc(client, {"Environment": "shop"}) == prod
        ec2.delete_vpc(VpcId=prod)
        with pytest.raises(CaptureError) as caught:
            find_vpc(client, {"Environment": "shop"})
    assert str(caught.value) == (
        "capture: --tag Environment=shop must select exactly one VPC; found none "
        f"({copy} left out: tagged relight:env, built by relight, not production): add tags "
        "or name it with --vpc"
    )


def test_a_bad_nacl_rule_names_the_file_and_key_and_builds_nothing(write_env: Any) -> None:
    text = MINIMAL.replace(
        "      flow_logs: false\n",
        "      flow_logs: false\n      network_acls:\n        public:\n          ingress:\n"
        "            - {rule: 100, protocol: tcp, action: allow, cidr: 0.0.0.0/0}\n",
    )
    assert "network_acls" in text
    path = write_env(text)
    with pytest.raises(ConfigError) as caught:
        build_plan(load_environment(str(path), "us-west-2"), "us-west-2")
    message = str(caught.value)
    assert caught.value.exit_code == 2
    assert f"{path}" in message
    assert "stacks.network.params.network_acls.public.ingress.0" in message
    assert "protocol tcp needs the ports it applies to: give port or port_range" in message


def test_an_ipv6_vpcs_nacls_leave_out_awss_own_ipv6_rule_and_the_file_renders(
    tmp_path: Path,
) -> None:
    """In a VPC with an IPv6 block every NACL ends with AWS's IPv6 `*` rule, 32768, and the
    default NACL allows IPv6 with rule 101 (E31, AwsNacls answers so): the data tier's NACL is
    written without 32768 (the blueprint, as CreateNetworkAclEntry, refuses it: "Rulenumber
    must be in range 1..32766"), the default NACL is AWS's allow-all (no Note, reproduced in
    the ledger), the file renders, and capture changes nothing."""
    with mock_aws():
        ec2 = AwsNacls(boto3.client("ec2", REGION))
        prod = _production(ec2, ipv6=True)
        flt = [{"Name": "vpc-id", "Values": [prod["vpc"]]}]
        live = ec2.get_paginator("describe_network_acls").paginate(Filters=flt)
        numbers = {
            e["RuleNumber"] for page in live for a in page["NetworkAcls"] for e in a["Entries"]
        }
        assert {101, 32767, 32768} <= numbers, "the fake answers as AWS documents"
        before = _state(ec2, prod["vpc"])
        result = _capture(ec2, prod["vpc"])
        assert _state(ec2, prod["vpc"]) == before, "capture changes nothing"
    net = yaml.safe_load(result.text)["stacks"]["network"]["params"]
    assert net["network_acls"]["data"] == DATA_RULES, "AWS's `*` rules are not written"
    assert not [n for n in result.notes if n.property in ("Entries", "Associations")]
    acls = [r for r in result.ledger.resources if r["type"] == "AWS::EC2::NetworkAcl"]
    for acl in acls:
        entries = next(p for p in acl["properties"] if p["property"] == "Entries")
        assert entries["status"] == "reproduced", acl["id"]
    assert len(acls) == 2
    template = _renders(result, tmp_path)
    made = _of(template, "AWS::EC2::NetworkAclEntry").values()
    assert sorted(e["RuleNumber"] for e in made) == [100, 100, 110, 120]
