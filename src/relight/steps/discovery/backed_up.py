"""What a restore keeps of a DB (cluster) snapshot that AWS Backup made: a recovery point of an
RDS database is a DB snapshot (`arn:aws:rds:REGION:ACCOUNT:snapshot:awsbackup:job-...`) or a
DB cluster snapshot (`...:cluster-snapshot:awsbackup:job-...`), but ListRecoveryPointsByBackup-
Vault gives no port or engine version: they are read as the listing of RDS snapshots reads them
(one DescribeDBSnapshots or DescribeDBClusterSnapshots call per recovery point chosen)."""

from __future__ import annotations

from dataclasses import replace

from relight.aws.clients import Aws
from relight.aws.failures import translated
from relight.steps.discovery.choosing import Artifact
from relight.steps.discovery.listing import rds_restore_keeps


def backed_up_databases(
    aws: Aws, region: str, found: dict[str, Artifact]
) -> tuple[dict[str, Artifact], int]:
    """`found`, its RDS recovery points given what their restore keeps; the calls made."""
    chosen = {
        name: art
        for name, art in found.items()
        if art.kind == "backup_recovery_point" and ":rds:" in (art.arn or "")
    }
    if not chosen:
        return found, 0
    rds = aws.client("rds", region)
    done = dict(found)
    for name, art in chosen.items():
        cluster = ":cluster-snapshot:" in (art.arn or "")
        with translated(f"cannot describe the backed-up DB snapshot {art.id} in {region}", rds):
            if cluster:
                raw = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=art.id)[
                    "DBClusterSnapshots"
                ][0]
            else:
                raw = rds.describe_db_snapshots(DBSnapshotIdentifier=art.id)["DBSnapshots"][0]
        done[name] = replace(art, attributes={**art.attributes, **rds_restore_keeps(raw)})
    return done, len(chosen)
