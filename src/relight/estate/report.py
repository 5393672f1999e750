"""The estate report: one page (and its JSON) for an estate's run, beside the environments' own.

`reports/estates/<estate>/<run id>.json` (schema `relight.estate-report/1`, docs/report.md)
and `<run id>.html`, plus `reports/estates/<estate>/index.html` listing every run. The page
is laid out by templates/estate.html.j2 (in relight.dr, with the drill report's look): a
timeline per environment on one time axis, the estate's measured RTO against its objective,
the slowest path through the predecessors highlighted, each environment's own report linked,
its RPO, and the environments that were stopped and why.

The estate's RTO is measured along the predecessors: the longest chain of the environments'
own RTOs (each from its disaster to its verification, as `relight drill` measures it), which
is what a failover of the estate would take when each environment recovers as fast as it did
here. The wall time from the estate's start to its last verification is shown beside it: it
also holds what only a drill does (its standing copies prepared, its teardowns).
Everything here but `write_estate_report` is a pure function of its arguments.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from relight.dr.report import human_duration, render_page, safe_name, timeline_ticks, write_page
from relight.estate.run import EnvOutcome, EstateRun
from relight.model.estate import LoadedEstate
from relight.model.times import parse_time

SCHEMA = "relight.estate-report/1"
ESTATES_DIR = "estates"  # reports/estates/<estate>/

Row = dict[str, Any]

# The timeline's colour (CSS class) of an environment's state.
STATE_CLASS = {"verified": "ok", "failed": "failed", "stopped": "skipped", "not run": "skipped"}


@dataclass(frozen=True)
class EnvDrill:
    """An environment's drill, as its outcome's `result`: its report and the files written."""

    report: dict[str, Any]
    paths: list[Path]


def build_estate_report(
    estate: LoadedEstate,
    run: EstateRun,
    *,
    run_id: str,
    outage: str | None = None,
    enforce_objectives: bool = True,
) -> dict[str, Any]:
    """The estate report dict (schema relight.estate-report/1, docs/report.md)."""
    # EstateRun.critical_path's measure, through this estate's predecessors
    slowest_seconds, slowest = estate.critical_path(
        {name: o.seconds or 0.0 for name, o in run.outcomes.items()}
    )
    envs = [_env_row(estate, outcome, set(slowest)) for outcome in run.outcomes.values()]
    rto = _estate_rto(estate, envs)
    target = _seconds(estate.file.objectives.rto)
    rto_met = None if rto["seconds"] is None or target is None else rto["seconds"] <= target
    asked = set(run.ran())
    ran = [e for e in envs if e["name"] in asked]
    ok = (
        bool(ran)
        and not run.interrupted
        and all(e["state"] == "verified" and e["drill_ok"] is not False for e in ran)
        and not (rto_met is False and enforce_objectives)
    )
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "estate": run.estate,
        "file": str(estate.path),
        "region": run.region,
        "command": run.command,
        "stand_in": estate.file.stand_in,
        "outage": outage,
        "started": run.started.isoformat(),
        "ended": run.ended.isoformat(),
        "seconds": round((run.ended - run.started).total_seconds(), 3),
        "ok": ok,
        "objectives": {
            "rto_seconds": target,
            "rto_met": rto_met,
            "enforced": enforce_objectives,
        },
        "rto_seconds": rto["seconds"],
        "rto_path": rto["path"],
        "rto_not_measured": rto["why"],
        "wall_seconds": _wall_seconds(run.started, envs),
        "slowest_path": {"seconds": round(slowest_seconds, 3), "environments": slowest},
        "waves": [list(wave) for wave in estate.waves],
        "environments": envs,
        "peaks": [
            {"account_id": account, "region": region, "stack_operations": peak}
            for (account, region), peak in sorted(run.peaks.items())
        ],
        "interrupted": list(run.interrupted),
        "continue_command": run.continue_command(),
    }


def _env_row(estate: LoadedEstate, outcome: EnvOutcome, on_path: set[str]) -> Row:
    drilled = outcome.result if isinstance(outcome.result, EnvDrill) else None
    report = drilled.report if drilled else {}
    objectives = report.get("objectives") or {}
    teardown = report.get("teardown") or {}
    return {
        "name": outcome.name,
        "wave": outcome.wave,
        "account": outcome.account,
        "account_id": estate.access(outcome.name).id,
        "state": outcome.state,
        "started": _iso(outcome.started),
        "ended": _iso(outcome.ended),
        "seconds": outcome.seconds,
        "line": outcome.line,
        "error": outcome.error,
        "stopped_by": outcome.stopped_by,
        "after": sorted(estate.predecessors(outcome.name)),
        "on_slowest_path": outcome.name in on_path,
        "drill_ok": report.get("ok") if drilled else None,
        "verified_at": _verified_at(report),
        "rto_seconds": report.get("rto_seconds"),
        "rpo_seconds": report.get("rpo_seconds"),
        "rto_met": objectives.get("rto_met"),
        "rpo_met": objectives.get("rpo_met"),
        "rto_objective": objectives.get("rto_seconds"),
        "rpo_objective": objectives.get("rpo_seconds"),
        "teardown": teardown.get("status") if drilled else "nothing built",
        "left_behind": list(teardown.get("left_behind") or []),
        # the environment's own report, from reports/estates/<estate>/
        "report": (
            f"../../{quote(str(report.get('env')))}/{quote(str(report.get('run_id')))}/report.html"
            if drilled and report.get("env") and report.get("run_id")
            else None
        ),
    }


def _verified_at(report: Mapping[str, Any]) -> str | None:
    """When the environment's drill verified what it built: the end of its verify phase."""
    if report.get("rto_seconds") is None:
        return None
    ends = [p.get("end") for p in report.get("phases") or [] if p.get("name") == "verify"]
    return ends[0] if ends and isinstance(ends[0], str) else None


def _estate_rto(estate: LoadedEstate, envs: Sequence[Row]) -> Row:
    """The longest chain of the environments' own RTOs through their predecessors; not measured
    (with why) unless every environment of the estate verified in this run."""
    missing = [e["name"] for e in envs if e["rto_seconds"] is None]
    if missing:
        return {
            "seconds": None,
            "path": [],
            "why": f"not every environment verified in this run: {', '.join(missing)}",
        }
    seconds, path = estate.critical_path({e["name"]: float(e["rto_seconds"]) for e in envs})
    return {"seconds": round(seconds, 3), "path": path, "why": None}


def _wall_seconds(started: datetime, envs: Sequence[Row]) -> float | None:
    """From the estate's start to its last environment verified (None: not all verified)."""
    moments = [parse_time(e["verified_at"]) for e in envs]
    if not moments or any(m is None for m in moments):
        return None
    last = max(m for m in moments if m is not None)
    return round((last - started).total_seconds(), 3)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _seconds(value: object) -> float | None:
    """An objective as seconds (the model gives a number; a timedelta is taken too)."""
    if hasattr(value, "total_seconds"):
        return float(value.total_seconds())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


# --- writing: reports/estates/<estate>/ ---------------------------------------------------------


def estate_dir(reports_dir: Path, estate: str) -> Path:
    return reports_dir / ESTATES_DIR / safe_name(estate, "estate")


def write_estate_report(report: Mapping[str, Any], reports_dir: Path) -> list[Path]:
    """`<run id>.json` and `<run id>.html` in reports/estates/<estate>/, then its index.html.

    An earlier report of the same run id (a run continued with `--only` and the same
    `--drill-id`) is kept: this one is `<run id>-2`, `-3`, ... beside it."""
    folder = estate_dir(reports_dir, str(report.get("estate")))
    folder.mkdir(parents=True, exist_ok=True)
    run_id = safe_name(report.get("run_id"), "run_id")
    stem, n = run_id, 2
    while (folder / f"{stem}.json").exists():
        stem, n = f"{run_id}-{n}", n + 1
    return [
        write_page(
            folder / f"{stem}.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        ),
        write_page(folder / f"{stem}.html", render_estate_html(report)),
        write_page(
            folder / "index.html", render_estate_index(str(report["estate"]), history(folder))
        ),
    ]


def history(folder: Path) -> list[Row]:
    """Every estate report in `folder`, oldest first; an unreadable one is a row saying why."""
    rows: list[Row] = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            rows.append({"run_id": path.stem, "error": f"{path}: cannot be read as JSON ({exc})"})
            continue
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            rows.append({"run_id": path.stem, "error": f"{path}: not a {SCHEMA} report"})
            continue
        envs = data.get("environments") or []
        rows.append(
            {
                "run_id": data.get("run_id") or path.stem,
                "href": f"{quote(path.stem)}.html",
                "started": data.get("started"),
                "region": data.get("region"),
                "command": data.get("command"),
                "ok": data.get("ok"),
                "rto_seconds": data.get("rto_seconds"),
                "objectives": data.get("objectives") or {},
                "verified": sum(1 for e in envs if e.get("state") == "verified"),
                "environments": len(envs),
                "error": None,
            }
        )
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(
        rows,
        key=lambda r: (r["error"] is not None, parse_time(r.get("started")) or floor, r["run_id"]),
    )


# --- rendering: templates/estate.html.j2 and estate-index.html.j2 lay out what is built here ---


def render_estate_html(report: Mapping[str, Any]) -> str:
    """The estate report as one self-contained HTML page (inline CSS and SVG, no script)."""
    return render_page("estate.html.j2", **estate_context(report))


def render_estate_index(estate: str, rows: Sequence[Row]) -> str:
    return render_page("estate-index.html.j2", estate=estate, runs=list(rows))


def estate_context(report: Mapping[str, Any]) -> Row:
    """What estate.html.j2 sees: the report, and where each environment's bar lies on the
    one time axis (fractions of `span`, from the estate's start)."""
    origin = parse_time(report.get("started"))
    envs = [dict(e) for e in report.get("environments") or []]
    offsets = [_offset(e.get(k), origin) for e in envs for k in ("ended", "verified_at")]
    span = max([o for o in offsets if o is not None and math.isfinite(o)] + [0.0]) or 1.0
    for env in envs:
        env["bar"] = _bar(env, origin, span)
        verified = _offset(env.get("verified_at"), origin)
        env["verified_mark"] = None if verified is None else max(verified, 0.0) / span
        env["css"] = STATE_CLASS.get(str(env.get("state")), "skipped")
    objectives = report.get("objectives") or {}
    met = objectives.get("rto_met")
    missed = ("missed", "failed") if objectives.get("enforced", True) else ("missed", "warn")
    verdict, css = ("not measured", "na") if met is None else ("met", "ok") if met else missed
    kind = "Drill" if report.get("command") == "drill" else str(report.get("command")).title()
    return {
        "report": report,
        "title": f"{kind} of estate {report.get('estate')} into {report.get('region')}",
        "verdict": "OK" if report.get("ok") else "FAILED",
        "rto": {
            "verdict": verdict,
            "css": css,
            "measured": human_duration(report.get("rto_seconds")),
            "target": human_duration(objectives.get("rto_seconds")),
            "wall": human_duration(report.get("wall_seconds")),
        },
        "envs": envs,
        "stopped": [e for e in envs if e["state"] in ("stopped", "failed")],
        "span": span,
        "ticks": timeline_ticks(span),
    }


def _offset(value: object, origin: datetime | None) -> float | None:
    moment = parse_time(value)
    return None if moment is None or origin is None else (moment - origin).total_seconds()


def _bar(env: Row, origin: datetime | None, span: float) -> Row | None:
    start, end = _offset(env.get("started"), origin), _offset(env.get("ended"), origin)
    if start is None:
        return None
    at = max(start, 0.0) / span
    return {"at": at, "length": max(span if end is None else end, 0.0) / span - at}
