"""The plan: the stacks a run deploys (name, template, parameters, tags, dependencies).

`steps.render` builds it from the environment file and the blueprints; every later
step reads it. It lives in the model so that the AWS layer and the DR features can
name a Plan without depending on rendering. Also here: how stacks are named, and
CloudFormation's hard limits a template must keep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from relight.errors import InputError
from relight.model.data_modes import replicates
from relight.model.environment import ParamValue, stands_at

if TYPE_CHECKING:
    from relight.model.config import LoadedEnvironment


# CloudFormation's hard limits per template (and the inline body size).
MAX_RESOURCES = 500
MAX_PARAMETERS = 200
MAX_OUTPUTS = 200
MAX_INLINE_BODY = 51_200  # larger bodies are uploaded to S3 by the deploy step
MAX_BODY = 1_000_000  # CloudFormation's limit for a template in S3
MAX_STACK_NAME = 128


@dataclass(frozen=True)
class StackPlan:
    key: str  # the stack's name in the environment file
    name: str  # the CloudFormation stack name
    blueprint: str
    body: str  # the template, as JSON
    parameters: Mapping[str, ParamValue]  # CloudFormation Parameters, references unresolved
    outputs: tuple[str, ...]
    depends_on: tuple[str, ...]
    resource_count: int
    # What holds data (stateful.py): Parameters feeding snapshot properties, and resources.
    stateful_parameters: tuple[str, ...] = ()
    stateful_resources: tuple[str, ...] = ()
    # Parameters feeding a launch template's snapshot: kept only while the region serves.
    launch_parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    loaded: LoadedEnvironment
    region: str
    purpose: str
    namespace: str | None
    stand_in: bool = False
    strategy: str = "backup_restore"  # the rung of the DR ladder (environment.STRATEGIES)
    phase: str = "failover"  # failover, prepare (relight prepare) or home (production)
    # The run's `--data` (snapshot or replica): every database stack's data mode in this run,
    # over the file's `data:` (model/data_modes.py). None: the file's.
    data: str | None = None
    stacks: dict[str, StackPlan] = field(default_factory=dict)  # to deploy, in creation order
    skipped: dict[str, str] = field(default_factory=dict)  # stack → why it is not built
    # Stacks prepared ahead of time that this run reads (their outputs) and never changes.
    prepared: dict[str, StackPlan] = field(default_factory=dict)
    # What the plan left out of the file and why, `file: key: why` (a scheduled action whose
    # time has passed): shown by render, plan, prepare and readiness.
    warnings: list[str] = field(default_factory=list)
    now: datetime = field(default_factory=lambda: datetime.now(UTC))  # the plan's clock

    @property
    def env_name(self) -> str:
        return self.loaded.env.name

    def tags(self, key: str, run_id: str) -> dict[str, str]:
        tags = dict(self.loaded.env.tags)
        tags.update(
            {
                "relight:env": self.env_name,
                "relight:stack": key,
                "relight:run": run_id,
                "relight:purpose": self.purpose,
            }
        )
        if self.namespace:
            tags["relight:namespace"] = self.namespace
        stands = self.loaded.env.stacks[key].stands
        if self.phase != "home" and stands_at(stands, self.strategy):
            tags["relight:prepared"] = str(stands)
        elif replicates(self, key):  # prepared, protected and kept like a standing stack
            tags["relight:prepared"] = REPLICA_PREPARED
        if self.phase != "home" and stands == "global":
            # made once for every region by prepare (IAM, DNS), never by a failover
            tags["relight:purpose"] = GLOBAL_PURPOSE
        return tags


REPLICA_PREPARED = "replica"  # the relight:prepared tag of a replica-mode database stack
GLOBAL_PURPOSE = "global"  # the purpose tag of a `stands: global` stack (identity, DNS)


def stack_name(env_name: str, key: str, namespace: str | None = None) -> str:
    """`<env>-<stack>`, or `<env>-<namespace>-<stack>` for drills and test environments."""
    parts = [env_name, namespace, key] if namespace else [env_name, key]
    return "-".join(p.replace("_", "-") for p in parts)


NAMESPACE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def check_namespace(name: str) -> str:
    """A test environment's or drill's name: lowercase letters, digits, hyphens; 1-40."""
    if not NAMESPACE.match(name) or name.endswith("-") or "--" in name:
        raise InputError(
            f"--as {name!r}: use 1-40 lowercase letters, digits and single hyphens, "
            "starting with a letter (it becomes part of every stack name)"
        )
    return name


# The CloudFormation service role (steps/service_role.py): made by the environment's identity
# stack (the stack built from this blueprint, `stands: global`), read as this output in the
# target region, and passed as RoleARN by every stack operation on the environment's other
# stacks.
IDENTITY_BLUEPRINT = "identity"
SERVICE_ROLE_OUTPUT = "CloudFormationRoleArn"


def identity_keys(plan: Plan) -> list[str]:
    """The keys of the environment's stacks of blueprint `identity` standing in the plan's
    region, in the file's order (the first holds the service role)."""
    return [
        key
        for key, spec in plan.loaded.env.stacks.items()
        if spec.blueprint == IDENTITY_BLUEPRINT and spec.stands_in(plan.region)
    ]


def identity_key(plan: Plan) -> str | None:
    """The key of the environment's identity stack (the first stack of blueprint `identity`
    in the file), or None when it has none."""
    for key, spec in plan.loaded.env.stacks.items():
        if spec.blueprint == IDENTITY_BLUEPRINT:
            return key
    return None
