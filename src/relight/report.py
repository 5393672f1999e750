"""The drill report: report.json for machines, Markdown for tickets, HTML for people.

Everything here is a pure function of the report dict (schema `relight.report/1`,
documented in docs/report.md) except `write_reports` and `history`, which touch
only the reports directory. No AWS call is made: a report can be rendered again
long after the run, on any machine.

The HTML is one self-contained file (inline CSS and SVG, no script, no fonts,
no images) so it can be attached to a ticket or opened from an archive offline.
Every value taken from the report is escaped, because stack reasons and
verification details quote AWS error messages verbatim.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from relight.errors import RelightError
from relight.times import parse_time

SCHEMA = "relight.report/1"

Report = Mapping[str, Any]
Row = dict[str, Any]
_T = TypeVar("_T")

# A run id or env name becomes a directory: nothing that could climb out of reports/.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Stack actions that count as success on the timeline; "failed" and "skipped" are their own.
_OK_ACTIONS = frozenset({"created", "recreated", "updated", "unchanged"})

_RESULT_CLASS = {
    "passed": "ok",
    "failed": "failed",
    "not simulated locally": "na",
    "skipped": "skipped",
}

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
    env = _safe_name(report.get("env"), "env")
    run_dir = reports_dir / env / _safe_name(report.get("run_id"), "run_id")
    run_dir.mkdir(parents=True, exist_ok=True)
    written = [
        _write(run_dir / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n"),
        _write(run_dir / "report.md", render_markdown(report)),
        _write(run_dir / "report.html", render_html(report)),
    ]
    written.append(write_index(reports_dir, env))
    return written


def write_index(reports_dir: Path, env: str) -> Path:
    """(Re)write `reports_dir/<env>/index.html` from every report there."""
    env = _safe_name(env, "env")
    return _write(reports_dir / env / "index.html", render_index(env, history(reports_dir, env)))


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
    return {
        "run_id": str(data.get("run_id") or run_dir),
        "href": f"{quote(run_dir)}/report.html",
        "started": data.get("started"),
        "kind": data.get("kind"),
        "ok": data.get("ok"),
        "rto_seconds": data.get("rto_seconds"),
        "rpo_seconds": data.get("rpo_seconds"),
        "rto_target": objectives.get("rto_seconds"),
        "rpo_target": objectives.get("rpo_seconds"),
        "objectives_met": _all_met(objectives),
        "stand_in": data.get("stand_in"),
        "error": None,
    }


def _error_row(run_dir: str, error: str) -> Row:
    keys = ("started", "kind", "ok", "rto_seconds", "rpo_seconds", "rto_target", "rpo_target")
    row: Row = dict.fromkeys(keys)
    row.update(run_id=run_dir, href=None, objectives_met=None, stand_in=None, error=error)
    return row


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


def _safe_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise RelightError(
            f"report: {field} {value!r} cannot be used as a directory name",
            hint="use letters, digits, '.', '_' and '-' only",
        )
    return value


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


# --- small formatting helpers ------------------------------------------------------------------


def human_duration(seconds: float | None) -> str:
    """`0.4 s`, `42.0 s`, `3 min 20 s`, `3 h 5 min`, `2 d 4 h`; `—` when not measured."""
    if seconds is None:
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


def _offset(value: object, origin: datetime | None) -> float | None:
    """Seconds from the run's start to `value`, None when either is missing."""
    moment = parse_time(value)
    if moment is None or origin is None:
        return None
    return (moment - origin).total_seconds()


def _title(report: Report) -> str:
    kind = "Failover" if report.get("kind") == "failover" else "Drill"
    return f"{kind} of {report.get('env')} into {report.get('region')}"


def _verdict_word(report: Report) -> str:
    return "OK" if report.get("ok") else "FAILED"


def _stand_in_note(report: Report) -> str | None:
    if not report.get("stand_in"):
        return None
    note = str(report.get("timings_note") or "")
    return note or "Timings are the local stand-in's, not AWS timings."


def objective_rows(report: Report) -> list[tuple[str, str, str, str, str]]:
    """(name, target, measured, verdict, css class) for RTO and RPO."""
    objectives = report.get("objectives") or {}
    enforced = objectives.get("enforced", True)
    rows = []
    for name, key in (("RTO", "rto"), ("RPO", "rpo")):
        met = objectives.get(f"{key}_met")
        verdict, css = _objective_verdict(met, enforced)
        target = human_duration(objectives.get(f"{key}_seconds"))
        measured = human_duration(report.get(f"{key}_seconds"))
        rows.append((name, target, measured, verdict, css))
    return rows


def _objective_verdict(met: bool | None, enforced: bool) -> tuple[str, str]:
    if met is None:
        return "not measured", "na"
    if met:
        return "met", "ok"
    return ("missed", "failed") if enforced else ("missed (warning only)", "warn")


def _stack_class(stack: Mapping[str, Any]) -> str:
    action = stack.get("action")
    if action in _OK_ACTIONS:
        return "ok"
    return "skipped" if action == "skipped" else "failed"


def _teardown(report: Report) -> Mapping[str, Any]:
    return report.get("teardown") or {"status": "not run", "stacks": [], "left_behind": []}


def _tri(value: object, when_true: _T, when_false: _T, otherwise: _T) -> _T:
    """Pick by a JSON boolean that may also be null (not measured) or absent."""
    if value is True:
        return when_true
    return when_false if value is False else otherwise


def _list(report: Report, key: str) -> list[Mapping[str, Any]]:
    return list(report.get(key) or [])


# --- Markdown ------------------------------------------------------------------------------------


def render_markdown(report: Report) -> str:
    """The report as Markdown, for pasting into a ticket."""
    lines = [
        f"# {_md(_title(report))}: {_verdict_word(report)}",
        "",
        f"Run `{_md(report.get('run_id'))}` ({_md(report.get('kind'))}), "
        f"started {_md(report.get('started'))}, ended {_md(report.get('ended'))}"
        + (f", namespace `{_md(report['namespace'])}`" if report.get("namespace") else "")
        + ".",
    ]
    note = _stand_in_note(report)
    if note:
        lines += ["", f"> **{_md(note)}**"]
    for title, body in _md_sections(report):
        lines += ["", f"## {title}", "", *body]
    return "\n".join(lines) + "\n"


def _md_sections(report: Report) -> list[tuple[str, list[str]]]:
    objectives = [(n, t, m, v) for n, t, m, v, _ in objective_rows(report)]
    phases = [
        (p.get("name"), p.get("status"), human_duration(p.get("seconds")))
        for p in _list(report, "phases")
    ]
    return [
        ("Objectives", _md_table(("objective", "target", "measured", "verdict"), objectives)),
        ("Phases", _md_table(("phase", "status", "time"), phases)),
        ("Stacks", _md_table(_STACK_HEADER, [_stack_cells(s) for s in _list(report, "stacks")])),
        (
            "Artifacts",
            _md_table(_ARTIFACT_HEADER, map(_artifact_cells, _list(report, "artifacts"))),
        ),
        (
            "Verification",
            _md_table(_CHECK_HEADER, map(_check_cells, _list(report, "verification"))),
        ),
        ("Teardown", _md_teardown(_teardown(report))),
        ("Problems", [f"- {_md(p)}" for p in report.get("problems") or []] or ["None."]),
    ]


_STACK_HEADER = ("stack", "CloudFormation name", "action", "status", "time", "reason")
_ARTIFACT_HEADER = ("artifact", "kind", "id", "copied from", "age of data", "RPO")
_CHECK_HEADER = ("check", "stack", "result", "detail")


def _stack_cells(stack: Mapping[str, Any]) -> tuple[object, ...]:
    return (
        stack.get("stack"),
        stack.get("name"),
        stack.get("action"),
        stack.get("status"),
        human_duration(stack.get("seconds")),
        stack.get("reason"),
    )


def _artifact_cells(artifact: Mapping[str, Any]) -> tuple[object, ...]:
    source = artifact.get("source_id")
    copied = f"{source} ({artifact.get('source_region')})" if source else "—"
    rpo = _tri(artifact.get("rpo_ok"), "ok", "too old", "—")
    return (
        artifact.get("name"),
        artifact.get("kind"),
        artifact.get("id"),
        copied,
        human_duration(artifact.get("age_seconds")),
        rpo,
    )


def _check_cells(check: Mapping[str, Any]) -> tuple[object, ...]:
    return (check.get("check"), check.get("stack"), check.get("result"), check.get("detail"))


def _md_teardown(teardown: Mapping[str, Any]) -> list[str]:
    lines = [f"Teardown: **{_md(teardown.get('status'))}**", ""]
    rows = [(s.get("name"), s.get("status"), s.get("reason")) for s in teardown.get("stacks") or []]
    if rows:
        lines += [*_md_table(("stack", "status", "reason"), rows), ""]
    left = teardown.get("left_behind") or []
    lines.append("Left behind: " + (", ".join(f"`{_md(x)}`" for x in left) if left else "nothing"))
    return lines


def _md_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    body = ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in rows]
    if not body:
        return ["None."]
    return ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header), *body]


def _md(value: object) -> str:
    """One table cell or inline text: no line breaks, no pipes, no raw HTML."""
    if value is None or value == "":
        return "—" if value is None else ""
    text = " ".join(str(value).split())
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


# --- HTML ---------------------------------------------------------------------------------------

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       color: #1d2228; background: #fff; margin: 24px auto; max-width: 1100px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #e3e6ea;
         vertical-align: top; }
th { background: #f4f6f8; font-weight: 600; }
code, .mono { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; font-weight: 700;
           color: #fff; }
.verdict.ok { background: #1f7a3a; } .verdict.failed { background: #b42318; }
.notice { background: #fff4d6; border: 1px solid #e0b84c; padding: 8px 12px; margin: 12px 0;
          border-radius: 4px; }
.objective { display: inline-block; margin: 0 12px 8px 0; padding: 8px 14px; border-radius: 6px;
             border: 2px solid; min-width: 220px; }
.objective b { font-size: 16px; }
.objective.ok { border-color: #1f7a3a; background: #e8f5ec; color: #14532d; }
.objective.failed { border-color: #b42318; background: #fdecea; color: #7a1a12; }
.objective.warn { border-color: #b54708; background: #fef3e2; color: #7a2e0e; }
.objective.na { border-color: #98a2b3; background: #f2f4f7; color: #344054; }
.status.ok { color: #1f7a3a; font-weight: 600; }
.status.failed { color: #b42318; font-weight: 700; }
.status.na, .status.skipped { color: #667085; } .status.warn { color: #b54708; font-weight: 600; }
#timeline svg { display: block; max-width: 100%; height: auto; }
#timeline text { font: 12px system-ui, Helvetica, Arial, sans-serif; fill: #1d2228; }
#timeline .tick line { stroke: #d0d5dd; } #timeline .axis { stroke: #667085; }
.bar.ok rect { fill: #2e9d55; } .legend .ok { background: #2e9d55; }
.bar.failed rect { fill: #d92d20; } .legend .failed { background: #d92d20; }
.bar.skipped rect { fill: #98a2b3; } .legend .skipped { background: #98a2b3; }
/* Phases in lighter tints of the same colours, so the band reads apart from the stacks. */
.phase.ok rect { fill: #a6d8b5; } .phase.failed rect { fill: #f4a39b; }
.phase.skipped rect { fill: #d0d5dd; }
#timeline .phase rect { stroke: #fff; stroke-width: 1; }
#timeline .phase text { font-size: 11px; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 14px;
               vertical-align: -1px; border-radius: 2px; }
.muted { color: #667085; } #timeline text.muted { fill: #667085; }
"""


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no script)."""
    parts = [
        _html_summary(report),
        _html_objectives(report),
        _section("timeline", "Timeline", timeline_svg(report) + _LEGEND),
        _section("stacks", "Stacks", _html_stacks(report)),
        _section("phases", "Phases", _html_phases(report)),
        _section("artifacts", "Restored from", _html_artifacts(report)),
        _section("verification", "Verification", _html_verification(report)),
        _section("teardown", "Teardown", _html_teardown(_teardown(report))),
        _section("problems", "Problems", _html_problems(report)),
    ]
    title = f"{_title(report)}: {_verdict_word(report)} (run {report.get('run_id')})"
    return _page(title, "\n".join(parts))


_LEGEND = (
    '<p class="legend muted"><span class="ok"></span>done<span class="failed"></span>failed'
    '<span class="skipped"></span>skipped · hover a bar for its status and reason</p>'
)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_h(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )


def _h(value: object) -> str:
    """Escaped text for HTML content or a quoted attribute; None shows as a dash."""
    return "—" if value is None else escape(str(value), quote=True)


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{section_id}">\n<h2>{title}</h2>\n{body}\n</section>'


def _html_summary(report: Report) -> str:
    ok = bool(report.get("ok"))
    css, word = ("ok", "OK") if ok else ("failed", "FAILED")
    namespace = report.get("namespace")
    facts = [
        f"run <code>{_h(report.get('run_id'))}</code>",
        f"{_h(report.get('kind'))}",
        f"started {_h(report.get('started'))}",
        f"ended {_h(report.get('ended'))}",
    ]
    if namespace:
        facts.append(f"namespace <code>{_h(namespace)}</code>")
    note = _stand_in_note(report)
    notice = f'\n<p class="notice" id="stand-in">{_h(note)}</p>' if note else ""
    return (
        f'<header id="summary">\n<h1>{_h(_title(report))} '
        f'<span class="verdict {css}">{word}</span></h1>\n'
        f'<p class="muted">{" · ".join(facts)}</p>{notice}\n</header>'
    )


def _html_objectives(report: Report) -> str:
    cards = [
        f'<div class="objective {css}" data-objective="{name.lower()}">'
        f"<b>{name} {_h(verdict)}</b><br>measured {_h(measured)} · target {_h(target)}</div>"
        for name, target, measured, verdict, css in objective_rows(report)
    ]
    objectives = report.get("objectives") or {}
    if objectives.get("enforced") is False:
        cards.append('<p class="muted">Objectives are not enforced: a miss is a warning.</p>')
    return _section("objectives", "Objectives", "\n".join(cards))


def _html_table(header: Sequence[str], rows: Iterable[str]) -> str:
    body = "\n".join(rows)
    if not body:
        return '<p class="muted">None.</p>'
    head = "".join(f"<th>{_h(h)}</th>" for h in header)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _tr(cells: Iterable[object], classes: Mapping[int, str] | None = None, attrs: str = "") -> str:
    """A table row; `classes` colours cells by index, `attrs` is already-escaped markup."""
    classes = classes or {}
    tds = "".join(
        f'<td class="status {classes[i]}">{_h(c)}</td>' if i in classes else f"<td>{_h(c)}</td>"
        for i, c in enumerate(cells)
    )
    return f"<tr{attrs}>{tds}</tr>"


def _html_stacks(report: Report) -> str:
    rows = [
        _tr(_stack_cells(s), {2: _stack_class(s)}, f' data-stack="{_h(s.get("stack"))}"')
        for s in _list(report, "stacks")
    ]
    return _html_table(_STACK_HEADER, rows)


def _html_phases(report: Report) -> str:
    rows = [
        _tr(
            (p.get("name"), p.get("status"), human_duration(p.get("seconds"))),
            {1: _PHASE_CLASS.get(str(p.get("status")), "na")},
        )
        for p in _list(report, "phases")
    ]
    return _html_table(("phase", "status", "time"), rows)


_PHASE_CLASS = {"ok": "ok", "failed": "failed", "skipped": "skipped"}


def _html_artifacts(report: Report) -> str:
    rows = []
    for artifact in _list(report, "artifacts"):
        cells = _artifact_cells(artifact)
        rpo = _tri(artifact.get("rpo_ok"), "ok", "failed", "na")
        rows.append(_tr(cells, {5: rpo}))
    return _html_table(_ARTIFACT_HEADER, rows)


def _html_verification(report: Report) -> str:
    rows = [
        _tr(_check_cells(c), {2: _RESULT_CLASS.get(str(c.get("result")), "na")})
        for c in _list(report, "verification")
    ]
    return _html_table(_CHECK_HEADER, rows)


def _html_teardown(teardown: Mapping[str, Any]) -> str:
    status = teardown.get("status")
    css = {"ok": "ok", "failed": "failed"}.get(str(status), "na")
    rows = [
        _tr((s.get("name"), s.get("status"), s.get("reason"))) for s in teardown.get("stacks") or []
    ]
    left = teardown.get("left_behind") or []
    left_text = ", ".join(f"<code>{_h(x)}</code>" for x in left) if left else "nothing"
    table = _html_table(("stack", "status", "reason"), rows) if rows else ""
    return (
        f'<p>Status: <b class="status {css}">{_h(status)}</b></p>\n'
        f"{table}\n<p>Left behind: {left_text}</p>"
    )


def _html_problems(report: Report) -> str:
    problems = report.get("problems") or []
    if not problems:
        return '<p class="muted">None.</p>'
    return "<ul>\n" + "\n".join(f"<li>{_h(p)}</li>" for p in problems) + "\n</ul>"


# --- the timeline (Gantt) -----------------------------------------------------------------------

# Geometry of the timeline, in SVG user units (pixels at 100 %).
_LEFT = 180.0  # room for the stack labels
_PLOT = 760.0
_ROW = 26.0
_BAR = 18.0
_MIN_BAR = 2.0  # a stack that took no measurable time still shows as a sliver
_TICK_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def timeline_svg(report: Report) -> str:
    """Stacks as bars from their start to their end, relative to the run's start.

    One `<g class="bar STATUS" data-stack="KEY">` per stack; a stack that never
    started (skipped) has a label and the word "not started" but no rect. The
    phases run as a band on top. The axis spans from the run's start to the
    latest end seen (run, phase or stack), so every bar fits.
    """
    origin = parse_time(report.get("started"))
    stacks = _list(report, "stacks")
    phases = _list(report, "phases")
    span = _span(report, origin, stacks, phases)
    rows = [_axis(span, (len(stacks) + 1) * _ROW + 8), _phase_band(phases, origin, span)]
    rows += [_stack_bar(s, origin, span, i + 1) for i, s in enumerate(stacks)]
    height = (len(stacks) + 1) * _ROW + 40
    width = _LEFT + _PLOT + 30
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:g}" height="{height:g}" '
        f'viewBox="0 0 {width:g} {height:g}" role="img" '
        f'aria-label="timeline of {len(stacks)} stacks over {_h(human_duration(span))}" '
        f'data-span-seconds="{span:g}">\n' + "\n".join(rows) + "\n</svg>"
    )


def _span(
    report: Report,
    origin: datetime | None,
    stacks: Sequence[Mapping[str, Any]],
    phases: Sequence[Mapping[str, Any]],
) -> float:
    ends = [_offset(report.get("ended"), origin)]
    ends += [_offset(item.get("end"), origin) for item in [*stacks, *phases]]
    known = [e for e in ends if e is not None and math.isfinite(e)]
    return max([*known, 0.0]) or 1.0


def _x(offset: float, span: float) -> float:
    return _LEFT + max(0.0, offset) / span * _PLOT


def _bar_geometry(
    item: Mapping[str, Any], origin: datetime | None, span: float
) -> tuple[float, float] | None:
    """(x, width) of an item's bar, None when it has no start. A missing end means still running."""
    start = _offset(item.get("start"), origin)
    if start is None:
        return None
    end = _offset(item.get("end"), origin)
    end = span if end is None else end
    x = _x(start, span)
    return x, max(_x(end, span) - x, _MIN_BAR)


def _stack_bar(stack: Mapping[str, Any], origin: datetime | None, span: float, row: int) -> str:
    key = stack.get("stack")
    css = _stack_class(stack)
    y = row * _ROW
    tip = (
        f"{key}: {stack.get('action')} {stack.get('status')}, "
        f"{human_duration(stack.get('seconds'))}"
        + (f" ({stack.get('reason')})" if stack.get("reason") else "")
    )
    label = f'<text x="{_LEFT - 8:g}" y="{y + _BAR / 2 + 4:g}" text-anchor="end">{_h(key)}</text>'
    geometry = _bar_geometry(stack, origin, span)
    if geometry is None:
        mark = f'<text x="{_LEFT + 4:g}" y="{y + _BAR / 2 + 4:g}" class="muted">not started</text>'
    else:
        x, w = geometry
        mark = f'<rect x="{x:.2f}" y="{y:g}" width="{w:.2f}" height="{_BAR:g}" rx="2"></rect>'
    return f'<g class="bar {css}" data-stack="{_h(key)}"><title>{_h(tip)}</title>{label}{mark}</g>'


def _phase_band(phases: Sequence[Mapping[str, Any]], origin: datetime | None, span: float) -> str:
    parts = [f'<text x="{_LEFT - 8:g}" y="{_BAR / 2 + 4:g}" text-anchor="end">phases</text>']
    for phase in phases:
        geometry = _bar_geometry(phase, origin, span)
        if geometry is None:
            continue
        x, w = geometry
        name = phase.get("name")
        css = _PHASE_CLASS.get(str(phase.get("status")), "skipped")
        label = f'<text x="{x + 3:.2f}" y="{_BAR / 2 + 4:g}">{_h(name)}</text>' if w > 60 else ""
        parts.append(
            f'<g class="phase {css}" data-phase="{_h(name)}"><title>{_h(name)}: '
            f"{_h(phase.get('status'))}, {_h(human_duration(phase.get('seconds')))}</title>"
            f'<rect x="{x:.2f}" y="0" width="{w:.2f}" height="{_BAR:g}"></rect>{label}</g>'
        )
    return '<g class="phases">' + "".join(parts) + "</g>"


def _tick_step(span: float) -> float:
    return next((s for s in _TICK_STEPS if span / s <= 10), 3600.0 * math.ceil(span / 36000))


def _tick_label(seconds: float, step: float) -> str:
    if step >= 3600:
        return f"{seconds / 3600:g} h"
    if step >= 60:
        return f"{seconds / 60:g} min"
    return f"{round(seconds, 1):g} s"


def _axis(span: float, y: float) -> str:
    step = _tick_step(span)
    parts = [
        f'<line class="axis" x1="{_LEFT:g}" x2="{_LEFT + _PLOT:g}" y1="{y:g}" y2="{y:g}" '
        f'data-seconds="{span:g}"></line>'
    ]
    count = int(span / step + 1e-9)
    for i in range(count + 1):
        seconds = i * step
        x = _x(seconds, span)
        parts.append(
            f'<g class="tick"><line x1="{x:.2f}" x2="{x:.2f}" y1="0" y2="{y + 4:g}"></line>'
            f'<text x="{x:.2f}" y="{y + 18:g}" text-anchor="middle">'
            f"{_tick_label(seconds, step)}</text></g>"
        )
    return '<g class="ticks">' + "".join(parts) + "</g>"


# --- the index of past runs ---------------------------------------------------------------------

_CHART_W = 720.0
_CHART_H = 140.0
_CHART_LEFT = 70.0


def render_index(env: str, rows: Sequence[Row]) -> str:
    """index.html for one env: every run in a table (linked) and RTO/RPO over the runs."""
    readable = [r for r in rows if r.get("error") is None]
    lines = [_index_row(r) for r in rows]
    table = _html_table(
        ("run", "started", "kind", "verdict", "RTO", "RPO", "objectives", "timings"), lines
    )
    body = (
        f'<header id="summary"><h1>relight drills of {_h(env)}</h1>\n'
        f'<p>{len(readable)} run(s); RTO trend: <b id="trend-word">{_h(trend(rows))}</b> '
        '<span class="muted">(latest against the median of earlier runs timed in the same '
        "place)</span></p></header>\n"
        + _section("runs", "Runs", table)
        + "\n"
        + _section("trend-chart", "RTO and RPO over the runs", trend_svg(readable))
    )
    return _page(f"relight drills of {env}", body)


def _index_row(row: Row) -> str:
    if row.get("error") is not None:
        return (
            f'<tr class="unreadable"><td>{_h(row["run_id"])}</td>'
            f'<td colspan="7" class="status failed">unreadable: {_h(row["error"])}</td></tr>'
        )
    verdict_css, verdict = ("ok", "OK") if row.get("ok") else ("failed", "FAILED")
    met = row.get("objectives_met")
    met_css, met_text = _tri(met, ("ok", "met"), ("failed", "missed"), ("na", "not all measured"))
    timings = "local stand-in" if row.get("stand_in") else "AWS"
    return (
        f'<tr data-run="{_h(row["run_id"])}">'
        f'<td><a href="{_h(row["href"])}">{_h(row["run_id"])}</a></td>'
        f"<td>{_h(row.get('started'))}</td><td>{_h(row.get('kind'))}</td>"
        f'<td class="status {verdict_css}">{verdict}</td>'
        f"<td>{_h(human_duration(row.get('rto_seconds')))}</td>"
        f"<td>{_h(human_duration(row.get('rpo_seconds')))}</td>"
        f'<td class="status {met_css}">{met_text}</td><td>{timings}</td></tr>'
    )


def trend_svg(rows: Sequence[Row]) -> str:
    """Two small line charts sharing the run axis: RTO on top, RPO below.

    Runs are evenly spaced in the order given (oldest first), not by date, so a
    burst of drills stays readable. Each chart has its own scale, fitted to the
    measured values (RTO is seconds to minutes, RPO often hours); a missing value
    breaks the line. The dashed line is the latest run's target, drawn when it
    falls inside the scale and otherwise named as "above the chart", because a
    1 h target would flatten 20 s drills into the axis.
    """
    panels = [
        _trend_panel(rows, "rto", "RTO", 10.0, "#1f6feb"),
        _trend_panel(rows, "rpo", "RPO", _CHART_H + 40, "#9a4dd0"),
    ]
    height = 2 * _CHART_H + 75
    width = _CHART_LEFT + _CHART_W + 20
    return (
        f'<svg id="trend" xmlns="http://www.w3.org/2000/svg" width="{width:g}" '
        f'height="{height:g}" viewBox="0 0 {width:g} {height:g}" role="img" '
        f'aria-label="RTO and RPO of {len(rows)} runs">\n'
        + "\n".join(panels)
        + _run_labels(rows, height - 6)
        + "\n</svg>"
    )


@dataclass(frozen=True)
class _Panel:
    """Where a chart sits: its top edge, the value at its top, how many runs it spans."""

    top: float
    peak: float
    runs: int

    def x(self, index: int) -> float:
        if self.runs < 2:
            return _CHART_LEFT + _CHART_W / 2
        return _CHART_LEFT + index * _CHART_W / (self.runs - 1)

    def y(self, value: float) -> float:
        return self.top + _CHART_H - min(value, self.peak) / self.peak * _CHART_H


def _trend_panel(rows: Sequence[Row], key: str, name: str, top: float, colour: str) -> str:
    values = [_number(r.get(f"{key}_seconds")) for r in rows]
    measured = [v for v in values if v is not None]
    target = _number(rows[-1].get(f"{key}_target")) if rows else None
    peak = max(measured) * 1.15 if measured else (target or 1.0)
    panel = _Panel(top, max(peak, 1.0), len(rows))
    bottom = top + _CHART_H
    parts = [
        f'<text x="4" y="{top + 12:g}" font-weight="600">{name}</text>',
        f'<text x="4" y="{top + 28:g}" font-size="11">top {_h(human_duration(panel.peak))}</text>',
        f'<line x1="{_CHART_LEFT:g}" x2="{_CHART_LEFT + _CHART_W:g}" y1="{bottom:g}" '
        f'y2="{bottom:g}" stroke="#98a2b3"></line>',
        _target_line(panel, target),
    ]
    for segment in _segments(values):
        points = " ".join(f"{panel.x(i):.2f},{panel.y(v):.2f}" for i, v in segment)
        parts.append(
            f'<polyline class="line {key}" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{points}"></polyline>'
        )
    for i, v in enumerate(values):
        if v is not None:
            tip = f"{rows[i].get('run_id')}: {name} {human_duration(v)}"
            parts.append(
                f'<circle class="point {key}" cx="{panel.x(i):.2f}" cy="{panel.y(v):.2f}" '
                f'r="3.5" fill="{colour}"><title>{_h(tip)}</title></circle>'
            )
    return f'<g class="panel" data-measure="{key}">' + "".join(parts) + "</g>"


def _target_line(panel: _Panel, target: float | None) -> str:
    if target is None:
        return ""
    if target > panel.peak:
        return (
            f'<text x="{_CHART_LEFT + _CHART_W:g}" y="{panel.top + 12:g}" text-anchor="end" '
            f'font-size="11" fill="#b42318">target {_h(human_duration(target))}: '
            "above the chart</text>"
        )
    y = panel.y(target)
    return (
        f'<line class="target" x1="{_CHART_LEFT:g}" x2="{_CHART_LEFT + _CHART_W:g}" '
        f'y1="{y:.2f}" y2="{y:.2f}" stroke="#b42318" stroke-dasharray="4 3">'
        f"<title>target {_h(human_duration(target))}</title></line>"
    )


def _run_labels(rows: Sequence[Row], y: float) -> str:
    """The first and the last run's start date under the charts."""
    if not rows:
        return ""
    panel = _Panel(0.0, 1.0, len(rows))
    ends = [(0, "start"), (len(rows) - 1, "end")] if len(rows) > 1 else [(0, "middle")]
    return "".join(
        f'<text x="{panel.x(i):.2f}" y="{y:g}" font-size="11" text-anchor="{anchor}">'
        f"{_h(str(rows[i].get('started') or '')[:10])}</text>"
        for i, anchor in ends
    )


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive measured values, so a missing value breaks the line."""
    segments: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            segments.append([])
        else:
            segments[-1].append((i, v))
    return [s for s in segments if s]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
