"""`relight discover`: the artifacts in the connection's region a failover would restore,
and what `discover --json` prints of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from relight.commands.connection import Connection
from relight.model.config import LoadedEnvironment
from relight.model.plan import Plan
from relight.model.times import human_age
from relight.steps.discovery import Discovery, discover


def discover_environment(plan: Plan, conn: Connection, *, now: Callable[[], datetime]) -> Discovery:
    """Discovery in the connection's region, choosing AZs that offer the plan's instance types."""
    from relight.steps.preflight import instance_types

    return discover(
        conn.aws,
        plan.loaded.env,
        conn.region,
        account_id=conn.account_id,
        now=now,
        instance_types=instance_types(plan),
    )


def artifact_rows(loaded: LoadedEnvironment, discovery: Discovery) -> list[dict[str, Any]]:
    """What `discover --json` prints: one object per artifact."""
    rpo = loaded.env.objectives.rpo
    rows = []
    for name, art in discovery.artifacts.items():
        age = art.age(discovery.at).total_seconds()
        rows.append(
            {
                "name": name,
                "kind": art.kind,
                "id": art.id,
                "arn": art.arn,  # an AWS Backup recovery point's, when `id` is its resource's
                "region": art.region,
                "created": art.created.isoformat(),
                "data_time": art.data_time.isoformat(),
                "age_seconds": int(age),
                "age": human_age(art.age(discovery.at)),
                "rpo_seconds": rpo,
                "rpo_ok": age <= rpo,
                "source_region": art.source_region,
                "source_id": art.source_id,
                "candidates": art.candidates,
                "used_by": sorted(
                    key for key, spec in loaded.env.stacks.items() if spec.uses_artifact(name)
                ),
            }
        )
    return rows
