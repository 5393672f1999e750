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

        found = drift_of_captured(loaded, client)
    else:
        from relight.steps.render import build_plan

        home = loaded.env.home_region
        found = drift(build_plan(loaded, home, purpose="home", stand_in=stand_in), client)
    found.notes += placeholder_notes(loaded, stand_in=stand_in)
    return found


def placeholder_notes(loaded: LoadedEnvironment, *, stand_in: bool) -> list[str]:
    """Each recovery region's REPLACE-ME (or missing per_region entry), in every stack: not
    drift (production is the home region's), but a failover there would be refused, and
    filling it then needs what may be down (a certificate's DNS validation in Route 53)."""
    from relight.model.per_region import region_problems

    return [
        f"{region}: {problem} (before the outage; every run into {region} refuses it)"
        for region in loaded.env.recovery_regions
        for problem in region_problems(loaded.env, region, stand_in)
    ]
