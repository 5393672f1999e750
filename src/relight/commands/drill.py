"""Fire drills: rebuild the environment in a drill namespace, verify it, tear it down, report.

A drill runs the same steps as a failover (render, discover, preflight, deploy)
into isolated stacks `<env>-drill-<id>-<stack>` with purpose `drill` (no
termination protection, deletion protection off, the DNS record under a drill
name), then verifies what it built (steps/verify/), then deletes it, always, also
after a failure, unless asked to keep it. Every phase and every stack is timed:

- RTO is from the start of the run to the moment the environment was verified;
- RPO is each restored artifact's age at the moment its stack started: how much
  data a real failover at that moment would have lost.

Both are compared with the environment's objectives. The report (drill_report.py builds
it, report.py writes it) is written whatever happened, so a failed drill leaves its
evidence too.

The drill holds the lock of its namespace, `drill-<id>` (lock.py), from before it changes
anything until its report is written; a drill whose id another live run holds refuses at
once (`LockHeld`) and writes no report, so the other run's report is left alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relight.aws.cloudformation import Stacks
from relight.aws.lock import LockSettings, RunLock, hold
from relight.commands.connection import (
    Connection,
    connect_stacks,
    lock_ref,
    new_run_id,
    prepare_command,
    run_command,
)
from relight.commands.discover import discover_environment
from relight.commands.drill_replica import finish_replicas, snapshot_replicas
from relight.commands.drill_report import Run, Stop, build_report
from relight.dr.prepared import read_prepared
from relight.dr.report import write_reports
from relight.errors import RelightError
from relight.model.config import LoadedEnvironment
from relight.model.graph import dependency_graph
from relight.model.plan import check_namespace
from relight.model.scheduler import DEFAULT_CONCURRENCY
from relight.steps.deploy import deploy
from relight.steps.preflight import run_preflight
from relight.steps.render import build_plan, lint_plan
from relight.steps.teardown import TeardownResult, environment_stacks
from relight.steps.teardown import teardown as delete_stacks
from relight.steps.verify import DEADLINE_SECONDS, verified, verify

PHASES = (
    "prepare", "render", "discover", "preflight", "deploy", "verify", "failback", "teardown"
)  # fmt: skip


def drill(
    loaded: LoadedEnvironment,
    conn: Connection,
    *,
    drill_id: str | None = None,
    keep: bool = False,
    accept_stale: bool = False,
    enforce_objectives: bool = True,
    stack_timeout: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: Callable[[str, str, str], None] | None = None,
    events: bool = False,
    reports_dir: Path = Path("reports"),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    clock: Callable[[], float] = time.monotonic,
    stacks: Stacks | None = None,
    verify_deadline: float = DEADLINE_SECONDS,
    on_progress: Callable[[str], None] | None = None,
    lock: LockSettings | None = None,
    strategy: str | None = None,
    outage: str | None = None,
    home: Connection | None = None,
    data: str | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """Rehearse a failover into the connection's region; the report and the files written.

    At `strategy` (default: the environment file's), the drill first prepares its own copies
    of the rung's standing stacks (reading production's `stands: global` ones), as `relight
    prepare` would have before a disaster; then the disaster: RTO counts from there. With
    `outage`, that region (and the global control planes homed there) is switched off for
    the failover and its verification (outage.py): every refused call is in the report.

    `stacks` replaces the connection's CloudFormation (tests inject failures through it).
    Verification waits up to `verify_deadline` seconds for what AWS still reports settling,
    telling `on_progress` how it goes. The drill holds its namespace's lock (`lock` says
    how); `LockHeld`, before anything is done, when another run holds it.

    With `home` (a connection to the home region), the drill rehearses the way back too
    once verified (drill_failback.py): its data copied home, its copy built and verified
    there, with its own RTO; both copies are then deleted, with what they made.

    `data` (the run's `--data`): a replica-mode database restores from the drill's own
    snapshot of production's replica, which is never promoted or changed (drill_replica.py).
    """
    started = now()
    run_id = drill_id or new_run_id(started)
    run = Run(loaded, conn, run_id, check_namespace(f"drill-{run_id}"), now, started)
    run.strategy = strategy or loaded.env.strategy
    run.data = data
    if outage:
        from relight.aws.outage import Outage

        run.outage = Outage(outage)
    settings = lock or LockSettings()
    command = settings.command or run_command(
        "drill",
        loaded,
        "--region",
        conn.region,
        "--drill-id",
        run_id,
        "--keep" if keep else None,
        *(("--strategy", run.strategy) if strategy else ()),
        *(("--data", data) if data else ()),
        *(("--outage", outage) if outage else ()),
    )
    ref = lock_ref(loaded, conn, run.namespace)
    with hold(ref, run_id, command, settings, defer_bucket=True) as held:
        stacks = stacks or connect_stacks(
            conn, on_event=on_event, events=events, timeout=stack_timeout, clock=clock
        )
        try:
            _prepare(run, stacks, held, accept_stale, concurrency)
            run.disaster_at = run.now()
            during = _disaster(run, stacks, on_event, events, stack_timeout, clock)
            _rebuild(
                run, during, held, accept_stale, concurrency, verify_deadline, on_progress, clock
            )
            if home is not None:
                run.conn = conn  # the outage, if one was rehearsed, is over: the way back
                _rehearse_failback(run, home, on_progress)
        except Stop:
            pass
        except KeyboardInterrupt:
            run.interrupted = True
            run.problems.append(
                "interrupted (Ctrl-C); the drill's stacks are torn down all the same"
            )
        if keep:
            run.teardown_status = "kept"
        else:  # always: also after a failure (it finds only this drill's stacks, by their tags)
            run.conn = conn
            _teardown(run, stacks, concurrency, home)
        run.skip_rest(PHASES if home else tuple(p for p in PHASES if p != "failback"))
        report = build_report(run, enforce_objectives=enforce_objectives)
        paths = write_reports(report, reports_dir)
    if run.interrupted:
        raise KeyboardInterrupt
    return report, paths


def _rehearse_failback(
    run: Run, home: Connection, on_progress: Callable[[str], None] | None
) -> None:
    from relight.commands.drill_failback import rehearse_failback

    with run.phase("failback") as failing_back:
        result = rehearse_failback(run, home, on_progress)
        if not result.ok:
            failing_back.status = "failed"
            run.problems.append(f"failback: {result.failed}: {result.reason}")


def _teardown(run: Run, stacks: Stacks, concurrency: int, home: Connection | None) -> None:
    """Delete the drill's stacks (found by their tags), in the home region too after a
    failback rehearsal, and what they made (drill_failback.py); record how it went."""
    from relight.commands.teardown import final_snapshots, vpc_extras

    try:
        with run.phase("teardown") as tearing_down:
            run.teardown = delete_stacks(
                stacks,
                run.loaded.env.name,
                dependency_graph(run.loaded.env),
                namespace=run.namespace,
                concurrency=concurrency,
                prepared=True,  # the drill's own copies of the standing stacks, too
                final_snapshots=lambda name: final_snapshots(run.conn, name),
                vpc_extras=vpc_extras(run.conn, stacks),
            )
            _delete_made(run, home, concurrency)
            run.teardown_status = "ok" if run.teardown.ok else "failed"
            if not run.teardown.ok:
                tearing_down.status = "failed"
                run.problems += [
                    f"teardown: {r.name}: {r.action}: {r.reason}"
                    for r in run.teardown.results
                    if not r.ok
                ]
                if run.teardown.left_behind:
                    left = ", ".join(run.teardown.left_behind)
                    run.problems.append(f"teardown left behind: {left}")
    except Stop:
        run.teardown_status = "failed"
    except KeyboardInterrupt:  # the teardown itself: still report, and say what is left
        run.interrupted = True
        run.teardown_status = "interrupted"
        for phase in run.phases:
            if phase.name == "teardown":
                phase.status = "interrupted"
        remaining = _still_there(run, stacks)
        run.teardown = TeardownResult(run.teardown.results if run.teardown else [], remaining)
        run.problems.append(
            "teardown interrupted (Ctrl-C): "
            + (
                f"still there: {', '.join(remaining)}"
                if remaining
                else "no stack of the drill is left"
            )
        )


def _delete_made(run: Run, home: Connection | None, concurrency: int) -> None:
    """What the drill's stacks left (final snapshots, data volumes) and, after a failback
    rehearsal, its copy at home and the snapshots and copies it made: deleted."""
    from relight.aws.serving import delete_record
    from relight.commands.drill_failback import delete_home_copy, delete_made, final_snapshot_ids

    taken = run.failback.taken if run.failback is not None else []
    names = [r.name for r in run.teardown.results] if run.teardown else []
    made = final_snapshot_ids(run.teardown) + [(t["kind"], t["snapshot"]) for t in taken]
    deleted, failed = delete_made(run.conn, names, made)
    finish_replicas(run)  # the drill's snapshots of production's replicas, by name and tags
    if home is not None:
        run.home_teardown = delete_home_copy(run, home, concurrency)
        copies = [(t["kind"], t["copy"]) for t in taken if t.get("copy")]
        home_names = [r.name for r in run.home_teardown.results]
        more, failed_home = delete_made(
            home, home_names, final_snapshot_ids(run.home_teardown) + copies
        )
        deleted, failed = deleted + more, failed + failed_home
        run.problems += [
            f"teardown in {home.region}: {r.name}: {r.action}: {r.reason}"
            for r in run.home_teardown.results
            if not r.ok
        ]
        if run.failback is not None:  # a rehearsal that stopped leaves its record: gone too
            delete_record(
                run.conn.aws.client("s3", run.conn.region), run.conn.account_id,
                run.conn.region, run.failback.plan.record_key, hint="",
            )  # fmt: skip
    run.deleted += deleted
    run.problems += [f"teardown: not deleted: {f}" for f in failed]


def _still_there(run: Run, stacks: Stacks) -> list[str]:
    """The drill's stacks that exist now (by their tags); unknown stays empty, not a crash."""
    try:
        found = environment_stacks(stacks, run.loaded.env.name, run.namespace, prepared=True)
    except (RelightError, KeyboardInterrupt):
        return []
    return sorted(s["StackName"] for s in found)


def _prepare(run: Run, stacks: Stacks, held: RunLock, accept_stale: bool, concurrency: int) -> None:
    """Before the disaster: the drill's copies of the stacks its rung keeps standing, as
    `relight prepare` makes production's. Production's global stacks are read, never copied."""
    conn = run.conn
    with run.phase("prepare") as preparing:
        plan = build_plan(
            run.loaded,
            conn.region,
            purpose="drill",
            namespace=run.namespace,
            stand_in=conn.stand_in is not None,
            strategy=run.strategy,
            phase="prepare",
            data=run.data,
        )
        if not plan.stacks:
            preparing.status = "skipped"  # nothing stands at this rung but production's own
            return
        lint_plan(plan)
        discovery = discover_environment(plan, conn, now=run.now)
        ready = read_prepared(stacks, plan, prepare_command(plan, conn.region))
        plan = ready.located(plan)  # a StackSet's stacks under their own names
        run.prepared = deploy(
            stacks,
            plan,
            discovery,
            run_id=run.run_id,
            concurrency=concurrency,
            still_held=held.ensure_held,
            ready=ready.outputs,
            autoscaling=conn.aws.client("autoscaling", conn.region),
        )
        if not run.prepared.ok:
            preparing.status = "failed"
            run.problems += [
                f"prepare: {r.name}: {r.reason}" for r in run.prepared.failed() if r.reason
            ]


def _disaster(
    run: Run,
    stacks: Stacks,
    on_event: Callable[[str, str, str], None] | None,
    events: bool,
    stack_timeout: float | None,
    clock: Callable[[], float],
) -> Stacks:
    """The CloudFormation the failover phase uses: with an outage, a new Stacks over a
    connection whose every call passes the outage's refusal first (also when tests gave
    `stacks`: theirs would bypass the outage; it still serves the prepare phase and the
    teardown)."""
    if run.outage is None:
        return stacks
    run.conn = replace(run.conn, aws=run.conn.aws.under_outage(run.outage))
    return connect_stacks(
        run.conn, on_event=on_event, events=events, timeout=stack_timeout, clock=clock
    )


def _rebuild(
    run: Run,
    stacks: Stacks,
    held: RunLock,
    accept_stale: bool,
    concurrency: int,
    verify_deadline: float = DEADLINE_SECONDS,
    on_progress: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    conn, loaded = run.conn, run.loaded
    with run.phase("render"):
        run.plan = build_plan(
            loaded,
            conn.region,
            purpose="drill",
            namespace=run.namespace,
            stand_in=conn.stand_in is not None,
            strategy=run.strategy,
            data=run.data,
        )
        lint_plan(run.plan)
    with run.phase("discover"):
        run.discovery = discover_environment(run.plan, conn, now=run.now)
        snapshot_replicas(run, stacks, clock)  # never from production's replica itself
    with run.phase("preflight"):
        checked = run_preflight(
            run.plan,
            conn.aws,
            run.discovery,
            stacks,
            accept_stale=accept_stale,
            account_id=conn.account_id,
        )
        ready = read_prepared(stacks, run.plan, prepare_command(run.plan, conn.region))
        run.plan = ready.located(run.plan)  # verify reads a StackSet's stacks by their names
        run.notes += checked.notes + ready.notes  # a skipped read among them: in the report
    with run.phase("deploy") as deploying:
        run.outcome = deploy(
            stacks,
            run.plan,
            run.discovery,
            run_id=run.run_id,
            concurrency=concurrency,
            still_held=held.ensure_held,
            ready=ready.outputs,
            autoscaling=conn.aws.client("autoscaling", conn.region),
        )
        for failed in run.outcome.failed():
            if failed.action == "failed":
                run.problems.append(f"deploy: {failed.name}: {failed.reason}")
        if not run.outcome.ok:
            deploying.status = "failed"
    with run.phase("verify") as verifying:
        run.checks = verify(
            conn.aws,
            run.plan,
            run.discovery,
            run.outcome,
            stand_in=conn.stand_in is not None,
            deadline_seconds=verify_deadline,
            on_progress=on_progress,
        )
        if verified(run.checks):
            run.verified_at = run.now()
        else:
            verifying.status = "failed"
            run.problems += [
                f"verify: {c.stack}: {c.check}: {c.detail}"
                for c in run.checks
                if c.result == "failed"
            ]
