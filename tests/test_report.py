"""The drill report: Markdown, HTML (timeline, escaping), history, trend, index, files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from relight.dr.report import (
    SCHEMA,
    history,
    human_duration,
    render_html,
    render_index,
    render_markdown,
    trend,
    write_reports,
)
from relight.errors import RelightError

START = datetime(2026, 11, 22, 6, 15, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & "quoted" | piped'

# (key, start, end, action) in seconds after START; None for a stack that never started.
STACKS: list[tuple[str, float | None, float | None, str]] = [
    ("network", 0.5, 3.0, "created"),
    ("security", 3.0, 4.5, "created"),
    ("db", 3.0, 9.0, "failed"),
    ("web", 4.5, 8.0, "created"),
    ("dns", None, None, "skipped"),
]


def at(seconds: float | None, start: datetime = START) -> str | None:
    return None if seconds is None else (start + timedelta(seconds=seconds)).isoformat()


def make_report(
    *,
    run_id: str = "20261122-061500-ab12",
    started: datetime = START,
    stacks: list[tuple[str, float | None, float | None, str]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A relight.report/1 dict as the drill command writes it, 12.3 s long."""
    rows = []
    for key, begin, end, action in STACKS if stacks is None else stacks:
        status = {"created": "CREATE_COMPLETE", "failed": "CREATE_FAILED"}.get(action, "")
        rows.append(
            {
                "stack": key,
                "name": f"demo-drill-ab12-{key}",
                "action": action,
                "status": status,
                "start": at(begin, started),
                "end": at(end, started),
                "seconds": None if begin is None or end is None else end - begin,
                "depends_on": [],
                "reason": "Resource creation cancelled" if action == "failed" else "",
            }
        )
    phases = [("discover", 0, 0.4), ("preflight", 0.4, 0.5), ("render", 0.5, 0.6)]
    phases += [("deploy", 0.6, 9.0), ("verify", 9.0, 11.0), ("teardown", 11.0, 12.3)]
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run_id": run_id,
        "env": "demo",
        "region": "us-west-2",
        "kind": "drill",
        "namespace": f"drill-{run_id}",
        "stand_in": True,
        "timings_note": "Timings are the local stand-in's (moto), not AWS timings.",
        "started": at(0, started),
        "ended": at(12.3, started),
        "ok": True,
        "rto_seconds": 12.3,
        "rpo_seconds": 11100.0,
        "objectives": {
            "rto_seconds": 3600,
            "rpo_seconds": 86400,
            "rto_met": True,
            "rpo_met": True,
            "enforced": True,
        },
        "phases": [
            {
                "name": n,
                "start": at(a, started),
                "end": at(b, started),
                "seconds": b - a,
                "status": "ok",
            }
            for n, a, b in phases
        ],
        "stacks": rows,
        "artifacts": [
            {
                "name": "web_ami",
                "kind": "ami",
                "id": "ami-1",
                "source_id": "ami-0",
                "source_region": "us-east-1",
                "data_time": at(-11100, started),
                "restored_at": at(1, started),
                "age_seconds": 11100.0,
                "rpo_ok": True,
            }
        ],
        "verification": [
            {"check": "instances running", "stack": "web", "result": "passed", "detail": "3 of 3"},
            {
                "check": "load balancer answers",
                "stack": "web",
                "result": "not simulated locally",
                "detail": "",
            },
        ],
        "teardown": {
            "status": "ok",
            "stacks": [{"name": "demo-drill-ab12-web", "status": "DELETE_COMPLETE", "reason": ""}],
            "left_behind": [],
        },
        "problems": [],
    }
    report.update(overrides)
    return report


def missed_rpo() -> dict[str, Any]:
    return make_report(
        ok=False,
        objectives={
            "rto_seconds": 3600,
            "rpo_seconds": 3600,
            "rto_met": True,
            "rpo_met": False,
            "enforced": True,
        },
    )


# --- a small DOM, enough to select by id and class ------------------------------------------


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    content: list[Node | str] = field(default_factory=list)  # children and text, in order

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.content:
            if isinstance(child, Node):
                yield from child.walk()

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.content]
        return " ".join(" ".join(parts).split())

    def by_id(self, element_id: str) -> Node:
        found = [n for n in self.walk() if n.attrs.get("id") == element_id]
        assert len(found) == 1, f"expected one element with id={element_id}, found {len(found)}"
        return found[0]

    def select(self, tag: str, cls: str | None = None) -> list[Node]:
        return [n for n in self.walk() if n.tag == tag and (cls is None or cls in n.classes)]


_VOID = {"meta", "br", "link", "img", "input", "hr", "col", "source", "wbr", "area", "base"}


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].content.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].content.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].content.append(data)


def parse_html(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_states_each_objective_verdict() -> None:
    text = render_markdown(missed_rpo())
    assert text.startswith("# Drill of demo into us-west-2: FAILED\n")
    assert "| RTO | 1 h | 12.3 s | met |" in text
    assert "| RPO | 1 h | 3 h 5 min | missed |" in text


def test_markdown_calls_an_unenforced_miss_a_warning() -> None:
    report = missed_rpo()
    report["objectives"]["enforced"] = False
    assert "| RPO | 1 h | 3 h 5 min | missed (warning only) |" in render_markdown(report)


def test_markdown_gives_artifact_ages_in_hours_and_minutes() -> None:
    assert "| web_ami | ami | ami-1 | ami-0 (us-east-1) | 3 h 5 min | ok |" in render_markdown(
        make_report()
    )


def test_markdown_lists_verification_teardown_and_problems() -> None:
    report = make_report(problems=["db: CREATE_FAILED"])
    report["teardown"]["left_behind"] = ["demo-drill-ab12-db"]
    text = render_markdown(report)
    assert "| load balancer answers | web | not simulated locally |  |" in text
    assert "Teardown: **ok**" in text
    assert "Left behind: `demo-drill-ab12-db`" in text
    assert "- db: CREATE_FAILED" in text


def test_markdown_says_stand_in_timings_are_not_aws_timings_only_on_the_stand_in() -> None:
    note = "Timings are the local stand-in's (moto), not AWS timings."
    assert note in render_markdown(make_report())
    assert note not in render_markdown(make_report(stand_in=False, timings_note=""))


def test_markdown_keeps_a_hostile_reason_inside_its_table_cell() -> None:
    report = make_report()
    report["stacks"][2]["reason"] = HOSTILE + "\nsecond line"
    line = next(x for x in render_markdown(report).splitlines() if x.startswith("| db |"))
    assert "<script>" not in line
    assert "&lt;script&gt;" in line
    assert "\\| piped second line |" in line
    cells = re.split(r"(?<!\\)\|", line)[1:-1]
    assert len(cells) == 6 and cells[-1].strip().endswith("piped second line")


def _spiked(value: Any, spike: str) -> Any:
    """`value` with `spike` appended to every string in it, however deep."""
    if isinstance(value, str):
        return value + spike
    if isinstance(value, dict):
        return {k: _spiked(v, spike) for k, v in value.items()}
    if isinstance(value, list):
        return [_spiked(v, spike) for v in value]
    return value


def _md_tables(text: str) -> list[list[list[str]]]:
    """Each Markdown table as rows of cells, split at the pipes that are not escaped."""
    tables: list[list[list[str]]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(re.split(r"(?<!\\)\|", line)[1:-1])
        previous = line
    return tables


def test_markdown_tables_keep_their_columns_whatever_the_values_hold() -> None:
    spike = " a|b\nc | d\r\ne|"
    report = _spiked(make_report(problems=["one"]), spike)
    report["teardown"]["left_behind"] = ["x" + spike]
    text = render_markdown(report)
    tables = _md_tables(text)
    # objectives, phases, stacks, artifacts, verification, teardown's stacks
    assert len(tables) == 6
    for table in tables:
        header, rule, *rows = table
        assert set(rule) == {" --- "}
        assert rows and all(len(row) == len(header) for row in rows), table
    assert "demo-drill-ab12-db a\\|b c \\| d e\\|" in text
    assert "- one a\\|b c \\| d e\\|\n" in text  # a problem stays one list item
    assert "Left behind: `x a\\|b c \\| d e\\|`\n" in text


def test_markdown_and_html_show_a_field_the_report_lacks_as_a_dash() -> None:
    report = make_report()
    del report["stacks"][0]["seconds"], report["stacks"][0]["reason"], report["teardown"]
    del report["verification"][0]["detail"], report["problems"]
    text = render_markdown(report)
    assert "| network | demo-drill-ab12-network | created | CREATE_COMPLETE | — | — |" in text
    assert "| instances running | web | passed | — |" in text
    assert "Teardown: **not run**" in text and "Left behind: nothing" in text
    dom = parse_html(render_html(report))
    network = next(tr for tr in dom.by_id("stacks").select("tr") if tr.attrs.get("data-stack"))
    assert [td.text() for td in network.select("td")][-2:] == ["—", "—"]
    assert dom.by_id("teardown").text() == (
        "Teardown Status: not run Left behind: nothing Deleted (what the drill made: its "
        "databases' final snapshots, data volumes, failback copies): nothing"
    )
    assert dom.by_id("problems").text() == "Problems None."


# --- HTML -----------------------------------------------------------------------------------


def test_html_summary_shows_the_verdict_in_words_and_colour() -> None:
    ok = parse_html(render_html(make_report())).by_id("summary")
    failed = parse_html(render_html(missed_rpo())).by_id("summary")
    assert [(s.text(), "ok" in s.classes) for s in ok.select("span", "verdict")] == [("OK", True)]
    assert [(s.text(), "failed" in s.classes) for s in failed.select("span", "verdict")] == [
        ("FAILED", True)
    ]


def test_html_objectives_say_met_or_missed_and_are_coloured_to_match() -> None:
    objectives = parse_html(render_html(missed_rpo())).by_id("objectives")
    cards = {n.attrs["data-objective"]: n for n in objectives.select("div", "objective")}
    assert cards["rto"].text().startswith("RTO met")
    assert "ok" in cards["rto"].classes
    assert cards["rpo"].text().startswith("RPO missed")
    assert "failed" in cards["rpo"].classes


def test_html_objective_not_measured_is_neither_met_nor_missed() -> None:
    report = make_report(rto_seconds=None)
    report["objectives"]["rto_met"] = None
    objectives = parse_html(render_html(report)).by_id("objectives")
    rto = next(
        n for n in objectives.select("div", "objective") if n.attrs["data-objective"] == "rto"
    )
    assert rto.text().startswith("RTO not measured")
    assert "na" in rto.classes


def test_html_marks_an_unenforced_miss_as_a_warning() -> None:
    report = missed_rpo()
    report["objectives"]["enforced"] = False
    objectives = parse_html(render_html(report)).by_id("objectives")
    rpo = objectives.select("div", "objective")[1]
    assert rpo.text().startswith("RPO missed (warning only)")
    assert "warn" in rpo.classes
    assert "a miss is a warning" in objectives.text()


def _bars(html: str) -> tuple[dict[str, Node], float, float, float]:
    timeline = parse_html(html).by_id("timeline")
    axis = timeline.select("line", "axis")[0]
    x1, x2 = float(axis.attrs["x1"]), float(axis.attrs["x2"])
    bars = {g.attrs["data-stack"]: g for g in timeline.select("g", "bar")}
    return bars, x1, x2, float(axis.attrs["data-seconds"])


def test_every_stack_gets_a_bar_placed_by_its_start_and_end() -> None:
    bars, x1, x2, span = _bars(render_html(make_report()))
    assert list(bars) == [key for key, *_ in STACKS]
    assert span == pytest.approx(12.3)
    for key, begin, end, _ in STACKS:
        rects = bars[key].select("rect")
        if begin is None or end is None:
            assert rects == []
            assert "not started" in bars[key].text()
            continue
        (rect,) = rects
        assert float(rect.attrs["x"]) == pytest.approx(x1 + begin / span * (x2 - x1), abs=0.01)
        assert float(rect.attrs["width"]) == pytest.approx(
            (end - begin) / span * (x2 - x1), abs=0.01
        )


def test_bars_are_coloured_by_what_happened_to_the_stack() -> None:
    bars, *_ = _bars(render_html(make_report()))
    assert {key: {"ok", "failed", "skipped"} & g.classes for key, g in bars.items()} == {
        "network": {"ok"},
        "security": {"ok"},
        "db": {"failed"},
        "web": {"ok"},
        "dns": {"skipped"},
    }


def test_timeline_axis_stretches_to_a_stack_that_ended_after_the_run() -> None:
    report = make_report(stacks=[("slow", 2.0, 20.0, "created")])
    bars, _, x2, span = _bars(render_html(report))
    assert span == pytest.approx(20.0)
    rect = bars["slow"].select("rect")[0]
    assert float(rect.attrs["x"]) + float(rect.attrs["width"]) == pytest.approx(x2, abs=0.01)


@pytest.mark.parametrize(
    ("seconds", "labels"),
    [(12.3, ["0 s", "2 s", "4 s", "6 s", "8 s", "10 s", "12 s"]), (1800.0, ["0 min", "5 min"])],
)
def test_timeline_ticks_are_in_seconds_or_minutes(seconds: float, labels: list[str]) -> None:
    report = make_report(ended=at(seconds), stacks=[])
    ticks = parse_html(render_html(report)).by_id("timeline").select("g", "tick")
    texts = [t.text() for t in ticks]
    assert texts[: len(labels)] == labels


def test_html_escapes_every_hostile_value() -> None:
    report = make_report()
    report["stacks"][2]["reason"] = HOSTILE
    report["stacks"][0]["stack"] = '"><img src=x onerror=alert(1)>'
    report["verification"][0]["detail"] = HOSTILE
    report["problems"] = [HOSTILE]
    html = render_html(report)
    dom = parse_html(html)
    assert dom.select("script") == [] and dom.select("img") == []
    assert "<script>" not in html
    db = next(tr for tr in dom.by_id("stacks").select("tr") if tr.attrs.get("data-stack") == "db")
    assert HOSTILE in db.text()
    assert HOSTILE in dom.by_id("verification").text()
    bars, *_ = _bars(html)
    assert '"><img src=x onerror=alert(1)>' in bars


# Markup an AWS message could carry: a script, and the end of the SVG a bar's tooltip sits in.
MARKUP = [
    "<script>alert(1)</script>",
    "</title></g></svg><script>alert(1)</script>",
    '</svg><img src=x onerror="alert(1)">',
]


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_in_a_stack_reason_or_check_detail_is_text_in_report_html(markup: str) -> None:
    report = make_report()
    report["stacks"][2]["reason"] = f"CREATE_FAILED: {markup}"  # db: in the table and its bar
    report["verification"][0]["detail"] = markup
    report["teardown"]["stacks"][0]["reason"] = markup
    html = render_html(report)
    assert markup not in html
    assert html.count("<svg") == html.count("</svg>") == 1
    dom = parse_html(html)
    assert dom.select("script") == [] and dom.select("img") == []
    bars, *_ = _bars(html)
    assert list(bars) == [key for key, *_ in STACKS], "the timeline kept every bar"
    (title,) = bars["db"].select("title")
    assert title.text() == f"db: failed CREATE_FAILED, 6.0 s (CREATE_FAILED: {markup})"
    db = next(tr for tr in dom.by_id("stacks").select("tr") if tr.attrs.get("data-stack") == "db")
    assert db.select("td")[-1].text() == f"CREATE_FAILED: {markup}"
    assert dom.by_id("verification").select("tr")[1].select("td")[-1].text() == markup
    assert markup in dom.by_id("teardown").text()


@pytest.mark.parametrize("markup", MARKUP)
def test_markup_in_a_report_json_is_text_in_index_html(tmp_path: Path, markup: str) -> None:
    _write_run(tmp_path, "run-1", 0, rto_seconds=30.0)
    # A report.json edited by hand (or written by a broken tool): history reads it as it is.
    run_2 = make_report(run_id=markup, kind=markup, started=START + timedelta(minutes=60))
    (tmp_path / "demo" / "run-2").mkdir()
    (tmp_path / "demo" / "run-2" / "report.json").write_text(json.dumps(run_2))
    (tmp_path / "demo" / "other").mkdir()
    (tmp_path / "demo" / "other" / "report.json").write_text(json.dumps({"schema": markup}))

    html = render_index("demo", history(tmp_path, "demo"))

    assert markup not in html
    assert html.count("<svg") == html.count("</svg>") == 1
    dom = parse_html(html)
    assert dom.select("script") == [] and dom.select("img") == []
    row = next(tr for tr in dom.by_id("runs").select("tr") if tr.attrs.get("data-run") == markup)
    assert [td.text() for td in row.select("td")][:3] == [markup, at(3600), markup]
    assert row.select("a")[0].attrs["href"] == "run-2/report.html"
    assert markup in dom.by_id("runs").select("tr", "unreadable")[0].text()
    points = dom.by_id("trend").select("circle", "rto")
    assert [p.select("title")[0].text() for p in points] == [
        "run-1: RTO 30.0 s",
        f"{markup}: RTO 12.3 s",
    ]


def test_html_shows_the_stand_in_notice_only_for_stand_in_runs() -> None:
    notice = parse_html(render_html(make_report())).by_id("stand-in")
    assert notice.text() == "Timings are the local stand-in's (moto), not AWS timings."
    aws = parse_html(render_html(make_report(stand_in=False, timings_note="")))
    assert not [n for n in aws.walk() if n.attrs.get("id") == "stand-in"]


def test_html_lists_artifact_ages_and_verification_results() -> None:
    dom = parse_html(render_html(make_report()))
    assert "3 h 5 min" in dom.by_id("artifacts").text()
    results = {
        tr.select("td")[0].text(): tr.select("td")[2]
        for tr in dom.by_id("verification").select("tr")
        if tr.select("td")
    }
    assert results["instances running"].text() == "passed"
    assert "ok" in results["instances running"].classes
    assert results["load balancer answers"].text() == "not simulated locally"


def test_html_is_self_contained() -> None:
    html = render_html(make_report())
    dom = parse_html(html)
    assert dom.select("script") == [] and dom.select("link") == [] and dom.select("img") == []
    assert "url(" not in html and "@import" not in html
    assert html.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http") == 0


# --- history, trend, index ------------------------------------------------------------------


def _write_run(reports: Path, run_id: str, minutes: int, **overrides: Any) -> None:
    report = make_report(run_id=run_id, started=START + timedelta(minutes=minutes), **overrides)
    write_reports(report, reports)


def test_history_orders_runs_by_start_time_and_reports_unreadable_files(tmp_path: Path) -> None:
    _write_run(tmp_path, "c-first", 0, rto_seconds=30.0)
    _write_run(tmp_path, "a-third", 120, rto_seconds=10.0, ok=False)
    _write_run(tmp_path, "b-second", 60, rto_seconds=20.0)
    (tmp_path / "demo" / "broken").mkdir()
    (tmp_path / "demo" / "broken" / "report.json").write_text("{not json")
    (tmp_path / "demo" / "foreign").mkdir()
    (tmp_path / "demo" / "foreign" / "report.json").write_text('{"schema": "other/2"}')

    rows = history(tmp_path, "demo")

    assert [r["run_id"] for r in rows] == ["c-first", "b-second", "a-third", "broken", "foreign"]
    assert [r["rto_seconds"] for r in rows[:3]] == [30.0, 20.0, 10.0]
    assert rows[2]["ok"] is False and rows[0]["objectives_met"] is True
    assert rows[0]["href"] == "c-first/report.html"
    assert [r["error"] is None for r in rows] == [True, True, True, False, False]
    assert "cannot be read as JSON" in rows[3]["error"]
    assert "not a relight.report/1 report" in rows[4]["error"]


@pytest.mark.parametrize(
    ("rto_met", "rpo_met", "expected"),
    [(True, True, True), (True, False, False), (None, False, False), (None, True, None)],
)
def test_history_says_objectives_met_only_when_both_were_measured_and_met(
    tmp_path: Path, rto_met: bool | None, rpo_met: bool | None, expected: bool | None
) -> None:
    report = make_report()
    report["objectives"].update(rto_met=rto_met, rpo_met=rpo_met)
    write_reports(report, tmp_path)
    assert history(tmp_path, "demo")[0]["objectives_met"] is expected


def test_history_of_an_env_without_runs_is_empty(tmp_path: Path) -> None:
    assert history(tmp_path, "demo") == []


def _rows(*rtos: float | None, stand_in: bool = True) -> list[dict[str, Any]]:
    return [{"rto_seconds": r, "stand_in": stand_in, "error": None} for r in rtos]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], "not enough drills"),
        (_rows(60.0), "not enough drills"),
        (_rows(60.0, 100.0, 80.0, 50.0), "better"),
        (_rows(60.0, 100.0, 80.0, 95.0), "worse"),
        (_rows(60.0, 100.0, 80.0, 85.0), "steady"),
        (_rows(60.0, 80.0, None), "worse"),
        (_rows(None, None, 50.0), "not enough drills"),
        (_rows(60.0, 80.0, stand_in=False) + _rows(500.0), "not enough drills"),
        ([*_rows(60.0, 63.0), {"error": "broken", "rto_seconds": None}], "steady"),
    ],
    ids=[
        "none",
        "one",
        "faster-than-median",
        "slower-than-median",
        "within-tolerance",
        "latest-never-verified",
        "no-earlier-rto",
        "aws-and-stand-in-not-compared",
        "unreadable-ignored",
    ],
)
def test_trend_compares_latest_rto_with_median_of_earlier(
    rows: list[dict[str, Any]], expected: str
) -> None:
    assert trend(rows) == expected


def test_index_links_every_run_and_charts_rto_and_rpo(tmp_path: Path) -> None:
    _write_run(tmp_path, "run-1", 0, rto_seconds=30.0)
    _write_run(tmp_path, "run-2", 60, rto_seconds=None, ok=False)
    _write_run(tmp_path, "run-3", 120, rto_seconds=10.0)
    (tmp_path / "demo" / "broken").mkdir()
    (tmp_path / "demo" / "broken" / "report.json").write_text("[]")

    dom = parse_html(render_index("demo", history(tmp_path, "demo")))

    links = [a.attrs["href"] for a in dom.by_id("runs").select("a")]
    assert links == ["run-1/report.html", "run-2/report.html", "run-3/report.html"]
    assert "unreadable" in dom.by_id("runs").select("tr", "unreadable")[0].text()
    chart = dom.by_id("trend")
    assert len(chart.select("circle", "rto")) == 2  # run-2 never verified: a gap, not a zero
    assert len(chart.select("circle", "rpo")) == 3
    assert len(chart.select("polyline", "rto")) == 2
    assert dom.by_id("trend-word").text() == "better"


# --- files ----------------------------------------------------------------------------------


def test_write_reports_writes_json_markdown_html_and_the_index(tmp_path: Path) -> None:
    report = make_report()
    paths = write_reports(report, tmp_path / "reports")
    run_dir = tmp_path / "reports" / "demo" / "20261122-061500-ab12"
    assert paths == [
        run_dir / "report.json",
        run_dir / "report.md",
        run_dir / "report.html",
        tmp_path / "reports" / "demo" / "index.html",
    ]
    assert json.loads(paths[0].read_text()) == report
    assert paths[1].read_text() == render_markdown(report)
    assert paths[2].read_text() == render_html(report)
    assert 'href="20261122-061500-ab12/report.html"' in paths[3].read_text()
    assert sorted(p.name for p in run_dir.iterdir()) == ["report.html", "report.json", "report.md"]


@pytest.mark.parametrize("run_id", ["../escape", "a/b", "", None])
def test_write_reports_refuses_a_run_id_that_is_not_a_directory_name(
    tmp_path: Path, run_id: str | None
) -> None:
    with pytest.raises(RelightError, match="run_id"):
        write_reports(make_report() | {"run_id": run_id}, tmp_path / "reports")
    assert not (tmp_path / "escape").exists()
    assert not (tmp_path / "reports").exists()


def test_write_reports_refuses_another_schema(tmp_path: Path) -> None:
    with pytest.raises(RelightError, match=r"relight\.report/1"):
        write_reports(make_report(schema="relight.report/0"), tmp_path)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0.4, "0.4 s"),
        (42.0, "42.0 s"),
        (200.0, "3 min 20 s"),
        (11100.0, "3 h 5 min"),
        (3600.0, "1 h"),
        (187200.0, "2 d 4 h"),
    ],
)
def test_human_duration(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


def test_every_action_the_deploy_engine_counts_as_done_is_green_in_html() -> None:
    from relight.steps.deploy import OK_ACTIONS

    for action in sorted(OK_ACTIONS):  # "retried" too: a stack continued after a failure
        report = make_report()
        report["stacks"][0]["action"] = action
        dom = parse_html(render_html(report))
        row = next(tr for tr in dom.by_id("stacks").select("tr") if tr.attrs.get("data-stack"))
        status = row.select("td")[2]
        assert "ok" in status.classes and "failed" not in status.classes, action
        assert f'class="bar ok" data-stack="{report["stacks"][0]["stack"]}"' in render_html(report)
