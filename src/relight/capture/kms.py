"""Which artifacts capture looks up are encrypted, with which home key, and the `kms_keys`
placeholders that say so.

A KMS key is regional: a snapshot (EBS or RDS) or an AMI copied into another region is
encrypted there with a key of that region, which the copy request names (CopySnapshot,
CopyImage and CopyDBSnapshot `KmsKeyId`; docs/aws-behaviours.md K1). So replicate needs
`kms_keys.REGION` for each recovery region, and capture, which sees the encryption, writes a
placeholder per recovery region naming the artifacts and their home keys (starting
`REPLACE-ME`, which every run for that region refuses until it is a key: see
model/per_region.py), and a CAPTURE note saying replicate needs them.

Read-only: describe calls in the home region. A read refused is a note, not a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from relight.capture.common import CaptureError, Client, Note, _call
from relight.model.per_region import key_commands

PLACEHOLDER = "REPLACE-ME"
NOUNS = {
    "ami": "AMI",
    "ebs_snapshot": "EBS snapshots",
    "rds_snapshot": "DB snapshots",
    "rds_cluster_snapshot": "DB cluster snapshots",
}


@dataclass(frozen=True)
class Encrypted:
    artifact: str  # the lookup's name in the file's `artifacts:`
    kind: str
    # what it copies from, by a name that stays while production makes new AMIs and
    # snapshots ("" for those: their ids change daily and would read as drift)
    source: str
    key: str  # its home KMS key (ARN or id; "" when AWS did not say)

    def describe(self) -> str:
        of = f" of {self.source}" if self.source else ""
        return f"{self.artifact} ({NOUNS.get(self.kind, self.kind)}{of})"


def _filters(lookup: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Name": f"tag:{k}", "Values": [v]} for k, v in (lookup.get("tags") or {}).items()]


def _image(client: Client, lookup: dict[str, Any]) -> tuple[str, bool, str] | None:
    """Whether any AMI the lookup matches has an encrypted EBS volume (the newest is what
    replicate copies; any encrypted one means the next newest may be), and its key."""
    ec2 = client("ec2")
    filters = _filters(lookup)
    if lookup.get("name"):
        filters.append({"Name": "name", "Values": [lookup["name"]]})
    images = _call("AMIs", ec2.describe_images, Owners=["self"], Filters=filters)["Images"]
    if not images:
        return None
    ebs = [m["Ebs"] for i in images for m in i.get("BlockDeviceMappings", []) if m.get("Ebs")]
    encrypted = [e for e in ebs if e.get("Encrypted")]
    if not encrypted:
        return "", False, ""
    key = next((e["KmsKeyId"] for e in encrypted if e.get("KmsKeyId")), "")
    snapshot = encrypted[0].get("SnapshotId")
    if not key and snapshot:
        snaps = _call(f"snapshot {snapshot}", ec2.describe_snapshots, SnapshotIds=[snapshot])
        key = next((s.get("KmsKeyId", "") for s in snaps["Snapshots"]), "")
    return "", True, key


def _snapshot(client: Client, lookup: dict[str, Any]) -> tuple[str, bool, str] | None:
    """Whether any snapshot the lookup matches is encrypted, and its key."""
    filters = _filters(lookup)
    if lookup.get("source_volume"):
        filters.append({"Name": "volume-id", "Values": [lookup["source_volume"]]})
    ec2 = client("ec2")
    snaps = _call("snapshots", ec2.describe_snapshots, OwnerIds=["self"], Filters=filters)
    if not snaps["Snapshots"]:
        return None
    encrypted = [s for s in snaps["Snapshots"] if s.get("Encrypted")]
    key = next((s["KmsKeyId"] for s in encrypted if s.get("KmsKeyId")), "")
    return "", bool(encrypted), key


def _db_instance(client: Client, lookup: dict[str, Any]) -> tuple[str, bool, str] | None:
    name = lookup["db_instance"]
    rds = client("rds")
    found = _call(f"DB {name}", rds.describe_db_instances, DBInstanceIdentifier=name)
    db = next(iter(found["DBInstances"]), None)
    if db is None:
        return None
    return f"DB {name}", bool(db.get("StorageEncrypted")), db.get("KmsKeyId", "")


def _db_cluster(client: Client, lookup: dict[str, Any]) -> tuple[str, bool, str] | None:
    name = lookup["db_cluster"]
    rds = client("rds")
    found = _call(f"DB cluster {name}", rds.describe_db_clusters, DBClusterIdentifier=name)
    cluster = next(iter(found["DBClusters"]), None)
    if cluster is None:
        return None
    return f"cluster {name}", bool(cluster.get("StorageEncrypted")), cluster.get("KmsKeyId", "")


_READS: dict[str, Callable[[Client, dict[str, Any]], tuple[str, bool, str] | None]] = {
    "ami": _image,
    "ebs_snapshot": _snapshot,
    "rds_snapshot": _db_instance,
    "rds_cluster_snapshot": _db_cluster,
}


def encrypted_artifacts(
    client: Client, artifacts: dict[str, Any], notes: list[Note]
) -> list[Encrypted]:
    """The artifacts whose newest source in the home region is encrypted (a DB snapshot is
    encrypted when its DB's storage is); a refused read is a note."""
    found = []
    for name, lookup in artifacts.items():
        read = _READS.get(lookup.get("kind", ""))
        if read is None:
            continue
        try:
            got = read(client, lookup)
        except CaptureError as exc:
            notes.append(Note(name, "Encrypted", f"not read: {exc}", unread=True))
            continue
        if got is not None and got[1]:
            found.append(Encrypted(name, lookup["kind"], got[0], got[2]))
    return found


def kms_placeholders(
    encrypted: list[Encrypted], home: str, recovery_regions: list[str]
) -> tuple[list[str], Note | None]:
    """The file's `kms_keys:` lines (a placeholder per recovery region; with none given, a
    commented example) and the CAPTURE note saying replicate needs them."""
    if not encrypted:
        return [], None
    what = ", ".join(e.describe() for e in encrypted)
    keys = sorted({e.key for e in encrypted if e.key})
    home_keys = f"home key(s) {', '.join(keys)}" if keys else "home key not reported"
    note = Note(
        "kms_keys",
        "Encrypted",
        f"{what} are encrypted in {home} ({home_keys}); KMS keys are regional, so replicate "
        "copies them into each recovery region with the key kms_keys names there, and every "
        f"run for a region refuses while its kms_keys entry starts {PLACEHOLDER}",
    )

    def placeholder(region: str) -> str:
        return (
            f"{PLACEHOLDER}: a KMS key in {region} for {what} ({home_keys}); "
            f"{key_commands(region, keys, home)}"
        )

    if recovery_regions:
        body = {"kms_keys": {r: placeholder(r) for r in recovery_regions}}
        text = yaml.safe_dump(body, sort_keys=False, width=10_000)
        return text.rstrip("\n").splitlines(), note
    example = placeholder("REGION")
    return [
        "# kms_keys:  # one per recovery region (--recovery-region)",
        f"#   REGION: {example}",
    ], note
