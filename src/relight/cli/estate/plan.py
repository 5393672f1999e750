"""`relight estate plan`: the waves, each environment's plan summary and RTO forecast, and the
estate's forecast (the critical path) against its objective. Changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..common import _check_directory, _console, _errors, _escape, _print_json, _say
from ..options import DebugOpt, JsonOpt, RegionOpt, ReportsOpt
from .banner import once_per_account
from .options import EstateOpt, load


def plan(
    estate: EstateOpt,
    region: RegionOpt,
    reports: ReportsOpt = Path("reports"),
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show each environment's plan and forecast RTO, the waves, and the estate's forecast:
    the critical path through after: and the waves, against its objective. Changes nothing.
    Exit 0 when every environment could be planned, else its problem's code."""
    with _errors(debug):
        from relight.estate.plan import plan_estate

        loaded = load(estate, region)
        _check_directory(reports, "--reports", "nothing (the past drills are read from it)")
        result = plan_estate(loaded, region, reports, say=_say, announce=once_per_account())
        if json_out:
            _print_json(result.as_dict())
        else:
            _print(result)
    if result.exit_code():
        raise typer.Exit(result.exit_code())


def _print(result: Any) -> None:
    from rich.table import Table

    from relight.dr.report import human_duration

    con = _console()
    con.print(
        f"[bold]estate {result.estate}[/] into {result.region}: {len(result.envs)} "
        f"environment(s) in {len(result.waves)} wave(s)"
    )
    for i, wave in enumerate(result.waves):
        con.print(f"  wave {i + 1}: {', '.join(wave)}")
    table = Table(title=f"plan of estate {result.estate} in {result.region}")
    for column in ("wave", "environment", "account", "after", "strategy", "stacks",
                   "restores from", "forecast RTO", "objective"):  # fmt: skip
        table.add_column(column, no_wrap=column not in ("stacks", "restores from"))
    for env in result.envs.values():
        stacks = env.summary()
        forecast = "-"
        if env.forecast_seconds is not None:
            colour = "green" if env.forecast_seconds <= env.rto_seconds else "red"
            forecast = f"[{colour}]{human_duration(env.forecast_seconds)}[/]"
        table.add_row(
            str(env.wave + 1),
            env.name,
            env.account,
            ", ".join(env.predecessors) or "-",
            env.strategy or "-",
            f"[red]{_escape(stacks)}[/]" if env.error else _escape(stacks),
            _escape(env.restores_text()),
            forecast,
            human_duration(env.rto_seconds),
        )
    con.print(table)
    for env in result.envs.values():
        if env.error:
            con.print(f"[red]{env.name}[/]: {_escape(env.error)}")
        for note in env.notes:
            con.print(f"[dim]{env.name}: note: {_escape(note)}[/]")
    within = "[green]within[/]" if result.within else "[red]OVER[/]"
    path = " → ".join(result.critical_path) or "-"
    con.print(
        f"RTO forecast for the estate on AWS: {human_duration(result.critical_seconds)} "
        f"(critical path {path}); objective {human_duration(result.objective_seconds)}: {within}"
    )
    if result.unforecast:
        con.print(
            f"[yellow]no forecast for {', '.join(result.unforecast)}: the estate's is a lower "
            "bound[/]"
        )
    con.print(
        "[dim]each environment's ladder (RTO, RPO and cost per rung): "
        "relight plan --env NAME --region " + result.region + "[/]"
    )
