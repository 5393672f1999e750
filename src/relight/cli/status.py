"""`relight status`: the environment's stacks in a region, their state and last change."""

from __future__ import annotations

from .common import _connect, _console, _errors, _load, _print_json
from .options import DebugOpt, EnvOpt, JsonOpt, ProfileOpt, RegionOpt, RoleOpt, StandInOpt


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
        from relight.commands.status import status as read_status

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
                row["purpose"]
                + (f" ({row['namespace']})" if row["namespace"] else "")
                + (f", prepared: stands {row['prepared']}" if row["prepared"] else ""),
                "yes" if row["protected"] else "",
                row["last_change"][:19],
            )
        _console().print(table if rows else f"no stacks of {loaded.env.name} in {region}")
