"""`relight status` and `relight unlock`: every stack relight made for the environment in a
region, and who holds the lock of its runs there (and removing it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relight.aws.lease import Holder, break_lock, read_lock
from relight.commands.connection import Connection, connect_stacks, lock_ref
from relight.model.config import LoadedEnvironment
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


def status(loaded: LoadedEnvironment, conn: Connection) -> list[dict[str, Any]]:
    """Every stack relight made for the environment in the region, any namespace."""
    stacks = connect_stacks(conn)
    rows = []
    for stack in stacks.list_stacks():
        tags = tag_dict(stack.get("Tags"))
        if tags.get("relight:env") != loaded.env.name:
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
        rows = status(loaded, conn)
        mine = [r for r in rows if not r["namespace"]]
        row["stacks"] = {
            "failover": sum(1 for r in mine if r["purpose"] == "failover" and not r["prepared"]),
            "prepared": sum(1 for r in mine if r["prepared"]),
            "home": sum(1 for r in mine if r["purpose"] == "home"),
            "drills and test copies": sum(1 for r in rows if r["namespace"]),
        }
        row["latches"] = _latches(conn, [r["name"] for r in mine], now)
        if not row["home"]:
            row["data_age"] = _data_ages(loaded, conn, now)
    except (RelightError, ClientError, BotoCoreError) as exc:  # unreachable: a finding here
        row["error"] = str(exc).splitlines()[0]
    return row


def _latches(conn: Connection, stack_names: list[str], now: datetime) -> dict[str, str]:
    """Each failback latch among the stacks, read as Route 53 reads it: the alarm's data
    stream, not its state (docs/aws-behaviours.md, D3). The newest one-minute period with
    data: 1 is latched (traffic held in this region), 0 released; no data at all, never set
    (or set more than 15 days ago, beyond what CloudWatch keeps at one minute)."""
    from datetime import timedelta

    from relight.commands.failover import LATCH_METRIC, LATCH_NAMESPACE, LATCH_OUTPUT

    cfn = conn.aws.client("cloudformation", conn.region)
    cloudwatch = conn.aws.client("cloudwatch", conn.region)
    found = {}
    for name in stack_names:
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not any(o.get("OutputKey") == LATCH_OUTPUT for o in stack.get("Outputs", [])):
            continue
        state = "never set"
        for span, period in ((timedelta(hours=3), 60), (timedelta(days=15), 3600)):
            points = cloudwatch.get_metric_statistics(
                Namespace=LATCH_NAMESPACE,
                MetricName=LATCH_METRIC,
                Dimensions=[{"Name": "Stack", "Value": name}],
                # periods start on the minute (as CloudWatch's own one-minute periods do)
                StartTime=(now - span).replace(second=0, microsecond=0),
                EndTime=now + timedelta(minutes=1),
                Period=period,
                Statistics=["Maximum"],
            )["Datapoints"]
            if points:
                last = max(points, key=lambda p: p["Timestamp"])
                at = last["Timestamp"].isoformat(timespec="minutes")
                state = f"latched ({at})" if last["Maximum"] >= 1 else f"released ({at})"
                break
        found[name] = state
    return found


def _data_ages(loaded: LoadedEnvironment, conn: Connection, now: datetime) -> dict[str, float]:
    """Seconds since the data of the newest copy of each artifact there was taken."""
    from relight.steps.discovery import discover

    found = discover(conn.aws, loaded.env, conn.region, account_id=conn.account_id, now=lambda: now)
    return {name: a.age(now).total_seconds() for name, a in found.artifacts.items()}


def incident(rows: list[dict[str, Any]]) -> dict[str, Any]:
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
            "latched": any(v.startswith("latched") for v in where.get("latches", {}).values()),
            "failback": f"relight failback --env {loaded_name(rows)} --from {where['region']}",
        }
    else:
        summary = {"serves": home, "since": None, "state": "home", "latched": False,
                   "failback": None}  # fmt: skip
    if failing_back:
        summary["failback_in_progress"] = {
            "from": failing_back[0]["region"],
            "done": failing_back[0]["failback"].get("done", []),
        }
    if len(serving) > 1:
        summary["warning"] = (
            "more than one region is marked serving: "
            + ", ".join(r["region"] for r in serving)
            + "; only one takes traffic (Route 53 has one PRIMARY and one SECONDARY)"
        )
    return summary


def loaded_name(rows: list[dict[str, Any]]) -> str:
    return str(rows[0].get("env", "")) if rows else ""
