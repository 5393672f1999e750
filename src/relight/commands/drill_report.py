"""What a drill measured, phase by phase (`Run`), and the report built from it: schema
relight.report/1 (docs/report.md), with RTO from the disaster to the verified environment and
RPO as each restored artifact's age when its stack started.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from relight.commands.connection import Connection
from relight.dr.report import SCHEMA
from relight.errors import RelightError
from relight.model.config import LoadedEnvironment
from relight.model.plan import Plan
from relight.steps.deploy import Outcome, iso
from relight.steps.discovery import Discovery
from relight.steps.teardown import TeardownResult
from relight.steps.verify import Check

STAND_IN_NOTE = (
    "Timings are the local stand-in's (moto creates a stack in well under a second), "
    "not AWS timings: they prove the run works, not how long recovery takes on AWS."
)


@dataclass
class Phase:
    name: str
    start: datetime
    end: datetime | None = None
    status: str = "ok"  # ok, failed, skipped

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds() if self.end else 0.0


class Stop(Exception):
    """A phase failed: later phases are skipped (teardown still runs)."""


@dataclass
class Run:
    """What one drill measured, phase by phase."""

    loaded: LoadedEnvironment
    conn: Connection
    run_id: str
    namespace: str | None
    now: Callable[[], datetime]
    started: datetime
    phases: list[Phase] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    plan: Plan | None = None
    discovery: Discovery | None = None
    outcome: Outcome | None = None
    checks: list[Check] = field(default_factory=list)
    verified_at: datetime | None = None
    teardown: TeardownResult | None = None
    teardown_status: str = "not run"
    interrupted: bool = False
    strategy: str = "backup_restore"
    data: str | None = None  # the run's --data (a drill renders replicas as snapshot restores)
    # The disaster: when the failover phase began (after the rung's standing stacks were
    # prepared), and the region rehearsed as down (outage.py) then, if any.
    disaster_at: datetime | None = None
    outage: Any = None  # relight.aws.outage.Outage | None
    prepared: Outcome | None = None  # the rung's standing copies, deployed before the disaster
    failback: Any = None  # --with-failback: the rehearsal's FailbackResult (drill_failback.py)
    home_teardown: TeardownResult | None = None  # its copy in the home region, deleted
    deleted: list[str] = field(default_factory=list)  # snapshots and volumes the drill made
    notes: list[str] = field(default_factory=list)  # what preflight noted (a read it skipped)

    @contextmanager
    def phase(self, name: str) -> Iterator[Phase]:
        current = Phase(name, self.now())
        self.phases.append(current)
        try:
            yield current
        except Exception as exc:  # any failure: recorded, later phases skipped, teardown still runs
            current.status = "failed"
            detail = str(exc) if isinstance(exc, RelightError) else f"{type(exc).__name__}: {exc}"
            self.problems.append(f"{name}: {detail}")
            raise Stop from exc
        finally:
            current.end = self.now()
        if current.status == "failed":
            raise Stop

    def skip_rest(self, names: tuple[str, ...]) -> None:
        done = {p.name for p in self.phases}
        for name in names:
            if name not in done:
                at = self.now()
                self.phases.append(Phase(name, at, at, "skipped"))


# the report --------------------------------------------------------------------------------


def _stacks(run: Run) -> list[dict[str, Any]]:
    if run.plan is None:
        return []
    rows = []
    for key, sp in run.plan.stacks.items():
        result = run.outcome.results.get(key) if run.outcome else None
        start = run.outcome.at(result.started) if run.outcome and result else None
        end = run.outcome.at(result.ended) if run.outcome and result else None
        rows.append(
            {
                "stack": key,
                "name": sp.name,
                "action": result.action if result else "skipped",
                "status": result.status if result else "",
                "start": iso(start),
                "end": iso(end),
                "seconds": round(result.seconds, 3) if result else 0.0,
                "depends_on": list(sp.depends_on),
                "reason": result.reason if result else "not started",
            }
        )
    return rows


def _artifacts(run: Run) -> list[dict[str, Any]]:
    """Each restored artifact's age when the first stack using it started."""
    if run.plan is None or run.discovery is None or run.outcome is None:
        return []
    rpo = run.loaded.env.objectives.rpo
    outcome = run.outcome
    results = outcome.results
    rows = []
    for name, artifact in run.discovery.artifacts.items():
        starts = [
            outcome.at(results[key].started)
            for key in run.plan.stacks
            if run.loaded.env.stacks[key].uses_artifact(name)
            and key in results
            and results[key].started is not None
        ]
        restored = min((s for s in starts if s is not None), default=None)
        if restored is None:
            continue  # not restored in this run (its stack was skipped or not built here)
        age = (restored - artifact.data_time).total_seconds()
        rows.append(
            {
                "name": name,
                "kind": artifact.kind,
                "id": artifact.id,
                "source_id": artifact.source_id,
                "source_region": artifact.source_region,
                "data_time": artifact.data_time.isoformat(),
                "restored_at": restored.isoformat(),
                "age_seconds": round(age, 1),
                "rpo_ok": age <= rpo,
            }
        )
    return rows


def _outage(run: Run) -> dict[str, Any] | None:
    """The rehearsed outage: the region, every call refused during the failover phase, and
    the verdict in words."""
    if run.outage is None:
        return None
    refused = [
        {"service": r.service, "action": r.action, "region": r.region, "why": r.why}
        for r in run.outage.refused
    ]
    return {
        "region": run.outage.region,
        "passed": run.outage.passed,
        "refused": refused,
        "notes": run.outage.notes,
        "summary": run.outage.summary(),
    }


def build_report(run: Run, *, enforce_objectives: bool) -> dict[str, Any]:
    """The report dict, schema relight.report/1 (docs/report.md)."""
    objectives = run.loaded.env.objectives
    artifacts = _artifacts(run)
    began = run.disaster_at or run.started
    rto = (run.verified_at - began).total_seconds() if run.verified_at else None
    rpo = max((a["age_seconds"] for a in artifacts), default=None)
    rto_met = rto <= objectives.rto if rto is not None else None
    rpo_met = all(a["rpo_ok"] for a in artifacts) if artifacts else None
    missed = rto_met is False or rpo_met is False
    ok = (
        not run.problems
        and run.verified_at is not None
        and (run.outage is None or run.outage.passed)
        and run.teardown_status in ("ok", "kept", "not run")
        and not (missed and enforce_objectives)
    )
    stand_in = run.conn.stand_in is not None
    return {
        "schema": SCHEMA,
        "run_id": run.run_id,
        "env": run.loaded.env.name,
        "region": run.conn.region,
        "kind": "drill",
        "namespace": run.namespace,
        "stand_in": stand_in,
        "timings_note": STAND_IN_NOTE if stand_in else "",
        "started": run.started.isoformat(),
        "ended": run.now().isoformat(),
        "ok": ok,
        "interrupted": run.interrupted,
        "rto_seconds": round(rto, 3) if rto is not None else None,
        "rpo_seconds": rpo,
        "objectives": {
            "rto_seconds": objectives.rto,
            "rpo_seconds": objectives.rpo,
            "rto_met": rto_met,
            "rpo_met": rpo_met,
            "enforced": enforce_objectives,
        },
        "phases": [
            {
                "name": p.name,
                "start": iso(p.start),
                "end": iso(p.end),
                "seconds": round(p.seconds, 3),
                "status": p.status,
            }
            for p in run.phases
        ],
        "strategy": run.strategy,
        "outage": _outage(run),
        "standing": [
            {"stack": r.key, "name": r.name, "action": r.action, "seconds": round(r.seconds, 3)}
            for r in (run.prepared.results.values() if run.prepared else [])
        ],
        "stacks": _stacks(run),
        "artifacts": artifacts,
        "verification": [c.as_dict() for c in run.checks],
        "teardown": {
            "status": run.teardown_status,
            "stacks": [
                {"name": r.name, "status": r.status, "reason": r.reason}
                for r in (run.teardown.results if run.teardown else [])
            ],
            "left_behind": run.teardown.left_behind if run.teardown else [],
            "home": [
                {"name": r.name, "status": r.status, "reason": r.reason}
                for r in (run.home_teardown.results if run.home_teardown else [])
            ],
            "deleted": list(run.deleted),
        },
        "failback": _failback(run),
        "events": events(run),
        "notes": list(run.notes),
        "problems": list(run.problems),
    }


def _failback(run: Run) -> dict[str, Any] | None:
    """--with-failback: the rehearsed return, its RTO from the snapshot's start to home
    verified, and when each phase finished."""
    result = run.failback
    if result is None:
        return None
    return {
        "ok": result.ok,
        "home": result.plan.home,
        "rto_seconds": round(result.seconds, 3),
        "phases": result.times,
        "failed": result.failed,
        "reason": result.reason,
        "brought_home": [
            f"{t['artifact']}: {t['snapshot']} → {t['copy']}" for t in result.taken if t.get("copy")
        ],
    }


def events(run: Run) -> list[dict[str, str]]:
    """The drill's lifecycle, in order: what happened to the environment and when."""
    found = [("started", run.started)]
    found += [(f"{p.name} {p.status}", p.end) for p in run.phases if p.end is not None]
    if run.disaster_at:
        found.append(("disaster (the failover begins)", run.disaster_at))
    if run.verified_at:
        found.append((f"{run.conn.region} verified", run.verified_at))
    if run.failback is not None:
        found += [
            (f"failback {phase} done", datetime.fromisoformat(at))
            for phase, at in run.failback.times.items()
        ]
    return [{"at": at.isoformat(), "event": what} for what, at in sorted(found, key=lambda e: e[1])]
