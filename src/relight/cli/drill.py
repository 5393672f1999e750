"""`relight drill`: rehearse a failover (build, verify, tear down, report), and what a Ctrl-C
during one leaves behind."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    _banner,
    _check_directory,
    _check_not_home,
    _connect,
    _console,
    _continue_command,
    _errors,
    _escape,
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
    ReportsOpt,
    RoleOpt,
    StackTimeoutOpt,
    StandInOpt,
    StrategyOpt,
    VerifyTimeoutOpt,
)

if TYPE_CHECKING:
    from rich.console import Console


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
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    outage: Annotated[
        str | None,
        typer.Option(
            "--outage",
            metavar="REGION",
            help="Rehearse with this region switched off: every call to it and to the global "
            "control planes homed there is refused during the failover (the report lists "
            "them).",
        ),
    ] = None,
    with_failback: Annotated[
        bool,
        typer.Option(
            "--with-failback",
            help="Rehearse the way back too: the drill's data copied home, its copy built and "
            "verified there (with its own RTO), then both torn down.",
        ),
    ] = False,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Rehearse a failover: build a drill copy, verify it, tear it down, report RTO and RPO."""
    with _errors(debug) as interruption:
        from relight.commands.connection import new_run_id
        from relight.commands.drill import drill as run_drill
        from relight.model.plan import stack_name

        drill_id = drill_id or new_run_id()
        namespace = _drill_namespace(drill_id)
        _check_directory(reports, "--reports", "the drill's report")
        loaded = _load(env, region)
        _check_not_home(loaded, region, into_home, "drill", namespace)
        _check_outage(outage, region)
        local = _on_stand_in(loaded, stand_in)
        _refuse_placeholders(loaded, region, local)  # before the drill's lock and bucket
        conn = _connect(loaded, region, local, profile, role_arn)
        home = (
            _connect(
                loaded,
                loaded.env.home_region,
                local,
                profile,
                role_arn,
                source_side=True,
                announce=lambda _: None,
            )
            if with_failback
            else None
        )
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
                strategy=strategy,
                data=data,
                outage=outage,
                home=home,
            )
        if json_out:
            _print_json({**report, "files": [str(p) for p in paths]})
        else:
            _print_drill(_console(), report, paths, remove)
        if conn.stand_in:
            _banner(conn)
        if not report["ok"]:
            raise typer.Exit(1)


def _check_outage(outage: str | None, region: str) -> None:
    """--outage names a region (not the one the drill builds in)."""
    from relight.errors import InputError
    from relight.model.values import check_region

    if outage is None:
        return
    try:
        check_region(outage)
    except ValueError as exc:
        raise InputError(f"--outage: {exc}") from None
    if outage == region:
        raise InputError(
            f"--outage {outage} is the region the drill rebuilds in",
            hint="name the region to rehearse as lost, e.g. the home region",
        )


def _drill_namespace(drill_id: str) -> str:
    """The drill's namespace, drill-ID; a bad ID is named as the option it came from."""
    from relight.errors import InputError
    from relight.model.plan import check_namespace

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


def _print_drill(con: Console, report: dict[str, Any], paths: list[Path], remove: str = "") -> None:
    from rich.table import Table

    from relight.dr.report import human_duration, objective_rows

    phases = Table(title=f"drill {report['run_id']} of {report['env']} in {report['region']}")
    for column in ("phase", "status", "time"):
        phases.add_column(column)
    for p in report["phases"]:
        colour = {"ok": "green", "failed": "red"}.get(p["status"], "dim")
        phases.add_row(p["name"], f"[{colour}]{p['status']}[/]", human_duration(p["seconds"]))
    con.print(phases)
    from relight.commands.summary import print_checks
    from relight.steps.verify import Check

    print_checks(con, [Check(**c) for c in report["verification"]])
    colours = {"ok": "green", "failed": "red", "warn": "yellow"}
    for name, target, measured, verdict, css in objective_rows(report):
        shown = f"[{colours.get(css, 'dim')}]{verdict}[/]"
        con.print(f"{name}: {measured} (objective {target}): {shown}")
    if report["timings_note"]:
        con.print(f"[yellow]{_escape(report['timings_note'])}[/]")
    failback = report.get("failback")
    if failback:
        shown = (
            "[green]verified[/]" if failback["ok"] else f"[red]stopped at {failback['failed']}[/]"
        )
        con.print(
            f"failback to {failback['home']}: {shown} in "
            f"{human_duration(failback['rto_seconds'])} (snapshot to home verified)"
        )
    teardown = report["teardown"]
    if teardown.get("deleted"):
        con.print(f"deleted what the drill made: {', '.join(teardown['deleted'])}")
    con.print(f"teardown: {teardown['status']}" + (
        f"; left behind: {', '.join(teardown['left_behind'])}" if teardown["left_behind"] else ""
    ))  # fmt: skip
    for note in report.get("notes", []):
        con.print(f"[yellow]note:[/] {_escape(note)}")
    for problem in report["problems"]:
        con.print(f"[red]problem:[/] {_escape(problem)}")
    if teardown["status"] not in ("ok", "not run") and remove:
        con.print(f"remove the drill's stacks with: [bold]{_escape(remove)}[/]")
    con.print("report: " + ", ".join(str(p) for p in paths))
    con.print(f"strategy: {report.get('strategy', 'backup_restore')}")
    outage = report.get("outage")
    if outage:
        for refused in outage["refused"]:
            con.print(
                f"[yellow]refused[/] ({outage['region']} down): {refused['service']} "
                f"{refused['action']} in {refused['region']}: {_escape(refused['why'])}"
            )
        con.print(_escape(outage["summary"]))
    con.print("[bold green]drill passed[/]" if report["ok"] else "[bold red]drill FAILED[/]")


def _refuse_placeholders(loaded: Any, region: str, stand_in: bool) -> None:
    """Exit 2 on what capture left as REPLACE-ME for `region` (kms_keys, per_region values), or
    a per_region value without an entry for it: the drill would stop there after its lock."""
    from relight.model.config import refuse_placed
    from relight.model.per_region import region_problems

    problems = region_problems(loaded.env, region, stand_in)
    if problems:
        refuse_placed(loaded, problems)
