"""What the plan's templates say, read without asking AWS: the instance types they launch,
the literal value each stack gives a Parameter, and how many resources of a type the new stacks
add."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from relight.model.plan import Plan


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def instance_types(plan: Plan) -> list[str]:
    """Every literal EC2 instance type the plan's templates launch."""
    found = {
        value
        for sp in plan.stacks.values()
        for key, value in _walk(json.loads(sp.body).get("Resources", {}))
        if key == "InstanceType" and isinstance(value, str)
    }
    return sorted(found)


def _literal_parameters(plan: Plan, name: str) -> dict[str, str]:
    """stack → the literal, non-empty value it gives the Parameter `name`."""
    return {
        key: value
        for key, sp in plan.stacks.items()
        if isinstance(value := sp.parameters.get(name), str) and value
    }


def _resources_of(plan: Plan, resource_type: str, stacks: set[str]) -> int:
    return sum(
        1
        for key, sp in plan.stacks.items()
        if sp.name in stacks
        for resource in json.loads(sp.body).get("Resources", {}).values()
        if resource.get("Type") == resource_type
    )
