"""How far a replica lags (steps/replica/lag.py), and the stand-in's replicas that report it
(standin/extensions/replica_lag.py) with the replica faults of standin/faults.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from fake_replicas import replica_in_west
from relight.errors import AwsError
from relight.model.faults import Faults
from relight.standin.faults import REGISTRY
from relight.steps.replica.lag import replica_lag, replica_lag_seconds

NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


class FakeCloudWatch:
    """GetMetricStatistics answering with the datapoints given (any request)."""

    def __init__(self, points: list[tuple[int, float, str]]) -> None:
        self.points = points
        self.asked: list[dict[str, Any]] = []

    def get_metric_statistics(self, **request: Any) -> dict[str, Any]:
        self.asked.append(request)
        return {
            "Label": request["MetricName"],
            "Datapoints": [
                {"Timestamp": NOW - timedelta(minutes=ago), "Maximum": value, "Unit": unit}
                for ago, value, unit in self.points
            ],
        }


def test_an_instances_lag_is_replicalag_by_its_identifier_the_largest_of_the_window() -> None:
    client = boto3.client("cloudwatch", region_name="us-west-2")
    stub = Stubber(client)
    stub.add_response(
        "get_metric_statistics",
        {
            "Datapoints": [
                {"Timestamp": NOW - timedelta(minutes=3), "Maximum": 41.0, "Unit": "Seconds"},
                {"Timestamp": NOW - timedelta(minutes=1), "Maximum": 7.0, "Unit": "Seconds"},
            ]
        },
        {
            "Namespace": "AWS/RDS",
            "MetricName": "ReplicaLag",
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": "orders-replica"}],
            "StartTime": NOW - timedelta(minutes=15),
            "EndTime": NOW,
            "Period": 60,
            "Statistics": ["Maximum"],
        },
    )
    with stub:
        assert replica_lag_seconds(client, "instance", "orders-replica", NOW) == 41.0


def test_a_clusters_lag_is_aurora_global_replication_lag_in_milliseconds_made_seconds() -> None:
    cw = FakeCloudWatch([(2, 850.0, "Milliseconds"), (1, 1200.0, "Milliseconds")])
    assert replica_lag_seconds(cw, "cluster", "orders-west", NOW) == 1.2
    asked = cw.asked[0]
    assert asked["MetricName"] == "AuroraGlobalDBReplicationLag"
    assert asked["Dimensions"] == [{"Name": "DBClusterIdentifier", "Value": "orders-west"}]


def test_no_datapoint_is_none_and_minus_one_is_replication_not_active() -> None:
    assert replica_lag_seconds(FakeCloudWatch([]), "instance", "r", NOW) is None
    stopped = replica_lag(FakeCloudWatch([(2, 3.0, "Seconds"), (1, -1.0, "Seconds")]),
                          "instance", "r", NOW)  # fmt: skip
    assert stopped.inactive
    assert stopped.seconds == 3.0  # the -1 is no lag of -1 s
    assert "replication is not active" in stopped.describe()


def test_a_refused_read_names_the_metric_the_replica_and_the_region() -> None:
    client = boto3.client("cloudwatch", region_name="us-west-2")
    stub = Stubber(client)
    stub.add_client_error(
        "get_metric_statistics",
        service_error_code="AccessDenied",
        service_message="User is not authorized to perform: cloudwatch:GetMetricStatistics",
        http_status_code=403,
    )
    with stub, pytest.raises(AwsError) as caught:
        replica_lag(client, "instance", "orders-replica", NOW)
    said = str(caught.value)
    assert "CloudWatch in us-west-2 could not give ReplicaLag of orders-replica" in said


# --- the stand-in -----------------------------------------------------------------------------


@pytest.fixture
def replica() -> Iterator[dict[str, Any]]:
    """A PostgreSQL instance in us-east-1 and its read replica in us-west-2, on moto."""
    with replica_in_west("test-replica") as clients:
        yield clients


def _now() -> datetime:
    return datetime.now(UTC)


def test_on_the_stand_in_a_replica_reports_a_small_lag_and_replicating(replica: Any) -> None:
    lag = replica_lag(replica["cloudwatch"], "instance", "orders-replica", _now())
    assert lag.seconds is not None and 0 < lag.seconds < 10
    assert not lag.inactive
    # the source publishes no ReplicaLag: it is no replica
    assert replica_lag_seconds(replica["home_cloudwatch"], "instance", "orders", _now()) is None
    found = replica["rds"].describe_db_instances(DBInstanceIdentifier="orders-replica")
    assert found["DBInstances"][0]["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": True, "Status": "replicating"}
    ]


def test_a_replica_fault_makes_it_lag_or_stop_replicating(replica: Any) -> None:
    REGISTRY.replace("test-replica", Faults.model_validate(
        {"replicas": [{"db": "orders-*", "lag": 600}]}
    ))  # fmt: skip
    assert replica_lag_seconds(replica["cloudwatch"], "instance", "orders-replica", _now()) == 600

    REGISTRY.replace("test-replica", Faults.model_validate(
        {"replicas": {"db": "orders-replica", "mode": "stopped", "message": "WAL gap"}}
    ))  # fmt: skip
    stopped = replica_lag(replica["cloudwatch"], "instance", "orders-replica", _now())
    assert stopped.inactive and stopped.seconds is None
    info = replica["rds"].describe_db_instances(DBInstanceIdentifier="orders-replica")
    assert info["DBInstances"][0]["StatusInfos"] == [
        {"StatusType": "read replication", "Normal": False, "Status": "error", "Message": "WAL gap"}
    ]

    REGISTRY.clear("test-replica")  # cleared: back to replicating
    assert replica_lag(replica["cloudwatch"], "instance", "orders-replica", _now()).seconds == 2.0


def test_the_faults_describe_a_replica_fault_for_a_newcomer() -> None:
    faults = Faults.model_validate(
        {"replicas": [{"db": "*", "lag": 90}, {"db": "orders", "mode": "stopped"}]}
    )
    assert faults.describe() == "replica * lags 90 s; replica orders stopped replicating"


def test_on_the_stand_in_an_aurora_secondary_reports_its_global_replication_lag() -> None:
    with mock_aws():
        east = boto3.client("rds", region_name="us-east-1")
        primary = east.create_db_cluster(
            DBClusterIdentifier="orders", Engine="aurora-postgresql",
            MasterUsername="admin", MasterUserPassword="secret123",
        )["DBCluster"]  # fmt: skip
        east.create_global_cluster(
            GlobalClusterIdentifier="orders-global",
            SourceDBClusterIdentifier=primary["DBClusterArn"],
        )
        boto3.client("rds", region_name="us-west-2").create_db_cluster(
            DBClusterIdentifier="orders-west", Engine="aurora-postgresql",
            GlobalClusterIdentifier="orders-global",
        )  # fmt: skip
        west = boto3.client("cloudwatch", region_name="us-west-2")
        east_cw = boto3.client("cloudwatch", region_name="us-east-1")
        try:
            assert replica_lag_seconds(west, "cluster", "orders-west", _now()) == 2.0
            # the primary (the writer) publishes none
            assert replica_lag_seconds(east_cw, "cluster", "orders", _now()) is None
            REGISTRY.replace("test-replica", Faults.model_validate(
                {"replicas": [{"db": "orders-west", "lag": 30}]}
            ))  # fmt: skip
            assert replica_lag_seconds(west, "cluster", "orders-west", _now()) == 30.0
        finally:
            REGISTRY.clear("test-replica")
