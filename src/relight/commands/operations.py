"""One engine function per CLI command: the data flow of DESIGN.md, step by step.

    config.load_environment → render.build_plan (+ lint_plan) → connect → discovery.discover
    → preflight → deploy.deploy → summary

Each function takes what it needs (the loaded environment, a connection, a
clock) and returns a result object; `cli.py` only prints it.

Every mutating run (failover, launch, teardown, replicate, and drill in drill.py) holds the
lock of its environment, region and namespace (lock.py) from just after the account check
(done by `connect`) until it ends: a second run refuses at once with `LockHeld`.
"""

from __future__ import annotations

import contextlib
import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relight import standin
from relight.aws.clients import Aws, AwsTarget, check_account
from relight.aws.cloudformation import Event, Stacks, quiet
from relight.aws.lock import (
    REPLICATION,
    Holder,
    LockRef,
    LockSettings,
    break_lock,
    hold,
    read_lock,
)
from relight.dr.prepared import read_prepared
from relight.errors import InputError, RelightError
from relight.model.config import LoadedEnvironment
from relight.model.graph import dependency_graph
from relight.model.plan import Plan
from relight.model.scheduler import DEFAULT_CONCURRENCY
from relight.model.shapes import tag_dict
from relight.model.times import human_age
from relight.standin.faults import send_environment_faults as send_faults
from relight.steps.deploy import Outcome, deploy
from relight.steps.discovery import Artifact, Discovery, discover
from relight.steps.preflight import run_preflight
from relight.steps.preview import PlannedStack, preview
from relight.steps.teardown import TeardownResult, environment_stacks
from relight.steps.teardown import teardown as delete_stacks
from relight.steps.verify import DEADLINE_SECONDS, Check, verify

STAND_IN_STACK_TIMEOUT = 120.0  # the stand-in creates stacks in well under a second
AWS_STACK_TIMEOUT = 3600.0


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class Connection:
    aws: Aws
    region: str
    account_id: str
    stand_in: standin.StandIn | None = None

    def describe(self) -> str:
        return f"{self.aws.target.describe()}, account {self.account_id}, region {self.region}"


def connect(
    loaded: LoadedEnvironment,
    region: str,
    *,
    use_stand_in: bool | None = None,
    profile: str | None = None,
    role_arn: str | None = None,
    source_side: bool = False,
    state_dir: Path | None = None,
    announce: Callable[[Connection], None] = lambda _: None,
    say: Callable[[str], None] = lambda _: None,
) -> Connection:
    """Reach AWS or the stand-in (never one in place of the other) and check the account.

    On AWS, `role_arn` (or the environment's) is the role relight assumes to act in the
    recovery account; those credentials must be in `recovery_account_id` when that is set,
    else in `account_id`. `source_side` (replicate's reading of the sources) uses the plain
    credentials, checked against `account_id`. `announce` is told where relight acts as soon
    as that is known, before anything else happens there; `say` receives progress lines.
    The file's `stand_in_faults` go to the stand-in, after its story (standin/faults.py); on
    AWS they are ignored, with a note.
    """
    on_stand_in = loaded.env.stand_in if use_stand_in is None else use_stand_in
    if on_stand_in:
        if profile or role_arn:
            raise InputError(
                "--profile and --role-arn do not apply to the local stand-in",
                hint="pass --aws to act on real AWS instead",
            )
        running = standin.ensure_running(state_dir or standin.state_dir())
        aws = Aws(AwsTarget(endpoint_url=running.endpoint, stand_in=True, max_attempts=3))
        account = check_account(aws, region, loaded.env.account_id, str(loaded.path))
        conn = Connection(aws, region, account, running)
        announce(conn)
        from relight.standin.story import ensure_story

        # its own Aws: the story's calls (the simulated production) are not this run's
        ensure_story(Aws(aws.target), loaded, run_id=new_run_id(), say=say)
        send_faults(loaded.env.name, loaded.env.stand_in_faults, running.endpoint, say)
        return conn
    role = None if source_side else role_arn or loaded.env.role_arn
    key, expected = "account_id", loaded.env.account_id
    if role and loaded.env.recovery_account_id:
        key, expected = "recovery_account_id", loaded.env.recovery_account_id
    aws = Aws(AwsTarget(profile=profile, role_arn=role, sts_region=region))
    account = check_account(aws, region, expected, str(loaded.path), key)
    conn = Connection(aws, region, account)
    announce(conn)
    send_faults(loaded.env.name, loaded.env.stand_in_faults, None, say)
    return conn


# the run lock ----------------------------------------------------------------------------------


def env_option(loaded: LoadedEnvironment) -> str:
    """What `--env` takes to name this environment again: its name when it is
    `stacks/<name>.yaml` under the current directory, else the file's path."""
    path = loaded.path
    try:
        shown = path.relative_to(Path.cwd())
    except ValueError:
        shown = path
    if shown == Path("stacks") / f"{path.stem}{path.suffix}":
        return path.stem
    return str(shown)


def lock_ref(
    loaded: LoadedEnvironment,
    conn: Connection,
    namespace: str | None = None,
    *,
    replication: bool = False,
) -> LockRef:
    """Where the lock of the environment's runs in the connection's region lives: the
    namespace's (None: the environment's own stacks), or replication's into that region."""
    scope = REPLICATION if replication else namespace
    return _lock_ref(loaded, conn.aws, conn.account_id, conn.region, scope)


def _lock_ref(
    loaded: LoadedEnvironment, aws: Aws, account: str, region: str, scope: str | None
) -> LockRef:
    return LockRef(
        aws.client("s3", region), account, region, loaded.env.name, scope, env_option(loaded)
    )


def run_command(command: str, loaded: LoadedEnvironment, *options: str | None) -> str:
    """The command line other runs are shown for this run: `relight <command> --env E`
    and the options that name what it changes (None left out)."""
    words = ["relight", command, "--env", env_option(loaded)]
    return shlex.join(words + [o for o in options if o is not None])


def lock_holder(
    loaded: LoadedEnvironment,
    conn: Connection,
    namespace: str | None = None,
    *,
    replication: bool = False,
) -> Holder | None:
    """Who holds the lock now, or None: read-only (a command can say so before it asks)."""
    found = read_lock(lock_ref(loaded, conn, namespace, replication=replication))
    return found[0] if found else None


def unlock(
    loaded: LoadedEnvironment,
    conn: Connection,
    namespace: str | None = None,
    *,
    replication: bool = False,
    expected: Holder | None = None,
) -> Holder | None:
    """`relight unlock --env E --region R [--as NAME]`: remove the lock (only `expected`'s,
    the holder the operator was shown, when given), for a run known to be dead that should
    not be waited for until its lease lapses. Returns the holder it removed, or None when
    nothing was locked."""
    ref = lock_ref(loaded, conn, namespace, replication=replication)
    return break_lock(ref, expected)


def connect_stacks(
    conn: Connection,
    *,
    on_event: Event | None = None,
    events: bool = False,
    timeout: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Stacks:
    """CloudFormation in the connection's region."""
    from relight.aws.bucket import TemplateBucket

    bucket = TemplateBucket(conn.aws.client("s3", conn.region), conn.region, conn.account_id)
    return Stacks(
        conn.aws.client("cloudformation", conn.region),
        clock=clock,
        timeout=timeout or (STAND_IN_STACK_TIMEOUT if conn.stand_in else AWS_STACK_TIMEOUT),
        template_url=bucket.url_for,
        on_event=on_event or quiet,
        events=events,
    )


# discover --------------------------------------------------------------------------------------


def discover_environment(plan: Plan, conn: Connection, *, now: Callable[[], datetime]) -> Discovery:
    """Discovery in the connection's region, choosing AZs that offer the plan's instance types."""
    from relight.steps.preflight import instance_types

    return discover(
        conn.aws,
        plan.loaded.env,
        conn.region,
        account_id=conn.account_id,
        now=now,
        instance_types=instance_types(plan),
    )


def artifact_rows(loaded: LoadedEnvironment, discovery: Discovery) -> list[dict[str, Any]]:
    """What `discover --json` prints: one object per artifact."""
    rpo = loaded.env.objectives.rpo
    rows = []
    for name, art in discovery.artifacts.items():
        age = art.age(discovery.at).total_seconds()
        rows.append(
            {
                "name": name,
                "kind": art.kind,
                "id": art.id,
                "arn": art.arn,  # an AWS Backup recovery point's, when `id` is its resource's
                "region": art.region,
                "created": art.created.isoformat(),
                "data_time": art.data_time.isoformat(),
                "age_seconds": int(age),
                "age": human_age(art.age(discovery.at)),
                "rpo_seconds": rpo,
                "rpo_ok": age <= rpo,
                "source_region": art.source_region,
                "source_id": art.source_id,
                "candidates": art.candidates,
                "used_by": sorted(
                    key for key, spec in loaded.env.stacks.items() if spec.uses_artifact(name)
                ),
            }
        )
    return rows


# failover --------------------------------------------------------------------------------------


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

    @property
    def ok(self) -> bool:
        return self.outcome.ok and not any(c.result == "failed" for c in self.checks)


Confirm = Callable[[list[PlannedStack]], bool]


class Declined(RelightError):
    """The operator said no at the confirmation: nothing was changed."""


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
    ready = read_prepared(stacks, plan, prepare_command(plan, conn.region))
    planned = preview(stacks, plan, discovery, replace_data=replace_data, ready=ready.outputs)
    return discovery, planned, checked.notes + ready.notes


def check_replace_data(plan: Plan, names: list[str]) -> frozenset[str]:
    """`--replace-data` names stacks of the plan that hold data; anything else is refused."""
    from relight.errors import InputError

    holding = [key for key, sp in plan.stacks.items() if sp.stateful_resources]
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
) -> FailoverResult:
    """Discover, preflight, plan, (confirm), deploy. The plan was rendered already, and linted
    already unless `before_change` finishes that: it is called after preflight, before the plan
    is computed, shown or deployed (the CLI joins the lint it ran meanwhile there; whatever it
    raises stops the run before any stack is created or changed).

    Also builds test environments (`relight launch`): the plan's purpose and namespace decide.
    With `confirm`, the plan is computed exactly (change sets) and shown to it first; a "no"
    stops before anything changes. The run holds the lock of the environment, region and
    namespace throughout (`lock` says how); `LockHeld` when another run holds it.
    """
    started = clock()
    run_id = new_run_id(now())
    settings = lock or LockSettings()
    command = settings.command or plan_command(plan, conn.region)
    ref = lock_ref(plan.loaded, conn, plan.namespace)
    with hold(ref, run_id, command, settings) as held:
        stacks = connect_stacks(
            conn, on_event=on_event, events=events, timeout=stack_timeout, clock=clock
        )
        discovery = discover_environment(plan, conn, now=now)
        checked = run_preflight(
            plan, conn.aws, discovery, stacks, accept_stale=accept_stale, account_id=conn.account_id
        )
        ready = read_prepared(stacks, plan, prepare_command(plan, conn.region))
        if before_change is not None:
            before_change()
        planned = (
            preview(stacks, plan, discovery, replace_data=replace_data, ready=ready.outputs)
            if confirm
            else []
        )
        if confirm is not None and not confirm(planned):
            raise Declined("not confirmed; nothing was changed")
        outcome = deploy(
            stacks,
            plan,
            discovery,
            run_id=run_id,
            concurrency=concurrency,
            replace_data=replace_data,
            still_held=held.ensure_held,
            ready=ready.outputs,
        )
        checks = (
            verify(
                conn.aws,
                plan,
                discovery,
                outcome,
                stand_in=conn.stand_in is not None,
                deadline_seconds=verify_deadline,
                on_progress=on_progress,
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
            notes=held.notes + checked.notes + ready.notes,
        )
        if result.ok and plan.purpose == "failover" and plan.phase == "failover":
            result.notes += latch_failback(conn, plan, outcome, ready.outputs)
    result.seconds = clock() - started
    return result


def plan_command(plan: Plan, region: str) -> str:
    """The command line of the run that deploys `plan` (for locks and messages)."""
    verb = (
        "prepare" if plan.phase == "prepare" else "launch" if plan.purpose == "test" else "failover"
    )
    return run_command(
        verb,
        plan.loaded,
        "--region",
        region,
        *(("--as", plan.namespace) if plan.namespace else ()),
        *(("--strategy", plan.strategy) if plan.strategy != plan.loaded.env.strategy else ()),
    )


def prepare_command(plan: Plan, region: str) -> str:
    """The command that deploys what `plan` reads as prepared: production's own prepare
    (a drill's namespace prepares its copies itself, but reads production's global stacks)."""
    return run_command(
        "prepare",
        plan.loaded,
        "--region",
        region,
        *(("--strategy", plan.strategy) if plan.strategy != plan.loaded.env.strategy else ()),
    )


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
            conn.aws.client("cloudwatch", conn.region).put_metric_data(
                Namespace=LATCH_NAMESPACE,
                MetricData=[
                    {
                        "MetricName": LATCH_METRIC,
                        "Dimensions": [{"Name": "Stack", "Value": name}],
                        "Value": 1.0,
                    }
                ],
            )
        except (ClientError, BotoCoreError, RelightError) as exc:
            notes.append(
                f"the failback latch of {name} (stacks.{key}) could not be set: {exc}; Route 53 "
                "will send traffic back to the home region as soon as it answers again: set it "
                f"with aws cloudwatch put-metric-data --region {conn.region} --namespace "
                f"{LATCH_NAMESPACE} --metric-name {LATCH_METRIC} --dimensions Stack={name} "
                "--value 1"
            )
            continue
        notes.append(
            f"failback latched ({name}): traffic stays in {conn.region} even when the home "
            "region answers again; failing back is a deliberate step (README, DNS and failback)"
        )
    return notes


def prepare(plan: Plan, conn: Connection, **options: Any) -> FailoverResult:
    """`relight prepare`: before any disaster, while every region is healthy, deploy what a
    failover at the plan's strategy must find ready in the region (the `stands:` stacks
    of its rung), and make relight's bucket there fully configured. Takes `failover`'s
    options; nothing is verified (no traffic reaches a standby yet)."""
    from relight.aws.bucket import TemplateBucket

    if plan.phase != "prepare":
        raise ValueError("prepare takes a plan built with phase='prepare'")
    TemplateBucket(conn.aws.client("s3", conn.region), conn.region, conn.account_id).configure()
    return failover(plan, conn, verify_after=False, **options)


# replicate -------------------------------------------------------------------------------------


def replicate_environment(
    loaded: LoadedEnvironment,
    conn: Connection,
    targets: list[str],
    *,
    role_arn: str | None = None,
    wait: bool = True,
    prune: int | None = None,
    on_progress: Callable[[str, str, str, str], None] = lambda *_: None,
    lock: LockSettings | None = None,
) -> list[Any]:
    """Copy the newest artifacts from the connection's region to `targets`.

    The connection reads the sources. When the environment declares a recovery account
    other than the source's, the copies are made there, through `role_arn` (or the
    environment's); otherwise through the same credentials.

    The run holds replication's lock in each target region, where the copies are made (in
    the account that makes them); `LockHeld` when another replication into one of them runs.
    Replication has its own lock, not the environment's: a copy can take hours, and must not
    hold up a failover into that region (nor a failover a replication).
    """
    from relight.steps.replicate import Replicator, replicate

    target = conn.aws
    target_account = conn.account_id
    recovery = loaded.env.recovery_account_id
    if recovery and recovery != conn.account_id and not conn.stand_in:
        role = role_arn or loaded.env.role_arn
        if not role:
            raise InputError(
                f"{loaded.path}: recovery_account_id {recovery} needs role_arn (or --role-arn) "
                "to copy into it"
            )
        target = Aws(
            AwsTarget(profile=conn.aws.target.profile, role_arn=role, sts_region=conn.region)
        )
        target_account = check_account(target, conn.region, recovery, str(loaded.path))
    replicator = Replicator(
        loaded,
        conn.aws,
        target,
        source_account=conn.account_id,
        target_account=target_account,
        on_progress=on_progress,
    )
    settings = lock or LockSettings()
    command = settings.command or run_command(
        "replicate", loaded, "--from", conn.region, *(w for t in targets for w in ("--to", t))
    )
    run_id = new_run_id()
    with contextlib.ExitStack() as stack:
        held = [
            stack.enter_context(
                hold(_lock_ref(loaded, target, target_account, region, REPLICATION), run_id,
                     command, settings)
            )
            for region in sorted(set(targets))  # one order for every run
        ]  # fmt: skip

        def still_held() -> None:
            for lock in held:
                lock.ensure_held()

        return replicate(
            replicator, conn.region, targets, wait=wait, prune=prune, still_held=still_held
        )


# teardown and status ------------------------------------------------------------------------


def teardown(
    loaded: LoadedEnvironment,
    conn: Connection,
    *,
    namespace: str | None = None,
    force: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: Event | None = None,
    confirmed: list[dict[str, Any]] | None = None,
    lock: LockSettings | None = None,
    prepared: bool = False,
) -> TeardownResult:
    """Delete the environment's stacks in the namespace, holding its lock (`LockHeld` when
    another run holds it)."""
    settings = lock or LockSettings()
    command = settings.command or run_command(
        "teardown",
        loaded,
        "--region",
        conn.region,
        *(("--as", namespace) if namespace else ()),
        "--force" if force else None,
        "--prepared" if prepared else None,
    )
    with hold(lock_ref(loaded, conn, namespace), new_run_id(), command, settings) as held:
        return delete_stacks(
            connect_stacks(conn, on_event=on_event),
            loaded.env.name,
            dependency_graph(loaded.env),
            namespace=namespace,
            force=force,
            concurrency=concurrency,
            confirmed=confirmed,
            final_snapshots=lambda name: final_snapshots(conn, name),
            still_held=held.ensure_held,
            prepared=prepared,
        )


def final_snapshots(conn: Connection, stack_name: str) -> Callable[[], list[str]]:
    """Before a stack's delete: its databases. The function returned lists, after the delete,
    the snapshots they left (DeletionPolicy Snapshot): manual snapshots made since now."""
    from botocore.exceptions import BotoCoreError, ClientError

    since = datetime.now(UTC)
    cfn, rds = conn.aws.client("cloudformation", conn.region), conn.aws.client("rds", conn.region)
    kinds = {"AWS::RDS::DBInstance": "instance", "AWS::RDS::DBCluster": "cluster"}
    held: list[tuple[str, str]] = []
    try:
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            held += [
                (kinds[r["ResourceType"]], r["PhysicalResourceId"])
                for r in page["StackResourceSummaries"]
                if r["ResourceType"] in kinds and r.get("PhysicalResourceId")
            ]
    except (ClientError, BotoCoreError):
        return list  # the delete goes on; only the naming of its snapshots is lost

    def after() -> list[str]:
        found = []
        for kind, ident in held:
            try:
                if kind == "instance":
                    snaps = rds.describe_db_snapshots(
                        DBInstanceIdentifier=ident, SnapshotType="manual"
                    )["DBSnapshots"]
                    key = "DBSnapshotIdentifier"
                else:
                    snaps = rds.describe_db_cluster_snapshots(
                        DBClusterIdentifier=ident, SnapshotType="manual"
                    )["DBClusterSnapshots"]
                    key = "DBClusterSnapshotIdentifier"
            except (ClientError, BotoCoreError) as exc:
                found.append(f"(final snapshot of {ident} not readable: {exc})")
                continue
            made = [x for x in snaps if x.get("SnapshotCreateTime", since) >= since]
            found += [f"{x[key]} (of {ident})" for x in made]
        return found

    return after


def stacks_to_delete(
    loaded: LoadedEnvironment,
    conn: Connection,
    namespace: str | None = None,
    *,
    prepared: bool = False,
) -> list[dict[str, Any]]:
    return environment_stacks(connect_stacks(conn), loaded.env.name, namespace, prepared=prepared)


def status(loaded: LoadedEnvironment, conn: Connection) -> list[dict[str, Any]]:
    """Every stack relight made for the environment in the region, any namespace."""
    stacks = connect_stacks(conn)
    rows = []
    for stack in stacks.list_stacks():
        tags = tag_dict(stack.get("Tags"))
        if tags.get("relight:env") != loaded.env.name:
            continue
        changed = stack.get("LastUpdatedTime") or stack.get("CreationTime")
        rows.append(
            {
                "stack": tags.get("relight:stack", ""),
                "name": stack["StackName"],
                "status": stack["StackStatus"],
                "purpose": tags.get("relight:purpose", ""),
                "namespace": tags.get("relight:namespace", ""),
                "run": tags.get("relight:run", ""),
                "protected": bool(stack.get("EnableTerminationProtection")),
                "prepared": tags.get("relight:prepared", ""),
                "last_change": changed.isoformat() if changed else "",
            }
        )
    order = {key: i for i, key in enumerate(loaded.order)}
    return sorted(
        rows, key=lambda r: (r["namespace"], order.get(r["stack"], len(order)), r["name"])
    )
