"""What holds data in a stack, and the rule that a rerun never replaces it unless asked by name.

A failover restores databases and data volumes from the newest copies; from then on they
hold data written in the recovery region. Discovery finds a newer copy on every run, and
CloudFormation replaces a database whose `DBSnapshotIdentifier` changes (or a volume whose
`SnapshotId` changes): the data written since the failover would be gone. So:

- `stateful_parts` finds, in a rendered template, the resources that hold data (databases,
  clusters, volumes, and instances with a volume restored from a snapshot) and the
  Parameters that feed their snapshot properties;
- `pin` keeps, for a stack that exists, the snapshot it was restored from, unless the
  operator named the stack in `--replace-data`;
- `data_losses` reads a change set and names every change that would replace or delete a
  stateful resource; deploy refuses it (and plan shows it) unless the stack is named.

An Auto Scaling group's instances are not data holders here: the group replaces them by
design (a rolling update to a newer AMI, an unhealthy instance), each launching with its own
copy of the data snapshot, and the old volumes are kept (DeleteOnTermination false). Nor is
its launch template: the snapshot it names is not pinned, so a rerun moves it to the newest
copy, and a warm standby deployed by `prepare` long ago scales up at failover from today's
copy, not from the one of the day it was prepared. State that must outlive an instance
belongs in a database or on fixed instances.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from relight.model.blueprint import DERIVED
from relight.model.shapes import parameter_dict

# Resources that are data themselves.
DATA_TYPES = {
    "AWS::RDS::DBInstance": "database",
    "AWS::RDS::DBCluster": "database cluster",
    "AWS::EC2::Volume": "volume",
    "AWS::EFS::FileSystem": "file system",
    "AWS::DynamoDB::Table": "table",
}
# Properties that say which snapshot a resource is restored from.
SNAPSHOT_PROPERTIES = {"DBSnapshotIdentifier", "SnapshotIdentifier", "SnapshotId"}


@dataclass(frozen=True)
class Kept:
    """A stateful parameter kept at the value the stack was restored from."""

    parameter: str
    kept: str
    newer: str


def _refs_under(node: Any, inside: bool = False) -> Iterator[str]:
    """Parameter/resource names `Ref`'d from within a snapshot property."""
    if isinstance(node, list):
        for item in node:
            yield from _refs_under(item, inside)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and inside and isinstance(value, str):
                yield value
            else:
                yield from _refs_under(value, inside or key in SNAPSHOT_PROPERTIES)


def stateful_parts(template: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(Parameters that feed a snapshot property, logical ids of resources that hold data)."""
    declared = set(template.get("Parameters", {}))
    parameters: set[str] = set()
    resources: set[str] = set()
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::EC2::LaunchTemplate":
            # Holds no data: each instance the group launches restores its own copy, so the
            # newest copy is what a launch should get (pinning it restored stale data).
            continue
        fed = set(_refs_under(resource.get("Properties", {}))) & declared
        if fed:
            parameters |= fed
            resources.add(logical)
        if resource.get("Type") in DATA_TYPES:
            resources.add(logical)
    # What relight fills from that snapshot goes with it (a database's Port, storage type and
    # option group: what its restore kept), never from a newer copy the stack does not use.
    derived = template.get("Metadata", {}).get(DERIVED, {})
    parameters |= {name for name, spec in derived.items() if spec.get("from") in parameters}
    return tuple(sorted(parameters)), tuple(sorted(resources))


def launch_parameters(template: Mapping[str, Any]) -> tuple[str, ...]:
    """Parameters that feed a launch template's snapshot properties. Not data (see above), so
    never kept at failover; but while the region serves, a rerun keeps them (a newer copy
    would roll the serving fleet onto data from elsewhere): commands.failover."""
    declared = set(template.get("Parameters", {}))
    fed: set[str] = set()
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") == "AWS::EC2::LaunchTemplate":
            fed |= set(_refs_under(resource.get("Properties", {}))) & declared
    return tuple(sorted(fed))


def pin(
    parameters: Mapping[str, str],
    stateful: Iterable[str],
    existing: Mapping[str, Any] | None,
    replace: bool,
) -> tuple[dict[str, str], list[Kept]]:
    """The parameters to deploy with: for a stack that exists, its stateful parameters keep
    the value it was restored from (unless `replace`). Returns them and what was kept."""
    if existing is None:
        return dict(parameters), []
    current = parameter_dict(existing)
    pinned, kept = dict(parameters), []
    for name in stateful:
        old, new = current.get(name), parameters.get(name)
        if old and new is not None and old != new and not replace:
            pinned[name] = old
            kept.append(Kept(name, old, new))
    return pinned, kept


def data_losses(changes: Iterable[Mapping[str, Any]], resources: Iterable[str]) -> list[str]:
    """Every change of a change set that would replace or delete a stateful resource."""
    holding = set(resources)
    losses = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        logical, kind = rc.get("LogicalResourceId", "?"), rc.get("ResourceType", "?")
        if logical not in holding and kind not in DATA_TYPES:
            continue
        action, replacement = rc.get("Action"), rc.get("Replacement")
        if action == "Remove":
            losses.append(f"{logical} ({kind}) would be deleted")
        elif action == "Modify" and replacement in ("True", "Conditional"):
            maybe = "" if replacement == "True" else " (CloudFormation says: conditionally)"
            losses.append(f"{logical} ({kind}) would be replaced{maybe}")
    return losses
