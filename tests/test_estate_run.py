"""The estate runner (estate/run.py): an environment starts the moment its predecessors are
verified, a failure stops exactly what comes after it, `--only` and Ctrl-C.

The work is fake (latches: threading Events) and so is the connection: no AWS, no stand-in."""

from __future__ import annotations

import _thread
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relight.errors import DeployError, InputError
from relight.estate.run import EstateInterrupted, run_estate
from relight.model.estate import (
    AccountAccess,
    Budget,
    EstateEnvironment,
    EstateFile,
    EstateObjectives,
    LoadedEstate,
    computed_waves,
)
from test_estate_file import ROLE, estates

WAIT = 10.0  # a latch that is never set fails the test after this long, instead of hanging


def estate(after: dict[str, list[str]], waves: list[list[str]] | None = None) -> LoadedEstate:
    file = EstateFile(
        name="corp",
        administrator="platform",
        objectives=EstateObjectives(rto=7200),
        accounts={
            "platform": AccountAccess(id="123456789012", role=ROLE.format(id="123456789012")),
            "shop": AccountAccess(id="210987654321", role=ROLE.format(id="210987654321")),
        },
        budgets={"default": Budget(stack_operations=3)},
        environments={
            n: EstateEnvironment(account="shop" if n.startswith("s") else "platform", after=a)
            for n, a in after.items()
        },
        waves=waves or [],
    )
    resolved = waves or computed_waves(after)
    return LoadedEstate(path=Path("estates/corp.yaml"), file=file, envs={}, waves=resolved)


class FakeConnection:
    def __init__(self, name: str, account: str) -> None:
        self.name, self.account_id = name, account


def fake_connect(loaded: LoadedEstate, name: str, region: str, **_: Any) -> Any:
    return FakeConnection(name, loaded.access(name).id)


def test_an_environment_starts_when_its_own_predecessors_are_verified_not_its_whole_wave() -> None:
    """Waves [[hub, slow], [app, shop]]: app is after hub, shop after slow. app starts as soon
    as hub is verified, while slow (shop's predecessor, in the same wave as hub) still runs."""
    loaded = estate(
        {"hub": [], "slow": [], "app": ["hub"], "shop": ["slow"]},
        waves=[["hub", "slow"], ["app", "shop"]],
    )
    release_slow = threading.Event()
    app_started = threading.Event()
    slow_running_when_app_started: list[bool] = []
    slow_running = threading.Event()

    def work(name: str, conn: Any) -> tuple[bool, str, Any]:
        if name == "slow":
            slow_running.set()
            assert release_slow.wait(WAIT)
            slow_running.clear()
        if name == "app":
            slow_running_when_app_started.append(slow_running.is_set())
            app_started.set()
        return True, f"{name} done", {"conn": conn.name}

    lines: list[str] = []
    releaser = threading.Thread(target=lambda: app_started.wait(WAIT) and release_slow.set())
    releaser.start()
    run = run_estate(
        loaded, "us-west-2", work, command="failover", connect=fake_connect,
        on_progress=lines.append,
    )  # fmt: skip
    releaser.join()
    assert slow_running_when_app_started == [True]
    assert run.ok()
    assert [o.state for o in run.outcomes.values()] == ["verified"] * 4
    assert list(run.outcomes) == ["hub", "slow", "app", "shop"], "in the estate's order"
    assert run.outcomes["shop"].started > run.outcomes["app"].started  # type: ignore[operator]
    assert run.outcomes["app"].result == {"conn": "app"}
    assert "[app] started (wave 2, account platform)" in lines
    assert any(line.startswith("[shop] verified in ") for line in lines)
    assert run.continue_command() is None


def test_a_failure_stops_exactly_its_dependents_and_the_rest_finishes() -> None:
    loaded = estate({"hub": [], "net": [], "app": ["hub"], "api": ["app"], "shop": ["net"]})

    def work(name: str, conn: Any) -> tuple[bool, str, Any]:
        if name == "hub":
            raise DeployError("stack hub-network: CREATE_FAILED: the VPC limit is reached")
        return True, "verified", None

    lines: list[str] = []
    run = run_estate(
        loaded, "us-west-2", work, command="failover", connect=fake_connect,
        on_progress=lines.append,
    )  # fmt: skip
    states = {n: o.state for n, o in run.outcomes.items()}
    assert states == {
        "hub": "failed", "net": "verified", "app": "stopped", "api": "stopped", "shop": "verified"
    }  # fmt: skip
    assert run.outcomes["hub"].line == "stack hub-network: CREATE_FAILED: the VPC limit is reached"
    assert run.outcomes["api"].line == "after hub, which failed"
    assert run.outcomes["api"].stopped_by == "hub" and run.outcomes["api"].started is None
    assert "[app] stopped: after hub, which failed" in lines
    assert not run.ok()
    assert run.continue_command() == (
        "relight estate failover --estate corp --region us-west-2 --only hub,app,api"
    )


@st.composite
def failing(draw: st.DrawFn) -> tuple[LoadedEstate, set[str]]:
    loaded, _ = draw(estates())
    fails = draw(st.sets(st.sampled_from(loaded.order())))
    return loaded, fails


@settings(max_examples=60, deadline=None)
@given(case=failing(), parallel=st.sampled_from([None, 1, 2]))
def test_over_random_estates_the_stopped_are_the_dependents_of_the_failed(
    case: tuple[LoadedEstate, set[str]], parallel: int | None
) -> None:
    loaded, fails = case
    ran: list[str] = []
    guard = threading.Lock()

    def work(name: str, conn: Any) -> tuple[bool, str, Any]:
        with guard:
            assert all(p in ran for p in loaded.predecessors(name)), "a predecessor was not done"
            ran.append(name)
        return name not in fails, "", None

    run = run_estate(
        loaded, "us-west-2", work, command="failover", connect=fake_connect, max_parallel=parallel
    )
    failed = {n for n, o in run.outcomes.items() if o.state == "failed"}
    stopped = {n for n, o in run.outcomes.items() if o.state == "stopped"}
    verified = {n for n, o in run.outcomes.items() if o.state == "verified"}
    dependents = set().union(*(loaded.dependents(f) for f in failed))
    assert stopped == dependents
    assert failed == fails - dependents
    assert verified == set(loaded.order()) - failed - stopped
    assert set(ran) == failed | verified, "a stopped environment never ran"
    for name in stopped:
        assert run.outcomes[name].stopped_by in failed & (
            {f for f in failed if name in loaded.dependents(f)}
        )


def test_only_refuses_unknown_names_and_predecessors_neither_verified_nor_run() -> None:
    loaded = estate({"hub": [], "app": ["hub"], "shop": ["hub"]})
    ran: list[str] = []

    def work(name: str, conn: Any) -> tuple[bool, str, Any]:
        ran.append(name)
        return True, "", None

    with pytest.raises(InputError, match="--only shp: not an environment of estate corp") as bad:
        run_estate(loaded, "r", work, command="failover", only=["shp"], connect=fake_connect)
    assert bad.value.exit_code == 2 and "hub, app, shop" in str(bad.value.hint)
    with pytest.raises(InputError) as unverified:
        run_estate(loaded, "r", work, command="failover", only=["app"], connect=fake_connect)
    assert unverified.value.message == (
        "--only app: what comes first is not verified in this region: hub (before app); "
        "nothing was run"
    )
    assert unverified.value.hint == "add it to --only (--only hub,app), or failover it first"
    with pytest.raises(InputError, match="hub \\(before app, shop\\)"):
        run_estate(
            loaded, "r", work, command="failover", only=["app", "shop"], connect=fake_connect,
            verified=lambda name: False,
        )  # fmt: skip
    assert ran == [], "nothing ran"
    run = run_estate(
        loaded, "r", work, command="failover", only=["shop", "app"], connect=fake_connect,
        verified=lambda name: name == "hub",
    )  # fmt: skip
    assert sorted(ran) == ["app", "shop"] and run.ok()
    assert run.outcomes["hub"].state == "not run"
    assert run.outcomes["hub"].line == "not in --only (verified already)"
    ran.clear()
    run_estate(loaded, "r", work, command="failover", only=["hub", "app"], connect=fake_connect)
    assert ran == ["hub", "app"], "a predecessor in --only runs first"


def test_the_budgets_reach_each_environments_connection_and_peaks_are_reported() -> None:
    loaded = estate({"hub": [], "shop": ["hub"]})
    seen: dict[str, Any] = {}

    def connect(loaded: LoadedEstate, name: str, region: str, **kw: Any) -> Any:
        budget = kw["budgets"].for_(loaded.access(name).id, region)
        seen[name] = (kw["command"], budget)
        with budget.operation(f"{name}-network"):
            pass
        return FakeConnection(name, loaded.access(name).id)

    run = run_estate(loaded, "us-west-2", lambda n, c: (True, "", None), command="drill",
                     connect=connect)  # fmt: skip
    assert seen["hub"][0] == "drill" and seen["hub"][1].slots == 3
    assert seen["hub"][1] is not seen["shop"][1], "two accounts, two budgets"
    assert run.peaks == {("123456789012", "us-west-2"): 1, ("210987654321", "us-west-2"): 1}


def test_an_unexpected_error_fails_that_environment_only() -> None:
    loaded = estate({"hub": [], "net": []})

    def work(name: str, conn: Any) -> tuple[bool, str, Any]:
        if name == "hub":
            raise ValueError("a bug")
        return True, "", None

    run = run_estate(loaded, "r", work, command="failover", connect=fake_connect)
    assert run.outcomes["hub"].state == "failed"
    assert run.outcomes["hub"].line == "unexpected error: ValueError('a bug')"
    assert run.outcomes["net"].state == "verified"


def test_ctrl_c_stops_the_running_environments_and_says_how_to_continue() -> None:
    loaded = estate({"hub": [], "net": [], "app": ["hub"]})
    both = threading.Barrier(2)
    stopped: list[str] = []

    def work(name: str, conn: Any) -> tuple[bool, str, Any]:
        both.wait(WAIT)
        if name == "hub":
            _thread.interrupt_main()  # the operator's Ctrl-C, seen by the runner's thread
        try:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:  # a deploy, between two API calls
                time.sleep(0.01)
        except KeyboardInterrupt:
            stopped.append(name)
            raise
        return True, "", None

    # Ctrl-C as a terminal delivers it, whatever this process inherited: a job a shell starts in
    # the background has SIGINT ignored, and then interrupt_main does nothing (Python's docs)
    assert threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(EstateInterrupted) as caught:
            run_estate(loaded, "us-west-2", work, command="failover", connect=fake_connect)
    finally:
        signal.signal(signal.SIGINT, before)
    run = caught.value.run
    assert sorted(stopped) == ["hub", "net"], "each running environment got the Ctrl-C"
    assert run.interrupted == ["hub", "net"]
    assert run.outcomes["hub"].state == "stopped"
    assert run.outcomes["hub"].line == (
        "interrupted (Ctrl-C) while running: its finished stacks are kept"
    )
    assert run.outcomes["app"].state == "not run"
    assert run.outcomes["app"].line == "not started: the run was interrupted"
    assert run.continue_command() == (
        "relight estate failover --estate corp --region us-west-2 --only hub,net,app"
    )


def test_the_measured_critical_path_runs_through_predecessors() -> None:
    loaded = estate({"hub": [], "app": ["hub"], "shop": ["hub"]})
    clock = iter([0.0, 10.0, 10.0, 15.0, 15.0, 45.0]).__next__  # start, end of each

    def work(name: str, conn: Any) -> tuple[bool, str, Any]:
        return True, "", None

    run = run_estate(loaded, "r", work, command="failover", connect=fake_connect,
                     max_parallel=1, clock=clock)  # fmt: skip
    assert {n: o.seconds for n, o in run.outcomes.items()} == {
        "hub": 10.0, "app": 5.0, "shop": 30.0
    }  # fmt: skip
    assert run.critical_path() == (40.0, ["hub", "shop"])
    assert run.as_dict()["critical_path"] == {"seconds": 40.0, "environments": ["hub", "shop"]}


def test_an_environment_that_ends_as_the_ctrl_c_comes_keeps_what_it_came_to() -> None:
    """At the Ctrl-C, hub had just been verified and net had just failed (their threads ended
    before it reached them), storefront's run took it: only storefront is "interrupted"; what
    comes after net is stopped by it, not merely left unstarted."""
    from concurrent.futures import Future

    from relight.aws.budget import Budgets
    from relight.estate.run import _Runner

    loaded = estate({"hub": [], "net": [], "shop": [], "app": ["net"], "api": ["hub"]})
    runner = _Runner(loaded, "r", lambda n, c: (True, "", None), "failover", None,
                     Budgets(loaded), fake_connect)  # fmt: skip
    ended: dict[str, Future[tuple[bool, str, Any]]] = {n: Future() for n in ("hub", "net", "shop")}
    ended["hub"].set_result((True, "verified", None))
    ended["net"].set_exception(DeployError("stack net-network: CREATE_FAILED"))
    ended["shop"].set_exception(KeyboardInterrupt())
    for name, future in ended.items():
        runner.pending.remove(name)
        runner.running[future] = name
        runner.marks[name] = runner.clock()
    runner.interrupted()
    states = {n: o.state for n, o in runner.outcomes.items()}
    assert states == {
        "hub": "verified", "net": "failed", "shop": "stopped", "app": "stopped", "api": "not run"
    }  # fmt: skip
    assert runner.outcomes["app"].line == "after net, which failed"
    assert runner.outcomes["shop"].line.startswith("interrupted (Ctrl-C) while running")
    assert runner.outcomes["api"].line == "not started: the run was interrupted"
    assert runner.run.interrupted == ["shop"]
