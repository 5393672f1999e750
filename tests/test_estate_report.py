"""The estate report: its JSON and the page people read (a timeline per environment, the
estate's RTO against its objective, the slowest path, each environment's report linked, and
why the stopped ones never ran), parsed back and checked value by value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO
from relight.estate.report import (
    EnvDrill,
    build_estate_report,
    render_estate_html,
    write_estate_report,
)
from relight.estate.run import EnvOutcome, EstateRun
from relight.model.estate import LoadedEstate, load_estate
from test_report import make_report, parse_html

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
RUN = "20261207-090000-ab12"


@pytest.fixture(scope="module")
def estate() -> LoadedEstate:
    return load_estate(str(REPO / "estates" / "demo.yaml"), "us-west-2")


def _drilled(env: str, begin: float, rto: float | None, rpo: float = 600.0) -> EnvDrill:
    """A relight.report/1 dict for `env`'s drill started `begin` s into the estate's run."""
    report = make_report(run_id=RUN, started=START + timedelta(seconds=begin))
    verified = rto is not None
    report.update(
        env=env,
        ok=verified,
        rto_seconds=rto,
        rpo_seconds=rpo,
        objectives={
            "rto_seconds": 3600, "rpo_seconds": 14400, "rto_met": True if verified else None,
            "rpo_met": True, "enforced": True,
        },
    )  # fmt: skip
    if not verified:
        report["problems"] = ["deploy: network: Resource creation cancelled"]
    return EnvDrill(report, [])


def _outcome(
    name: str, state: str, begin: float | None, end: float | None, **more: Any
) -> EnvOutcome:
    wave = 0 if name == "shared" else 1
    account = "shop" if name == "storefront" else "platform"
    return EnvOutcome(
        name=name, state=state, wave=wave, account=account,  # type: ignore[arg-type]  # state: a str the tests name, the Literal at run time
        started=at(begin), ended=at(end),
        seconds=None if begin is None or end is None else end - begin,
        line=more.pop("line", f"{name}: {state}"), **more,
    )  # fmt: skip


def at(seconds: float | None) -> datetime | None:
    return None if seconds is None else START + timedelta(seconds=seconds)


def _run(*outcomes: EnvOutcome, end: float = 40.0) -> EstateRun:
    return EstateRun(
        estate="demo", region="us-west-2", command="drill",
        outcomes={o.name: o for o in outcomes},
        started=START, ended=START + timedelta(seconds=end),
        peaks={("123456789012", "us-west-2"): 3, ("210987654321", "us-west-2"): 2},
    )  # fmt: skip


def all_verified() -> EstateRun:
    return _run(
        _outcome("shared", "verified", 0, 10, result=_drilled("shared", 0, 8.0)),
        _outcome("demo", "verified", 10, 40, result=_drilled("demo", 10, 25.0, rpo=1200.0)),
        _outcome("storefront", "verified", 10, 25, result=_drilled("storefront", 10, 12.0)),
    )


def shared_failed() -> EstateRun:
    why = "after shared, which failed"
    return _run(
        _outcome("shared", "failed", 0, 10, result=_drilled("shared", 0, None),
                 line="not verified: deploy: network: Resource creation cancelled",
                 error="deploy: network: Resource creation cancelled"),
        _outcome("demo", "stopped", None, None, line=why, stopped_by="shared"),
        _outcome("storefront", "stopped", None, None, line=why, stopped_by="shared"),
        end=10.0,
    )  # fmt: skip


def test_the_estate_rto_is_the_longest_chain_of_the_environments_rtos(
    estate: LoadedEstate,
) -> None:
    report = build_estate_report(estate, all_verified(), run_id=RUN)
    assert report["ok"] is True
    assert report["rto_seconds"] == 33.0, (
        "shared 8 s, then demo 25 s (storefront's 12 s is shorter)"
    )
    assert report["rto_path"] == ["shared", "demo"]
    assert report["objectives"] == {"rto_seconds": 7200.0, "rto_met": True, "enforced": True}
    assert report["wall_seconds"] == 21.0, "demo verified at the end of its verify phase, 10 + 11 s"
    assert report["slowest_path"]["environments"] == ["shared", "demo"]
    rows = {e["name"]: e for e in report["environments"]}
    assert rows["storefront"]["account_id"] == "210987654321"
    assert rows["demo"]["rpo_seconds"] == 1200.0
    assert rows["demo"]["report"] == f"../../demo/{RUN}/report.html"
    assert rows["demo"]["on_slowest_path"] and not rows["storefront"]["on_slowest_path"]


def test_a_missed_estate_objective_fails_the_drill_unless_it_is_a_warning(
    estate: LoadedEstate,
) -> None:
    slow = all_verified()
    slow.outcomes["demo"].result.report["rto_seconds"] = 7300.0
    assert build_estate_report(estate, slow, run_id=RUN)["ok"] is False
    warned = build_estate_report(estate, slow, run_id=RUN, enforce_objectives=False)
    assert warned["ok"] is True and warned["objectives"]["rto_met"] is False


def test_the_page_draws_one_bar_per_environment_on_one_axis_and_outlines_the_slowest_path(
    estate: LoadedEstate,
) -> None:
    page = parse_html(render_estate_html(build_estate_report(estate, all_verified(), run_id=RUN)))
    svg = page.by_id("timeline").select("svg")[0]
    assert svg.attrs["data-span-seconds"] == "40"
    bars = {g.attrs["data-env"]: g for g in svg.select("g", "bar")}
    assert list(bars) == ["shared", "demo", "storefront"]
    assert all("ok" in g.classes for g in bars.values())
    assert {n for n, g in bars.items() if "path" in g.classes} == {"shared", "demo"}
    rects = {n: g.select("rect")[0] for n, g in bars.items()}
    # left 180 px, plot 760 px over 40 s: demo from 10 s to 40 s
    assert float(rects["demo"].attrs["x"]) == pytest.approx(180 + 760 * 10 / 40)
    assert float(rects["demo"].attrs["width"]) == pytest.approx(760 * 30 / 40)
    assert float(rects["shared"].attrs["x"]) == pytest.approx(180)
    assert len(bars["demo"].select("line", "verified")) == 1
    box = page.by_id("objectives").select("div", "objective")[0]
    assert "ok" in box.classes
    assert box.text() == "RTO met measured 33.0 s · target 2 h"
    assert page.by_id("rto-path").text() == "shared → demo"
    assert page.by_id("stand-in").text().startswith("Timings are the local stand-in's")
    links = {a.attrs["href"] for a in page.by_id("environments").select("a")}
    assert links == {f"../../{env}/{RUN}/report.html" for env in ("shared", "demo", "storefront")}
    row = next(r for r in page.select("tr") if r.attrs.get("data-env") == "demo")
    assert "20 min" in row.text(), "demo's RPO"


def test_the_page_says_why_the_stopped_environments_never_ran(estate: LoadedEstate) -> None:
    report = build_estate_report(estate, shared_failed(), run_id=RUN)
    assert report["ok"] is False and report["rto_seconds"] is None
    assert report["rto_not_measured"] == (
        "not every environment verified in this run: shared, demo, storefront"
    )
    page = parse_html(render_estate_html(report))
    assert "failed" in page.select("span", "verdict")[0].classes
    bars = {g.attrs["data-env"]: g for g in page.by_id("timeline").select("g", "bar")}
    assert "failed" in bars["shared"].classes and bars["shared"].select("rect")
    for name in ("demo", "storefront"):
        assert "skipped" in bars[name].classes and not bars[name].select("rect")
        assert bars[name].text().endswith("stopped: after shared, which failed")
    stopped = {
        r.attrs["data-env"]: r.text()
        for r in page.by_id("stopped").select("tr")
        if "data-env" in r.attrs
    }
    assert stopped["shared"] == "shared failed deploy: network: Resource creation cancelled"
    assert stopped["demo"] == (
        "demo stopped after shared, which failed: never started, nothing built, nothing to "
        "tear down"
    )
    assert "not measured" in page.by_id("objectives").select("div", "objective")[0].text()


def test_the_report_and_its_index_are_written_beside_the_environments_reports(
    estate: LoadedEstate, tmp_path: Path
) -> None:
    first = build_estate_report(estate, shared_failed(), run_id="20261207-080000-aaaa")
    first["started"] = (START - timedelta(hours=1)).isoformat()
    write_estate_report(first, tmp_path)
    paths = write_estate_report(build_estate_report(estate, all_verified(), run_id=RUN), tmp_path)
    folder = tmp_path / "estates" / "demo"
    assert paths == [folder / f"{RUN}.json", folder / f"{RUN}.html", folder / "index.html"]
    assert json.loads(paths[0].read_text())["schema"] == "relight.estate-report/1"
    index = parse_html(paths[2].read_text())
    runs = [r for r in index.select("tr") if "data-run" in r.attrs]
    assert [r.attrs["data-run"] for r in runs] == ["20261207-080000-aaaa", RUN]
    assert "FAILED" in runs[0].text() and "0 of 3" in runs[0].text()
    assert "OK" in runs[1].text() and "3 of 3" in runs[1].text() and "met" in runs[1].text()
    assert runs[1].select("a")[0].attrs["href"] == f"{RUN}.html"


def test_hostile_text_in_a_line_is_text_on_the_page(estate: LoadedEstate) -> None:
    run = shared_failed()
    run.outcomes["shared"].error = "<script>alert(1)</script>"
    html = render_estate_html(build_estate_report(estate, run, run_id=RUN))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_page_needs_nothing_from_the_network(estate: LoadedEstate) -> None:
    html = render_estate_html(build_estate_report(estate, all_verified(), run_id=RUN))
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html and "<link" not in html


def test_a_continued_run_keeps_the_earlier_report_of_its_run_id(
    estate: LoadedEstate, tmp_path: Path
) -> None:
    first = write_estate_report(build_estate_report(estate, shared_failed(), run_id=RUN), tmp_path)
    again = write_estate_report(build_estate_report(estate, all_verified(), run_id=RUN), tmp_path)
    assert first[0].name == f"{RUN}.json" and again[0].name == f"{RUN}-2.json"
    assert json.loads(first[0].read_text())["ok"] is False, "the first run's report is kept"
    index = parse_html(again[2].read_text())
    hrefs = [a.attrs["href"] for a in index.by_id("runs").select("a")]
    assert sorted(hrefs) == [f"{RUN}-2.html", f"{RUN}.html"]
