"""`relight estate drill`: every environment's drill, in the estate's order, and one report.

Each environment is drilled as `relight drill` drills it (commands/drill.py): its stacks
rebuilt under its own namespace `drill-<run id>` in its own account, verified, torn down
(always, also after a failure), its own report written to `reports/<env>/<run id>/`. The
runner (run.py) starts each environment's drill as soon as its predecessors are verified,
under the estate's shared API budgets; a drill that never verified stops the environments
after it, which never start and so build nothing that would need tearing down.

What counts for the order is verification: an environment whose drill verified but missed
an objective, or whose teardown left something behind, lets its dependents go on (what they
rehearse is there), and fails the estate drill all the same (its line and the report say why).

The estate report (report.py) is written whatever happened, like a single drill's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relight.commands.connection import Connection, new_run_id
from relight.commands.drill import drill as drill_env
from relight.dr.report import human_duration
from relight.estate.report import EnvDrill, build_estate_report, write_estate_report
from relight.estate.run import Connect, EstateInterrupted, EstateRun, Work, run_estate
from relight.model.estate import LoadedEstate
from relight.steps.verify import DEADLINE_SECONDS

if TYPE_CHECKING:
    from relight.aws.budget import Budgets

OUTAGE_HOME = "home"  # --outage home: each environment's own home region is the one lost

DrillEnv = Callable[..., tuple[dict[str, Any], list[Path]]]


@dataclass(frozen=True)
class DrillSettings:
    """What every environment's drill is run with (the CLI's options)."""

    drill_id: str = field(default_factory=new_run_id)
    reports_dir: Path = Path("reports")
    strategy: str | None = None  # None: each environment's own
    outage: str | None = None  # a region, or "home" (each environment's home region)
    accept_stale: bool = False
    enforce_objectives: bool = True
    stack_timeout: float | None = None
    verify_deadline: float = DEADLINE_SECONDS


@dataclass(frozen=True)
class EstateDrill:
    run: EstateRun
    report: dict[str, Any]  # schema relight.estate-report/1 (docs/report.md)
    paths: list[Path]  # the estate report's JSON, HTML and the estate's index

    @property
    def ok(self) -> bool:
        return bool(self.report["ok"])


class EstateDrillInterrupted(EstateInterrupted):
    """Ctrl-C during an estate drill, once the running drills tore down what they built and the
    estate report was written (`paths`)."""

    def __init__(self, run: EstateRun, paths: list[Path]) -> None:
        super().__init__(run)
        self.paths = paths


def outage_for(setting: str | None, home_region: str) -> str | None:
    """The region an environment's drill rehearses as lost: `home` is its own home region."""
    return home_region if setting == OUTAGE_HOME else setting


def drill_work(
    estate: LoadedEstate,
    settings: DrillSettings,
    *,
    drill: DrillEnv = drill_env,
    on_progress: Callable[[str], None] = lambda _: None,
) -> Work:
    """The runner's `Work` for a drill: the environment's drill on its connection; ok when the
    drill verified what it built (its dependents may then start)."""

    def work(name: str, conn: Connection) -> tuple[bool, str, Any]:
        loaded = estate.envs[name]
        report, paths = drill(
            loaded,
            conn,
            drill_id=settings.drill_id,
            reports_dir=settings.reports_dir,
            strategy=settings.strategy,
            outage=outage_for(settings.outage, loaded.env.home_region),
            accept_stale=settings.accept_stale,
            enforce_objectives=settings.enforce_objectives,
            stack_timeout=settings.stack_timeout,
            verify_deadline=settings.verify_deadline,
            on_progress=lambda line: on_progress(f"[{name}] {line}"),
        )
        verified = report.get("rto_seconds") is not None
        return verified, drill_line(report), EnvDrill(report, paths)

    return work


def drill_line(report: dict[str, Any]) -> str:
    """One environment's drill in one line: verified or where it stopped, RTO and RPO against
    their objectives, and its teardown."""
    objectives = report.get("objectives") or {}
    if report.get("rto_seconds") is None:
        problems = report.get("problems") or []
        said = f"not verified: {problems[0]}" if problems else "not verified"
    else:
        said = "verified" if report.get("ok") else "verified, drill FAILED"
    parts = [
        said,
        _measure("RTO", report.get("rto_seconds"), objectives.get("rto_seconds"),
                 objectives.get("rto_met")),
        _measure("RPO", report.get("rpo_seconds"), objectives.get("rpo_seconds"),
                 objectives.get("rpo_met")),
    ]  # fmt: skip
    teardown = report.get("teardown") or {}
    left = teardown.get("left_behind") or []
    parts.append(
        f"teardown {teardown.get('status', 'not run')}"
        + (f", left behind: {', '.join(left)}" if left else "")
    )
    return "; ".join(parts)


def _measure(name: str, seconds: object, target: object, met: object) -> str:
    verdict = "met" if met is True else "MISSED" if met is False else "not measured"
    shown = human_duration(seconds if isinstance(seconds, int | float) else None)
    objective = human_duration(target if isinstance(target, int | float) else None)
    return f"{name} {shown} (objective {objective}, {verdict})"


def drill_estate(
    estate: LoadedEstate,
    region: str,
    settings: DrillSettings,
    *,
    only: Collection[str] | None = None,
    budgets: Budgets | None = None,
    connect: Connect | None = None,
    drill: DrillEnv = drill_env,
    on_progress: Callable[[str], None] = lambda _: None,
    max_parallel: int | None = None,
    ref: str | None = None,
) -> EstateDrill:
    """Drill every environment of the estate into `region` (or just `only`: their predecessors
    verified by this drill id's earlier run, or named too), then write the estate report beside
    the environments' own: reports/estates/<estate>/<run id>.html. `ref`: what --estate was
    given, for the continue command. On Ctrl-C the report is
    written all the same (each environment's drill tore down what it built), then
    `EstateDrillInterrupted` goes on up."""
    try:
        run = run_estate(
            estate,
            region,
            drill_work(estate, settings, drill=drill, on_progress=on_progress),
            command="drill",
            only=only,
            budgets=budgets,
            connect=connect,
            on_progress=on_progress,
            max_parallel=max_parallel,
            verified=lambda name: verified_before(estate, name, settings),
            options=continue_options(settings),
            ref=ref,
        )
    except EstateInterrupted as interrupted:
        _, paths = _report(estate, interrupted.run, settings)
        raise EstateDrillInterrupted(interrupted.run, paths) from None
    report, paths = _report(estate, run, settings)
    return EstateDrill(run, report, paths)


def _report(
    estate: LoadedEstate, run: EstateRun, settings: DrillSettings
) -> tuple[dict[str, Any], list[Path]]:
    report = build_estate_report(
        estate,
        run,
        run_id=settings.drill_id,
        outage=settings.outage,
        enforce_objectives=settings.enforce_objectives,
    )
    return report, write_estate_report(report, settings.reports_dir)


def continue_options(settings: DrillSettings) -> list[str]:
    """What the continue command repeats: the same drill id (its earlier verifications count),
    the reports directory, the rung and the outage."""
    words = ["--drill-id", settings.drill_id]
    if settings.reports_dir != Path("reports"):
        words += ["--reports", str(settings.reports_dir)]
    if settings.strategy:
        words += ["--strategy", settings.strategy]
    if settings.outage:
        words += ["--outage", settings.outage]
    if not settings.enforce_objectives:
        words.append("--objectives-as-warnings")
    return words


def verified_before(estate: LoadedEstate, name: str, settings: DrillSettings) -> bool:
    """Whether this drill id's earlier run verified `name` (its own report says so): what lets
    `--only` drill its dependents without it."""
    loaded = estate.envs[name]
    found = settings.reports_dir / loaded.env.name / settings.drill_id / "report.json"
    try:
        report = json.loads(found.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(report, dict) and report.get("rto_seconds") is not None
