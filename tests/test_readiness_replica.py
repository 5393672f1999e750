"""Readiness of a replica-mode database (steps/replica/health.py): the replica exists in the
recovery region, replicates, and lags under the RPO objective; each problem names the file,
the key and the fix. On moto with the stand-in's replicas (their lag, StatusInfos and faults)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from fake_replicas import replica_in_west
from relight.model.faults import Faults
from relight.standin.faults import REGISTRY
from relight.steps.replica.health import ERROR, WARNING, replica_problems
from relight.steps.replica.state import read_replica_state

WHERE = "stacks/demo.yaml: stacks.database"
PREPARE = "relight prepare --env demo --region us-west-2 --strategy pilot_light --data replica"


@pytest.fixture
def west() -> Iterator[dict[str, Any]]:
    """orders in us-east-1 and its read replica orders-replica in us-west-2 (moto)."""
    with replica_in_west("test-readiness-replica") as clients:
        yield clients


def _problems(west: dict[str, Any], outputs: dict[str, Any] | None, rpo: int = 300, **kw: Any):  # type: ignore[no-untyped-def]
    return replica_problems(
        "database", outputs, where=WHERE, region="us-west-2", rpo=rpo,
        at=datetime.now(UTC), rds=west["rds"], cloudwatch=west["cloudwatch"], prepare=PREPARE,
        **kw,
    )  # fmt: skip


def _fault(**fault: Any) -> None:
    REGISTRY.replace("test-readiness-replica", Faults.model_validate({"replicas": [fault]}))


def test_a_replicating_replica_under_the_rpo_is_ready(west: dict[str, Any]) -> None:
    assert _problems(west, {"DatabaseIdentifier": "orders-replica"}) == []


def test_no_prepared_replica_is_an_error_fixed_by_prepare_with_data_replica(west: Any) -> None:
    [problem] = _problems(west, None)
    assert problem.severity == ERROR
    assert problem.message.startswith(f"{WHERE}: data: replica, but no replica is prepared")
    assert problem.fix == PREPARE


def test_a_replica_the_region_does_not_hold_is_an_error(west: dict[str, Any]) -> None:
    [problem] = _problems(west, {"DatabaseIdentifier": "orders-gone"})
    assert problem.severity == ERROR
    assert "read replica orders-gone the prepared stack names does not exist in us-west-2" in (
        problem.message
    )
    assert problem.fix == PREPARE


def test_a_lagging_replica_over_the_rpo_is_an_error_saying_how_much(west: Any) -> None:
    _fault(db="orders-replica", lag=600)
    [problem] = _problems(west, {"DatabaseIdentifier": "orders-replica"}, rpo=300)
    assert problem.severity == ERROR
    assert problem.message == (
        f"{WHERE}: ReplicaLag of orders-replica: 600 s at most in the last 15 min in "
        "us-west-2: more than the RPO objective (5 min): a promotion now would lose up to "
        "10 min of writes"
    )
    assert "--db-instance-identifier orders-replica" in problem.fix
    # the same lag under a larger objective is no problem
    assert _problems(west, {"DatabaseIdentifier": "orders-replica"}, rpo=3600) == []


def test_a_replica_that_stopped_replicating_is_an_error_quoting_its_status_infos(
    west: Any,
) -> None:
    _fault(db="orders-replica", mode="stopped", message="Replication has stopped.")
    [problem] = _problems(west, {"DatabaseIdentifier": "orders-replica"})
    assert problem.severity == ERROR
    assert "read replica orders-replica in us-west-2 is not replicating" in problem.message
    assert "Replication has stopped." in problem.message
    assert "look at the replica's StatusInfos message" in problem.fix
    assert PREPARE in problem.fix


def test_a_promoted_replica_is_an_error_pointing_at_failback(west: Any) -> None:
    def promoted(*args: Any) -> Any:
        state = read_replica_state(*args)
        return replace(state, promoted=True, replicating=False, source_arn=None)

    [problem] = _problems(west, {"DatabaseIdentifier": "orders-replica"}, read_state=promoted)
    assert problem.severity == ERROR
    assert "was promoted" in problem.message and "cannot be undone" in problem.message
    assert "relight failback" in problem.fix


def test_no_lag_datapoint_yet_is_a_warning(west: Any) -> None:
    from relight.steps.replica.lag import Lag

    def nothing(_cw: Any, kind: str, identifier: str, at: datetime) -> Lag:
        return Lag(kind, identifier, "ReplicaLag", at, None, None, 0)

    [problem] = _problems(west, {"DatabaseIdentifier": "orders-replica"}, read_lag=nothing)
    assert problem.severity == WARNING
    assert "no ReplicaLag datapoint for orders-replica" in problem.message
