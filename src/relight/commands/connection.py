"""What the commands share: the connection to AWS or the stand-in, run ids, where the run
lock lives, the command lines runs are shown by, and CloudFormation in the connection's region.

Every mutating run (failover, launch, teardown, replicate, and drill in drill.py) holds the lock
of its environment, region and namespace (lock.py) from just after the account check (done by
`connect`) until it ends: a second run refuses at once with `LockHeld`.
"""

from __future__ import annotations

import secrets
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from relight import standin
from relight.aws.accounts import RoutedCloudFormation, StackRoles, account_of
from relight.aws.budget import TokenBudget
from relight.aws.clients import Aws, AwsTarget, check_account
from relight.aws.cloudformation import Event, Stacks, quiet
from relight.aws.lease import REPLICATION, LockRef
from relight.errors import InputError, RelightError
from relight.model.config import LoadedEnvironment
from relight.model.plan import Plan
from relight.standin.faults import send_environment_faults as send_faults

STAND_IN_STACK_TIMEOUT = 120.0  # the stand-in creates stacks in well under a second
AWS_STACK_TIMEOUT = 3600.0
STORY = "stand-in story"  # the command the stand-in's story (the simulated production) is


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class Connection:
    aws: Aws
    region: str
    account_id: str
    stand_in: standin.StandIn | None = None
    roles: StackRoles | None = None  # the stacks made in another account (their role_arn)

    def describe(self) -> str:
        said = f"{self.aws.target.describe()}, account {self.account_id}, region {self.region}"
        seconds = self.aws.session_seconds
        if seconds:  # how long the assumed role's session lasts before it is refreshed
            said += f", role session {seconds / 3600:g} h (refreshed before it expires)"
        return said

    @property
    def budget(self) -> TokenBudget | None:
        """The estate's request and stack-operation budget for this account and region
        (aws/budget.py), None outside an estate run: what the deploy holds a slot of."""
        return self.aws.budget

    def aws_for(self, stack_name: str) -> Aws:
        """The Aws a stack is made and read with: its role_arn's, or the connection's."""
        role = self.roles.role_for(stack_name) if self.roles else None
        if role is None or self.roles is None:
            return self.aws
        return self.roles.aws(self.aws, role, self.region)


def stack_roles(loaded: LoadedEnvironment) -> StackRoles | None:
    """The environment's stacks with a role_arn: made in that role's account."""
    stacks = loaded.env.stacks
    roles = {key: spec.role_arn for key, spec in stacks.items() if spec.role_arn}
    return StackRoles(loaded.env.name, roles, frozenset(stacks)) if roles else None


def connect(
    loaded: LoadedEnvironment,
    region: str,
    *,
    use_stand_in: bool | None = None,
    profile: str | None = None,
    role_arn: str | None = None,
    external_id: str | None = None,
    source_side: bool = False,
    state_dir: Path | None = None,
    announce: Callable[[Connection], None] = lambda _: None,
    say: Callable[[str], None] = lambda _: None,
    command: str | None = None,
    budget: TokenBudget | None = None,
) -> Connection:
    """Reach AWS or the stand-in (never one in place of the other) and check the account.

    On AWS, `role_arn` (or the environment's) is the role relight assumes to act in the
    recovery account; those credentials must be in `recovery_account_id` when that is set,
    else in `account_id`. `source_side` (replicate's reading of the sources) uses the plain
    credentials, checked against `account_id`. `external_id` goes with the role assumed.

    On the stand-in, a `role_arn` given here (an estate's account: estate/accounts.py) is
    assumed through the stand-in's STS, whose credentials act in the role's account (moto
    keeps one world per account); the account check then expects the file's `account_id`, or
    the role's account. The stand-in's story runs as that role, so that account's simulated
    production is built in it. (The CLI refuses --role-arn with the stand-in: cli/common.py.)
    `announce` is told where relight acts as soon
    as that is known, before anything else happens there; `say` receives progress lines.
    `command` is the CLI command the calls are made for (AwsTarget.command: the call log and
    the policy an access-denied error advises); the stand-in's story is `stand-in story`.
    `budget`: the estate's budget for this account and region (aws/budget.py), which every
    request of the run (not the stand-in's story) takes a token of.
    The file's `stand_in_faults` go to the stand-in, after its story (standin/faults.py); on
    AWS they are ignored, with a note.
    """
    on_stand_in = loaded.env.stand_in if use_stand_in is None else use_stand_in
    if on_stand_in:
        if profile:
            raise InputError(
                "--profile and --role-arn do not apply to the local stand-in",
                hint="pass --aws to act on real AWS instead",
            )
        running = standin.ensure_running(state_dir or standin.state_dir())
        aws = Aws(
            AwsTarget(
                endpoint_url=running.endpoint,
                stand_in=True,
                max_attempts=3,
                command=command,
                env=env_option(loaded),
                role_arn=role_arn,
                sts_region=region if role_arn else None,
                external_id=external_id if role_arn else None,
            ),
            budget=budget,
        )
        expected = loaded.env.account_id or (account_of(role_arn) if role_arn else None)
        account = check_account(aws, region, expected, str(loaded.path))
        conn = Connection(aws, region, account, running, stack_roles(loaded))
        announce(conn)
        from relight.standin.story import ensure_story

        # its own Aws: the story's calls (the simulated production) are not this run's
        story = Aws(replace(aws.target, command=STORY))  # nor do they take of the budget
        ensure_story(story, loaded, run_id=new_run_id(), say=say)
        send_faults(loaded.env.name, loaded.env.stand_in_faults, running.endpoint, say)
        return conn
    role = None if source_side else role_arn or loaded.env.role_arn
    key, expected = "account_id", loaded.env.account_id
    if role and loaded.env.recovery_account_id:
        key, expected = "recovery_account_id", loaded.env.recovery_account_id
    aws = Aws(
        AwsTarget(
            profile=profile,
            role_arn=role,
            sts_region=region,
            command=command,
            env=env_option(loaded),
            external_id=external_id if role else None,
        ),
        budget=budget,
    )
    account = check_account(aws, region, expected, str(loaded.path), key)
    conn = Connection(aws, region, account, roles=stack_roles(loaded))
    announce(conn)
    send_faults(loaded.env.name, loaded.env.stand_in_faults, None, say)
    return conn


class Declined(RelightError):
    """The operator said no at the confirmation: nothing was changed."""


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
    return lock_ref_at(loaded, conn.aws, conn.account_id, conn.region, scope)


def lock_ref_at(
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
        *(("--data", plan.data) if plan.data else ()),
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
        *(("--data", plan.data) if plan.data and plan.namespace is None else ()),
    )


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
    cfn = conn.aws.client("cloudformation", conn.region)
    if conn.roles is not None:  # stacks of another account go there (aws/accounts.py)
        others = {
            role: conn.roles.aws(conn.aws, role, conn.region).client("cloudformation", conn.region)
            for role in set(conn.roles.roles.values())
        }
        cfn = RoutedCloudFormation(cfn, others, conn.roles)
    return Stacks(
        cfn,
        clock=clock,
        timeout=timeout or (STAND_IN_STACK_TIMEOUT if conn.stand_in else AWS_STACK_TIMEOUT),
        template_url=bucket.url_for,
        on_event=on_event or quiet,
        events=events,
        budget=conn.budget,
    )
