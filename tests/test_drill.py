"""Drills: rebuild in a drill namespace, verify, always tear down, and report RTO and RPO.

The happy path runs on moto in-process (create the AMI and snapshot, run the
drill, look at what is left); failures come from the fake CloudFormation
(fakes.py), injected through `drill(stacks=...)`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, moto_web_inputs
from fakes import FakeClock, FakeCloudFormation
from relight.aws.clients import Aws, AwsTarget
from relight.aws.cloudformation import Stacks
from relight.commands.connection import Connection
from relight.commands.drill import drill
from relight.model.config import LoadedEnvironment, load_environment


@pytest.fixture
def world(
    write_env: Callable[[str], Path],
) -> Iterator[tuple[LoadedEnvironment, Connection, dict[str, str]]]:
    with mock_aws():
        inputs = moto_web_inputs(tags=True)
        seeded = {"ami": inputs.artifacts["web_ami"].id}
        loaded = load_environment(str(write_env(MINIMAL)), "us-west-2")
        conn = Connection(Aws(AwsTarget()), "us-west-2", "123456789012")
        yield loaded, conn, seeded


def _moto_stacks() -> Stacks:
    """moto's CloudFormation, as relight's additions play it (conftest installs them)."""
    return Stacks(boto3.client("cloudformation", "us-west-2"), timeout=60)


def _live_stacks() -> list[str]:
    return [
        s["StackName"]
        for s in boto3.client("cloudformation", "us-west-2").describe_stacks()["Stacks"]
    ]


def test_a_drill_builds_verifies_tears_down_and_reports(world: Any, tmp_path: Path) -> None:
    loaded, conn, seeded = world
    report, paths = drill(loaded, conn, drill_id="t1", reports_dir=tmp_path, stacks=_moto_stacks())
    assert report["ok"], report["problems"]
    assert _live_stacks() == [], "the drill leaves no stacks behind"
    assert [p["name"] for p in report["phases"]] == [
        "prepare", "render", "discover", "preflight", "deploy", "verify", "teardown",
    ]  # fmt: skip
    statuses = {p["name"]: p["status"] for p in report["phases"]}
    assert statuses.pop("prepare") == "skipped", "nothing of MINIMAL stands at backup_restore"
    assert set(statuses.values()) == {"ok"}
    assert report["strategy"] == "backup_restore" and report["outage"] is None
    assert {s["name"] for s in report["stacks"]} == {
        "shop-drill-t1-network", "shop-drill-t1-security", "shop-drill-t1-web",
    }  # fmt: skip
    assert all(s["start"] and s["end"] and s["start"] <= s["end"] for s in report["stacks"])
    checks = {(c["check"], c["result"]) for c in report["verification"]}
    assert ("instances running", "passed") in checks
    assert ("instances made from the expected AMI", "passed") in checks
    assert 0 < report["rto_seconds"] < 600
    artifacts = {a["name"]: a for a in report["artifacts"]}
    assert artifacts["web_ami"]["id"] == seeded["ami"]
    assert 0 <= artifacts["web_ami"]["age_seconds"] < 600
    assert report["objectives"] == {
        "rto_seconds": 3600, "rpo_seconds": 14400, "rto_met": True, "rpo_met": True,
        "enforced": True,
    }  # fmt: skip
    assert report["stand_in"] is False and report["timings_note"] == ""
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html", "index.html"]
    assert json.loads(paths[0].read_text())["run_id"] == "t1"


def test_a_missed_objective_fails_the_drill_unless_it_is_a_warning(
    world: Any, tmp_path: Path
) -> None:
    loaded, conn, _ = world
    start = datetime.now(UTC)

    def slow() -> Callable[[], datetime]:
        """A clock on which every step of a drill takes 10 minutes, from `start`."""
        ticks = iter(range(10**6))
        return lambda: start + timedelta(minutes=10 * next(ticks))

    report, _ = drill(
        loaded, conn, drill_id="slow", reports_dir=tmp_path, now=slow(), stacks=_moto_stacks()
    )
    assert report["objectives"]["rto_met"] is False
    assert report["rto_seconds"] > 3600
    assert not report["ok"]
    warned, _ = drill(
        loaded,
        conn,
        drill_id="warn",
        reports_dir=tmp_path,
        now=slow(),
        enforce_objectives=False,
        stacks=_moto_stacks(),
    )
    assert warned["objectives"]["rto_met"] is False, warned["problems"]
    assert warned["ok"], "a miss is a warning with enforce_objectives=False"


def test_a_failed_deploy_still_tears_down_and_writes_the_report(world: Any, tmp_path: Path) -> None:
    loaded, conn, _ = world
    clock = FakeClock()
    cfn = FakeCloudFormation({"shop-drill-t2-web": "fail"}, clock=clock)
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=600)
    report, paths = drill(loaded, conn, drill_id="t2", reports_dir=tmp_path, stacks=stacks)
    assert not report["ok"]
    assert {p["name"]: p["status"] for p in report["phases"]} == {
        "prepare": "skipped", "render": "ok", "discover": "ok", "preflight": "ok",
        "deploy": "failed", "verify": "skipped", "teardown": "ok",
    }  # fmt: skip
    assert any("Instance1: The image id" in p for p in report["problems"])
    assert report["rto_seconds"] is None, "never verified: no RTO"
    assert report["teardown"]["status"] == "ok"
    assert cfn.stacks == {}, "everything the drill made (and the rolled-back stack) is gone"
    assert paths[2].exists()


def test_a_failed_teardown_is_reported_and_fails_the_drill(world: Any, tmp_path: Path) -> None:
    loaded, conn, _ = world
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock)
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=60)
    original = cfn.delete_stack

    def stuck(StackName: str) -> None:
        original(StackName)
        if StackName.endswith("-network"):
            cfn.behaviour[StackName] = "hang"

    cfn.delete_stack = stuck  # type: ignore[method-assign]
    report, _ = drill(loaded, conn, drill_id="t3", reports_dir=tmp_path, stacks=stacks)
    assert not report["ok"]
    assert report["teardown"]["status"] == "failed"
    assert report["teardown"]["left_behind"] == ["shop-drill-t3-network"]


def test_keep_leaves_the_drill_up_for_a_look(world: Any, tmp_path: Path) -> None:
    loaded, conn, _ = world
    report, _ = drill(
        loaded, conn, drill_id="t4", keep=True, reports_dir=tmp_path, stacks=_moto_stacks()
    )
    assert report["ok"]
    assert report["teardown"]["status"] == "kept"
    assert sorted(_live_stacks()) == [
        "shop-drill-t4-network", "shop-drill-t4-security", "shop-drill-t4-web",
    ]  # fmt: skip


def _drill_lock(loaded: LoadedEnvironment, conn: Connection, drill_id: str) -> Any:
    from relight.aws.lease import read_lock
    from relight.commands.connection import lock_ref

    found = read_lock(lock_ref(loaded, conn, f"drill-{drill_id}"))
    return found[0] if found else None


def test_a_drill_whose_id_another_run_holds_refuses_and_writes_no_report(
    world: Any, tmp_path: Path
) -> None:
    from relight.aws.lock import LockHeld, hold
    from relight.commands.connection import lock_ref

    loaded, conn, _ = world
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock)
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=600)
    with hold(lock_ref(loaded, conn, "drill-t5"), "t5", "relight drill --drill-id t5"):
        with pytest.raises(LockHeld) as caught:
            drill(loaded, conn, drill_id="t5", reports_dir=tmp_path, stacks=stacks)
        assert str(caught.value).startswith("shop --as drill-t5 in us-west-2 is locked by ")
        assert "--as drill-t5" in (caught.value.hint or "")
    assert cfn.created == [], "nothing was built"
    assert not (tmp_path / "shop").exists(), "the running drill's report is left alone"


def test_a_drill_gives_its_lock_back_after_a_failure_and_after_ctrl_c(
    world: Any, tmp_path: Path
) -> None:
    loaded, conn, _ = world
    clock = FakeClock()
    cfn = FakeCloudFormation({"shop-drill-t6-web": "fail"}, clock=clock)
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=600)
    report, _ = drill(loaded, conn, drill_id="t6", reports_dir=tmp_path, stacks=stacks)
    assert not report["ok"]
    assert _drill_lock(loaded, conn, "t6") is None

    cfn = FakeCloudFormation(clock=clock)
    original = cfn.create_stack

    def interrupted(**kwargs: Any) -> dict[str, str]:
        if kwargs["StackName"].endswith("-web"):
            raise KeyboardInterrupt
        return original(**kwargs)

    cfn.create_stack = interrupted  # type: ignore[method-assign]
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=600)
    with pytest.raises(KeyboardInterrupt):
        drill(loaded, conn, drill_id="t7", reports_dir=tmp_path, stacks=stacks)
    assert _drill_lock(loaded, conn, "t7") is None
    assert cfn.stacks == {}, "torn down all the same"


def test_ctrl_c_during_the_teardown_still_writes_the_report_naming_what_is_left(
    world: Any, tmp_path: Path
) -> None:
    loaded, conn, _ = world
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock)
    original = cfn.delete_stack

    def interrupted(StackName: str) -> None:
        if StackName.endswith("-security"):
            raise KeyboardInterrupt
        original(StackName)

    cfn.delete_stack = interrupted  # type: ignore[method-assign]
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=600)
    with pytest.raises(KeyboardInterrupt):
        drill(loaded, conn, drill_id="t8", reports_dir=tmp_path, stacks=stacks)
    report = json.loads((tmp_path / "shop" / "t8" / "report.json").read_text())
    assert report["interrupted"] is True and report["ok"] is False
    assert report["teardown"]["status"] == "interrupted"
    assert report["teardown"]["left_behind"] == ["shop-drill-t8-network", "shop-drill-t8-security"]
    assert "teardown interrupted (Ctrl-C): still there: shop-drill-t8-network" in (
        " ".join(report["problems"])
    )
    assert {p["name"]: p["status"] for p in report["phases"]}["teardown"] == "interrupted"
    assert _drill_lock(loaded, conn, "t8") is None, "the lock is given back all the same"


@pytest.mark.parametrize(
    ("phase", "step"),
    [
        ("render", "lint_plan"),
        ("discover", "discover_environment"),
        ("preflight", "run_preflight"),
        ("deploy", "deploy"),
        ("verify", "verify"),
    ],
)
def test_ctrl_c_in_any_phase_still_tears_down_and_writes_the_report(
    world: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str, step: str
) -> None:
    """Fault injection: the phase's step raises KeyboardInterrupt (as Ctrl-C would)."""
    import relight.commands.drill as drill_module

    loaded, conn, _ = world
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock)
    real = getattr(drill_module, step)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        if step == "deploy":  # some stacks exist by then: the teardown has work to do
            real(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(drill_module, step, interrupted)
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=600)
    with pytest.raises(KeyboardInterrupt):
        drill(loaded, conn, drill_id=f"c-{phase}", reports_dir=tmp_path, stacks=stacks)
    report = json.loads((tmp_path / "shop" / f"c-{phase}" / "report.json").read_text())
    assert report["interrupted"] is True and report["ok"] is False
    assert report["teardown"]["status"] == "ok", "torn down all the same"
    assert cfn.stacks == {}, "nothing of the drill is left"
    assert any("interrupted (Ctrl-C)" in p for p in report["problems"])
    assert _drill_lock(loaded, conn, f"c-{phase}") is None, "the lock is given back"


def test_an_outage_drill_passes_only_when_no_call_needed_the_lost_region(
    world: Any, tmp_path: Path
) -> None:
    """With us-east-1 switched off, MINIMAL's drill needs nothing from it: passed, and said so.
    Then a drill whose discovery misses an artifact and asks the home region (relight not
    told the region is down, as in a real outage) has that call refused before it is sent:
    listed in the report, and the drill fails."""
    loaded, conn, _ = world
    report, _ = drill(
        loaded, conn, drill_id="o1", reports_dir=tmp_path, stacks=_moto_stacks(), outage="us-east-1"
    )
    assert report["ok"], report["problems"]
    assert report["outage"]["passed"] is True and report["outage"]["refused"] == []
    assert report["outage"]["summary"] == "passed with us-east-1 down: no call refused"

    boto3.client("ec2", "us-west-2").deregister_image(ImageId=world[2]["ami"])
    from relight.aws.clients import Aws as RealAws

    unaware = pytest.MonkeyPatch()
    unaware.setattr(RealAws, "down", lambda self, service, region: None)
    try:
        failed, _ = drill(
            loaded, conn, drill_id="o2", reports_dir=tmp_path, stacks=_moto_stacks(),
            outage="us-east-1",
        )  # fmt: skip
    finally:
        unaware.undo()
    assert not failed["ok"]
    refused = {(r["service"], r["action"], r["region"]) for r in failed["outage"]["refused"]}
    assert ("ec2", "DescribeImages", "us-east-1") in refused
    assert failed["outage"]["summary"].startswith("failed with us-east-1 down: ")
    assert "home region us-east-1 unreachable" in failed["problems"][0], "the hint gave up"
    assert _live_stacks() == []


def test_an_outage_drill_asks_no_iam_and_reports_what_preflight_noted(
    world: Any, tmp_path: Path
) -> None:
    """With us-east-1 rehearsed as down, preflight asks IAM nothing about Auto Scaling's role
    (prepare made it; issue 20, item 1), so nothing is refused; what preflight notes instead,
    that prepare has not recorded the role, reaches the screen's report, its JSON and its
    Markdown (issue 20: the drill discarded preflight's notes)."""
    loaded, conn, _ = world
    asg = MINIMAL.replace(
        "    params:\n      mode: instances\n      count: 2\n",
        "    params:\n      mode: asg\n      min_size: 1\n      max_size: 2\n",
    )
    loaded = load_environment(str(_write(loaded.path.parent, asg)), "us-west-2")
    report, paths = drill(
        loaded, conn, drill_id="t9", reports_dir=tmp_path, stacks=_moto_stacks(),
        outage="us-east-1",
    )  # fmt: skip
    assert report["outage"]["refused"] == [] and report["outage"]["passed"], report["outage"]
    assert not [n for n in report["notes"] if "not checked" in n and "iam" in n], report["notes"]
    said = [n for n in report["notes"] if "has not recorded it in us-west-2" in n]
    assert said and "relight prepare --env shop --region us-west-2" in said[0], report["notes"]
    markdown = next(p for p in paths if p.suffix == ".md").read_text(encoding="utf-8")
    assert "## Notes" in markdown and said[0] in markdown
    assert (
        said[0]
        in json.loads(next(p for p in paths if p.name == "report.json").read_text())["notes"]
    )


def _write(folder: Path, text: str) -> Path:
    path = folder / "shop.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_drill_deletes_only_the_final_snapshots_it_made_and_names_them_in_its_report(
    world: Any,
) -> None:
    """A final snapshot is a manual DB snapshot (Q8): it counts against the region's quota until
    deleted. The drill deletes those its own databases left, never another."""
    from relight.commands.drill_failback import delete_made, final_snapshot_ids
    from relight.dr.report import render_markdown
    from relight.steps.deploy import StackResult
    from relight.steps.teardown import TeardownResult

    _, conn, _ = world
    rds = boto3.client("rds", "us-west-2")
    for name in ("shop-drill-t1-db", "orders"):
        rds.create_db_instance(
            DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres",
            MasterUsername="u", MasterUserPassword="password1", AllocatedStorage=20,
        )  # fmt: skip
    rds.create_db_snapshot(DBInstanceIdentifier="shop-drill-t1-db", DBSnapshotIdentifier="d-final")
    rds.create_db_snapshot(DBInstanceIdentifier="orders", DBSnapshotIdentifier="orders-manual")
    torn = StackResult("db", "shop-drill-t1-db", "deleted")
    torn.final_snapshots = ["d-final (of shop-drill-t1-db)", "(final snapshot of x not readable)"]
    deleted, failed = delete_made(conn, [], final_snapshot_ids(TeardownResult([torn])))
    assert (deleted, failed) == (["d-final (us-west-2)"], [])
    manual = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    left = [s["DBSnapshotIdentifier"] for s in manual]
    assert left == ["orders-manual"], "production's snapshot is not the drill's to delete"
    report = {"teardown": {"status": "ok", "stacks": [], "left_behind": [], "deleted": deleted}}
    assert "failback copies): `d-final (us-west-2)`" in render_markdown(report)


def test_final_snapshots_are_told_by_identifier_not_by_a_local_clock_that_runs_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review of issue 20: teardown took as final the manual snapshots made since this
    machine's now; on a laptop a few minutes fast, RDS's SnapshotCreateTime of the final
    snapshot is "before" it, the drill never deletes it and it counts against the manual
    snapshot quota (Q8). The new ones are those whose identifiers were not there before the
    delete. RDS and CloudFormation are played by a fake that answers as they document."""
    from relight.commands import teardown

    aws_now = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)

    class Ahead(datetime):  # this machine's clock, ten minutes ahead of AWS's
        @classmethod
        def now(cls, tz: Any = None) -> Any:
            return aws_now + timedelta(minutes=10)

    monkeypatch.setattr(teardown, "datetime", Ahead, raising=False)

    def snap(kind: str, ident: str, owner: str, minutes: int) -> dict[str, Any]:
        key = "DBSnapshotIdentifier" if kind == "instance" else "DBClusterSnapshotIdentifier"
        owner_key = "DBInstanceIdentifier" if kind == "instance" else "DBClusterIdentifier"
        return {
            key: ident,
            owner_key: owner,
            "SnapshotType": "manual",
            "SnapshotCreateTime": aws_now + timedelta(minutes=minutes),
        }

    class Rds:
        def __init__(self) -> None:
            self.instance = [snap("instance", "orders-copy", "shop-orders", -60)]
            self.cluster = [snap("cluster", "ledger-copy", "shop-ledger", -60)]

        def describe_db_snapshots(self, **kw: Any) -> Any:
            wanted = kw["DBInstanceIdentifier"]
            got = [s for s in self.instance if s["DBInstanceIdentifier"] == wanted]
            return {"DBSnapshots": got}

        def describe_db_cluster_snapshots(self, **kw: Any) -> Any:
            wanted = kw["DBClusterIdentifier"]
            got = [s for s in self.cluster if s["DBClusterIdentifier"] == wanted]
            return {"DBClusterSnapshots": got}

        def get_paginator(self, op: str) -> Any:
            return _OnePage(getattr(self, op))

    class Cfn:
        def get_paginator(self, op: str) -> Any:
            assert op == "list_stack_resources"
            summaries = [
                {"ResourceType": "AWS::RDS::DBInstance", "PhysicalResourceId": "shop-orders"},
                {"ResourceType": "AWS::RDS::DBCluster", "PhysicalResourceId": "shop-ledger"},
                {"ResourceType": "AWS::EC2::VPC", "PhysicalResourceId": "vpc-1"},
            ]
            return _OnePage(lambda **_: {"StackResourceSummaries": summaries})

    class _OnePage:
        def __init__(self, call: Any) -> None:
            self.call = call

        def paginate(self, **kw: Any) -> Any:
            return [self.call(**kw)]

    rds, cfn = Rds(), Cfn()

    class Clients:
        def client(self, service: str, region: str, bounded: bool = False) -> Any:
            return {"rds": rds, "cloudformation": cfn}[service]

    conn = Connection(Clients(), "us-west-2", "123456789012")  # type: ignore[arg-type]
    after = teardown.final_snapshots(conn, "shop-drill-t1-db")
    # the delete: each database leaves its final snapshot, stamped by AWS's clock
    rds.instance.append(snap("instance", "shop-orders-final", "shop-orders", 1))
    rds.cluster.append(snap("cluster", "shop-ledger-final", "shop-ledger", 1))
    assert after() == ["shop-orders-final (of shop-orders)", "shop-ledger-final (of shop-ledger)"]
