"""steps/replica/state.py: what RDS in the recovery region says of a replica-mode database.

RDS answers through a botocore Stubber with the shapes its API documents (DescribeDBInstances'
`ReadReplicaSourceDBInstanceIdentifier` and `StatusInfos`, DescribeDBClusters'
`GlobalClusterIdentifier`, DescribeGlobalClusters' members), and its own "not found" errors.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from relight.errors import AwsError
from relight.steps.replica.state import read_replica_state

HOME_ARN = "arn:aws:rds:us-east-1:123456789012:db:demo-prod"
PRIMARY = "arn:aws:rds:us-east-1:123456789012:cluster:demo-prod"
SECONDARY = "arn:aws:rds:us-west-2:123456789012:cluster:demo-replica"
GLOBAL = "demo-global"


def _rds() -> tuple[Any, Stubber]:
    client = boto3.client("rds", "us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    return client, Stubber(client)


def _instance(**extra: Any) -> dict[str, Any]:
    return {
        "DBInstanceIdentifier": "demo-replica",
        "DBInstanceStatus": "available",
        "Endpoint": {"Address": "demo-replica.x.us-west-2.rds.amazonaws.com", "Port": 5432},
        **extra,
    }


def _replication(status: str, message: str | None = None) -> dict[str, Any]:
    info: dict[str, Any] = {
        "StatusType": "read replication",
        "Normal": status == "replicating",
        "Status": status,
    }
    if message:
        info["Message"] = message
    return {"StatusInfos": [info]}


def _read(
    stub: Stubber, client: Any, answer: dict[str, Any], kind: str = "instance", then: Any = ()
) -> Any:
    op = "describe_db_instances" if kind == "instance" else "describe_db_clusters"
    key = "DBInstances" if kind == "instance" else "DBClusters"
    param = "DBInstanceIdentifier" if kind == "instance" else "DBClusterIdentifier"
    stub.add_response(op, {key: [answer]}, {param: "demo-replica"})
    for response in then:
        stub.add_response("describe_global_clusters", response, {"GlobalClusterIdentifier": GLOBAL})
    with stub:
        return read_replica_state(client, "database", kind, "demo-replica", "us-west-2")


def test_a_replicating_replica_names_its_source_and_its_endpoint() -> None:
    client, stub = _rds()
    state = _read(
        stub,
        client,
        _instance(ReadReplicaSourceDBInstanceIdentifier=HOME_ARN, **_replication("replicating")),
    )
    assert (state.exists, state.replicating, state.promoted) == (True, True, False)
    assert state.source_arn == HOME_ARN
    assert state.endpoint == "demo-replica.x.us-west-2.rds.amazonaws.com"
    assert state.port == 5432
    assert state.detail == (
        f"DB instance demo-replica replicates from {HOME_ARN} (replication: replicating)"
    )


def test_a_replica_whose_replication_stopped_is_a_replica_that_does_not_replicate() -> None:
    client, stub = _rds()
    state = _read(
        stub,
        client,
        _instance(
            ReadReplicaSourceDBInstanceIdentifier=HOME_ARN,
            **_replication("error", "Replication has stopped."),
        ),
    )
    assert (state.exists, state.replicating, state.promoted, state.replica) == (
        True, False, False, True,
    )  # fmt: skip
    assert "replication: error): Replication has stopped." in state.detail


def test_an_instance_without_a_source_is_promoted() -> None:
    client, stub = _rds()
    state = _read(stub, client, _instance())
    assert (state.exists, state.replicating, state.promoted) == (True, False, True)
    assert state.source_arn is None
    assert "stands alone (available): not a replica" in state.detail


def test_a_missing_instance_is_not_an_error_but_says_where_it_was_looked_for() -> None:
    client, stub = _rds()
    stub.add_client_error(
        "describe_db_instances",
        "DBInstanceNotFound",
        "DBInstance demo-replica not found.",
        404,
    )
    with stub:
        state = read_replica_state(client, "database", "instance", "demo-replica", "us-west-2")
    assert (state.exists, state.status, state.endpoint) == (False, "missing", None)
    assert state.detail == "DB instance demo-replica does not exist in us-west-2"


def test_a_refusal_other_than_not_found_is_an_aws_error_naming_the_read() -> None:
    client, stub = _rds()
    stub.add_client_error("describe_db_instances", "AccessDenied", "no", 403)
    with stub, pytest.raises(AwsError) as caught:
        read_replica_state(client, "database", "instance", "demo-replica", "us-west-2")
    assert "cannot read DB instance demo-replica in us-west-2" in str(caught.value)


def _cluster(**extra: Any) -> dict[str, Any]:
    return {
        "DBClusterIdentifier": "demo-replica",
        "DBClusterArn": SECONDARY,
        "Status": "available",
        "Endpoint": "demo-replica.cluster-x.us-west-2.rds.amazonaws.com",
        "Port": 3306,
        **extra,
    }


def _members(secondary_sync: str = "connected", secondary_writer: bool = False) -> Any:
    return {
        "GlobalClusters": [
            {
                "GlobalClusterIdentifier": GLOBAL,
                "GlobalClusterMembers": [
                    {"DBClusterArn": PRIMARY, "IsWriter": not secondary_writer},
                    {
                        "DBClusterArn": SECONDARY,
                        "IsWriter": secondary_writer,
                        "SynchronizationStatus": secondary_sync,
                    },
                ],
            }
        ]
    }


def test_an_aurora_secondary_replicates_from_the_global_databases_writer() -> None:
    client, stub = _rds()
    state = _read(
        stub, client, _cluster(GlobalClusterIdentifier=GLOBAL), "cluster", [_members()] * 2
    )
    assert (state.exists, state.replicating, state.promoted) == (True, True, False)
    assert state.source_arn == PRIMARY
    assert state.port == 3306
    assert "secondary of global database demo-global" in state.detail


def test_an_aurora_secondary_out_of_sync_does_not_replicate() -> None:
    client, stub = _rds()
    members = _members("pending-resync")
    state = _read(stub, client, _cluster(GlobalClusterIdentifier=GLOBAL), "cluster", [members] * 2)
    assert (state.replicating, state.promoted) == (False, False)
    assert "synchronization: pending-resync" in state.detail


def test_an_aurora_cluster_out_of_any_global_database_is_promoted() -> None:
    client, stub = _rds()
    state = _read(stub, client, _cluster(), "cluster")
    assert (state.exists, state.replicating, state.promoted, state.source_arn) == (
        True, False, True, None,
    )  # fmt: skip
    assert "in no global database" in state.detail


@pytest.mark.parametrize(
    ("code", "status"), [("Throttling", 400), ("InternalFailure", 500), ("AccessDenied", 403)]
)
def test_a_global_database_that_cannot_be_read_leaves_membership_unknown_not_an_error(
    code: str, status: int
) -> None:
    client, stub = _rds()
    stub.add_response(
        "describe_db_clusters",
        {"DBClusters": [_cluster(GlobalClusterIdentifier=GLOBAL)]},
        {"DBClusterIdentifier": "demo-replica"},
    )
    stub.add_client_error(
        "describe_global_clusters", code, "no answer", http_status_code=status,
        expected_params={"GlobalClusterIdentifier": GLOBAL},
    )  # fmt: skip
    with stub:
        state = read_replica_state(client, "database", "cluster", "demo-replica", "us-west-2")
    # still in the global database by its own GlobalClusterIdentifier: a secondary, not
    # promoted; whether it replicates is not known
    assert (state.exists, state.promoted, state.replicating) == (True, False, False)
    assert state.membership_known is False
    assert state.detail.startswith(
        "DB cluster demo-replica is in global database demo-global (its own "
        "GlobalClusterIdentifier); its membership could not be read: cannot read global "
        "database demo-global from us-west-2"
    )


def test_a_promoted_instance_backing_up_is_writable_and_a_replica_backing_up_is_not() -> None:
    client, stub = _rds()
    promoted = _read(stub, client, _instance(DBInstanceStatus="backing-up"))
    assert (promoted.writable, promoted.backing_up, promoted.available) == (True, True, False)
    client, stub = _rds()
    replica = _read(
        stub, client,
        _instance(DBInstanceStatus="backing-up", ReadReplicaSourceDBInstanceIdentifier=HOME_ARN),
    )  # fmt: skip
    assert (replica.writable, replica.replica) == (False, True)
