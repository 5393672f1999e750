"""The RPO of a cell of the DR ladder: how much data a failover would lose, per data mode.

- snapshot: the database restores from its newest copy in the recovery region, so the writes
  since that copy's data was taken are lost: the RPO is that copy's age, as discovery measures
  it (the source's time, not the copy's). Without a discovered copy (rendering only), the
  ladder says the RPO objective bounds it (a failover refuses an older copy), a forecast.
- replica: the replica in the recovery region is behind its source by its replication lag:
  ReplicaLag (an RDS read replica) or AuroraGlobalDBReplicationLag (an Aurora secondary
  cluster), read from CloudWatch in the recovery region
  (`relight.steps.replica.lag.replica_lag_seconds`). Without a replica to measure, or a
  datapoint, the ladder says "seconds (typical; ...)", a forecast (docs/aws-behaviours.md
  D43, D44).

The figure is the database's: what the data mode changes. Other copies (AMIs, data volumes)
restore from snapshots at every row; their age is given beside the ladder (`other_copies`).
What the recovery region holds is read by the plan command (`Observed`); this module only
turns it into cells, with no AWS call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from relight.model.environment import ArtifactRef, StackSpec
from relight.model.times import human_age


@dataclass(frozen=True)
class ReplicaReading:
    """What the recovery region holds for one replica-mode database stack."""

    key: str
    exists: bool
    replicating: bool = False
    lag_seconds: float | None = None  # None: no datapoint (or not read)
    detail: str = ""  # its status, or why it was not read


@dataclass(frozen=True)
class Observed:
    """What plan read in the recovery region for the ladder (nothing: a forecast throughout)."""

    copy_ages: Mapping[str, float] = field(default_factory=dict)  # artifact → seconds
    storage_gb: Mapping[str, float] = field(default_factory=dict)  # artifact → allocated GiB
    storage_type: Mapping[str, str] = field(default_factory=dict)  # artifact → e.g. gp3
    replicas: Mapping[str, ReplicaReading] = field(default_factory=dict)  # stack → reading


@dataclass(frozen=True)
class Rpo:
    seconds: float | None  # None: only "seconds" is known (a replica not measured)
    label: str  # what plan prints in the cell
    source: str  # "copy age", "replica lag" or "forecast"
    detail: str = ""  # why, when the cell cannot say it in a few words (printed below)

    @property
    def forecast(self) -> bool:
        return self.source == "forecast"

    def as_dict(self) -> dict[str, Any]:
        seconds = None if self.seconds is None else round(self.seconds, 1)
        found = {"seconds": seconds, "label": self.label, "source": self.source}
        return {**found, "detail": self.detail} if self.detail else found


def artifacts_of(specs: Iterable[StackSpec]) -> list[str]:
    """The artifacts the stacks restore from, in order, each once."""
    found: dict[str, None] = {}
    for spec in specs:
        for value in spec.params.values():
            if isinstance(value, ArtifactRef):
                found[value.artifact] = None
    return list(found)


def snapshot_rpo(artifacts: list[str], objective: float, observed: Observed | None) -> Rpo:
    """The age of the oldest of the newest copies the database restores from."""
    ages = [observed.copy_ages[a] for a in artifacts if a in observed.copy_ages] if observed else []
    if artifacts and len(ages) == len(artifacts):
        oldest = max(ages)
        return Rpo(oldest, f"{human_age(oldest)} (newest copy's age)", "copy age")
    return Rpo(
        objective,
        f"up to {human_age(objective)} (forecast: the RPO objective; no copy discovered)",
        "forecast",
    )


def replica_rpo(keys: list[str], observed: Observed | None) -> Rpo:
    """The largest replication lag of the replicas the failover would promote."""
    readings = [observed.replicas.get(k) if observed else None for k in keys]
    if any(r is None or not r.exists for r in readings):
        return Rpo(None, "seconds (typical; no replica yet)", "forecast")
    stopped = [r for r in readings if r is not None and not r.replicating]
    if stopped:
        why = "; ".join(f"{r.key}: {r.detail or 'not replicating'}" for r in stopped)
        return Rpo(None, "unknown: not replicating", "replica lag", detail=why)
    lags = [r.lag_seconds for r in readings if r is not None]
    known = [lag for lag in lags if lag is not None]
    if len(known) < len(lags) or not known:
        return Rpo(None, "seconds (typical; no lag datapoint yet)", "forecast")
    worst = max(known)
    return Rpo(worst, f"{_lag(worst)} (replica lag, CloudWatch)", "replica lag")


def _lag(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else human_age(seconds)


def other_copies(
    every: list[str], database: list[str], observed: Observed | None
) -> dict[str, float]:
    """The ages of the copies the other stacks restore from at every row (AMIs, volumes)."""
    if observed is None:
        return {}
    return {
        a: observed.copy_ages[a] for a in every if a not in database and a in observed.copy_ages
    }


def storage_of(spec: StackSpec, observed: Observed | None) -> tuple[float | None, str | None]:
    """The allocated storage and storage type of the database a replica-mode stack copies:
    those of the newest copy of the snapshot artifact its `SnapshotIdentifier` names, when
    plan discovered it."""
    ref = spec.params.get("SnapshotIdentifier")
    if observed is None or not isinstance(ref, ArtifactRef):
        return None, None
    return observed.storage_gb.get(ref.artifact), observed.storage_type.get(ref.artifact)


def as_mapping(values: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 1) for k, v in values.items()}
