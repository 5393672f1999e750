"""`failback`: the phases of a failback plan run in order, each recorded in R's bucket when done."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime
from typing import Any

from relight.aws.lock import LockSettings, hold
from relight.aws.serving import clear_serving, delete_record, write_record
from relight.commands.connection import (
    Connection,
    Declined,
    lock_ref,
    new_run_id,
    run_command,
)
from relight.commands.failback.home_data import keep_home_data
from relight.commands.failback.home_replica import resolve
from relight.commands.failback.planning import PHASES, FailbackPlan, FailbackResult
from relight.commands.failback.replicas import (
    REPLICA_PHASES,
    ReplicaHooks,
    as_replicas,
    keep_promoted,
    lookups_after,
    renew_replicas,
    run_promote,
    run_replica,
    without_renewed,
)
from relight.errors import AwsError, RelightError
from relight.steps.failback import (
    Taken,
    copy_home,
    end_maintenance,
    home_artifact,
    reopen_commands,
    restore_keeps,
    start_maintenance,
    take_snapshot,
    wait_ready,
)

Confirm = Callable[[list[Any]], bool]


def failback(
    plan: FailbackPlan,
    recovery: Connection,
    home: Connection,
    *,
    confirm_home: Confirm | None = None,
    on_progress: Callable[[str], None] = lambda _: None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    clock: Callable[[], float] = time.monotonic,
    lock: LockSettings | None = None,
    snapshot_timeout: float = 6 * 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    hooks: ReplicaHooks | None = None,
) -> FailbackResult:
    """Run the phases not done yet, in order; stops at the first that fails (a rerun goes on
    from there). `confirm_home` is shown the home region's exact plan (change sets) before
    (b) changes anything; a "no" stops there, with what came before kept. `hooks`: how a
    replica-mode database's home stack is made a replica (replicas.py; default home_replica)."""
    started = clock()
    run_id = str(plan.progress.get("run_id") or new_run_id(now()))
    progress = plan.progress or {
        "run_id": run_id,
        "started": now().isoformat(timespec="seconds"),
        "recovery": plan.recovery,
        "home": plan.home,
        "graceful": plan.graceful,
        "teardown": plan.teardown,
        "strategy": plan.strategy,
        "done": [],
        "taken": [],
        "times": {},
    }
    result = FailbackResult(plan, run_id, notes=list(plan.notes))
    s3 = recovery.aws.client("s3", recovery.region)
    settings = lock or LockSettings()
    command = settings.command or run_command("failback", plan.loaded, "--from", plan.recovery)

    def save() -> None:
        write_record(s3, recovery.account_id, recovery.region, plan.record_key, progress)

    def finish(key: str) -> None:
        progress["done"] = [*progress["done"], key]
        progress["times"][key] = now().isoformat(timespec="seconds")
        result.done.append(key)
        save()

    bring: dict[str, Any] = {}
    try:
        for phase in plan.phases:
            if phase.skipped or phase.key in progress["done"] or phase.key == "verify":
                continue  # verify: with home, which a rerun redoes until home verifies
            on_progress(f"{phase.title} …")
            if phase.key == "home":
                bring = bring or _brought(plan, progress, home.aws)
                result.notes += keep_home_data(plan, home, run_id, progress, save)
                as_replicas(plan, progress, resolve(hooks))  # home's replica-mode stacks
                result.home_result = _home_phase(plan, home, bring, confirm_home, clock)
                _check_home(plan, result.home_result, finish, progress)
                continue
            if phase.key == "return":
                _settle(plan, recovery, progress, say=on_progress, sleep=sleep)
                result.notes += _return_phase(plan, recovery, settings, progress, save, sleep)
            else:
                with _recovery_lock(plan, recovery, run_id, command, settings):
                    result.notes += _recovery_phase(
                        phase.key, plan, recovery, home, progress, save, bring,
                        snapshot_timeout=snapshot_timeout, hooks=hooks, now=now,
                        sleep=sleep, clock=clock, run_id=run_id, say=on_progress,
                    )  # fmt: skip
            finish(phase.key)
    except RelightError as exc:
        result.failed = next(
            (p.key for p in plan.phases if p.key not in progress["done"] and not p.skipped),
            "?",
        )
        result.reason = str(exc)
        if progress.get("maintenance") and "release" not in progress["done"]:
            result.notes.append(
                f"{plan.recovery} answers 503 (the graceful stop's maintenance page): rerun the "
                f"failback to go on, or to serve from {plan.recovery} again meanwhile: "
                + "; ".join(reopen_commands(plan.recovery, progress["maintenance"]))
            )
        if isinstance(exc, Declined) and not progress["done"]:
            return result  # nothing was changed: no record either
        save()
    else:
        delete_record(
            s3,
            recovery.account_id,
            recovery.region,
            plan.record_key,
            hint="remove it by hand: the failback is done",
        )
    result.times = {k: progress["times"][k] for k in PHASES if k in progress["times"]}
    result.taken = list(progress["taken"])
    if result.ok and plan.namespace is None:
        result.notes += _lookups_after(plan) + lookups_after(plan, progress)
    result.seconds = clock() - started
    return result


def _lookups_after(plan: FailbackPlan) -> list[str]:
    """A lookup by database name no longer finds home's backups: the database home now runs
    is the one (b) restored, under the name its stack gave it."""
    notes = []
    for holder in plan.holders:
        lookup = plan.loaded.env.artifacts.get(holder.artifact)
        named = getattr(lookup, "db_instance", None) or getattr(lookup, "db_cluster", None)
        if named:
            notes.append(
                f"artifacts.{holder.artifact} looks for backups of {named}; home now runs the "
                f"database stacks.{holder.stack} restored: point the lookup at it (or at tags "
                "its backups carry), or replication will keep copying the old one's"
            )
    return notes


# How long in-flight requests get to finish once R answers 503 (a request the load balancer
# had already sent on may still write); and, after the latch's release, how long Route 53's
# checks and DNS caches take to send traffic home before R is changed.
DRAIN_SECONDS = 30.0
SETTLE_SECONDS = 180.0


def _recovery_lock(
    plan: FailbackPlan, recovery: Connection, run_id: str, command: str, settings: LockSettings
) -> AbstractContextManager[object]:
    """Production's lock in R; a drill's rehearsal runs under its namespace's, which the drill
    holds already."""
    if plan.namespace is not None:
        return nullcontext()
    return hold(lock_ref(plan.loaded, recovery), run_id, command, settings)


def _recovery_phase(
    key: str,
    plan: FailbackPlan,
    recovery: Connection,
    home: Connection,
    progress: dict[str, Any],
    save: Callable[[], None],
    bring: dict[str, Any],
    *,
    snapshot_timeout: float,
    hooks: ReplicaHooks | None,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    run_id: str,
    say: Callable[[str], None],
) -> list[str]:
    """stop, snapshot, release, and a replica-mode database's replica and promote: under R's
    lock (nothing else changes R meanwhile). Notes for the summary."""
    env = plan.loaded.env
    if key in REPLICA_PHASES:
        return _replica_phase(key, plan, recovery, home, progress, save, hooks, run_id,
                              now=now, sleep=sleep, say=say)  # fmt: skip
    if key == "stop":
        made = start_maintenance(recovery.aws, recovery.region, plan.listeners, plan.paths)
        progress["maintenance"] = [m.as_dict() for m in made]
        save()
        drain = 0.0 if recovery.stand_in is not None else DRAIN_SECONDS
        if drain:
            say(f"waiting {drain:.0f} s for the requests in flight in {recovery.region} to end")
            sleep(drain)
        return []
    if key == "snapshot":
        bring.update(_snapshot_phase(plan, recovery, home, progress, save, run_id,
                                     snapshot_timeout, sleep, clock))  # fmt: skip
        return []
    # release: the latch, then the marker
    from botocore.exceptions import BotoCoreError, ClientError

    from relight.commands.failover import latch_command, put_latch

    if plan.latches and plan.serving is not None:

        def waiting(seconds: float) -> None:
            say(
                f"waiting {seconds:.0f} s for the minute the latch was set in to end (its "
                "alarm reads one-minute maxima: a 0 in the same minute would not count)"
            )
            sleep(seconds)

        past_latch_minute(plan.serving.since, datetime.now(UTC), waiting)
    for name in plan.latches:
        try:
            put_latch(recovery, name, 0.0)
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(
                f"could not release the failback latch of {name} in {recovery.region}: {exc}",
                hint=f"rerun the failback, or release it by hand: "
                f"{latch_command(recovery.region, name, 0)}",
            ) from exc
    clear_serving(
        recovery.aws.client("s3", recovery.region), recovery.account_id, recovery.region, env.name
    )
    return []


def past_latch_minute(since: str, now: datetime, sleep: Callable[[float], None]) -> float:
    """Wait, if need be, until the minute the failover set the latch in is over: the latch
    alarm takes the Maximum of one-minute periods, so a 0 published in the same minute as
    the 1 leaves that minute at 1, and the check's LastKnownStatus would then hold it
    unhealthy. Only a failback within a minute of its failover waits (a rehearsal); how long
    it waited."""
    from datetime import timedelta

    try:
        set_at = datetime.fromisoformat(since)
    except ValueError:
        return 0.0
    wait = (set_at.replace(second=0, microsecond=0) + timedelta(minutes=1) - now).total_seconds()
    if not 0 < wait <= 60:
        return 0.0
    sleep(wait + 1.0)
    return wait + 1.0


def _snapshot_phase(
    plan: FailbackPlan,
    recovery: Connection,
    home: Connection,
    progress: dict[str, Any],
    save: Callable[[], None],
    run_id: str,
    timeout: float,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> dict[str, Any]:
    from relight.steps.replicate.replicator import Replicator

    taken = {t["artifact"]: Taken(**t) for t in progress["taken"]}
    for holder in plan.holders:  # start them all first: they run side by side
        if holder.artifact in taken:
            continue
        ident = take_snapshot(
            plan.loaded, recovery.aws, recovery.region, holder, run_id, plan.namespace
        )
        taken[holder.artifact] = Taken(
            holder.artifact, holder.kind, ident, datetime.now(UTC).isoformat(timespec="seconds")
        )
        progress["taken"] = [t.as_dict() for t in taken.values()]
        save()
    replicator = Replicator(
        plan.loaded,
        recovery.aws,
        home.aws,
        source_account=recovery.account_id,
        target_account=home.account_id,
        sleep=sleep,
        timeout=timeout,
    )
    brought = {}
    for name, t in sorted(taken.items()):
        source = wait_ready(
            recovery.aws, recovery.region, t.kind, t.snapshot, timeout=timeout, sleep=sleep,
            clock=clock,
        )  # fmt: skip

        def started(copy: str, name: str = name, t: Taken = t) -> None:
            taken[name] = Taken(t.artifact, t.kind, t.snapshot, t.taken_at, copy)
            progress["taken"] = [x.as_dict() for x in taken.values()]
            save()

        copy_home(replicator, t, source, recovery.region, home.region, started)
        keeps = restore_keeps(home.aws, home.region, t.kind, taken[name].copy)
        brought[name] = home_artifact(taken[name], recovery.region, home.region, keeps)
    return brought


def _brought(plan: FailbackPlan, progress: dict[str, Any], aws: Any) -> dict[str, Any]:
    """What an earlier run brought home (its record), as home's artifacts."""
    return {
        t["artifact"]: home_artifact(
            Taken(**t),
            plan.recovery,
            plan.home,
            restore_keeps(aws, plan.home, t["kind"], t["copy"]),
        )
        for t in progress.get("taken", [])
        if t.get("copy")
    }


def _check_home(
    plan: FailbackPlan, home_result: Any, finish: Callable[[str], None], progress: dict[str, Any]
) -> None:
    """(b) done when every home stack deployed; (c) when the checks pass too."""
    outcome = home_result.outcome
    if not outcome.ok:
        failed = [r for r in outcome.results.values() if not r.ok]
        raise AwsError(
            f"{plan.home}'s stacks did not all deploy: "
            + "; ".join(f"{r.name}: {r.reason}" for r in failed),
            hint="fix what the stacks say and rerun the failback: it goes on from (b)",
        )
    if "home" not in progress["done"]:
        finish("home")
    failed_checks = [c for c in home_result.checks if c.result == "failed"]
    if failed_checks:
        raise AwsError(
            f"{plan.home} did not verify: " + "; ".join(c.detail for c in failed_checks),
            hint="traffic has not moved: fix it and rerun the failback; it deploys and "
            "verifies again, with the same data",
        )
    finish("verify")


def _home_phase(
    plan: FailbackPlan,
    home: Connection,
    bring: dict[str, Any],
    confirm: Confirm | None,
    clock: Callable[[], float],
) -> Any:
    from relight.commands.failover import failover

    return failover(
        plan.home_plan,
        home,
        replace_data=plan.replacing(),
        confirm=confirm,
        bring=bring,
        accept_stale=True,  # what comes home is the newest data there is
        clock=clock,
        unused=frozenset(r.artifact for r in plan.replicas),  # replicas, not restored
    )


def _replica_phase(
    key: str,
    plan: FailbackPlan,
    recovery: Connection,
    home: Connection,
    progress: dict[str, Any],
    save: Callable[[], None],
    hooks: ReplicaHooks | None,
    run_id: str,
    *,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
    say: Callable[[str], None],
) -> list[str]:
    """replica: home's old database kept, then home's database stack made R's replica;
    promote: caught up (graceful) and promoted (replicas.py)."""
    if key == "replica":
        keys = frozenset(r.stack for r in plan.replicas)
        notes = keep_home_data(plan, home, run_id, progress, save, keys, "kept_home_replica")
        deploy = resolve(hooks).deploy
        run_replica(plan, recovery, home, progress, save, deploy=deploy, sleep=sleep)
        return notes
    return run_promote(plan, home, progress, save, lag_of=resolve(hooks).lag_of, now=now,
                       sleep=sleep, say=say)  # fmt: skip


def _settle(
    plan: FailbackPlan,
    recovery: Connection,
    progress: dict[str, Any],
    *,
    say: Callable[[str], None],
    sleep: Callable[[float], None],
) -> None:
    """Before R is changed: once the latch is released, Route 53's checks and DNS caches take a
    while to send traffic home; R answers meanwhile (in the ungraceful mode, still writing).
    The 0 is published again in a later minute, so the alarm's stream holds more than one."""
    from relight.commands.failover import put_latch

    if not plan.latches or recovery.stand_in is not None:
        return
    released = progress["times"].get("release")
    if released:
        waited = (datetime.now(UTC) - datetime.fromisoformat(released)).total_seconds()
        if waited >= SETTLE_SECONDS:
            return
    say(
        f"waiting {SETTLE_SECONDS:.0f} s for Route 53 to send traffic to {plan.home} before "
        f"{plan.recovery} changes (its health checks, then DNS caches)"
    )
    sleep(SETTLE_SECONDS / 2)
    for name in plan.latches:
        put_latch(recovery, name, 0.0)
    sleep(SETTLE_SECONDS / 2)


def _return_phase(
    plan: FailbackPlan,
    recovery: Connection,
    settings: LockSettings,
    progress: dict[str, Any],
    save: Callable[[], None],
    sleep: Callable[[float], None],
) -> list[str]:
    """(e): R torn down (--teardown), or back at its rung: the standing stacks redeployed as
    prepare leaves them, then what the failover built deleted. Final snapshots kept."""
    from relight.commands.failover import prepare
    from relight.commands.teardown import teardown
    from relight.steps.render import build_plan

    notes: list[str] = []
    if progress.get("maintenance"):  # the graceful stop's page: R answers normally again
        end_maintenance(recovery.aws, recovery.region, progress["maintenance"])
    notes += keep_promoted(plan, recovery, progress, save, sleep=sleep)
    if not plan.teardown and plan.strategy != "backup_restore":
        standing = build_plan(
            plan.loaded,
            plan.recovery,
            stand_in=plan.recovery_plan.stand_in,
            strategy=plan.strategy,
            phase="prepare",
        )
        standing = without_renewed(standing, plan, progress)  # made again after the teardown
        prepared = prepare(standing, recovery, lock=LockSettings(say=settings.say))
        if not prepared.outcome.ok:
            raise AwsError(
                f"{plan.recovery}'s standing stacks did not go back to {plan.strategy}: "
                + "; ".join(
                    f"{r.name}: {r.reason}" for r in prepared.outcome.results.values() if not r.ok
                ),
                hint="rerun the failback: it goes on from here",
            )
    down = teardown(
        plan.loaded,
        recovery,
        force=True,
        prepared=plan.teardown,
        lock=LockSettings(say=settings.say),
    )
    if plan.teardown and plan.latches:
        notes.append(
            f"the failback latch alarm of {', '.join(plan.latches)} went with its stack; the "
            f"home region's PRIMARY health check still names it: the next relight prepare in "
            f"{plan.recovery} makes it again under the same name, then redeploy the PRIMARY "
            "stack so Route 53 watches the new alarm (docs/dns-and-failback.md)"
        )
    notes += [
        f"{plan.recovery}: data volume kept: {volume} (delete it once its data is not needed)"
        for volume in down.kept_volumes
    ]
    for r in down.results:
        if r.final_snapshots:
            notes.append(f"{r.name} deleted; final snapshots kept: {', '.join(r.final_snapshots)}")
    if not down.ok:
        raise AwsError(
            f"in {plan.recovery}, not deleted: "
            + ", ".join(down.left_behind or [r.name for r in down.results if not r.ok]),
            hint="rerun the failback: it goes on from here",
        )
    return notes + renew_replicas(plan, recovery, progress, LockSettings(say=settings.say))
