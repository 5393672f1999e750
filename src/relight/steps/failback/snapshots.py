"""Snapshots of the data holders in the recovery region, and their copies home."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from relight.aws.clients import Aws
from relight.aws.cloudformation import backoff
from relight.aws.failures import translated
from relight.errors import AwsError
from relight.model.config import LoadedEnvironment
from relight.steps.discovery import Artifact, Candidate
from relight.steps.failback.holders import FAILBACK_TAG, Holder, Taken
from relight.steps.replicate.copies import CopyResult
from relight.steps.replicate.replicator import Replicator

# snapshots, and their copies home ---------------------------------------------------------------


def snapshot_name(env: str, artifact: str, run_id: str) -> str:
    """An RDS snapshot identifier: letters, digits, single hyphens, starting with a letter."""
    raw = f"{env}-failback-{artifact}-{run_id}"
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9-]", "-", raw)).strip("-")[:255]


def take_snapshot(
    loaded: LoadedEnvironment,
    aws: Aws,
    region: str,
    holder: Holder,
    run_id: str,
    namespace: str | None = None,
) -> str:
    """Start the snapshot of a holder in `region`, tagged with the failback run and, for
    production, the artifact's lookup tags (its copy home carries them: home's discovery then
    finds the data home runs on as it would a backup). A drill's rehearsal (`namespace`) gets
    no lookup tags, so its snapshots and copies are never taken for production's data."""
    lookup = loaded.env.artifacts.get(holder.artifact)
    shared = lookup.tags if lookup is not None and namespace is None else {}
    tags = {**shared, FAILBACK_TAG: run_id, "relight:env": loaded.env.name}
    if namespace is not None:
        tags["relight:namespace"] = namespace
    tag_list = [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
    if holder.kind == "ebs_snapshot":
        answer = aws.client("ec2", region).create_snapshot(
            VolumeId=holder.resource,
            Description=f"relight failback {run_id}: {holder.describe}",
            TagSpecifications=[{"ResourceType": "snapshot", "Tags": tag_list}],
        )
        return str(answer["SnapshotId"])
    rds, name = aws.client("rds", region), snapshot_name(loaded.env.name, holder.artifact, run_id)
    if holder.kind == "rds_snapshot":
        rds.create_db_snapshot(
            DBSnapshotIdentifier=name, DBInstanceIdentifier=holder.resource, Tags=tag_list
        )
    else:
        rds.create_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=name, DBClusterIdentifier=holder.resource, Tags=tag_list
        )
    return name


def candidate(aws: Aws, region: str, kind: str, ident: str) -> Candidate:
    """What replication needs to know of a snapshot (replicate's copy path takes it)."""
    if kind == "ebs_snapshot":
        snap = aws.client("ec2", region).describe_snapshots(SnapshotIds=[ident])["Snapshots"][0]
        return Candidate(
            kind,
            ident,
            snap["StartTime"],
            {t["Key"]: t["Value"] for t in snap.get("Tags", [])},
            str(snap.get("OwnerId", "")),
            encrypted=bool(snap.get("Encrypted")),
            kms_key=snap.get("KmsKeyId"),
            volume=str(snap.get("VolumeId", "")),
        )
    rds = aws.client("rds", region)
    if kind == "rds_snapshot":
        snap = rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]
        arn, owner = snap.get("DBSnapshotArn", ""), snap.get("DBSnapshotArn", "::::").split(":")[4]
        created = snap.get("SnapshotCreateTime") or datetime.now(UTC)
        tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"] if arn else []
        return Candidate(
            kind,
            ident,
            created,
            {t["Key"]: t["Value"] for t in tags},
            owner,
            db_instance=str(snap.get("DBInstanceIdentifier", "")),
            encrypted=bool(snap.get("Encrypted")),
            kms_key=snap.get("KmsKeyId"),
            arn=arn,
        )
    snap = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)[
        "DBClusterSnapshots"
    ][0]
    arn = snap.get("DBClusterSnapshotArn", "")
    tags = rds.list_tags_for_resource(ResourceName=arn)["TagList"] if arn else []
    return Candidate(
        kind,
        ident,
        snap.get("SnapshotCreateTime") or datetime.now(UTC),
        {t["Key"]: t["Value"] for t in tags},
        arn.split(":")[4] if arn.count(":") >= 4 else "",
        db_cluster=str(snap.get("DBClusterIdentifier", "")),
        encrypted=bool(snap.get("StorageEncrypted")),
        kms_key=snap.get("KmsKeyId"),
        arn=arn,
    )


def wait_ready(
    aws: Aws,
    region: str,
    kind: str,
    ident: str,
    *,
    timeout: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Candidate:
    """Wait until a snapshot is usable (available / completed); AwsError when it fails."""
    started, delays = clock(), backoff(first=2.0, ceiling=30.0)
    while True:
        found = candidate(aws, region, kind, ident)
        state = _state(aws, region, kind, ident)
        if state in ("available", "completed"):
            return found
        if state in ("failed", "error"):
            raise AwsError(f"snapshot {ident} in {region} ended {state}")
        if clock() - started > timeout:
            raise AwsError(
                f"snapshot {ident} in {region} still {state} after {timeout:.0f} s",
                hint="rerun the failback: it waits for the same snapshot",
            )
        sleep(next(delays))


def _state(aws: Aws, region: str, kind: str, ident: str) -> str:
    if kind == "ebs_snapshot":
        snaps = aws.client("ec2", region).describe_snapshots(SnapshotIds=[ident])["Snapshots"]
        return str(snaps[0]["State"])
    rds = aws.client("rds", region)
    if kind == "rds_snapshot":
        return str(
            rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]["Status"]
        )
    found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)
    return str(found["DBClusterSnapshots"][0]["Status"])


def copy_home(
    replicator: Replicator,
    taken: Taken,
    source: Candidate,
    recovery: str,
    home: str,
    started: Callable[[str], None] = lambda _: None,
) -> str:
    """Copy a failback snapshot home (encrypted with the home region's key of the file) and
    wait for it; the copy's id. Replication's own path: shared first across accounts. The copy
    is started first and `started` told its id (to record it), then waited for: a failback
    stopped while it copies waits for the same copy when run again (`taken.copy`), and an
    RDS copy whose start was recorded too late is found by its identifier."""
    from relight.steps.replicate.copies import rds_copy_id

    copy = taken.copy
    if not copy:
        first = replicator.copy_one(taken.artifact, source, recovery, home, wait=False)
        if (
            first.action == "failed"
            and "AlreadyExists" in first.reason
            and taken.kind != "ebs_snapshot"
        ):
            first.copy_id, first.action = rds_copy_id(source.id, home), "started"
        _failed(first, taken, recovery, home)
        copy = first.copy_id
        started(copy)
    done = replicator.copy_one(taken.artifact, source, recovery, home, wait=True, in_progress=copy)
    _failed(done, taken, recovery, home)
    return copy


def _failed(result: CopyResult, taken: Taken, recovery: str, home: str) -> None:
    if result.action == "failed":
        raise AwsError(
            f"the copy of {taken.snapshot} ({taken.artifact}) from {recovery} to {home} "
            f"failed: {result.reason}",
            hint="check the home region's key (kms_keys) allows this account, and rerun the "
            "failback: it goes on with the same snapshot",
        )


def restore_keeps(aws: Aws, region: str, kind: str, ident: str) -> dict[str, str]:
    """What a restore keeps of a DB (cluster) snapshot (its port, storage type, option group),
    read as discovery reads it; nothing for another kind."""
    from relight.steps.discovery.listing import rds_restore_keeps

    rds = aws.client("rds", region)
    with translated(f"cannot describe {ident} in {region}", rds):
        if kind == "rds_snapshot":
            raw = rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"][0]
        elif kind == "rds_cluster_snapshot":
            raw = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)[
                "DBClusterSnapshots"
            ][0]
        else:
            return {}
    return rds_restore_keeps(raw)


def home_artifact(
    taken: Taken, recovery: str, home: str, attributes: Mapping[str, str] | None = None
) -> Artifact:
    """The copy at home as discovery would have found it: its data's time is the snapshot's,
    and `attributes` what its restore keeps (`restore_keeps`)."""
    return Artifact(
        taken.artifact,
        taken.kind,
        taken.copy,
        home,
        datetime.now(UTC),
        1,
        source_id=taken.snapshot,
        source_region=recovery,
        source_time=datetime.fromisoformat(taken.taken_at),
        encrypted=True,
        attributes=dict(attributes or {}),
    )
