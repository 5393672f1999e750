"""A replica-mode database's way home (issue 23): R's promoted database replicated home, the
replica promoted once it has replayed past the stop of writes, each step recorded so a rerun
goes on; what stops it refused before anything changes.

moto in-process with `fake_replicas.ReplicaRds` playing RDS's replica rules (moto 5.2.6 keeps a
promoted instance's source); the home stack's CloudFormation deploy is played by a hook that
makes the replica with CreateDBInstanceReadReplica, as the template's resource does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fake_replicas import Promotions, ReplicaAws, ReplicaRds
from relight.aws.clients import Aws, AwsTarget
from relight.commands.connection import Connection
from relight.commands.failback.replicas import (
    find_replicas,
    lookups_after,
    replica_actions,
    run_promote,
    run_replica,
)
from relight.errors import AwsError, PreflightError
from relight.model.config import load_environment
from relight.steps.failback.replica import (
    NOT_A_REPLICA,
    ReplicaHolder,
    caught_up,
    promote,
    wait_caught_up,
    wait_promoted,
)

REPO = Path(__file__).resolve().parent.parent
ACCOUNT, HOME, R = "123456789012", "us-east-1", "us-west-2"
PROMOTED = "demo-database-promoted"  # R's database, promoted at failover
STOP = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def _stack(key: str, ident: str, *, cluster: bool = False) -> dict[str, Any]:
    outputs = [
        {"OutputKey": "DataMode", "OutputValue": "replica"},
        {"OutputKey": "DatabaseIdentifier", "OutputValue": ident},
    ]
    if cluster:
        outputs.append({"OutputKey": "GlobalClusterIdentifier", "OutputValue": "demo-global"})
    return {
        "StackName": f"demo-{key}",
        "Tags": [{"Key": "relight:stack", "Value": key}, {"Key": "relight:env", "Value": "demo"}],
        "Outputs": outputs,
    }


def _database(region: str, ident: str, *, backups: int = 1, encrypted: bool = False) -> str:
    db = boto3.client("rds", region).create_db_instance(
        DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
        AllocatedStorage=20, MasterUsername="relight", MasterUserPassword="not-a-secret-1",
        BackupRetentionPeriod=backups, StorageEncrypted=encrypted,
    )["DBInstance"]  # fmt: skip
    return str(db["DBInstanceArn"])


class Clock:
    """A fake clock that sleeping moves on."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def world() -> Any:
    with mock_aws():
        record = Promotions()
        aws: Any = ReplicaAws(Aws(AwsTarget()), record)
        loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), R)
        yield SimpleNamespace(
            record=record,
            loaded=loaded,
            recovery=Connection(aws, R, ACCOUNT),
            home=Connection(aws, HOME, ACCOUNT),
        )


def _plan(world: Any, holders: list[ReplicaHolder], graceful: bool = True) -> Any:
    return SimpleNamespace(
        loaded=world.loaded, home=HOME, recovery=R, graceful=graceful, replicas=holders,
        progress={},
    )  # fmt: skip


def _deploy(made: list[str]) -> Any:
    """The home stack's deploy as CloudFormation would make its DBInstance: a cross-region read
    replica of `source`, with the home region's key, named as the stack names it."""

    def deploy(plan: Any, home: Connection, holder: ReplicaHolder, source: str) -> str:
        ident = f"demo-{holder.stack}-home"
        made.append(source)
        boto3.client("rds", home.region).create_db_instance_read_replica(  # as CloudFormation
            DBInstanceIdentifier=ident, SourceDBInstanceIdentifier=source, SourceRegion=R,
        )  # fmt: skip
        return ident

    return deploy


def test_a_promoted_database_goes_home_as_a_replica_and_is_promoted_once_past_the_stop(
    world: Any,
) -> None:
    source = _database(R, PROMOTED)
    (holder,) = find_replicas(world.loaded, world.recovery, [_stack("database", PROMOTED)], {})
    assert (holder.stack, holder.artifact, holder.kind) == ("database", "orders_db", "instance")
    plan = _plan(world, [holder])
    actions = replica_actions(plan)
    assert "Nothing is snapshotted or copied" in actions["replica"][0]
    assert "replayed past the stop of writes in us-west-2" in actions["promote"][0]
    progress: dict[str, Any] = {"done": [], "times": {}}
    saved: list[dict[str, Any]] = []

    def save() -> None:
        saved.append({k: dict(v) for k, v in progress.get("replicas", {}).items()})

    made: list[str] = []
    run_replica(plan, world.recovery, world.home, progress, save, deploy=_deploy(made),
                sleep=lambda _: None)  # fmt: skip
    assert made == [source], "home's replica replicates R's promoted database, by its ARN"
    record = progress["replicas"]["database"]
    assert record == {"source": source, "identifier": "demo-database-home"}
    assert saved[0] == {"database": {"source": source}}, "the source is recorded before the deploy"
    rds_home = boto3.client("rds", HOME)
    (replica,) = rds_home.describe_db_instances(DBInstanceIdentifier="demo-database-home")[
        "DBInstances"
    ]
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == source

    # A rerun goes on: the record says the replica was made; it is not made again.
    run_replica(plan, world.recovery, world.home, progress, save, deploy=_deploy(made),
                sleep=lambda _: None)  # fmt: skip
    assert made == [source]

    # Writes stopped at STOP. PostgreSQL's ReplicaLag (the time since the last replayed
    # transaction) climbs while nothing is written: the promotion waits for a replay after it.
    clock = Clock(STOP + timedelta(seconds=30))
    progress["times"]["stop"] = STOP.isoformat()
    readings: list[datetime] = []

    def lag_of(ident: str) -> Any:
        assert ident == "demo-database-home"

        def read(at: datetime) -> float:
            readings.append(at)
            # the last replay before the stop was 40 s before it; a heartbeat at STOP + 5 min
            heartbeat = STOP + timedelta(minutes=5)
            replayed = heartbeat if at >= heartbeat + timedelta(seconds=60) else STOP
            return (at - replayed).total_seconds() + 40 * (replayed == STOP)

        return read

    notes = run_promote(plan, world.home, progress, save, lag_of=lag_of, now=clock.now,
                        sleep=clock.sleep)  # fmt: skip
    assert world.record.calls == [f"{HOME}/demo-database-home"], "promoted once, at home"
    # backups kept as the stack's backup_retention_days (demo.yaml gives none: the
    # blueprint's 7), as the failover's promotion keeps them, not RDS's default of 1
    assert world.record.promoted == {f"{HOME}/demo-database-home": 7}
    assert readings[0] < STOP + timedelta(minutes=5) <= readings[-1] - timedelta(seconds=60), (
        "read until the heartbeat after the stop was replayed, and not promoted before"
    )
    (after,) = world.home.aws.client("rds", HOME).describe_db_instances(
        DBInstanceIdentifier="demo-database-home"
    )["DBInstances"]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in after, "it stands alone: writable"
    assert record["promoted"] and record["caught_up"]["at"]
    assert "demo-database-home promoted" in notes[0]
    (r_db,) = boto3.client("rds", R).describe_db_instances(DBInstanceIdentifier=PROMOTED)[
        "DBInstances"
    ]
    assert r_db["DBInstanceStatus"] == "available", "R's database is left as it was"

    # A rerun after the promotion promotes nothing again and says nothing.
    assert run_promote(plan, world.home, progress, save, lag_of=lag_of, now=clock.now,
                       sleep=clock.sleep) == []  # fmt: skip
    assert world.record.calls == [f"{HOME}/demo-database-home"]


def test_ungraceful_promotes_at_once_without_reading_the_lag(world: Any) -> None:
    source = _database(R, PROMOTED)
    (holder,) = find_replicas(world.loaded, world.recovery, [_stack("database", PROMOTED)], {})
    plan = _plan(world, [holder], graceful=False)
    world.loaded.env.stacks["database"].params["backup_retention_days"] = 21
    progress: dict[str, Any] = {"done": [], "times": {}}
    run_replica(plan, world.recovery, world.home, progress, lambda: None, deploy=_deploy([]),
                sleep=lambda _: None)  # fmt: skip

    def never(ident: str) -> Any:
        raise AssertionError("an ungraceful failback reads no lag")

    run_promote(plan, world.home, progress, lambda: None, lag_of=never, sleep=lambda _: None)
    assert world.record.calls == [f"{HOME}/demo-database-home"]
    assert world.record.promoted == {f"{HOME}/demo-database-home": 21}, "the stack's retention"
    assert progress["replicas"]["database"]["source"] == source
    assert "caught_up" not in progress["replicas"]["database"]


def test_what_stops_a_home_replica_is_refused_before_anything_changes(world: Any) -> None:
    _database(R, PROMOTED, backups=0, encrypted=True)
    loaded = replace(world.loaded, env=world.loaded.env.model_copy(update={"kms_keys": {}}))
    stacks = [_stack("database", PROMOTED), _stack("orders", "demo-orders-secondary", cluster=True)]
    with pytest.raises(PreflightError) as refused:
        find_replicas(loaded, world.recovery, stacks, {})
    said = str(refused.value)
    path = str(loaded.path)
    assert (
        f"{path}: stacks.database.data: {PROMOTED} in us-west-2 has automated backups off" in said
    )
    assert "Automated backups are not enabled for this database instance" in said, "RDS's words"
    assert f"modify-db-instance --region us-west-2 --db-instance-identifier {PROMOTED}" in said
    assert f"{path}: kms_keys: {PROMOTED} in us-west-2 is encrypted" in said
    assert f"{path}: stacks.orders.data: replica, an Aurora cluster" in said
    assert "SwitchoverGlobalCluster" in said, "says what an Aurora way back would take"
    assert boto3.client("rds", HOME).describe_db_instances()["DBInstances"] == [], "nothing made"


def test_a_database_the_failover_left_a_replica_is_refused_with_the_fix(world: Any) -> None:
    home_db = _database(HOME, "demo-orders")
    boto3.client("rds", R).create_db_instance_read_replica(
        DBInstanceIdentifier=PROMOTED, SourceDBInstanceIdentifier=home_db, SourceRegion=HOME
    )
    with pytest.raises(PreflightError, match="is still a read replica") as refused:
        find_replicas(world.loaded, world.recovery, [_stack("database", PROMOTED)], {})
    assert "rerun the failover, which promotes it" in str(refused.value)


def test_rds_refuses_a_replica_of_a_source_without_backups_in_its_own_words(world: Any) -> None:
    """What the refusal above forestalls (the fake plays RDS's answer)."""
    source = _database(R, PROMOTED, backups=0)
    rds = ReplicaRds(boto3.client("rds", HOME), HOME, Promotions())
    with pytest.raises(Exception, match="Automated backups are not enabled") as refused:
        rds.create_db_instance_read_replica(
            DBInstanceIdentifier="x", SourceDBInstanceIdentifier=source, SourceRegion=R
        )
    assert refused.value.response["Error"]["Code"] == "InvalidDBInstanceState"  # type: ignore[attr-defined]


def test_catch_up_is_a_replay_past_the_stop_not_a_lag_of_zero() -> None:
    # A lag of 0 read just after the stop may be a datapoint from before it.
    assert not caught_up(0.0, STOP + timedelta(seconds=30), STOP)
    assert caught_up(0.0, STOP + timedelta(seconds=120), STOP)
    # An idle PostgreSQL replica's lag climbs: caught up once it is younger than the stop.
    assert not caught_up(300.0, STOP + timedelta(minutes=6), STOP)
    assert caught_up(60.0, STOP + timedelta(minutes=6), STOP)
    assert not caught_up(None, STOP + timedelta(hours=1), STOP), "no datapoint proves nothing"


def test_a_catch_up_that_never_comes_stops_with_what_to_do() -> None:
    clock = Clock(STOP)
    with pytest.raises(AwsError) as stopped:
        wait_caught_up(lambda at: None, STOP, identifier="demo-database-home", region=HOME,
                       now=clock.now, sleep=clock.sleep, timeout=600)  # fmt: skip
    assert "demo-database-home in us-east-1 has not replayed past the stop" in str(stopped.value)
    assert "no ReplicaLag datapoint" in str(stopped.value)
    assert "rerun the failback: it goes on waiting" in (stopped.value.hint or "")
    assert clock.at == STOP + timedelta(seconds=600)


def test_a_promotion_another_run_made_meanwhile_is_not_an_error() -> None:
    from botocore.exceptions import ClientError

    class Raced:
        calls = 0

        def describe_db_instances(self, **kwargs: Any) -> dict[str, Any]:
            return {"DBInstances": [{
                "DBInstanceIdentifier": "x", "DBInstanceStatus": "available",
                "ReadReplicaSourceDBInstanceIdentifier": "arn:aws:rds:us-west-2:1:db:y",
            }]}  # fmt: skip

        def promote_read_replica(self, **kwargs: Any) -> None:
            self.calls += 1
            error = {"Code": "InvalidDBInstanceState", "Message": f"{NOT_A_REPLICA}."}
            raise ClientError({"Error": error}, "PromoteReadReplica")

    raced = Raced()
    assert promote(raced, "database", "x", HOME, retention_days=7) is False
    assert raced.calls == 1


def test_after_the_return_the_lookup_that_names_the_old_database_is_named(world: Any) -> None:
    holder = ReplicaHolder("database", "demo-database", "orders_db", "instance", PROMOTED, "")
    plan = _plan(world, [holder])
    progress = {"replicas": {"database": {"identifier": "demo-database-home"}}}
    (note,) = lookups_after(plan, progress)
    assert f"{world.loaded.path}: artifacts.orders_db.db_instance names demo-orders" in note
    assert (
        "set db_instance: demo-database-home before the next relight prepare in us-west-2; "
        "until then that prepare replicates demo-orders, or is refused if demo-orders is gone"
    ) in note
    lined = world.loaded.env.artifacts["orders_db"].model_copy(
        update={"db_instance": "demo-database-home"}
    )
    env = world.loaded.env.model_copy(
        update={"artifacts": {**world.loaded.env.artifacts, "orders_db": lined}}
    )
    plan.loaded = replace(world.loaded, env=env)
    assert lookups_after(plan, progress) == []


def test_a_failback_stopped_in_the_replica_phases_goes_on_from_its_record(world: Any) -> None:
    """A deploy that fails after the source is recorded, then a promotion RDS throttles: each
    rerun goes on from what the record says, making and promoting the replica once."""
    from botocore.exceptions import ClientError

    source = _database(R, PROMOTED)
    (holder,) = find_replicas(world.loaded, world.recovery, [_stack("database", PROMOTED)], {})
    plan = _plan(world, [holder], graceful=False)
    progress: dict[str, Any] = {"done": [], "times": {}}
    made: list[str] = []

    def failing(plan: Any, home: Connection, holder: ReplicaHolder, source: str) -> str:
        raise AwsError("demo-database in us-east-1: CREATE_FAILED (Rate exceeded)")

    with pytest.raises(AwsError, match="Rate exceeded"):
        run_replica(plan, world.recovery, world.home, progress, lambda: None, deploy=failing,
                    sleep=lambda _: None)  # fmt: skip
    assert progress["replicas"] == {"database": {"source": source}}
    run_replica(plan, world.recovery, world.home, progress, lambda: None, deploy=_deploy(made),
                sleep=lambda _: None)  # fmt: skip
    assert made == [source] and progress["replicas"]["database"]["identifier"]

    rds = world.home.aws.client("rds", HOME)
    throttled = {"left": 1}
    real = rds._client.promote_read_replica

    def once_throttled(**kwargs: Any) -> Any:
        if throttled["left"]:
            throttled["left"] -= 1
            error = {"Code": "Throttling", "Message": "Rate exceeded"}
            raise ClientError({"Error": error}, "PromoteReadReplica")
        return real(**kwargs)

    rds._client.promote_read_replica = once_throttled
    home = Connection(SimpleNamespace(client=lambda service, region: rds), HOME, ACCOUNT)  # type: ignore[arg-type]
    with pytest.raises(AwsError, match="rerun the failback") as stopped:
        run_promote(plan, home, progress, lambda: None, sleep=lambda _: None)
    assert "could not promote demo-database-home in us-east-1" in str(stopped.value)
    assert "promoted" not in progress["replicas"]["database"]
    run_promote(plan, home, progress, lambda: None, sleep=lambda _: None)
    assert progress["replicas"]["database"]["promoted"]
    assert world.record.calls == [f"{HOME}/demo-database-home"] * 2, "throttled, then promoted"
    assert list(world.record.promoted) == [f"{HOME}/demo-database-home"]


def test_home_promoted_and_running_its_first_backup_is_writable_not_waited_through() -> None:
    class FirstBackup:
        """DescribeDBInstances right after PromoteReadReplica: standalone, backing-up (D25)."""

        def __init__(self) -> None:
            self.looks = 0

        def describe_db_instances(self, **_: Any) -> dict[str, Any]:
            self.looks += 1
            return {"DBInstances": [{
                "DBInstanceIdentifier": "x", "DBInstanceStatus": "backing-up",
                "Endpoint": {"Address": "x.home.rds.amazonaws.com", "Port": 5432},
            }]}  # fmt: skip

    rds, slept = FirstBackup(), []
    state = wait_promoted(rds, "database", "x", HOME, sleep=slept.append, timeout=60)
    assert (state.writable, state.backing_up, rds.looks, slept) == (True, True, 1, [])
