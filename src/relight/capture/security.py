"""Capture: the security stack (the VPC's security groups and their rules)."""

from __future__ import annotations

from typing import Any

from relight.capture.common import Note, _key, _pages, _tags

ADMIN_PORTS = {22, 3389, 3306, 5432, 1433, 1521, 6379, 27017, 9200}


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
