"""`relight failback`: bring the environment home from the region it failed over to, once the
home region is back (commands/failback.py runs the phases)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    _banner,
    _confirm,
    _connect,
    _console,
    _errors,
    _escape,
    _load,
    _on_stand_in,
    _print_json,
    _say,
)
from .options import DebugOpt, EnvOpt, JsonOpt, ProfileOpt, RoleOpt, StandInOpt, YesOpt
from .plan import _print_plan

if TYPE_CHECKING:
    from rich.console import Console

    from relight.commands.failback import FailbackPlan, FailbackResult

FromOpt = Annotated[
    str,
    typer.Option("--from", help="The region the environment failed over to, that serves now."),
]


def failback(
    env: EnvOpt,
    from_region: FromOpt,
    yes: YesOpt = False,
    ungraceful: Annotated[
        bool,
        typer.Option(
            "--ungraceful",
            help="Keep serving from --from while data is copied home: no outage, but the "
            "writes made there after the snapshot are not brought home.",
        ),
    ] = False,
    teardown: Annotated[
        bool,
        typer.Option(
            "--teardown",
            help="Delete every stack in --from afterwards (final snapshots kept), instead of "
            "returning it to its DR rung.",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the phases and change nothing.")
    ] = False,
    json_out: JsonOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Bring the environment home from --from, in phases (asks first; a rerun goes on)."""
    with _errors(debug):
        from relight.commands.failback import check_failback, plan_failback
        from relight.commands.failback import failback as run_failback

        loaded = _load(env, from_region, "--from")
        check_failback(loaded, from_region)
        local = _on_stand_in(loaded, stand_in)
        recovery = _connect(loaded, from_region, stand_in, profile, role_arn)
        home = _connect(
            loaded, loaded.env.home_region, stand_in, profile, role_arn, source_side=True,
            announce=lambda _: None,
        )  # fmt: skip
        plan = plan_failback(
            loaded, recovery, home, graceful=not ungraceful, teardown=teardown, stand_in=local
        )
        if json_out and dry_run:
            _print_json(plan_json(plan))
            return
        _print_phases(_console(stderr=True), plan)
        if dry_run:
            return
        if not _confirm(
            yes, f"Fail {loaded.env.name} back to {plan.home}?", "failback needs a yes"
        ):
            raise typer.Exit(1)

        def confirm_home(planned: list[Any]) -> bool:
            _print_plan(_console(stderr=True), planned, f"(b) in {plan.home}", parameters=False)
            return _confirm(False, f"Deploy these {len(planned)} stacks in {plan.home}?", "")

        result = run_failback(
            plan, recovery, home, confirm_home=None if yes else confirm_home, on_progress=_say
        )
        if json_out:
            _print_json(result_json(result))
        else:
            _print_result(_console(), result)
        if recovery.stand_in:
            _banner(recovery)
        if not result.ok:
            raise typer.Exit(1)


def _print_phases(con: Console, plan: FailbackPlan) -> None:
    mode = "graceful: writes stop first" if plan.graceful else "ungraceful: no stop"
    con.print(
        f"[bold]failback of {plan.loaded.env.name} from {plan.recovery} to {plan.home}[/] "
        f"({mode}; {plan.recovery} then "
        + ("torn down" if plan.teardown else f"back to {plan.strategy}")
        + ")"
    )
    for phase in plan.phases:
        state = " [dim](done by an earlier run)[/]" if phase.done else ""
        if phase.skipped:
            state = " [dim](skipped: --ungraceful)[/]"
        con.print(f"  [cyan]{_escape(phase.title)}[/]{state}")
        if not phase.skipped:
            for action in phase.actions:
                con.print(f"      {_escape(action)}")
    for note in plan.notes:
        con.print(f"  [yellow]note:[/] {_escape(note)}")
    con.print(f"  data: {_escape(window_text(plan))}")


def window_text(plan: FailbackPlan) -> str:
    """What the failback loses, said before it starts."""
    if plan.graceful:
        return (
            f"nothing is lost: writes stop in {plan.recovery} before the snapshot (it answers "
            f"503 from then until Route 53 sends traffic to {plan.home}); one instance's data "
            "volume comes home, each instance having its own"
        )
    return (
        f"the writes {plan.recovery} takes between the snapshot (a) and the latch's release "
        f"(d) stay in {plan.recovery} (and in its final snapshots), not at home; no outage"
    )


def _print_result(con: Console, result: FailbackResult) -> None:
    from relight.commands.connection import env_option

    plan = result.plan
    for phase, at in result.times.items():
        con.print(f"  {phase}: done at {at}")
    for note in result.notes:
        con.print(f"[yellow]note:[/] {_escape(note)}")
    if result.ok:
        con.print(
            f"[green]failed back:[/] {plan.loaded.env.name} serves from {plan.home} once Route "
            f"53 sees its endpoint healthy; done in {result.seconds:.1f} s"
        )
        return
    con.print(
        f"[red]failback stopped at {result.failed}:[/] {_escape(result.reason)}\n"
        f"  what is done is kept; rerun to go on: relight failback --env "
        f"{env_option(plan.loaded)} --from {plan.recovery}"
    )


def plan_json(plan: FailbackPlan) -> dict[str, Any]:
    return {
        "env": plan.loaded.env.name,
        "from": plan.recovery,
        "home": plan.home,
        "graceful": plan.graceful,
        "teardown": plan.teardown,
        "strategy": plan.strategy,
        "phases": [
            {
                "phase": p.key,
                "title": p.title,
                "actions": p.actions,
                "done": p.done,
                "skipped": p.skipped,
            }
            for p in plan.phases
        ],
        "holders": [h.describe for h in plan.holders],
        "data": window_text(plan),
        "notes": plan.notes,
    }


def result_json(result: FailbackResult) -> dict[str, Any]:
    return {
        **plan_json(result.plan),
        "ok": result.ok,
        "run_id": result.run_id,
        "done": result.done,
        "failed": result.failed,
        "reason": result.reason,
        "times": result.times,
        "notes": result.notes,
        "seconds": round(result.seconds, 1),
    }
