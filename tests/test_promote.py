"""steps/replica/promote.py and preflight.py: a replica-mode failover's promotion, in the
recovery region only, and the preflight that comes before any change.

RDS is moto in-process with the stand-in's additions (which play PromoteReadReplica and
RemoveFromGlobalCluster as RDS documents them: docs/aws-behaviours.md D20-D27), or, where RDS
must stay a replica past the deadline, a fake that answers as DescribeDBInstances does. The plan
is the part of one these steps read: the prepared stack's name, its params, the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fake_replicas import home_and_replica
from relight.aws.clients import Aws, AwsTarget
from relight.aws.outage import Outage
from relight.errors import DeployError, PreflightError
from relight.steps.replica.preflight import check_replicas
from relight.steps.replica.promote import Promotion, promote_replicas

HOME, REGION = "us-east-1", "us-west-2"
STACK = "shop-database"


def _plan(retention: int | None = 14) -> Any:
    params = {} if retention is None else {"backup_retention_days": retention}
    return SimpleNamespace(
        prepared={"database": SimpleNamespace(name=STACK)},
        stacks={},
        strategy="pilot_light",
        loaded=SimpleNamespace(
            path=Path("stacks/shop.yaml"),
            env=SimpleNamespace(stacks={"database": SimpleNamespace(params=params)}),
        ),
    )


@dataclass
class Conn:
    aws: Aws
    region: str = REGION

    def aws_for(self, stack_name: str) -> Aws:
        return self.aws


@dataclass
class Clock:
    """A clock that moves only when slept on."""

    now: float = 100.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def world() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        yield boto3.client("rds", HOME), boto3.client("rds", REGION)


READY = {"database": {"DatabaseIdentifier": "orders-replica", "Endpoint": "x"}}


def test_an_instance_is_promoted_in_the_recovery_region_and_waited_for_until_writable(
    world: tuple[Any, Any],
) -> None:
    home, here = world
    home_and_replica(home, here)
    clock, lines = Clock(), []
    outage = Outage(HOME)  # the home region is gone: nothing here may need it
    conn = Conn(Aws(AwsTarget()).under_outage(outage))
    [done] = promote_replicas(
        conn, _plan(), READY, keys=["database"], clock=clock, sleep=clock.sleep,
        on_progress=lines.append,
    )  # fmt: skip
    endpoint = "orders-replica.aaaaaaaaaa.us-west-2.rds.amazonaws.com"
    assert done == Promotion("database", "orders-replica", "instance", 2.0, endpoint, False)
    assert outage.refused == []
    promoted = here.describe_db_instances(DBInstanceIdentifier="orders-replica")["DBInstances"][0]
    assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
    assert promoted["BackupRetentionPeriod"] == 14  # the stack's backup_retention_days
    assert lines == [
        "promoting DB instance orders-replica (stacks.database) in us-west-2: "
        "PromoteReadReplica, backups kept 14 days",
        "waiting: instance orders-replica modifying (3600 s left)",
        f"DB instance orders-replica (stacks.database) promoted in 2 s; writable at {endpoint}",
    ]


def test_a_rerun_finds_the_database_promoted_and_says_so_instead_of_failing(
    world: tuple[Any, Any],
) -> None:
    home, here = world
    home_and_replica(home, here)
    conn, clock = Conn(Aws(AwsTarget())), Clock()
    promote_replicas(conn, _plan(None), READY, keys=["database"], clock=clock, sleep=clock.sleep)
    assert here.describe_db_instances()["DBInstances"][0]["BackupRetentionPeriod"] == 7
    lines: list[str] = []
    [again] = promote_replicas(
        conn, _plan(), READY, keys=["database"], clock=clock, sleep=clock.sleep,
        on_progress=lines.append,
    )  # fmt: skip
    assert again.already
    assert lines[0] == (
        "DB instance orders-replica stands alone (available): not a replica: promoted already "
        "(an earlier run); waiting until it takes writes"
    )
    assert "was promoted already (an earlier run); writable" in lines[-1]


def test_an_aurora_secondary_is_detached_from_its_global_database(world: tuple[Any, Any]) -> None:
    home, here = world
    home.create_db_cluster(
        DBClusterIdentifier="orders", Engine="aurora-postgresql", MasterUsername="app",
        MasterUserPassword="not-a-real-password",
    )  # fmt: skip
    primary = home.describe_db_clusters()["DBClusters"][0]["DBClusterArn"]
    home.create_global_cluster(
        GlobalClusterIdentifier="orders-g", SourceDBClusterIdentifier=primary
    )
    here.create_db_cluster(
        DBClusterIdentifier="orders-secondary", Engine="aurora-postgresql",
        GlobalClusterIdentifier="orders-g",
    )  # fmt: skip
    ready = {
        "database": {
            "DatabaseIdentifier": "orders-secondary",
            "GlobalClusterIdentifier": "orders-g",
        }
    }
    clock, lines = Clock(), []
    outage = Outage(HOME)
    conn = Conn(Aws(AwsTarget()).under_outage(outage))
    [done] = promote_replicas(
        conn, _plan(), ready, keys=["database"], clock=clock, sleep=clock.sleep,
        on_progress=lines.append,
    )  # fmt: skip
    assert (done.kind, done.already, done.seconds) == ("cluster", False, 2.0)
    assert outage.refused == []
    members = here.describe_global_clusters(GlobalClusterIdentifier="orders-g")["GlobalClusters"]
    assert [m["DBClusterArn"] for m in members[0]["GlobalClusterMembers"]] == [primary]
    assert "RemoveFromGlobalCluster (detach and promote)" in lines[0]
    assert lines[1] == "waiting: cluster orders-secondary promoting (3600 s left)"


class StuckRds:
    """RDS as DescribeDBInstances answers while a promotion has not finished: still a replica,
    modifying. PromoteReadReplica is taken."""

    def __init__(self) -> None:
        self.promoted: list[dict[str, Any]] = []

    def describe_db_instances(self, **_: Any) -> dict[str, Any]:
        return {
            "DBInstances": [
                {
                    "DBInstanceIdentifier": "orders-replica",
                    "DBInstanceStatus": "modifying",
                    "ReadReplicaSourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:1:db:orders",
                    "StatusInfos": [{"StatusType": "read replication", "Status": "replicating"}],
                }
            ]
        }

    def promote_read_replica(self, **request: Any) -> dict[str, Any]:
        self.promoted.append(request)
        return {}


def test_a_promotion_not_done_by_the_deadline_stops_the_failover_saying_how_to_go_on() -> None:
    rds = StuckRds()
    aws = SimpleNamespace(client=lambda service, region: rds)
    conn = SimpleNamespace(region=REGION, aws_for=lambda name: aws)
    clock = Clock()
    with pytest.raises(DeployError) as stopped:
        promote_replicas(
            conn, _plan(), READY, keys=["database"], clock=clock, sleep=clock.sleep,
            deadline_seconds=60,
        )  # fmt: skip
    assert rds.promoted == [{"DBInstanceIdentifier": "orders-replica", "BackupRetentionPeriod": 14}]
    assert clock.slept == [2.0, 4.0, 8.0, 16.0, 30.0]  # backoff, capped at 30 s, to the deadline
    assert "stacks.database was not writable when relight stopped waiting" in str(stopped.value)
    assert "the promotion is not asked twice" in str(stopped.value)


class ScriptedRds:
    """RDS as DescribeDBInstances answers a replica through a backup (D25): each describe takes
    the next of `states` (status, still a replica), the last repeating. PromoteReadReplica is
    refused with InvalidDBInstanceState while the instance last described is backing up (as
    RDS refuses a replica in the backing-up status) or `refuse` more times."""

    def __init__(self, states: list[tuple[str, bool]], refuse: int = 0) -> None:
        self.states, self.refuse = list(states), refuse
        self.now: tuple[str, bool] = states[0]
        self.promoted: list[dict[str, Any]] = []

    def describe_db_instances(self, **_: Any) -> dict[str, Any]:
        self.now = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        status, replica = self.now
        db: dict[str, Any] = {
            "DBInstanceIdentifier": "orders-replica",
            "DBInstanceStatus": status,
            "Endpoint": {"Address": "orders-replica.x.us-west-2.rds.amazonaws.com"},
        }
        if replica:
            db["ReadReplicaSourceDBInstanceIdentifier"] = "arn:aws:rds:us-east-1:1:db:orders"
            db["StatusInfos"] = [{"StatusType": "read replication", "Status": "replicating"}]
        return {"DBInstances": [db]}

    def promote_read_replica(self, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        if self.now[0] == "backing-up" or self.refuse:
            self.refuse = max(0, self.refuse - 1)
            self.now = ("backing-up", True)
            raise ClientError(
                {"Error": {"Code": "InvalidDBInstanceState", "Message": "backing-up"}},
                "PromoteReadReplica",
            )
        self.promoted.append(request)
        return {}


def _promote_scripted(rds: ScriptedRds, **options: Any) -> tuple[Promotion, list[str], Clock]:
    aws = SimpleNamespace(client=lambda service, region: rds)
    conn = SimpleNamespace(region=REGION, aws_for=lambda name: aws)
    clock, lines = Clock(), []
    [done] = promote_replicas(
        conn, _plan(), READY, keys=["database"], clock=clock, sleep=clock.sleep,
        on_progress=lines.append, **options,
    )  # fmt: skip
    return done, lines, clock


def test_a_promoted_instance_running_its_first_backup_is_writable_and_not_waited_through() -> None:
    # promoted at once, then backing-up (its first backup) for as long as RDS takes
    rds = ScriptedRds([("available", True), ("backing-up", False)])
    done, lines, clock = _promote_scripted(rds)
    assert rds.promoted == [{"DBInstanceIdentifier": "orders-replica", "BackupRetentionPeriod": 14}]
    assert clock.slept == []  # not one look more: it takes writes while the backup runs
    assert (done.already, done.backing_up) == (False, True)
    assert lines[-1] == (
        "DB instance orders-replica (stacks.database) promoted in 0 s; writable; its first "
        "backup is running at orders-replica.x.us-west-2.rds.amazonaws.com"
    )


def test_a_replica_that_is_backing_up_is_promoted_once_its_backup_is_done() -> None:
    rds = ScriptedRds(
        [("backing-up", True), ("backing-up", True), ("available", True),
         ("modifying", True), ("available", False)]
    )  # fmt: skip
    done, lines, clock = _promote_scripted(rds)
    assert len(rds.promoted) == 1  # asked once, after the backup (RDS would have refused)
    assert "is backing-up: RDS promotes no read replica while it is backing up" in lines[0]
    assert lines[1] == (
        "waiting: instance orders-replica backing-up, still a replica: PromoteReadReplica once "
        "its backup is done (3600 s left)"
    )
    assert lines[2].startswith("promoting DB instance orders-replica")
    assert (done.seconds, done.backing_up) == (6.0, False)
    assert clock.slept == [2.0, 4.0]


def test_a_promotion_refused_because_a_backup_began_meanwhile_is_asked_again_after_it() -> None:
    rds = ScriptedRds(
        [("available", True), ("backing-up", True), ("backing-up", True),
         ("available", True), ("available", False)],
        refuse=1,
    )  # fmt: skip
    done, lines, _ = _promote_scripted(rds)
    assert len(rds.promoted) == 1 and not done.already
    assert sum("is backing-up: RDS promotes no read replica" in line for line in lines) == 1
    assert "writable at" in lines[-1]


def test_a_replica_still_backing_up_at_the_deadline_stops_saying_it_was_not_promoted() -> None:
    rds = ScriptedRds([("backing-up", True)])
    with pytest.raises(DeployError) as stopped:
        _promote_scripted(rds, deadline_seconds=60)
    assert rds.promoted == []
    assert "was still backing up when relight stopped waiting, so it was not promoted" in str(
        stopped.value
    )


class GlobalsUnreadable:
    """The recovery region's RDS (moto's), but DescribeGlobalClusters fails: throttled, a 500,
    or its endpoint gone, as it may in a regional outage."""

    def __init__(self, rds: Any, failure: Exception) -> None:
        self.rds, self.failure, self.asked = rds, failure, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rds, name)

    def describe_global_clusters(self, **_: Any) -> dict[str, Any]:
        self.asked += 1
        raise self.failure


def _unreadable_globals() -> list[Exception]:
    from botocore.exceptions import ClientError, EndpointConnectionError

    return [
        ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}},
                    "DescribeGlobalClusters"),
        ClientError({"Error": {"Code": "InternalFailure", "Message": ""},
                     "ResponseMetadata": {"HTTPStatusCode": 500}}, "DescribeGlobalClusters"),
        EndpointConnectionError(endpoint_url="https://rds.us-west-2.amazonaws.com/"),
    ]  # fmt: skip


def _aurora_secondary(home: Any, here: Any) -> str:
    home.create_db_cluster(
        DBClusterIdentifier="orders", Engine="aurora-postgresql", MasterUsername="app",
        MasterUserPassword="not-a-real-password",
    )  # fmt: skip
    primary = str(home.describe_db_clusters()["DBClusters"][0]["DBClusterArn"])
    home.create_global_cluster(
        GlobalClusterIdentifier="orders-g", SourceDBClusterIdentifier=primary
    )
    here.create_db_cluster(
        DBClusterIdentifier="orders-secondary", Engine="aurora-postgresql",
        GlobalClusterIdentifier="orders-g",
    )  # fmt: skip
    return primary


AURORA = {
    "database": {"DatabaseIdentifier": "orders-secondary", "GlobalClusterIdentifier": "orders-g"}
}


@pytest.mark.parametrize("failure", _unreadable_globals(), ids=["throttled", "500", "endpoint"])
def test_an_unreadable_global_database_does_not_stop_an_aurora_promotion(
    world: tuple[Any, Any], failure: Exception
) -> None:
    home, here = world
    primary = _aurora_secondary(home, here)
    rds = GlobalsUnreadable(here, failure)
    aws = SimpleNamespace(client=lambda service, region: rds)
    conn = SimpleNamespace(region=REGION, aws_for=lambda name: aws)
    # preflight: a warning (its replication is unknown), not a refusal
    found = check_replicas(
        _plan(), lambda name: aws, REGION, Stacks(AURORA["database"]), ["database"],
        prepare="relight prepare", failover_began=False,
    )  # fmt: skip
    [note] = found.notes
    assert "its membership could not be read" in note and "is not known" in note
    assert found.states["database"].replica and not found.states["database"].membership_known
    clock, lines = Clock(), []
    [done] = promote_replicas(
        conn, _plan(), AURORA, keys=["database"], clock=clock, sleep=clock.sleep,
        on_progress=lines.append,
    )  # fmt: skip
    assert rds.asked >= 2  # asked, failed, and the cluster's own answer was taken instead
    assert (done.kind, done.already) == ("cluster", False)
    members = here.describe_global_clusters(GlobalClusterIdentifier="orders-g")["GlobalClusters"]
    assert [m["DBClusterArn"] for m in members[0]["GlobalClusterMembers"]] == [primary]
    assert "RemoveFromGlobalCluster (detach and promote)" in lines[0]


# preflight ------------------------------------------------------------------------------------


class Stacks:
    def __init__(self, outputs: dict[str, str] | None) -> None:
        self.outputs = outputs

    def state(self, name: str) -> dict[str, Any] | None:
        if self.outputs is None:
            return None
        outputs = [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]
        return {"StackName": name, "StackStatus": "CREATE_COMPLETE", "Outputs": outputs}


def _check(stacks: Stacks, **options: Any) -> Any:
    aws = Aws(AwsTarget())
    return check_replicas(
        _plan(), lambda name: aws, REGION, stacks, ["database"],
        prepare="relight prepare --env shop --region us-west-2 --strategy pilot_light",
        **{"failover_began": False, **options},
    )  # fmt: skip


def test_preflight_refuses_a_replica_mode_failover_without_its_prepared_replica(
    world: tuple[Any, Any],
) -> None:
    for stacks, said in (
        (Stacks(None), f"stack {STACK}, which stands up the replica a failover promotes, does "
         "not exist in us-west-2"),
        (Stacks({"DatabaseIdentifier": "orders-replica"}),
         "DB instance orders-replica does not exist in us-west-2 (stack shop-database made it)"),
    ):  # fmt: skip
        with pytest.raises(PreflightError) as refused:
            _check(stacks)
        message = str(refused.value)
        assert f"stacks/shop.yaml: stacks.database.data: replica: {said}" in message
        assert (
            "run relight prepare --env shop --region us-west-2 --strategy pilot_light --data "
            "replica while the home region answers (make prepare REGION=us-west-2 "
            "STRATEGY=pilot_light DATA=replica), or fail over from the newest snapshot copy "
            "instead: --data snapshot"
        ) in message
        assert "nothing was changed" in message


def test_a_replica_that_stopped_replicating_is_promoted_with_a_loud_warning(
    world: tuple[Any, Any],
) -> None:
    home, here = world
    home_and_replica(home, here)
    home.delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
    found = _check(Stacks({"DatabaseIdentifier": "orders-replica"}))
    [note] = found.notes
    assert note.startswith("WARNING: stacks/shop.yaml: stacks.database.data: replica: DB instance")
    assert "(replication: error)" in note
    assert "its data is as old as its last replay" in note and "--data snapshot" in note
    assert found.states["database"].replica


def test_a_replica_promoted_outside_a_failover_is_refused_unless_accepted_stale(
    world: tuple[Any, Any],
) -> None:
    home, here = world
    home_and_replica(home, here)
    here.promote_read_replica(DBInstanceIdentifier="orders-replica")
    stacks = Stacks({"DatabaseIdentifier": "orders-replica"})
    with pytest.raises(PreflightError) as refused:
        _check(stacks)
    assert "though no failover began in us-west-2: someone promoted it outside relight" in str(
        refused.value
    )
    assert "--accept-stale" in str(refused.value) and "--data snapshot" in str(refused.value)
    [accepted] = _check(stacks, accept_stale=True).notes
    assert accepted.startswith("WARNING:") and "the failover serves it as it is" in accepted
    [rerun] = _check(stacks, failover_began=True).notes
    assert rerun.endswith("promoted by an earlier run of this failover; it is not promoted again")


# verification of what was promoted -----------------------------------------------------------


def _verify_promoted(web_was_given: str) -> list[Any]:
    """The promoted database's checks (steps/verify/databases.py) for a prepared stack
    `shop-database` whose outputs name the replica, and a web stack deployed with
    `DatabaseEndpoint=web_was_given`."""
    import json as _json

    from relight.model.environment import OutputRef
    from relight.steps.verify import Verifier

    template = {
        "Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"DatabaseIdentifier": {"Value": "orders-replica"}},
    }
    boto3.client("cloudformation", REGION).create_stack(
        StackName=STACK, TemplateBody=_json.dumps(template)
    )
    web = SimpleNamespace(
        name="shop-web",
        parameters={"DatabaseEndpoint": OutputRef(stack="database", output="Endpoint")},
    )
    plan = SimpleNamespace(
        region=REGION,
        stacks={"web": web},
        prepared={"database": SimpleNamespace(name=STACK, parameters={})},
    )
    outcome = SimpleNamespace(
        results={"web": SimpleNamespace(ok=True, parameters={"DatabaseEndpoint": web_was_given})}
    )
    verifier = Verifier(Aws(AwsTarget()), plan, None, outcome, stand_in=True, promoted=["database"])
    [probe] = verifier._promoted("database")
    return [(r.check, r.result, r.detail) for r in probe()]


ENDPOINT = "orders-replica.aaaaaaaaaa.us-west-2.rds.amazonaws.com"


def test_verification_passes_a_promoted_database_the_app_stack_reads(
    world: tuple[Any, Any],
) -> None:
    home, here = world
    home_and_replica(home, here)
    here.promote_read_replica(DBInstanceIdentifier="orders-replica")
    here.describe_db_instances()  # the first look still sees "modifying"
    assert _verify_promoted(ENDPOINT) == [
        ("promoted database writable", "passed",
         "DB instance orders-replica stands alone (available): not a replica; available, takes "
         "writes"),
        ("reads the promoted endpoint (web.DatabaseEndpoint)", "passed",
         f"web was deployed with DatabaseEndpoint={ENDPOINT}"),
    ]  # fmt: skip


def test_verification_fails_a_database_still_a_replica_and_a_stack_given_another_endpoint(
    world: tuple[Any, Any],
) -> None:
    home, here = world
    home_and_replica(home, here)
    [writable, reads] = _verify_promoted("orders.old-home.example")
    assert writable[:2] == ("promoted database writable", "failed")
    assert writable[2].endswith("(replication: replicating): still a replica, read-only")
    assert reads == (
        "reads the promoted endpoint (web.DatabaseEndpoint)",
        "failed",
        "web was deployed with DatabaseEndpoint=orders.old-home.example, not the promoted "
        f"database's endpoint {ENDPOINT}",
    )


def test_verification_passes_a_promoted_database_running_its_first_backup() -> None:
    from relight.steps.replica.state import ReplicaState
    from relight.steps.verify.databases import _writable

    def state(status: str, promoted: bool) -> ReplicaState:
        return ReplicaState(
            "database", "instance", "orders-replica", REGION, exists=True, replicating=False,
            promoted=promoted, status=status, source_arn=None if promoted else "arn",
            endpoint="x", port=5432, detail="DB instance orders-replica",
        )  # fmt: skip

    first_backup = _writable(state("backing-up", True))
    assert (first_backup.result, first_backup.detail) == (
        "passed",
        "DB instance orders-replica; writable; its first backup is running",
    )
    assert _writable(state("backing-up", False)).result == "failed"  # a replica: read-only
