"""The database blueprint restores as RDS restores (docs/aws-behaviours.md, R11, R12, R14-R16):
rendered templates resolved as CloudFormation does (`aws_rules.resolve`) and held to the
documented rule, plus discovery reading what a restore keeps from DescribeDBSnapshots."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

import aws_rules
from conftest import BLUEPRINTS, REPO
from relight.model.blueprint import load_registry
from relight.model.config import load_environment
from relight.model.environment import ArtifactRef
from relight.steps.discovery.listing import _db_snapshot, rds_restore_keeps
from relight.steps.render import build_plan

REGISTRY = load_registry(BLUEPRINTS)
AURORA = {"mode": "aurora", "engine": "aurora-postgresql", "instance_class": "db.r6g.large"}


def _body(**options: Any) -> str:
    import json

    return json.dumps(REGISTRY["database"].render(options).to_dict())


def _demo() -> Any:
    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), "us-west-2")
    return build_plan(loaded, "us-west-2")


# DescribeDBSnapshots, as RDS documents the DBSnapshot shape (a copy replicate made with the
# target region's option group).
COPY = {
    "DBSnapshotIdentifier": "demo-orders-copy-1",
    "DBInstanceIdentifier": "demo-orders",
    "DBSnapshotArn": "arn:aws:rds:us-west-2:123456789012:snapshot:demo-orders-copy-1",
    "Engine": "postgres",
    "EngineVersion": "16.4",
    "Port": 6543,
    "StorageType": "io1",
    "Iops": 3000,
    "OptionGroupName": "orders-options-usw2",
    "Status": "available",
    "SnapshotType": "manual",
    "Encrypted": True,
}


def test_discovery_reads_what_a_restore_keeps_from_the_snapshot() -> None:
    assert rds_restore_keeps(COPY) == {
        "port": "6543",
        "engine": "postgres",
        "engine_version": "16.4",
        "storage_type": "io1",
        "option_group": "orders-options-usw2",
    }
    assert _db_snapshot(COPY).attributes["port"] == "6543"


def test_port_storage_and_option_group_are_filled_from_the_snapshot_the_restore_keeps() -> None:
    """R11, R15: the demo names only the snapshot; render fills Port, StorageType and
    OptionGroupName from it, and the group, the output and the restore use them."""
    database = _demo().stacks["database"]
    for name, attribute in (
        ("Port", "port"),
        ("StorageType", "storage_type"),
        ("OptionGroupName", "option_group"),
    ):
        assert database.parameters[name] == ArtifactRef(artifact="orders_db", attribute=attribute)
    given = {
        "SnapshotIdentifier": COPY["DBSnapshotIdentifier"],
        **{name: rds_restore_keeps(COPY)[a] for name, a in (
            ("Port", "port"), ("StorageType", "storage_type"), ("OptionGroupName", "option_group")
        )},
    }  # fmt: skip
    resources = aws_rules.resolve(database.body, given)
    restore = resources["Database"]["Properties"]
    assert restore["OptionGroupName"] == "orders-options-usw2", "the one CopyDBSnapshot got"
    assert restore["StorageType"] == "io1", "not AWS's default gp3"
    assert "Port" not in restore, "RestoreDBInstanceFromDBSnapshot keeps the source's port"
    (rule,) = resources["DatabaseSecurityGroup"]["Properties"]["SecurityGroupIngress"]
    assert (rule["FromPort"], rule["ToPort"]) == ("6543", "6543")
    assert aws_rules.outputs(database.body, given)["Port"] == "6543"
    defaults = aws_rules.resolve(database.body, {"SnapshotIdentifier": "s", "Port": "5432"})
    assert not {"OptionGroupName", "StorageType"} & set(defaults["Database"]["Properties"])


@pytest.mark.parametrize("mode", ["instance", "aurora"])
def test_declared_parameter_groups_are_made_by_the_stack_and_restored_with(mode: str) -> None:
    """R12: production's custom groups, as capture writes them, are made in the target region
    by the database stack and named on the restore."""
    pg = {"family": "postgres16", "parameters": {"log_min_duration_statement": "500"}}
    options: dict[str, Any] = {"parameter_group": pg}
    if mode == "aurora":
        cluster = {"family": "aurora-postgresql16", "parameters": {"rds.force_ssl": "1"}}
        options = {**AURORA, "parameter_group": {**pg, "family": "aurora-postgresql16"}}
        options["cluster_parameter_group"] = cluster
    resources = aws_rules.resolve(_body(**options), {"SnapshotIdentifier": "s", "Port": "5432"})
    group = resources["ParameterGroup"]
    assert group["Type"] == "AWS::RDS::DBParameterGroup"
    assert group["Properties"]["Parameters"] == {"log_min_duration_statement": "500"}
    holder = resources["ClusterInstance1" if mode == "aurora" else "Database"]["Properties"]
    assert holder["DBParameterGroupName"] == {"Ref": "ParameterGroup"}
    if mode == "aurora":
        made = resources["ClusterParameterGroup"]
        assert made["Type"] == "AWS::RDS::DBClusterParameterGroup"
        assert made["Properties"]["Family"] == "aurora-postgresql16"
        assert resources["Cluster"]["Properties"]["DBClusterParameterGroupName"] == {
            "Ref": "ClusterParameterGroup"
        }


def test_a_cluster_parameter_group_is_refused_outside_aurora() -> None:
    from relight.errors import BlueprintError

    with pytest.raises(BlueprintError, match="cluster_parameter_group is for mode aurora only"):
        REGISTRY["database"].options_from({"cluster_parameter_group": {"family": "postgres16"}})


@pytest.mark.parametrize(
    ("options", "where", "expected"),
    [
        ({}, "Database", "open-source-rds-extended-support"),
        ({"engine": "mysql"}, "Database", "open-source-rds-extended-support"),
        ({"engine": "mariadb"}, "Database", None),  # no Extended Support for MariaDB
        (AURORA, "Cluster", "open-source-rds-extended-support"),
        (AURORA, "ClusterInstance1", None),  # "managed by the DB cluster"
        (
            {"engine_lifecycle_support": "open-source-rds-extended-support-disabled"},
            "Database",
            "open-source-rds-extended-support-disabled",
        ),
    ],
)
def test_engine_lifecycle_support_is_explicit_where_rds_takes_it(
    options: dict[str, Any], where: str, expected: str | None
) -> None:
    """R14: set where RDS documents it (RDS for MySQL and PostgreSQL instances, the Aurora
    cluster), to the file's choice; AWS's own default when the file says nothing."""
    resources = aws_rules.resolve(_body(**options), {"SnapshotIdentifier": "s", "Port": "5432"})
    assert resources[where]["Properties"].get("EngineLifecycleSupport") == expected


def test_an_aurora_restore_inherits_encryption_from_its_snapshot() -> None:
    """R16: StorageEncrypted is not set with SnapshotIdentifier; a KmsKeyId still may be."""
    resources = aws_rules.resolve(
        _body(**AURORA), {"SnapshotIdentifier": "s", "Port": "5432", "KmsKeyId": "alias/k"}
    )
    aws_rules.cluster_restore(resources)
    assert resources["Cluster"]["Properties"]["KmsKeyId"] == "alias/k"
    resources["Cluster"]["Properties"]["StorageEncrypted"] = True  # as the blueprint had it
    with pytest.raises(ClientError, match="don't specify it with SnapshotIdentifier"):
        aws_rules.cluster_restore(resources)


def test_a_kept_snapshot_keeps_the_port_storage_and_option_group_it_was_restored_with() -> None:
    """R1 with R11, R15, R17: a rerun keeps the snapshot a database was restored from, and with
    it what was filled from that snapshot; a newer copy's storage type or option group would
    otherwise modify the live database."""
    import json

    from relight.model.stateful import pin, stateful_parts

    database = _demo().stacks["database"]
    parameters, _ = stateful_parts(json.loads(database.body))
    assert {"SnapshotIdentifier", "Port", "StorageType", "OptionGroupName"} <= set(parameters)
    live = {
        "Parameters": [
            {"ParameterKey": "SnapshotIdentifier", "ParameterValue": "orders-copy-1"},
            {"ParameterKey": "StorageType", "ParameterValue": "gp2"},
            {"ParameterKey": "OptionGroupName", "ParameterValue": "orders-options"},
        ]
    }
    newer = {
        "SnapshotIdentifier": "orders-copy-2",
        "StorageType": "gp3",
        "OptionGroupName": "orders-options-v2",
    }
    pinned, kept = pin(newer, parameters, live, replace=False)
    assert pinned == {
        "SnapshotIdentifier": "orders-copy-1",
        "StorageType": "gp2",
        "OptionGroupName": "orders-options",
    }
    assert {k.parameter for k in kept} == set(newer)
