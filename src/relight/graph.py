"""The stack dependency graph: order, cycles, and who depends on whom."""

from __future__ import annotations

import graphlib
from pathlib import Path

from relight.environment import Environment
from relight.errors import ConfigError


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


def dependents(env: Environment) -> dict[str, set[str]]:
    """stack → the stacks that need it (for teardown order and failure propagation)."""
    result: dict[str, set[str]] = {key: set() for key in env.stacks}
    for key, deps in dependency_graph(env).items():
        for dep in deps:
            result[dep].add(key)
    return result
