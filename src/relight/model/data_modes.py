"""The data axis of the DR ladder: how a database stack's data reaches the recovery region.

Each stack built from the `database` blueprint has a data mode, independent of the compute
rung (`strategy:`):

- **snapshot** (the default): restored at failover from the newest snapshot copy in the
  region; the RPO is that copy's age.
- **replica**: a cross-region read replica of the home database (an RDS instance), or a
  secondary cluster of an Aurora global database, made by `relight prepare` in the region and
  kept replicating; a failover promotes it. The RPO is the replica's lag.

`data:` in the environment file sets a stack's mode; `--data snapshot|replica` overrides it
for every database stack of one run (`Plan.data`). A replica-mode stack is prepared at a rung
where every stack it reads stands (it lives in the network that stands there), read by the
failover (`Plan.prepared`) and, in a drill or a test copy (a namespaced plan), rendered as a
snapshot restore: production's replica is never touched by them.

The replica's source is the home database the stack's `SnapshotIdentifier: {artifact: X}`
lookup names: X's `db_instance` (kind rds_snapshot) or `db_cluster` (kind
rds_cluster_snapshot), in the home region, in the environment's account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from relight.model.environment import ArtifactRef, Environment, StackSpec, stands_at
from relight.model.values import partition_of

if TYPE_CHECKING:
    from relight.model.plan import Plan

DATABASE_BLUEPRINT = "database"
# The database blueprint's option that render fills with the mode a run renders it in.
DATA_OPTION = "data"
SNAPSHOT_PARAMETER = "SnapshotIdentifier"
# The replica's source, a Parameter of the replica template relight fills (its ARN).
SOURCE_PARAMETER = "ReplicaSourceArn"
KMS_PARAMETER = "KmsKeyId"
GLOBAL_PARAMETER = "GlobalClusterIdentifier"
LOWEST_REPLICA_RUNG = "pilot_light"  # the demo's; the rung a stack's reads need is computed

ReplicaKind = Literal["instance", "cluster"]


def data_mode(spec: StackSpec, override: str | None) -> str | None:
    """A stack's data mode in a run: None for a stack that is not a database; else the run's
    `--data` (override), else the file's `data:`, else snapshot."""
    if spec.blueprint != DATABASE_BLUEPRINT:
        return None
    return override or spec.data or "snapshot"


def replicates(plan: Plan, key: str) -> bool:
    """Whether the plan's stack `key` is a replica in this run: its data mode is replica, and
    the plan is neither namespaced (a drill or test copy renders a snapshot restore) nor
    production at home."""
    spec = plan.loaded.env.stacks[key]
    return (
        plan.namespace is None and plan.phase != "home" and data_mode(spec, plan.data) == "replica"
    )


def replica_keys(plan: Plan) -> list[str]:
    """The keys of the plan's stacks (built, prepared or read) whose data mode in this run is
    replica, in the file's order; none in a namespaced run."""
    every = {*plan.stacks, *plan.prepared}
    return [key for key in plan.loaded.order if key in every and replicates(plan, key)]


def replica_only_artifacts(plan: Plan) -> set[str]:
    """The artifacts this run restores nothing from: every stack of the plan that names them is
    a replica-mode database, which is promoted, not restored (its lookup only says which home
    database it replicates). A failover neither needs them found nor within the RPO."""
    replicas = set(replica_keys(plan))
    if not replicas:
        return set()
    others = {*plan.stacks, *plan.prepared} - replicas
    env = plan.loaded.env
    return {
        name
        for name in env.artifacts
        if any(env.stacks[k].uses_artifact(name) for k in replicas)
        and not any(env.stacks[k].uses_artifact(name) for k in others)
    }


def replica_source(env: Environment, key: str) -> tuple[ReplicaKind, str] | None:
    """What the replica of stack `key` replicates: ("instance", the home DB instance's
    identifier) or ("cluster", the home DB cluster's), from the lookup its
    `SnapshotIdentifier: {artifact: X}` names; None when it names neither."""
    ref = env.stacks[key].params.get(SNAPSHOT_PARAMETER)
    if not isinstance(ref, ArtifactRef) or ref.attribute is not None:
        return None
    lookup = env.artifacts.get(ref.artifact)
    if lookup is None:
        return None
    if lookup.kind == "rds_snapshot" and lookup.db_instance:
        return "instance", lookup.db_instance
    if lookup.kind == "rds_cluster_snapshot" and lookup.db_cluster:
        return "cluster", lookup.db_cluster
    return None


def source_arn(env: Environment, kind: ReplicaKind, identifier: str) -> str:
    """The home database's ARN: `arn:PARTITION:rds:HOME:ACCOUNT:db:ID` (`cluster:` for a
    cluster). The account is the environment's (`account_id`, required in replica mode)."""
    home = env.home_region
    what = "db" if kind == "instance" else "cluster"
    return f"arn:{partition_of(home)}:rds:{home}:{env.account_id}:{what}:{identifier}"


def global_cluster_id(env: Environment, key: str) -> str:
    """The Aurora global database of stack `key`'s home cluster, as relight names one it makes
    (`<env>-<stack>-global`); prepare uses an existing one whose primary is the home cluster."""
    return f"{env.name}-{key}-global".replace("_", "-")


def data_problems(env: Environment, override: str | None = None) -> list[str]:
    """`stacks.KEY.data: why` for each stack whose data mode cannot be (none when all is
    well): `data:` on a stack that is not a database, or a replica without a home database to
    replicate (its SnapshotIdentifier lookup must name db_instance or db_cluster) or without
    the account its source's ARN names. `override`: the run's `--data`, checked likewise."""
    problems = []
    for key, spec in env.stacks.items():
        where = f"stacks.{key}.data"
        if spec.data is not None and spec.blueprint != DATABASE_BLUEPRINT:
            problems.append(
                f"{where}: only a stack of blueprint {DATABASE_BLUEPRINT} has a data mode "
                f"(this one's blueprint is {spec.blueprint}): remove data"
            )
            continue
        if spec.blueprint == DATABASE_BLUEPRINT and DATA_OPTION in spec.params:
            problems.append(
                f"stacks.{key}.params.{DATA_OPTION}: relight gives the blueprint the stack's "
                f"data mode: write it as stacks.{key}.data (snapshot or replica)"
            )
        if data_mode(spec, override) != "replica":
            continue
        given = f"{where}: replica" + (" (--data replica)" if override == "replica" else "")
        if replica_source(env, key) is None:
            ref = spec.params.get(SNAPSHOT_PARAMETER)
            named = (
                f"artifacts.{ref.artifact}"
                if isinstance(ref, ArtifactRef) and ref.artifact in env.artifacts
                else None
            )
            problems.append(
                f"{given}: a replica replicates the home database that stacks.{key}.params."
                f"{SNAPSHOT_PARAMETER} is a snapshot of, so that must be {{artifact: NAME}} "
                "whose lookup names db_instance (kind rds_snapshot) or db_cluster (kind "
                "rds_cluster_snapshot)"
                + (f"; {named} names neither: add it there" if named else "")
                + ", or give the stack data: snapshot"
            )
        elif env.account_id is None:
            problems.append(
                f"{given}: the home database's ARN names its account: give account_id "
                "(the environment's 12-digit account), or data: snapshot"
            )
    return problems


def rung_for(env: Environment, key: str, stand_in: bool) -> tuple[str | None, list[str]]:
    """The lowest rung at which every stack the replica `key` reads stands (it is prepared in
    the network that stands there), and the stacks it reads that stand at no rung."""
    ranks = ("backup_restore", "pilot_light", "warm_standby")
    spec = env.stacks[key]
    needed = 0
    never = []
    for other in sorted(spec.dependencies(stand_in)):
        stands = env.stacks[other].stands if other in env.stacks else None
        if stands is None:
            never.append(other)
            continue
        needed = max(needed, next(i for i, r in enumerate(ranks) if stands_at(stands, r)))
    return (None if never else ranks[needed]), never
