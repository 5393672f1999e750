"""Which stacks of an estate go where at prepare: CloudFormation StackSets, or relight's own
prepare, and why (docs/estates.md, "Prepare: which stacks go where").

A `stands: global` stack (IAM roles, what every account needs) is the same template in every
account; CloudFormation StackSets is the engine AWS built to deploy one template to many
accounts, with its own concurrency and failure tolerance. So each distinct global template
becomes one StackSet, administered in the recovery region by the estate's administrator
account, with one stack instance per account; environments whose templates are the same
share it, and where only parameters differ, the instance of that account gets
ParameterOverrides. What a StackSet cannot express goes through relight's own prepare:

- a global stack whose parameters are not all known before any AWS call (another stack's
  output, a discovered artifact, zones, a secret): a StackSet takes literal values;
- one whose template is over 51,200 bytes (a StackSet would need it in S3 in the
  administrator account; relight's prepare uploads it to the environment's own bucket);
- a second environment in an account that already has an instance of that StackSet, with
  other parameter values (a StackSet has one instance per account and region): it gets a
  StackSet of its own;
- with service-managed permissions, an environment whose parameters differ from the StackSet's
  (instances are made per organizational unit, so an override cannot name one account), and
  one in the organization's management account (StackSets deploys no instance there);
- every stack that is not `stands: global` (the rung's network, load balancer, standby compute):
  those differ per environment and read each other's outputs in order.

Nothing here calls AWS: it reads the environments' prepare plans.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from relight.aws.cloudformation import SERVES_TAG, STACKSET_TAG
from relight.aws.stacksets import SELF_MANAGED
from relight.dr.prepared import literal_parameters
from relight.model.plan import GLOBAL_PURPOSE, MAX_INLINE_BODY, Plan

# CloudFormation allows 50 tags on a StackSet; relight's own take 5, each stack it stands for 1.
MAX_MEMBERS = 45


@dataclass(frozen=True)
class GlobalStack:
    """One environment's `stands: global` stack, as its prepare plan renders it."""

    env: str
    key: str
    name: str  # relight's stack name (`<env>-<key>`)
    account: str  # the account key
    account_id: str
    body: str
    parameters: Mapping[str, str] | None  # None: not all literal
    not_literal: tuple[str, ...] = ()  # the parameters that are references


@dataclass
class SetPlan:
    """One StackSet: its template, the StackSet's parameters (its first member's), and the
    instances: account id → the parameters that differ there."""

    name: str
    body: str
    parameters: dict[str, str]
    members: list[GlobalStack] = field(default_factory=list)
    accounts: dict[str, dict[str, str]] = field(default_factory=dict)

    def tags(self, estate: str) -> dict[str, str]:
        found = {
            "relight:stack": self.name,
            STACKSET_TAG: self.name,
            "relight:estate": estate,
            "relight:purpose": GLOBAL_PURPOSE,
            "relight:prepared": "global",
        }
        found.update({f"{SERVES_TAG}{m.name}": m.env for m in self.members})
        return found

    def admits(self, stack: GlobalStack, permissions: str) -> bool:
        """The stack can be one of this StackSet's: its account has no instance yet (or one
        with the same parameters, which serves it too), and there is room for its tag."""
        if len(self.members) >= MAX_MEMBERS or stack.parameters is None:
            return False
        overrides = _overrides(self.parameters, stack.parameters)
        if permissions != SELF_MANAGED and overrides:
            return False
        current = self.accounts.get(stack.account_id)
        return current is None or current == overrides

    def add(self, stack: GlobalStack) -> None:
        assert stack.parameters is not None
        self.members.append(stack)
        self.accounts[stack.account_id] = _overrides(self.parameters, stack.parameters)


def _overrides(base: Mapping[str, str], own: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in own.items() if base.get(k) != v}


@dataclass
class Placement:
    stacksets: list[SetPlan] = field(default_factory=list)
    own: list[tuple[GlobalStack, str]] = field(default_factory=list)  # relight's prepare, why

    def lines(self, region: str, administrator: str) -> list[str]:
        """Which stacks went where, and why: for the operator."""
        found = []
        for s in self.stacksets:
            shared = f", shared by {len(s.members)} environments" if len(s.members) > 1 else ""
            found.append(
                f"StackSet {s.name} (administered in {region} by account {administrator}{shared}): "
                + ", ".join(
                    f"{m.env}/{m.key} in {m.account} ({m.account_id})"
                    + (" with its own parameters" if s.accounts[m.account_id] else "")
                    for m in s.members
                )
            )
        for stack, why in self.own:
            found.append(f"relight's prepare: {stack.env}/{stack.key} ({stack.name}): {why}")
        return found


def global_stacks(
    plans: Mapping[str, Plan], accounts: Mapping[str, tuple[str, str]]
) -> list[GlobalStack]:
    """Every environment's `stands: global` stacks, in the order of `plans` (the estate's).
    `accounts`: environment → (account key, account id)."""
    found = []
    for env, plan in plans.items():
        for key, sp in plan.stacks.items():
            if plan.loaded.env.stacks[key].stands != "global":
                continue
            literal = literal_parameters(sp.parameters)
            refs = tuple(sorted(set(sp.parameters) - set(literal)))
            found.append(
                GlobalStack(
                    env=env,
                    key=key,
                    name=sp.name,
                    account=accounts[env][0],
                    account_id=accounts[env][1],
                    body=sp.body,
                    parameters=None if refs else literal,
                    not_literal=refs,
                )
            )
    return found


def place(
    stacks: list[GlobalStack], permissions: str = SELF_MANAGED, management: str | None = None
) -> Placement:
    """One StackSet per distinct template (split where an account would need a second
    instance with other parameters), the rest through relight's prepare, each with its why.
    `management`: the organization's management account (service-managed)."""
    placement = Placement()
    by_body: dict[str, list[SetPlan]] = {}
    for stack in stacks:
        if permissions != SELF_MANAGED and management and stack.account_id == management:
            placement.own.append(
                (
                    stack,
                    f"its account {stack.account_id} is the organization's management account, "
                    "where a service-managed StackSet deploys no stack instance",
                )
            )
            continue
        if stack.parameters is None:
            placement.own.append(
                (
                    stack,
                    f"its parameters {', '.join(stack.not_literal)} are read at prepare time "
                    "(outputs, artifacts, zones or secrets); a StackSet takes literal values",
                )
            )
            continue
        if len(stack.body.encode()) > MAX_INLINE_BODY:
            placement.own.append(
                (
                    stack,
                    f"its template is over {MAX_INLINE_BODY:,} bytes; relight's prepare uploads "
                    "it to the environment's bucket",
                )
            )
            continue
        # the body as the StackSet deploys it (it names no stack: roles are passed by IAM path)
        canonical = json.dumps(json.loads(stack.body), sort_keys=True)
        candidates = by_body.setdefault(canonical, [])
        target = next((s for s in candidates if s.admits(stack, permissions)), None)
        if target is None:
            if candidates and permissions != SELF_MANAGED:
                placement.own.append(
                    (
                        stack,
                        f"its parameters differ from StackSet {candidates[0].name}'s, and a "
                        "service-managed StackSet's instances are made per organizational unit",
                    )
                )
                continue
            target = SetPlan(name=stack.name, body=stack.body, parameters=dict(stack.parameters))
            candidates.append(target)
            placement.stacksets.append(target)
        target.add(stack)
    return placement
