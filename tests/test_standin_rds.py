"""The stand-in's RDS under CloudFormation (standin/extensions/rds/): databases restored
from snapshots.

Each test deploys the database blueprint as a failover does (build_plan, deploy) into moto with
relight's stand-in additions installed, then reads what RDS holds: the instance or cluster
restored from the named snapshot, with the snapshot's engine, storage and encryption, and what
verification makes of it. Written against moto 5.2.5.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from troposphere import GetAtt, Output, Template, rds

from conftest import BLUEPRINTS, NETWORK_AND_SECURITY
from relight.aws.clients import Aws, AwsTarget
from relight.aws.cloudformation import Stacks
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.model.shapes import tag_dict
from relight.standin import extensions
from relight.standin.extensions import rds as moto_rds
from relight.steps.deploy import Outcome, deploy
from relight.steps.discovery import Artifact, Discovery, Zone
from relight.steps.render import build_plan
from relight.steps.verify import Check, verify

REGION = "us-west-2"
ENV = f"""\
name: shop
home_region: us-east-1
recovery_regions: [{REGION}]
stand_in: true
blueprints_dir: {BLUEPRINTS}
objectives: {{rpo: 4h, rto: 1h}}
zones: {{count: 2}}
artifacts:
  orders: {{kind: KIND, LOOKUP: orders}}
stacks:
{NETWORK_AND_SECURITY}  db:
    blueprint: database
    params:
      OPTIONS
      SnapshotIdentifier: {{artifact: orders}}
      VpcId: {{output: network.VpcId}}
      SubnetIds: {{output: network.PrivateSubnetIds}}
      ClientSecurityGroupId: {{output: security.WebSecurityGroupId}}
      MonitoringRoleArn: arn:aws:iam::123456789012:role/shop-rds-monitoring
"""
INSTANCE = ENV.replace("KIND", "rds_snapshot").replace("LOOKUP", "db_instance")
INSTANCE = INSTANCE.replace(
    "OPTIONS", "mode: instance\n      engine: postgres\n      multi_az: true"
)
AURORA = ENV.replace("KIND", "rds_cluster_snapshot").replace("LOOKUP", "db_cluster")
AURORA = AURORA.replace("OPTIONS", "mode: aurora\n      engine: aurora-postgresql")


@pytest.fixture(autouse=True)
def stand_in() -> Iterator[None]:
    extensions.install()
    with mock_aws():
        yield


def _rds(region: str = REGION) -> Any:
    return boto3.client("rds", region)


def _copied_snapshot(
    storage: int = 50, name: str = "orders-copy", port: int = 5432
) -> dict[str, Any]:
    """Production's database in us-east-1 (Multi-AZ, encrypted), snapshotted and copied into
    REGION with REGION's key, as relight replicate copies it: the copy, as RDS describes it."""
    home = _rds("us-east-1")
    if not home.describe_db_instances()["DBInstances"]:
        home.create_db_instance(
            DBInstanceIdentifier="orders", Engine="postgres", EngineVersion="16.3",
            DBInstanceClass="db.t3.micro", AllocatedStorage=storage, MasterUsername="shop",
            MasterUserPassword="not-a-secret-1", StorageEncrypted=True, MultiAZ=True, Port=port,
        )  # fmt: skip
    else:
        home.modify_db_instance(DBInstanceIdentifier="orders", AllocatedStorage=storage)
    source = home.create_db_snapshot(
        DBInstanceIdentifier="orders", DBSnapshotIdentifier=f"{name}-source"
    )["DBSnapshot"]
    key = boto3.client("kms", REGION).create_key()["KeyMetadata"]["Arn"]
    return dict(
        _rds().copy_db_snapshot(
            SourceDBSnapshotIdentifier=source["DBSnapshotArn"],
            TargetDBSnapshotIdentifier=name,
            KmsKeyId=key,
            SourceRegion="us-east-1",
        )["DBSnapshot"]
    )


def _cluster_snapshot() -> dict[str, Any]:
    """Production's Aurora cluster's snapshot, in REGION."""
    _rds().create_db_cluster(
        DBClusterIdentifier="orders", Engine="aurora-postgresql", EngineVersion="15.4",
        MasterUsername="shop", MasterUserPassword="not-a-secret-1", StorageEncrypted=True,
        DeletionProtection=True,
    )  # fmt: skip
    snapshot = _rds().create_db_cluster_snapshot(
        DBClusterIdentifier="orders", DBClusterSnapshotIdentifier="orders-cluster-copy"
    )["DBClusterSnapshot"]
    return dict(snapshot)


def _found(kind: str, snapshot: str) -> Discovery:
    """Discovery's answer: the snapshot, with what its restore keeps (port, storage, ...)."""
    from relight.steps.discovery.listing import rds_restore_keeps

    now = datetime.now(UTC)
    if kind == "rds_snapshot":
        (raw,) = _rds().describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"]
    else:
        (raw,) = _rds().describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot)[
            "DBClusterSnapshots"
        ]
    kept = rds_restore_keeps(raw)
    return Discovery(
        region=REGION,
        at=now,
        zones=(Zone(f"{REGION}b", "usw2-az1"), Zone(f"{REGION}a", "usw2-az2")),
        artifacts={"orders": Artifact("orders", kind, snapshot, REGION, now, 1, attributes=kept)},
    )


def _deploy(
    write_env: Callable[[str], Path], text: str, found: Discovery, purpose: str = "failover"
) -> tuple[Plan, Outcome]:
    plan = build_plan(load_environment(str(write_env(text)), REGION), REGION, purpose=purpose)
    cfn = boto3.client("cloudformation", REGION)
    outcome = deploy(Stacks(cfn, timeout=30), plan, found, run_id="r1")
    assert outcome.ok, [(r.name, r.reason) for r in outcome.failed()]
    return plan, outcome


def _checks(plan: Plan, found: Discovery, outcome: Outcome) -> dict[str, list[Check]]:
    """Verification on the stand-in of the db stack, by check."""
    by_check: dict[str, list[Check]] = {}
    for check in verify(Aws(AwsTarget()), plan, found, outcome, stand_in=True):
        if check.stack == "db":
            by_check.setdefault(check.check, []).append(check)
    return by_check


def _instance(identifier: str) -> dict[str, Any]:
    return dict(_rds().describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])


def _tags(arn: str) -> dict[str, str]:
    return tag_dict(_rds().list_tags_for_resource(ResourceName=arn)["TagList"])


def test_the_database_stack_restores_its_instance_from_the_snapshot_it_names(
    write_env: Callable[[str], Path],
) -> None:
    snapshot = _copied_snapshot()
    found = _found("rds_snapshot", snapshot["DBSnapshotIdentifier"])
    plan, outcome = _deploy(write_env, INSTANCE, found)
    outputs = outcome.results["db"].outputs
    db = _instance(outputs["DatabaseIdentifier"])
    # From the snapshot: engine, version, storage, encryption with the copy's key, master user.
    assert (db["Engine"], db["EngineVersion"]) == ("postgres", "16.3")
    assert db["AllocatedStorage"] == snapshot["AllocatedStorage"] == 50
    assert db["StorageEncrypted"] is True
    assert db["KmsKeyId"] == snapshot["KmsKeyId"]
    assert db["MasterUsername"] == "shop"
    # From the template: where it runs, who may reach it, how it is kept.
    assert db["StorageType"] == "gp3"
    assert db["MultiAZ"] is True
    assert db["DeletionProtection"] is True, "a failover's database is protected"
    assert db["DBSubnetGroup"]["VpcId"] == outcome.results["network"].outputs["VpcId"]
    zones = {s["SubnetAvailabilityZone"]["Name"] for s in db["DBSubnetGroup"]["Subnets"]}
    assert db["AvailabilityZone"] in zones, "in its subnet group, not the source's region"
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [
        outputs["SecurityGroupId"]
    ]
    assert (db["MonitoringInterval"], db["IAMDatabaseAuthenticationEnabled"]) == (60, True)
    assert db["EnabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["DBInstanceStatus"] == "available"
    assert outputs["Endpoint"] == db["Endpoint"]["Address"]
    assert outputs["Port"] == str(db["Endpoint"]["Port"]) == "5432"
    tags = _tags(db["DBInstanceArn"])
    assert tags["Name"] == "shop-db"
    assert (tags["relight:env"], tags["relight:stack"]) == ("shop", "db"), "the stack's tags"
    assert tags["aws:cloudformation:logical-id"] == "Database"
    assert tags["aws:cloudformation:stack-name"] == "shop-db"
    # Verification reads which snapshot it came from as it does on AWS: no "not simulated".
    checks = _checks(plan, found, outcome)
    (restored,) = checks["database restored from the expected snapshot"]
    assert (restored.result, restored.detail) == ("passed", "orders-copy")
    assert [c.result for c in checks["database available"]] == ["passed"]


def test_a_restore_keeps_the_snapshots_port_and_the_stack_opens_and_outputs_that_port(
    write_env: Callable[[str], Path],
) -> None:
    """Production listens on 6543, not PostgreSQL's 5432: the restore keeps 6543 (R11), so the
    group admits 6543 and `Port` says 6543, filled from the snapshot discovery chose."""
    snapshot = _copied_snapshot(port=6543)
    assert snapshot["Port"] == 6543
    found = _found("rds_snapshot", snapshot["DBSnapshotIdentifier"])
    _, outcome = _deploy(write_env, INSTANCE, found)
    outputs = outcome.results["db"].outputs
    db = _instance(outputs["DatabaseIdentifier"])
    assert db["Endpoint"]["Port"] == 6543
    assert outputs["Port"] == "6543"
    ec2 = boto3.client("ec2", REGION)
    (group,) = ec2.describe_security_groups(GroupIds=[outputs["SecurityGroupId"]])["SecurityGroups"]
    assert [(p["FromPort"], p["ToPort"]) for p in group["IpPermissions"]] == [(6543, 6543)]


def test_production_parameter_group_is_made_by_the_stack_and_the_restore_uses_it(
    write_env: Callable[[str], Path],
) -> None:
    """R12 on the stand-in: the group declared in the file is made in the recovery region by
    the database stack, with its settings, and the restored database is in it."""
    declared = INSTANCE.replace(
        "      multi_az: true\n",
        "      multi_az: true\n      parameter_group:\n        family: postgres16\n"
        '        parameters: {log_min_duration_statement: "500"}\n',
    )
    found = _found("rds_snapshot", _copied_snapshot()["DBSnapshotIdentifier"])
    _, outcome = _deploy(write_env, declared, found)
    db = _instance(outcome.results["db"].outputs["DatabaseIdentifier"])
    (group,) = [g["DBParameterGroupName"] for g in db["DBParameterGroups"]]
    assert not group.startswith("default."), "the stack's own group, not the engine's default"
    described = _rds().describe_db_parameter_groups(DBParameterGroupName=group)
    assert described["DBParameterGroups"][0]["DBParameterGroupFamily"] == "postgres16"
    settings = _rds().describe_db_parameters(DBParameterGroupName=group)["Parameters"]
    assert {"log_min_duration_statement": "500"}.items() <= {
        p["ParameterName"]: p.get("ParameterValue") for p in settings
    }.items()


def test_a_template_naming_only_the_snapshot_restores_single_az_and_its_getatts_resolve() -> None:
    # moto alone fails this template ("engine None not supported").
    snapshot = _copied_snapshot(storage=30)
    t = Template()
    db = t.add_resource(
        rds.DBInstance(
            "Db", DBSnapshotIdentifier=snapshot["DBSnapshotArn"], DBInstanceClass="db.t3.micro"
        )
    )
    t.add_output(Output("Address", Value=GetAtt(db, "Endpoint.Address")))
    t.add_output(Output("Port", Value=GetAtt(db, "Endpoint.Port")))
    cfn = boto3.client("cloudformation", REGION)
    cfn.create_stack(StackName="plain", TemplateBody=t.to_json())
    (stack,) = cfn.describe_stacks(StackName="plain")["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    (made,) = _rds().describe_db_instances()["DBInstances"]
    assert outputs == {"Address": made["Endpoint"]["Address"], "Port": "5432"}
    assert made["DBInstanceIdentifier"].startswith("plain-db-")
    assert (made["Engine"], made["AllocatedStorage"]) == ("postgres", 30)
    assert made["MultiAZ"] is False, "a restore is Single-AZ unless the template says otherwise"
    assert made["DeletionProtection"] is False


def _failures(stack: str) -> dict[str, str]:
    """The stack's resources that failed, and why, from its events."""
    events = boto3.client("cloudformation", REGION).describe_stack_events(StackName=stack)
    return {
        e["LogicalResourceId"]: e.get("ResourceStatusReason", "")
        for e in events["StackEvents"]
        if e["ResourceStatus"].endswith("_FAILED") and e["LogicalResourceId"] != stack
    }


def test_a_snapshot_that_does_not_exist_or_of_another_engine_fails_the_create() -> None:
    snapshot = _copied_snapshot()
    cfn = boto3.client("cloudformation", REGION)
    for name, properties, refusal in [
        ("missing", {"DBSnapshotIdentifier": "orders-gone"}, "DBSnapshot orders-gone not found"),
        (
            "mysql",
            {"DBSnapshotIdentifier": snapshot["DBSnapshotIdentifier"], "Engine": "mysql"},
            "does not match the engine of DB snapshot orders-copy (postgres)",
        ),
    ]:
        t = Template()
        t.add_resource(rds.DBInstance("Db", DBInstanceClass="db.t3.micro", **properties))
        cfn.create_stack(StackName=name, TemplateBody=t.to_json())
        assert cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] != "CREATE_COMPLETE"
        assert refusal in _failures(name)["Db"]
    assert _rds().describe_db_instances()["DBInstances"] == []


def test_deletion_protection_refuses_the_stack_delete_as_rds_does() -> None:
    # docs/aws-behaviours.md R2.
    t = Template()
    t.add_resource(
        rds.DBInstance(
            "Db",
            DBSnapshotIdentifier=_copied_snapshot()["DBSnapshotIdentifier"],
            DBInstanceClass="db.t3.micro",
            DeletionProtection=True,
        )
    )
    cfn = boto3.client("cloudformation", REGION)
    cfn.create_stack(StackName="protected", TemplateBody=t.to_json())
    cfn.delete_stack(StackName="protected")
    assert "Cannot delete protected DB Instance" in _failures("protected")["Db"]
    (db,) = _rds().describe_db_instances()["DBInstances"]
    assert db["DeletionProtection"] is True, "still there"


def test_an_update_that_lifts_deletion_protection_changes_the_instance_in_place(
    write_env: Callable[[str], Path],
) -> None:
    found = _found("rds_snapshot", _copied_snapshot()["DBSnapshotIdentifier"])
    plan, outcome = _deploy(write_env, INSTANCE, found)
    identifier = outcome.results["db"].outputs["DatabaseIdentifier"]
    assert _instance(identifier)["DeletionProtection"] is True
    # What teardown --force's update (purpose test) changes on AWS: DeletionProtection alone.
    template = json.loads(plan.stacks["db"].body)
    template["Resources"]["Database"]["Properties"]["DeletionProtection"] = False
    cfn = boto3.client("cloudformation", REGION)
    cfn.update_stack(
        StackName="shop-db",
        TemplateBody=json.dumps(template),
        Parameters=[
            {"ParameterKey": key, "UsePreviousValue": True}
            for key in outcome.results["db"].parameters
        ],
    )
    assert _instance(identifier)["DeletionProtection"] is False, "the same instance, unprotected"
    # and the stack's own termination protection, as teardown --force lifts it
    cfn.update_termination_protection(StackName="shop-db", EnableTerminationProtection=False)
    cfn.delete_stack(StackName="shop-db")
    left = {d["DBInstanceIdentifier"] for d in _rds().describe_db_instances()["DBInstances"]}
    assert identifier not in left


def test_deleting_the_stack_leaves_a_final_snapshot_of_the_database_with_its_tags(
    write_env: Callable[[str], Path],
) -> None:
    found = _found("rds_snapshot", _copied_snapshot()["DBSnapshotIdentifier"])
    _, outcome = _deploy(write_env, INSTANCE, found, purpose="test")
    identifier = outcome.results["db"].outputs["DatabaseIdentifier"]
    before = datetime.now(UTC)
    boto3.client("cloudformation", REGION).delete_stack(StackName="shop-db")
    assert identifier not in {
        d["DBInstanceIdentifier"] for d in _rds().describe_db_instances()["DBInstances"]
    }
    # What teardown looks for (commands.teardown.final_snapshots): manual snapshots of the database
    # made since the delete began.
    (final,) = _rds().describe_db_snapshots(DBInstanceIdentifier=identifier, SnapshotType="manual")[
        "DBSnapshots"
    ]
    assert final["SnapshotCreateTime"] >= before
    assert final["Encrypted"] is True
    assert _tags(final["DBSnapshotArn"])["relight:env"] == "shop", "CopyTagsToSnapshot"


def test_a_different_snapshot_on_update_restores_a_new_instance_and_snapshots_the_old(
    write_env: Callable[[str], Path],
) -> None:
    # docs/aws-behaviours.md R1: what relight's kept snapshots (stateful.py) guard against.
    found = _found("rds_snapshot", _copied_snapshot()["DBSnapshotIdentifier"])
    _, outcome = _deploy(write_env, INSTANCE, found, purpose="test")
    old = outcome.results["db"].outputs["DatabaseIdentifier"]
    newer = _copied_snapshot(storage=80, name="orders-newer")
    cfn = boto3.client("cloudformation", REGION)
    given = {**outcome.results["db"].parameters, "SnapshotIdentifier": "orders-newer"}
    cfn.update_stack(
        StackName="shop-db",
        UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()],
    )
    stack = cfn.describe_stacks(StackName="shop-db")["Stacks"][0]
    new = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["DatabaseIdentifier"]
    assert new != old
    names = {d["DBInstanceIdentifier"] for d in _rds().describe_db_instances()["DBInstances"]}
    assert new in names and old not in names
    assert _instance(new)["AllocatedStorage"] == newer["AllocatedStorage"] == 80
    finals = _rds().describe_db_snapshots(DBInstanceIdentifier=old, SnapshotType="manual")
    assert len(finals["DBSnapshots"]) == 1, "UpdateReplacePolicy Snapshot"


def test_an_aurora_stack_restores_its_cluster_from_the_cluster_snapshot_and_members_join_it(
    write_env: Callable[[str], Path],
) -> None:
    snapshot = _cluster_snapshot()
    found = _found("rds_cluster_snapshot", snapshot["DBClusterSnapshotIdentifier"])
    plan, outcome = _deploy(write_env, AURORA, found)
    outputs = outcome.results["db"].outputs
    (cluster,) = _rds().describe_db_clusters(DBClusterIdentifier=outputs["DatabaseIdentifier"])[
        "DBClusters"
    ]
    assert (cluster["Engine"], cluster["EngineVersion"]) == ("aurora-postgresql", "15.4")
    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == snapshot["KmsKeyId"], "no KmsKeyId given: the snapshot's key"
    assert cluster["MasterUsername"] == "shop"
    assert cluster["Status"] == "available"
    assert cluster["DeletionProtection"] is True
    assert cluster["IAMDatabaseAuthenticationEnabled"] is True
    assert [g["VpcSecurityGroupId"] for g in cluster["VpcSecurityGroups"]] == [
        outputs["SecurityGroupId"]
    ]
    assert (outputs["Endpoint"], outputs["ReaderEndpoint"]) == (
        cluster["Endpoint"],
        cluster["ReaderEndpoint"],
    )
    members = cluster["DBClusterMembers"]
    assert len(members) == 2, "aurora_instances: writer and reader"
    assert sum(m["IsClusterWriter"] for m in members) == 1
    for member in members:
        db = _instance(member["DBInstanceIdentifier"])
        assert (db["Engine"], db["DBClusterIdentifier"]) == (
            "aurora-postgresql",
            cluster["DBClusterIdentifier"],
        )
        assert db["MonitoringInterval"] == 60
    assert _tags(cluster["DBClusterArn"])["aws:cloudformation:logical-id"] == "Cluster"
    checks = _checks(plan, found, outcome)
    (restored,) = checks["database restored from the expected snapshot"]
    assert (restored.result, restored.detail) == ("passed", "orders-cluster-copy")
    assert [c.result for c in checks["database available"]] == ["passed"] * 3


def test_deleting_an_aurora_stack_removes_its_instances_then_snapshots_the_cluster(
    write_env: Callable[[str], Path],
) -> None:
    found = _found("rds_cluster_snapshot", _cluster_snapshot()["DBClusterSnapshotIdentifier"])
    _, outcome = _deploy(write_env, AURORA, found, purpose="test")
    identifier = outcome.results["db"].outputs["DatabaseIdentifier"]
    boto3.client("cloudformation", REGION).delete_stack(StackName="shop-db")
    left = {c["DBClusterIdentifier"] for c in _rds().describe_db_clusters()["DBClusters"]}
    assert left == {"orders"}, "production's cluster stays; the stack's is gone"
    assert [
        d for d in _rds().describe_db_instances()["DBInstances"] if d.get("DBClusterIdentifier")
    ] == []
    finals = _rds().describe_db_cluster_snapshots(
        DBClusterIdentifier=identifier, SnapshotType="manual"
    )["DBClusterSnapshots"]
    assert len(finals) == 1, "DeletionPolicy Snapshot"


def test_install_makes_cloudformation_use_the_stand_in_models() -> None:
    from moto.cloudformation import parsing
    from moto.rds.models import DBInstance

    # As if a template had been parsed before the additions existed: moto's own model cached.
    parsing.get_model_map()["AWS::RDS::DBInstance"] = DBInstance
    parsing.get_model_map().pop("AWS::RDS::DBCluster", None)
    moto_rds.install()
    assert parsing.get_model_map()["AWS::RDS::DBInstance"] is moto_rds.RestoredDBInstance
    assert parsing.get_model_map()["AWS::RDS::DBCluster"] is moto_rds.RestoredDBCluster
