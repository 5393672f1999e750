"""Capture: the VPC's network ACLs, as the network blueprint's `network_acls` (a NACL of its
own per tier), or a Note saying what is not reproduced and why.

AWS: every subnet is associated with exactly one NACL, the VPC's default one unless another is
associated; the default NACL allows all traffic (rules 100, and 101 for IPv6, both ways); each
NACL ends with the rule `*` that denies what no other rule matched (number 32767, and 32768 for
IPv6 in a VPC with an IPv6 block), which no one can change or remove, and which AWS adds by
itself: CreateNetworkAclEntry refuses either number ("Rulenumber must be in range 1..32766")."""

from __future__ import annotations

from typing import Any

from relight.capture.common import Note, _pages

LAST_RULES = (32767, 32768)  # the `*` rules (IPv4, IPv6): AWS's own, not written
NAMES = {"-1": "all", "1": "icmp", "6": "tcp", "17": "udp", "58": "icmpv6"}
ALLOW_ALL = {
    (egress, 100, "-1", "allow", "0.0.0.0/0") for egress in (False, True)
}  # the default NACL's own rules; 101 for ::/0 when the VPC has IPv6
ALLOW_ALL_V6 = {(egress, 101, "-1", "allow", "::/0") for egress in (False, True)}


def _network_acls(
    ec2: Any, flt: list[Any], subnet_tier: dict[str, str], notes: list[Note]
) -> dict[str, Any]:
    """tier → {ingress: [...], egress: [...]} for each custom NACL that serves exactly the
    subnets of one tier."""
    tier_subnets: dict[str, set[str]] = {}
    for subnet, tier in subnet_tier.items():
        tier_subnets.setdefault(tier, set()).add(subnet)
    out: dict[str, Any] = {}
    for acl in _pages(ec2, "describe_network_acls", "NetworkAcls", Filters=flt):
        acl_id = acl["NetworkAclId"]
        served = sorted(a["SubnetId"] for a in acl.get("Associations", []) if a.get("SubnetId"))
        entries = [e for e in acl.get("Entries", []) if e["RuleNumber"] not in LAST_RULES]
        if acl.get("IsDefault"):
            _default_acl(acl_id, entries, served, notes)
            continue
        tiers = sorted({subnet_tier.get(s, "?") for s in served})
        if len(tiers) != 1 or set(served) != tier_subnets.get(tiers[0]):
            where = (
                f"serves {', '.join(served)} ({', '.join(tiers)})" if served else "serves no subnet"
            )
            notes.append(
                Note(
                    acl_id,
                    "Associations",
                    f"{where}, not every subnet of one tier: not reproduced (the blueprint "
                    "gives a NACL to a whole tier); in the rebuilt VPC those subnets have the "
                    "default NACL, which allows all traffic",
                )
            )
            continue
        rules, problems = _rules(entries)
        if problems:
            notes.append(
                Note(
                    acl_id,
                    "Entries",
                    f"{'; '.join(problems)}: the {tiers[0]} tier's NACL is not reproduced; in "
                    "the rebuilt VPC its subnets have the default NACL, which allows all traffic",
                )
            )
            continue
        out[tiers[0]] = rules
    return out


def _default_acl(acl_id: str, entries: list[Any], served: list[str], notes: list[Note]) -> None:
    """A default NACL with AWS's allow-all rules is what the rebuilt VPC gets: nothing to
    write. One whose rules were changed cannot be written: the blueprint's VPC gets a new
    default NACL with AWS's rules."""
    found = {
        (
            bool(e.get("Egress")),
            e["RuleNumber"],
            str(e["Protocol"]),
            e["RuleAction"],
            e.get("CidrBlock") or e.get("Ipv6CidrBlock"),
        )
        for e in entries
    }
    if found in (ALLOW_ALL, ALLOW_ALL | ALLOW_ALL_V6):
        return
    rules, _ = _rules(entries)
    shown = "; ".join(
        f"{d} {r['rule']} {r['action']} {r['protocol']} {r.get('cidr') or r.get('ipv6_cidr')}"
        for d in ("ingress", "egress")
        for r in rules[d]
    )
    where = f"serving {', '.join(served)}" if served else "serving no subnet"
    notes.append(
        Note(
            acl_id,
            "Entries",
            f"the VPC's default NACL ({where}) has rules other than AWS's allow-all "
            f"({shown or 'none'}): not reproduced; the rebuilt VPC's default NACL allows all "
            "traffic. To keep them, give those subnets' tier a NACL of its own (network_acls)",
        )
    )


def _rules(entries: list[Any]) -> tuple[dict[str, list[Any]], list[str]]:
    """The entries as the blueprint's rules, lowest number first, and what cannot be written."""
    rules: dict[str, list[Any]] = {"ingress": [], "egress": []}
    problems: list[str] = []
    for e in sorted(entries, key=lambda e: e["RuleNumber"]):
        protocol = str(e["Protocol"])
        rule: dict[str, Any] = {
            "rule": e["RuleNumber"],
            "protocol": NAMES.get(protocol, int(protocol) if protocol.isdigit() else protocol),
            "action": e["RuleAction"],
        }
        if e.get("CidrBlock"):
            rule["cidr"] = e["CidrBlock"]
        else:
            rule["ipv6_cidr"] = e.get("Ipv6CidrBlock")
        direction = "egress" if e.get("Egress") else "ingress"
        ports = e.get("PortRange")
        if protocol in ("6", "17"):
            if not ports:
                problems.append(f"{direction} rule {e['RuleNumber']} has no port range")
                continue
            low, high = ports["From"], ports["To"]
            rule.update({"port": low} if low == high else {"port_range": [low, high]})
        icmp = e.get("IcmpTypeCode")
        if protocol in ("1", "58") and icmp:
            rule.update({"icmp_type": icmp["Type"], "icmp_code": icmp["Code"]})
        elif protocol == "1":
            problems.append(f"{direction} rule {e['RuleNumber']} (ICMP) has no type and code")
            continue
        rules[direction].append(rule)
    return rules, problems
