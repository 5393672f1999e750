"""Read replicas and Aurora global databases as RDS plays them at a failover (issue 23).

Written against moto 5.2.6, whose RDS falls short here:

- PromoteReadReplica leaves `ReadReplicaSourceDBInstanceIdentifier` on the promoted instance
  and the source still lists it; the instance never leaves "available"; promoting an instance
  that is not a replica answers nothing but the instance;
- DescribeDBInstances reports no `StatusInfos` for a replica;
- RemoveFromGlobalCluster swallows every error (a global database or a cluster that does not
  exist, a cluster not a member) and leaves the cluster naming the global database;
- DescribeGlobalClusters ignores `GlobalClusterIdentifier` and answers only the global
  databases made through us-east-1's endpoint (that the cluster a global database is made
  from is its writer is globals.py's).

Here, as RDS documents them (docs/aws-behaviours.md, rows D20-D24):

- PromoteReadReplica of a replica makes it a standalone instance: it no longer reports its
  source, the source no longer lists it, `BackupRetentionPeriod` (and the backup window) are
  taken, and its status goes "modifying" (the first DescribeDBInstances after) and then
  "available". Of an instance that is not a replica: `InvalidDBInstanceState` "DB Instance is
  not a read replica". There is no way back: nothing makes a standalone instance a replica
  again (RDS has no call for it; a new replica is a new instance);
- a replica reports `StatusInfos` [{StatusType "read replication", Status "replicating",
  Normal true}] while its source exists, and Status "error", Normal false, once its source is
  gone (replication stops; the replica stays readable, and promotion is how to recover);
- RemoveFromGlobalCluster (in the secondary's region, the cluster named by its ARN) detaches
  the cluster: it leaves the global database's members, no longer names it, and goes
  "promoting" then "available", a standalone cluster that takes writes. A global database that
  does not exist answers `GlobalClusterNotFoundFault`, a cluster that does not exist
  `DBClusterNotFoundFault`, a cluster not a member `InvalidParameterValue` "... is not found in
  global cluster ...";
- DescribeGlobalClusters answers every region's global databases (they are global), filtered
  by `GlobalClusterIdentifier` (`GlobalClusterNotFoundFault` when none matches).

Statuses move on with the describes that watch them, never with a clock: a test waits for
nothing.
"""

from __future__ import annotations

from typing import Any

from moto.rds.exceptions import DBClusterNotFoundError, DBInstanceNotFoundError, RDSClientError
from moto.rds.models import DBCluster, DBInstance, GlobalCluster, RDSBackend, rds_backends
from moto.rds.responses import RDSResponse

REPLICATION = "read replication"
# How many describes still see the transitional status after a promotion, and which.
_SETTLING = "_relight_settling"


class NotAReplica(RDSClientError):
    def __init__(self) -> None:
        super().__init__("InvalidDBInstanceState", "DB Instance is not a read replica")


class GlobalClusterNotFound(RDSClientError):
    def __init__(self, identifier: str) -> None:
        super().__init__(
            "GlobalClusterNotFoundFault", f"Global cluster {identifier} not found"
        )  # the text is the stand-in's own: AWS documents only the code


class NotAMember(RDSClientError):
    def __init__(self, cluster_arn: str, identifier: str) -> None:
        # AWS's code; of its text only "is not found in global cluster" is known (D23)
        super().__init__(
            "InvalidParameterValue",
            f"The cluster {cluster_arn} is not found in global cluster {identifier}",
        )


def _account_backends(backend: RDSBackend) -> list[RDSBackend]:
    regions = rds_backends[backend.account_id]
    return [regions[name] for name in list(regions.keys())]


def _source(backend: RDSBackend, database: DBInstance) -> DBInstance | None:
    identifier = database.source_db_instance_identifier
    if not identifier:
        return None
    try:
        return backend.find_db_from_id(identifier)
    except DBInstanceNotFoundError:
        return None


def _settle(model: Any, transitional: str) -> None:
    model.status = transitional
    setattr(model, _SETTLING, 2)


def _settled(model: Any) -> None:
    """One describe more: the transitional status stays for the first, then "available"."""
    left = getattr(model, _SETTLING, 0)
    if left:
        if left == 1:
            model.status = "available"
        setattr(model, _SETTLING, left - 1)


def promote_read_replica(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
    identifier = str(db_kwargs["db_instance_identifier"]).lower()
    database = self.databases.get(identifier)
    if database is None:
        raise DBInstanceNotFoundError(identifier)
    if not database.is_replica:
        raise NotAReplica()
    source = _source(self, database)
    if source is not None:
        for name in (database.db_instance_arn, database.db_instance_identifier):
            if name in source.replicas:
                source.replicas.remove(name)
    database.is_replica = False
    database.source_db_instance_identifier = None
    if db_kwargs.get("backup_retention_period") is not None:
        database.backup_retention_period = int(db_kwargs["backup_retention_period"])
    if db_kwargs.get("preferred_backup_window"):
        database.preferred_backup_window = db_kwargs["preferred_backup_window"]
    _settle(database, "modifying")
    return database


def status_infos(self: DBInstance) -> list[dict[str, Any]] | None:
    """A replica's `StatusInfos`: replicating while its source exists, error once it is gone."""
    if not self.is_replica:
        return None
    if _source(self.backend, self) is not None:
        return [{"StatusType": REPLICATION, "Normal": True, "Status": "replicating"}]
    return [
        {
            "StatusType": REPLICATION,
            "Normal": False,
            "Status": "error",
            "Message": "Replication has stopped: the source DB instance cannot be reached.",
        }
    ]


def _global_clusters(backend: RDSBackend) -> list[GlobalCluster]:
    found: dict[str, GlobalCluster] = {}
    for regional in _account_backends(backend):
        for cluster in regional.global_clusters.values():
            found.setdefault(cluster.global_cluster_arn, cluster)
    return list(found.values())


def _find_global(backend: RDSBackend, identifier: str) -> GlobalCluster:
    wanted = identifier.lower()
    for cluster in _global_clusters(backend):
        if wanted in (cluster.global_cluster_identifier, cluster.global_cluster_arn.lower()):
            return cluster
    raise GlobalClusterNotFound(identifier)


def _find_cluster(backend: RDSBackend, identifier: str) -> DBCluster:
    """A cluster named by its ARN (in any region) or by its identifier (in the backend's)."""
    if not identifier.startswith("arn:"):
        found = backend.clusters.get(identifier)
        if found is None:
            raise DBClusterNotFoundError(identifier)
        return found
    for regional in _account_backends(backend):
        for cluster in regional.clusters.values():
            if cluster.db_cluster_arn == identifier:
                return cluster
    raise DBClusterNotFoundError(identifier)


def remove_from_global_cluster(
    self: RDSBackend, global_cluster_identifier: str, db_cluster_identifier: str
) -> GlobalCluster:
    global_cluster = _find_global(self, global_cluster_identifier)
    cluster = _find_cluster(self, db_cluster_identifier)
    if cluster not in global_cluster.members:
        raise NotAMember(cluster.db_cluster_arn, global_cluster_identifier)
    global_cluster.members.remove(cluster)
    cluster.global_cluster_identifier = None
    cluster.is_writer = True  # standalone: its own writer
    _settle(cluster, "promoting")
    return global_cluster


def describe_global_clusters(self: RDSResponse) -> Any:
    from moto.core.responses import ActionResult

    wanted = self.params.get("GlobalClusterIdentifier")
    backend = self.backend
    clusters = [_find_global(backend, wanted)] if wanted else _global_clusters(backend)
    return ActionResult({"GlobalClusters": clusters})


def install() -> None:
    """Play the behaviours above (written against moto 5.2.6)."""
    if getattr(RDSBackend, "_relight_replicas", False):
        return
    describe_instances = RDSBackend.describe_db_instances
    describe_clusters = RDSBackend.describe_db_clusters

    def describe_db_instances(self: RDSBackend, *args: Any, **kwargs: Any) -> list[DBInstance]:
        found = describe_instances(self, *args, **kwargs)
        for database in found:
            _settled(database)
        return found

    def describe_db_clusters(self: RDSBackend, *args: Any, **kwargs: Any) -> list[DBCluster]:
        found = describe_clusters(self, *args, **kwargs)
        for cluster in found:
            _settled(cluster)
        return found

    RDSBackend.describe_db_instances = describe_db_instances  # type: ignore[method-assign]
    RDSBackend.describe_db_clusters = describe_db_clusters  # type: ignore[method-assign]
    RDSBackend.promote_read_replica = promote_read_replica  # type: ignore[method-assign]
    RDSBackend.remove_from_global_cluster = remove_from_global_cluster  # type: ignore[method-assign]
    DBInstance.status_infos = property(status_infos)  # type: ignore[attr-defined]
    RDSResponse.describe_global_clusters = describe_global_clusters  # type: ignore[method-assign]
    RDSBackend._relight_replicas = True  # type: ignore[attr-defined]
