"""`relight estate drill`: every environment's drill on its drill namespace, in the estate's
order, under its shared API budgets; one estate report beside the environments' own."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..common import _check_directory, _console, _errors, _escape, _fail, _print_json, _say
from ..options import DebugOpt, JsonOpt, RegionOpt, ReportsOpt, StrategyOpt
from .options import EstateOpt, load

if TYPE_CHECKING:
    from rich.console import Console

    from relight.estate.drill import EstateDrill


def drill(
    estate: EstateOpt,
    region: RegionOpt,
    strategy: StrategyOpt = None,
    outage: Annotated[
        str | None,
        typer.Option(
            "--outage",
            metavar="REGION|home",
            help="Rehearse with this region switched off (`home`: each environment's own home "
            "region): every call to it is refused during each environment's failover.",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="ENV[,ENV]",
            help="Drill just these environments (their predecessors verified already, or named "
            "too): what the estate report's continue command passes.",
        ),
    ] = None,
    drill_id: Annotated[
        str | None,
        typer.Option("--drill-id", help="Name the drill (default: a new run id)."),
    ] = None,
    warn_only: Annotated[
        bool,
        typer.Option(
            "--objectives-as-warnings", help="A missed RTO or RPO warns instead of failing."
        ),
    ] = False,
    reports: ReportsOpt = Path("reports"),
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Rehearse the estate's failover: each environment drilled (built, verified, torn down) as
    soon as its predecessors verified; one report with the estate's RTO and slowest path."""
    with _errors(debug):
        from relight.commands.connection import new_run_id
        from relight.estate.drill import DrillSettings, EstateDrillInterrupted, drill_estate

        from ..drill import _drill_namespace

        drill_id = drill_id or new_run_id()
        _drill_namespace(drill_id)  # a bad --drill-id: refused before anything runs
        _check_directory(reports, "--reports", "the estate's report")
        _check_outage(outage, region)
        loaded = load(estate, region)
        settings = DrillSettings(
            drill_id=drill_id,
            reports_dir=reports,
            strategy=strategy,
            outage=outage,
            enforce_objectives=not warn_only,
        )
        if loaded.file.stand_in and not json_out:
            _console(stderr=True).print(
                "[bold black on yellow] LOCAL STAND-IN [/] the estate runs on moto: nothing real "
                "is touched; no AWS account is used."
            )
        names = [n.strip() for item in only or [] for n in item.split(",") if n.strip()]
        try:
            result = drill_estate(
                loaded,
                region,
                settings,
                only=names or None,
                on_progress=(lambda _: None) if json_out else _say,
                ref=estate,
            )
        except EstateDrillInterrupted as stopped:
            running = ", ".join(stopped.run.interrupted) or "none"
            _fail(
                _escape(
                    f"estate drill {drill_id} interrupted while {running} ran: each drill tore "
                    "down what it built (its own report says if anything is left); estate "
                    f"report: {stopped.paths[1]}\n  continue with: "
                    f"{stopped.run.continue_command()}"
                ),
                130,
            )
        if json_out:
            _print_json({**result.report, "files": [str(p) for p in result.paths]})
        else:
            _print_estate_drill(_console(), result)
        if not result.ok:
            raise typer.Exit(1)


def _check_outage(outage: str | None, region: str) -> None:
    """--outage: `home`, or a region other than the one the estate is drilled into."""
    from relight.estate.drill import OUTAGE_HOME

    from ..drill import _check_outage as check_region_outage

    if outage != OUTAGE_HOME:
        check_region_outage(outage, region)


def _print_estate_drill(con: Console, result: EstateDrill) -> None:
    from rich.table import Table

    from relight.dr.report import human_duration

    report = result.report
    table = Table(
        title=f"drill {report['run_id']} of estate {report['estate']} in {report['region']}"
    )
    for column in ("environment", "wave", "account", "state", "what happened"):
        table.add_column(column)
    colours = {"verified": "green", "failed": "red", "stopped": "yellow"}
    for env in report["environments"]:
        state = env["state"]
        table.add_row(
            env["name"],
            str(env["wave"] + 1),
            env["account"],
            f"[{colours.get(state, 'dim')}]{state}[/]",
            _escape(env["line"]),
        )
    con.print(table)
    objectives = report["objectives"]
    met = objectives["rto_met"]
    verdict = "not measured" if met is None else "[green]met[/]" if met else "[red]MISSED[/]"
    path = " → ".join(report["rto_path"])
    con.print(
        f"estate RTO: {human_duration(report['rto_seconds'])} (objective "
        f"{human_duration(objectives['rto_seconds'])}): {verdict}"
        + (f"; slowest chain {path}" if path else "")
    )
    if report["rto_not_measured"]:
        con.print(f"[yellow]estate RTO not measured:[/] {_escape(report['rto_not_measured'])}")
    slowest = report["slowest_path"]
    con.print(
        f"slowest path: {' → '.join(slowest['environments']) or '—'} "
        f"({human_duration(slowest['seconds'])} of drills, teardowns included)"
    )
    if report["continue_command"]:
        con.print(f"continue the estate with: [bold]{_escape(report['continue_command'])}[/]")
    con.print("report: " + ", ".join(str(p) for p in result.paths))
    con.print(
        "[bold green]estate drill passed[/]" if result.ok else "[bold red]estate drill FAILED[/]"
    )
