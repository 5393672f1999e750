"""CloudFormation's own drift detection of the stacks prepared in a recovery region.

moto implements none of DetectStackDrift, DescribeStackDriftDetectionStatus and
DescribeStackResourceDrifts, so these tests stub them with botocore's Stubber, which checks
each request and response against CloudFormation's own API model; the answers follow AWS's
documentation (docs/aws-behaviours.md, C15): detection is asynchronous, a resource can be
MODIFIED (with property differences NOT_EQUAL, ADD or REMOVE), DELETED or NOT_CHECKED, and
the results come in pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from fakes import FakeClock
from relight.aws.cloudformation import Stacks
from relight.drift.differences import CHANGED, ONLY_DECLARED, ONLY_LIVE, Drift
from relight.drift.prepared import add_prepared, detect_drift
from relight.model.config import load_environment
from relight.steps.render import build_plan

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, tzinfo=UTC)
STACK_ID = "arn:aws:cloudformation:us-west-2:123456789012:stack/demo-identity/1"


def _plan() -> Any:
    return build_plan(load_environment(str(ROOT / "stacks" / "demo.yaml")), "us-west-2")


def _stubbed() -> tuple[Any, Stubber]:
    cfn = boto3.client(
        "cloudformation",
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    return cfn, Stubber(cfn)


def _stack(stub: Stubber, name: str) -> None:
    stub.add_response(
        "describe_stacks",
        {"Stacks": [{"StackName": name, "CreationTime": NOW, "StackStatus": "CREATE_COMPLETE"}]},
        {"StackName": name},
    )


def _status(stub: Stubber, state: str, drift: str = "DRIFTED", reason: str = "") -> None:
    answer = {
        "StackId": STACK_ID,
        "StackDriftDetectionId": "d-1",
        "DetectionStatus": state,
        "Timestamp": NOW,
    }
    if state != "DETECTION_IN_PROGRESS":
        answer["StackDriftStatus"] = drift
    if reason:
        answer["DetectionStatusReason"] = reason
    stub.add_response(
        "describe_stack_drift_detection_status", answer, {"StackDriftDetectionId": "d-1"}
    )


def _resource(logical: str, status: str, **more: Any) -> dict[str, Any]:
    return {
        "StackId": STACK_ID,
        "LogicalResourceId": logical,
        "PhysicalResourceId": f"{logical.lower()}-1",
        "ResourceType": "AWS::IAM::Role",
        "StackResourceDriftStatus": status,
        "Timestamp": NOW,
        **more,
    }


def test_drifted_deleted_and_unchecked_resources_of_a_prepared_stack() -> None:
    plan = _plan()
    assert list(plan.prepared) == ["identity"]
    cfn, stub = _stubbed()
    _stack(stub, "demo-identity")
    stub.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": "d-1"}, {"StackName": "demo-identity"}
    )
    _status(stub, "DETECTION_IN_PROGRESS")
    _status(stub, "DETECTION_COMPLETE")
    differences = [
        {
            "PropertyPath": "/MaxSessionDuration",
            "ExpectedValue": "3600",
            "ActualValue": "43200",
            "DifferenceType": "NOT_EQUAL",
        },
        {
            "PropertyPath": "/ManagedPolicyArns/1",
            "ExpectedValue": "null",
            "ActualValue": "arn:aws:iam::aws:policy/AdministratorAccess",
            "DifferenceType": "ADD",
        },
    ]
    stub.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                _resource("WebRole", "MODIFIED", PropertyDifferences=differences),
                _resource("FlowLogRole", "IN_SYNC"),
            ],
            "NextToken": "page-2",
        },
        {"StackName": "demo-identity"},
    )
    stub.add_response(
        "describe_stack_resource_drifts",
        {
            "StackResourceDrifts": [
                _resource("MonitoringRole", "DELETED"),
                _resource("WebInstanceProfile", "NOT_CHECKED"),
            ]
        },
        {"StackName": "demo-identity", "NextToken": "page-2"},
    )
    clock = FakeClock()
    with stub:
        found = detect_drift(plan, Stacks(cfn, clock=clock, sleep=clock.sleep))
    stub.assert_no_pending_responses()
    assert clock.sleeps == [1.0], "polled once more after a second"
    ((stack,),) = [found.stacks]
    assert (stack.key, stack.name, stack.region, stack.compared) == (
        "identity",
        "demo-identity",
        "us-west-2",
        3,
    )
    assert [(d.resource, d.property, d.declared, d.live, d.kind) for d in stack.differences] == [
        ("WebRole", "/MaxSessionDuration", "3600", "43200", CHANGED),
        (
            "WebRole",
            "/ManagedPolicyArns/1",
            None,
            "arn:aws:iam::aws:policy/AdministratorAccess",
            ONLY_LIVE,
        ),
        ("MonitoringRole", "exists", True, False, ONLY_DECLARED),
    ]
    assert stack.differences[0].describe() == (
        "stacks.identity (demo-identity in us-west-2): WebRole /MaxSessionDuration: "
        "its template declares '3600', the stack has '43200'"
    )
    assert found.notes == [
        "demo-identity: CloudFormation does not check WebInstanceProfile for drift"
    ]


def test_a_detection_still_running_at_the_deadline_is_said_not_known() -> None:
    plan = _plan()
    cfn, stub = _stubbed()
    _stack(stub, "demo-identity")
    stub.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": "d-1"}, {"StackName": "demo-identity"}
    )
    for _ in range(6):
        _status(stub, "DETECTION_IN_PROGRESS")
    clock = FakeClock()
    with stub:
        found = detect_drift(plan, Stacks(cfn, clock=clock, sleep=clock.sleep), timeout=20)
    assert found.stacks == []
    assert found.notes == [
        "demo-identity: drift detection still running after 20 s: not known; "
        "run relight drift again later"
    ]
    assert sum(clock.sleeps) == 20


def test_a_failed_detection_keeps_what_it_checked_and_says_why() -> None:
    plan = _plan()
    cfn, stub = _stubbed()
    _stack(stub, "demo-identity")
    stub.add_response(
        "detect_stack_drift", {"StackDriftDetectionId": "d-1"}, {"StackName": "demo-identity"}
    )
    _status(stub, "DETECTION_FAILED", "IN_SYNC", reason="Failed to detect drift on WebRole")
    stub.add_response(
        "describe_stack_resource_drifts",
        {"StackResourceDrifts": [_resource("FlowLogRole", "IN_SYNC")]},
        {"StackName": "demo-identity"},
    )
    with stub:
        found = detect_drift(plan, Stacks(cfn))
    assert [(s.name, s.compared, s.differences) for s in found.stacks] == [("demo-identity", 1, [])]
    assert found.notes == [
        "demo-identity: drift detection failed for some resources: "
        "Failed to detect drift on WebRole"
    ]


def test_a_missing_prepared_stack_or_a_refused_detection_is_a_note() -> None:
    plan = build_plan(
        load_environment(str(ROOT / "stacks" / "demo.yaml")), "us-west-2", strategy="pilot_light"
    )
    names = [sp.name for sp in plan.prepared.values()]
    cfn, stub = _stubbed()
    for name in names:
        if name == "demo-identity":
            _stack(stub, name)
            # AWS does not document this text; relight shows whatever AWS says
            stub.add_client_error(
                "detect_stack_drift",
                "ValidationError",
                "Drift detection is not supported for stacks in UPDATE_IN_PROGRESS status",
                expected_params={"StackName": name},
            )
        else:
            stub.add_client_error(
                "describe_stacks",
                "ValidationError",
                f"Stack with id {name} does not exist",
                expected_params={"StackName": name},
            )
    with stub:
        found = detect_drift(plan, Stacks(cfn))
    assert found.stacks == []
    ((note,),) = [found.notes]
    assert note.startswith("demo-identity: drift detection could not start: ")
    assert "UPDATE_IN_PROGRESS" in note
    assert found.missing == [
        f"{sp.name} (stacks.{key}) is not prepared in us-west-2"
        for key, sp in plan.prepared.items()
        if sp.name != "demo-identity"
    ]


def test_the_stand_in_says_it_does_not_simulate_drift_detection() -> None:
    loaded = load_environment(str(ROOT / "stacks" / "demo.yaml"))
    found = Drift("demo", "us-east-1", [])

    def no_client(service: str, region: str) -> Any:
        pytest.fail(f"no {service} call on the stand-in")

    add_prepared(found, loaded, no_client, stand_in=True)
    assert found.stacks == [] and found.differences == []
    regions = loaded.env.recovery_regions
    assert [n.split(":")[0] for n in found.notes] == regions
    assert all("not simulated by the stand-in: not checked" in n for n in found.notes)


def test_a_recovery_region_never_prepared_is_one_line_not_a_note_per_stack() -> None:
    """drift reads every recovery region; one where relight prepare never ran holds none of
    the prepared stacks (issue 20, item 8): it is named once, and a prepared one as before."""
    loaded = load_environment(str(ROOT / "stacks" / "demo.yaml"))
    regions = list(loaded.env.recovery_regions)
    assert len(regions) >= 2
    clients: dict[str, Any] = {}
    for region in regions:
        cfn = boto3.client(
            "cloudformation",
            region_name=region,
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        stub = Stubber(cfn)
        for key, sp in build_plan(loaded, region).prepared.items():
            stub.add_client_error(
                "describe_stacks",
                "ValidationError",
                f"Stack with id {sp.name} does not exist",
                expected_params={"StackName": sp.name},
            )
            if loaded.env.stacks[key].stands == "global":  # nor made by a StackSet (listed once)
                stub.add_response("describe_stacks", {"Stacks": []}, {})
        stub.activate()
        clients[region] = cfn
    found = Drift("demo", "us-east-1", [])
    add_prepared(found, loaded, lambda service, region: clients[region], stand_in=False)
    assert found.notes == [
        "never prepared (none of its prepared stacks exists), so not checked: " + ", ".join(regions)
    ]
