"""`relight policy`: the least-privilege IAM policy an environment's runs need, as JSON.

`operator`: the actions of every operator command (or those named), from relight's table of
calls (relight.model.permissions); `readiness`: the read-only ones a schedule runs (readiness,
drift, status); `replicate`: replication's copies, keys and shares; `service`: the
CloudFormation service role's, from the templates' resource types
(relight.steps.service_role). No AWS call is made.
"""

from __future__ import annotations

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


def policy_for(loaded: LoadedEnvironment, who: str, commands: Sequence[str] = ()) -> dict[str, Any]:
    """The policy document for `who` (one of FOR); `commands` narrows `operator` to them."""
    if who not in FOR:
        raise InputError(f"--for {who!r} is not one of {', '.join(FOR)}")
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
        import importlib

        # the role's policy, from the templates' resource types (written beside this on
        # another branch of issue 22: imported by name, so this module stands without it)
        service_role = importlib.import_module("relight.steps.service_role")
        document: dict[str, Any] = service_role.service_role_policy(loaded)
        return document
    scope = scope_of(loaded)
    if who == "readiness":
        return policy(scope, SCHEDULED, assume_roles=roles_assumed(loaded))
    if who == "replicate":
        return policy(scope, REPLICATE, assume_roles=[r for r in [loaded.env.role_arn] if r])
    return policy(scope, tuple(commands) or known, assume_roles=roles_assumed(loaded))
