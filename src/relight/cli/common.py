"""What the commands share: the one place errors become messages and exit codes, the
console, loading the environment, connecting, asking, and the checks several commands make."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from relight.commands.connection import Connection
    from relight.model.config import LoadedEnvironment


P = ParamSpec("P")
R = TypeVar("R")


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    # emoji=False: rich would print a secret's ARN (`...:secret:name-AbCdEf`) with an emoji
    # for `:secret:`; ids are printed as they are.
    console = Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)
    if not console.is_terminal:  # a log or a pipe: room for whole ids, not 80 columns
        console.width = max(console.width, 140)
    return console


def _fail(message: str, code: int) -> NoReturn:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


class _Interruption:
    """What Ctrl-C leaves behind, as the command running knows it so far: a command sets
    `says` once it starts changing things (a read-only one changes nothing)."""

    def __init__(self) -> None:
        self.says: Callable[[], str] = lambda: "interrupted; nothing was changed"


@contextmanager
def _errors(debug: bool) -> Iterator[_Interruption]:
    """The one place relight's errors become messages and exit codes, each printed once."""
    import click

    from relight.errors import RelightError

    interruption = _Interruption()
    try:
        yield interruption
    except RelightError as exc:
        if debug:
            raise
        _fail(_escape(str(exc)), exc.exit_code)
    except click.exceptions.Abort as exc:  # Ctrl-C or end of input at a question
        if isinstance(exc.__context__, EOFError):
            _fail("no answer (the input ended at the question); nothing was changed", 1)
        _fail("interrupted at the question; nothing was changed", 130)
    except KeyboardInterrupt as exc:
        in_flight = getattr(exc, "in_flight", None)  # scheduler.Interrupted
        going_on = (
            f"\n  CloudFormation goes on with: {', '.join(in_flight)} (a rerun waits for them)"
            if in_flight
            else ""
        )
        _fail(_escape(interruption.says()) + going_on, 130)
    except (typer.Exit, click.exceptions.Exit):  # a command's own exit, its message printed
        raise
    except Exception as exc:  # the last resort: never a bare traceback for the operator
        if debug:
            raise
        from relight.aws.failures import known_error

        known = known_error(exc)
        if known is not None:
            _fail(_escape(str(known)), known.exit_code)
        _fail(
            _escape(f"unexpected {type(exc).__name__}: {exc}")
            + "\n  → rerun with --debug for the traceback, and please report it",
            1,
        )


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _check_region(region: str, flag: str) -> None:
    from relight.errors import InputError
    from relight.model.values import check_region

    try:
        check_region(region)
    except ValueError as exc:
        raise InputError(f"{flag}: {exc}") from None


def _load(env: str, region: str | None, flag: str = "--region") -> LoadedEnvironment:
    from relight.model.config import load_environment

    if region is not None:
        _check_region(region, flag)
    return load_environment(env, region)


def _on_stand_in(loaded: LoadedEnvironment, flag: bool | None) -> bool:
    return loaded.env.stand_in if flag is None else flag


def _connect(
    loaded: LoadedEnvironment,
    region: str,
    stand_in: bool | None,
    profile: str | None,
    role_arn: str | None,
    *,
    source_side: bool = False,
    announce: Callable[[Connection], None] | None = None,
) -> Connection:
    """Connect (commands.connection.connect), printing the banner as soon as relight knows where it
    acts; `announce` replaces the banner when a command needs more at that moment."""
    from relight.commands.connection import connect
    from relight.errors import InputError

    if role_arn and _on_stand_in(loaded, stand_in):  # connect assumes one only for an estate
        raise InputError(
            "--profile and --role-arn do not apply to the local stand-in",
            hint="pass --aws to act on real AWS instead",
        )
    return connect(
        loaded,
        region,
        use_stand_in=stand_in,
        profile=profile,
        role_arn=role_arn,
        source_side=source_side,
        announce=announce or _banner,
        say=_say,
        command=_command_name(),
    )


_COMMAND: ContextVar[str | None] = ContextVar("relight_command", default=None)


def named(command: Callable[P, R]) -> Callable[P, R]:
    """`command` (a CLI command's function), telling `_connect` its name while it runs (typer
    runs a command outside click's context): the command AWS calls are made for
    (AwsTarget.command)."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        token = _COMMAND.set(command.__name__.replace("_", "-"))
        try:
            return command(*args, **kwargs)
        finally:
            _COMMAND.reset(token)

    return run


def _command_name() -> str | None:
    """The name of the CLI command running (`failover`, `drill`, ...)."""
    return _COMMAND.get()


def _banner(conn: Connection) -> None:
    err = _console(stderr=True)
    if conn.stand_in:
        err.print(
            f"[bold black on yellow] LOCAL STAND-IN [/] moto at {conn.stand_in.endpoint}: "
            "nothing real is touched; no AWS account is used.",
        )
    else:
        err.print(f"[bold]target:[/] {_escape(conn.describe())}")


def _say(line: str) -> None:
    """A progress line for people, on stderr."""
    _console(stderr=True).print(f"[dim]{_escape(line)}[/]")


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@contextmanager
def _progress(names: list[str], title: str, json_out: bool) -> Iterator[Any]:
    """The live table on a terminal, one line per event otherwise, nothing (None) with --json."""
    from relight.steps.progress import Lines, LiveTable

    err = _console(stderr=True)
    if json_out:
        yield None
    elif err.is_terminal:
        with LiveTable(err, names, title) as table:
            yield table
    else:
        yield Lines(err)


def _confirm(yes: bool, question: str, what: str) -> bool:
    """Ask on a terminal; without one, --yes is the only way on. The answer."""
    from relight.errors import InputError

    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(f"{what}; no terminal to ask on", hint="pass --yes to confirm")
    return typer.confirm(question)


def _check_directory(path: Path, flag: str, holds: str) -> None:
    """`flag`'s path is a directory, or one can be made there: not a file, nor inside one."""
    from relight.errors import InputError

    for found in (path, *path.parents):
        if found.exists():
            if not found.is_dir():
                inside = "" if found == path else f" inside {found}, which"
                raise InputError(
                    f"{flag} {path}:{inside} is a file, not a directory",
                    hint=f"name a directory (relight makes it when missing) to write {holds} into",
                )
            return


def _build_plan(
    loaded: LoadedEnvironment,
    region: str,
    local: bool,
    as_name: str | None,
    strategy: str | None = None,
    phase: str = "failover",
    data: str | None = None,
) -> Any:
    from relight.model.plan import check_namespace
    from relight.steps.render import build_plan

    if as_name is None:
        plan = build_plan(loaded, region, stand_in=local, strategy=strategy, phase=phase, data=data)
    else:
        plan = build_plan(
            loaded,
            region,
            stand_in=local,
            purpose="test",
            namespace=check_namespace(as_name),
            strategy=strategy,
            phase=phase,
            data=data,
        )
    _say_plan_warnings(plan)
    return plan


def _say_plan_warnings(plan: Any) -> None:
    """What the plan left out of the file (a scheduled action whose time has passed), on
    stderr: said by render, plan, prepare and failover alike."""
    err = _console(stderr=True)
    for warning in plan.warnings:
        err.print(f"[yellow]warning:[/] {_escape(warning)}")


def _check_not_home(
    loaded: LoadedEnvironment,
    region: str,
    meant: bool,
    command: str,
    namespace: str | None,
    *,
    overridable: bool = True,
) -> None:
    """A run that builds stacks refuses the home region unless --into-home-region says it is
    meant: a failover there would build its stacks beside production's. A command without
    that option (`overridable` False: prepare) is not told to pass it."""
    from relight.errors import InputError

    env = loaded.env
    if region != env.home_region or meant:
        return
    prefix = "-".join([env.name, *([namespace] if namespace else [])])
    others = [r for r in env.recovery_regions if r != region]
    pick = (
        f"pick a recovery region ({', '.join(others)})"
        if others
        else f"pick a recovery region (add it to recovery_regions in {loaded.path})"
    )
    raise InputError(
        f"--region {region} is {env.name}'s home region: a {command} there would build "
        f"{prefix}-* stacks beside production; {pick}"
        + (", or pass --into-home-region if that is meant" if overridable else "")
    )


def _continue_command(command: str, options: dict[str, Any]) -> str:
    """The exact command that continues this failover (or launch) after a failure: the same
    command with the same options (True: a flag; a list: the option once per value; None,
    False or an empty list: left out)."""
    import shlex

    words = ["relight", command]
    for flag, value in options.items():
        if value is True:
            words.append(flag)
        elif isinstance(value, list):
            for item in value:
                words += [flag, str(item)]
        elif value not in (None, False):
            words += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return shlex.join(words)
