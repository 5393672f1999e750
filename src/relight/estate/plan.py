"""`relight estate plan`: each environment's plan summary and RTO forecast, the waves, and the
estate's forecast: the critical path through the environments' predecessors (`after:`, or
the wave before), each environment's forecast summed along it, against the estate's RTO
objective. Reads only: no lock is taken, nothing is changed.

An environment's forecast is the one `relight plan` gives it (relight.dr.forecast: its stacks'
critical path on AWS, refined by its past AWS drills in the reports directory), so the two
commands never disagree. It needs no AWS call: an environment whose plan cannot be read
(a missing copy, its role refused) still has its forecast, and its row says what blocks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relight.errors import RelightError
from relight.estate.reads import Connect, read_each

if TYPE_CHECKING:
    from relight.commands.connection import Connection
    from relight.model.config import LoadedEnvironment
    from relight.model.estate import LoadedEstate


@dataclass
class EnvPlan:
    """One environment's row of the estate plan."""

    name: str
    wave: int
    account: str
    strategy: str = ""
    predecessors: list[str] = field(default_factory=list)
    actions: dict[str, str] = field(default_factory=dict)  # stack key → create, update, ...
    prepared: list[str] = field(default_factory=list)  # stacks read, never changed
    restores: dict[str, dict[str, Any]] = field(default_factory=dict)  # artifact → id, age
    missing: dict[str, str] = field(default_factory=dict)  # artifact → why not found
    forecast_seconds: float | None = None
    forecast_path: str = ""
    from_drills: int = 0  # how many of its stacks past AWS drills timed
    rto_seconds: int = 0
    notes: list[str] = field(default_factory=list)
    error: str | None = None  # why its plan could not be read (the failover would refuse)
    exit_code: int = 0

    def summary(self) -> str:
        """Its stacks for people: `3 create, 1 prepared`, or what blocks it."""
        if self.error is not None:
            return "cannot plan: " + first_problem(self.error)
        counts: dict[str, int] = {}
        for action in self.actions.values():
            counts[action] = counts.get(action, 0) + 1
        said = [f"{n} {action}" for action, n in sorted(counts.items())]
        if self.prepared:
            said.append(f"{len(self.prepared)} prepared")
        return ", ".join(said) or "nothing to build"

    def restores_text(self) -> str:
        """What it restores from: `2 copies, oldest 3.0 h (web_data)`."""
        from relight.model.times import human_age

        if not self.restores:
            return "-" if not self.missing else f"{len(self.missing)} missing"
        oldest = max(self.restores, key=lambda k: self.restores[k]["age_seconds"])
        age = human_age(self.restores[oldest]["age_seconds"])
        said = f"{len(self.restores)} copies, oldest {age} ({oldest})"
        return said + (f"; {len(self.missing)} missing" if self.missing else "")


def first_problem(error: str) -> str:
    """An error's first problem for a table cell: a list's first item (`preflight found 2
    problem(s):` says nothing of what), else its first line."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith(":"):
        return lines[1].removeprefix("- ")
    return lines[0] if lines else error


@dataclass
class EstatePlan:
    estate: str
    region: str
    at: datetime
    waves: list[list[str]]
    envs: dict[str, EnvPlan]  # in the estate's order
    objective_seconds: float
    critical_seconds: float
    critical_path: list[str]
    unforecast: list[str] = field(default_factory=list)  # envs without a forecast

    @property
    def within(self) -> bool:
        return not self.unforecast and self.critical_seconds <= self.objective_seconds

    @property
    def blocked(self) -> list[str]:
        return [n for n, e in self.envs.items() if e.error is not None]

    def exit_code(self) -> int:
        """0 when every environment could be planned; else the worst of their errors' codes
        (2: a problem in the input, e.g. preflight's; 1: AWS or a role refused)."""
        return max((e.exit_code for e in self.envs.values()), default=0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "estate": self.estate,
            "region": self.region,
            "at": self.at.isoformat(),
            "waves": self.waves,
            "environments": [asdict(e) for e in self.envs.values()],
            "forecast": {
                "rto_seconds": round(self.critical_seconds),
                "critical_path": self.critical_path,
                "objective_seconds": self.objective_seconds,
                "within": self.within,
                "unforecast": self.unforecast,
            },
        }


def plan_estate(
    estate: LoadedEstate,
    region: str,
    reports: Path,
    *,
    connect: Connect | None = None,
    budgets: Any = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    say: Callable[[str], None] = lambda _: None,
    announce: Callable[[Connection], None] = lambda _: None,
) -> EstatePlan:
    """Every environment's plan into `region`, and the estate's forecast. Changes nothing."""
    at = now()
    forecasts = {name: _forecast(loaded, region, reports) for name, loaded in estate.envs.items()}

    def read(name: str, conn: Connection) -> EnvPlan:
        return _plan_env(estate, name, region, conn, at)

    found = read_each(
        estate,
        region,
        read,
        command="plan",
        connect=connect,
        budgets=budgets,
        say=say,
        announce=announce,
    )
    envs: dict[str, EnvPlan] = {}
    for name, got in found.items():
        row = got.value or EnvPlan(
            name, got.wave, got.account, error=got.error, exit_code=got.exit_code
        )
        row.predecessors = sorted(estate.predecessors(name))
        row.rto_seconds = int(estate.envs[name].env.objectives.rto)
        row.strategy = row.strategy or estate.envs[name].env.strategy
        forecast = forecasts[name]
        if isinstance(forecast, str):
            row.notes.append(f"no forecast: {forecast}")
        else:
            row.forecast_seconds = float(forecast.seconds)
            row.forecast_path = forecast.path_text()
            row.from_drills = len(forecast.from_drills)
        envs[name] = row
    seconds = {n: e.forecast_seconds or 0.0 for n, e in envs.items()}
    total, path = estate.critical_path(seconds)
    return EstatePlan(
        estate=estate.file.name,
        region=region,
        at=at,
        waves=[list(w) for w in estate.waves],
        envs=envs,
        objective_seconds=float(estate.file.objectives.rto),
        critical_seconds=float(total),
        critical_path=list(path),
        unforecast=[n for n, e in envs.items() if e.forecast_seconds is None],
    )


def _forecast(loaded: LoadedEnvironment, region: str, reports: Path) -> Any:
    """The environment's RTO forecast on AWS (relight.dr.forecast), or why there is none."""
    from relight.dr.forecast import drilled_seconds, forecast
    from relight.steps.render import build_plan

    try:
        on_aws = build_plan(loaded, region, stand_in=False)
    except RelightError as exc:
        return str(exc).splitlines()[0]
    history, drills = drilled_seconds(reports, loaded.env.name)
    return forecast(on_aws, history, drills)


def _plan_env(
    estate: LoadedEstate, name: str, region: str, conn: Connection, at: datetime
) -> EnvPlan:
    """What `relight plan` reads of one environment: discovery, preflight, each stack's action."""
    from relight.commands.failover import plan_changes
    from relight.steps.render import build_plan

    loaded = estate.envs[name]
    built = build_plan(loaded, region, stand_in=conn.stand_in is not None, now=at)
    discovery, planned, notes = plan_changes(built, conn, now=lambda: at)
    return EnvPlan(
        name=name,
        wave=estate.wave_of(name),
        account=estate.file.environments[name].account,
        strategy=built.strategy,
        actions={p.key: p.action for p in planned},
        prepared=sorted(built.prepared),
        restores={
            key: {"id": art.id, "age_seconds": art.age(discovery.at).total_seconds()}
            for key, art in discovery.artifacts.items()
        },
        missing=dict(discovery.missing),
        notes=[*built.warnings, *notes],
    )
