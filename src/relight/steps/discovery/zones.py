"""Choosing the availability zones to rebuild in, by AZ ID, where every instance type the
environment uses is offered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from relight.aws.clients import Aws
from relight.aws.failures import translated
from relight.model.environment import Zones


@dataclass(frozen=True)
class Zone:
    name: str
    id: str


def choose_zones(
    aws: Aws, region: str, zones: Zones, instance_types: Sequence[str] = ()
) -> tuple[tuple[Zone, ...], list[str], int]:
    """Pick AZs by AZ ID where every instance type is offered; returns zones, problems, calls."""
    ec2 = aws.client("ec2", region)
    calls = 1
    with translated(f"cannot list availability zones in {region}", ec2):
        raw = ec2.describe_availability_zones(Filters=[{"Name": "state", "Values": ["available"]}])[
            "AvailabilityZones"
        ]
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
    by_id = {
        z["ZoneId"]: Zone(name=z["ZoneName"], id=z["ZoneId"])
        for z in raw
        if z.get("ZoneType", "availability-zone") == "availability-zone"
    }

    def lacking(zone_id: str) -> list[str]:
        return sorted(set(instance_types) - offered.get(zone_id, set()))

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
