"""Room for DB (cluster) snapshot copies: a copy is a manual DB snapshot in the target region,
or a manual DB cluster snapshot for Aurora, and counts against the region's quota of them
(docs/aws-behaviours.md, Q7, Q10).

RDS DescribeAccountAttributes gives the `ManualSnapshots` and `ManualClusterSnapshots` quotas:
"Used", the manual DB (cluster) snapshots in the account (region), and "Max", the quota. The
copies this run would start beyond that room are not started: each is a failed copy that says
how many are in use, how many relight's own older copies `--prune` would free, and the command
that asks for more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relight.aws.failures import is_aws_failure
from relight.aws.quotas import QUOTAS, request_command
from relight.steps.discovery import Candidate
from relight.steps.replicate.copies import CopyResult

# An artifact kind → the AccountQuota RDS counts its copies in, and relight's quota key.
SNAPSHOT_QUOTAS = {
    "rds_snapshot": ("ManualSnapshots", "manual_snapshots"),
    "rds_cluster_snapshot": ("ManualClusterSnapshots", "manual_cluster_snapshots"),
}


def manual_snapshot_room(rds: Any) -> dict[str, tuple[int, int]] | None:
    """(used, max) of the region's manual DB snapshot and DB cluster snapshot quotas, by
    artifact kind; None where RDS does not say."""
    try:
        quotas = rds.describe_account_attributes()["AccountQuotas"]
    except Exception as exc:
        if not is_aws_failure(exc):
            raise
        return None  # the copy goes ahead; CopyDBSnapshot says SnapshotQuotaExceeded if full
    named = {name: kind for kind, (name, _) in SNAPSHOT_QUOTAS.items()}
    return {
        named[q["AccountQuotaName"]]: (int(q["Used"]), int(q["Max"]))
        for q in quotas
        if q.get("AccountQuotaName") in named
    } or None


def prunable(existing: Mapping[str, list[Candidate]], keep: int, kind: str = "rds_snapshot") -> int:
    """How many of relight's ready copies of `kind` lie beyond the newest `keep` of their
    lookup: what `--prune keep` deletes (those still in use are kept, so at most this)."""
    return sum(
        max(0, sum(1 for c in copies if c.relight_copy and c.ready) - keep)
        for copies in existing.values()
        if any(c.kind == kind for c in copies)
    )


def hold_over_quota(
    start: list[tuple[str, Candidate, str | None]],
    room: Mapping[str, tuple[int, int]] | None,
    existing: Mapping[str, list[Candidate]],
    target: str,
    prune: int | None,
) -> tuple[list[tuple[str, Candidate, str | None]], list[CopyResult]]:
    """The copies to start, and those held because their manual snapshot quota is full."""
    results: list[CopyResult] = []
    for kind, (_, key) in SNAPSHOT_QUOTAS.items():
        new = [item for item in start if item[1].kind == kind and item[2] is None]
        if room is None or kind not in room or not new:
            continue
        used, most = room[kind]
        held = new[max(0, most - used) :]
        if not held:
            continue
        keep = prune or 1
        frees = prunable(existing, keep, kind)
        quota = QUOTAS[key]
        why = (
            f"quota {quota.name} ({quota.service} {quota.code}): {used} in use + {len(new)} "
            f"copies > {most} allowed in {target}; not copied. --prune {keep} deletes "
            f"relight's older copies ({frees} here{' now' if prune else ''}), then rerun; or "
            f"ask for more: {request_command(quota, used + len(new), target)}"
        )
        results += [
            CopyResult(name, source.kind, source.id, target, "failed", reason=why)
            for name, source, _ in held
        ]
        start = [item for item in start if item not in held]
    return start, results
