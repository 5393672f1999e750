"""`relight drift`: production in the home region against the environment file.

The end-to-end tests run the real CLI against a private stand-in whose story built the demo
at home, change production with boto3, and read what drift reports; the comparison
functions are also tested on hand-made data.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import RELIGHT, REPO, relight
from relight import standin
from relight.drift.differences import CHANGED, ONLY_DECLARED, ONLY_LIVE, Difference
from relight.drift.reading import Reader
from relight.drift.stacks import (
    ALL_EGRESS,
    Context,
    compare_rules,
    compare_stack,
    compare_values,
    declared_group_rules,
    live_rules,
)
from test_capture import _allow

HOME = "us-east-1"


# comparing, on hand-made data ------------------------------------------------------------------


def _where(prop: str, declared: Any, live: Any, kind: str) -> Difference:
    return Difference("web", "demo-web", "Group", "sg-1", prop, declared, live, kind)


def _context(**physical: str) -> Context:
    return Context(
        stack_name="demo-security",
        region=HOME,
        parameters={"ClientSecurityGroupId": "sg-client", "Zones": "a,b,c", "Cert": ""},
        physical=physical,
        conditions={"HasCert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Cert"}, ""]}]}},
    )


def test_references_resolve_with_the_live_stacks_parameters_and_ids() -> None:
    ctx = _context(WebGroup="sg-web")
    assert ctx.resolve({"Fn::Select": [1, {"Ref": "Zones"}]}) == "b"
    assert ctx.resolve({"Fn::GetAtt": ["WebGroup", "GroupId"]}) == "sg-web"
    assert ctx.resolve({"Ref": "ClientSecurityGroupId"}) == "sg-client"
    assert ctx.resolve({"Fn::If": ["HasCert", "https", "http"]}) == "http"
    assert ctx.condition("HasCert") is False


def test_a_value_that_differs_is_changed_and_numbers_compare_as_numbers() -> None:
    found = compare_values(_where, {"MinSize": "3", "MaxSize": "6"}, {"MinSize": 3, "MaxSize": 9})
    assert found == [_where("MaxSize", 6, 9, CHANGED)]


def test_rules_in_only_one_side_are_reported_each_way() -> None:
    live = live_rules(
        [
            {
                "IpProtocol": "tcp",
                "FromPort": 8080,
                "ToPort": 8080,
                "UserIdGroupPairs": [{"GroupId": "sg-lb"}],
            },
            {
                "IpProtocol": "6",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
        ]
    )
    declared = {"tcp 8080 sg-lb", "tcp 443 0.0.0.0/0"}
    assert compare_rules(_where, "SecurityGroupIngress", declared, live) == [
        _where("SecurityGroupIngress", None, "tcp 22 10.0.0.0/8", ONLY_LIVE),
        _where("SecurityGroupIngress", "tcp 443 0.0.0.0/0", None, ONLY_DECLARED),
    ]


def test_a_groups_rules_are_its_inline_and_standalone_ones_resolved() -> None:
    template = {
        "Resources": {
            "WebGroup": {
                "Type": "AWS::EC2::SecurityGroup",
                "Properties": {
                    "SecurityGroupIngress": [
                        {
                            "IpProtocol": "tcp",
                            "FromPort": 5432,
                            "ToPort": 5432,
                            "SourceSecurityGroupId": {"Ref": "ClientSecurityGroupId"},
                        }
                    ]
                },
            },
            "WebIngress": {
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {
                    "GroupId": {"Fn::GetAtt": ["WebGroup", "GroupId"]},
                    "IpProtocol": "tcp",
                    "FromPort": 8080,
                    "ToPort": 8080,
                    "CidrIp": "10.0.0.0/16",
                },
            },
        }
    }
    rules = declared_group_rules(template, "WebGroup", _context(WebGroup="sg-web"))
    assert rules["SecurityGroupIngress"] == {"tcp 5432 sg-client", "tcp 8080 10.0.0.0/16"}
    assert rules["SecurityGroupEgress"] == {ALL_EGRESS}, "EC2's default: no egress declared"


class _CountingReader(Reader):
    """Two launch templates and the Auto Scaling group that launches the first at version 2."""

    def __init__(self) -> None:
        super().__init__(lambda service: None)
        self.calls: list[tuple[str, ...]] = []

    def stack_resources(self, name: str) -> dict[str, str]:
        return {"First": "lt-1", "Second": "lt-2", "Group": "asg-1"}

    def auto_scaling_group(self, name: str) -> dict[str, Any] | None:
        self.calls.append(("describe_auto_scaling_groups", name))
        spec = {"LaunchTemplateId": "lt-1", "Version": "2"}
        return {"MinSize": 1, "MaxSize": 2, "DesiredCapacity": 1, "LaunchTemplate": spec}

    def launch_template(self, template_id: str, version: str = "$Latest") -> dict[str, Any]:
        self.calls.append(("describe_launch_template_versions", template_id, version))
        return {"InstanceType": "m5.large"}


def test_each_launch_template_and_group_is_described_once_at_the_version_in_use() -> None:
    data = {"LaunchTemplateData": {"InstanceType": "t3.small"}}
    template = {
        "Resources": {
            "First": {"Type": "AWS::EC2::LaunchTemplate", "Properties": data},
            "Second": {"Type": "AWS::EC2::LaunchTemplate", "Properties": data},
            "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {}},
        }
    }
    reader = _CountingReader()
    found = compare_stack("web", "demo-web", template, {}, reader)
    assert reader.calls == [
        ("describe_auto_scaling_groups", "asg-1"),
        ("describe_launch_template_versions", "lt-1", "2"),
        ("describe_launch_template_versions", "lt-2", "$Latest"),
    ]
    assert [(d.resource, d.declared, d.live) for d in found.differences] == [
        ("First", "t3.small", "m5.large"),
        ("Second", "t3.small", "m5.large"),
    ]


# the command on the stand-in -------------------------------------------------------------------


def client(world: dict[str, Any], service: str) -> Any:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    return boto3.client(
        service, HOME, endpoint_url=found.endpoint, aws_access_key_id="x", aws_secret_access_key="x"
    )


def physical(world: dict[str, Any], stack: str, logical: str) -> str:
    resources = client(world, "cloudformation").list_stack_resources(StackName=stack)
    return next(
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["LogicalResourceId"] == logical
    )


def _differences(run: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [d for s in json.loads(run.stdout)["stacks"] for d in s["differences"]]


@pytest.mark.e2e
def test_production_as_the_story_built_it_has_no_drift(world: dict[str, Any]) -> None:
    run = relight(world, "drift", "--env", "demo", "--json")
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert shown["drift"] is False
    compared = {s["stack"]: s["compared"] for s in shown["stacks"]}
    assert compared["network"] == 10, "the VPC and its nine subnets"
    assert compared["security"] == 2 and compared["web"] == 2 and compared["load_balancer"] == 2


@pytest.mark.e2e
def test_changes_made_by_hand_in_production_are_each_reported(world: dict[str, Any]) -> None:
    web_group = physical(world, "demo-security", "WebSecurityGroup")
    _allow(client(world, "ec2"), web_group, "10.0.0.0/8", 22)
    group = physical(world, "demo-web", "AutoScalingGroup")
    client(world, "autoscaling").update_auto_scaling_group(AutoScalingGroupName=group, MaxSize=9)
    removed = physical(world, "demo-network", "DataSubnet3")
    client(world, "ec2").delete_subnet(SubnetId=removed)

    run = relight(world, "drift", "--env", "demo", "--json")

    assert run.returncode == 1, run.stderr
    found = {(d["stack"], d["resource"], d["property"]): d for d in _differences(run)}
    assert set(found) == {
        ("security", "WebSecurityGroup", "SecurityGroupIngress"),
        ("web", "AutoScalingGroup", "MaxSize"),
        ("network", "DataSubnet3", "exists"),
    }
    rule = found["security", "WebSecurityGroup", "SecurityGroupIngress"]
    assert (rule["physical_id"], rule["declared"], rule["live"], rule["kind"]) == (
        web_group,
        None,
        "tcp 22 10.0.0.0/8",
        "only_live",
    )
    size = found["web", "AutoScalingGroup", "MaxSize"]
    assert (size["physical_id"], size["declared"], size["live"], size["kind"]) == (
        group,
        6,
        9,
        "changed",
    )
    subnet = found["network", "DataSubnet3", "exists"]
    assert (subnet["physical_id"], subnet["kind"]) == (removed, "only_declared")


@pytest.mark.e2e
def test_a_subnet_made_by_hand_and_the_table_are_shown(world: dict[str, Any]) -> None:
    vpc = physical(world, "demo-network", "Vpc")
    made = client(world, "ec2").create_subnet(
        VpcId=vpc, CidrBlock="10.40.200.0/24", AvailabilityZone="us-east-1b"
    )["Subnet"]["SubnetId"]

    run = relight(world, "drift", "--env", "demo")

    assert run.returncode == 1, run.stderr
    assert "network (demo-network)" in run.stdout
    assert made in run.stdout and "in production, not in the file" in run.stdout
    assert "drift: 4 difference(s) in demo's home region us-east-1" in run.stdout


def test_an_unknown_environment_is_bad_input(tmp_path: Path) -> None:
    run = subprocess.run(
        [RELIGHT, "drift", "--env", "nonesuch"],
        cwd=REPO,
        env={**os.environ, "RELIGHT_STATE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr


@pytest.mark.e2e
def test_a_new_launch_template_version_and_a_missing_stack_are_reported(
    world: dict[str, Any],
) -> None:
    template = physical(world, "demo-web", "LaunchTemplate")
    ec2 = client(world, "ec2")
    made = ec2.create_launch_template_version(
        LaunchTemplateId=template,
        SourceVersion="$Latest",
        LaunchTemplateData={"InstanceType": "m5.large"},
    )["LaunchTemplateVersion"]["VersionNumber"]
    group = physical(world, "demo-web", "AutoScalingGroup")
    client(world, "autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=group,
        LaunchTemplate={"LaunchTemplateId": template, "Version": str(made)},
    )
    # a newer version nobody launches with yet is not what runs: not compared
    ec2.create_launch_template_version(
        LaunchTemplateId=template, LaunchTemplateData={"InstanceType": "t3.nano"}
    )
    # (demo's dns stands in us-west-2 only, regions:, so production at home has none)
    client(world, "cloudformation").delete_stack(StackName="demo-load-balancer")

    run = relight(world, "drift", "--env", "demo", "--json")

    assert run.returncode == 1, run.stderr
    found = {(d["stack"], d["resource"], d["property"]): d for d in _differences(run)}
    size = found["web", "LaunchTemplate", "InstanceType"]
    assert (size["declared"], size["live"], size["kind"]) == ("t3.small", "m5.large", "changed")
    stack = found["load_balancer", "-", "stack"]
    assert (stack["declared"], stack["live"], stack["kind"]) == (
        "demo-load-balancer",
        None,
        "only_declared",
    )
    assert ("dns", "-", "stack") not in found, "the SECONDARY is not production's at home"


@pytest.mark.e2e
def test_a_production_stack_the_file_no_longer_declares_is_reported(
    world: dict[str, Any],
) -> None:
    """A stack relight built at home for the environment (its tags say so) that the file no
    longer declares: a failover would not rebuild it. Another environment's is not ours."""
    cfn = client(world, "cloudformation")
    body = json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {}}}})
    tags = {"relight:env": "demo", "relight:stack": "cache", "relight:purpose": "home"}
    made = {
        "demo-cache": tags,
        "other-cache": {**tags, "relight:env": "other"},
        "demo-cache-drill": {**tags, "relight:purpose": "drill", "relight:namespace": "d1"},
    }
    for name, stack_tags in made.items():
        cfn.create_stack(
            StackName=name,
            TemplateBody=body,
            Tags=[{"Key": k, "Value": v} for k, v in stack_tags.items()],
        )
    try:
        run = relight(world, "drift", "--env", "demo", "--json")
        text = relight(world, "drift", "--env", "demo")
    finally:
        for name in made:
            cfn.delete_stack(StackName=name)

    assert run.returncode == 1, run.stderr
    extra = [d for d in _differences(run) if d["resource"] == "-" and d["kind"] == "only_live"]
    assert [(d["stack"], d["stack_name"], d["live"]) for d in extra] == [
        ("cache", "demo-cache", "demo-cache")
    ]
    assert "cache (demo-cache)" in text.stdout


def test_each_kind_of_stack_difference_says_what_a_failover_would_do() -> None:
    gone = Difference("dns", "demo-dns", "-", None, "stack", "demo-dns", None, ONLY_DECLARED)
    extra = Difference("cache", "demo-cache", "-", "arn", "stack", None, "demo-cache", ONLY_LIVE)
    assert gone.describe() == "stacks.dns: stack demo-dns does not exist in production"
    assert extra.describe() == (
        "stacks.cache: stack demo-cache is in production, but the file does not declare this "
        "stack: a failover would not rebuild it"
    )
