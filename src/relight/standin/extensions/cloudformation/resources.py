"""One resource at a time: a step of a stack operation creates, updates or deletes one resource
through moto's own code (its models, or those of extensions/ec2.py and extensions/rds/), with
the resource's events, and records what it made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudformation import models, parsing

from relight.standin.extensions.autoscaling import launch_version, roll
from relight.standin.extensions.cloudformation.failure import _begin
from relight.standin.extensions.cloudformation.order import _needed_by
from relight.standin.extensions.cloudformation.state import (
    _event,
    _Operation,
    _Progress,
    _progress,
    _reason,
)
from relight.standin.janitor import delete_resource


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
    rolling = body.get("Type") == "AWS::AutoScaling::AutoScalingGroup" and bool(
        body.get("UpdatePolicy", {}).get("AutoScalingRollingUpdate")
    )
    before = launch_version(rmap._parsed_resources.get(logical_id)) if rolling else None
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
        if rolling and (replaced := roll(changed, before)):
            note = f"rolling update: {replaced} instance(s) replaced"
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
