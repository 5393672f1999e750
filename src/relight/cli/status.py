"""`relight status`: the environment's stacks in a region, their state and last change; without
--region, the incident at a glance: every region, which one serves, since when, its latch,
the age of the data a failover would restore, and what a failback would run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from .common import _connect, _console, _errors, _escape, _load, _print_json
from .options import DebugOpt, EnvOpt, JsonOpt, ProfileOpt, RoleOpt, StandInOpt


def status(
    env: EnvOpt,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            "-r",
            help="One region's stacks. Without it: every region of the environment, and "
            "which one serves.",
        ),
    ] = None,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show which region serves the environment, or its stacks in --region."""
    with _errors(debug):
        from relight.commands.status import status as read_status

        loaded = _load(env, region)
        if region is None:
            _incident(loaded, json_out, stand_in, profile, role_arn)
            return
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
                row["purpose"]
                + (f" ({row['namespace']})" if row["namespace"] else "")
                + (f", prepared: stands {row['prepared']}" if row["prepared"] else ""),
                "yes" if row["protected"] else "",
                row["last_change"][:19],
            )
        _console().print(table if rows else f"no stacks of {loaded.env.name} in {region}")


def _incident(
    loaded: Any, json_out: bool, stand_in: bool | None, profile: str | None, role_arn: str | None
) -> None:
    from relight.commands.status import incident, region_state

    env = loaded.env
    now = datetime.now(UTC)
    rows = []
    for i, region in enumerate([env.home_region, *env.recovery_regions]):
        home = region == env.home_region
        conn = _connect(
            loaded, region, stand_in, profile, role_arn, source_side=home,
            announce=None if i == 0 else (lambda _: None),
        )  # fmt: skip
        rows.append(region_state(loaded, conn, now))
    from relight.commands.connection import env_option

    summary = incident(rows, env_option(loaded))
    if json_out:
        _print_json({"env": env.name, **summary, "regions": rows})
        return
    _print_incident(env.name, summary, rows)


def _print_incident(name: str, summary: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from relight.model.times import human_age

    con = _console()
    serves = summary["serves"]
    if summary["state"] == "home":
        con.print(f"[bold]{name} serves from its home region {serves}[/]")
    else:
        latch = "latched: traffic stays there" if summary["latched"] else "latch not set"
        con.print(
            f"[bold]{name} serves from {serves}[/] ({summary['state']} since "
            f"{summary['since']}; {latch})"
        )
    table = Table()
    for column in ("region", "role", "serving", "stacks", "latch", "newest data"):
        table.add_column(column)
    for row in rows:
        if "error" in row:
            table.add_row(row["region"], _role(row), "?", "?", "?", _escape(row["error"]))
            continue
        marker = row.get("serving")
        stacks = ", ".join(f"{n} {k}" for k, n in row.get("stacks", {}).items() if n) or "-"
        latches = ", ".join(f"{k}: {v}" for k, v in row.get("latches", {}).items()) or "-"
        ages = row.get("data_age") or {}
        newest = ", ".join(f"{k} {human_age(v)} old" for k, v in sorted(ages.items())) or "-"
        table.add_row(
            row["region"],
            _role(row),
            f"{marker['state']} since {marker['since'][:19]}" if marker else "",
            stacks,
            latches,
            "live" if row["home"] else newest,
        )
    con.print(table)
    if summary.get("failback_in_progress"):
        progress = summary["failback_in_progress"]
        con.print(
            f"a failback from {progress['from']} is in progress (done: "
            f"{', '.join(progress['done']) or 'nothing yet'}); rerun it to go on: "
            f"{progress['rerun']}"
        )
    elif summary.get("failback"):
        con.print(
            f"to fail back once {rows[0]['region']} is back: {summary['failback']} "
            "(--dry-run shows its phases)"
        )
    if summary.get("warning"):
        con.print(f"[yellow]warning:[/] {_escape(summary['warning'])}")


def _role(row: dict[str, Any]) -> str:
    return "home" if row["home"] else "recovery"
