"""relight's command line: parse options, call one engine function, print, pick the exit code.

Only typer is imported at start-up; the engine (boto3, troposphere, cfn-lint,
pydantic) is imported inside each command, so `relight --help` stays fast.
Exit codes: 0 ok, 1 the operation failed, 2 bad input (nothing was changed).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from relight.config import LoadedEnvironment
    from relight.operations import Connection

app = typer.Typer(
    help="Rebuild a whole AWS environment in another region from its newest cross-region copies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's help renderer costs ~0.13 s at start-up
)
local_app = typer.Typer(
    help="The local stand-in (moto on 127.0.0.1).", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(local_app, name="local")

EnvOpt = Annotated[
    str, typer.Option("--env", "-e", help="Environment name (stacks/NAME.yaml) or a YAML path.")
]
RegionOpt = Annotated[
    str, typer.Option("--region", "-r", help="The target region, e.g. us-west-2.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
StandInOpt = Annotated[
    bool | None,
    typer.Option(
        "--stand-in/--aws",
        help="Run on the local stand-in, or on AWS. Default: what the environment file says.",
    ),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile to use.")]


def _role_arn(value: str | None) -> str | None:
    """--role-arn has the shape of an IAM role's ARN (else STS's refusal would blame the trust
    policy, after the command had started)."""
    from relight.aws import ROLE_ARN_SHAPE, is_role_arn

    if value is not None and not is_role_arn(value):
        raise typer.BadParameter(f"{value!r} is not an IAM role's ARN: expected {ROLE_ARN_SHAPE}")
    return value


RoleOpt = Annotated[
    str | None,
    typer.Option("--role-arn", callback=_role_arn, help="Role to assume in the recovery account."),
]
IntoHomeOpt = Annotated[
    bool,
    typer.Option(
        "--into-home-region",
        help="Build even when --region is the environment's home region, beside production.",
    ),
]


def _console(stderr: bool = False) -> Console:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False, soft_wrap=True)
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
        from relight.aws import known_error

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
    from relight.environment import check_region
    from relight.errors import InputError

    try:
        check_region(region)
    except ValueError as exc:
        raise InputError(f"{flag}: {exc}") from None


def _load(env: str, region: str | None, flag: str = "--region") -> LoadedEnvironment:
    from relight.config import load_environment

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
) -> Connection:
    from relight.operations import connect

    return connect(
        loaded,
        region,
        use_stand_in=stand_in,
        profile=profile,
        role_arn=role_arn,
        source_side=source_side,
        announce=_banner,
        say=_say,
    )


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
    from relight.progress import Lines, LiveTable

    err = _console(stderr=True)
    if json_out:
        yield None
    elif err.is_terminal:
        with LiveTable(err, names, title) as table:
            yield table
    else:
        yield Lines(err)


ConcurrencyOpt = Annotated[
    int,
    typer.Option(
        "--concurrency", min=1, max=50, help="Stacks in flight at once (CloudFormation's quota)."
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AcceptStaleOpt = Annotated[
    bool, typer.Option(help="Go ahead even with artifacts older than the RPO (marked).")
]


def _stack_timeout(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(
            f"{value:g} is not a number of seconds above 0: give how long to wait for one "
            "stack (e.g. 3600), or leave it out for the default (1 h on AWS, 120 s on the "
            "stand-in)"
        )
    return value


def _verify_timeout(value: float) -> float:
    if not math.isfinite(value):  # min=0 already refuses a negative number
        raise typer.BadParameter(
            f"{value:g} is not a number of seconds: give how long verification may wait "
            "(0 or more, e.g. 900)"
        )
    return value


StackTimeoutOpt = Annotated[
    float | None,
    typer.Option(callback=_stack_timeout, help="Seconds to wait for one stack (above 0)."),
]
DEFAULT_VERIFY = 900.0  # relight.verify.DEADLINE_SECONDS, without importing the engine
DEFAULT_CONCURRENCY = 8  # relight.scheduler.DEFAULT_CONCURRENCY, likewise
VerifyTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--verify-timeout",
        min=0,
        callback=_verify_timeout,
        help="Seconds verification waits for status checks, group capacity, healthy targets "
        "and an answering load balancer (AWS reports new ones initializing for minutes).",
    ),
]
ReplaceDataOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--replace-data",
        metavar="STACK",
        help="Restore this stack's database or data volumes again from the newest copies, "
        "replacing what runs now (repeat per stack). Without it, a stack that exists keeps "
        "the snapshot it was restored from.",
    ),
]
ReportsOpt = Annotated[Path, typer.Option("--reports", help="The reports directory (drills).")]
AsOpt = Annotated[
    str | None,
    typer.Option("--as", help="A test environment's name: stacks <env>-NAME-<stack> (see launch)."),
]


def _confirm(yes: bool, question: str, what: str) -> bool:
    """Ask on a terminal; without one, --yes is the only way on. The answer."""
    from relight.errors import InputError

    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(f"{what}; no terminal to ask on", hint="pass --yes to confirm")
    return typer.confirm(question)


# Commands ------------------------------------------------------------------------------------


@app.command()
def render(
    env: EnvOpt,
    region: RegionOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write to.")] = Path("out"),
    lint: Annotated[bool, typer.Option(help="Run cfn-lint on every template.")] = True,
    stand_in: StandInOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write each stack's template and parameters to --out. No AWS calls."""
    with _errors(debug):
        from relight.render import build_plan, lint_plan, write_plan

        _check_directory(out, "--out", "<stack>.template.json and <stack>.parameters.json")
        loaded = _load(env, region)
        plan = build_plan(loaded, region, stand_in=_on_stand_in(loaded, stand_in))
        findings = lint_plan(plan) if lint else {}
        try:
            written = write_plan(plan, out)
        except OSError as exc:
            raise _unwritable(out, exc) from exc
        if json_out:
            _print_json(
                {
                    "env": loaded.env.name,
                    "region": region,
                    "files": [str(p) for p in written],
                    "stand_in": plan.stand_in,
                    "skipped": plan.skipped,
                    "warnings": {k: [str(f) for f in v] for k, v in findings.items() if v},
                }
            )
            return
        con = _console()
        if plan.stand_in:
            con.print("[yellow]the stand-in variant[/] (stand_in_params applied; --aws for AWS's)")
        for key, why in plan.skipped.items():
            con.print(f"  {key:<32} skipped: {why}")
        for key, sp in plan.stacks.items():
            con.print(
                f"  {sp.name:<32} {sp.resource_count:>3} resources  "
                f"→ {out / (key + '.template.json')}"
            )
        for key, found in findings.items():
            for finding in found:
                con.print(f"  [yellow]warning[/] {plan.stacks[key].name}: {_escape(str(finding))}")
        con.print(
            f"{len(plan.stacks)} stacks rendered for {region}; cfn-lint: "
            + ("no errors" if lint else "skipped")
        )


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


def _unwritable(out: Path, exc: OSError) -> Exception:
    from relight.errors import InputError, RelightError

    what = f"--out {out}: cannot write {exc.filename or out}: {exc.strerror or exc}"
    if isinstance(exc, PermissionError | FileExistsError | IsADirectoryError | NotADirectoryError):
        return InputError(what, hint="name a directory you can write to")
    return RelightError(what)


@app.command()
def discover(
    env: EnvOpt,
    region: RegionOpt,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show what a failover into --region would restore from, and how old it is."""
    with _errors(debug):
        from datetime import UTC, datetime

        from relight.operations import artifact_rows, discover_environment
        from relight.render import build_plan

        loaded = _load(env, region)
        local = _on_stand_in(loaded, stand_in)
        plan = build_plan(loaded, region, stand_in=local)
        conn = _connect(loaded, region, local, profile, role_arn)
        found = discover_environment(plan, conn, now=lambda: datetime.now(UTC))
        rows = artifact_rows(loaded, found)
        if json_out:
            _print_json(rows)
        else:
            _print_discovery(loaded.env.name, region, rows, found)
        problems = [f"artifacts.{n}: {why}" for n, why in sorted(found.missing.items())]
        problems += list(found.zone_problems)
        if problems:
            from relight.errors import DiscoveryError

            raise DiscoveryError(
                f"{loaded.path}: {len(problems)} problem(s) in {region}:\n  "
                + "\n  ".join(problems),
                hint=f"relight replicate --env {loaded.env.name} --from "
                f"{loaded.env.home_region} --to {region} makes the missing copies"
                if found.missing
                else None,
            )


def _print_discovery(env: str, region: str, rows: list[dict[str, Any]], found: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{env}: restore sources in {region}")
    for column in ("artifact", "kind", "chosen id", "created", "age", "RPO", "source", "seen"):
        table.add_column(column, no_wrap=column in ("chosen id", "source"))
    for row in rows:
        table.add_row(
            row["name"],
            row["kind"],
            row["id"],
            row["created"][:19],
            row["age"],
            "[green]ok[/]" if row["rpo_ok"] else "[red]STALE[/]",
            f"{row['source_id'] or '?'} ({row['source_region'] or '?'})",
            str(row["candidates"]),
        )
    for name in sorted(found.missing):
        table.add_row(name, "", "[red]MISSING[/]", "", "", "", "", "0")
    con = _console()
    con.print(table)
    con.print("zones: " + ", ".join(f"{z.name} = {z.id}" for z in found.zones))


@app.command()
def plan(
    env: EnvOpt,
    region: RegionOpt,
    as_name: AsOpt = None,
    accept_stale: AcceptStaleOpt = False,
    replace_data: ReplaceDataOpt = None,
    reports: ReportsOpt = Path("reports"),
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show what failover (or launch --as) would do to each stack. Changes nothing."""
    with _errors(debug):
        from dataclasses import asdict

        from relight.operations import check_replace_data, plan_changes

        loaded = _load(env, region)
        local = _on_stand_in(loaded, stand_in)
        built = _build_plan(loaded, region, local, as_name)
        conn = _connect(loaded, region, local, profile, role_arn)
        _, planned, notes = plan_changes(
            built,
            conn,
            accept_stale=accept_stale,
            replace_data=check_replace_data(built, replace_data or []),
        )
        predicted = _forecast(built, as_name, reports)
        if json_out:
            _print_json(
                {
                    "env": loaded.env.name,
                    "region": region,
                    "stacks": [asdict(p) for p in planned],
                    "forecast": predicted.as_dict(),
                }
            )
            return
        con = _console()
        _print_plan(con, planned, f"plan for {built.env_name} in {region}", parameters=True)
        for note in notes:
            con.print(f"[dim]note: {_escape(note)}[/]")
        _print_forecast(con, predicted, loaded.env.objectives.rto)


def _forecast(built: Any, as_name: str | None, reports: Path) -> Any:
    """The RTO forecast for AWS: the plan itself, or its AWS variant when it is the stand-in's."""
    from relight.forecast import drilled_seconds, forecast

    history, drills = drilled_seconds(reports, built.env_name)
    if built.stand_in:
        built = _build_plan(built.loaded, built.region, False, as_name)
    return forecast(built, history, drills)


def _print_forecast(con: Console, predicted: Any, objective: float) -> None:
    from relight.report import human_duration

    within = "[green]within[/]" if predicted.seconds <= objective else "[red]OVER[/]"
    source = (
        f"{len(predicted.from_drills)} stack(s) timed by {predicted.drills} past AWS drill(s)"
        if predicted.from_drills
        else "typical creation times (no AWS drill recorded yet)"
    )
    con.print(
        f"RTO forecast on AWS: {human_duration(predicted.seconds)} "
        f"(critical path {' → '.join(predicted.critical_path)}; {source}); "
        f"objective {human_duration(objective)}: {within}"
    )


def _build_plan(loaded: LoadedEnvironment, region: str, local: bool, as_name: str | None) -> Any:
    from relight.render import build_plan, check_namespace

    if as_name is None:
        return build_plan(loaded, region, stand_in=local)
    return build_plan(
        loaded, region, stand_in=local, purpose="test", namespace=check_namespace(as_name)
    )


def _print_plan(con: Console, planned: list[Any], title: str, *, parameters: bool) -> None:
    from rich.table import Table

    from relight.discovery import human_age

    colours = {
        "create": "green",
        "recreate": "yellow",
        "retry": "yellow",
        "update": "yellow",
        "blocked": "red",
        "refused: would lose data": "red",
        "REPLACES DATA": "bold red",
    }
    table = Table(title=title)
    for column in ("stack", "CloudFormation name", "action", "state now", "note"):
        table.add_column(column, no_wrap=column != "note")
    for row in planned:
        colour = colours.get(row.action, "cyan")
        note = "; ".join([row.note, *row.changes]) if row.changes else row.note
        table.add_row(
            row.key, row.name, f"[{colour}]{row.action}[/]", row.status or "-", _escape(note)
        )
    con.print(table)
    if not parameters:
        return
    values = Table(title="parameters")
    for column in ("stack", "parameter", "value", "from", "age of data"):
        values.add_column(column, no_wrap=column != "value")
    for row in planned:
        for param in row.parameters:
            if param.source == "literal":
                continue
            age = human_age(param.age_seconds) if param.age_seconds is not None else ""
            value = param.value or "[dim](known once it exists)[/]"
            values.add_row(row.key, param.name, value, param.source, age)
    con.print(values)


@app.command()
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
            into_home=into_home, interruption=interruption,
        )  # fmt: skip


@app.command()
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
            into_home=into_home, interruption=interruption,
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
) -> None:
    from relight.operations import check_replace_data
    from relight.operations import failover as run_failover
    from relight.render import check_namespace, lint_plan
    from relight.summary import failover_json, print_failover

    loaded = _load(env, region)
    namespace = check_namespace(as_name) if as_name else None
    _check_not_home(loaded, region, into_home, "launch" if as_name else "failover", namespace)
    local = _on_stand_in(loaded, stand_in)
    built = _build_plan(loaded, region, local, as_name)
    replacing = check_replace_data(built, replace_data)
    lint_plan(built)
    continue_with = _continue_command(
        "launch" if as_name else "failover",
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
        },
    )
    conn = _connect(loaded, region, local, profile, role_arn)
    title = f"{built.purpose} of {built.env_name} into {region}"
    interruption.says = lambda: (
        f"interrupted. Finished stacks are kept; rerun the same command to continue:\n"
        f"  {continue_with}"
    )

    def confirm(planned: list[Any]) -> bool:
        _print_plan(_console(stderr=True), planned, f"plan: {title}", parameters=False)
        question = f"Deploy these {len(planned)} stacks in {region}?"
        return _confirm(False, question, "failover needs a yes")

    with _progress([sp.name for sp in built.stacks.values()], title, json_out) as progress:
        result = run_failover(
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
        )
    if json_out:
        _print_json(failover_json(result, continue_with))
    else:
        print_failover(_console(), result, continue_with)
    if conn.stand_in:
        _banner(conn)
    if not result.ok:
        raise typer.Exit(1)


def _check_not_home(
    loaded: LoadedEnvironment, region: str, meant: bool, command: str, namespace: str | None
) -> None:
    """A run that builds stacks refuses the home region unless --into-home-region says it is
    meant: a failover there would build its stacks beside production's."""
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
        f"{prefix}-* stacks beside production; {pick}, or pass --into-home-region if that "
        "is meant"
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


@app.command()
def drill(
    env: EnvOpt,
    region: RegionOpt,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the drill's stacks up (teardown --as drill-ID).")
    ] = False,
    drill_id: Annotated[
        str | None, typer.Option("--drill-id", help="Name the drill (default: a new run id).")
    ] = None,
    accept_stale: AcceptStaleOpt = False,
    warn_only: Annotated[
        bool,
        typer.Option(
            "--objectives-as-warnings", help="A missed RTO or RPO warns instead of failing."
        ),
    ] = False,
    stack_timeout: StackTimeoutOpt = None,
    verify_timeout: VerifyTimeoutOpt = DEFAULT_VERIFY,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    reports: ReportsOpt = Path("reports"),
    into_home: IntoHomeOpt = False,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Rehearse a failover: build a drill copy, verify it, tear it down, report RTO and RPO."""
    with _errors(debug) as interruption:
        from relight.drill import drill as run_drill
        from relight.operations import new_run_id
        from relight.render import stack_name

        drill_id = drill_id or new_run_id()
        namespace = _drill_namespace(drill_id)
        _check_directory(reports, "--reports", "the drill's report")
        loaded = _load(env, region)
        _check_not_home(loaded, region, into_home, "drill", namespace)
        local = _on_stand_in(loaded, stand_in)
        conn = _connect(loaded, region, local, profile, role_arn)
        remove = _continue_command(
            "teardown",
            {
                "--env": env,
                "--region": region,
                "--as": namespace,
                "--yes": True,
                "--stand-in": stand_in is True,
                "--aws": stand_in is False,
                "--profile": profile,
                "--role-arn": role_arn,
            },
        )
        report_file = reports / loaded.env.name / drill_id / "report.json"
        since = time.time() - 1  # a file system's coarse timestamps
        interruption.says = lambda: _drill_interrupted(drill_id, report_file, since, remove, keep)
        names = [
            stack_name(loaded.env.name, key, namespace)
            for key in loaded.order
            if not (local and loaded.env.stacks[key].stand_in_skip)
        ]
        title = f"drill of {loaded.env.name} in {region}"
        with _progress(names, title, json_out) as progress:
            report, paths = run_drill(
                loaded,
                conn,
                drill_id=drill_id,
                keep=keep,
                accept_stale=accept_stale,
                enforce_objectives=not warn_only,
                stack_timeout=stack_timeout,
                concurrency=concurrency,
                on_event=progress,
                events=progress is not None,
                reports_dir=reports,
                verify_deadline=verify_timeout,
                on_progress=None if json_out else _say,
            )
        if json_out:
            _print_json({**report, "files": [str(p) for p in paths]})
        else:
            _print_drill(_console(), report, paths)
        if conn.stand_in:
            _banner(conn)
        if not report["ok"]:
            raise typer.Exit(1)


def _drill_namespace(drill_id: str) -> str:
    """The drill's namespace, drill-ID; a bad ID is named as the option it came from."""
    from relight.errors import InputError
    from relight.render import check_namespace

    try:
        return check_namespace(f"drill-{drill_id}")
    except InputError:
        raise InputError(
            f"--drill-id {drill_id!r}: use 1-{40 - len('drill-')} lowercase letters, digits and "
            "single hyphens, not starting or ending with a hyphen (it becomes part of every "
            "stack name: <env>-drill-ID-<stack>)",
            hint="or leave --drill-id out for a new run id",
        ) from None


def _drill_interrupted(
    drill_id: str, report_file: Path, since: float, remove: str, keep: bool
) -> str:
    """What a Ctrl-C left of a drill: its report (written after the teardown) says; without
    one written `since` the run started, the teardown itself was interrupted."""
    try:
        fresh = report_file.stat().st_mtime >= since
        teardown = json.loads(report_file.read_text(encoding="utf-8"))["teardown"]
    except (OSError, ValueError, KeyError, TypeError):
        fresh, teardown = False, None
    if not fresh or not isinstance(teardown, dict):
        return (
            f"drill {drill_id} interrupted before its report was written; its stacks may "
            f"remain. Remove them with: {remove}"
        )
    lines = [f"drill {drill_id} interrupted; report: {report_file.with_suffix('.html')}"]
    if teardown.get("status") == "ok":
        lines.append("its stacks were torn down")
    else:
        left = ", ".join(teardown.get("left_behind") or []) or "its stacks"
        kept = " (--keep)" if keep else ""
        lines.append(f"still there{kept}: {left}. Remove them with: {remove}")
    return "\n  ".join(lines)


def _print_drill(con: Console, report: dict[str, Any], paths: list[Path]) -> None:
    from rich.table import Table

    from relight.report import human_duration, objective_rows

    phases = Table(title=f"drill {report['run_id']} of {report['env']} in {report['region']}")
    for column in ("phase", "status", "time"):
        phases.add_column(column)
    for p in report["phases"]:
        colour = {"ok": "green", "failed": "red"}.get(p["status"], "dim")
        phases.add_row(p["name"], f"[{colour}]{p['status']}[/]", human_duration(p["seconds"]))
    con.print(phases)
    from relight.summary import print_checks
    from relight.verify import Check

    print_checks(con, [Check(**c) for c in report["verification"]])
    colours = {"ok": "green", "failed": "red", "warn": "yellow"}
    for name, target, measured, verdict, css in objective_rows(report):
        shown = f"[{colours.get(css, 'dim')}]{verdict}[/]"
        con.print(f"{name}: {measured} (objective {target}): {shown}")
    if report["timings_note"]:
        con.print(f"[yellow]{_escape(report['timings_note'])}[/]")
    teardown = report["teardown"]
    con.print(f"teardown: {teardown['status']}" + (
        f"; left behind: {', '.join(teardown['left_behind'])}" if teardown["left_behind"] else ""
    ))  # fmt: skip
    for problem in report["problems"]:
        con.print(f"[red]problem:[/] {_escape(problem)}")
    con.print("report: " + ", ".join(str(p) for p in paths))
    con.print("[bold green]drill passed[/]" if report["ok"] else "[bold red]drill FAILED[/]")


@app.command()
def report(
    env: EnvOpt,
    reports: ReportsOpt = Path("reports"),
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List past drills with their RTO and RPO, and the trend; refresh reports/<env>/index.html."""
    with _errors(debug):
        from rich.table import Table

        from relight.report import history, human_duration, trend, write_index

        name = _load(env, None).env.name  # drills file their reports under the env's name
        rows = history(reports, name)
        index = write_index(reports, name) if rows else reports / name / "index.html"
        if json_out:
            _print_json({"env": name, "runs": rows, "trend": trend(rows)})
            return
        con = _console()
        if not rows:
            con.print(f"no reports for {name} in {reports}/{name}; run relight drill first")
            return
        table = Table(title=f"drills of {name}")
        for column in ("run", "started", "kind", "result", "RTO", "RPO", "objectives", "where"):
            table.add_column(column)
        for row in rows:
            if row.get("error"):
                table.add_row(row["run_id"], "", "", "[red]unreadable[/]", "", "", "", row["error"])
                continue
            met = {True: "met", False: "[red]missed[/]"}.get(row["objectives_met"], "-")
            table.add_row(
                row["run_id"],
                str(row["started"])[:19],
                row["kind"],
                "[green]ok[/]" if row["ok"] else "[red]failed[/]",
                human_duration(row["rto_seconds"]),
                human_duration(row["rpo_seconds"]),
                met,
                "stand-in" if row["stand_in"] else "AWS",
            )
        con.print(table)
        con.print(f"trend of the RTO: {trend(rows)}; chart: {index}")


@app.command()
def replicate(
    env: EnvOpt,
    source: Annotated[str, typer.Option("--from", help="The region to copy from.")],
    targets: Annotated[list[str], typer.Option("--to", help="A region to copy to (repeat).")],
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait until every copy is usable.")
    ] = True,
    prune: Annotated[
        int | None,
        typer.Option(help="Delete relight-made copies beyond the newest N (opt-in)."),
    ] = None,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Copy the newest AMIs and snapshots to other regions, with lineage; sources stay."""
    with _errors(debug) as interruption:
        from relight.operations import replicate_environment

        for region in targets:
            _check_region(region, "--to")
        loaded = _load(env, source, "--from")
        local = _on_stand_in(loaded, stand_in)
        conn = _connect(loaded, source, local, profile, None, source_side=True)
        err = _console(stderr=True)

        def progress(region: str, artifact: str, status: str, message: str) -> None:
            colour = "red" if status == "FAILED" else "cyan"
            err.print(f"  {region:<14} {artifact:<20} [{colour}]{status}[/]  {_escape(message)}")

        interruption.says = lambda: (
            "interrupted. Copies AWS has started go on; rerun the same command: it skips "
            "finished copies and waits for those still in progress."
        )
        results = replicate_environment(
            loaded, conn, targets, role_arn=role_arn, wait=wait, prune=prune, on_progress=progress
        )
        rows = [r.__dict__ for r in results]
        if json_out:
            _print_json(rows)
        else:
            from relight.replicate import summary_counts

            counts = summary_counts(results)
            _console().print(
                ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
                + f" across {', '.join(targets)}; no source was touched"
            )
        if any(r.action == "failed" for r in results):
            raise typer.Exit(1)


@app.command()
def teardown(
    env: EnvOpt,
    region: RegionOpt,
    as_name: AsOpt = None,
    yes: YesOpt = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Lift the protection of failover stacks: termination protection, and the "
            "deletion protection of their load balancers and databases (a final snapshot "
            "is kept).",
        ),
    ] = False,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Delete the stacks relight made for the environment in --region. Never AMIs or snapshots."""
    with _errors(debug) as interruption:
        from relight.operations import Declined, stacks_to_delete
        from relight.operations import teardown as run_teardown
        from relight.render import check_namespace

        namespace = check_namespace(as_name) if as_name else None
        loaded = _load(env, region)
        conn = _connect(loaded, region, stand_in, profile, role_arn)
        found = stacks_to_delete(loaded, conn, namespace)
        names = [s["StackName"] for s in found]
        what = f"{loaded.env.name}" + (f" --as {as_name}" if as_name else "")
        if not names:
            _console(stderr=True).print(f"no stacks of {what} in {region}; nothing to do")
            if json_out:
                _print_json({"deleted": [], "failed": [], "left_behind": []})
            return
        if not _confirm(
            yes,
            f"Delete {len(names)} stack(s) in {region}: {', '.join(names)}?",
            f"teardown would delete {len(names)} stack(s): {', '.join(names)}",
        ):
            raise Declined("not confirmed; nothing was deleted")
        title = f"teardown of {what} in {region}"
        interruption.says = lambda: (
            "interrupted. Deleted stacks are gone, the others stay; rerun the same command "
            "to delete the rest."
        )
        with _progress(names, title, json_out) as progress:
            done = run_teardown(
                loaded, conn, namespace=namespace, force=force, concurrency=concurrency,
                on_event=progress, confirmed=found,
            )  # fmt: skip
        failed = [r for r in done.results if not r.ok]
        if json_out:
            _print_json(
                {
                    "deleted": [r.name for r in done.results if r.ok],
                    "final_snapshots": [s for r in done.results for s in r.final_snapshots],
                    "failed": [
                        {"name": r.name, "status": r.status, "reason": r.reason} for r in failed
                    ],
                    "left_behind": done.left_behind,
                }
            )
        else:
            con = _console()
            for r in done.results:
                for snapshot in r.final_snapshots:
                    con.print(f"final snapshot kept: {_escape(snapshot)} ({r.name})")
            for r in failed:
                con.print(f"[red]{r.name}[/]: {r.action}: {_escape(r.reason)}")
            con.print(
                f"{len(done.results) - len(failed)} stack(s) deleted, {len(failed)} not; "
                "AMIs, snapshots and backups were not touched"
            )
            if done.left_behind:
                con.print(f"[red]still there:[/] {', '.join(done.left_behind)}")
            if any(r.action == "protected" for r in failed):
                con.print("Termination protection kept them: rerun with --force to lift it.")
        if not done.ok:
            raise typer.Exit(1)


@app.command()
def status(
    env: EnvOpt,
    region: RegionOpt,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show the environment's stacks in --region (every namespace), their state and last change."""
    with _errors(debug):
        from relight.operations import status as read_status

        loaded = _load(env, region)
        conn = _connect(loaded, region, stand_in, profile, role_arn)
        rows = read_status(loaded, conn)
        if json_out:
            _print_json(rows)
            return
        from rich.table import Table

        table = Table(title=f"{loaded.env.name} in {region}")
        for column in ("stack", "name", "status", "purpose", "protected", "last change"):
            table.add_column(column)
        for row in rows:
            table.add_row(
                row["stack"],
                row["name"],
                row["status"],
                row["purpose"] + (f" ({row['namespace']})" if row["namespace"] else ""),
                "yes" if row["protected"] else "",
                row["last_change"][:19],
            )
        _console().print(table if rows else f"no stacks of {loaded.env.name} in {region}")


@app.command()
def graph(
    env: EnvOpt,
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Region to render for (default: home).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="mermaid or dot.")] = "mermaid",
    debug: DebugOpt = False,
) -> None:
    """Print the stack dependency graph as Mermaid or Graphviz DOT. No AWS calls."""
    with _errors(debug):
        from relight.errors import InputError
        from relight.graph import to_dot, to_mermaid

        writers = {"mermaid": to_mermaid, "dot": to_dot}
        if fmt not in writers:
            raise InputError(f"--format: {fmt!r} is not one of mermaid, dot")
        loaded = _load(env, region)
        sys.stdout.write(writers[fmt](loaded.env))


# relight local ---------------------------------------------------------------------------------


@local_app.command("status")
def local_status(json_out: JsonOpt = False) -> None:
    """Show whether the stand-in is running, and where."""
    from relight import standin

    found = standin.find(standin.state_dir())
    if json_out:
        _print_json(found.__dict__ if found else None)
    elif found:
        _console().print(
            f"stand-in running: {found.endpoint} (pid {found.pid}, moto {found.moto_version}, "
            f"since {found.started_at}, stops after {found.idle_timeout / 3600:.1f} h idle)\n"
            f"look at it with: aws --endpoint-url {found.endpoint} ec2 describe-instances"
        )
    else:
        _console().print("stand-in not running (it starts when an environment needs it)")


@local_app.command("start")
def local_start(debug: DebugOpt = False) -> None:
    """Start the stand-in now (relight also starts it on demand)."""
    with _errors(debug):
        from relight import standin

        found = standin.ensure_running(standin.state_dir())
        _console().print(f"stand-in running: {found.endpoint} (pid {found.pid})")


@local_app.command("stop")
def local_stop() -> None:
    """Stop the stand-in; its simulated world is forgotten."""
    from relight import standin

    stopped = standin.stop(standin.state_dir())
    _console().print(
        f"stand-in stopped (was {stopped.endpoint})" if stopped else "stand-in was not running"
    )


def main() -> None:
    app()
