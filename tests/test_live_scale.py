"""A rerun keeps the live DesiredCapacity of an existing group (issue 19).

AWS (docs/aws-behaviours.md, A6): when a stack update updates an Auto Scaling group, it sets
the group's size properties to the values its template resolves to (and a lower
DesiredCapacity scales in); `IgnoreUnmodifiedGroupSizeProperties` is documented for a group
with a scheduled action only, and leaving DesiredCapacity out is documented for a creation only.
So relight makes the template say the size to keep: the compute blueprint's `DesiredCapacity`
Parameter, which deploy fills, for a stack that exists, with the larger of the live and the
planned size. Modelled with the template resolved as CloudFormation would (aws_rules), with a
botocore Stubber for the reads, and on moto in-process, which sets the template's size on an
update as AWS documents (the first stand-in test shows it without relight's Parameter).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

import aws_rules
from conftest import BLUEPRINTS, MINIMAL, moto_web_inputs
from relight.aws.cloudformation import Stacks
from relight.model.blueprint import load_registry
from relight.model.config import load_environment
from relight.steps.deploy import Outcome, deploy
from relight.steps.discovery import Discovery
from relight.steps.live_scale import ScaleKept, Slot, keep_live_scale, read_live, sized, slots
from relight.steps.render import build_plan

REGISTRY = load_registry(BLUEPRINTS)
WEB = slots(REGISTRY["compute"].render({"min_size": 3, "max_size": 6}).to_dict())


def _asg(min_size: int = 2, max_size: int = 6, desired: int | None = None) -> str:
    sizes = f"      mode: asg\n      min_size: {min_size}\n      max_size: {max_size}\n"
    if desired is not None:
        sizes += f"      desired: {desired}\n"
    return MINIMAL.replace("      mode: instances\n      count: 2\n", sizes)


# what the template says, as CloudFormation resolves it ------------------------------------------


def test_the_template_always_states_the_size_an_update_sets() -> None:
    """CloudFormation sets the group to the template's values: the template never leaves
    DesiredCapacity out (what that does on an update is not documented) and relies on no
    AutoScalingScheduledAction policy (documented for groups with a scheduled action only)."""
    body = REGISTRY["compute"].render({"min_size": 3, "max_size": 6}).to_dict()
    group = body["Resources"]["AutoScalingGroup"]
    assert "AutoScalingScheduledAction" not in group["UpdatePolicy"]
    as_planned = aws_rules.resolve(body, {})["AutoScalingGroup"]["Properties"]
    assert as_planned["DesiredCapacity"] == "3", "empty: the file's size"
    kept = aws_rules.resolve(body, {"DesiredCapacity": "6"})["AutoScalingGroup"]["Properties"]
    assert kept["DesiredCapacity"] == "6"
    assert slots(body) == [Slot("AutoScalingGroup", "DesiredCapacity", 3, 3, 6)]


def test_fixed_instances_have_no_size_to_keep() -> None:
    body = REGISTRY["compute"].render({"mode": "instances", "count": 2}).to_dict()
    assert slots(body) == [] and "DesiredCapacity" not in body["Parameters"]


# the rule: the larger of live and planned -------------------------------------------------------


def test_a_fleet_scaled_up_by_hand_keeps_its_live_size_and_says_so() -> None:
    parameters, kept = sized(
        {"DesiredCapacity": "", "ImageId": "ami-1"}, WEB, {"AutoScalingGroup": 5}
    )
    assert parameters == {"DesiredCapacity": "5", "ImageId": "ami-1"}
    assert kept == [ScaleKept("AutoScalingGroup", "DesiredCapacity", 5, 3, 5)]
    assert kept[0].note("web") == "web: kept the live DesiredCapacity 5 (the file says 3)"


@pytest.mark.parametrize("live", [1, 3])
def test_a_plan_that_scales_up_on_purpose_wins_over_a_smaller_live_size(live: int) -> None:
    """A warm standby's failover: the standby runs 1, the file says 3; the file's size wins."""
    parameters, kept = sized({"DesiredCapacity": ""}, WEB, {"AutoScalingGroup": live})
    assert parameters == {"DesiredCapacity": ""} and kept == []


def test_the_live_size_is_kept_only_as_far_as_the_files_max_size() -> None:
    parameters, kept = sized({}, WEB, {"AutoScalingGroup": 9})
    assert parameters == {"DesiredCapacity": "6"}
    assert kept[0].note("web") == (
        "web: kept DesiredCapacity 6, the MaxSize the file allows (live 9, the file says 3)"
    )


def test_a_size_the_file_gives_itself_is_the_planned_one() -> None:
    assert sized({"DesiredCapacity": "5"}, WEB, {"AutoScalingGroup": 4}) == (
        {"DesiredCapacity": "5"},
        [],
    )
    assert sized({"DesiredCapacity": "5"}, WEB, {"AutoScalingGroup": 6})[0] == {
        "DesiredCapacity": "6"
    }


# reading the live size -------------------------------------------------------------------------

GROUP = "shop-web-AutoScalingGroup-ABC"


def _stubbed() -> tuple[Any, Stubber, Any, Stubber]:
    cfn = boto3.client("cloudformation", "us-west-2")
    autoscaling = boto3.client("autoscaling", "us-west-2")
    return cfn, Stubber(cfn), autoscaling, Stubber(autoscaling)


def _resources(*summaries: tuple[str, str, str], token: str | None = None) -> dict[str, Any]:
    page: dict[str, Any] = {
        "StackResourceSummaries": [
            {
                "LogicalResourceId": logical,
                "PhysicalResourceId": physical,
                "ResourceType": kind,
                "ResourceStatus": "UPDATE_COMPLETE",
                "LastUpdatedTimestamp": "2025-01-01T00:00:00Z",
            }
            for logical, physical, kind in summaries
        ]
    }
    if token:
        page["NextToken"] = token
    return page


def test_the_live_size_is_read_from_the_group_the_stack_holds_on_every_page() -> None:
    cfn, cfn_stub, autoscaling, as_stub = _stubbed()
    cfn_stub.add_response(
        "list_stack_resources",
        _resources(("LaunchTemplate", "lt-1", "AWS::EC2::LaunchTemplate"), token="t1"),
        {"StackName": "shop-web"},
    )
    cfn_stub.add_response(
        "list_stack_resources",
        _resources(("AutoScalingGroup", GROUP, "AWS::AutoScaling::AutoScalingGroup")),
        {"StackName": "shop-web", "NextToken": "t1"},
    )
    as_stub.add_response(
        "describe_auto_scaling_groups",
        {
            "AutoScalingGroups": [
                {
                    "AutoScalingGroupName": GROUP,
                    "MinSize": 3,
                    "MaxSize": 6,
                    "DesiredCapacity": 6,
                    "DefaultCooldown": 300,
                    "AvailabilityZones": ["us-west-2a"],
                    "HealthCheckType": "EC2",
                    "CreatedTime": "2025-01-01T00:00:00Z",
                }
            ]
        },
        {"AutoScalingGroupNames": [GROUP]},
    )
    with cfn_stub, as_stub:
        assert read_live(Stacks(cfn), autoscaling, "shop-web", WEB) == {"AutoScalingGroup": 6}
    cfn_stub.assert_no_pending_responses()
    as_stub.assert_no_pending_responses()


def test_a_live_size_relight_may_not_read_keeps_the_stacks_last_value_and_says_why() -> None:
    cfn, cfn_stub, autoscaling, as_stub = _stubbed()
    cfn_stub.add_response(
        "list_stack_resources",
        _resources(("AutoScalingGroup", GROUP, "AWS::AutoScaling::AutoScalingGroup")),
        {"StackName": "shop-web"},
    )
    as_stub.add_client_error(
        "describe_auto_scaling_groups",
        "AccessDenied",
        "User is not authorized to perform: autoscaling:DescribeAutoScalingGroups",
        http_status_code=403,
    )
    body = REGISTRY["compute"].render({"min_size": 3, "max_size": 6}).to_dict()
    existing = {"Parameters": [{"ParameterKey": "DesiredCapacity", "ParameterValue": "5"}]}
    with cfn_stub, as_stub:
        parameters, kept, why = keep_live_scale(
            Stacks(cfn), autoscaling, "shop-web", body, {"DesiredCapacity": ""}, existing
        )
    assert parameters == {"DesiredCapacity": "5"}, "what the last run kept, not the file's 3"
    assert "AccessDenied" in why
    assert kept[0].note("web") == (
        "web: the live DesiredCapacity could not be read; kept the stack's last 5 (the file says 3)"
    )


def test_a_new_stack_reads_nothing() -> None:
    body = REGISTRY["compute"].render({}).to_dict()
    assert keep_live_scale(Stacks(object()), None, "shop-web", body, {"X": "1"}, None) == (
        {"X": "1"},
        [],
        "",
    )


# on the stand-in (moto in-process) --------------------------------------------------------------


def _deploy(
    write_env: Callable[[str], Path], text: str, inputs: Discovery, run: str
) -> tuple[Outcome, list[tuple[str, str, str]]]:
    events: list[tuple[str, str, str]] = []
    plan = build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")
    cfn = boto3.client("cloudformation", "us-west-2")
    stacks = Stacks(cfn, timeout=30, on_event=lambda *e: events.append(e))
    outcome = deploy(
        stacks, plan, inputs, run_id=run, autoscaling=boto3.client("autoscaling", "us-west-2")
    )
    assert outcome.ok, outcome.failed()
    return outcome, events


def _group() -> dict[str, Any]:
    groups = boto3.client("autoscaling", "us-west-2").describe_auto_scaling_groups()
    (group,) = groups["AutoScalingGroups"]
    return dict(group)


def _scale_by_hand(size: int) -> None:
    boto3.client("autoscaling", "us-west-2").set_desired_capacity(
        AutoScalingGroupName=_group()["AutoScalingGroupName"], DesiredCapacity=size
    )


def _newer_ami(inputs: Discovery) -> Discovery:
    ec2 = boto3.client("ec2", "us-west-2")
    image = ec2.register_image(Name="web-2", RootDeviceName="/dev/xvda")["ImageId"]
    newer = dataclasses.replace(inputs.artifacts["web_ami"], id=image)
    return dataclasses.replace(inputs, artifacts={**inputs.artifacts, "web_ami": newer})


def test_on_the_stand_in_an_update_sets_the_templates_size_as_aws_documents(write_env) -> None:  # type: ignore[no-untyped-def]
    """Without relight's Parameter, an update (a newer AMI) shrinks a fleet scaled by hand."""
    with mock_aws():
        inputs = moto_web_inputs()
        _deploy(write_env, _asg(), inputs, "r1")
        _scale_by_hand(5)
        cfn = boto3.client("cloudformation", "us-west-2")
        stack = cfn.describe_stacks(StackName="shop-web")["Stacks"][0]
        newer = _newer_ami(inputs).artifacts["web_ami"].id
        cfn.update_stack(
            StackName="shop-web",
            UsePreviousTemplate=True,
            Parameters=[
                {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
                for p in stack["Parameters"]
                if p["ParameterKey"] != "ImageId"
            ]
            + [{"ParameterKey": "ImageId", "ParameterValue": newer}],
        )
        assert _group()["DesiredCapacity"] == 2


def test_a_rerun_keeps_a_fleet_scaled_up_by_hand_and_says_so(write_env) -> None:  # type: ignore[no-untyped-def]
    with mock_aws():
        inputs = moto_web_inputs()
        _deploy(write_env, _asg(), inputs, "r1")
        _scale_by_hand(5)
        outcome, events = _deploy(write_env, _asg(), _newer_ami(inputs), "r2")
        web = outcome.results["web"]
        assert web.action == "updated", "the newer AMI rolls the group: CloudFormation updates it"
        assert _group()["DesiredCapacity"] == 5
        assert web.parameters["DesiredCapacity"] == "5"
        assert web.kept_scale == [ScaleKept("AutoScalingGroup", "DesiredCapacity", 5, 2, 5)]
        note = "web: kept the live DesiredCapacity 5 (the file says 2)"
        assert outcome.notes == [note]
        assert ("shop-web", "AutoScalingGroup SIZE_KEPT", note) in events
        stack = boto3.client("cloudformation", "us-west-2").describe_stacks(StackName="shop-web")
        values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Stacks"][0]["Parameters"]}
        assert values["DesiredCapacity"] == "5"


def test_a_failover_that_scales_a_standby_up_takes_the_files_size(write_env) -> None:  # type: ignore[no-untyped-def]
    """The standby stands at 1 (its standby size); the failover's file says 3: 3 it is."""
    with mock_aws():
        inputs = moto_web_inputs()
        _deploy(write_env, _asg(min_size=1, desired=1), inputs, "prepare")
        assert _group()["DesiredCapacity"] == 1
        outcome, events = _deploy(write_env, _asg(min_size=3), inputs, "failover")
        assert _group()["DesiredCapacity"] == 3
        web = outcome.results["web"]
        assert web.kept_scale == [] and outcome.notes == []
        assert "DesiredCapacity" not in web.parameters, "the template's own size: the file's"
        assert not [e for e in events if "SIZE_" in e[1]]
        body = json.loads(build_plan(
            load_environment(str(write_env(_asg(min_size=3))), "us-west-2"), "us-west-2"
        ).stacks["web"].body)  # fmt: skip
        assert slots(body)[0].planned == 3


def test_an_unchanged_rerun_changes_nothing_and_keeps_the_size(write_env) -> None:  # type: ignore[no-untyped-def]
    with mock_aws():
        inputs = moto_web_inputs()
        _deploy(write_env, _asg(), inputs, "r1")
        _scale_by_hand(4)
        _deploy(write_env, _asg(), inputs, "r2")
        outcome, _ = _deploy(write_env, _asg(), inputs, "r3")
        assert outcome.results["web"].action == "unchanged", "the kept size is the stack's now"
        assert _group()["DesiredCapacity"] == 4


# A warm standby (MINIMAL's network and security from pilot_light, the web fleet from
# warm_standby at its standby_params), shaped as tests/test_incident.py's WARM.
WARM = (
    MINIMAL.replace("stand_in: true\n", "stand_in: true\nstrategy: warm_standby\n")
    .replace("    blueprint: network\n", "    blueprint: network\n    stands: pilot_light\n")
    .replace("    blueprint: security\n", "    blueprint: security\n    stands: pilot_light\n")
    .replace(
        "    blueprint: compute\n    params:\n      mode: instances\n      count: 2\n",
        "    blueprint: compute\n    stands: warm_standby\n    params:\n      mode: asg\n"
        "      min_size: 3\n      max_size: 6\n",
    )
    + "    standby_params:\n      min_size: 1\n      desired: 1\n"
)


def test_prepare_deploys_the_standbys_own_size_not_the_live_one(write_env) -> None:  # type: ignore[no-untyped-def]
    """The failover left the fleet at 3; prepare (a failback's last phase, refused while the
    region serves) puts it back at the standby's 1: no live size is kept, nothing said."""
    loaded = load_environment(str(write_env(WARM)), "us-west-2")
    cfn = boto3.client("cloudformation", "us-west-2")

    def run(phase: str, inputs: Discovery, ready: dict[str, dict[str, str]]) -> Outcome:
        plan = build_plan(loaded, "us-west-2", phase=phase)
        stacks = Stacks(cfn, timeout=30, on_event=lambda *e: None)
        autoscaling = boto3.client("autoscaling", "us-west-2")
        outcome = deploy(stacks, plan, inputs, run_id=phase, ready=ready, autoscaling=autoscaling)
        assert outcome.ok, outcome.failed()
        return outcome

    with mock_aws():
        inputs = moto_web_inputs()
        prepared = run("prepare", inputs, {})
        assert set(prepared.results) == {"network", "security", "web"}
        assert _group()["DesiredCapacity"] == 1
        ready = {k: r.outputs for k, r in prepared.results.items() if k != "web"}
        assert set(run("failover", inputs, ready).results) == {"web"}
        assert _group()["DesiredCapacity"] == 3, "the failover scales the standby up"
        outcome = run("prepare", inputs, {})
        web = outcome.results["web"]
        assert web.action == "updated"
        assert _group()["DesiredCapacity"] == 1, "back to the standby's size"
        assert web.kept_scale == [] and outcome.notes == []
        assert web.parameters.get("DesiredCapacity", "") == ""
