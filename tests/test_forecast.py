"""The RTO forecast: the critical path of typical creation times, refined by past AWS drills."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import REPO
from relight.dr.forecast import (
    BEFORE_DEPLOY_SECONDS,
    VERIFY_SECONDS,
    drilled_seconds,
    forecast,
    stack_seconds,
)
from relight.model.config import load_environment
from relight.steps.render import build_plan

PLAN = build_plan(load_environment("demo", "us-west-2", cwd=REPO), "us-west-2")


def test_a_stack_takes_its_longest_chain_of_resources_not_their_sum() -> None:
    body = json.dumps(
        {
            "Resources": {
                "Vpc": {"Type": "AWS::EC2::VPC"},
                "Ip": {"Type": "AWS::EC2::EIP"},
                "Nat": {
                    "Type": "AWS::EC2::NatGateway",
                    "Properties": {"AllocationId": {"Fn::GetAtt": ["Ip", "AllocationId"]}},
                    "DependsOn": "Vpc",
                },
                "Group": {
                    "Type": "AWS::EC2::SecurityGroup",
                    "Properties": {"VpcId": {"Ref": "Vpc"}},
                },
            }
        }
    )
    assert stack_seconds(body) == 10 + 150  # Vpc, then the NAT gateway; the rest in parallel


def test_the_demo_forecast_follows_the_slowest_branch() -> None:
    predicted = forecast(PLAN)
    # the web tier waits for the restored database: it is given its endpoint
    assert predicted.critical_path == ["network", "security", "database", "web"]
    deploy = sum(predicted.stacks[k] for k in predicted.critical_path)
    assert predicted.seconds == BEFORE_DEPLOY_SECONDS + deploy + VERIFY_SECONDS
    assert predicted.stacks["database"] >= 1200


def test_past_aws_drills_replace_the_estimate_and_stand_in_drills_do_not(tmp_path: Path) -> None:
    def drilled(run: str, stand_in: bool, seconds: float) -> None:
        report = {
            "stand_in": stand_in,
            "stacks": [{"stack": "database", "action": "created", "seconds": seconds}],
        }
        (tmp_path / "demo" / run).mkdir(parents=True)
        (tmp_path / "demo" / run / "report.json").write_text(json.dumps(report))

    drilled("a", False, 100)
    drilled("b", False, 140)
    drilled("c", True, 0.2)
    history, drills = drilled_seconds(tmp_path, "demo")
    assert (history, drills) == ({"database": [100.0, 140.0]}, 2)
    predicted = forecast(PLAN, history, drills)
    assert predicted.stacks["database"] == 120
    assert predicted.from_drills == ["database"]
    assert predicted.critical_path[-1] != "database", "a fast restore moves the critical path"
