"""The zone's account is honoured: a dns stack with `role_arn:` is checked, made, listed and
latched in the account that owns the hosted zone, through that role assumed in the region
relight acts in, while every other stack stays in the connection's account. moto keeps one
state per account and assumes roles across accounts, so both accounts are real here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL
from relight.aws.clients import Aws, AwsTarget
from relight.commands.connection import Connection, connect_stacks, stack_roles
from relight.commands.failover import put_latch
from relight.errors import PreflightError
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.steps.deploy import deploy
from relight.steps.discovery import Discovery
from relight.steps.preflight import run_preflight
from relight.steps.render import build_plan

REGION = "us-west-2"
ZONE_ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ZONE_ACCOUNT}:role/relight-dns"
DNS = f"""\
  dns:
    blueprint: dns
    stands: pilot_light
    regions: [{REGION}]
    role_arn: {ROLE}
    params:
      mode: failover
      failover_role: SECONDARY
      HostedZoneName: shop.example.com.
      RecordName: www.shop.example.com.
      LoadBalancerDNSName: lb.example.com
      LoadBalancerHostedZoneId: Z1H1FL5HABSF5
"""


@pytest.fixture
def zone_account() -> Iterator[boto3.Session]:
    """The account that owns the hosted zone, as the role relight assumes there."""
    with mock_aws():
        sts = boto3.client("sts", REGION)
        creds = sts.assume_role(RoleArn=ROLE, RoleSessionName="test")["Credentials"]
        yield boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )


def _setup(write_env: Callable[[str], Path]) -> tuple[Plan, Connection]:
    text = MINIMAL.replace("stand_in: true\n", 'stand_in: true\naccount_id: "123456789012"\n')
    loaded = load_environment(str(write_env(text + DNS)), REGION)
    plan = build_plan(loaded, REGION, phase="prepare", strategy="pilot_light")
    return plan, Connection(Aws(AwsTarget()), REGION, "123456789012", roles=stack_roles(loaded))


def _preflight(plan: Plan, conn: Connection) -> Any:
    nothing = Discovery(region=REGION, at=datetime.now(UTC))
    return run_preflight(plan, conn.aws, nothing, connect_stacks(conn), accept_stale=False)


def test_the_dns_stack_is_made_in_the_zones_account_through_its_role(
    zone_account: boto3.Session, write_env: Callable[[str], Path]
) -> None:
    plan, conn = _setup(write_env)
    route53 = zone_account.client("route53")
    zone = route53.create_hosted_zone(Name="shop.example.com.", CallerReference="z")
    zone_id = zone["HostedZone"]["Id"]
    assert boto3.client("route53").list_hosted_zones()["HostedZones"] == []
    assert _preflight(plan, conn).notes == [], "the zone is found as the role, not missed"
    acting = conn.aws_for("shop-dns").target
    assert (acting.role_arn, acting.sts_region) == (ROLE, REGION), "STS in the region acted in"

    outcome = deploy(connect_stacks(conn), plan, Discovery(REGION, datetime.now(UTC)), run_id="p1")
    assert outcome.ok, outcome.failed()
    theirs = zone_account.client("cloudformation", REGION).describe_stacks()["Stacks"]
    assert [s["StackName"] for s in theirs] == ["shop-dns"]
    assert f":{ZONE_ACCOUNT}:stack/shop-dns/" in theirs[0]["StackId"]
    assert boto3.client("cloudformation", REGION).describe_stacks()["Stacks"] == []
    records = route53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    (record,) = [r for r in records if r["Name"] == "www.shop.example.com."]
    assert record["Failover"] == "SECONDARY"
    listed = [s["StackName"] for s in connect_stacks(conn).list_stacks()]
    assert listed == ["shop-dns"], "status and teardown see the stack in the zone's account"

    put_latch(conn, "shop-dns", 1.0)  # the failover's latch goes where the alarm is
    metrics = zone_account.client("cloudwatch", REGION).list_metrics(Namespace="Relight")
    assert [m["Dimensions"] for m in metrics["Metrics"]] == [
        [{"Name": "Stack", "Value": "shop-dns"}]
    ]
    assert boto3.client("cloudwatch", REGION).list_metrics(Namespace="Relight")["Metrics"] == []

    from relight.commands.status import _latches

    read = _latches(conn, connect_stacks(conn).list_stacks(), datetime.now(UTC))
    assert read["shop-dns"].startswith("latched ("), "status reads the latch where it lives"

    stacks = connect_stacks(conn)  # a failover reads it there; teardown deletes it there
    assert stacks.state("shop-dns")["Outputs"], "its outputs (the latch's name) are read"
    stacks.run(stacks.delete("shop-dns", force=True))  # prepared stacks are protected
    assert stacks.state("shop-dns") is None
    assert [s["StackName"] for s in stacks.list_stacks()] == []


def test_a_zone_the_role_cannot_see_and_a_record_in_the_way_are_named_before_any_change(
    zone_account: boto3.Session, write_env: Callable[[str], Path]
) -> None:
    plan, conn = _setup(write_env)
    boto3.client("route53").create_hosted_zone(Name="shop.example.com.", CallerReference="m")
    with pytest.raises(PreflightError) as caught:
        _preflight(plan, conn)
    assert caught.value.problems == [
        "stacks.dns.params.HostedZoneName: no hosted zone shop.example.com. in account "
        f"{ZONE_ACCOUNT} (stacks.dns.role_arn's); name the role of the account that owns the "
        "zone"
    ]
    route53 = zone_account.client("route53")
    zone_id = route53.create_hosted_zone(Name="shop.example.com.", CallerReference="z")[
        "HostedZone"
    ]["Id"]
    simple = {"Name": "www.shop.example.com.", "Type": "A", "TTL": 60,
              "ResourceRecords": [{"Value": "192.0.2.7"}]}  # fmt: skip
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": simple}]},
    )
    with pytest.raises(PreflightError) as caught:
        _preflight(plan, conn)
    (problem,) = caught.value.problems
    assert "holds a simple A record (192.0.2.7)" in problem
    assert zone_account.client("cloudformation", REGION).describe_stacks()["Stacks"] == []


def test_only_the_stacks_with_a_role_and_their_copies_are_routed() -> None:
    from relight.aws.accounts import StackRoles

    roles = StackRoles("shop", {"dns_pair": ROLE}, frozenset({"dns_pair", "network", "web"}))
    assert roles.role_for("shop-dns-pair") == ROLE
    assert roles.role_for("shop-drill-1-dns-pair") == ROLE, "a drill's or test copy's"
    assert roles.role_for("shop-network") is None
    assert roles.role_for("other-dns-pair") is None, "another environment's"
    tricky = StackRoles("shop", {"pair": ROLE}, frozenset({"pair", "dns_pair"}))
    assert tricky.role_for("shop-dns-pair") is None, "another stack whose name ends alike"
