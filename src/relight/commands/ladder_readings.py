"""What `relight plan` reads in the recovery region for the DR ladder's RPO and cost cells.

Only where plan already talks to AWS, and only in the recovery region (a regional read; the
home region is never asked):

- the age and allocated storage of each artifact's newest copy: discovery's, already made
  by the plan (no further call);
- for each database stack, the replica its prepared stack holds there, when it is in data
  mode replica (the stack's outputs `DataMode` and `DatabaseIdentifier`: DescribeStacks),
  its state (`relight.steps.replica.state.read_replica_state`: DescribeDBInstances, or
  DescribeDBClusters and DescribeGlobalClusters) and its replication lag
  (`relight.steps.replica.lag.replica_lag_seconds`: CloudWatch in the region; issue 23's
  readiness part owns it, and a build without it says the lag was not read).

A read that fails leaves that cell a forecast, saying why; it never fails the plan.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.aws.cloudformation import outputs_of
from relight.commands.connection import Connection, connect_stacks
from relight.dr.forecast import replica_kind
from relight.dr.ladder import databases
from relight.dr.rpo import Observed, ReplicaReading
from relight.errors import RelightError
from relight.model.plan import Plan, stack_name
from relight.steps.discovery import Discovery
from relight.steps.replica.lag import replica_lag_seconds
from relight.steps.replica.state import ReplicaState, read_replica_state

StateReader = Callable[[Any, str, str, str, str], ReplicaState]
# replica_lag_seconds(cloudwatch_client, kind, identifier, now) -> float | None
LagReader = Callable[[Any, str, str, datetime], "float | None"]
# A read that fails leaves its cell a forecast: the plan goes on.
_READ_ERRORS = (RelightError, BotoCoreError, ClientError)


def observe(
    plan: Plan,
    conn: Connection,
    discovery: Discovery,
    now: datetime,
    *,
    state_reader: StateReader | None = None,
    lag_reader: LagReader | None = None,
) -> Observed:
    """The copies' ages and sizes, and each database stack's replica in the plan's region."""
    copy_ages = {
        name: artifact.age(now).total_seconds() for name, artifact in discovery.artifacts.items()
    }
    storage, storage_type = {}, {}
    for name, artifact in discovery.artifacts.items():
        size = artifact.attributes.get("allocated_gb")
        if size:
            storage[name] = float(size)
        if artifact.attributes.get("storage_type"):  # a DB snapshot's ("": AWS's default)
            storage_type[name] = artifact.attributes["storage_type"]
    keys = databases(plan.loaded)
    replicas = {}
    if keys:
        states = state_reader or read_replica_state
        lags = lag_reader or replica_lag_seconds
        for key in keys:
            replicas[key] = _replica(plan, conn, key, now, states, lags)
    return Observed(
        copy_ages=copy_ages, storage_gb=storage, storage_type=storage_type, replicas=replicas
    )


def _replica(
    plan: Plan,
    conn: Connection,
    key: str,
    now: datetime,
    states: StateReader,
    lags: LagReader,
) -> ReplicaReading:
    name = stack_name(plan.loaded.env.name, key)
    try:
        stack = connect_stacks(conn).state(name)
    except _READ_ERRORS as exc:
        return ReplicaReading(key, exists=False, detail=f"stack {name} not read: {exc}")
    outputs = outputs_of(stack) if stack else {}
    identifier = outputs.get("DatabaseIdentifier")
    if outputs.get("DataMode") != "replica" or not identifier:
        return ReplicaReading(key, exists=False, detail=f"no replica-mode stack {name}")
    kind = replica_kind(plan.loaded.env.stacks[key])
    try:
        state = states(conn.aws.client("rds", conn.region), key, kind, identifier, conn.region)
    except _READ_ERRORS as exc:
        return ReplicaReading(key, exists=False, detail=f"{identifier} not read: {exc}")
    if not state.exists or not state.replicating:
        return ReplicaReading(
            key, exists=bool(state.exists), replicating=False, detail=str(state.detail)
        )
    try:
        lag = lags(conn.aws.client("cloudwatch", conn.region), kind, identifier, now)
    except _READ_ERRORS:
        lag = None  # the cell says: no lag datapoint
    return ReplicaReading(key, exists=True, replicating=True, lag_seconds=lag, detail=state.status)
