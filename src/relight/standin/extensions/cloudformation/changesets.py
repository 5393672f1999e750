"""Change sets: ExecuteChangeSet, with its DisableRollback. An UPDATE change set runs as an
update (lifecycle.py); a CREATE one creates the stack it was made for. moto makes and describes
change sets itself."""

from __future__ import annotations

from typing import Any

from moto.core.responses import EmptyResult

from relight.standin.extensions.cloudformation.lifecycle import _start_create, _start_update
from relight.standin.extensions.cloudformation.order import _order
from relight.standin.extensions.cloudformation.state import _LOCK, _switch


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


def _execute_change_set_response(self: Any) -> Any:
    """ExecuteChangeSet with its DisableRollback (moto 5.2.5 ignored it)."""
    self.cloudformation_backend.execute_change_set(
        stack_name=self._get_param("StackName"),
        change_set_name=self._get_param("ChangeSetName"),
        disable_rollback=bool(self._get_param("DisableRollback")),
    )
    return EmptyResult()
