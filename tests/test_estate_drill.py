"""The estate drill: each environment's drill on its own namespace, in its own account, as soon
as its predecessors verified; a failed one stops exactly its dependents, which build nothing
(so nothing of theirs needs tearing down); one estate report says what happened.

The environments' drills are played by a fake (`drill=`), which records what it was asked
to do; the real drill on the stand-in is test_estate_drill_e2e.py's."""

from __future__ import annotations

import json
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import REPO
from relight import standin
from relight.aws.clients import Aws, AwsTarget
from relight.cli import app
from relight.commands.connection import Connection
from relight.dr.report import write_reports
from relight.estate.drill import (
    DrillSettings,
    EstateDrillInterrupted,
    drill_estate,
    drill_line,
    outage_for,
)
from relight.model.config import LoadedEnvironment
from relight.model.estate import LoadedEstate, load_estate
from test_report import make_report

RUN = "20261207-090000-ab12"


@pytest.fixture(scope="module")
def estate() -> LoadedEstate:
    return load_estate(str(REPO / "estates" / "demo.yaml"), "us-west-2")


def fake_connect(estate: LoadedEstate, name: str, region: str, **_: Any) -> Connection:
    """The environment's connection, in its account (nothing is called through it)."""
    return Connection(Aws(AwsTarget()), region, estate.access(name).id)


class FakeDrill:
    """`commands.drill.drill` as the estate drives it: a report per environment, verified
    unless its name is in `fail`, missing its RTO when in `slow`; every call recorded."""

    def __init__(self, fail: Collection[str] = (), slow: Collection[str] = ()) -> None:
        self.fail, self.slow = fail, slow
        self.calls: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(
        self, loaded: LoadedEnvironment, conn: Connection, **options: Any
    ) -> tuple[dict[str, Any], list[Path]]:
        name = loaded.env.name
        with self.lock:
            self.calls.append({"env": name, "account": conn.account_id, **options})
        report = make_report(run_id=options["drill_id"], env=name)
        if name in self.fail:
            report.update(
                ok=False,
                rto_seconds=None,
                problems=["deploy: network: Resource creation cancelled"],
            )
            report["teardown"]["status"] = "ok"  # the drill tore down what it built
        if name in self.slow:
            report["ok"] = False
            report["rto_seconds"] = 4000.0
            report["objectives"] = report["objectives"] | {"rto_met": False}
        return report, write_reports(report, options["reports_dir"])


def _drill(estate: LoadedEstate, tmp_path: Path, fake: FakeDrill, **settings: Any) -> Any:
    lines: list[str] = []
    result = drill_estate(
        estate,
        "us-west-2",
        DrillSettings(drill_id=RUN, reports_dir=tmp_path, **settings),
        connect=fake_connect,
        drill=fake,
        on_progress=lines.append,
    )
    return result, lines


def test_each_environment_is_drilled_once_in_its_own_account_under_one_drill_id(
    estate: LoadedEstate, tmp_path: Path
) -> None:
    fake = FakeDrill()
    result, _ = _drill(estate, tmp_path, fake)
    assert result.ok, result.report
    called = {c["env"]: c for c in fake.calls}
    assert sorted(called) == ["demo", "shared", "storefront"]
    assert called["storefront"]["account"] == "210987654321"
    assert called["demo"]["account"] == "123456789012"
    assert {c["drill_id"] for c in fake.calls} == {RUN}
    assert all(c["reports_dir"] == tmp_path for c in fake.calls)
    assert fake.calls[0]["env"] == "shared", "shared services first: the others come after it"
    assert {o.state for o in result.run.outcomes.values()} == {"verified"}
    assert result.paths[1] == tmp_path / "estates" / "demo" / f"{RUN}.html"
    written = json.loads(result.paths[0].read_text())
    assert written["ok"] is True and written["rto_path"][0] == "shared"


def test_a_failed_environment_stops_exactly_its_dependents_which_build_nothing(
    estate: LoadedEstate, tmp_path: Path
) -> None:
    fake = FakeDrill(fail={"shared"})
    result, _ = _drill(estate, tmp_path, fake)
    assert not result.ok
    assert [c["env"] for c in fake.calls] == ["shared"], "demo and storefront never started"
    states = {o.name: (o.state, o.stopped_by) for o in result.run.outcomes.values()}
    assert states == {
        "shared": ("failed", None), "demo": ("stopped", "shared"),
        "storefront": ("stopped", "shared"),
    }  # fmt: skip
    rows = {e["name"]: e for e in result.report["environments"]}
    assert rows["demo"]["teardown"] == "nothing built"
    assert rows["shared"]["teardown"] == "ok"
    assert rows["shared"]["line"].startswith(
        "not verified: deploy: network: Resource creation cancelled"
    )
    assert result.report["continue_command"]
    assert "shared" in result.report["continue_command"]


def test_a_leaf_that_fails_stops_nothing_else(estate: LoadedEstate, tmp_path: Path) -> None:
    fake = FakeDrill(fail={"storefront"})
    result, _ = _drill(estate, tmp_path, fake)
    states = {o.name: o.state for o in result.run.outcomes.values()}
    assert states == {"shared": "verified", "demo": "verified", "storefront": "failed"}
    assert not result.ok


def test_a_drill_that_verified_but_missed_its_rto_lets_dependents_go_and_fails_the_estate(
    estate: LoadedEstate, tmp_path: Path
) -> None:
    fake = FakeDrill(slow={"shared"})
    result, _ = _drill(estate, tmp_path, fake)
    assert sorted(c["env"] for c in fake.calls) == ["demo", "shared", "storefront"]
    assert result.run.outcomes["shared"].state == "verified"
    assert "RTO 1 h 6 min (objective 1 h, MISSED)" in result.run.outcomes["shared"].line
    assert not result.ok, "the estate drill fails when one environment's drill did"
    assert result.report["objectives"]["rto_met"] is True, "the estate's 2 h objective is met"


def test_the_outage_rehearsed_is_each_environments_home_region_with_home(
    estate: LoadedEstate, tmp_path: Path
) -> None:
    fake = FakeDrill()
    _drill(estate, tmp_path, fake, outage="home", strategy="pilot_light")
    homes = {name: loaded.env.home_region for name, loaded in estate.envs.items()}
    assert {c["env"]: c["outage"] for c in fake.calls} == homes
    assert {c["strategy"] for c in fake.calls} == {"pilot_light"}
    assert outage_for("eu-west-1", "us-east-1") == "eu-west-1"
    assert outage_for(None, "us-east-1") is None


def test_one_line_says_what_a_drill_did_against_its_objectives() -> None:
    line = drill_line(make_report())
    assert line == (
        "verified; RTO 12.3 s (objective 1 h, met); RPO 3 h 5 min (objective 1 d, met); teardown ok"
    )
    failed = make_report(ok=False, rto_seconds=None, problems=["verify: web: instances running"])
    failed["objectives"]["rto_met"] = None
    failed["teardown"]["left_behind"] = ["demo-drill-ab12-web"]
    assert drill_line(failed).startswith("not verified: verify: web: instances running; RTO —")
    assert drill_line(failed).endswith("teardown ok, left behind: demo-drill-ab12-web")


# bad input: exit 2, one message naming the option, nothing drilled (no stand-in started) -------


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--outage", "us-west-2"], "--outage us-west-2 is the region the drill rebuilds in"),
        (["--outage", "moon-1"], "--outage: "),
        (["--drill-id", "Not_OK"], "--drill-id 'Not_OK': use 1-34 lowercase letters"),
        (["--only", "nope"], "--only nope: not an environment of estate demo"),
        (["--only", "demo"], "--only demo: what comes first is not verified in this region: "
                             "shared (before demo)"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_anything_is_drilled(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    monkeypatch.chdir(REPO)
    reports = tmp_path / "reports"
    result = CliRunner().invoke(
        app,
        ["estate", "drill", "--estate", "demo", "--region", "us-west-2",
         "--reports", str(reports), *args],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.output.split())
    assert standin.find(state_dir) is None, "no stand-in was started"
    assert not reports.exists(), "no report: nothing ran"


def test_only_goes_on_from_what_this_drill_ids_earlier_run_verified(
    estate: LoadedEstate, tmp_path: Path
) -> None:
    fake = FakeDrill(fail={"storefront"})
    _drill(estate, tmp_path, fake)
    again = FakeDrill()
    result = drill_estate(
        estate,
        "us-west-2",
        DrillSettings(drill_id=RUN, reports_dir=tmp_path),
        only=["storefront"],
        connect=fake_connect,
        drill=again,
    )
    assert [c["env"] for c in again.calls] == ["storefront"]
    assert result.ok, "shared verified in the first run: storefront may go on"
    assert result.report["rto_seconds"] is None, "not every environment ran in this run"


def test_ctrl_c_still_writes_the_estate_report_and_says_how_to_continue(
    estate: LoadedEstate, tmp_path: Path
) -> None:
    class Interrupted(FakeDrill):
        def __call__(
            self, loaded: LoadedEnvironment, conn: Connection, **options: Any
        ) -> tuple[dict[str, Any], list[Path]]:
            super().__call__(loaded, conn, **options)  # its drill tore down and wrote its report
            raise KeyboardInterrupt

    with pytest.raises(EstateDrillInterrupted) as stopped:
        _drill(estate, tmp_path, Interrupted())
    html, index = stopped.value.paths[1], stopped.value.paths[2]
    assert html == tmp_path / "estates" / "demo" / f"{RUN}.html" and index.exists()
    report = json.loads(stopped.value.paths[0].read_text())
    assert report["ok"] is False
    assert stopped.value.run.continue_command() == (
        "relight estate drill --estate demo --region us-west-2 --only shared,demo,storefront "
        f"--drill-id {RUN} --reports {tmp_path}"
    )
