"""`relight teardown`: delete the stacks relight made, never AMIs or snapshots."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import _confirm, _connect, _console, _errors, _escape, _load, _print_json, _progress
from .options import (
    DEFAULT_CONCURRENCY,
    AsOpt,
    ConcurrencyOpt,
    DebugOpt,
    EnvOpt,
    JsonOpt,
    ProfileOpt,
    RegionOpt,
    RoleOpt,
    StandInOpt,
    YesOpt,
)


def teardown(
    env: EnvOpt,
    region: RegionOpt,
    as_name: AsOpt = None,
    yes: YesOpt = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Lift the protection of failover stacks: termination protection, and the "
            "deletion protection of their load balancers and databases (a final snapshot "
            "is kept).",
        ),
    ] = False,
    prepared: Annotated[
        bool,
        typer.Option(
            "--prepared",
            help="Delete the stacks relight prepare made too (IAM roles, DNS pair, standing "
            "stacks): the next failover would find nothing ready.",
        ),
    ] = False,
    concurrency: ConcurrencyOpt = DEFAULT_CONCURRENCY,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Delete the stacks relight made for the environment in --region. Never AMIs or snapshots."""
    with _errors(debug) as interruption:
        from relight.commands.connection import Declined
        from relight.commands.teardown import made_by_stacksets, stacks_to_delete
        from relight.commands.teardown import teardown as run_teardown
        from relight.model.plan import check_namespace

        namespace = check_namespace(as_name) if as_name else None
        loaded = _load(env, region)
        conn = _connect(loaded, region, stand_in, profile, role_arn)
        every = stacks_to_delete(loaded, conn, namespace, prepared=True)
        kept = [] if prepared else [s["StackName"] for s in every if _is_prepared(s)]
        found = [s for s in every if s["StackName"] not in kept]
        names = [s["StackName"] for s in found]
        what = f"{loaded.env.name}" + (f" --as {as_name}" if as_name else "")
        if kept:
            _console(stderr=True).print(
                f"left alone (made by relight prepare; --prepared deletes them): {', '.join(kept)}"
            )
        for name, stackset in made_by_stacksets(loaded, conn) if prepared and not namespace else []:
            _console(stderr=True).print(
                f"left alone: {name}, made by StackSet {stackset} (relight estate prepare), "
                "maybe for other environments too: a StackSet's stack is deleted through its "
                "StackSet (DeleteStackInstances, in the estate's administrator account), "
                "never by teardown"
            )
        if not names:
            _console(stderr=True).print(f"no stacks of {what} in {region}; nothing to do")
            if json_out:
                _print_json({"deleted": [], "failed": [], "left_behind": []})
            return
        if not _confirm(
            yes,
            f"Delete {len(names)} stack(s) in {region}: {', '.join(names)}?",
            f"teardown would delete {len(names)} stack(s): {', '.join(names)}",
        ):
            raise Declined("not confirmed; nothing was deleted")
        title = f"teardown of {what} in {region}"
        interruption.says = lambda: (
            "interrupted. Deleted stacks are gone, the others stay; rerun the same command "
            "to delete the rest."
        )
        with _progress(names, title, json_out) as progress:
            done = run_teardown(
                loaded, conn, namespace=namespace, force=force, concurrency=concurrency,
                on_event=progress, confirmed=found, prepared=prepared,
            )  # fmt: skip
        failed = [r for r in done.results if not r.ok]
        if json_out:
            _print_json(
                {
                    "deleted": [r.name for r in done.results if r.ok],
                    "final_snapshots": [s for r in done.results for s in r.final_snapshots],
                    "failed": [
                        {"name": r.name, "status": r.status, "reason": r.reason} for r in failed
                    ],
                    "left_behind": done.left_behind,
                    "kept_volumes": done.kept_volumes,
                    "removed": done.removed_extras,
                }
            )
        else:
            _print_done(done, region)
        if not done.ok:
            raise typer.Exit(1)


def _print_done(done: Any, region: str) -> None:
    con = _console()
    failed = [r for r in done.results if not r.ok]
    for r in done.results:
        for snapshot in r.final_snapshots:
            con.print(f"final snapshot kept: {_escape(snapshot)} ({r.name})")
    for volume in done.kept_volumes:
        con.print(
            f"data volume kept: {_escape(volume)}; delete it once its data is not "
            f"needed: aws ec2 delete-volume --region {region} --volume-id "
            f"{volume.split()[0]}"
        )
    for removed in done.removed_extras:
        con.print(f"removed before the VPC's delete: {_escape(removed)}")
    for r in failed:
        con.print(f"[red]{r.name}[/]: {r.action}: {_escape(r.reason)}")
    con.print(
        f"{len(done.results) - len(failed)} stack(s) deleted, {len(failed)} not; "
        "AMIs, snapshots and backups were not touched"
    )
    if done.left_behind:
        con.print(f"[red]still there:[/] {', '.join(done.left_behind)}")
    if any(r.action == "protected" for r in failed):
        con.print("Termination protection kept them: rerun with --force to lift it.")


def _is_prepared(stack: dict[str, Any]) -> bool:
    """Made by relight prepare: a teardown without --prepared leaves it alone."""
    from relight.model.shapes import tag_dict
    from relight.steps.teardown import PREPARED_TAG

    return PREPARED_TAG in tag_dict(stack.get("Tags"))
