"""The DR ladder's second axis (issue 23): a row per rung and data mode, with RPO, RTO, cost.

Rendering only, but for the plan command at the end: the rows come from the environment's
file (the demo, and a handmade one with an Aurora database), the costs from the rendered
prepare plans, the RTO from the failover plans with the replicas' promotions, the RPO from
what plan read in the region (`Observed`) or, without it, a labelled forecast.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import BLUEPRINTS, REPO, relight
from relight.aws.clients import Aws, AwsTarget
from relight.commands.connection import Connection
from relight.commands.ladder_readings import observe
from relight.dr.costs import stack_costs
from relight.dr.forecast import (
    BEFORE_DEPLOY_SECONDS,
    TYPICAL_PROMOTION_SECONDS,
    VERIFY_SECONDS,
    drilled_seconds,
    stack_seconds,
)
from relight.dr.ladder import Ladder, ladder
from relight.dr.rpo import Observed, ReplicaReading
from relight.model.config import load_environment
from relight.model.prices import HOURS_PER_MONTH, PRICES
from relight.steps.discovery import Artifact as DiscoveredArtifact
from relight.steps.discovery import Discovery
from relight.steps.render import build_plan
from relight.steps.replica.state import ReplicaState

REGION = "us-west-2"
DEMO = REPO / "stacks" / "demo.yaml"
STRATEGIES = ["backup_restore", "pilot_light", "warm_standby"]
MONTH = HOURS_PER_MONTH


@pytest.fixture(scope="module")
def demo() -> Ladder:
    return ladder(load_environment(str(DEMO), REGION), REGION)


def test_the_demo_has_a_row_per_rung_and_data_mode_in_ladder_order(demo: Ladder) -> None:
    assert [(r.strategy, r.data) for r in demo] == [
        (s, d) for s in STRATEGIES for d in ("snapshot", "replica")
    ]
    assert demo.databases == ("database",)


def test_a_replica_the_rung_cannot_hold_is_shown_as_needing_its_rung_and_not_priced(
    demo: Ladder,
) -> None:
    """The replica stands in the network it reads: at backup_restore nothing stands there."""
    cell = demo.row("backup_restore", "replica")
    assert cell.needs == "pilot_light"
    assert cell.forecast is None and cell.lines == [] and cell.rpo is None
    assert cell.as_dict() == {
        "strategy": "backup_restore",
        "data": "replica",
        "needs": "pilot_light",
        "rto_seconds": None,
        "rpo": None,
        "usd_month": None,
    }
    for strategy in ("pilot_light", "warm_standby"):
        assert demo.row(strategy, "replica").needs is None, strategy


def test_a_replica_row_promotes_the_standing_database_instead_of_restoring_it(
    demo: Ladder,
) -> None:
    restore = demo.row("pilot_light", "snapshot")
    replica = demo.row("pilot_light", "replica")
    assert "database" in replica.standing and "database" not in restore.standing
    assert "database" in restore.built and "database" not in replica.built
    assert replica.promoted == ("database",)
    assert replica.forecast is not None and restore.forecast is not None
    assert replica.forecast.promotions == {"database": TYPICAL_PROMOTION_SECONDS["instance"]}
    assert replica.forecast.critical_path == ["database", "web"], "web waits for the promotion"
    assert replica.forecast.path_text() == "database (promotion) → web"
    web = replica.forecast.stacks["web"]
    expected = BEFORE_DEPLOY_SECONDS + TYPICAL_PROMOTION_SECONDS["instance"] + web + VERIFY_SECONDS
    assert replica.forecast.seconds == pytest.approx(expected)
    assert replica.forecast.seconds < restore.forecast.seconds, "a promotion beats a restore"
    assert restore.forecast.critical_path[0] == "database"
    assert restore.forecast.promotions == {}


def test_warm_standby_with_a_replica_scales_web_up_after_the_promotion(demo: Ladder) -> None:
    row = demo.row("warm_standby", "replica")
    assert row.built == ("web",), "the database is read (promoted), web is scaled up"
    assert row.forecast is not None and row.forecast.critical_path == ["database", "web"]


def test_the_replica_rows_cost_the_replica_more_and_nothing_else(demo: Ladder) -> None:
    for strategy in ("pilot_light", "warm_standby"):
        restore, replica = demo.row(strategy, "snapshot"), demo.row(strategy, "replica")
        extra = [line for line in replica.lines if line.stack == "database"]
        assert replica.usd_month == pytest.approx(
            restore.usd_month + sum(x.usd_month for x in extra)
        )
        instance = [x for x in extra if x.type == "AWS::RDS::DBInstance" and x.usd_month]
        assert [x.what for x in instance] == ["db.t4g.medium, Multi-AZ"], strategy
        assert instance[0].usd_month == pytest.approx(2 * PRICES["rds:db.t4g.medium"] * MONTH)
        storage = [x for x in extra if x.unpriced]
        assert len(storage) == 1 and "its source's" in storage[0].what, "no copy discovered"


def test_the_rpo_is_the_newest_copys_age_or_the_replicas_lag_else_a_labelled_forecast(
    demo: Ladder,
) -> None:
    loaded = load_environment(str(DEMO), REGION)
    snapshot, replica = demo.row("pilot_light", "snapshot"), demo.row("pilot_light", "replica")
    assert snapshot.rpo is not None and replica.rpo is not None
    assert snapshot.rpo.source == "forecast" and snapshot.rpo.seconds == 24 * 3600
    assert "the RPO objective" in snapshot.rpo.label
    assert (replica.rpo.seconds, replica.rpo.label) == (None, "seconds (typical; no replica yet)")
    assert replica.rpo.forecast

    seen = Observed(
        copy_ages={"orders_db": 3 * 3600.0, "web_ami": 5 * 3600.0, "web_data": 4 * 3600.0},
        replicas={"database": ReplicaReading("database", True, True, lag_seconds=2.5)},
    )
    read = ladder(loaded, REGION, observed=seen)
    for strategy in STRATEGIES:
        rpo = read.row(strategy, "snapshot").rpo
        assert rpo is not None and rpo.seconds == 3 * 3600.0, "the database's copy"
        assert rpo.label == "3.0 h (newest copy's age)" and rpo.source == "copy age"
    lagging = read.row("warm_standby", "replica").rpo
    assert lagging is not None and lagging.as_dict() == {
        "seconds": 2.5,
        "label": "2.5 s (replica lag, CloudWatch)",
        "source": "replica lag",
    }
    assert read.other_copies == {"web_ami": 5 * 3600.0, "web_data": 4 * 3600.0}

    stopped = Observed(
        replicas={"database": ReplicaReading("database", True, False, detail="replication error")}
    )
    broken = ladder(loaded, REGION, observed=stopped).row("pilot_light", "replica").rpo
    assert broken is not None and broken.seconds is None
    assert broken.label == "unknown: not replicating"
    assert broken.detail == "database: replication error", "said below the table"
    quiet = Observed(replicas={"database": ReplicaReading("database", True, True)})
    unmeasured = ladder(loaded, REGION, observed=quiet).row("pilot_light", "replica").rpo
    assert unmeasured is not None and unmeasured.label == "seconds (typical; no lag datapoint yet)"


def test_plan_reads_the_copies_and_prices_the_replicas_storage_from_the_newest_copy() -> None:
    loaded = load_environment(str(DEMO), REGION)
    seen = Observed(storage_gb={"orders_db": 20.0}, storage_type={"orders_db": "gp3"})
    row = ladder(loaded, REGION, observed=seen).row("pilot_light", "replica")
    storage = [x for x in row.lines if x.stack == "database" and "storage" in x.what]
    assert [(x.what, x.unpriced) for x in storage] == [
        ("20 GB gp3 storage (its source's), Multi-AZ", False)
    ], "a replica inherits its source's storage, the type too"
    assert storage[0].usd_month == pytest.approx(2 * 20 * PRICES["rds:storage_gp3"])
    io2 = Observed(storage_gb={"orders_db": 20.0}, storage_type={"orders_db": "io2"})
    unlisted = ladder(loaded, REGION, observed=io2).row("pilot_light", "replica").unpriced
    assert any("no price for rds:storage_io2" in x.what for x in unlisted)


def test_measured_promotions_of_past_aws_drills_replace_the_typical_time(tmp_path: Path) -> None:
    reports = tmp_path / "reports" / "demo"
    for run, (seconds, stand_in, measured) in enumerate(
        [(90.0, False, True), (150.0, False, True), (5.0, True, True), (900.0, False, False)]
    ):
        (reports / f"r{run}").mkdir(parents=True)
        label = "measured: promoted" if measured else "forecast: a drill never promotes"
        replica = {"stack": "database", "promotion_seconds": seconds, "promotion_label": label}
        report = {"stand_in": stand_in, "stacks": [], "replicas": [replica]}
        (reports / f"r{run}" / "report.json").write_text(json.dumps(report))
    history, drills = drilled_seconds(tmp_path / "reports", "demo")
    assert history == {"database:promotion": [90.0, 150.0]}, "the stand-in's and forecasts: out"
    assert drills == 3
    row = ladder(load_environment(str(DEMO), REGION), REGION, history, drills).row(
        "pilot_light", "replica"
    )
    assert row.forecast is not None
    assert row.forecast.promotions == {"database": 120.0}
    assert row.forecast.from_drills == ["database"]


# costs of a replica's template, handmade ----------------------------------------------------


def _replica_template(**props: object) -> dict[str, object]:
    return {
        "Resources": {
            "Database": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "SourceDBInstanceIdentifier": "arn:aws:rds:us-east-1:123456789012:db:orders",
                    "DBInstanceClass": "db.r6g.large",
                    **props,
                },
            }
        }
    }


def test_the_replica_is_priced_as_a_db_instance_with_its_sources_storage() -> None:
    single = stack_costs("db", _replica_template(MultiAZ=False), source_storage_gb=100)
    assert [(x.what, round(x.usd_month, 2)) for x in single] == [
        ("db.r6g.large, single-AZ", round(PRICES["rds:db.r6g.large"] * MONTH, 2)),
        ("100 GB gp2 storage (its source's), single-AZ", round(100 * 0.115, 2)),
    ]
    unknown = stack_costs("db", _replica_template(MultiAZ=True))
    assert unknown[0].usd_month == pytest.approx(2 * PRICES["rds:db.r6g.large"] * MONTH)
    assert unknown[1].unpriced and "a read replica's is its source's" in unknown[1].what
    given = stack_costs("db", _replica_template(MultiAZ=False, AllocatedStorage="50"), None,
                        source_storage_gb=100)  # fmt: skip
    assert given[1].what == "50 GB gp2 storage, single-AZ", "the template's own size wins"
    overridden = stack_costs("db", _replica_template(MultiAZ=False), {"rds:storage_gp2": 1.0},
                             source_storage_gb=10)  # fmt: skip
    assert overridden[1].usd_month == pytest.approx(10.0), "prices: overrides the storage too"


def _secondary_template() -> dict[str, object]:
    instance = {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "Engine": "aurora-postgresql",
            "DBInstanceClass": "db.r6g.large",
            "DBClusterIdentifier": {"Ref": "Cluster"},
        },
    }
    return {
        "Resources": {
            "Cluster": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {"Engine": "aurora-postgresql", "GlobalClusterIdentifier": "orders"},
            },
            "ClusterInstance1": instance,
            "ClusterInstance2": instance,
        }
    }


def test_an_aurora_secondary_prices_its_instances_and_its_copy_of_the_volume() -> None:
    lines = stack_costs("db", _secondary_template(), source_storage_gb=200)
    assert [(x.resource, x.what) for x in lines] == [
        ("Cluster", "200 GB Aurora storage (the global database's copy)"),
        ("ClusterInstance1", "Aurora db.r6g.large"),
        ("ClusterInstance2", "Aurora db.r6g.large"),
    ]
    assert lines[0].usd_month == pytest.approx(200 * PRICES["aurora:storage_standard"])
    unknown = stack_costs("db", _secondary_template())
    assert unknown[0].unpriced and "its source's size" in unknown[0].what
    restored = _secondary_template()
    del restored["Resources"]["Cluster"]["Properties"]["GlobalClusterIdentifier"]  # type: ignore[index]
    assert [x.resource for x in stack_costs("db", restored, source_storage_gb=200)] == [
        "ClusterInstance1",
        "ClusterInstance2",
    ], "a restored Aurora cluster's storage bills by use: not counted"


# a handmade environment with an Aurora database ----------------------------------------------

AURORA = f"""\
name: shop
home_region: us-east-1
recovery_regions: [us-west-2]
account_id: "123456789012"
blueprints_dir: {BLUEPRINTS}
objectives: {{rpo: 1h, rto: 2h}}
kms_keys: {{us-east-1: alias/shop, us-west-2: alias/shop}}
zones: {{count: 2}}
artifacts:
  orders:
    kind: rds_cluster_snapshot
    db_cluster: shop-orders
stacks:
  network:
    blueprint: network
    stands: pilot_light
    params:
      cidr: 10.20.0.0/16
      az_count: 2
      nat: none
      flow_logs: false
      AvailabilityZones: {{zones: names}}
  database:
    blueprint: database
    params:
      mode: aurora
      engine: aurora-postgresql
      instance_class: db.r6g.large
      aurora_instances: 2
      monitoring_interval: 0
      SnapshotIdentifier: {{artifact: orders}}
      VpcId: {{output: network.VpcId}}
      SubnetIds: {{output: network.DataSubnetIds}}
      ClientSecurityGroupId: sg-0123456789abcdef0
"""


def test_an_aurora_secondary_is_forecast_and_priced_as_the_global_databases_copy(
    write_env: Callable[..., Path],
) -> None:
    loaded = load_environment(str(write_env(AURORA, "shop")), REGION)
    rows = ladder(loaded, REGION, observed=Observed(storage_gb={"orders": 200.0}))
    assert [(r.strategy, r.data, r.needs) for r in rows] == [
        ("backup_restore", "snapshot", None),
        ("backup_restore", "replica", "pilot_light"),
        ("pilot_light", "snapshot", None),
        ("pilot_light", "replica", None),
        ("warm_standby", "snapshot", None),
        ("warm_standby", "replica", None),
    ]
    replica = rows.row("pilot_light", "replica")
    assert replica.forecast is not None
    assert replica.forecast.promotions == {"database": TYPICAL_PROMOTION_SECONDS["cluster"]}
    assert replica.forecast.seconds == pytest.approx(
        BEFORE_DEPLOY_SECONDS + TYPICAL_PROMOTION_SECONDS["cluster"] + VERIFY_SECONDS
    ), "nothing else is built: the promotion is the whole deploy"
    database = [x for x in replica.lines if x.stack == "database" and (x.usd_month or x.unpriced)]
    assert sorted(x.what for x in database) == [
        "200 GB Aurora storage (the global database's copy)",
        "Aurora db.r6g.large",
        "Aurora db.r6g.large",
    ]
    assert sum(x.usd_month for x in database) == pytest.approx(
        2 * PRICES["aurora:db.r6g.large"] * MONTH + 200 * PRICES["aurora:storage_standard"]
    )
    restore = rows.row("pilot_light", "snapshot")
    assert restore.forecast is not None
    plan = build_plan(loaded, REGION, strategy="pilot_light", data="snapshot")
    assert restore.forecast.stacks["database"] == stack_seconds(plan.stacks["database"].body)


# the plan command on the stand-in: what it reads in the region ----------------------------------


def _plan_json(world: dict[str, Any], *args: str) -> dict[str, Any]:
    run = relight(world, "plan", "--env", "demo", "--region", REGION, "--json", *args)
    assert run.returncode == 0, run.stderr
    shown: dict[str, Any] = json.loads(run.stdout)
    return shown


def _rows(shown: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["strategy"], r["data"]): r for r in shown["ladder"]}


def test_plan_json_gives_each_rows_rpo_rto_and_cost_from_what_the_region_holds(
    world: dict[str, Any],
) -> None:
    """Before the replica exists its rows say so (a forecast); once `prepare --data replica`
    made it, plan finds it by the prepared stack's outputs, and prices its storage from the
    newest copy of the database's snapshot; the snapshot rows carry that copy's age."""
    before = _rows(_plan_json(world))
    assert list(before) == [(s, d) for s in STRATEGIES for d in ("snapshot", "replica")]
    assert before[("backup_restore", "replica")] == {
        "strategy": "backup_restore",
        "data": "replica",
        "needs": "pilot_light",
        "rto_seconds": None,
        "rpo": None,
        "usd_month": None,
    }
    assert before[("pilot_light", "replica")]["rpo"] == {
        "seconds": None,
        "label": "seconds (typical; no replica yet)",
        "source": "forecast",
    }
    copy = before[("pilot_light", "snapshot")]["rpo"]
    assert copy["source"] == "copy age" and copy["seconds"] >= 0
    assert copy["label"].endswith("(newest copy's age)")
    replica = before[("pilot_light", "replica")]
    assert replica["promotions"] == {"database": TYPICAL_PROMOTION_SECONDS["instance"]}
    assert replica["promoted_at_failover"] == ["database"]
    assert "database" in replica["standing"] and "database" not in replica["built_at_failover"]
    storage = [c for c in replica["costs"] if c["stack"] == "database" and "storage" in c["what"]]
    assert len(storage) == 1 and not storage[0]["unpriced"], "the copy's allocated storage"
    assert storage[0]["what"].endswith("storage (its source's), Multi-AZ")
    assert replica["usd_month"] > before[("pilot_light", "snapshot")]["usd_month"]

    prepared = relight(world, "prepare", "--env", "demo", "--region", REGION,
                       "--strategy", "pilot_light", "--data", "replica", "--yes")  # fmt: skip
    assert prepared.returncode == 0, prepared.stderr
    after = _plan_json(world, "--strategy", "pilot_light", "--data", "replica")
    assert (after["strategy"], after["data"]) == ("pilot_light", "replica")
    assert after["forecast"]["critical_path"] == ["database", "web"]
    found = _rows(after)[("pilot_light", "replica")]["rpo"]
    assert found["label"] != "seconds (typical; no replica yet)", "plan found the replica"
    if found["source"] == "replica lag" and found["seconds"] is None:  # what RDS says of it
        assert (
            "replicates from arn:aws:rds:us-east-1:123456789012:db:demo-orders" in (found["detail"])
        )
    assert _rows(after)[("warm_standby", "replica")]["rpo"] == found, "the same replica"


def _replica_stack(region: str) -> None:
    """The prepared database stack's outputs, as the replica template gives them."""
    boto3.client("cloudformation", region_name=region).create_stack(
        StackName="demo-database",
        TemplateBody=json.dumps({
            "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
            "Outputs": {
                "DataMode": {"Value": "replica"},
                "DatabaseIdentifier": {"Value": "demo-orders-replica"},
            },
        }),
    )  # fmt: skip


def _state(replicating: bool) -> Callable[..., ReplicaState]:
    def read(_rds: Any, key: str, kind: str, identifier: str, region: str) -> ReplicaState:
        return ReplicaState(
            key, kind, identifier, region, exists=True, replicating=replicating,
            promoted=False, status="available", source_arn="arn:aws:rds:us-east-1:1:db:x",
            endpoint=None, port=None, detail=f"{identifier}: replication {replicating}",
        )  # fmt: skip

    return read


def test_plan_reads_the_replicas_lag_in_the_region_with_its_kind_and_identifier() -> None:
    """What plan hands the ladder: the copies' ages and sizes from discovery (no call), and
    the replica named by the prepared stack's outputs, its lag read for its kind."""
    loaded = load_environment(str(DEMO), REGION)
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    copy = DiscoveredArtifact(
        name="orders_db", kind="rds_snapshot", id="demo-orders-1", region=REGION,
        created=now - timedelta(hours=2), candidates=1, attributes={"allocated_gb": "20"},
    )  # fmt: skip
    discovery = Discovery(region=REGION, at=now, artifacts={"orders_db": copy})
    asked: list[tuple[str, str, datetime]] = []

    def lag(_cloudwatch: Any, kind: str, identifier: str, when: datetime) -> float:
        asked.append((kind, identifier, when))
        return 1.5

    with mock_aws():
        conn = Connection(Aws(AwsTarget()), REGION, "123456789012")
        plan = build_plan(loaded, REGION, strategy="pilot_light", data="replica")
        nothing = observe(plan, conn, discovery, now, state_reader=_state(True), lag_reader=lag)
        assert nothing.replicas["database"] == ReplicaReading(
            "database", exists=False, detail="no replica-mode stack demo-database"
        )
        assert asked == []
        _replica_stack(REGION)
        seen = observe(plan, conn, discovery, now, state_reader=_state(True), lag_reader=lag)
        stopped = observe(plan, conn, discovery, now, state_reader=_state(False), lag_reader=lag)
    assert seen.copy_ages == {"orders_db": 7200.0}
    assert seen.storage_gb == {"orders_db": 20.0}
    assert seen.storage_type == {}, "the copy reports none: AWS's default"
    assert seen.replicas["database"] == ReplicaReading(
        "database", exists=True, replicating=True, lag_seconds=1.5, detail="available"
    )
    assert asked == [("instance", "demo-orders-replica", now)], "read once, for the replica"
    assert stopped.replicas["database"].replicating is False
    assert stopped.replicas["database"].detail == "demo-orders-replica: replication False"


def test_a_replica_whose_reads_never_stand_needs_their_stands_at_every_rung(
    write_env: Callable[..., Path],
) -> None:
    """No rung holds a replica of a database that reads a stack built at failover only."""
    text = AURORA.replace(
        "    blueprint: network\n    stands: pilot_light\n", "    blueprint: network\n"
    )
    rows = ladder(load_environment(str(write_env(text, "shop")), REGION), REGION)
    replicas = [r for r in rows if r.data == "replica"]
    assert [(r.strategy, r.needs) for r in replicas] == [
        (s, "a stands: on network") for s in STRATEGIES
    ]
    assert all(r.forecast is None and r.usd_month == 0 and not r.lines for r in replicas)
    assert all(r.forecast is not None for r in rows if r.data == "snapshot")
