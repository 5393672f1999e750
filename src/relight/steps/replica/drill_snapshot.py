"""A drill's own snapshot of production's replica: taken, handed to the drill's restore, and
deleted by the drill's teardown. The replica itself is never promoted, modified or removed.

Promoting production's replica would break its replication ("the process isn't
reversible"), so a drill of a replica-mode database restores from a manual snapshot of the
replica taken in the recovery region: CreateDBSnapshot of the read replica (RDS takes manual
snapshots of read replicas: docs/aws-behaviours.md D34), CreateDBClusterSnapshot of an Aurora
global database's secondary cluster (D35). An Aurora fast clone would be quicker, but a clone is
a cluster made by the API, outside CloudFormation: the drill's database stack restores from a
snapshot (`SnapshotIdentifier`), as a failover's does, so the drill rehearses that. It is
named `relight-drill-<run>-<stack>` and tagged as the drill's (`relight:purpose` drill,
`relight:run`); the teardown deletes it only when both still say so.

What it measures: the replica's lag when the snapshot was taken (the drill's RPO for this
database, read from CloudWatch in the region: lag.py), and how long the snapshot took.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from relight.aws.failures import translated
from relight.errors import AwsError, RelightError
from relight.steps.discovery.choosing import Artifact
from relight.steps.discovery.listing import rds_restore_keeps
from relight.steps.replica.lag import Lag, replica_lag

PURPOSE = "drill"
WAIT_SECONDS = 3600.0  # a snapshot of a large database takes a while; then the drill fails
POLL_SECONDS = 15.0


@dataclass(frozen=True)
class DrillSnapshot:
    """The snapshot a drill took of one replica, and what it measured."""

    key: str  # the database stack's key
    kind: str  # "instance" | "cluster"
    replica: str  # the replica's identifier (production's, left alone)
    region: str
    artifact: str  # the artifact name the stack restores from (`SnapshotIdentifier`)
    snapshot_id: str
    snapshot_arn: str | None
    taken_at: datetime  # when the snapshot was asked for
    seconds: float  # until it was available (measured)
    lag: Lag  # the replica's lag just before (its newest value: the drill's RPO)
    encrypted: bool = False
    kms_key: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)  # what a restore keeps of it

    @property
    def snapshot_kind(self) -> str:
        return "rds_cluster_snapshot" if self.kind == "cluster" else "rds_snapshot"

    @property
    def lag_seconds(self) -> float | None:
        """The lag when the snapshot was taken: the newest minute's, else the window's."""
        if self.lag.newest is not None and self.lag.newest >= 0:
            return self.lag.newest
        return self.lag.seconds

    def as_artifact(self) -> Artifact:
        """The snapshot as the artifact the drill's database restores from: its data is as old
        as the replica's lag when it was taken."""
        behind = timedelta(seconds=self.lag_seconds or 0.0)
        return Artifact(
            name=self.artifact,
            kind=self.snapshot_kind,
            id=self.snapshot_id,
            region=self.region,
            created=self.taken_at,
            candidates=1,
            source_id=self.replica,
            source_region=self.region,
            source_time=self.taken_at - behind,
            encrypted=self.encrypted,
            kms_key=self.kms_key,
            arn=self.snapshot_arn,
            attributes=dict(self.attributes),
        )


def snapshot_name(run_id: str, key: str) -> str:
    """`relight-drill-<run>-<stack>`: letters, digits and single hyphens, as RDS asks."""
    raw = f"relight-drill-{run_id}-{key}".lower().replace("_", "-")
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", raw)).strip("-")[:255]


def take_drill_snapshot(
    rds: Any,
    cloudwatch: Any,
    *,
    key: str,
    kind: str,
    replica: str,
    region: str,
    artifact: str,
    run_id: str,
    tags: Mapping[str, str],
    now: Callable[[], datetime],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    wait_seconds: float = WAIT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
) -> DrillSnapshot:
    """Read the replica's lag, snapshot it (tagged as this drill's), wait until the snapshot
    is available. The replica is only read and snapshotted."""
    try:
        lag = replica_lag(cloudwatch, kind, replica, now())
    except RelightError:  # no lag to report, the snapshot is still the drill's data
        lag = Lag(kind, replica, "?", now(), None, None, 0)
    name = snapshot_name(run_id, key)
    tag_list = [{"Key": k, "Value": v} for k, v in {**tags, "relight:purpose": PURPOSE,
                                                   "relight:run": run_id}.items()]  # fmt: skip
    taken_at, started = now(), clock()
    with translated(f"cannot snapshot replica {replica} in {region}", rds):
        if kind == "cluster":
            rds.create_db_cluster_snapshot(
                DBClusterIdentifier=replica, DBClusterSnapshotIdentifier=name, Tags=tag_list
            )
        else:
            rds.create_db_snapshot(
                DBInstanceIdentifier=replica, DBSnapshotIdentifier=name, Tags=tag_list
            )
    found = _wait(rds, kind, name, region, clock, sleep, started + wait_seconds, poll_seconds)
    return DrillSnapshot(
        key=key, kind=kind, replica=replica, region=region, artifact=artifact,
        snapshot_id=name,
        snapshot_arn=found.get("DBClusterSnapshotArn") or found.get("DBSnapshotArn"),
        taken_at=taken_at, seconds=clock() - started, lag=lag,
        encrypted=bool(found.get("StorageEncrypted") or found.get("Encrypted")),
        kms_key=found.get("KmsKeyId"),
        attributes=rds_restore_keeps(found),
    )  # fmt: skip


def _describe(rds: Any, kind: str, name: str, region: str) -> dict[str, Any] | None:
    """The snapshot as RDS describes it (TagList included); None when RDS does not know it."""
    from relight.steps.replica.state import describe_first

    what = f"cannot read snapshot {name} in {region}"
    if kind == "cluster":
        call, listed = rds.describe_db_cluster_snapshots, "DBClusterSnapshots"
        return describe_first(call, listed, what, rds, DBClusterSnapshotIdentifier=name)
    call, listed = rds.describe_db_snapshots, "DBSnapshots"
    return describe_first(call, listed, what, rds, DBSnapshotIdentifier=name)


def _wait(
    rds: Any,
    kind: str,
    name: str,
    region: str,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    deadline: float,
    poll: float,
) -> dict[str, Any]:
    while True:
        found = _describe(rds, kind, name, region) or {}
        status = str(found.get("Status") or "")
        if status == "available":
            return found
        if status in ("failed", "deleted", "error"):
            raise AwsError(f"the drill's snapshot {name} of a replica in {region} is {status}")
        if clock() >= deadline:
            raise AwsError(
                f"the drill's snapshot {name} in {region} is still {status or 'not listed'} "
                f"after {int(deadline)} s",
                hint="the drill's teardown deletes it once it is available",
            )
        sleep(poll)


def delete_drill_snapshot(rds: Any, snap: DrillSnapshot, run_id: str) -> str:
    """Delete the drill's snapshot, only if it is still named and tagged as this drill's
    (relight:purpose drill, relight:run <run>). Returns what was deleted; raises RelightError
    naming what it left alone."""
    found = _describe(rds, snap.kind, snap.snapshot_id, snap.region)
    if found is None:
        return f"{snap.snapshot_id} ({snap.region}): already gone"
    tags = {t["Key"]: t["Value"] for t in found.get("TagList") or []}
    if tags.get("relight:purpose") != PURPOSE or tags.get("relight:run") != run_id:
        raise RelightError(
            f"{snap.snapshot_id} ({snap.region}) is not tagged as drill {run_id}'s snapshot "
            f"(relight:purpose={tags.get('relight:purpose')}, "
            f"relight:run={tags.get('relight:run')}): left alone"
        )
    with translated(f"cannot delete the drill's snapshot {snap.snapshot_id}", rds):
        if snap.kind == "cluster":
            rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snap.snapshot_id)
        else:
            rds.delete_db_snapshot(DBSnapshotIdentifier=snap.snapshot_id)
    return f"{snap.snapshot_id} ({snap.region})"
