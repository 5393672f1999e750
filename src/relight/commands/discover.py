"""`relight discover`: the artifacts in the connection's region a failover would restore,
and what `discover --json` prints of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from relight.commands.connection import Connection
from relight.errors import AwsError
from relight.model.config import LoadedEnvironment
from relight.model.environment import ZonesRef
from relight.model.plan import Plan
from relight.model.shapes import parameter_dict
from relight.model.times import human_age
from relight.steps.discovery import Discovery, Standing, discover


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
        standing=standing_zones(plan, conn.aws.client("cloudformation", conn.region)),
    )


GONE = ("DELETE_COMPLETE", "DELETE_IN_PROGRESS", "ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS")


def standing_zones(plan: Plan, cfn: Any) -> Standing | None:
    """The zones the first deployed stack of this plan that takes `{zones: names}` stands in
    (its Parameter's value), or None when none stands (a new network chooses). A stack that
    holds nothing (rolled back, being deleted) chooses anew."""
    from botocore.exceptions import ClientError

    from relight.aws.failures import translated

    for sp in plan.stacks.values():
        parameter = next((k for k, v in sp.parameters.items() if isinstance(v, ZonesRef)), None)
        if parameter is None:
            continue
        try:
            with translated(f"cannot read stack {sp.name} in {plan.region}", cfn):
                stack = cfn.describe_stacks(StackName=sp.name)["Stacks"][0]
        except AwsError as exc:
            if isinstance(exc.__cause__, ClientError) and "does not exist" in str(exc.__cause__):
                continue
            raise
        if stack.get("StackStatus") in GONE:
            continue
        # AWS gives a CommaDelimitedList's value comma-joined; moto its Python list's repr.
        value = parameter_dict(stack).get(parameter, "").strip().strip("[]")
        names = tuple(n.strip().strip("'\"") for n in value.split(",") if n.strip())
        if names:
            return Standing(stack=sp.name, parameter=parameter, names=names)
    return None


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
