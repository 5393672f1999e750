"""A replica-mode database on the way home (issue 23): what R's promoted database is, whether
a replica of it can be made at home, how far that replica has come, and its promotion.

At failover relight promoted R's cross-region replica: R's database stack is a prepared stack
whose outputs say `DataMode: replica` and name the promoted database (`DatabaseIdentifier`).
The way back mirrors the way out: a cross-region read replica of that database in the home
region (CreateDBInstanceReadReplica called in the home region, naming the source by its ARN,
with the home region's key and subnet group), then, once writes in R have stopped and the
replica has replayed past the stop, PromoteReadReplica in the home region. Nothing is copied
as a snapshot and nothing is restored, so no write is lost and the outage is the catch-up and
the promotion, not a copy and a restore (docs/dns-and-failback.md).

Aurora (a secondary cluster detached from its global database at failover) has no way back
here yet: `source_problems` refuses it before anything changes, saying what it would take.

Every call is an RDS or CloudWatch call in the region named; errors become relight's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.errors import AwsError
from relight.model.environment import ArtifactRef
from relight.steps.replica.state import (
    STOPPED,
    ReplicaState,
    read_replica_state,
    replication_status,
)

# RDS's answers (docs/aws-behaviours.md D50-D53)
NOT_A_REPLICA = "DB Instance is not a read replica"  # PromoteReadReplica, InvalidDBInstanceState
NO_BACKUPS = (  # CreateDBInstanceReadReplica of a source without backups, InvalidDBInstanceState
    "Automated backups are not enabled for this database instance. To enable automated "
    "backups, use ModifyDBInstance to set the backup retention period to a non-zero value."
)
REPLICA_MODE = "replica"  # R's database stack's DataMode output in replica mode
# How far behind the newest ReplicaLag datapoint may be when it is read (a one-minute
# metric, published a little after its minute): the replay time is judged as if the
# datapoint were that old, so a reading never counts as newer than it is.
DATAPOINT_SLACK = timedelta(seconds=120)


@dataclass(frozen=True)
class ReplicaHolder:
    """A database in R that a failover promoted from a replica of home: it goes home as a
    replica of itself, not as a snapshot."""

    stack: str  # the stack's key in the environment file
    stack_name: str
    artifact: str  # the artifact its SnapshotIdentifier names (its db_instance: prepare's source)
    kind: str  # "instance" or "cluster" (Aurora)
    identifier: str  # the promoted DB instance (or cluster) in R
    describe: str


@dataclass(frozen=True)
class Source:
    """R's promoted database as a replica's source must be."""

    identifier: str
    arn: str
    status: str
    still_a_replica: bool  # it still names a source: the failover's promotion did not finish
    backups: int  # BackupRetentionPeriod: a source needs it above 0
    encrypted: bool
    engine: str


def _output(stack: Mapping[str, Any], key: str) -> str:
    return next(
        (str(o.get("OutputValue", "")) for o in stack.get("Outputs", []) if o["OutputKey"] == key),
        "",
    )


def _tag(stack: Mapping[str, Any], key: str) -> str:
    return next((str(t["Value"]) for t in stack.get("Tags", []) if t["Key"] == key), "")


def replica_holders(
    stacks: Sequence[Mapping[str, Any]], params: Mapping[str, Any]
) -> list[ReplicaHolder]:
    """R's replica-mode database stacks (their `DataMode` output is `replica`), as described by
    DescribeStacks; `params` maps a stack key to its params in the file (for the artifact its
    `SnapshotIdentifier` names)."""
    found = []
    for stack in stacks:
        if _output(stack, "DataMode") != REPLICA_MODE:
            continue
        key = _tag(stack, "relight:stack")
        ref = (params.get(key) or {}).get("SnapshotIdentifier")
        kind = "cluster" if _output(stack, "GlobalClusterIdentifier") else "instance"
        ident = _output(stack, "DatabaseIdentifier")
        what = "database" if kind == "instance" else "database cluster"
        found.append(
            ReplicaHolder(
                key,
                str(stack["StackName"]),
                ref.artifact if isinstance(ref, ArtifactRef) else "",
                kind,
                ident,
                f"{what} {ident} (in {stack['StackName']}, stacks.{key}; promoted at failover)",
            )
        )
    return found


def read_source(rds: Any, identifier: str) -> Source | None:
    """R's promoted DB instance, or None when RDS does not know it (DBInstanceNotFound)."""
    try:
        (db,) = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("DBInstanceNotFound", "DBInstanceNotFoundFault"):
            return None
        raise AwsError(f"could not read database {identifier}: {exc}") from exc
    return Source(
        identifier,
        str(db["DBInstanceArn"]),
        str(db.get("DBInstanceStatus", "")),
        bool(db.get("ReadReplicaSourceDBInstanceIdentifier")),
        int(db.get("BackupRetentionPeriod") or 0),
        bool(db.get("StorageEncrypted")),
        str(db.get("Engine", "")),
    )


def source_problems(
    path: str, holder: ReplicaHolder, source: Source | None, recovery: str, home_key: str | None
) -> list[str]:
    """What would stop a home replica of `holder`, found before anything changes. `path` is the
    environment file; `home_key` the home region's entry of `kms_keys`."""
    where = f"{path}: stacks.{holder.stack}.data"
    if holder.kind == "cluster":
        return [
            f"{where}: replica, an Aurora cluster ({holder.identifier} in {recovery}, detached "
            "from its global database at failover): relight fails it back only through a "
            "snapshot, and not yet for replica mode. By hand: make it the primary of a global "
            "database again (CreateGlobalCluster from it), add a cluster in the home region as "
            "its secondary (CreateDBCluster with GlobalClusterIdentifier), wait until "
            "AuroraGlobalDBReplicationLag is near 0, then switch over to home "
            "(SwitchoverGlobalCluster: no write lost)"
        ]
    if source is None:
        return [
            f"{where}: replica, but {holder.identifier}, the database the failover promoted in "
            f"{recovery}, is not there: nothing to replicate home"
        ]
    problems = []
    if source.still_a_replica:
        problems.append(
            f"{where}: {holder.identifier} in {recovery} is still a read replica (its promotion "
            "did not finish): rerun the failover, which promotes it, before failing back"
        )
    if source.backups <= 0:
        problems.append(
            f"{where}: {holder.identifier} in {recovery} has automated backups off "
            "(BackupRetentionPeriod 0), and RDS makes a read replica only of a source with "
            f'backups ("{NO_BACKUPS}"): aws rds modify-db-instance --region {recovery} '
            f"--db-instance-identifier "
            f"{holder.identifier} --backup-retention-period 1 --apply-immediately"
        )
    if source.encrypted and not home_key:
        problems.append(
            f"{path}: kms_keys: {holder.identifier} in {recovery} is encrypted, and a replica in "
            "another region must name a key there: give the home region's key"
        )
    return problems


def wait_replicating(
    rds: Any,
    holder: ReplicaHolder,
    identifier: str,
    region: str,
    source_arn: str,
    *,
    sleep: Callable[[float], None],
    timeout: float,
    interval: float = 30.0,
) -> ReplicaState:
    """Wait until the home replica `identifier` is available and replicates from `source_arn`
    (its "read replication" status replicating, or not reported, as on the stand-in). AwsError
    when replication stopped (error, stopped, terminated) or did not start within `timeout`."""
    waited = 0.0
    while True:
        state = read_replica_state(rds, holder.stack, "instance", identifier, region)
        reported = _replication(rds, identifier) if state.exists else None
        if reported in STOPPED:
            raise AwsError(
                f"the home replica {identifier} in {region} does not replicate: {state.detail}",
                hint="see the RDS events of the replica; delete it (its stack) and rerun the "
                "failback to make it again",
            )
        if state.available and state.source_arn == source_arn and reported in (None, "replicating"):
            return state
        if state.available and state.source_arn is None:
            raise AwsError(
                f"home's stacks.{holder.stack} holds {identifier} in {region}, a database that "
                f"stands alone, not a replica of {source_arn}: the stack was made a replica of it "
                "by an earlier failback and promoted then, so this failback's deploy changed "
                "nothing",
                hint=f"keep it as a manual snapshot, delete home's stacks.{holder.stack} stack, "
                "then rerun the failback: it makes the replica again",
            )
        if waited >= timeout:
            raise AwsError(
                f"the home replica {identifier} in {region} is not replicating from "
                f"{source_arn} after {timeout / 60:.0f} min: {state.detail}",
                hint="rerun the failback: it goes on waiting from here",
            )
        sleep(interval)
        waited += interval


def _replication(rds: Any, identifier: str) -> str | None:
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
    return replication_status(db)


def caught_up(lag: float | None, read_at: datetime, stopped_at: datetime) -> bool:
    """Whether the replica has replayed past the moment writes stopped in R. ReplicaLag is the
    time since the last transaction the replica replayed (PostgreSQL: `now() -
    pg_last_xact_replay_timestamp()`), so with writes stopped it does not fall to 0 on
    PostgreSQL: it climbs. What proves the catch-up is a replay at or after the stop: the
    datapoint's time (taken as `DATAPOINT_SLACK` older than the reading) less its lag."""
    if lag is None:
        return False
    return read_at - DATAPOINT_SLACK - timedelta(seconds=lag) >= stopped_at


def wait_caught_up(
    lag_of: Callable[[datetime], float | None],
    stopped_at: datetime,
    *,
    identifier: str,
    region: str,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None],
    timeout: float,
    interval: float = 30.0,
) -> float:
    """Wait until the home replica has replayed past the stop (`caught_up`); its last lag.
    AwsError when it has not within `timeout` seconds (a rerun waits again)."""
    waited = 0.0
    last: float | None = None
    while True:
        at = now()
        last = lag_of(at)
        if caught_up(last, at, stopped_at):
            return float(last or 0.0)
        if waited >= timeout:
            seen = "no ReplicaLag datapoint" if last is None else f"ReplicaLag {last:.0f} s"
            raise AwsError(
                f"{identifier} in {region} has not replayed past the stop of writes "
                f"({stopped_at:%H:%M:%S} UTC) after {timeout / 60:.0f} min: {seen}",
                hint="rerun the failback: it goes on waiting from here (writes stay stopped)",
            )
        sleep(interval)
        waited += interval


def promote(rds: Any, key: str, identifier: str, region: str, *, retention_days: int) -> bool:
    """PromoteReadReplica in the home region, backups kept `retention_days` (the stack's
    `backup_retention_days`, as the failover's promotion keeps them: `steps.replica.promote.
    retention_days`); False when it is promoted already (a rerun). RDS refuses a second
    promotion (InvalidDBInstanceState), so the state is read first."""
    found = read_replica_state(rds, key, "instance", identifier, region)
    if not found.exists:
        raise AwsError(f"the home replica {identifier} in {region} is not there to promote")
    if found.promoted:
        return False
    try:
        # backups on (the next prepare replicates this database), kept as the stack says
        rds.promote_read_replica(
            DBInstanceIdentifier=identifier, BackupRetentionPeriod=retention_days
        )
    except ClientError as exc:
        error = exc.response["Error"]
        if error["Code"] == "InvalidDBInstanceState" and NOT_A_REPLICA in error["Message"]:
            return False  # promoted between the read and the call (another run)
        raise AwsError(
            f"could not promote {identifier} in {region}: {exc}",
            hint="rerun the failback: it promotes the replica if it is not promoted yet",
        ) from exc
    except BotoCoreError as exc:
        raise AwsError(
            f"could not promote {identifier} in {region}: {exc}",
            hint="rerun the failback: it promotes the replica if it is not promoted yet",
        ) from exc
    return True


def wait_promoted(
    rds: Any,
    key: str,
    identifier: str,
    region: str,
    *,
    sleep: Callable[[float], None],
    timeout: float,
    interval: float = 15.0,
) -> ReplicaState:
    """Wait until the promoted replica names no source and takes writes: available, or
    backing up (its first backup, which promotion starts: D25)."""
    waited = 0.0
    while True:
        found = read_replica_state(rds, key, "instance", identifier, region)
        if found.writable:
            return found
        if waited >= timeout:
            raise AwsError(
                f"{identifier} in {region} was not promoted within {timeout / 60:.0f} min "
                f"({found.detail})",
                hint="rerun the failback: it goes on from the promotion",
            )
        sleep(interval)
        waited += interval
