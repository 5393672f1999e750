"""A kept snapshot goes through the RPO gate like a fresh one (steps/preflight/kept.py).

moto in-process: MINIMAL with a database, failed over into us-west-2 from a copy whose data
is six hours old (accepted then, `--accept-stale`). A newer copy arrives; the failover is run
again. Unless a verified failover made the region serve, the database holds only what it was
restored from, so its age is held against the RPO (4 h): the rerun stops, naming the two ways
on, and changes nothing. Once the region serves, the kept snapshot is live data: the rerun
goes on, and says how old the snapshot it keeps is.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, make_instance_profile, web_artifacts
from relight.aws.bucket import TemplateBucket
from relight.aws.clients import Aws, AwsTarget
from relight.aws.lock import LockSettings
from relight.commands import failover
from relight.commands.connection import Connection
from relight.commands.summary import failover_json
from relight.errors import PreflightError
from relight.model.config import load_environment
from relight.model.shapes import parameter_dict
from relight.steps.render import build_plan

REGION, ACCOUNT = "us-west-2", "123456789012"
QUIET = LockSettings(say=lambda _: None)
WITH_DATABASE = MINIMAL.replace(
    "  web_data: {kind: ebs_snapshot, tags: {Role: web-data}}\n",
    "  web_data: {kind: ebs_snapshot, tags: {Role: web-data}}\n"
    # relight's copies only: moto's instance also has an automated snapshot, with newer data
    "  orders_db: {kind: rds_snapshot, db_instance: shop-orders, tags: {relight:copy: 'true'}}\n",
) + (
    "  database:\n    blueprint: database\n    params:\n      multi_az: false\n"
    "      SnapshotIdentifier: {artifact: orders_db}\n      VpcId: {output: network.VpcId}\n"
    "      SubnetIds: {output: network.PrivateSubnetIds}\n"
    "      ClientSecurityGroupId: {output: security.WebSecurityGroupId}\n"
    "      MonitoringRoleArn: arn:aws:iam::123456789012:role/shop-rds-monitoring\n"
)


def _copy(name: str, data_age: timedelta) -> None:
    """A database copy in REGION as relight replicate tags it, its data `data_age` old."""
    taken = (datetime.now(UTC) - data_age).isoformat(timespec="seconds")
    boto3.client("rds", REGION).create_db_snapshot(
        DBInstanceIdentifier="shop-orders",
        DBSnapshotIdentifier=name,
        Tags=[
            {"Key": "relight:copy", "Value": "true"},
            {"Key": "relight:source-region", "Value": "us-east-1"},
            {"Key": "relight:source-time", "Value": taken},
        ],
    )


@pytest.fixture
def world(write_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    # In-process moto offers no orderable options for postgres nor lifecycle dates: the
    # restore's engine version is checked with a Stubber (test_preflight_databases.py).
    monkeypatch.setattr(
        "relight.steps.preflight.check_databases", lambda plan, aws, found, skip: ([], [])
    )
    with mock_aws():
        loaded = load_environment(str(write_env(WITH_DATABASE)), REGION)
        make_instance_profile(boto3.client("iam", "us-east-1"))
        TemplateBucket(boto3.client("s3", REGION), REGION, ACCOUNT).configure()
        web_artifacts(REGION)
        boto3.client("rds", REGION).create_db_instance(
            DBInstanceIdentifier="shop-orders", Engine="postgres", DBInstanceClass="db.t3.micro",
            AllocatedStorage=20, MasterUsername="shop", MasterUserPassword="not-a-secret-1",
        )  # fmt: skip
        _copy("orders-old", timedelta(hours=6))
        conn = Connection(Aws(AwsTarget()), REGION, ACCOUNT)
        first = failover.failover(
            build_plan(loaded, REGION), conn, accept_stale=True, verify_after=False, lock=QUIET
        )
        assert first.ok, first.outcome.failed()
        time_marker = datetime.now(UTC)
        _copy("orders-new", timedelta(minutes=5))
        yield {"loaded": loaded, "conn": conn, "at": time_marker}


def _database(world: dict[str, Any]) -> dict[str, Any]:
    cfn = boto3.client("cloudformation", REGION)
    return dict(cfn.describe_stacks(StackName="shop-database")["Stacks"][0])


def _never_served(world: dict[str, Any]) -> None:
    """As if that failover had stopped before it was verified: the marker says so."""
    plan = build_plan(world["loaded"], REGION)
    failover.mark_region_serving(world["conn"], plan, "run-1", world["at"], "failing over")


def test_a_rerun_that_would_keep_data_older_than_the_rpo_stops_and_changes_nothing(
    world: dict[str, Any],
) -> None:
    _never_served(world)
    before = _database(world)
    assert parameter_dict(before)["SnapshotIdentifier"] == "orders-old"
    with pytest.raises(PreflightError) as stopped:
        failover.failover(build_plan(world["loaded"], REGION), world["conn"], lock=QUIET)
    said = " ".join(str(stopped.value).split())
    assert stopped.value.exit_code == 2
    assert "stacks.database.SnapshotIdentifier keeps orders-old (data 6.0 h old)" in said
    assert "older than the RPO (4.0 h)" in said and "the newest copy is orders-new" in said
    assert "--replace-data database" in said and "--accept-stale to keep it" in said
    assert _database(world).get("LastUpdatedTime") == before.get("LastUpdatedTime")

    shown = failover.plan_changes
    with pytest.raises(PreflightError):
        shown(build_plan(world["loaded"], REGION), world["conn"])  # plan says so too


def test_accepted_the_kept_snapshot_stays_and_the_summary_gives_its_age(
    world: dict[str, Any],
) -> None:
    _never_served(world)
    plan = build_plan(world["loaded"], REGION)
    _, planned, _ = failover.plan_changes(plan, world["conn"], accept_stale=True)
    (row,) = [r for r in planned if r.key == "database"]
    (param,) = [p for p in row.parameters if p.name == "SnapshotIdentifier"]
    assert param.value == "orders-old"
    assert param.age_seconds is not None and param.age_seconds > 5.9 * 3600, "the kept one's age"

    result = failover.failover(
        plan, world["conn"], accept_stale=True, verify_after=False, lock=QUIET
    )
    assert result.ok
    assert parameter_dict(_database(world))["SnapshotIdentifier"] == "orders-old"
    database = next(s for s in failover_json(result)["stacks"] if s["stack"] == "database")
    (kept,) = database["kept_data"]
    assert kept["kept"] == "orders-old" and kept["newest"] == "orders-new"
    assert kept["age_seconds"] > 5.9 * 3600


def test_replace_data_restores_from_the_newest_copy(world: dict[str, Any]) -> None:
    _never_served(world)
    result = failover.failover(
        build_plan(world["loaded"], REGION),
        world["conn"],
        replace_data=frozenset({"database"}),
        verify_after=False,
        lock=QUIET,
    )
    assert result.ok, result.outcome.failed()
    assert parameter_dict(_database(world))["SnapshotIdentifier"] == "orders-new"


def test_once_the_region_serves_the_kept_data_is_live_and_the_rerun_goes_on(
    world: dict[str, Any],
) -> None:
    # the first failover was verified-free (verify_after False) and marked nothing serving:
    plan = build_plan(world["loaded"], REGION)
    failover.mark_region_serving(world["conn"], plan, "run-1", world["at"], "serving")
    result = failover.failover(plan, world["conn"], verify_after=False, lock=QUIET)
    assert result.ok
    assert parameter_dict(_database(world))["SnapshotIdentifier"] == "orders-old"
    assert [k.kept for k in result.kept] == ["orders-old"]
