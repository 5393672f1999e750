"""`relight failover` and `relight launch`: build the environment (or a test copy of it) in
another region, after showing the plan."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    _banner,
    _build_plan,
    _check_not_home,
    _confirm,
    _connect,
    _console,
    _continue_command,
    _errors,
    _Interruption,
    _load,
    _on_stand_in,
    _print_json,
    _progress,
    _say,
)
from .options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_VERIFY,
    AcceptStaleOpt,
    ConcurrencyOpt,
    DataOpt,
    DebugOpt,
    EnvOpt,
    IntoHomeOpt,
    JsonOpt,
    ProfileOpt,
    RegionOpt,
    ReplaceDataOpt,
    RoleOpt,
    StackTimeoutOpt,
    StandInOpt,
    StrategyOpt,
    VerifyTimeoutOpt,
    YesOpt,
)
from .plan import _print_plan

if TYPE_CHECKING:
    from relight.commands.connection import Connection
    from relight.model.config import LoadedEnvironment


def failover(
    env: EnvOpt,
    region: RegionOpt,
    yes: YesOpt = False,
    accept_stale: AcceptStaleOpt = False,
    replace_data: ReplaceDataOpt = None,
    stack_timeout: StackTimeoutOpt = None,
    verify_timeout: VerifyTimeoutOpt = DEFAULT_VERIFY,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    into_home: IntoHomeOpt = False,
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Rebuild the environment in --region from the newest copies there (asks first)."""
    with _errors(debug) as interruption:
        _deploy_command(
            env, region, None, yes, accept_stale, stack_timeout, concurrency, json_out,
            stand_in, profile, role_arn, replace_data or [], verify_timeout,
            into_home=into_home, interruption=interruption, strategy=strategy, data=data,
        )  # fmt: skip


def launch(
    env: EnvOpt,
    region: RegionOpt,
    as_name: Annotated[
        str, typer.Option("--as", help="The test environment's name: stacks <env>-NAME-<stack>.")
    ],
    accept_stale: AcceptStaleOpt = False,
    replace_data: ReplaceDataOpt = None,
    stack_timeout: StackTimeoutOpt = None,
    verify_timeout: VerifyTimeoutOpt = DEFAULT_VERIFY,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    into_home: IntoHomeOpt = False,
    data: DataOpt = None,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Build a full test copy of the environment (purpose test), kept until teardown --as."""
    with _errors(debug) as interruption:
        _deploy_command(
            env, region, as_name, True, accept_stale, stack_timeout, concurrency, json_out,
            stand_in, profile, role_arn, replace_data or [], verify_timeout,
            into_home=into_home, interruption=interruption, data=data,
        )  # fmt: skip


def _deploy_command(
    env: str,
    region: str,
    as_name: str | None,
    yes: bool,
    accept_stale: bool,
    stack_timeout: float | None,
    concurrency: int,
    json_out: bool,
    stand_in: bool | None,
    profile: str | None,
    role_arn: str | None,
    replace_data: list[str],
    verify_timeout: float,
    *,
    into_home: bool,
    interruption: _Interruption,
    strategy: str | None = None,
    phase: str = "failover",
    data: str | None = None,
) -> None:
    """failover, launch and prepare: one path (render, connect, discover, preflight, the
    prepared stacks, confirm, deploy), `phase` "prepare" deploying the rung's standing stacks
    instead (and not verifying them)."""
    from relight.commands.failover import check_replace_data, prepare
    from relight.commands.failover import failover as run_failover
    from relight.commands.summary import failover_json, print_failover
    from relight.model.plan import check_namespace
    from relight.steps.render import lint_plan

    loaded = _load(env, region)
    namespace = check_namespace(as_name) if as_name else None
    verb = "prepare" if phase == "prepare" else "launch" if as_name else "failover"
    _check_not_home(loaded, region, into_home, verb, namespace, overridable=phase != "prepare")
    local = _on_stand_in(loaded, stand_in)
    built = _build_plan(loaded, region, local, as_name, strategy, phase, data)
    replacing = check_replace_data(built, replace_data)
    linting = _Background(lambda: lint_plan(built))  # meanwhile: connect, discover, preflight
    continue_with = _continue_command(
        verb,
        {
            "--env": env,
            "--region": region,
            "--as": as_name,
            "--yes": yes and not as_name,  # launch never asks
            "--stand-in": stand_in is True,
            "--aws": stand_in is False,
            "--profile": profile,
            "--role-arn": role_arn,
            "--accept-stale": accept_stale,
            "--replace-data": replace_data,
            "--stack-timeout": stack_timeout,
            "--verify-timeout": verify_timeout if verify_timeout != DEFAULT_VERIFY else None,
            "--concurrency": concurrency if concurrency != DEFAULT_CONCURRENCY else None,
            "--into-home-region": into_home,
            "--strategy": strategy,
            "--data": data,
        },
    )
    with _lint_first(linting):
        conn = _connect_linted(loaded, region, local, profile, role_arn, linting)
    title = (
        f"prepare {built.env_name} in {region} for {built.strategy}"
        if phase == "prepare"
        else f"{built.purpose} of {built.env_name} into {region} ({built.strategy})"
    )
    interruption.says = lambda: (
        f"interrupted. Finished stacks are kept; rerun the same command to continue:\n"
        f"  {continue_with}"
    )

    def confirm(planned: list[Any]) -> bool:
        _print_plan(_console(stderr=True), planned, f"plan: {title}", parameters=False)
        question = f"Deploy these {len(planned)} stacks in {region}?"
        return _confirm(False, question, f"{verb} needs a yes")

    names = [sp.name for sp in built.stacks.values()]
    run = prepare if phase == "prepare" else run_failover
    with _progress(names, title, json_out) as progress, _lint_first(linting):
        result = run(
            built,
            conn,
            accept_stale=accept_stale,
            stack_timeout=stack_timeout,
            concurrency=concurrency,
            confirm=None if yes else confirm,
            on_event=progress,
            events=progress is not None,
            replace_data=replacing,
            verify_deadline=verify_timeout,
            on_progress=None if json_out else _say,
            before_change=linting.result,  # after preflight: a lint error stops it there
        )
    if json_out:
        _print_json(failover_json(result, continue_with))
    else:
        print_failover(_console(), result, continue_with)
    if conn.stand_in:
        _banner(conn)
    if not result.ok:
        raise typer.Exit(1)


# cfn-lint overlapped with connecting, discovery and preflight -----------------------------------


class _Background:
    """`work()` in a daemon thread from the moment this is made (daemon: a Ctrl-C is never held
    up by it). `result()` waits for it and returns its value or raises its error, every time."""

    def __init__(self, work: Callable[[], object], name: str = "relight-lint") -> None:
        self._work = work
        self._value: object = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # handed to whoever asks for the result
            self._error = exc

    def result(self) -> object:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


@contextmanager
def _lint_first(linting: _Background) -> Iterator[None]:
    """When connecting, discovery or preflight fails while the lint runs, the lint's error (if
    any) is the one shown, as when lint ran first: it names the file to fix, and the checks
    after it may change with that fix. Ctrl-C (not an Exception) does not wait for the lint."""
    try:
        yield
    except Exception:
        linting.result()
        raise


def _connect_linted(
    loaded: LoadedEnvironment,
    region: str,
    stand_in: bool | None,
    profile: str | None,
    role_arn: str | None,
    linting: _Background,
) -> Connection:
    """`connect`, except that on a stand-in that has not told its story yet (it builds the
    environment in its home region) the lint is waited for first: a plan cfn-lint refuses
    builds no stack anywhere."""

    def announce(conn: Connection) -> None:
        _banner(conn)
        if conn.stand_in is not None:
            from relight.standin.story import story_exists, story_fingerprint

            told = story_fingerprint(loaded.env)
            if not story_exists(conn.aws, loaded.env.name, loaded.env.home_region, told):
                linting.result()

    return _connect(loaded, region, stand_in, profile, role_arn, announce=announce)
