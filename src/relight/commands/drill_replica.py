"""A drill of a replica-mode database: restore from the drill's own snapshot of production's
replica, never from the replica itself, and say what a failover would have had.

The drill's namespaced plan renders a replica-mode database as a snapshot restore (the model);
here, before preflight, each such database's replica standing in the region for production
is snapshotted (steps/replica/drill_snapshot.py) and the snapshot handed to the drill's
restore in place of discovery's newest copy, as a failback hands its copies home. The
replica is read (DescribeDBInstances / DescribeDBClusters) and snapshotted, nothing else: no
promotion, no modification, no removal. The teardown deletes the drill's snapshot (by its
name and tags) and reads the replica again, so the report shows it untouched.

What the report says per database (`replicas`): the replica's lag when the snapshot was
taken (measured: the drill's RPO for it), how long the snapshot took (measured), and the
promotion a failover would have made: forecast, and labelled so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relight.aws.cloudformation import Stacks, outputs_of
from relight.dr.forecast import TYPICAL_PROMOTION_SECONDS
from relight.errors import InputError, RelightError
from relight.model.environment import ArtifactRef
from relight.model.plan import stack_name

# What a promotion takes, forecast (a drill never promotes production's replica, so it is
# never measured here): the ladder's typical times (dr/forecast.py, docs D41-D42); the
# report labels the figure a forecast.
PROMOTION_FORECAST = TYPICAL_PROMOTION_SECONDS
FORECAST_LABEL = "forecast: a drill never promotes production's replica"


@dataclass
class ReplicaDrill:
    """One replica-mode database in a drill: the snapshot taken, the replica before/after."""

    key: str
    snapshot: Any  # steps.replica.drill_snapshot.DrillSnapshot
    before: Any  # steps.replica.state.ReplicaState
    after: Any = None  # read again after the teardown
    deleted: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        snap, before, after = self.snapshot, self.before, self.after
        untouched = after is not None and (
            after.exists
            and after.replicating
            and not after.promoted
            and after.source_arn == before.source_arn
            and after.status == before.status
        )
        return {
            "stack": self.key,
            "kind": snap.kind,
            "replica": snap.replica,
            "region": snap.region,
            "source_arn": before.source_arn,
            "snapshot": snap.snapshot_id,
            "snapshot_seconds": round(snap.seconds, 3),
            "snapshot_deleted": self.deleted,
            "lag_metric": snap.lag.metric,
            "rpo_seconds": snap.lag_seconds,
            "rpo_label": (
                f"measured: {snap.lag.metric} when the snapshot was taken"
                if snap.lag_seconds is not None
                else "unknown: no lag datapoint when the snapshot was taken"
            ),
            "promotion_seconds": PROMOTION_FORECAST[snap.kind],
            "promotion_label": FORECAST_LABEL,
            "before": {"status": before.status, "replicating": before.replicating},
            "after": (
                {
                    "status": after.status,
                    "replicating": after.replicating,
                    "promoted": after.promoted,
                    "source_arn": after.source_arn,
                }
                if after is not None
                else None
            ),
            "untouched": untouched,
        }


def production_replicas(run: Any, stacks: Stacks) -> list[tuple[str, dict[str, str]]]:
    """The replica-mode databases of production's failover at the drill's rung and data mode,
    with the outputs of production's prepared stack in the region (empty: not prepared)."""
    from relight.model.data_modes import replica_keys
    from relight.steps.render import build_plan

    try:
        production = build_plan(
            run.loaded,
            run.conn.region,
            stand_in=run.conn.stand_in is not None,
            strategy=run.strategy,
            data=run.data,
        )
    except InputError as exc:  # e.g. replicas refused at this rung: production has none here
        run.notes.append(f"no replica of production's read at {run.strategy}: {exc.message}")
        return []
    found = []
    for key in replica_keys(production):
        stack = stacks.state(stack_name(run.loaded.env.name, key))
        found.append((key, outputs_of(stack) if stack else {}))
    return found


def snapshot_replicas(run: Any, stacks: Stacks, clock: Any) -> None:
    """In the drill's discover phase: each replica-mode database restores from the drill's
    own snapshot of production's replica (recorded in `run.replicas`); without a replica in
    the region it restores from discovery's newest copy, and the drill fails, saying so: the
    failover it rehearses would be refused."""
    from relight.steps.replica.drill_snapshot import take_drill_snapshot
    from relight.steps.replica.health import replica_kind
    from relight.steps.replica.state import read_replica_state

    conn, env = run.conn, run.loaded.env
    region = conn.region
    rds, cloudwatch = conn.aws.client("rds", region), conn.aws.client("cloudwatch", region)
    for key, outputs in production_replicas(run, stacks):
        artifact = _artifact_of(env.stacks[key])
        identifier = outputs.get("DatabaseIdentifier")
        if not identifier or artifact is None:
            run.problems.append(
                f"stacks.{key}: data: replica, but production's replica is not prepared in "
                f"{region}, so a failover at {run.strategy} would be refused: run `relight "
                f"prepare --env {env.name} --region {region} --strategy {run.strategy} --data "
                "replica` (the drill restored from the newest snapshot copy instead)"
            )
            continue
        kind = replica_kind(outputs)
        before = read_replica_state(rds, key, kind, identifier, region)
        if not before.replica:
            run.problems.append(
                f"stacks.{key}: production's replica {identifier}: {before.detail}, so a "
                "failover would have no replica to promote (the drill restored from the newest "
                "snapshot copy instead)"
            )
            continue
        snap = take_drill_snapshot(
            rds, cloudwatch, key=key, kind=kind, replica=identifier, region=region,
            artifact=artifact, run_id=run.run_id, now=run.now, clock=clock,
            tags={"relight:env": env.name, "relight:stack": key,
                  "relight:namespace": run.namespace or ""},
        )  # fmt: skip
        run.replicas.append(ReplicaDrill(key, snap, before))
        run.discovery.artifacts[artifact] = snap.as_artifact()
        run.discovery.missing.pop(artifact, None)


def _artifact_of(spec: Any) -> str | None:
    """The artifact a database stack restores from (`SnapshotIdentifier: {artifact: X}`)."""
    ref = spec.params.get("SnapshotIdentifier")
    return ref.artifact if isinstance(ref, ArtifactRef) else None


def finish_replicas(run: Any) -> None:
    """In the teardown: delete each drill snapshot (by its name and tags, nothing else), then
    read the replica again for the report. Never raises: what it could not do is a problem."""
    from relight.steps.replica.drill_snapshot import delete_drill_snapshot
    from relight.steps.replica.state import read_replica_state

    if not run.replicas:
        return
    rds = run.conn.aws.client("rds", run.conn.region)
    for drilled in run.replicas:
        snap = drilled.snapshot
        try:
            run.deleted.append(delete_drill_snapshot(rds, snap, run.run_id))
            drilled.deleted = True
        except RelightError as exc:
            run.problems.append(f"teardown: drill snapshot {snap.snapshot_id}: {exc}")
        try:
            drilled.after = read_replica_state(
                rds, drilled.key, snap.kind, snap.replica, snap.region
            )
        except RelightError as exc:
            run.notes.append(f"production's replica {snap.replica} not read again: {exc}")
