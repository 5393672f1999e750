"""Capture: the dns stack (the Route 53 record that points at a captured load balancer)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.capture.common import Client, Note, _Section

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
                unread=True,
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
            _uncaptured(
                z,
                r,
                f"points at {other.source}: not captured (one dns stack per file; add "
                f"another, reading {other.key}'s outputs)",
            )
            for z, r in extra
        )
    section.notes.extend(private)
    matched = next(m for s, m in found if s is lb)
    targets = [_dns_target(s.dns_name) for s, _ in found]
    section.notes.extend(_elsewhere(records, matched, targets))
    return section


def _uncaptured(zone: dict[str, Any], record: dict[str, Any], why: str) -> Note:
    """A record of `zone` the file does not hold, and why."""
    where = "AliasTarget" if record.get("AliasTarget") else "ResourceRecords"
    name = f"{_record_name(record['Name'])} {record['Type']}"
    return Note(name, where, f"in {zone['Name']}, {why}")


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
    section.notes.extend(
        _uncaptured(
            z,
            r,
            f"also points at {lb.source}: not captured (one record per dns stack; add another)",
        )
        for z, r in public[1:]
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
        "the PRIMARY (docs/dns-and-failback.md)"
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


def _in_one_region(dns: _Section, recovery_regions: list[str]) -> None:
    """A name has one SECONDARY record: the dns stack stands in the first recovery region only
    (`regions:`; model/failover_pairs.py refuses it otherwise, counting the home region too, where
    a test copy of production may be rendered)."""
    if recovery_regions:
        dns.body["regions"] = [recovery_regions[0]]
        dns.comments.append(
            f"a name has one SECONDARY record: it stands in {recovery_regions[0]} only "
            "(regions:); a failover elsewhere switches DNS by hand"
        )
