"""Every command an outage calls for works with the home region's endpoints dead.

On moto in-process, with us-east-1 switched off (relight.aws.outage) for every client relight
builds: discover, plan, failover (with verification), status and teardown into us-west-2 each
succeed, and none of them made a call to us-east-1 or to a global control plane homed there.
What must exist before a disaster (relight's bucket, the instance profile web launches with)
is made first, through a healthy connection, as `relight prepare` would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, moto_web_inputs
from relight.aws.bucket import TemplateBucket
from relight.aws.clients import Aws, AwsTarget
from relight.aws.lock import LockSettings
from relight.aws.outage import Outage, Refused
from relight.commands import discover, failover, status, teardown
from relight.commands.connection import Connection
from relight.model.config import LoadedEnvironment, load_environment
from relight.standin import StandIn
from relight.steps.render import build_plan

REGION, HOME, ACCOUNT = "us-west-2", "us-east-1", "123456789012"
QUIET = LockSettings(say=lambda _: None)


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def world(write_env: Callable[..., Path]) -> Iterator[tuple[LoadedEnvironment, Connection, Outage]]:
    """MINIMAL's sources in us-west-2 and relight's bucket made there before the outage; then
    a connection into us-west-2 with us-east-1 switched off."""
    with mock_aws():
        inputs = moto_web_inputs(tags=True)
        assert set(inputs.artifacts) == {"web_ami", "web_data"}
        TemplateBucket(Aws(AwsTarget()).client("s3", REGION), REGION, ACCOUNT).configure()
        outage = Outage(HOME)
        conn = Connection(Aws(AwsTarget()).under_outage(outage), REGION, ACCOUNT)
        yield load_environment(str(write_env(MINIMAL)), REGION), conn, outage


def _stack_names() -> list[str]:
    cfn = boto3.client("cloudformation", REGION)
    return sorted(s["StackName"] for s in cfn.describe_stacks()["Stacks"])


def test_every_outage_time_command_works_with_the_home_region_switched_off(
    world: tuple[LoadedEnvironment, Connection, Outage],
) -> None:
    loaded, conn, outage = world
    plan = build_plan(loaded, REGION)

    found = discover.discover_environment(plan, conn, now=now)
    assert sorted(found.artifacts) == ["web_ami", "web_data"] and found.missing == {}
    assert [z.name for z in found.zones], "zones chosen in us-west-2"
    assert outage.refused == [], "discover"

    _, planned, _ = failover.plan_changes(plan, conn)
    assert {p.key: p.action for p in planned} == dict.fromkeys(
        ["network", "security", "web"], "create"
    )
    assert _stack_names() == [], "plan changes nothing"
    assert outage.refused == [], "plan"

    done = failover.failover(plan, conn, lock=QUIET, verify_deadline=60)
    assert done.ok, (done.outcome.failed(), done.checks)
    assert {r.key: r.action for r in done.outcome.results.values()} == dict.fromkeys(
        ["network", "security", "web"], "created"
    )
    assert {c.result for c in done.checks} == {"passed"}
    assert outage.refused == [], "failover and its verification"

    rows = status.status(loaded, conn)
    assert [(r["name"], r["status"]) for r in rows] == [
        ("shop-network", "CREATE_COMPLETE"),
        ("shop-security", "CREATE_COMPLETE"),
        ("shop-web", "CREATE_COMPLETE"),
    ]
    assert all(r["protected"] for r in rows), "failover stacks get termination protection"
    assert outage.refused == [], "status"

    # moto has no UpdateTerminationProtection (nor enforces it); on the stand-in relight does
    # not lift it: the teardown runs as it would there.
    local = Connection(conn.aws, REGION, ACCOUNT, StandIn(0, 0, "", "", 0.0, "", Path()))
    gone = teardown.teardown(loaded, local, force=True, lock=QUIET)
    assert gone.left_behind == [], gone.results
    assert {r.key: r.action for r in gone.results} == dict.fromkeys(
        ["network", "security", "web"], "deleted"
    )
    assert _stack_names() == []
    assert outage.refused == [], "teardown"
    assert outage.summary() == "passed with us-east-1 down: no call refused"


def test_a_missing_artifact_is_not_even_asked_of_the_home_region_the_outage_declares_lost(
    world: tuple[LoadedEnvironment, Connection, Outage],
) -> None:
    loaded, conn, outage = world
    boto3.client("ec2", REGION).delete_tags(
        Resources=[_image()], Tags=[{"Key": "Role"}]
    )  # the copy of web_ami is gone
    found = discover.discover_environment(build_plan(loaded, REGION), conn, now=now)
    assert found.missing["web_ami"] == (
        "no AMI tagged Role=web in us-west-2; home region us-east-1 not asked "
        "(us-east-1 is switched off)"
    )
    assert "web_data" in found.artifacts
    assert outage.refused == []


def test_without_the_hint_discovery_asks_the_home_region_is_refused_and_goes_on(
    world: tuple[LoadedEnvironment, Connection, Outage], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Aws.down is an optimisation: a relight that was not told the region is lost asks it,
    once, and goes on without its answer."""
    loaded, conn, outage = world
    monkeypatch.setattr(Aws, "down", lambda self, service, region: None)
    boto3.client("ec2", REGION).delete_tags(Resources=[_image()], Tags=[{"Key": "Role"}])
    found = discover.discover_environment(build_plan(loaded, REGION), conn, now=now)
    seconds = conn.aws.target.bounded_seconds
    assert found.missing["web_ami"] == (
        "no AMI tagged Role=web in us-west-2; home region us-east-1 unreachable (one attempt, "
        f"{seconds:g} s): what it holds is not known; going on without it"
    )
    assert "web_data" in found.artifacts and [z.name for z in found.zones]
    assert outage.refused == [
        Refused("ec2", "DescribeImages", HOME, "us-east-1 is switched off")
    ], "one attempt at the home region, and nothing else there"


def _image() -> Any:
    (image,) = boto3.client("ec2", REGION).describe_images(Owners=["self"])["Images"]
    return image["ImageId"]
