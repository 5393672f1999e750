"""`relight policy`: the least-privilege IAM policy an environment's runs need, as JSON.

`operator`: the actions of every operator command (or those named), from relight's table of
calls (relight.model.permissions); `readiness`: the read-only ones a schedule runs (readiness,
drift, status); `replicate`: replication's copies, keys and shares; `service`: the
CloudFormation service role's, from the templates' resource types
(relight.steps.service_role). No AWS call is made.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from relight.errors import InputError
from relight.model.config import LoadedEnvironment
from relight.model.permissions.policies import (
    REPLICATE,
    SCHEDULED,
    Scope,
    operator_commands,
    policy,
)
from relight.model.plan import stack_name

FOR = ("operator", "bootstrap", "service", "replicate", "readiness")


def scope_of(loaded: LoadedEnvironment) -> Scope:
    """The environment's name, account (`*` when the file names none, or when it acts across
    accounts), regions, and identity stack."""
    env = loaded.env
    account = env.account_id or "*"
    if env.recovery_account_id and env.recovery_account_id != env.account_id:
        account = "*"  # the operator's account and the recovery account both
    identity = next(
        (stack_name(env.name, key) for key, s in env.stacks.items() if s.blueprint == "identity"),
        None,
    )
    from relight.model.values import partition_of

    regions = tuple(dict.fromkeys([env.home_region, *env.recovery_regions]))
    return Scope(env.name, account, regions, identity, partition_of(env.home_region))


def roles_assumed(loaded: LoadedEnvironment) -> list[str]:
    """The roles relight assumes for the environment: its role_arn and its stacks'."""
    env = loaded.env
    roles = [env.role_arn] if env.role_arn else []
    roles += [s.role_arn for s in env.stacks.values() if s.role_arn]
    return sorted(set(roles))


def policy_for(
    loaded: LoadedEnvironment, who: str, commands: Sequence[str] = (), region: str | None = None
) -> dict[str, Any]:
    """The policy document for `who` (one of FOR); `commands` narrows `operator` to them;
    `region` is the recovery region whose service role `service` prints (default: the first
    of recovery_regions)."""
    if who not in FOR:
        raise InputError(f"--for {who!r} is not one of {', '.join(FOR)}")
    if region and who != "service":
        raise InputError(f"--region chooses the service role's region: --for service, not {who}")
    if commands and who != "operator":
        raise InputError(f"--command narrows --for operator only, not --for {who}")
    known = operator_commands()
    unknown = [c for c in commands if c not in known]
    if unknown:
        raise InputError(
            f"--command {unknown[0]!r} is not a command that calls AWS; those are "
            + ", ".join(known)
        )
    if who == "service":
        return service_policy(loaded, region)
    scope = scope_of(loaded)
    if who == "readiness":
        return policy(scope, SCHEDULED, assume_roles=roles_assumed(loaded))
    if who == "replicate":
        return policy(scope, REPLICATE, assume_roles=[r for r in [loaded.env.role_arn] if r])
    if who == "bootstrap":
        return bootstrap_policy(loaded, scope)
    return policy(scope, tuple(commands) or known, assume_roles=roles_assumed(loaded))


# IAM's List* actions on every role, policy or profile (Service Authorization Reference, IAM:
# no resource type): `Resource: "*"`.
UNSCOPED_IAM_LISTS = frozenset({"iam:ListRoles", "iam:ListPolicies", "iam:ListInstanceProfiles"})


def bootstrap_policy(loaded: LoadedEnvironment, scope: Scope) -> dict[str, Any]:
    """The bootstrap's policy: what CloudFormation needs, acting with the credentials of whoever
    runs the `relight prepare` that creates, changes or (teardown --prepared) deletes the
    identity stack, to make its IAM resources (AWS's registry schemas, as for the service
    role), held to the identity stack's own roles, policies and instance profiles
    (CloudFormation names them `<stack>-<logical id>-<suffix>`; its roles but the service role
    under the IAM path `/relight/env/<env>/`); IAM's List* on `*`.

    It is not in the operator's policy: whoever may change those roles' permissions may give
    the CloudFormation service role any permission, so it is an administrator's, used when the
    identity stack is made or changes (like `cdk bootstrap`), never the on-call engineer's."""
    if not scope.identity_stack:
        raise InputError(
            f"{loaded.path}: stacks: no stack uses the identity blueprint, so there is no "
            "bootstrap (and no CloudFormation service role)",
            hint="add `identity: {blueprint: identity, stands: global, params: {}}` to stacks:",
        )
    from relight.steps.render import build_plan
    from relight.steps.service_role import handler_actions, iam_knows, role_path

    region = loaded.env.recovery_regions[0]
    plan = build_plan(loaded, region, phase="prepare")
    key = next(k for k, s in loaded.env.stacks.items() if s.blueprint == "identity")
    body = json.loads(plan.stacks[key].body)
    kinds = sorted({str(r["Type"]) for r in body.get("Resources", {}).values()})
    actions = {
        a
        for kind in kinds
        for a in handler_actions(region, kind, [key])
        if iam_knows(a) and not a.endswith(("GroupPolicy", "UserPolicy"))  # roles' only
    }
    lists = sorted(actions & UNSCOPED_IAM_LISTS)
    own = sorted(actions - set(lists))
    p, acct, name = scope.partition, scope.account, scope.identity_stack
    path = role_path(loaded.env.name, key, True)[1:]  # its roles but the service role have it
    resources = [
        f"arn:{p}:iam::{acct}:{kind}/{name}-*" for kind in ("role", "policy", "instance-profile")
    ]
    resources[1:1] = [
        f"arn:{p}:iam::{acct}:role/{path}{name}-*",
        f"arn:{p}:iam::{acct}:role/relight-cloudformation/{loaded.env.name}/{name}-*",
    ]
    statements = [
        {
            "Sid": "TheIdentityStacksOwnResourcesMadeThroughCloudFormation",
            "Effect": "Allow",
            "Action": own,
            "Resource": resources,
        },
        {
            "Sid": "IamListsNotScopableByResource",
            "Effect": "Allow",
            "Action": lists,
            "Resource": "*",
        },
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def service_policy(loaded: LoadedEnvironment, region: str | None) -> dict[str, Any]:
    """The CloudFormation service role's policy in `region`: exactly what the identity stack
    gives the role there (relight.steps.service_role), rendered from the environment's
    templates, with the file's account (any, `*`, when it names none) and the region's
    partition in its ARNs, so the JSON is a policy IAM takes as printed."""
    from relight.steps.render import build_plan
    from relight.steps.service_role import service_role_policy

    env = loaded.env
    regions = [*env.recovery_regions, env.home_region]
    chosen = region or env.recovery_regions[0]
    if chosen not in regions:
        raise InputError(
            f"--region {chosen}: {loaded.path} names {', '.join(regions)}",
            hint="the service role stands in each region the environment is rebuilt in",
        )
    from relight.model.values import partition_of

    plan = build_plan(loaded, chosen, stand_in=False)
    return service_role_policy(plan, account=env.account_id or "*", partition=partition_of(chosen))
