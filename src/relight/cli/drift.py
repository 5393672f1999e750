"""`relight drift`: how production in the home region differs from the environment file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import _connect, _console, _errors, _escape, _load, _on_stand_in, _print_json
from .options import DebugOpt, EnvOpt, JsonOpt, ProfileOpt, RoleOpt, StandInOpt

if TYPE_CHECKING:
    from rich.console import Console


PreparedOpt = Annotated[
    bool,
    typer.Option(
        "--prepared/--home-only",
        help="Also run CloudFormation's drift detection on the stacks prepared in each "
        "recovery region (the default), or compare the home region only.",
    ),
]


def drift(
    env: EnvOpt,
    prepared: PreparedOpt = True,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Compare production in the home region with the environment file, and the stacks
    prepared in the recovery regions with their templates (CloudFormation's drift detection).
    Changes no resource.

    Exit 1 when they differ, 0 when they do not.
    """
    with _errors(debug):
        from relight.drift.prepared import add_prepared
        from relight.drift.production import drift_of

        loaded = _load(env, None)
        home = loaded.env.home_region
        local = _on_stand_in(loaded, stand_in)
        conn = _connect(loaded, home, local, profile, role_arn)
        found = drift_of(loaded, lambda service: conn.aws.client(service, home), stand_in=local)
        if prepared:
            add_prepared(found, loaded, conn.aws.client, stand_in=local)
        if json_out:
            _print_json(found.as_dict())
        else:
            _print_drift(_console(), found)
    if found.differences:
        raise typer.Exit(1)


def _print_drift(con: Console, found: Any) -> None:
    from rich.table import Table

    colours = {"changed": "yellow", "only_live": "red", "only_declared": "red"}
    kinds = {
        "changed": "differs",
        "only_live": "in production, not in the file",
        "only_declared": "in the file, not in production",
    }
    con.print(f"production: {_escape(found.production)} in {found.region}")
    for stack in found.stacks:
        named = f"{stack.key} ({stack.name})" if stack.name else stack.key
        if stack.region:
            named += f" in {stack.region}, CloudFormation's drift detection"
        if not stack.differences:
            if stack.compared:
                con.print(
                    f"[green]{_escape(named)}[/]: as declared "
                    f"({stack.compared} {found.unit if not stack.region else 'resource(s)'} "
                    "compared)"
                )
            continue
        table = Table(title=f"{_escape(named)}: {len(stack.differences)} difference(s)")
        by_key = any(d.key_path for d in stack.differences)  # a captured production
        columns = ("resource", "physical id", "property") if not by_key else ("file key",)
        for column in (*columns, "declared", "live", "kind"):
            table.add_column(column, no_wrap=column in ("resource", "property", "file key"))
        for d in stack.differences:
            where = (d.key_path,) if by_key else (d.resource, d.physical_id or "-", d.property)
            table.add_row(
                *(_escape(w) for w in where),
                _escape(_shown(d.declared)),
                _escape(_shown(d.live)),
                f"[{colours[d.kind]}]{kinds[d.kind]}[/]",
            )
        con.print(table)
    for note in found.notes:
        con.print(f"[yellow]note:[/] {_escape(note)}")
    if found.not_compared:  # once, never as differences: the list is in --json
        count = len(found.not_compared)
        con.print(
            f"not compared: {count} {'property' if count == 1 else 'properties'} capture only "
            "notes (its CAPTURE comments: what the blueprints cannot reproduce); the list is "
            "not_compared in `relight drift --json`; a comment new or gone is a difference"
        )
    count = len(found.differences)
    if count:
        con.print(
            f"[red]drift:[/] {count} difference(s) in {found.env}'s home region {found.region}"
        )
    else:
        con.print(f"no drift: {found.env}'s home region {found.region} is as the file declares")


def _shown(value: Any) -> str:
    return "-" if value is None else str(value)
