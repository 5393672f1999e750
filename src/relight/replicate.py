"""Cross-region copies of AMIs, EBS snapshots and RDS snapshots, tagged with their lineage.

Every copy carries its source's tags (AWS drops them on copy) plus the
lineage tags discovery reads: `relight:source-id`, `relight:source-region`,
`relight:source-time`. Nothing here ever deletes a source.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from relight.aws import Aws
from relight.discovery import LINEAGE_ID, LINEAGE_REGION, LINEAGE_TIME


def copy_tags(
    source_tags: Mapping[str, str], source_id: str, source_region: str, source_time: datetime
) -> list[dict[str, str]]:
    """The source's own tags (not aws:*) plus lineage tags, as an AWS tag list."""
    tags = {k: v for k, v in source_tags.items() if not k.startswith("aws:")}
    tags.update(
        {
            LINEAGE_ID: source_id,
            LINEAGE_REGION: source_region,
            LINEAGE_TIME: source_time.isoformat(timespec="seconds"),
        }
    )
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def copy_image(
    aws: Aws,
    image_id: str,
    *,
    name: str,
    tags: Mapping[str, str],
    created: datetime,
    source_region: str,
    region: str,
) -> str:
    """Copy an AMI (with its snapshots) into `region`; tag the copy with its lineage."""
    ec2 = aws.client("ec2", region)
    copy_id = str(
        ec2.copy_image(
            SourceImageId=image_id,
            SourceRegion=source_region,
            Name=name,
            Encrypted=True,
            CopyImageTags=True,
            Description=f"Copied {image_id} from {source_region} by relight",
        )["ImageId"]
    )
    ec2.create_tags(Resources=[copy_id], Tags=copy_tags(tags, image_id, source_region, created))
    return copy_id


def copy_snapshot(
    aws: Aws,
    snapshot_id: str,
    *,
    tags: Mapping[str, str],
    created: datetime,
    source_region: str,
    region: str,
) -> str:
    """Copy an EBS snapshot into `region`, encrypted, tagged with its lineage."""
    ec2 = aws.client("ec2", region)
    return str(
        ec2.copy_snapshot(
            SourceSnapshotId=snapshot_id,
            SourceRegion=source_region,
            Encrypted=True,
            Description=f"Copied {snapshot_id} from {source_region} by relight",
            TagSpecifications=[
                {
                    "ResourceType": "snapshot",
                    "Tags": copy_tags(tags, snapshot_id, source_region, created),
                }
            ],
        )["SnapshotId"]
    )


def copy_db_snapshot(
    aws: Aws,
    snapshot_arn: str,
    *,
    target_id: str,
    tags: Mapping[str, str],
    created: datetime,
    source_region: str,
    region: str,
) -> str:
    """Copy an RDS snapshot into `region`, its tags carried and lineage added."""
    rds = aws.client("rds", region)
    source_id = snapshot_arn.rsplit(":", 1)[-1]
    copy = rds.copy_db_snapshot(
        SourceDBSnapshotIdentifier=snapshot_arn,
        TargetDBSnapshotIdentifier=target_id,
        SourceRegion=source_region,
        CopyTags=True,
        Tags=copy_tags(tags, source_id, source_region, created),
    )["DBSnapshot"]
    return str(copy["DBSnapshotIdentifier"])
