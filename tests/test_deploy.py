"""The deploy engine: order, outputs into parameters, failures, leftovers, timeouts, teardown.

Faults moto cannot produce (a stack that rolls back, one that never finishes)
come from the fake client in fakes.py; the happy path also runs on moto.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL
from fakes import FakeClock, FakeCloudFormation
from relight.config import load_environment
from relight.deploy import Stacks, backoff, deploy, teardown
from relight.discovery import Artifact, Discovery, Zone
from relight.errors import DeployError
from relight.render import Plan, build_plan

COMPUTE = """\
    blueprint: compute
    params:
      mode: instances
      az_count: 2
      ImageId: {artifact: web_ami}
      DataSnapshotId: {artifact: web_data}
      SubnetIds: {output: network.PrivateSubnetIds}
      SecurityGroupId: {output: security.WebSecurityGroupId}
"""
# network ← security ← web ← extra, and security ← batch (an independent branch)
GRAPH = (
    MINIMAL
    + "  extra:\n"
    + COMPUTE.replace("    params:", "    depends_on: [web]\n    params:")
    + "  batch:\n"
    + COMPUTE
)


def _plan(write_env: Callable[..., Path], text: str = GRAPH) -> Plan:
    return build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")


def _inputs() -> Discovery:
    now = datetime.now(UTC)
    return Discovery(
        region="us-west-2",
        at=now,
        artifacts={
            "web_ami": Artifact("web_ami", "ami", "ami-0123", "us-west-2", now, 1),
            "web_data": Artifact("web_data", "ebs_snapshot", "snap-0123", "us-west-2", now, 1),
        },
        zones=(Zone("us-west-2b", "usw2-az1"), Zone("us-west-2a", "usw2-az2")),
    )


def _stacks(cfn: FakeCloudFormation, clock: FakeClock, timeout: float = 600) -> Stacks:
    return Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=timeout)


def test_stacks_are_created_in_order_with_outputs_as_parameters(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = FakeCloudFormation(), FakeClock()
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


def test_a_failed_stack_skips_its_dependents_and_independent_branches_finish(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = FakeCloudFormation({"shop-web": "fail"}), FakeClock()
    outcome = deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1")
    assert not outcome.ok
    assert outcome.results["web"].action == "failed"
    assert outcome.results["web"].reason == ("Instance1: The image id '[ami-0bad]' does not exist")
    assert outcome.results["extra"].action == "skipped"
    assert "shop-extra" not in cfn.created
    assert outcome.results["batch"].action == "created"


def test_a_rerun_keeps_complete_stacks_and_recreates_failed_leftovers(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = FakeCloudFormation(), FakeClock()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    cfn.leftover("shop-web", "ROLLBACK_COMPLETE")
    cfn.created.clear()
    outcome = deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r2")
    assert outcome.ok
    assert outcome.results["network"].action == "kept"
    assert outcome.results["security"].action == "kept"
    assert outcome.results["web"].action == "recreated"
    assert cfn.deleted == ["shop-web"]
    assert cfn.created == ["shop-web"]


def test_a_stack_that_never_finishes_times_out(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = FakeCloudFormation({"shop-network": "hang"}), FakeClock()
    outcome = deploy(_stacks(cfn, clock, timeout=120), _plan(write_env), _inputs(), run_id="r1")
    network = outcome.results["network"]
    assert (network.action, network.status) == ("failed", "TIMED_OUT")
    assert "still CREATE_IN_PROGRESS after 120 s" in network.reason
    assert {r.action for k, r in outcome.results.items() if k != "network"} == {"skipped"}
    assert clock.now == pytest.approx(120)


def test_polling_backs_off_from_a_fraction_of_a_second_to_ten_seconds() -> None:
    delays = list(islice(backoff(), 12))
    assert delays[0] < 0.5
    assert delays == sorted(delays)
    assert delays[-1] == 10.0


def test_a_fast_stack_is_seen_fast(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = FakeCloudFormation(polls=1), FakeClock()
    deploy(_stacks(cfn, clock), _plan(write_env, MINIMAL), _inputs(), run_id="r1")
    assert max(clock.sleeps) < 1.0


def test_a_stack_of_the_same_name_that_is_not_ours_is_refused(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = FakeCloudFormation(), FakeClock()
    cfn.leftover("shop-network", "CREATE_COMPLETE", env="someone-else")
    with pytest.raises(DeployError, match="not relight's for environment shop"):
        deploy(_stacks(cfn, clock), _plan(write_env), _inputs(), run_id="r1")


def test_teardown_deletes_dependents_first_and_only_this_environments(write_env) -> None:  # type: ignore[no-untyped-def]
    cfn, clock = FakeCloudFormation(), FakeClock()
    plan = _plan(write_env)
    deploy(_stacks(cfn, clock), plan, _inputs(), run_id="r1")
    cfn.leftover("other-network", "CREATE_COMPLETE", env="other")
    results = teardown(_stacks(cfn, clock), "shop", plan.loaded.order)
    assert all(r.ok for r in results)
    assert cfn.deleted.index("shop-extra") < cfn.deleted.index("shop-web")
    assert cfn.deleted.index("shop-web") < cfn.deleted.index("shop-security")
    assert cfn.deleted[-1] == "shop-network"
    assert "other-network" in cfn.stacks


def test_on_moto_stacks_are_created_with_relight_tags(write_env) -> None:  # type: ignore[no-untyped-def]
    with mock_aws():
        ec2 = boto3.client("ec2", "us-west-2")
        image = ec2.register_image(Name="web", RootDeviceName="/dev/xvda")["ImageId"]
        volume = ec2.create_volume(AvailabilityZone="us-west-2a", Size=1)["VolumeId"]
        snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
        inputs = _inputs()
        inputs.artifacts["web_ami"] = Artifact("web_ami", "ami", image, "us-west-2", inputs.at, 1)
        inputs.artifacts["web_data"] = Artifact(
            "web_data", "ebs_snapshot", snapshot, "us-west-2", inputs.at, 1
        )
        cfn = boto3.client("cloudformation", "us-west-2")
        plan = _plan(write_env, MINIMAL.replace("name: shop", "name: shop\ntags: {team: ops}"))
        outcome = deploy(Stacks(cfn, timeout=30), plan, inputs, run_id="run-1")
        assert outcome.ok, outcome.failed()
        tags = {
            t["Key"]: t["Value"]
            for t in cfn.describe_stacks(StackName="shop-web")["Stacks"][0]["Tags"]
        }
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
