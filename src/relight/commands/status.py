"""`relight status` and `relight unlock`: every stack relight made for the environment in a
region, and who holds the lock of its runs there (and removing it)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from relight.aws.cloudformation import serves
from relight.aws.lease import Holder, break_lock, read_lock
from relight.commands.connection import Connection, connect_stacks, lock_ref
from relight.model.config import LoadedEnvironment
from relight.model.plan import stack_name
from relight.model.shapes import tag_dict


def lock_holder(
    loaded: LoadedEnvironment,
    conn: Connection,
    namespace: str | None = None,
    *,
    replication: bool = False,
) -> Holder | None:
    """Who holds the lock now, or None: read-only (a command can say so before it asks)."""
    found = read_lock(lock_ref(loaded, conn, namespace, replication=replication))
    return found[0] if found else None


def unlock(
    loaded: LoadedEnvironment,
    conn: Connection,
    namespace: str | None = None,
    *,
    replication: bool = False,
    expected: Holder | None = None,
) -> Holder | None:
    """`relight unlock --env E --region R [--as NAME]`: remove the lock (only `expected`'s,
    the holder the operator was shown, when given), for a run known to be dead that should
    not be waited for until its lease lapses. Returns the holder it removed, or None when
    nothing was locked."""
    ref = lock_ref(loaded, conn, namespace, replication=replication)
    return break_lock(ref, expected)


def status(
    loaded: LoadedEnvironment, conn: Connection, listed: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Every stack relight made for the environment in the region, any namespace (from
    `listed`, the region's DescribeStacks, when the caller has it already), and the stacks a
    StackSet made for its global ones (relight estate prepare: tagged for the stacks they
    serve, not for the environment; shown by relight's key)."""
    rows = []
    made_for = {
        stack_name(loaded.env.name, key): key
        for key, s in loaded.env.stacks.items()
        if s.stands == "global"
    }
    for stack in connect_stacks(conn).list_stacks() if listed is None else listed:
        tags = tag_dict(stack.get("Tags"))
        served = [key for name, key in made_for.items() if serves(stack, name)]
        if served:
            tags = {**tags, "relight:stack": served[0], "relight:namespace": ""}
        elif tags.get("relight:env") != loaded.env.name:
            continue
        changed = stack.get("LastUpdatedTime") or stack.get("CreationTime")
        rows.append(
            {
                "stack": tags.get("relight:stack", ""),
                "name": stack["StackName"],
                "status": stack["StackStatus"],
                "purpose": tags.get("relight:purpose", ""),
                "namespace": tags.get("relight:namespace", ""),
                "run": tags.get("relight:run", ""),
                "protected": bool(stack.get("EnableTerminationProtection")),
                "prepared": tags.get("relight:prepared", ""),
                "last_change": changed.isoformat() if changed else "",
            }
        )
    order = {key: i for i, key in enumerate(loaded.order)}
    return sorted(
        rows, key=lambda r: (r["namespace"], order.get(r["stack"], len(order)), r["name"])
    )


# the incident at a glance: every region ----------------------------------------------------------


def region_state(loaded: LoadedEnvironment, conn: Connection, now: datetime) -> dict[str, Any]:
    """One region of `relight status --env E` (no --region): whether it serves (its serving
    marker), a failback in progress there (its record), its failback latches (the alarm's
    state), its stacks by purpose, and the age of the newest data a failover there would
    restore. Read only; what cannot be read is said, never raised."""
    from botocore.exceptions import BotoCoreError, ClientError

    from relight.aws.serving import failback_key, read_record, read_serving
    from relight.errors import RelightError

    region, env = conn.region, loaded.env
    row: dict[str, Any] = {"env": env.name, "region": region, "home": region == env.home_region}
    try:
        s3 = conn.aws.client("s3", region)
        marker = read_serving(s3, conn.account_id, region, env.name)
        row["serving"] = marker.as_dict() if marker else None
        record = read_record(s3, conn.account_id, region, failback_key(env.name))
        row["failback"] = (
            {k: record.get(k) for k in ("run_id", "started", "done", "graceful", "teardown")}
            if record is not None
            else None
        )
        listed = connect_stacks(conn).list_stacks()  # with their outputs: the latches' too
        rows = status(loaded, conn, listed)
        mine = [r for r in rows if not r["namespace"]]
        row["stacks"] = {
            "failover": sum(1 for r in mine if r["purpose"] == "failover" and not r["prepared"]),
            "prepared": sum(1 for r in mine if r["prepared"]),
            "home": sum(1 for r in mine if r["purpose"] == "home"),
            "drills and test copies": sum(1 for r in rows if r["namespace"]),
        }
        names = {r["name"] for r in mine}
        row["latches"] = _latches(conn, [s for s in listed if s["StackName"] in names], now)
        if not row["home"]:
            row["data_age"] = _data_ages(loaded, conn, now)
    except (RelightError, ClientError, BotoCoreError) as exc:  # unreachable: a finding here
        row["error"] = str(exc).splitlines()[0]
    return row


def _latches(conn: Connection, stacks: list[dict[str, Any]], now: datetime) -> dict[str, str]:
    """Each failback latch among the stacks (as DescribeStacks gives them, outputs included;
    `_latch`), by stack name."""
    from relight.commands.failover import LATCH_OUTPUT

    def cloudwatch(name: str) -> Any:  # in the account the stack lives in (its role_arn's)
        return conn.aws_for(name).client("cloudwatch", conn.region)

    return {
        s["StackName"]: _latch(cloudwatch(s["StackName"]), s["StackName"], now)
        for s in stacks
        if any(o.get("OutputKey") == LATCH_OUTPUT for o in s.get("Outputs", []))
    }


# What CloudWatch keeps (CloudWatch API Reference, GetMetricStatistics): "Data points with a
# period of 60 seconds (1-minute) are available for 15 days", "with a period of 3600 seconds
# (1 hour) are available for 455 days"; at most 1,440 data points a call; a start time more
# than 63 days ago takes periods that are multiples of 3600 (and is rounded down to the hour).
MINUTES_KEPT = timedelta(days=15)
# Where the newest data is looked for, nearest first (at most 457 periods a call).
LOOK_BACK = ((timedelta(hours=3), 60), (timedelta(days=15), 3600), (timedelta(days=455), 86400))
# A period holding both a 1 and a 0 is read again in the next finer one, if CloudWatch has it.
FINER = {86400: 3600, 3600: 60}


@dataclass(frozen=True)
class _Period:
    """The newest period with data of a latch's metric (its Maximum and Minimum)."""

    start: datetime
    seconds: int
    maximum: float
    minimum: float

    @property
    def mixed(self) -> bool:
        """Both a 1 (set) and a 0 (released) in the period: its Maximum alone would say set."""
        return self.maximum >= 1 > self.minimum


def _latch(cloudwatch: Any, name: str, now: datetime) -> str:
    """A failback latch read as Route 53 reads it: the alarm's data stream, not its state
    (docs/aws-behaviours.md, D3), whose alarm is the Maximum over 60 s. The newest period
    with data: 1 is latched (traffic held in this region), 0 released; no data in the 455
    days CloudWatch keeps it, never set (or not since). The newest data is looked for in
    minutes over 3 hours, then hours over 15 days, then days over 455 (`LOOK_BACK`); an hour
    or a day that holds both a 1 and a 0 is read again in hours, then minutes, as far as
    CloudWatch still has them, so a 1 released within the same hour is not read as set. One
    older than 15 days, with a 1 and a 0 in its newest hour, is said as such: the order is
    gone."""
    read = functools.partial(_newest_period, cloudwatch, name)
    end = now + timedelta(minutes=1)
    for span, seconds in LOOK_BACK:
        # on the minute, and the days on midnight (UTC): a start more than 15 days ago is
        # rounded down (to 5 minutes, or beyond 63 days to the hour) by CloudWatch itself
        start = (now - span).replace(second=0, microsecond=0)
        if seconds == 86400:
            start = start.replace(hour=0, minute=0)
        elif seconds == 3600:
            start = start.replace(minute=0)
        newest = read(start, end, seconds)
        if newest is not None:
            return _said(_refined(read, newest, now))
    return "never set"


def _newest_period(
    cloudwatch: Any, name: str, start: datetime, end: datetime, seconds: int
) -> _Period | None:
    """The newest period with data of the stack's latch metric between `start` and `end`."""
    from relight.commands.failover import LATCH_METRIC, LATCH_NAMESPACE

    points = cloudwatch.get_metric_statistics(
        Namespace=LATCH_NAMESPACE,
        MetricName=LATCH_METRIC,
        Dimensions=[{"Name": "Stack", "Value": name}],
        StartTime=start,
        EndTime=end,
        Period=seconds,
        Statistics=["Maximum", "Minimum"],
    )["Datapoints"]
    if not points:
        return None
    last = max(points, key=lambda p: p["Timestamp"])
    return _Period(last["Timestamp"], seconds, float(last["Maximum"]), float(last["Minimum"]))


def _refined(
    read: Callable[[datetime, datetime, int], _Period | None], newest: _Period, now: datetime
) -> _Period:
    """The newest period, read again in finer ones while it holds both a 1 and a 0 and
    CloudWatch still has the finer data (minutes: 15 days)."""
    while newest.mixed and newest.seconds in FINER:
        seconds = FINER[newest.seconds]
        if seconds < 3600 and newest.start < now - MINUTES_KEPT:
            break
        finer = read(newest.start, newest.start + timedelta(seconds=newest.seconds), seconds)
        if finer is None:
            break
        newest = finer
    return newest


def _said(newest: _Period) -> str:
    """What the newest period says: latched, released, or (a 1 and a 0 in an hour or a day
    CloudWatch no longer has the minutes of) either."""
    day = newest.start.date().isoformat()
    if newest.seconds < 3600 or not newest.mixed:
        at = day if newest.seconds >= 86400 else newest.start.isoformat(timespec="minutes")
        return f"latched ({at})" if newest.maximum >= 1 else f"released ({at})"
    when = day
    if newest.seconds < 86400:
        until = newest.start + timedelta(seconds=newest.seconds)
        when = f"{day} between {newest.start:%H:%M} and {until:%H:%M}"
    return (
        f"latched or released on {when} (older than 15 days: CloudWatch no longer has the minute)"
    )


def _data_ages(loaded: LoadedEnvironment, conn: Connection, now: datetime) -> dict[str, float]:
    """Seconds since the data of the newest copy of each artifact there was taken."""
    from relight.steps.discovery import discover

    found = discover(
        conn.aws, loaded.env, conn.region, account_id=conn.account_id, now=lambda: now,
        secrets=False,  # the ages of the data only
    )  # fmt: skip
    return {name: a.age(now).total_seconds() for name, a in found.artifacts.items()}


def incident(rows: list[dict[str, Any]], env: str) -> dict[str, Any]:
    """Which region serves, from the regions' states: a recovery region whose marker says
    serving (or failing over), else home. A failback recorded in progress is named."""
    serving = [r for r in rows if r.get("serving")]
    failing_back = [r for r in rows if r.get("failback")]
    home = next(r["region"] for r in rows if r["home"])
    if serving:
        where = serving[0]
        marker = where["serving"]
        summary = {
            "serves": where["region"],
            "since": marker.get("since"),
            "state": marker.get("state"),
            "latched": any(v.startswith("latched (") for v in where.get("latches", {}).values()),
            "failback": f"relight failback --env {env} --from {where['region']}",
        }
    else:
        summary = {"serves": home, "since": None, "state": "home", "latched": False,
                   "failback": None}  # fmt: skip
    if failing_back:
        summary["failback_in_progress"] = {
            "from": failing_back[0]["region"],
            "done": failing_back[0]["failback"].get("done", []),
            "rerun": f"relight failback --env {env} --from {failing_back[0]['region']}",
        }
    if len(serving) > 1:
        summary["warning"] = (
            "more than one region is marked serving: "
            + ", ".join(r["region"] for r in serving)
            + "; only one takes traffic (Route 53 has one PRIMARY and one SECONDARY)"
        )
    return summary
