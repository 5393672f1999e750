"""`relight capture` of a fleet's data volume, with or without a snapshot (size, type, IOPS,
throughput, encryption; the tagged snapshots of the fleet's own volumes), for an Auto Scaling
group and for fixed instances; and the compute options' checks at render. Production is built
with plain boto3 (moto); each case is captured, written, validated, rendered, and linted with
no finding at all. The group's settings, schedules and hooks: test_capture_fleet.py.

moto keeps a launch template's mappings as given and makes no volume for them: the fleet's
volumes are attached, and their snapshots taken, by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws

from relight.capture import Capture
from relight.capture.volumes import _data_volume
from relight.errors import RelightError
from relight.model.blueprint import load_blueprints
from relight.model.config import load_environment
from relight.steps.render import build_plan
from test_capture import REGION, _production
from test_capture_more import _capture, _renders

DEMO = Path(__file__).resolve().parent.parent / "stacks" / "demo.yaml"


def _batch_fleet(prod: dict[str, Any], data: dict[str, Any], **group: Any) -> str:
    """A second fleet, `shop-batch` (Role=batch), whose launch template's data volume is
    `data` (no SnapshotId unless given); its subnets."""
    ec2 = boto3.client("ec2", REGION)
    ec2.create_launch_template(
        LaunchTemplateName="shop-batch",
        LaunchTemplateData={
            "ImageId": prod["ami"],
            "InstanceType": "t3.medium",
            "SecurityGroupIds": [prod["web"]],
            "BlockDeviceMappings": [{"DeviceName": "/dev/sdg", "Ebs": data}],
        },
    )
    private = boto3.client("autoscaling", REGION).describe_auto_scaling_groups(
        AutoScalingGroupNames=["shop-web"]
    )["AutoScalingGroups"][0]["VPCZoneIdentifier"]
    autoscaling = boto3.client("autoscaling", REGION)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="shop-batch",
        LaunchTemplate={"LaunchTemplateName": "shop-batch", "Version": "$Latest"},
        MinSize=1,
        MaxSize=3,
        DesiredCapacity=1,
        VPCZoneIdentifier=private,
        Tags=[{"Key": "Role", "Value": "batch", "PropagateAtLaunch": True}],
        **group,
    )
    return str(private)


def _captured(tmp_path: Path) -> tuple[Capture, dict[str, Any], Any]:
    result = _capture()
    doc, plan = _renders(result, tmp_path)
    return result, doc, plan


def _template(plan: Any, key: str) -> dict[str, Any]:
    return dict(json.loads(plan.stacks[key].body))


def _data_mapping(template: dict[str, Any]) -> dict[str, Any]:
    data = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    return dict(data["BlockDeviceMappings"][1])


GP3 = {"VolumeSize": 50, "VolumeType": "gp3", "Iops": 4000, "Throughput": 250, "Encrypted": True}


def test_a_data_volume_without_snapshot_or_snapshots_is_created_empty_at_the_size_read(
    tmp_path: Path,
) -> None:
    with mock_aws():
        prod = _production()
        _batch_fleet(prod, GP3)
        ec2 = boto3.client("ec2", REGION)
        before = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
        result, doc, plan = _captured(tmp_path)
        after = ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
    params = doc["stacks"]["batch"]["params"]
    # today's code wrote data_volume: false here, with no note: the rebuilt fleet had no disk
    assert params.get("data_volume", True) is True
    assert (params["data_device"], params["data_volume_size"]) == ("/dev/sdg", 50)
    assert (params["data_volume_type"], params["data_volume_iops"]) == ("gp3", 4000)
    assert (params["data_volume_throughput"], params["data_volume_encrypted"]) == (250, True)
    assert "DataSnapshotId" not in params and "batch_data" not in doc.get("artifacts", {})
    empty = [n for n in result.notes if n.resource == "shop-batch" and "EMPTY" in n.text]
    assert len(empty) == 1 and empty[0].property == "BlockDeviceMappings /dev/sdg"
    assert "AWS Backup" in empty[0].text and "Data Lifecycle Manager" in empty[0].text
    assert f"# CAPTURE: {empty[0].line()}" in result.text

    template = _template(plan, "batch")
    ebs = _data_mapping(template)["Ebs"]
    assert (ebs["VolumeSize"], ebs["VolumeType"], ebs["Iops"], ebs["Throughput"]) == (
        50,
        "gp3",
        4000,
        250,
    )
    assert ebs["SnapshotId"]["Fn::If"][0] == "HasDataSnapshot"
    assert "DataSnapshotId" not in plan.stacks["batch"].parameters  # so: an empty volume
    assert template["Parameters"]["DataSnapshotId"]["Default"] == ""
    # an empty volume gets a file system; one restored from a snapshot is never formatted
    user_data = json.dumps(template["Resources"]["LaunchTemplate"])
    assert "mkfs -t xfs" in user_data and "blkid" in user_data
    # the web fleet (data from a snapshot) keeps today's shape: no size, no mkfs
    web = _template(plan, "web")
    assert "VolumeSize" not in _data_mapping(web)["Ebs"]
    assert "mkfs" not in json.dumps(web["Resources"]["LaunchTemplate"])
    assert after == before, "capture is read-only: it took no snapshot"


def test_a_data_volume_without_snapshot_is_restored_from_its_volumes_tagged_snapshots(
    tmp_path: Path,
) -> None:
    with mock_aws():
        prod = _production()
        _batch_fleet(prod, {**GP3, "VolumeSize": 40, "KmsKeyId": "alias/batch-data"})
        ec2 = boto3.client("ec2", REGION)
        member = boto3.client("autoscaling", REGION).describe_auto_scaling_groups(
            AutoScalingGroupNames=["shop-batch"]
        )["AutoScalingGroups"][0]["Instances"][0]
        az = member["AvailabilityZone"]
        volume = ec2.create_volume(AvailabilityZone=az, Size=60, VolumeType="gp3")["VolumeId"]
        ec2.attach_volume(VolumeId=volume, InstanceId=member["InstanceId"], Device="/dev/sdg")
        ec2.create_snapshot(VolumeId=volume)  # an older one, untagged
        for day in ("2026-12-01", "2026-12-02"):  # a tag of each snapshot's own: not looked up
            tags = [
                {"Key": "Role", "Value": "batch-data"},
                {"Key": "Backup", "Value": "daily"},
                {"Key": "Taken", "Value": day},
            ]
            ec2.create_snapshot(
                VolumeId=volume, TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}]
            )
        result, doc, plan = _captured(tmp_path)
    params = doc["stacks"]["batch"]["params"]
    assert params["DataSnapshotId"] == {"artifact": "batch_data"}
    assert doc["artifacts"]["batch_data"] == {
        "kind": "ebs_snapshot",
        "tags": {"Role": "batch-data", "Backup": "daily"},
    }
    # grown to the size read, never below the snapshot's (60 GiB: EC2 refuses less, E1)
    assert params["data_volume_size"] == 60
    assert not any("EMPTY" in n.text for n in result.notes)
    key = [n for n in result.notes if n.property == "BlockDeviceMappings /dev/sdg KmsKeyId"]
    assert len(key) == 1 and "alias/batch-data" in key[0].text
    assert "recovery region's key" in key[0].text
    ebs = _data_mapping(_template(plan, "batch"))["Ebs"]
    assert ebs["VolumeSize"] == 60
    assert plan.stacks["batch"].parameters["DataSnapshotId"].artifact == "batch_data"  # type: ignore[union-attr]


def test_untagged_snapshots_of_the_volume_are_named_and_looked_up_by_a_tag_to_set(
    tmp_path: Path,
) -> None:
    with mock_aws():
        prod = _production()
        _batch_fleet(prod, GP3)
        ec2 = boto3.client("ec2", REGION)
        member = boto3.client("autoscaling", REGION).describe_auto_scaling_groups(
            AutoScalingGroupNames=["shop-batch"]
        )["AutoScalingGroups"][0]["Instances"][0]
        volume = ec2.create_volume(AvailabilityZone=member["AvailabilityZone"], Size=50)
        ec2.attach_volume(
            VolumeId=volume["VolumeId"], InstanceId=member["InstanceId"], Device="/dev/sdg"
        )
        snap = ec2.create_snapshot(VolumeId=volume["VolumeId"])["SnapshotId"]
        result, doc, _ = _captured(tmp_path)
    assert doc["artifacts"]["batch_data"] == {
        "kind": "ebs_snapshot",
        "tags": {"Role": "batch-data"},
    }
    named = [n for n in result.notes if "carry no tags" in n.text]
    assert len(named) == 1 and "Role=batch-data" in named[0].text
    assert named[0].property == "BlockDeviceMappings /dev/sdg"
    assert snap not in result.text  # never an id: the next snapshot would be drift


def test_an_unencrypted_data_volume_asks_for_no_encryption_value() -> None:
    """data_volume_encrypted: false leaves Encrypted and KmsKeyId out rather than asking for
    an unencrypted volume (the snapshot's encryption, and the account's encryption by default,
    hold); the default asks for encryption, as before."""
    compute = load_blueprints(None)["compute"]
    plain = _data_mapping(compute.render({}).to_dict())["Ebs"]
    assert plain["Encrypted"] is True and "Fn::If" in plain["KmsKeyId"]
    off = _data_mapping(compute.render({"data_volume_encrypted": False}).to_dict())["Ebs"]
    assert off["Encrypted"] == off["KmsKeyId"] == {"Ref": "AWS::NoValue"}


def test_an_instance_store_mapping_is_named_never_dropped() -> None:
    """moto's launch fails on a launch template with an instance store mapping (KeyError 'Ebs'),
    so the mappings are given as DescribeLaunchTemplateVersions documents them."""
    params: dict[str, Any] = {}
    notes: list[Any] = []
    mappings = [
        {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}},
        {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
        {"DeviceName": "/dev/sdc", "NoDevice": ""},
    ]
    _data_volume(
        None,  # type: ignore[arg-type]  # no AWS call: there is no EBS data volume
        params,
        notes,
        key="batch",
        where="shop-batch",
        mappings=mappings,
        roots={"/dev/xvda"},
        instances=[],
    )
    assert params == {"data_volume": False}
    assert [(n.property, n.text) for n in notes] == [
        ("BlockDeviceMappings /dev/sdb", "ephemeral0: not an EBS volume, not reproduced"),
        ("BlockDeviceMappings /dev/sdc", "NoDevice: not an EBS volume, not reproduced"),
    ]


def test_fixed_instances_data_volume_is_read_from_its_volume_and_its_tagged_snapshots(
    tmp_path: Path,
) -> None:
    """mode: instances: the attached volume's size, type, IOPS and throughput, and the
    newest tagged snapshot of it (today's code wrote data_volume: false for a volume made
    empty, with no note)."""
    with mock_aws():
        prod = _production()
        ec2 = boto3.client("ec2", REGION)
        subnet = ec2.describe_subnets(
            Filters=[{"Name": "cidr-block", "Values": ["10.50.10.0/24"]}]
        )["Subnets"][0]
        instance = ec2.run_instances(
            ImageId=prod["ami"],
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.small",
            SubnetId=subnet["SubnetId"],
            SecurityGroupIds=[prod["web"]],
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": "ledger"}]}
            ],
        )["Instances"][0]["InstanceId"]
        volume = ec2.create_volume(
            AvailabilityZone=subnet["AvailabilityZone"],
            Size=200,
            VolumeType="io2",
            Iops=5000,
            Encrypted=True,
        )["VolumeId"]
        ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdh")
        _, empty_doc, _ = _captured(tmp_path)
        ec2.create_snapshot(
            VolumeId=volume,
            TagSpecifications=[
                {"ResourceType": "snapshot", "Tags": [{"Key": "Role", "Value": "ledger-data"}]}
            ],
        )
        result, doc, plan = _captured(tmp_path)
    empty = empty_doc["stacks"]["ledger"]["params"]
    assert (empty["mode"], empty["data_device"], empty["data_volume_size"]) == (
        "instances",
        "/dev/sdh",
        200,
    )
    assert (empty["data_volume_type"], empty["data_volume_iops"]) == ("io2", 5000)
    assert "DataSnapshotId" not in empty
    params = doc["stacks"]["ledger"]["params"]
    assert params["DataSnapshotId"] == {"artifact": "ledger_data"}
    assert doc["artifacts"]["ledger_data"] == {
        "kind": "ebs_snapshot",
        "tags": {"Role": "ledger-data"},
    }
    instance_props = _template(plan, "ledger")["Resources"]["Instance1"]["Properties"]
    ebs = instance_props["BlockDeviceMappings"][1]["Ebs"]
    assert (ebs["VolumeSize"], ebs["VolumeType"], ebs["Iops"]) == (200, "io2", 5000)
    assert "Throughput" not in ebs
    assert not any(n.resource == instance and "EMPTY" in n.text for n in result.notes)


@pytest.mark.parametrize(
    ("options", "where", "says"),
    [
        (
            {"data_volume_type": "io1", "data_volume_size": 100},
            "data_volume_iops",
            "needs its IOPS",
        ),
        ({"data_volume_type": "gp2", "data_volume_iops": 3000}, "data_volume_iops", "no IOPS"),
        ({"data_volume_type": "io2", "data_volume_iops": 50}, "data_volume_iops", "100-256000"),
        ({"data_volume_throughput": 2500}, "data_volume_throughput", "125-2000"),
        (
            {"data_volume_type": "st1", "data_volume_throughput": 200},
            "data_volume_throughput",
            "gp3 only",
        ),
        ({"data_volume_type": "sc1", "data_volume_size": 100}, "data_volume_size", "125-16384"),
        (
            {"scheduled_actions": [{"name": "x", "recurrence": "0 8 * *", "min_size": 1}]},
            "scheduled_actions.0.recurrence",
            "five fields",
        ),
        (
            {"scheduled_actions": [{"name": "x", "recurrence": "0 8 * * *"}]},
            "scheduled_actions.0",
            "at least one",
        ),
        ({"max_instance_lifetime": 3600}, "max_instance_lifetime", "at least 86400"),
        (
            {"mode": "instances", "count": 2, "default_cooldown": 60},
            "",
            "default_cooldown: only an Auto Scaling group (mode: asg) has this",
        ),
    ],
)
def test_what_aws_refuses_is_refused_at_render_naming_the_file_and_key(
    tmp_path: Path, options: dict[str, Any], where: str, says: str
) -> None:
    doc = yaml.safe_load(DEMO.read_text())
    doc["stacks"]["web"]["params"].update(options)
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(RelightError) as refused:
        build_plan(load_environment(str(path)), "us-west-2")
    message = str(refused.value)
    key = f"stacks.web.params.{where}" if where else "stacks.web.params: "  # the options
    assert key in message and says in message
    assert str(path) in message or "demo.yaml" in message


def test_the_demo_renders_the_same_compute_template_as_before_the_options() -> None:
    """The new options' defaults are the blueprint's old behaviour: the demo's file, which has
    none of them, renders as before (no size, no mkfs, no scheduled action, no group setting,
    ELB while registered); tests/golden/compute.json pins the sample's whole template."""
    doc = yaml.safe_load(DEMO.read_text())
    plain = _template(build_plan(load_environment(str(DEMO)), "us-west-2"), "web")
    ebs = _data_mapping(plain)["Ebs"]
    assert sorted(ebs) == sorted(
        ["SnapshotId", "VolumeType", "Encrypted", "KmsKeyId", "DeleteOnTermination"]
    )
    assert ebs["SnapshotId"] == {"Ref": "DataSnapshotId"} and ebs["VolumeType"] == "gp3"
    group = plain["Resources"]["AutoScalingGroup"]["Properties"]
    assert group["HealthCheckType"] == {"Fn::If": ["HasTargetGroup", "ELB", "EC2"]}
    assert not {"Cooldown", "TerminationPolicies", "MaxInstanceLifetime"} & set(group)
    assert not [r for r in plain["Resources"].values() if r["Type"].endswith("ScheduledAction")]
    assert "mkfs" not in json.dumps(plain)
    assert doc["stacks"]["web"]["params"].get("data_volume_size") is None


def test_preflight_refuses_a_data_volume_smaller_than_the_snapshot_it_restores(  # type: ignore[no-untyped-def]
    write_env,
) -> None:
    """EC2 refuses a launch whose volume is smaller than its snapshot (E1): with
    data_volume_size, preflight compares it with the snapshot discovery chose, and refuses
    before any stack is created (moto launches it anyway)."""
    from dataclasses import replace

    from conftest import MINIMAL
    from relight.aws.clients import Aws, AwsTarget
    from relight.errors import PreflightError
    from relight.steps.discovery.listing import _snapshot
    from relight.steps.preflight import run_preflight
    from test_preflight import DNS, _discovery, _ready_world, _stacks

    text = MINIMAL.replace(
        "mode: instances\n",
        "mode: instances\n      KmsKeyId: alias/shop\n      data_volume_size: 40\n",
    )
    plan = build_plan(load_environment(str(write_env(text + DNS)), "us-west-2"), "us-west-2")
    with mock_aws():
        _ready_world()
        ec2 = boto3.client("ec2", "us-west-2")
        volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=60)["VolumeId"]
        raw = ec2.create_snapshot(VolumeId=volume)
        found = _discovery()
        listed = _snapshot({**raw, "Tags": []})  # as discovery lists it: its size reported
        assert listed.attributes == {"size_gb": "60"}
        found.artifacts["web_data"] = replace(
            found.artifacts["web_data"], id=raw["SnapshotId"], attributes=listed.attributes
        )
        with pytest.raises(PreflightError) as caught:
            run_preflight(plan, Aws(AwsTarget()), found, _stacks(), accept_stale=False)
        created = boto3.client("cloudformation", "us-west-2").list_stacks()["StackSummaries"]
        grown = replace(found.artifacts["web_data"], attributes={"size_gb": "40"})
        found.artifacts["web_data"] = grown
        run_preflight(plan, Aws(AwsTarget()), found, _stacks(), accept_stale=False)  # passes
    assert caught.value.problems == [
        f"stacks.web.params.data_volume_size: 40 GiB is below the 60 GiB of {raw['SnapshotId']} "
        "(web_data in us-west-2, its DataSnapshotId), and EC2 refuses a volume smaller than "
        "its snapshot: set data_volume_size: 60 or more"
    ]
    assert created == []
