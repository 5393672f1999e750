"""A stack's lifecycle as AWS runs it: CreateStack, UpdateStack and DeleteStack on the backend,
each an operation whose steps (resources.py) run one by one, in dependency order, until one
hangs (it goes on at a later request) or the operation ends (failure.py); DeleteStack is
refused while termination protection is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudformation import models, parsing
from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
from moto.cloudformation.utils import generate_stack_id

from relight.standin.extensions.cloudformation.failure import _finish, _waiting
from relight.standin.extensions.cloudformation.order import _order, _references
from relight.standin.extensions.cloudformation.resources import _STEPS
from relight.standin.extensions.cloudformation.state import (
    _LOCK,
    _deletes,
    _event,
    _Operation,
    _Progress,
    _progress,
    _set_status,
    _switch,
)

# relight lifts termination protection on the stand-in as on AWS (teardown --force), so the
# stand-in refuses to delete a protected stack as AWS does; the server's
# `--no-enforce-termination-protection` turns that off.
ENFORCE_TERMINATION_PROTECTION = True


# operations -----------------------------------------------------------------------------------


def _run(stack: Any) -> None:
    """Go on with the stack's operation until it ends or a step hangs."""
    operation = _progress(stack).operation
    if operation is not None and _waiting(stack, operation):
        return
    while operation is not None:
        while operation.steps:
            action, target = operation.steps[0]
            if action == "status":
                operation.steps.pop(0)
                _set_status(stack, target)
                continue
            outcome = _STEPS[action](stack, target, operation)
            if outcome == "hang":
                return
            operation.steps.pop(0)
            if outcome == "failed" and action == "delete":
                if operation.kind != "UPDATE":  # a cleanup failure does not fail an update
                    operation.failed.append(target)
            elif outcome == "failed":
                operation.failed.append(target)
                operation.verb = action
                operation.steps.clear()
        _progress(stack).operation = None
        _finish(stack, operation)
        operation = _progress(stack).operation  # a rollback or delete it started


def _advance(stack: Any) -> None:
    """A hanging operation goes on once its fault is cleared (at the next request)."""
    progress = getattr(stack, "relight_progress", None)
    if progress is not None and progress.operation is not None:
        _run(stack)


def _adopt(stack: Any) -> _Progress:
    """The stack's record; for one this package has not run (a stack set's, a nested stack
    made by moto's own code), what moto made of it counts as made."""
    progress = _progress(stack)
    if not progress.bodies and not progress.resources:
        rmap = stack.resource_map
        progress.bodies = {
            n: b for n, b in rmap._resource_json_map.items() if n in rmap._parsed_resources
        }
    return progress


def _start(stack: Any, operation: _Operation, status: str) -> None:
    stack.resource_map.relight_sealed = True
    _progress(stack).operation = operation
    _set_status(stack, status, "User Initiated")
    stack.stack_status_reason = None
    _run(stack)


# the backend: CreateStack, UpdateStack, DeleteStack -------------------------------------------


def create_stack(
    self: Any,
    name: str,
    template: str,
    parameters: dict[str, Any],
    notification_arns: list[str] | None = None,
    tags: dict[str, str] | None = None,
    role_arn: str | None = None,
    enable_termination_protection: bool | None = False,
    timeout_in_mins: int | None = None,
    stack_policy_body: str | None = None,
    disable_rollback: bool = False,
    on_failure: str = "ROLLBACK",
) -> Any:
    """CreateStack: validated at once, then created resource by resource; a failure ends in
    ROLLBACK_COMPLETE, or CREATE_FAILED keeping what was made with DisableRollback or
    OnFailure DO_NOTHING, or the stack deleted with OnFailure DELETE. Exports exist once the
    stack is complete. AWS: FAILURE_OPTIONS, and
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
    (moto 5.2.5 created everything inside the request and stopped at the first error)."""
    with _LOCK:
        if name in [stack.name for stack in self.stacks.values()]:
            raise AlreadyExistsException(f"Stack {name} already exists")
        stack: Any = models.Stack(  # type: ignore[abstract]
            stack_id=generate_stack_id(name, self.region_name, self.account_id),
            name=name,
            template=template,
            parameters=parameters,
            account_id=self.account_id,
            region_name=self.region_name,
            notification_arns=notification_arns,
            tags=tags,
            role_arn=role_arn,
            cross_stack_resources=self.exports,
            enable_termination_protection=enable_termination_protection,
            timeout_in_mins=timeout_in_mins,
            stack_policy_body=stack_policy_body,
        )
        stack.resource_map.relight_sealed = True
        order = _order(stack.template_dict.get("Resources", {}), strict=True)
        _check_export_names(self, stack)
        self.stacks[stack.stack_id] = stack
        _start_create(
            stack, order, bool(disable_rollback) or on_failure == "DO_NOTHING", on_failure
        )
        return stack


def _start_create(stack: Any, order: list[str], keep: bool, on_failure: str = "ROLLBACK") -> None:
    """A create (CreateStack, a CREATE change set): the resources in `order`, each tagged with
    the stack's name and id; `keep`: rollback disabled."""
    stack.disable_rollback = keep
    stack.resource_map.tags.update(
        {"aws:cloudformation:stack-name": stack.name, "aws:cloudformation:stack-id": stack.stack_id}
    )
    operation = _Operation("CREATE", [("create", n) for n in order], keep, on_failure)
    _start(stack, operation, "CREATE_IN_PROGRESS")


def _check_export_names(backend: Any, stack: Any) -> None:
    """Export names are unique in a region (moto's check, without evaluating the values)."""
    outputs = stack.template_dict.get("Outputs") or {}
    names = [
        parsing.clean_json(o["Export"].get("Name"), stack.resource_map)
        for o in outputs.values()
        if isinstance(o, dict) and o.get("Export")
    ]
    if set(names) & set(backend.exports):
        raise ValidationError(
            stack.stack_id, message="Export names must be unique across a given region"
        )


def _start_update(
    stack: Any, template: str, parameters: dict[str, Any], keep: bool, tags: Any = None
) -> None:
    """An update (UpdateStack, ExecuteChangeSet): create what the template has and the stack
    does not (on a failed stack: what failed or never started: the retry "from the point of
    failure"), update what changed or failed to update, then remove what the template no
    longer has (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS). A failure ends UPDATE_FAILED keeping
    everything with rollback disabled, else UPDATE_ROLLBACK_COMPLETE. AWS: FAILURE_OPTIONS
    ("Retry": update-stack --disable-rollback), STATUS_CODES, and
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html
    (moto 5.2.5 updated only what its diff named, and stored None for a resource it could not
    update)."""
    if stack.status.endswith("_IN_PROGRESS"):  # another operation is not done yet
        raise ValidationError(
            message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
        )
    template_dict = models.Stack.parse_template(template)
    params = parameters or stack.parameters
    probe = parsing.ResourceMap(
        stack.stack_id, stack.name, params, stack.tags, region_name=stack.region_name,
        account_id=stack.account_id, template=template_dict,
        cross_stack_resources=stack.cross_stack_resources,
    )  # fmt: skip
    probe.load()  # a template or parameter that is refused is refused now, changing nothing
    new = template_dict.get("Resources", {})
    order = _order(new, strict=True)
    progress = _adopt(stack)
    flipped = _flipped_conditions(stack.resource_map, probe, template_dict)
    modified = _modified(progress.bodies, new, stack.parameters, params, flipped)
    before = (stack.template, stack.template_dict, dict(stack.parameters))
    _switch(stack, template, template_dict, params)
    if tags:
        stack.tags = tags
    failed_updates = {n for n, r in progress.resources.items() if r.status == "UPDATE_FAILED"}
    steps: list[tuple[str, str]] = []
    for name in order:
        if name not in progress.bodies:
            steps.append(("create", name))
        elif name in modified or name in failed_updates:
            steps.append(("update", name))
    removed = [n for n in progress.bodies if n not in new]
    if removed:
        steps += [("status", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"), *_deletes(stack, removed)]
    _start(stack, _Operation("UPDATE", steps, keep, before=before), "UPDATE_IN_PROGRESS")


def _flipped_conditions(old: Any, new: Any, template: dict[str, Any]) -> set[str]:
    """The template's conditions whose value the update's parameters change (a purpose
    parameter turning deletion protection off through Fn::If, say)."""
    flipped = set()
    for name in template.get("Conditions", {}):
        try:
            if bool(old.lazy_condition_map[name]) != bool(new.lazy_condition_map[name]):
                flipped.add(name)
        except Exception:  # a condition the old template did not have: its resources changed
            flipped.add(name)
    return flipped


def _conditions(node: Any) -> set[str]:
    """The conditions a template fragment uses (Fn::If, Condition)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _conditions(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::If" and isinstance(value, list) and value:
                found.add(str(value[0]))
            elif key == "Condition" and isinstance(value, str):
                found.add(value)
            found |= _conditions(value)
    return found


def _modified(
    made: dict[str, Any],
    new: dict[str, Any],
    old_params: dict[str, Any],
    params: dict[str, Any],
    flipped: set[str] = frozenset(),  # type: ignore[assignment]
) -> set[str]:
    """What an update changes: a resource whose template entry differs, that refers to a
    parameter whose value differs, or that uses a condition whose value flips (moto's own
    diff counts the `Properties: {}` its parsing adds as a change, and ignores conditions)."""

    def plain(body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "Properties": body.get("Properties") or {}}

    changed = {p for p in {*old_params, *params} if old_params.get(p) != params.get(p)}
    modified = {
        name
        for name, body in new.items()
        if name in made
        and (
            plain(made[name]) != plain(body)
            or _references(body) & changed
            or _conditions(body) & flipped
        )
    }
    # A resource reading an attribute that an update of its source changes is changed too:
    # a new launch template version (LatestVersionNumber) updates the group that launches it.
    while more := {
        name
        for name, body in new.items()
        if name in made and name not in modified and _versions_read(body) & modified
    }:
        modified |= more
    return modified


VERSION_ATTRIBUTES = frozenset({"LatestVersionNumber", "DefaultVersionNumber"})


def _versions_read(node: Any) -> set[str]:
    """The resources whose version attributes (VERSION_ATTRIBUTES) a fragment reads."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _versions_read(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::GetAtt":
                parts = value.split(".", 1) if isinstance(value, str) else value
                if isinstance(parts, list) and len(parts) == 2 and parts[1] in VERSION_ATTRIBUTES:
                    found.add(str(parts[0]))
            else:
                found |= _versions_read(value)
    return found


def update_stack(
    self: Any,
    name: str,
    template: str,
    role_arn: str | None,
    parameters: list[dict[str, Any]],
    tags: dict[str, str] | None,
    disable_rollback: bool = False,
) -> Any:
    """UpdateStack (see `_start_update`), parameters resolved as AWS does."""
    with _LOCK:
        stack = self.get_stack(name)
        resolved = {
            p["ParameterKey"]: p["ParameterValue"] for p in parameters if "ParameterValue" in p
        }
        # UsePreviousValue: the value in use; one that was never given is the default, which a
        # parameter left out takes too (moto's own resolution raised KeyError for it).
        resolved.update(
            {
                p["ParameterKey"]: stack.parameters[p["ParameterKey"]]
                for p in parameters
                if p.get("UsePreviousValue") and p["ParameterKey"] in stack.parameters
            }
        )
        stack.role_arn = role_arn
        _start_update(stack, template, resolved, disable_rollback, tags)
        return stack


def delete_stack(self: Any, name_or_stack_id: str) -> None:
    """DeleteStack: every resource's own delete (janitor.delete_resource), dependents first; a
    resource that cannot go leaves the stack DELETE_FAILED with what it still needs, for a
    retry; DELETE_SKIPPED for a retained one. Refused while termination protection is on, when
    enforced; a create that hangs is cancelled; a stack that does not exist is no error. AWS:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html
    (moto 5.2.5 dropped the stack first, and lost it when a resource's delete failed)."""
    with _LOCK:
        live = [s for s in self.stacks.values() if name_or_stack_id in (s.name, s.stack_id)]
        if not live:
            return
        stack = live[0]
        _advance(stack)
        if ENFORCE_TERMINATION_PROTECTION and stack.enable_termination_protection:
            raise ValidationError(
                message=f"Stack [{stack.name}] cannot be deleted while TerminationProtection "
                "is enabled"
            )
        status = stack.status
        if status in ("DELETE_IN_PROGRESS", "DELETE_COMPLETE"):
            return
        if status.startswith("UPDATE") and status.endswith("_IN_PROGRESS"):
            raise ValidationError(
                message=f"Stack [{stack.name}] cannot be deleted while in status {status}"
            )
        progress = _adopt(stack)
        pending = progress.operation
        if pending and pending.kind == "CREATE" and pending.hanging:  # a create that hangs
            _event(stack, pending.hanging[0], "CREATE_FAILED", "Resource creation cancelled")
        _start(stack, _Operation("DELETE", _deletes(stack)),
               "DELETE_IN_PROGRESS")  # fmt: skip


def _advancing(method: Callable[..., Any]) -> Callable[..., Any]:
    """DescribeStacks and every per-stack read first go on with the region's operations that
    hung (one whose fault was cleared ends before it is read)."""

    def read(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            for stack in list(self.stacks.values()):
                _advance(stack)
            return method(self, *args, **kwargs)

    return read
