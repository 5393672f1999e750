"""Step 2 of the data flow: find, in the target region, what to restore from.

For each kind of artifact (AMIs, EBS snapshots, RDS snapshots) there is one
paginated listing per region with server-side filters; every lookup of the
environment is then matched against that listing, never with an API call per
lookup. Only usable states count (available / completed). The newest match
wins; ties (moto's times have one-second resolution, AWS's can collide too)
go to the highest id, so the choice is deterministic.

Lineage (where a copy came from) is read from the AWS fields where they are
set (SourceImageId/SourceRegion, a copied snapshot's description,
SourceDBSnapshotIdentifier), otherwise from the tags relight writes on the
copies it makes (`relight:source-id`, `relight:source-region`,
`relight:source-time`). An artifact's *age* is the age of its data: from the
source's creation time when known, else from the copy's.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from relight.aws import Aws
from relight.environment import ArtifactLookup, Environment, Zones
from relight.errors import AwsError, DiscoveryError

LINEAGE_ID = "relight:source-id"
LINEAGE_REGION = "relight:source-region"
LINEAGE_TIME = "relight:source-time"

_NEVER = datetime.min.replace(tzinfo=UTC)  # sorts before every real creation time
_COPIED = re.compile(r"Copied (snap-[0-9a-f]+) from ([a-z]{2}(?:-[a-z]+)+-\d)")


@dataclass(frozen=True)
class Candidate:
    """One image or snapshot as listed, in a shape common to every kind."""

    kind: str
    id: str
    created: datetime
    tags: Mapping[str, str]
    owner: str
    name: str = ""
    db_instance: str = ""
    source_id: str | None = None
    source_region: str | None = None
    source_time: datetime | None = None


@dataclass(frozen=True)
class Artifact:
    """The artifact a lookup chose in the target region."""

    name: str  # the key under `artifacts:` in the environment file
    kind: str
    id: str
    region: str
    created: datetime
    candidates: int
    source_id: str | None = None
    source_region: str | None = None
    source_time: datetime | None = None

    @property
    def data_time(self) -> datetime:
        """When the data was captured: the source's time when known, else the copy's."""
        return self.source_time or self.created

    def age(self, now: datetime) -> timedelta:
        return now - self.data_time


@dataclass(frozen=True)
class Zone:
    name: str
    id: str


@dataclass(frozen=True)
class Discovery:
    region: str
    at: datetime
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    zones: tuple[Zone, ...] = ()
    calls: int = 0  # AWS API calls made (pages included)

    def artifact_ids(self) -> dict[str, str]:
        return {name: a.id for name, a in self.artifacts.items()}

    def zone_names(self) -> list[str]:
        return [z.name for z in self.zones]


# Listing -------------------------------------------------------------------------------------


def _tags(items: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or ()}


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _lineage(tags: Mapping[str, str]) -> dict[str, Any]:
    return {
        "source_id": tags.get(LINEAGE_ID),
        "source_region": tags.get(LINEAGE_REGION),
        "source_time": _parse_time(tags.get(LINEAGE_TIME)),
    }


def _image(raw: Mapping[str, Any]) -> Candidate:
    tags = _tags(raw.get("Tags"))
    lineage = _lineage(tags)
    lineage["source_id"] = raw.get("SourceImageId") or lineage["source_id"]
    lineage["source_region"] = raw.get("SourceRegion") or lineage["source_region"]
    return Candidate(
        kind="ami",
        id=raw["ImageId"],
        created=_parse_time(raw["CreationDate"]) or _NEVER,
        tags=tags,
        owner=str(raw.get("OwnerId", "")),
        name=raw.get("Name", ""),
        **lineage,
    )


def _snapshot(raw: Mapping[str, Any]) -> Candidate:
    tags = _tags(raw.get("Tags"))
    lineage = _lineage(tags)
    copied = _COPIED.search(raw.get("Description") or "")
    if copied:
        lineage["source_id"], lineage["source_region"] = copied.groups()
    return Candidate(
        kind="ebs_snapshot",
        id=raw["SnapshotId"],
        created=raw["StartTime"],
        tags=tags,
        owner=str(raw.get("OwnerId", "")),
        **lineage,
    )


def _db_snapshot(raw: Mapping[str, Any]) -> Candidate:
    tags = _tags(raw.get("TagList"))
    lineage = _lineage(tags)
    source = raw.get("SourceDBSnapshotIdentifier")
    if source:
        lineage["source_id"] = source.rsplit(":", 1)[-1]
        arn_region = source.split(":")[3] if source.startswith("arn:") else None
        lineage["source_region"] = raw.get("SourceRegion") or arn_region
    return Candidate(
        kind="rds_snapshot",
        id=raw["DBSnapshotIdentifier"],
        created=raw.get("SnapshotCreateTime") or raw.get("OriginalSnapshotCreateTime") or _NEVER,
        tags=tags,
        owner=str(raw.get("DBSnapshotArn", "::::")).split(":")[4],
        db_instance=raw.get("DBInstanceIdentifier", ""),
        **lineage,
    )


class Lister:
    """Lists every artifact kind in a region once, counting API calls (pages included)."""

    def __init__(self, aws: Aws, region: str) -> None:
        self.aws = aws
        self.region = region
        self.calls = 0

    def _pages(self, service: str, operation: str, key: str, **kwargs: Any) -> list[Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.aws.client(service, self.region)
        items: list[Any] = []
        try:
            for page in client.get_paginator(operation).paginate(**kwargs):
                self.calls += 1
                items.extend(page.get(key, []))
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(
                f"cannot list {key} in {self.region} ({operation}): {exc}",
                hint="check that the region is reachable and the credentials may read it",
            ) from exc
        return items

    def list(self, kind: str, owners: list[str]) -> list[Candidate]:
        if kind == "ami":
            raw = self._pages(
                "ec2",
                "describe_images",
                "Images",
                Owners=owners,
                Filters=[{"Name": "state", "Values": ["available"]}],
            )
            return [_image(r) for r in raw]
        if kind == "ebs_snapshot":
            raw = self._pages(
                "ec2",
                "describe_snapshots",
                "Snapshots",
                OwnerIds=owners,
                Filters=[{"Name": "status", "Values": ["completed"]}],
            )
            return [_snapshot(r) for r in raw]
        raw = self._pages("rds", "describe_db_snapshots", "DBSnapshots")
        return [_db_snapshot(r) for r in raw if r.get("Status") == "available"]


# Matching ------------------------------------------------------------------------------------


def matches(lookup: ArtifactLookup, candidate: Candidate, account_id: str) -> bool:
    if candidate.kind != lookup.kind:
        return False
    if any(candidate.tags.get(k) != v for k, v in lookup.tags.items()):
        return False
    if lookup.name and not fnmatch.fnmatchcase(candidate.name, lookup.name):
        return False
    if lookup.db_instance and candidate.db_instance != lookup.db_instance:
        return False
    owners = {account_id if o == "self" else o for o in lookup.owners}
    return candidate.owner in owners


def newest(found: list[Candidate]) -> Candidate:
    """The newest candidate; ties go to the highest id."""
    return max(found, key=lambda c: (c.created, c.id))


def _owners(lookups: Iterable[ArtifactLookup]) -> list[str]:
    return sorted({owner for lookup in lookups for owner in lookup.owners})


def find_artifacts(
    lister: Lister, lookups: Mapping[str, ArtifactLookup], account_id: str
) -> tuple[dict[str, Artifact], dict[str, int]]:
    """Match every lookup against one listing per kind; returns found ones and missing counts."""
    listings: dict[str, list[Candidate]] = {}
    for kind in sorted({lookup.kind for lookup in lookups.values()}):
        same_kind = [lookup for lookup in lookups.values() if lookup.kind == kind]
        listings[kind] = lister.list(kind, _owners(same_kind))
    found: dict[str, Artifact] = {}
    missing: dict[str, int] = {}
    for name, lookup in lookups.items():
        hits = [c for c in listings[lookup.kind] if matches(lookup, c, account_id)]
        if not hits:
            missing[name] = 0
            continue
        best = newest(hits)
        found[name] = Artifact(
            name=name,
            kind=lookup.kind,
            id=best.id,
            region=lister.region,
            created=best.created,
            candidates=len(hits),
            source_id=best.source_id,
            source_region=best.source_region,
            source_time=best.source_time,
        )
    return found, missing


def human_age(delta: timedelta | float) -> str:
    """`45 s`, `12 min`, `3.0 h`, `2.5 d`."""
    total = delta.total_seconds() if isinstance(delta, timedelta) else delta
    seconds = max(0, int(total))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _elsewhere(
    aws: Aws, env: Environment, region: str, missing: list[str], account_id: str, now: datetime
) -> dict[str, str]:
    """For missing artifacts, what the home region holds (one listing per kind there)."""
    if region == env.home_region:
        return {}
    lookups = {name: env.artifacts[name] for name in missing}
    try:
        found, _ = find_artifacts(Lister(aws, env.home_region), lookups, account_id)
    except AwsError:
        return {name: f"the home region {env.home_region} did not answer" for name in missing}
    notes = {}
    for name in missing:
        if name in found:
            art = found[name]
            notes[name] = (
                f"newest match in {env.home_region} is {art.id} "
                f"({human_age(art.age(now))} old): copy it to {region} first"
            )
        else:
            notes[name] = f"none in {env.home_region} either"
    return notes


def choose_zones(aws: Aws, region: str, zones: Zones) -> tuple[tuple[Zone, ...], int]:
    """Pick AZs by AZ ID (given, or the first `count` available ones); returns zones and calls."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        raw = aws.client("ec2", region).describe_availability_zones(
            Filters=[{"Name": "state", "Values": ["available"]}]
        )["AvailabilityZones"]
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(f"cannot list availability zones in {region}: {exc}") from exc
    by_id = {
        z["ZoneId"]: Zone(name=z["ZoneName"], id=z["ZoneId"])
        for z in raw
        if z.get("ZoneType", "availability-zone") == "availability-zone"
    }
    if region in zones.ids:
        unknown = [zid for zid in zones.ids[region] if zid not in by_id]
        if unknown:
            raise DiscoveryError(
                f"zones.ids.{region}: {', '.join(unknown)} not available in {region}; "
                f"available AZ IDs: {', '.join(sorted(by_id))}"
            )
        return tuple(by_id[zid] for zid in zones.ids[region]), 1
    if len(by_id) < zones.count:
        raise DiscoveryError(
            f"zones.count: {zones.count} zones wanted, {region} has {len(by_id)} available "
            f"({', '.join(sorted(by_id))})"
        )
    return tuple(by_id[zid] for zid in sorted(by_id)[: zones.count]), 1


def discover(
    aws: Aws,
    env: Environment,
    region: str,
    *,
    account_id: str,
    now: Callable[[], datetime],
    source: str = "environment file",
) -> Discovery:
    """Find every artifact of `env` in `region`, and choose its zones; misses reported together."""
    lister = Lister(aws, region)
    found, missing = find_artifacts(lister, env.artifacts, account_id)
    at = now()
    if missing:
        notes = _elsewhere(aws, env, region, sorted(missing), account_id, at)
        lines = [
            f"artifacts.{name}: no {env.artifacts[name].describe()} in {region}"
            + (f"; {notes[name]}" if name in notes else "")
            for name in sorted(missing)
        ]
        holders = [r for r in env.recovery_regions if r != region]
        hint = (
            f"fail over to a region that holds copies (recovery_regions: {', '.join(holders)}), "
            "or copy the backups into this one"
            if holders
            else "copy the backups into this region first"
        )
        raise DiscoveryError(
            f"{source}: nothing to restore from\n  " + "\n  ".join(lines), hint=hint
        )
    zones, zone_calls = choose_zones(aws, region, env.zones)
    return Discovery(
        region=region, at=at, artifacts=found, zones=zones, calls=lister.calls + zone_calls
    )


def stale(discovery: Discovery, rpo_seconds: int) -> list[Artifact]:
    """Artifacts whose data is older than the RPO."""
    return [
        a for a in discovery.artifacts.values() if a.age(discovery.at).total_seconds() > rpo_seconds
    ]
