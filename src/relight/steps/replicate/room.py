"""Room for DB snapshot copies: a copy is a manual DB snapshot in the target region, and counts
against the region's quota of them (docs/aws-behaviours.md, Q7, Q9).

RDS DescribeAccountAttributes gives the `ManualSnapshots` quota: "Used", the manual DB instance
snapshots in the account (region), and "Max", the quota. The copies this run would start beyond
that room are not started: each is a failed copy that says how many are in use, how many
relight's own older copies `--prune` would free, and the command that asks for more. Aurora
cluster snapshots count against another quota (`ManualClusterSnapshots`) and are not held here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relight.aws.failures import is_aws_failure
from relight.aws.quotas import QUOTAS, request_command
from relight.steps.discovery import Candidate
from relight.steps.replicate.copies import CopyResult


def manual_snapshot_room(rds: Any) -> tuple[int, int] | None:
    """(used, max) of the region's manual DB snapshot quota; None where RDS does not say."""
    try:
        quotas = rds.describe_account_attributes()["AccountQuotas"]
    except Exception as exc:
        if not is_aws_failure(exc):
            raise
        return None  # the copy goes ahead; CopyDBSnapshot says SnapshotQuotaExceeded if full
    for quota in quotas:
        if quota.get("AccountQuotaName") == "ManualSnapshots":
            return int(quota["Used"]), int(quota["Max"])
    return None


def prunable(existing: Mapping[str, list[Candidate]], keep: int) -> int:
    """How many of relight's ready DB snapshot copies lie beyond the newest `keep` of their
    lookup: what `--prune keep` deletes (those still in use are kept, so at most this)."""
    return sum(
        max(0, sum(1 for c in copies if c.relight_copy and c.ready) - keep)
        for copies in existing.values()
        if any(c.kind == "rds_snapshot" for c in copies)
    )


def hold_over_quota(
    start: list[tuple[str, Candidate, str | None]],
    room: tuple[int, int] | None,
    existing: Mapping[str, list[Candidate]],
    target: str,
    prune: int | None,
) -> tuple[list[tuple[str, Candidate, str | None]], list[CopyResult]]:
    """The copies to start, and those held because the manual DB snapshot quota is full."""
    new = [item for item in start if item[1].kind == "rds_snapshot" and item[2] is None]
    if room is None or not new:
        return start, []
    used, most = room
    fits = max(0, most - used)
    held = new[fits:]
    if not held:
        return start, []
    keep = prune or 1
    frees = prunable(existing, keep)
    quota = QUOTAS["manual_snapshots"]
    why = (
        f"quota {quota.name} ({quota.service} {quota.code}): {used} in use + {len(new)} copies "
        f"> {most} allowed in {target}; not copied. --prune {keep} deletes relight's older "
        f"copies ({frees} here{' now' if prune else ''}), then rerun; or ask for more: "
        f"{request_command(quota, used + len(new), target)}"
    )
    results = [
        CopyResult(name, source.kind, source.id, target, "failed", reason=why)
        for name, source, _ in held
    ]
    return [item for item in start if item not in held], results
