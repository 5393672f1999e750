"""Replication under moto: copies with lineage, idempotence, KMS, pruning, cross-account."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import ANY
from moto import mock_aws

from conftest import MINIMAL
from fakes import StubbedAws
from relight.aws.clients import Aws, AwsTarget
from relight.errors import InputError
from relight.model.config import LoadedEnvironment, load_environment
from relight.steps.discovery import COPY_MARK, LINEAGE_ID, LINEAGE_REGION, LINEAGE_VOLUME, Candidate
from relight.steps.replicate import Replicator, replicate
from relight.steps.replicate.copies import copy_tags, key_policy_gaps

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
    """The copies' results (the Auto Scaling grant on each target's key has its own test)."""
    replicator = Replicator(loaded, aws, aws, source_account=ACCOUNT, target_account=ACCOUNT)
    return _copies(replicate(replicator, "us-east-1", targets, **kw))


def _copies(results: list[Any]) -> list[Any]:
    return [r for r in results if r.kind != "autoscaling_grant"]


def _settling(loaded: LoadedEnvironment, target: Any, sleeps: list[float], **kw: Any) -> Replicator:
    """A replicator copying into a stubbed `target` in the same account, recording its sleeps."""
    return Replicator(
        loaded,
        StubbedAws(),  # type: ignore[arg-type]
        target,
        source_account=ACCOUNT,
        target_account=ACCOUNT,
        sleep=sleeps.append,
        **kw,
    )


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


def test_prune_keeps_a_copy_a_stack_or_an_auto_scaling_group_still_uses(
    aws: Aws, write_env
) -> None:  # type: ignore[no-untyped-def]
    # Issue 19: a database kept across reruns and a fleet launching from its template still
    # need the copies they were made from; deleting them would fail the next update or launch.
    loaded = _loaded(write_env)
    copies = []
    for _ in range(3):
        _sources()
        copies.append({r.artifact: r.copy_id for r in _run(aws, loaded, ["us-west-2"])})
        time.sleep(1.05)
    oldest_data, middle_ami = copies[0]["web_data"], copies[1]["web_ami"]
    cfn = boto3.client("cloudformation", "us-west-2")
    cfn.create_stack(
        StackName="shop-web",
        TemplateBody=json.dumps(
            {
                "Parameters": {"DataSnapshotId": {"Type": "String"}},
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            }
        ),
        Parameters=[{"ParameterKey": "DataSnapshotId", "ParameterValue": oldest_data}],
        Tags=[{"Key": "relight:env", "Value": "shop"}],
    )
    ec2 = boto3.client("ec2", "us-west-2")
    template = ec2.create_launch_template(
        LaunchTemplateName="shop-web-fleet",
        LaunchTemplateData={"ImageId": middle_ami, "InstanceType": "t3.micro"},
    )["LaunchTemplate"]
    boto3.client("autoscaling", "us-west-2").create_auto_scaling_group(
        AutoScalingGroupName="shop-web-fleet",
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"], "Version": "$Latest"},
        MinSize=0,
        MaxSize=1,
        AvailabilityZones=["us-west-2a"],
    )
    results = _run(aws, loaded, ["us-west-2"], prune=1)
    by_id = {r.copy_id: r for r in results if r.action in ("pruned", "in-use")}
    assert by_id[oldest_data].action == "in-use"
    assert by_id[oldest_data].reason == "kept: still used by stack shop-web (DataSnapshotId)"
    assert by_id[middle_ami].action == "in-use"
    assert by_id[middle_ami].reason.startswith(
        "kept: still used by Auto Scaling group shop-web-fleet (launch template shop-web-fleet"
    )
    assert {by_id[copies[0]["web_ami"]].action, by_id[copies[1]["web_data"]].action} == {
        "pruned"
    }, "what nothing uses still goes"
    left = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert oldest_data in left
    images = {i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    assert images == {middle_ami, copies[2]["web_ami"]}


def test_prune_reads_launch_configurations_mixed_instance_overrides_and_passes_deleted_templates(
    aws: Aws, write_env
) -> None:  # type: ignore[no-untyped-def]
    """What else a group may launch from (a launch configuration, a MixedInstancesPolicy's
    override template) keeps its copies; a group whose template was deleted launches nothing
    and does not stop the prune."""
    loaded = _loaded(write_env)
    copies = []
    for _ in range(3):
        _sources()
        copies.append({r.artifact: r.copy_id for r in _run(aws, loaded, ["us-west-2"])})
        time.sleep(1.05)
    ec2 = boto3.client("ec2", "us-west-2")
    autoscaling = boto3.client("autoscaling", "us-west-2")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="old-fleet", ImageId=copies[0]["web_ami"], InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="old-fleet", LaunchConfigurationName="old-fleet", MinSize=0,
        MaxSize=1, AvailabilityZones=["us-west-2a"],
    )  # fmt: skip
    base = ec2.create_launch_template(
        LaunchTemplateName="mixed-base", LaunchTemplateData={"InstanceType": "t3.micro"}
    )["LaunchTemplate"]
    other = ec2.create_launch_template(
        LaunchTemplateName="mixed-arm",
        LaunchTemplateData={
            "ImageId": copies[1]["web_ami"],
            "BlockDeviceMappings": [
                {"DeviceName": "/dev/sdf", "Ebs": {"SnapshotId": copies[0]["web_data"]}}
            ],
        },
    )["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="mixed",
        MixedInstancesPolicy={
            "LaunchTemplate": {
                "LaunchTemplateSpecification": {"LaunchTemplateId": base["LaunchTemplateId"]},
                "Overrides": [
                    {"InstanceType": "t4g.micro", "LaunchTemplateSpecification": {
                        "LaunchTemplateId": other["LaunchTemplateId"], "Version": "$Latest"}},
                ],
            }
        },
        MinSize=0, MaxSize=1, AvailabilityZones=["us-west-2a"],
    )  # fmt: skip
    gone = ec2.create_launch_template(
        LaunchTemplateName="gone", LaunchTemplateData={"ImageId": copies[1]["web_ami"]}
    )["LaunchTemplate"]
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="orphan",
        LaunchTemplate={"LaunchTemplateId": gone["LaunchTemplateId"]},
        MinSize=0, MaxSize=1, AvailabilityZones=["us-west-2a"],
    )  # fmt: skip
    ec2.delete_launch_template(LaunchTemplateId=gone["LaunchTemplateId"])

    results = _run(aws, loaded, ["us-west-2"], prune=1)
    by_id = {r.copy_id: r for r in results if r.action in ("pruned", "in-use")}
    assert by_id[copies[0]["web_ami"]].reason == (
        "kept: still used by Auto Scaling group old-fleet (launch configuration old-fleet)"
    )
    assert by_id[copies[1]["web_ami"]].reason.startswith(
        "kept: still used by Auto Scaling group mixed (launch template mixed-arm"
    )
    assert by_id[copies[0]["web_data"]].action == "in-use"
    assert by_id[copies[1]["web_data"]].action == "pruned", "the orphan did not stop the prune"


def test_no_prune_while_a_relight_stack_there_is_mid_operation() -> None:
    from relight.steps.replicate.in_use import Busy, copies_in_use

    class Stacks:
        def get_paginator(self, name: str) -> Any:
            assert name == "describe_stacks"
            page = {"Stacks": [{"StackName": "shop-web", "StackStatus": "UPDATE_IN_PROGRESS",
                                "Tags": [{"Key": "relight:env", "Value": "shop"}]}]}  # fmt: skip
            return SimpleNamespace(paginate=lambda: [page])

    aws = SimpleNamespace(client=lambda service, region: Stacks())
    with pytest.raises(Busy, match="stack shop-web is UPDATE_IN_PROGRESS"):
        copies_in_use(aws, "us-west-2")


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
    # The copies' key lets the recovery account's Auto Scaling role in (its own account).
    kms = recovery.stub("kms", "us-west-2")
    key_arn = "arn:aws:kms:us-west-2:210987654321:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    role = (
        "arn:aws:iam::210987654321:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )
    metadata = {"KeyId": key_arn.rsplit("/", 1)[1], "Arn": key_arn, "KeyManager": "CUSTOMER"}
    kms.add_response("describe_key", {"KeyMetadata": metadata}, {"KeyId": "alias/dr"})
    kms.add_response(
        "get_key_policy",
        {"Policy": '{"Version": "2012-10-17", "Statement": []}'},
        {"KeyId": key_arn, "PolicyName": "default"},
    )
    kms.add_response("list_grants", {"Grants": []}, {"KeyId": key_arn, "GranteePrincipal": role})
    kms.add_response(
        "create_grant",
        {"GrantId": "g-1", "GrantToken": "t"},
        {"KeyId": key_arn, "GranteePrincipal": role, "Operations": ANY, "Name": ANY},
    )
    results = replicate(replicator, "us-east-1", ["us-west-2"], wait=False, workers=1)
    assert sorted((r.artifact, r.action, r.copy_id) for r in results) == [
        ("(kms key)", "grant-created", ""),
        ("web_ami", "started", "ami-0c0ffee"),
        ("web_data", "started", "snap-0c0ffee"),
    ]
    kms.assert_no_pending_responses()
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
    results = _copies(replicate(replicator, "us-east-1", ["us-west-2"]))
    assert sorted(waited) == sorted(f"copy-of-{s}" for s in (src["image"], src["snapshot"]))
    assert {r.action for r in results} == {"copied"}
    later = _copies(replicate(replicator, "us-east-1", ["us-west-2"], wait=False))
    assert {r.action for r in later} == {"in-progress"}


def test_automated_and_shared_rds_snapshots_get_valid_copy_ids() -> None:
    from relight.steps.replicate.copies import rds_copy_id

    assert rds_copy_id("rds:orders-2026-11-22-06-00", "us-west-2") == (
        "rds-orders-2026-11-22-06-00-us-west-2"
    )
    shared = "arn:aws:rds:us-east-1:111122223333:snapshot:orders-final"
    assert rds_copy_id(shared, "eu-west-1") == "orders-final-eu-west-1"


# Real AWS: eventual consistency, partitions, option groups, what cannot be shared ----------

WHEN = datetime(2030, 1, 1, tzinfo=UTC)
RECOVERY = "210987654321"
NETWORK_ONLY = "stacks: {net: {blueprint: network, params: {AvailabilityZones: {zones: names}}}}\n"


def _env_with(write_env, artifacts: str, extra: str = "") -> LoadedEnvironment:  # type: ignore[no-untyped-def]
    header = MINIMAL.split("artifacts:\n")[0]  # name, regions, objectives, zones
    text = header + extra + "artifacts:\n" + artifacts + NETWORK_ONLY
    return load_environment(str(write_env(text)), "us-west-2")


def _not_found(stub: Any, operation: str, code: str, message: str, times: int = 2) -> None:
    for _ in range(times):
        stub.add_client_error(
            operation, service_error_code=code, service_message=message, http_status_code=400
        )


def _ami(**fields: Any) -> Candidate:
    return Candidate(
        kind="ami",
        id="ami-0source",
        created=WHEN,
        tags={"Role": "web"},
        owner=ACCOUNT,
        name="shop-web-1",
        **fields,
    )


def _db(**fields: Any) -> Candidate:
    return Candidate(
        kind="rds_snapshot",
        id="orders-1",
        created=WHEN,
        tags={},
        owner=ACCOUNT,
        db_instance="orders",
        **fields,
    )


def test_a_new_ami_copy_aws_does_not_see_yet_is_still_tagged_and_waited_for(write_env) -> None:  # type: ignore[no-untyped-def]
    # Right after CopyImage, EC2 can answer InvalidAMIID.NotFound (eventual consistency).
    target = StubbedAws()
    stub = target.stub("ec2", "us-west-2")
    stub.add_response("copy_image", {"ImageId": "ami-0c0ffee"})
    missing = "The image id '[ami-0c0ffee]' does not exist"
    _not_found(stub, "create_tags", "InvalidAMIID.NotFound", missing)
    source = _ami()
    stub.add_response(
        "create_tags",
        {},
        {"Resources": ["ami-0c0ffee"], "Tags": copy_tags(source, "us-east-1")},
    )
    _not_found(stub, "describe_images", "InvalidAMIID.NotFound", missing)
    stub.add_response(
        "describe_images",
        {"Images": [{"ImageId": "ami-0c0ffee", "State": "available"}]},
        {"ImageIds": ["ami-0c0ffee"]},
    )
    sleeps: list[float] = []
    replicator = _settling(_loaded(write_env), target, sleeps)
    result = replicator.copy_one("web_ami", source, "us-east-1", "us-west-2", wait=True)
    assert (result.action, result.copy_id, result.reason) == ("copied", "ami-0c0ffee", "")
    stub.assert_no_pending_responses()  # tagged: relight:copy=true, so --prune sees it
    assert sleeps and sum(sleeps) <= 60


def test_a_new_db_snapshot_copy_rds_does_not_see_yet_is_waited_for(write_env) -> None:  # type: ignore[no-untyped-def]
    target = StubbedAws()
    stub = target.stub("rds", "us-west-2")
    stub.add_response("copy_db_snapshot", {"DBSnapshot": {"DBSnapshotIdentifier": "x"}})
    copy = "orders-1-us-west-2"
    _not_found(stub, "describe_db_snapshots", "DBSnapshotNotFound", f"DBSnapshot not found: {copy}")
    stub.add_response(
        "describe_db_snapshots",
        {"DBSnapshots": [{"DBSnapshotIdentifier": copy, "Status": "available"}]},
        {"DBSnapshotIdentifier": copy},
    )
    sleeps: list[float] = []
    replicator = _settling(
        _env_with(write_env, "  db: {kind: rds_snapshot, db_instance: orders}\n"), target, sleeps
    )
    result = replicator.copy_one("db", _db(), "us-east-1", "us-west-2", wait=True)
    assert (result.action, result.copy_id) == ("copied", copy)
    stub.assert_no_pending_responses()


def test_a_copy_still_not_found_after_the_settling_time_fails(write_env) -> None:  # type: ignore[no-untyped-def]
    target = StubbedAws()
    stub = target.stub("ec2", "us-west-2")
    stub.add_response("copy_snapshot", {"SnapshotId": "snap-0c0ffee"})
    missing = "The snapshot 'snap-0c0ffee' does not exist."
    _not_found(stub, "describe_snapshots", "InvalidSnapshot.NotFound", missing, times=3)
    sleeps: list[float] = []
    replicator = _settling(_loaded(write_env), target, sleeps, settle=3.0)
    source = Candidate(kind="ebs_snapshot", id="snap-0source", created=WHEN, tags={}, owner=ACCOUNT)
    result = replicator.copy_one("web_data", source, "us-east-1", "us-west-2", wait=True)
    assert result.action == "failed"
    assert missing in result.reason
    assert sum(sleeps) == 3.0, "asked again for the settling time, then believed"
    stub.assert_no_pending_responses()


def _copy_db_snapshot_in_china(target: StubbedAws, source_arn: str, listed: bool = True) -> Any:
    stub = target.stub("rds", "cn-northwest-1")
    if listed:
        stub.add_response("describe_db_snapshots", {"DBSnapshots": []})  # no copies there yet
    stub.add_response(
        "copy_db_snapshot",
        {"DBSnapshot": {"DBSnapshotIdentifier": "orders-1-cn-northwest-1"}},
        {
            "SourceDBSnapshotIdentifier": source_arn,
            "TargetDBSnapshotIdentifier": "orders-1-cn-northwest-1",
            "SourceRegion": "cn-north-1",
            "CopyTags": False,
            "Tags": ANY,
        },  # and no OptionGroupName: the source's option group is a default one
    )
    return stub


def test_a_source_in_china_is_named_by_its_aws_cn_arn_from_the_listing(write_env) -> None:  # type: ignore[no-untyped-def]
    arn = f"arn:aws-cn:rds:cn-north-1:{ACCOUNT}:snapshot:orders-1"
    source = StubbedAws()
    source.stub("rds", "cn-north-1").add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                {
                    "DBSnapshotIdentifier": "orders-1",
                    "DBInstanceIdentifier": "orders",
                    "DBSnapshotArn": arn,
                    "SnapshotCreateTime": WHEN,
                    "Status": "available",
                    "SnapshotType": "manual",
                    "OptionGroupName": "default:postgres-16",
                }
            ]
        },
    )
    target = StubbedAws()
    stub = _copy_db_snapshot_in_china(target, arn)
    replicator = Replicator(
        _env_with(write_env, "  db: {kind: rds_snapshot, db_instance: orders}\n"),
        source,  # type: ignore[arg-type]
        target,  # type: ignore[arg-type]
        source_account=ACCOUNT,
        target_account=ACCOUNT,
    )
    results = replicate(replicator, "cn-north-1", ["cn-northwest-1"], wait=False)
    assert [(r.action, r.copy_id) for r in results] == [("started", "orders-1-cn-northwest-1")]
    stub.assert_no_pending_responses()


def test_a_source_arn_not_listed_is_built_in_its_regions_partition(write_env) -> None:  # type: ignore[no-untyped-def]
    target = StubbedAws()
    built = f"arn:aws-cn:rds:cn-north-1:{ACCOUNT}:snapshot:orders-1"
    stub = _copy_db_snapshot_in_china(target, built, listed=False)
    replicator = Replicator(
        _env_with(write_env, "  db: {kind: rds_snapshot, db_instance: orders}\n"),
        StubbedAws(),  # type: ignore[arg-type]
        target,  # type: ignore[arg-type]
        source_account=ACCOUNT,
        target_account=ACCOUNT,
    )
    result = replicator.copy_one("db", _db(), "cn-north-1", "cn-northwest-1", wait=False)
    assert (result.action, result.reason) == ("started", "")
    stub.assert_no_pending_responses()


def _listed_db_snapshot(aws: StubbedAws, **fields: Any) -> None:
    aws.stub("rds", "us-east-1").add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                {
                    "DBSnapshotIdentifier": "orders-1",
                    "DBInstanceIdentifier": "orders",
                    "DBSnapshotArn": f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:orders-1",
                    "SnapshotCreateTime": WHEN,
                    "Status": "available",
                    "SnapshotType": "manual",
                    **fields,
                }
            ]
        },
    )


OPTION_GROUPS = (
    "  db:\n    kind: rds_snapshot\n    db_instance: orders\n"
    "    option_groups: {us-west-2: orders-tde-west}\n"
)


def test_a_snapshot_with_its_own_option_group_is_copied_with_the_targets_group(write_env) -> None:  # type: ignore[no-untyped-def]
    source = StubbedAws()
    _listed_db_snapshot(source, OptionGroupName="orders-tde")
    target = StubbedAws()
    stub = target.stub("rds", "us-west-2")
    stub.add_response("describe_db_snapshots", {"DBSnapshots": []})
    stub.add_response(
        "copy_db_snapshot",
        {"DBSnapshot": {"DBSnapshotIdentifier": "orders-1-us-west-2"}},
        {
            "SourceDBSnapshotIdentifier": f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:orders-1",
            "TargetDBSnapshotIdentifier": "orders-1-us-west-2",
            "SourceRegion": "us-east-1",
            "CopyTags": False,
            "Tags": ANY,
            "OptionGroupName": "orders-tde-west",
        },
    )
    replicator = Replicator(
        _env_with(write_env, OPTION_GROUPS),
        source,  # type: ignore[arg-type]
        target,  # type: ignore[arg-type]
        source_account=ACCOUNT,
        target_account=ACCOUNT,
    )
    results = replicate(replicator, "us-east-1", ["us-west-2"], wait=False)
    assert [r.action for r in results] == ["started"]
    stub.assert_no_pending_responses()


def test_a_snapshot_with_its_own_option_group_needs_one_named_for_every_target(write_env) -> None:  # type: ignore[no-untyped-def]
    source = StubbedAws()
    _listed_db_snapshot(source, OptionGroupName="orders-tde")
    target = StubbedAws()  # answers nothing: any call to it fails the test
    replicator = Replicator(
        _env_with(write_env, OPTION_GROUPS),
        source,  # type: ignore[arg-type]
        target,  # type: ignore[arg-type]
        source_account=ACCOUNT,
        target_account=ACCOUNT,
    )
    with pytest.raises(InputError) as caught:
        replicate(replicator, "us-east-1", ["us-west-2", "eu-west-1"])
    message = str(caught.value)
    assert "artifacts.db.option_groups.eu-west-1: orders-1 in us-east-1 uses option group " in (
        message
    )
    assert "create one in eu-west-1" in message
    assert "option_groups.us-west-2" not in message
    assert target.clients == {}, "nothing was copied"


# Cross-account: what AWS will not share --------------------------------------------------

AWS_MANAGED = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0aaaaaaa-1111-2222-3333-444444444444"
THEIRS_ONLY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0bbbbbbb-1111-2222-3333-444444444444"
SHARED_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0ccccccc-1111-2222-3333-444444444444"
ROOT_ONLY = (
    '{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User '
    f'Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},'
    '"Action":"kms:*","Resource":"*"}]}'
)
WITH_RECOVERY = (
    '{"Version":"2012-10-17","Statement":['
    f'{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},'
    '"Action":"kms:*","Resource":"*"},'
    f'{{"Sid":"Allow use of the key","Effect":"Allow","Principal":{{"AWS":['
    f'"arn:aws:iam::{RECOVERY}:root"]}},"Action":["kms:Encrypt","kms:Decrypt",'
    '"kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"},'
    f'{{"Effect":"Allow","Principal":{{"AWS":"{RECOVERY}"}},"Action":["kms:CreateGrant",'
    '"kms:ListGrants","kms:RevokeGrant"],"Resource":"*",'
    '"Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}'
)


def _key(kms: Any, arn: str, manager: str, policy: str | None = None) -> None:
    kms.add_response(
        "describe_key",
        {
            "KeyMetadata": {
                "AWSAccountId": ACCOUNT,
                "KeyId": arn.rsplit("/", 1)[1],
                "Arn": arn,
                "KeyManager": manager,
                "KeyState": "Enabled",
                "Enabled": True,
            }
        },
        {"KeyId": arn},
    )
    if policy is not None:
        kms.add_response(
            "get_key_policy",
            {"Policy": policy, "PolicyName": "default"},
            {"KeyId": arn, "PolicyName": "default"},
        )


def test_what_aws_cannot_share_is_refused_before_anything_is_shared_or_copied(
    write_env,  # type: ignore[no-untyped-def]
) -> None:
    source = StubbedAws()
    ec2 = source.stub("ec2", "us-east-1")
    ec2.add_response(
        "describe_images",
        {
            "Images": [
                {
                    "ImageId": "ami-0source",
                    "Name": "shop-web-1",
                    "CreationDate": "2030-01-01T00:00:00.000Z",
                    "OwnerId": ACCOUNT,
                    "State": "available",
                    "Tags": [{"Key": "Role", "Value": "web"}],
                    "BlockDeviceMappings": [
                        {
                            "DeviceName": "/dev/xvda",
                            "Ebs": {
                                "SnapshotId": "snap-0root",
                                "Encrypted": True,
                                "KmsKeyId": AWS_MANAGED,  # alias/aws/ebs
                            },
                        }
                    ],
                }
            ]
        },
    )
    ec2.add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-0data",
                    "VolumeId": "vol-0data",
                    "StartTime": WHEN,
                    "OwnerId": ACCOUNT,
                    "State": "completed",
                    "Encrypted": True,
                    "KmsKeyId": THEIRS_ONLY,
                    "Tags": [{"Key": "Role", "Value": "web-data"}],
                }
            ]
        },
    )
    automated = "rds:orders-2030-01-01-00-00"
    _listed_db_snapshot(
        source,
        DBSnapshotIdentifier=automated,
        DBSnapshotArn=f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:{automated}",
        SnapshotType="automated",
        Encrypted=True,
        KmsKeyId=SHARED_KEY,
    )
    kms = source.stub("kms", "us-east-1")
    _key(kms, SHARED_KEY, "CUSTOMER", WITH_RECOVERY)  # db: its key is fine
    _key(kms, AWS_MANAGED, "AWS")  # web_ami
    _key(kms, THEIRS_ONLY, "CUSTOMER", ROOT_ONLY)  # web_data
    target = StubbedAws()
    artifacts = (
        "  web_ami: {kind: ami, tags: {Role: web}}\n"
        "  web_data: {kind: ebs_snapshot, tags: {Role: web-data}}\n"
        "  db: {kind: rds_snapshot, db_instance: orders}\n"
    )
    replicator = Replicator(
        _env_with(write_env, artifacts, extra=KEYS),
        source,  # type: ignore[arg-type]
        target,  # type: ignore[arg-type]
        source_account=ACCOUNT,
        target_account=RECOVERY,
    )
    with pytest.raises(InputError) as caught:
        replicate(replicator, "us-east-1", ["us-west-2"])
    lines = str(caught.value).splitlines()
    problems = [line.strip() for line in lines if line.strip().startswith("artifacts.")]
    assert len(problems) == 3, problems
    db, ami, data = problems
    assert db.startswith(f"artifacts.db: RDS snapshot {automated} in us-east-1 is an automated")
    assert "copy it to a manual snapshot" in db
    assert ami.startswith("artifacts.web_ami: AMI ami-0source in us-east-1: encrypted with the ")
    assert f"AWS managed key {AWS_MANAGED}" in ami
    assert data.startswith("artifacts.web_data: EBS snapshot snap-0data in us-east-1:")
    assert f"customer managed key {THEIRS_ONLY}" in data
    assert "kms:Decrypt, kms:CreateGrant, kms:DescribeKey: add a statement" in data
    assert f"arn:aws:iam::{RECOVERY}:root" in data
    assert "nothing was shared, copied or deleted" in str(caught.value)
    for stub in source.stubs.values():
        stub.assert_no_pending_responses()  # and no Modify*Attribute call was answered
    assert target.clients == {}, "nothing was copied"


@pytest.mark.parametrize(
    ("policy", "gaps"),
    [
        (WITH_RECOVERY, []),
        (ROOT_ONLY, ["kms:Decrypt", "kms:CreateGrant", "kms:DescribeKey"]),
        (
            '{"Statement":{"Effect":"Allow","Principal":{"AWS":"' + RECOVERY + '"},'
            '"Action":"kms:*","Resource":"*"}}',
            [],
        ),
        (
            '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws-cn:iam::'
            + RECOVERY
            + ':root"},"Action":["kms:Describe*","kms:Decrypt"],"Resource":"*"}]}',
            ["kms:CreateGrant"],
        ),
        (
            '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:*",'
            '"Resource":"*","Condition":{"StringEquals":{"kms:CallerAccount":"'
            + RECOVERY
            + '"}}}]}',
            [],
        ),
        (
            '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'
            + RECOVERY
            + ':role/ops"},"Action":"kms:*","Resource":"*"}]}',
            [],  # a principal of the recovery account may be named instead of its root
        ),
        (
            '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::'
            + "999988887777"
            + ':role/ops"},"Action":"kms:*","Resource":"*"}]}',
            ["kms:Decrypt", "kms:CreateGrant", "kms:DescribeKey"],
        ),
        (
            '{"Statement":[{"Effect":"Deny","Principal":{"AWS":"' + RECOVERY + '"},'
            '"Action":"kms:*","Resource":"*"}]}',
            ["kms:Decrypt", "kms:CreateGrant", "kms:DescribeKey"],
        ),
    ],
)
def test_a_key_policy_lets_the_recovery_account_use_the_key_when_it_allows_it(
    policy: str, gaps: list[str]
) -> None:
    assert key_policy_gaps(policy, RECOVERY) == gaps


def test_replication_lets_auto_scaling_use_the_copies_key_once(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    _sources()
    loaded = _loaded(write_env)
    replicator = Replicator(loaded, aws, aws, source_account=ACCOUNT, target_account=ACCOUNT)
    first = replicate(replicator, "us-east-1", ["us-west-2"])
    assert [r.action for r in first if r.kind == "autoscaling_grant"] == ["grant-created"]
    again = replicate(replicator, "us-east-1", ["us-west-2"])
    assert [r.action for r in again if r.kind == "autoscaling_grant"] == ["grant-present"]
    kms = boto3.client("kms", "us-west-2")
    key = kms.describe_key(KeyId="alias/dr")["KeyMetadata"]["Arn"]
    grants = kms.list_grants(KeyId=key)["Grants"]
    assert len(grants) == 1
    assert grants[0]["GranteePrincipal"].endswith(
        ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
    )
    assert "Decrypt" in grants[0]["Operations"]


def test_a_replication_that_lost_its_lock_stops_before_its_next_region(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    from relight.aws.lock import LockLost

    _sources()
    replicator = Replicator(
        _loaded(write_env), aws, aws, source_account=ACCOUNT, target_account=ACCOUNT
    )
    asked: list[int] = []

    def still_held() -> None:  # lost after the first region was done
        asked.append(1)
        if len(asked) > 1:
            raise LockLost("this run's replication lock into eu-west-1 was taken over")

    with pytest.raises(LockLost):
        replicate(replicator, "us-east-1", ["us-west-2", "eu-west-1"], still_held=still_held)
    copied = boto3.client("ec2", "eu-west-1").describe_images(Owners=["self"])["Images"]
    assert copied == [], "nothing copied into the region after the lock was lost"
    assert boto3.client("ec2", "us-west-2").describe_images(Owners=["self"])["Images"]


class _FullRds:
    """RDS in the target region whose manual DB snapshot quota is `most` (Q7): Describe-
    AccountAttributes says so, with Used counted as AWS counts it (the stand-in's answer)."""

    def __init__(self, inner: Any, most: int) -> None:
        self.inner, self.most = inner, most

    def describe_account_attributes(self) -> dict[str, Any]:
        answer = self.inner.describe_account_attributes()
        for quota in answer["AccountQuotas"]:
            if quota["AccountQuotaName"] == "ManualSnapshots":
                quota["Max"] = self.most
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _QuotaAws:
    def __init__(self, inner: Aws, most: int) -> None:
        self.inner, self.most = inner, most

    def client(self, service: str, region: str, **kw: Any) -> Any:
        found = self.inner.client(service, region, **kw)
        return _FullRds(found, self.most) if (service, region) == ("rds", "us-west-2") else found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_db_snapshot_copies_beyond_the_snapshot_quota_are_not_started_and_prune_is_counted(  # type: ignore[no-untyped-def]
    aws: Aws, write_env
) -> None:
    rds = boto3.client("rds", "us-east-1")
    rds.create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres",
        MasterUsername="u", MasterUserPassword="password1", AllocatedStorage=20,
    )  # fmt: skip
    loaded = _env_with(write_env, "  db: {kind: rds_snapshot, db_instance: orders}\n")
    target = _QuotaAws(aws, most=2)
    replicator = Replicator(loaded, aws, target, source_account=ACCOUNT, target_account=ACCOUNT)  # type: ignore[arg-type]
    for n in (1, 2):  # two copies fit
        rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier=f"orders-{n}")
        copied = _copies(replicate(replicator, "us-east-1", ["us-west-2"]))
        assert [r.action for r in copied] == ["copied"]
        time.sleep(1.1)  # the next snapshot is newer by the second
    west = boto3.client("rds", "us-west-2")
    rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-3")
    held = _copies(replicate(replicator, "us-east-1", ["us-west-2"]))
    assert [(r.action, r.source_id) for r in held] == [("failed", "orders-3")]
    assert held[0].reason == (
        "quota Manual DB instance snapshots (rds L-272F1212): 2 in use + 1 copies > 2 allowed in "
        "us-west-2; not copied. --prune 1 deletes relight's older copies (1 here), then rerun; "
        "or ask for more: aws service-quotas request-service-quota-increase --service-code rds "
        "--quota-code L-272F1212 --desired-value 3 --region us-west-2"
    )
    assert len(west.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]) == 2
    # With --prune 1 the copy is still held (prune runs after the copies), the oldest copy goes,
    # and the rerun finds room.
    pruned = _copies(replicate(replicator, "us-east-1", ["us-west-2"], prune=1))
    assert sorted(r.action for r in pruned) == ["failed", "pruned"]
    again = _copies(replicate(replicator, "us-east-1", ["us-west-2"]))
    assert [(r.action, r.source_id) for r in again] == [("copied", "orders-3")]


def test_aurora_cluster_snapshot_copies_are_held_by_the_cluster_snapshot_quota() -> None:
    """Aurora copies are manual DB cluster snapshots: DescribeAccountAttributes counts them
    under ManualClusterSnapshots (Q10), apart from ManualSnapshots (Q7). A full cluster quota
    holds the cluster copy and lets the instance copy go (its own quota has room)."""
    from botocore.stub import Stubber

    from relight.steps.replicate.room import hold_over_quota, manual_snapshot_room

    rds = boto3.client("rds", "us-west-2", aws_access_key_id="a", aws_secret_access_key="b")
    stub = Stubber(rds)
    stub.add_response(
        "describe_account_attributes",
        {
            "AccountQuotas": [
                {"AccountQuotaName": "DBInstances", "Used": 3, "Max": 40},
                {"AccountQuotaName": "ManualSnapshots", "Used": 10, "Max": 100},
                {"AccountQuotaName": "ManualClusterSnapshots", "Used": 100, "Max": 100},
            ]
        },
        {},
    )
    with stub:
        room = manual_snapshot_room(rds)
    assert room == {"rds_snapshot": (10, 100), "rds_cluster_snapshot": (100, 100)}
    now = datetime.now(UTC)
    cluster = Candidate("rds_cluster_snapshot", "orders-aurora-1", now, {}, ACCOUNT)
    instance = Candidate("rds_snapshot", "orders-1", now, {}, ACCOUNT)
    start = [("aurora", cluster, None), ("db", instance, None)]
    started, held = hold_over_quota(start, room, {}, "us-west-2", None)
    assert started == [("db", instance, None)]
    assert [(r.action, r.source_id) for r in held] == [("failed", "orders-aurora-1")]
    assert held[0].reason == (
        "quota Manual DB cluster snapshots (rds L-9B510759): 100 in use + 1 copies > 100 "
        "allowed in us-west-2; not copied. --prune 1 deletes relight's older copies (0 here), "
        "then rerun; or ask for more: aws service-quotas request-service-quota-increase "
        "--service-code rds --quota-code L-9B510759 --desired-value 101 --region us-west-2"
    )


def test_prune_keeps_the_copy_of_the_newest_data_not_the_newest_copy(aws: Aws, write_env) -> None:  # type: ignore[no-untyped-def]
    """Issue 20, item 9: discovery restores the copy of the newest data; prune keeps that
    one, though a copy of older data was made after it (a rerun of an old source)."""
    from datetime import timedelta

    ec2 = boto3.client("ec2", "us-west-2")
    volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=1)["VolumeId"]
    made = [ec2.create_snapshot(VolumeId=volume)["SnapshotId"] for _ in range(2)]
    now = datetime.now(UTC)

    def copy(snapshot: str, copied_hours_ago: int, data_hours_ago: int) -> Candidate:
        return Candidate(
            kind="ebs_snapshot",
            id=snapshot,
            created=now - timedelta(hours=copied_hours_ago),
            tags={COPY_MARK: "true"},
            owner=ACCOUNT,
            source_time=now - timedelta(hours=data_hours_ago),
        )

    newest_data = copy(made[0], copied_hours_ago=2, data_hours_ago=3)
    newest_copy = copy(made[1], copied_hours_ago=1, data_hours_ago=30)
    replicator = Replicator(
        _loaded(write_env), aws, aws, source_account=ACCOUNT, target_account=ACCOUNT
    )
    results = replicator.prune("web_data", [newest_copy, newest_data], 1, "us-west-2")
    assert [(r.copy_id, r.action) for r in results] == [(made[1], "pruned")]
    left = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    assert made[0] in left and made[1] not in left
