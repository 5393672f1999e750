"""`relight failover` lints while it connects, discovers and runs preflight, and waits for the
lint before anything is shown or changed.

The overlap is proven by events, not by wall time: the fake lint does not finish until
discovery and preflight have both run (it is the slower side), and discovery does not start
its work until the lint has started. Run one after the other, either wait would lapse (a
deadline that only a broken overlap reaches, so it makes no test slow or flaky) and the test
fails on the record of who waited for whom.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from conftest import MINIMAL, moto_web_inputs
from fakes import FakeClock, FakeCloudFormation
from relight.aws.cloudformation import Stacks, quiet
from relight.cli import app
from relight.errors import PreflightError, RenderError

RUNNER = CliRunner()
DEADLINE = 30.0  # seconds a wait may take before the overlap is declared missing


class Recorder:
    """What ran, in order, from any thread; and the events the fakes wait for."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()
        self.lint_started = threading.Event()
        self.discovery_started = threading.Event()
        self.preflight_done = threading.Event()
        self.waits: dict[str, bool] = {}

    def __call__(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def index(self, event: str) -> int:
        return self.events.index(event)


@pytest.fixture
def run(
    write_env: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Callable[..., tuple[Any, Recorder, FakeCloudFormation]]:
    """`relight failover --yes --aws` on moto holding MINIMAL's sources, with an injected
    lint (`lint_error`: it fails), discovery and preflight around the real ones (`preflight_error`:
    preflight fails), and CloudFormation a fake that records every call."""
    monkeypatch.setenv("RELIGHT_STATE_DIR", str(tmp_path / "state"))

    def invoke(
        lint_error: str | None = None, preflight_error: str | None = None
    ) -> tuple[Any, Recorder, FakeCloudFormation]:
        import relight.commands.failover as failover

        record = Recorder()
        real_discover, real_preflight, real_deploy = (
            failover.discover_environment,
            failover.run_preflight,
            failover.deploy,
        )

        def slow_lint(plan: Any) -> dict[str, list[Any]]:
            record("lint start")
            record.lint_started.set()
            # slower than discovery and preflight together: done only once both have run
            record.waits["lint waited for preflight"] = record.preflight_done.wait(DEADLINE)
            record("lint end")
            if lint_error:
                raise RenderError(lint_error, hint="fix the blueprint; nothing was deployed")
            return {key: [] for key in plan.stacks}

        def discover(plan: Any, conn: Any, **options: Any) -> Any:
            record("discover start")
            record.discovery_started.set()
            record.waits["discovery saw the lint running"] = record.lint_started.wait(DEADLINE)
            found = real_discover(plan, conn, **options)
            record("discover end")
            return found

        def preflight(*args: Any, **options: Any) -> Any:
            record("preflight start")
            try:
                if preflight_error:
                    raise PreflightError([preflight_error])
                return real_preflight(*args, **options)
            finally:
                record("preflight end")
                record.preflight_done.set()

        def deploy(*args: Any, **options: Any) -> Any:
            record("deploy")
            return real_deploy(*args, **options)

        clock = FakeClock()
        cfn = FakeCloudFormation({}, clock=clock, duration=1.0)

        def connect_stacks(conn: object, **options: Any) -> Stacks:
            return Stacks(
                cfn,
                clock=clock,
                sleep=clock.sleep,
                timeout=600,
                on_event=options.get("on_event") or quiet,
                events=options.get("events", False),
            )

        monkeypatch.setattr("relight.steps.render.lint_plan", slow_lint)
        monkeypatch.setattr("relight.commands.failover.discover_environment", discover)
        monkeypatch.setattr("relight.commands.failover.run_preflight", preflight)
        monkeypatch.setattr("relight.commands.failover.deploy", deploy)
        monkeypatch.setattr("relight.commands.failover.connect_stacks", connect_stacks)
        monkeypatch.setattr("relight.commands.failover.verify", lambda *a, **k: [])
        path = write_env(MINIMAL)
        with mock_aws():
            moto_web_inputs(tags=True)
            result = RUNNER.invoke(
                app, ["failover", "--env", str(path), "--region", "us-west-2", "--aws", "--yes"]
            )
        return result, record, cfn

    return invoke


def test_lint_runs_during_discovery_and_preflight_and_deploy_waits_for_it(
    run: Callable[..., tuple[Any, Recorder, FakeCloudFormation]],
) -> None:
    result, record, cfn = run()
    assert result.exit_code == 0, result.output
    assert record.waits == {
        "discovery saw the lint running": True,
        "lint waited for preflight": True,
    }, record.events
    # the lint's span holds discovery's and preflight's: the run takes the longer, not the sum
    assert record.index("lint start") < record.index("discover end")
    assert record.index("discover start") < record.index("lint end")
    assert record.index("preflight end") < record.index("lint end")
    # and nothing is deployed before the lint is done
    assert record.index("lint end") < record.index("deploy")
    assert sorted(cfn.created) == ["shop-network", "shop-security", "shop-web"]


def test_a_lint_error_stops_the_run_before_any_deploy_call(
    run: Callable[..., tuple[Any, Recorder, FakeCloudFormation]],
) -> None:
    result, record, cfn = run(lint_error="cfn-lint found 1 error(s): E3012 bad value")
    assert result.exit_code == 2, result.output
    assert result.stderr.count("error: cfn-lint found 1 error(s): E3012 bad value") == 1
    assert "nothing was deployed" in result.stderr
    assert "unexpected" not in result.output
    assert record.waits["discovery saw the lint running"], "it still overlapped"
    assert "deploy" not in record.events
    assert cfn.created == [] and cfn.stacks == {}
    changing = {"CreateStack", "UpdateStack", "DeleteStack", "CreateChangeSet"}
    assert not changing & set(cfn.calls), cfn.calls


def test_when_lint_and_preflight_both_fail_the_lint_error_is_shown(
    run: Callable[..., tuple[Any, Recorder, FakeCloudFormation]],
) -> None:
    result, record, cfn = run(
        lint_error="cfn-lint found 1 error(s): E3012 bad value",
        preflight_error="no AZ offers t3.micro",
    )
    assert result.exit_code == 2, result.output
    assert "error: cfn-lint found 1 error(s)" in result.stderr
    assert "preflight found" not in result.stderr, "as when lint ran first"
    assert "deploy" not in record.events and cfn.created == []


def test_a_preflight_error_with_a_clean_lint_is_the_preflight_error(
    run: Callable[..., tuple[Any, Recorder, FakeCloudFormation]],
) -> None:
    result, record, cfn = run(preflight_error="no AZ offers t3.micro")
    assert result.exit_code == 2, result.output
    assert "error: preflight found 1 problem(s):\n  - no AZ offers t3.micro" in result.stderr
    assert "lint end" in record.events, "the lint was waited for before the error was shown"
    assert "deploy" not in record.events and cfn.created == []


def test_on_a_fresh_stand_in_the_lint_is_waited_for_before_its_story_builds_anything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stand-in's first run builds the environment in its home region (its story):
    a plan cfn-lint refuses must not get that far."""
    from relight.cli.failover import _Background, _connect_linted

    events: list[str] = []

    def lint() -> None:
        events.append("lint")
        raise RenderError("cfn-lint found 1 error(s)")

    def connect(loaded: Any, region: str, **options: Any) -> Any:
        conn = SimpleNamespace(stand_in=SimpleNamespace(endpoint="http://127.0.0.1:1"), aws=None)
        options["announce"](conn)  # as connect does, before the story
        events.append("story")
        return conn

    monkeypatch.setattr("relight.commands.connection.connect", connect)
    monkeypatch.setattr("relight.standin.story.story_fingerprint", lambda env: "told")
    monkeypatch.setattr("relight.standin.story.story_exists", lambda *a: False)
    loaded = SimpleNamespace(env=SimpleNamespace(name="shop", home_region="us-east-1"))
    with pytest.raises(RenderError):
        _connect_linted(loaded, "us-west-2", True, None, None, _Background(lint))  # type: ignore[arg-type]
    assert events == ["lint"]

    # once the story is told, connecting does not wait for the lint
    monkeypatch.setattr("relight.standin.story.story_exists", lambda *a: True)
    release = threading.Event()
    slow = _Background(lambda: release.wait(DEADLINE))
    events.clear()
    _connect_linted(loaded, "us-west-2", True, None, None, slow)  # type: ignore[arg-type]
    assert events == ["story"]
    release.set()
    assert slow.result() is True


def test_background_result_raises_the_error_every_time_and_returns_the_value() -> None:
    from relight.cli.failover import _Background

    def fail() -> None:
        raise RenderError("bad")

    failed = _Background(fail)
    for _ in range(2):
        with pytest.raises(RenderError, match="bad"):
            failed.result()
    assert _Background(lambda: 42).result() == 42
