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
