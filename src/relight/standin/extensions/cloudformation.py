"""CloudFormation as AWS plays it, where moto 5.2.5 does not (see extensions/__init__.py).

What was measured against moto 5.2.5 (shared/notes/local-stand-in.md), before these additions:

- a resource that failed made CreateStack itself answer with the service's error (HTTP 500 for
  moto's own crashes) and left the stack CREATE_IN_PROGRESS forever: no CREATE_FAILED, no
  rollback, no per-resource events (only the stack's own), `DisableRollback` and `OnFailure`
  ignored; UpdateStack refused the retry of a failed stack ("No updates are to be performed.");
- DeleteStack removed the stack from its listings first, then deleted its resources without
  removing route tables, routes, associations, gateway attachments, internet and NAT gateways,
  Elastic IPs, VPC endpoints, flow logs, volumes, target groups, listeners or health checks: the
  VPC's own delete then failed (DependencyViolation) and the VPC was orphaned with no stack left
  to retry; termination protection was neither settable (UpdateTerminationProtection: HTTP 500)
  nor enforced;
- DescribeStacks, ListStackResources and the stack's outputs created, as a side effect, any
  resource of the template not made yet (a failed stack's, a deleted stack's);
- an executed change set updated neither the stack's parameters nor, for a new stack, its
  outputs.

What the stand-in does instead, each the AWS behaviour named where it is done below:

- a stack operation creates, updates and deletes its resources one by one in dependency order
  (DependsOn, Ref, Fn::GetAtt, Fn::Sub), each with its own events (`*_IN_PROGRESS`,
  `*_COMPLETE`, `*_FAILED` with a ResourceStatusReason); CreateStack answers once the template
  is valid, and what a resource's failure does to the stack follows the stack's failure options;
- a fault (faults.py) can make a resource fail or hang; a hanging operation goes on when a later
  request finds its fault cleared (or its `seconds` passed);
- DeleteStack removes what each resource made, in reverse dependency order, and a stack whose
  delete failed stays DELETE_FAILED (with what is left) for a retry;
- throttles (faults.py) refuse calls before they run, as AWS does under load.

moto still runs each resource's own create, update and delete (its models, or those of
extensions/ec2.py and extensions/rds.py, which win in moto's model map); this module only
decides when they run and what the stack records. Custom resources, stack sets,
TimeoutInMinutes and rolling back a modified resource (only resources an update added are
removed by its rollback) stay as moto has them. Written against moto 5.2.5.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import Any

from moto.cloudformation import models, parsing, responses
from moto.cloudformation.exceptions import AlreadyExistsException, ValidationError
from moto.cloudformation.utils import generate_stack_id
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.core.utils import utcnow

from relight.model.faults import ResourceFault
from relight.model.shapes import tag_dict
from relight.standin.faults import REGISTRY
from relight.standin.janitor import delete_resource

# The AWS pages the behaviours below are played from.
_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/"
FAILURE_OPTIONS = _DOCS + "UserGuide/stack-failure-options.html"  # rollback, DisableRollback
STATUS_CODES = _DOCS + "UserGuide/view-stack-events.html"  # stack and resource status codes
# relight lifts termination protection on the stand-in as on AWS (teardown --force), so the
# stand-in refuses to delete a protected stack as AWS does; the server's
# `--no-enforce-termination-protection` turns that off.
ENFORCE_TERMINATION_PROTECTION = True
# When AWS shows a stack's outputs: once what they name exists.
_OUTPUT_STATES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "IMPORT_COMPLETE",
}
_LOCK = threading.RLock()  # the server runs requests in threads; stack operations run one by one
_installed: list[bool] = []


# what the stand-in records of a stack ---------------------------------------------------------


@dataclass
class _Resource:
    type: str
    status: str
    reason: str = ""
    physical_id: str | None = None
    updated: Any = field(default_factory=utcnow)


@dataclass
class _Operation:
    kind: str  # CREATE, ROLLBACK, UPDATE, UPDATE_ROLLBACK, DELETE
    steps: list[tuple[str, str]]  # (create | update | delete | status, logical id | status)
    keep: bool = False  # rollback disabled: what was made stays, the stack ends *_FAILED
    on_failure: str = "ROLLBACK"  # CREATE: ROLLBACK, DELETE or DO_NOTHING
    made: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    verb: str = "create"  # what failed: create, update or delete
    kept: set[str] = field(default_factory=set)  # delete: still needed by what failed to go
    hanging: tuple[str, float] | None = None  # (logical id, since) of the step that hangs
    before: tuple[Any, ...] | None = None  # UPDATE: the template and parameters to go back to


@dataclass
class _Progress:
    resources: dict[str, _Resource] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # made: its template entry
    operation: _Operation | None = None


def _progress(stack: Any) -> _Progress:
    found: _Progress | None = getattr(stack, "relight_progress", None)
    if found is None:
        found = _Progress()
        stack.relight_progress = found
    return found


def _backend(stack: Any) -> Any:
    return models.cloudformation_backends[stack.account_id][stack.region_name]


# dependency order -----------------------------------------------------------------------------

_SUB = re.compile(r"\$\{([^!}][^}]*)\}")


def _references(node: Any) -> set[str]:
    """Names a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub), resources or not."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) and value else str(value)
                found.add(str(target).split(".")[0])
            elif key == "Fn::Sub":
                text, names = (value, {}) if isinstance(value, str) else (value[0], value[1:])
                variables = names[0] if names and isinstance(names[0], dict) else {}
                found |= {m.split(".")[0] for m in _SUB.findall(str(text))} - set(variables)
                found |= _references(variables)
            else:
                found |= _references(value)
    return found


def _dependencies(resources: dict[str, Any], strict: bool = False) -> dict[str, set[str]]:
    """Each resource's dependencies among `resources`; `strict`: a DependsOn naming no
    resource of the template is refused, as AWS refuses it."""
    graph = {}
    for name, body in resources.items():
        depends = body.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        unknown = [d for d in depends if d not in resources]
        if unknown and strict:
            raise ValidationError(
                message="Template format error: Unresolved resource dependencies "
                f"[{', '.join(unknown)}] in the Resources block of the template"
            )
        refs = _references({k: v for k, v in body.items() if k != "DependsOn"})
        graph[name] = (set(depends) | refs) & set(resources) - {name}
    return graph


def _order(resources: dict[str, Any], strict: bool = False) -> list[str]:
    """The resources, each after those it needs; AWS refuses a template with a cycle."""
    try:
        return list(TopologicalSorter(_dependencies(resources, strict)).static_order())
    except CycleError as exc:
        cycle = sorted(set(exc.args[1]))
        raise ValidationError(
            message="Template format error: Circular dependency between resources: "
            f"[{', '.join(cycle)}]"
        ) from exc


def _needed_by(resources: dict[str, Any], name: str) -> set[str]:
    """Everything `name` needs, directly or not (what must stay while it does)."""
    graph, needed, todo = _dependencies(resources), set[str](), [name]
    while todo:
        for other in graph.get(todo.pop(), set()) - needed:
            needed.add(other)
            todo.append(other)
    return needed


# events and resource states -------------------------------------------------------------------


def _event(stack: Any, logical_id: str, status: str, reason: str = "") -> None:
    """One event, and the resource's state as List/DescribeStackResources report it."""
    if logical_id == stack.name:
        stack._add_stack_event(status, resource_status_reason=reason or None)
        return
    progress = _progress(stack)
    body = progress.bodies.get(logical_id) or stack.resource_map._resource_json_map.get(
        logical_id, {}
    )
    made = stack.resource_map._parsed_resources.get(logical_id)
    physical = None
    if made is not None and not isinstance(made, str | dict | list):
        try:
            physical = str(made.physical_resource_id)
        except Exception:  # a moto model without one
            physical = None
    record = progress.resources.setdefault(logical_id, _Resource(body.get("Type", ""), status))
    record.status, record.reason, record.updated = status, reason, utcnow()
    record.physical_id = physical or record.physical_id
    event = models.Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=record.physical_id or "",
        resource_type=record.type,
        resource_status=status,
        resource_status_reason=reason or None,
        resource_properties=None,
    )
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)


def _set_status(stack: Any, status: str, reason: str = "") -> None:
    stack.status = status
    stack.stack_status_reason = reason or None
    _event(stack, stack.name, status, reason)


def _reason(exc: Exception, resource_type: str) -> str:
    """A moto error as CloudFormation words a resource's failure; moto's own crash as one."""
    code = getattr(exc, "error_type", None) or getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, ServiceException) or isinstance(code, str):
        service = resource_type.split("::")[1] if resource_type.count("::") >= 2 else "AWS"
        return f"{message} (Service: {service}, Status Code: 400, Error Code: {code})"
    return f"stand-in: moto failed on this {resource_type}: {type(exc).__name__}: {exc}"


def _failed_list(verb: str, names: list[str]) -> str:
    return f"The following resource(s) failed to {verb}: [{', '.join(names)}]. "


# one resource at a time -----------------------------------------------------------------------


def _fault(
    stack: Any, logical_id: str, action: str, operation: _Operation
) -> tuple[str, str] | None:
    """What a fault (faults.py) makes of this step: None (go on), ("hang", "") until the fault
    is cleared or its seconds are up (the step's *_IN_PROGRESS event is made as it starts), or
    ("fail", the reason)."""
    fault: ResourceFault | None = REGISTRY.resource_fault(
        stack.region_name, stack.name, logical_id, action
    )
    if fault is None:
        return None
    where = {"region": stack.region_name, "stack": stack.name, "resource": logical_id}
    if fault.mode == "fail":
        REGISTRY.record(kind="fail", action=action, **where)
        return "fail", fault.reason(logical_id)
    if operation.hanging is None or operation.hanging[0] != logical_id:
        operation.hanging = (logical_id, time.monotonic())
        REGISTRY.record(kind="hang", action=action, **where)
        _event(stack, logical_id, f"{action.upper()}_IN_PROGRESS")
    if fault.seconds is not None and time.monotonic() - operation.hanging[1] >= fault.seconds:
        return None
    return "hang", ""


def _begin(stack: Any, logical_id: str, action: str, operation: _Operation) -> str | None:
    """Start a step: "hang", "failed" (a fault, its events made), or None: go on, its
    *_IN_PROGRESS event made (once: a hang made it already)."""
    found = _fault(stack, logical_id, action, operation)
    if found and found[0] == "hang":
        return "hang"
    hung = operation.hanging is not None and operation.hanging[0] == logical_id
    operation.hanging = None
    if not hung:
        _event(stack, logical_id, f"{action.upper()}_IN_PROGRESS")
    if found:
        _event(stack, logical_id, f"{action.upper()}_FAILED", found[1])
        return "failed"
    return None


def _create(stack: Any, logical_id: str, operation: _Operation) -> str:
    rmap, progress = stack.resource_map, _progress(stack)
    body = rmap._resource_json_map[logical_id]
    condition = body.get("Condition")
    if logical_id in progress.bodies or (condition and not rmap.lazy_condition_map[condition]):
        return "done"
    stopped = _begin(stack, logical_id, "create", operation)
    if stopped:
        return stopped
    rmap.relight_sealed = False
    try:
        made = rmap[logical_id]
    except Exception as exc:  # any failure of moto's: the resource's, never the request's
        _event(stack, logical_id, "CREATE_FAILED", _reason(exc, body.get("Type", "")))
        return "failed"
    finally:
        rmap.relight_sealed = True
    if isinstance(made, models.Stack) and made.status != "CREATE_COMPLETE":
        why = f"Embedded stack {made.stack_id} was not successfully created: {made.status}"
        _event(stack, logical_id, "CREATE_FAILED", why)
        return "failed"
    _tag(rmap, logical_id, made)
    progress.bodies[logical_id] = body
    operation.made.append(logical_id)
    note = "" if made is not None else f"stand-in: not simulated (moto has no {body['Type']})"
    _event(stack, logical_id, "CREATE_COMPLETE", note)
    for other in list(rmap._parsed_resources):  # made on the way, by a reference not foreseen
        if other in rmap._resource_json_map and other not in progress.bodies:
            progress.bodies[other] = rmap._resource_json_map[other]
            operation.made.append(other)
            _event(stack, other, "CREATE_COMPLETE")
    return "done"


def _tag(rmap: Any, logical_id: str, made: Any) -> None:
    """As moto's ResourceMap.create does: EC2 resources carry the aws:cloudformation tags."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.core import TaggedEC2Resource

    resource: Any = made
    if isinstance(made, TaggedEC2Resource):
        rmap.tags["aws:cloudformation:logical-id"] = logical_id
        backend = ec2_backends[rmap._account_id][rmap._region_name]
        backend.create_tags([resource.physical_resource_id], rmap.tags)


def _update(stack: Any, logical_id: str, operation: _Operation) -> str:
    rmap, progress = stack.resource_map, _progress(stack)
    if logical_id not in progress.bodies:
        return _create(stack, logical_id, operation)
    body = rmap._resource_json_map[logical_id]
    stopped = _begin(stack, logical_id, "update", operation)
    if stopped:
        return stopped
    try:
        changed = parsing.parse_and_update_resource(
            logical_id, body, rmap, account_id=stack.account_id, region_name=stack.region_name
        )
    except Exception as exc:
        _event(stack, logical_id, "UPDATE_FAILED", _reason(exc, body.get("Type", "")))
        return "failed"
    note = ""
    if changed is None:  # moto stored None here: the resource was lost to the stack
        note = f"stand-in: moto cannot update {body['Type']} in place; it is kept as it was"
    else:
        rmap._parsed_resources[logical_id] = changed
    progress.bodies[logical_id] = body
    _event(stack, logical_id, "UPDATE_COMPLETE", note)
    return "done"


def _delete(stack: Any, logical_id: str, operation: _Operation) -> str:
    rmap, progress = stack.resource_map, _progress(stack)
    body = progress.bodies.get(logical_id)
    if body is None or logical_id in operation.kept:
        record = progress.resources.get(logical_id)
        if body is None and record and record.status in ("CREATE_FAILED", "CREATE_IN_PROGRESS"):
            _event(stack, logical_id, "DELETE_COMPLETE")
        return "done"
    policy = body.get("DeletionPolicy")
    if policy == "Retain" or (policy == "RetainExceptOnCreate" and operation.kind != "ROLLBACK"):
        _event(stack, logical_id, "DELETE_SKIPPED")
        _forget(rmap, progress, logical_id)
        return "done"
    stopped = _begin(stack, logical_id, "delete", operation)
    if stopped == "failed":
        operation.kept |= _needed_by({**progress.bodies}, logical_id)
    if stopped:
        return stopped
    made = rmap._parsed_resources.get(logical_id)
    try:
        if made is not None and not isinstance(made, str | dict | list):
            delete_resource(rmap, made, body)
    except Exception as exc:
        _event(stack, logical_id, "DELETE_FAILED", _reason(exc, body.get("Type", "")))
        operation.kept |= _needed_by({**progress.bodies}, logical_id)
        return "failed"
    _event(stack, logical_id, "DELETE_COMPLETE")
    _forget(rmap, progress, logical_id)
    return "done"


def _forget(rmap: Any, progress: _Progress, logical_id: str) -> None:
    rmap._parsed_resources.pop(logical_id, None)
    progress.bodies.pop(logical_id, None)


_STEPS: dict[str, Callable[[Any, str, _Operation], str]] = {
    "create": _create,
    "update": _update,
    "delete": _delete,
}


# operations -----------------------------------------------------------------------------------


def _run(stack: Any) -> None:
    """Go on with the stack's operation until it ends or a step hangs."""
    operation = _progress(stack).operation
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


def _deletes(stack: Any, names: list[str] | None = None) -> list[tuple[str, str]]:
    """Delete steps for `names` (None: every resource of the stack): those that failed to be
    made first (nothing to delete, their DELETE_COMPLETE is all), then what was made,
    dependents first."""
    progress = _progress(stack)
    bodies, records = progress.bodies, progress.resources
    names = list({**records, **bodies}) if names is None else names
    never = [n for n in names if n not in bodies and n in records]
    order = _order({n: bodies[n] for n in names if n in bodies})
    return [("delete", name) for name in [*never, *reversed(order)]]


# How an operation that deletes ends: (with a failed delete, without).
_DELETE_ENDS = {
    "ROLLBACK": ("ROLLBACK_FAILED", "ROLLBACK_COMPLETE"),
    "UPDATE_ROLLBACK": ("UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE"),
    "DELETE": ("DELETE_FAILED", "DELETE_COMPLETE"),
}


def _finish(stack: Any, operation: _Operation) -> None:
    """The stack's state when an operation ends: AWS's, per the failure options
    (Troubleshooting: "Choose how to handle failures when provisioning resources",
    FAILURE_OPTIONS; DescribeStacks' StackStatus, the stack status codes)."""
    if operation.kind == "CREATE":
        _finish_create(stack, operation)
    elif operation.kind == "UPDATE":
        _finish_update(stack, operation)
    else:
        failed_status, done_status = _DELETE_ENDS[operation.kind]
        if operation.failed:
            _set_status(stack, failed_status, _failed_list("delete", operation.failed))
        else:
            _set_status(stack, done_status)
            if operation.kind == "DELETE":
                _gone(stack)


def _finish_create(stack: Any, operation: _Operation) -> None:
    """CREATE_COMPLETE (once custom resources have answered: moto's own wait); else
    CREATE_FAILED keeping what was made, or a rollback, or a delete (OnFailure)."""
    progress, failed = _progress(stack), operation.failed
    if failed and operation.keep:
        _set_status(stack, "CREATE_FAILED", _failed_list("create", failed))
    elif failed:
        delete = operation.on_failure == "DELETE"
        why = "Delete requested by user." if delete else "Rollback requested by user."
        _set_status(stack, "DELETE_IN_PROGRESS" if delete else "ROLLBACK_IN_PROGRESS",
                    _failed_list("create", failed) + why)  # fmt: skip
        steps = _deletes(stack)
        progress.operation = _Operation("DELETE" if delete else "ROLLBACK", steps)
    else:
        made = [stack.resource_map._parsed_resources.get(n) for n in progress.bodies]
        if all(m is None or isinstance(m, str | dict | list) or m.is_created() for m in made):
            _publish_exports(stack)
            stack.mark_creation_complete()
            stack.stack_status_reason = None


def _finish_update(stack: Any, operation: _Operation) -> None:
    """UPDATE_COMPLETE; else UPDATE_FAILED keeping everything, or a rollback to the template
    and parameters before, removing what the update added."""
    failed = operation.failed
    if not failed:
        _withdraw_exports(stack)
        _publish_exports(stack)
        _set_status(stack, "UPDATE_COMPLETE")
    elif operation.keep:
        _set_status(stack, "UPDATE_FAILED", _failed_list(operation.verb, failed))
    else:
        _set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", _failed_list(operation.verb, failed))
        _switch(stack, *(operation.before or ()))
        steps = _deletes(stack, operation.made)
        steps.append(("status", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"))
        _progress(stack).operation = _Operation("UPDATE_ROLLBACK", steps)


def _publish_exports(stack: Any) -> None:
    backend = _backend(stack)
    for export in stack.exports:
        backend.exports[export.name] = export


def _withdraw_exports(stack: Any) -> None:
    backend = _backend(stack)
    for name, export in list(backend.exports.items()):
        if export.exporting_stack_id == stack.stack_id:
            backend.exports.pop(name)


def _gone(stack: Any) -> None:
    """DELETE_COMPLETE: out of the listings, found only by its id (as AWS keeps it 90 days)."""
    backend = _backend(stack)
    _withdraw_exports(stack)
    backend.stacks.pop(stack.stack_id, None)
    backend.deleted_stacks[stack.stack_id] = stack


def _switch(stack: Any, template: Any, template_dict: Any, parameters: Any) -> None:
    """Make `template` and `parameters` the stack's (and its resource map's)."""
    stack.template, stack.template_dict, stack.parameters = template, template_dict, parameters
    stack.description = template_dict.get("Description")
    rmap = stack.resource_map
    rmap._template, rmap.input_parameters = template_dict, parameters
    rmap.load_mapping()
    rmap.load_parameters()
    rmap.load_conditions()
    rmap._resource_json_map = template_dict.get("Resources", {})
    stack.output_map = stack._create_output_map()


def _advance(stack: Any) -> None:
    """A hanging operation goes on once its fault is cleared (at the next request)."""
    progress = getattr(stack, "relight_progress", None)
    if progress is not None and progress.operation is not None:
        _run(stack)


def _adopt(stack: Any) -> _Progress:
    """The stack's record; for one this module has not run (a stack set's, a nested stack
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


# the backend: CreateStack, UpdateStack, ExecuteChangeSet, DeleteStack ------------------------


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
    return {
        name
        for name, body in new.items()
        if name in made
        and (
            plain(made[name]) != plain(body)
            or _references(body) & changed
            or _conditions(body) & flipped
        )
    }


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


def execute_change_set(
    self: Any, change_set_name: str, stack_name: str | None = None, disable_rollback: bool = False
) -> None:
    """ExecuteChangeSet, with its DisableRollback: an UPDATE change set is an update (see
    `_start_update`); a CREATE one creates the stack it was made for, outputs and all. AWS:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ExecuteChangeSet.html
    (moto 5.2.5 ignored DisableRollback and failures, and kept the stack's old parameters)."""
    with _LOCK:
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        if change_set.change_set_type == "CREATE":
            _switch(stack, change_set.template, change_set.template_dict, change_set.parameters)
            order = _order(change_set.template_dict.get("Resources", {}), strict=True)
            _start_create(stack, order, bool(disable_rollback))
        else:
            _start_update(
                stack, change_set.template, change_set.parameters, disable_rollback,
                change_set.tags,
            )  # fmt: skip
        change_set.execution_status = "EXECUTE_COMPLETE"


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


# the API: what moto's responses do not take or report -----------------------------------------


def _create_stack_response(self: Any) -> ActionResult:
    """CreateStack with DisableRollback or OnFailure (not both, as AWS refuses; moto 5.2.5
    took neither)."""
    disable_rollback = self._get_param("DisableRollback")
    on_failure = self._get_param("OnFailure")
    if disable_rollback is not None and on_failure:
        raise ValidationError(message="You cannot specify both DisableRollback and OnFailure.")
    body = self._get_param("TemplateBody")
    if self._get_param("TemplateURL"):
        body = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
    stack = self.cloudformation_backend.create_stack(
        name=self._get_param("StackName"),
        template=body,
        parameters=self._get_params_from_list(self._get_param("Parameters", [])),
        notification_arns=self._get_param("NotificationARNs", []),
        tags=tag_dict(self._get_param("Tags", [])),
        role_arn=self._get_param("RoleARN"),
        enable_termination_protection=self._get_param("EnableTerminationProtection"),
        timeout_in_mins=self._get_param("TimeoutInMinutes"),
        stack_policy_body=self._get_param("StackPolicyBody"),
        disable_rollback=bool(disable_rollback),
        on_failure=on_failure or "ROLLBACK",
    )
    return ActionResult({"StackId": stack.stack_id})


_UPDATABLE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}


def _update_stack_response(self: Any) -> ActionResult:
    """UpdateStack: a stack left CREATE_FAILED or UPDATE_FAILED is retried with DisableRollback
    only, and then even with nothing changed (moto 5.2.5 answered "No updates are to be
    performed."); a stack in progress, rolled back or failing its delete is refused. AWS:
    FAILURE_OPTIONS, STATUS_CODES; texts as tests/fakes.py and docs/aws-behaviours.md (C4, C7)
    have them."""
    name = self._get_param("StackName")
    stack = self.cloudformation_backend.get_stack(name)
    body = self._get_param("TemplateBody")
    if self._get_bool_param("UsePreviousTemplate", False):
        body = stack.template
    elif not body and self._get_param("TemplateURL"):
        body = self._get_stack_from_s3_url(self._get_param("TemplateURL"))
    incoming = self._get_param("Parameters", [])
    for param in incoming:
        if param.get("UsePreviousValue") and param.get("ParameterValue"):
            raise ValidationError(
                message=f"Invalid input for parameter key {param['ParameterKey']}. Cannot "
                "specify usePreviousValue as true and non empty value for a parameter"
            )
    tags = tag_dict(self._get_param("Tags", [])) or None
    disable_rollback = bool(self._get_param("DisableRollback"))
    retry = stack.status in ("CREATE_FAILED", "UPDATE_FAILED")
    if retry and not disable_rollback:
        raise ValidationError(
            message=f"This stack is currently in a non-terminal [{stack.status}] state. To "
            "update the stack from this state, please use the disable-rollback parameter with "
            "update-stack API. To rollback to the last known good state, use the rollback-stack "
            "API"
        )
    if not retry and stack.status not in _UPDATABLE:
        raise ValidationError(
            message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
        )
    if not retry:
        self._validate_different_update(incoming, body, stack)
    self.cloudformation_backend.update_stack(
        name=name, template=body, role_arn=self._get_param("RoleARN"), parameters=incoming,
        tags=tags, disable_rollback=disable_rollback,
    )  # fmt: skip
    return ActionResult({"StackId": stack.stack_id})


def _execute_change_set_response(self: Any) -> Any:
    """ExecuteChangeSet with its DisableRollback (moto 5.2.5 ignored it)."""
    self.cloudformation_backend.execute_change_set(
        stack_name=self._get_param("StackName"),
        change_set_name=self._get_param("ChangeSetName"),
        disable_rollback=bool(self._get_param("DisableRollback")),
    )
    return EmptyResult()


def _update_termination_protection_response(self: Any) -> ActionResult:
    """UpdateTerminationProtection, reported by DescribeStacks (moto 5.2.5: HTTP 500). AWS:
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateTerminationProtection.html
    """
    stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
    stack.enable_termination_protection = bool(self._get_param("EnableTerminationProtection"))
    return ActionResult({"StackId": stack.stack_id})


class _ResourceView:
    """One resource as DescribeStackResource(s) and ListStackResources show it."""

    def __init__(self, stack: Any, name: str, record: _Resource) -> None:
        self.stack_id, self.stack_name = stack.stack_id, stack.name
        self.logical_resource_id, self.physical_resource_id = name, record.physical_id
        self.resource_type, self.resource_status = record.type, record.status
        self.resource_status_reason = record.reason or None
        self.timestamp = self.last_updated_timestamp = record.updated


def _views(stack: Any, logical_id: str | None = None) -> list[_ResourceView]:
    return [
        _ResourceView(stack, name, record)
        for name, record in _progress(stack).resources.items()
        if record.status != "DELETE_COMPLETE" and logical_id in (None, name)
    ]


def _resources_of(original: Callable[..., Any], key: str, one: bool = False) -> Any:
    """ListStackResources, DescribeStackResources, DescribeStackResource: each resource in its
    own state, with its reason (moto 5.2.5 said CREATE_COMPLETE, or the stack's status, for all,
    and listing them made those not made yet); a stack this module never ran (a stack set's) is
    answered as moto does."""

    def answer(self: Any) -> Any:
        stack = self.cloudformation_backend.get_stack(self._get_param("StackName"))
        if not _progress(stack).resources:
            return original(self)
        logical_id = self._get_param("LogicalResourceId")
        found = _views(stack, logical_id)
        if one and not found:
            raise ValidationError(
                stack.name, f"Resource {logical_id} does not exist for stack {stack.name}"
            )
        return ActionResult({key: found[0] if one else found})

    return answer


# throttling -----------------------------------------------------------------------------------


class _Throttled(ServiceException):
    code = "Throttling"
    message = "Rate exceeded"


def _throttling(service: str) -> ServiceException:
    """The error AWS answers a throttled call with, per API family: CloudFormation's (query)
    `Throttling: Rate exceeded` (docs/aws-behaviours.md, C2;
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/CommonErrors.html),
    EC2's `RequestLimitExceeded`, JSON APIs' `ThrottlingException`."""
    if service == "ec2":
        return _Throttled("RequestLimitExceeded", "Request limit exceeded.")
    from moto.core.utils import get_service_model

    try:
        protocol = get_service_model(service).metadata.get("protocol", "query")
    except Exception:
        protocol = "query"
    if protocol in ("json", "rest-json"):
        return _Throttled("ThrottlingException", "Rate exceeded")
    return _Throttled()


def _throttled(call_action: Callable[..., Any]) -> Callable[..., Any]:
    """Every API call first asks the registry (faults.py) whether a throttle refuses it."""

    def call(self: Any) -> Any:
        service = self.boto3_service_name or self.service_name or ""
        try:
            action, region = self._get_action() or "", self.region
        except Exception:  # not a request moto can name: not ours to refuse
            return call_action(self)
        if not REGISTRY.throttled(service, action, region):
            return call_action(self)
        status, headers, body = self.serialized(ActionResult(_throttling(service)))
        headers["status"] = status
        status, headers, body = self._transform_response(self.response_headers, (body, headers))
        return (status, *self._enrich_response(headers, body))

    return call


# views of a stack -----------------------------------------------------------------------------


def _outputs(original: Any) -> property:
    """Outputs once the stack is complete (reading them never creates what they name)."""

    def outputs(self: Any) -> Any:
        if getattr(self, "relight_progress", None) is not None and self.status not in (
            _OUTPUT_STATES
        ):
            return None
        return original.fget(self)

    return property(outputs)


def _stack_resources(self: Any) -> list[Any]:
    """The resources the stack made (moto's lazy map made any it was asked for)."""
    rmap = self.resource_map
    return [
        made
        for name, made in rmap._parsed_resources.items()
        if name in rmap._resource_json_map and not isinstance(made, str | dict | list | None)
    ]


def _sealed(getitem: Callable[..., Any]) -> Callable[..., Any]:
    """Outside a create step, a resource not made is None, never made on the spot."""

    def get(self: Any, key: str) -> Any:
        if (
            getattr(self, "relight_sealed", False)
            and key not in self._parsed_resources
            and key in self._resource_json_map
        ):
            return None
        return getitem(self, key)

    return get


def install() -> None:
    """Install the additions above (once per process), before the server's first request."""
    if _installed:
        return
    backend, stack, response = (
        models.CloudFormationBackend, models.Stack, responses.CloudFormationResponse
    )  # fmt: skip
    backend.create_stack = create_stack  # type: ignore[method-assign]
    backend.update_stack = update_stack  # type: ignore[method-assign]
    backend.execute_change_set = execute_change_set  # type: ignore[method-assign]
    backend.delete_stack = delete_stack  # type: ignore[method-assign]
    backend.describe_stacks = _advancing(backend.describe_stacks)  # type: ignore[method-assign]
    backend.get_stack = _advancing(backend.get_stack)  # type: ignore[method-assign]
    stack.outputs = _outputs(stack.outputs)  # type: ignore[method-assign,assignment]
    stack.stack_resources = property(_stack_resources)  # type: ignore[method-assign,assignment]
    parsing.ResourceMap.__getitem__ = _sealed(  # type: ignore[method-assign]
        parsing.ResourceMap.__getitem__
    )
    response.create_stack = _create_stack_response  # type: ignore[method-assign]
    response.update_stack = _update_stack_response  # type: ignore[method-assign]
    response.execute_change_set = _execute_change_set_response  # type: ignore[method-assign]
    response.update_termination_protection = (  # type: ignore[attr-defined]
        _update_termination_protection_response
    )
    response.list_stack_resources = _resources_of(  # type: ignore[method-assign]
        response.list_stack_resources, "StackResourceSummaries"
    )
    response.describe_stack_resources = _resources_of(  # type: ignore[method-assign]
        response.describe_stack_resources, "StackResources"
    )
    response.describe_stack_resource = _resources_of(  # type: ignore[method-assign]
        response.describe_stack_resource, "StackResourceDetail", one=True
    )
    BaseResponse.call_action = _throttled(BaseResponse.call_action)  # type: ignore[method-assign]
    _installed.append(True)
