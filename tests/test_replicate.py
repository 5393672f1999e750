"""Replication under moto: copies with lineage, idempotence, KMS, pruning, cross-account."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL
from fakes import StubbedAws
from relight.aws import Aws, AwsTarget
from relight.config import LoadedEnvironment, load_environment
from relight.discovery import COPY_MARK, LINEAGE_ID, LINEAGE_REGION, LINEAGE_VOLUME
from relight.errors import InputError
from relight.replicate import Replicator, replicate

ACCOUNT = "123456789012"
KEYS = "kms_keys: {us-west-2: alias/dr, eu-west-1: alias/dr}\n"


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        for region in ("us-west-2", "eu-west-1"):
            kms = boto3.client("kms", region)
            key = kms.create_key()["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName="alias/dr", TargetKeyId=key)
        yield Aws(AwsTarget())


def _loaded(write_env: Callable[..., Path], extra: str = KEYS) -> LoadedEnvironment:
    return load_environment(str(write_env(MINIMAL + extra)), "us-west-2")


def _sources(volume_size: int = 1) -> dict[str, str]:
    ec2 = boto3.client("ec2", "us-east-1")
    image = ec2.register_image(Name="shop-web-1", RootDeviceName="/dev/xvda")["ImageId"]
    ec2.create_tags(
        Resources=[image], Tags=[{"Key": "Role", "Value": "web"}, {"Key": "team", "Value": "a"}]
    )
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=volume_size)["VolumeId"]
    snapshot = ec2.create_snapshot(
        VolumeId=volume,
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "Role", "Value": "web-data"}]}
        ],
    )["SnapshotId"]
    return {"image": image, "volume": volume, "snapshot": snapshot}


def _run(aws: Aws, loaded: LoadedEnvironment, targets: list[str], **kw: Any) -> list[Any]:
    replicator = Replicator(loaded, aws, aws, source_account=ACCOUNT, target_account=ACCOUNT)
    return replicate(replicator, "us-east-1", targets, **kw)


def _tags(resource: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def test_copies_carry_the_source_tags_and_their_lineage(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    src = _sources()
    results = _run(aws, _loaded(write_env), ["us-west-2", "eu-west-1"])
    assert sorted((r.region, r.artifact, r.action) for r in results) == [
        ("eu-west-1", "web_ami", "copied"),
        ("eu-west-1", "web_data", "copied"),
        ("us-west-2", "web_ami", "copied"),
        ("us-west-2", "web_data", "copied"),
    ]
    west = {r.artifact: r.copy_id for r in results if r.region == "us-west-2"}
    ec2 = boto3.client("ec2", "us-west-2")
    image = ec2.describe_images(ImageIds=[west["web_ami"]])["Images"][0]
    tags = _tags(image)
    assert tags["Role"] == "web" and tags["team"] == "a", "the source's tags are carried"
    assert (tags[LINEAGE_ID], tags[LINEAGE_REGION], tags[COPY_MARK]) == (
        src["image"],
        "us-east-1",
        "true",
    )
    snapshot = ec2.describe_snapshots(SnapshotIds=[west["web_data"]])["Snapshots"][0]
    assert _tags(snapshot)[LINEAGE_VOLUME] == src["volume"]
    assert snapshot["Encrypted"] is True
    assert snapshot["KmsKeyId"] == "alias/dr", "re-encrypted with the target region's key"
    # The source is untouched.
    east = boto3.client("ec2", "us-east-1")
    assert east.describe_images(ImageIds=[src["image"]])["Images"][0]["State"] == "available"


def test_a_rerun_copies_nothing_twice(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    _sources()
    loaded = _loaded(write_env)
    _run(aws, loaded, ["us-west-2"])
    again = _run(aws, loaded, ["us-west-2"])
    assert {r.action for r in again} == {"up-to-date"}
    assert len(boto3.client("ec2", "us-west-2").describe_images(Owners=["self"])["Images"]) == 1


def test_a_newer_source_is_copied_on_the_next_run(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    _sources()
    loaded = _loaded(write_env)
    _run(aws, loaded, ["us-west-2"])
    time.sleep(1.05)
    newer = _sources()
    results = {r.artifact: r for r in _run(aws, loaded, ["us-west-2"])}
    assert results["web_ami"].action == "copied"
    assert results["web_ami"].source_id == newer["image"]


def test_encrypted_sources_need_a_key_in_the_target_region(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    _sources()
    ec2 = boto3.client("ec2", "us-east-1")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True)["VolumeId"]
    time.sleep(1.05)
    ec2.create_snapshot(
        VolumeId=volume,
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "Role", "Value": "web-data"}]}
        ],
    )
    with pytest.raises(InputError) as caught:
        _run(aws, _loaded(write_env, extra=""), ["us-west-2"])
    assert "kms_keys.us-west-2:" in str(caught.value)
    assert "is encrypted" in str(caught.value)
    assert boto3.client("ec2", "us-west-2").describe_images(Owners=["self"])["Images"] == []


def test_a_source_missing_in_the_source_region_is_refused(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        InputError, match=r"artifacts\.web_ami: no AMI tagged Role=web in us-east-1"
    ):
        _run(aws, _loaded(write_env), ["us-west-2"])


def test_prune_keeps_the_newest_and_touches_only_relight_copies(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    loaded = _loaded(write_env)
    ec2 = boto3.client("ec2", "us-west-2")
    # Someone's own snapshot with the same tags, not made by relight: never touched.
    volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=1)["VolumeId"]
    theirs = ec2.create_snapshot(
        VolumeId=volume,
        TagSpecifications=[
            {"ResourceType": "snapshot", "Tags": [{"Key": "Role", "Value": "web-data"}]}
        ],
    )["SnapshotId"]
    copies = []
    for _ in range(3):
        _sources()
        copies.append({r.artifact: r.copy_id for r in _run(aws, loaded, ["us-west-2"])})
        time.sleep(1.05)
    results = _run(aws, loaded, ["us-west-2"], prune=1)
    pruned = sorted(r.copy_id for r in results if r.action == "pruned")
    assert pruned == sorted(
        [copies[0]["web_ami"], copies[1]["web_ami"], copies[0]["web_data"], copies[1]["web_data"]]
    )
    left = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert theirs in left
    assert copies[2]["web_data"] in left
    images = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    assert images == {copies[2]["web_ami"]}
    east = boto3.client("ec2", "us-east-1")
    assert len(east.describe_images(Owners=["self"])["Images"]) == 3, "sources never pruned"


def test_no_wait_starts_at_most_twenty_copies_per_region(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    ec2 = boto3.client("ec2", "us-east-1")
    roles = [f"r{i}" for i in range(23)]
    for role in roles:
        volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1)["VolumeId"]
        ec2.create_snapshot(
            VolumeId=volume,
            TagSpecifications=[
                {"ResourceType": "snapshot", "Tags": [{"Key": "Role", "Value": role}]}
            ],
        )
    header = MINIMAL.split("artifacts:\n")[0]  # name, regions, objectives, zones
    artifacts = "".join(f"  {r}: {{kind: ebs_snapshot, tags: {{Role: {r}}}}}\n" for r in roles)
    stacks = "stacks: {net: {blueprint: network, params: {AvailabilityZones: {zones: names}}}}\n"
    text = header + "artifacts:\n" + artifacts + stacks
    loaded = load_environment(str(write_env(text)), "us-west-2")
    results = _run(aws, loaded, ["us-west-2"], wait=False)
    actions = [r.action for r in results]
    assert actions.count("started") == 20
    assert actions.count("deferred") == 3
    finished = _run(aws, loaded, ["us-west-2"], wait=False)
    assert sorted({r.action for r in finished}) == ["started", "up-to-date"]


def test_cross_account_sources_are_shared_then_copied_by_the_recovery_account(
    aws: Aws,
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    from botocore.stub import ANY

    src = _sources()
    recovery = StubbedAws()
    ec2 = recovery.client("ec2", "us-west-2")
    stub = recovery.stubs[("ec2", "us-west-2")]
    stub.add_response("describe_images", {"Images": []})  # no copies there yet
    stub.add_response("describe_snapshots", {"Snapshots": []})
    stub.add_response(
        "copy_image",
        {"ImageId": "ami-0c0ffee"},
        {
            "SourceImageId": src["image"],
            "SourceRegion": "us-east-1",
            "Name": "shop-web-1",
            "Encrypted": True,
            "KmsKeyId": "alias/dr",
            "CopyImageTags": True,
            "Description": ANY,
        },
    )
    stub.add_response("create_tags", {}, {"Resources": ["ami-0c0ffee"], "Tags": ANY})
    stub.add_response(
        "copy_snapshot",
        {"SnapshotId": "snap-0c0ffee"},
        {
            "SourceSnapshotId": src["snapshot"],
            "SourceRegion": "us-east-1",
            "Encrypted": True,
            "KmsKeyId": "alias/dr",
            "Description": ANY,
            "TagSpecifications": ANY,
        },
    )
    replicator = Replicator(
        _loaded(write_env),
        aws,
        recovery,
        source_account=ACCOUNT,
        target_account="210987654321",  # type: ignore[arg-type]
    )
    # One worker: the Stubber answers in order, so the copies must not race.
    results = replicate(replicator, "us-east-1", ["us-west-2"], wait=False, workers=1)
    assert sorted((r.artifact, r.action, r.copy_id) for r in results) == [
        ("web_ami", "started", "ami-0c0ffee"),
        ("web_data", "started", "snap-0c0ffee"),
    ]
    stub.assert_no_pending_responses()
    assert ec2 is recovery.client("ec2", "us-west-2")
    east = boto3.client("ec2", "us-east-1")
    permissions = east.describe_image_attribute(ImageId=src["image"], Attribute="launchPermission")
    assert {"UserId": "210987654321"} in permissions["LaunchPermissions"]
    shared = east.describe_snapshot_attribute(
        SnapshotId=src["snapshot"], Attribute="createVolumePermission"
    )["CreateVolumePermissions"]
    assert {"UserId": "210987654321"} in shared


def test_a_copy_an_earlier_run_left_in_progress_is_waited_for_not_started_again(
    aws: Aws,
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    from dataclasses import replace

    src = _sources()
    loaded = _loaded(write_env)
    replicator = Replicator(loaded, aws, aws, source_account=ACCOUNT, target_account=ACCOUNT)
    sources, _ = replicator.newest_sources("us-east-1")
    pending = {
        name: [replace(c, id=f"copy-of-{c.id}", source_id=c.id, ready=False)]
        for name, c in sources.items()
    }
    waited: list[str] = []
    replicator.existing_copies = lambda region: pending  # type: ignore[method-assign]
    replicator._start = lambda *a: pytest.fail("an in-flight copy was started again")  # type: ignore[method-assign]
    replicator._wait = lambda kind, region, copy_id: waited.append(copy_id)  # type: ignore[method-assign]
    results = replicate(replicator, "us-east-1", ["us-west-2"])
    assert sorted(waited) == sorted(f"copy-of-{s}" for s in (src["image"], src["snapshot"]))
    assert {r.action for r in results} == {"copied"}
    later = replicate(replicator, "us-east-1", ["us-west-2"], wait=False)
    assert {r.action for r in later} == {"in-progress"}


def test_automated_and_shared_rds_snapshots_get_valid_copy_ids() -> None:
    from relight.replicate import rds_copy_id

    assert rds_copy_id("rds:orders-2026-11-22-06-00", "us-west-2") == (
        "rds-orders-2026-11-22-06-00-us-west-2"
    )
    shared = "arn:aws:rds:us-east-1:111122223333:snapshot:orders-final"
    assert rds_copy_id(shared, "eu-west-1") == "orders-final-eu-west-1"
