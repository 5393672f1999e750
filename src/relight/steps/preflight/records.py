"""The name a failover record takes must be free for it: Route 53 refuses a failover record
beside a simple record of the same name and type, or beside a CNAME of the same name.

Route 53's answers, as users quote them (its pages state the rules, not the texts):

- a simple record of the name and type: "RRSet with DNS name www.example.com., type A,
  SetIdentifier s cannot be created as a non-weighted set exists with the same name and type."
- a CNAME at the name: "RRSet of type A with DNS name www.example.com. is not permitted because
  a conflicting RRSet of type CNAME with the same DNS name already exists in zone example.com."
- a second record with the same failover role (another region's SECONDARY): a name has one
  PRIMARY and one SECONDARY (ResourceRecordSet, Failover); no text of AWS's found.

CloudFormation would find out only when it creates the record, in the middle of `prepare`, the
stack ending CREATE_FAILED. So preflight reads the records at the name first
(ListResourceRecordSets, a read of Route 53's control plane in us-east-1): only for the stacks
this run creates or updates, that is at `prepare`, while every region is healthy; a failover
reads the standing dns stack and asks Route 53 nothing. Route 53 out of reach (or switched off
by an outage rehearsal) is a note, never a blocker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relight.aws.accounts import account_of, as_role
from relight.aws.failures import endpoint_failed, is_aws_failure, unreachable
from relight.model.failover_pairs import failover_records
from relight.model.plan import Plan, StackPlan

ROUTE53 = "Route 53 (its control plane is in us-east-1)"


@dataclass(frozen=True)
class Wanted:
    """A failover record a stack of the plan makes, its values as the plan resolves them."""

    stack: str
    zone: str  # with its trailing dot
    name: str  # lower case, with its trailing dot
    type: str
    role: str  # PRIMARY or SECONDARY
    set_identifier: str


def _dns_name(name: str) -> str:
    """Route 53's form of a name: lower case, a trailing dot, `*` as `\\052`."""
    return name.lower().rstrip(".").replace("*", "\\052") + "."


def _value(node: Any, params: Mapping[str, Any], conditions: Mapping[str, Any]) -> Any:
    """A template value with the plan's literal Parameters put in (Ref, Fn::If, Fn::Join,
    Fn::Sub of pseudo-parameters, Fn::Equals, Fn::Not); None where it needs more."""
    if not isinstance(node, dict) or len(node) != 1:
        return node if not isinstance(node, dict) else None
    ((fn, arg),) = node.items()
    arg = arg if isinstance(arg, list | str) else [arg]
    if fn == "Ref":
        value = params.get(str(arg))
        return value if isinstance(value, str | int | float) else None
    if fn == "Fn::If":
        chosen = _value(conditions.get(arg[0]), params, conditions)
        return None if chosen is None else _value(arg[1 if chosen else 2], params, conditions)
    if fn == "Fn::Join":
        parts = [_value(p, params, conditions) for p in arg[1]]
        return None if None in parts else str(arg[0]).join(str(p) for p in parts)
    if fn == "Fn::Equals":
        a, b = (_value(x, params, conditions) for x in arg)
        return None if a is None or b is None else str(a) == str(b)
    if fn == "Fn::Not":
        inner = _value(arg[0], params, conditions)
        return None if inner is None else not inner
    if fn == "Fn::Sub" and isinstance(arg, str):
        text = arg
        for name, value in params.items():
            if isinstance(value, str):
                text = text.replace("${" + name + "}", value)
        return None if "${" in text else text
    return None


def wanted_records(plan: Plan, sp: StackPlan) -> list[Wanted]:
    """The failover records of a stack whose zone, name and type the plan gives literally."""
    import json

    template = json.loads(sp.body)
    params: dict[str, Any] = {
        **{k: v["Default"] for k, v in template.get("Parameters", {}).items() if "Default" in v},
        **sp.parameters,
        "AWS::StackName": sp.name,
        "AWS::Region": plan.region,
    }
    conditions = template.get("Conditions", {})
    found = []
    for props in failover_records(sp.body):
        zone = _value(props.get("HostedZoneName"), params, conditions)
        name = _value(props.get("Name"), params, conditions)
        ident = _value(props.get("SetIdentifier"), params, conditions)
        kind = props.get("Type")
        if not (isinstance(zone, str) and isinstance(name, str) and isinstance(kind, str)):
            continue  # a zone by id, or a name from another stack: CloudFormation will say
        found.append(
            Wanted(sp.key, _dns_name(zone), _dns_name(name), kind, props["Failover"], ident or "")
        )
    return found


def _conflict(want: Wanted, record: dict[str, Any]) -> str | None:
    """Why `record` (as ListResourceRecordSets gives it) blocks `want`, in Route 53's words
    where they are known; None when it does not."""
    if _dns_name(record["Name"].replace("\\052", "*")) != want.name:
        return None
    kind = record["Type"]
    if kind == "CNAME" and want.type != "CNAME":
        return (
            f"a CNAME record ({_target(record)}): Route 53 refuses the failover record beside "
            f'it ("RRSet of type {want.type} with DNS name {want.name} is not permitted because '
            f"a conflicting RRSet of type CNAME with the same DNS name already exists in zone "
            f'{want.zone}")'
        )
    if kind != want.type:
        return None
    if "SetIdentifier" not in record:
        return (
            f"a simple {kind} record ({_target(record)}): Route 53 refuses a failover record "
            f'beside it ("RRSet with DNS name {want.name}, type {kind}, SetIdentifier '
            f"{want.set_identifier} cannot be created as a non-weighted set exists with the "
            'same name and type.")'
        )
    if "Failover" not in record:
        return (
            f"a {_policy(record)} {kind} record ({record['SetIdentifier']}, {_target(record)}): "
            "Route 53 takes one routing policy per name and type, and refuses a failover record "
            "beside records of another (the ResourceRecordSet reference: \"You can't create "
            "non-failover resource record sets that have the same values for the Name and Type "
            'elements as failover resource record sets", and so for each policy)'
        )
    if record.get("Failover") == want.role and record["SetIdentifier"] != want.set_identifier:
        return (
            f"a {want.role} failover record already ({record['SetIdentifier']}, "
            f"{_target(record)}): a name has one PRIMARY and one SECONDARY record"
        )
    return None


_POLICIES = (
    ("Weight", "weighted"),
    ("Region", "latency"),
    ("GeoLocation", "geolocation"),
    ("GeoProximityLocation", "geoproximity"),
    ("MultiValueAnswer", "multivalue answer"),
    ("CidrRoutingConfig", "IP-based"),
)


def _policy(record: dict[str, Any]) -> str:
    """The routing policy of a record with a SetIdentifier, by the element that sets it."""
    return next((name for key, name in _POLICIES if key in record), "non-failover")


def _target(record: dict[str, Any]) -> str:
    alias = record.get("AliasTarget")
    if alias:
        return f"alias to {alias.get('DNSName', '?')}"
    values = [r.get("Value", "?") for r in record.get("ResourceRecords", [])]
    return ", ".join(values) or "no value"


class SameNamedZones(Exception):
    """More than one hosted zone of the record's zone name (a public and a private one):
    CloudFormation will not create a record that names its zone by HostedZoneName."""

    def __init__(self, ids: list[str]) -> None:
        super().__init__(", ".join(ids))
        self.ids = ids


def _records_at(route53: Any, zone: str, name: str) -> list[dict[str, Any]] | None:
    """Every record at `name` in the public or private zone named `zone` (None: no such zone;
    preflight's zone check names that)."""
    listed = route53.list_hosted_zones_by_name(DNSName=zone, MaxItems="2")["HostedZones"]
    zones = [z for z in listed if z["Name"] == zone]
    if not zones:
        return None
    if len(zones) > 1:
        raise SameNamedZones([z["Id"] for z in zones])
    found: list[dict[str, Any]] = []
    start = {"StartRecordName": name}
    while True:
        page = route53.list_resource_record_sets(HostedZoneId=zones[0]["Id"], **start)
        found += page.get("ResourceRecordSets", [])
        following = page.get("NextRecordName")
        if not page.get("IsTruncated") or _dns_name(str(following)) != name:
            return found
        start = {"StartRecordName": following, "StartRecordType": page["NextRecordType"]}
        if "NextRecordIdentifier" in page:
            start["StartRecordIdentifier"] = page["NextRecordIdentifier"]


def _fix(want: Wanted) -> str:
    return (
        f"move {want.name} to failover routing first: production's record becomes the PRIMARY "
        "(the dns blueprint with failover_role: PRIMARY, deployed with production, in place of "
        "the simple record; docs/dns-and-failback.md), or give "
        f"stacks.{want.stack}.params.RecordName a name that is free"
    )


def names_taken(plan: Plan, aws: Any) -> tuple[list[str], list[str]]:
    """Problems for failover records this run would make at a name Route 53 will not take
    them at (each with the record in the way and the fix), and notes when Route 53 could not
    be asked."""
    wanted = [w for sp in plan.stacks.values() for w in wanted_records(plan, sp)]
    if not wanted:
        return [], []
    down = aws.down("route53", plan.region)
    if down:
        return [], [
            f"stacks.{w.stack}: the records at {w.name} not checked ({down})" for w in wanted
        ]
    problems: list[str] = []
    notes: list[str] = []
    clients: dict[str | None, Any] = {}
    for want in wanted:
        role = plan.loaded.env.stacks[want.stack].role_arn
        as_whom = f" as {role}" if role else ""
        try:
            if role not in clients:
                acting = as_role(aws, role, plan.region) if role else aws
                clients[role] = acting.client("route53", plan.region, bounded=True)
            records = _records_at(clients[role], want.zone, want.name)
        except SameNamedZones as two:
            problems.append(
                f"stacks.{want.stack}.params.HostedZoneName: more than one hosted zone is named "
                f"{want.zone}{as_whom} ({two}, a public and a private one, say), and "
                "CloudFormation will not create a record that names its zone by HostedZoneName "
                'then ("If you have multiple hosted zones with the same domain name, you must '
                'specify the hosted zone using HostedZoneId"); delete or rename the zone the '
                "record is not meant for, or give the record its zone by HostedZoneId in a "
                "blueprint of your own"
            )
            continue
        except Exception as exc:
            if not is_aws_failure(exc):
                raise
            if endpoint_failed(exc):
                said = "did not answer" if unreachable(exc) else "failed"
                notes.append(
                    f"stacks.{want.stack}: the records at {want.name} not checked: {ROUTE53} "
                    f"{said} ({type(exc).__name__})"
                )
            else:
                problems.append(
                    f"stacks.{want.stack}.params.RecordName: cannot read the records at "
                    f"{want.name} in zone {want.zone}{as_whom} ({exc}); relight needs "
                    "route53:ListHostedZonesByName and route53:ListResourceRecordSets there"
                    + (f", and to be trusted by {role}" if role else "")
                )
            continue
        if records is None and role:  # without a role, the zone check (names.py) says it
            problems.append(
                f"stacks.{want.stack}.params.HostedZoneName: no hosted zone {want.zone} in "
                f"account {account_of(role)} (stacks.{want.stack}.role_arn's); name the role "
                "of the account that owns the zone"
            )
        for record in records or []:
            why = _conflict(want, record)
            if why:
                problems.append(
                    f"stacks.{want.stack}.params.RecordName: {want.name} ({want.type}) in zone "
                    f"{want.zone} holds {why}; {_fix(want)}"
                )
    return problems, notes
