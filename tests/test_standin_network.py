"""The stand-in plays the network blueprint's subnets and network ACLs as AWS does
(`relight.standin.extensions.ec2_network`): moto 5.2.5 alone ignored `MapPublicIpOnLaunch` and
skipped the three NACL resource types, leaving every subnet on the allow-all default NACL.
A green run here shows the stand-in plays docs/aws-behaviours.md E30-E32, not that AWS does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import BLUEPRINTS
from relight.model.blueprint import load_registry
from relight.standin import extensions

REGION = "us-west-2"
DATA_ACL = {
    "ingress": [
        {"rule": 100, "protocol": "tcp", "action": "allow", "cidr": "10.0.0.0/16", "port": 5432},
        {
            "rule": 110,
            "protocol": "icmp",
            "action": "allow",
            "cidr": "10.0.0.0/16",
            "icmp_type": 3,
            "icmp_code": 4,
        },
    ],
    "egress": [{"rule": 100, "protocol": "all", "action": "allow", "cidr": "0.0.0.0/0"}],
}


@pytest.fixture(autouse=True)
def stand_in() -> Iterator[None]:
    extensions.install()
    with mock_aws():
        yield


def _network_stack() -> str:
    """The network blueprint with a data-tier NACL and public addresses in the public tier,
    created through CloudFormation; the VPC's id."""
    template = (
        load_registry(BLUEPRINTS)["network"]
        .render(
            {
                "az_count": 2,
                "nat": "none",
                "flow_logs": False,
                "public_ip_on_launch": ["public"],
                "network_acls": {"data": DATA_ACL},
            }
        )
        .to_dict()
    )
    ec2 = boto3.client("ec2", REGION)
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"][:2]]
    cfn = boto3.client("cloudformation", REGION)
    cfn.create_stack(
        StackName="shop-network",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "AvailabilityZones", "ParameterValue": ",".join(zones)}],
    )
    (stack,) = cfn.describe_stacks(StackName="shop-network")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == "VpcId")


def _acls(vpc: str) -> list[dict[str, Any]]:
    flt = [{"Name": "vpc-id", "Values": [vpc]}]
    return list(boto3.client("ec2", REGION).describe_network_acls(Filters=flt)["NetworkAcls"])


def test_the_tiers_subnets_map_public_ips_and_the_data_tier_is_on_its_own_nacl() -> None:
    vpc = _network_stack()
    ec2 = boto3.client("ec2", REGION)
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    tier = {
        s["SubnetId"]: next(t["Value"] for t in s["Tags"] if t["Key"] == "Tier") for s in subnets
    }
    assert {(tier[s["SubnetId"]], s["MapPublicIpOnLaunch"]) for s in subnets} == {
        ("public", True),
        ("private", False),
        ("data", False),
    }
    (own,) = [a for a in _acls(vpc) if not a["IsDefault"]]
    (default,) = [a for a in _acls(vpc) if a["IsDefault"]]
    assert sorted(tier[a["SubnetId"]] for a in own["Associations"]) == ["data", "data"]
    assert sorted(tier[a["SubnetId"]] for a in default["Associations"]) == [
        "private",
        "private",
        "public",
        "public",
    ], "each subnet on exactly one NACL"
    assert sorted(
        (
            e["Egress"],
            e["RuleNumber"],
            e["Protocol"],
            e["RuleAction"],
            e.get("PortRange"),
            e.get("IcmpTypeCode"),
        )
        for e in own["Entries"]
    ) == [
        (False, 100, "6", "allow", {"From": 5432, "To": 5432}, None),
        (False, 110, "1", "allow", None, {"Code": 4, "Type": 3}),
        (True, 100, "-1", "allow", None, None),
    ]


def test_deleting_the_stack_removes_its_nacl_and_orphans_no_vpc() -> None:
    vpc = _network_stack()
    cfn = boto3.client("cloudformation", REGION)
    cfn.delete_stack(StackName="shop-network")
    vpcs = boto3.client("ec2", REGION).describe_vpcs(VpcIds=[])["Vpcs"]
    assert vpc not in {v["VpcId"] for v in vpcs}
    assert [a for a in _acls(vpc) if not a["IsDefault"]] == []
