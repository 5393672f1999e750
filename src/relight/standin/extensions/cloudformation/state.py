"""What the stand-in records of a stack as this package runs it: each resource's state, the
operation in progress, the events AWS shows; and the stack's template, parameters and exports
as its operations change them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from moto.cloudformation import models
from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow

from relight.standin.extensions.cloudformation.order import _order

# The AWS pages the behaviours of this package are played from.
_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/"
FAILURE_OPTIONS = _DOCS + "UserGuide/stack-failure-options.html"  # rollback, DisableRollback
STATUS_CODES = _DOCS + "UserGuide/view-stack-events.html"  # stack and resource status codes
_LOCK = threading.RLock()  # the server runs requests in threads; stack operations run one by one


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
    started: float = field(default_factory=time.monotonic)  # a slow stack (faults.py) waits on it


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
