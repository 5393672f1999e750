"""How far a replica lags behind its source, read from CloudWatch in the recovery region.

An RDS read replica publishes `ReplicaLag` (namespace `AWS/RDS`, dimension
`DBInstanceIdentifier`, in seconds; -1 when replication is not active); the secondary cluster
of an Aurora global database publishes `AuroraGlobalDBReplicationLag` (dimension
`DBClusterIdentifier`, in milliseconds). docs/aws-behaviours.md D31, D32. The ladder (RPO of a
replica rung) and readiness (the lag under the RPO objective) both read it here.

CloudWatch is a regional service: the read is a call in the recovery region, never in the
home region (static stability).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from relight.errors import AwsError

NAMESPACE = "AWS/RDS"
# kind → (metric, dimension, seconds per unit the metric is published in)
METRICS: Mapping[str, tuple[str, str, float]] = {
    "instance": ("ReplicaLag", "DBInstanceIdentifier", 1.0),
    "cluster": ("AuroraGlobalDBReplicationLag", "DBClusterIdentifier", 0.001),
}
UNITS = {"Seconds": 1.0, "Milliseconds": 0.001, "Microseconds": 0.000001}
WINDOW = timedelta(minutes=15)  # "recent": the window the maximum is taken over
PERIOD = 60  # seconds: RDS publishes every minute


@dataclass(frozen=True)
class Lag:
    """What CloudWatch says of one replica's lag over the window before `at`."""

    kind: str  # "instance" | "cluster"
    identifier: str
    metric: str
    at: datetime
    seconds: float | None  # the window's largest lag, in seconds; None: no datapoint
    newest: float | None  # the newest period's largest value, in seconds (-1: not active)
    points: int  # datapoints read

    @property
    def inactive(self) -> bool:
        """ReplicaLag's newest value is -1: "replication is currently not active"."""
        return self.newest is not None and self.newest < 0

    def describe(self) -> str:
        if self.seconds is None and not self.inactive:
            return f"no {self.metric} datapoint for {self.identifier} in the last {_minutes()}"
        if self.inactive:
            return f"{self.metric} of {self.identifier} is -1: replication is not active"
        most = f"{self.seconds:g} s"
        return f"{self.metric} of {self.identifier}: {most} at most in the last {_minutes()}"


def _minutes() -> str:
    return f"{int(WINDOW.total_seconds() // 60)} min"


def replica_lag(
    cloudwatch_client: Any,
    kind: str,
    identifier: str,
    now: datetime,
    *,
    window: timedelta = WINDOW,
) -> Lag:
    """The replica's lag over `window` before `now`: the largest one-minute Maximum (seconds),
    and the newest one (ReplicaLag's -1, replication not active, kept as it is).
    An AWS failure is an `AwsError` naming the metric and the region."""
    from botocore.exceptions import BotoCoreError, ClientError

    metric, dimension, scale = METRICS[kind]
    try:
        answer = cloudwatch_client.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=metric,
            Dimensions=[{"Name": dimension, "Value": identifier}],
            StartTime=now - window,
            EndTime=now,
            Period=PERIOD,
            Statistics=["Maximum"],
        )
    except (ClientError, BotoCoreError) as exc:
        region = getattr(getattr(cloudwatch_client, "meta", None), "region_name", "?")
        raise AwsError(
            f"CloudWatch in {region} could not give {metric} of {identifier}: {exc}",
            hint="the operator's policy needs cloudwatch:GetMetricStatistics (relight policy)",
        ) from exc
    points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
    values = [_seconds(p, scale) for p in points]
    lags = [v for v in values if v >= 0]
    return Lag(
        kind=kind,
        identifier=identifier,
        metric=metric,
        at=now,
        seconds=max(lags) if lags else None,
        newest=values[-1] if values else None,
        points=len(points),
    )


def _seconds(point: Mapping[str, Any], scale: float) -> float:
    value = float(point["Maximum"])
    if value < 0:
        return -1.0  # ReplicaLag's "not active", whatever the unit
    unit = point.get("Unit")
    return value * UNITS.get(unit, scale) if unit else value * scale


def replica_lag_seconds(
    cloudwatch_client: Any, kind: str, identifier: str, now: datetime
) -> float | None:
    """The replica's largest lag in seconds over the recent window (`WINDOW`) before `now`:
    ReplicaLag for an instance (seconds), AuroraGlobalDBReplicationLag for a cluster
    (milliseconds, turned into seconds); None when there is no datapoint (or only -1s:
    replication not active; `replica_lag` tells those apart)."""
    return replica_lag(cloudwatch_client, kind, identifier, now).seconds
