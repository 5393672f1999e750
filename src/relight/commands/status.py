"""`relight status` and `relight unlock`: every stack relight made for the environment in a
region, and who holds the lock of its runs there (and removing it)."""

from __future__ import annotations

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
