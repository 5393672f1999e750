"""An existing network keeps its zones: a rerun or a re-prepare reads the zones the deployed
stack stands in and passes the same ones, in the same order, whatever DescribeAvailabilityZones
now answers (another order, a zone impaired, one more zone that offers the instance types).
A subnet's zone cannot change in place: CloudFormation replaces the subnet, creating the new
one first, and its CIDR "conflicts with another subnet" (InvalidSubnet.Conflict), the update
ends UPDATE_FAILED. Only a new network chooses."""

from __future__ import annotations

from typing import Any

from fakes import FakeClock, FakeCloudFormation, StubbedAws
from relight.aws.cloudformation import Stacks
from relight.commands.discover import standing_zones
from relight.model.config import load_environment
from relight.model.environment import Zones
from relight.steps.discovery import Standing, choose_zones
from relight.steps.render import build_plan
from test_deploy import GRAPH

# The account's names for the zones: us-west-2a is usw2-az2 here, us-west-2b usw2-az1.
NAMES = {"usw2-az2": "us-west-2a", "usw2-az1": "us-west-2b", "usw2-az3": "us-west-2c"}


def _zones_now(states: dict[str, str]) -> StubbedAws:
    """DescribeAvailabilityZones as EC2 answers it now, every zone with its state."""
    aws = StubbedAws()
    aws.stub("ec2", "us-west-2").add_response(
        "describe_availability_zones",
        {
            "AvailabilityZones": [
                {
                    "ZoneName": NAMES[zone_id],
                    "ZoneId": zone_id,
                    "State": state,
                    "ZoneType": "availability-zone",
                }
                for zone_id, state in states.items()
            ]
        },
    )
    return aws


def _names(chosen: Any) -> list[str]:
    return [z.name for z in chosen]


def test_a_standing_network_keeps_its_zones_in_order_though_a_new_one_would_choose_others() -> None:
    every = {"usw2-az1": "available", "usw2-az2": "available", "usw2-az3": "available"}
    fresh, _, _ = choose_zones(_zones_now(every), "us-west-2", Zones(count=2))
    assert _names(fresh) == ["us-west-2b", "us-west-2a"], "a new network: the first AZ IDs"
    standing = Standing("shop-network", "AvailabilityZones", ("us-west-2c", "us-west-2a"))
    kept, problems, _ = choose_zones(_zones_now(every), "us-west-2", Zones(count=2), (), standing)
    assert problems == []
    assert _names(kept) == ["us-west-2c", "us-west-2a"]
    assert [z.id for z in kept] == ["usw2-az3", "usw2-az2"]


def test_an_impaired_zone_the_network_stands_in_is_kept_not_swapped() -> None:
    states = {"usw2-az1": "available", "usw2-az2": "impaired", "usw2-az3": "available"}
    standing = Standing("shop-network", "AvailabilityZones", ("us-west-2a", "us-west-2c"))
    kept, problems, _ = choose_zones(_zones_now(states), "us-west-2", Zones(count=2), (), standing)
    assert _names(kept) == ["us-west-2a", "us-west-2c"] and problems == []
    fresh, _, _ = choose_zones(_zones_now(states), "us-west-2", Zones(count=2))
    assert "us-west-2a" not in _names(fresh), "only a new network passes an impaired zone over"


def test_more_zones_are_added_after_the_standing_ones() -> None:
    every = {"usw2-az1": "available", "usw2-az2": "available", "usw2-az3": "available"}
    standing = Standing("shop-network", "AvailabilityZones", ("us-west-2c", "us-west-2a"))
    kept, problems, _ = choose_zones(_zones_now(every), "us-west-2", Zones(count=3), (), standing)
    assert _names(kept) == ["us-west-2c", "us-west-2a", "us-west-2b"] and problems == []


def test_zone_ids_in_the_file_that_would_move_the_network_are_refused_with_the_fix() -> None:
    every = {"usw2-az1": "available", "usw2-az2": "available", "usw2-az3": "available"}
    standing = Standing("shop-network", "AvailabilityZones", ("us-west-2c", "us-west-2a"))
    zones = Zones(ids={"us-west-2": ["usw2-az1", "usw2-az2"]})
    _, problems, _ = choose_zones(_zones_now(every), "us-west-2", zones, (), standing)
    assert problems == [
        "zones.ids.us-west-2: usw2-az1, usw2-az2, but stack shop-network in us-west-2 stands in "
        "zones us-west-2c, us-west-2a (usw2-az3, usw2-az2); its subnets cannot move to another "
        "zone in place: list its zones first, or tear that stack down and rerun"
    ]


def test_the_zones_are_read_from_the_deployed_stack_this_plan_updates(write_env) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(load_environment(str(write_env(GRAPH)), "us-west-2"), "us-west-2")
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock)
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert standing_zones(plan, stacks) is None, "nothing deployed yet: a new network chooses"
    cfn.leftover("shop-network", "UPDATE_COMPLETE")
    cfn.stacks["shop-network"].parameters = {"AvailabilityZones": "us-west-2c,us-west-2a"}
    assert standing_zones(plan, stacks) == Standing(
        "shop-network", "AvailabilityZones", ("us-west-2c", "us-west-2a")
    )
    # moto reports a CommaDelimitedList Parameter as its Python list's repr: read alike
    cfn.stacks["shop-network"].parameters = {"AvailabilityZones": "['us-west-2c', 'us-west-2a']"}
    assert standing_zones(plan, stacks).names == ("us-west-2c", "us-west-2a")  # type: ignore[union-attr]
    cfn.stacks["shop-network"].status = "ROLLBACK_COMPLETE"  # holds nothing: recreated anew
    assert standing_zones(plan, stacks) is None


def test_reading_the_standing_zones_waits_out_throttling(write_env) -> None:  # type: ignore[no-untyped-def]
    plan = build_plan(load_environment(str(write_env(GRAPH)), "us-west-2"), "us-west-2")
    clock = FakeClock()
    cfn = FakeCloudFormation(clock=clock, throttle=lambda op: clock.now < 5)
    cfn.leftover("shop-network", "UPDATE_COMPLETE")
    cfn.stacks["shop-network"].parameters = {"AvailabilityZones": "us-west-2c,us-west-2a"}
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]
    assert standing_zones(plan, stacks).names == ("us-west-2c", "us-west-2a")  # type: ignore[union-attr]
    assert clock.sleeps, "throttled, then asked again"
