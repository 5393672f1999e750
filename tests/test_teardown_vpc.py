"""Teardown and what other services add to a VPC relight made (GuardDuty Runtime Monitoring's
endpoint and security group): removed when tagged as GuardDuty's, named otherwise, before the
network stack's delete. moto neither adds them nor refuses the VPC's delete for them: the fakes
(fakes.FakeCloudFormation, fake_vpc.FakeVpcEc2) play both as AWS documents them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fake_vpc import GUARDDUTY_SERVICE, FakeVpcEc2
from fakes import FakeClock, FakeCloudFormation
from relight.aws.cloudformation import Stacks
from relight.aws.vpc_extras import clear_vpc_extras
from relight.model.config import load_environment
from relight.model.graph import dependency_graph
from relight.steps.deploy import deploy
from relight.steps.render import build_plan
from relight.steps.teardown import teardown
from test_deploy import GRAPH, _inputs

NETWORK = "shop-qa-network"


def _deployed(
    write_env: Callable[..., Path],
) -> tuple[FakeCloudFormation, FakeClock, FakeVpcEc2, object]:
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock)
    loaded = load_environment(str(write_env(GRAPH)), "us-west-2")
    plan = build_plan(loaded, "us-west-2", purpose="test", namespace="qa")
    deploy(Stacks(cfn, clock=clock, sleep=clock.sleep), plan, _inputs(), run_id="r1")  # type: ignore[arg-type]
    cfn.resources[NETWORK] = [
        {"LogicalResourceId": "Vpc", "ResourceType": "AWS::EC2::VPC", "PhysicalResourceId": "vpc-1"}
    ]
    ec2 = FakeVpcEc2("vpc-1")
    cfn.delete_blockers[NETWORK] = ec2.blocks_vpc_delete
    return cfn, clock, ec2, dependency_graph(loaded.env)


def _teardown(
    cfn: FakeCloudFormation, clock: FakeClock, ec2: FakeVpcEc2, graph: object, **kw: object
):  # type: ignore[no-untyped-def]
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    return teardown(
        stacks,
        "shop",
        graph,  # type: ignore[arg-type]
        namespace="qa",
        vpc_extras=lambda name: clear_vpc_extras(cfn, ec2, "us-west-2", name, clock=clock),
        **kw,  # type: ignore[arg-type]
    )


def test_guarddutys_endpoint_and_group_block_the_vpcs_delete_as_aws_refuses_it(write_env) -> None:  # type: ignore[no-untyped-def]
    """Without relight's step (what teardown did before), the network's delete fails on its
    subnets with the DependencyViolation GuardDuty's page shows: the fake refuses as EC2 does."""
    cfn, clock, ec2, graph = _deployed(write_env)
    ec2.guardduty()
    done = teardown(Stacks(cfn, clock=clock, sleep=clock.sleep), "shop", graph, namespace="qa")  # type: ignore[arg-type]
    network = next(r for r in done.results if r.name == NETWORK)
    assert network.action == "delete-failed"
    assert "The subnet 'subnet-1' has dependencies and cannot be deleted." in network.reason
    assert NETWORK in done.left_behind


def test_teardown_removes_guarddutys_endpoint_then_its_group_before_the_networks_delete(
    write_env,
) -> None:  # type: ignore[no-untyped-def]
    cfn, clock, ec2, graph = _deployed(write_env)
    endpoint, group = ec2.guardduty()
    done = _teardown(cfn, clock, ec2, graph)
    assert done.ok, [(r.name, r.reason) for r in done.results if not r.ok]
    assert NETWORK in cfn.deleted and not done.left_behind
    assert ec2.endpoints[endpoint].state == "deleted"
    assert group not in ec2.groups and "sg-default" in ec2.groups
    # The group waited for the endpoint: its first delete was refused while the endpoint's
    # network interfaces were still going, and it was asked again.
    first_delete = ec2.calls.index("DeleteVpcEndpoints")
    assert ec2.calls.index("DeleteSecurityGroup") > first_delete
    assert any("GuardDuty's endpoint " + endpoint in line for line in done.removed_extras)
    assert any("GuardDuty's security group " + group in line for line in done.removed_extras)


def test_what_another_hand_added_is_named_with_its_command_and_nothing_is_removed(
    write_env,
) -> None:  # type: ignore[no-untyped-def]
    cfn, clock, ec2, graph = _deployed(write_env)
    guardduty_endpoint, guardduty_group = ec2.guardduty()
    ssm = ec2.endpoint("com.amazonaws.us-west-2.ssm", [])
    # Tagged as GuardDuty's but for another service: not GuardDuty Runtime Monitoring's endpoint.
    lookalike = ec2.endpoint("com.amazonaws.us-west-2.s3", [], {"GuardDutyManaged": "true"})
    bastion = ec2.group("bastion")
    done = _teardown(cfn, clock, ec2, graph)
    network = next(r for r in done.results if r.name == NETWORK)
    assert network.action == "kept" and not network.ok
    assert NETWORK not in cfn.deleted, "a delete that would fail on the VPC is not started"
    assert f"aws ec2 delete-vpc-endpoints --region us-west-2 --vpc-endpoint-ids {ssm}" in (
        network.reason
    )
    assert f"--vpc-endpoint-ids {lookalike}" in network.reason
    assert f"aws ec2 delete-security-group --region us-west-2 --group-id {bastion}" in (
        network.reason
    )
    assert guardduty_endpoint not in network.reason and guardduty_group not in network.reason
    # Nothing changed in the VPC: GuardDuty's endpoint and group stand too.
    assert not [c for c in ec2.calls if c.startswith("Delete")]
    assert ec2.endpoints[guardduty_endpoint].state == "available"
    assert {guardduty_group, bastion} <= set(ec2.groups)
    assert ec2.endpoints[guardduty_endpoint].service == GUARDDUTY_SERVICE
    assert done.left_behind == [NETWORK]
    assert all(r.ok for r in done.results if r.name != NETWORK), "the other stacks went"


def test_a_stack_already_gone_has_nothing_to_clear_and_no_vpc_is_read() -> None:
    clock = FakeClock()
    cfn, ec2 = FakeCloudFormation(clock=clock), FakeVpcEc2("vpc-1")
    task = clear_vpc_extras(cfn, ec2, "us-west-2", "shop-qa-network", clock=clock)
    try:
        next(task)
    except StopIteration as done:
        assert done.value.removed == [] and done.value.left == []
    else:
        raise AssertionError("nothing to wait for")
    assert ec2.calls == []
