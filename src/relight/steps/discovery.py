"""Step 2 of the data flow: find, in the target region, what to restore from.

For each kind of artifact (AMIs, EBS snapshots, RDS snapshots, Aurora cluster
snapshots, AWS Backup recovery points) there is one paginated listing per
region, with the server-side filters every lookup of that kind shares; every
lookup is then matched against that listing, never with an API call per
lookup. Only usable states count (available / completed). The newest match
wins; ties (moto's times have one-second resolution, AWS's can collide too)
go to the highest id, so the choice is deterministic.

Lineage (where a copy came from) is read from the AWS fields where they are
set (SourceImageId/SourceRegion, a copied snapshot's description,
SourceDBSnapshotIdentifier, SourceBackupVaultArn), otherwise from the tags
relight writes on the copies it makes (`relight:source-id`,
`relight:source-region`, `relight:source-time`). An artifact's *age* is the
age of its data: from the source's creation time when known, else the copy's.

An AWS Backup recovery point is listed by its recovery point ARN but given to
templates as what they restore from: the AMI id, EBS snapshot id or DB snapshot
identifier in that ARN (`Artifact.arn` keeps the ARN). EC2 recovery point ARNs
have no account field (`arn:aws:ec2:REGION::image/ami-...`): the owner is the
vault's account.

Misses are returned, not raised: preflight reports every problem together.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from relight.aws.clients import Aws, endpoint_failed, translated
from relight.errors import AwsError
from relight.model.environment import ArtifactLookup, Environment, Zones
from relight.model.shapes import tag_dict
from relight.model.times import human_age, parse_time

LINEAGE_ID = "relight:source-id"
LINEAGE_REGION = "relight:source-region"
LINEAGE_TIME = "relight:source-time"
LINEAGE_VOLUME = "relight:source-volume"
COPY_MARK = "relight:copy"  # on every copy relight makes; prune touches nothing else

_NEVER = datetime.min.replace(tzinfo=UTC)  # sorts before every real creation time
_COPIED = re.compile(r"Copied (snap-[0-9a-f]+) from ([a-z]{2}(?:-[a-z]+)+-\d)")
EC2_PAGE = 1000  # DescribeImages/DescribeSnapshots page size
RDS_PAGE = 100  # the most RDS returns per page


@dataclass(frozen=True)
class Candidate:
    """One image, snapshot or recovery point as listed, in a shape common to every kind."""

    kind: str
    id: str
    created: datetime
    tags: Mapping[str, str]
    owner: str
    name: str = ""
    db_instance: str = ""
    db_cluster: str = ""
    volume: str = ""
    resource: str = ""
    vault: str = ""
    encrypted: bool = False
    kms_key: str | None = None
    backing: tuple[str, ...] = ()  # an AMI's EBS snapshots
    backing_keys: tuple[str, ...] = ()  # the KMS keys of an AMI's EBS snapshots (can differ)
    # The ARN AWS gives it: an RDS (cluster) snapshot's, a recovery point's ("" for EC2).
    arn: str = ""
    option_group: str = ""  # an RDS snapshot's option group (OptionGroupName)
    automated: bool = False  # an RDS automated snapshot (SnapshotType "automated", id "rds:...")
    source_id: str | None = None
    source_region: str | None = None
    source_time: datetime | None = None
    ready: bool = True  # False: a copy still in progress (listed only with Lister(pending=True))
    # What a stack may take besides the id ({artifact: NAME.ATTRIBUTE}): an AMI's root device.
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def relight_copy(self) -> bool:
        return self.tags.get(COPY_MARK) == "true"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every KMS key that protects it."""
        return self.backing_keys or ((self.kms_key,) if self.kms_key else ())


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
    encrypted: bool = False
    kms_key: str | None = None
    arn: str | None = None  # e.g. the recovery point's ARN when `id` is its AMI or snapshot
    attributes: Mapping[str, str] = field(default_factory=dict)  # see Candidate.attributes

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
    missing: dict[str, str] = field(default_factory=dict)  # artifact → what was not found
    zones: tuple[Zone, ...] = ()
    zone_problems: tuple[str, ...] = ()
    calls: int = 0  # AWS API calls made (pages included)

    def artifact_ids(self) -> dict[str, str]:
        """Each artifact's id by its name, and its attributes as `NAME.ATTRIBUTE`."""
        ids = {name: a.id for name, a in self.artifacts.items()}
        for name, art in self.artifacts.items():
            ids.update({f"{name}.{key}": value for key, value in art.attributes.items()})
        return ids

    def zone_names(self) -> list[str]:
        return [z.name for z in self.zones]


# Listing -------------------------------------------------------------------------------------


def _lineage(tags: Mapping[str, str]) -> dict[str, Any]:
    return {
        "source_id": tags.get(LINEAGE_ID),
        "source_region": tags.get(LINEAGE_REGION),
        "source_time": parse_time(tags.get(LINEAGE_TIME)),
    }


def root_volume(raw: Mapping[str, Any]) -> dict[str, str]:
    """An AMI's root device name and root volume size (GiB), as its launch must repeat them."""
    root = raw.get("RootDeviceName")
    if not root:
        return {}
    found = {"root_device": str(root)}
    for mapping in raw.get("BlockDeviceMappings", []):
        if mapping.get("DeviceName") == root and mapping.get("Ebs", {}).get("VolumeSize"):
            found["root_size_gb"] = str(mapping["Ebs"]["VolumeSize"])
    return found


def _image(raw: Mapping[str, Any]) -> Candidate:
    tags = tag_dict(raw.get("Tags"))
    lineage = _lineage(tags)
    lineage["source_id"] = raw.get("SourceImageId") or lineage["source_id"]
    lineage["source_region"] = raw.get("SourceRegion") or lineage["source_region"]
    volumes = [m["Ebs"] for m in raw.get("BlockDeviceMappings", []) if "Ebs" in m]
    keys = tuple(dict.fromkeys(v["KmsKeyId"] for v in volumes if v.get("KmsKeyId")))
    return Candidate(
        kind="ami",
        id=raw["ImageId"],
        created=parse_time(raw.get("CreationDate")) or _NEVER,
        tags=tags,
        owner=str(raw.get("OwnerId", "")),
        name=raw.get("Name", ""),
        encrypted=any(v.get("Encrypted") for v in volumes),
        kms_key=keys[0] if keys else None,
        backing=tuple(v["SnapshotId"] for v in volumes if v.get("SnapshotId")),
        attributes=root_volume(raw),
        backing_keys=keys,
        **lineage,
        ready=raw.get("State", "available") == "available",
    )


def _snapshot(raw: Mapping[str, Any]) -> Candidate:
    tags = tag_dict(raw.get("Tags"))
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
        volume=tags.get(LINEAGE_VOLUME) or raw.get("VolumeId", ""),
        encrypted=bool(raw.get("Encrypted")),
        kms_key=raw.get("KmsKeyId"),
        **lineage,
        ready=raw.get("State", "completed") == "completed",
    )


def _account_of(arn: str | None) -> str:
    """The account field of an ARN ('' when there is none)."""
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 4 else ""


def rds_snapshot_id(id_or_arn: str) -> str:
    """A DB (cluster) snapshot's identifier, from itself or from its ARN."""
    for marker in (":cluster-snapshot:", ":snapshot:"):
        if id_or_arn.startswith("arn:") and marker in id_or_arn:
            return id_or_arn.split(marker, 1)[1]
    return id_or_arn


def _rds_lineage(raw: Mapping[str, Any], key: str, tags: Mapping[str, str]) -> dict[str, Any]:
    lineage = _lineage(tags)
    if lineage["source_time"] is None:  # a copy made elsewhere: its data is as old as its source
        lineage["source_time"] = parse_time(raw.get("OriginalSnapshotCreateTime"))
    source = raw.get(key)
    if source:
        lineage["source_id"] = rds_snapshot_id(source)
        arn_region = source.split(":")[3] if source.startswith("arn:") else None
        lineage["source_region"] = raw.get("SourceRegion") or arn_region
    return lineage


def _automated(raw: Mapping[str, Any], identifier: str) -> bool:
    return raw.get("SnapshotType") == "automated" or identifier.startswith("rds:")


def _db_snapshot(raw: Mapping[str, Any]) -> Candidate:
    tags = tag_dict(raw.get("TagList"))
    identifier = raw["DBSnapshotIdentifier"]
    return Candidate(
        kind="rds_snapshot",
        id=identifier,
        created=raw.get("SnapshotCreateTime") or raw.get("OriginalSnapshotCreateTime") or _NEVER,
        tags=tags,
        owner=_account_of(raw.get("DBSnapshotArn")),
        arn=raw.get("DBSnapshotArn", ""),
        option_group=raw.get("OptionGroupName", ""),
        automated=_automated(raw, identifier),
        db_instance=raw.get("DBInstanceIdentifier", ""),
        encrypted=bool(raw.get("Encrypted")),
        kms_key=raw.get("KmsKeyId"),
        **_rds_lineage(raw, "SourceDBSnapshotIdentifier", tags),
        ready=raw.get("Status", "available") == "available",
    )


def _cluster_snapshot(raw: Mapping[str, Any]) -> Candidate:
    tags = tag_dict(raw.get("TagList"))
    identifier = raw["DBClusterSnapshotIdentifier"]
    return Candidate(
        kind="rds_cluster_snapshot",
        id=identifier,
        created=raw.get("SnapshotCreateTime") or _NEVER,
        tags=tags,
        owner=_account_of(raw.get("DBClusterSnapshotArn")),
        arn=raw.get("DBClusterSnapshotArn", ""),
        automated=_automated(raw, identifier),
        db_cluster=raw.get("DBClusterIdentifier", ""),
        encrypted=bool(raw.get("StorageEncrypted")),
        kms_key=raw.get("KmsKeyId"),
        **_rds_lineage(raw, "SourceDBClusterSnapshotArn", tags),
        ready=raw.get("Status", "available") == "available",
    )


def recovery_point_resource(arn: str) -> str:
    """What a template restores from, given a recovery point's ARN: the AMI id
    (`arn:aws:ec2:REGION::image/ami-...`), the EBS snapshot id
    (`arn:aws:ec2:REGION::snapshot/snap-...`), the DB (cluster) snapshot identifier
    (`arn:aws:rds:REGION:ACCOUNT:snapshot:awsbackup:job-...` → `awsbackup:job-...`);
    otherwise the ARN itself (EFS, DynamoDB, ... restore through AWS Backup)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return arn
    service, resource = parts[2], parts[5]
    if service == "ec2" and resource.startswith(("image/ami-", "snapshot/snap-")):
        return resource.split("/", 1)[1]
    if service == "rds":
        return rds_snapshot_id(arn)
    return arn


def _recovery_point(raw: Mapping[str, Any]) -> Candidate:
    source_vault = raw.get("SourceBackupVaultArn") or ""
    arn = raw["RecoveryPointArn"]
    return Candidate(
        kind="backup_recovery_point",
        id=recovery_point_resource(arn),
        created=raw.get("CreationDate") or _NEVER,
        tags={},
        # EC2 recovery point ARNs have no account field: the vault's account owns them.
        owner=_account_of(raw.get("BackupVaultArn")) or _account_of(arn),
        arn=arn,
        resource=raw.get("ResourceArn", ""),
        vault=raw.get("BackupVaultName", ""),
        encrypted=bool(raw.get("IsEncrypted")),
        kms_key=raw.get("EncryptionKeyArn"),
        source_region=source_vault.split(":")[3] if source_vault.count(":") > 3 else None,
        source_id=source_vault.rsplit(":", 1)[-1] or None,
    )


def _shared(lookups: Sequence[ArtifactLookup], attribute: str) -> list[str] | None:
    """The values every lookup gives for `attribute`, or None when one gives none."""
    values = [getattr(lookup, attribute) for lookup in lookups]
    if not values or any(v is None for v in values):
        return None
    return sorted(set(values))


def _tag_keys(lookups: Sequence[ArtifactLookup]) -> list[str] | None:
    """A server-side `tag-key` filter: safe only when every lookup requires some tag."""
    if not lookups or any(not lookup.tags for lookup in lookups):
        return None
    return sorted({key for lookup in lookups for key in lookup.tags})


class Lister:
    """Lists each artifact kind in a region once, counting API calls (pages included)."""

    def __init__(
        self, aws: Aws, region: str, *, pending: bool = False, bounded: bool = False
    ) -> None:
        self.aws = aws
        self.region = region
        # Also list copies still in progress (replication must not start them twice).
        self.pending = pending
        # A hint, not a dependency (the home region during an outage): one bounded attempt.
        self.bounded = bounded
        self.calls = 0

    def _pages(self, service: str, operation: str, key: str, page: int, **kwargs: Any) -> list[Any]:
        client = self.aws.client(service, self.region, bounded=self.bounded)
        items: list[Any] = []
        with translated(
            f"cannot list {key} in {self.region}",
            client,
            hint=f"check that the credentials may read {key} in {self.region}",
        ):
            pages = client.get_paginator(operation).paginate(
                **kwargs, PaginationConfig={"PageSize": page}
            )
            for result in pages:
                self.calls += 1
                items.extend(result.get(key, []))
        return items

    def _states(self, ready: str, pending: str) -> list[str]:
        return [ready, pending] if self.pending else [ready]

    def _rds_states(self) -> set[str]:
        return {"available", "creating", "copying"} if self.pending else {"available"}

    def list(self, kind: str, lookups: Sequence[ArtifactLookup]) -> list[Candidate]:
        """Every usable candidate of `kind` that could match one of `lookups`."""
        owners = sorted({owner for lookup in lookups for owner in lookup.owners})
        tag_keys = _tag_keys(lookups)
        tag_filter = [{"Name": "tag-key", "Values": tag_keys}] if tag_keys else []
        if kind == "ami":
            names = _shared(lookups, "name")
            name_filter = [{"Name": "name", "Values": names}] if names else []
            raw = self._pages(
                "ec2",
                "describe_images",
                "Images",
                EC2_PAGE,
                Owners=owners,
                Filters=[
                    {"Name": "state", "Values": self._states("available", "pending")},
                    *name_filter,
                    *tag_filter,
                ],
            )
            return [_image(r) for r in raw]
        if kind == "ebs_snapshot":
            raw = self._pages(
                "ec2",
                "describe_snapshots",
                "Snapshots",
                EC2_PAGE,
                OwnerIds=owners,
                Filters=[
                    {"Name": "status", "Values": self._states("completed", "pending")},
                    *tag_filter,
                ],
            )
            return [_snapshot(r) for r in raw]
        shared = any(owner != "self" for owner in owners)
        if kind == "rds_snapshot":
            ids = _shared(lookups, "db_instance")
            filters = [{"Name": "db-instance-id", "Values": ids}] if ids else []
            raw = self._pages(
                "rds",
                "describe_db_snapshots",
                "DBSnapshots",
                RDS_PAGE,
                IncludeShared=shared,
                **({"Filters": filters} if filters else {}),
            )
            return [_db_snapshot(r) for r in raw if r.get("Status") in self._rds_states()]
        if kind == "rds_cluster_snapshot":
            ids = _shared(lookups, "db_cluster")
            filters = [{"Name": "db-cluster-id", "Values": ids}] if ids else []
            raw = self._pages(
                "rds",
                "describe_db_cluster_snapshots",
                "DBClusterSnapshots",
                RDS_PAGE,
                IncludeShared=shared,
                **({"Filters": filters} if filters else {}),
            )
            return [_cluster_snapshot(r) for r in raw if r.get("Status") in self._rds_states()]
        found: list[Candidate] = []
        for vault in sorted({lookup.vault for lookup in lookups if lookup.vault}):
            raw = self._pages(
                "backup",
                "list_recovery_points_by_backup_vault",
                "RecoveryPoints",
                RDS_PAGE,
                BackupVaultName=vault,
            )
            found += [_recovery_point(r) for r in raw if r.get("Status") == "COMPLETED"]
        return found


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
    if lookup.db_cluster and candidate.db_cluster != lookup.db_cluster:
        return False
    if lookup.source_volume and candidate.volume != lookup.source_volume:
        return False
    if lookup.vault and (
        candidate.vault != lookup.vault or (lookup.resource or "") not in candidate.resource
    ):
        return False
    owners = {account_id if o == "self" else o for o in lookup.owners}
    return candidate.owner in owners


def newest(found: list[Candidate]) -> Candidate:
    """The newest candidate; ties go to the highest id."""
    return max(found, key=lambda c: (c.created, c.id))


def list_by_kind(lister: Lister, lookups: Iterable[ArtifactLookup]) -> dict[str, list[Candidate]]:
    """One listing per kind, serving every lookup of that kind."""
    every = list(lookups)
    return {
        kind: lister.list(kind, [lookup for lookup in every if lookup.kind == kind])
        for kind in sorted({lookup.kind for lookup in every})
    }


def hits_by_lookup(
    lister: Lister, lookups: Mapping[str, ArtifactLookup], account_id: str
) -> dict[str, list[Candidate]]:
    """Per lookup, every candidate it matches, from one listing per kind."""
    listings = list_by_kind(lister, lookups.values())
    return {
        name: [c for c in listings[lookup.kind] if matches(lookup, c, account_id)]
        for name, lookup in lookups.items()
    }


def find_artifacts(
    lister: Lister, lookups: Mapping[str, ArtifactLookup], account_id: str
) -> tuple[dict[str, Artifact], list[str]]:
    """Match every lookup against one listing per kind; returns the found and the missing."""
    found: dict[str, Artifact] = {}
    missing: list[str] = []
    for name, hits in hits_by_lookup(lister, lookups, account_id).items():
        lookup = lookups[name]
        if not hits:
            missing.append(name)
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
            encrypted=best.encrypted,
            kms_key=best.kms_key,
            attributes=dict(best.attributes),
            arn=best.arn or None,
        )
    return found, missing


def _elsewhere(
    home: Lister, env: Environment, region: str, missing: list[str], account_id: str, now: datetime
) -> dict[str, str]:
    """For missing artifacts, what the home region holds (one listing per kind there)."""
    if region == env.home_region:
        return {}
    down = home.aws.down("ec2", env.home_region)
    if down:  # an outage rehearsal declares it lost: not even tried
        return {name: f"home region {env.home_region} not asked ({down})" for name in missing}
    lookups = {name: env.artifacts[name] for name in missing}
    try:
        found, _ = find_artifacts(home, lookups, account_id)
    except AwsError as exc:
        seconds = home.aws.target.bounded_seconds
        why = (
            f"unreachable (one attempt, {seconds:g} s)"
            if exc.__cause__ is None or endpoint_failed(exc.__cause__)
            else f"refused the question ({exc.message})"
        )
        return {
            name: f"home region {env.home_region} {why}: what it holds is not known; going on "
            "without it"
            for name in missing
        }
    notes = {}
    for name in missing:
        if name in found:
            art = found[name]
            notes[name] = (
                f"newest match in {env.home_region} is {art.id} "
                f"({human_age(art.age(now))} old): run relight replicate --env {env.name} "
                f"--from {env.home_region} --to {region}"
            )
        else:
            notes[name] = f"none in {env.home_region} either"
    return notes


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


def discover(
    aws: Aws,
    env: Environment,
    region: str,
    *,
    account_id: str,
    now: Callable[[], datetime],
    instance_types: Sequence[str] = (),
) -> Discovery:
    """Find every artifact of `env` in `region` and choose its zones; misses are returned."""
    lister = Lister(aws, region)
    found, missing = find_artifacts(lister, env.artifacts, account_id)
    found, image_calls = _backed_up_images(aws, region, found)
    at = now()
    home = Lister(aws, env.home_region, bounded=True)  # a hint: the home region may be down
    notes = _elsewhere(home, env, region, missing, account_id, at) if missing else {}
    zones, zone_problems, zone_calls = choose_zones(aws, region, env.zones, instance_types)
    return Discovery(
        region=region,
        at=at,
        artifacts=found,
        missing={
            name: f"no {env.artifacts[name].describe()} in {region}"
            + (f"; {notes[name]}" if name in notes else "")
            for name in missing
        },
        zones=zones,
        zone_problems=tuple(zone_problems),
        calls=lister.calls + home.calls + zone_calls + image_calls,
    )


def _backed_up_images(
    aws: Aws, region: str, found: dict[str, Artifact]
) -> tuple[dict[str, Artifact], int]:
    """AWS Backup recovery points of EC2 instances are AMIs: read their root device as an
    AMI lookup's listing does (one DescribeImages call for all of them)."""
    images = {
        name: art
        for name, art in found.items()
        if art.kind == "backup_recovery_point" and art.id.startswith("ami-")
    }
    if not images:
        return found, 0
    ids = sorted({art.id for art in images.values()})
    ec2 = aws.client("ec2", region)
    with translated(f"cannot describe the backed-up AMIs {', '.join(ids)} in {region}", ec2):
        described = ec2.describe_images(ImageIds=ids)["Images"]
    roots = {image["ImageId"]: root_volume(image) for image in described}
    return {
        name: replace(art, attributes=roots.get(art.id, {})) if name in images else art
        for name, art in found.items()
    }, 1


def stale(discovery: Discovery, rpo_seconds: int) -> list[Artifact]:
    """Artifacts whose data is older than the RPO."""
    return [
        a for a in discovery.artifacts.values() if a.age(discovery.at).total_seconds() > rpo_seconds
    ]
