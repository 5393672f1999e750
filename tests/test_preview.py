"""`relight plan`: each stack's action, parameters and ages, computed without changing anything."""

from __future__ import annotations

from relight.steps.deploy import deploy
from relight.steps.discovery import Artifact
from relight.steps.preview import preview
from test_deploy import GRAPH, ROOT, _fake, _inputs, _newer, _plan, _stacks


def test_an_empty_region_plans_creates_with_ages_and_unknown_outputs(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    rows = preview(_stacks(cfn, clock), _plan(write_env), _inputs())
    assert [r.action for r in rows] == ["create"] * 5
    web = {p.name: p for p in next(r for r in rows if r.key == "web").parameters}
    assert web["ImageId"].value == "ami-0123"
    assert web["ImageId"].age_seconds is not None and web["ImageId"].age_seconds < 60
    assert web["SubnetIds"].value is None, "the network does not exist yet"
    assert cfn.created == [] and cfn.change_sets == {}


def test_a_deployed_environment_plans_no_change_then_an_exact_update(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    rows = preview(_stacks(cfn, clock), plan, _inputs())
    assert {r.action for r in rows} == {"no change"}
    newer = _inputs()
    newer.artifacts["web_ami"] = Artifact(
        "web_ami", "ami", "ami-0456", "us-west-2", newer.at, 1, attributes=ROOT
    )
    rows = preview(_stacks(cfn, clock), plan, newer)
    actions = {r.key: r.action for r in rows}
    assert actions == {
        "network": "no change",
        "security": "no change",
        "web": "update",
        "extra": "update",
        "batch": "update",
    }
    web = next(r for r in rows if r.key == "web")
    assert web.changes == ["Modify ImageId (AWS::EC2::Instance), replacement: False"]
    assert cfn.updated == [] and cfn.change_sets == {}, "the plan's change sets are deleted"


def test_leftovers_and_stacks_behind_a_recreated_one_are_said_plainly(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env, GRAPH)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    cfn.leftover("shop-security", "ROLLBACK_COMPLETE")
    cfn.leftover("shop-batch", "UPDATE_IN_PROGRESS")
    cfn.behaviour["shop-batch"] = "hang"
    rows = {r.key: r for r in preview(_stacks(cfn, clock), plan, _inputs())}
    assert rows["security"].action == "recreate"
    assert rows["web"].action == "update?"
    assert "after security exist" in rows["web"].note
    assert rows["batch"].action == "wait"
    assert cfn.deleted == []


def test_the_plan_shows_the_kept_snapshot_and_a_data_replacement_loudly(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    cfn.replacing = {"ImageId": ("Instance1", "AWS::EC2::Instance")}
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    rows = {r.key: r for r in preview(_stacks(cfn, clock), plan, _newer(web_data="snap-0999"))}
    data = {p.name: p for p in rows["web"].parameters}["DataSnapshotId"]
    assert data.value == "snap-0123", "the plan shows what deploy will keep"
    assert "newest is snap-0999; keeps the one it was restored from" in data.source
    assert data.age_seconds is None, "the newest copy's age is not the kept snapshot's"
    assert rows["web"].action == "no change"
    rows = {r.key: r for r in preview(_stacks(cfn, clock), plan, _newer(web_ami="ami-0456"))}
    assert rows["web"].action == "refused: would lose data"
    assert "Instance1 (AWS::EC2::Instance) would be replaced" in rows["web"].note
    assert "--replace-data web" in rows["web"].note
    named = preview(
        _stacks(cfn, clock), plan, _newer(web_ami="ami-0456"), replace_data=frozenset({"web"})
    )
    assert next(r for r in named if r.key == "web").action == "REPLACES DATA"


def test_a_failed_stack_is_planned_as_a_retry_with_its_changes_and_their_risk(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake({"shop-web": "fail-once"})
    cfn.replacing = {"ImageId": ("Database", "AWS::RDS::DBInstance")}
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    rows = {r.key: r for r in preview(_stacks(cfn, clock), plan, _inputs())}
    assert rows["web"].action == "retry"
    assert "retried as it is" in rows["web"].note
    rows = {r.key: r for r in preview(_stacks(cfn, clock), plan, _newer(web_ami="ami-0456"))}
    assert rows["web"].action == "refused: would lose data"
    assert "Database (AWS::RDS::DBInstance) would be replaced" in rows["web"].note
    assert cfn.retried == [] and cfn.change_sets == {}, "the plan changed nothing"
