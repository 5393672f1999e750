"""The failover's promotion of replica-mode databases: `promote_replicas`.

For each database stack whose data mode in this run is replica (`model.data_modes.
replica_keys`), prepared ahead of time and read by the failover (its outputs in
`ready_outputs[key]`):

- an RDS instance: PromoteReadReplica (`BackupRetentionPeriod` = the stack's
  `backup_retention_days`, 7 when not given, as the blueprint's), then wait until it no longer
  names a source and is "available", or "backing-up": promotion turns backups on and RDS
  starts the first backup at once, which may take long, and the instance takes writes
  meanwhile. A replica found "backing-up" is not asked yet (RDS promotes no replica while it
  is backing up): it is waited for, then asked;
- an Aurora secondary cluster: RemoveFromGlobalCluster (the global database's identifier, the
  secondary's ARN: "detach and promote", AWS's way out of an unplanned outage of the primary's
  region), then wait until it is "available" and out of the global database.

Every call is made in the recovery region (the home region may be gone: nothing here needs it),
with the stack's account's credentials. The calls are made for every database first, then each
is waited for, so several promote at once; the seconds each took, from its call to the first
look that found it available and writable, are returned (`Promotion`).

A rerun finds a database promoted already (a failover that stopped after its promotion): that
is a note, not an error, and it is only waited for. A promotion still not done at the deadline
stops the failover (DeployError) before anything else changes; the rerun goes on from there.
docs/aws-behaviours.md, rows D20-D27.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from relight.aws.clients import Aws
from relight.aws.failures import translated
from relight.errors import DeployError
from relight.model.plan import Plan
from relight.steps.replica.state import CLUSTER, INSTANCE, ReplicaState, read_replica_state

# AWS: "The promotion process can take several minutes or longer to complete, depending on the
# size of the read replica." An hour before relight stops watching (the promotion goes on).
DEADLINE_SECONDS = 3600.0
FIRST_WAIT, LONGEST_WAIT = 2.0, 30.0
DEFAULT_RETENTION_DAYS = 7  # blueprints/database.py backup_retention_days
# What _start / _ask did: asked RDS to promote; found it promoted (a rerun, or meanwhile);
# found it backing up, so not asked yet (the wait asks once the backup is done)
ASKED, ALREADY, DEFERRED = "asked", "already", "deferred"


class Connected(Protocol):
    """What promotion needs of a connection (commands.connection.Connection)."""

    @property
    def region(self) -> str: ...

    def aws_for(self, stack_name: str) -> Aws: ...


@dataclass(frozen=True)
class Promotion:
    """One database promoted by the failover (or found promoted by an earlier run)."""

    key: str  # the stack's key in the environment file
    identifier: str  # the DB instance's or the cluster's
    kind: str  # "instance" or "cluster"
    seconds: float  # from the call (or the first look, when already promoted) to writable
    endpoint: str | None
    already: bool  # promoted before this run: a rerun
    backing_up: bool = False  # writable while its first backup after promotion runs

    def line(self) -> str:
        what = "DB instance" if self.kind == INSTANCE else "DB cluster"
        writable = "writable; its first backup is running" if self.backing_up else "writable"
        how = (
            f"was promoted already (an earlier run); {writable}"
            if self.already
            else f"promoted in {self.seconds:.0f} s; {writable}"
        )
        return f"{what} {self.identifier} (stacks.{self.key}) {how} at {self.endpoint}"


@dataclass(frozen=True)
class Target:
    """A replica to promote, as its prepared stack's outputs name it."""

    key: str
    stack_name: str
    kind: str
    identifier: str
    global_cluster: str | None  # the Aurora global database it leaves
    retention_days: int


def targets(
    plan: Plan, ready_outputs: Mapping[str, Mapping[str, str]], keys: Iterable[str]
) -> list[Target]:
    """The replicas of `keys`, from the outputs of their prepared stacks (preflight made sure
    they are there: `check_replicas`)."""
    found = []
    for key in keys:
        outputs = ready_outputs.get(key) or {}
        sp = plan.prepared.get(key) or plan.stacks[key]
        global_cluster = outputs.get("GlobalClusterIdentifier") or None
        found.append(
            Target(
                key=key,
                stack_name=sp.name,
                kind=CLUSTER if global_cluster else INSTANCE,
                identifier=outputs.get("DatabaseIdentifier", ""),
                global_cluster=global_cluster,
                retention_days=retention_days(plan, key),
            )
        )
    return found


def retention_days(plan: Plan, key: str) -> int:
    """The stack's `backup_retention_days` (the blueprint's default when not given)."""
    value = plan.loaded.env.stacks[key].params.get("backup_retention_days")
    try:
        return int(str(value)) if value is not None else DEFAULT_RETENTION_DAYS
    except ValueError:
        return DEFAULT_RETENTION_DAYS


def promote_replicas(
    conn: Connected,
    plan: Plan,
    ready_outputs: Mapping[str, Mapping[str, str]],
    *,
    keys: Iterable[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    deadline_seconds: float = DEADLINE_SECONDS,
    on_progress: Callable[[str], None] | None = None,
) -> list[Promotion]:
    """Promote every replica-mode database of the plan in `conn.region` and wait until each
    takes writes. `keys`: the stacks to promote (default: `replica_keys(plan)`)."""
    if keys is None:
        from relight.model.data_modes import replica_keys

        keys = replica_keys(plan)
    say = on_progress or (lambda line: None)
    started: dict[str, tuple[Target, Any, float, str]] = {}
    for target in targets(plan, ready_outputs, keys):
        rds = conn.aws_for(target.stack_name).client("rds", conn.region)
        began = clock()
        how = _start(rds, target, conn.region, say)
        started[target.key] = (target, rds, began, how)
    promotions = []
    for target, rds, began, how in started.values():
        state = _wait(
            rds, target, conn.region, clock, sleep, began + deadline_seconds, say,
            deferred=how == DEFERRED,
        )  # fmt: skip
        promotion = Promotion(
            target.key, target.identifier, target.kind, clock() - began, state.endpoint,
            how == ALREADY, backing_up=state.backing_up,
        )  # fmt: skip
        say(promotion.line())
        promotions.append(promotion)
    return promotions


def _start(rds: Any, target: Target, region: str, say: Callable[[str], None]) -> str:
    """Ask RDS to promote the replica: ASKED; ALREADY when it was promoted already (a rerun);
    DEFERRED when it is backing up (RDS would refuse: the wait asks once it is done)."""
    state = read_replica_state(rds, target.key, target.kind, target.identifier, region)
    if not state.exists:
        raise DeployError(
            f"{state.detail}: the replica of stacks.{target.key} (stack {target.stack_name}) "
            "is gone since preflight; nothing was promoted",
            hint="run the failover again: preflight says what to do",
        )
    if state.promoted:
        say(f"{state.detail}: promoted already (an earlier run); waiting until it takes writes")
        return ALREADY
    if target.kind == INSTANCE:
        if state.backing_up:
            say(_backing_up_line(target, region))
            return DEFERRED
        return _ask(rds, target, region, say)
    arn = _cluster_arn(rds, target, region)
    say(
        f"detaching DB cluster {target.identifier} (stacks.{target.key}) from global database "
        f"{target.global_cluster} in {region}: RemoveFromGlobalCluster (detach and promote)"
    )
    with translated(f"cannot detach DB cluster {target.identifier} in {region}", rds):
        try:
            rds.remove_from_global_cluster(
                GlobalClusterIdentifier=target.global_cluster, DbClusterIdentifier=arn
            )
        except Exception as exc:
            if _promoted_meanwhile(exc, rds, target, region):
                return ALREADY
            raise
    return ASKED


def _backing_up_line(target: Target, region: str) -> str:
    return (
        f"DB instance {target.identifier} (stacks.{target.key}) in {region} is backing-up: RDS "
        "promotes no read replica while it is backing up, so PromoteReadReplica waits until "
        "the backup is done"
    )


def _ask(rds: Any, target: Target, region: str, say: Callable[[str], None]) -> str:
    """PromoteReadReplica: ASKED; ALREADY when RDS refused because it stands alone already;
    DEFERRED when it refused because a backup began meanwhile."""
    from botocore.exceptions import ClientError

    say(
        f"promoting DB instance {target.identifier} (stacks.{target.key}) in {region}: "
        f"PromoteReadReplica, backups kept {target.retention_days} days"
    )
    with translated(f"cannot promote DB instance {target.identifier} in {region}", rds):
        try:
            rds.promote_read_replica(
                DBInstanceIdentifier=target.identifier,
                BackupRetentionPeriod=target.retention_days,
            )
        except Exception as exc:
            if _promoted_meanwhile(exc, rds, target, region):
                return ALREADY
            if isinstance(exc, ClientError):
                again = read_replica_state(rds, target.key, INSTANCE, target.identifier, region)
                if again.replica and again.backing_up:
                    say(_backing_up_line(target, region))
                    return DEFERRED
            raise
    return ASKED


def _promoted_meanwhile(exc: Exception, rds: Any, target: Target, region: str) -> bool:
    """RDS refused because the database stands alone already (another run, or a person, was
    quicker): not an error."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    again = read_replica_state(rds, target.key, target.kind, target.identifier, region)
    return again.exists and again.promoted


def _cluster_arn(rds: Any, target: Target, region: str) -> str:
    with translated(f"cannot read DB cluster {target.identifier} in {region}", rds):
        found = rds.describe_db_clusters(DBClusterIdentifier=target.identifier)
    return str(found["DBClusters"][0]["DBClusterArn"])


def _wait(
    rds: Any,
    target: Target,
    region: str,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    deadline: float,
    say: Callable[[str], None],
    *,
    deferred: bool = False,
) -> ReplicaState:
    """Look until the database stands alone and takes writes (available, or backing up), or
    the deadline passes. `deferred`: PromoteReadReplica is not asked yet (the replica was
    backing up): it is asked once the replica is no longer backing up."""
    delay = FIRST_WAIT
    while True:
        state = read_replica_state(rds, target.key, target.kind, target.identifier, region)
        if state.writable:
            return state
        if deferred and state.replica and not state.backing_up:
            deferred = _ask(rds, target, region, say) == DEFERRED
            state = read_replica_state(rds, target.key, target.kind, target.identifier, region)
            if state.writable:
                return state
        left = deadline - clock()
        if left <= 0:
            if deferred and state.replica:
                raise DeployError(
                    f"{state.detail}, status {state.status}: stacks.{target.key} was still "
                    f"backing up when relight stopped waiting, so it was not promoted (RDS "
                    "promotes no read replica while it is backing up); nothing after it was "
                    "changed",
                    hint="run the failover again once its backup is done: it promotes it then",
                )
            raise DeployError(
                f"{state.detail}, status {state.status}: stacks.{target.key} was not writable "
                f"when relight stopped waiting; its promotion goes on in {region}; nothing "
                "after it was changed",
                hint="run the failover again once RDS reports it available: the promotion "
                "is not asked twice, and the failover goes on from there",
            )
        say(
            f"waiting: {target.kind} {target.identifier} {state.status}"
            + ("" if state.promoted else ", still a replica")
            + (": PromoteReadReplica once its backup is done" if deferred else "")
            + f" ({left:.0f} s left)"
        )
        sleep(min(delay, left))
        delay = min(delay * 2, LONGEST_WAIT)
