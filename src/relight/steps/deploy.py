"""Step 4 of the data flow: apply a Plan through CloudFormation, each stack as soon as it can start.

relight never creates resources by hand: each stack is one CloudFormation
stack, created with the plan's template, its resolved parameters and relight's
tags. Stacks start the moment their own dependencies are complete (model/scheduler.py),
at most `concurrency` at a time; the outputs of finished stacks become the
parameters of the stacks that use them (never Export/ImportValue: exports cannot
cross regions and block deletes).

Progress is kept: every stack is created with rollback disabled (CloudFormation's
"preserve successfully provisioned resources"), and change sets are executed the same
way, so a failure keeps what was made (a 20-minute database restore is not thrown away
because a later resource failed). This holds for drills and test copies too: a drill
rehearses exactly the path a failover takes, and its teardown removes a failed stack as
readily as a complete one.

A rerun converges:
- a complete stack is updated through a change set, or left alone when the
  change set would change nothing;
- a stack left CREATE_FAILED or UPDATE_FAILED with its progress kept is retried in
  place (UpdateStack with rollback disabled): what it made stays, the rest is made;
- a stack that an earlier run left empty (ROLLBACK_COMPLETE, REVIEW_IN_PROGRESS, ...) is
  deleted and created again; relight lifts its own termination protection to do so;
- a stack still in progress (after Ctrl-C, say) is waited for, then treated as above.

In an estate run (aws/budget.py) each stack's create, update or delete holds one of its
account's stack-operation slots in that region until the stack is done; a stack that finds
them all taken waits, and its progress line says so.

Data is never replaced by a rerun (model/stateful.py): a stack that exists keeps the snapshot
it was restored from, and a change set that would replace or delete a database, cluster
or data volume is refused, unless the operator names the stack (`replace_data`). Nor is a
fleet shrunk (steps/live_scale.py): an existing Auto Scaling group keeps its live size when
that is larger than the plan's, and the run says so; except that prepare deploys the standby's
own size (a prepare plan is refused in a region that serves, and a failback's last phase uses
it to put the recovery region back at its rung).

When a stack fails, the stacks that need it are not started; independent
branches finish.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from relight.aws.cloudformation import (
    CAPABILITIES,
    RETRYABLE,
    Stacks,
    TimedOut,
    classify,
    failure_reason,
    no_changes,
    outputs_of,
)
from relight.errors import AwsError, DeployError
from relight.model.plan import Plan, StackPlan
from relight.model.scheduler import DEFAULT_CONCURRENCY, Scheduler, Task
from relight.model.shapes import tag_list
from relight.model.stateful import Kept, data_losses, pin
from relight.steps.change_sets import change_set_request, describe_changes, parameter_list
from relight.steps.discovery import Discovery
from relight.steps.live_scale import ScaleKept, keep_live_scale
from relight.steps.render import resolve_parameters
from relight.steps.service_role import role_argument, role_dependencies

OK_ACTIONS = {"created", "recreated", "retried", "updated", "unchanged", "deleted"}


@dataclass
class StackResult:
    key: str
    name: str
    action: str  # created, recreated, updated, unchanged, failed, skipped | deleted, ...
    status: str = ""
    started: float | None = None  # the engine's clock (monotonic); None: never started
    ended: float | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    reason: str = ""
    # Stateful parameters kept at the snapshot the stack was restored from (not the newest).
    kept_data: list[Kept] = field(default_factory=list)
    # Resources a failed operation made and CloudFormation kept (rollback disabled).
    kept_resources: list[str] = field(default_factory=list)
    # Teardown: the final snapshots a deleted stack's databases left (never deleted).
    final_snapshots: list[str] = field(default_factory=list)
    # Auto Scaling groups kept at their live size, larger than the plan's (live_scale.py).
    kept_scale: list[ScaleKept] = field(default_factory=list)
    # What the run should say about this stack (a kept size, a size it could not read).
    notes: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        if self.started is None or self.ended is None:
            return 0.0
        return max(0.0, self.ended - self.started)

    @property
    def ok(self) -> bool:
        return self.action in OK_ACTIONS


@dataclass
class Outcome:
    results: dict[str, StackResult] = field(default_factory=dict)
    api_calls: int = 0
    throttled: int = 0
    # The clock's reading and the wall time when the run began: turns clock readings into times.
    origin: float = 0.0
    origin_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results.values())

    def failed(self) -> list[StackResult]:
        return [r for r in self.results.values() if not r.ok]

    @property
    def notes(self) -> list[str]:
        """What the run should say about its stacks, stack by stack."""
        return [note for r in self.results.values() for note in r.notes]

    def at(self, reading: float | None) -> datetime | None:
        if reading is None:
            return None
        return self.origin_at + timedelta(seconds=reading - self.origin)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def blocked_result(name: str, key: str, failed: list[str], why: str) -> StackResult:
    return StackResult(key, name, "skipped", reason=f"{why} {', '.join(failed)}")


class _Run:
    """One deployment: the plan, where it goes, and what finished stacks produced."""

    def __init__(
        self,
        stacks: Stacks,
        plan: Plan,
        discovery: Discovery,
        run_id: str,
        replace_data: frozenset[str] = frozenset(),
        still_held: Callable[[], None] = lambda: None,
        ready: Mapping[str, Mapping[str, str]] | None = None,
        autoscaling: Any = None,
    ) -> None:
        self.stacks = stacks
        # Reads the live size of existing groups (without one, the plan's size is deployed).
        self.autoscaling = autoscaling
        self.plan = plan
        self.run_id = run_id
        self.replace_data = replace_data
        # Raises (LockLost) once this run's lock is no longer its own: asked before every
        # change, so a run that lost its lock stops before its next one.
        self.still_held = still_held
        self.artifact_ids = discovery.artifact_ids()
        self.zone_names = discovery.zone_names()
        # The outputs of finished stacks, first those prepared ahead of time (prepared.py).
        self.outputs: dict[str, dict[str, str]] = {k: dict(v) for k, v in (ready or {}).items()}
        # Failover stacks are protected from an accidental delete; tests and drills are not.
        self.protect = plan.purpose == "failover"

    def task(self, key: str) -> Task[StackResult]:
        sp = self.plan.stacks[key]
        result = StackResult(key, sp.name, "created", started=self.stacks.clock())
        try:
            yield from self._converge(sp, result)
        except TimedOut as exc:
            result.action, result.status, result.reason = "failed", "TIMED_OUT", exc.message
        except (DeployError, AwsError) as exc:
            result.action, result.reason = "failed", failure_reason(exc)
            result.status = result.status or "FAILED"
        result.ended = self.stacks.clock()
        self.outputs[key] = result.outputs
        if result.ok:
            note = "no change" if result.action == "unchanged" else f"{result.seconds:.1f} s"
            self.stacks.on_event(sp.name, result.status, note)
        else:
            self.stacks.on_event(sp.name, result.status, result.reason)
        return result

    def _converge(self, sp: StackPlan, result: StackResult) -> Task[None]:
        s = self.stacks
        self.still_held()
        existing = yield from s.patiently(lambda: s.state(sp.name))
        action, why = classify(existing, self.plan.env_name)
        if action == "wait":
            s.on_event(sp.name, existing["StackStatus"], "in progress from an earlier run; waiting")  # type: ignore[index]
            existing = yield from s.watch(sp.name, s.clock(), None, report=False)
            action, why = classify(existing, self.plan.env_name)
        if action in ("blocked", "wait"):
            result.status = existing["StackStatus"] if existing else ""
            raise DeployError(f"stack {sp.name} in {self.plan.region}: {why}")
        if action == "recreate":
            assert existing is not None
            s.on_event(sp.name, result.status or existing["StackStatus"], why)
            # The stack holds nothing (it rolled back or never started): relight's own
            # termination protection is lifted, or the delete is refused in every state.
            self.still_held()
            role = role_argument(self.plan, sp.key, self.outputs).get("RoleARN")
            protected = bool(existing.get("EnableTerminationProtection"))
            yield from s.delete(sp.name, force=protected, role_arn=role)
            result.action, existing = "recreated", None
        resolved = resolve_parameters(
            sp, artifact_ids=self.artifact_ids, zone_names=self.zone_names, outputs=self.outputs
        )
        holding = yield from self._holds_data(sp, existing)
        result.parameters, result.kept_data = pin(
            resolved, sp.stateful_parameters, existing if holding else None,
            sp.key in self.replace_data,
        )  # fmt: skip
        for kept in result.kept_data:
            s.on_event(sp.name, "DATA_KEPT", f"{kept.parameter}: keeps {kept.kept}")
        if existing is not None and self._keeps_scale(sp):
            yield from self._keep_scale(sp, existing, result)
        if existing and action == "retry":
            s.on_event(sp.name, existing["StackStatus"], why)
            yield from self._retry(sp, existing, result)
        elif existing:
            yield from self._update(sp, existing, result)
        else:
            yield from self._create(sp, result)

    def _keeps_scale(self, sp: StackPlan) -> bool:
        """Whether an existing stack's groups keep their live size: a stack that sizes a
        group, in any plan but a prepare one. Prepare deploys the standby's own size: it is
        refused in a region that serves (commands/failover.py), and a failback's last phase
        uses it to put the recovery region back at its rung, so a fleet the failover left at
        3 goes back to the standby's 1."""
        return (
            self.autoscaling is not None
            and self.plan.phase != "prepare"
            and "DesiredCapacity" in sp.body
        )

    def _keep_scale(
        self, sp: StackPlan, existing: dict[str, Any], result: StackResult
    ) -> Task[None]:
        """An existing group keeps its live size when larger than the plan's (live_scale.py);
        never in a prepare plan (`_keeps_scale`)."""
        s, template = self.stacks, json.loads(sp.body)
        autoscaling = self.autoscaling
        result.parameters, result.kept_scale, unread = yield from s.patiently(
            lambda: keep_live_scale(s, autoscaling, sp.name, template, result.parameters, existing)
        )
        said = [("SIZE_UNREAD", f"{sp.key}: its groups' live size is not known: {unread}")]
        said = said if unread else []  # a kept size is a group's news, not the stack's state
        said += [(f"{kept.logical} SIZE_KEPT", kept.note(sp.key)) for kept in result.kept_scale]
        for status, note in said:
            result.notes.append(note)
            s.on_event(sp.name, status, note)

    def _holds_data(self, sp: StackPlan, existing: dict[str, Any] | None) -> Task[bool]:
        return (yield from self.stacks.patiently(lambda: holds_data(self.stacks, sp, existing)))

    def _create(self, sp: StackPlan, result: StackResult) -> Task[None]:
        final = yield from self.stacks.holding(sp.name, self._creating(sp, result))
        self._finish(sp, result, final, None, "CREATE_COMPLETE")

    def _creating(self, sp: StackPlan, result: StackResult) -> Task[dict[str, Any] | None]:
        s = self.stacks
        started = s.clock()
        self.still_held()
        role = role_argument(self.plan, sp.key, self.outputs)
        try:
            yield from s.send(
                f"create stack {sp.name}",
                s.cfn.create_stack,
                StackName=sp.name,
                **role,
                **s.template_argument(sp.name, sp.body),
                Parameters=parameter_list(result.parameters),
                Tags=tag_list(self.plan.tags(sp.key, self.run_id)),
                Capabilities=CAPABILITIES,
                DisableRollback=True,  # keep what was made; a rerun retries in place
                EnableTerminationProtection=self.protect,
                ClientRequestToken=f"relight-{self.run_id}-{sp.key}"[:128].replace("_", "-"),
            )
        except AwsError as exc:
            result.status = "CREATE_REFUSED"
            raise DeployError(exc.message) from exc
        s.on_event(sp.name, "CREATE_IN_PROGRESS", "")
        return (yield from s.watch(sp.name, started, None))

    def _retry(self, sp: StackPlan, existing: dict[str, Any], result: StackResult) -> Task[None]:
        """CloudFormation's retry from the point of failure, with rollback disabled: what the
        stack made stays, what failed is made again. What changed since (a template, a
        parameter) goes through a change set first, so the data-loss refusal holds for a
        retry too; with nothing changed it is AWS's plain retry (UpdateStack)."""
        s = self.stacks
        made = yield from self._change_set(sp, existing, result)
        result.action = "retried"
        if made is not None:
            yield from self._execute(sp, made, result, "retrying with the change(s)")
            return
        yield from s.holding(sp.name, self._retrying(sp, result))

    def _retrying(self, sp: StackPlan, result: StackResult) -> Task[None]:
        s = self.stacks
        mark = yield from s.patiently(lambda: s.newest_event(sp.name))
        started = s.clock()
        self.still_held()
        role = role_argument(self.plan, sp.key, self.outputs)
        yield from s.send(
            f"retry stack {sp.name}",
            s.cfn.update_stack,
            StackName=sp.name,
            **role,
            **s.template_argument(sp.name, sp.body),
            Parameters=parameter_list(result.parameters),
            Capabilities=CAPABILITIES,
            DisableRollback=True,
        )
        s.on_event(sp.name, "UPDATE_IN_PROGRESS", "retrying from the point of failure")
        final = yield from s.watch(sp.name, started, mark)
        self._finish(sp, result, final, mark, "UPDATE_COMPLETE")

    def _update(self, sp: StackPlan, existing: dict[str, Any], result: StackResult) -> Task[None]:
        made = yield from self._change_set(sp, existing, result)
        if made is None:
            return self._unchanged(result, existing)
        result.action = "updated"
        yield from self._execute(sp, made, result, f"{len(result.changes)} change(s)")

    def _change_set(
        self, sp: StackPlan, existing: dict[str, Any], result: StackResult
    ) -> Task[str | None]:
        """Create and read the change set that brings the stack to the plan; its id, or None
        when it would change nothing. Refused (and deleted) when it would lose data."""
        s = self.stacks
        role = role_argument(self.plan, sp.key, self.outputs).get("RoleARN")
        try:
            made = yield from s.send(
                f"create change set for {sp.name}",
                s.cfn.create_change_set,
                **change_set_request(
                    s,
                    self.plan,
                    sp,
                    existing,
                    result.parameters,
                    name=f"relight-{self.run_id}",
                    run_id=self.run_id,
                    role_arn=role,
                ),
            )
        except AwsError as exc:
            if not no_changes(exc.message):
                raise
            return None
        described = yield from s.change_set(made["Id"])
        if described["Status"] == "FAILED":
            s.discard_change_set(made["Id"])
            reason = described.get("StatusReason", "")
            if no_changes(reason):
                return None
            raise DeployError(f"stack {sp.name}: the change set failed: {reason}")
        result.changes = describe_changes(described["Changes"])
        losses = data_losses(described["Changes"], sp.stateful_resources)
        if losses and sp.key not in self.replace_data:
            s.discard_change_set(made["Id"])
            raise DeployError(
                f"stack {sp.name}: refused, the update would lose data: {'; '.join(losses)}. "
                "Nothing was changed",
                hint=f"if that is meant, rerun with --replace-data {sp.key} (the database "
                "leaves a final snapshot; a volume does not)",
            )
        return str(made["Id"])

    def _execute(
        self, sp: StackPlan, change_set: str, result: StackResult, note: str
    ) -> Task[None]:
        yield from self.stacks.holding(sp.name, self._executing(sp, change_set, result, note))

    def _executing(
        self, sp: StackPlan, change_set: str, result: StackResult, note: str
    ) -> Task[None]:
        s = self.stacks
        mark = yield from s.patiently(lambda: s.newest_event(sp.name))
        started = s.clock()
        self.still_held()
        yield from s.send(
            f"execute change set for {sp.name}",
            s.cfn.execute_change_set,
            ChangeSetName=change_set,
            DisableRollback=True,
        )
        s.on_event(sp.name, "UPDATE_IN_PROGRESS", note)
        final = yield from s.watch(sp.name, started, mark)
        self._finish(sp, result, final, mark, "UPDATE_COMPLETE")

    @staticmethod
    def _unchanged(result: StackResult, existing: dict[str, Any]) -> None:
        result.action, result.status = "unchanged", existing["StackStatus"]
        result.outputs = outputs_of(existing)

    def _finish(
        self,
        sp: StackPlan,
        result: StackResult,
        final: dict[str, Any] | None,
        mark: str | None,
        success: str,
    ) -> None:
        result.status = final["StackStatus"] if final else "GONE"
        if final and result.status == success:
            result.outputs = outputs_of(final)
            return
        result.action = "failed"
        if final is None:
            result.reason = "the stack disappeared while relight waited (deleted by someone else?)"
            return
        result.reason, done = self.stacks.failure(sp.name, mark)
        if result.status in RETRYABLE:
            result.kept_resources = done


def holds_data(stacks: Stacks, sp: StackPlan, existing: Mapping[str, Any] | None) -> bool:
    """Whether the existing stack holds restored data to keep (deploy and plan). A stack a
    failed run left may not: when none of its data holders was made (the restore itself
    failed), its snapshot is not kept, so a retry can use a newer, good one."""
    if existing is None or not sp.stateful_parameters:
        return False
    if existing["StackStatus"] not in RETRYABLE:
        return True
    return bool(stacks.completed_resources(sp.name) & set(sp.stateful_resources))


def deploy(
    stacks: Stacks,
    plan: Plan,
    discovery: Discovery,
    *,
    run_id: str,
    concurrency: int = DEFAULT_CONCURRENCY,
    replace_data: frozenset[str] = frozenset(),
    still_held: Callable[[], None] = lambda: None,
    ready: Mapping[str, Mapping[str, str]] | None = None,
    autoscaling: Any = None,
) -> Outcome:
    """Create or update the plan's stacks, each as soon as its dependencies are complete.

    `replace_data`: the stacks (by key) whose databases and data volumes the operator asked
    to restore again from the newest copies (replacing what runs now). `ready`: the outputs
    of the stacks prepared ahead of time that the plan's stacks read (`Plan.prepared`).
    `autoscaling`: the region's Auto Scaling client, which reads the live size of existing
    groups (live_scale.py); every command passes its connection's."""
    outcome = Outcome(origin=stacks.clock())
    calls, throttled = stacks.calls, stacks.throttled
    run = _Run(stacks, plan, discovery, run_id, replace_data, still_held, ready, autoscaling)

    def blocked(key: str, failed: list[str]) -> StackResult:
        result = blocked_result(plan.stacks[key].name, key, failed, "not started: it needs")
        stacks.on_event(result.name, "SKIPPED", result.reason)
        return result

    scheduler = Scheduler(
        role_dependencies(plan),
        run.task,
        ok=lambda r: r.ok,
        blocked=blocked,
        concurrency=concurrency,
        clock=stacks.clock,
        sleep=stacks.sleep,
    )
    results = scheduler.run()
    outcome.results = {key: results[key] for key in plan.stacks}
    outcome.api_calls = stacks.calls - calls
    outcome.throttled = stacks.throttled - throttled
    return outcome
