"""A failback's replica-mode databases (issue 23): phases `replica` and `promote`.

A database that a failover promoted from R's replica of home goes home the same way it came:

    replica   home's database stack is made a cross-region read replica of R's promoted
              database (CloudFormation, in the home region: the stack's template in replica
              mode with R's database as its source, home's key and subnet group), replacing
              home's old database (kept first as a manual snapshot, then a final snapshot);
              relight waits until it replicates. R still serves meanwhile (before `stop`).
    promote   once writes have stopped in R (graceful: after `stop`), relight waits until the
              replica has replayed past the stop (ReplicaLag in CloudWatch at home), then
              promotes it (PromoteReadReplica at home) and waits until it is available and
              writable. Ungraceful: promoted at once; what R takes after that stays in R.

Why CloudFormation makes it: home's database stays a resource of home's database stack (its
deletion policy, its outputs for the stacks reading `database.Endpoint`, teardown and drift
as for any stack), nothing made by hand to be imported later; the stack is the one R's was,
in the other direction. Its template keeps naming R's database as the source after the
promotion (as R's prepared stack keeps naming home's): the promotion is relight's call, not a
template change, so a later deploy of the same template changes nothing.

Each step is recorded in the failback's record (`replicas.<key>`: the source's ARN, the home
replica's identifier once its stack is made, when it was promoted), so a rerun goes on: the
stack's deploy changes nothing a second time, a promoted replica is not promoted again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relight.commands.connection import Connection
from relight.errors import AwsError, PreflightError
from relight.model.config import LoadedEnvironment
from relight.model.plan import StackPlan
from relight.steps.failback.replica import (
    ReplicaHolder,
    promote,
    read_source,
    replica_holders,
    source_problems,
    wait_caught_up,
    wait_promoted,
    wait_replicating,
)
from relight.steps.replica.lag import replica_lag_seconds
from relight.steps.replica.promote import retention_days

REPLICA_PHASES = ("replica", "promote")
# Makes home's database stack of a holder a replica of `source_arn` (R's promoted database);
# returns the home replica's DB instance identifier. Deploying it again changes nothing.
HomeDeploy = Callable[[Any, Connection, ReplicaHolder, str], str]
# ReplicaLag of a home replica at a moment (the contract's replica_lag_seconds, bound).
LagOf = Callable[[datetime], float | None]


@dataclass(frozen=True)
class ReplicaHooks:
    """How home's database stack becomes the replica: `deploy` makes it (returns the home
    replica's identifier), `stack` is that stack as the home phase deploys it again (no change),
    `lag_of` reads ReplicaLag at home (None: readiness's `replica_lag_seconds`)."""

    deploy: HomeDeploy
    stack: Callable[[Any, ReplicaHolder, str], StackPlan]
    lag_of: Callable[[str], LagOf] | None = None


REPLICA_TIMEOUT = 6 * 3600.0  # a replica of a large database takes its snapshot's copy first
CATCH_UP_TIMEOUT = 30 * 60.0  # the lag read is the most of 15 min; idle PostgreSQL reads up to 5
PROMOTE_TIMEOUT = 3600.0


def find_replicas(
    loaded: LoadedEnvironment,
    recovery: Connection,
    mine: list[dict[str, Any]],
    progress: dict[str, Any],
) -> list[ReplicaHolder]:
    """R's replica-mode databases (promoted at failover) and, before anything changes, what
    would stop a replica of them at home (PreflightError, exit 2). A rerun past `replica`
    checks nothing again: the record says what was made."""
    params = {key: spec.params for key, spec in loaded.env.stacks.items()}
    holders = replica_holders(mine, params)
    if not holders or "replica" in progress.get("done", []):
        return holders
    rds = recovery.aws.client("rds", recovery.region)
    home_key = loaded.env.kms_keys.get(loaded.env.home_region)
    problems = []
    for holder in holders:
        source = read_source(rds, holder.identifier) if holder.kind == "instance" else None
        problems += source_problems(str(loaded.path), holder, source, recovery.region, home_key)
    if problems:
        raise PreflightError(
            problems, hint="nothing was changed: fix these, then run relight failback again"
        )
    return holders


def replica_actions(plan: Any) -> dict[str, list[str]]:
    """What the two phases do, for the plan."""
    done = plan.progress.get("replicas", {})
    graceful = plan.graceful
    made = [
        f"{h.describe}: home's stacks.{h.stack} made a read replica of it in {plan.home}"
        + (
            f" (made already: {done[h.stack]['identifier']})"
            if done.get(h.stack, {}).get("identifier")
            else ""
        )
        + ", replacing home's old database (kept as a manual snapshot first); then waited "
        "for until it replicates. Nothing is snapshotted or copied"
        for h in plan.replicas
    ]
    promoted = [
        f"{plan.home}'s replica of {h.identifier}: "
        + (
            f"waited for until it has replayed past the stop of writes in {plan.recovery} "
            "(ReplicaLag at home), then "
            if graceful
            else ""
        )
        + f"promoted (PromoteReadReplica in {plan.home}) and waited for until writable"
        for h in plan.replicas
    ]
    return {"replica": made, "promote": promoted}


def run_replica(
    plan: Any,
    recovery: Connection,
    home: Connection,
    progress: dict[str, Any],
    save: Callable[[], None],
    *,
    deploy: HomeDeploy,
    sleep: Callable[[float], None],
    timeout: float = REPLICA_TIMEOUT,
) -> None:
    """(replica): each home replica made (or found made, by the record) and replicating."""
    records = progress.setdefault("replicas", {})
    rds_r = recovery.aws.client("rds", recovery.region)
    rds_home = home.aws.client("rds", home.region)
    for holder in plan.replicas:
        record = records.get(holder.stack) or {}
        if not record.get("source"):
            source = read_source(rds_r, holder.identifier)
            if source is None:
                raise AwsError(f"{holder.identifier} in {recovery.region} is gone")
            record = {"source": source.arn}
            records[holder.stack] = record
            save()
        if not record.get("identifier"):
            record["identifier"] = deploy(plan, home, holder, record["source"])
            save()
        wait_replicating(
            rds_home, holder, record["identifier"], home.region, record["source"],
            sleep=sleep, timeout=timeout,
        )  # fmt: skip


def run_promote(
    plan: Any,
    home: Connection,
    progress: dict[str, Any],
    save: Callable[[], None],
    *,
    lag_of: Callable[[str], LagOf] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None],
    say: Callable[[str], None] = lambda _: None,
    catch_up_timeout: float = CATCH_UP_TIMEOUT,
    promote_timeout: float = PROMOTE_TIMEOUT,
) -> list[str]:
    """(promote): graceful, each home replica waited for until it has replayed past the stop;
    then promoted and waited for until writable. Notes for the summary."""
    notes: list[str] = []
    records = progress.setdefault("replicas", {})
    rds = home.aws.client("rds", home.region)
    stopped = progress.get("times", {}).get("stop")
    for holder in plan.replicas:
        record = records[holder.stack]
        ident = record["identifier"]
        if record.get("promoted"):
            continue
        if plan.graceful and stopped and not record.get("caught_up"):
            if home.stand_in is not None:
                notes.append(
                    f"{ident}: the stand-in publishes no ReplicaLag, so its catch-up was not "
                    "waited for (on AWS the failback waits until it has replayed past the stop)"
                )
            else:
                say(f"waiting for {ident} in {home.region} to replay past the stop of writes")
                reader = (lag_of or _contract_lag(home))(ident)
                lag = wait_caught_up(
                    reader, datetime.fromisoformat(stopped), identifier=ident,
                    region=home.region, now=now, sleep=sleep, timeout=catch_up_timeout,
                )  # fmt: skip
                record["caught_up"] = {"at": now().isoformat(timespec="seconds"), "lag": lag}
            save()
        promote(rds, holder.stack, ident, home.region,
                retention_days=retention_days(plan, holder.stack))  # fmt: skip
        state = wait_promoted(rds, holder.stack, ident, home.region, sleep=sleep,
                              timeout=promote_timeout)  # fmt: skip
        record["promoted"] = now().isoformat(timespec="seconds")
        record["endpoint"] = state.endpoint or ""
        save()
        notes.append(f"{plan.home}'s {ident} promoted: it serves stacks.{holder.stack} now")
    return notes


def _contract_lag(home: Connection) -> Callable[[str], LagOf]:
    """ReplicaLag at home, read by readiness's `replica_lag_seconds` (steps/replica/lag.py)."""
    cloudwatch = home.aws.client("cloudwatch", home.region)

    def lag_of(identifier: str) -> LagOf:
        return lambda at: replica_lag_seconds(cloudwatch, "instance", identifier, at)

    return lag_of


def as_replicas(plan: Any, progress: dict[str, Any], hooks: ReplicaHooks) -> None:
    """The home plan with each replica-mode database stack as the replica phase made it (the
    same template and source), so the home phase changes nothing in it."""
    stack = hooks.stack
    for holder in plan.replicas:
        source = progress.get("replicas", {}).get(holder.stack, {}).get("source")
        if source:
            plan.home_plan.stacks[holder.stack] = stack(plan, holder, source)


def lookups_after(plan: Any, progress: dict[str, Any]) -> list[str]:
    """After the return: the next `relight prepare` makes R's replica of the database its
    artifact's `db_instance` names; say so when that is not the database home runs now."""
    notes = []
    for holder in plan.replicas:
        record = progress.get("replicas", {}).get(holder.stack, {})
        lookup = plan.loaded.env.artifacts.get(holder.artifact)
        named = getattr(lookup, "db_instance", None)
        ident = record.get("identifier")
        if ident and named != ident:
            notes.append(
                f"{plan.loaded.path}: artifacts.{holder.artifact}.db_instance names {named}, "
                f"but home's database is now {ident} (the promoted replica of stacks."
                f"{holder.stack}, a name CloudFormation gave it): set db_instance: {ident} "
                f"before the next relight prepare in {plan.recovery}; until then that prepare "
                f"replicates {named}, or is refused if {named} is gone, and the lookup's "
                f"snapshots are {named}'s"
            )
    return notes


def lined_up(plan: Any, progress: dict[str, Any], holder: ReplicaHolder) -> bool:
    """Whether the file's lookup names the database home now runs (the next replica's source)."""
    record = progress.get("replicas", {}).get(holder.stack, {})
    lookup = plan.loaded.env.artifacts.get(holder.artifact)
    return bool(record.get("identifier")) and getattr(lookup, "db_instance", None) == record.get(
        "identifier"
    )


def keep_promoted(
    plan: Any,
    recovery: Connection,
    progress: dict[str, Any],
    save: Callable[[], None],
    *,
    sleep: Callable[[float], None],
) -> list[str]:
    """(return), before anything in R is deleted: each database the failover promoted there
    kept as a manual snapshot, waited for until available, before its stack goes: a copy
    that is relight's to name and that outlives the stack (its DeletionPolicy Snapshot leaves a
    final snapshot too, now that the promoted database stands alone; CloudFormation ignores
    the policy only while it is a read replica, docs D13)."""
    from relight.commands.connection import connect_stacks
    from relight.steps.failback import snapshot_name, wait_ready

    notes: list[str] = []
    stacks = connect_stacks(recovery)
    rds = recovery.aws.client("rds", recovery.region)
    kept = progress.setdefault("kept_promoted", {})
    for holder in plan.replicas:
        if holder.stack not in kept:
            if stacks.state(holder.stack_name) is None:
                continue  # gone before this run kept it: nothing to keep
            name = snapshot_name(plan.loaded.env.name, f"{holder.stack}-promoted",
                                 str(progress.get("run_id", "")))  # fmt: skip
            rds.create_db_snapshot(
                DBSnapshotIdentifier=name, DBInstanceIdentifier=holder.identifier
            )
            kept[holder.stack] = name
            save()
        wait_ready(recovery.aws, recovery.region, "rds_snapshot", kept[holder.stack],
                   timeout=REPLICA_TIMEOUT, sleep=sleep)  # fmt: skip
        notes.append(
            f"{holder.identifier} in {recovery.region} (promoted at failover) kept as the manual "
            f"snapshot {kept[holder.stack]}"
        )
    return notes


def renewed(plan: Any, progress: dict[str, Any]) -> list[ReplicaHolder]:
    """The replica-mode stacks the return makes again in R, as replicas of home's new
    database: only when the file's lookup names it (`lined_up`), and not with --teardown."""
    if plan.teardown:
        return []
    return [h for h in plan.replicas if lined_up(plan, progress, h)]


def without_renewed(standing: Any, plan: Any, progress: dict[str, Any]) -> Any:
    """The prepare plan of the return without the stacks `renew_replicas` makes again after the
    teardown (their source changed: a prepare now would be a replacement, refused)."""
    from dataclasses import replace

    keys = {h.stack for h in renewed(plan, progress)}
    if not keys:
        return standing
    return replace(standing, stacks={k: v for k, v in standing.stacks.items() if k not in keys})


def renew_replicas(
    plan: Any, recovery: Connection, progress: dict[str, Any], lock: Any
) -> list[str]:
    """(return), after the teardown of what the failover built (what read the database is
    gone): each lined-up replica-mode stack deleted (its database kept by `keep_promoted`) and
    prepared again, a new replica in R of home's new database."""
    from dataclasses import replace

    from relight.commands.connection import connect_stacks
    from relight.commands.failover import prepare
    from relight.commands.teardown import teardown
    from relight.steps.render import build_plan

    notes: list[str] = []
    holders = renewed(plan, progress)
    if not holders:
        return notes
    stacks = connect_stacks(recovery)
    for holder in holders:
        stack = stacks.state(holder.stack_name)
        if stack is None or _replicates_home(stack, progress, holder):
            continue  # a rerun: deleted already, or made again already
        down = teardown(
            plan.loaded, recovery, force=True, prepared=True, confirmed=[stack], lock=lock
        )
        failed = [r for r in down.results if not r.ok]  # the others stay: not asked to go
        if failed:
            raise AwsError(
                f"{holder.stack_name} in {recovery.region} (the database promoted at failover) "
                "was not deleted: " + "; ".join(f"{r.status}: {r.reason}" for r in failed),
                hint="rerun the failback: it goes on from here",
            )
        notes.append(f"{holder.stack_name} deleted in {recovery.region}: home holds its data now")
    standing = build_plan(
        plan.loaded, plan.recovery, stand_in=plan.recovery_plan.stand_in,
        strategy=plan.strategy, phase="prepare",
    )  # fmt: skip
    keys = {h.stack for h in holders}
    others = {**standing.stacks, **standing.prepared}
    alone = replace(
        standing,
        stacks={k: replace(standing.stacks[k], depends_on=()) for k in keys},
        prepared={k: v for k, v in others.items() if k not in keys},
    )
    from relight.errors import InputError

    try:
        made = prepare(alone, recovery, lock=lock)
    except InputError as refused:  # before any change: what prepare needs first (a backup)
        notes.append(
            f"{recovery.region}'s new replica of home's database is not made yet: {refused}; "
            f"then run relight prepare --region {recovery.region} (it makes the replica)"
        )
        return notes
    if not made.outcome.ok:
        raise AwsError(
            f"{plan.recovery}'s new replica of home's database was not made: "
            + "; ".join(f"{r.name}: {r.reason}" for r in made.outcome.results.values() if not r.ok),
            hint="rerun the failback: it goes on from here",
        )
    notes += [
        f"{h.stack_name} in {recovery.region}: a new replica of home's "
        f"{progress['replicas'][h.stack]['identifier']}"
        for h in holders
    ]
    return notes


def _replicates_home(stack: Any, progress: dict[str, Any], holder: ReplicaHolder) -> bool:
    """Whether R's stack is already the new replica (its source: home's new database)."""
    ident = progress.get("replicas", {}).get(holder.stack, {}).get("identifier", "")
    source = next(
        (o.get("OutputValue", "") for o in stack.get("Outputs", [])
         if o.get("OutputKey") == "ReplicaSourceArn"),
        "",
    )  # fmt: skip
    return bool(ident) and str(source).endswith(f":db:{ident}")
