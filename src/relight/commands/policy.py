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

FOR = ("operator", "service", "replicate", "readiness")


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
    regions = tuple(dict.fromkeys([env.home_region, *env.recovery_regions]))
    return Scope(env.name, account, regions, identity)


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
    chosen = tuple(commands) or known
    document = policy(scope, chosen, assume_roles=roles_assumed(loaded))
    if scope.identity_stack and set(chosen) & BOOTSTRAP_COMMANDS:
        document["Statement"] += bootstrap_statements(loaded, scope)
    return document


# The commands that create or delete the identity stack with the operator's own credentials
# (the bootstrap: prepare makes it, teardown of a region deletes it last): CloudFormation then
# makes its IAM resources as the operator, so the operator needs what their handlers need.
BOOTSTRAP_COMMANDS = frozenset({"prepare", "teardown"})
# IAM's List* actions on every role, policy or profile (Service Authorization Reference, IAM:
# no resource type): `Resource: "*"`.
UNSCOPED_IAM_LISTS = frozenset({"iam:ListRoles", "iam:ListPolicies", "iam:ListInstanceProfiles"})


def bootstrap_statements(loaded: LoadedEnvironment, scope: Scope) -> list[dict[str, Any]]:
    """What CloudFormation needs, acting with the operator's credentials, to create, update and
    delete the identity stack's resources (AWS's registry schemas, as for the service role):
    held to the identity stack's own roles, policies and instance profiles (CloudFormation
    names them `<stack>-<logical id>-<suffix>`); the List* reads IAM cannot scope on `*`."""
    from relight.steps.render import build_plan
    from relight.steps.service_role import handler_actions, iam_knows

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
    resources = [
        f"arn:{p}:iam::{acct}:{kind}/{name}-*" for kind in ("role", "policy", "instance-profile")
    ]
    return [
        {
            "Sid": "TheIdentityStacksOwnResourcesMadeAsTheOperator",
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
