"""What `relight prepare` checks and makes at home before it stands a replica up
(relight.dr.replica_sources), and the stand-in's replicas under CloudFormation
(standin/extensions/rds/replicas.py, globals.py).

The home databases live in moto (in-process, relight's stand-in additions installed); each
refusal names the stack and what to do, and nothing is made. Rows D14-D19 of
docs/aws-behaviours.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from troposphere import Template, rds

from conftest import REPO
from relight.dr.replica_sources import check_sources, ensure_global_clusters
from relight.errors import PreflightError
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.standin import extensions
from relight.standin.extensions.rds.replicas import NO_BACKUPS
from relight.steps.render import build_plan

REGION = "us-west-2"
HOME = "us-east-1"


@pytest.fixture(autouse=True)
def stand_in() -> Iterator[None]:
    extensions.install()
    with mock_aws():
        yield


class _Aws:
    """The AWS entry point as relight's steps take it: clients by service and region."""

    def client(self, service: str, region: str) -> Any:
        return boto3.client(service, region)


def _plan(tmp_path: Path, aurora: bool = False, klass: str = "db.r6g.large") -> Plan:
    text = (REPO / "stacks" / "demo.yaml").read_text()
    text = text.replace("    blueprint: database\n", "    blueprint: database\n    data: replica\n")
    if aurora:
        text = text.replace(
            "    kind: rds_snapshot\n    db_instance: demo-orders\n",
            "    kind: rds_cluster_snapshot\n    db_cluster: demo-orders\n",
        )
        text = text.replace(
            "      mode: instance\n      engine: postgres\n", "      mode: aurora\n"
        )
        text = text.replace("      multi_az: true\n", "      engine: aurora-postgresql\n")
        text = text.replace("instance_class: db.t4g.medium", f"instance_class: {klass}")
    path = tmp_path / "demo.yaml"
    path.write_text(text + f"blueprints_dir: {REPO / 'blueprints'}\n")
    loaded = load_environment(str(path), REGION)
    return build_plan(loaded, REGION, stand_in=True, strategy="pilot_light", phase="prepare")


def _home_instance(
    retention: int = 7, engine: str = "postgres", encrypted: bool = True
) -> dict[str, Any]:
    made = boto3.client("rds", HOME).create_db_instance(
        DBInstanceIdentifier="demo-orders", Engine=engine, DBInstanceClass="db.t3.micro",
        AllocatedStorage=20, MasterUsername="shop", MasterUserPassword="not-a-secret-1",
        StorageEncrypted=encrypted, BackupRetentionPeriod=retention,
    )  # fmt: skip
    return dict(made["DBInstance"])


def _refusal(plan: Plan) -> str:
    with pytest.raises(PreflightError) as refused:
        check_sources(plan, _Aws())
    return str(refused.value) + str(refused.value.hint)


def test_a_source_without_automated_backups_is_refused_with_the_fix(tmp_path: Path) -> None:
    _home_instance(retention=0)
    shown = _refusal(_plan(tmp_path))
    assert "stacks.database (data: replica): demo-orders keeps no automated backups" in shown
    assert "--backup-retention-period 7" in shown and "nothing was changed" in shown
    assert boto3.client("rds", REGION).describe_db_instances()["DBInstances"] == []


class _Custom:
    """A home RDS whose instance reports an RDS Custom engine (moto makes none)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_db_instances(self, **kwargs: Any) -> dict[str, Any]:
        found = self.real.describe_db_instances(**kwargs)
        for db in found["DBInstances"]:
            db["Engine"] = "custom-oracle-ee"
        return dict(found)


class _AwsCustom:
    def client(self, service: str, region: str) -> Any:
        return _Custom(boto3.client(service, region))


def test_an_engine_without_cross_region_replicas_is_refused(tmp_path: Path) -> None:
    _home_instance()
    with pytest.raises(PreflightError) as refused:
        check_sources(_plan(tmp_path), _AwsCustom())
    shown = str(refused.value)
    assert "custom-oracle-ee, which has no cross-region read replicas" in shown
    assert "data: snapshot" in shown


def test_a_sql_server_source_is_not_refused_for_its_engine(tmp_path: Path) -> None:
    """The user guide's cross-Region feature table lists SQL Server (docs D15)."""
    _home_instance(engine="sqlserver-se")
    assert check_sources(_plan(tmp_path), _Aws()) == []


def test_a_source_with_its_most_replicas_is_refused_unless_one_is_this_regions(
    tmp_path: Path,
) -> None:
    source = _home_instance()
    home = boto3.client("rds", HOME)
    for n in range(15):
        home.create_db_instance_read_replica(
            DBInstanceIdentifier=f"reader-{n}", SourceDBInstanceIdentifier="demo-orders"
        )
    plan = _plan(tmp_path)
    assert "has 15 read replicas already" in _refusal(plan)
    home.delete_db_instance(DBInstanceIdentifier="reader-0", SkipFinalSnapshot=True)
    boto3.client("rds", REGION).create_db_instance_read_replica(
        DBInstanceIdentifier="ours", SourceDBInstanceIdentifier=source["DBInstanceArn"]
    )
    assert check_sources(plan, _Aws()) == [], "a rerun: this region's replica is one of them"


def test_an_unencrypted_home_instance_is_refused_naming_the_file_key_and_fix(
    tmp_path: Path,
) -> None:
    _home_instance(encrypted=False)
    plan = _plan(tmp_path)
    shown = _refusal(plan)
    assert f"{tmp_path / 'demo.yaml'}:" in shown
    assert (
        "stacks.database.data: replica: the home DB instance demo-orders in us-east-1 is not "
        "encrypted (StorageEncrypted false)"
    ) in shown
    assert "You can't create an encrypted read replica from an unencrypted DB instance" in shown
    assert "aws rds copy-db-snapshot --kms-key-id KEY" in shown and "data: snapshot" in shown
    assert boto3.client("rds", REGION).describe_db_instances()["DBInstances"] == []


def test_an_unencrypted_aurora_primary_is_refused_before_any_global_database(
    tmp_path: Path,
) -> None:
    _home_cluster(encrypted=False)
    with pytest.raises(PreflightError) as refused:
        check_sources(_plan(tmp_path, aurora=True), _AwsVersions(supports=True))
    shown = str(refused.value)
    assert "stacks.database.data: replica: the home DB cluster demo-orders" in shown
    assert "aws rds copy-db-cluster-snapshot --kms-key-id KEY" in shown
    assert boto3.client("rds", HOME).describe_global_clusters()["GlobalClusters"] == []


def test_a_missing_home_database_is_named(tmp_path: Path) -> None:
    assert "the home DB instance demo-orders does not exist in us-east-1" in _refusal(
        _plan(tmp_path)
    )


def _home_cluster(encrypted: bool = True) -> dict[str, Any]:
    made = boto3.client("rds", HOME).create_db_cluster(
        DBClusterIdentifier="demo-orders", Engine="aurora-postgresql", EngineVersion="15.4",
        MasterUsername="shop", MasterUserPassword="not-a-secret-1", StorageEncrypted=encrypted,
    )  # fmt: skip
    return dict(made["DBCluster"])


def test_prepare_makes_the_global_database_at_home_once_and_fills_the_secondary(
    tmp_path: Path,
) -> None:
    primary = _home_cluster()
    plan = _plan(tmp_path, aurora=True)
    notes = ensure_global_clusters(plan, _Aws())
    assert notes == [
        "stacks.database: made the Aurora global database demo-database-global in us-east-1 "
        "with demo-orders as its primary"
    ]
    (made,) = boto3.client("rds", HOME).describe_global_clusters()["GlobalClusters"]
    assert made["GlobalClusterMembers"][0]["DBClusterArn"] == primary["DBClusterArn"]
    assert made["GlobalClusterMembers"][0]["IsWriter"], "the home cluster writes"
    parameters = plan.stacks["database"].parameters
    assert parameters["GlobalClusterIdentifier"] == "demo-database-global"
    assert "EngineVersion" not in parameters, "a global database member gives none (D57)"
    again = _plan(tmp_path, aurora=True)
    assert ensure_global_clusters(again, _Aws()) == [], "an existing one is used"
    assert len(boto3.client("rds", HOME).describe_global_clusters()["GlobalClusters"]) == 1


def test_a_global_database_the_home_cluster_already_leads_is_used_by_its_name(
    tmp_path: Path,
) -> None:
    primary = _home_cluster()
    boto3.client("rds", HOME).create_global_cluster(
        GlobalClusterIdentifier="orders-everywhere",
        SourceDBClusterIdentifier=primary["DBClusterArn"],
    )
    plan = _plan(tmp_path, aurora=True)
    assert ensure_global_clusters(plan, _Aws()) == []
    assert plan.stacks["database"].parameters["GlobalClusterIdentifier"] == "orders-everywhere"


class _Versions:
    """A home RDS that says whether the engine version supports global databases (moto
    has no DescribeDBEngineVersions for an Aurora version: a 500 on the stand-in)."""

    def __init__(self, real: Any, supports: bool) -> None:
        self.real = real
        self.supports = supports

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_db_engine_versions(self, **kwargs: Any) -> dict[str, Any]:
        found = {"Engine": kwargs["Engine"], "SupportsGlobalDatabases": self.supports}
        return {"DBEngineVersions": [found]}


class _AwsVersions(_Aws):
    def __init__(self, supports: bool = False) -> None:
        self.supports = supports

    def client(self, service: str, region: str) -> Any:
        return _Versions(super().client(service, region), self.supports)


def test_an_engine_version_without_global_databases_is_refused(tmp_path: Path) -> None:
    _home_cluster()
    with pytest.raises(PreflightError) as refused:
        check_sources(_plan(tmp_path, aurora=True), _AwsVersions())
    assert "does not support Aurora global databases" in str(refused.value)
    assert boto3.client("rds", HOME).describe_global_clusters()["GlobalClusters"] == []


def test_a_burstable_class_for_an_aurora_secondary_is_refused_naming_the_param(
    tmp_path: Path,
) -> None:
    _home_cluster()
    with pytest.raises(PreflightError) as refused:
        check_sources(_plan(tmp_path, aurora=True, klass="db.t4g.medium"), _AwsVersions(True))
    shown = str(refused.value)
    assert f"{tmp_path / 'demo.yaml'}:" in shown
    assert "stacks.database.params.instance_class: db.t4g.medium is not memory-optimized" in shown
    assert "optimized for memory-intensive applications" in shown and "db.r6g.large" in shown
    assert len(refused.value.problems) == 1, "nothing else is wrong with it"
    assert boto3.client("rds", HOME).describe_global_clusters()["GlobalClusters"] == []
    assert check_sources(_plan(tmp_path, aurora=True), _AwsVersions(True)) == []


def test_a_global_database_with_its_most_secondary_regions_is_refused(tmp_path: Path) -> None:
    primary = _home_cluster()
    boto3.client("rds", HOME).create_global_cluster(
        GlobalClusterIdentifier="wide", SourceDBClusterIdentifier=primary["DBClusterArn"]
    )
    elsewhere = [
        "eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "ap-south-1",
        "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
    ]  # fmt: skip
    for region in elsewhere:
        boto3.client("rds", region).create_db_cluster(
            DBClusterIdentifier="secondary", Engine="aurora-postgresql",
            EngineVersion="15.4", GlobalClusterIdentifier="wide",
        )  # fmt: skip
    with pytest.raises(PreflightError) as refused:
        check_sources(_plan(tmp_path, aurora=True), _AwsVersions(supports=True))
    assert "the global database wide has 10 secondary regions" in str(refused.value)


# The stand-in under CloudFormation ------------------------------------------------------------


def _replica_stack(name: str, source: str, policy: str = "Delete") -> str:
    t = Template()
    t.add_resource(
        rds.DBInstance(
            "Db",
            validation=False,
            SourceDBInstanceIdentifier=source,
            KmsKeyId="alias/x",
            DBInstanceClass="db.t3.micro",
            DeletionPolicy=policy,
        )
    )
    cfn = boto3.client("cloudformation", REGION)
    cfn.create_stack(StackName=name, TemplateBody=t.to_json())
    return str(cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"])


def test_the_stand_in_refuses_a_replica_of_a_source_without_backups_with_rdss_text() -> None:
    source = _home_instance(retention=0)
    assert _replica_stack("nobackups", source["DBInstanceArn"]) != "CREATE_COMPLETE"
    events = boto3.client("cloudformation", REGION).describe_stack_events(StackName="nobackups")
    reasons = [e.get("ResourceStatusReason", "") for e in events["StackEvents"]]
    assert any(NO_BACKUPS in r for r in reasons), reasons
    assert boto3.client("rds", REGION).describe_db_instances()["DBInstances"] == []


def test_deleting_the_replica_stack_unlists_it_from_its_source() -> None:
    source = _home_instance()
    assert _replica_stack("replica", source["DBInstanceArn"]) == "CREATE_COMPLETE"
    home = boto3.client("rds", HOME)

    def listed() -> list[str]:
        found = home.describe_db_instances(DBInstanceIdentifier="demo-orders")["DBInstances"]
        return list(found[0]["ReadReplicaDBInstanceIdentifiers"])

    assert len(listed()) == 1 and f":{REGION}:" in listed()[0]
    boto3.client("cloudformation", REGION).delete_stack(StackName="replica")
    assert listed() == []
    assert boto3.client("rds", REGION).describe_db_instances()["DBInstances"] == []


def test_a_cloudformation_cluster_with_a_global_identifier_joins_as_a_reader() -> None:
    primary = _home_cluster()
    boto3.client("rds", HOME).create_global_cluster(
        GlobalClusterIdentifier="orders-global", SourceDBClusterIdentifier=primary["DBClusterArn"]
    )
    t = Template()
    t.add_resource(
        rds.DBCluster(
            "Cluster",
            Engine="aurora-postgresql",
            GlobalClusterIdentifier="orders-global",
            KmsKeyId="alias/x",
            StorageEncrypted=True,
            DeletionPolicy="Delete",
        )
    )
    cfn = boto3.client("cloudformation", REGION)
    cfn.create_stack(StackName="secondary", TemplateBody=t.to_json())
    assert cfn.describe_stacks(StackName="secondary")["Stacks"][0]["StackStatus"] == (
        "CREATE_COMPLETE"
    )
    (made,) = boto3.client("rds", REGION).describe_db_clusters()["DBClusters"]
    assert made["GlobalClusterIdentifier"] == "orders-global"
    assert made["EngineVersion"] == "15.4", "no EngineVersion given: the global database's"
    (found,) = boto3.client("rds", REGION).describe_global_clusters()["GlobalClusters"]
    members = {m["DBClusterArn"]: m["IsWriter"] for m in found["GlobalClusterMembers"]}
    assert members == {primary["DBClusterArn"]: True, made["DBClusterArn"]: False}


def _stack_status(name: str) -> str:
    cfn = boto3.client("cloudformation", REGION)
    found = cfn.describe_stacks(StackName=name)["Stacks"]
    return str(found[0]["StackStatus"]) if found else "gone"


def test_a_replicas_snapshot_policy_is_ignored_until_it_is_promoted() -> None:
    """CloudFormation ignores a read replica's deletion policy (docs D13): deleting the stack
    of a replica leaves no final snapshot and no error; of the same replica once promoted (it
    stands alone), DeletionPolicy Snapshot leaves one."""
    source = _home_instance()
    r = boto3.client("rds", REGION)
    cfn = boto3.client("cloudformation", REGION)
    assert _replica_stack("replica", source["DBInstanceArn"], "Snapshot") == "CREATE_COMPLETE"
    cfn.delete_stack(StackName="replica")
    assert r.describe_db_instances()["DBInstances"] == []
    assert r.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"] == []
    assert _replica_stack("promoted", source["DBInstanceArn"], "Snapshot") == "CREATE_COMPLETE"
    (db,) = r.describe_db_instances()["DBInstances"]
    r.promote_read_replica(DBInstanceIdentifier=db["DBInstanceIdentifier"])
    cfn.delete_stack(StackName="promoted")
    assert r.describe_db_instances()["DBInstances"] == []
    (final,) = r.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert final["DBInstanceIdentifier"] == db["DBInstanceIdentifier"]
    assert "-final-" in final["DBSnapshotIdentifier"]


def _secondary_stack(name: str) -> str:
    t = Template()
    t.add_resource(
        rds.DBCluster(
            "Cluster",
            Engine="aurora-postgresql",
            GlobalClusterIdentifier="orders-global",
            KmsKeyId="alias/x",
            StorageEncrypted=True,
            DeletionPolicy="Snapshot",
        )
    )
    boto3.client("cloudformation", REGION).create_stack(StackName=name, TemplateBody=t.to_json())
    return _stack_status(name)


def test_a_secondarys_snapshot_policy_is_ignored_until_it_is_detached() -> None:
    primary = _home_cluster()
    boto3.client("rds", HOME).create_global_cluster(
        GlobalClusterIdentifier="orders-global", SourceDBClusterIdentifier=primary["DBClusterArn"]
    )
    r = boto3.client("rds", REGION)
    cfn = boto3.client("cloudformation", REGION)
    assert _secondary_stack("secondary") == "CREATE_COMPLETE"
    cfn.delete_stack(StackName="secondary")
    assert r.describe_db_clusters()["DBClusters"] == []
    assert r.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []
    assert _secondary_stack("promoted") == "CREATE_COMPLETE"
    (cluster,) = r.describe_db_clusters()["DBClusters"]
    boto3.client("rds", HOME).remove_from_global_cluster(
        GlobalClusterIdentifier="orders-global", DbClusterIdentifier=cluster["DBClusterArn"]
    )
    cfn.delete_stack(StackName="promoted")
    assert r.describe_db_clusters()["DBClusters"] == []
    (final,) = r.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert final["DBClusterIdentifier"] == cluster["DBClusterIdentifier"]
