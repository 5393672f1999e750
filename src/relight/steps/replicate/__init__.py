"""Replication: copy the newest AMIs, EBS snapshots and RDS snapshots to recovery regions.

For every lookup of the environment, the newest match in the source region is
copied to each target region unless a copy of it is already there (a rerun
copies nothing twice). Copies are encrypted with the target region's key from
`kms_keys` (required when the source is encrypted), carry the source's tags,
and gain lineage tags (`relight:source-id`, `-region`, `-time`, `-volume`)
plus `relight:copy=true`, the mark `--prune` looks for. At most 20 copies run
at once per target region (AWS's limit on concurrent snapshot copies).
Sources are never deleted; `--prune N` deletes only relight-made copies in
the target regions beyond the newest N of each lookup.

When the environment declares a `recovery_account_id` other than the source's
account, the sources are first shared with it and the copies are made with the
recovery account's credentials. What AWS will not share is refused before
anything is shared or copied: automated RDS snapshots, and sources encrypted
with an AWS managed key or with a customer managed key whose key policy does not
let the recovery account use it.

On real AWS a copy just started can be "not found" for a while (eventual
consistency): reads and tags of a new copy are asked again with a backoff for up
to `settle` seconds before the copy counts as failed. Source ARNs come from the
listing (or are built in the source region's partition, never assumed `aws`).

The package:

- `copies`: what a copy is (`CopyResult`, its tags and identifier, `key_policy_gaps`)
- `room`: room for DB snapshot copies under the manual DB snapshot quota (what `--prune` frees)
- `replicator`: `Replicator`, the AWS calls: what to copy, what cannot be copied or shared,
  copying, the Auto Scaling grant, pruning
- here: `replicate`, which refuses what cannot be done before anything is shared or copied,
  then replicates to each target region in turn
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

from relight.errors import InputError
from relight.steps.discovery import Candidate
from relight.steps.replicate.copies import CopyResult
from relight.steps.replicate.in_use import Busy, copies_in_use
from relight.steps.replicate.replicator import Replicator
from relight.steps.replicate.room import SNAPSHOT_QUOTAS, hold_over_quota, manual_snapshot_room

__all__ = ["MAX_COPIES_PER_REGION", "CopyResult", "Replicator", "replicate", "summary_counts"]

MAX_COPIES_PER_REGION = 20


def replicate(
    replicator: Replicator,
    source_region: str,
    targets: list[str],
    *,
    wait: bool = True,
    prune: int | None = None,
    workers: int = MAX_COPIES_PER_REGION,
    still_held: Callable[[], None] = lambda: None,
) -> list[CopyResult]:
    """Copy the newest source artifacts to every target; returns what happened to each.

    `workers` bounds the copies in flight per target region (AWS allows 20). `still_held`
    raises once the run's lock is lost: asked before each region's copies and its prune.
    """
    env = replicator.env
    problems = [f"--to {t}: the same region as --from" for t in targets if t == source_region]
    sources, missing = replicator.newest_sources(source_region)
    problems += missing
    problems += replicator.option_group_problems(sources, source_region, targets)
    problems += replicator.sharing_problems(sources, source_region)
    for name, source in sources.items():
        for target in targets:
            if source.encrypted and target not in env.kms_keys:
                problems.append(
                    f"kms_keys.{target}: {source.id} ({name}) is encrypted; give the key in "
                    f"{target} its copies are encrypted with"
                )
    if prune is not None and prune < 1:
        problems.append("--prune: keep at least 1 copy")
    if problems:
        raise InputError(
            "replication cannot start:\n  " + "\n  ".join(problems),
            hint="nothing was shared, copied or deleted",
        )
    results: list[CopyResult] = []
    for target in targets:
        still_held()
        results += _replicate_to(
            replicator, sources, source_region, target, wait, prune, workers, still_held
        )
    return results


def _replicate_to(
    replicator: Replicator,
    sources: Mapping[str, Candidate],
    source_region: str,
    target: str,
    wait: bool,
    prune: int | None,
    workers: int,
    still_held: Callable[[], None] = lambda: None,
) -> list[CopyResult]:
    """One target region: what is up to date, the copies to start (or wait for), the Auto
    Scaling grant on its key, and the prune."""
    results: list[CopyResult] = []
    existing = replicator.existing_copies(target)
    todo: list[tuple[str, Candidate, str | None]] = []  # (name, source, copy in progress)
    for name, source in sources.items():
        done = [c for c in existing[name] if source.id in (c.source_id, c.id)]
        ready = [c for c in done if c.ready]
        if ready:
            results.append(
                CopyResult(name, source.kind, source.id, target, "up-to-date", ready[0].id)
            )
            replicator.on_progress(target, name, "UP-TO-DATE", ready[0].id)
        else:
            todo.append((name, source, done[0].id if done else None))
    # Copies already in flight (an earlier --no-wait) count against AWS's 20.
    todo.sort(key=lambda item: item[2] is None)
    room = max(0, MAX_COPIES_PER_REGION - sum(1 for *_, busy in todo if busy))
    new = [item for item in todo if item[2] is None]
    deferred = new[room:] if not wait else []
    for name, source, _ in deferred:
        results.append(
            CopyResult(
                name,
                source.kind,
                source.id,
                target,
                "deferred",
                reason=f"over {MAX_COPIES_PER_REGION} copies at once; rerun to continue",
            )
        )
    start = [item for item in todo if item not in deferred]
    copying_db = any(s.kind in SNAPSHOT_QUOTAS and busy is None for _, s, busy in start)
    snapshots = (
        manual_snapshot_room(replicator.target.client("rds", target)) if copying_db else None
    )
    start, held = hold_over_quota(start, snapshots, existing, target, prune)
    for result in held:
        replicator.on_progress(target, result.artifact, "FAILED", result.reason)
    results += held
    with ThreadPoolExecutor(max_workers=min(workers, MAX_COPIES_PER_REGION)) as pool:
        futures = [
            pool.submit(replicator.copy_one, name, source, source_region, target, wait, busy)
            for name, source, busy in start
        ]
        results += [future.result() for future in futures]
    grant = replicator.grant_autoscaling(target)
    if grant is not None:
        results.append(grant)
    if prune is not None:
        still_held()  # a prune deletes: never by a run that lost its lock
        results += _prune(replicator, sources, target, prune)
    return results


def _prune(
    replicator: Replicator, sources: Mapping[str, Candidate], target: str, keep: int
) -> list[CopyResult]:
    """Prune each lookup's copies in `target`, keeping those still in use (in_use.py). When
    what uses them cannot be read, nothing is pruned there: a failure that says so."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        in_use = copies_in_use(replicator.target, target)
    except Busy as busy:
        why = f"prune skipped in {target}: {busy}; rerun the prune once it is done"
        return [CopyResult("(prune)", "-", "", target, "failed", reason=why)]
    except (ClientError, BotoCoreError) as exc:
        why = f"prune skipped in {target}: cannot read what still uses the copies: {exc}"
        return [CopyResult("(prune)", "-", "", target, "failed", reason=why)]
    existing = replicator.existing_copies(target)
    results: list[CopyResult] = []
    for name in sources:
        results += replicator.prune(name, existing[name], keep, target, in_use)
    return results


def summary_counts(results: list[CopyResult]) -> Mapping[str, int]:
    return Counter(r.action for r in results)
