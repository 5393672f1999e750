"""What makes a stack operation fail, and what its failure does to the stack.

The fault injection of standin/faults.py: a step that fails or hangs (`_begin`, at each step of
resources.py), an operation of a slow stack that waits before it starts (`_waiting`), and a call
a throttle refuses before it runs (`_throttled`, on every API call);
then how an operation ends, per the stack's failure options (FAILURE_OPTIONS): complete, rolled
back, deleted (OnFailure DELETE), or *_FAILED keeping what was made (DisableRollback)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult

from relight.model.faults import ResourceFault
from relight.standin.extensions.cloudformation.state import (
    _deletes,
    _event,
    _failed_list,
    _gone,
    _Operation,
    _progress,
    _publish_exports,
    _set_status,
    _switch,
    _withdraw_exports,
)
from relight.standin.faults import REGISTRY

# fault injection ------------------------------------------------------------------------------


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


# An operation's kind → the action a slow stack (faults.py) names; rollbacks are not slowed.
_SLOWED = {"CREATE": "create", "UPDATE": "update", "DELETE": "delete"}


def _waiting(stack: Any, operation: _Operation) -> bool:
    """Whether a slow stack's operation still waits before its first step (it stays
    *_IN_PROGRESS, as on AWS while CloudFormation provisions; a later request goes on)."""
    action = _SLOWED.get(operation.kind)
    if action is None:
        return False
    seconds = REGISTRY.slow_for(stack.region_name, stack.name, action)
    return seconds is not None and time.monotonic() - operation.started < seconds


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


# how an operation ends ------------------------------------------------------------------------


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
