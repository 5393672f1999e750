"""`relight plan`: what a failover (or launch) would do to each stack, and the RTO forecast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    _build_plan,
    _connect,
    _console,
    _errors,
    _escape,
    _load,
    _on_stand_in,
    _print_json,
)
from .options import (
    AcceptStaleOpt,
    AsOpt,
    DataOpt,
    DebugOpt,
    EnvOpt,
    JsonOpt,
    ProfileOpt,
    RegionOpt,
    ReplaceDataOpt,
    ReportsOpt,
    RoleOpt,
    StandInOpt,
    StrategyOpt,
)

if TYPE_CHECKING:
    from rich.console import Console


def plan(
    env: EnvOpt,
    region: RegionOpt,
    as_name: AsOpt = None,
    accept_stale: AcceptStaleOpt = False,
    replace_data: ReplaceDataOpt = None,
    reports: ReportsOpt = Path("reports"),
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show what failover (or launch --as) would do to each stack. Changes nothing."""
    with _errors(debug):
        from dataclasses import asdict

        from relight.commands.failover import check_replace_data, plan_changes

        loaded = _load(env, region)
        local = _on_stand_in(loaded, stand_in)
        built = _build_plan(loaded, region, local, as_name, strategy, data=data)
        replacing = check_replace_data(built, replace_data or [])  # bad input: before any call
        conn = _connect(loaded, region, local, profile, role_arn)
        _, planned, notes = plan_changes(
            built, conn, accept_stale=accept_stale, replace_data=replacing
        )
        # The forecast and the dependencies are about AWS: the plan's AWS variant, built once.
        on_aws = (
            _build_plan(loaded, region, False, as_name, strategy, data=data)
            if built.stand_in
            else built
        )
        predicted = _forecast(on_aws, reports)
        elsewhere = _elsewhere(on_aws)
        rungs = _ladder(loaded, region, reports)
        if json_out:
            _print_json(
                {
                    "env": loaded.env.name,
                    "region": region,
                    "strategy": built.strategy,
                    "stacks": [asdict(p) for p in planned],
                    "prepared": {k: sp.name for k, sp in built.prepared.items()},
                    "not_built": built.skipped,
                    "forecast": predicted.as_dict(),
                    "outside_dependencies": [asdict(d) for d in elsewhere],
                    "ladder": [r.as_dict() for r in rungs],
                }
            )
            return
        con = _console()
        title = f"plan for {built.env_name} in {region} ({built.strategy})"
        _print_plan(con, planned, title, parameters=True)
        for key, sp in built.prepared.items():
            con.print(f"  {sp.name}: prepared ahead of time (stacks.{key}); read, never changed")
        for key, why in built.skipped.items():
            con.print(f"  [dim]{key}: not built: {_escape(why)}[/]")
        for note in notes:
            con.print(f"[dim]note: {_escape(note)}[/]")
        _print_forecast(con, predicted, loaded.env.objectives.rto)
        _print_elsewhere(con, elsewhere, region)
        _print_ladder(con, rungs, built.strategy, loaded.env.objectives.rto)


def _elsewhere(on_aws: Any) -> list[Any]:
    """What the deploy on AWS needs from control planes homed in other regions."""
    from relight.model.control_planes import outside_dependencies

    return outside_dependencies(on_aws)


def _print_elsewhere(con: Console, elsewhere: list[Any], region: str) -> None:
    if not elsewhere:
        con.print("needs nothing from another region's control planes: statically stable")
        return
    regions = ", ".join(sorted({d.region for d in elsewhere}))
    con.print(
        f"[yellow]depends on control planes outside {region}[/] ({regions}): while such a "
        f"region is down these {len(elsewhere)} resource(s) cannot be created "
        "(AWS Fault Isolation Boundaries: create them ahead of time)"
    )
    for dependency in elsewhere:
        con.print(f"  {_escape(str(dependency))}")


def _ladder(loaded: Any, region: str, reports: Path) -> list[Any]:
    """The three rungs of the DR ladder on AWS, with the past AWS drills' timings."""
    from relight.dr.forecast import drilled_seconds
    from relight.dr.ladder import ladder

    history, drills = drilled_seconds(reports, loaded.env.name)
    return ladder(loaded, region, history, drills)


def _print_ladder(con: Console, rungs: list[Any], current: str, objective: float) -> None:
    from rich.table import Table

    from relight.dr.costs import usd
    from relight.dr.report import human_duration
    from relight.model.prices import PRICES_AS_OF

    table = Table(title="the DR ladder: forecast RTO on AWS against standing cost")
    for column in ("strategy", "forecast RTO", "standing cost", "stands ready before a disaster"):
        table.add_column(column)
    for rung in rungs:
        within = "green" if rung.forecast.seconds <= objective else "red"
        unpriced = f" (+{len(rung.unpriced)} unpriced)" if rung.unpriced else ""
        table.add_row(
            rung.strategy + (" (this run)" if rung.strategy == current else ""),
            f"[{within}]{human_duration(rung.forecast.seconds)}[/]",
            usd(rung.usd_month) + unpriced,
            ", ".join(rung.standing) or "-",
        )
    con.print(table)
    con.print(
        f"[dim]standing cost: on-demand list prices as of {PRICES_AS_OF} (docs/prices.md; "
        "override with prices: in the environment file); data transfer, snapshots and "
        "usage-based charges are not counted[/]"
    )
    for rung in rungs:
        for line in rung.unpriced:
            con.print(
                f"[dim]  {rung.strategy}: {line.stack}.{line.resource}: {_escape(line.what)}[/]"
            )


def _forecast(on_aws: Any, reports: Path) -> Any:
    """The RTO forecast on AWS, refined by the past AWS drills in `reports`."""
    from relight.dr.forecast import drilled_seconds, forecast

    history, drills = drilled_seconds(reports, on_aws.env_name)
    return forecast(on_aws, history, drills)


def _print_forecast(con: Console, predicted: Any, objective: float) -> None:
    from relight.dr.report import human_duration

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


def _print_plan(con: Console, planned: list[Any], title: str, *, parameters: bool) -> None:
    from rich.table import Table

    from relight.model.times import human_age

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
