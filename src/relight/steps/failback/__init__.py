"""The way back's data step: what the recovery region has been writing, snapshotted there and
copied home (`relight failback`, phase a; commands/failback.py runs the phases).

A data holder is whatever a stateful or launch parameter of a stack feeds (stateful.py): a
database restored from `SnapshotIdentifier` (an RDS instance: a DB snapshot; an Aurora cluster:
a cluster snapshot), a volume restored from `SnapshotId`, or an instance's or a launch
template's data volume (an EBS snapshot of one instance's volume at that device: the instance
that has served longest). Its snapshot goes home as the artifact the parameter names, so the
home stacks restore from it exactly as a failover restores from a copy.

Stopping writes first (the graceful mode) puts a maintenance page on the recovery region's
load balancers: Route 53's health check still answers, everything else gets a 503, so traffic
stays in R and nothing is written there (see `start_maintenance`). The rules it adds are
returned, so a failback that stops half-way can say how to reopen R.

The package: `holders` (what holds data in R), `maintenance` (the graceful stop), `snapshots`
(the snapshots and their copies home), each importing only those listed before it.
"""

from __future__ import annotations

from relight.steps.failback.holders import FAILBACK_TAG, Holder, Taken, data_holders
from relight.steps.failback.maintenance import (
    Maintenance,
    end_maintenance,
    health_paths,
    listeners,
    reopen_commands,
    start_maintenance,
)
from relight.steps.failback.snapshots import (
    candidate,
    copy_home,
    home_artifact,
    restore_keeps,
    snapshot_name,
    take_snapshot,
    wait_ready,
)

__all__ = [
    "FAILBACK_TAG",
    "Holder",
    "Maintenance",
    "Taken",
    "candidate",
    "copy_home",
    "data_holders",
    "end_maintenance",
    "health_paths",
    "home_artifact",
    "listeners",
    "reopen_commands",
    "restore_keeps",
    "snapshot_name",
    "start_maintenance",
    "take_snapshot",
    "wait_ready",
]
