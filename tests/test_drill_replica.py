"""A replica-mode demo on the stand-in, end to end: readiness reads the prepared replica (and
flags it lagging or stopped), a drill restores from its own snapshot of the replica and leaves
production's replica as it was, replicating, and deletes that snapshot."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from conftest import relight
from relight import standin
from relight.standin.faults import clear_faults, set_faults

REGION = "us-west-2"
SOURCE = "arn:aws:rds:us-east-1:123456789012:db:demo-orders"
RUNG = ("--strategy", "pilot_light", "--data", "replica")


def _client(world: dict[str, Any], service: str) -> Any:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    return boto3.client(service, REGION, endpoint_url=found.endpoint)


def test_a_replica_mode_drill_before_prepare_fails_saying_the_failover_would_be_refused(
    world: dict[str, Any], tmp_path: Any
) -> None:
    """Runs first, on the module's fresh stand-in: no replica stands yet. The drill still
    measures the rest (restoring from the newest copy) but does not pass: the failover it
    rehearses would be refused for want of the replica."""
    run = relight(
        world, "drill", "--env", "demo", "--region", REGION, *RUNG,
        "--reports", str(tmp_path),
    )  # fmt: skip
    said = " ".join((run.stdout + run.stderr).split())
    assert run.returncode == 1, said
    assert "stacks.database: data: replica, but production's replica is not prepared in" in said
    assert "--strategy pilot_light --data replica" in said
    assert "drill passed" not in said
    cfn = _client(world, "cloudformation")
    assert "demo-database" not in {s["StackName"] for s in cfn.describe_stacks()["Stacks"]}


@pytest.fixture(scope="module")
def prepared(world: dict[str, Any]) -> dict[str, Any]:
    """The demo prepared at pilot light with its database a replica in us-west-2."""
    run = relight(world, "prepare", "--env", "demo", "--region", REGION, *RUNG, "--yes")
    assert run.returncode == 0, run.stderr + run.stdout
    stack = _client(world, "cloudformation").describe_stacks(StackName="demo-database")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Stacks"][0]["Outputs"]}
    return {"replica": outputs["DatabaseIdentifier"]}


def _replica(world: dict[str, Any], identifier: str) -> dict[str, Any]:
    found = _client(world, "rds").describe_db_instances(DBInstanceIdentifier=identifier)
    return dict(found["DBInstances"][0])


def _readiness(world: dict[str, Any], tmp: Any) -> dict[str, Any]:
    run = relight(
        world, "readiness", "--env", "demo", "--region", REGION, *RUNG,
        "--reports", str(tmp), "--json",
    )  # fmt: skip
    return dict(json.loads(run.stdout))


def test_readiness_reads_the_replica_and_flags_it_lagging_or_stopped(
    world: dict[str, Any], prepared: dict[str, Any], tmp_path: Any
) -> None:
    shown = _readiness(world, tmp_path)
    assert shown["checks"]["replica"] == "ok", shown["findings"]
    endpoint = standin.find(world["state"]).endpoint  # type: ignore[union-attr]
    try:
        set_faults(endpoint, {"replicas": [{"db": "*", "lag": 90000}]}, source="test")
        lagging = _readiness(world, tmp_path)
        [finding] = [f for f in lagging["findings"] if f["check"] == "replica"]
        assert lagging["ready"] is False
        assert finding["message"].endswith(
            f"stacks/demo.yaml: stacks.database: ReplicaLag of {prepared['replica']}: 90000 s "
            f"at most in the last 15 min in {REGION}: more than the RPO objective (24.0 h): a "
            "promotion now would lose up to 25.0 h of writes"
        )

        set_faults(endpoint, {"replicas": [{"db": "*", "mode": "stopped"}]}, source="test")
        stopped = _readiness(world, tmp_path)
        [finding] = [f for f in stopped["findings"] if f["check"] == "replica"]
        assert (
            f"read replica {prepared['replica']} in {REGION} is not replicating"
            in (finding["message"])
        )
        assert "StatusInfos" in finding["fix"]
    finally:
        clear_faults(endpoint, "test")


def test_a_drill_never_touches_productions_replica_and_deletes_its_own_snapshot(
    world: dict[str, Any], prepared: dict[str, Any], tmp_path: Any
) -> None:
    before = _replica(world, prepared["replica"])
    run = relight(
        world, "drill", "--env", "demo", "--region", REGION, *RUNG, "--drill-id", "rep1",
        "--reports", str(tmp_path), "--json",
    )  # fmt: skip
    report = json.loads(run.stdout)
    assert report["ok"], report["problems"]
    [drilled] = report["replicas"]
    assert report["data"] == "replica"
    assert drilled["replica"] == prepared["replica"] and drilled["untouched"]
    assert drilled["promotion_label"] == "forecast: a drill never promotes production's replica"
    assert drilled["rpo_label"] == "measured: ReplicaLag when the snapshot was taken"
    # the drill's database restored from the drill's snapshot of the replica
    [restored] = [a for a in report["artifacts"] if a["name"] == "orders_db"]
    assert restored["id"] == drilled["snapshot"] == "relight-drill-rep1-database"
    # production's replica: still a replica of the home instance, replicating, as it was
    after = _replica(world, prepared["replica"])
    assert after["ReadReplicaSourceDBInstanceIdentifier"] == SOURCE
    assert after["DBInstanceStatus"] == before["DBInstanceStatus"]
    assert after["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": True, "Status": "replicating"}
    ]
    # the drill's snapshot is gone, and only it
    names = {s["DBSnapshotIdentifier"] for s in _client(world, "rds").describe_db_snapshots()[
        "DBSnapshots"]}  # fmt: skip
    assert "relight-drill-rep1-database" not in names
    assert "relight-drill-rep1-database (us-west-2)" in report["teardown"]["deleted"]
    markdown = (tmp_path / "demo" / "rep1" / "report.md").read_text()
    assert "database: data mode replica; RPO 2.0 s (measured: ReplicaLag when the snapshot" in (
        markdown
    )
    assert "(forecast: a drill never promotes production&#x27;s replica)" in markdown or (
        "(forecast: a drill never promotes production's replica)" in markdown
    )
