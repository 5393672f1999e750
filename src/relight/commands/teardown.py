"""`relight teardown`: delete the environment's stacks in a namespace, holding its lock, and
name the final snapshots its databases leave."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relight.aws.cloudformation import Event, Stacks, outputs_of
from relight.aws.lock import LockSettings, hold
from relight.aws.vpc_extras import clear_vpc_extras
from relight.commands.connection import (
    Connection,
    connect_stacks,
    lock_ref,
    new_run_id,
    run_command,
)
from relight.model.config import LoadedEnvironment
from relight.model.graph import dependency_graph
from relight.model.plan import IDENTITY_BLUEPRINT, SERVICE_ROLE_OUTPUT, stack_name
from relight.model.scheduler import DEFAULT_CONCURRENCY
from relight.steps.teardown import TeardownResult, VpcExtras, environment_stacks
from relight.steps.teardown import teardown as delete_stacks


def teardown(
    loaded: LoadedEnvironment,
    conn: Connection,
    *,
    namespace: str | None = None,
    force: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_event: Event | None = None,
    confirmed: list[dict[str, Any]] | None = None,
    lock: LockSettings | None = None,
    prepared: bool = False,
) -> TeardownResult:
    """Delete the environment's stacks in the namespace, holding its lock (`LockHeld` when
    another run holds it)."""
    settings = lock or LockSettings()
    command = settings.command or run_command(
        "teardown",
        loaded,
        "--region",
        conn.region,
        *(("--as", namespace) if namespace else ()),
        "--force" if force else None,
        "--prepared" if prepared else None,
    )
    with hold(
        lock_ref(loaded, conn, namespace), new_run_id(), command, settings, defer_bucket=True
    ) as held:
        stacks = connect_stacks(conn, on_event=on_event)
        result = delete_stacks(
            stacks,
            loaded.env.name,
            dependency_graph(loaded.env),
            namespace=namespace,
            force=force,
            concurrency=concurrency,
            confirmed=confirmed,
            final_snapshots=lambda name: final_snapshots(conn, name),
            still_held=held.ensure_held,
            prepared=prepared,
            vpc_extras=vpc_extras(conn, stacks),
            role_arn=service_role_arn(stacks, loaded),
            identity=identity_stack_key(loaded),
        )
        result.kept_volumes = kept_volumes(
            conn, [r.name for r in result.results if r.action == "deleted"]
        )
        deleted = any(r.action == "deleted" for r in result.results)
        if (
            namespace is None
            and deleted
            and result.ok
            and not environment_stacks(stacks, loaded.env.name)
        ):
            # Nothing a failover built is left: the region no longer serves (aws/serving.py).
            from relight.aws.serving import clear_serving

            clear_serving(
                conn.aws.client("s3", conn.region), conn.account_id, conn.region, loaded.env.name
            )
        return result


def identity_stack_key(loaded: LoadedEnvironment) -> str | None:
    """The key of the environment's identity stack (blueprint identity), or None."""
    return next(
        (k for k, s in loaded.env.stacks.items() if s.blueprint == IDENTITY_BLUEPRINT), None
    )


def service_role_arn(stacks: Stacks, loaded: LoadedEnvironment) -> str | None:
    """The CloudFormation service role in the region (the identity stack's output), which
    every update and delete passes; None without one (CloudFormation then uses the role the
    stack was made with, if any)."""
    key = identity_stack_key(loaded)
    if key is None:
        return None
    found = stacks.prepared_state(stack_name(loaded.env.name, key))  # may be a StackSet's
    return outputs_of(found).get(SERVICE_ROLE_OUTPUT) if found else None


def vpc_extras(conn: Connection, stacks: Stacks) -> VpcExtras:
    """Before a stack's delete, in the connection's region: what GuardDuty added to the VPCs it
    made, removed; what another hand added, named (aws/vpc_extras.py)."""
    return lambda name: clear_vpc_extras(
        stacks.cfn,
        conn.aws.client("ec2", conn.region),
        conn.region,
        name,
        clock=stacks.clock,
    )


def leftover_volumes(conn: Connection, stack_names: list[str]) -> list[dict[str, Any]]:
    """The data volumes the stacks' instances left (tagged Name=<stack> by the launch
    template, state available): kept on purpose when their instances go (DeleteOnTermination
    false)."""
    if not stack_names:
        return []
    answer = conn.aws.client("ec2", conn.region).describe_volumes(
        Filters=[
            {"Name": "tag:Name", "Values": stack_names},
            {"Name": "status", "Values": ["available"]},
        ]
    )
    return list(answer["Volumes"])


def kept_volumes(conn: Connection, stack_names: list[str]) -> list[str]:
    """`leftover_volumes`, named for people so they are not forgotten; best effort (a failure
    to list them names nothing)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        volumes = leftover_volumes(conn, stack_names)
    except (ClientError, BotoCoreError):
        return []
    return sorted(
        f"{v['VolumeId']} (from {v.get('SnapshotId') or 'nothing'}, {v['Size']} GiB)"
        for v in volumes
    )


def _manual_snapshots(rds: Any, kind: str, ident: str) -> set[str]:
    """The identifiers of the manual snapshots of a DB instance or cluster, every page."""
    if kind == "instance":
        op, arg, field, key = (
            "describe_db_snapshots",
            "DBInstanceIdentifier",
            "DBSnapshots",
            "DBSnapshotIdentifier",
        )
    else:
        op, arg, field, key = (
            "describe_db_cluster_snapshots",
            "DBClusterIdentifier",
            "DBClusterSnapshots",
            "DBClusterSnapshotIdentifier",
        )
    pages = rds.get_paginator(op).paginate(**{arg: ident, "SnapshotType": "manual"})
    return {str(x[key]) for page in pages for x in page[field]}


def final_snapshots(conn: Connection, stack_name: str) -> Callable[[], list[str]]:
    """Before a stack's delete: its databases, and the manual snapshots each has already. The
    function returned lists, after the delete, the snapshots they left (DeletionPolicy
    Snapshot): those whose identifiers were not there before. By identifier, never by time:
    this machine's clock and RDS's SnapshotCreateTime are two clocks (a laptop a few minutes
    fast would miss the final snapshot, and a drill would never delete it: row Q8)."""
    from botocore.exceptions import BotoCoreError, ClientError

    cfn, rds = conn.aws.client("cloudformation", conn.region), conn.aws.client("rds", conn.region)
    kinds = {"AWS::RDS::DBInstance": "instance", "AWS::RDS::DBCluster": "cluster"}
    held: list[tuple[str, str]] = []
    try:
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name):
            held += [
                (kinds[r["ResourceType"]], r["PhysicalResourceId"])
                for r in page["StackResourceSummaries"]
                if r["ResourceType"] in kinds and r.get("PhysicalResourceId")
            ]
    except (ClientError, BotoCoreError):
        return list  # the delete goes on; only the naming of its snapshots is lost
    before: dict[tuple[str, str], set[str] | str] = {}
    for kind, ident in held:
        try:
            before[(kind, ident)] = _manual_snapshots(rds, kind, ident)
        except (ClientError, BotoCoreError) as exc:
            before[(kind, ident)] = str(exc)  # cannot tell the new ones from the old

    def after() -> list[str]:
        found = []
        for kind, ident in held:
            had = before[(kind, ident)]
            if isinstance(had, str):
                found.append(f"(final snapshot of {ident} not readable: {had})")
                continue
            try:
                now = _manual_snapshots(rds, kind, ident)
            except (ClientError, BotoCoreError) as exc:
                found.append(f"(final snapshot of {ident} not readable: {exc})")
                continue
            found += [f"{name} (of {ident})" for name in sorted(now - had)]
        return found

    return after


def stacks_to_delete(
    loaded: LoadedEnvironment,
    conn: Connection,
    namespace: str | None = None,
    *,
    prepared: bool = False,
) -> list[dict[str, Any]]:
    return environment_stacks(connect_stacks(conn), loaded.env.name, namespace, prepared=prepared)


def made_by_stacksets(loaded: LoadedEnvironment, conn: Connection) -> list[tuple[str, str]]:
    """The stacks a StackSet made for the environment's global stacks (relight estate
    prepare), as (stack name, StackSet): a teardown never deletes them (a StackSet's stack goes
    with its stack instance, through the StackSet), so `--prepared` names them instead."""
    from relight.aws.cloudformation import STACKSET_TAG
    from relight.model.shapes import tag_dict

    stacks = connect_stacks(conn)
    found = []
    for key, spec in loaded.env.stacks.items():
        if spec.stands != "global":
            continue
        made = stacks.made_by_stackset(stack_name(loaded.env.name, key))
        if made is not None:
            found.append((str(made["StackName"]), tag_dict(made.get("Tags")).get(STACKSET_TAG, "")))
    return found
