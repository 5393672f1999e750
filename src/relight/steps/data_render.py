"""Rendering a database stack in its data mode (model/data_modes.py), for `steps.render`.

A replica-mode stack renders the database blueprint with `data: replica`: its template makes a
cross-region read replica of the home database (an Aurora secondary cluster), not a restore, so
render gives it the replica's Parameters instead of the snapshot's: `ReplicaSourceArn` (the
home database's ARN, from the environment's home region, partition and account) and `KmsKeyId`
(the region's key from `kms_keys`, unless the params give one). Everything else a plan does
with it (prepared at a rung where what it reads stands, read at failover) is `steps.render`'s.
"""

from __future__ import annotations

from relight.errors import ConfigError
from relight.model.config import placed
from relight.model.data_modes import (
    DATA_OPTION,
    DATABASE_BLUEPRINT,
    GLOBAL_PARAMETER,
    KMS_PARAMETER,
    SNAPSHOT_PARAMETER,
    SOURCE_PARAMETER,
    data_problems,
    global_cluster_id,
    replica_source,
    replicates,
    rung_for,
)
from relight.model.environment import DATA_MODES, STRATEGIES, ParamValue
from relight.model.plan import Plan


def data_params(plan: Plan, key: str, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
    """The params a database stack renders with in this run: its data mode as the blueprint's
    `data` option and, for a replica, its source and key in place of the snapshot."""
    spec = plan.loaded.env.stacks[key]
    if spec.blueprint != DATABASE_BLUEPRINT:
        return params
    if not replicates(plan, key):
        return {**params, DATA_OPTION: "snapshot"}
    found = replica_source(plan.loaded.env, key)
    if found is None:  # data_problems refused it before any render
        raise ConfigError(placed(plan.loaded, data_problems(plan.loaded.env, "replica")[0]))
    kind, identifier = found
    from relight.model.data_modes import source_arn

    given = {k: v for k, v in params.items() if k != SNAPSHOT_PARAMETER}
    given[DATA_OPTION] = "replica"
    given[SOURCE_PARAMETER] = source_arn(plan.loaded.env, kind, identifier)
    if kind == "cluster":  # the global database prepare makes (or finds) at home
        given[GLOBAL_PARAMETER] = global_cluster_id(plan.loaded.env, key)
    key_id = plan.loaded.env.kms_keys.get(plan.region)
    if KMS_PARAMETER not in given and key_id is not None:
        given[KMS_PARAMETER] = key_id
    return given


def check_data(plan: Plan) -> None:
    """Refuse (ConfigError, exit 2, nothing changed) a run whose replica-mode stacks cannot
    stand: the run's `--data replica` on a stack without a home database to replicate, a
    replica below the rung at which the stacks it reads stand, or without a KMS key for the
    region. A namespaced plan (drill, test copy) renders snapshot restores: nothing to check."""
    env = plan.loaded.env
    if plan.data not in (None, *DATA_MODES):
        raise ValueError(f"data must be one of {DATA_MODES}")
    if plan.namespace is not None or plan.phase == "home":
        return
    problems = data_problems(env, plan.data) if plan.data == "replica" else []
    if problems:
        from relight.model.config import refuse_placed

        refuse_placed(plan.loaded, problems)
    for key, spec in env.stacks.items():
        if not spec.stands_in(plan.region) or not replicates(plan, key):
            continue
        given = " (--data replica)" if plan.data == "replica" else ""
        where = f"stacks.{key}.data: replica{given}"
        rung, never = rung_for(env, key, plan.stand_in)
        if rung is None:
            problems.append(
                f"{where}: a replica is made before a disaster in the network it reads, but "
                f"{', '.join(never)} stand(s) at no rung (no stands:), so the replica cannot "
                f"stand either: give {', '.join(never)} a stands:, or stacks.{key} data: snapshot"
            )
        elif STRATEGIES.index(rung) > STRATEGIES.index(plan.strategy):
            reads = ", ".join(sorted(spec.dependencies(plan.stand_in)))
            problems.append(
                f"{where}: a replica is made before a disaster in the network it reads "
                f"({reads}), which stands only from {rung} up, not at {plan.strategy}: run at "
                f"{rung} or higher (--strategy {rung}, or strategy: in the file), or give "
                f"stacks.{key} data: snapshot (--data snapshot)"
            )
        elif plan.region not in env.kms_keys and KMS_PARAMETER not in spec.params:
            problems.append(
                f"{where}: a cross-region replica of an encrypted database is encrypted with a "
                f'KMS key of its own region (RDS: "if the source DB instance is in a different '
                f'AWS Region, you must specify a KMS key ID"): add kms_keys.{plan.region}'
            )
    if problems:
        from relight.model.config import refuse_placed

        refuse_placed(plan.loaded, problems)
