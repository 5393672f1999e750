"""Home's database before a failback replaces it: kept as a manual snapshot, its deletion
protection lifted (`keep_home_data`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relight.commands.connection import Connection, connect_stacks
from relight.commands.failback.planning import FailbackPlan


def keep_home_data(
    plan: FailbackPlan,
    home: Connection,
    run_id: str,
    progress: dict[str, Any],
    save: Callable[[], None],
    keys: frozenset[str] | None = None,
    record: str = "kept_home",
) -> list[str]:
    """Before (b) replaces a home database: a manual snapshot of it (the home region's own
    data from before the incident, kept whatever happens next), then its deletion protection
    lifted (the blueprints' RelightPurpose switch, as `teardown --force` lifts it). With the
    protection on, CloudFormation could not delete the replaced database: "If CloudFormation
    can't delete the old resource, it removes the old resource from the stack and continues
    updating the stack", leaving it running, unmanaged, with no final snapshot."""
    from relight.steps.failback import snapshot_name
    from relight.steps.teardown import lift_deletion_protection

    if progress.get(record):
        return []
    stacks = connect_stacks(home)
    existing = {s["StackName"]: s for s in stacks.list_stacks()}
    cfn, rds = home.aws.client("cloudformation", home.region), home.aws.client("rds", home.region)
    kept = []
    for key in sorted(plan.replacing() if keys is None else keys):
        stack = existing.get(plan.home_plan.stacks[key].name)
        if stack is None:
            continue
        for page in cfn.get_paginator("list_stack_resources").paginate(
            StackName=stack["StackName"]
        ):
            for r in page["StackResourceSummaries"]:
                ident, kind = r.get("PhysicalResourceId"), r["ResourceType"]
                name = snapshot_name(plan.loaded.env.name, f"{key}-before-failback", run_id)
                if not ident:
                    continue
                if kind == "AWS::RDS::DBInstance":
                    rds.create_db_snapshot(DBSnapshotIdentifier=name, DBInstanceIdentifier=ident)
                elif kind == "AWS::RDS::DBCluster":
                    rds.create_db_cluster_snapshot(
                        DBClusterSnapshotIdentifier=name, DBClusterIdentifier=ident
                    )
                else:
                    continue
                kept.append(f"{name} (of {ident})")
        stacks.run(lift_deletion_protection(stacks, stack))
    progress[record] = kept or ["(no database to keep)"]
    save()
    return [
        f"{plan.home}'s database before the failback kept as a manual snapshot: {k}; the "
        "stack then replaces it with what came home"
        for k in kept
    ]
