"""Drift of production in the home region: the entry point `relight drift` and readiness call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relight.drift.differences import Drift
from relight.drift.stacks import drift
from relight.model.config import LoadedEnvironment


def drift_of(loaded: LoadedEnvironment, client: Callable[[str], Any], *, stand_in: bool) -> Drift:
    """Production in the home region against the file. A captured production (the file has
    `production:`) is captured again and compared with the file (captured.py); otherwise
    the stacks relight built at home are compared with today's render.

    `client(service)` gives a boto3 client in the home region."""
    if loaded.env.production is not None:
        from relight.drift.captured import drift_of_captured

        return drift_of_captured(loaded, client)
    from relight.steps.render import build_plan

    home = loaded.env.home_region
    return drift(build_plan(loaded, home, purpose="home", stand_in=stand_in), client)
