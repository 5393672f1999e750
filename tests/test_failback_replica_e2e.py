"""A replica-mode incident end to end on the local stand-in, through the CLI (issue 23):
`make prepare/failover REGION=us-west-2 STRATEGY=pilot_light DATA=replica`, then `relight
failback --from us-west-2` (graceful): home's database stack becomes a replica of the database
us-west-2 promoted, is promoted, and home's web reads it; nothing is copied or restored."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conftest import relight
from relight import standin

pytestmark = pytest.mark.e2e
R, HOME = "us-west-2", "us-east-1"
RUNG = ("--env", "demo", "--region", R, "--strategy", "pilot_light", "--data", "replica")


def _client(world: dict[str, Any], service: str, region: str) -> Any:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    return boto3.client(service, region, endpoint_url=found.endpoint)


def _outputs(world: dict[str, Any], region: str, name: str) -> dict[str, str]:
    (stack,) = _client(world, "cloudformation", region).describe_stacks(StackName=name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _params(world: dict[str, Any], region: str, name: str) -> dict[str, str]:
    (stack,) = _client(world, "cloudformation", region).describe_stacks(StackName=name)["Stacks"]
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}


def _said(run: Any) -> str:
    return " ".join((run.stdout + run.stderr).split())


def test_a_replica_mode_failback_brings_home_a_replica_of_what_r_promoted(
    world: dict[str, Any],
) -> None:
    for command in ("prepare", "failover"):
        run = relight(world, command, *RUNG, "--yes")
        assert run.returncode == 0, _said(run)
    promoted = _outputs(world, R, "demo-database")["DatabaseIdentifier"]
    rds_r, rds_home = _client(world, "rds", R), _client(world, "rds", HOME)
    (r_db,) = rds_r.describe_db_instances(DBInstanceIdentifier=promoted)["DBInstances"]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in r_db, "the failover promoted it"

    shown = relight(world, "failback", "--env", "demo", "--from", R, "--dry-run", "--json")
    assert shown.returncode == 0, _said(shown)
    plan = json.loads(shown.stdout)
    assert [p["phase"] for p in plan["phases"]] == [
        "replica", "stop", "snapshot", "promote", "home", "verify", "release", "return"
    ]  # fmt: skip
    assert not any("database" in h for h in plan["holders"]), "no snapshot of the database"

    back = relight(world, "failback", "--env", "demo", "--from", R, "--yes", "--json")
    assert back.returncode == 0, _said(back)
    result = json.loads(back.stdout)
    assert result["done"] == [
        "replica", "stop", "snapshot", "promote", "home", "verify", "release", "return"
    ]  # fmt: skip
    home = _outputs(world, HOME, "demo-database")
    assert home["DataMode"] == "replica" and home["ReplicaSourceArn"] == r_db["DBInstanceArn"]
    (home_db,) = rds_home.describe_db_instances(DBInstanceIdentifier=home["DatabaseIdentifier"])[
        "DBInstances"
    ]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in home_db, "promoted at home"
    assert home_db["BackupRetentionPeriod"] >= 1, "backups on: a source for the next replica"
    assert _params(world, HOME, "demo-web")["DatabaseEndpoint"] == home_db["Endpoint"]["Address"]
    kept = rds_r.describe_db_snapshots(DBInstanceIdentifier=promoted, SnapshotType="manual")
    assert kept["DBSnapshots"], "R's promoted database kept as a manual snapshot"
    said = _said(back)
    assert "artifacts.orders_db.db_instance names demo-orders" in said
