"""A kept snapshot goes through the RPO gate like a fresh one.

A rerun keeps the snapshot an existing stack was restored from (model/stateful.py): its data
may have been written to since, and a newer copy must not replace it. But a stack whose
region does not serve yet (an earlier failover that failed, or stopped, before it was
verified) holds only what it was restored from: its data is as old as that snapshot. So a
kept snapshot's age is read, shown (plan, the failover's summary) and held against the RPO
like a discovered one's: an older one stops the run, naming `--replace-data` (restore from
the newest copy) and `--accept-stale` (keep it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relight.model.environment import ArtifactRef
from relight.model.plan import Plan
from relight.model.shapes import parameter_dict
from relight.model.times import human_age
from relight.steps.discovery import Discovery
from relight.steps.discovery.listing import describe_one


@dataclass(frozen=True)
class KeptCopy:
    stack: str
    parameter: str
    artifact: str
    kept: str
    newest: str
    age_seconds: float | None  # None: the kept snapshot is not there any more

    def describe(self) -> str:
        age = "gone" if self.age_seconds is None else f"data {human_age(self.age_seconds)} old"
        return f"stacks.{self.stack}.{self.parameter} keeps {self.kept} ({age})"


def kept_copies(
    plan: Plan,
    aws: Any,
    existing: Mapping[str, Mapping[str, Any]],
    discovery: Discovery,
    replace_data: frozenset[str] = frozenset(),
) -> list[KeptCopy]:
    """Every stateful parameter an existing stack keeps at a snapshot other than the newest
    copy (by stack name in `existing`), with that snapshot's age now."""
    found = []
    for key, sp in plan.stacks.items():
        stack = existing.get(sp.name)
        if stack is None or key in replace_data:
            continue
        current = parameter_dict(stack)
        for parameter in sp.stateful_parameters:
            ref = sp.parameters.get(parameter)
            if not isinstance(ref, ArtifactRef) or ref.attribute is not None:
                continue
            newest = discovery.artifacts.get(ref.artifact)
            kept = current.get(parameter)
            if newest is None or not kept or kept == newest.id:
                continue
            copy = describe_one(aws, plan.region, newest.kind, kept)
            age = (
                (discovery.at - (copy.source_time or copy.created)).total_seconds()
                if copy
                else None
            )
            found.append(KeptCopy(key, parameter, ref.artifact, kept, newest.id, age))
    return found


def kept_problems(kept: list[KeptCopy], rpo_seconds: float, accept_stale: bool) -> list[str]:
    """What stops a run: a kept snapshot older than the RPO (unless accepted), or gone."""
    problems = []
    for k in kept:
        if k.age_seconds is not None and (accept_stale or k.age_seconds <= rpo_seconds):
            continue
        why = (
            "which is no longer there"
            if k.age_seconds is None
            else f"older than the RPO ({human_age(rpo_seconds)})"
        )
        problems.append(
            f"{k.describe()}, {why}: the stack exists and a rerun keeps the data it was "
            f"restored from; the newest copy is {k.newest}. Pass --replace-data {k.stack} to "
            f"restore from it (what runs now is replaced, a database leaving a final "
            f"snapshot)" + ("" if k.age_seconds is None else ", or --accept-stale to keep it")
        )
    return problems
