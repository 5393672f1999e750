"""Capture of a database's parameter groups (R18): production's custom group is written with
its family and the parameters set in it, the database blueprint takes it as is, and the stack
makes the same group in the recovery region; AWS's default groups are left out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import BLUEPRINTS
from relight.capture.common import Note
from relight.capture.databases import _cluster_groups
from relight.capture.db_groups import groups_of
from relight.model.blueprint import load_registry


@pytest.fixture
def rds() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("rds", "us-east-1")


def _production(rds: Any, group: str | None) -> dict[str, Any]:
    if group:
        rds.create_db_parameter_group(
            DBParameterGroupName=group, DBParameterGroupFamily="postgres16", Description="orders"
        )
        rds.modify_db_parameter_group(
            DBParameterGroupName=group,
            Parameters=[
                {"ParameterName": "log_min_duration_statement", "ParameterValue": "500",
                 "ApplyMethod": "immediate"},
                {"ParameterName": "rds.force_ssl", "ParameterValue": "1",
                 "ApplyMethod": "pending-reboot"},
            ],
        )  # fmt: skip
    rds.create_db_instance(
        DBInstanceIdentifier="shop-orders", Engine="postgres", EngineVersion="16.4",
        DBInstanceClass="db.t4g.medium", AllocatedStorage=20, MasterUsername="shop",
        MasterUserPassword="not-a-secret-1",
        **({"DBParameterGroupName": group} if group else {}),
    )  # fmt: skip
    return dict(rds.describe_db_instances()["DBInstances"][0])


def test_a_custom_parameter_group_is_written_with_its_family_and_settings(rds: Any) -> None:
    params: dict[str, Any] = {"mode": "instance", "engine": "postgres"}
    notes: list[Note] = []
    groups_of(rds, _production(rds, "orders-pg16"), params, notes)
    assert params["parameter_group"] == {
        "family": "postgres16",
        "parameters": {"log_min_duration_statement": "500", "rds.force_ssl": "1"},
    }
    template = load_registry(BLUEPRINTS)["database"].render(params).to_dict()
    made = template["Resources"]["ParameterGroup"]
    assert made["Properties"]["Family"] == "postgres16"
    assert template["Resources"]["Database"]["Properties"]["DBParameterGroupName"] == {
        "Ref": "ParameterGroup"
    }


def test_aws_default_groups_are_not_written(rds: Any) -> None:
    params: dict[str, Any] = {}
    notes: list[Note] = []
    db = _production(rds, None)
    assert db["DBParameterGroups"][0]["DBParameterGroupName"].startswith("default.")
    groups_of(rds, db, params, notes)
    assert params == {} and notes == []


def test_a_custom_option_group_is_named_with_what_to_do(rds: Any) -> None:
    db = {
        "DBInstanceIdentifier": "shop-orders",
        "DBParameterGroups": [],
        "OptionGroupMemberships": [{"OptionGroupName": "orders-audit", "Status": "in-sync"}],
    }
    notes: list[Note] = []
    groups_of(rds, db, {}, notes)
    assert [n.line() for n in notes] == [
        "shop-orders OptionGroupMemberships: option group orders-audit: make one with the same "
        "options in each recovery region and name it under artifacts.NAME.option_groups; "
        "replicate copies the snapshot with it and the restore takes the copy's"
    ]


def test_an_aurora_clusters_custom_group_is_written_as_cluster_parameter_group(rds: Any) -> None:
    rds.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="orders-cluster-pg16",
        DBParameterGroupFamily="aurora-postgresql16",
        Description="orders",
    )
    rds.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="orders-cluster-pg16",
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "1",
                     "ApplyMethod": "pending-reboot"}],
    )  # fmt: skip
    cluster = {"DBClusterIdentifier": "orders", "DBClusterParameterGroup": "orders-cluster-pg16"}
    params: dict[str, Any] = {}
    _cluster_groups(rds, cluster, [], params)
    assert params == {
        "cluster_parameter_group": {
            "family": "aurora-postgresql16",
            "parameters": {"rds.force_ssl": "1"},
        }
    }
