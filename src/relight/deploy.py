"""Step 4 of the data flow: deploy a Plan's stacks through CloudFormation, in dependency order.

relight never creates resources by hand: each stack is one CloudFormation
stack, created with the plan's template, its resolved parameters and relight's
tags. A rerun converges: complete stacks are left alone, stacks that an
earlier run left failed (ROLLBACK_COMPLETE, CREATE_FAILED, ...) are deleted and
created again, stacks still in progress are waited for.

Waiting polls with a backoff that starts at a fraction of a second and grows
to about 10 s, and every stack has a timeout (which also ends the stand-in's
stacks that never leave CREATE_IN_PROGRESS). Clock, sleep and the
CloudFormation client are passed in, so tests can drive every path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from relight.aws import tag_dict, tag_list
from relight.discovery import Discovery
from relight.errors import AwsError, DeployError
from relight.render import MAX_INLINE_BODY, Plan, StackPlan, resolve_parameters

COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
# Left by a failed earlier run: delete, then create again.
LEFTOVER = {"ROLLBACK_COMPLETE", "CREATE_FAILED", "ROLLBACK_FAILED", "REVIEW_IN_PROGRESS"}
FAILED = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "DELETE_FAILED",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]

Event = Callable[[str, str, str], None]  # (stack name, status, message)


def quiet(stack: str, status: str, message: str) -> None:
    pass


@dataclass
class StackResult:
    key: str
    name: str
    action: str  # created, recreated, kept, failed, skipped, deleted, delete-failed
    status: str = ""
    started: float = 0.0
    ended: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    reason: str = ""

    @property
    def seconds(self) -> float:
        return max(0.0, self.ended - self.started)

    @property
    def ok(self) -> bool:
        return self.action in {"created", "recreated", "kept", "deleted"}


@dataclass
class Outcome:
    results: dict[str, StackResult] = field(default_factory=dict)
    api_calls: int = 0

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    def failed(self) -> list[StackResult]:
        return [r for r in self.results.values() if not r.ok]


def backoff(first: float = 0.25, factor: float = 1.6, ceiling: float = 10.0) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(ceiling, delay * factor)


class Stacks:
    """CloudFormation with domain names: stack_state, create, delete, wait, first_failure."""

    def __init__(
        self,
        cfn: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 1800.0,
        on_event: Event = quiet,
        janitor: Callable[[str], str | None] | None = None,
        template_url: Callable[[str], str] | None = None,
    ) -> None:
        self.cfn = cfn
        # Uploads a body too large to pass inline and returns its URL (see bucket.py).
        self.template_url = template_url
        # Stand-in only: clears what moto leaves behind after a delete; returns what it cleared.
        self.janitor = janitor
        self.clock = clock
        self.sleep = sleep
        self.timeout = timeout
        self.on_event = on_event
        self.calls = 0

    def call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        self.calls += 1
        try:
            return fn(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") == "ValidationError" and "does not exist" in error.get(
                "Message", ""
            ):
                return None
            raise AwsError(f"{what}: {error.get('Code')}: {error.get('Message')}") from exc
        except BotoCoreError as exc:
            raise AwsError(f"{what}: {exc}") from exc

    def state(self, name: str) -> dict[str, Any] | None:
        """The stack as DescribeStacks shows it, or None if there is no such stack."""
        found = self.call(f"describe stack {name}", self.cfn.describe_stacks, StackName=name)
        if not found or not found.get("Stacks"):
            return None
        stack: dict[str, Any] = found["Stacks"][0]
        return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack

    def list_stacks(self) -> list[dict[str, Any]]:
        """Every live stack in the region (one paginated listing)."""
        stacks: list[dict[str, Any]] = []
        paginator = self.cfn.get_paginator("describe_stacks")
        for page in paginator.paginate():
            self.calls += 1
            stacks.extend(s for s in page["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE")
        return stacks

    def wait(self, name: str, started: float) -> dict[str, Any] | None:
        """Poll until the stack leaves *_IN_PROGRESS (None: it is gone); DeployError on timeout."""
        delays = backoff()
        while True:
            stack = self.state(name)
            if stack is None or not stack["StackStatus"].endswith("_IN_PROGRESS"):
                return stack
            if stack["StackStatus"] == "REVIEW_IN_PROGRESS":
                return stack
            waited = self.clock() - started
            if waited >= self.timeout:
                raise DeployError(
                    f"stack {name}: still {stack['StackStatus']} after {waited:.0f} s "
                    f"(timeout {self.timeout:.0f} s)",
                    hint="look at its events in the CloudFormation console; rerun to continue",
                )
            self.sleep(min(next(delays), max(0.0, self.timeout - waited)))

    def first_failure(self, name: str, since: datetime) -> str:
        """The first failed resource of the current operation and CloudFormation's reason."""
        found = self.call(
            f"describe events of {name}", self.cfn.describe_stack_events, StackName=name
        )
        events = [e for e in (found or {}).get("StackEvents", []) if e["Timestamp"] >= since]
        for event in sorted(events, key=lambda e: e["Timestamp"]):
            if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason"):
                return f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
        return "no failure reason recorded"

    def template_argument(self, name: str, body: str) -> dict[str, str]:
        """TemplateBody inline, or TemplateURL for a body over CloudFormation's inline limit."""
        if len(body.encode()) <= MAX_INLINE_BODY:
            return {"TemplateBody": body}
        if self.template_url is None:
            raise DeployError(
                f"stack {name}: the template is over {MAX_INLINE_BODY:,} bytes "
                "and no S3 bucket was given to upload it to"
            )
        return {"TemplateURL": self.template_url(body)}

    def delete(self, name: str) -> dict[str, Any] | None:
        started = self.clock()
        try:
            self.call(f"delete stack {name}", self.cfn.delete_stack, StackName=name)
        except AwsError as exc:
            cleared = self.janitor(exc.message) if self.janitor else None
            if not cleared:
                raise
            self.on_event(
                name, "DELETE_IN_PROGRESS", f"stand-in: cleared moto's leftovers in {cleared}"
            )
        self.on_event(name, "DELETE_IN_PROGRESS", "")
        return self.wait(name, started)


def _outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _deploy_one(
    stacks: Stacks, plan: Plan, sp: StackPlan, parameters: dict[str, str], run_id: str
) -> StackResult:
    result = StackResult(sp.key, sp.name, "created", started=stacks.clock(), parameters=parameters)
    existing = stacks.state(sp.name)
    if existing and existing["StackStatus"].endswith("_IN_PROGRESS"):
        stacks.on_event(
            sp.name, existing["StackStatus"], "in progress from an earlier run; waiting"
        )
        existing = stacks.wait(sp.name, stacks.clock())
    if existing and tag_dict(existing.get("Tags")).get("relight:env") != plan.env_name:
        raise DeployError(
            f"stack {sp.name} exists in {plan.region} and is not relight's for environment "
            f"{plan.env_name}; relight will not touch it",
            hint="rename the stack in the environment file, or remove the other stack yourself",
        )
    if existing and existing["StackStatus"] in COMPLETE:
        result.action, result.status = "kept", existing["StackStatus"]
        result.outputs = _outputs(existing)
        result.ended = stacks.clock()
        stacks.on_event(sp.name, result.status, "already complete; left alone")
        return result
    if existing and existing["StackStatus"] in LEFTOVER:
        stacks.on_event(sp.name, existing["StackStatus"], "left by an earlier run; recreating")
        stacks.delete(sp.name)
        result.action = "recreated"
    since = datetime.now(UTC)
    started = stacks.clock()
    try:
        stacks.call(
            f"create stack {sp.name}",
            stacks.cfn.create_stack,
            StackName=sp.name,
            **stacks.template_argument(sp.name, sp.body),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
            Tags=tag_list(plan.tags(sp.key, run_id)),
            Capabilities=CAPABILITIES,
            OnFailure="ROLLBACK",
        )
    except AwsError as exc:
        result.action, result.status, result.reason = "failed", "CREATE_REFUSED", exc.message
        result.ended = stacks.clock()
        return result
    stacks.on_event(sp.name, "CREATE_IN_PROGRESS", "")
    try:
        final = stacks.wait(sp.name, started)
    except DeployError as exc:
        result.action, result.status, result.reason = "failed", "TIMED_OUT", exc.message
        result.ended = stacks.clock()
        return result
    result.ended = stacks.clock()
    result.status = final["StackStatus"] if final else "GONE"
    if final and result.status in COMPLETE:
        result.outputs = _outputs(final)
        stacks.on_event(sp.name, result.status, f"{result.seconds:.1f} s")
        return result
    result.action = "failed"
    result.reason = stacks.first_failure(sp.name, since) if final else "the stack disappeared"
    stacks.on_event(sp.name, result.status, result.reason)
    return result


def deploy(stacks: Stacks, plan: Plan, discovery: Discovery, *, run_id: str) -> Outcome:
    """Create the plan's stacks in dependency order; a failure skips only its dependents."""
    outcome = Outcome()
    outputs: dict[str, dict[str, str]] = {}
    for key, sp in plan.stacks.items():
        blocked = [d for d in sp.depends_on if not outcome.results[d].ok]
        if blocked:
            outcome.results[key] = StackResult(
                key, sp.name, "skipped", reason=f"needs {', '.join(blocked)}, which did not finish"
            )
            stacks.on_event(sp.name, "SKIPPED", outcome.results[key].reason)
            continue
        parameters = resolve_parameters(
            sp,
            artifact_ids=discovery.artifact_ids(),
            zone_names=discovery.zone_names(),
            outputs=outputs,
        )
        result = _deploy_one(stacks, plan, sp, parameters, run_id)
        outcome.results[key] = result
        outputs[key] = result.outputs
    outcome.api_calls = stacks.calls
    return outcome


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


def teardown(
    stacks: Stacks, env_name: str, order: tuple[str, ...], namespace: str | None = None
) -> list[StackResult]:
    """Delete this environment's stacks, dependents first. Never touches AMIs or snapshots."""
    found = environment_stacks(stacks, env_name, namespace)
    rank = {key: index for index, key in enumerate(order)}

    def position(stack: Mapping[str, Any]) -> int:
        # Stacks the environment file no longer names go first: nothing of ours depends on them.
        return rank.get(tag_dict(stack.get("Tags")).get("relight:stack", ""), len(rank))

    results = []
    for stack in sorted(found, key=position, reverse=True):
        name = stack["StackName"]
        key = tag_dict(stack.get("Tags")).get("relight:stack", name)
        result = StackResult(key, name, "deleted", started=stacks.clock())
        since = datetime.now(UTC)
        try:
            final = stacks.delete(name)
        except (DeployError, AwsError) as exc:
            result.action, result.reason = "delete-failed", exc.message
        else:
            if final is not None:
                result.action, result.status = "delete-failed", final["StackStatus"]
                result.reason = stacks.first_failure(name, since)
            else:
                result.status = "DELETE_COMPLETE"
        result.ended = stacks.clock()
        stacks.on_event(name, result.status or "DELETE_FAILED", result.reason)
        results.append(result)
    return results
