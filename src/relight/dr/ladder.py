"""The DR ladder side by side: each rung's forecast RTO and what it costs to keep standing.

AWS's whitepaper "Disaster Recovery of Workloads on AWS" orders the strategies by how much
stands ready in the recovery region: backup_restore (only the `stands: global` stacks),
pilot_light (also network, security groups, load balancer, DNS pair), warm_standby (also
compute, scaled down). Each rung buys RTO with standing cost. For each one this module
renders the environment as that rung's prepare and failover would (render.build_plan,
phases "prepare" and "failover"), forecasts the failover's RTO from the stacks it still
builds (forecast.py: the critical path; a standing stack the failover scales up counts as
built, an upper bound) and prices what the prepare leaves running (costs.py, overridable
by `prices:` in the environment file). Rendering only: no AWS call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relight.dr.costs import CostLine, monthly_total, stack_costs
from relight.dr.forecast import Forecast, forecast
from relight.dr.prepared import literal_parameters
from relight.model.config import LoadedEnvironment
from relight.model.environment import STRATEGIES
from relight.steps.render import build_plan


@dataclass(frozen=True)
class Rung:
    strategy: str
    forecast: Forecast
    standing: tuple[str, ...]  # the stacks prepared ahead of time at this rung
    built: tuple[str, ...]  # the stacks its failover deploys
    lines: list[CostLine] = field(default_factory=list)

    @property
    def usd_month(self) -> float:
        return monthly_total(self.lines)

    @property
    def unpriced(self) -> list[CostLine]:
        return [line for line in self.lines if line.unpriced]

    def as_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "rto_seconds": round(self.forecast.seconds),
            "critical_path": self.forecast.critical_path,
            "usd_month": round(self.usd_month, 2),
            "standing": list(self.standing),
            "built_at_failover": list(self.built),
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


def ladder(
    loaded: LoadedEnvironment,
    region: str,
    history: Mapping[str, list[float]] | None = None,
    drills: int = 0,
) -> list[Rung]:
    """Every rung of the ladder for a failover of the environment into `region`, on AWS."""
    rungs = []
    for strategy in STRATEGIES:
        failing_over = build_plan(loaded, region, strategy=strategy)
        preparing = build_plan(loaded, region, strategy=strategy, phase="prepare")
        lines = [
            line
            for key, sp in preparing.stacks.items()
            for line in stack_costs(
                key,
                json.loads(sp.body),
                loaded.env.prices,
                parameters=literal_parameters(sp.parameters),
            )
        ]
        rungs.append(
            Rung(
                strategy=strategy,
                forecast=forecast(failing_over, history, drills),
                standing=tuple(preparing.stacks),
                built=tuple(failing_over.stacks),
                lines=lines,
            )
        )
    return rungs
