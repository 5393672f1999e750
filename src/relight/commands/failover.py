"""`relight failover`, `launch`, `prepare` and `plan`: the data flow, step by step.

The CLI loads the file (`model.config.load_environment`), renders and lints the plan
(`steps.render.build_plan`, `lint_plan`) and connects (`commands.connection.connect`); then

    failover: discover (commands.discover) → preflight (steps.preflight, and the replicas a
    replica-mode failover promotes: steps.replica.preflight) → promote them
    (steps.replica.promote) → deploy (steps.deploy) → verify (steps.verify) → the failback
    latch (latch_failback, below)

and the CLI prints the result (`commands.summary`). `plan` stops before the deploy with
what it would change (`plan_changes`, `steps.preview`).

Each function takes what it needs (the plan, a connection, a clock) and returns a result
object; the CLI only prints it. A verified failover then sets the failback latch its stacks
carry.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from relight.aws.cloudformation import Event
from relight.aws.lock import LockSettings, hold
from relight.aws.serving import FAILING_OVER, SERVING
from relight.commands.connection import (
    Connection,
    Declined,
    connect_stacks,
    lock_ref,
    new_run_id,
    plan_command,
    prepare_command,
)
from relight.commands.discover import discover_environment
from relight.commands.serving_region import (
    already_serving,
    keep_launches,
    mark_region_serving,
    refuse_serving_region,
    region_serves,
)
from relight.dr.prepared import read_prepared
from relight.dr.replica_sources import (
    check_sources,
    ensure_global_clusters,
    refuse_replacing_replicas,
)
from relight.errors import PreflightError, RelightError
from relight.model import data_modes
from relight.model.plan import Plan
from relight.model.scheduler import DEFAULT_CONCURRENCY
from relight.steps.deploy import Outcome, deploy
from relight.steps.discovery import Artifact, Discovery
from relight.steps.preflight import run_preflight
from relight.steps.preflight.kept import KeptCopy, kept_copies, kept_problems
from relight.steps.preview import PlannedStack, preview
from relight.steps.replica.preflight import check_replicas
from relight.steps.replica.promote import Promotion, promote_replicas
from relight.steps.stackset_stacks import left_to_stacksets
from relight.steps.verify import DEADLINE_SECONDS, Check, verify


@dataclass
class FailoverResult:
    run_id: str
    plan: Plan
    conn: Connection
    discovery: Discovery
    outcome: Outcome
    checks: list[Check] = field(default_factory=list)
    stale: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    events: list[tuple[str, datetime]] = field(default_factory=list)  # the lifecycle, in order
    kept: list[KeptCopy] = field(default_factory=list)  # snapshots existing stacks keep, aged
    promotions: list[Promotion] = field(default_factory=list)  # replica-mode databases promoted

    @property
    def ok(self) -> bool:
        return self.outcome.ok and not any(c.result == "failed" for c in self.checks)


Confirm = Callable[[list[PlannedStack]], bool]


def plan_changes(
    plan: Plan,
    conn: Connection,
    *,
    accept_stale: bool = False,
    replace_data: frozenset[str] = frozenset(),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[Discovery, list[PlannedStack], list[str]]:
    """`relight plan`: discovery, preflight, and each stack's action. Changes nothing."""
    stacks = connect_stacks(conn)
    discovery = discover_environment(plan, conn, now=now)
    checked = run_preflight(
        plan, conn.aws, discovery, stacks, accept_stale=accept_stale, account_id=conn.account_id
    )
    replicas = check_promotable(plan, conn, stacks, accept_stale)
    ready = read_prepared(stacks, plan, prepare_command(plan, conn.region))
    kept = check_kept(plan, conn, stacks, discovery, replace_data, accept_stale)
    planned = preview(stacks, plan, discovery, replace_data=replace_data, ready=ready.outputs)
    by_parameter = {(k.stack, k.parameter): k for k in kept}
    for row in planned:
        for param in row.parameters:
            found = by_parameter.get((row.key, param.name))
            if found is not None:
                param.age_seconds = found.age_seconds  # the kept snapshot's, not the newest's
    return discovery, planned, checked.notes + replicas + ready.notes


def replica_keys(plan: Plan) -> list[str]:
    """The database stacks this run promotes: replica mode, in a production failover."""
    if plan.phase != "failover" or plan.namespace is not None:
        return []
    return data_modes.replica_keys(plan)


def check_promotable(plan: Plan, conn: Connection, stacks: Any, accept_stale: bool) -> list[str]:
    """Preflight of the replicas a replica-mode failover promotes (steps/replica/preflight.py):
    PreflightError (exit 2, nothing changed) when one is missing; its notes otherwise."""
    keys = replica_keys(plan)
    if not keys:
        return []
    try:
        marker = region_serves(conn, plan)
    except RelightError:
        marker = None  # unreadable: a database found promoted is then refused, with the way on
    return check_replicas(
        plan,
        conn.aws_for,
        conn.region,
        stacks,
        keys,
        failover_began=marker is not None,
        accept_stale=accept_stale,
        prepare=prepare_command(plan, conn.region),
    ).notes


def _production(plan: Plan, conn: Connection) -> bool:
    """Production failing over into a recovery region (not a test copy, a drill, or a
    failover beside production in its home region): it will serve from there."""
    return (
        plan.purpose == "failover"
        and plan.phase == "failover"
        and conn.region != plan.loaded.env.home_region
    )


def check_kept(
    plan: Plan,
    conn: Connection,
    stacks: Any,
    discovery: Discovery,
    replace_data: frozenset[str],
    accept_stale: bool,
) -> list[KeptCopy]:
    """The snapshots existing stacks keep (steps/preflight/kept.py), with their ages; a run
    stops (PreflightError, exit 2) on one older than the RPO, unless a verified failover
    made the region serve (then what the stack holds is live data, written since; a marker
    that cannot be read counts so too: the failover goes on, as it does on that marker)."""
    if plan.phase != "failover":
        return []
    existing = {s["StackName"]: s for s in stacks.list_stacks()}
    refuse_replacing_replicas(plan, existing, replace_data)  # --data snapshot over a replica
    kept = kept_copies(plan, conn.aws, existing, discovery, replace_data)
    if not kept:
        return kept
    try:
        marker = region_serves(conn, plan) if _production(plan, conn) else None
    except RelightError:
        return kept
    if marker is not None and marker.state == SERVING:
        return kept
    problems = kept_problems(kept, plan.loaded.env.objectives.rpo, accept_stale)
    if problems:
        raise PreflightError(
            problems,
            hint="nothing was changed; see docs/commands.md#data-is-never-replaced-by-a-rerun",
        )
    return kept


def check_replace_data(plan: Plan, names: list[str]) -> frozenset[str]:
    """`--replace-data` names stacks of the plan that hold data (or are fed a snapshot a rerun
    would keep); anything else is refused."""
    from relight.errors import InputError

    holding = [
        key for key, sp in plan.stacks.items() if sp.stateful_resources or sp.stateful_parameters
    ]
    unknown = [name for name in names if name not in holding]
    if unknown:
        raise InputError(
            f"--replace-data {', '.join(unknown)}: not a stack of {plan.env_name} that holds "
            f"data; stacks that do: {', '.join(holding) or '(none)'}",
            hint="name the stack as the environment file does (its key under stacks:)",
        )
    return frozenset(names)


def failover(
    plan: Plan,
    conn: Connection,
    *,
    accept_stale: bool = False,
    stack_timeout: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    confirm: Confirm | None = None,
    on_event: Event | None = None,
    events: bool = False,
    verify_after: bool = True,
    replace_data: frozenset[str] = frozenset(),
    verify_deadline: float = DEADLINE_SECONDS,
    on_progress: Callable[[str], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    clock: Callable[[], float] = time.monotonic,
    lock: LockSettings | None = None,
    before_change: Callable[[], object] | None = None,
    bring: Mapping[str, Artifact] | None = None,
    unused: frozenset[str] = frozenset(),
    after_take: Callable[[], list[str]] | None = None,
) -> FailoverResult:
    """Discover, preflight, plan, (confirm), deploy. The plan was rendered already, and linted
    already unless `before_change` finishes that: it is called after preflight, before the plan
    is computed, shown or deployed (the CLI joins the lint it ran meanwhile there; whatever it
    raises stops the run before any stack is created or changed).

    Also builds test environments (`relight launch`): the plan's purpose and namespace decide.
    With `confirm`, the plan is computed exactly (change sets) and shown to it first; a "no"
    stops before anything changes. The run holds the lock of the environment, region and
    namespace throughout (`lock` says how); `LockHeld` when another run holds it.
    `bring`: artifacts chosen already (a failback's copies home), in place of discovery's.
    `unused`: artifacts no stack of the plan takes (a failback's replica-mode databases, made
    replicas instead of restored): left out of discovery's results and preflight.
    A lock that waited for relight's bucket is taken only at the first change
    (`RunLock.take`): `before_change` is then called again, under it. `after_take`: what
    must exist before the deploy (prepare's Auto Scaling role and grants), made once the run
    is checked, confirmed and holds the lock; its notes join the result's.
    """
    started = clock()
    lifecycle = [("started", now())]
    run_id = new_run_id(now())
    settings = lock or LockSettings()
    command = settings.command or plan_command(plan, conn.region)
    ref = lock_ref(plan.loaded, conn, plan.namespace)
    with hold(ref, run_id, command, settings, defer_bucket=True) as held:
        stacks = connect_stacks(
            conn, on_event=on_event, events=events, timeout=stack_timeout, clock=clock
        )
        discovery = discover_environment(plan, conn, now=now)
        for name, artifact in (bring or {}).items():
            discovery.artifacts[name] = artifact
            discovery.missing.pop(name, None)
        for name in unused:
            discovery.artifacts.pop(name, None)
            discovery.missing.pop(name, None)
        checked = run_preflight(
            plan, conn.aws, discovery, stacks, accept_stale=accept_stale, account_id=conn.account_id
        )
        replicas = check_promotable(plan, conn, stacks, accept_stale)
        ready = read_prepared(stacks, plan, prepare_command(plan, conn.region))
        plan = ready.located(plan)  # a StackSet's stacks under their own names
        production = _production(plan, conn)
        serving, unread = already_serving(conn, plan) if production else (False, [])
        kept = check_kept(plan, conn, stacks, discovery, replace_data, accept_stale)
        if serving:
            plan = keep_launches(plan)  # a rerun while serving: the fleet does not roll
        if before_change is not None:
            before_change()
        planned = (
            preview(stacks, plan, discovery, replace_data=replace_data, ready=ready.outputs)
            if confirm
            else []
        )
        if confirm is not None and not confirm(planned):
            raise Declined("not confirmed; nothing was changed")
        waited = held.waiting
        held.take(configure=plan.phase == "prepare")  # checked and confirmed: changes begin
        if waited and before_change is not None:
            before_change()  # checked before without a lock: again, now that it is held
        made = after_take() if after_take is not None else []
        marked = mark_region_serving(conn, plan, run_id, now(), FAILING_OVER) if production else []
        lifecycle.append(
            ("first change (marked failing over)" if production else "first change", now())
        )
        promotions = (
            promote_replicas(conn, plan, ready.outputs, keys=replica_keys(plan), clock=clock,
                             on_progress=on_progress)
            if production
            else []
        )  # fmt: skip
        for promoted in promotions:
            lifecycle.append((f"promoted {promoted.key} ({promoted.seconds:.0f} s)", now()))
        outcome = deploy(
            stacks,
            plan,
            discovery,
            run_id=run_id,
            concurrency=concurrency,
            replace_data=replace_data,
            still_held=held.ensure_held,
            ready=ready.outputs,
            autoscaling=conn.aws.client("autoscaling", conn.region),
        )
        lifecycle.append(("deployed" if outcome.ok else "deploy failed", now()))
        checks = (
            verify(
                conn.aws,
                plan,
                discovery,
                outcome,
                stand_in=conn.stand_in is not None,
                deadline_seconds=verify_deadline,
                on_progress=on_progress,
                promoted=[p.key for p in promotions],
            )
            if outcome.ok and verify_after
            else []
        )
        result = FailoverResult(
            run_id=run_id,
            plan=plan,
            conn=conn,
            discovery=discovery,
            outcome=outcome,
            checks=checks,
            stale=checked.accepted_stale,
            notes=held.notes
            + checked.notes
            + replicas
            + ready.notes
            + unread
            + marked
            + made
            + [p.line() for p in promotions]
            + outcome.notes,
            events=lifecycle,
            kept=kept,
            promotions=promotions,
        )
        if checks:
            lifecycle.append(("verified" if result.ok else "verification failed", now()))
        if result.ok and production:
            result.notes += latch_failback(conn, plan, outcome, ready.outputs)
            result.notes += mark_region_serving(conn, plan, run_id, now(), SERVING)
            lifecycle.append((f"{conn.region} marked serving", now()))
    result.seconds = clock() - started
    return result


# The failback guard (blueprints/dns.py): a CloudWatch metric in the recovery region whose
# alarm, once it saw 1, keeps the home region's PRIMARY record unhealthy (TreatMissingData
# ignore keeps an alarm's state while no data comes). Publishing it is a data-plane call in
# the region the failover runs in.
LATCH_OUTPUT = "FailbackLatchAlarm"
LATCH_NAMESPACE, LATCH_METRIC = "Relight", "FailedOver"


def latch_failback(
    conn: Connection, plan: Plan, outcome: Outcome, ready: dict[str, dict[str, str]]
) -> list[str]:
    """After a verified failover: set every failback latch the environment's stacks carry,
    so Route 53 does not send traffic back to the home region by itself when it answers
    again (with writes made here since stranded). Notes, never a failure: the failover is
    done either way."""
    from botocore.exceptions import BotoCoreError, ClientError

    names = {
        k: plan.stacks[k].name for k, r in outcome.results.items() if LATCH_OUTPUT in r.outputs
    }
    names |= {k: plan.prepared[k].name for k, out in ready.items() if LATCH_OUTPUT in out}
    notes = []
    for key, name in sorted(names.items()):
        try:
            put_latch(conn, name, 1.0)
        except (ClientError, BotoCoreError, RelightError) as exc:
            notes.append(
                f"the failback latch of {name} (stacks.{key}) could not be set: {exc}; Route 53 "
                "will send traffic back to the home region as soon as it answers again: set it "
                f"with {latch_command(conn.region, name, 1)}"
            )
            continue
        notes.append(
            f"failback latched ({name}): traffic stays in {conn.region} even when the home "
            "region answers again; failing back is a deliberate step (relight failback)"
        )
    return notes


def put_latch(conn: Connection, stack_name: str, value: float) -> None:
    """Publish the latch metric of a SECONDARY stack: 1 holds traffic in the recovery region,
    0 lets the home region have it back (a CloudWatch data-plane call there), in the account
    the stack was made in (its role_arn's, aws/accounts.py)."""
    conn.aws_for(stack_name).client("cloudwatch", conn.region).put_metric_data(
        Namespace=LATCH_NAMESPACE,
        MetricData=[
            {
                "MetricName": LATCH_METRIC,
                "Dimensions": [{"Name": "Stack", "Value": stack_name}],
                "Value": value,
            }
        ],
    )


def latch_command(region: str, stack_name: str, value: int) -> str:
    """The aws command that does what `put_latch` does, for a message."""
    return (
        f"aws cloudwatch put-metric-data --region {region} --namespace {LATCH_NAMESPACE} "
        f"--metric-name {LATCH_METRIC} --dimensions Stack={stack_name} --value {value}"
    )


def prepare(plan: Plan, conn: Connection, **options: Any) -> FailoverResult:
    """`relight prepare`: before any disaster, while every region is healthy, deploy what a
    failover at the plan's strategy must find ready in the region (the `stands:` stacks
    of its rung), and make relight's bucket there fully configured. Takes `failover`'s
    options; nothing is verified (no traffic reaches a standby yet). Refused in a region
    that serves the environment (`refuse_serving_region`). The bucket is made and configured
    once the run is checked and confirmed (`RunLock.take`): a refused prepare makes nothing.
    Auto Scaling's service-linked role and its grants on the customer managed keys are made
    then too, before the deploy launches any group (preflight counts the keys prepare grants
    as granted)."""
    if plan.phase != "prepare":
        raise ValueError("prepare takes a plan built with phase='prepare'")
    refuse_serving_region(plan, conn)
    plan, by_stacksets, _ = left_to_stacksets(plan, connect_stacks(conn))  # estate prepare's
    given = options.pop("before_change", None)

    def before_change() -> None:  # again under the lock: a failover may have run meanwhile
        refuse_serving_region(plan, conn)
        check_sources(plan, conn.aws)  # replicas: their home sources replicate (read-only)
        if given is not None:
            given()

    def after_take() -> list[str]:  # before the deploy: Aurora's global database at home
        return ensure_global_clusters(plan, conn.aws) + _prepare_autoscaling(plan, conn)

    result = failover(
        plan,
        conn,
        verify_after=False,
        before_change=before_change,
        after_take=after_take,
        **options,
    )
    result.notes[:0] = by_stacksets
    return result


def _prepare_autoscaling(plan: Plan, conn: Connection) -> list[str]:
    """Auto Scaling's role and grants, made while IAM is up (dr/autoscaling_role.py). When
    IAM or KMS refuses, a note, unless a group this prepare stands up launches with a key
    that needs the grant: then the run stops before its deploy (exit 1, with the fix)."""
    from relight.dr.autoscaling_role import prepare_autoscaling
    from relight.steps.preflight.autoscaling import autoscaling_stacks, prepared_keys

    try:
        return prepare_autoscaling(plan, conn.aws, conn.account_id, lambda: datetime.now(UTC))
    except RelightError as exc:
        if autoscaling_stacks(plan) and prepared_keys(plan):
            raise  # a group this prepare stands up would launch without its grant: stop here
        return [f"{exc.message}; {exc.hint}" if exc.hint else exc.message]
