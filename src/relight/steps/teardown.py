"""Delete the stacks relight made for an environment (and namespace), dependents first.

Only stacks whose tags say relight made them for this environment and
namespace are touched. A stack is deleted once every stack that uses its
outputs is gone (the dependency graph reversed, run by the same scheduler as
deploy). Protection is lifted only when asked (`force`): the stack's termination
protection, and first the deletion protection its load balancers and databases
carry as a failover's (an update that sets `RelightPurpose` to test, the
blueprints' documented switch; nothing else changes). AMIs, snapshots and
backups are never deleted: they are not in the stacks, data volumes a stack
restored are retained by their DeletionPolicy, and a database leaves a final
snapshot, which the result names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from relight.aws.cloudformation import CAPABILITIES, COMPLETE, RETRYABLE, Stacks
from relight.aws.vpc_extras import Cleared
from relight.errors import AwsError, DeployError
from relight.model.blueprint import PROTECTED_PURPOSES, PURPOSE_PARAMETER
from relight.model.scheduler import DEFAULT_CONCURRENCY, Scheduler, Task
from relight.model.shapes import parameter_dict, tag_dict
from relight.steps.deploy import StackResult, blocked_result

PREPARED_TAG = "relight:prepared"

# Before and after a stack's delete: returns the final snapshots its databases left.
FinalSnapshots = Callable[[str], Callable[[], list[str]]]
# Before a stack's delete: what other services added to the VPCs it made, removed or named
# (aws/vpc_extras.py).
VpcExtras = Callable[[str], Task[Cleared]]


@dataclass
class TeardownResult:
    results: list[StackResult] = field(default_factory=list)
    left_behind: list[str] = field(default_factory=list)  # stacks still there afterwards
    kept_volumes: list[str] = field(default_factory=list)  # data volumes the stacks' instances left
    # What other services added to a VPC relight made, removed before the VPC's delete.
    removed_extras: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.left_behind


def environment_stacks(
    stacks: Stacks, env_name: str, namespace: str | None = None, *, prepared: bool = False
) -> list[dict[str, Any]]:
    """The live stacks relight made for this environment (and namespace), by their tags;
    those `relight prepare` made (tagged relight:prepared) only with `prepared`."""
    found = []
    for stack in stacks.list_stacks():
        tags = tag_dict(stack.get("Tags"))
        if tags.get("relight:env") != env_name or tags.get("relight:namespace") != namespace:
            continue
        if PREPARED_TAG in tags and not prepared:
            continue
        found.append(stack)
    return found


def _key(stack: Mapping[str, Any]) -> str:
    return tag_dict(stack.get("Tags")).get("relight:stack") or str(stack["StackName"])


def reverse_graph(keys: Iterable[str], graph: Mapping[str, set[str]]) -> dict[str, list[str]]:
    """stack → the given stacks that must be gone before it (those that depend on it)."""
    keys = set(keys)
    return {key: sorted(other for other in keys if key in graph.get(other, set())) for key in keys}


def lift_deletion_protection(
    stacks: Stacks, stack: Mapping[str, Any], role_arn: str | None = None
) -> Task[bool]:
    """Turn off the deletion protection a failover's stack gives its load balancers and
    databases: update it with its own template and parameters but `RelightPurpose` test.

    A stack a failed failover left CREATE_FAILED or UPDATE_FAILED takes that update only
    with rollback disabled (AWS refuses it otherwise), and may end UPDATE_FAILED again if a
    resource that failed before fails again: the protection of what exists is lifted all the
    same, so the delete goes on. A stack in any other state (ROLLBACK_COMPLETE holds nothing;
    DELETE_FAILED cannot be updated) is left to the delete, whose failure names the resource.
    False when there was nothing to lift.
    """
    name = str(stack["StackName"])
    status = str(stack.get("StackStatus", ""))
    values = parameter_dict(stack)
    if values.get(PURPOSE_PARAMETER) not in PROTECTED_PURPOSES:
        return False
    if status not in COMPLETE and status not in RETRYABLE:
        return False
    failed_before = status in RETRYABLE
    kept = [{"ParameterKey": key, "UsePreviousValue": True} for key in values]
    parameters = [p for p in kept if p["ParameterKey"] != PURPOSE_PARAMETER] + [
        {"ParameterKey": PURPOSE_PARAMETER, "ParameterValue": "test"}
    ]
    mark = yield from stacks.patiently(lambda: stacks.newest_event(name))
    started = stacks.clock()
    extra: dict[str, Any] = {"DisableRollback": True} if failed_before else {}
    if role_arn:
        extra["RoleARN"] = role_arn
    yield from stacks.send(
        f"lift deletion protection of {name}",
        stacks.cfn.update_stack,
        StackName=name,
        UsePreviousTemplate=True,
        Parameters=parameters,
        Capabilities=CAPABILITIES,
        **extra,
    )
    stacks.on_event(name, "UPDATE_IN_PROGRESS", "lifting deletion protection (--force)")
    final = yield from stacks.watch(name, started, mark)
    done = {"UPDATE_COMPLETE", "UPDATE_FAILED"} if failed_before else {"UPDATE_COMPLETE"}
    if final is None or final["StackStatus"] not in done:
        status = final["StackStatus"] if final else "GONE"
        raise DeployError(
            f"stack {name}: lifting deletion protection ended {status}: "
            f"{stacks.first_failure(name, mark)}",
            hint="nothing was deleted; fix the cause, then rerun teardown --force",
        )
    return True


def teardown(
    stacks: Stacks,
    env_name: str,
    graph: Mapping[str, set[str]],
    *,
    namespace: str | None = None,
    force: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    confirmed: list[dict[str, Any]] | None = None,
    final_snapshots: FinalSnapshots | None = None,
    still_held: Callable[[], None] = lambda: None,
    prepared: bool = False,
    vpc_extras: VpcExtras | None = None,
    role_arn: str | None = None,
    identity: str | None = None,
) -> TeardownResult:
    """Delete this environment's stacks in reverse dependency order; report what is left.

    `confirmed`: the stacks the operator was shown and said yes to (`environment_stacks`);
    only those are deleted. Without it, they are listed here. `final_snapshots(name)` is
    called before a stack's delete and returns what, called after it, lists the final
    snapshots its databases left. The stacks `relight prepare` made stand ready for the next
    failover: left alone unless `prepared`. `vpc_extras(name)`, before a stack's delete, removes
    what GuardDuty added to the VPCs the stack made and names what another hand added: a stack
    whose VPC holds such a thing is not deleted (its delete would fail on the VPC), and the
    reason names each with the command that removes it.

    `role_arn`: the CloudFormation service role (the identity stack's output) every update
    and delete passes, but that of `identity` (the identity stack's key): made with the
    operator's credentials, it is deleted with them, after every other stack (its role is
    what deletes them).
    """
    if confirmed is None:
        confirmed = environment_stacks(stacks, env_name, namespace, prepared=prepared)
    found = {_key(s): s for s in confirmed}
    removed: list[str] = []

    def _clear_vpc(name: str) -> Task[list[str]]:
        """What other services added to the stack's VPCs: GuardDuty's removed (and said), the
        rest returned, named."""
        if vpc_extras is None:
            return []
        cleared = yield from vpc_extras(name)
        removed.extend(cleared.removed)
        for line in cleared.removed:
            stacks.on_event(name, "REMOVED", line)
        return cleared.left

    def task(key: str) -> Task[StackResult]:
        stack = found[key]
        name = stack["StackName"]
        result = StackResult(key, name, "deleted", started=stacks.clock())
        protected = bool(stack.get("EnableTerminationProtection"))
        if protected and not force:
            result.action, result.status = "protected", stack["StackStatus"]
            result.reason = "termination protection is on; --force lifts it"
        else:
            role = None if key == identity else role_arn
            try:
                still_held()  # a run that lost its lock stops before its next delete
                if force:
                    yield from lift_deletion_protection(stacks, stack, role)
                left = yield from _clear_vpc(name)
                if left:
                    result.action, result.status = "kept", str(stack.get("StackStatus", ""))
                    result.reason = (
                        "not deleted: its VPC holds what CloudFormation did not make, so the "
                        "VPC's delete would fail (DependencyViolation); remove each, then rerun "
                        f"teardown: {'; '.join(left)}"
                    )
                else:
                    snapshots = final_snapshots(name) if final_snapshots else list
                    yield from stacks.delete(name, force=protected, role_arn=role)
                    result.status = "DELETE_COMPLETE"
                    result.final_snapshots = snapshots()
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

    order = reverse_graph(found, graph)
    if identity in order:  # its role deletes the others: it goes last
        order[identity] = sorted(k for k in order if k != identity)
    results = Scheduler(
        order,
        task,
        ok=lambda r: r.ok,
        blocked=blocked,
        concurrency=concurrency,
        clock=stacks.clock,
        sleep=stacks.sleep,
    ).run()
    left = [
        s["StackName"] for s in environment_stacks(stacks, env_name, namespace, prepared=prepared)
    ]
    return TeardownResult(list(results.values()), left, removed_extras=removed)
