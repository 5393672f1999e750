"""The stack dependency graph: order, cycles, and who depends on whom."""

from __future__ import annotations

import graphlib
from pathlib import Path

from relight.errors import ConfigError
from relight.model.environment import Environment


def dependency_graph(env: Environment) -> dict[str, set[str]]:
    """stack → the stacks it needs (explicit depends_on plus output references)."""
    return {key: spec.dependencies() for key, spec in env.stacks.items()}


def stack_order(env: Environment, path: Path) -> tuple[str, ...]:
    """A deterministic creation order; a cycle is a ConfigError that names it."""
    sorter = graphlib.TopologicalSorter(
        {key: sorted(deps) for key, deps in sorted(dependency_graph(env).items())}
    )
    try:
        return tuple(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = " → ".join(exc.args[1])
        raise ConfigError(
            f"{path}: stacks: dependency cycle {cycle}",
            hint="remove one depends_on or output reference in that cycle",
        ) from None


def _edges(env: Environment) -> list[tuple[str, str]]:
    """(needed, needing) pairs, sorted: an arrow points the way creation flows."""
    return sorted((dep, key) for key, deps in dependency_graph(env).items() for dep in deps)


def to_mermaid(env: Environment) -> str:
    """A Mermaid flowchart (GitHub renders it in Markdown)."""
    lines = ["flowchart LR"]
    lines += [f'    {_node(k)}["{key_label}"]' for k, key_label in _labels(env, "<br/>")]
    lines += [f"    {_node(a)} --> {_node(b)}" for a, b in _edges(env)]
    return "\n".join(lines) + "\n"


def to_dot(env: Environment) -> str:
    """Graphviz DOT: `relight graph --format dot | dot -Tsvg > graph.svg`."""
    lines = [f'digraph "{env.name}" {{', "    rankdir=LR;", "    node [shape=box];"]
    lines += [f'    "{k}" [label="{key_label}"];' for k, key_label in _labels(env, "\\n")]
    lines += [f'    "{a}" -> "{b}";' for a, b in _edges(env)]
    return "\n".join(lines) + "\n}\n"


def _labels(env: Environment, newline: str) -> list[tuple[str, str]]:
    return [(key, f"{key}{newline}{spec.blueprint}") for key, spec in sorted(env.stacks.items())]


def _node(key: str) -> str:
    """Mermaid ids: letters, digits and underscores."""
    return "s_" + "".join(c if c.isalnum() else "_" for c in key)
