"""Is a replica ready to be promoted now? What readiness checks of each replica-mode database.

Three questions, each a call in the recovery region (never the home region):

1. it exists: the prepared stack names it (`DatabaseIdentifier`), and RDS there knows it;
2. it replicates: for an instance, DescribeDBInstances' `StatusInfos` (StatusType "read
   replication", Status "replicating"); for a cluster, its membership of the global cluster
   as a secondary (ReplicaState says which, state.py);
3. its lag, the largest over the recent window (lag.py), is under the RPO objective: a
   promotion now would lose at most that much.

Each problem names the file and key, what was found, and the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from relight.errors import RelightError
from relight.model.times import human_age
from relight.steps.replica.lag import Lag, replica_lag

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class ReplicaProblem:
    severity: str  # ERROR (not ready) or WARNING
    message: str
    fix: str


def plan_replica_problems(
    plan: Any, aws: Any, region: str, outputs: Mapping[str, Any], at: datetime, refresh: str
) -> list[ReplicaProblem]:
    """`replica_problems` of each replica-mode database of `plan` (`replica_keys`), with the
    prepared stacks' `outputs`; `refresh` is the prepare command (`--data replica` added).
    RDS and CloudWatch in the region only."""
    from relight.model.data_modes import replica_keys

    keys = replica_keys(plan)
    if not keys:
        return []
    loaded = plan.loaded
    prepare = refresh if "--data" in refresh else f"{refresh} --data replica"
    rds, cloudwatch = aws.client("rds", region), aws.client("cloudwatch", region)
    return [
        problem
        for key in keys
        for problem in replica_problems(
            key,
            outputs.get(key),
            where=f"{loaded.path}: stacks.{key}",
            region=region,
            rpo=loaded.env.objectives.rpo,
            at=at,
            rds=rds,
            cloudwatch=cloudwatch,
            prepare=prepare,
        )
    ]


def replica_kind(outputs: Mapping[str, Any]) -> str:
    """An Aurora secondary names its global cluster; an instance replica does not."""
    return "cluster" if outputs.get("GlobalClusterIdentifier") else "instance"


def replica_problems(
    key: str,
    outputs: Mapping[str, Any] | None,
    *,
    where: str,
    region: str,
    rpo: int,
    at: datetime,
    rds: Any,
    cloudwatch: Any,
    prepare: str,
    read_state: Callable[..., Any] | None = None,
    read_lag: Callable[..., Lag] = replica_lag,
) -> list[ReplicaProblem]:
    """Every reason the replica of stack `key` could not be promoted now with at most `rpo`
    seconds of data lost. `outputs`: the prepared stack's outputs (None: not prepared);
    `where`: the file and key to name (`stacks/demo.yaml: stacks.database`); `prepare`:
    the command that makes the replica. Read-only."""
    from relight.steps.replica.state import read_replica_state

    read = read_state or read_replica_state
    identifier = (outputs or {}).get("DatabaseIdentifier")
    if not identifier:
        return [
            ReplicaProblem(
                ERROR,
                f"{where}: data: replica, but no replica is prepared in {region} (the prepared "
                "stack is missing or names no DatabaseIdentifier): a failover would have "
                "nothing to promote",
                prepare,
            )
        ]
    kind = replica_kind(outputs or {})
    noun = "secondary cluster" if kind == "cluster" else "read replica"
    state = read(rds, key, kind, identifier, region)
    if not state.exists:
        return [
            ReplicaProblem(
                ERROR,
                f"{where}: the {noun} {identifier} the prepared stack names does not exist in "
                f"{region}: a failover would have nothing to promote",
                prepare,
            )
        ]
    if state.promoted:
        return [
            ReplicaProblem(
                ERROR,
                f"{where}: {identifier} in {region} was promoted: it is a stand-alone database "
                "now and replicates nothing (a promotion cannot be undone)",
                "if it serves since a failover, bring its data home with relight failback; if "
                "it was promoted by hand and serves nothing, it holds data written nowhere else: "
                "keep a snapshot of it, tear the prepared database stack down (relight teardown "
                f"--prepared; it leaves a final snapshot) and run {prepare}",
            )
        ]
    if not state.replicating:
        return [
            ReplicaProblem(
                ERROR,
                f"{where}: the {noun} {identifier} in {region} is not replicating "
                f"(status {state.status}: {state.detail})",
                _look(kind, identifier, region)
                + ", fix its cause, or make a new replica: delete the prepared database "
                f"stack and run {prepare}",
            )
        ]
    return _lag_problems(where, kind, identifier, region, rpo, at, cloudwatch, read_lag)


def _lag_problems(
    where: str,
    kind: str,
    identifier: str,
    region: str,
    rpo: int,
    at: datetime,
    cloudwatch: Any,
    read_lag: Callable[..., Lag],
) -> list[ReplicaProblem]:
    try:
        lag = read_lag(cloudwatch, kind, identifier, at)
    except RelightError as exc:
        return [ReplicaProblem(WARNING, f"{where}: lag not checked: {exc.message}", exc.hint or "")]
    if lag.inactive:
        return [
            ReplicaProblem(
                ERROR,
                f"{where}: {lag.describe()} in {region}",
                _look(kind, identifier, region),
            )
        ]
    if lag.seconds is None:
        return [
            ReplicaProblem(
                WARNING,
                f"{where}: {lag.describe()} in {region}: its lag is unknown",
                f"wait a few minutes after the replica is made; if it stays so, "
                f"{_look(kind, identifier, region)}",
            )
        ]
    if lag.seconds > rpo:
        return [
            ReplicaProblem(
                ERROR,
                f"{where}: {lag.describe()} in {region}: more than the RPO objective "
                f"({human_age(rpo)}): a promotion now would lose up to "
                f"{human_age(lag.seconds)} of writes",
                "find why it falls behind (the source's write load, the replica's instance "
                f"class and storage throughput, the network between regions): "
                f"{_look(kind, identifier, region)}",
            )
        ]
    return []


def _look(kind: str, identifier: str, region: str) -> str:
    """Where the operator reads why: the replica's StatusInfos message, or the global
    cluster's members."""
    if kind == "cluster":
        return (
            f"look at the global cluster's members: aws rds describe-global-clusters "
            f"--region {region}, and aws rds describe-db-clusters --region {region} "
            f"--db-cluster-identifier {identifier}"
        )
    return (
        "look at the replica's StatusInfos message: aws rds describe-db-instances "
        f"--region {region} --db-instance-identifier {identifier} "
        "--query 'DBInstances[0].StatusInfos'"
    )
