"""Listing what a region holds to restore from: for each kind of artifact (AMIs, EBS
snapshots, RDS snapshots, Aurora cluster snapshots, AWS Backup recovery points) one paginated
listing with the server-side filters every lookup of that kind shares (`Lister`), each item
read as a `Candidate`, its lineage from the AWS fields or relight's tags."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from relight.aws.clients import Aws
from relight.aws.failures import translated
from relight.model.environment import ArtifactLookup
from relight.model.shapes import tag_dict
from relight.model.times import parse_time

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
    # What a stack may take besides the id ({artifact: NAME.ATTRIBUTE}): an AMI's root device,
    # what a restore keeps of a DB snapshot (its port, storage type, option group).
    attributes: Mapping[str, str] = field(default_factory=dict)

    @property
    def data_time(self) -> datetime:
        """When its data was captured: the source's time (a copy's own time is when it was
        copied; AWS keeps the original's only for DB snapshots), else its own."""
        return self.source_time or self.created

    @property
    def relight_copy(self) -> bool:
        return self.tags.get(COPY_MARK) == "true"

    @property
    def keys(self) -> tuple[str, ...]:
        """Every KMS key that protects it."""
        return self.backing_keys or ((self.kms_key,) if self.kms_key else ())


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
        # GiB: a volume made from it is at least this big (preflight.ebs.data_volume_sizes)
        attributes={"size_gb": str(raw["VolumeSize"])} if raw.get("VolumeSize") else {},
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
    # AWS keeps the time of the CreateDBSnapshot on every copy ("Doesn't change when the
    # snapshot is copied"), while SnapshotCreateTime "Changes for the copy". relight's lineage
    # tag is written from that same time; without it (a copy made elsewhere), AWS's field.
    if lineage["source_time"] is None:
        lineage["source_time"] = parse_time(raw.get("OriginalSnapshotCreateTime"))
    source = raw.get(key)
    if source:
        lineage["source_id"] = rds_snapshot_id(source)
        arn_region = source.split(":")[3] if source.startswith("arn:") else None
        lineage["source_region"] = raw.get("SourceRegion") or arn_region
    return lineage


def rds_restore_keeps(raw: Mapping[str, Any]) -> dict[str, str]:
    """What a restore from a DB (cluster) snapshot keeps of it, as a stack may take it: its
    port, storage type, option group, engine, engine version and allocated storage
    ({artifact: NAME.port}...; the ladder prices a replica's storage by the last)."""
    found = {
        "port": raw.get("Port"),
        "engine": raw.get("Engine"),
        "engine_version": raw.get("EngineVersion"),
        "allocated_gb": raw.get("AllocatedStorage"),
    }
    kept = {key: str(value) for key, value in found.items() if value}
    if "DBSnapshotIdentifier" in raw:  # an instance snapshot ("": not reported, AWS's default)
        kept["storage_type"] = str(raw.get("StorageType") or "")
        kept["option_group"] = str(raw.get("OptionGroupName") or "")
    return kept


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
        attributes=rds_restore_keeps(raw),
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
        attributes=rds_restore_keeps(raw),
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


def describe_one(aws: Any, region: str, kind: str, ident: str) -> Candidate | None:
    """One AMI, EBS snapshot, or (cluster) DB snapshot by its id, read as a listing reads it
    (lineage included), or None when it is not there (deleted since, say)."""
    from botocore.exceptions import ClientError

    try:
        if kind == "ami":
            found = aws.client("ec2", region).describe_images(ImageIds=[ident])["Images"]
            return _image(found[0]) if found else None
        if kind == "ebs_snapshot":
            found = aws.client("ec2", region).describe_snapshots(SnapshotIds=[ident])
            return _snapshot(found["Snapshots"][0]) if found["Snapshots"] else None
        rds = aws.client("rds", region)
        if kind == "rds_snapshot":
            found = rds.describe_db_snapshots(DBSnapshotIdentifier=ident)["DBSnapshots"]
            return _db_snapshot(found[0]) if found else None
        if kind == "rds_cluster_snapshot":
            found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=ident)
            clusters = found["DBClusterSnapshots"]
            return _cluster_snapshot(clusters[0]) if clusters else None
    except ClientError as exc:
        if "NotFound" in str(exc.response.get("Error", {}).get("Code", "")):
            return None
        raise
    return None
