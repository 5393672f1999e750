"""Capture: the network stack (VPC, subnets and their tiers, public IPv4 addresses at launch,
NAT, gateway endpoints and the tiers they serve, network ACLs, flow logs) and production's own
tags (the VPC's)."""

from __future__ import annotations

import ipaddress
from typing import Any

from pydantic import TypeAdapter, ValidationError

from relight.capture.common import TIERS, CaptureError, Note, _call, _pages
from relight.capture.network_acls import _network_acls
from relight.model.values import RELIGHT_TAGS, STACK_TAGS, TagKey, TagValue

_TAG_KEY: TypeAdapter[str] = TypeAdapter(TagKey)
_TAG_VALUE: TypeAdapter[str] = TypeAdapter(TagValue)


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
    by_tier, subnet_tier, az_ids, table_of = _read_tiers(ec2, flt, notes)
    tiers = [t for t in TIERS if t in by_tier]
    params: dict[str, Any] = {"cidr": cidr, "az_count": len(az_ids)}
    if tiers != list(TIERS):
        params["tiers"] = tiers
    comments = _subnet_cidrs(params, by_tier, tiers, az_ids, vpc_id, notes)
    public_ips = _public_ips(by_tier, tiers, notes)
    if public_ips:
        params["public_ip_on_launch"] = public_ips
    params["nat"] = _nat(ec2, flt, tiers, az_ids, vpc_id, notes)
    tier_tables: dict[str, set[str]] = {}
    for subnet, table in table_of.items():
        tier_tables.setdefault(subnet_tier[subnet], set()).add(table)
    gateway, served = _gateway_endpoints(ec2, flt, tiers, tier_tables, notes)
    if gateway:
        params["gateway_endpoints"] = gateway
    if served:
        params["endpoint_tiers"] = served
    acls = _network_acls(ec2, flt, subnet_tier, notes)
    if acls:
        params["network_acls"] = acls
    params["flow_logs"] = _flow_logs(ec2, vpc_id, notes)
    params["AvailabilityZones"] = {"zones": "names"}
    if params["flow_logs"]:
        params["FlowLogRoleArn"] = {"output": "identity.FlowLogRoleArn"}
    facts = {
        "tags": _production_tags(vpc_id, vpcs[0].get("Tags"), notes),
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
    by_tier, subnet_tier, az_ids, _ = _read_tiers(ec2, flt, notes)
    return by_tier, subnet_tier, az_ids


def _read_tiers(
    ec2: Any, flt: list[Any], notes: list[Note]
) -> tuple[dict[str, dict[str, list[Any]]], dict[str, str], list[str], dict[str, str]]:
    """(tier → AZ ID → subnets, subnet → tier, AZ IDs, subnet → its route table's id: its own,
    else the VPC's main table)."""
    subnets = _pages(ec2, "describe_subnets", "Subnets", Filters=flt)
    tables = _pages(ec2, "describe_route_tables", "RouteTables", Filters=flt)
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    table_of = {
        a["SubnetId"]: t for t in tables for a in t.get("Associations", []) if a.get("SubnetId")
    }
    tier_of = {t["RouteTableId"]: _route_tier(t, notes) for t in tables}
    by_tier: dict[str, dict[str, list[Any]]] = {}
    subnet_tier: dict[str, str] = {}
    subnet_table: dict[str, str] = {}
    for s in sorted(subnets, key=lambda s: ipaddress.IPv4Network(s["CidrBlock"])):
        table = table_of.get(s["SubnetId"], main)
        t = tier_of[table["RouteTableId"]] if table else "data"
        subnet_tier[s["SubnetId"]] = t
        if table:
            subnet_table[s["SubnetId"]] = table["RouteTableId"]
        by_tier.setdefault(t, {}).setdefault(s["AvailabilityZoneId"], []).append(s)
    return by_tier, subnet_tier, sorted({s["AvailabilityZoneId"] for s in subnets}), subnet_table


def _public_ips(
    by_tier: dict[str, dict[str, list[Any]]], tiers: list[str], notes: list[Note]
) -> list[str]:
    """The tiers whose subnets all map a public IPv4 at launch (`MapPublicIpOnLaunch`)."""
    out: list[str] = []
    for t in tiers:
        subnets = [s for found in by_tier[t].values() for s in found]
        maps = [s["SubnetId"] for s in subnets if s.get("MapPublicIpOnLaunch")]
        if maps and len(maps) == len(subnets):
            out.append(t)
        elif maps:
            others = [s["SubnetId"] for s in subnets if not s.get("MapPublicIpOnLaunch")]
            notes.append(
                Note(
                    f"{t} tier",
                    "MapPublicIpOnLaunch",
                    f"{', '.join(maps)} map a public IPv4 address at launch, {', '.join(others)} "
                    f"do not: the blueprint sets it per tier, and the file maps none in the {t} "
                    f"tier; add {t} to public_ip_on_launch if its instances need one",
                )
            )
    return out


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


def _gateway_endpoints(
    ec2: Any,
    flt: list[Any],
    tiers: list[str],
    tier_tables: dict[str, set[str]],
    notes: list[Note],
) -> tuple[list[str], dict[str, list[str]]]:
    """(gateway endpoints, the tiers each is on where not every tier): a tier is on when its
    subnets' route tables are among the endpoint's `RouteTableIds`."""
    tables: dict[str, set[str]] = {}
    ids: dict[str, list[str]] = {}
    for e in _pages(ec2, "describe_vpc_endpoints", "VpcEndpoints", Filters=flt):
        service = e["ServiceName"].rsplit(".", 1)[-1]
        if e.get("VpcEndpointType", "Gateway") == "Gateway" and service in ("s3", "dynamodb"):
            tables.setdefault(service, set()).update(e.get("RouteTableIds") or [])
            ids.setdefault(service, []).append(e["VpcEndpointId"])
        else:
            notes.append(
                Note(
                    e["VpcEndpointId"],
                    "ServiceName",
                    f"{e['ServiceName']} not reproduced ({e.get('VpcEndpointType', '?')} "
                    "endpoint: the blueprint makes S3 and DynamoDB gateway endpoints only)",
                )
            )
    gateway: list[str] = []
    served: dict[str, list[str]] = {}
    for service in (s for s in ("s3", "dynamodb") if s in tables):
        on = _endpoint_tiers(", ".join(ids[service]), tables[service], tiers, tier_tables, notes)
        if not on:
            continue
        gateway.append(service)
        if on != tiers:
            served[service] = on
    return gateway, served


def _endpoint_tiers(
    endpoint: str,
    tables: set[str],
    tiers: list[str],
    tier_tables: dict[str, set[str]],
    notes: list[Note],
) -> list[str]:
    on = []
    for t in tiers:
        have, want = tables & tier_tables.get(t, set()), tier_tables.get(t, set())
        if have:
            on.append(t)
        if have and have != want:
            notes.append(
                Note(
                    endpoint,
                    "RouteTableIds",
                    f"on {', '.join(sorted(have))} of the {t} tier's route tables, not on "
                    f"{', '.join(sorted(want - have))}: the file puts it on every {t} route "
                    "table (the blueprint serves whole tiers)",
                )
            )
    stray = tables - set().union(*tier_tables.values())
    if stray:
        notes.append(
            Note(
                endpoint,
                "RouteTableIds",
                f"{', '.join(sorted(stray))} serve(s) no subnet: not reproduced",
            )
        )
    if not on:
        notes.append(
            Note(
                endpoint,
                "RouteTableIds",
                "on no subnet's route table: not reproduced (it would serve no subnet)",
            )
        )
    return on


def _production_tags(vpc_id: str, items: list[Any] | None, notes: list[Note]) -> dict[str, str]:
    """The VPC's own tags, as the file's top-level `tags:` (stack tags, which CloudFormation
    passes on to the stacks' resources): not Name (each resource has its own), not aws:* (AWS's)
    or relight:* (relight's), and no more than a stack takes beside relight's own."""
    room = STACK_TAGS - len(RELIGHT_TAGS)
    kept: dict[str, str] = {}
    left: list[str] = []
    for tag in sorted(items or [], key=lambda t: str(t["Key"])):
        key, value = str(tag["Key"]), str(tag.get("Value", ""))
        if key == "Name" or key.lower().startswith(("aws:", "relight:")):
            continue
        try:
            _TAG_KEY.validate_python(key)
            _TAG_VALUE.validate_python(value)
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
            notes.append(Note(vpc_id, f"Tags {key}", f"not reproduced: {reason}"))
            continue
        if len(kept) == room:
            left.append(key)
            continue
        kept[key] = value
    if left:
        notes.append(
            Note(
                vpc_id,
                "Tags",
                f"{', '.join(left)} not reproduced: a CloudFormation stack takes {STACK_TAGS} "
                f"tags, and relight adds up to {len(RELIGHT_TAGS)} of its own; the first {room} "
                "are in tags:",
            )
        )
    return kept


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
