"""Before a replica-mode failover changes anything: the replicas it will promote stand in the
recovery region (`check_replicas`).

For each replica-mode database stack (`model.data_modes.replica_keys`):

- its prepared stack and the replica it made exist in the region, and the replica is not still
  being created: otherwise a problem (PreflightError, exit 2, nothing changed) naming the file,
  `stacks.<key>.data`, the prepare that makes it and the other way, `--data snapshot`
  (restore the newest snapshot copy);
- a replica whose replication has stopped (StatusInfos "read replication": error, stopped,
  terminated; an Aurora secondary not "connected") is promoted all the same, with a loud
  warning: its data is as old as its last replay, which may be older than the newest snapshot
  copy;
- a database that stands alone already: promoted by an earlier run of this failover (the
  region's marker says a failover began there, aws/serving.py) is a note, and the rerun goes
  on. Promoted while no failover marked the region, it has replicated nothing since someone
  promoted it, and may hold writes made to it since: its data is of unknown age, so it is
  refused like data older than the RPO, unless `--accept-stale` (then a loud note).

Every call is in the recovery region: CloudFormation's DescribeStacks, RDS's describes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from relight.aws.clients import Aws
from relight.aws.cloudformation import COMPLETE, outputs_of
from relight.errors import PreflightError
from relight.model.plan import Plan
from relight.steps.replica.state import CLUSTER, INSTANCE, ReplicaState, read_replica_state

NOT_YET = {"creating"}  # a replica still being made cannot be promoted


@dataclass
class ReplicaCheck:
    states: dict[str, ReplicaState] = field(default_factory=dict)  # key → what RDS says
    notes: list[str] = field(default_factory=list)


def check_replicas(
    plan: Plan,
    aws_for: Callable[[str], Aws],
    region: str,
    stacks: Any,
    keys: Iterable[str],
    *,
    failover_began: bool,
    accept_stale: bool = False,
    prepare: str = "relight prepare",
) -> ReplicaCheck:
    """The replicas of `keys` in `region`; PreflightError naming every problem together.
    `aws_for(stack_name) -> Aws` gives the stack's account's clients; `stacks` reads
    CloudFormation there (`Stacks.state`); `failover_began`: the region's marker says a
    failover of the environment began there (a rerun); `prepare`: the command that prepares
    the region (`--data replica` is added)."""
    found = ReplicaCheck()
    problems: list[str] = []
    make = prepare if "--data" in prepare else f"{prepare} --data replica"
    for key in keys:
        where = f"{plan.loaded.path}: stacks.{key}.data: replica"
        fix = (
            f"run {make} while the home region answers (make prepare REGION={region} "
            f"STRATEGY={plan.strategy} DATA=replica), or fail over from the newest snapshot "
            "copy instead: --data snapshot"
        )
        sp = plan.prepared.get(key) or plan.stacks[key]
        stack = stacks.state(sp.name)
        if stack is None or stack.get("StackStatus") not in COMPLETE:
            said = "does not exist" if stack is None else f"is {stack['StackStatus']}"
            problems.append(
                f"{where}: stack {sp.name}, which stands up the replica a failover promotes, "
                f"{said} in {region}; {fix}"
            )
            continue
        outputs = outputs_of(stack)
        identifier = outputs.get("DatabaseIdentifier")
        if not identifier:
            problems.append(
                f"{where}: stack {sp.name} has no output DatabaseIdentifier (it was not "
                f"prepared as a replica); {fix}"
            )
            continue
        kind = CLUSTER if outputs.get("GlobalClusterIdentifier") else INSTANCE
        rds = aws_for(sp.name).client("rds", region)
        state = read_replica_state(rds, key, kind, identifier, region)
        found.states[key] = state
        if not state.exists:
            problems.append(f"{where}: {state.detail} (stack {sp.name} made it); {fix}")
        elif state.replica and state.status in NOT_YET:
            problems.append(
                f"{where}: {state.detail}, status {state.status}: it cannot be promoted until "
                "RDS has made it; run the failover again once it is available, or "
                "--data snapshot"
            )
        elif state.replica and not state.membership_known:
            found.notes.append(
                f"WARNING: {where}: {state.detail}. Whether it still replicates is not known; "
                "the failover detaches it all the same (RemoveFromGlobalCluster answers for "
                "itself). To restore the newest snapshot copy instead: --data snapshot"
            )
        elif state.replica and not state.replicating:
            found.notes.append(
                f"WARNING: {where}: {state.detail}: replication has stopped, so its data is "
                "as old as its last replay (possibly older than the newest snapshot copy: "
                "relight status shows that one's age); the failover promotes it as it is. "
                "To restore the newest snapshot copy instead: --data snapshot"
            )
        elif state.promoted:
            note = _promoted(where, state, failover_began, accept_stale)
            if note.startswith("refused: "):
                problems.append(note.removeprefix("refused: "))
            else:
                found.notes.append(note)
    if problems:
        raise PreflightError(problems, hint="nothing was changed")
    return found


def _promoted(where: str, state: ReplicaState, failover_began: bool, accept_stale: bool) -> str:
    if failover_began:
        return (
            f"{state.detail}: promoted by an earlier run of this failover; it is not promoted again"
        )
    if accept_stale:
        return (
            f"WARNING: {where}: {state.detail}, though no failover began here: it was "
            "promoted outside relight and has replicated nothing since; --accept-stale: the "
            "failover serves it as it is"
        )
    return (
        f"refused: {where}: {state.detail}, though no failover began in {state.region}: "
        "someone promoted it outside relight, so it has replicated nothing since and may hold "
        "writes made to it since: its data is of unknown age. Fail over onto it as it is with "
        "--accept-stale, or from the newest snapshot copy with --data snapshot; once the home "
        "region answers, tear its stack down and prepare a new replica (--data replica)"
    )
