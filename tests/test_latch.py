"""The failback latch a verified failover sets (commands.failover.latch_failback).

Route 53 would send traffic back to the home region as soon as it answers again; the dns
blueprint's alarm keeps the PRIMARY record unhealthy once it saw the metric Relight/FailedOver
at 1 for the stack. Setting it is one PutMetricData in the recovery region, pinned here with a
botocore Stubber; a failure to set it is a note with the command to set it by hand, never a
failure of the failover.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, REPO, moto_web_inputs
from fakes import StubbedAws
from relight.aws.clients import Aws, AwsTarget
from relight.aws.lock import LockSettings
from relight.commands.connection import Connection
from relight.commands.failover import failover, latch_failback
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.steps.deploy import Outcome, StackResult
from relight.steps.render import build_plan

REGION = "us-west-2"
ACCOUNT = "123456789012"
DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/relight-recovery/ops is not authorized to "
    "perform: cloudwatch:PutMetricData because no identity-based policy allows the "
    "cloudwatch:PutMetricData action"
)


def _expected(stack: str) -> dict[str, Any]:
    return {
        "Namespace": "Relight",
        "MetricData": [
            {
                "MetricName": "FailedOver",
                "Dimensions": [{"Name": "Stack", "Value": stack}],
                "Value": 1.0,
            }
        ],
    }


def _demo(strategy: str = "pilot_light") -> Plan:
    return build_plan(load_environment(str(REPO / "stacks" / "demo.yaml"), REGION), REGION,
                      strategy=strategy)  # fmt: skip


def _outcome(**outputs: dict[str, str]) -> Outcome:
    names = {"web": "demo-web", "database": "demo-database"}
    return Outcome(
        results={
            key: StackResult(key, names[key], "created", outputs=out)
            for key, out in outputs.items()
        }
    )


def _stubbed() -> tuple[Connection, Any]:
    aws = StubbedAws()
    return Connection(aws, REGION, ACCOUNT), aws.stub("cloudwatch", REGION)  # type: ignore[arg-type]


def test_a_prepared_dns_stack_is_latched_with_exactly_one_metric_in_the_recovery_region() -> None:
    plan = _demo()
    assert "dns" in plan.prepared, "at pilot_light the DNS pair stands ready"
    conn, stub = _stubbed()
    stub.add_response("put_metric_data", {}, _expected("demo-dns"))
    ready = {"dns": {"FailbackLatchAlarm": "demo-dns-FailbackLatch", "HealthCheckId": "hc-1"}}
    notes = latch_failback(conn, plan, _outcome(web={"AsgName": "g"}), ready)
    stub.assert_no_pending_responses()
    (said,) = notes
    assert said.startswith(
        "failback latched (demo-dns): traffic stays in us-west-2 even when the home region "
        "answers again; failing back is a deliberate step"
    )


def test_a_stack_this_failover_built_with_the_output_is_latched_too() -> None:
    plan = _demo()
    conn, stub = _stubbed()
    stub.add_response("put_metric_data", {}, _expected("demo-dns"))
    stub.add_response("put_metric_data", {}, _expected("demo-web"))
    outcome = _outcome(web={"FailbackLatchAlarm": "demo-web-latch"})
    notes = latch_failback(conn, plan, outcome, {"dns": {"FailbackLatchAlarm": "a"}})
    stub.assert_no_pending_responses()
    assert [n.split(":")[0] for n in notes] == [
        "failback latched (demo-dns)",
        "failback latched (demo-web)",
    ]


def test_a_refused_latch_is_a_note_with_the_command_that_sets_it_and_nothing_is_raised() -> None:
    plan = _demo()
    conn, stub = _stubbed()
    stub.add_client_error(
        "put_metric_data",
        service_error_code="AccessDenied",
        service_message=DENIED,
        http_status_code=403,
        expected_params=_expected("demo-dns"),
    )
    stub.add_response("put_metric_data", {}, _expected("demo-web"))  # the next one still goes
    outcome = _outcome(web={"FailbackLatchAlarm": "demo-web-latch"})
    notes = latch_failback(conn, plan, outcome, {"dns": {"FailbackLatchAlarm": "a"}})
    stub.assert_no_pending_responses()
    assert len(notes) == 2
    refused = notes[0]
    assert refused.startswith("the failback latch of demo-dns (stacks.dns) could not be set: ")
    assert DENIED in refused, "AWS's own words"
    assert refused.endswith(
        "set it with aws cloudwatch put-metric-data --region us-west-2 --namespace Relight "
        "--metric-name FailedOver --dimensions Stack=demo-dns --value 1"
    )
    assert "Route 53 will send traffic back to the home region" in refused
    assert notes[1].startswith("failback latched (demo-web)")


def test_nothing_is_latched_when_no_stack_has_the_latch_output() -> None:
    plan = _demo("backup_restore")
    assert "dns" not in plan.prepared and "dns" in plan.skipped
    conn, stub = _stubbed()  # no response queued: any call would fail the test
    outcome = _outcome(web={"AsgName": "g"}, database={"Endpoint": "db.example"})
    assert latch_failback(conn, plan, outcome, {"identity": {"WebInstanceProfileArn": "x"}}) == []
    stub.assert_no_pending_responses()


# only a real failover latches ------------------------------------------------------------------

PROFILE = "arn:aws:iam::123456789012:instance-profile/shop-web"
# web reads its instance profile from a prepared identity stack: here one made by hand that
# also carries a latch output (as the dns blueprint's does), so that a deploy on moto reaches
# the latch without a Route 53 stack.
WITH_IDENTITY = MINIMAL.replace(
    "stacks:\n",
    "stacks:\n  identity:\n    blueprint: identity\n    stands: global\n"
    "    params: {instance_roles: {web: {}}}\n",
).replace(PROFILE, "{output: identity.WebInstanceProfileArn}")
IDENTITY_WITH_LATCH = json.dumps(
    {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "WebInstanceProfileArn": {"Value": PROFILE},
            "FailbackLatchAlarm": {"Value": "shop-latch"},
            # the service role every other stack operation passes (steps/service_role.py)
            "CloudFormationRoleArn": {"Value": f"arn:aws:iam::{ACCOUNT}:role/shop-cfn"},
        },
    }
)


@pytest.fixture
def moto_world(write_env: Callable[..., Path]) -> Iterator[Any]:
    with mock_aws():
        moto_web_inputs(tags=True)
        cfn = boto3.client("cloudformation", REGION)
        cfn.create_stack(
            StackName="shop-identity",
            TemplateBody=IDENTITY_WITH_LATCH,
            Tags=[{"Key": "relight:env", "Value": "shop"}, {"Key": "relight:prepared",
                                                           "Value": "global"}],
        )  # fmt: skip
        yield load_environment(str(write_env(WITH_IDENTITY)), REGION)


def _latched() -> list[list[dict[str, str]]]:
    cloudwatch = boto3.client("cloudwatch", REGION)
    metrics = cloudwatch.list_metrics(Namespace="Relight", MetricName="FailedOver")["Metrics"]
    return [m["Dimensions"] for m in metrics]


@pytest.mark.parametrize(
    ("options", "latched"),
    [
        ({}, [[{"Name": "Stack", "Value": "shop-identity"}]]),
        ({"purpose": "test", "namespace": "qa"}, []),
        ({"purpose": "drill", "namespace": "drill-d1"}, []),
    ],
    ids=["failover", "launch", "drill"],
)
def test_only_a_verified_failover_sets_the_latch(
    moto_world: Any, options: dict[str, Any], latched: list[Any]
) -> None:
    plan = build_plan(moto_world, REGION, **options)
    assert list(plan.prepared) == ["identity"], "a test copy reads production's global stacks"
    conn = Connection(Aws(AwsTarget()), REGION, ACCOUNT)
    result = failover(plan, conn, lock=LockSettings(say=lambda _: None), verify_deadline=60)
    assert result.ok, (result.outcome.failed(), result.checks)
    assert _latched() == latched
    said = [n.split(":")[0] for n in result.notes if "latch" in n]
    assert said == (["failback latched (shop-identity)"] if latched else [])
