"""Home's database stack as a cross-region read replica of what R promoted (the default
`ReplicaHooks` of replicas.py).

The stack is the environment file's own, rendered as the model renders a replica-mode database
stack (`build_plan(..., data="replica")`: the database blueprint with `data: replica`), with
one difference: its source is R's promoted database (its ARN), not the home database the
artifact's `db_instance` names. It is deployed alone in the home region (the stacks it reads,
network and security, read as they stand there), through a change set that replaces home's
old database (`replace_data`: what keeps home's data is keep_home_data's manual snapshot,
taken first; the replica template's policies are Snapshot, which CloudFormation ignores while
the stack holds a read replica and honours once it is promoted). CloudFormation makes the
replica with the home region's key and in home's network: the template's KmsKeyId and DB
subnet group.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relight.commands.connection import Connection
from relight.commands.failback.replicas import ReplicaHooks
from relight.errors import AwsError, InputError
from relight.model.plan import StackPlan
from relight.steps.failback.replica import ReplicaHolder

PURPOSE = "RelightPurpose"  # the blueprints' deletion-protection switch (production: on)


def replica_stack(plan: Any, holder: ReplicaHolder, source_arn: str) -> StackPlan:
    """Home's database stack `holder.stack` in replica mode, replicating `source_arn`: rendered
    as `relight prepare` renders it (phase prepare, `--data replica`: the replica template, home's
    key from `kms_keys`), its source R's database and its purpose home's."""
    from relight.model.data_modes import SOURCE_PARAMETER
    from relight.steps.render import build_plan

    rendered = build_plan(
        plan.loaded, plan.home, stand_in=plan.recovery_plan.stand_in, phase="prepare",
        strategy="warm_standby", data="replica",
    )  # fmt: skip
    sp = rendered.stacks.get(holder.stack)
    if sp is None or SOURCE_PARAMETER not in sp.parameters:
        raise InputError(
            f"{plan.loaded.path}: stacks.{holder.stack}: not rendered as a replica at "
            f"{plan.home} ({rendered.skipped.get(holder.stack, 'no replica template')})"
        )
    params = {**sp.parameters, SOURCE_PARAMETER: source_arn}
    at_home = plan.home_plan.stacks.get(holder.stack)
    if at_home is not None and PURPOSE in at_home.parameters:
        params[PURPOSE] = at_home.parameters[PURPOSE]
    return replace(sp, parameters=params)


def deploy_home_replica(plan: Any, home: Connection, holder: ReplicaHolder, source_arn: str) -> str:
    """Deploy home's database stack as the replica (a rerun changes nothing); the identifier
    of the home replica (the stack's `DatabaseIdentifier` output)."""
    from relight.commands.failover import failover

    sp = replica_stack(plan, holder, source_arn)
    plan.home_plan.stacks[holder.stack] = sp
    standing = {**plan.home_plan.stacks, **plan.home_plan.prepared}
    alone = replace(
        plan.home_plan,
        stacks={holder.stack: replace(sp, depends_on=())},  # what it reads stands: read
        prepared={k: standing[k] for k in sp.depends_on if k in standing},
    )
    result = failover(
        alone, home, replace_data=frozenset({holder.stack}), accept_stale=True,
        verify_after=False, unused=frozenset(r.artifact for r in plan.replicas),
    )  # fmt: skip
    made = result.outcome.results.get(holder.stack)
    if made is None or not made.ok:
        raise AwsError(
            f"{sp.name} in {plan.home} was not made a replica of {source_arn}: "
            + (made.reason if made else "not deployed"),
            hint="fix what the stack says and rerun the failback: it goes on from here",
        )
    ident = made.outputs.get("DatabaseIdentifier", "")
    if not ident:
        raise AwsError(f"{sp.name} in {plan.home} gives no DatabaseIdentifier output")
    return ident


HOOKS = ReplicaHooks(deploy=deploy_home_replica, stack=replica_stack)


def resolve(hooks: ReplicaHooks | None) -> ReplicaHooks:
    """The hooks given (a test's), else these."""
    return HOOKS if hooks is None else hooks
