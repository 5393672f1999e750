"""An incident in the replica data mode (issue 23), as a fixed sequence with what must hold
checked after every step: prepare (R's replica of home) → failover (promoted) → prepare again
and a failover rerun (the promoted database untouched) → a drill (production's database
untouched) → failback (home's database stack made a replica of R's, promoted) → the return.

What always holds (`_invariants`):
- R's database is a replica of home's exactly until a failover promotes it, and stays promoted;
- a database relight promoted is never replaced, and none is gone without a snapshot;
- while R serves, its app stack reads the database relight promoted (its `DatabaseEndpoint`).

The world is test_incident.py's warm standby in moto in-process (relight's stand-in additions
make the replica from CloudFormation and play its promotion), its database in replica mode;
`fake_replicas.ReplicaAws` counts relight's PromoteReadReplica calls. The failover promotes
R's replica itself (`steps.replica.promote`). The fixed sequence walks every step once;
`ReplicaIncident` runs the same commands in Hypothesis' orders up to the failback (seeded, 3
sequences of 5 steps in CI; `RELIGHT_INCIDENT_EXAMPLES=N` runs N unseeded).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from moto import mock_aws

from conftest import make_instance_profile
from fake_replicas import Promotions, ReplicaAws
from relight.aws.bucket import TemplateBucket
from relight.aws.clients import Aws, AwsTarget
from relight.commands import failover, teardown
from relight.commands.connection import Connection
from relight.commands.failback import failback, plan_failback
from relight.errors import InputError
from relight.model.config import load_environment
from relight.model.shapes import parameter_dict, tag_dict
from relight.standin import StandIn
from relight.steps.render import build_plan
from test_incident import ACCOUNT, COPY_TAGS, HOME, QUIET, REGION, WARM

REPLICA = (
    WARM.replace("    blueprint: database\n", "    blueprint: database\n    data: replica\n")
    .replace("stand_in: true\n", "")
    .replace("strategy: warm_standby\n", 'strategy: warm_standby\naccount_id: "123456789012"\n')
    .replace(
        "      SecurityGroupId: {output: security.WebSecurityGroupId}\n",
        "      SecurityGroupId: {output: security.WebSecurityGroupId}\n"
        "      DatabaseEndpoint: {output: database.Endpoint}\n"
        "      DatabasePort: {output: database.Port}\n",
        1,
    )
    .replace(
        "      min_size: 1\n      desired: 1\n",
        '      min_size: 1\n      desired: 1\n      DatabaseEndpoint: ""\n      DatabasePort: ""\n',
    )
)


@pytest.fixture(autouse=True)
def _no_orderable_options_in_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        "relight.steps.preflight.check_databases", lambda plan, aws, found, skip: ([], [])
    )


class World:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="relight-replica-incident-"))
        (self.folder / "stacks").mkdir()
        path = self.folder / "stacks" / "shop.yaml"
        path.write_text(REPLICA, encoding="utf-8")
        self.loaded = load_environment(str(path), REGION)
        make_instance_profile(boto3.client("iam", HOME))
        self.record = Promotions()
        aws: Any = ReplicaAws(Aws(AwsTarget()), self.record)
        local = StandIn(0, 0, "", "", 0.0, "", Path())  # teardown as on the stand-in
        self.conn = Connection(aws, REGION, ACCOUNT)
        self.local = Connection(aws, REGION, ACCOUNT, local)
        self.at_home = Connection(aws, HOME, ACCOUNT, local)
        self.rds = {r: aws.client("rds", r) for r in (REGION, HOME)}
        self.home_arn = ""
        for region in (REGION, HOME):
            TemplateBucket(boto3.client("s3", region), region, ACCOUNT).configure()
            kms = boto3.client("kms", region)
            key = kms.create_key()["KeyMetadata"]["KeyId"]
            kms.create_alias(AliasName="alias/shop", TargetKeyId=key)
        # encrypted: a replica is made encrypted, so its source must be (D55)
        made = boto3.client("rds", HOME).create_db_instance(
            DBInstanceIdentifier="shop-orders", Engine="postgres",
            DBInstanceClass="db.t3.micro", AllocatedStorage=20, MasterUsername="shop",
            MasterUserPassword="not-a-secret-1", BackupRetentionPeriod=1,
            StorageEncrypted=True, KmsKeyId="alias/shop",
        )  # fmt: skip
        self.home_arn = made["DBInstance"]["DBInstanceArn"]
        from conftest import web_artifacts

        web_artifacts(HOME)
        web_artifacts(REGION, extra=COPY_TAGS)
        rds_home = boto3.client("rds", HOME)
        rds_home.create_db_snapshot(
            DBInstanceIdentifier="shop-orders", DBSnapshotIdentifier="shop-orders-home"
        )
        built = failover.failover(
            build_plan(self.loaded, HOME, purpose="home"), self.at_home, lock=QUIET,
            verify_after=False,
        )  # fmt: skip
        assert built.ok, built.outcome.failed()
        rds_r = boto3.client("rds", REGION)  # the database copies replication leaves in R
        rds_r.create_db_instance(
            DBInstanceIdentifier="shop-orders", Engine="postgres", DBInstanceClass="db.t3.micro",
            AllocatedStorage=20, MasterUsername="shop", MasterUserPassword="not-a-secret-1",
        )  # fmt: skip
        rds_r.create_db_snapshot(
            DBInstanceIdentifier="shop-orders", DBSnapshotIdentifier="shop-orders-copy-1",
            Tags=COPY_TAGS,
        )  # fmt: skip
        self.promoted: str = ""  # the database relight promoted in R
        self.serving = False
        self.seen: dict[str, set[str]] = {REGION: set(), HOME: set()}

    def stack(self, name: str, region: str = REGION) -> dict[str, Any] | None:
        found = boto3.client("cloudformation", region).describe_stacks()["Stacks"]
        return next((s for s in found if s["StackName"] == name), None)

    def output(self, name: str, key: str, region: str = REGION) -> str:
        stack = self.stack(name, region)
        assert stack is not None, f"{name} in {region}"
        return next(o["OutputValue"] for o in stack["Outputs"] if o["OutputKey"] == key)

    def database(self, ident: str, region: str = REGION) -> dict[str, Any]:
        (db,) = self.rds[region].describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
        return dict(db)


def _invariants(world: World) -> None:
    """What holds after every step."""
    r_db = world.stack("shop-database")
    if r_db is not None and not world.promoted:
        ident = world.output("shop-database", "DatabaseIdentifier")
        assert world.database(ident).get("ReadReplicaSourceDBInstanceIdentifier") == (
            world.home_arn
        ), "before a failover R's database replicates home's"
    if world.promoted:
        db = world.database(world.promoted)
        assert "ReadReplicaSourceDBInstanceIdentifier" not in db, "a promoted database stays so"
        if r_db is not None:
            assert world.output("shop-database", "DatabaseIdentifier") == world.promoted, (
                "the promoted database was not replaced"
            )
        web = world.stack("shop-web")
        if web is not None and world.serving:
            assert parameter_dict(web)["DatabaseEndpoint"] == db["Endpoint"]["Address"], (
                "R's app reads the database relight promoted"
            )
    for region, seen in world.seen.items():
        rds = boto3.client("rds", region)
        now = {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]}
        seen |= {d for d in now if d.startswith("shop-database")}
        for gone in seen - now:
            kept = rds.describe_db_snapshots(DBInstanceIdentifier=gone, SnapshotType="manual")
            assert kept["DBSnapshots"], f"{gone} in {region} went without a snapshot"


@pytest.fixture
def world() -> Any:
    with mock_aws():
        made = World()
        yield made
        shutil.rmtree(made.folder, ignore_errors=True)


def test_an_incident_in_replica_mode_from_prepare_to_the_return(world: World) -> None:
    # 1. Before a disaster: prepare makes R's replica of home's database.
    prepared = failover.prepare(build_plan(world.loaded, REGION, phase="prepare"), world.conn,
                                lock=QUIET)  # fmt: skip
    assert prepared.ok, prepared.outcome.failed()
    replica = world.output("shop-database", "DatabaseIdentifier")
    assert world.output("shop-database", "DataMode") == "replica"
    _invariants(world)

    # 2. The home region fails: the failover reads the replica, builds the rest, promotes it.
    result = failover.failover(build_plan(world.loaded, REGION), world.conn, lock=QUIET,
                               verify_after=False)  # fmt: skip
    assert result.ok, result.outcome.failed()
    assert world.record.calls == [f"{REGION}/{replica}"], "the failover promoted R's replica"
    world.promoted, world.serving = replica, True
    _invariants(world)

    # 3. prepare while R serves is refused; a failover rerun leaves the database as it is.
    with pytest.raises(InputError, match="serves from us-west-2 since"):
        failover.prepare(build_plan(world.loaded, REGION, phase="prepare"), world.conn,
                         lock=QUIET)  # fmt: skip
    again = failover.failover(build_plan(world.loaded, REGION), world.conn, lock=QUIET,
                              verify_after=False)  # fmt: skip
    assert again.ok, again.outcome.failed()
    assert world.record.calls == [f"{REGION}/{replica}"], "never promoted a second time"
    _invariants(world)

    # 4. A drill restores from a snapshot copy into its namespace; production's is untouched.
    before = world.database(replica)
    drill = build_plan(world.loaded, REGION, purpose="drill", namespace="d1",
                       strategy="backup_restore")  # fmt: skip
    assert (
        "database" in drill.stacks and "SnapshotIdentifier" in drill.stacks["database"].parameters
    )
    drilled = failover.failover(drill, world.conn, lock=QUIET, verify_after=False)
    assert drilled.ok, drilled.outcome.failed()
    down = teardown.teardown(world.loaded, world.local, namespace="d1", force=True, lock=QUIET)
    assert down.ok, down.results
    after = world.database(replica)
    assert (after["DBInstanceStatus"], after["Endpoint"]) == (
        before["DBInstanceStatus"], before["Endpoint"]
    ), "the drill left production's database as it was"  # fmt: skip
    _invariants(world)

    # 5. Home is back: the failback makes home's database a replica of R's and promotes it.
    plan = plan_failback(world.loaded, world.local, world.at_home, graceful=False,
                         teardown=False, stand_in=False)  # fmt: skip
    assert [p.key for p in plan.phases if not p.skipped] == [
        "replica", "snapshot", "promote", "home", "verify", "release", "return"
    ]  # fmt: skip
    assert [h.stack for h in plan.replicas] == ["database"]
    assert all(h.stack != "database" for h in plan.holders), "no snapshot of it"
    back = failback(plan, world.local, world.at_home, sleep=lambda _: None, lock=QUIET)
    assert back.ok, (back.failed, back.reason)
    world.serving = False
    home_db = world.output("shop-database", "DatabaseIdentifier", HOME)
    assert world.output("shop-database", "DataMode", HOME) == "replica"
    assert (
        world.output("shop-database", "ReplicaSourceArn", HOME)
        == world.database(replica)["DBInstanceArn"]
    ), "home's replica replicated R's promoted database"
    assert "ReadReplicaSourceDBInstanceIdentifier" not in world.database(home_db, HOME)
    assert world.record.calls == [f"{REGION}/{replica}", f"{HOME}/{home_db}"]
    home_web = world.stack("shop-web", HOME)
    assert home_web is not None
    assert (
        parameter_dict(home_web)["DatabaseEndpoint"]
        == world.database(home_db, HOME)["Endpoint"]["Address"]
    ), "home's app reads home's promoted database"
    kept = [n for n in back.notes if "kept as the manual snapshot" in n]
    assert kept and replica in kept[0], "R's promoted database kept before the return"
    assert any("artifacts.orders_db.db_instance names shop-orders" in n for n in back.notes)
    _invariants(world)
    assert tag_dict(world.stack("shop-database", HOME)["Tags"])["relight:purpose"] == "home"  # type: ignore[index]


class ReplicaIncident(RuleBasedStateMachine):
    """The replica mode's commands in random orders until the failback, `_invariants` after
    every step. A sequence ends at the failback: after it R's promoted database stays until the
    file's lookup names home's new one (test above), so a second failover is not modelled."""

    def __init__(self) -> None:
        super().__init__()
        self.mock = mock_aws()
        self.mock.start()
        self.world = World()
        self.back = False
        self.drills = 0
        self.prepare()  # before any disaster: the replica stands

    def teardown(self) -> None:
        self.mock.stop()
        shutil.rmtree(self.world.folder, ignore_errors=True)

    @precondition(lambda self: not self.back)
    @rule()
    def prepare(self) -> None:
        world = self.world
        before = world.output("shop-database", "DatabaseIdentifier") if world.promoted else ""
        try:
            made = failover.prepare(
                build_plan(world.loaded, REGION, phase="prepare"), world.conn, lock=QUIET
            )
        except InputError as refused:
            assert world.serving, f"prepare refused while nothing serves: {refused}"
            assert before == world.output("shop-database", "DatabaseIdentifier")
            return
        assert not world.serving, "prepare ran in a region that serves"
        assert made.ok, made.outcome.failed()

    @precondition(lambda self: not self.back)
    @rule()
    def fail_over(self) -> None:
        world = self.world
        result = failover.failover(build_plan(world.loaded, REGION), world.conn, lock=QUIET,
                                   verify_after=False)  # fmt: skip
        assert result.ok, result.outcome.failed()
        ident = world.output("shop-database", "DatabaseIdentifier")
        if not world.promoted:  # the failover promoted it
            assert world.record.calls == [f"{REGION}/{ident}"]
            world.promoted = ident
        world.serving = True

    @precondition(lambda self: not self.back)
    @rule()
    def drill(self) -> None:
        world = self.world
        self.drills += 1
        name = f"d{self.drills}"
        plan = build_plan(world.loaded, REGION, purpose="drill", namespace=name,
                          strategy="backup_restore")  # fmt: skip
        drilled = failover.failover(plan, world.conn, lock=QUIET, verify_after=False)
        assert drilled.ok, drilled.outcome.failed()
        down = teardown.teardown(world.loaded, world.local, namespace=name, force=True,
                                 lock=QUIET)  # fmt: skip
        assert down.ok, down.results

    @precondition(lambda self: self.world.serving and not self.back)
    @rule()
    def fail_back(self) -> None:
        world = self.world
        plan = plan_failback(world.loaded, world.local, world.at_home, graceful=False,
                             teardown=False, stand_in=False)  # fmt: skip
        back = failback(plan, world.local, world.at_home, sleep=lambda _: None, lock=QUIET)
        assert back.ok, (back.failed, back.reason)
        home_db = world.output("shop-database", "DatabaseIdentifier", HOME)
        assert "ReadReplicaSourceDBInstanceIdentifier" not in world.database(home_db, HOME)
        world.serving, self.back = False, True

    @invariant()
    def what_always_holds(self) -> None:
        _invariants(self.world)


ReplicaIncident.TestCase.settings = settings(
    max_examples=int(os.environ.get("RELIGHT_INCIDENT_EXAMPLES") or 3),
    stateful_step_count=5,
    deadline=None,
    derandomize=not os.environ.get("RELIGHT_INCIDENT_EXAMPLES"),
    suppress_health_check=[HealthCheck.too_slow],
)
TestReplicaIncident = ReplicaIncident.TestCase


def test_once_the_lookup_names_homes_new_database_the_return_makes_rs_replica_of_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failback stopped after the promotion; the operator points `db_instance` at home's new
    database (the summary's advice) and reruns: the return deletes R's promoted database (kept
    as a manual snapshot) and the prepare it runs makes R's replica of home's new database."""
    from relight.commands.failback import running
    from relight.errors import AwsError

    prepared = failover.prepare(build_plan(world.loaded, REGION, phase="prepare"), world.conn,
                                lock=QUIET)  # fmt: skip
    assert prepared.ok, prepared.outcome.failed()
    served = failover.failover(build_plan(world.loaded, REGION), world.conn, lock=QUIET,
                               verify_after=False)  # fmt: skip
    assert served.ok, served.outcome.failed()
    promoted = world.output("shop-database", "DatabaseIdentifier")

    def broken(*_: Any) -> Any:
        raise AwsError("us-east-1 throttled the change set", hint="rerun")

    def plan() -> Any:
        return plan_failback(world.loaded, world.local, world.at_home, graceful=False,
                             teardown=False, stand_in=False)  # fmt: skip

    with monkeypatch.context() as patched:
        patched.setattr(running, "_home_phase", broken)
        first = failback(plan(), world.local, world.at_home, sleep=lambda _: None, lock=QUIET)
    assert not first.ok and first.failed == "home"
    assert first.done == ["replica", "snapshot", "promote"]
    home_db = world.output("shop-database", "DatabaseIdentifier", HOME)

    path = world.folder / "stacks" / "shop.yaml"
    path.write_text(path.read_text().replace("db_instance: shop-orders", f"db_instance: {home_db}"))
    world.loaded = load_environment(str(path), REGION)
    # The return's prepare finds backups of home's new database in R, as replicate leaves them.
    blocked = plan()
    rds_home = boto3.client("rds", HOME)
    rds_home.create_db_snapshot(DBInstanceIdentifier=home_db, DBSnapshotIdentifier="home-new")
    source = rds_home.describe_db_snapshots(DBSnapshotIdentifier="home-new")["DBSnapshots"][0]
    boto3.client("rds", REGION).copy_db_snapshot(  # as relight replicate copies it
        SourceDBSnapshotIdentifier=source["DBSnapshotArn"], TargetDBSnapshotIdentifier="home-new",
        SourceRegion=HOME, Tags=COPY_TAGS,
    )  # fmt: skip
    left = [p.key for p in blocked.phases if not p.done and not p.skipped]
    assert left == ["home", "verify", "release", "return"]
    again = failback(blocked, world.local, world.at_home, sleep=lambda _: None, lock=QUIET)
    assert again.ok, (again.failed, again.reason)
    assert again.done == ["home", "verify", "release", "return"]
    assert world.record.calls == [f"{REGION}/{promoted}", f"{HOME}/{home_db}"], "once each"
    replica = world.output("shop-database", "DatabaseIdentifier")
    assert replica != promoted, "R's promoted database went; a new replica stands"
    home_arn = world.database(home_db, HOME)["DBInstanceArn"]
    assert world.database(replica).get("ReadReplicaSourceDBInstanceIdentifier") == home_arn
    assert world.output("shop-database", "ReplicaSourceArn") == home_arn
    kept = boto3.client("rds", REGION).describe_db_snapshots(
        DBInstanceIdentifier=promoted, SnapshotType="manual"
    )["DBSnapshots"]
    assert kept, "R's promoted database left a manual snapshot before its stack went"
    assert not any("db_instance names" in n for n in again.notes), "nothing left to change"
