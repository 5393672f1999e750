"""Choosing the availability zones to rebuild in, by AZ ID, where every instance type the
environment uses is offered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from relight.aws.clients import Aws
from relight.aws.failures import translated
from relight.model.environment import Zones


@dataclass(frozen=True)
class Zone:
    name: str
    id: str


@dataclass(frozen=True)
class Standing:
    """The zones a deployed stack takes (its `{zones: names}` Parameter), by name, in order."""

    stack: str
    parameter: str
    names: tuple[str, ...]


def _keep(
    standing: Standing,
    listed: dict[str, Zone],
    usable: Callable[[str], bool],
    zones: Zones,
    region: str,
) -> tuple[tuple[Zone, ...], list[str]]:
    """The standing stack's zones (an impaired one too: the subnets stand there), then, for a
    larger count, the first usable others."""
    by_name = {z.name: z for z in listed.values()}
    where = f"stack {standing.stack} in {region} stands in zones {', '.join(standing.names)}"
    unmoved = "its subnets cannot move to another zone in place"
    problems = []
    kept = []
    for name in standing.names:
        zone = by_name.get(name)
        if zone is None:
            problems.append(
                f"{where} ({standing.parameter}), but {region} lists no zone {name}; {unmoved}: "
                "tear that stack down and rerun to choose anew"
            )
            continue
        kept.append(zone)  # one that lacks an instance type too: the network cannot move
    kept_ids = [z.id for z in kept]
    if region in zones.ids and zones.ids[region][: len(kept_ids)] != kept_ids:
        problems.append(
            f"zones.ids.{region}: {', '.join(zones.ids[region])}, but {where} "
            f"({', '.join(kept_ids)}); {unmoved}: list its zones first, or tear that stack "
            "down and rerun"
        )
    wanted = zones.count_for(region)
    more = zones.ids[region][len(kept_ids) :] if region in zones.ids else sorted(listed)
    extra = [listed[i] for i in more if i in listed and i not in kept_ids and usable(i)]
    return tuple((kept + extra)[:wanted]), problems


def choose_zones(
    aws: Aws,
    region: str,
    zones: Zones,
    instance_types: Sequence[str] = (),
    standing: Standing | None = None,
) -> tuple[tuple[Zone, ...], list[str], int]:
    """Pick AZs by AZ ID where every instance type is offered; returns zones, problems, calls.

    With `standing` (a stack already deployed in the region takes the zones, the network's
    subnets stand in them), those zones are kept, in their order: a subnet's zone cannot change
    in place (CloudFormation replaces it, and the new subnet's CIDR conflicts with the old
    one's), so only a new network chooses. A larger count adds zones after them.
    """
    ec2 = aws.client("ec2", region)
    calls = 1
    with translated(f"cannot list availability zones in {region}", ec2):
        raw = ec2.describe_availability_zones()["AvailabilityZones"]
        offered: dict[str, set[str]] = {}
        if instance_types:
            pages = ec2.get_paginator("describe_instance_type_offerings").paginate(
                LocationType="availability-zone-id",
                Filters=[{"Name": "instance-type", "Values": sorted(set(instance_types))}],
            )
            for page in pages:
                calls += 1
                for offer in page["InstanceTypeOfferings"]:
                    offered.setdefault(offer["Location"], set()).add(offer["InstanceType"])
    listed = {
        z["ZoneId"]: Zone(name=z["ZoneName"], id=z["ZoneId"])
        for z in raw
        if z.get("ZoneType", "availability-zone") == "availability-zone"
    }
    by_id = {
        i: zone
        for i, zone in listed.items()
        if any(z["ZoneId"] == i and z.get("State", "available") == "available" for z in raw)
    }

    def lacking(zone_id: str) -> list[str]:
        return sorted(set(instance_types) - offered.get(zone_id, set()))

    if standing is not None and standing.names:

        def fits(zone_id: str) -> bool:
            return zone_id in by_id and not lacking(zone_id)

        return (*_keep(standing, listed, fits, zones, region), calls)
    if region in zones.ids:
        problems = []
        for zone_id in zones.ids[region]:
            if zone_id not in by_id:
                problems.append(
                    f"zones.ids.{region}: {zone_id} is not available in {region}; "
                    f"available AZ IDs: {', '.join(sorted(by_id))}"
                )
            elif lacking(zone_id):
                problems.append(
                    f"zones.ids.{region}: {zone_id} does not offer {', '.join(lacking(zone_id))}"
                )
        chosen = tuple(by_id[z] for z in zones.ids[region] if z in by_id)
        return chosen, problems, calls
    usable = [zone_id for zone_id in sorted(by_id) if not lacking(zone_id)]
    if len(usable) < zones.count:
        detail = "; ".join(
            f"{zone_id} lacks {', '.join(lacking(zone_id))}"
            for zone_id in sorted(by_id)
            if lacking(zone_id)
        )
        return (
            tuple(by_id[z] for z in usable),
            [
                f"zones.count: {zones.count} zones wanted, {region} has {len(usable)} that "
                f"offer every instance type the environment uses ({', '.join(usable) or 'none'})"
                + (f"; {detail}" if detail else "")
            ],
            calls,
        )
    return tuple(by_id[z] for z in usable[: zones.count]), [], calls
