"""A CloudFormation stack's state, read as relight acts on it: which statuses are complete,
left failed or in progress, whose stack it is (relight's `relight:env` tag, or a StackSet's
`relight:serves:` tag), and what a deploy does with it (`classify`). No AWS call: the Stacks
layer (cloudformation.py) reads the stacks and asks these.
"""

from __future__ import annotations

from typing import Any

from relight.model.shapes import tag_dict

COMPLETE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE"}
# Left failed by an earlier run with rollback disabled: what was made stays, retried in place.
RETRYABLE = {"CREATE_FAILED", "UPDATE_FAILED"}
# Left by a failed earlier run: delete, then create again.
LEFTOVER = {
    "ROLLBACK_COMPLETE",
    "CREATE_FAILED",
    "ROLLBACK_FAILED",
    "REVIEW_IN_PROGRESS",
    "DELETE_FAILED",
}
# What CloudFormation says when a change set would change nothing (AWS, then moto).
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


def no_changes(message: str) -> bool:
    return any(text in message for text in NO_CHANGES)


def outputs_of(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def in_progress(stack: dict[str, Any] | None) -> bool:
    return bool(stack) and stack["StackStatus"].endswith("_IN_PROGRESS")  # type: ignore[index]


def owned_by(stack: dict[str, Any], env_name: str) -> bool:
    """relight made this stack for this environment (its `relight:env` tag says so)."""
    return tag_dict(stack.get("Tags")).get("relight:env") == env_name


# A stack a StackSet made in its target account (estate prepare, aws/stacksets.py): AWS names it
# `StackSet-<StackSet name>-<uuid>`, moto 5.2.6 `StackSet:<name>`; the StackSet's tags reach it,
# and one tag per stack name it stands for says which (a StackSet shared by environments whose
# global templates are the same stands for each of theirs).
STACKSET_PREFIXES = ("StackSet-", "StackSet:")
SERVES_TAG = "relight:serves:"
STACKSET_TAG = "relight:stackset"  # the StackSet's name, on it and on its stacks


def serves(stack: dict[str, Any], name: str) -> bool:
    """A StackSet made this stack for relight's stack `name`."""
    return str(stack.get("StackName", "")).startswith(STACKSET_PREFIXES) and (
        f"{SERVES_TAG}{name}" in tag_dict(stack.get("Tags"))
    )


def classify(stack: dict[str, Any] | None, env_name: str) -> tuple[str, str]:
    """What a deploy does with the stack of a plan's name, and why: create, recreate (left
    failed by an earlier run), update (a change set decides: update or no change), wait (an
    operation is in progress), retry (left CREATE_FAILED or UPDATE_FAILED with rollback disabled:
    updated in place, keeping what was made), or blocked (relight will not touch it). Used by
    deploy and plan."""
    if stack is None:
        return "create", ""
    status = stack["StackStatus"]
    if not owned_by(stack, env_name):
        return "blocked", (
            f"a stack of this name exists and is not relight's for environment {env_name}; "
            "rename the stack in the environment file, or remove the other stack yourself"
        )
    if status == "UPDATE_ROLLBACK_FAILED":
        return "blocked", (
            "UPDATE_ROLLBACK_FAILED: continue the rollback in the CloudFormation console "
            "(Stack actions → Continue update rollback), then rerun"
        )
    if in_progress(stack) and status != "REVIEW_IN_PROGRESS":
        return "wait", f"{status}: relight waits for it, then decides"
    if status in RETRYABLE and (stack.get("DisableRollback") or status == "UPDATE_FAILED"):
        return "retry", (
            f"{status}, left by an earlier run with its progress kept: retried in place "
            "(what it made stays)"
        )
    if status in LEFTOVER:
        return "recreate", f"{status}, left by an earlier run: deleted and created again"
    if status in COMPLETE:
        return "update", ""
    return "blocked", f"{status}: not a state relight acts on"
