"""The stand-in's replicas report how far they lag: CloudWatch metrics and StatusInfos.

On AWS an RDS read replica publishes `ReplicaLag` (AWS/RDS, DBInstanceIdentifier, seconds; -1
when "replication is currently not active") every minute, and DescribeDBInstances reports its
replication in `StatusInfos` (StatusType "read replication", Status "replicating", "error",
"stopped", "terminated"...); the secondary cluster of an Aurora global database publishes
`AuroraGlobalDBReplicationLag` (DBClusterIdentifier, milliseconds). docs/aws-behaviours.md
D31-D33. moto 5.2.6 publishes no RDS metric and has no StatusInfos, so readiness and the
ladder had nothing to read locally. Here:

- every read replica in a region (moto's `is_replica` with a source) reports a small
  ReplicaLag (`DEFAULT_LAG` seconds) for each minute of the last `HISTORY` minutes, and each
  secondary member of a global cluster its AuroraGlobalDBReplicationLag, through moto's own
  `CloudWatchMetricProvider` hook, so GetMetricStatistics and GetMetricData both see them;
- a replica fault (faults.py, `replicas:`) makes one lag by N seconds, or stop replicating:
  ReplicaLag -1 and StatusInfos Status "error", Normal false, with the fault's message (a
  secondary cluster that stopped publishes nothing);
- a promoted instance (no longer a replica) reports neither.

A replica's StatusInfos (the fault's "error" among them) is rds/promotion.py's; that the
cluster a global database is made from is its writer (so it publishes no lag) is
rds/globals.py's.

Written against moto 5.2.6.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from moto.core.common_models import CloudWatchMetricProvider

DEFAULT_LAG = 2.0  # seconds: a healthy cross-region replica on the stand-in
HISTORY = 60  # minutes of datapoints a replica has to read


def _rds(account_id: str, region: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[account_id][region]


def _fault(region: str, identifier: str) -> Any:
    from relight.standin.faults import REGISTRY

    return REGISTRY.replica_fault(region, identifier)


def is_replica(instance: Any) -> bool:
    """A DB instance that replicates from a source (moto: is_replica with a source id)."""
    return bool(getattr(instance, "is_replica", False)) and bool(
        getattr(instance, "source_db_instance_identifier", None)
    )


def _minutes(now: datetime) -> list[datetime]:
    start = now.replace(second=0, microsecond=0)
    return [start - timedelta(minutes=k) for k in range(HISTORY, 0, -1)] + [start]


class ReplicaLagMetrics(CloudWatchMetricProvider):
    """moto asks every provider for its metrics when CloudWatch is read (aws_metric_data)."""

    @staticmethod
    def get_cloudwatch_metrics(account_id: str, region: str) -> list[Any]:
        from moto.cloudwatch.models import MetricDatum
        from moto.core.utils import utcnow

        rds = _rds(account_id, region)
        now = utcnow()
        data: list[Any] = []
        for name, instance in list(rds.databases.items()):
            if not is_replica(instance):
                continue
            fault = _fault(region, name)
            value = (
                -1.0
                if fault and fault.mode == "stopped"
                else (fault.lag if fault and fault.lag is not None else DEFAULT_LAG)
            )
            dims = [{"Name": "DBInstanceIdentifier", "Value": name}]
            data += [
                MetricDatum("AWS/RDS", "ReplicaLag", value, dims, at, unit="Seconds")
                for at in _minutes(now)
            ]
        for cluster in _secondaries_everywhere(account_id, region):
            name = cluster.db_cluster_identifier
            fault = _fault(region, name)
            if fault and fault.mode == "stopped":
                continue
            seconds = fault.lag if fault and fault.lag is not None else DEFAULT_LAG
            dims = [{"Name": "DBClusterIdentifier", "Value": name}]
            data += [
                MetricDatum(
                    "AWS/RDS",
                    "AuroraGlobalDBReplicationLag",
                    seconds * 1000,
                    dims,
                    at,
                    unit="Milliseconds",
                )
                for at in _minutes(now)
            ]
        return data


def _secondaries_everywhere(account_id: str, region: str) -> list[Any]:
    """Secondary members in `region` of any global cluster this account holds."""
    from moto.rds.models import rds_backends

    seen: dict[str, Any] = {}
    for backend in rds_backends[account_id].values():
        for glob in getattr(backend, "global_clusters", {}).values():
            for member in glob.members:
                if not member.is_writer and member.region == region:
                    seen[member.db_cluster_arn] = member
    return list(seen.values())


def install() -> None:
    """Nothing to patch: `ReplicaLagMetrics` registers itself with moto by being defined (a
    replica's StatusInfos, its fault's error included, is rds/promotion.py's; that the
    cluster a global database is made from is its writer, rds/globals.py's)."""
