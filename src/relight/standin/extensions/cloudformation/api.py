"""What moto's CloudFormation responses do not take or report (DisableRollback, OnFailure, a
retry of a failed stack, termination protection, each resource in its own state), and how a
stack is seen: its outputs once complete, its resources as made, never made by reading them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.core.responses import ActionResult

from relight.model.shapes import tag_dict
from relight.standin.extensions.cloudformation.state import _progress, _Resource

# When AWS shows a stack's outputs: once what they name exists.
_OUTPUT_STATES = {
    "CREATE_COMPLETE",
    "UPDATE_COMPLETE",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "IMPORT_COMPLETE",
}


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
    and listing them made those not made yet); a stack this package never ran (a stack set's) is
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
