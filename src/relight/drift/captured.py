"""Drift of a captured production: read it again as `relight capture` did, compare the files.

An environment file with `production:` describes production that relight did not build (by
hand, by another tool): there are no `<env>-<stack>` stacks at home to compare. Drift then
captures production again (read-only, the same reads as `relight capture`) and compares what
that capture would write with what the file says, key by key:

- per stack: its `blueprint` and its `params` (the parts capture writes from production); a
  stack's `stands`, `standby_params` and the like are the file's own choices, not compared;
- `zones`, `artifacts` (a new AMI family, a database renamed) and `tags` (production's own,
  read from its VPC);
- the CAPTURE comments: what the blueprints cannot reproduce, new or gone.

A per-region value (`{per_region: {home: ARN, R: ...}}`, a certificate capture read in the
home region) is compared by its home region's entry: production is the home region, and a
recovery region's entry filled in (as capture's placeholder asks) is not drift.

A difference is named by the file's key (e.g. `stacks.web.params.instance_type`), so the
person knows what to change: the file, to follow production, or production back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import yaml

from relight.capture import Capture, capture, find_vpc
from relight.drift.differences import (
    CHANGED,
    NOTE,
    ONLY_DECLARED,
    ONLY_LIVE,
    Difference,
    Drift,
    StackDrift,
    same,
)
from relight.model.config import LoadedEnvironment
from relight.model.per_region import PER_REGION

ENVIRONMENT = "environment"  # the pseudo-stack of the file's top-level keys
COMPARED_TOP = ("zones", "artifacts", "tags")  # tags: production's own, from its VPC
COMPARED_STACK = ("blueprint", "params")
_STACK_KEY = re.compile(r"^  ([a-z][a-z0-9_-]*):\s*$")
_NOTE = re.compile(r"^\s*# CAPTURE: (.*?)\s*$")


def recapture(loaded: LoadedEnvironment, client: Callable[[str], Any]) -> tuple[str, Capture]:
    """Production as `relight capture` reads it today: its VPC id and the capture."""
    env = loaded.env
    assert env.production is not None
    tags = env.production.tags
    vpc_id = env.production.vpc or find_vpc(client, dict(tags or {}))
    return vpc_id, capture(
        client,
        vpc_id=vpc_id,
        region=env.home_region,
        name=env.name,
        recovery_regions=list(env.recovery_regions),
        stand_in=env.stand_in,
        tags=dict(tags) if tags else None,
        ledger=False,  # drift needs no ledger: no recording, none of the sweep's calls
    )


def notes_by_stack(text: str) -> dict[str, set[str]]:
    """The CAPTURE comments of a captured file, by the stack they precede (`environment` for
    those above `stacks:`)."""
    found: dict[str, set[str]] = {}
    pending: list[str] = []  # comments above the next stack key
    current: str | None = None  # the stack whose body the lines are in
    in_stacks = False
    for line in text.splitlines():
        note = _NOTE.match(line)
        if note and current and line.startswith("    "):  # inside a stack's body
            found[current].add(note.group(1))
        elif note:
            pending.append(note.group(1))
        elif line.startswith("stacks:"):
            in_stacks = True
            found.setdefault(ENVIRONMENT, set()).update(pending)
            pending = []
        elif in_stacks and (key := _STACK_KEY.match(line)):
            current = key.group(1)
            found.setdefault(current, set()).update(pending)
            pending = []
    if pending:
        found.setdefault(ENVIRONMENT, set()).update(pending)
    return found


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def compare_values(path: str, declared: Any, live: Any) -> Iterator[tuple[str, Any, Any, str]]:
    """(key path, declared, live, kind) for each place the two YAML values differ.

    Mappings are compared key by key. Lists are compared as sets of items, each item in one
    of them only being its own difference (a security group rule, a subnet's CIDR); the same
    items in another order (subnets are listed in AZ order) is one `changed` difference."""
    if isinstance(declared, Mapping) and isinstance(live, Mapping):
        for key in [*declared, *(k for k in live if k not in declared)]:
            where = f"{path}.{key}"
            if key not in live:
                yield where, declared[key], None, ONLY_DECLARED
            elif key not in declared:
                yield where, None, live[key], ONLY_LIVE
            else:
                yield from compare_values(where, declared[key], live[key])
        return
    if isinstance(declared, list) and isinstance(live, list):
        ours = [_canonical(i) for i in declared]
        theirs = [_canonical(i) for i in live]
        if ours == theirs:
            return
        if sorted(ours) == sorted(theirs):
            yield path, declared, live, CHANGED
            return
        yield from (
            (path, None, i, ONLY_LIVE) for i, c in zip(live, theirs, strict=True) if c not in ours
        )
        yield from (
            (path, i, None, ONLY_DECLARED)
            for i, c in zip(declared, ours, strict=True)
            if c not in theirs
        )
        return
    if isinstance(declared, (Mapping, list)) or isinstance(live, (Mapping, list)):
        if _canonical(declared) != _canonical(live):
            yield path, declared, live, CHANGED
        return
    if not same(declared, live):
        yield path, declared, live, CHANGED


def _leaves(value: Any) -> int:
    """How many values a YAML value holds (a mapping's and a list's, each scalar one)."""
    if isinstance(value, Mapping):
        return sum(_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(_leaves(v) for v in value)
    return 1


def _difference(
    stack: str, source: str, path: str, declared: Any, live: Any, kind: str
) -> Difference:
    parts = path.split(".")
    resource = ".".join(parts[2:-1]) or parts[-1] if stack != ENVIRONMENT else parts[0]
    return Difference(
        stack, source, resource, source or None, parts[-1], declared, live, kind, key_path=path
    )


def compare(
    declared: Mapping[str, Any],
    declared_text: str,
    live: Mapping[str, Any],
    live_text: str,
    sources: Mapping[str, str],
) -> list[StackDrift]:
    """The file's document (and text, for its comments) against a fresh capture's."""
    notes = notes_by_stack(declared_text), notes_by_stack(live_text)
    ours: Mapping[str, Any] = declared.get("stacks") or {}
    theirs: Mapping[str, Any] = live.get("stacks") or {}
    top = StackDrift(ENVIRONMENT, "", exists=True)
    for key in COMPARED_TOP:
        for path, a, b, kind in compare_values(key, declared.get(key) or {}, live.get(key) or {}):
            top.differences.append(_difference(ENVIRONMENT, "", path, a, b, kind))
    found = [top]
    for key in [*ours, *(k for k in theirs if k not in ours)]:
        source = sources.get(key, "")
        where = f"stacks.{key}"
        stack = StackDrift(key, source, exists=key in theirs)
        found.append(stack)
        if key not in theirs:
            stack.differences.append(
                Difference(key, source, "-", None, "stack", key, None, ONLY_DECLARED, where)
            )
            continue
        if key not in ours:
            what = f"{theirs[key].get('blueprint', '?')} stack"
            stack.differences.append(
                Difference(key, source, "-", source or None, "stack", None, what, ONLY_LIVE, where)
            )
            continue
        stack.compared = sum(_leaves(ours[key].get(part)) for part in COMPARED_STACK)
        for part in COMPARED_STACK:
            for path, a, b, kind in compare_values(
                f"{where}.{part}", ours[key].get(part), theirs[key].get(part)
            ):
                stack.differences.append(_difference(key, source, path, a, b, kind))
    for key in sorted(set(notes[0]) | set(notes[1])):
        stack_drift = next((s for s in found if s.key == key), top)
        where = "" if key == ENVIRONMENT else f"stacks.{key}"
        old, new = notes[0].get(key, set()), notes[1].get(key, set())
        stack_drift.not_compared += [
            f"{where or '(top of file)'}: {text}" for text in sorted(old & new)
        ]
        for text in sorted(new - old):
            stack_drift.differences.append(_note(key, where, None, text, ONLY_LIVE))
        for text in sorted(old - new):
            stack_drift.differences.append(_note(key, where, text, None, ONLY_DECLARED))
    return found


def _note(key: str, where: str, declared: Any, live: Any, kind: str) -> Difference:
    where = f"{where or '(top of file)'} ({NOTE})"
    return Difference(key, "", NOTE, None, NOTE, declared, live, kind, where)


def _with_partial_tiers(live: dict[str, Any], declared: Mapping[str, Any], fresh: Capture) -> None:
    """A tier the file lists explicitly but production no longer covers in every AZ (a subnet
    was removed) cannot be written by capture; it is compared by production's CIDRs, so the
    difference names the subnet that went, not the whole tier."""
    for key, spec in (live.get("stacks") or {}).items():
        ours = ((declared.get("stacks") or {}).get(key) or {}).get("params") or {}
        if spec.get("blueprint") != "network" or not isinstance(ours.get("subnets"), Mapping):
            continue
        params = spec.setdefault("params", {})
        theirs = params.setdefault("subnets", {})
        for tier in ours["subnets"]:
            if tier not in theirs and tier in fresh.subnets:
                theirs[tier] = fresh.subnets[tier]


def home_entries(document: Mapping[str, Any], home: str) -> dict[str, Any]:
    """The document with each stack param of the form `{per_region: {...}}` read as its home
    region's entry (left whole when it has none, so the difference shows the form)."""
    out = dict(document)
    stacks = {}
    for key, spec in (document.get("stacks") or {}).items():
        params = spec.get("params") if isinstance(spec, Mapping) else None
        if isinstance(params, Mapping):
            spec = {**spec, "params": {k: _home_entry(v, home) for k, v in params.items()}}
        stacks[key] = spec
    if stacks:
        out["stacks"] = stacks
    return out


def _home_entry(value: Any, home: str) -> Any:
    if isinstance(value, Mapping) and set(value) == {PER_REGION}:
        entries = value[PER_REGION]
        if isinstance(entries, Mapping) and home in entries:
            return entries[home]
    return value


def drift_of_captured(loaded: LoadedEnvironment, client: Callable[[str], Any]) -> Drift:
    """Production named by the file's `production:` against the file. Read-only."""
    vpc_id, fresh = recapture(loaded, client)
    env = loaded.env
    live = home_entries(yaml.safe_load(fresh.text), env.home_region)
    declared = home_entries(loaded.document, env.home_region)
    _with_partial_tiers(live, declared, fresh)
    stacks = compare(declared, loaded.text, live, fresh.text, fresh.sources)
    production = f"captured production {vpc_id}"
    found = Drift(env.name, env.home_region, stacks, production, unit="value(s) of the file")
    unread = {n.line() for n in fresh.notes if n.unread}
    for stack in stacks:  # what could not be read today is not checked, not a change
        kept = [d for d in stack.differences if not (d.property == NOTE and d.live in unread)]
        found.notes += [f"not checked: {d.live}" for d in stack.differences if d not in kept]
        stack.differences = kept
    return found
