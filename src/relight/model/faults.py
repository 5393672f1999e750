"""The `stand_in_faults:` section of an environment file: which faults the stand-in injects.

Only the schema lives here, in the model (the environment file validates against it);
the stand-in that injects them is `relight.standin.faults`.
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

Action = Literal["create", "update", "delete"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourceFault(_Strict):
    """The create, update or delete of a resource (logical id) of a stack fails or hangs."""

    stack: str = Field(min_length=1, description="stack name, a glob: demo-web, demo-*")
    resource: str = Field(min_length=1, description="logical id, a glob: AutoScalingGroup, *")
    mode: Literal["fail", "hang"]
    action: Action = "create"
    message: str = ""  # fail: the ResourceStatusReason (a default names the fault)
    seconds: float | None = Field(default=None, gt=0)  # hang: this long (None: until cleared)
    region: str = "*"  # a glob

    def matches(self, region: str, stack: str, logical_id: str, action: str) -> bool:
        return (
            self.action == action
            and fnmatch.fnmatchcase(region, self.region)
            and fnmatch.fnmatchcase(stack, self.stack)
            and fnmatch.fnmatchcase(logical_id, self.resource)
        )

    def reason(self, logical_id: str) -> str:
        return self.message or f"stand-in fault: {logical_id} made to fail ({self.action})"


class SlowStack(_Strict):
    """Every matching stack operation (create, update or delete) stays *_IN_PROGRESS for
    `seconds` before its first resource is touched: the time CloudFormation spends on AWS,
    which moto does not (it makes a stack at once). For benchmarks that model AWS's waiting
    (bench/estate.py), and drills that want a failover to take time."""

    stack: str = Field(default="*", min_length=1, description="stack name, a glob: demo-*")
    seconds: float = Field(gt=0)
    action: Action | Literal["*"] = "*"
    region: str = "*"  # a glob

    def matches(self, region: str, stack: str, action: str) -> bool:
        return (
            self.action in ("*", action)
            and fnmatch.fnmatchcase(region, self.region)
            and fnmatch.fnmatchcase(stack, self.stack)
        )


class Throttle(_Strict):
    """The next `count` calls of an action are refused as throttled."""

    action: str = Field(min_length=1, description="API action, e.g. DescribeStacks; * for all")
    count: int = Field(ge=1)
    service: str = "cloudformation"
    region: str = "*"  # a glob


class ReplicaFault(_Strict):
    """A replica (DB instance or Aurora secondary cluster, identifier glob) lags by `lag`
    seconds, or has stopped replicating (`mode: stopped`: ReplicaLag -1 and StatusInfos
    "error", as RDS reports a broken replication; a secondary cluster publishes no lag)."""

    db: str = Field(min_length=1, description="DB instance or cluster identifier, a glob")
    mode: Literal["lag", "stopped"] = "lag"
    lag: float | None = Field(default=None, ge=0)  # mode lag: seconds behind its source
    message: str = ""  # mode stopped: the StatusInfos message (a default names the fault)
    region: str = "*"  # a glob

    def matches(self, region: str, identifier: str) -> bool:
        return fnmatch.fnmatchcase(region, self.region) and fnmatch.fnmatchcase(identifier, self.db)

    def reason(self) -> str:
        return self.message or f"stand-in fault: replication of {self.db} stopped"


def _listed(value: Any) -> Any:
    """`throttle: {action: ..., count: ...}` is a list of one."""
    return [value] if isinstance(value, dict) else value


class Faults(_Strict):
    """What one source asks of the stand-in."""

    resources: list[ResourceFault] = Field(default_factory=list)
    throttle: Annotated[list[Throttle], BeforeValidator(_listed)] = Field(default_factory=list)
    replicas: Annotated[list[ReplicaFault], BeforeValidator(_listed)] = Field(default_factory=list)
    slow: Annotated[list[SlowStack], BeforeValidator(_listed)] = Field(default_factory=list)

    def any(self) -> bool:
        """Whether this asks anything of the stand-in."""
        return bool(self.resources or self.throttle or self.replicas or self.slow)

    def describe(self) -> str:
        parts = (
            [
                f"{f.action} of {f.stack}/{f.resource} {'fails' if f.mode == 'fail' else 'hangs'}"
                for f in self.resources
            ]
            + [f"{t.service} {t.action} throttled {t.count}x" for t in self.throttle]
            + [
                f"replica {r.db} "
                + (f"lags {r.lag:g} s" if r.mode == "lag" else "stopped replicating")
                for r in self.replicas
            ]
            + [
                f"{'every' if s.action == '*' else s.action} operation of {s.stack} takes "
                f"{s.seconds:g} s"
                for s in self.slow
            ]
        )
        return "; ".join(parts) or "none"
