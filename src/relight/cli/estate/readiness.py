"""`relight estate readiness`: one table, environment by check, worst first; exit 1 when any
environment is not ready. `--publish` writes every verdict to CloudWatch in the region."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..common import _check_directory, _console, _errors, _escape, _print_json, _say
from ..options import DebugOpt, JsonOpt, PublishOpt, RegionOpt, ReportsOpt
from .banner import once_per_account
from .options import EstateOpt, load

COLOURS = {"ok": "green", "error": "red", "warning": "yellow", "?": "red"}


def readiness(
    estate: EstateOpt,
    region: RegionOpt,
    reports: ReportsOpt = Path("reports"),
    json_out: JsonOpt = False,
    publish: PublishOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Say whether a failover of every environment of the estate into the region would work
    now: one table, environment by check, the worst first. Deploys nothing (--publish writes
    the verdicts to CloudWatch in the region). Exit 0 all ready, 1 any not ready (or a verdict
    not published), 2 bad input."""
    with _errors(debug):
        from relight.estate.readiness import evaluate_estate

        loaded = load(estate, region)
        _check_directory(reports, "--reports", "the readiness pages")
        result = evaluate_estate(
            loaded, region, reports, publish=publish, say=_say, announce=once_per_account()
        )
        if json_out:
            _print_json(result.as_dict())
        else:
            _print(result, publish)
    unpublished = publish and (
        result.publish_note is not None or any(e.publish_error for e in result.envs.values())
    )
    if not result.ready or unpublished:
        raise typer.Exit(1)


def _print(result: Any, publish: bool) -> None:
    from rich.table import Table

    from relight.commands.readiness import CHECKS
    from relight.dr.report import human_duration

    con = _console()
    ready = sum(1 for e in result.envs.values() if e.ready)
    verdict = "[bold green]READY[/]" if result.ready else "[bold red]NOT READY[/]"
    con.print(
        f"{verdict}: estate {result.estate} into {result.region}: {ready} of "
        f"{len(result.envs)} environment(s) ready; RTO forecast on AWS "
        f"{human_duration(result.forecast_seconds)} (critical path "
        f"{' → '.join(result.critical_path) or '-'}; objective "
        f"{human_duration(result.objective_seconds)})"
    )
    table = Table(title=f"readiness of estate {result.estate} in {result.region}, worst first")
    for column in ("environment", "wave", "ready", *CHECKS):
        table.add_column(column, no_wrap=True)
    for env in result.envs.values():
        cells = env.cells()
        table.add_row(
            env.name,
            str(env.wave + 1),  # waves counted from 1, as failover's and drill's lines do
            "[green]yes[/]" if env.ready else "[red]no[/]",
            *(f"[{COLOURS.get(cells[c], 'dim')}]{cells[c]}[/]" for c in CHECKS),
        )
    con.print(table)
    for env in result.envs.values():
        worst = env.worst()
        if worst and not env.ready:
            con.print(f"[red]{env.name}[/]: {_escape(worst)}")
        if env.publish_error:
            con.print(f"[red]{env.name}: not published[/]: {_escape(env.publish_error)}")
    if publish:
        published = [e.name for e in result.envs.values() if e.published]
        if published:
            con.print(
                f"[dim]published to CloudWatch in {result.region} (namespace Relight, by "
                f"Environment): {', '.join(published)}[/]"
            )
        if result.published is not None:
            con.print(f"[dim]{_escape(result.published.line())}[/]")
        if result.publish_note:
            con.print(f"[yellow]{_escape(result.publish_note)}[/]")
    con.print(
        f"[dim]each environment's findings and fixes: relight readiness --env NAME --region "
        f"{result.region}, or its page in the reports directory[/]"
    )
