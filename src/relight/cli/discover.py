"""`relight discover`: what a failover would restore from, and how old it is."""

from __future__ import annotations

from typing import Any

from .common import _connect, _console, _errors, _load, _on_stand_in, _print_json
from .options import DebugOpt, EnvOpt, JsonOpt, ProfileOpt, RegionOpt, RoleOpt, StandInOpt


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

        from relight.commands.discover import artifact_rows, discover_environment
        from relight.steps.render import build_plan

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
