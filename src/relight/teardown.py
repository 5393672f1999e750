"""Delete the stacks relight made for an environment (and namespace), dependents first.

Only stacks whose tags say relight made them for this environment and
namespace are touched. A stack is deleted once every stack that uses its
outputs is gone (the dependency graph reversed, run by the same scheduler as
deploy). Termination protection is lifted only when asked (`force`). AMIs,
snapshots and backups are never deleted: they are not in the stacks, and
data volumes a stack restored are retained by their DeletionPolicy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from relight.aws import tag_dict
from relight.cloudformation import Stacks
from relight.deploy import StackResult, blocked_result
from relight.errors import AwsError, DeployError
from relight.scheduler import DEFAULT_CONCURRENCY, Scheduler, Task


@dataclass
class TeardownResult:
    results: list[StackResult] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)  # stacks still there afterwards

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.left_behind


def environment_stacks(
    stacks: Stacks, env_name: str, namespace: str | None = None
) -> list[dict[str, Any]]:
    """The live stacks relight made for this environment (and namespace), by their tags."""
    found = []
    for stack in stacks.list_stacks():
        tags = tag_dict(stack.get("Tags"))
        if tags.get("relight:env") == env_name and tags.get("relight:namespace") == namespace:
            found.append(stack)
    return found


def _key(stack: Mapping[str, Any]) -> str:
    return tag_dict(stack.get("Tags")).get("relight:stack") or str(stack["StackName"])


def reverse_graph(keys: Iterable[str], graph: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """stack → the given stacks that must be gone before it (those that depend on it)."""
    keys = set(keys)
    return {key: sorted(other for other in keys if key in graph.get(other, set())) for key in keys}


def teardown(
    stacks: Stacks,
    env_name: str,
    graph: Mapping[str, set[str]],
    *,
    namespace: str | None = None,
    force: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    confirmed: list[dict[str, Any]] | None = None,
) -> TeardownResult:
    """Delete this environment's stacks in reverse dependency order; report what is left.

    `confirmed`: the stacks the operator was shown and said yes to (`environment_stacks`);
    only those are deleted. Without it, they are listed here.
    """
    if confirmed is None:
        confirmed = environment_stacks(stacks, env_name, namespace)
    found = {_key(s): s for s in confirmed}

    def task(key: str) -> Task[StackResult]:
        stack = found[key]
        name = stack["StackName"]
        result = StackResult(key, name, "deleted", started=stacks.clock())
        protected = bool(stack.get("EnableTerminationProtection"))
        if protected and not force:
            result.action, result.status = "protected", stack["StackStatus"]
            result.reason = "termination protection is on; --force lifts it"
        else:
            if protected and not stacks.lifts_protection:
                stacks.on_event(
                    name, "PROTECTED", "stand-in: moto neither lifts nor enforces the protection"
                )
            try:
                yield from stacks.delete(name, force=protected)
                result.status = "DELETE_COMPLETE"
            except (DeployError, AwsError) as exc:
                result.action, result.status, result.reason = (
                    "delete-failed",
                    "DELETE_FAILED",
                    exc.message,
                )
        result.ended = stacks.clock()
        stacks.on_event(name, result.status, result.reason)
        return result

    def blocked(key: str, failed: list[str]) -> StackResult:
        result = blocked_result(found[key]["StackName"], key, failed, "kept: still used by")
        stacks.on_event(result.name, "SKIPPED", result.reason)
        return result

    results = Scheduler(
        reverse_graph(found, graph),
        task,
        ok=lambda r: r.ok,
        blocked=blocked,
        concurrency=concurrency,
        clock=stacks.clock,
        sleep=stacks.sleep,
    ).run()
    left = [s["StackName"] for s in environment_stacks(stacks, env_name, namespace)]
    return TeardownResult(list(results.values()), left)
