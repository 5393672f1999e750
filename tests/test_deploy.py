"""The deploy engine: order, outputs into parameters, failures, leftovers, timeouts, teardown.

Faults moto cannot produce (a stack that rolls back, one that never finishes)
come from the fake client in fakes.py; the happy path also runs on moto.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import islice, pairwise
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, moto_web_inputs
from fakes import FakeClock, FakeCloudFormation
from relight.aws.cloudformation import Stacks, backoff
from relight.errors import DeployError
from relight.model.config import load_environment
from relight.model.graph import dependency_graph
from relight.model.plan import Plan
from relight.model.scheduler import Interrupted
from relight.steps.deploy import deploy
from relight.steps.discovery import Artifact, Discovery, Zone
from relight.steps.render import build_plan
from relight.steps.teardown import teardown

COMPUTE = """\
    blueprint: compute
    params:
      mode: instances
      az_count: 2
      ImageId: {artifact: web_ami}
      DataSnapshotId: {artifact: web_data}
      SubnetIds: {output: network.PrivateSubnetIds}
      SecurityGroupId: {output: security.WebSecurityGroupId}
      InstanceProfileArn: arn:aws:iam::123456789012:instance-profile/shop-web
"""
# network ← security ← web ← extra, and security ← batch (an independent branch)
GRAPH = (
    MINIMAL
    + "  extra:\n"
    + COMPUTE.replace("    params:", "    depends_on: [web]\n    params:")
    + "  batch:\n"
    + COMPUTE
)


ROOT = {"root_device": "/dev/xvda", "root_size_gb": "8"}


def _plan(write_env: Callable[..., Path], text: str = GRAPH) -> Plan:
    return build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")


def _inputs() -> Discovery:
    now = datetime.now(UTC)
    return Discovery(
        region="us-west-2",
        at=now,
        artifacts={
            "web_ami": Artifact("web_ami", "ami", "ami-0123", "us-west-2", now, 1, attributes=ROOT),
            "web_data": Artifact("web_data", "ebs_snapshot", "snap-0123", "us-west-2", now, 1),
        },
        zones=(Zone("us-west-2b", "usw2-az1"), Zone("us-west-2a", "usw2-az2")),
    )


def _fake(
    behaviour: dict[str, str] | None = None, **kwargs: object
) -> tuple[FakeCloudFormation, FakeClock]:
    clock = FakeClock()
    return FakeCloudFormation(behaviour, clock=clock, **kwargs), clock  # type: ignore[arg-type]


def _stacks(
    cfn: FakeCloudFormation, clock: FakeClock, timeout: float = 600, **kw: object
) -> Stacks:
    return Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=timeout, **kw)  # type: ignore[arg-type]


def test_stacks_are_created_in_order_with_outputs_as_parameters(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    outcome = deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1")
    assert outcome.ok
    assert cfn.created.index("shop-network") < cfn.created.index("shop-web")
    assert cfn.created.index("shop-web") < cfn.created.index("shop-extra")
    assert outcome.results["security"].parameters["VpcId"] == "vpc-1"
    web = outcome.results["web"].parameters
    assert web["SubnetIds"] == "subnet-1,subnet-2"
    assert web["SecurityGroupId"] == "sg-1"
    assert web["ImageId"] == "ami-0123"
    assert outcome.results["network"].parameters["AvailabilityZones"] == "us-west-2b,us-west-2a"
    for sp in _plan(write_env).stacks.values():  # exports cannot cross regions: never used
        assert "Export" not in sp.body and "Fn::ImportValue" not in sp.body, sp.name


def test_a_stack_starts_when_its_own_dependencies_are_done_not_its_level(write_env) -> None:  # type: ignore[no-untyped-def]
    # web and batch both need only security; tail needs only batch. web takes 60 s.
    text = (
        GRAPH + "  tail:\n" + COMPUTE.replace("    params:", "    depends_on: [batch]\n    params:")
    )
    cfn, clock = _fake(durations={"shop-web": 60.0}, duration=1.0)
    outcome = deploy(_stacks(cfn, clock), _plan(write_env, text), _inputs(), run_id="r1")
    assert outcome.ok
    assert cfn.started["shop-web"] == cfn.started["shop-batch"], "siblings start together"
    assert cfn.started["shop-tail"] < cfn.started["shop-web"] + 5, "tail did not wait for web"
    assert cfn.started["shop-extra"] >= cfn.started["shop-web"] + 60


def test_concurrency_bounds_the_stacks_in_flight(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake(duration=10.0)
    outcome = deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1", concurrency=1)
    assert outcome.ok
    starts = sorted(cfn.started.values())
    assert all(later - earlier >= 10 for earlier, later in pairwise(starts))


def test_a_failed_stack_skips_its_dependents_and_independent_branches_finish(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake({"shop-web": "fail"})
    outcome = deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1")
    assert not outcome.ok
    web = outcome.results["web"]
    assert (web.action, web.status) == ("failed", "CREATE_FAILED")
    assert web.reason == "Instance1: The image id '[ami-0bad]' does not exist"
    assert outcome.results["extra"].action == "skipped"
    assert "needs web" in outcome.results["extra"].reason
    assert "shop-extra" not in cfn.created
    assert outcome.results["batch"].action == "created"


@pytest.mark.parametrize("status", ["ROLLBACK_COMPLETE", "CREATE_FAILED", "REVIEW_IN_PROGRESS"])
def test_a_rerun_leaves_unchanged_stacks_alone_and_recreates_failed_leftovers(
    write_env, status
) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    cfn.leftover("shop-web", status)
    cfn.created.clear()
    outcome = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r2")
    assert outcome.ok, outcome.failed()
    assert outcome.results["network"].action == "unchanged"
    assert outcome.results["security"].action == "unchanged"
    assert outcome.results["web"].action == "recreated"
    assert cfn.deleted == ["shop-web"]
    assert cfn.created == ["shop-web"]
    assert cfn.updated == []
    assert not cfn.change_sets, "change sets without changes are not left behind"


def test_changed_parameters_update_the_stack_through_a_change_set(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    newer = _inputs()
    newer.artifacts["web_ami"] = Artifact(
        "web_ami", "ami", "ami-0456", "us-west-2", newer.at, 1, attributes=ROOT
    )
    outcome = deploy(_stacks(cfn, clock), plan, newer, run_id="r2")
    assert outcome.ok
    assert sorted(cfn.updated) == ["shop-batch", "shop-extra", "shop-web"]
    web = outcome.results["web"]
    assert (web.action, web.status) == ("updated", "UPDATE_COMPLETE")
    assert web.changes == ["Modify ImageId (AWS::EC2::Instance), replacement: False"]
    assert outcome.results["network"].action == "unchanged"
    tags = {t["Key"]: t["Value"] for t in cfn.stacks["shop-web"].tags}
    assert tags["relight:run"] == "r1", "an update keeps the run that made the stack"


def test_a_failed_update_reports_the_updates_own_failure(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake({"shop-web": "fail-update"})
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    newer = _inputs()
    newer.artifacts["web_ami"] = Artifact(
        "web_ami", "ami", "ami-0456", "us-west-2", newer.at, 1, attributes=ROOT
    )
    cfn.page_size = 2  # the failure is found across pages of events
    outcome = deploy(_stacks(cfn, clock), plan, newer, run_id="r2")
    web = outcome.results["web"]
    assert (web.action, web.status) == ("failed", "UPDATE_FAILED")
    assert web.reason == "Instance1: Instance type t9.huge is not supported"
    assert outcome.results["extra"].action == "skipped"


def test_progress_shows_only_events_of_the_current_operation(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake(page_size=2)
    plan = _plan(write_env, MINIMAL)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    seen: list[tuple[str, str, str]] = []
    newer = _inputs()
    newer.artifacts["web_ami"] = Artifact(
        "web_ami", "ami", "ami-0456", "us-west-2", newer.at, 1, attributes=ROOT
    )
    stacks = _stacks(cfn, clock, on_event=lambda *e: seen.append(e), events=True)
    deploy(stacks, plan, newer, run_id="r2")
    web = [status for name, status, _ in seen if name == "shop-web"]
    assert "UPDATE_IN_PROGRESS" in web
    assert "Instance1 UPDATE_COMPLETE" in web, "the update's resource events are shown"
    assert "Instance1 CREATE_COMPLETE" not in web, "an event of the earlier create was replayed"


def test_a_stack_that_never_finishes_times_out(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake({"shop-network": "hang"})
    outcome = deploy(_stacks(cfn, clock, timeout=120), _plan(write_env), _inputs(), run_id="r1")
    network = outcome.results["network"]
    assert (network.action, network.status) == ("failed", "TIMED_OUT")
    assert "still CREATE_IN_PROGRESS after 12" in network.reason
    assert {r.action for k, r in outcome.results.items() if k != "network"} == {"skipped"}
    assert 120 <= clock.now < 135


def test_a_throttling_storm_slows_the_deploy_but_does_not_fail_it(write_env) -> None:  # type: ignore[no-untyped-def]
    counter = iter(range(10**6))
    storm = lambda operation: next(counter) % 4 != 0  # noqa: E731  three calls in four refused
    cfn, clock = _fake(throttle=storm)
    outcome = deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1")
    assert outcome.ok, outcome.failed()
    assert outcome.throttled > 10
    assert sorted(cfn.created) == sorted(set(cfn.created)), "no stack was created twice"


def test_polling_backs_off_from_a_fraction_of_a_second_to_ten_seconds() -> None:
    delays = list(islice(backoff(), 16))
    assert delays[0] < 0.5
    assert delays == sorted(delays)
    assert delays[-1] == 10.0


def test_a_fast_stack_is_seen_fast_and_a_slow_one_costs_few_calls(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake(duration=0.2)
    deploy(_stacks(cfn, clock), _plan(write_env, MINIMAL), _inputs(), run_id="r1")
    assert clock.now < 3 * 0.5, "three quick stacks in a chain, each seen within ~0.3 s"
    slow, slow_clock = _fake(duration=600)
    outcome = deploy(_stacks(slow, slow_clock), _plan(write_env, MINIMAL), _inputs(), run_id="r1")
    assert outcome.api_calls / 3 < 80, "a 10-minute stack is polled about every 10 s, not 1 s"


def test_a_stack_of_the_same_name_that_is_not_ours_is_not_touched(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    cfn.leftover("shop-network", "CREATE_COMPLETE", env="someone-else")
    outcome = deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1")
    assert "not relight's for environment shop" in outcome.results["network"].reason
    assert cfn.deleted == [] and cfn.updated == []
    assert outcome.results["web"].action == "skipped"


def test_ctrl_c_says_what_was_in_flight_and_a_rerun_converges(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake(duration=5.0)
    plan = _plan(write_env)

    def interrupt_at_20_s(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 20:
            raise KeyboardInterrupt

    stacks = Stacks(cfn, clock=clock, sleep=interrupt_at_20_s, timeout=600)
    with pytest.raises(Interrupted) as stopped:
        deploy(stacks, plan, _inputs(), run_id="r1")
    assert stopped.value.in_flight, "something was still in progress"
    assert {r.action for r in stopped.value.results.values()} == {"created"}
    created_before = list(cfn.created)
    outcome = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r2")
    assert outcome.ok
    assert len(cfn.created) == len(set(cfn.created)) == len(plan.stacks), "none made twice"
    assert all(outcome.results[k].action == "unchanged" for k in stopped.value.results)
    assert set(cfn.created) - set(created_before)


def test_failover_stacks_are_protected_and_teardown_lifts_that_only_with_force(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    assert all(s.protected for s in cfn.stacks.values())
    graph = dependency_graph(plan.loaded.env)
    kept = teardown(_stacks(cfn, clock), "shop", graph)
    assert not kept.ok
    assert {r.action for r in kept.results} == {"protected", "skipped"}
    assert cfn.deleted == [] and len(kept.left_behind) == len(plan.stacks)
    gone = teardown(_stacks(cfn, clock), "shop", graph, force=True)
    assert gone.ok and gone.left_behind == []
    assert cfn.calls.count("UpdateTerminationProtection") == len(plan.stacks)


def test_test_environments_are_not_protected(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    loaded = load_environment(str(write_env(GRAPH)), "us-west-2")
    plan = build_plan(loaded, "us-west-2", purpose="test", namespace="qa")
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    assert sorted(cfn.stacks) == sorted(f"shop-qa-{k}" for k in plan.stacks)
    assert not any(s.protected for s in cfn.stacks.values())


def test_teardown_deletes_dependents_first_and_only_this_environments(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    loaded = load_environment(str(write_env(GRAPH)), "us-west-2")
    plan = build_plan(loaded, "us-west-2", purpose="test", namespace="qa")
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1")  # the failover copy
    cfn.leftover("other-network", "CREATE_COMPLETE", env="other")
    done = teardown(_stacks(cfn, clock), "shop", dependency_graph(loaded.env), namespace="qa")
    assert done.ok, done.results
    assert cfn.deleted.index("shop-qa-extra") < cfn.deleted.index("shop-qa-web")
    assert cfn.deleted.index("shop-qa-web") < cfn.deleted.index("shop-qa-security")
    assert cfn.deleted.index("shop-qa-batch") < cfn.deleted.index("shop-qa-security")
    assert cfn.deleted[-1] == "shop-qa-network"
    assert "other-network" in cfn.stacks
    assert sorted(n for n in cfn.stacks if n.startswith("shop-")) == sorted(
        sp.name for sp in _plan(write_env).stacks.values()
    ), "the failover stacks outside the namespace are untouched"


def test_a_failed_delete_keeps_what_it_needs_and_is_reported(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    loaded = load_environment(str(write_env(GRAPH)), "us-west-2")
    plan = build_plan(loaded, "us-west-2", purpose="test", namespace="qa")
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    cfn.behaviour = {"shop-qa-web": "hang"}
    done = teardown(
        _stacks(cfn, clock, timeout=60), "shop", dependency_graph(loaded.env), namespace="qa"
    )
    actions = {r.key: r.action for r in done.results}
    assert actions["web"] == "delete-failed"
    assert actions["security"] == actions["network"] == "skipped"
    assert actions["batch"] == actions["extra"] == "deleted"
    assert sorted(done.left_behind) == ["shop-qa-network", "shop-qa-security", "shop-qa-web"]


def test_on_moto_stacks_are_created_with_relight_tags(write_env) -> None:  # type: ignore[no-untyped-def]
    with mock_aws():
        inputs = moto_web_inputs()
        image = inputs.artifacts["web_ami"].id
        ec2 = boto3.client("ec2", "us-west-2")
        cfn = boto3.client("cloudformation", "us-west-2")
        plan = _plan(write_env, MINIMAL.replace("name: shop", "name: shop\ntags: {team: ops}"))
        outcome = deploy(Stacks(cfn, timeout=30), plan, inputs, run_id="run-1")
        assert outcome.ok, outcome.failed()
        tags = {
            t["Key"]: t["Value"]
            for t in cfn.describe_stacks(StackName="shop-web")["Stacks"][0]["Tags"]
        }
        assert cfn.describe_stacks(StackName="shop-web")["Stacks"][0]["EnableTerminationProtection"]
        assert tags == {
            "relight:env": "shop",
            "relight:stack": "web",
            "relight:run": "run-1",
            "relight:purpose": "failover",
            "team": "ops",
        }
        instances = [
            i
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
            if i["State"]["Name"] == "running"
        ]
        assert len(instances) == 2
        assert {i["ImageId"] for i in instances} == {image}


def test_the_live_table_keeps_one_row_per_stack_with_state_elapsed_and_latest_event() -> None:
    from io import StringIO

    from rich.console import Console

    from relight.steps.progress import LiveTable

    clock = FakeClock()
    view = LiveTable(Console(file=StringIO(), width=120), ["shop-network", "shop-web"], "t", clock)
    view._start = lambda: None  # type: ignore[method-assign]  # drawing is rich's; rows are ours
    view("shop-network", "CREATE_IN_PROGRESS", "")
    clock.now = 3.0
    view("shop-network", "Vpc CREATE_COMPLETE", "")
    assert view.rows["shop-network"].status == "CREATE_IN_PROGRESS", "a resource is not the stack"
    assert view.rows["shop-network"].latest == "Vpc CREATE_COMPLETE"
    clock.now = 4.5
    view("shop-network", "CREATE_COMPLETE", "4.5 s")
    out = StringIO()
    Console(file=out, width=120).print(view.table())
    lines = out.getvalue().splitlines()
    network = next(line for line in lines if "shop-network" in line)
    assert "CREATE_COMPLETE" in network and "4.5 s" in network
    assert "waiting" in next(line for line in lines if "shop-web" in line)


def test_throttled_event_reads_during_an_update_do_not_fail_it(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env, MINIMAL)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    refused = iter([True, True, True] + [False] * 10**6)
    cfn.throttle = lambda operation: operation == "DescribeStackEvents" and next(refused)
    newer = _inputs()
    newer.artifacts["web_ami"] = Artifact(
        "web_ami", "ami", "ami-0456", "us-west-2", newer.at, 1, attributes=ROOT
    )
    outcome = deploy(_stacks(cfn, clock), plan, newer, run_id="r2")
    assert outcome.results["web"].action == "updated", outcome.results["web"].reason
    assert outcome.throttled == 3


def test_a_change_set_that_is_never_described_times_out(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env, MINIMAL)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    cfn.throttle = lambda operation: operation == "DescribeChangeSet"
    outcome = deploy(_stacks(cfn, clock, timeout=60), plan, _inputs(), run_id="r2")
    network = outcome.results["network"]
    assert (network.action, network.status) == ("failed", "TIMED_OUT")
    assert clock.now < 120


# Keep progress, retry in place, never replace data ------------------------------------------


def _newer(**ids: str) -> Discovery:
    found = _inputs()
    for name, new_id in ids.items():
        old = found.artifacts[name]
        found.artifacts[name] = Artifact(
            name, old.kind, new_id, old.region, found.at, 1, attributes=old.attributes
        )
    return found


def test_a_failed_create_keeps_what_it_made_and_the_rerun_retries_it_in_place(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake({"shop-web": "fail-once"})
    plan = _plan(write_env)
    first = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    web = first.results["web"]
    assert (web.action, web.status) == ("failed", "CREATE_FAILED"), "not rolled back"
    assert web.kept_resources == ["Database"], "what the failed create made is kept"
    assert all(s.disable_rollback for s in cfn.stacks.values())
    cfn.created.clear()
    again = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r2")
    assert again.ok, again.failed()
    assert again.results["web"].action == "retried"
    assert cfn.retried == ["shop-web"] and cfn.deleted == []
    assert cfn.created == ["shop-extra"], "only the stack that never started is created"


def test_a_protected_leftover_of_a_failed_failover_is_cleared_by_the_rerun(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    cfn.leftover("shop-web", "ROLLBACK_COMPLETE", protected=True)  # AWS refuses its delete
    outcome = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r2")
    assert outcome.results["web"].action == "recreated", outcome.results["web"].reason
    assert cfn.calls.count("UpdateTerminationProtection") == 1
    assert cfn.stacks["shop-web"].protected, "the new failover stack is protected again"


def test_a_rerun_keeps_the_snapshot_a_stack_was_restored_from(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    outcome = deploy(_stacks(cfn, clock), plan, _newer(web_data="snap-0999"), run_id="r2")
    web = outcome.results["web"]
    assert web.action == "unchanged"
    assert web.parameters["DataSnapshotId"] == "snap-0123"
    assert [(k.parameter, k.kept, k.newer) for k in web.kept_data] == [
        ("DataSnapshotId", "snap-0123", "snap-0999")
    ]
    asked = deploy(
        _stacks(cfn, clock), plan, _newer(web_data="snap-0999"), run_id="r3",
        replace_data=frozenset({"web"}),
    )  # fmt: skip
    assert asked.results["web"].action == "updated"
    assert cfn.stacks["shop-web"].parameters["DataSnapshotId"] == "snap-0999"


def test_an_auto_scaling_fleet_launches_from_the_newest_copy_on_a_rerun(write_env) -> None:  # type: ignore[no-untyped-def]
    # Issue 19, B2: a launch template holds no data (each instance restores its own copy), so
    # its snapshot is not pinned: a warm standby deployed by prepare weeks ago scales up, at
    # failover, from the newest copy, not from the one of the day it was prepared.
    cfn, clock = _fake()
    fleet = MINIMAL.replace("      mode: instances\n      count: 2\n", "      mode: asg\n")
    plan = _plan(write_env, fleet)
    assert plan.stacks["web"].stateful_parameters == (), "no data holder: nothing to pin"
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    outcome = deploy(_stacks(cfn, clock), plan, _newer(web_data="snap-0999"), run_id="r2")
    web = outcome.results["web"]
    assert web.action == "updated" and web.kept_data == []
    assert cfn.stacks["shop-web"].parameters["DataSnapshotId"] == "snap-0999"


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("True", "would be replaced"),
        ("Conditional", "would be replaced (CloudFormation says: conditionally)"),
        ("Remove", "would be deleted"),
    ],
)
def test_a_change_that_would_replace_a_data_holder_is_refused_unless_named(
    write_env, how: str, said: str
) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    # A new ImageId replaces an instance (AWS::EC2::Instance: "Update requires: Replacement"),
    # and these instances hold a data volume restored from a snapshot. A change set may also
    # say Replacement "Conditional", or remove the resource.
    cfn.replacing = {"ImageId": ("Instance1", "AWS::EC2::Instance", how)}
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    refused = deploy(_stacks(cfn, clock), plan, _newer(web_ami="ami-0456"), run_id="r2")
    web = refused.results["web"]
    assert web.action == "failed"
    assert f"would lose data: Instance1 (AWS::EC2::Instance) {said}" in web.reason
    assert "shop-web" not in cfn.updated and not cfn.change_sets, "nothing was changed"
    allowed = deploy(
        _stacks(cfn, clock), plan, _newer(web_ami="ami-0456"), run_id="r3",
        replace_data=frozenset({"web"}),
    )  # fmt: skip
    assert allowed.results["web"].action == "updated"


LB = """\
  lb:
    blueprint: load_balancer
    params:
      VpcId: {output: network.VpcId}
      SubnetIds: {output: network.PrivateSubnetIds}
      SecurityGroupId: {output: security.WebSecurityGroupId}
"""


def test_teardown_force_lifts_deletion_protection_and_names_final_snapshots(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    plan = _plan(write_env, MINIMAL + LB)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    assert cfn.stacks["shop-lb"].parameters["RelightPurpose"] == "failover"
    graph = dependency_graph(plan.loaded.env)
    asked: list[str] = []

    def snapshots(name: str) -> Callable[[], list[str]]:
        asked.append(name)
        return lambda: [f"{name}-final-snapshot"] if name == "shop-lb" else []

    done = teardown(_stacks(cfn, clock), "shop", graph, force=True, final_snapshots=snapshots)
    assert done.ok, [(r.name, r.reason) for r in done.results]
    assert done.left_behind == []
    # Only shop-lb carries RelightPurpose (its load balancer's deletion protection): it alone
    # is updated, to purpose test, before its delete.
    assert cfn.updated == ["shop-lb"]
    assert cfn.log.index(("UpdateStack", "shop-lb")) < cfn.log.index(("DeleteStack", "shop-lb"))
    assert "shop-lb" not in cfn.stacks
    lb = next(r for r in done.results if r.name == "shop-lb")
    assert lb.final_snapshots == ["shop-lb-final-snapshot"]
    assert sorted(asked) == sorted(sp.name for sp in plan.stacks.values())


DB = """\
  db:
    blueprint: database
    params:
      SnapshotIdentifier: orders-final
      Port: 5432                  # a literal snapshot: its port is given, not discovered
      VpcId: {output: network.VpcId}
      SubnetIds: {output: network.PrivateSubnetIds}
      ClientSecurityGroupId: {output: security.WebSecurityGroupId}
      MonitoringRoleArn: arn:aws:iam::123456789012:role/shop-rds-monitoring
"""


@pytest.mark.parametrize(
    ("extra", "stack", "refusal"),
    [
        (DB, "shop-db", "Cannot delete protected DB Instance"),
        (LB, "shop-lb", "cannot be deleted because deletion protection is enabled"),
    ],
)
def test_without_lifting_deletion_protection_the_delete_fails_as_rds_refuses_it(  # type: ignore[no-untyped-def]
    write_env, extra: str, stack: str, refusal: str
) -> None:
    # RDS's and ELB's own refusals (InvalidParameterCombination, OperationNotPermitted).
    cfn, clock = _fake()
    plan = _plan(write_env, MINIMAL + extra)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    stacks = _stacks(cfn, clock)
    with pytest.raises(DeployError, match=refusal):
        stacks.run(stacks.delete(stack, force=True))


def test_teardown_force_removes_the_stacks_a_failed_failover_left(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake({"shop-lb": "fail"})
    plan = _plan(write_env, MINIMAL + LB)
    first = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    assert first.results["lb"].status == "CREATE_FAILED"
    done = teardown(_stacks(cfn, clock), "shop", dependency_graph(plan.loaded.env), force=True)
    assert done.ok, [(r.name, r.reason) for r in done.results]
    assert done.left_behind == [] and not cfn.stacks
    # AWS refuses to update a CREATE_FAILED stack without DisableRollback (the fake too); the
    # retried resource fails again (UPDATE_FAILED), yet the protection of what exists is off.
    assert cfn.retried == ["shop-lb"]


def test_a_retry_that_would_replace_a_database_is_refused_like_an_update(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake({"shop-web": "fail-once"})
    cfn.replacing = {"ImageId": ("Database", "AWS::RDS::DBInstance")}
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")  # web: CREATE_FAILED, Database made
    again = deploy(_stacks(cfn, clock), plan, _newer(web_ami="ami-0456"), run_id="r2")
    web = again.results["web"]
    assert web.action == "failed"
    assert "would lose data: Database (AWS::RDS::DBInstance) would be replaced" in web.reason
    assert cfn.retried == [] and "shop-web" not in cfn.updated, "nothing was changed"
    assert cfn.stacks["shop-web"].status == "CREATE_FAILED"


def test_a_retry_after_a_failed_restore_takes_the_newest_snapshot(write_env) -> None:  # type: ignore[no-untyped-def]
    # The failed create made none of web's data holders (its instances): there is no data
    # to keep, so a newer, good snapshot is used instead of the one that failed.
    cfn, clock = _fake({"shop-web": "fail-once"})
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    again = deploy(_stacks(cfn, clock), plan, _newer(web_data="snap-0999"), run_id="r2")
    web = again.results["web"]
    assert (web.action, web.status) == ("retried", "UPDATE_COMPLETE"), web.reason
    assert web.parameters["DataSnapshotId"] == "snap-0999" and web.kept_data == []


# Static stability: what stands ready before a disaster is read, never deployed ----------------

PROFILE = "arn:aws:iam::123456789012:instance-profile/shop-web"
# MINIMAL on the DR ladder: the identity stack (IAM, stands: global), network and security
# standing from pilot_light, web from warm_standby at one instance, scaled up to two.
STANDING = (
    MINIMAL.replace(
        "stacks:\n",
        "stacks:\n  identity:\n    blueprint: identity\n    stands: global\n"
        "    params: {instance_roles: {web: {}}}\n",
    )
    .replace("    blueprint: network\n", "    blueprint: network\n    stands: pilot_light\n")
    .replace("    blueprint: security\n", "    blueprint: security\n    stands: pilot_light\n")
    .replace(
        "    blueprint: compute\n",
        "    blueprint: compute\n    stands: warm_standby\n    standby_params: {count: 1}\n",
    )
    .replace(PROFILE, "{output: identity.WebInstanceProfileArn}")
)
SERVICE_ROLE = "arn:aws:iam::123456789012:role/shop-identity-CloudFormationRole-0ready"
READY = {
    "identity": {"WebInstanceProfileArn": PROFILE, "CloudFormationRoleArn": SERVICE_ROLE},
    "network": {"VpcId": "vpc-0ready", "PrivateSubnetIds": "subnet-0a,subnet-0b"},
    "security": {"WebSecurityGroupId": "sg-0ready"},
}


def test_a_failover_reads_the_prepared_stacks_outputs_and_builds_only_the_rest(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    loaded = load_environment(str(write_env(STANDING)), "us-west-2")
    plan = build_plan(loaded, "us-west-2")  # the file's strategy: backup_restore
    assert list(plan.prepared) == ["identity"] and list(plan.stacks) == [
        "network", "security", "web",
    ]  # fmt: skip
    assert "identity" not in plan.stacks["web"].depends_on, "a prepared stack is not waited for"
    outcome = deploy(
        _stacks(cfn, clock), plan, _inputs(), run_id="r1",
        ready={"identity": READY["identity"]},
    )  # fmt: skip
    assert outcome.ok, outcome.failed()
    assert "shop-identity" not in cfn.created and sorted(cfn.created) == [
        "shop-network", "shop-security", "shop-web",
    ]  # fmt: skip
    assert outcome.results["web"].parameters["InstanceProfileArn"] == PROFILE
    assert outcome.results["web"].parameters["SecurityGroupId"] == "sg-1", "built by this run"
    tags = {t["Key"]: t["Value"] for t in cfn.stacks["shop-web"].tags}
    assert "relight:prepared" not in tags, "at backup_restore web is built at failover"


def test_a_warm_standby_failover_scales_up_its_standing_copy_tagged_prepared(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = _fake()
    loaded = load_environment(str(write_env(STANDING)), "us-west-2")
    plan = build_plan(loaded, "us-west-2", strategy="warm_standby")
    assert list(plan.prepared) == ["identity", "network", "security"]
    assert list(plan.stacks) == ["web"] and plan.stacks["web"].depends_on == ()
    assert '"Instance2"' in plan.stacks["web"].body, "the failover runs web at its params"
    outcome = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1", ready=READY)
    assert outcome.ok, outcome.failed()
    assert cfn.created == ["shop-web"], "what stands ready is read, never deployed"
    web = outcome.results["web"].parameters
    assert (web["SubnetIds"], web["SecurityGroupId"]) == ("subnet-0a,subnet-0b", "sg-0ready")
    assert web["InstanceProfileArn"] == PROFILE
    tags = {t["Key"]: t["Value"] for t in cfn.stacks["shop-web"].tags}
    assert tags["relight:prepared"] == "warm_standby"
    prepare = build_plan(loaded, "us-west-2", strategy="warm_standby", phase="prepare")
    assert list(prepare.stacks) == ["identity", "network", "security", "web"]
    assert '"Instance2"' not in prepare.stacks["web"].body, "prepared at its standby_params"


def test_a_run_that_lost_its_lock_stops_before_its_next_change(write_env) -> None:  # type: ignore[no-untyped-def]
    from relight.aws.lock import LockLost

    cfn, clock = _fake()
    plan = _plan(write_env)

    def still_held() -> None:  # the lock is lost once the first stack was created
        if cfn.created:
            raise LockLost("this run's lock on shop in us-west-2 was taken over by run b")

    with pytest.raises(LockLost, match="taken over by run b"):
        deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1", still_held=still_held)
    assert cfn.created == ["shop-network"], "nothing changed after the lock was lost"


def test_an_unreadable_cloudformation_answer_is_an_aws_error_naming_the_call() -> None:
    from botocore.parsers import ResponseParserError

    from relight.errors import AwsError

    class Broken:
        def describe_stacks(self, **_: object) -> None:
            raise ResponseParserError("Unable to parse response, invalid XML received: b'<html>'")

    with pytest.raises(AwsError) as caught:
        Stacks(Broken()).state("shop-web")
    assert caught.value.message.startswith("describe stack shop-web")
    assert "invalid XML" in caught.value.message and caught.value.exit_code == 1


class _NoCreateStack(FakeCloudFormation):
    """CloudFormation to an identity whose policy lacks cloudformation:CreateStack: the query
    API's AccessDenied (HTTP 403), naming the identity and the action, as AWS and moto say it."""

    def create_stack(self, **kwargs: object) -> dict[str, str]:
        from botocore.exceptions import ClientError

        self._call("CreateStack")
        raise ClientError(
            {
                "Error": {"Code": "AccessDenied", "Message": DENIED_TEXT},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            },
            "CreateStack",
        )


DENIED_TEXT = (
    "User: arn:aws:iam::123456789012:user/operator is not authorized to perform: "
    "cloudformation:CreateStack on resource: arn:aws:cloudformation:us-west-2:123456789012:"
    "stack/shop-network/* because no identity-based policy allows the "
    "cloudformation:CreateStack action"
)


def test_a_create_the_policy_does_not_allow_names_the_action_and_what_to_grant(write_env) -> None:  # type: ignore[no-untyped-def]
    from botocore.exceptions import ClientError

    from relight.aws.failures import aws_failure

    clock = FakeClock()
    cfn = _NoCreateStack(None, clock=clock)
    outcome = deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1")
    network = outcome.results["network"]
    assert (network.action, network.status) == ("failed", "CREATE_REFUSED")
    refusal = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": DENIED_TEXT},
         "ResponseMetadata": {"HTTPStatusCode": 403}},
        "CreateStack",
    )  # fmt: skip
    said = aws_failure(refusal, "create stack shop-network", cfn)
    assert said.hint, "what to do about it"
    assert network.reason == f"{said.message}; {said.hint}"
    assert "cloudformation:CreateStack" in network.reason
    assert cfn.created == [], "nothing was created"
    assert outcome.results["web"].action == "skipped"
