"""Stacks made in another account: a stack's `role_arn:` (the hosted zone's account, for the dns
stack) is assumed through STS in the region relight acts in, and that stack is created, read,
listed and deleted with the role's credentials, while every other stack stays in the
connection's account.

Why: Route 53 takes a record only from the account that owns the hosted zone (Route 53 has no
resource-based policies: another account acts through a role in the zone's account), and a
CloudFormation stack makes its resources in its own account. So the dns stack (its record, its
health check and the failback latch alarm) is deployed into the zone's account, where the home
side's latch check can read the alarm (AlarmIdentifier names no account). Assuming the role uses
STS's regional endpoint (AwsTarget.sts_region): nothing from another region, also at failover,
when the standing stack's outputs are read and its latch is set.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from relight.aws.clients import Aws
from relight.model.plan import stack_name as stack_name_of


def account_of(role_arn: str) -> str:
    """`arn:aws:iam::111122223333:role/x` → `111122223333`."""
    return role_arn.split(":")[4]


def as_role(base: Aws, role_arn: str, region: str) -> Aws:
    """An Aws acting as `role_arn`, assumed through STS in `region`, with the base's profile,
    endpoint, outage rehearsal and request budget (not the base role's external id: it is
    that role's)."""
    target = replace(base.target, role_arn=role_arn, sts_region=region, external_id=None)
    return Aws(target, outage=base.outage, budget=base.budget)


@dataclass
class StackRoles:
    """The environment's stacks that live in another account: key → the role to act as."""

    env: str
    roles: Mapping[str, str]
    keys: frozenset[str] = frozenset()  # every stack of the environment
    _made: dict[str, Aws] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def role_for(self, stack_name: str) -> str | None:
        """The role a stack of the environment is made with (its own name, or a drill's or
        test copy's `<env>-<namespace>-<key>`), None for the connection's own account."""
        if stack_name in {stack_name_of(self.env, k) for k in self.keys - set(self.roles)}:
            return None  # another stack of the environment whose name ends like one of these
        for key, role in self.roles.items():
            own = stack_name_of(self.env, key)
            suffix = own.removeprefix(self.env)  # `-<key>`, hyphens for underscores
            if stack_name == own or (
                stack_name.startswith(f"{self.env}-") and stack_name.endswith(suffix)
            ):
                return role
        return None

    def aws(self, base: Aws, role_arn: str, region: str) -> Aws:
        """`as_role`, made once per role."""
        with self._lock:
            if role_arn not in self._made:
                self._made[role_arn] = as_role(base, role_arn, region)
            return self._made[role_arn]


def _stack_of(kwargs: Mapping[str, Any]) -> str:
    """The stack a CloudFormation call is about: its StackName, or the stack in an ARN."""
    name = str(kwargs.get("StackName") or kwargs.get("ChangeSetName") or "")
    if name.startswith("arn:"):  # arn:aws:cloudformation:R:ACCOUNT:stack/NAME/ID or changeSet/..
        return name.split(":", 5)[5].split("/")[1] if "stack/" in name else name
    return name


class RoutedCloudFormation:
    """A CloudFormation client that sends the calls about a stack of another account to that
    account's client, and lists both accounts' stacks (the other account's: only those of
    the environment that live there)."""

    def __init__(self, own: Any, others: Mapping[str, Any], roles: StackRoles) -> None:
        self._own = own
        self._others = others  # role → client
        self._roles = roles
        self._by_change_set: dict[str, Any] = {}

    def __getattr__(self, operation: str) -> Any:
        attribute = getattr(self._own, operation)
        if not callable(attribute) or operation in ("get_paginator", "can_paginate"):
            return attribute

        def call(**kwargs: Any) -> Any:
            client = self._client_for(kwargs)
            answer = getattr(client, operation)(**kwargs)
            if operation == "create_change_set" and client is not self._own:
                self._by_change_set[str(answer.get("Id"))] = client
            return answer

        return call

    def _client_for(self, kwargs: Mapping[str, Any]) -> Any:
        change_set = str(kwargs.get("ChangeSetName", ""))
        if change_set in self._by_change_set:
            return self._by_change_set[change_set]
        role = self._roles.role_for(_stack_of(kwargs))
        return self._own if role is None else self._others[role]

    def get_paginator(self, operation: str) -> Any:
        own = self._own.get_paginator(operation)
        if operation != "describe_stacks":
            return own
        return _Listing(own, self._others, self._roles)


class _Listing:
    def __init__(self, own: Any, others: Mapping[str, Any], roles: StackRoles) -> None:
        self._own, self._others, self._roles = own, others, roles

    def paginate(self, **kwargs: Any) -> Any:
        yield from self._own.paginate(**kwargs)
        for role, client in self._others.items():
            for page in client.get_paginator("describe_stacks").paginate(**kwargs):
                mine = [s for s in page["Stacks"] if self._roles.role_for(s["StackName"]) == role]
                yield {**page, "Stacks": mine}
