"""A replica-mode failover end to end on the local stand-in (issue 23), through the CLI as
`make prepare/failover REGION=us-west-2 STRATEGY=pilot_light DATA=replica` run it: refused
before the replica is prepared, then prepared, promoted, verified; and once more in-process with
the home region switched off (relight.aws.outage), where the promotion needs nothing from it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import REPO, relight
from relight import standin
from relight.aws.lock import LockSettings
from relight.aws.outage import Outage
from relight.commands import failover as failover_command
from relight.commands.connection import connect
from relight.model.config import load_environment
from relight.steps.render import build_plan

pytestmark = pytest.mark.e2e
REGION, HOME = "us-west-2", "us-east-1"
SOURCE = "arn:aws:rds:us-east-1:123456789012:db:demo-orders"
RUNG = ("--env", "demo", "--region", REGION, "--strategy", "pilot_light", "--data", "replica")


def _client(world: dict[str, Any], service: str, region: str) -> Any:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    return boto3.client(service, region, endpoint_url=found.endpoint)


def _stack(world: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(
        _client(world, "cloudformation", REGION).describe_stacks(StackName=name)["Stacks"][0]
    )


def _names(world: dict[str, Any]) -> set[str]:
    cfn = _client(world, "cloudformation", REGION)
    return {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}


def test_a_replica_mode_failover_is_refused_until_prepared_then_promotes_and_verifies(
    world: dict[str, Any],
) -> None:
    refused = relight(world, "failover", *RUNG, "--yes")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    said = " ".join(refused.stderr.split())
    assert "stacks/demo.yaml: stacks.database.data: replica: stack demo-database" in said
    assert "make prepare REGION=us-west-2 STRATEGY=pilot_light DATA=replica" in said
    assert "--data snapshot" in said and "nothing was changed" in said
    assert "demo-web" not in _names(world) and "demo-database" not in _names(world)

    prepared = relight(world, "prepare", *RUNG, "--yes")
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    outputs = {o["OutputKey"]: o["OutputValue"] for o in _stack(world, "demo-database")["Outputs"]}
    identifier = outputs["DatabaseIdentifier"]
    rds = _client(world, "rds", REGION)
    replica = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == SOURCE

    run = relight(world, "failover", *RUNG, "--yes", "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    [promoted] = result["promotions"]
    assert (promoted["stack"], promoted["identifier"], promoted["kind"], promoted["already"]) == (
        "database", identifier, "instance", False,
    )  # fmt: skip
    assert promoted["endpoint"] == outputs["Endpoint"]
    assert any(e["event"].startswith("promoted database (") for e in result["events"])
    # RDS: a standalone instance, unlisted by its source, with the stack's backups.
    now = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in now
    assert now["DBInstanceStatus"] == "available" and now["BackupRetentionPeriod"] == 7
    home = _client(world, "rds", HOME).describe_db_instances(DBInstanceIdentifier="demo-orders")
    assert replica["DBInstanceArn"] not in home["DBInstances"][0].get(
        "ReadReplicaDBInstanceIdentifiers", []
    )
    # The app stack reads the promoted endpoint, and verification says so, a line each.
    given = {
        p["ParameterKey"]: p["ParameterValue"] for p in _stack(world, "demo-web")["Parameters"]
    }
    assert given["DatabaseEndpoint"] == now["Endpoint"]["Address"]
    checks = {(c["stack"], c["check"]): c for c in result["verification"]}
    assert checks[("database", "promoted database writable")]["result"] == "passed"
    reads = checks[("database", "reads the promoted endpoint (web.DatabaseEndpoint)")]
    assert reads["result"] == "passed" and now["Endpoint"]["Address"] in reads["detail"]

    again = relight(world, "failover", *RUNG, "--yes", "--json")  # a rerun: nothing to promote
    assert again.returncode == 0, again.stdout + again.stderr
    [rerun] = json.loads(again.stdout)["promotions"]
    assert rerun["already"] and rerun["identifier"] == identifier


def test_with_the_home_region_switched_off_the_failover_still_promotes_and_succeeds(
    world: dict[str, Any],
) -> None:
    prepared = relight(world, "prepare", *RUNG, "--yes")
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), REGION)
    conn = connect(loaded, REGION, state_dir=world["state"])
    outage = Outage(HOME)
    down = replace(conn, aws=conn.aws.under_outage(outage))
    plan = build_plan(loaded, REGION, stand_in=True, strategy="pilot_light", data="replica")
    done = failover_command.failover(plan, down, lock=LockSettings(say=lambda _: None))
    assert done.ok, (done.outcome.failed(), done.checks)
    [promoted] = done.promotions
    assert not promoted.already
    assert outage.refused == [], outage.summary()
    rds = _client(world, "rds", REGION)
    now = rds.describe_db_instances(DBInstanceIdentifier=promoted.identifier)["DBInstances"][0]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in now
    assert {c.check: c.result for c in done.checks if c.stack == "database"}[
        "promoted database writable"
    ] == "passed"


@pytest.fixture
def world(tmp_path: Path) -> Any:
    """A private stand-in per test (its own simulated world), stopped after it."""
    import os

    state = tmp_path / "stand-in"
    state.mkdir()
    yield {"state": state, "env": {**os.environ, "RELIGHT_STATE_DIR": str(state)}}
    standin.stop(state)
