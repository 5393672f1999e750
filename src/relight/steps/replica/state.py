"""What RDS in the recovery region says of a replica-mode database: `read_replica_state`.

Every call is made in the recovery region (the home region may be gone): DescribeDBInstances
for an instance (`ReadReplicaSourceDBInstanceIdentifier`: the source's ARN for a cross-region
replica, absent once promoted; `StatusInfos`, the "read replication" entry: replicating,
error, stopped, terminated, ...; `DBInstanceStatus`; `Endpoint`), DescribeDBClusters for an
Aurora cluster (`GlobalClusterIdentifier`, `ReplicationSourceIdentifier`, `Status`,
`Endpoint`) with, while the cluster is in a global database, DescribeGlobalClusters for its
member entry (`IsWriter`, `SynchronizationStatus`). docs/aws-behaviours.md, rows D20-D27.

A database the region does not hold is `exists=False`, never an error; a failure of the
endpoint (or a refusal other than "not found") is an AwsError naming the call. One exception:
DescribeGlobalClusters failing (throttled, a 500, its endpoint unreachable in an outage) leaves
the cluster's membership unknown (`membership_known=False`), not an error: the cluster's own
`GlobalClusterIdentifier` (empty once detached) then says whether it is still a secondary, so
a failover is not stopped by a call about the global database it is leaving.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from relight.aws.failures import translated
from relight.errors import AwsError

Kind = Literal["instance", "cluster"]
INSTANCE: Kind = "instance"
CLUSTER: Kind = "cluster"
REPLICATION = "read replication"  # StatusInfos' StatusType of a read replica
NOT_FOUND = {
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBClusterNotFoundFault",
    "GlobalClusterNotFoundFault",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBClusterSnapshotNotFoundFault",
}
STOPPED = {"error", "stopped", "terminated"}  # replication has stopped: data no longer flows
BACKING_UP = "backing-up"  # DBInstanceStatus while a backup runs (a promoted one's first, D25)
# A standalone database takes writes while available, and while its backup runs (D25)
WRITABLE = {"available", BACKING_UP}


@dataclass(frozen=True)
class ReplicaState:
    """A replica-mode database in the recovery region, as RDS there reports it."""

    key: str  # the stack's key in the environment file
    kind: str  # "instance" or "cluster"
    identifier: str  # the DB instance identifier, or the secondary cluster's
    region: str
    exists: bool
    replicating: bool  # a replica whose replication runs (StatusInfos / the member's sync)
    promoted: bool  # stands alone (no source, out of any global cluster) and takes writes
    status: str  # DBInstanceStatus or the cluster's Status; "missing" when it does not exist
    source_arn: str | None  # what it replicates from (None once promoted)
    endpoint: str | None
    port: int | None
    detail: str  # one line for a person: what it is and how its replication stands
    # False: DescribeGlobalClusters did not answer, so whether an Aurora secondary still
    # replicates (and whether it is its global database's writer) is not known
    membership_known: bool = True

    @property
    def replica(self) -> bool:
        """Still a replica (it has a source): promotion has not happened yet."""
        return self.exists and not self.promoted

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def writable(self) -> bool:
        """Stands alone and takes writes: available, or running a backup (a promoted
        instance's first backup, which RDS starts at once and which may take long: D25)."""
        return self.exists and self.promoted and self.status in WRITABLE

    @property
    def backing_up(self) -> bool:
        return self.status == BACKING_UP


def read_replica_state(
    rds_client: Any, key: str, kind: str, identifier: str, region: str
) -> ReplicaState:
    """The replica `identifier` (an instance's or a cluster's, per `kind`) as RDS in `region`
    (the client's) reports it now."""
    if kind == INSTANCE:
        return _instance(rds_client, key, identifier, region)
    if kind == CLUSTER:
        return _cluster(rds_client, key, identifier, region)
    raise ValueError(f"kind is 'instance' or 'cluster', not {kind!r}")


def _missing(key: str, kind: str, identifier: str, region: str) -> ReplicaState:
    what = "DB instance" if kind == INSTANCE else "DB cluster"
    return ReplicaState(
        key, kind, identifier, region, exists=False, replicating=False, promoted=False,
        status="missing", source_arn=None, endpoint=None, port=None,
        detail=f"{what} {identifier} does not exist in {region}",
    )  # fmt: skip


def _describe(call: Any, what: str, client: Any, **kwargs: Any) -> dict[str, Any] | None:
    """One describe call; None when RDS answers that the database does not exist."""
    from botocore.exceptions import ClientError

    with translated(what, client):
        try:
            return dict(call(**kwargs))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_FOUND:
                return None
            raise


def describe_first(
    call: Any, listed: str, what: str, client: Any, **kwargs: Any
) -> dict[str, Any] | None:
    """The one database (or snapshot) a describe by identifier answers (its `listed` list's
    first entry); None when RDS answers that it does not exist."""
    answer = _describe(call, what, client, **kwargs)
    found = (answer or {}).get(listed) or []
    return dict(found[0]) if found else None


def _replication(instance: dict[str, Any]) -> dict[str, Any]:
    """The "read replication" entry of an instance's StatusInfos ({}: not reported)."""
    infos = instance.get("StatusInfos") or []
    return next((dict(i) for i in infos if i.get("StatusType") == REPLICATION), {})


def replication_status(instance: dict[str, Any]) -> str | None:
    """The status of an instance's "read replication" (None: not reported)."""
    return str(_replication(instance).get("Status") or "") or None


def _instance(rds: Any, key: str, identifier: str, region: str) -> ReplicaState:
    db = describe_first(
        rds.describe_db_instances,
        "DBInstances",
        f"cannot read DB instance {identifier} in {region}",
        rds,
        DBInstanceIdentifier=identifier,
    )
    if db is None:
        return _missing(key, INSTANCE, identifier, region)
    status = str(db.get("DBInstanceStatus") or "")
    source = db.get("ReadReplicaSourceDBInstanceIdentifier") or None
    endpoint = db.get("Endpoint") or {}
    replication = replication_status(db)
    if source is None:
        detail = f"DB instance {identifier} stands alone ({status}): not a replica"
    else:
        said = replication or "not reported"
        detail = f"DB instance {identifier} replicates from {source} (replication: {said})"
        if message := _replication(db).get("Message"):
            detail += f": {message}"
    return ReplicaState(
        key, INSTANCE, identifier, region, exists=True,
        replicating=source is not None and replication == "replicating",
        promoted=source is None, status=status, source_arn=source,
        endpoint=endpoint.get("Address"), port=_port(endpoint.get("Port")), detail=detail,
    )  # fmt: skip


def _cluster(rds: Any, key: str, identifier: str, region: str) -> ReplicaState:
    db = describe_first(
        rds.describe_db_clusters,
        "DBClusters",
        f"cannot read DB cluster {identifier} in {region}",
        rds,
        DBClusterIdentifier=identifier,
    )
    if db is None:
        return _missing(key, CLUSTER, identifier, region)
    status = str(db.get("Status") or "")
    arn = str(db.get("DBClusterArn") or "")
    global_id = db.get("GlobalClusterIdentifier") or None
    source = db.get("ReplicationSourceIdentifier") or None
    try:
        member = _member(rds, global_id, arn, region) if global_id else None
    except AwsError as exc:
        return _unknown_membership(db, key, identifier, region, global_id, exc)
    if global_id and member is None:
        # The cluster names a global database that does not list it (yet, or any more):
        # detached as far as replication goes.
        global_id = None
    promoted = source is None
    if member is not None:
        writer = bool(member.get("IsWriter"))
        sync = str(member.get("SynchronizationStatus") or "connected")
        primary = arn if writer else _writer_arn(rds, global_id, region)
        source = None if writer else (primary or source or global_id)
        promoted = writer  # the writer of its global database takes writes
        replicating = not writer and sync == "connected"
        detail = (
            f"DB cluster {identifier} is the writer of global database {global_id}"
            if writer
            else f"DB cluster {identifier} is a secondary of global database {global_id} "
            f"(from {primary or 'its primary'}; synchronization: {sync})"
        )
    else:
        replicating = source is not None
        detail = (
            f"DB cluster {identifier} replicates from {source}"
            if source
            else f"DB cluster {identifier} stands alone ({status}): in no global database"
        )
    return ReplicaState(
        key, CLUSTER, identifier, region, exists=True, replicating=replicating,
        promoted=promoted, status=status, source_arn=source,
        endpoint=db.get("Endpoint") or None, port=_port(db.get("Port")), detail=detail,
    )  # fmt: skip


def _unknown_membership(
    db: dict[str, Any], key: str, identifier: str, region: str, global_id: Any, exc: AwsError
) -> ReplicaState:
    """The cluster names global database `global_id`, which could not be read: a secondary
    still (not promoted), whose synchronization, and whether it is the writer, are unknown.
    RemoveFromGlobalCluster's own answer settles it at promotion."""
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ReplicaState(
        key, CLUSTER, identifier, region, exists=True, replicating=False, promoted=False,
        status=str(db.get("Status") or ""), source_arn=str(global_id),
        endpoint=db.get("Endpoint") or None, port=_port(db.get("Port")),
        detail=f"DB cluster {identifier} is in global database {global_id} (its own "
        f"GlobalClusterIdentifier); its membership could not be read: {reason}",
        membership_known=False,
    )  # fmt: skip


def _global(rds: Any, global_id: str, region: str) -> dict[str, Any] | None:
    answer = _describe(
        rds.describe_global_clusters,
        f"cannot read global database {global_id} from {region}",
        rds,
        GlobalClusterIdentifier=global_id.rsplit(":", 1)[-1],
    )
    wanted = global_id.rsplit(":", 1)[-1].lower()
    for found in (answer or {}).get("GlobalClusters") or []:
        names = (found.get("GlobalClusterIdentifier"), found.get("GlobalClusterArn"))
        if wanted in {str(n).rsplit(":", 1)[-1].lower() for n in names if n}:
            return dict(found)
    return None


def _member(rds: Any, global_id: str, arn: str, region: str) -> dict[str, Any] | None:
    found = _global(rds, global_id, region)
    for member in (found or {}).get("GlobalClusterMembers") or []:
        if member.get("DBClusterArn") == arn:
            return dict(member)
    return None


def _writer_arn(rds: Any, global_id: str | None, region: str) -> str | None:
    try:
        found = _global(rds, global_id, region) if global_id else None
    except AwsError:  # read a moment ago; unread now: the writer is only named in the detail
        return None
    for member in (found or {}).get("GlobalClusterMembers") or []:
        if member.get("IsWriter"):
            return str(member.get("DBClusterArn"))
    return None


def _port(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
