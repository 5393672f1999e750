"""`relight capture`: read a production VPC in its home region (read-only) and write an
environment file that rebuilds it with the shipped blueprints.

What the blueprints cannot express is never dropped silently: each such difference becomes a
`Note` (resource, property, what was found, what the file says instead), written into the
file as a YAML comment and listed by the command.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError

from relight.errors import RelightError

Client = Callable[[str], Any]  # service name → a boto3 client in the home region
TIERS = ("public", "private", "data")
ADMIN_PORTS = {22, 3389, 3306, 5432, 1433, 1521, 6379, 27017, 9200}


class CaptureError(RelightError):
    """Production could not be read."""


@dataclass(frozen=True)
class Note:
    resource: str
    property: str
    text: str

    def line(self) -> str:
        return f"{self.resource} {self.property}: {self.text}"


@dataclass
class Capture:
    """The captured environment: the file's text and what it could not reproduce."""

    text: str
    notes: list[Note]
    sources: dict[str, str] = field(default_factory=dict)  # stack key → production resource
    # tier → production's subnet CIDRs in AZ ID order, also for a tier the file cannot hold
    # (one that misses an AZ): drift compares them with the file's
    subnets: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Section:
    key: str
    body: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    source: str = ""  # the production resource it was captured from
    dns_name: str = ""  # a load balancer's DNSName: the target of production's records
    # a load balancer: the instances its target group holds; fixed instances: their ids
    instances: list[str] = field(default_factory=list)


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise CaptureError(f"capture: could not read {what}: {exc}") from None


def _pages(client: Any, op: str, key: str, **kwargs: Any) -> list[Any]:
    try:
        out: list[Any] = []
        for page in client.get_paginator(op).paginate(**kwargs):
            out.extend(page.get(key, []))
        return out
    except (ClientError, BotoCoreError) as exc:
        raise CaptureError(f"capture: could not read {op}: {exc}") from None


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or [] if not t["Key"].startswith("aws:")}


def _key(text: str, taken: set[str] | None = None) -> str:
    """A blueprint-friendly key: lower case letters and digits, starting with a letter."""
    key = re.sub(r"[^a-z0-9]", "", text.lower())
    key = re.sub(r"^[0-9]+", "", key) or "x"
    if taken is not None:
        base, n = key, 2
        while key in taken:
            key, n = f"{base}{n}", n + 1
        taken.add(key)
    return key


def _name_pattern(name: str) -> str:
    """`web-2024-06-01-1234` → `web-*`: the stable prefix, with a wildcard suffix."""
    match = re.match(r"^(.*?[-_.])\d", name)
    return f"{match.group(1)}*" if match else f"{name}*"


def find_vpc(client: Client, tags: dict[str, str]) -> str:
    """The one VPC carrying every tag in `tags` (`--tag Key=Value`)."""
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
    vpcs = _call("VPCs", client("ec2").describe_vpcs, Filters=filters)["Vpcs"]
    shown = ", ".join(f"{k}={v}" for k, v in tags.items())
    if len(vpcs) != 1:
        found = ", ".join(v["VpcId"] for v in vpcs) or "none"
        raise CaptureError(
            f"capture: --tag {shown} must select exactly one VPC; found {found}: "
            "add tags or name it with --vpc"
        )
    return str(vpcs[0]["VpcId"])


# network ---------------------------------------------------------------------------------------


def _network(ec2: Any, vpc_id: str, notes: list[Note]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(network params, facts: subnet → tier, AZ IDs, tiers, comments for the stack)."""
    vpcs = _call(f"VPC {vpc_id}", ec2.describe_vpcs, VpcIds=[vpc_id])["Vpcs"]
    if not vpcs:
        raise CaptureError(f"capture: no VPC {vpc_id} in this region; check --vpc and --region")
    cidr = vpcs[0]["CidrBlock"]
    for extra in vpcs[0].get("CidrBlockAssociationSet", [])[1:]:
        notes.append(
            Note(vpc_id, "CidrBlock", f"secondary CIDR {extra['CidrBlock']} not reproduced")
        )
    if not 16 <= ipaddress.IPv4Network(cidr).prefixlen <= 24:
        notes.append(Note(vpc_id, "CidrBlock", f"{cidr}: the blueprint takes /16 to /24"))
    flt = [{"Name": "vpc-id", "Values": [vpc_id]}]
    by_tier, subnet_tier, az_ids = _tiers(ec2, flt, notes)
    tiers = [t for t in TIERS if t in by_tier]
    params: dict[str, Any] = {"cidr": cidr, "az_count": len(az_ids)}
    if tiers != list(TIERS):
        params["tiers"] = tiers
    comments = _subnet_cidrs(params, by_tier, tiers, az_ids, vpc_id, notes)
    params["nat"] = _nat(ec2, flt, tiers, az_ids, vpc_id, notes)
    gateway = _gateway_endpoints(ec2, flt, notes)
    if gateway:
        params["gateway_endpoints"] = gateway
    params["flow_logs"] = _flow_logs(ec2, vpc_id, notes)
    params["AvailabilityZones"] = {"zones": "names"}
    if params["flow_logs"]:
        params["FlowLogRoleArn"] = {"output": "identity.FlowLogRoleArn"}
    facts = {
        "subnet_tier": subnet_tier,
        "az_ids": az_ids,
        "tiers": tiers,
        "comments": comments,
        "subnets": {
            t: [by_tier[t][az][0]["CidrBlock"] for az in az_ids if by_tier[t].get(az)]
            for t in tiers
        },
    }
    return params, facts


def _route_tier(table: Any, notes: list[Note]) -> str:
    """public: a default route to an internet gateway; private: to a NAT gateway; else data."""
    for route in (table or {}).get("Routes", []):
        if route.get("DestinationCidrBlock") != "0.0.0.0/0":
            continue
        if route.get("NatGatewayId"):
            return "private"
        if str(route.get("GatewayId", "")).startswith("igw-"):
            return "public"
        target = next((v for k, v in route.items() if k.endswith("Id")), "?")
        notes.append(
            Note(table["RouteTableId"], "Routes 0.0.0.0/0", f"to {target}: not reproduced (data)")
        )
    return "data"


def _tiers(
    ec2: Any, flt: list[Any], notes: list[Note]
) -> tuple[dict[str, dict[str, list[Any]]], dict[str, str], list[str]]:
    """(tier → AZ ID → subnets, subnet → tier, AZ IDs)."""
    subnets = _pages(ec2, "describe_subnets", "Subnets", Filters=flt)
    tables = _pages(ec2, "describe_route_tables", "RouteTables", Filters=flt)
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    table_of = {
        a["SubnetId"]: t for t in tables for a in t.get("Associations", []) if a.get("SubnetId")
    }
    tier_of = {t["RouteTableId"]: _route_tier(t, notes) for t in tables}
    by_tier: dict[str, dict[str, list[Any]]] = {}
    subnet_tier: dict[str, str] = {}
    for s in sorted(subnets, key=lambda s: ipaddress.IPv4Network(s["CidrBlock"])):
        table = table_of.get(s["SubnetId"], main)
        t = tier_of[table["RouteTableId"]] if table else "data"
        subnet_tier[s["SubnetId"]] = t
        by_tier.setdefault(t, {}).setdefault(s["AvailabilityZoneId"], []).append(s)
    return by_tier, subnet_tier, sorted({s["AvailabilityZoneId"] for s in subnets})


def _subnet_cidrs(
    params: dict[str, Any],
    by_tier: dict[str, dict[str, list[Any]]],
    tiers: list[str],
    az_ids: list[str],
    vpc_id: str,
    notes: list[Note],
) -> list[str]:
    """Production's CIDRs as explicit `subnets:` when the blueprint's split differs."""
    explicit: dict[str, list[str]] = {}
    for t in tiers:
        for az in az_ids:
            found = by_tier[t].get(az, [])
            for extra in found[1:]:
                notes.append(
                    Note(
                        extra["SubnetId"],
                        "CidrBlock",
                        f"second {t} subnet {extra['CidrBlock']} in {az} not reproduced "
                        "(the blueprint makes one subnet per tier and AZ)",
                    )
                )
        explicit[t] = [by_tier[t][az][0]["CidrBlock"] for az in az_ids if by_tier[t].get(az)]
    computed = _computed_plan(params["cidr"], tiers, len(az_ids))
    if {t: set(c) for t, c in computed.items()} == {t: set(c) for t, c in explicit.items()}:
        return []  # the blueprint's own split (which AZ holds which slot is moot in another region)
    # A tier that misses an AZ cannot be written (the blueprint makes one subnet per tier and
    # AZ): the blueprint computes it, the others keep production's CIDRs, if they do not overlap.
    partial = [t for t, c in explicit.items() if len(c) != len(az_ids)]
    kept = {t: c for t, c in explicit.items() if t not in partial}
    made = [ipaddress.IPv4Network(c) for t in partial for c in computed.get(t, [])]
    if partial and (len(made) < len(partial) or _overlap(made, kept)):
        notes.append(
            Note(
                vpc_id,
                "subnets",
                "tiers do not cover every AZ: the blueprint's computed CIDRs are used, not "
                + "; ".join(f"{t} {', '.join(c)}" for t, c in explicit.items()),
            )
        )
        return []
    for t in partial:
        missing = ", ".join(az for az in az_ids if not by_tier[t].get(az))
        notes.append(
            Note(
                f"{t} tier",
                "subnets",
                f"no {t} subnet in {missing}: the blueprint makes the tier in every AZ, with "
                f"its own CIDRs {', '.join(computed[t])}, not production's "
                f"{', '.join(explicit[t])}",
            )
        )
    if kept:
        params["subnets"] = kept
    split = "; ".join(f"{t} {', '.join(c)}" for t, c in computed.items())
    return [
        f"subnets: production's CIDRs, one per AZ in AZ ID order ({', '.join(az_ids)}), "
        "instead of the blueprint's split" + (f" ({split})" if split else "")
    ]


def _overlap(made: list[ipaddress.IPv4Network], kept: dict[str, list[str]]) -> bool:
    return any(
        m.overlaps(ipaddress.IPv4Network(c)) for m in made for cs in kept.values() for c in cs
    )


def _nat(
    ec2: Any, flt: list[Any], tiers: list[str], az_ids: list[str], vpc_id: str, notes: list[Note]
) -> str:
    nats = [
        n
        for n in _pages(ec2, "describe_nat_gateways", "NatGateways", Filters=flt)
        if n.get("State") in ("available", "pending")
    ]
    if nats and ("private" not in tiers or "public" not in tiers):
        notes.append(
            Note(vpc_id, "NatGateways", "NAT without both public and private tiers: nat: none")
        )
        return "none"
    if len(nats) > 1 and len(nats) != len(az_ids):
        notes.append(Note(vpc_id, "NatGateways", f"{len(nats)} NAT gateways for {len(az_ids)} AZs"))
    return "none" if not nats else "single" if len(nats) == 1 else "per-az"


def _gateway_endpoints(ec2: Any, flt: list[Any], notes: list[Note]) -> list[str]:
    gateway: set[str] = set()
    for e in _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=flt):
        service = e["ServiceName"].rsplit(".", 1)[-1]
        if e.get("VpcEndpointType", "Gateway") == "Gateway" and service in ("s3", "dynamodb"):
            gateway.add(service)
        else:
            notes.append(
                Note(e["VpcEndpointId"], "ServiceName", f"{e['ServiceName']} not reproduced")
            )
    return [s for s in ("s3", "dynamodb") if s in gateway]


def _flow_logs(ec2: Any, vpc_id: str, notes: list[Note]) -> bool:
    flow = _call(
        "flow logs",
        ec2.describe_flow_logs,
        Filters=[{"Name": "resource-id", "Values": [vpc_id]}],
    )["FlowLogs"]
    for f in flow:
        if f.get("LogDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
            notes.append(
                Note(
                    f["FlowLogId"],
                    "LogDestinationType",
                    f"{f['LogDestinationType']}: the blueprint logs to CloudWatch Logs",
                )
            )
    return bool(flow)


def _computed_plan(cidr: str, tiers: list[str], az_count: int) -> dict[str, list[str]]:
    vpc = ipaddress.IPv4Network(cidr)
    if not 16 <= vpc.prefixlen <= 23:
        return {}
    blocks = list(vpc.subnets(prefixlen_diff=2))
    out: dict[str, list[str]] = {}
    for index, t in enumerate(TIERS):
        if t in tiers:
            slots = list(blocks[index].subnets(new_prefix=vpc.prefixlen + 5))
            out[t] = [str(s) for s in slots[:az_count]]
    return out


# security groups -------------------------------------------------------------------------------


def _security(ec2: Any, vpc_id: str, notes: list[Note]) -> tuple[dict[str, Any], dict[str, str]]:
    """(groups graph, group id → key)."""
    flt = [{"Name": "vpc-id", "Values": [vpc_id]}]
    found = [
        g
        for g in _pages(ec2, "describe_security_groups", "SecurityGroups", Filters=flt)
        if g["GroupName"] != "default"
    ]
    taken: set[str] = set()
    keys = {
        g["GroupId"]: _key(_tags(g.get("Tags")).get("Name") or g["GroupName"], taken)
        for g in sorted(found, key=lambda g: g["GroupName"])
    }
    groups: dict[str, Any] = {}
    for g in sorted(found, key=lambda g: keys[g["GroupId"]]):
        key = keys[g["GroupId"]]
        entry: dict[str, Any] = {"description": g.get("Description", "")}
        for direction, perms in (
            ("ingress", g["IpPermissions"]),
            ("egress", g["IpPermissionsEgress"]),
        ):
            rules = _rules(perms, keys, f"{g['GroupId']} ({key}) {direction}", direction, notes)
            entry[direction] = rules
        groups[key] = entry
    return groups, keys


def _rules(
    perms: list[Any], keys: dict[str, str], where: str, direction: str, notes: list[Note]
) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for p in perms:
        protocol = str(p.get("IpProtocol", "-1"))
        protocol = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}.get(protocol, protocol)
        if protocol not in ("tcp", "udp", "-1"):  # icmp's types and codes are not ports
            notes.append(Note(where, "IpProtocol", f"protocol {protocol} not reproduced"))
            continue
        ports: dict[str, Any] = {}
        if protocol != "-1":
            low, high = p.get("FromPort", -1), p.get("ToPort", -1)
            ports = {"port": low} if low == high else {"port_range": [low, high]}
        peers = _peers(p, keys, where, notes)
        for kind, peer, description in peers:
            rule: dict[str, Any] = {kind: peer, **ports}
            if protocol != "tcp":
                rule["protocol"] = protocol
            if description:
                rule["description"] = description
            if direction == "ingress" and kind == "cidr" and _world_admin(peer, protocol, p):
                notes.append(
                    Note(
                        where,
                        "IpPermissions",
                        f"{peer} open on admin/database ports "
                        f"{p.get('FromPort')}-{p.get('ToPort')}: the blueprint refuses it",
                    )
                )
                continue
            rules.append(rule)
    return _merge_ports(rules)


def _peers(
    p: dict[str, Any], keys: dict[str, str], where: str, notes: list[Note]
) -> list[tuple[str, str, str | None]]:
    """(cidr or group, the CIDR or the group's key, description) of one permission."""
    peers: list[tuple[str, str, str | None]] = []
    for r in p.get("IpRanges", []):
        peers.append(("cidr", r["CidrIp"], r.get("Description")))
    for r in p.get("Ipv6Ranges", []):
        peers.append(("cidr", r["CidrIpv6"], r.get("Description")))
    for r in p.get("UserIdGroupPairs", []):
        if r.get("GroupId") in keys:
            peers.append(("group", keys[r["GroupId"]], r.get("Description")))
        else:
            notes.append(
                Note(
                    where,
                    "UserIdGroupPairs",
                    f"{r.get('GroupId')} is outside the VPC's captured groups (the default "
                    "group, or another VPC): not reproduced",
                )
            )
    for r in p.get("PrefixListIds", []):
        notes.append(
            Note(where, "PrefixListIds", f"{r['PrefixListId']} is regional: not reproduced")
        )
    return peers


def _world_admin(peer: str, protocol: str, p: dict[str, Any]) -> bool:
    if not peer.endswith("/0"):
        return False
    if protocol == "-1":
        return True
    low, high = p.get("FromPort", 0), p.get("ToPort", 0)
    return any(low <= port <= high for port in ADMIN_PORTS)


def _merge_ports(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Single-port rules to the same peer, with the same protocol and description, become one
    rule with `ports:` (as the demo writes 80 and 443)."""
    merged: list[dict[str, Any]] = []
    ports: dict[tuple[Any, ...], list[int]] = {}
    for rule in rules:
        if "port" not in rule:
            merged.append(rule)
            continue
        sig = tuple((k, v) for k, v in rule.items() if k != "port")
        if sig not in ports:
            ports[sig] = []
            merged.append({"_sig": sig})
        ports[sig].append(rule["port"])
    out: list[dict[str, Any]] = []
    for rule in merged:
        if "_sig" not in rule:
            out.append(rule)
            continue
        fields = dict(rule["_sig"])
        found = sorted(set(ports[rule["_sig"]]))
        peer = {k: fields.pop(k) for k in ("cidr", "group") if k in fields}
        shaped = {"port": found[0]} if len(found) == 1 else {"ports": found}
        out.append({**peer, **shaped, **fields})
    return out


# the rest --------------------------------------------------------------------------------------


def capture(
    client: Client,
    *,
    vpc_id: str,
    region: str,
    name: str,
    recovery_regions: list[str],
    account_id: str | None = None,
    stand_in: bool = False,
    blueprints_dir: str | None = None,
    tags: dict[str, str] | None = None,
) -> Capture:
    """Read production around `vpc_id` (read-only) and write the environment file's text.

    The file's `production:` names the VPC (or the `tags` it was selected by), where
    `relight drift` reads production again."""
    ec2 = client("ec2")
    net_notes: list[Note] = []
    network, facts = _network(ec2, vpc_id, net_notes)
    sg_notes: list[Note] = []
    groups, sg_keys = _security(ec2, vpc_id, sg_notes)
    subnet_tier: dict[str, str] = facts["subnet_tier"]
    az_count = len(facts["az_ids"])
    artifacts: dict[str, Any] = {}
    roles: dict[str, Any] = {}
    taken = {"identity", "network", "security", "loadbalancer", "database", "dns"}
    unplaced: list[Note] = []  # notes no stack of the file holds: written at its top
    found = _Found(ec2, client, subnet_tier, sg_keys, az_count, artifacts, roles, taken)
    lbs, target_groups = _load_balancers(client("elbv2"), vpc_id, found, unplaced)
    asgs, asg_instances = _asgs(client, ec2, subnet_tier)
    sections = [_compute(asg, data, found, target_groups) for asg, data in asgs]
    sections += _fixed_instances(found, vpc_id, asg_instances)
    _fixed_targets(lbs, sections)
    dbs = _databases(client("rds"), vpc_id, _Databases(sg_keys, groups, artifacts, unplaced, taken))
    _wire_database(dbs, sections, facts["tiers"])
    sections.extend(dbs)
    stacks: list[_Section] = []
    if roles or network["flow_logs"] or dbs:
        identity = {
            "instance_roles": roles,
            "flow_logs": bool(network["flow_logs"]),
            "rds_monitoring": bool(dbs),
        }
        stacks.append(
            _Section("identity", {"blueprint": "identity", "stands": "global", "params": identity})
        )
    stacks.append(
        _Section(
            "network",
            {"blueprint": "network", "params": network},
            notes=net_notes,
            comments=facts["comments"],
        )
    )
    if groups:
        security = {"VpcId": {"output": "network.VpcId"}, "groups": groups}
        stacks.append(
            _Section("security", {"blueprint": "security", "params": security}, notes=sg_notes)
        )
    elif sg_notes:
        stacks[-1].notes.extend(sg_notes)
    stacks.extend(lbs)
    stacks.extend(sections)
    dns = _dns(client, lbs, unplaced) if lbs else None
    if dns is not None:
        _stand_with_dns(stacks, dns)
        stacks.append(dns)
    head: dict[str, Any] = {
        "name": name,
        "description": f"captured from {vpc_id} in {region} by relight capture",
        "home_region": region,
        "recovery_regions": recovery_regions,
        "stand_in": stand_in,
        "production": {"tags": dict(tags)} if tags else {"vpc": vpc_id},
    }
    if account_id:
        head["account_id"] = account_id
    if blueprints_dir:
        head["blueprints_dir"] = blueprints_dir
    text = _render(head, vpc_id, region, facts["az_ids"], artifacts, stacks, unplaced)
    sources = {
        s.key: s.source or (vpc_id if s.key in ("network", "security") else "") for s in stacks
    }
    notes = [*unplaced, *(n for s in stacks for n in s.notes)]
    return Capture(text, notes, sources, facts["subnets"])


def _wire_database(dbs: list[_Section], sections: list[_Section], tiers: list[str]) -> None:
    """Compute stacks get the first database's endpoint; each database a client group and
    subnets."""
    if not dbs:
        return
    computes = [s for s in sections if s.body.get("blueprint") == "compute"]
    for s in computes:
        s.body["params"]["DatabaseEndpoint"] = {"output": f"{dbs[0].key}.Endpoint"}
        s.body["params"]["DatabasePort"] = {"output": f"{dbs[0].key}.Port"}
    for db in dbs:
        _client_group(db, computes)
        if "data" not in tiers:
            fallback = "private" if "private" in tiers else tiers[0]
            db.body["params"]["SubnetIds"] = {"output": f"network.{fallback.capitalize()}SubnetIds"}
            db.notes.append(
                Note(db.source, "DBSubnetGroup", f"no data tier: the {fallback} subnets are used")
            )


def _client_group(db: _Section, computes: list[_Section]) -> None:
    """The database's client group: the one its group admits, else the compute stack's."""
    if "ClientSecurityGroupId" in db.body["params"]:
        return
    group = next(
        (
            s.body["params"]["SecurityGroupId"]
            for s in computes
            if "SecurityGroupId" in s.body["params"]
        ),
        None,
    )
    if group is None:
        db.notes.append(
            Note(db.source, "ClientSecurityGroupId", "no client group found: give one by hand")
        )
        return
    db.body["params"]["ClientSecurityGroupId"] = group
    db.notes.append(
        Note(
            db.source,
            "ClientSecurityGroupId",
            f"no group of the database admits another: {group['output']} (the compute "
            "stack's) assumed to be its client",
        )
    )


def _render(
    head: dict[str, Any],
    vpc_id: str,
    region: str,
    az_ids: list[str],
    artifacts: dict[str, Any],
    stacks: list[_Section],
    unplaced: list[Note],
) -> str:
    out: list[str] = [
        f"# Captured by `relight capture` from {vpc_id} in {region}, read-only.",
        "# Review it: the comments marked CAPTURE name what the blueprints cannot reproduce.",
        '# See README.md, "The environment file" and "Bring your own production".',
        *(f"# CAPTURE: {note.line()}" for note in unplaced),
        _dump(head),
        "# Not read from production: set your own objectives.",
        _dump({"objectives": {"rpo": "24h", "rto": "4h"}}),
        f"# production's AZs, by AZ ID: {', '.join(az_ids)}",
        _dump({"zones": {"count": len(az_ids)}}),
    ]
    if artifacts:
        out.append(_dump({"artifacts": artifacts}))
    out.append("stacks:")
    for s in stacks:
        out.append("")
        out.extend(f"  # CAPTURE: {note.line()}" for note in s.notes)
        out.extend(f"  # {c}" for c in s.comments)
        out.append(_dump({s.key: s.body}, indent=2))
    return "\n".join(out) + "\n"


@dataclass
class _Found:
    """What the compute stacks are read with and write into."""

    ec2: Any
    client: Client
    subnet_tier: dict[str, str]
    sg_keys: dict[str, str]
    az_count: int
    artifacts: dict[str, Any]
    roles: dict[str, Any]
    taken: set[str]


def _dump(data: dict[str, Any], indent: int = 0) -> str:
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    pad = " " * indent
    return "\n".join(pad + line for line in text.rstrip("\n").splitlines())


def _load_balancers(
    elbv2: Any,
    vpc_id: str,
    found: _Found,
    unplaced: list[Note],
) -> tuple[list[_Section], dict[str, str]]:
    """Every ALB and NLB of the VPC as a load_balancer stack, by name: the first keeps the key
    `load_balancer`, the others are named after theirs. And each one's target group's ARN →
    the output of its own stack that replaces it."""
    balancers = sorted(
        (
            b
            for b in _pages(elbv2, "describe_load_balancers", "LoadBalancers")
            if b.get("VpcId") == vpc_id
        ),
        key=lambda b: b["LoadBalancerName"],
    )
    sections: list[_Section] = []
    arns: dict[str, str] = {}
    for lb in balancers:
        kind = lb.get("Type", "application")
        if kind not in ("application", "network"):
            unplaced.append(
                Note(
                    lb["LoadBalancerName"],
                    "Type",
                    f"a {kind} load balancer: not captured (the load_balancer blueprint makes "
                    "ALBs and NLBs)",
                )
            )
            continue
        key = "load_balancer" if not sections else _key(lb["LoadBalancerName"], found.taken)
        sections.append(_balancer(elbv2, lb, key, found, arns))
    return sections, arns


def _balancer(
    elbv2: Any, lb: dict[str, Any], key: str, found: _Found, arns: dict[str, str]
) -> _Section:
    """One load balancer as the stack `key`; its first target group's ARN into `arns`."""
    where = lb["LoadBalancerName"]
    section = _Section(
        key, {"blueprint": "load_balancer"}, source=where, dns_name=lb.get("DNSName", "")
    )
    params: dict[str, Any] = {
        "type": lb.get("Type", "application"),
        "scheme": lb.get("Scheme", "internet-facing"),
    }
    tgs = _call(
        f"target groups of {where}",
        elbv2.describe_target_groups,
        LoadBalancerArn=lb["LoadBalancerArn"],
    )["TargetGroups"]
    if tgs:
        _target_group(params, section, tgs, arns)
        section.instances = _registered(elbv2, tgs[0])
    _listener_notes(elbv2, lb, section)
    tier = _lb_tier(lb, found.subnet_tier, section)
    groups = [found.sg_keys[g] for g in lb.get("SecurityGroups", []) if g in found.sg_keys]
    params["VpcId"] = {"output": "network.VpcId"}
    params["SubnetIds"] = {"output": f"network.{tier.capitalize()}SubnetIds"}
    if groups:
        params["SecurityGroupId"] = {"output": f"security.{groups[0].capitalize()}SecurityGroupId"}
        for extra in groups[1:]:
            section.notes.append(Note(where, "SecurityGroups", f"{extra} not attached"))
    params["CertificateArn"] = ""
    section.body["params"] = params
    return section


def _target_group(
    params: dict[str, Any], section: _Section, tgs: list[Any], arns: dict[str, str]
) -> None:
    """The first target group's settings; the stack's own TargetGroupArn replaces its ARN
    (unless an earlier load balancer's stack already does: a group shared by both)."""
    where, tg = section.source, tgs[0]
    params["target_port"] = tg.get("Port", 8080)
    if tg.get("HealthCheckPath"):
        params["health_check_path"] = tg["HealthCheckPath"]
    if tg.get("TargetType", "instance") in ("instance", "ip"):
        params["target_type"] = tg.get("TargetType", "instance")
    if tg["TargetGroupArn"] in arns:
        section.notes.append(
            Note(
                where,
                "TargetGroups",
                f"{tg['TargetGroupName']} also serves another load balancer: its targets "
                f"register with {arns[tg['TargetGroupArn']]}, not this stack's",
            )
        )
    else:
        arns[tg["TargetGroupArn"]] = f"{section.key}.TargetGroupArn"
    for other in tgs[1:]:
        section.notes.append(
            Note(where, "TargetGroups", f"{other['TargetGroupName']} not reproduced")
        )


def _registered(elbv2: Any, tg: dict[str, Any]) -> list[str]:
    """The instances registered in an instance target group."""
    if tg.get("TargetType", "instance") != "instance":
        return []
    found = _call(
        f"targets of {tg['TargetGroupName']}",
        elbv2.describe_target_health,
        TargetGroupArn=tg["TargetGroupArn"],
    )["TargetHealthDescriptions"]
    return sorted({d["Target"]["Id"] for d in found})


def _fixed_targets(lbs: list[_Section], sections: list[_Section]) -> None:
    """Fixed instances registered in a load balancer's target group: the compute blueprint
    registers only an Auto Scaling group (TargetGroupArn); the load balancer stack registers
    fixed instances itself (TargetInstanceIds), which the file leaves to the reader."""
    for s in sections:
        if s.body.get("params", {}).get("mode") != "instances":
            continue
        for lb in lbs:
            if set(s.instances) & set(lb.instances):
                s.notes.append(
                    Note(
                        s.source,
                        "TargetGroup",
                        f"registered with {lb.source}'s target group: not reproduced (fixed "
                        f"instances register through the load balancer: give {lb.key} "
                        f"target_instance_count: {s.body['params']['count']} and "
                        f"TargetInstanceIds: {{output: {s.key}.InstanceIds}})",
                    )
                )


def _listener_notes(elbv2: Any, lb: dict[str, Any], section: _Section) -> None:
    where = lb["LoadBalancerName"]
    listeners = _call(
        f"listeners of {where}", elbv2.describe_listeners, LoadBalancerArn=lb["LoadBalancerArn"]
    )["Listeners"]
    for listener in listeners:
        port = listener.get("Port")
        if port not in (80, 443):
            section.notes.append(
                Note(
                    where,
                    f"Listener {port}",
                    f"{listener.get('Protocol')} on {port} not reproduced "
                    "(the blueprint listens on 80, and 443 with a certificate)",
                )
            )
        if listener.get("Certificates"):
            section.notes.append(
                Note(
                    where,
                    f"Listener {port} Certificates",
                    "set CertificateArn to an ACM certificate in the target "
                    "region to turn on HTTPS",
                )
            )


def _lb_tier(lb: dict[str, Any], subnet_tier: dict[str, str], section: _Section) -> str:
    """The tier of the load balancer's subnets (public when none is known)."""
    found = {
        subnet_tier[z["SubnetId"]]
        for z in lb.get("AvailabilityZones", [])
        if z.get("SubnetId") in subnet_tier
    }
    tiers = sorted(found, key=TIERS.index) or ["public"]
    if len(tiers) > 1:
        section.notes.append(
            Note(
                section.source,
                "Subnets",
                f"in the {' and '.join(tiers)} tiers: the stack uses the {tiers[0]} subnets",
            )
        )
    return tiers[0]


def _asgs(
    client: Client, ec2: Any, subnet_tier: dict[str, str]
) -> tuple[list[tuple[Any, dict[str, Any]]], set[str]]:
    """The Auto Scaling groups in the VPC's subnets, with their launch template's data; and
    their instances (not captured again as fixed instances)."""
    autoscaling = client("autoscaling")
    found: list[tuple[Any, dict[str, Any]]] = []
    members: set[str] = set()
    for g in _pages(autoscaling, "describe_auto_scaling_groups", "AutoScalingGroups"):
        subnets = [s for s in g.get("VPCZoneIdentifier", "").split(",") if s]
        if not subnets or not all(s in subnet_tier for s in subnets):
            continue
        members.update(i["InstanceId"] for i in g.get("Instances", []))
        data: dict[str, Any] = {"subnets": subnets, "notes": []}
        spec = g.get("LaunchTemplate") or (g.get("MixedInstancesPolicy") or {}).get(
            "LaunchTemplate", {}
        ).get("LaunchTemplateSpecification")
        if spec:
            ident = {
                k: v for k, v in spec.items() if k in ("LaunchTemplateId", "LaunchTemplateName")
            }
            version = spec.get("Version", "$Default")
            versions = _call(
                "launch template",
                ec2.describe_launch_template_versions,
                Versions=[version],
                **ident,
            )["LaunchTemplateVersions"]
            data["lt"] = versions[0]["LaunchTemplateData"] if versions else {}
        else:
            data["notes"].append(
                Note(
                    g["AutoScalingGroupName"],
                    "LaunchConfigurationName",
                    "launch configurations are not read: set instance_type and "
                    "the AMI lookup by hand",
                )
            )
            data["lt"] = {}
        found.append((g, data))
    return found, members


def _image_lookup(
    ec2: Any, image_id: str, key: str, artifacts: dict[str, Any], notes: list[Note]
) -> bool:
    """An AMI lookup by the image's tags, else by a name pattern: never its id."""
    images = _call(f"AMI {image_id}", ec2.describe_images, ImageIds=[image_id])["Images"]
    if not images:
        notes.append(Note(image_id, "ImageId", "image not found: add the lookup by hand"))
        return False
    image = images[0]
    lookup: dict[str, Any] = {"kind": "ami"}
    tags = _tags(image.get("Tags"))
    if tags:
        lookup["tags"] = tags
    else:
        lookup["name"] = _name_pattern(image.get("Name", key))
    artifacts[f"{key}_ami"] = lookup
    return True


def _data_snapshot(
    ec2: Any,
    mappings: list[Any],
    key: str,
    artifacts: dict[str, Any],
    notes: list[Note],
    where: str,
    roots: set[str],
) -> bool:
    """A lookup for the data volume's snapshot, by its tags; `roots`: the root device names."""
    snaps = [m for m in mappings or [] if (m.get("Ebs") or {}).get("SnapshotId")]
    if not snaps:
        return False
    data = [m for m in snaps if m.get("DeviceName") not in roots]
    if not data:
        return False
    snap_id = data[0]["Ebs"]["SnapshotId"]
    for extra in data[1:]:
        notes.append(
            Note(
                where,
                f"BlockDeviceMappings {extra['DeviceName']}",
                "a second data volume: not reproduced",
            )
        )
    found = _call(f"snapshot {snap_id}", ec2.describe_snapshots, SnapshotIds=[snap_id])["Snapshots"]
    tags = _tags(found[0].get("Tags")) if found else {}
    if not tags:
        notes.append(
            Note(
                snap_id,
                "Tags",
                "the data snapshot has no tags: tag the snapshots "
                "relight should restore and put the tags in the lookup",
            )
        )
        tags = {"Role": f"{key}-data"}
    artifacts[f"{key}_data"] = {"kind": "ebs_snapshot", "tags": tags}
    return True


def _compute(
    asg: Any, data: dict[str, Any], found: _Found, target_groups: dict[str, str]
) -> _Section:
    name = asg["AutoScalingGroupName"]
    key = _key(_tags(asg.get("Tags")).get("Role") or name, found.taken)
    lt = data["lt"]
    section = _Section(key, {"blueprint": "compute"}, notes=data["notes"], source=name)
    tier = sorted({found.subnet_tier[s] for s in data["subnets"]}, key=TIERS.index)[0]
    if len(data["subnets"]) != found.az_count:
        section.notes.append(
            Note(
                name,
                "VPCZoneIdentifier",
                f"{len(data['subnets'])} subnets; the stack uses all {found.az_count} AZs",
            )
        )
    params: dict[str, Any] = {
        "mode": "asg",
        "instance_type": lt.get("InstanceType", "t3.micro"),
        "az_count": found.az_count,
        "min_size": asg["MinSize"],
        "max_size": asg["MaxSize"],
        "desired": asg["DesiredCapacity"],
    }
    groups = lt.get("SecurityGroupIds") or [
        g for ni in lt.get("NetworkInterfaces", []) for g in ni.get("Groups", [])
    ]
    _common(
        params,
        section,
        found,
        image_id=lt.get("ImageId"),
        mappings=lt.get("BlockDeviceMappings", []),
        groups=groups,
        profile=lt.get("IamInstanceProfile") or {},
        tier=tier,
    )
    arns = asg.get("TargetGroupARNs", [])
    wired = next((arn for arn in arns if arn in target_groups), None)
    if wired is not None:  # the load balancer stack whose target group replaces it
        params["TargetGroupArn"] = {"output": target_groups[wired]}
    for other in arns:
        if other != wired:
            section.notes.append(Note(name, "TargetGroupARNs", f"{other} not registered"))
    return section


def _common(
    params: dict[str, Any],
    section: _Section,
    found: _Found,
    *,
    image_id: str | None,
    mappings: list[Any],
    groups: list[str],
    profile: dict[str, Any],
    tier: str,
) -> None:
    """What ASGs and fixed instances share: AMI and data snapshot lookups, subnets, group,
    instance role."""
    key, where = section.key, section.source
    if image_id and _image_lookup(found.ec2, image_id, key, found.artifacts, section.notes):
        params["ImageId"] = {"artifact": f"{key}_ami"}
    else:
        section.notes.append(Note(where, "ImageId", "no AMI read: add the lookup by hand"))
        found.artifacts[f"{key}_ami"] = {"kind": "ami", "name": f"{key}-*"}
        params["ImageId"] = {"artifact": f"{key}_ami"}
    roots = {"/dev/xvda", "/dev/sda1"}
    if image_id:
        images = _call(f"AMI {image_id}", found.ec2.describe_images, ImageIds=[image_id])
        roots |= {i["RootDeviceName"] for i in images["Images"] if i.get("RootDeviceName")}
    if _data_snapshot(found.ec2, mappings, key, found.artifacts, section.notes, where, roots):
        params["DataSnapshotId"] = {"artifact": f"{key}_data"}
    else:
        params["data_volume"] = False
    section.notes.append(
        Note(
            where,
            "UserData",
            "not captured: the blueprint's web.sh.j2 runs instead; give user_data or "
            "user_data_command for yours",
        )
    )
    params["SubnetIds"] = {"output": f"network.{tier.capitalize()}SubnetIds"}
    known = [found.sg_keys[g] for g in groups if g in found.sg_keys]
    if known:
        params["SecurityGroupId"] = {"output": f"security.{known[0].capitalize()}SecurityGroupId"}
    else:
        section.notes.append(Note(where, "SecurityGroupIds", "none captured: give one by hand"))
    for extra in known[1:]:
        section.notes.append(
            Note(where, "SecurityGroupIds", f"{extra}: the blueprint attaches one group")
        )
    policies = _policies(found.client, profile, section.notes)
    found.roles[key] = {"managed_policies": policies}
    params["InstanceProfileArn"] = {"output": f"identity.{_camel(key)}InstanceProfileArn"}
    section.body["params"] = params


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def _policies(client: Client, profile: dict[str, Any], notes: list[Note]) -> list[str]:
    """The instance role's AWS managed policies the identity blueprint accepts; the rest are
    notes."""
    ref = profile.get("Name") or (profile.get("Arn") or "").rsplit("/", 1)[-1]
    if not ref:
        return []
    iam = client("iam")
    try:
        roles = iam.get_instance_profile(InstanceProfileName=ref)["InstanceProfile"]["Roles"]
        names: list[str] = []
        for role in roles:
            for p in iam.list_attached_role_policies(RoleName=role["RoleName"])["AttachedPolicies"]:
                if p["PolicyArn"].startswith("arn:aws:iam::aws:policy/") and not (
                    p["PolicyName"].endswith("FullAccess")
                    or p["PolicyName"] in ("AdministratorAccess", "PowerUserAccess")
                    or p["PolicyName"] == "AmazonSSMManagedInstanceCore"
                ):
                    names.append(p["PolicyName"])
                elif p["PolicyName"] != "AmazonSSMManagedInstanceCore":
                    notes.append(Note(ref, f"policy {p['PolicyName']}", "not reproduced"))
            for inline in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
                notes.append(Note(ref, f"inline policy {inline}", "not reproduced"))
        return names
    except (ClientError, BotoCoreError) as exc:
        notes.append(Note(ref, "IamInstanceProfile", f"not read ({exc}): policies not reproduced"))
        return []


def _fixed_instances(found: _Found, vpc_id: str, in_asgs: set[str]) -> list[_Section]:
    """Instances outside Auto Scaling groups, grouped by their Role (or Name) tag."""
    reservations = _pages(
        found.ec2,
        "describe_instances",
        "Reservations",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "instance-state-name", "Values": ["pending", "running", "stopped"]},
        ],
    )
    by_label: dict[str, list[Any]] = {}
    for r in reservations:
        for i in r["Instances"]:
            raw = {t["Key"] for t in i.get("Tags", [])}
            if i["InstanceId"] in in_asgs or "aws:autoscaling:groupName" in raw:
                continue
            tags = _tags(i.get("Tags"))
            by_label.setdefault(tags.get("Role") or tags.get("Name") or "server", []).append(i)
    sections: list[_Section] = []
    for label, instances in by_label.items():
        first = instances[0]
        section = _Section(
            _key(label, found.taken),
            {"blueprint": "compute"},
            source=first["InstanceId"],
            instances=sorted(i["InstanceId"] for i in instances),
        )
        for other in instances[1:]:
            if (
                other["InstanceType"] != first["InstanceType"]
                or other["ImageId"] != first["ImageId"]
            ):
                section.notes.append(
                    Note(
                        other["InstanceId"],
                        "InstanceType/ImageId",
                        f"differs from {first['InstanceId']}'s; the stack makes them all alike",
                    )
                )
        params: dict[str, Any] = {
            "mode": "instances",
            "instance_type": first["InstanceType"],
            "az_count": found.az_count,
            "count": len(instances),
        }
        mappings = [
            {"DeviceName": m["DeviceName"], "Ebs": {"SnapshotId": snap}}
            for m in first.get("BlockDeviceMappings", [])
            if m["DeviceName"] != first.get("RootDeviceName")
            and (snap := _volume_snapshot(found.ec2, m))
        ]
        _common(
            params,
            section,
            found,
            image_id=first["ImageId"],
            mappings=mappings,
            groups=[g["GroupId"] for g in first.get("SecurityGroups", [])],
            profile=first.get("IamInstanceProfile") or {},
            tier=found.subnet_tier.get(first.get("SubnetId", ""), "private"),
        )
        sections.append(section)
    return sections


def _volume_snapshot(ec2: Any, mapping: dict[str, Any]) -> str | None:
    volume = (mapping.get("Ebs") or {}).get("VolumeId")
    if not volume:
        return None
    found = _call(f"volume {volume}", ec2.describe_volumes, VolumeIds=[volume])["Volumes"]
    return (found[0].get("SnapshotId") or None) if found else None


AURORA_ENGINES = ("aurora-postgresql", "aurora-mysql")
SERVERLESS_CLASS = "db.r6g.large"  # written for Serverless v2 members (the blueprint's classes)


@dataclass
class _Databases:
    """What the database stacks are read with and write into."""

    sg_keys: dict[str, str]
    groups: dict[str, Any]
    artifacts: dict[str, Any]
    unplaced: list[Note]
    taken: set[str]
    sections: list[_Section] = field(default_factory=list)

    def key(self, identifier: str) -> str:
        """The first database keeps `database`; the others are named after their identifier."""
        return "database" if not self.sections else _key(identifier, self.taken)

    def artifact(self, identifier: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "_", identifier.lower()).strip("_") + "_db"
        name, n = base, 2
        while name in self.artifacts:
            name, n = f"{base}{n}", n + 1
        return name


def _databases(rds: Any, vpc_id: str, dbs: _Databases) -> list[_Section]:
    """The VPC's RDS instances (not cluster members) and Aurora clusters, each a database
    stack restored from the newest snapshot of it; the first keeps the key `database`."""
    subnet_vpcs = {
        g["DBSubnetGroupName"]: g.get("VpcId")
        for g in _pages(rds, "describe_db_subnet_groups", "DBSubnetGroups")
    }
    everything = _pages(rds, "describe_db_instances", "DBInstances")
    clusters = sorted(
        (
            c
            for c in _pages(rds, "describe_db_clusters", "DBClusters")
            if subnet_vpcs.get(c.get("DBSubnetGroup", "")) == vpc_id
        ),
        key=lambda c: c["DBClusterIdentifier"],
    )
    in_vpc = sorted(
        (d for d in everything if (d.get("DBSubnetGroup") or {}).get("VpcId") == vpc_id),
        key=lambda d: d["DBInstanceIdentifier"],
    )
    for db in in_vpc:
        if not db.get("DBClusterIdentifier"):
            dbs.sections.append(_instance(db, dbs))
    captured: set[str] = set()
    for cluster in clusters:
        name = cluster["DBClusterIdentifier"]
        members = [d for d in everything if d.get("DBClusterIdentifier") == name]
        section = _cluster(cluster, members, dbs)
        if section is not None:
            dbs.sections.append(section)
            captured.add(name)
    _uncaptured_members(in_vpc, captured, dbs.unplaced)
    for later in dbs.sections[1:]:
        later.notes.append(
            Note(
                later.source,
                "Endpoint",
                f"the compute stacks read {dbs.sections[0].key}'s endpoint, not this one's: "
                f"give {later.key}.Endpoint to the stacks that use it",
            )
        )
    return dbs.sections


def _uncaptured_members(in_vpc: list[Any], captured: set[str], unplaced: list[Note]) -> None:
    for member in in_vpc:
        cluster = member.get("DBClusterIdentifier")
        if cluster and cluster not in captured:
            unplaced.append(
                Note(
                    member["DBInstanceIdentifier"],
                    "DBClusterIdentifier",
                    f"a member of cluster {cluster}, which is not captured",
                )
            )


def _instance(db: dict[str, Any], dbs: _Databases) -> _Section:
    """A plain RDS instance as a database stack in instance mode."""
    where = db["DBInstanceIdentifier"]
    section = _Section(dbs.key(where), {"blueprint": "database"}, source=where)
    engine = db["Engine"]
    if engine not in ("postgres", "mysql", "mariadb"):
        section.notes.append(
            Note(
                where,
                "Engine",
                f"{engine}: the blueprint takes postgres, mysql or mariadb; postgres written",
            )
        )
        engine = "postgres"
    artifact = dbs.artifact(where)
    dbs.artifacts[artifact] = {"kind": "rds_snapshot", "db_instance": where}
    section.comments.append(f"from {where} ({db['Engine']} {db.get('EngineVersion', '')})")
    params: dict[str, Any] = {
        "mode": "instance",
        "engine": engine,
        "instance_class": db["DBInstanceClass"],
        "multi_az": bool(db.get("MultiAZ")),
    }
    if db.get("StorageType") in ("gp3", "io1", "io2"):
        params["storage_type"] = db["StorageType"]
    elif db.get("StorageType"):
        section.notes.append(Note(where, "StorageType", f"{db['StorageType']}: gp3 written"))
    retention = db.get("BackupRetentionPeriod", 7)
    if 1 <= retention <= 35:
        params["backup_retention_days"] = retention
    _db_wiring(params, section, artifact, db.get("VpcSecurityGroups", []), dbs)
    return section


def _cluster(cluster: dict[str, Any], members: list[Any], dbs: _Databases) -> _Section | None:
    """An Aurora cluster as a database stack in aurora mode, restored from the newest cluster
    snapshot; a cluster the blueprint cannot take at all (Multi-AZ DB clusters, DocumentDB,
    Neptune) is a note at the file's top."""
    where = cluster["DBClusterIdentifier"]
    engine = cluster.get("Engine", "")
    if engine == "aurora":  # Aurora MySQL 1 (5.6), named before aurora-mysql existed
        engine = "aurora-mysql"
        notes = [Note(where, "Engine", "aurora (MySQL 5.6): aurora-mysql written")]
    elif engine in AURORA_ENGINES:
        notes = []
    else:
        dbs.unplaced.append(
            Note(
                where,
                "Engine",
                f"a {engine} DB cluster: not captured (the database blueprint restores RDS "
                "instances and Aurora clusters only)",
            )
        )
        return None
    section = _Section(dbs.key(where), {"blueprint": "database"}, notes=notes, source=where)
    artifact = dbs.artifact(where)
    dbs.artifacts[artifact] = {"kind": "rds_cluster_snapshot", "db_cluster": where}
    section.comments.append(
        f"from Aurora cluster {where} ({cluster['Engine']} {cluster.get('EngineVersion', '')})"
    )
    params: dict[str, Any] = {
        "mode": "aurora",
        "engine": engine,
        "instance_class": _cluster_class(cluster, members, section.notes),
        "aurora_instances": _cluster_size(where, members, section.notes),
    }
    retention = cluster.get("BackupRetentionPeriod", 7)
    if 1 <= retention <= 35:
        params["backup_retention_days"] = retention
    _cluster_notes(cluster, section.notes)
    _db_wiring(params, section, artifact, cluster.get("VpcSecurityGroups", []), dbs)
    return section


def _cluster_class(cluster: dict[str, Any], members: list[Any], notes: list[Note]) -> str:
    """The writer's instance class (the blueprint makes every member alike)."""
    where = cluster["DBClusterIdentifier"]
    writers = {
        m["DBInstanceIdentifier"]
        for m in cluster.get("DBClusterMembers", [])
        if m["IsClusterWriter"]
    }
    ordered = sorted(
        members, key=lambda m: (m["DBInstanceIdentifier"] not in writers, m["DBInstanceIdentifier"])
    )
    classes = [m["DBInstanceClass"] for m in ordered]
    scaling = cluster.get("ServerlessV2ScalingConfiguration")
    if scaling or "db.serverless" in classes:
        acu = f" ({scaling.get('MinCapacity')}-{scaling.get('MaxCapacity')} ACU)" if scaling else ""
        notes.append(
            Note(
                where,
                "ServerlessV2ScalingConfiguration",
                f"Aurora Serverless v2{acu}: the blueprint makes provisioned instances; "
                f"{SERVERLESS_CLASS} written, choose the class",
            )
        )
        return SERVERLESS_CLASS
    if not classes:
        return "db.t4g.medium"
    for member in ordered[1:]:
        if member["DBInstanceClass"] != classes[0]:
            notes.append(
                Note(
                    member["DBInstanceIdentifier"],
                    "DBInstanceClass",
                    f"{member['DBInstanceClass']} differs from the writer's {classes[0]}; "
                    "the stack makes every member alike",
                )
            )
    return str(classes[0])


def _cluster_size(where: str, members: list[Any], notes: list[Note]) -> int:
    """aurora_instances: the writer and its readers, 1 to 15."""
    if not members:
        notes.append(Note(where, "DBClusterMembers", "no instances: 1 written"))
        return 1
    if len(members) > 15:
        notes.append(
            Note(where, "DBClusterMembers", f"{len(members)} instances: the blueprint makes 15")
        )
        return 15
    return len(members)


def _cluster_notes(cluster: dict[str, Any], notes: list[Note]) -> None:
    """What the blueprint's Aurora mode does not express."""
    where = cluster["DBClusterIdentifier"]
    mode = cluster.get("EngineMode", "provisioned")
    if mode != "provisioned":
        notes.append(
            Note(where, "EngineMode", f"{mode}: the blueprint makes a provisioned cluster")
        )
    if cluster.get("GlobalClusterIdentifier"):
        notes.append(
            Note(
                where,
                "GlobalClusterIdentifier",
                f"a member of global database {cluster['GlobalClusterIdentifier']}: "
                "the restored cluster stands alone",
            )
        )
    if cluster.get("StorageType") == "aurora-iopt1":
        notes.append(
            Note(where, "StorageType", "aurora-iopt1 (I/O-Optimized): Aurora standard written")
        )
    if cluster.get("StorageEncrypted") is False:
        notes.append(Note(where, "StorageEncrypted", "false: the blueprint's cluster is encrypted"))


def _db_wiring(
    params: dict[str, Any],
    section: _Section,
    artifact: str,
    vpc_groups: list[Any],
    dbs: _Databases,
) -> None:
    """The snapshot, the network, the client group and the monitoring role of a database."""
    where = section.source
    db_groups = [
        dbs.sg_keys[g["VpcSecurityGroupId"]]
        for g in vpc_groups
        if g["VpcSecurityGroupId"] in dbs.sg_keys
    ]
    clients = [r["group"] for g in db_groups for r in dbs.groups[g]["ingress"] if "group" in r]
    params["SnapshotIdentifier"] = {"artifact": artifact}
    params["VpcId"] = {"output": "network.VpcId"}
    params["SubnetIds"] = {"output": "network.DataSubnetIds"}
    if clients:
        params["ClientSecurityGroupId"] = {
            "output": f"security.{clients[0].capitalize()}SecurityGroupId"
        }
    for g in db_groups:
        section.notes.append(
            Note(
                where,
                "VpcSecurityGroups",
                f"{g}: the database blueprint makes its own group, which "
                "admits ClientSecurityGroupId; the captured one stays in "
                "security but is not attached",
            )
        )
    params["MonitoringRoleArn"] = {"output": "identity.MonitoringRoleArn"}
    section.body["params"] = params


# DNS -------------------------------------------------------------------------------------------

DNS_FEEDS = ("network", "security")  # what the standing dns stack reads, beside its LB stack


def _dns_target(name: str) -> str:
    """`dualstack.Shop-LB-1.us-east-1.elb.amazonaws.com.` → `shop-lb-1.us-east-1.elb...`."""
    return name.lower().rstrip(".").removeprefix("dualstack.")


def _points_at(record: dict[str, Any], target: str) -> bool:
    alias = record.get("AliasTarget")
    if alias:
        return _dns_target(alias.get("DNSName", "")) == target
    if record.get("Type") == "CNAME":
        return any(_dns_target(r["Value"]) == target for r in record.get("ResourceRecords", []))
    return False


def _record_name(name: str) -> str:
    """Route 53 writes `*` as the octal escape `\\052`."""
    return name.replace("\\052", "*")


def _route53_records(client: Client, unplaced: list[Note]) -> list[tuple[Any, Any]] | None:
    """Every (hosted zone, record) of the account, zones by name; None (and a note) when
    Route 53 cannot be read: the capture goes on without DNS."""
    try:
        route53 = client("route53")
        zones: list[Any] = []
        for page in route53.get_paginator("list_hosted_zones").paginate():
            zones.extend(page.get("HostedZones", []))
        found: list[tuple[Any, Any]] = []
        for zone in sorted(zones, key=lambda z: (z["Name"], z["Id"])):
            pages = route53.get_paginator("list_resource_record_sets").paginate(
                HostedZoneId=zone["Id"]
            )
            found.extend((zone, r) for page in pages for r in page.get("ResourceRecordSets", []))
        return found
    except (ClientError, BotoCoreError) as exc:
        unplaced.append(
            Note(
                "route53",
                "hosted zones",
                f"not read: {exc}; records pointing at the load balancer are not captured "
                "(add a dns stack by hand)",
            )
        )
        return None


def _dns(client: Client, lbs: list[_Section], unplaced: list[Note]) -> _Section | None:
    """The first public record that points at a captured load balancer (the first, in the
    file's order, that has one), as the recovery region's SECONDARY half of a failover pair
    (stacks/demo.yaml's dns); records pointing at the others are notes."""
    records = _route53_records(client, unplaced)
    if not records:
        return None
    found = [(lb, _matched(records, lb)) for lb in lbs if _dns_target(lb.dns_name)]
    private = [note for _, matched in found for note in _private_notes(matched)]
    public = [(lb, p) for lb, p in ((lb, _public(m)) for lb, m in found) if p]
    if not public:
        unplaced.extend(private)
        return None
    lb, chosen = public[0]
    section = _dns_section(lb, chosen)
    for other, extra in public[1:]:
        section.notes.extend(
            Note(
                f"{_record_name(r['Name'])} {r['Type']}",
                "AliasTarget" if r.get("AliasTarget") else "ResourceRecords",
                f"in {z['Name']}, points at {other.source}: not captured (one dns stack per "
                f"file; add another, reading {other.key}'s outputs)",
            )
            for z, r in extra
        )
    section.notes.extend(private)
    matched = next(m for s, m in found if s is lb)
    targets = [_dns_target(s.dns_name) for s, _ in found]
    section.notes.extend(_elsewhere(records, matched, targets))
    return section


def _matched(records: list[tuple[Any, Any]], lb: _Section) -> list[tuple[Any, Any]]:
    """The records pointing at the load balancer: an alias (what the blueprint writes) before
    a CNAME; A before AAAA; then by zone, name."""
    target = _dns_target(lb.dns_name)
    return sorted(
        ((z, r) for z, r in records if _points_at(r, target)),
        key=lambda zr: (not zr[1].get("AliasTarget"), zr[1]["Type"], zr[0]["Name"], zr[1]["Name"]),
    )


def _private(zone: dict[str, Any]) -> bool:
    return bool((zone.get("Config") or {}).get("PrivateZone"))


def _public(matched: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    return [(z, r) for z, r in matched if not _private(z)]


def _private_notes(matched: list[tuple[Any, Any]]) -> list[Note]:
    return [
        Note(
            f"{_record_name(r['Name'])} {r['Type']}",
            "PrivateZone",
            f"in private hosted zone {z['Name']}: not captured (the dns stack writes a "
            "public failover record)",
        )
        for z, r in matched
        if _private(z)
    ]


def _dns_section(lb: _Section, public: list[tuple[Any, Any]]) -> _Section:
    """The dns stack for the first of `public`, the records pointing at `lb`; the others are
    notes."""
    zone, record = public[0]
    name = _record_name(record["Name"])
    section = _Section("dns", {"blueprint": "dns", "stands": "pilot_light"}, source=name)
    section.notes.extend(_record_notes(record, name, lb.source))
    for z, r in public[1:]:
        section.notes.append(
            Note(
                f"{_record_name(r['Name'])} {r['Type']}",
                "AliasTarget" if r.get("AliasTarget") else "ResourceRecords",
                f"in {z['Name']}, also points at {lb.source}: not captured (one record per "
                "dns stack; add another)",
            )
        )
    if lb.body.get("params", {}).get("scheme") == "internal":
        section.notes.append(
            Note(
                f"{name} {record['Type']}",
                "health_check_path",
                f"{lb.source} is internal: Route 53's health checkers (on the internet) cannot "
                "reach it; give the record a health check that can",
            )
        )
    section.comments.append(
        "the recovery region's SECONDARY half of a failover pair: production's record must be "
        'the PRIMARY (README.md, "DNS and failback")'
    )
    params: dict[str, Any] = {"mode": "failover", "failover_role": "SECONDARY"}
    if record["Type"] == "AAAA":
        params["record_type"] = "AAAA"
    params["health_check_protocol"] = "HTTP"  # the captured load balancer has no certificate
    lb_params = lb.body.get("params", {})
    if "health_check_path" in lb_params:
        params["health_check_path"] = lb_params["health_check_path"]
    params["HostedZoneName"] = zone["Name"]
    params["RecordName"] = name
    params["LoadBalancerDNSName"] = {"output": f"{lb.key}.DNSName"}
    params["LoadBalancerHostedZoneId"] = {"output": f"{lb.key}.CanonicalHostedZoneId"}
    section.body["params"] = params
    return section


def _record_notes(record: dict[str, Any], name: str, lb_name: str) -> list[Note]:
    """What production's record is, as far as the SECONDARY failover record differs."""
    where = f"{name} {record['Type']}"
    notes = [
        Note(
            where,
            "health_check_protocol",
            "HTTP: HTTPS once the load balancer's CertificateArn is set",
        )
    ]
    if record["Type"] == "CNAME":
        notes.append(
            Note(where, "Type", f"a CNAME to {lb_name}: the dns stack writes an alias A record")
        )
    if record.get("Failover") == "PRIMARY":
        return notes
    if record.get("SetIdentifier"):
        policy = next(
            (
                k
                for k in ("Failover", "Weight", "Region", "GeoLocation", "MultiValueAnswer")
                if k in record
            ),
            "routing policy",
        )
        text = f"a {policy} record ({record['SetIdentifier']})"
    else:
        text = "a simple record"
    notes.append(
        Note(
            where,
            "Failover",
            f"{text}: Route 53 takes the SECONDARY record only beside a PRIMARY failover "
            "record of the same name; make production's the PRIMARY (the dns blueprint with "
            "failover_role: PRIMARY)",
        )
    )
    return notes


def _elsewhere(
    records: list[tuple[Any, Any]], matched: list[tuple[Any, Any]], targets: list[str]
) -> list[Note]:
    """Alias and CNAME records of a captured name that point elsewhere (another half of a
    routing policy, another type), not at any captured load balancer: not captured."""
    names = {(z["Id"], r["Name"]) for z, r in matched}
    return [
        Note(
            f"{_record_name(r['Name'])} {r['Type']}",
            "AliasTarget" if r.get("AliasTarget") else "ResourceRecords",
            f"points at {_target_of(r)}, not the load balancer: not captured",
        )
        for z, r in records
        if (z["Id"], r["Name"]) in names
        and (r.get("AliasTarget") or r.get("Type") == "CNAME")
        and not any(_points_at(r, target) for target in targets)
    ]


def _target_of(record: dict[str, Any]) -> str:
    alias = record.get("AliasTarget")
    if alias:
        return str(alias.get("DNSName", "?"))
    return ", ".join(r["Value"] for r in record.get("ResourceRecords", []))


def _stand_with_dns(stacks: list[_Section], dns: _Section) -> None:
    """The dns stack stands from pilot_light and reads a load balancer's outputs: that stack,
    and the stacks it reads, stand there too."""
    lb = str(dns.body["params"]["LoadBalancerDNSName"]["output"]).split(".", 1)[0]
    for s in stacks:
        if s.key in (*DNS_FEEDS, lb) and "stands" not in s.body:
            s.body = {"blueprint": s.body["blueprint"], "stands": "pilot_light", **s.body}
