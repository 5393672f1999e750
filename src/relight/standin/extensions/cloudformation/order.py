"""The order a stack's resources are made in, each after those it needs (DependsOn, Ref,
Fn::GetAtt, Fn::Sub), and deleted in, dependents first; a template with a cycle, or a DependsOn
naming no resource, is refused as AWS refuses it."""

from __future__ import annotations

import re
from graphlib import CycleError, TopologicalSorter
from typing import Any

from moto.cloudformation.exceptions import ValidationError

_SUB = re.compile(r"\$\{([^!}][^}]*)\}")


def _references(node: Any) -> set[str]:
    """Names a template fragment refers to (Ref, Fn::GetAtt, Fn::Sub), resources or not."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= _references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) and value else str(value)
                found.add(str(target).split(".")[0])
            elif key == "Fn::Sub":
                text, names = (value, {}) if isinstance(value, str) else (value[0], value[1:])
                variables = names[0] if names and isinstance(names[0], dict) else {}
                found |= {m.split(".")[0] for m in _SUB.findall(str(text))} - set(variables)
                found |= _references(variables)
            else:
                found |= _references(value)
    return found


def _dependencies(resources: dict[str, Any], strict: bool = False) -> dict[str, set[str]]:
    """Each resource's dependencies among `resources`; `strict`: a DependsOn naming no
    resource of the template is refused, as AWS refuses it."""
    graph = {}
    for name, body in resources.items():
        depends = body.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        unknown = [d for d in depends if d not in resources]
        if unknown and strict:
            raise ValidationError(
                message="Template format error: Unresolved resource dependencies "
                f"[{', '.join(unknown)}] in the Resources block of the template"
            )
        refs = _references({k: v for k, v in body.items() if k != "DependsOn"})
        graph[name] = (set(depends) | refs) & set(resources) - {name}
    return graph


def _order(resources: dict[str, Any], strict: bool = False) -> list[str]:
    """The resources, each after those it needs; AWS refuses a template with a cycle."""
    try:
        return list(TopologicalSorter(_dependencies(resources, strict)).static_order())
    except CycleError as exc:
        cycle = sorted(set(exc.args[1]))
        raise ValidationError(
            message="Template format error: Circular dependency between resources: "
            f"[{', '.join(cycle)}]"
        ) from exc


def _needed_by(resources: dict[str, Any], name: str) -> set[str]:
    """Everything `name` needs, directly or not (what must stay while it does)."""
    graph, needed, todo = _dependencies(resources), set[str](), [name]
    while todo:
        for other in graph.get(todo.pop(), set()) - needed:
            needed.add(other)
            todo.append(other)
    return needed
