"""Capture: the network stack (VPC, subnets and their tiers, NAT, gateway endpoints, flow
logs)."""

from __future__ import annotations

import ipaddress
from typing import Any

from relight.capture.common import TIERS, CaptureError, Note, _call, _pages


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
