"""The drill report: report.json for machines, Markdown for tickets, HTML for people.

Everything here is a pure function of the report dict (schema `relight.report/1`,
documented in docs/report.md) except `write_reports` and `history`, which touch
only the reports directory. No AWS call is made: a report can be rendered again
long after the run, on any machine.

The code builds the data; the Jinja2 templates in templates/ lay it out (report.md.j2,
report.html.j2, index.html.j2). Every value from the report is escaped, because stack
reasons and verification details quote AWS error messages verbatim.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import ChainableUndefined, Environment, PackageLoader, Undefined, select_autoescape

from relight.errors import RelightError
from relight.model.times import parse_time
from relight.steps.deploy import OK_ACTIONS

SCHEMA = "relight.report/1"

Report = Mapping[str, Any]
Row = dict[str, Any]

# A run id or env name becomes a directory: nothing that could climb out of reports/.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Trend: a change smaller than this share of the median (or one second) is noise.
TREND_TOLERANCE = 0.10
TREND_MIN_SECONDS = 1.0


# --- writing and reading the reports directory -------------------------------------------------


def write_reports(report: Report, reports_dir: Path) -> list[Path]:
    """Write report.json, report.md and report.html for one run, then refresh the env's index.

    Files land in `reports_dir/<env>/<run_id>/`; each is written to a temporary name
    and renamed, so a concurrent `history` never reads half a report.
    """
    if report.get("schema") != SCHEMA:
        raise RelightError(
            f"report for run {report.get('run_id')!r}: schema is {report.get('schema')!r}, "
            f"not {SCHEMA!r}",
            hint="build the report with relight's drill code, which sets the schema",
        )
    env = safe_name(report.get("env"), "env")
    run_dir = reports_dir / env / safe_name(report.get("run_id"), "run_id")
    run_dir.mkdir(parents=True, exist_ok=True)
    return [
        write_page(
            run_dir / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        ),
        write_page(run_dir / "report.md", render_markdown(report)),
        write_page(run_dir / "report.html", render_html(report)),
        write_index(reports_dir, env),
    ]


def write_index(reports_dir: Path, env: str) -> Path:
    """(Re)write `reports_dir/<env>/index.html` from every report there."""
    env = safe_name(env, "env")
    return write_page(
        reports_dir / env / "index.html", render_index(env, history(reports_dir, env))
    )


def history(reports_dir: Path, env: str) -> list[Row]:
    """Summaries of every `reports_dir/<env>/*/report.json`, oldest run first.

    A file that cannot be read, is not JSON or is not a `relight.report/1` report
    does not stop the listing: it gets a row whose `error` says what is wrong
    (every other field None, `run_id` is its directory name), sorted after the
    readable ones. Readable rows have `error` None. Each row also carries `href`,
    the report.html path relative to the env's directory.
    """
    env_dir = reports_dir / env
    rows = [_history_row(path) for path in sorted(env_dir.glob("*/report.json"))]
    return sorted(rows, key=_history_key)


def _history_row(path: Path) -> Row:
    run_dir = path.parent.name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return _error_row(run_dir, f"{path}: cannot be read as JSON ({exc})")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        schema = data.get("schema") if isinstance(data, dict) else type(data).__name__
        return _error_row(run_dir, f"{path}: not a {SCHEMA} report (schema {schema!r})")
    objectives = data.get("objectives") or {}
    return {key: data.get(key) for key in _HISTORY_FIELDS} | {
        "run_id": str(data.get("run_id") or run_dir),
        "href": f"{quote(run_dir)}/report.html",
        "rto_target": objectives.get("rto_seconds"),
        "rpo_target": objectives.get("rpo_seconds"),
        "objectives_met": _all_met(objectives),
        "error": None,
    }


# The fields a history row copies from report.json as they are.
_HISTORY_FIELDS = ("started", "kind", "ok", "rto_seconds", "rpo_seconds", "stand_in")


def _error_row(run_dir: str, error: str) -> Row:
    nothing = dict.fromkeys(("href", *_HISTORY_FIELDS, "rto_target", "rpo_target"))
    return nothing | {"run_id": run_dir, "objectives_met": None, "error": error}


def _history_key(row: Row) -> tuple[bool, datetime, str]:
    started = parse_time(row["started"]) or datetime.min.replace(tzinfo=UTC)
    return (row["error"] is not None, started, str(row["run_id"]))


def _all_met(objectives: Mapping[str, Any]) -> bool | None:
    """False if an objective was missed, True if both were measured and met, else None."""
    verdicts = [objectives.get("rto_met"), objectives.get("rpo_met")]
    if False in verdicts:
        return False
    return True if all(v is True for v in verdicts) else None


def trend(rows: Sequence[Row]) -> str:
    """Compare the latest run's RTO with the median RTO of the runs before it.

    Only readable rows whose timings come from the same place as the latest
    (stand-in runs with stand-in runs, AWS runs with AWS runs) are compared:
    a moto timing says nothing about AWS. A latest run that never verified (RTO
    None) is "worse" when earlier runs did verify. Earlier runs without an RTO
    are left out of the median. Within 10 % of the median (at least one second)
    is "steady"; below is "better", above is "worse". With no earlier measured
    run the answer is "not enough drills".
    """
    readable = [r for r in rows if r.get("error") is None]
    if not readable:
        return "not enough drills"
    latest = readable[-1]
    earlier = [
        float(r["rto_seconds"])
        for r in readable[:-1]
        if r.get("stand_in") == latest.get("stand_in") and r.get("rto_seconds") is not None
    ]
    if not earlier:
        return "not enough drills"
    if latest.get("rto_seconds") is None:
        return "worse"
    median = statistics.median(earlier)
    band = max(median * TREND_TOLERANCE, TREND_MIN_SECONDS)
    rto = float(latest["rto_seconds"])
    if rto < median - band:
        return "better"
    if rto > median + band:
        return "worse"
    return "steady"


def safe_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise RelightError(
            f"report: {field} {value!r} cannot be used as a directory name",
            hint="use letters, digits, '.', '_' and '-' only",
        )
    return value


def write_page(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


# --- rendering: the templates in templates/ lay out what the code below builds ------------------


def render_markdown(report: Report) -> str:
    """The report as Markdown, for pasting into a ticket."""
    return _MARKDOWN.get_template("report.md.j2").render(_run_context(report))


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no script)."""
    return _HTML.get_template("report.html.j2").render(_run_context(report))


def render_index(env: str, rows: Sequence[Row]) -> str:
    """index.html for one env: every run (`history`'s rows) linked, and RTO/RPO over the runs."""
    readable = [r for r in rows if r.get("error") is None]
    return _HTML.get_template("index.html.j2").render(
        env=env, runs=rows, readable=len(readable), trend=trend(rows), chart=_trend_chart(readable)
    )


def human_duration(seconds: float | None) -> str:
    """`0.4 s`, `42.0 s`, `3 min 20 s`, `3 h 5 min`, `2 d 4 h`; `—` when not measured."""
    if not isinstance(seconds, int | float):  # None, or a field a template found missing
        return "—"
    if seconds < 60:
        return f"{max(seconds, 0.0):.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return _two_units(whole, 60, "min", "s")
    if whole < 86400:
        return _two_units(whole // 60, 60, "h", "min")
    return _two_units(whole // 3600, 24, "d", "h")


def _two_units(amount: int, per: int, big: str, small: str) -> str:
    high, low = divmod(amount, per)
    return f"{high} {big} {low} {small}" if low else f"{high} {big}"


def _shown(value: object) -> object:
    """Every value a template prints: None, or a field the report lacks, is a dash."""
    return "—" if value is None or isinstance(value, Undefined) else value


def _md_text(value: object) -> str:
    """Every value report.md.j2 prints, made safe for a table cell or inline text.

    One line (newlines and runs of blanks become one space), `|` escaped so it cannot
    end a cell, `&`, `<` and `>` as entities so it cannot become raw HTML.
    """
    text = " ".join(str(_shown(value)).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _templates(finalize: Callable[[Any], object]) -> Environment:
    env = Environment(
        loader=PackageLoader("relight.dr", "templates"),
        autoescape=select_autoescape(("html.j2",), disabled_extensions=("md.j2",)),
        finalize=finalize,
        # A report written by an older relight may lack a field added since: it shows as a dash.
        undefined=ChainableUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(duration=human_duration, px=lambda value: f"{value:.2f}")
    # What a stack's action looks like: the deploy engine's own list of the actions that
    # succeeded (retried included), so the page cannot disagree with the run.
    env.globals["action_class"] = {action: "ok" for action in OK_ACTIONS} | {"skipped": "skipped"}
    return env


# HTML is autoescaped. Markdown is not: every value goes through _md_text instead.
_HTML = _templates(_shown)
_MARKDOWN = _templates(_md_text)


def render_page(template: str, **context: Any) -> str:
    """One of templates/ as HTML (autoescaped), for pages laid out beside the reports'."""
    return _HTML.get_template(template).render(**context)


def objective_rows(report: Report) -> list[tuple[str, str, str, str, str]]:
    """(name, target, measured, verdict, css class) for RTO and RPO."""
    objectives = report.get("objectives") or {}
    enforced = objectives.get("enforced", True)
    missed = ("missed", "failed") if enforced else ("missed (warning only)", "warn")
    rows = []
    for name, key in (("RTO", "rto"), ("RPO", "rpo")):
        met = objectives.get(f"{key}_met")
        verdict, css = ("not measured", "na") if met is None else ("met", "ok") if met else missed
        target = human_duration(objectives.get(f"{key}_seconds"))
        rows.append((name, target, human_duration(report.get(f"{key}_seconds")), verdict, css))
    return rows


def _run_context(report: Report) -> Row:
    """What report.md.j2 and report.html.j2 see: `report` itself (docs/report.md) and
    what follows from it: words, and the timeline's length, ticks and bars (`span`, `ticks`,
    each phase's and stack's `bar`)."""
    origin = parse_time(report.get("started"))
    span = _span(report, origin)
    kind = "Failover" if report.get("kind") == "failover" else "Drill"
    note = report.get("timings_note") or "Timings are the local stand-in's, not AWS timings."
    return {
        "report": report,
        "title": f"{kind} of {report.get('env')} into {report.get('region')}",
        "verdict": "OK" if report.get("ok") else "FAILED",
        "note": note if report.get("stand_in") else None,
        "objectives": objective_rows(report),
        "phases": [p | {"bar": _bar(p, origin, span)} for p in _list(report, "phases")],
        "stacks": [s | {"bar": _bar(s, origin, span)} for s in _list(report, "stacks")],
        "artifacts": [a | _artifact_words(a) for a in _list(report, "artifacts")],
        "teardown": report.get("teardown") or {"status": "not run"},
        "replica_lines": replica_lines(report),
        "span": span,
        "ticks": _ticks(span),
    }


def replica_lines(report: Report) -> list[str]:
    """A drill's replica-mode databases in words: the measured RPO (the replica's lag when the
    drill's snapshot was taken) and snapshot time, the forecast promotion (labelled so), and
    whether production's replica was left as it was (drill_replica.py)."""
    lines = []
    for r in _list(report, "replicas"):
        key, replica = r.get("stack"), r.get("replica")
        rpo = r.get("rpo_seconds")
        lines += [
            f"{key}: data mode replica; RPO {human_duration(rpo)} ({r.get('rpo_label')})",
            f"{key}: snapshot {r.get('snapshot')} of replica {replica} took "
            f"{human_duration(r.get('snapshot_seconds'))} (measured)"
            + ("" if r.get("snapshot_deleted") else "; not deleted"),
            f"{key}: the promotion a failover would have made: "
            f"{human_duration(r.get('promotion_seconds'))} ({r.get('promotion_label')})",
        ]
        after = r.get("after") or {}
        if r.get("untouched"):
            lines.append(
                f"{key}: production's replica {replica} left as it was: replicating from "
                f"{r.get('source_arn')}, status {after.get('status')}"
            )
        elif after:
            lines.append(
                f"{key}: production's replica {replica} is not as it was: status "
                f"{after.get('status')}, replicating {after.get('replicating')}, promoted "
                f"{after.get('promoted')}"
            )
        else:
            lines.append(f"{key}: production's replica {replica} was not read again")
    return lines


def _list(report: Report, key: str) -> list[Row]:
    return [dict(item) for item in report.get(key) or []]


def _artifact_words(artifact: Row) -> Row:
    source, rpo_ok = artifact.get("source_id"), artifact.get("rpo_ok")
    return {
        "copied": f"{source} ({artifact.get('source_region')})" if source else "—",
        "rpo": "ok" if rpo_ok is True else "too old" if rpo_ok is False else "—",
    }


# --- where things lie on the charts: fractions of each axis; charts.html.j2 sets the pixels -----

_TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def _offset(value: object, origin: datetime | None) -> float | None:
    """Seconds from the run's start to the time `value`; None when either is missing."""
    moment = parse_time(value)
    return None if moment is None or origin is None else (moment - origin).total_seconds()


def _span(report: Report, origin: datetime | None) -> float:
    """The timeline's length: to the latest end seen (run, phase or stack), so every bar fits."""
    items = [*_list(report, "stacks"), *_list(report, "phases")]
    ends = [_offset(t, origin) for t in [report.get("ended"), *(i.get("end") for i in items)]]
    return max([e for e in ends if e is not None and math.isfinite(e)] + [0.0]) or 1.0


def _bar(item: Row, origin: datetime | None, span: float) -> Row | None:
    """Where a stack's or phase's bar begins (`at`) and how long it is, as fractions of the
    span; None if it never started. With no end yet, it runs to the end of the axis."""
    start, end = _offset(item.get("start"), origin), _offset(item.get("end"), origin)
    if start is None:
        return None
    at = max(start, 0.0) / span
    return {"at": at, "length": max(span if end is None else end, 0.0) / span - at}


def timeline_ticks(span: float) -> list[Row]:
    """The ticks of a timeline `span` seconds long (other pages' timelines: the estate's)."""
    return _ticks(span)


def _ticks(span: float) -> list[Row]:
    """At most about ten ticks, a round number of seconds, minutes or hours apart."""
    step = next((s for s in _TICK_STEPS if span / s <= 10), 3600.0 * math.ceil(span / 36000))
    seconds = [i * step for i in range(int(span / step + 1e-9) + 1)]
    unit, size = ("h", 3600) if step >= 3600 else ("min", 60) if step >= 60 else ("s", 1)
    return [{"at": s / span, "label": f"{round(s / size, 1):g} {unit}"} for s in seconds]


def _trend_chart(rows: Sequence[Row]) -> Row:
    """RTO and RPO over the runs (oldest first), and the day each run started."""
    return {
        "dates": [str(r.get("started") or "")[:10] for r in rows],
        "panels": [_trend_panel(rows, "rto", "RTO"), _trend_panel(rows, "rpo", "RPO")],
    }


def _trend_panel(rows: Sequence[Row], key: str, name: str) -> Row:
    """One measure: `lines` of points, each at a run (`at`) and a value (`level`, 0 to 1).

    The scale fits the measured values, not the target: a 1 h target would flatten 20 s
    drills into the axis. A run without a value breaks the line.
    """
    values = [_number(r.get(f"{key}_seconds")) for r in rows]
    measured = [v for v in values if v is not None]
    target = _number(rows[-1].get(f"{key}_target")) if rows else None
    peak = max(max(measured) * 1.15 if measured else (target or 1.0), 1.0)
    lines: list[list[Row]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            lines.append([])
            continue
        at = i / (len(rows) - 1) if len(rows) > 1 else 0.5
        point = {"run_id": rows[i].get("run_id"), "seconds": value, "at": at}
        lines[-1].append(point | {"level": min(value, peak) / peak})
    return {
        "key": key,
        "name": name,
        "peak": peak,
        "target": target,
        "target_level": target / peak if target is not None and target <= peak else None,
        "lines": [line for line in lines if line],
    }


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
