"""Discovery under moto: newest wins, ties, lineage, owners, misses with a helpful message, AZs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fakes import StubbedAws
from relight.aws.clients import Aws, AwsTarget
from relight.commands.discover import artifact_rows
from relight.model.environment import Environment, Zones
from relight.steps.discovery import (
    LINEAGE_ID,
    LINEAGE_REGION,
    LINEAGE_TIME,
    Candidate,
    choose_zones,
    discover,
    newest,
    stale,
)

ACCOUNT = "123456789012"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
RP = f"arn:aws:backup:us-west-2:{ACCOUNT}:recovery-point:"


def _env(**overrides: object) -> Environment:
    data: dict[str, object] = {
        "name": "shop",
        "home_region": "us-east-1",
        "recovery_regions": ["us-west-2", "eu-west-1"],
        "objectives": {"rpo": "4h", "rto": "1h"},
        "artifacts": {
            "web_ami": {"kind": "ami", "tags": {"Role": "web"}, "name": "shop-web-*"},
            "web_data": {"kind": "ebs_snapshot", "tags": {"Role": "web-data"}},
        },
        "stacks": {"network": {"blueprint": "network"}},
    }
    data.update(overrides)
    return Environment.model_validate(data)


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(AwsTarget())


def _image(region: str, name: str, tags: dict[str, str]) -> str:
    ec2 = boto3.client("ec2", region)
    image = ec2.register_image(
        Name=name,
        RootDeviceName="/dev/xvda",
        BlockDeviceMappings=[{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 8}}],
    )["ImageId"]
    ec2.create_tags(Resources=[image], Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return str(image)


def _snapshot(region: str, tags: dict[str, str]) -> str:
    ec2 = boto3.client("ec2", region)
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=1)["VolumeId"]
    return str(
        ec2.create_snapshot(
            VolumeId=volume,
            TagSpecifications=[
                {
                    "ResourceType": "snapshot",
                    "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
                }
            ],
        )["SnapshotId"]
    )


def _run(aws: Aws, env: Environment, region: str = "us-west-2", now: datetime | None = None):  # type: ignore[no-untyped-def]
    return discover(aws, env, region, account_id=ACCOUNT, now=lambda: now or datetime.now(UTC))


def test_the_newest_match_in_the_target_region_wins(aws: Aws) -> None:
    import time

    _image("us-west-2", "shop-web-1", {"Role": "web"})
    time.sleep(1.05)  # moto's creation times have one-second resolution
    newer = _image("us-west-2", "shop-web-2", {"Role": "web"})
    _image("us-west-2", "other-web-3", {"Role": "web"})  # name does not match
    _image("us-west-2", "shop-web-4", {"Role": "db"})  # tag does not match
    _image("us-east-1", "shop-web-5", {"Role": "web"})  # wrong region
    _snapshot("us-west-2", {"Role": "web-data"})
    found = _run(aws, _env())
    assert found.artifacts["web_ami"].id == newer
    assert found.artifacts["web_ami"].candidates == 2


def test_ties_go_to_the_highest_id() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    a = Candidate(kind="ami", id="ami-0aaa", created=when, tags={}, owner=ACCOUNT)
    b = Candidate(kind="ami", id="ami-0bbb", created=when, tags={}, owner=ACCOUNT)
    assert newest([a, b]).id == "ami-0bbb"
    assert newest([b, a]).id == "ami-0bbb"


def test_lineage_and_age_come_from_relight_tags(aws: Aws) -> None:
    source_time = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    lineage = {
        LINEAGE_ID: "ami-0source",
        LINEAGE_REGION: "us-east-1",
        LINEAGE_TIME: source_time.isoformat(),
    }
    _image("us-west-2", "shop-web-1", {"Role": "web", **lineage})
    _snapshot("us-west-2", {"Role": "web-data"})
    found = _run(aws, _env())
    art = found.artifacts["web_ami"]
    assert (art.source_id, art.source_region) == ("ami-0source", "us-east-1")
    # The age is the data's age (the source's), not the copy's.
    assert timedelta(hours=2, minutes=59) < art.age(found.at) < timedelta(hours=3, minutes=1)


def test_stale_artifacts_are_those_older_than_the_rpo(aws: Aws) -> None:
    old = (datetime.now(UTC) - timedelta(hours=5)).isoformat()
    _image("us-west-2", "shop-web-1", {"Role": "web", LINEAGE_TIME: old})
    _snapshot("us-west-2", {"Role": "web-data"})
    found = _run(aws, _env())
    assert [a.name for a in stale(found, 4 * 3600)] == ["web_ami"]
    assert stale(found, 6 * 3600) == []


def test_another_owner_is_not_matched_unless_named(aws: Aws) -> None:
    _image("us-west-2", "shop-web-1", {"Role": "web"})
    _snapshot("us-west-2", {"Role": "web-data"})
    artifacts = {
        "web_ami": {"kind": "ami", "tags": {"Role": "web"}, "owners": ["210987654321"]},
        "web_data": {"kind": "ebs_snapshot", "tags": {"Role": "web-data"}},
    }
    found = _run(aws, _env(artifacts=artifacts))
    assert "web_ami" not in found.artifacts
    assert "owned by 210987654321" in found.missing["web_ami"]


def test_a_region_without_copies_names_what_the_home_region_holds(aws: Aws) -> None:
    home = _image("us-east-1", "shop-web-1", {"Role": "web"})
    missing = _run(aws, _env(), region="eu-central-1").missing
    assert missing["web_ami"].startswith("no AMI tagged Role=web named shop-web-* in eu-central-1")
    assert f"newest match in us-east-1 is {home}" in missing["web_ami"]
    assert (
        "run relight replicate --env shop --from us-east-1 --to eu-central-1" in missing["web_ami"]
    )
    assert missing["web_data"] == (
        "no EBS snapshot tagged Role=web-data in eu-central-1; none in us-east-1 either"
    )


def test_zones_are_chosen_by_az_id(aws: Aws) -> None:
    zones, problems, _ = choose_zones(
        aws, "us-west-2", Zones(ids={"us-west-2": ["usw2-az3", "usw2-az1"]})
    )
    assert problems == []
    ec2 = boto3.client("ec2", "us-west-2")
    names = {
        z["ZoneId"]: z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]
    }
    assert [(z.id, z.name) for z in zones] == [
        ("usw2-az3", names["usw2-az3"]),
        ("usw2-az1", names["usw2-az1"]),
    ]


def test_unknown_az_id_lists_the_available_ones(aws: Aws) -> None:
    _, problems, _ = choose_zones(aws, "us-west-2", Zones(ids={"us-west-2": ["usw2-az9"]}))
    assert problems == [
        "zones.ids.us-west-2: usw2-az9 is not available in us-west-2; "
        "available AZ IDs: usw2-az1, usw2-az2, usw2-az3, usw2-az4"
    ]


def test_more_zones_than_the_region_has(aws: Aws) -> None:
    _, problems, _ = choose_zones(aws, "us-west-1", Zones(count=6))
    assert len(problems) == 1 and "6 zones wanted" in problems[0]


def test_rds_snapshots_match_by_database_and_read_copy_lineage(aws: Aws) -> None:
    rds = boto3.client("rds", "us-east-1")
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        MasterUsername="u",
        MasterUserPassword="p4ssw0rd-long",
        AllocatedStorage=20,
    )
    arn = rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-1")[
        "DBSnapshot"
    ]["DBSnapshotArn"]
    boto3.client("rds", "us-west-2").copy_db_snapshot(
        SourceDBSnapshotIdentifier=arn,
        TargetDBSnapshotIdentifier="orders-1-copy",
        SourceRegion="us-east-1",
        Tags=[
            {"Key": LINEAGE_ID, "Value": "orders-1"},
            {"Key": LINEAGE_REGION, "Value": "us-east-1"},
        ],
    )
    artifacts = {"db": {"kind": "rds_snapshot", "db_instance": "orders"}}
    found = _run(aws, _env(artifacts=artifacts))
    art = found.artifacts["db"]
    assert (art.id, art.source_id, art.source_region) == ("orders-1-copy", "orders-1", "us-east-1")


def test_one_listing_per_kind_not_one_call_per_lookup(aws: Aws) -> None:
    for role in ("a", "b", "c", "d"):
        _image("us-west-2", f"shop-{role}", {"Role": role})
    artifacts = {role: {"kind": "ami", "tags": {"Role": role}} for role in ("a", "b", "c", "d")}
    found = _run(aws, _env(artifacts=artifacts))
    assert len(found.artifacts) == 4
    assert found.calls == 2  # one page of images, one zone listing


def test_snapshots_are_found_by_the_volume_they_came_from(aws: Aws) -> None:
    ec2 = boto3.client("ec2", "us-west-2")
    volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=1)["VolumeId"]
    other = ec2.create_volume(AvailabilityZone="us-west-2a", Size=1)["VolumeId"]
    ec2.create_snapshot(VolumeId=other)
    wanted = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    _image("us-west-2", "shop-web-1", {"Role": "web"})
    artifacts = {
        "web_ami": {"kind": "ami", "tags": {"Role": "web"}},
        "data": {"kind": "ebs_snapshot", "source_volume": volume},
    }
    assert _run(aws, _env(artifacts=artifacts)).artifacts["data"].id == wanted


def test_aurora_cluster_snapshots_match_by_cluster(aws: Aws) -> None:
    rds = boto3.client("rds", "us-west-2")
    for cluster in ("orders", "audit"):
        rds.create_db_cluster(
            DBClusterIdentifier=cluster,
            Engine="aurora-postgresql",
            MasterUsername="u",
            MasterUserPassword="p4ssw0rd-long",
        )
        rds.create_db_cluster_snapshot(
            DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=f"{cluster}-1"
        )
    artifacts = {"db": {"kind": "rds_cluster_snapshot", "db_cluster": "orders"}}
    found = _run(aws, _env(artifacts=artifacts))
    # moto also keeps an automated snapshot of each cluster: a legitimate second candidate.
    assert found.artifacts["db"].id == "orders-1"
    assert "audit" not in found.artifacts["db"].id


def _stubbed_lookup(artifacts: dict[str, object]) -> tuple[StubbedAws, Environment]:
    return StubbedAws(), _env(artifacts=artifacts)


def _zones_answer(aws: StubbedAws) -> None:
    """Discovery lists the zones after the artifacts; Stubber answers in order."""
    aws.stub("ec2", "us-west-2").add_response(
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {"ZoneName": "us-west-2a", "ZoneId": "usw2-az1"},
                {"ZoneName": "us-west-2b", "ZoneId": "usw2-az2"},
            ]
        },
    )


def test_only_usable_states_are_asked_for_and_counted() -> None:
    # moto finishes every copy at once; a stub shows what a copy in progress looks like.
    aws, env = _stubbed_lookup(
        {
            "db": {"kind": "rds_snapshot", "db_instance": "orders"},
            "data": {"kind": "ebs_snapshot", "tags": {"Role": "data"}},
        }
    )
    when = datetime(2030, 1, 1, tzinfo=UTC)
    aws.stub("ec2", "us-west-2").add_response(
        "describe_snapshots",
        {
            "Snapshots": [
                {
                    "SnapshotId": "snap-1",
                    "StartTime": when,
                    "OwnerId": ACCOUNT,
                    "State": "completed",
                    "Tags": [{"Key": "Role", "Value": "data"}],
                }
            ]
        },
        {
            "OwnerIds": ["self"],
            "MaxResults": 1000,
            "Filters": [
                {"Name": "status", "Values": ["completed"]},
                {"Name": "tag-key", "Values": ["Role"]},
            ],
        },
    )
    snapshot = {
        "DBInstanceIdentifier": "orders",
        "SnapshotCreateTime": when,
        "DBSnapshotArn": f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:x",
    }
    aws.stub("rds", "us-west-2").add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                {
                    **snapshot,
                    "DBSnapshotIdentifier": "orders-old",
                    "Status": "available",
                    "SnapshotCreateTime": when - timedelta(hours=1),
                },
                {**snapshot, "DBSnapshotIdentifier": "orders-copying", "Status": "creating"},
            ]
        },
        {
            "IncludeShared": False,
            "MaxRecords": 100,
            "Filters": [{"Name": "db-instance-id", "Values": ["orders"]}],
        },
    )
    _zones_answer(aws)
    found = discover(aws, env, "us-west-2", account_id=ACCOUNT, now=lambda: NOW)  # type: ignore[arg-type]
    assert found.artifacts["db"].id == "orders-old", "a copy still in progress is not chosen"
    assert found.artifacts["data"].id == "snap-1"


def test_backup_recovery_points_where_aws_backup_answers() -> None:
    # moto does not implement ListRecoveryPointsByBackupVault: a stub stands in.
    aws, env = _stubbed_lookup(
        {"vol": {"kind": "backup_recovery_point", "vault": "dr", "resource": "vol-0abc"}}
    )
    when = datetime(2030, 1, 1, tzinfo=UTC)
    point = {
        "BackupVaultName": "dr",
        "Status": "COMPLETED",
        "ResourceArn": f"arn:aws:ec2:us-west-2:{ACCOUNT}:volume/vol-0abc",
        "SourceBackupVaultArn": f"arn:aws:backup:us-east-1:{ACCOUNT}:backup-vault:prod",
    }
    aws.stub("backup", "us-west-2").add_response(
        "list_recovery_points_by_backup_vault",
        {
            "RecoveryPoints": [
                {**point, "RecoveryPointArn": f"{RP}1", "CreationDate": when},
                {
                    **point,
                    "RecoveryPointArn": f"{RP}2",
                    "CreationDate": when + timedelta(hours=1),
                    "Status": "PARTIAL",
                },
                {
                    **point,
                    "RecoveryPointArn": f"{RP}3",
                    "CreationDate": when + timedelta(hours=2),
                    "ResourceArn": "arn:aws:ec2:us-west-2:1:volume/vol-0other",
                },
            ]
        },
        {"BackupVaultName": "dr", "MaxResults": 100},
    )
    _zones_answer(aws)
    found = discover(aws, env, "us-west-2", account_id=ACCOUNT, now=lambda: NOW)  # type: ignore[arg-type]
    point_found = found.artifacts["vol"]
    assert (point_found.id, point_found.source_region) == (f"{RP}1", "us-east-1")


def test_a_lineage_time_without_a_timezone_is_read_as_utc() -> None:
    from datetime import UTC, datetime

    from relight.model.times import parse_time

    assert parse_time("2026-11-22T06:00:00") == datetime(2026, 11, 22, 6, tzinfo=UTC)
    assert parse_time("2026-11-22T06:00:00Z") == datetime(2026, 11, 22, 6, tzinfo=UTC)
    assert parse_time("not a time") is None


VAULT = f"arn:aws:backup:us-west-2:{ACCOUNT}:backup-vault:dr"
SOURCE_VAULT = f"arn:aws:backup:us-east-1:{ACCOUNT}:backup-vault:prod"


def _recovery_points(resource: str, arns: list[str], resource_type: str) -> list[dict[str, object]]:
    """Recovery points as ListRecoveryPointsByBackupVault returns them for copies in the
    us-west-2 vault `dr`, oldest first, one hour apart."""
    when = datetime(2030, 1, 1, tzinfo=UTC)
    return [
        {
            "RecoveryPointArn": arn,
            "BackupVaultName": "dr",
            "BackupVaultArn": VAULT,
            "SourceBackupVaultArn": SOURCE_VAULT,
            "ResourceArn": resource,
            "ResourceType": resource_type,
            "Status": "COMPLETED",
            "CreationDate": when + timedelta(hours=i),
        }
        for i, arn in enumerate(arns)
    ]


@pytest.mark.parametrize(
    ("resource", "resource_type", "arns", "expected"),
    [
        (
            f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0abc",
            "EC2",
            [
                "arn:aws:ec2:us-west-2::image/ami-0aaa1111aaaa11111",
                "arn:aws:ec2:us-west-2::image/ami-0bbb2222bbbb22222",
            ],
            "ami-0bbb2222bbbb22222",
        ),
        (
            f"arn:aws:ec2:us-east-1:{ACCOUNT}:volume/vol-0abc",
            "EBS",
            [
                "arn:aws:ec2:us-west-2::snapshot/snap-0aaa1111aaaa11111",
                "arn:aws:ec2:us-west-2::snapshot/snap-0bbb2222bbbb22222",
            ],
            "snap-0bbb2222bbbb22222",
        ),
        (
            f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders",
            "RDS",
            [
                f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:awsbackup:job-1111aaaa",
                f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:awsbackup:job-2222bbbb",
            ],
            "awsbackup:job-2222bbbb",
        ),
        (
            f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:orders",
            "Aurora",
            [f"arn:aws:rds:us-west-2:{ACCOUNT}:cluster-snapshot:awsbackup:job-3333cccc"],
            "awsbackup:job-3333cccc",
        ),
    ],
)
def test_a_recovery_point_is_owned_by_its_vault_and_restored_by_its_resource_id(
    resource: str, resource_type: str, arns: list[str], expected: str
) -> None:
    # EC2 recovery point ARNs have no account field (arn:aws:ec2:REGION::image/ami-...): the
    # owner is the vault's account, and CloudFormation's ImageId/SnapshotId/
    # DBSnapshotIdentifier want the resource id, not the recovery point's ARN.
    aws, env = _stubbed_lookup(
        {"point": {"kind": "backup_recovery_point", "vault": "dr", "resource": resource}}
    )
    aws.stub("backup", "us-west-2").add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": _recovery_points(resource, arns, resource_type)},
        {"BackupVaultName": "dr", "MaxResults": 100},
    )
    root = {  # the root's size, not another mapping's
        "RootDeviceName": "/dev/sda1",
        "BlockDeviceMappings": [_ebs("/dev/sdb", 100), _ebs("/dev/sda1", 30)],
    }
    if expected.startswith("ami-"):  # an instance's recovery point is an AMI: its root is read
        aws.stub("ec2", "us-west-2").add_response(
            "describe_images",
            {"Images": [{"ImageId": expected, **root}]},
            {"ImageIds": [expected]},
        )
    kept = {"Port": 6543, "Engine": "postgres", "EngineVersion": "16.4"}
    if resource_type == "RDS":  # a DB snapshot: what its restore keeps is read (R11, R19)
        aws.stub("rds", "us-west-2").add_response(
            "describe_db_snapshots",
            {"DBSnapshots": [{"DBSnapshotIdentifier": expected, "StorageType": "gp3", **kept}]},
            {"DBSnapshotIdentifier": expected},
        )
    if resource_type == "Aurora":
        aws.stub("rds", "us-west-2").add_response(
            "describe_db_cluster_snapshots",
            {"DBClusterSnapshots": [{"DBClusterSnapshotIdentifier": expected, **kept}]},
            {"DBClusterSnapshotIdentifier": expected},
        )
    _zones_answer(aws)
    found = discover(aws, env, "us-west-2", account_id=ACCOUNT, now=lambda: NOW)  # type: ignore[arg-type]
    assert found.missing == {}
    point = found.artifacts["point"]
    assert (point.id, point.arn, point.candidates) == (expected, arns[-1], len(arns))
    shown = next(r for r in artifact_rows(_loaded_for(env), found) if r["name"] == "point")
    assert (shown["id"], shown["arn"]) == (expected, arns[-1]), "discover --json shows both"
    assert point.source_region == "us-east-1"
    if expected.startswith("ami-"):
        assert found.artifact_ids()["point.root_device"] == "/dev/sda1"
        assert found.artifact_ids()["point.root_size_gb"] == "30"
    if resource_type in ("RDS", "Aurora"):
        assert found.artifact_ids()["point.port"] == "6543", "the port its restore keeps"
        assert found.artifact_ids()["point.engine_version"] == "16.4"


def _ebs(device: str, size: int) -> dict[str, Any]:
    return {"DeviceName": device, "Ebs": {"SnapshotId": "snap-0root", "VolumeSize": size}}


def test_a_recovery_point_in_another_accounts_vault_needs_that_owner() -> None:
    other = "210987654321"
    resource = f"arn:aws:ec2:us-east-1:{other}:volume/vol-0abc"
    arn = "arn:aws:ec2:us-west-2::snapshot/snap-0aaa1111aaaa11111"
    points = _recovery_points(resource, [arn], "EBS")
    points[0]["BackupVaultArn"] = f"arn:aws:backup:us-west-2:{other}:backup-vault:dr"
    for owners, found_it in ((["self"], False), ([other], True)):
        aws, env = _stubbed_lookup(
            {
                "vol": {
                    "kind": "backup_recovery_point",
                    "vault": "dr",
                    "resource": "vol-0abc",
                    "owners": owners,
                }
            }
        )
        aws.stub("backup", "us-west-2").add_response(
            "list_recovery_points_by_backup_vault",
            {"RecoveryPoints": points},
            {"BackupVaultName": "dr", "MaxResults": 100},
        )
        _zones_answer(aws)
        if not found_it:  # the home region is asked what it holds
            aws.stub("backup", "us-east-1").add_response(
                "list_recovery_points_by_backup_vault", {"RecoveryPoints": []}
            )
        found = discover(aws, env, "us-west-2", account_id=ACCOUNT, now=lambda: NOW)  # type: ignore[arg-type]
        assert ("vol" in found.artifacts) is found_it, owners


def _loaded_for(env: Any) -> Any:
    """The least of a LoadedEnvironment that artifact_rows reads: the environment."""
    from types import SimpleNamespace

    return SimpleNamespace(env=env)


# The newest data wins (issue 20, item 9): a copy's own time is when it was copied, not when
# its data was captured. Replicate tags each copy with its source's time (relight:source-time);
# AWS keeps the original's time on a DB snapshot copy (OriginalSnapshotCreateTime).


RDS_ARN = f"arn:aws:rds:us-west-2:{ACCOUNT}:"


def _lineage(source_id: str, captured: datetime) -> dict[str, str]:
    return {
        LINEAGE_ID: source_id,
        LINEAGE_REGION: "us-east-1",
        LINEAGE_TIME: captured.isoformat(timespec="seconds"),
    }


def test_an_ebs_copy_made_later_of_older_data_loses_and_the_rpo_reads_the_data_time(
    aws: Aws,
) -> None:
    import time

    now = datetime.now(UTC).replace(microsecond=0)
    _image("us-west-2", "shop-web-1", {"Role": "web"})
    fresh = _snapshot(
        "us-west-2", {"Role": "web-data", **_lineage("snap-0new", now - timedelta(hours=1))}
    )
    time.sleep(1.05)  # moto's times have one-second resolution: the old data's copy is later
    _snapshot("us-west-2", {"Role": "web-data", **_lineage("snap-0old", now - timedelta(hours=9))})
    found = _run(aws, _env())
    art = found.artifacts["web_data"]
    assert (art.id, art.source_id, art.candidates) == (fresh, "snap-0new", 2)
    assert timedelta(minutes=59) < art.age(found.at) < timedelta(hours=1, minutes=1)
    assert stale(found, 4 * 3600) == [], "the RPO is measured on the data chosen"


def test_an_ami_copy_made_later_of_older_data_loses(aws: Aws) -> None:
    import time

    now = datetime.now(UTC).replace(microsecond=0)
    fresh = _image(
        "us-west-2", "shop-web-1", {"Role": "web", **_lineage("ami-0new", now - timedelta(hours=2))}
    )
    time.sleep(1.05)
    _image(
        "us-west-2", "shop-web-2", {"Role": "web", **_lineage("ami-0old", now - timedelta(days=2))}
    )
    _snapshot("us-west-2", {"Role": "web-data"})
    found = _run(aws, _env())
    assert found.artifacts["web_ami"].id == fresh
    assert found.artifacts["web_ami"].source_id == "ami-0new"
    assert [a.name for a in stale(found, 4 * 3600)] == []


def _db_snapshot(
    identifier: str, copied: datetime, original: datetime | None, **tags: str
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "DBSnapshotIdentifier": identifier,
        "DBInstanceIdentifier": "orders",
        "SnapshotCreateTime": copied,  # "Changes for the copy when the snapshot is copied"
        "DBSnapshotArn": f"arn:aws:rds:us-west-2:{ACCOUNT}:snapshot:{identifier}",
        "SourceDBSnapshotIdentifier": f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:{identifier}-src",
        "SourceRegion": "us-east-1",
        "Status": "available",
        "TagList": [{"Key": k.replace("_", ":"), "Value": v} for k, v in tags.items()],
    }
    if original is not None:
        found["OriginalSnapshotCreateTime"] = original  # "Doesn't change when ... copied"
    return found


def test_a_db_snapshot_copy_is_as_old_as_its_original_snapshot() -> None:
    """RDS keeps the original's time on the copy: that decides, not when it was copied (a
    copy made elsewhere carries no relight lineage tag)."""
    aws, env = _stubbed_lookup({"db": {"kind": "rds_snapshot", "db_instance": "orders"}})
    aws.stub("rds", "us-west-2").add_response(
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                # copied first, of the newer data
                _db_snapshot("orders-a", NOW - timedelta(hours=2), NOW - timedelta(hours=3)),
                # copied last, of data from the day before
                _db_snapshot("orders-b", NOW - timedelta(minutes=10), NOW - timedelta(hours=27)),
            ]
        },
    )
    _zones_answer(aws)
    found = discover(aws, env, "us-west-2", account_id=ACCOUNT, now=lambda: NOW)  # type: ignore[arg-type]
    art = found.artifacts["db"]
    assert (art.id, art.source_time) == ("orders-a", NOW - timedelta(hours=3))
    assert art.age(NOW) == timedelta(hours=3)
    assert stale(found, 4 * 3600) == []
    assert [a.id for a in stale(found, 2 * 3600)] == ["orders-a"]


def test_an_aurora_cluster_snapshot_copy_is_dated_by_its_lineage_tag() -> None:
    """DBClusterSnapshot has no original time: replicate's relight:source-time decides."""
    aws, env = _stubbed_lookup({"db": {"kind": "rds_cluster_snapshot", "db_cluster": "orders"}})

    def cluster(identifier: str, copied: datetime, captured: datetime) -> dict[str, Any]:
        return {
            "DBClusterSnapshotIdentifier": identifier,
            "DBClusterIdentifier": "orders",
            "SnapshotCreateTime": copied,
            "DBClusterSnapshotArn": f"{RDS_ARN}cluster-snapshot:{identifier}",
            "Status": "available",
            "TagList": [{"Key": LINEAGE_TIME, "Value": captured.isoformat()}],
        }

    aws.stub("rds", "us-west-2").add_response(
        "describe_db_cluster_snapshots",
        {
            "DBClusterSnapshots": [
                cluster("orders-a", NOW - timedelta(hours=2), NOW - timedelta(hours=3)),
                cluster("orders-b", NOW - timedelta(minutes=5), NOW - timedelta(hours=30)),
            ]
        },
    )
    _zones_answer(aws)
    found = discover(aws, env, "us-west-2", account_id=ACCOUNT, now=lambda: NOW)  # type: ignore[arg-type]
    assert found.artifacts["db"].id == "orders-a"
    assert found.artifacts["db"].age(NOW) == timedelta(hours=3)
