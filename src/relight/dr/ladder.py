"""The DR ladder with two axes: each rung and data mode's RPO, forecast RTO and standing cost.

AWS's whitepaper "Disaster Recovery of Workloads on AWS" orders the strategies by how much
stands ready in the recovery region: backup_restore (only the `stands: global` stacks),
pilot_light (also network, security groups, load balancer, DNS pair), warm_standby (also
compute, scaled down). The second axis is the data of the database stacks: `snapshot`
(restored from the newest copy at failover) or `replica` (a cross-region read replica, or an
Aurora global database's secondary cluster, standing from `relight prepare` on and promoted
at failover). An environment without a database stack has the snapshot rows only.

For each row this module renders the environment as that row's prepare and failover would
(render.build_plan, phases "prepare" and "failover", with the row's `data`), forecasts the
failover's RTO from the stacks it still builds and the replicas it promotes (forecast.py:
the critical path; a standing stack the failover scales up counts as built, an upper
bound), prices what the prepare leaves running (costs.py, overridable by `prices:` in the
environment file) and gives the RPO (rpo.py). A replica stands only where what the database
reads stands: below that rung the row is "needs <rung>", neither forecast nor priced.
Rendering only: no AWS call; what plan read in the region comes in as `observed`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from relight.dr.costs import CostLine, monthly_total, stack_costs
from relight.dr.forecast import Forecast, forecast
from relight.dr.prepared import literal_parameters
from relight.dr.rpo import (
    Observed,
    Rpo,
    artifacts_of,
    as_mapping,
    other_copies,
    replica_rpo,
    snapshot_rpo,
    storage_of,
)
from relight.model.config import LoadedEnvironment
from relight.model.data_modes import data_mode, replica_keys, rung_for
from relight.model.environment import DATA_MODES, STRATEGIES
from relight.steps.render import build_plan


@dataclass(frozen=True)
class Rung:
    """One row of the ladder: a strategy with a data mode."""

    strategy: str
    data: str  # "snapshot" or "replica"
    forecast: Forecast | None  # None: the row cannot stand (`needs`)
    standing: tuple[str, ...] = ()  # the stacks prepared ahead of time at this rung
    built: tuple[str, ...] = ()  # the stacks its failover deploys
    lines: list[CostLine] = field(default_factory=list)
    rpo: Rpo | None = None
    needs: str | None = None  # the lowest rung where the replica can stand, when not this one
    promoted: tuple[str, ...] = ()  # the replicas its failover promotes

    @property
    def usd_month(self) -> float:
        return monthly_total(self.lines)

    @property
    def unpriced(self) -> list[CostLine]:
        return [line for line in self.lines if line.unpriced]

    def as_dict(self) -> dict[str, Any]:
        if self.forecast is None:
            return {
                "strategy": self.strategy,
                "data": self.data,
                "needs": self.needs,
                "rto_seconds": None,
                "rpo": None,
                "usd_month": None,
            }
        return {
            "strategy": self.strategy,
            "data": self.data,
            "needs": None,
            "rto_seconds": round(self.forecast.seconds),
            "critical_path": self.forecast.critical_path,
            "promotions": {k: round(v) for k, v in self.forecast.promotions.items()},
            "from_drills": self.forecast.from_drills,
            "rpo": self.rpo.as_dict() if self.rpo else None,
            "usd_month": round(self.usd_month, 2),
            "standing": list(self.standing),
            "built_at_failover": list(self.built),
            "promoted_at_failover": list(self.promoted),
            "costs": [
                {
                    "stack": c.stack,
                    "resource": c.resource,
                    "type": c.type,
                    "what": c.what,
                    "usd_month": round(c.usd_month, 2),
                    "unpriced": c.unpriced,
                }
                for c in self.lines
                if c.usd_month or c.unpriced
            ],
        }


@dataclass(frozen=True)
class Ladder:
    """Every row, and what the rows share: the copies other stacks restore from."""

    rungs: list[Rung]
    databases: tuple[str, ...]  # the database stacks (the data axis is theirs)
    other_copies: dict[str, float]  # artifact → age of its newest copy (when observed)

    def __iter__(self) -> Iterator[Rung]:
        return iter(self.rungs)

    def __len__(self) -> int:
        return len(self.rungs)

    def row(self, strategy: str, data: str = "snapshot") -> Rung:
        return next(r for r in self.rungs if r.strategy == strategy and r.data == data)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.rungs]

    def notes(self) -> dict[str, Any]:
        return {"databases": list(self.databases), "other_copies": as_mapping(self.other_copies)}


def databases(loaded: LoadedEnvironment) -> list[str]:
    """The database stacks: those with a data mode (blueprint `database`)."""
    return [k for k, spec in loaded.env.stacks.items() if data_mode(spec, None) is not None]


def _needs(loaded: LoadedEnvironment, keys: list[str], strategy: str) -> str | None:
    """What a replica row at `strategy` lacks (model.data_modes.rung_for): the rung at which
    every stack the databases read stands, when above this one; None when it stands here."""
    wanted = [rung_for(loaded.env, k, False) for k in keys]
    never = sorted({n for _, ns in wanted for n in ns})
    if never:  # what it reads is built at failover at every rung: no rung holds the replica
        return f"a stands: on {', '.join(never)}"
    highest = max(STRATEGIES.index(r) for r, _ in wanted if r is not None)
    return STRATEGIES[highest] if highest > STRATEGIES.index(strategy) else None


def ladder(
    loaded: LoadedEnvironment,
    region: str,
    history: Mapping[str, list[float]] | None = None,
    drills: int = 0,
    observed: Observed | None = None,
) -> Ladder:
    """Every row of the ladder for a failover of the environment into `region`, on AWS."""
    keys = databases(loaded)
    modes = DATA_MODES if keys else ("snapshot",)
    specs = loaded.env.stacks
    database_artifacts = artifacts_of(specs[k] for k in keys)
    every = artifacts_of(specs.values())
    objective = loaded.env.objectives.rpo
    snapshot = snapshot_rpo(database_artifacts if keys else every, objective, observed)
    rows = []
    for strategy in STRATEGIES:
        for data in modes:
            needs = _needs(loaded, keys, strategy) if data == "replica" else None
            if needs is not None:
                rows.append(Rung(strategy=strategy, data=data, forecast=None, needs=needs))
                continue
            rows.append(_row(loaded, region, strategy, data, history, drills, observed, snapshot))
    return Ladder(
        rungs=rows,
        databases=tuple(keys),
        other_copies=other_copies(every, database_artifacts, observed) if keys else {},
    )


def _row(
    loaded: LoadedEnvironment,
    region: str,
    strategy: str,
    data: str,
    history: Mapping[str, list[float]] | None,
    drills: int,
    observed: Observed | None,
    snapshot: Rpo,
) -> Rung:
    failing_over = build_plan(loaded, region, strategy=strategy, data=data)
    preparing = build_plan(loaded, region, strategy=strategy, phase="prepare", data=data)
    promoted = replica_keys(failing_over)
    replicas = set(replica_keys(preparing))
    lines = []
    for key, sp in preparing.stacks.items():
        size, kind = (
            storage_of(loaded.env.stacks[key], observed) if key in replicas else (None, None)
        )
        lines += stack_costs(
            key,
            json.loads(sp.body),
            loaded.env.prices,
            parameters=literal_parameters(sp.parameters),
            source_storage_gb=size,
            source_storage_type=kind,
        )
    return Rung(
        strategy=strategy,
        data=data,
        forecast=forecast(failing_over, history, drills),
        standing=tuple(preparing.stacks),
        built=tuple(failing_over.stacks),
        lines=lines,
        rpo=replica_rpo(promoted, observed) if promoted else snapshot,
        promoted=tuple(promoted),
    )
