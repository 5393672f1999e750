"""The coverage ledger: every resource capture found in or attached to the VPC, and for each
property it read whether the file reproduces it (the key), notes it (the `# CAPTURE:`
comment), changes it on purpose (and why), or does not read it. Written beside the file as
`stacks/<env>.capture.json` (docs/capture.md, "The coverage ledger").

- `record`: the recorder that keeps every response capture's reads receive
- `resources`: the resources in those responses
- `scope`: which belong to the VPC, and the stack each is captured into
- `sweep`: the ledger's own reads (ENIs, NACLs, scheduled actions, hooks, volumes, tags)
- `table`: the one declarative table of (type, property) → what capture does with it (its
  rows built with `rows`; the type names in `kinds`; the identity fields in `identity`)
- `judge`: each property against the table and the captured file
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from relight.capture.common import Client, Note
from relight.capture.ledger import table as t
from relight.capture.ledger.eni import RDS, eni_owner, rds_owner
from relight.capture.ledger.judge import STATUSES, judge
from relight.capture.ledger.record import Call, Recorder
from relight.capture.ledger.resources import Resource, extract
from relight.capture.ledger.scope import Placed, scope
from relight.capture.ledger.sweep import arn_kind, sweep

VERSION = 1
CAPTURED, NOT_READ = "captured", "not read"

__all__ = ["VERSION", "Ledger", "Placed", "Recorder", "build_ledger", "ledger_path"]


def ledger_path(out: Path) -> Path:
    """`stacks/shop.yaml` → `stacks/shop.capture.json`."""
    return out.with_name(f"{out.stem}.capture.json")


@dataclass
class Ledger:
    """The ledger as written: `resources` and `unread` are JSON-ready."""

    environment: str
    region: str
    vpc: str
    tags: dict[str, str] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    unread: list[dict[str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        kinds = Counter(r["type"] for r in self.resources)
        unread = Counter(r["type"] for r in self.resources if r["status"] == NOT_READ)
        props = Counter(p["status"] for r in self.resources for p in r.get("properties", []))
        return {
            "resources": {
                "found": len(self.resources),
                CAPTURED: len(self.resources) - sum(unread.values()),
                NOT_READ: sum(unread.values()),
                "by_type": dict(sorted(kinds.items())),
                "not_read_by_type": dict(sorted(unread.items())),
            },
            "properties": {s: props.get(s, 0) for s in STATUSES},
            "unread_calls": len(self.unread),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "environment": self.environment,
            "region": self.region,
            "vpc": self.vpc,
            "tags": self.tags,
            "summary": self.summary(),
            "identity": {k: list(v) for k, v in sorted(t.IDENTITY.items())},
            "resources": self.resources,
            "unread": self.unread,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Ledger:
        data = json.loads(text)
        if data.get("version") != VERSION:
            raise ValueError(
                f"ledger version {data.get('version')!r}: this relight reads {VERSION}"
            )
        return cls(
            data["environment"],
            data["region"],
            data["vpc"],
            data.get("tags", {}),
            data["resources"],
            data.get("unread", []),
        )

    def lines(self) -> list[str]:
        """The summary for the screen."""
        s = self.summary()
        res, props = s["resources"], s["properties"]
        out = [
            f"resources: {res['found']} found, {res[CAPTURED]} captured, {res[NOT_READ]} not read"
        ]
        for kind, n in res["by_type"].items():
            missed = res["not_read_by_type"].get(kind, 0)
            out.append(f"  {kind}: {n}" + (f" ({missed} not read)" if missed else ""))
        out.append("properties: " + ", ".join(f"{props[k]} {k}" for k in STATUSES))
        missed = [r for r in self.resources if r["status"] == NOT_READ]
        for r in missed:
            why = f" ({r['owner']})" if r.get("owner") else ""
            out.append(f"  not read: {r['type']} {r['id']}{why}")
        for u in self.unread:
            out.append(f"  unread: {u['call']} was refused: grant {u['permission']}")
        return out


def build_ledger(
    calls: list[Call],
    factory: Client,
    *,
    placed: Placed,
    text: str,
    notes: list[Note],
    environment: str,
    region: str,
    tags: dict[str, str] | None,
) -> Ledger:
    """The ledger of a capture: what its `calls` read, plus the sweep's own reads."""
    doc = yaml.safe_load(text) or {}
    read = scope(extract(calls), placed)
    selection = dict(tags) if tags else _vpc_tags(read, placed.vpc_id)
    swept, unread = sweep(factory, placed.vpc_id, read, selection, calls)
    found = extract([*calls, *swept.calls])
    known = {r.key for r in read} | _gateways(read)
    everything = scope(found, placed)
    ledger = Ledger(environment, region, placed.vpc_id, selection)
    _artifacts(everything, doc)
    for res in everything:
        if res.kind == t.ENI:
            ledger.resources.append(eni_entry(res, everything))
        elif res.key in known or res.owner:
            ledger.resources.append(_read(res, doc, notes))
        else:
            ledger.resources.append(_entry(res, NOT_READ))
    names = {n for r in everything for n in r.names}
    for call in swept.calls:
        for item in call.response.get("ResourceTagMappingList", []):
            arn = item["ResourceARN"]
            kind, ident = arn_kind(arn)
            if arn in names or ident in names or _relights_own(item):
                continue
            names |= {arn, ident}
            ledger.resources.append(
                {"type": kind, "id": ident, "arn": arn, "status": NOT_READ, "found_by": "tags"}
            )
    ledger.unread = [{"call": u.call, "permission": u.permission, "error": u.error} for u in unread]
    return ledger


def _relights_own(item: dict[str, Any]) -> bool:
    """A resource of a copy relight built (a drill in the home region): its stack's tags,
    production's among them, propagate to it (E34), and `relight:env` says it is relight's."""
    return any(tag.get("Key") == "relight:env" for tag in item.get("Tags", []))


def _gateways(read: list[Resource]) -> set[tuple[str, str]]:
    """The internet gateway a public tier's routes name: capture reads it through them."""
    return {
        (t.IGW, str(route.get("GatewayId")))
        for r in read
        if r.kind == t.ROUTE_TABLE
        for route in r.props.get("Routes", [])
        if str(route.get("GatewayId", "")).startswith("igw-")
    }


def _vpc_tags(read: list[Resource], vpc_id: str) -> dict[str, str]:
    vpc = next((r for r in read if r.kind == t.VPC and r.id == vpc_id), None)
    tags = (vpc.props.get("Tags") if vpc else None) or []
    return {
        x["Key"]: x["Value"]
        for x in tags
        if x["Key"] != "Name" and not x["Key"].startswith(("aws:", "relight:"))
    }


def _artifacts(found: list[Resource], doc: Any) -> None:
    """`{artifact}`: the artifact that restores a database."""
    for name, spec in (doc.get("artifacts") or {}).items():
        ident = spec.get("db_instance") or spec.get("db_cluster")
        for r in found:
            member = r.props.get("DBClusterIdentifier")  # an Aurora member: its cluster's
            if ident and r.kind in (t.DB, t.CLUSTER) and ident in (r.id, member):
                r.context["artifact"] = name


# the name a person knows a resource by, where its id is an ARN
_NAMES = {
    t.LB: "LoadBalancerName",
    t.TG: "TargetGroupName",
    t.SCHEDULED: "ScheduledActionName",
    t.POLICY: "PolicyName",
}


def _entry(res: Resource, status: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": res.kind, "id": res.id, "status": status}
    if res.props.get(_NAMES.get(res.kind, "")):
        entry["name"] = str(res.props[_NAMES[res.kind]])
    if res.stack:
        entry["stack"] = res.stack
    if res.owner:
        entry["owner"] = res.owner
    entry["found_by"] = res.origin
    return entry


def _read(res: Resource, doc: Any, notes: list[Note]) -> dict[str, Any]:
    entry = _entry(res, CAPTURED)
    if res.owner:  # a group's member instance: its properties are the launch template's
        if res.kind in t.OWNED:
            entry["properties"] = judge(res, doc, notes, t.OWNED[res.kind])
        return entry
    entry["properties"] = judge(res, doc, notes)
    return entry


def eni_entry(res: Resource, found: list[Resource]) -> dict[str, Any]:
    """An interface is captured when capture read its owner; an RDS one only with the
    database it belongs to (by subnet and security groups), never for any database."""
    kind, owner = eni_owner(res.props)
    database = rds_owner(res.props, found) if kind == RDS else ""
    if database:
        kind, owner = t.DB, database
    for r in found:  # a NAT gateway and an interface endpoint name their interfaces
        held = [a.get("NetworkInterfaceId") for a in r.props.get("NatGatewayAddresses", [])]
        if res.id in held + list(r.props.get("NetworkInterfaceIds", [])):
            kind, owner = r.kind, r.id
    have = {(r.kind, n) for r in found for n in r.names if r.stack or r.owner}
    ok = (
        (kind, owner) in have
        or (kind == t.DB and bool(owner))
        or (
            kind == t.INSTANCE
            and any(r.kind == t.INSTANCE and r.id == owner and (r.stack or r.owner) for r in found)
        )
    )
    entry = _entry(res, CAPTURED if ok else NOT_READ)
    entry["owner"] = f"{kind} {owner}".strip()
    entry["requester"] = res.props.get("RequesterId", "")
    entry["interface_type"] = res.props.get("InterfaceType", "")
    return entry
