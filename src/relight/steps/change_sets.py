"""The requests deploy and plan send CloudFormation for a stack: parameters, change sets.

`change_set_request` builds CreateChangeSet's arguments (deploy executes the change set, plan
only reads it), with the CloudFormation service role the stack passes; `describe_changes`
turns a change set's changes into one line each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relight.aws.cloudformation import CAPABILITIES, Stacks
from relight.model.plan import Plan, StackPlan
from relight.model.shapes import tag_dict, tag_list


def parameter_list(parameters: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]


def change_set_request(
    stacks: Stacks,
    plan: Plan,
    sp: StackPlan,
    existing: Mapping[str, Any],
    parameters: Mapping[str, str],
    *,
    name: str,
    run_id: str,
    role_arn: str | None = None,
) -> dict[str, Any]:
    """CreateChangeSet's arguments to update `sp` (deploy executes it, plan only reads it),
    with `role_arn` the CloudFormation service role it passes (steps/service_role.py)."""
    tags = plan.tags(sp.key, run_id)
    # Keep the run that made the stack: a tag change alone would touch every resource.
    tags["relight:run"] = tag_dict(existing.get("Tags")).get("relight:run", run_id)
    return {
        "StackName": sp.name,
        "ChangeSetName": name.replace("_", "-"),
        "ChangeSetType": "UPDATE",
        **stacks.template_argument(sp.name, sp.body),
        "Parameters": parameter_list(parameters),
        "Tags": tag_list(tags),
        "Capabilities": CAPABILITIES,
        "Description": f"relight {run_id}",
        **({"RoleARN": role_arn} if role_arn else {}),
    }


def describe_changes(changes: list[dict[str, Any]]) -> list[str]:
    """One line per resource change of a change set: action, resource, type, replacement."""
    lines = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        what = f"{rc.get('LogicalResourceId', '?')} ({rc.get('ResourceType', '?')})"
        line = f"{rc.get('Action', '?')} {what}"
        if rc.get("Action") == "Modify":
            line += f", replacement: {rc.get('Replacement', '?')}"
        lines.append(line)
    return lines
