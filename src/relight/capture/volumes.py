"""Capture: a fleet's data volume, as its launch template (or a fixed instance's volume) has
it: device, size, type, IOPS, throughput, encryption, and where its data comes back from.

The data comes back from a snapshot lookup by tags (`artifacts.<key>_data`, never an id): the
snapshot the mapping names, else the newest tagged snapshot of the fleet's own volumes at that
device. With none, the rebuilt volume is created empty at the size read, and a note says so
and how to get snapshots taken."""

from __future__ import annotations

from typing import Any

from relight.capture.common import Note, _call, _Found, _pages, _tags

TYPES_WITH_IOPS = ("gp3", "io1", "io2")
SNAPSHOTS_HOWTO = (
    "have them taken and tagged (an AWS Backup plan, a Data Lifecycle Manager policy, or "
    "`aws ec2 create-snapshot --tag-specifications`) and put the tags in the lookup"
)


def _data_volume(
    found: _Found,
    params: dict[str, Any],
    notes: list[Note],
    *,
    key: str,
    where: str,
    mappings: list[Any],
    roots: set[str],
    instances: list[str],
) -> None:
    """Write the data volume's options and its snapshot lookup into `params`."""
    data = [m for m in mappings or [] if m.get("Ebs") and m.get("DeviceName") not in roots]
    for other in mappings or []:
        if not other.get("Ebs") and other.get("DeviceName") not in roots:
            what = other.get("VirtualName") or ("NoDevice" if "NoDevice" in other else "no Ebs")
            notes.append(
                Note(
                    where,
                    f"BlockDeviceMappings {other.get('DeviceName')}",
                    f"{what}: not an EBS volume, not reproduced",
                )
            )
    if not data:
        params["data_volume"] = False
        return
    for extra in data[1:]:
        notes.append(
            Note(
                where,
                f"BlockDeviceMappings {extra['DeviceName']}",
                "a second data volume: not reproduced",
            )
        )
    device, ebs = data[0]["DeviceName"], data[0]["Ebs"]
    params["data_device"] = device
    kind = ebs.get("VolumeType")
    if kind:
        params["data_volume_type"] = kind
    if ebs.get("Iops") and kind in TYPES_WITH_IOPS:
        params["data_volume_iops"] = ebs["Iops"]
    if ebs.get("Throughput") and kind == "gp3":
        params["data_volume_throughput"] = ebs["Throughput"]
    size = ebs.get("VolumeSize")
    snapshot = _lookup(found, params, notes, key, where, ebs, device, instances)
    if snapshot is not None and ebs.get("Encrypted") is None:  # a restore keeps the snapshot's
        ebs = {**ebs, "Encrypted": snapshot.get("Encrypted"), "KmsKeyId": snapshot.get("KmsKeyId")}
    _encryption(ebs, where, device, params, notes)
    if snapshot is None:  # created empty: at the size read
        if size:
            params["data_volume_size"] = size
            notes.append(
                Note(
                    where,
                    f"BlockDeviceMappings {device}",
                    f"no snapshot of this data volume: the rebuilt volume starts EMPTY "
                    f"({size} GiB); {SNAPSHOTS_HOWTO}",
                )
            )
        else:
            params["data_volume"] = False
            notes.append(
                Note(where, f"BlockDeviceMappings {device}", "no size and no snapshot: not read")
            )
    elif size:  # restored, grown to the size read (never below the snapshot's: EC2 refuses)
        params["data_volume_size"] = max(size, int(snapshot.get("VolumeSize") or 0))


def _encryption(
    ebs: dict[str, Any], where: str, device: str, params: dict[str, Any], notes: list[Note]
) -> None:
    if ebs.get("Encrypted"):
        params["data_volume_encrypted"] = True
    else:
        notes.append(
            Note(
                where,
                f"BlockDeviceMappings {device} Encrypted",
                "not encrypted in production; the rebuilt volume is encrypted (relight's "
                "secure default: changed on purpose)",
            )
        )
    if ebs.get("KmsKeyId"):
        notes.append(
            Note(
                where,
                f"BlockDeviceMappings {device} KmsKeyId",
                f"{ebs['KmsKeyId']}: a KMS key is regional; give the recovery region's key as "
                "the stack's KmsKeyId (and in kms_keys for replicate)",
            )
        )
    if not ebs.get("DeleteOnTermination"):
        return
    if params.get("mode") == "asg":
        # Reproduced: an Auto Scaling group replaces and scales in instances by itself, and
        # nothing reattaches a kept volume, so kept volumes would pile up unattached (E28).
        params["delete_data_on_teardown"] = True
        return
    notes.append(
        Note(
            where,
            f"BlockDeviceMappings {device} DeleteOnTermination",
            "true in production; the rebuilt data volumes of fixed instances are kept when "
            "instances go away (delete_data_on_teardown: false, relight's default: changed "
            "on purpose)",
        )
    )


def _lookup(
    found: _Found,
    params: dict[str, Any],
    notes: list[Note],
    key: str,
    where: str,
    ebs: dict[str, Any],
    device: str,
    instances: list[str],
) -> dict[str, Any] | None:
    """The snapshot lookup, written as the `<key>_data` artifact; the snapshot it finds now
    (its size and encryption), or None when there is none to restore from."""
    name = f"{key}_data"
    snap_id = ebs.get("SnapshotId")
    if snap_id:
        snaps = _call(f"snapshot {snap_id}", found.ec2.describe_snapshots, SnapshotIds=[snap_id])
        snap = (snaps["Snapshots"] or [{}])[0]
        tags = _tags(snap.get("Tags"))
        if not tags:
            notes.append(
                Note(
                    snap_id,
                    "Tags",
                    "the data snapshot has no tags: tag the snapshots "
                    "relight should restore and put the tags in the lookup",
                )
            )
            tags = {"Role": f"{key}-data"}
        found.artifacts[name] = {"kind": "ebs_snapshot", "tags": tags}
        params["DataSnapshotId"] = {"artifact": name}
        return dict(snap)
    snaps = _volume_snapshots(found.ec2, device, instances)
    if not snaps:
        return None
    newest = snaps[0]
    tagged = [s for s in snaps if _tags(s.get("Tags"))]
    if tagged:
        found.artifacts[name] = {"kind": "ebs_snapshot", "tags": _common_tags(tagged)}
    else:
        placeholder = {"Role": f"{key}-data"}
        found.artifacts[name] = {"kind": "ebs_snapshot", "tags": placeholder}
        notes.append(
            Note(
                where,
                f"BlockDeviceMappings {device}",
                # no count or id in the text: they change with each snapshot, and drift
                # compares notes
                "the snapshots of its volumes carry no tags: tag the ones to restore "
                f"Role={placeholder['Role']} (the lookup written), or put their own tags in "
                "the lookup",
            )
        )
    params["DataSnapshotId"] = {"artifact": name}
    return dict(tagged[0] if tagged else newest)


def _common_tags(snapshots: list[Any]) -> dict[str, str]:
    """The tags every tagged snapshot carries (the newest first): a tag that differs from one
    snapshot to the next (a date, a run id) would make the lookup find only the snapshot it
    was read from, never a newer one. With nothing in common, the newest's tags."""
    tags = [_tags(s.get("Tags")) for s in snapshots]
    common = {k: v for k, v in tags[0].items() if all(t.get(k) == v for t in tags[1:])}
    return common or tags[0]


def _volume_snapshots(ec2: Any, device: str, instances: list[str]) -> list[Any]:
    """The snapshots of the fleet's volumes at `device`, newest first."""
    if not instances:
        return []
    volumes = _pages(
        ec2,
        "describe_volumes",
        "Volumes",
        Filters=[
            {"Name": "attachment.instance-id", "Values": sorted(instances)},
            {"Name": "attachment.device", "Values": [device]},
        ],
    )
    ids = sorted({v["VolumeId"] for v in volumes})
    if not ids:
        return []
    snaps = _pages(
        ec2,
        "describe_snapshots",
        "Snapshots",
        OwnerIds=["self"],
        Filters=[{"Name": "volume-id", "Values": ids}],
    )
    return sorted(snaps, key=lambda s: (s["StartTime"], s["SnapshotId"]), reverse=True)
