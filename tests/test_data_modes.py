"""The data axis (relight.model.data_modes, steps.data_render): a database stack restored from
a snapshot copy, or a cross-region replica prepared ahead of time and promoted at failover.

What a run does with a replica-mode stack (prepared where what it reads stands, read at
failover, a snapshot restore in a drill), the refusals that name the file and key, and the
stand-in making the replica from CloudFormation (the last tests run the CLI on it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import REPO, relight
from relight import standin
from relight.errors import ConfigError
from relight.model.config import load_environment
from relight.model.data_modes import data_mode, replica_keys
from relight.steps.render import build_plan

DEMO = REPO / "stacks" / "demo.yaml"
REGION = "us-west-2"
SOURCE = "arn:aws:rds:us-east-1:123456789012:db:demo-orders"


def demo(tmp_path: Path, change: tuple[str, str] | None = None) -> Any:
    """The demo's file (changed by one replacement), loaded from a copy beside blueprints/."""
    text = DEMO.read_text()
    if change is not None:
        assert change[0] in text
        text = text.replace(*change)
    (tmp_path / "stacks").mkdir(exist_ok=True)
    path = tmp_path / "stacks" / "demo.yaml"
    path.write_text(text + f"blueprints_dir: {REPO / 'blueprints'}\n")
    return load_environment(str(path), REGION)


REPLICA = ("    blueprint: database\n", "    blueprint: database\n    data: replica\n")


def test_the_data_mode_is_the_runs_then_the_files_then_snapshot(tmp_path: Path) -> None:
    env = demo(tmp_path, REPLICA).env
    assert data_mode(env.stacks["database"], None) == "replica"
    assert data_mode(env.stacks["database"], "snapshot") == "snapshot"
    assert data_mode(env.stacks["web"], "replica") is None, "only a database has one"
    plain = demo(tmp_path).env
    assert data_mode(plain.stacks["database"], None) == "snapshot"


def test_prepare_at_pilot_light_makes_the_replica_of_the_home_instance(tmp_path: Path) -> None:
    loaded = demo(tmp_path, REPLICA)
    plan = build_plan(loaded, REGION, stand_in=True, strategy="pilot_light", phase="prepare")
    database = plan.stacks["database"]
    assert database.parameters["ReplicaSourceArn"] == SOURCE
    assert database.parameters["KmsKeyId"] == "alias/relight-demo"
    assert "SnapshotIdentifier" not in database.parameters
    body = json.loads(database.body)
    made = body["Resources"]["Database"]
    assert made["Properties"]["SourceDBInstanceIdentifier"] == {"Ref": "ReplicaSourceArn"}
    assert made["Properties"]["KmsKeyId"] == {"Ref": "KmsKeyId"}
    assert "DBSnapshotIdentifier" not in made["Properties"]
    assert made["Properties"]["VPCSecurityGroups"], "given always: else the VPC's default"
    assert made["DeletionPolicy"] == made["UpdateReplacePolicy"] == "Snapshot", (
        "ignored while a replica (D13), honoured once promoted"
    )
    assert "BackupRetentionPeriod" not in made["Properties"], "a replica's backups are off"
    assert {"DataMode", "ReplicaSourceArn", "Endpoint", "Port"} <= set(body["Outputs"])
    assert plan.tags("database", "run")["relight:prepared"] == "replica"
    assert replica_keys(plan) == ["database"]


def test_failover_reads_the_replica_and_builds_what_reads_it(tmp_path: Path) -> None:
    loaded = demo(tmp_path, REPLICA)
    plan = build_plan(loaded, REGION, stand_in=True, strategy="pilot_light")
    assert "database" in plan.prepared and "database" not in plan.stacks
    assert list(plan.stacks) == ["web"], "web reads database.Endpoint from the replica"
    assert replica_keys(plan) == ["database"]


def test_a_replica_mode_failover_needs_no_copy_of_the_database(tmp_path: Path) -> None:
    """The promoted replica restores from nothing: its lookup's copy missing (or stale) is no
    reason to refuse the failover; at data: snapshot the same discovery is refused."""
    from datetime import UTC, datetime

    from relight.model.data_modes import replica_only_artifacts
    from relight.steps.discovery import Discovery
    from relight.steps.preflight.artifacts import _artifacts

    gone = Discovery(region=REGION, at=datetime.now(UTC), missing={"orders_db": "no copy"})
    replica = build_plan(demo(tmp_path, REPLICA), REGION, stand_in=True, strategy="pilot_light")
    assert replica_only_artifacts(replica) == {"orders_db"}
    assert _artifacts(replica, gone, accept_stale=False) == ([], [])
    snapshot = build_plan(
        demo(tmp_path), REGION, stand_in=True, strategy="pilot_light", data="snapshot"
    )
    assert replica_only_artifacts(snapshot) == set()
    assert _artifacts(snapshot, gone, accept_stale=False)[0] == ["artifacts.orders_db: no copy"]


def test_the_runs_data_overrides_the_file_both_ways(tmp_path: Path) -> None:
    plain = demo(tmp_path)
    plan = build_plan(plain, REGION, stand_in=True, strategy="pilot_light", data="replica")
    assert plan.data == "replica" and "database" in plan.prepared
    replica = demo(tmp_path, REPLICA)
    back = build_plan(replica, REGION, stand_in=True, strategy="pilot_light", data="snapshot")
    assert "database" in back.stacks and replica_keys(back) == []
    body = json.loads(back.stacks["database"].body)
    assert "DBSnapshotIdentifier" in body["Resources"]["Database"]["Properties"]


def test_a_drill_or_test_copy_restores_the_replica_stack_from_a_snapshot(tmp_path: Path) -> None:
    loaded = demo(tmp_path, REPLICA)
    for phase in ("prepare", "failover"):
        plan = build_plan(
            loaded,
            REGION,
            stand_in=True,
            purpose="drill",
            namespace="drill-x",
            strategy="pilot_light",
            phase=phase,
        )
        assert replica_keys(plan) == []
        assert "database" not in plan.prepared
    drill = build_plan(
        loaded, REGION, stand_in=True, purpose="drill", namespace="drill-x", strategy="pilot_light"
    )
    body = json.loads(drill.stacks["database"].body)
    assert "DBSnapshotIdentifier" in body["Resources"]["Database"]["Properties"]
    assert "relight:prepared" not in drill.tags("database", "run")


def test_a_replica_below_the_rung_its_network_stands_at_is_refused(tmp_path: Path) -> None:
    loaded = demo(tmp_path, REPLICA)
    with pytest.raises(ConfigError) as refused:
        build_plan(loaded, REGION, stand_in=True, strategy="backup_restore", phase="prepare")
    text = str(refused.value)
    assert str(loaded.path) in text and "stacks.database.data: replica" in text
    assert "--strategy pilot_light" in text and "data: snapshot" in text


def test_data_replica_on_the_command_line_is_refused_at_a_low_rung_too(tmp_path: Path) -> None:
    loaded = demo(tmp_path)
    with pytest.raises(ConfigError, match=r"stacks\.database\.data: replica \(--data replica\)"):
        build_plan(loaded, REGION, stand_in=True, data="replica")


def test_data_on_a_stack_that_is_not_a_database_is_refused_by_file_and_key(
    tmp_path: Path,
) -> None:
    change = ("    blueprint: compute\n", "    blueprint: compute\n    data: replica\n")
    with pytest.raises(ConfigError) as refused:
        demo(tmp_path, change)
    text = str(refused.value)
    assert "demo.yaml" in text and "stacks.web.data" in text
    assert "only a stack of blueprint database" in text


def test_a_replica_needs_a_lookup_that_names_the_home_database(tmp_path: Path) -> None:
    text = DEMO.read_text().replace("    db_instance: demo-orders\n", "    tags: {Role: db}\n")
    (tmp_path / "stacks").mkdir()
    path = tmp_path / "stacks" / "demo.yaml"
    path.write_text(text.replace(*REPLICA) + f"blueprints_dir: {REPO / 'blueprints'}\n")
    with pytest.raises(ConfigError) as refused:
        load_environment(str(path), REGION)
    shown = str(refused.value)
    assert "stacks.database.data: replica" in shown and "artifacts.orders_db" in shown
    assert "db_instance" in shown


def test_a_replica_needs_a_kms_key_for_the_region(tmp_path: Path) -> None:
    loaded = demo(tmp_path, REPLICA)
    with pytest.raises(ConfigError, match=r"add kms_keys\.ap-south-1"):
        build_plan(loaded, "ap-south-1", stand_in=True, strategy="pilot_light", phase="prepare")


# On the stand-in: prepare makes the replica through CloudFormation --------------------------------


def _client(world: dict[str, Any], service: str, region: str) -> Any:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    return boto3.client(service, region, endpoint_url=found.endpoint)


def test_a_refused_replica_prepare_creates_nothing(world: dict[str, Any]) -> None:
    run = relight(
        world, "prepare", "--env", "demo", "--region", REGION, "--data", "replica", "--yes"
    )
    assert run.returncode == 2, run.stderr
    assert "stacks.database.data: replica (--data replica)" in run.stderr
    assert "--strategy pilot_light" in run.stderr
    if standin.find(world["state"]):
        cfn = _client(world, "cloudformation", REGION)
        names = [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
        assert "demo-database" not in names


def test_prepare_with_data_replica_makes_a_cross_region_replica_on_the_stand_in(
    world: dict[str, Any],
) -> None:
    run = relight(
        world,
        *("prepare", "--env", "demo", "--region", REGION),
        *("--strategy", "pilot_light", "--data", "replica", "--yes"),
    )
    assert run.returncode == 0, run.stderr + run.stdout
    cfn = _client(world, "cloudformation", REGION)
    stack = cfn.describe_stacks(StackName="demo-database")["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["DataMode"] == "replica" and outputs["ReplicaSourceArn"] == SOURCE
    assert stack["EnableTerminationProtection"], "protected like the other prepared stacks"
    assert {"Key": "relight:prepared", "Value": "replica"} in stack["Tags"]
    rds = _client(world, "rds", REGION)
    made = rds.describe_db_instances(DBInstanceIdentifier=outputs["DatabaseIdentifier"])
    replica = made["DBInstances"][0]
    assert replica["ReadReplicaSourceDBInstanceIdentifier"] == SOURCE
    assert replica["AvailabilityZone"].startswith(REGION), "in the replica's own region"
    assert replica["KmsKeyId"] == "alias/relight-demo" and replica["DeletionProtection"]
    assert replica["Endpoint"]["Address"] == outputs["Endpoint"]
    home = _client(world, "rds", "us-east-1").describe_db_instances(
        DBInstanceIdentifier="demo-orders"
    )["DBInstances"][0]
    assert replica["DBInstanceArn"] in home["ReadReplicaDBInstanceIdentifiers"]


def test_a_replica_mode_drill_restores_a_snapshot_and_leaves_the_replica_replicating(
    world: dict[str, Any], tmp_path: Path
) -> None:
    rds = _client(world, "rds", REGION)
    replicas = [d for d in rds.describe_db_instances()["DBInstances"]
                if d.get("ReadReplicaSourceDBInstanceIdentifier")]  # fmt: skip
    assert len(replicas) == 1
    run = relight(
        world,
        *("drill", "--env", "demo", "--region", REGION, "--reports", str(tmp_path)),
        *("--strategy", "pilot_light", "--data", "replica"),
    )
    assert run.returncode == 0, run.stderr + run.stdout
    assert "database restored from the expected snapshot" in run.stdout
    after = rds.describe_db_instances(DBInstanceIdentifier=replicas[0]["DBInstanceIdentifier"])
    still = after["DBInstances"][0]
    assert still["ReadReplicaSourceDBInstanceIdentifier"] == SOURCE, "still replicating"
    assert still["DBInstanceStatus"] == "available"


def test_a_failover_with_data_snapshot_over_the_standing_replica_is_refused(
    world: dict[str, Any],
) -> None:
    cfn = _client(world, "cloudformation", REGION)
    before = cfn.get_template(StackName="demo-database")["TemplateBody"]
    run = relight(
        world,
        *("failover", "--env", "demo", "--region", REGION),
        *("--strategy", "pilot_light", "--data", "snapshot", "--yes"),
    )
    assert run.returncode == 2, run.stderr + run.stdout
    assert "stack demo-database (stacks.database) holds the replica" in run.stderr
    assert "--replace-data database" in run.stderr
    assert cfn.get_template(StackName="demo-database")["TemplateBody"] == before
    names = [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert "demo-web" not in names, "nothing was built"


# --data snapshot while a replica stands: deploy's data-loss guard refuses to replace it ----------

GUARDED = f"""\
name: shop
home_region: us-east-1
recovery_regions: [us-west-2]
account_id: "123456789012"
stand_in: true
blueprints_dir: {REPO / "blueprints"}
objectives: {{rpo: 4h, rto: 1h}}
kms_keys: {{us-west-2: alias/shop}}
zones: {{count: 2}}
artifacts:
  orders: {{kind: rds_snapshot, db_instance: orders}}
stacks:
  network:
    blueprint: network
    stands: pilot_light
    params: {{cidr: 10.1.0.0/16, az_count: 2, nat: none, flow_logs: false,
              AvailabilityZones: {{zones: names}}}}
  db:
    blueprint: database
    data: replica
    params:
      monitoring_interval: 0
      SnapshotIdentifier: {{artifact: orders}}
      VpcId: {{output: network.VpcId}}
      SubnetIds: {{output: network.PrivateSubnetIds}}
      ClientSecurityGroupId: sg-0123456789abcdef0
"""


def test_data_snapshot_while_the_replica_stands_is_refused_as_data_loss(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from fakes import FakeClock, FakeCloudFormation
    from relight.aws.cloudformation import Stacks
    from relight.steps.deploy import deploy
    from relight.steps.discovery import Artifact, Discovery, Zone

    path = tmp_path / "shop.yaml"
    path.write_text(GUARDED)
    loaded = load_environment(str(path), REGION)
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock)
    now = datetime.now(UTC)
    kept = {"port": "5432", "storage_type": "gp3", "option_group": ""}
    found = Discovery(
        region=REGION,
        at=now,
        artifacts={"orders": Artifact("orders", "rds_snapshot", "orders-1", REGION, now, 1,
                                      attributes=kept)},
        zones=(Zone("us-west-2b", "usw2-az1"), Zone("us-west-2a", "usw2-az2")),
    )  # fmt: skip

    def stacks() -> Stacks:
        return Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=600)  # type: ignore[arg-type]

    prepared = build_plan(loaded, REGION, strategy="pilot_light", phase="prepare")
    assert deploy(stacks(), prepared, found, run_id="r1").ok
    replica_body = cfn.stacks["shop-db"].body
    # The snapshot template adds SnapshotIdentifier: CloudFormation replaces the replica
    # (AWS::RDS::DBInstance DBSnapshotIdentifier, SourceDBInstanceIdentifier: Replacement).
    cfn.replacing = {"SnapshotIdentifier": ("Database", "AWS::RDS::DBInstance")}
    back = build_plan(loaded, REGION, strategy="pilot_light", data="snapshot")
    assert "db" in back.stacks, "--data snapshot builds the database at failover"
    outcome = deploy(stacks(), back, found, run_id="r2", ready={"network": cfn.stacks[
        "shop-network"].outputs})  # fmt: skip
    refused = outcome.results["db"]
    assert refused.action == "failed"
    assert "would lose data: Database (AWS::RDS::DBInstance)" in refused.reason
    assert cfn.stacks["shop-db"].body == replica_body and "shop-db" not in cfn.updated
