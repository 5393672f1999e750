"""`relight estate failover`: what the operator sees before and after the run, and when it is
refused (exit 2, nothing run). The environments' failovers are faked here (the connection and
`commands.failover.failover`); test_estate_failover_e2e.py runs them on the stand-in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from relight.cli import app
from relight.errors import DeployError
from test_estate_file import GOOD, estate_dir  # noqa: F401  (the fixture)


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["estate", "failover", *args])


def _fake_result(env: str, ok: bool, reason: str = "") -> Any:
    stacks = {
        "network": SimpleNamespace(name=f"{env}-network", action="created", reason=""),
        "web": SimpleNamespace(
            name=f"{env}-web", action="created" if ok else "failed", reason=reason
        ),
    }
    checks = [SimpleNamespace(check="instances running", result="passed", detail="")]
    return SimpleNamespace(ok=ok, outcome=SimpleNamespace(results=stacks), checks=checks)


@pytest.fixture
def faked(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], list[str]]:
    """Fake each environment's connection and failover; `fails` maps an environment to the
    reason its web stack fails. Returns the environments failed over, in order."""

    def install(fails: dict[str, str]) -> list[str]:
        ran: list[str] = []

        def connect(estate: Any, name: str, region: str, **kw: Any) -> Any:
            kw["budgets"].for_(estate.access(name).id, region)
            return SimpleNamespace(env=name)

        def failover(plan: Any, conn: Any, **kw: Any) -> Any:
            ran.append(conn.env)
            assert kw["confirm"] is None, "the estate asked once for all of them"
            kw["on_progress"]("deploying")
            if conn.env in fails:
                return _fake_result(conn.env, False, fails[conn.env])
            return _fake_result(conn.env, True)

        monkeypatch.setattr("relight.estate.accounts.connect_env", connect)
        monkeypatch.setattr("relight.estate.failover.lint_plan", lambda plan: None)
        monkeypatch.setattr("relight.estate.failover.failover", failover)
        return ran

    return install


def test_without_a_terminal_it_needs_yes_and_shows_the_waves_first(
    estate_dir: Callable[..., Path],  # noqa: F811
    faked: Callable[[dict[str, str]], list[str]],
) -> None:
    ran = faked({})
    result = _invoke("--estate", str(estate_dir(GOOD)), "--region", "us-west-2")
    assert result.exit_code == 2, result.output
    assert "estate failover needs a yes; no terminal to ask on" in result.output
    assert "wave 1:" in result.output and "wave 2:" in result.output
    assert "storefront: 3 stacks in account shop (210987654321), after shared" in result.output
    assert ran == [], "nothing ran"


def test_a_failed_environment_stops_its_dependents_and_the_summary_says_so(
    estate_dir: Callable[..., Path],  # noqa: F811
    faked: Callable[[dict[str, str]], list[str]],
) -> None:
    text = GOOD.replace(
        "  demo: {account: platform, after: [shared]}", "  demo: {account: platform}"
    )
    text = text.replace("environments:", "waves: [[shared, demo], [storefront]]\nenvironments:")
    ran = faked({"shared": "CREATE_FAILED: no capacity"})
    path = estate_dir(text)
    result = _invoke("--estate", str(path), "--region", "us-west-2", "--yes")
    assert result.exit_code == 1, result.output
    assert sorted(ran) == ["demo", "shared"], "storefront never ran"
    lines = result.output.splitlines()
    assert "[shared] deploying" in lines
    assert "[storefront] stopped: after shared, which failed" in lines
    summary = [line.split() for line in lines if line.startswith("  ") and " s " in line]
    assert [(words[0], words[1]) for words in summary] == [
        ("demo", "verified"),
        ("shared", "failed"),
        ("storefront", "stopped"),
    ]  # fmt: skip  (the estate's order: wave, then name)
    row = {line.split()[0]: line for line in lines if line.startswith("  ")}
    assert row["shared"].endswith("stack shared-web failed: CREATE_FAILED: no capacity")
    assert row["demo"].endswith("2 stacks (2 created); 1 check passed")
    assert row["storefront"].endswith("- s  stopped: after shared, which failed")
    assert any(line.startswith("critical path (measured): ") for line in lines)
    assert "FAILED: 1 verified in" in result.output
    assert (
        f"  relight estate failover --estate {path} --region us-west-2 --only shared,storefront "
        "--yes" in lines
    )


def test_only_names_must_be_the_estates_and_their_predecessors_verified(
    estate_dir: Callable[..., Path],  # noqa: F811
    faked: Callable[[dict[str, str]], list[str]],
) -> None:
    ran = faked({})
    path = str(estate_dir(GOOD))
    result = _invoke("--estate", path, "--region", "us-west-2", "--yes", "--only", "storfront")
    assert result.exit_code == 2
    assert "--only storfront: not an environment of estate corp" in result.output
    assert ran == []


def test_the_home_region_of_an_environment_is_refused(
    estate_dir: Callable[..., Path],  # noqa: F811
    faked: Callable[[dict[str, str]], list[str]],
) -> None:
    ran = faked({})
    result = _invoke("--estate", str(estate_dir(GOOD)), "--region", "us-east-1", "--yes")
    assert result.exit_code == 2, result.output
    assert "--region us-east-1 is the home region of shared, demo, storefront" in result.output
    assert "nothing was run" in result.output
    assert ran == []


def test_an_unknown_region_or_estate_is_refused_before_anything(
    estate_dir: Callable[..., Path],  # noqa: F811
) -> None:
    result = _invoke("--estate", "no-such-estate", "--region", "us-west-2", "--yes")
    assert result.exit_code == 2
    assert "--estate no-such-estate: no file estates/no-such-estate.yaml" in result.output


def test_a_plan_that_cannot_be_built_refuses_the_whole_run(
    estate_dir: Callable[..., Path],  # noqa: F811
    faked: Callable[[dict[str, str]], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran = faked({})

    def build_plan(loaded: Any, region: str, **_: Any) -> Any:
        if loaded.env.name == "storefront":
            raise DeployError("stacks.web: the blueprint cannot be rendered")
        return SimpleNamespace(stacks={})

    monkeypatch.setattr("relight.estate.failover.build_plan", build_plan)
    result = _invoke("--estate", str(estate_dir(GOOD)), "--region", "us-west-2", "--yes")
    assert result.exit_code == 2, result.output
    assert "the failover plan of an environment cannot be built; nothing was run" in result.output
    assert "storefront: stacks.web: the blueprint cannot be rendered" in result.output
    assert ran == []


def test_only_runs_those_once_what_they_come_after_is_serving_in_the_region(
    estate_dir: Callable[..., Path],  # noqa: F811
    faked: Callable[[dict[str, str]], list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The continue command of a run whose storefront failed: shared is verified (its serving
    marker says so), so `--only storefront` runs storefront alone; demo is not touched."""
    from relight.aws.serving import SERVING, Serving

    ran = faked({})
    markers = {"shared": SERVING, "demo": "failing over"}
    read: list[str] = []

    def read_serving(s3: Any, account: str, region: str, env: str) -> Serving | None:
        read.append(env)
        state = markers.get(env)
        return (
            Serving(env, region, "2026-12-07T09:00:00Z", "r1", "pilot_light", state)
            if state
            else None
        )

    monkeypatch.setattr("relight.estate.failover.read_serving", read_serving)
    monkeypatch.setattr(
        "relight.estate.accounts.connect_env",
        lambda estate, name, region, **kw: SimpleNamespace(
            env=name, account_id=estate.access(name).id, aws=SimpleNamespace(client=lambda *a: None)
        ),
    )
    path = str(estate_dir(GOOD))
    result = _invoke("--estate", path, "--region", "us-west-2", "--yes", "--only", "storefront")
    assert result.exit_code == 0, result.output
    assert ran == ["storefront"] and read == ["shared"]
    assert "  demo" in result.output and "not in --only (verified already)" in result.output
    markers["shared"] = "failing over"  # its failover began but was never verified
    refused = _invoke("--estate", path, "--region", "us-west-2", "--yes", "--only", "storefront")
    assert refused.exit_code == 2
    assert (
        "--only storefront: what comes first is not verified in this region: shared (before "
        "storefront); nothing was run" in refused.output
    )
    assert "add it to --only (--only shared,storefront)" in refused.output


def test_the_lints_run_ahead_and_each_environment_gets_its_own_verdict() -> None:
    from relight.errors import RenderError
    from relight.estate.failover import Lints

    plans: dict[str, Any] = {n: SimpleNamespace(env_name=n) for n in ("shared", "demo")}
    linted: list[str] = []

    def lint(plan: Any) -> None:
        linted.append(plan.env_name)
        if plan.env_name == "demo":
            raise RenderError("cfn-lint found 1 error(s) in the rendered templates")

    lints = Lints(plans, lint)
    lints.result(plans["shared"])
    with pytest.raises(RenderError, match="cfn-lint found 1 error"):
        lints.result(plans["demo"])
    assert linted == ["shared", "demo"], "in the estate's order, each once"
