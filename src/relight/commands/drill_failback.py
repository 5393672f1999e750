"""What a drill adds to rehearse the way back (`relight drill --with-failback`), and how a drill
deletes what it made.

After the drill's failover is verified, the return is rehearsed as `relight failback` runs it
(commands/failback/), phases (a) to (c): the drill's data in R snapshotted and copied home, its
copy built there in the drill's namespace from those copies, and verified. Its RTO is from the
snapshot's start to home verified. No latch is touched and no stop is made: a drill serves
nobody.

A drill deletes what it made, in both regions: its stacks, the final snapshots its databases
leave (they hold only the drill's own writes), the failback snapshots and their copies, and
the data volumes its instances kept (DeleteOnTermination false keeps them on purpose in
production; a drill's are its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from relight.commands.connection import Connection, connect_stacks
from relight.commands.drill_report import Run
from relight.model.graph import dependency_graph
from relight.steps.teardown import TeardownResult
from relight.steps.teardown import teardown as delete_stacks


def rehearse_failback(
    run: Run, home: Connection, on_progress: Callable[[str], None] | None = None
) -> Any:
    """Phases (a) to (c) of a failback, for the drill's namespace; the FailbackResult, also
    kept on the run (`run.failback`)."""
    from relight.commands.failback.planning import plan_rehearsal
    from relight.commands.failback.running import failback

    assert run.plan is not None and run.namespace is not None
    plan = plan_rehearsal(run.loaded, run.conn, home, run.namespace, run.plan)
    run.failback = failback(plan, run.conn, home, on_progress=on_progress or (lambda _: None))
    return run.failback


def delete_home_copy(run: Run, home: Connection, concurrency: int) -> TeardownResult:
    """The drill's stacks in the home region (a failback rehearsal's), final snapshots named."""
    from relight.commands.teardown import final_snapshots, vpc_extras

    stacks = connect_stacks(home)
    return delete_stacks(
        stacks,
        run.loaded.env.name,
        dependency_graph(run.loaded.env),
        namespace=run.namespace,
        concurrency=concurrency,
        prepared=True,
        final_snapshots=lambda name: final_snapshots(home, name),
        vpc_extras=vpc_extras(home, stacks),
    )


def delete_made(
    conn: Connection,
    stack_names: list[str],
    snapshots: list[tuple[str, str]],
) -> tuple[list[str], list[str]]:
    """Delete, in the connection's region, the (kind, id) snapshots a drill made and the data
    volumes its stacks' instances left (tagged Name=<stack>, state available). Returns what
    was deleted and what could not be (with why): never raises."""
    from botocore.exceptions import BotoCoreError, ClientError

    ec2, rds = conn.aws.client("ec2", conn.region), conn.aws.client("rds", conn.region)
    deleted, failed = [], []

    def final(ident: str) -> None:  # a final snapshot: an instance's, or else a cluster's
        try:
            rds.delete_db_snapshot(DBSnapshotIdentifier=ident)
        except ClientError as exc:
            if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
                raise
            rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=ident)

    calls: dict[str, Callable[[str], Any]] = {
        "final": final,
        "rds_snapshot": lambda i: rds.delete_db_snapshot(DBSnapshotIdentifier=i),
        "rds_cluster_snapshot": lambda i: rds.delete_db_cluster_snapshot(
            DBClusterSnapshotIdentifier=i
        ),
        "ebs_snapshot": lambda i: ec2.delete_snapshot(SnapshotId=i),
        "volume": lambda i: ec2.delete_volume(VolumeId=i),
    }
    from relight.commands.teardown import leftover_volumes

    found: list[tuple[str, str]] = list(snapshots)
    try:
        found += [("volume", v["VolumeId"]) for v in leftover_volumes(conn, stack_names)]
    except (ClientError, BotoCoreError) as exc:
        failed.append(f"data volumes of {', '.join(stack_names)} not listed: {exc}")
    for kind, ident in found:
        try:
            calls[kind](ident)
            deleted.append(f"{ident} ({conn.region})")
        except (ClientError, BotoCoreError) as exc:
            failed.append(f"{ident} ({conn.region}): {exc}")
    return deleted, failed


def final_snapshot_ids(result: TeardownResult | None) -> list[tuple[str, str]]:
    """The final snapshots a teardown named ("<id> (of <db>)"), as (kind, id) to delete."""
    found = []
    for r in result.results if result else []:
        for named in r.final_snapshots:
            if named.startswith("("):  # "(final snapshot of X not readable: ...)"
                continue
            found.append(("final", named.partition(" (of ")[0]))
    return found
