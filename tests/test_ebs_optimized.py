"""EbsOptimized only where the instance type supports it. An instance type is EBS-optimized by
default, supports it when asked, or does not support it (DescribeInstanceTypes
EbsInfo.EbsOptimizedSupport); asked of a type that does not support it, the launch is refused.
The compute blueprint asks only with its `ebs_optimized` option, and preflight checks that
against the type in the target region before anything is created. moto reports AWS's
EbsOptimizedSupport for its instance types (t2.micro unsupported, c3.xlarge supported, t3.micro
default) but launches anything: the refusal is preflight's."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL
from relight.aws.clients import Aws, AwsTarget
from relight.aws.cloudformation import Stacks
from relight.errors import PreflightError
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.steps.preflight import run_preflight
from relight.steps.render import build_plan
from test_preflight import _discovery, _ready_world


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(AwsTarget())


def _plan(
    write_env: Callable[..., Path], kind: str, asked: bool | None, mode: str = "instances"
) -> Plan:
    extra = f"      instance_type: {kind}\n"
    if asked is not None:
        extra += f"      ebs_optimized: {'true' if asked else 'false'}\n"
    text = MINIMAL.replace("mode: instances\n", f"mode: {mode}\n{extra}")
    return build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")


def _launch_data(plan: Plan) -> list[dict[str, Any]]:
    resources = json.loads(plan.stacks["web"].body)["Resources"].values()
    found = [r["Properties"] for r in resources if r["Type"] == "AWS::EC2::Instance"]
    found += [
        r["Properties"]["LaunchTemplateData"]
        for r in resources
        if r["Type"] == "AWS::EC2::LaunchTemplate"
    ]
    assert found
    return found


@pytest.mark.parametrize("mode", ["instances", "asg"])
def test_compute_asks_for_ebs_optimization_only_when_told(write_env, mode: str) -> None:  # type: ignore[no-untyped-def]
    for data in _launch_data(_plan(write_env, "t2.micro", None, mode)):
        assert "EbsOptimized" not in data, "a type that does not support it launches as it is"
    for data in _launch_data(_plan(write_env, "c3.xlarge", True, mode)):
        assert data["EbsOptimized"] is True


def test_preflight_refuses_ebs_optimization_of_a_type_that_does_not_support_it(  # type: ignore[no-untyped-def]
    aws: Aws, write_env
) -> None:
    _ready_world()
    stacks = Stacks(boto3.client("cloudformation", "us-west-2"))
    plan = _plan(write_env, "t2.micro", True)
    with pytest.raises(PreflightError) as refused:
        run_preflight(plan, aws, _discovery(), stacks, accept_stale=False)
    assert refused.value.problems == [
        "stacks.web.params.ebs_optimized: true, but t2.micro does not support EBS optimization "
        "(DescribeInstanceTypes in us-west-2: EbsOptimizedSupport unsupported), and RunInstances "
        "refuses such a launch: set ebs_optimized: false, or choose an instance type that "
        "supports it"
    ]
    assert stacks.list_stacks() == [], "nothing was created"


@pytest.mark.parametrize(("kind", "asked"), [("c3.xlarge", True), ("t2.micro", False)])
def test_a_type_that_supports_it_or_a_stack_that_does_not_ask_passes(  # type: ignore[no-untyped-def]
    aws: Aws, write_env, kind: str, asked: bool
) -> None:
    _ready_world()
    stacks = Stacks(boto3.client("cloudformation", "us-west-2"))
    run_preflight(_plan(write_env, kind, asked), aws, _discovery(), stacks, accept_stale=False)
