"""`relight estate prepare`: before any disaster, stand up what every environment of the
estate needs in the recovery region.

1. Each environment's prepare plan is rendered (no AWS call); placement.py decides which of
   its `stands: global` stacks go through CloudFormation StackSets (one per distinct
   template, administered in the recovery region by the estate's administrator account) and
   which through relight's own prepare, and says why.
2. What StackSets needs first: self-managed, the administration and execution roles (made as
   relight stacks where missing, checked where they stand); service-managed, trusted access
   with AWS Organizations (checked, explained).
3. Each StackSet is made or brought up to date, with one stack instance per account
   (aws/stacksets.py): operation preferences from the estate file, each operation waited for,
   OperationInProgressException waited out.
4. Each environment's other standing stacks (its rung) through relight's own prepare
   (`commands.failover.prepare`), in the estate's order, through its account's role; its
   global stack, where a StackSet made it, is read from the StackSet's stack, not deployed
   again (dr/prepared.py, `left_to_stacksets`).

Nothing runs before every plan rendered and every account answered as the estate says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from relight import standin
from relight.aws.clients import Aws, AwsTarget, check_account
from relight.aws.cloudformation import Stacks
from relight.aws.stackset_roles import (
    ADMINISTRATION_STACK,
    EXECUTION_STACK,
    RoleNeed,
    administration_template,
    check_organizations,
    ensure_role,
    execution_template,
    organization,
)
from relight.aws.stacksets import (
    SELF_MANAGED,
    SERVICE_MANAGED,
    StackSetResult,
    StackSets,
    StackSetSpec,
    administration_role_arn,
    preferences,
)
from relight.commands.connection import Connection, Declined, connect_stacks
from relight.commands.failover import FailoverResult
from relight.commands.failover import prepare as prepare_env
from relight.estate.placement import Placement, global_stacks, place
from relight.estate.run import EstateRun, Work, run_estate
from relight.model.estate import LoadedEstate
from relight.model.plan import Plan
from relight.steps.render import build_plan

COMMAND = "estate prepare"
Connect = Callable[..., Connection]  # connect_env's signature


@dataclass
class EnvPrepared:
    name: str
    ok: bool
    line: str
    result: FailoverResult | None = None
    error: str | None = None


@dataclass
class EstatePrepared:
    estate: str
    region: str
    placement: Placement
    lines: list[str] = field(default_factory=list)  # which stacks went where, and why
    roles: list[str] = field(default_factory=list)  # what StackSets needs, made or checked
    stacksets: list[StackSetResult] = field(default_factory=list)
    envs: dict[str, EnvPrepared] = field(default_factory=dict)
    seconds: float = 0.0
    run: EstateRun | None = None  # the environments' prepares (estate/run.py)

    @property
    def ok(self) -> bool:
        return all(e.ok for e in self.envs.values())

    def continue_command(self) -> str | None:
        return self.run.continue_command() if self.run is not None else None


def plans_for(estate: LoadedEstate, region: str, strategy: str | None) -> dict[str, Plan]:
    """Every environment's prepare plan, in the estate's order (no AWS call)."""
    return {
        name: build_plan(
            estate.envs[name],
            region,
            phase="prepare",
            strategy=strategy,
            stand_in=estate.file.stand_in,
        )
        for name in estate.order()
    }


def placement_for(
    estate: LoadedEstate, plans: dict[str, Plan], management: str | None = None
) -> Placement:
    """Where each global stack goes. `management`: the organization's management account
    (service-managed); CallAs SELF makes it the administrator (stackset_roles checks that)."""
    accounts = {
        name: (estate.file.environments[name].account, estate.access(name).id) for name in plans
    }
    permissions = _permissions(estate)
    if management is None and permissions == SERVICE_MANAGED and _call_as(estate) == "SELF":
        management = estate.file.accounts[estate.file.administrator].id
    return place(global_stacks(plans, accounts), permissions, management)


def _call_as(estate: LoadedEstate) -> Literal["SELF", "DELEGATED_ADMIN"]:
    return estate.file.stacksets.call_as


def _permissions(estate: LoadedEstate) -> str:
    return (
        SERVICE_MANAGED if estate.file.stacksets.permissions == "service_managed" else SELF_MANAGED
    )


def administrator(
    estate: LoadedEstate, region: str, *, state_dir: Path | None = None, command: str = COMMAND
) -> Aws:
    """The administrator account, through its role (with its external id), checked."""
    key = estate.file.administrator
    access = estate.file.accounts[key]
    if estate.file.stand_in:
        running = standin.ensure_running(state_dir or standin.state_dir())
        base = AwsTarget(endpoint_url=running.endpoint, stand_in=True, max_attempts=3)
    else:
        base = AwsTarget()
    target = replace(
        base,
        role_arn=access.role,
        external_id=access.external_id,
        sts_region=region,
        command=command,
    )
    aws = Aws(target)
    check_account(aws, region, access.id, str(estate.path), f"accounts.{key}.id")
    return aws


def _role_needs(estate: LoadedEstate, placement: Placement) -> list[RoleNeed]:
    settings = estate.file.stacksets
    admin_id = estate.file.accounts[estate.file.administrator].id
    admin_arn = administration_role_arn(admin_id, settings.administration_role)
    admin_name = admin_arn.rsplit("/", 1)[-1]
    needs = [
        RoleNeed(
            account=admin_id,
            role_name=admin_name,
            trusted="cloudformation.amazonaws.com",
            stack_name=ADMINISTRATION_STACK,
            body=administration_template(admin_name, settings.execution_role_name),
        )
    ]
    targets = sorted({a for s in placement.stacksets for a in s.accounts})
    needs += [
        RoleNeed(
            account=account,
            role_name=settings.execution_role_name,
            trusted=admin_id,
            stack_name=EXECUTION_STACK,
            body=execution_template(settings.execution_role_name, admin_id),
        )
        for account in targets
    ]
    return needs


def _account_aws(estate: LoadedEstate, admin: Aws, account_id: str, region: str) -> Aws:
    """An Aws in `account_id` through the estate's role for it."""
    access = next(a for a in estate.file.accounts.values() if a.id == account_id)
    if access.role == admin.target.role_arn:
        return admin
    target = replace(
        admin.target, role_arn=access.role, external_id=access.external_id, sts_region=region
    )
    return Aws(target)


def prepare_permissions(
    estate: LoadedEstate,
    placement: Placement,
    admin: Aws,
    region: str,
    *,
    say: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """What StackSets needs before its first operation: the two roles (self-managed), or
    Organizations' trusted access (service-managed)."""
    if not placement.stacksets:
        return []
    if _permissions(estate) == SERVICE_MANAGED:
        admin_id = estate.file.accounts[estate.file.administrator].id
        return check_organizations(
            admin.client("organizations", "us-east-1"), admin_id, _call_as(estate)
        )
    lines = []
    for need in _role_needs(estate, placement):
        aws = _account_aws(estate, admin, need.account, region)
        stacks = Stacks(aws.client("cloudformation", region))
        lines.append(ensure_role(aws.client("iam", region), stacks, need, say=say))
    return lines


def stackset_specs(estate: LoadedEstate, placement: Placement, region: str) -> list[StackSetSpec]:
    settings = estate.file.stacksets
    admin_id = estate.file.accounts[estate.file.administrator].id
    prefs = preferences(
        max_concurrent_accounts=settings.max_concurrent_accounts,
        max_concurrent_percentage=settings.max_concurrent_percentage,
        failure_tolerance_count=settings.failure_tolerance_count,
        failure_tolerance_percentage=settings.failure_tolerance_percentage,
        region_concurrency=settings.region_concurrency,
        concurrency_mode=settings.concurrency_mode,
    )
    self_managed = _permissions(estate) == SELF_MANAGED
    return [
        StackSetSpec(
            name=s.name,
            body=s.body,
            parameters=s.parameters,
            tags=s.tags(estate.file.name),
            regions=(region,),
            accounts=s.accounts,
            permissions=SELF_MANAGED if self_managed else SERVICE_MANAGED,
            administration_role=administration_role_arn(admin_id, settings.administration_role)
            if self_managed
            else None,
            execution_role_name=settings.execution_role_name if self_managed else None,
            organizational_units=tuple(settings.organizational_units),
            auto_deployment=settings.auto_deployment,
            preferences=prefs,
            description=f"relight estate {estate.file.name}: the stands: global stack "
            + ", ".join(f"{m.env}/{m.key}" for m in s.members),
        )
        for s in placement.stacksets
    ]


def prepare_estate(
    estate: LoadedEstate,
    region: str,
    *,
    strategy: str | None = None,
    only: list[str] | None = None,
    connect: Connect | None = None,
    ref: str | None = None,
    admin: Aws | None = None,
    say: Callable[[str], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    poll: float = 2.0,
    state_dir: Path | None = None,
    env_options: dict[str, Any] | None = None,
    confirm: Callable[[EstatePrepared], bool] | None = None,
) -> EstatePrepared:
    """Prepare every environment of the estate (or `only` those) in `region`: the global
    stacks through StackSets, the rest through relight's prepare (module docstring).
    `confirm` is shown where each stack goes, once for the whole estate, before anything
    changes; a "no" stops there (Declined, nothing changed)."""
    started = clock()
    plans = plans_for(estate, region, strategy)
    management = None
    if _permissions(estate) == SERVICE_MANAGED and _call_as(estate) == "DELEGATED_ADMIN":
        admin = admin or administrator(estate, region, state_dir=state_dir)
        admin_id = estate.file.accounts[estate.file.administrator].id
        org = organization(admin.client("organizations", "us-east-1"), admin_id)
        management = org.get("MasterAccountId")
    placement = placement_for(estate, plans, management)
    result = EstatePrepared(estate.file.name, region, placement)
    result.lines = placement.lines(region, estate.file.administrator)
    for line in result.lines:
        say(line)
    if confirm is not None and not confirm(result):
        raise Declined("not confirmed; nothing was changed")
    if placement.stacksets:
        admin = admin or administrator(estate, region, state_dir=state_dir)
        sets = StackSets(
            admin.client("cloudformation", region), region, clock=clock, sleep=sleep, poll=poll,
            on_progress=say, call_as=_call_as(estate),
        )  # fmt: skip
        specs = stackset_specs(estate, placement, region)
        for spec in specs:  # another estate's StackSet of the same name: refused, none changed
            sets.check_owned(spec)
        result.roles = prepare_permissions(estate, placement, admin, region, say=say)
        for spec in specs:
            done = sets.ensure(spec)
            result.stacksets.append(done)
            say(done.line())
    ran = run_estate(
        estate, region, prepare_work(plans, say, env_options or {}, _members(placement)),
        command="prepare",
        only=only, connect=connect, on_progress=say, verified=lambda _: True, ref=ref,
        clock=clock,
    )  # fmt: skip
    result.run = ran
    for name, outcome in ran.outcomes.items():
        if only is not None and name not in only:
            continue  # not asked for: neither prepared nor failed
        ok = outcome.state == "verified"
        result.envs[name] = EnvPrepared(name, ok, outcome.line, outcome.result, outcome.error)
    result.seconds = clock() - started
    return result


def _members(placement: Placement) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for s in placement.stacksets:
        for m in s.members:
            found.setdefault(m.env, []).append(m.name)
    return found


def prepare_work(
    plans: dict[str, Plan],
    say: Callable[[str], None],
    options: dict[str, Any],
    by_stacksets: dict[str, list[str]] | None = None,
) -> Work:
    """The Work that prepares one environment (relight's prepare of its standing stacks; its
    global stack, where a StackSet made it, read instead). `by_stacksets`: environment → the
    names of its stacks a StackSet stands for; relight's own stack of such a name, made before
    (a single-environment prepare, or the stand-in's story), is what a failover reads while
    it stands: said, never deleted."""

    def work(name: str, conn: Connection) -> tuple[bool, str, Any]:
        stacks = connect_stacks(conn)
        for own in (by_stacksets or {}).get(name, []):
            if stacks.state(own) is not None:
                say(
                    f"[{name}] relight's own stack {own} stands in {conn.region} too: failovers "
                    "read it, not the StackSet's; delete it once nothing uses its roles (aws "
                    f"cloudformation delete-stack --stack-name {own}) to read the StackSet's"
                )
        done = prepare_env(plans[name], conn, **options)
        results = done.outcome.results.values()
        made = sorted(f"{r.name} {r.action}" for r in results)
        line = ("prepared: " if done.ok else "failed: ") + (", ".join(made) or "nothing to deploy")
        if not done.ok:
            line += "; " + "; ".join(f"{r.name}: {r.reason}" for r in done.outcome.failed())
        for note in done.notes:
            if "made by a StackSet" in note:
                say(f"[{name}] {note}")
        return done.ok, line, done

    return work
