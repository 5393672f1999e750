"""Before `prepare` makes the SECONDARY record, preflight reads the records at its name and
refuses one Route 53 will not take it beside (a simple record, a CNAME, another SECONDARY), with
the record in the way, Route 53's words and the fix; nothing is changed. A failover asks Route 53
nothing. The fake Route 53 (fake_route53.py) refuses these changes as Route 53 does; moto takes
them all."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto import mock_aws

from conftest import MINIMAL
from fake_route53 import FakeRoute53
from relight.aws.clients import Aws, AwsTarget
from relight.aws.cloudformation import Stacks
from relight.errors import PreflightError
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.steps.discovery import Discovery
from relight.steps.preflight import run_preflight
from relight.steps.render import build_plan

DNS = """\
  dns:
    blueprint: dns
    stands: pilot_light
    regions: [us-west-2]
    params:
      mode: failover
      failover_role: SECONDARY
      HostedZoneName: shop.example.com.
      RecordName: WWW.shop.example.com.
      LoadBalancerDNSName: lb.example.com
      LoadBalancerHostedZoneId: Z1H1FL5HABSF5
"""
NAME = "www.shop.example.com."
OURS = "shop-dns-us-west-2"  # the blueprint's SetIdentifier: ${AWS::StackName}-${AWS::Region}


class _Aws:
    """moto for every service but Route 53, which is the fake."""

    def __init__(self, route53: FakeRoute53) -> None:
        self.real = Aws(AwsTarget())
        self.route53 = route53

    def client(self, service: str, region: str, *, bounded: bool = False) -> Any:
        if service == "route53":
            return self.route53
        return self.real.client(service, region, bounded=bounded)

    def down(self, service: str, region: str) -> str | None:
        return None


@pytest.fixture
def route53() -> Iterator[FakeRoute53]:
    with mock_aws():
        yield FakeRoute53(page_size=2)


def _plan(write_env: Callable[[str], Path], phase: str = "prepare") -> Plan:
    loaded = load_environment(str(write_env(MINIMAL + DNS)), "us-west-2")
    return build_plan(loaded, "us-west-2", phase=phase, strategy="pilot_light")


def _preflight(plan: Plan, route53: FakeRoute53) -> Any:
    discovery = Discovery(region="us-west-2", at=datetime.now(UTC))
    stacks = Stacks(boto3.client("cloudformation", "us-west-2"))
    return run_preflight(plan, _Aws(route53), discovery, stacks, accept_stale=False)


def _create(route53: FakeRoute53, zone: str, **record: Any) -> None:
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]},
    )


def _secondary(ident: str = OURS) -> dict[str, Any]:
    alias = {
        "DNSName": "lb.example.com",
        "HostedZoneId": "Z1H1FL5HABSF5",
        "EvaluateTargetHealth": True,
    }
    return {
        "Name": NAME,
        "Type": "A",
        "SetIdentifier": ident,
        "Failover": "SECONDARY",
        "AliasTarget": alias,
    }


def _aws_says(route53: FakeRoute53, zone: str, record: dict[str, Any]) -> str:
    """What Route 53 (the fake) answers when the record is created: the refusal's text."""
    before = [dict(r) for r in route53.records[zone]]
    with pytest.raises(ClientError) as refused:
        _create(route53, zone, **record)
    assert route53.records[zone] == before
    assert refused.value.response["Error"]["Code"] == "InvalidChangeBatch"
    return str(refused.value.response["Error"]["Message"]).strip("[]")


def test_a_name_holding_a_simple_record_is_refused_with_route53s_words_and_the_fix(
    route53: FakeRoute53, write_env: Callable[[str], Path]
) -> None:
    zone = route53.zone("shop.example.com.")
    _create(route53, zone, Name=NAME, Type="A", TTL=60, ResourceRecords=[{"Value": "192.0.2.10"}])
    _create(route53, zone, Name=NAME, Type="TXT", TTL=60, ResourceRecords=[{"Value": '"v=1"'}])
    _create(route53, zone, Name="x.shop.example.com.", Type="A", TTL=60,
            ResourceRecords=[{"Value": "192.0.2.11"}])  # fmt: skip
    held = [dict(r) for r in route53.records[zone]]
    plan = _plan(write_env)
    with pytest.raises(PreflightError) as caught:
        _preflight(plan, route53)
    said = _aws_says(route53, zone, _secondary())
    assert caught.value.problems == [
        f"stacks.dns.params.RecordName: {NAME} (A) in zone shop.example.com. holds a simple A "
        f'record (192.0.2.10): Route 53 refuses a failover record beside it ("{said}"); move '
        f"{NAME} to failover routing first: production's record becomes the PRIMARY (the dns "
        "blueprint with failover_role: PRIMARY, deployed with production, in place of the "
        "simple record; docs/dns-and-failback.md), or give stacks.dns.params.RecordName a "
        "name that is free"
    ]
    assert caught.value.exit_code == 2
    assert route53.records[zone] == held, "nothing changed in Route 53"
    assert boto3.client("cloudformation", "us-west-2").list_stacks()["StackSummaries"] == []


def test_a_name_holding_a_cname_is_refused_with_route53s_words(
    route53: FakeRoute53, write_env: Callable[[str], Path]
) -> None:
    zone = route53.zone("shop.example.com.")
    _create(
        route53,
        zone,
        Name=NAME,
        Type="CNAME",
        TTL=60,
        ResourceRecords=[{"Value": "old.example.net"}],
    )
    with pytest.raises(PreflightError) as caught:
        _preflight(_plan(write_env), route53)
    said = _aws_says(route53, zone, _secondary())
    (problem,) = caught.value.problems
    assert (
        "holds a CNAME record (old.example.net): Route 53 refuses the failover record beside "
        f'it ("{said}")' in problem
    )


def test_another_regions_secondary_is_refused_and_the_pair_or_our_own_record_pass(
    route53: FakeRoute53, write_env: Callable[[str], Path]
) -> None:
    zone = route53.zone("shop.example.com.")
    primary = {**_secondary("shop-home"), "Failover": "PRIMARY"}
    _create(route53, zone, **primary)
    _create(route53, zone, **_secondary("shop-dns-eu-west-1"))
    plan = _plan(write_env)
    with pytest.raises(PreflightError) as caught:
        _preflight(plan, route53)
    (problem,) = caught.value.problems
    assert (
        "holds a SECONDARY failover record already (shop-dns-eu-west-1, alias to lb.example.com)"
        in problem
    )
    assert "a name has one PRIMARY and one SECONDARY record" in problem
    _aws_says(route53, zone, _secondary())  # the fake refuses it too (its own words)
    route53.records[zone] = [
        r for r in route53.records[zone] if r["SetIdentifier"] != "shop-dns-eu-west-1"
    ]
    _create(route53, zone, **_secondary())  # a rerun of prepare finds its own record
    assert _preflight(plan, route53).notes == []


@pytest.mark.parametrize(
    ("policy", "element"),
    [
        ("weighted", {"Weight": 100}),
        ("latency", {"Region": "us-east-1"}),
        ("geolocation", {"GeoLocation": {"CountryCode": "*"}}),
        ("multivalue answer", {"MultiValueAnswer": True}),
    ],
)
def test_a_name_holding_another_routing_policys_record_is_refused_naming_the_policy(
    route53: FakeRoute53, write_env: Callable[[str], Path], policy: str, element: dict[str, Any]
) -> None:
    zone = route53.zone("shop.example.com.")
    _create(route53, zone, Name=NAME, Type="A", TTL=60, SetIdentifier="home",
            ResourceRecords=[{"Value": "192.0.2.10"}], **element)  # fmt: skip
    held = [dict(r) for r in route53.records[zone]]
    with pytest.raises(PreflightError) as caught:
        _preflight(_plan(write_env), route53)
    said = _aws_says(route53, zone, _secondary())  # Route 53 (the fake) refuses it too
    assert "cannot be created as a non-failover set exists with the same name and type" in said
    (problem,) = caught.value.problems
    assert problem.startswith(
        f"stacks.dns.params.RecordName: {NAME} (A) in zone shop.example.com. holds a {policy} A "
        "record (home, 192.0.2.10): Route 53 takes one routing policy per name and type"
    )
    assert "move www.shop.example.com. to failover routing first" in problem
    assert caught.value.exit_code == 2
    assert route53.records[zone] == held, "nothing changed in Route 53"


def test_two_zones_of_the_records_zone_name_are_refused_naming_hostedzoneid(
    route53: FakeRoute53, write_env: Callable[[str], Path]
) -> None:
    public = route53.zone("shop.example.com.")
    private = route53.zone("shop.example.com.")  # a private zone of the same name
    route53.zone("zz.example.com.")
    with pytest.raises(PreflightError) as caught:
        _preflight(_plan(write_env), route53)
    assert caught.value.problems == [
        "stacks.dns.params.HostedZoneName: more than one hosted zone is named "
        f"shop.example.com. ({public}, {private}, a public and a private one, say), and "
        "CloudFormation will not create a record that names its zone by HostedZoneName then "
        '("If you have multiple hosted zones with the same domain name, you must specify the '
        'hosted zone using HostedZoneId"); delete or rename the zone the record is not meant '
        "for, or give the record its zone by HostedZoneId in a blueprint of your own"
    ]
    assert caught.value.exit_code == 2
    assert "ChangeResourceRecordSets" not in route53.calls, "nothing changed in Route 53"


def test_route53_out_of_reach_is_a_note_and_a_failover_asks_route53_nothing(
    route53: FakeRoute53, write_env: Callable[[str], Path]
) -> None:
    route53.zone("shop.example.com.")
    route53.fail = EndpointConnectionError(endpoint_url="https://route53.amazonaws.com")
    notes = _preflight(_plan(write_env), route53).notes
    assert (
        f"stacks.dns: the records at {NAME} not checked: Route 53 (its control plane is in "
        "us-east-1) did not answer (EndpointConnectionError)" in notes
    )
    route53.calls.clear()
    failover = _plan(write_env, phase="failover")
    assert "dns" in failover.prepared
    with contextlib.suppress(PreflightError):  # the failover's own problems (its artifacts)
        _preflight(failover, route53)
    assert route53.calls == []
