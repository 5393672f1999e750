"""The `stands: global` stacks a StackSet made (relight estate prepare): read, never deployed.

`relight estate prepare` deploys an estate's global stacks through CloudFormation StackSets
(aws/stacksets.py); the stack in each account is the StackSet's (`StackSet-<name>-<id>`),
found by its `relight:serves:<stack>` tag (aws/cloudformation.py, `Stacks.made_by_stackset`).
A prepare of one environment (and the stand-in's story, which prepares the recovery region
as a first run would) reads such a stack as prepared instead of making relight's own. Two
StackSets' stacks serving one name (an instance left over after its environment moved) are
refused naming both, never the first taken (docs/estates.md, "Retiring a stack instance").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from relight.aws.cloudformation import Stacks, outputs_of
from relight.model.plan import Plan


def left_to_stacksets(
    plan: Plan, stacks: Stacks
) -> tuple[Plan, list[str], dict[str, dict[str, str]]]:
    """The prepare plan without the `stands: global` stacks a StackSet made in its region
    (relight estate prepare, aws/stacksets.py): those are read as prepared, never deployed
    by relight's own prepare, and a note says so. Relight's own stack of that name, where
    one stands, is kept (and wins: a failover reads it). Also the moved stacks' outputs (by
    key), for a deploy that reads them."""
    moved: dict[str, str] = {}
    outputs: dict[str, dict[str, Any]] = {}
    for key, sp in plan.stacks.items():
        if plan.loaded.env.stacks[key].stands != "global" or stacks.state(sp.name) is not None:
            continue
        made = stacks.made_by_stackset(sp.name)
        if made is not None:
            moved[key] = made["StackName"]
            outputs[key] = outputs_of(made)
    if not moved:
        return plan, [], {}
    kept = {
        key: replace(sp, depends_on=tuple(d for d in sp.depends_on if d not in moved))
        for key, sp in plan.stacks.items()
        if key not in moved
    }
    prepared = {**plan.prepared, **{key: plan.stacks[key] for key in moved}}
    notes = [
        f"stacks.{key} ({plan.stacks[key].name}): made by a StackSet (its stack {made} in "
        f"{plan.region}); relight estate prepare keeps it up to date, this prepare reads it"
        for key, made in sorted(moved.items())
    ]
    return replace(plan, stacks=kept, prepared=prepared), notes, outputs
