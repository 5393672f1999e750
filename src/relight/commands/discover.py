"""`relight discover`: the artifacts in the connection's region a failover would restore,
and what `discover --json` prints of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from relight.aws.cloudformation import Stacks
from relight.commands.connection import Connection, connect_stacks
from relight.model.config import LoadedEnvironment
from relight.model.environment import ZonesRef
from relight.model.plan import Plan
from relight.model.scheduler import Task
from relight.model.shapes import parameter_dict
from relight.model.times import human_age
from relight.steps.discovery import Discovery, Standing, discover

T = TypeVar("T")


def discover_environment(plan: Plan, conn: Connection, *, now: Callable[[], datetime]) -> Discovery:
    """Discovery in the connection's region, choosing AZs that offer the plan's instance types;
    where a stack this plan deploys already stands, its zones are kept."""
    from relight.steps.preflight import instance_types

    return discover(
        conn.aws,
        plan.loaded.env,
        conn.region,
        account_id=conn.account_id,
        now=now,
        instance_types=instance_types(plan),
        standing=standing_zones(plan, connect_stacks(conn)),
    )


GONE = ("DELETE_COMPLETE", "DELETE_IN_PROGRESS", "ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS")


def standing_zones(plan: Plan, stacks: Stacks) -> Standing | None:
    """The zones the first deployed stack of this plan that takes `{zones: names}` stands in
    (its Parameter's value), or None when none stands (a new network chooses). A stack that
    holds nothing (rolled back, being deleted) chooses anew. Throttling is waited out."""
    for sp in plan.stacks.values():
        parameter = next((k for k, v in sp.parameters.items() if isinstance(v, ZonesRef)), None)
        if parameter is None:
            continue
        stack = _wait(stacks.patiently(partial(stacks.state, sp.name)), stacks.sleep)
        if stack is None or stack.get("StackStatus") in GONE:
            continue
        # AWS gives a CommaDelimitedList's value comma-joined; moto its Python list's repr.
        value = parameter_dict(stack).get(parameter, "").strip().strip("[]")
        names = tuple(n.strip().strip("'\"") for n in value.split(",") if n.strip())
        if names:
            return Standing(stack=sp.name, parameter=parameter, names=names)
    return None


def _wait(task: Task[T], sleep: Callable[[float], None]) -> T:
    """Run a task to its end here, sleeping its waits."""
    while True:
        try:
            delay = next(task)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        sleep(delay)


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
