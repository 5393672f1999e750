"""CloudFormation StackSets as AWS plays them, where moto 5.2.6 does not.

Measured on moto 5.2.6 in server mode (docs/stand-in.md, "StackSets"): a self-managed
StackSet's CreateStackInstances creates a real stack named `StackSet:<name>` in each target
account and region (AWS: `StackSet-<name>-<uuid>`; the colon goes on into the names
CloudFormation generates for its resources), but

- every operation is SUCCEEDED in the request that starts it, so nothing ever waits, and a
  second operation on the StackSet while one runs is accepted (AWS refuses it:
  `OperationInProgressException`, "Another operation is currently in progress for this StackSet.
  Only one operation can be performed for a stack set at a given time." —
  https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackInstances.html);
- the instance's stack gets the ParameterOverrides alone (not merged over the StackSet's
  parameters) and none of the StackSet's tags (AWS: the tags are "associated with this StackSet
  and the stacks created from it", API_CreateStackSet.html);
- UpdateStackSet and UpdateStackInstances change what ListStackInstances reports, never the
  stacks themselves;
- a stack instance's StackId is a new random id at every read, not its stack's;
- ListStackSetOperationResults says the operation's status for every instance, with no
  StatusReason of its own.

What the stand-in does instead: the stack is named as on AWS; an operation is RUNNING for
`OPERATION_SECONDS` and until every stack it touched has finished (relight's stack lifecycle,
lifecycle.py); another operation on the StackSet meanwhile is refused with AWS's code and text;
the instance's stack gets the StackSet's parameters with the overrides on top, and its tags;
updates update the stacks; a failed stack makes the operation FAILED with the stack's status
reason per instance. Written against moto 5.2.6.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.cloudformation import models, responses
from moto.cloudformation.exceptions import CloudFormationError
from moto.core.responses import ActionResult

from relight.standin.extensions.cloudformation.state import _LOCK

# How long an operation stays RUNNING at least (the stand-in's stacks finish in well under it).
OPERATION_SECONDS = float(os.environ.get("RELIGHT_STANDIN_STACKSET_SECONDS", "1.0"))
_FAILED = ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED", "UPDATE_FAILED",
           "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "DELETE_FAILED")  # fmt: skip


class OperationInProgressException(CloudFormationError):
    code = "OperationInProgressException"

    def __init__(self) -> None:
        super().__init__(
            "Another operation is currently in progress for this StackSet. Only one operation "
            "can be performed for a stack set at a given time."
        )


def _params(values: Any) -> dict[str, str]:
    if isinstance(values, dict):
        return {str(k): str(v) for k, v in values.items()}
    return {p["ParameterKey"]: p["ParameterValue"] for p in values or [] if "ParameterValue" in p}


def _stack_of(instance: Any) -> Any:
    backend = models.cloudformation_backends[instance.account_id][instance.region_name]
    return backend.stacks.get(instance.stack.stack_id)


def _settle(stackset: Any, operation: dict[str, Any]) -> None:
    """RUNNING until its time passed and its stacks finished; then SUCCEEDED, or FAILED with
    each failed instance's reason."""
    if operation["Status"] != "RUNNING" or time.monotonic() < operation["relight_until"]:
        return
    results: dict[tuple[str, str], tuple[str, str]] = {}
    for account, region in operation["relight_targets"]:
        instance = stackset.instances.get_instance(account, region)
        stack = _stack_of(instance) if instance is not None else None
        if stack is None:
            results[(account, region)] = ("SUCCEEDED", "")
            continue
        backend = models.cloudformation_backends[account][region]
        backend.describe_stacks(stack.stack_id)  # goes on with its operation (lifecycle.py)
        if stack.status.endswith("_IN_PROGRESS"):
            return
        failed = stack.status in _FAILED
        reason = getattr(stack, "stack_status_reason", None) or f"the stack is {stack.status}"
        results[(account, region)] = ("FAILED", reason) if failed else ("SUCCEEDED", "")
    operation["relight_results"] = results
    failed = any(status == "FAILED" for status, _ in results.values())
    operation["Status"] = "FAILED" if failed else "SUCCEEDED"
    operation["EndTimestamp"] = datetime.now(UTC)


def _refuse_if_busy(stackset: Any) -> None:
    for operation in stackset.operations:
        _settle(stackset, operation)
        if operation["Status"] == "RUNNING":
            raise OperationInProgressException()


def _running(stackset: Any, targets: list[tuple[str, str]]) -> None:
    """The operation just recorded runs until its stacks finish (and OPERATION_SECONDS)."""
    operation = stackset.operations[-1]
    operation["Status"] = "RUNNING"
    operation.pop("EndTimestamp", None)
    operation["relight_until"] = time.monotonic() + OPERATION_SECONDS
    operation["relight_targets"] = targets


def _targets(stackset: Any, accounts: list[str], regions: list[str]) -> list[tuple[str, str]]:
    wanted = set(regions)
    listed = set(accounts or [])
    return [
        (i.account_id, i.region_name)
        for i in stackset.instances.stack_instances
        if i.region_name in wanted and (not listed or i.account_id in listed)
    ]


def _tag_and_merge(stackset: Any, instance: Any) -> None:
    """The instance's stack as AWS makes it: the StackSet's parameters with the instance's
    overrides on top, and the StackSet's tags."""
    stack = _stack_of(instance)
    if stack is None:
        return
    stack.tags = dict(stackset.tags or {})
    merged = {**_params(stackset.parameters), **_params(instance.parameters)}
    backend = models.cloudformation_backends[instance.account_id][instance.region_name]
    if merged != dict(stack.parameters):
        _update(backend, stack, stackset, merged)


def _update(backend: Any, stack: Any, stackset: Any, merged: dict[str, str]) -> None:
    backend.describe_stacks(stack.stack_id)  # finish what runs first
    backend.update_stack(
        name=stack.stack_id,
        template=stackset.template,
        role_arn=None,
        parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in merged.items()],
        tags=dict(stackset.tags or {}),
    )


def _create_stack_instances(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(
        self: Any, accounts: Any, regions: Any, deployment_targets: Any, parameters: Any
    ) -> Any:
        with _LOCK:
            _refuse_if_busy(self)
            before = {(i.account_id, i.region_name) for i in self.instances.stack_instances}
            overrides = list(parameters or [])
            merged = {**_params(self.parameters), **_params(overrides)}
            listed = [{"ParameterKey": k, "ParameterValue": v} for k, v in merged.items()]
            operation_id = original(self, accounts, regions, deployment_targets, listed)
            new = [i for i in self.instances.stack_instances
                   if (i.account_id, i.region_name) not in before]  # fmt: skip
            for instance in new:
                instance.parameters = overrides
                stack = _stack_of(instance)
                if stack is not None:
                    stack.tags = dict(self.tags or {})
            _running(self, [(i.account_id, i.region_name) for i in new])
            return operation_id

    return create


def _update_instances(original: Callable[..., Any]) -> Callable[..., Any]:
    def update(self: Any, accounts: Any, regions: Any, parameters: Any) -> Any:
        with _LOCK:
            _refuse_if_busy(self)
            operation = original(self, accounts, regions, parameters)
            targets = _targets(self, accounts, regions)
            for account, region in targets:
                _tag_and_merge(self, self.instances.get_instance(account, region))
            _running(self, targets)
            return operation

    return update


def _update_stack_set(original: Callable[..., Any]) -> Callable[..., Any]:
    def update(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            _refuse_if_busy(self)
            template = self.template
            operation = original(self, *args, **kwargs)
            self.instances.template = self.template
            for instance in self.instances.stack_instances:  # every instance takes the update
                instance.template = self.template
                stack = _stack_of(instance)
                if stack is None:
                    continue
                merged = {**_params(self.parameters), **_params(instance.parameters)}
                changed = template != self.template or merged != dict(stack.parameters)
                backend = models.cloudformation_backends[instance.account_id][instance.region_name]
                if changed:
                    _update(backend, stack, self, merged)
                stack.tags = dict(self.tags or {})
            _running(self, [(i.account_id, i.region_name) for i in self.instances.stack_instances])
            return operation

    return update


def _delete_stack_instances(original: Callable[..., Any]) -> Callable[..., Any]:
    def delete(self: Any, accounts: Any, regions: Any) -> Any:
        with _LOCK:
            _refuse_if_busy(self)
            original(self, accounts, regions)
            _running(self, [])

    return delete


def _get_operation(original: Callable[..., Any]) -> Callable[..., Any]:
    def get(self: Any, operation_id: str) -> Any:
        with _LOCK:
            operation = original(self, operation_id)
            _settle(self, operation)
            return operation

    return get


def _list_operations(original: Callable[..., Any]) -> Callable[..., Any]:
    def listing(self: Any, stackset_name: str) -> Any:
        with _LOCK:
            stackset = self.describe_stack_set(stackset_name)
            for operation in stackset.operations:
                _settle(stackset, operation)
            return original(self, stackset_name)

    return listing


def _instance_init(original: Callable[..., Any]) -> Callable[..., Any]:
    """A self-managed instance's stack named as AWS names it, `StackSet-<name>-<uuid>` (moto:
    `StackSet:<name>`, a name that CloudFormation-generated physical names carry on, and
    that AWS would refuse in them, an SNS topic's for one)."""

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("permission_model") != "SELF_MANAGED":
            original(self, *args, **kwargs)
            return
        backend = models.cloudformation_backends[kwargs["account_id"]][kwargs["region_name"]]
        real = backend.create_stack
        named = f"StackSet-{kwargs['name']}-{uuid.uuid4()}"

        def create_stack(*, name: str, **rest: Any) -> Any:
            return real(name=named, **rest)

        backend.create_stack = create_stack  # type: ignore[method-assign,assignment]  # this instance alone, for this call
        try:
            original(self, *args, **kwargs)
        finally:
            del backend.create_stack  # back to the class's

    return init


def _instance_dict(original: Callable[..., Any]) -> Callable[..., Any]:
    def to_dict(self: Any) -> Any:
        found = original(self)
        found["StackId"] = self.stack.stack_id  # its stack's, the same at every read
        return found

    return to_dict


def _operation_results(self: Any) -> ActionResult:
    """ListStackSetOperationResults with each instance's own status and reason."""
    name, operation_id = self._get_param("StackSetName"), self._get_param("OperationId")
    operation = self.cloudformation_backend.list_stack_set_operation_results(name, operation_id)
    stackset = self.cloudformation_backend.describe_stack_set(name)
    _settle(stackset, operation)
    results = operation.get("relight_results") or {}
    summaries = []
    for account, region in operation.get("relight_targets") or []:
        status, reason = results.get((account, region), (operation["Status"], ""))
        summary = {"Account": account, "Region": region, "Status": status}
        if reason:
            summary["StatusReason"] = reason
        summaries.append(summary)
    return ActionResult({"Summaries": summaries})


def install() -> None:
    stackset, backend, instance = (
        models.StackSet,
        models.CloudFormationBackend,
        models.StackInstance,
    )
    stackset.create_stack_instances = _create_stack_instances(stackset.create_stack_instances)  # type: ignore[method-assign]
    stackset.update_instances = _update_instances(stackset.update_instances)  # type: ignore[method-assign]
    stackset.update = _update_stack_set(stackset.update)  # type: ignore[method-assign]
    stackset.delete_stack_instances = _delete_stack_instances(stackset.delete_stack_instances)  # type: ignore[method-assign]
    stackset.get_operation = _get_operation(stackset.get_operation)  # type: ignore[method-assign]
    backend.list_stack_set_operations = _list_operations(backend.list_stack_set_operations)  # type: ignore[method-assign]
    instance.__init__ = _instance_init(instance.__init__)  # type: ignore[method-assign]
    instance.to_dict = _instance_dict(instance.to_dict)  # type: ignore[method-assign]
    responses.CloudFormationResponse.list_stack_set_operation_results = _operation_results  # type: ignore[method-assign]
