"""The stand-in's read replicas and Aurora global databases (standin/extensions/rds/promotion.py),
driven through the RDS API as a failover drives them: PromoteReadReplica and
RemoveFromGlobalCluster in the recovery region, the replica's StatusInfos, and RDS's errors.
Written against moto 5.2.6 (which leaves a promoted instance naming its source and swallows
RemoveFromGlobalCluster's errors)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from fake_replicas import home_and_replica
from relight.steps.replica.state import read_replica_state

HOME, REGION = "us-east-1", "us-west-2"


@pytest.fixture
def rds() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        yield boto3.client("rds", HOME), boto3.client("rds", REGION)


def _instance(client: Any, name: str) -> dict[str, Any]:
    return dict(client.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0])


def test_a_cross_region_replica_reports_its_source_and_that_it_replicates(
    rds: tuple[Any, Any],
) -> None:
    home, here = rds
    arn = home_and_replica(home, here)
    replica = _instance(here, "orders-replica")
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == arn
    assert replica["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": True, "Status": "replicating"}
    ]
    assert _instance(home, "orders")["ReadReplicaDBInstanceIdentifiers"] == [
        replica["DBInstanceArn"]
    ]


def test_promotion_makes_a_standalone_instance_through_modifying_to_available(
    rds: tuple[Any, Any],
) -> None:
    home, here = rds
    home_and_replica(home, here)
    answer = here.promote_read_replica(
        DBInstanceIdentifier="orders-replica", BackupRetentionPeriod=14
    )["DBInstance"]
    assert answer["DBInstanceStatus"] == "modifying"
    watched = [_instance(here, "orders-replica")["DBInstanceStatus"] for _ in range(3)]
    assert watched == ["modifying", "available", "available"]
    promoted = _instance(here, "orders-replica")
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
    assert "StatusInfos" not in promoted
    assert promoted["BackupRetentionPeriod"] == 14
    assert _instance(home, "orders").get("ReadReplicaDBInstanceIdentifiers", []) == []
    state = read_replica_state(here, "db", "instance", "orders-replica", REGION)
    assert (state.promoted, state.replicating, state.status) == (True, False, "available")


def test_promoting_an_instance_that_is_not_a_replica_answers_rds_error_and_there_is_no_way_back(
    rds: tuple[Any, Any],
) -> None:
    home, here = rds
    home_and_replica(home, here)
    here.promote_read_replica(DBInstanceIdentifier="orders-replica")
    for client, name in ((here, "orders-replica"), (home, "orders")):
        with pytest.raises(ClientError) as refused:
            client.promote_read_replica(DBInstanceIdentifier=name)
        assert refused.value.response["Error"]["Code"] == "InvalidDBInstanceState"
        assert refused.value.response["Error"]["Message"] == "DB Instance is not a read replica"
    assert "ReadReplicaSourceDBInstanceIdentifier" not in _instance(here, "orders-replica")


def test_a_replica_whose_source_is_gone_stops_replicating_and_stays_readable(
    rds: tuple[Any, Any],
) -> None:
    home, here = rds
    arn = home_and_replica(home, here)
    home.delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
    replica = _instance(here, "orders-replica")
    assert replica["DBInstanceStatus"] == "available"
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == arn
    [info] = replica["StatusInfos"]
    assert (info["Status"], info["Normal"]) == ("error", False)
    state = read_replica_state(here, "db", "instance", "orders-replica", REGION)
    assert (state.replica, state.replicating) == (True, False)
    here.promote_read_replica(DBInstanceIdentifier="orders-replica")  # how to recover
    assert "StatusInfos" not in _instance(here, "orders-replica")


def _global_database(home: Any, here: Any) -> tuple[str, str]:
    home.create_db_cluster(
        DBClusterIdentifier="orders",
        Engine="aurora-postgresql",
        MasterUsername="app",
        MasterUserPassword="not-a-real-password",
    )
    primary = str(home.describe_db_clusters()["DBClusters"][0]["DBClusterArn"])
    home.create_global_cluster(
        GlobalClusterIdentifier="orders-global", SourceDBClusterIdentifier=primary
    )
    here.create_db_cluster(
        DBClusterIdentifier="orders-secondary",
        Engine="aurora-postgresql",
        GlobalClusterIdentifier="orders-global",
    )
    secondary = here.describe_db_clusters(DBClusterIdentifier="orders-secondary")["DBClusters"][0]
    return primary, str(secondary["DBClusterArn"])


def _members(client: Any) -> dict[str, bool]:
    found = client.describe_global_clusters(GlobalClusterIdentifier="orders-global")
    return {
        m["DBClusterArn"]: m["IsWriter"] for m in found["GlobalClusters"][0]["GlobalClusterMembers"]
    }


def test_the_global_database_is_seen_from_the_recovery_region_with_its_writer(
    rds: tuple[Any, Any],
) -> None:
    home, here = rds
    primary, secondary = _global_database(home, here)
    assert _members(here) == {primary: True, secondary: False}
    state = read_replica_state(here, "db", "cluster", "orders-secondary", REGION)
    assert (state.replica, state.replicating, state.source_arn) == (True, True, primary)
    with pytest.raises(ClientError) as missing:
        here.describe_global_clusters(GlobalClusterIdentifier="no-such-global")
    assert missing.value.response["Error"]["Code"] == "GlobalClusterNotFoundFault"


def test_remove_from_global_cluster_detaches_the_secondary_which_then_stands_alone(
    rds: tuple[Any, Any],
) -> None:
    home, here = rds
    primary, secondary = _global_database(home, here)
    here.remove_from_global_cluster(
        GlobalClusterIdentifier="orders-global", DbClusterIdentifier=secondary
    )
    assert _members(here) == {primary: True}
    cluster = here.describe_db_clusters(DBClusterIdentifier="orders-secondary")["DBClusters"][0]
    assert "GlobalClusterIdentifier" not in cluster
    assert cluster["Status"] == "promoting"
    state = read_replica_state(here, "db", "cluster", "orders-secondary", REGION)
    assert (state.promoted, state.replicating, state.status) == (True, False, "available")


def test_remove_from_global_cluster_answers_rds_errors_instead_of_swallowing_them(
    rds: tuple[Any, Any],
) -> None:
    home, here = rds
    _, secondary = _global_database(home, here)
    cases = [
        ("no-such-global", secondary, "GlobalClusterNotFoundFault"),
        ("orders-global", secondary.replace("orders-secondary", "gone"), "DBClusterNotFoundFault"),
    ]
    for global_id, cluster, code in cases:
        with pytest.raises(ClientError) as refused:
            here.remove_from_global_cluster(
                GlobalClusterIdentifier=global_id, DbClusterIdentifier=cluster
            )
        assert refused.value.response["Error"]["Code"] == code
    here.remove_from_global_cluster(
        GlobalClusterIdentifier="orders-global", DbClusterIdentifier=secondary
    )
    with pytest.raises(ClientError) as again:
        here.remove_from_global_cluster(
            GlobalClusterIdentifier="orders-global", DbClusterIdentifier=secondary
        )
    assert again.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert (
        "is not found in global cluster orders-global" in again.value.response["Error"]["Message"]
    )
