"""`relight replicate`: copy the newest AMIs and snapshots to other regions, with lineage."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import (
    _check_region,
    _connect,
    _console,
    _errors,
    _escape,
    _load,
    _on_stand_in,
    _print_json,
)
from .options import DebugOpt, EnvOpt, JsonOpt, ProfileOpt, RoleOpt, StandInOpt


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
        from relight.commands.replicate import replicate_environment

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
            from relight.steps.replicate import summary_counts

            counts = summary_counts(results)
            _console().print(
                ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
                + f" across {', '.join(targets)}; no source was touched"
            )
        if any(r.action == "failed" for r in results):
            raise typer.Exit(1)
