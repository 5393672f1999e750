"""The drill's own snapshot of production's replica (steps/replica/drill_snapshot.py): taken
in the recovery region with the replica's lag, handed to the restore as an artifact, deleted
only by its name and tags; the replica itself stays a replica, replicating."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from fake_replicas import replica_in_west
from relight.errors import RelightError
from relight.model.faults import Faults
from relight.standin.faults import REGISTRY
from relight.steps.replica.drill_snapshot import (
    delete_drill_snapshot,
    snapshot_name,
    take_drill_snapshot,
)
from relight.steps.replica.state import read_replica_state


@pytest.fixture
def west() -> Iterator[dict[str, Any]]:
    with replica_in_west("test-drill-snapshot") as clients:
        yield clients


def _take(west: dict[str, Any], run_id: str = "20261207-050000-ab12") -> Any:
    ticks = iter([10.0, 13.5, 13.5, 13.5])
    return take_drill_snapshot(
        west["rds"], west["cloudwatch"], key="database", kind="instance",
        replica="orders-replica", region="us-west-2", artifact="orders_db", run_id=run_id,
        tags={"relight:env": "demo"}, now=lambda: datetime.now(UTC),
        clock=lambda: next(ticks), sleep=lambda _: None,
    )  # fmt: skip


def test_the_snapshot_is_the_drills_and_the_replica_stays_a_replica(west: Any) -> None:
    REGISTRY.replace("test-drill-snapshot", Faults.model_validate(
        {"replicas": [{"db": "orders-replica", "lag": 42}]}
    ))  # fmt: skip
    before = read_replica_state(west["rds"], "database", "instance", "orders-replica", "us-west-2")
    snap = _take(west)
    assert snap.snapshot_id == "relight-drill-20261207-050000-ab12-database"
    assert snap.seconds == 3.5  # measured with the clock handed in
    assert snap.lag_seconds == 42  # the replica's lag when it was taken: the drill's RPO
    found = west["rds"].describe_db_snapshots(DBSnapshotIdentifier=snap.snapshot_id)
    listed = found["DBSnapshots"][0]
    assert listed["DBInstanceIdentifier"] == "orders-replica"
    tags = {t["Key"]: t["Value"] for t in listed["TagList"]}
    assert tags["relight:purpose"] == "drill" and tags["relight:run"] == "20261207-050000-ab12"
    artifact = snap.as_artifact()
    assert (artifact.name, artifact.kind, artifact.id) == ("orders_db", "rds_snapshot",
                                                           snap.snapshot_id)  # fmt: skip
    assert artifact.data_time == snap.taken_at - timedelta(seconds=42)
    assert artifact.attributes["engine"] == "postgres"  # what the restore keeps, as discovery's
    assert artifact.attributes["port"] == str(listed["Port"])
    after = read_replica_state(west["rds"], "database", "instance", "orders-replica", "us-west-2")
    assert after == before  # read and snapshotted, nothing else


def test_the_teardown_deletes_the_drills_snapshot_only(west: Any) -> None:
    snap = _take(west)
    other = west["rds"].create_db_snapshot(
        DBInstanceIdentifier="orders-replica", DBSnapshotIdentifier="someone-elses"
    )["DBSnapshot"]
    assert delete_drill_snapshot(west["rds"], snap, "20261207-050000-ab12") == (
        f"{snap.snapshot_id} (us-west-2)"
    )
    left = {s["DBSnapshotIdentifier"] for s in west["rds"].describe_db_snapshots()["DBSnapshots"]}
    assert snap.snapshot_id not in left and other["DBSnapshotIdentifier"] in left


def test_a_snapshot_not_tagged_as_this_drills_is_left_alone(west: Any) -> None:
    snap = _take(west, run_id="20261207-050000-ab12")
    with pytest.raises(RelightError) as caught:
        delete_drill_snapshot(west["rds"], snap, "another-run")
    assert "is not tagged as drill another-run's snapshot" in str(caught.value)
    assert west["rds"].describe_db_snapshots(DBSnapshotIdentifier=snap.snapshot_id)["DBSnapshots"]


def test_snapshot_names_are_what_rds_accepts() -> None:
    assert snapshot_name("20261207-050000-ab12", "orders_db") == (
        "relight-drill-20261207-050000-ab12-orders-db"
    )


def test_the_report_says_when_productions_replica_is_not_as_it_was() -> None:
    from relight.dr.report import replica_lines

    drilled = {
        "stack": "database", "replica": "orders-replica", "rpo_seconds": None,
        "rpo_label": "unknown: no lag datapoint when the snapshot was taken",
        "snapshot": "relight-drill-r-database", "snapshot_seconds": 61.0,
        "snapshot_deleted": False, "promotion_seconds": 300.0,
        "promotion_label": "forecast: a drill never promotes production's replica",
        "untouched": False,
        "after": {"status": "available", "replicating": False, "promoted": True},
    }  # fmt: skip
    assert replica_lines({"replicas": [drilled]}) == [
        "database: data mode replica; RPO — (unknown: no lag datapoint when the snapshot was "
        "taken)",
        "database: snapshot relight-drill-r-database of replica orders-replica took 1 min 1 s "
        "(measured); not deleted",
        "database: the promotion a failover would have made: 5 min (forecast: a drill never "
        "promotes production's replica)",
        "database: production's replica orders-replica is not as it was: status available, "
        "replicating False, promoted True",
    ]


def test_a_drill_where_production_can_have_no_replica_reads_none(tmp_path: Any) -> None:
    from types import SimpleNamespace

    from conftest import REPO
    from relight.commands.drill_replica import production_replicas
    from relight.model.config import load_environment

    text = (REPO / "stacks" / "demo.yaml").read_text()
    text = text.replace("    blueprint: database\n", "    blueprint: database\n    data: replica\n")
    (tmp_path / "demo.yaml").write_text(text + f"blueprints_dir: {REPO / 'blueprints'}\n")
    loaded = load_environment(str(tmp_path / "demo.yaml"), "us-west-2")
    run = SimpleNamespace(
        loaded=loaded, conn=SimpleNamespace(region="us-west-2", stand_in=object()),
        strategy="backup_restore", data=None, notes=[],
    )  # fmt: skip
    assert production_replicas(run, stacks=None) == []  # type: ignore[arg-type]
    [note] = run.notes
    assert note.startswith("no replica of production's read at backup_restore: ")
    assert "stacks.database.data: replica" in note
