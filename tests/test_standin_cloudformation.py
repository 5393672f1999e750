"""The stand-in's CloudFormation plays AWS's: failures, rollbacks, retries, deletes, protection.

Each test talks to a real stand-in process (relight.standin, moto 5.2.5 with relight's additions
from standin/extensions/cloudformation/) through boto3, with small templates, and checks what
DescribeStacks, the stack's events and the EC2 APIs show afterwards, as they would on AWS
(docs/aws-behaviours.md, C4, C6, C7). Faults (standin/faults.py) make a chosen resource fail or
hang where no template can.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from relight import standin
from relight.aws.cloudformation import Stacks, classify, no_changes
from relight.errors import StandInError
from relight.model.faults import Faults
from relight.standin.faults import clear_faults, read_faults, set_faults

REGION = "us-west-2"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[standin.StandIn]:
    directory = tmp_path_factory.mktemp("stand-in")
    yield standin.ensure_running(directory)
    standin.stop(directory)


@pytest.fixture
def endpoint(server: standin.StandIn) -> Iterator[str]:
    yield server.endpoint
    clear_faults(server.endpoint)


def _client(endpoint: str, service: str = "cloudformation", retries: int = 3) -> Any:
    config = Config(retries={"mode": "standard", "total_max_attempts": retries})
    return boto3.client(service, REGION, endpoint_url=endpoint, config=config)


def _vpc(name: str = "Vpc", cidr: str = "10.0.0.0/16") -> dict[str, Any]:
    return {name: {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": cidr}}}


def _subnet(cidr: str, **extra: Any) -> dict[str, Any]:
    body = {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": cidr}}
    return {**body, **extra}


# A VPC, a subnet, and a subnet outside the VPC's range: EC2 refuses it (InvalidSubnet.Range).
FAILING = {
    "Resources": {
        **_vpc(),
        "Good": _subnet("10.0.1.0/24"),
        "Bad": _subnet("10.9.1.0/24", DependsOn="Good"),
    },
    "Outputs": {"VpcId": {"Value": {"Ref": "Vpc"}}},
}
FIXED = {**FAILING, "Resources": {**FAILING["Resources"], "Bad": _subnet("10.0.2.0/24")}}


def _stack(cfn: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return found


def _events(cfn: Any, name: str) -> list[tuple[str, str, str]]:
    """(logical id, status, reason), oldest first."""
    events = cfn.describe_stack_events(StackName=name)["StackEvents"][::-1]
    return [
        (e["LogicalResourceId"], e["ResourceStatus"], e.get("ResourceStatusReason", ""))
        for e in events
    ]


def _resources(cfn: Any, name: str) -> dict[str, dict[str, Any]]:
    summaries = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {r["LogicalResourceId"]: r for r in summaries}


def _vpcs(endpoint: str) -> set[str]:
    vpcs = _client(endpoint, "ec2").describe_vpcs()["Vpcs"]
    return {v["VpcId"] for v in vpcs if not v["IsDefault"]}


def _create(cfn: Any, name: str, template: dict[str, Any], **options: Any) -> None:
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template), **options)


# failure semantics (C7) -----------------------------------------------------------------------


def test_a_failed_create_rolls_back_by_default_and_names_the_resource_and_why(
    endpoint: str,
) -> None:
    cfn = _client(endpoint)
    before = _vpcs(endpoint)
    _create(cfn, "rolled-back", FAILING)
    stack = _stack(cfn, "rolled-back")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    assert stack["DisableRollback"] is False
    assert "Outputs" not in stack
    events = _events(cfn, "rolled-back")
    failed = [e for e in events if e[1] == "CREATE_FAILED"]
    assert failed == [
        (
            "Bad",
            "CREATE_FAILED",
            "The CIDR '10.9.1.0/24' is invalid. (Service: EC2, Status Code: 400, "
            "Error Code: InvalidSubnet.Range)",
        )
    ]
    assert (
        "rolled-back",
        "ROLLBACK_IN_PROGRESS",
        "The following resource(s) failed to create: [Bad]. Rollback requested by user.",
    ) in events
    assert [e[:2] for e in events if e[1] == "DELETE_COMPLETE"] == [
        ("Bad", "DELETE_COMPLETE"),
        ("Good", "DELETE_COMPLETE"),
        ("Vpc", "DELETE_COMPLETE"),
    ]
    assert _vpcs(endpoint) == before, "what the stack made was rolled back"


def test_with_rollback_disabled_a_failed_create_keeps_what_it_made(endpoint: str) -> None:
    cfn = _client(endpoint)
    _create(cfn, "kept", FAILING, DisableRollback=True)
    stack = _stack(cfn, "kept")
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert stack["DisableRollback"] is True
    assert stack["StackStatusReason"] == "The following resource(s) failed to create: [Bad]. "
    resources = _resources(cfn, "kept")
    assert {k: r["ResourceStatus"] for k, r in resources.items()} == {
        "Vpc": "CREATE_COMPLETE",
        "Good": "CREATE_COMPLETE",
        "Bad": "CREATE_FAILED",
    }
    assert "InvalidSubnet.Range" in resources["Bad"]["ResourceStatusReason"]
    vpc = resources["Vpc"]["PhysicalResourceId"]
    assert vpc in _vpcs(endpoint)
    ec2 = _client(endpoint, "ec2")
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert [s["CidrBlock"] for s in subnets] == ["10.0.1.0/24"]
    assert "Outputs" not in stack, "no outputs before the stack is complete"
    again = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    assert len(again) == 1, "reading the stack made nothing it had not made"


@pytest.mark.parametrize(
    ("on_failure", "status", "listed"),
    [("DO_NOTHING", "CREATE_FAILED", True), ("DELETE", "DELETE_COMPLETE", False)],
)
def test_on_failure_do_nothing_keeps_the_stack_and_delete_removes_it(
    endpoint: str, on_failure: str, status: str, listed: bool
) -> None:
    cfn = _client(endpoint)
    name = f"on-failure-{on_failure.lower().replace('_', '-')}"
    stack_id = cfn.create_stack(
        StackName=name, TemplateBody=json.dumps(FAILING), OnFailure=on_failure
    )["StackId"]
    assert _stack(cfn, stack_id)["StackStatus"] == status
    names = [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert (name in names) is listed
    if on_failure == "DO_NOTHING":
        assert _stack(cfn, name)["DisableRollback"] is True


def test_relight_reads_the_stand_ins_failed_stacks_as_it_reads_awss(endpoint: str) -> None:
    """What tests/fakes.py plays for relight's failure paths, the stand-in now shows: relight
    retries a stack kept CREATE_FAILED, recreates a rolled-back one, and names the resource that
    failed, why, and what was kept."""
    cfn = _client(endpoint)
    tags = [{"Key": "relight:env", "Value": "shop"}]
    _create(cfn, "shop-kept", FAILING, DisableRollback=True, Tags=tags)
    _create(cfn, "shop-rolled", FAILING, Tags=tags)
    stacks = Stacks(cfn)
    assert classify(stacks.state("shop-kept"), "shop")[0] == "retry"
    assert classify(stacks.state("shop-rolled"), "shop")[0] == "recreate"
    reason, kept = stacks.failure("shop-kept", None)
    assert reason.startswith("Bad: The CIDR '10.9.1.0/24' is invalid.")
    assert kept == ["Good", "Vpc"]
    assert stacks.completed_resources("shop-kept") == {"Good", "Vpc"}


def test_disable_rollback_and_on_failure_together_are_refused(endpoint: str) -> None:
    cfn = _client(endpoint)
    with pytest.raises(ClientError, match="cannot specify both DisableRollback and OnFailure"):
        _create(cfn, "both", FAILING, DisableRollback=True, OnFailure="ROLLBACK")
    assert "both" not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]


def test_a_failed_stack_is_retried_only_with_rollback_disabled_and_keeps_what_it_made(
    endpoint: str,
) -> None:
    cfn = _client(endpoint)
    _create(cfn, "retried", FAILING, DisableRollback=True)
    vpc = _resources(cfn, "retried")["Vpc"]["PhysicalResourceId"]
    refused = r"non-terminal \[CREATE_FAILED\] state.*disable-rollback"
    with pytest.raises(ClientError, match=refused):
        cfn.update_stack(StackName="retried", TemplateBody=json.dumps(FIXED))
    cfn.update_stack(StackName="retried", TemplateBody=json.dumps(FIXED), DisableRollback=True)
    stack = _stack(cfn, "retried")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack["Outputs"] == [{"OutputKey": "VpcId", "OutputValue": vpc}], "the same VPC"
    retry = [e[:2] for e in _events(cfn, "retried")]
    assert retry[retry.index(("retried", "UPDATE_IN_PROGRESS")) :] == [
        ("retried", "UPDATE_IN_PROGRESS"),
        ("Bad", "CREATE_IN_PROGRESS"),
        ("Bad", "CREATE_COMPLETE"),
        ("retried", "UPDATE_COMPLETE"),
    ]


def test_a_retry_with_the_same_template_makes_only_what_is_missing(endpoint: str) -> None:
    cfn = _client(endpoint)
    set_faults(endpoint, {"resources": [{"stack": "same", "resource": "Bad", "mode": "fail"}]})
    _create(cfn, "same", FIXED, DisableRollback=True)
    assert _stack(cfn, "same")["StackStatus"] == "CREATE_FAILED"
    made = {k: r.get("PhysicalResourceId") for k, r in _resources(cfn, "same").items()}
    clear_faults(endpoint)
    cfn.update_stack(StackName="same", TemplateBody=json.dumps(FIXED), DisableRollback=True)
    assert _stack(cfn, "same")["StackStatus"] == "UPDATE_COMPLETE"
    after = {k: r.get("PhysicalResourceId") for k, r in _resources(cfn, "same").items()}
    assert after["Vpc"] == made["Vpc"] and after["Good"] == made["Good"]
    assert after["Bad"]
    retry = [e[:2] for e in _events(cfn, "same")]
    retry = retry[retry.index(("same", "UPDATE_IN_PROGRESS")) :]
    assert retry == [
        ("same", "UPDATE_IN_PROGRESS"),
        ("Bad", "CREATE_IN_PROGRESS"),
        ("Bad", "CREATE_COMPLETE"),
        ("same", "UPDATE_COMPLETE"),
    ]


def test_a_rolled_back_stack_can_only_be_deleted_and_then_its_name_is_free(endpoint: str) -> None:
    cfn = _client(endpoint)
    _create(cfn, "leftover", FAILING)
    with pytest.raises(ClientError, match="is in ROLLBACK_COMPLETE state and can not be updated"):
        cfn.update_stack(StackName="leftover", TemplateBody=json.dumps(FIXED))
    cfn.delete_stack(StackName="leftover")
    _create(cfn, "leftover", FIXED)
    assert _stack(cfn, "leftover")["StackStatus"] == "CREATE_COMPLETE"


def test_a_failed_update_stays_update_failed_or_rolls_back_what_it_added(endpoint: str) -> None:
    cfn = _client(endpoint)
    base = {"Resources": {**_vpc(), "Good": _subnet("10.0.1.0/24")}}
    grown = {
        "Resources": {
            **base["Resources"],
            "More": _subnet("10.0.3.0/24"),
            "Bad": _subnet("10.9.9.0/24", DependsOn="More"),
        }
    }
    ec2 = _client(endpoint, "ec2")
    for name, keep, status in (
        ("upd-kept", True, "UPDATE_FAILED"),
        ("upd-back", False, "UPDATE_ROLLBACK_COMPLETE"),
    ):
        _create(cfn, name, base)
        vpc = _resources(cfn, name)["Vpc"]["PhysicalResourceId"]
        cfn.update_stack(StackName=name, TemplateBody=json.dumps(grown), DisableRollback=keep)
        assert _stack(cfn, name)["StackStatus"] == status
        cidrs = {
            s["CidrBlock"]
            for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        }
        assert cidrs == ({"10.0.1.0/24", "10.0.3.0/24"} if keep else {"10.0.1.0/24"})
    assert ("Bad", "CREATE_FAILED") in [e[:2] for e in _events(cfn, "upd-back")]
    assert cfn.get_template(StackName="upd-back")["TemplateBody"] == base, (
        "the rollback went back to the template before"
    )


def test_an_executed_change_set_takes_disable_rollback_and_a_new_stack_gets_its_outputs(
    endpoint: str,
) -> None:
    cfn = _client(endpoint)
    made = cfn.create_change_set(
        StackName="from-change-set",
        ChangeSetName="first",
        ChangeSetType="CREATE",
        TemplateBody=json.dumps(FIXED),
    )
    cfn.execute_change_set(ChangeSetName=made["Id"])
    stack = _stack(cfn, "from-change-set")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert [o["OutputKey"] for o in stack["Outputs"]] == ["VpcId"]
    worse = {**FIXED, "Resources": {**FIXED["Resources"], "Worse": _subnet("10.9.0.0/24")}}
    change = cfn.create_change_set(
        StackName="from-change-set",
        ChangeSetName="second",
        ChangeSetType="UPDATE",
        TemplateBody=json.dumps(worse),
    )
    cfn.execute_change_set(ChangeSetName=change["Id"], DisableRollback=True)
    assert _stack(cfn, "from-change-set")["StackStatus"] == "UPDATE_FAILED"
    assert _resources(cfn, "from-change-set")["Worse"]["ResourceStatus"] == "CREATE_FAILED"


def test_an_update_removes_what_the_template_no_longer_has_after_the_rest(endpoint: str) -> None:
    cfn = _client(endpoint)
    _create(cfn, "shrinking", FIXED)
    bad = _resources(cfn, "shrinking")["Bad"]["PhysicalResourceId"]
    smaller = {**FIXED, "Resources": {k: v for k, v in FIXED["Resources"].items() if k != "Bad"}}
    cfn.update_stack(StackName="shrinking", TemplateBody=json.dumps(smaller))
    events = [e[:2] for e in _events(cfn, "shrinking")]
    assert events[events.index(("shrinking", "UPDATE_IN_PROGRESS")) :] == [
        ("shrinking", "UPDATE_IN_PROGRESS"),
        ("shrinking", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
        ("Bad", "DELETE_IN_PROGRESS"),
        ("Bad", "DELETE_COMPLETE"),
        ("shrinking", "UPDATE_COMPLETE"),
    ]
    subnets = _client(endpoint, "ec2").describe_subnets()["Subnets"]
    assert bad not in {s["SubnetId"] for s in subnets}


def test_use_previous_value_keeps_a_parameter_that_took_its_default(endpoint: str) -> None:
    """moto 5.2.5 raised KeyError (HTTP 500) for UsePreviousValue of a parameter never given:
    relight's `teardown --force` sends exactly that to lift deletion protection."""
    cfn = _client(endpoint)
    template = {
        "Parameters": {
            "Cidr": {"Type": "String", "Default": "10.3.0.0/16"},
            "Purpose": {"Type": "String"},
        },
        "Resources": {"Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
            "CidrBlock": {"Ref": "Cidr"},
            "Tags": [{"Key": "Purpose", "Value": {"Ref": "Purpose"}}],
        }}},
    }  # fmt: skip
    cfn.create_stack(
        StackName="defaults", TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Purpose", "ParameterValue": "failover"}],
    )  # fmt: skip
    cfn.update_stack(
        StackName="defaults", UsePreviousTemplate=True,
        Parameters=[{"ParameterKey": "Cidr", "UsePreviousValue": True},
                    {"ParameterKey": "Purpose", "ParameterValue": "test"}],
    )  # fmt: skip
    stack = _stack(cfn, "defaults")
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]} == {
        "Cidr": "10.3.0.0/16", "Purpose": "test",
    }  # fmt: skip


def test_an_executed_change_set_becomes_the_stacks_parameters(endpoint: str) -> None:
    """So the next change set with the same values finds nothing to change (moto 5.2.5 kept
    the parameters the stack was created with)."""
    cfn = _client(endpoint)
    template = {"Parameters": {"Cidr": {"Type": "String"}},
                "Resources": {"Vpc": {"Type": "AWS::EC2::VPC",
                                      "Properties": {"CidrBlock": {"Ref": "Cidr"}}}}}  # fmt: skip

    def change(name: str, cidr: str) -> tuple[str, str]:
        """The change set's id and, when it changes nothing, what CloudFormation says."""
        try:
            made = cfn.create_change_set(
                StackName="changing", ChangeSetName=name, ChangeSetType="UPDATE",
                TemplateBody=json.dumps(template),
                Parameters=[{"ParameterKey": "Cidr", "ParameterValue": cidr}],
            )  # fmt: skip
        except ClientError as refused:  # moto refuses it at once, AWS makes a FAILED one
            return "", refused.response["Error"]["Message"]
        found = cfn.describe_change_set(ChangeSetName=made["Id"])
        return made["Id"], found.get("StatusReason", "")

    cfn.create_stack(
        StackName="changing", TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Cidr", "ParameterValue": "10.4.0.0/16"}],
    )  # fmt: skip
    wider, _ = change("wider", "10.5.0.0/16")
    cfn.execute_change_set(ChangeSetName=wider)
    assert _stack(cfn, "changing")["StackStatus"] == "UPDATE_COMPLETE"
    assert no_changes(change("same", "10.5.0.0/16")[1])


def test_moto_failing_on_a_resource_fails_that_resource_not_the_request(endpoint: str) -> None:
    """A subnet without its CidrBlock: AWS fails the resource; moto 5.2.5 raised KeyError out
    of CreateStack (HTTP 500, retried by botocore, the stack left CREATE_IN_PROGRESS)."""
    cfn = _client(endpoint)
    template = {
        "Resources": {**_vpc(), "NoRange": {"Type": "AWS::EC2::Subnet",
                                            "Properties": {"VpcId": {"Ref": "Vpc"}}}}
    }  # fmt: skip
    _create(cfn, "crash", template, DisableRollback=True)
    assert _stack(cfn, "crash")["StackStatus"] == "CREATE_FAILED"
    reason = _resources(cfn, "crash")["NoRange"]["ResourceStatusReason"]
    assert reason == "stand-in: moto failed on this AWS::EC2::Subnet: KeyError: 'CidrBlock'"


def test_a_template_with_a_cycle_or_an_unknown_depends_on_is_refused_at_once(
    endpoint: str,
) -> None:
    cfn = _client(endpoint)
    cycle = {
        "Resources": {
            "A": _subnet("10.0.1.0/24", DependsOn="B"),
            "B": _subnet("10.0.2.0/24", DependsOn="A"),
            **_vpc(),
        }
    }
    with pytest.raises(ClientError, match=r"Circular dependency between resources: \[A, B\]"):
        _create(cfn, "cycle", cycle)
    unknown = {"Resources": {**_vpc(), "A": _subnet("10.0.1.0/24", DependsOn="Nowhere")}}
    with pytest.raises(ClientError, match=r"Unresolved resource dependencies \[Nowhere\]"):
        _create(cfn, "unknown", unknown)
    names = [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert "cycle" not in names and "unknown" not in names


# deletes --------------------------------------------------------------------------------------

NETWORK = {
    "Resources": {
        **_vpc(),
        "Gateway": {"Type": "AWS::EC2::InternetGateway"},
        "Attachment": {
            "Type": "AWS::EC2::VPCGatewayAttachment",
            "Properties": {"VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "Gateway"}},
        },
        "Public": _subnet("10.0.1.0/24"),
        "Routes": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
        "DefaultRoute": {
            "Type": "AWS::EC2::Route",
            "DependsOn": "Attachment",
            "Properties": {
                "RouteTableId": {"Ref": "Routes"},
                "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": {"Ref": "Gateway"},
            },
        },
        "PublicRoutes": {
            "Type": "AWS::EC2::SubnetRouteTableAssociation",
            "Properties": {"SubnetId": {"Ref": "Public"}, "RouteTableId": {"Ref": "Routes"}},
        },
        "NatAddress": {
            "Type": "AWS::EC2::EIP",
            "DependsOn": "Attachment",
            "Properties": {"Domain": "vpc"},
        },
        "Nat": {
            "Type": "AWS::EC2::NatGateway",
            "Properties": {
                "SubnetId": {"Ref": "Public"},
                "AllocationId": {"Fn::GetAtt": ["NatAddress", "AllocationId"]},
            },
        },
    }
}


def _network_leftovers(endpoint: str, vpc: str) -> dict[str, Any]:
    ec2 = _client(endpoint, "ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
    gateways = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [vpc]}]
    )["InternetGateways"]
    return {
        "vpc": vpc in _vpcs(endpoint),
        "route tables": len(ec2.describe_route_tables(Filters=in_vpc)["RouteTables"]),
        "internet gateways": len(gateways),
        "nat gateways": [
            n["State"] for n in ec2.describe_nat_gateways()["NatGateways"] if n["VpcId"] == vpc
        ],
        "network interfaces": len(
            ec2.describe_network_interfaces(Filters=in_vpc)["NetworkInterfaces"]
        ),
    }


def test_deleting_a_network_stack_removes_what_it_made_and_orphans_no_vpc(endpoint: str) -> None:
    cfn = _client(endpoint)
    _create(cfn, "network", NETWORK)
    assert _stack(cfn, "network")["StackStatus"] == "CREATE_COMPLETE"
    vpc = _resources(cfn, "network")["Vpc"]["PhysicalResourceId"]
    addresses = len(_client(endpoint, "ec2").describe_addresses()["Addresses"])
    cfn.delete_stack(StackName="network")
    assert "network" not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert _network_leftovers(endpoint, vpc) == {
        "vpc": False,
        "route tables": 0,
        "internet gateways": 0,
        "nat gateways": ["deleted"],
        "network interfaces": 0,
    }
    assert len(_client(endpoint, "ec2").describe_addresses()["Addresses"]) == addresses - 1
    deleted = [e for e in _events(cfn, _stack_id(cfn, "network")) if e[1] == "DELETE_COMPLETE"]
    assert deleted[0][0] == "Nat" and deleted[-1][0] == "network", "dependents first"


def _stack_id(cfn: Any, name: str) -> str:
    summaries = cfn.list_stacks()["StackSummaries"]
    return str(next(s["StackId"] for s in summaries if s["StackName"] == name))


def test_a_delete_that_fails_leaves_the_stack_delete_failed_and_a_retry_finishes_it(
    endpoint: str,
) -> None:
    cfn, ec2 = _client(endpoint), _client(endpoint, "ec2")
    _create(
        cfn, "blocked", {"Resources": {**_vpc(cidr="10.7.0.0/16"), "Own": _subnet("10.7.1.0/24")}}
    )
    vpc = _resources(cfn, "blocked")["Vpc"]["PhysicalResourceId"]
    by_hand = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.2.0/24")["Subnet"]["SubnetId"]
    cfn.delete_stack(StackName="blocked")
    stack = _stack(cfn, "blocked")
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to delete: [Vpc]. "
    assert {k: r["ResourceStatus"] for k, r in _resources(cfn, "blocked").items()} == {
        "Vpc": "DELETE_FAILED"
    }
    assert "DependencyViolation" in _resources(cfn, "blocked")["Vpc"]["ResourceStatusReason"]
    assert vpc in _vpcs(endpoint), "the VPC is still the stack's: nothing is orphaned"
    ec2.delete_subnet(SubnetId=by_hand)
    cfn.delete_stack(StackName="blocked")
    assert "blocked" not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]
    assert vpc not in _vpcs(endpoint)


def test_deleting_a_stack_that_does_not_exist_is_no_error(endpoint: str) -> None:
    _client(endpoint).delete_stack(StackName="never-was")


def test_a_retained_resource_stays_and_is_reported_skipped(endpoint: str) -> None:
    cfn = _client(endpoint)
    kept = {"Resources": {"Vpc": {**_vpc()["Vpc"], "DeletionPolicy": "Retain"}}}
    _create(cfn, "retain", kept)
    vpc = _resources(cfn, "retain")["Vpc"]["PhysicalResourceId"]
    stack_id = _stack(cfn, "retain")["StackId"]
    cfn.delete_stack(StackName="retain")
    assert ("Vpc", "DELETE_SKIPPED", "") in _events(cfn, stack_id)
    assert vpc in _vpcs(endpoint)


# termination protection (C6) ------------------------------------------------------------------


def test_termination_protection_is_updated_and_reported(endpoint: str) -> None:
    cfn = _client(endpoint)
    _create(cfn, "protected", {"Resources": _vpc()}, EnableTerminationProtection=True)
    assert _stack(cfn, "protected")["EnableTerminationProtection"] is True
    answer = cfn.update_termination_protection(
        StackName="protected", EnableTerminationProtection=False
    )
    assert answer["StackId"] == _stack(cfn, "protected")["StackId"]
    assert _stack(cfn, "protected")["EnableTerminationProtection"] is False


@pytest.fixture
def enforcing(tmp_path: Path) -> Iterator[str]:
    """A stand-in started with --enforce-termination-protection."""
    state = tmp_path / "enforcing"
    state.mkdir()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "relight.standin.server",
            "--state-file",
            str(state / "standin.json"),
            "--enforce-termination-protection",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while (found := standin.find(state)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert found is not None, "the enforcing stand-in started"
        yield found.endpoint
    finally:
        standin.stop(state)
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=10)


def test_with_enforcement_a_protected_stack_is_deleted_only_once_protection_is_lifted(
    enforcing: str,
) -> None:
    cfn = _client(enforcing)
    _create(cfn, "guarded", {"Resources": _vpc()}, EnableTerminationProtection=True)
    with pytest.raises(
        ClientError, match=r"Stack \[guarded\] cannot be deleted while TerminationProtection"
    ):
        cfn.delete_stack(StackName="guarded")
    assert _stack(cfn, "guarded")["StackStatus"] == "CREATE_COMPLETE"
    cfn.update_termination_protection(StackName="guarded", EnableTerminationProtection=False)
    cfn.delete_stack(StackName="guarded")
    assert cfn.describe_stacks()["Stacks"] == []


# faults (standin/faults.py) -------------------------------------------------------------------


def test_a_fault_fails_the_chosen_resource_with_its_message(endpoint: str) -> None:
    cfn = _client(endpoint)
    set_faults(
        endpoint,
        {
            "resources": [
                {"stack": "faulty-*", "resource": "Good", "mode": "fail", "message": "no capacity"},
                {"stack": "*", "resource": "*", "mode": "fail", "region": "eu-*"},
            ]
        },
    )
    _create(cfn, "faulty-1", FIXED, DisableRollback=True)
    _create(cfn, "other", FIXED)
    assert _stack(cfn, "faulty-1")["StackStatus"] == "CREATE_FAILED"
    assert ("Good", "CREATE_FAILED", "no capacity") in _events(cfn, "faulty-1")
    assert _stack(cfn, "other")["StackStatus"] == "CREATE_COMPLETE", "neither fault applies"
    hits = read_faults(endpoint)["hits"]
    assert [(h["kind"], h["stack"], h["resource"]) for h in hits] == [("fail", "faulty-1", "Good")]


def test_a_hanging_resource_holds_the_stack_until_its_fault_is_cleared(endpoint: str) -> None:
    cfn = _client(endpoint)
    set_faults(endpoint, {"resources": [{"stack": "held", "resource": "Good", "mode": "hang"}]})
    _create(cfn, "held", FIXED)
    for _ in range(3):
        assert _stack(cfn, "held")["StackStatus"] == "CREATE_IN_PROGRESS"
    assert _events(cfn, "held")[-1][:2] == ("Good", "CREATE_IN_PROGRESS")
    assert set(_resources(cfn, "held")) == {"Vpc", "Good"}, "nothing after it started"
    clear_faults(endpoint, "test")
    assert _stack(cfn, "held")["StackStatus"] == "CREATE_COMPLETE"
    assert [e[:2] for e in _events(cfn, "held")].count(("Good", "CREATE_IN_PROGRESS")) == 1


def test_a_hang_of_some_seconds_goes_on_by_itself(endpoint: str) -> None:
    cfn = _client(endpoint)
    set_faults(
        endpoint,
        {"resources": [{"stack": "slow", "resource": "Vpc", "mode": "hang", "seconds": 1}]},
    )
    _create(cfn, "slow", FIXED)
    assert _stack(cfn, "slow")["StackStatus"] == "CREATE_IN_PROGRESS"
    time.sleep(1.2)
    assert _stack(cfn, "slow")["StackStatus"] == "CREATE_COMPLETE"


def test_a_slow_stack_stays_in_progress_with_nothing_made_then_goes_on_by_itself(
    endpoint: str,
) -> None:
    """The latency knob bench/estate.py models AWS's provisioning wait with: every operation of
    a matching stack waits its seconds before its first resource; other stacks do not."""
    cfn = _client(endpoint)
    set_faults(endpoint, {"slow": {"stack": "lagging-*", "seconds": 0.6, "region": REGION}})
    _create(cfn, "lagging-1", FIXED)
    _create(cfn, "brisk", FIXED)
    assert _stack(cfn, "lagging-1")["StackStatus"] == "CREATE_IN_PROGRESS"
    assert _resources(cfn, "lagging-1") == {}, "nothing made while CloudFormation 'provisions'"
    assert _stack(cfn, "brisk")["StackStatus"] == "CREATE_COMPLETE", "not a matching stack"
    time.sleep(0.7)
    made = _stack(cfn, "lagging-1")
    assert made["StackStatus"] == "CREATE_COMPLETE"
    cfn.delete_stack(StackName="lagging-1")
    assert _stack(cfn, "lagging-1")["StackStatus"] == "DELETE_IN_PROGRESS", "a delete waits too"
    time.sleep(0.7)
    assert _stack(cfn, made["StackId"])["StackStatus"] == "DELETE_COMPLETE"
    assert (
        "every operation of lagging-* takes 0.6 s"
        in Faults.model_validate({"slow": [{"stack": "lagging-*", "seconds": 0.6}]}).describe()
    )


def test_deleting_a_stack_whose_create_hangs_cancels_it(endpoint: str) -> None:
    cfn = _client(endpoint)
    set_faults(endpoint, {"resources": [{"stack": "stuck", "resource": "Good", "mode": "hang"}]})
    _create(cfn, "stuck", FIXED)
    stack_id = _stack(cfn, "stuck")["StackId"]
    cfn.delete_stack(StackName="stuck")
    events = _events(cfn, stack_id)
    assert ("Good", "CREATE_FAILED", "Resource creation cancelled") in events
    assert events[-1][:2] == ("stuck", "DELETE_COMPLETE")


@pytest.mark.parametrize(
    ("mode", "status"), [("fail", "DELETE_FAILED"), ("hang", "DELETE_IN_PROGRESS")]
)
def test_a_delete_fault_fails_or_holds_the_delete(endpoint: str, mode: str, status: str) -> None:
    cfn = _client(endpoint)
    name = f"undeletable-{mode}"
    set_faults(
        endpoint,
        {"resources": [{"stack": name, "resource": "Vpc", "mode": mode, "action": "delete"}]},
    )
    _create(cfn, name, FIXED)
    cfn.delete_stack(StackName=name)
    assert _stack(cfn, name)["StackStatus"] == status
    assert set(_resources(cfn, name)) == {"Vpc"}, "its dependents went, the VPC stays"
    clear_faults(endpoint)
    if mode == "fail":
        cfn.delete_stack(StackName=name)
    assert name not in [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]


def test_an_update_fault_fails_the_update_of_the_chosen_resource(endpoint: str) -> None:
    cfn = _client(endpoint)
    _create(cfn, "reshaped", FIXED)
    set_faults(endpoint, {"resources": [{"stack": "reshaped", "resource": "Good",
                                         "mode": "fail", "action": "update"}]})  # fmt: skip
    tagged = {**FIXED, "Resources": {**FIXED["Resources"], "Good": _subnet(
        "10.0.1.0/24", Properties={"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                   "Tags": [{"Key": "tier", "Value": "web"}]})}}  # fmt: skip
    cfn.update_stack(StackName="reshaped", TemplateBody=json.dumps(tagged), DisableRollback=True)
    stack = _stack(cfn, "reshaped")
    assert stack["StackStatus"] == "UPDATE_FAILED"
    assert stack["StackStatusReason"] == "The following resource(s) failed to update: [Good]. "
    assert ("Good", "UPDATE_FAILED", "stand-in fault: Good made to fail (update)") in _events(
        cfn, "reshaped"
    )


def test_a_throttle_refuses_the_next_calls_of_an_action_then_lets_them_through(
    endpoint: str,
) -> None:
    cfn, ec2 = _client(endpoint, retries=1), _client(endpoint, "ec2", retries=1)
    set_faults(
        endpoint,
        {
            "throttle": [
                {"action": "DescribeStacks", "count": 2},
                {"service": "ec2", "action": "*", "count": 1},
            ]
        },
    )
    for _ in range(2):
        with pytest.raises(ClientError) as refused:
            cfn.describe_stacks()
        error = refused.value.response["Error"]
        assert (error["Code"], error["Message"]) == ("Throttling", "Rate exceeded")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    cfn.describe_stacks()
    cfn.list_stacks()  # another action: never refused
    with pytest.raises(ClientError, match="RequestLimitExceeded"):
        ec2.describe_vpcs()
    ec2.describe_vpcs()
    seen = read_faults(endpoint)
    assert seen["sources"]["test"]["throttle_left"] == [0, 0]
    assert [h["action"] for h in seen["hits"]] == [
        "DescribeStacks",
        "DescribeStacks",
        "DescribeVpcs",
    ]


def test_botocores_retries_ride_out_a_short_throttle(endpoint: str) -> None:
    set_faults(endpoint, {"throttle": {"action": "DescribeStacks", "count": 2}})
    _client(endpoint, retries=3).describe_stacks()
    assert read_faults(endpoint)["sources"]["test"]["throttle_left"] == [0]


def test_faults_are_kept_per_source_and_a_bad_one_is_refused(endpoint: str) -> None:
    set_faults(endpoint, {"throttle": {"action": "ListStacks", "count": 5}}, source="a")
    set_faults(
        endpoint, {"resources": [{"stack": "x", "resource": "y", "mode": "fail"}]}, source="b"
    )
    set_faults(endpoint, {}, source="a")
    assert set(read_faults(endpoint)["sources"]) == {"a", "b"}
    assert read_faults(endpoint)["sources"]["a"]["throttle"] == []
    clear_faults(endpoint, "b")
    assert set(read_faults(endpoint)["sources"]) == {"a"}
    request = urllib.request.Request(
        endpoint + "/_relight/faults/c", data=b'{"resources": [{"mode": "explode"}]}', method="PUT"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    with pytest.raises(StandInError, match="did not take the faults"):
        set_faults("http://127.0.0.1:1", {})


def test_install_is_idempotent() -> None:
    """In a process of its own: installing patches moto process-wide."""
    code = (
        "from moto.cloudformation import models\n"
        "from relight.standin.extensions import cloudformation as m\n"
        "m.install(); first = models.CloudFormationBackend.get_stack\n"
        "m.install(); assert models.CloudFormationBackend.get_stack is first\n"
        "from relight.standin.extensions import install; install(); install()\n"
        "assert models.CloudFormationBackend.get_stack is first\n"
    )
    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr


def test_a_stack_whose_managed_policy_names_its_role_deletes_whole(endpoint: str) -> None:
    """AWS's AWS::IAM::Role handler detaches the role's managed policies before DeleteRole (its
    delete permissions: ListAttachedRolePolicies, DetachRolePolicy): the identity stack's
    CloudFormation service role with its policies (`Roles: [Ref role]`) deletes whole. moto
    5.2.6 alone leaves it DELETE_FAILED: "Cannot delete entity, must detach all policies
    first." (standin/extensions/iam.py)."""
    cfn, iam = _client(endpoint), _client(endpoint, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "cloudformation.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    body = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": trust}},
            "Policy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {"PolicyDocument": allow, "Roles": [{"Ref": "Role"}]},
            },
        },
        "Outputs": {"Role": {"Value": {"Ref": "Role"}}},
    }
    cfn.create_stack(StackName="roles-detached", TemplateBody=json.dumps(body))
    made = _stack(cfn, "roles-detached")
    role = made["Outputs"][0]["OutputValue"]
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    cfn.delete_stack(StackName="roles-detached")
    gone = cfn.describe_stacks(StackName=made["StackId"])["Stacks"][0]
    assert gone["StackStatus"] == "DELETE_COMPLETE", gone.get("StackStatusReason")
    assert role not in {r["RoleName"] for r in iam.list_roles()["Roles"]}
