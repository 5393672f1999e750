"""CloudFormation StackSets (aws/stacksets.py): a StackSet and its stack instances made or
brought up to date, each operation waited for; OperationInProgressException waited out; a
failed operation names each failed instance. Stubbers answer with AWS's own codes and texts
(docs/aws-behaviours.md, U*); the stand-in (moto with relight's additions) plays the rest."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from relight.aws.stacksets import (
    SELF_MANAGED,
    StackSets,
    StackSetSpec,
    preferences,
    set_differences,
)
from relight.errors import AwsError, DeployError, InputError

REGION = "us-west-2"
ADMIN, SHOP = "123456789012", "210987654321"
# AWS's text (CloudFormation API Reference, OperationInProgressException)
IN_PROGRESS_TEXT = (
    "Another operation is currently in progress for this StackSet. Only one operation can be "
    "performed for a stack set at a given time."
)
BODY = json.dumps(
    {
        "Parameters": {"Suffix": {"Type": "String"}},
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "AssumeRolePolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": {"Service": "ec2.amazonaws.com"},
                                "Action": "sts:AssumeRole",
                            }
                        ],
                    }
                },
            }
        },
        "Outputs": {
            "RoleArn": {"Value": {"Fn::GetAtt": ["Role", "Arn"]}},
            "Suffix": {"Value": {"Ref": "Suffix"}},
        },
    }
)


def spec(**changes: Any) -> StackSetSpec:
    given: dict[str, Any] = {
        "name": "shared-identity",
        "body": BODY,
        "parameters": {"Suffix": "a"},
        "tags": {"relight:stack": "shared-identity", "relight:serves:shared-identity": "shared"},
        "regions": (REGION,),
        "accounts": {ADMIN: {}, SHOP: {"Suffix": "b"}},
        "permissions": SELF_MANAGED,
        "preferences": preferences(max_concurrent_accounts=1, failure_tolerance_count=0),
    }
    given.update(changes)
    return StackSetSpec(**given)


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def ok(account: str) -> dict[str, Any]:
    return {"Account": account, "Region": REGION, "Status": "SUCCEEDED"}


def stubbed() -> tuple[Any, Stubber]:
    cfn = boto3.client(
        "cloudformation",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return cfn, Stubber(cfn)


def test_another_operation_in_progress_is_waited_out_and_asked_again_never_failed() -> None:
    cfn, stub = stubbed()
    time = Sleeps()
    said: list[str] = []
    stub.add_client_error(
        "describe_stack_set",
        "StackSetNotFoundException",
        "StackSet shared-identity not found",
    )
    stub.add_response("create_stack_set", {"StackSetId": "shared-identity:1"})
    stub.add_response("list_stack_instances", {"Summaries": []})
    for _ in range(2):  # another operation (a console user's, an earlier run's) still runs
        stub.add_client_error(
            "create_stack_instances", "OperationInProgressException", IN_PROGRESS_TEXT, 400
        )
    stub.add_response("create_stack_instances", {"OperationId": "op-1"})
    stub.add_response(
        "describe_stack_set_operation",
        {"StackSetOperation": {"OperationId": "op-1", "Action": "CREATE", "Status": "RUNNING"}},
    )
    stub.add_response(
        "describe_stack_set_operation",
        {"StackSetOperation": {"OperationId": "op-1", "Action": "CREATE", "Status": "SUCCEEDED"}},
    )
    stub.add_response("list_stack_set_operation_results", {"Summaries": [ok(ADMIN)]})
    stub.add_response("create_stack_instances", {"OperationId": "op-2"})
    stub.add_response(
        "describe_stack_set_operation",
        {"StackSetOperation": {"OperationId": "op-2", "Action": "CREATE", "Status": "SUCCEEDED"}},
    )
    stub.add_response("list_stack_set_operation_results", {"Summaries": [ok(SHOP)]})
    with stub:
        sets = StackSets(cfn, REGION, clock=time.clock, sleep=time.sleep, on_progress=said.append)
        result = sets.ensure(spec())
    assert result.created and result.operations == ["op-1", "op-2"]
    assert result.instances == {ADMIN: "created", SHOP: "created"}
    assert sets.busy_seconds > 0
    assert any("another operation on the StackSet runs; waiting" in line for line in said)
    stub.assert_no_pending_responses()


def test_operation_in_progress_past_the_timeout_says_what_runs_and_how_to_see_it() -> None:
    cfn, stub = stubbed()
    time = Sleeps()
    for _ in range(40):
        stub.add_client_error(
            "update_stack_instances", "OperationInProgressException", IN_PROGRESS_TEXT, 400
        )
    with stub, pytest.raises(DeployError) as raised:
        sets = StackSets(cfn, REGION, clock=time.clock, sleep=time.sleep, timeout=60)
        sets._call(
            "update stack instances of shared-identity",
            cfn.update_stack_instances,
            StackSetName="shared-identity",
            Accounts=[SHOP],
            Regions=[REGION],
        )
    assert "OperationInProgressException" in raised.value.message
    assert "list-stack-set-operations --stack-set-name shared-identity" in str(raised.value.hint)


def test_a_failed_operation_names_each_failed_instance_and_its_reason() -> None:
    cfn, stub = stubbed()
    time = Sleeps()
    stub.add_response(
        "describe_stack_set_operation",
        {
            "StackSetOperation": {
                "OperationId": "op-9",
                "Action": "CREATE",
                "Status": "FAILED",
                "StatusReason": "The operation exceeded the failure tolerance",
            }
        },
    )
    stub.add_response(
        "list_stack_set_operation_results",
        {
            "Summaries": [
                {"Account": ADMIN, "Region": REGION, "Status": "SUCCEEDED"},
                {
                    "Account": SHOP,
                    "Region": REGION,
                    "Status": "FAILED",
                    "StatusReason": "Account 210987654321 should have "
                    "'AWSCloudFormationStackSetExecutionRole' role with trust relationship to "
                    "Role 'AWSCloudFormationStackSetAdministrationRole'.",
                },
            ]
        },
    )
    with stub, pytest.raises(DeployError) as raised:
        StackSets(cfn, REGION, clock=time.clock, sleep=time.sleep).wait("shared-identity", "op-9")
    message = raised.value.message
    assert f"account {SHOP} {REGION}: FAILED, Account {SHOP} should have" in message
    assert ADMIN not in message.split("FAILED: ", 1)[1]  # the instance that succeeded is not named


def test_an_operation_succeeded_within_its_tolerance_still_fails_for_its_failed_instance() -> None:
    # AWS: FailureToleranceCount is "The number of accounts per Region this operation can fail
    # in before CloudFormation stops the operation in that Region": with 1, one account fails
    # and the operation still ends SUCCEEDED (StackSetOperationPreferences, U2)
    cfn, stub = stubbed()
    time = Sleeps()
    stub.add_response("describe_stack_set", {"StackSet": described()})
    stub.add_response("list_stack_instances", {"Summaries": []})
    stub.add_response("create_stack_instances", {"OperationId": "op-1"})
    stub.add_response(
        "describe_stack_set_operation",
        {"StackSetOperation": {"OperationId": "op-1", "Action": "CREATE", "Status": "SUCCEEDED"}},
    )
    stub.add_response(
        "list_stack_set_operation_results",
        {
            "Summaries": [
                {
                    "Account": SHOP,
                    "Region": REGION,
                    "Status": "FAILED",
                    "StatusReason": "ResourceLogicalId:Role, ResourceType:AWS::IAM::Role, "
                    'ResourceStatusReason:Resource handler returned message: "Access Denied".',
                }
            ],
            "NextToken": "page-2",
        },
    )
    stub.add_response(
        "list_stack_set_operation_results",
        {"Summaries": [ok(ADMIN)]},
        {"StackSetName": "shared-identity", "OperationId": "op-1", "NextToken": "page-2",
         "CallAs": "SELF"},
    )  # fmt: skip
    tolerant = preferences(failure_tolerance_count=1, max_concurrent_accounts=2)
    with stub, pytest.raises(DeployError) as raised:
        StackSets(cfn, REGION, clock=time.clock, sleep=time.sleep).ensure(
            spec(accounts={ADMIN: {}, SHOP: {}}, preferences=tolerant)
        )
    message = raised.value.message
    assert "SUCCEEDED within the failure tolerance, but not every instance succeeded" in message
    assert f"account {SHOP} {REGION}: FAILED, ResourceLogicalId:Role" in message
    assert ADMIN not in message.split("succeeded: ", 1)[1]
    assert "were not prepared" in str(raised.value.hint)
    assert raised.value.exit_code == 1
    stub.assert_no_pending_responses()


def described(**changes: Any) -> dict[str, Any]:
    found: dict[str, Any] = {
        "StackSetName": "shared-identity",
        "Status": "ACTIVE",
        "TemplateBody": BODY,
        "Parameters": [{"ParameterKey": "Suffix", "ParameterValue": "a"}],
        "Tags": [{"Key": k, "Value": v} for k, v in spec().tags.items()],
        "PermissionModel": "SELF_MANAGED",
    }
    found.update(changes)
    return found


@pytest.mark.parametrize(
    ("tags", "said"),
    [
        ([], "is not tagged relight:estate (its tags: no tags)"),
        (
            [{"Key": "relight:estate", "Value": "retail"}],
            "is estate retail's (its tags: relight:estate=retail)",
        ),
    ],
)
def test_a_stack_set_of_the_same_name_not_this_estates_is_refused_and_nothing_changed(
    tags: list[dict[str, str]], said: str
) -> None:
    cfn, stub = stubbed()
    stub.add_response("describe_stack_set", {"StackSet": described(Tags=tags)})
    with stub, pytest.raises(InputError) as raised:  # no update, no instance: no call stubbed
        StackSets(cfn, REGION).ensure(spec(tags={**spec().tags, "relight:estate": "corp"}))
    assert f"StackSet shared-identity in {REGION} already stands and {said}" in (
        raised.value.message
    )
    assert "estate corp would overwrite its template and instances" in raised.value.message
    assert "nothing was changed" in str(raised.value.hint)
    assert "relight:estate=corp" in str(raised.value.hint)
    assert raised.value.exit_code == 2
    stub.assert_no_pending_responses()


def test_service_managed_reaches_only_the_estates_accounts_and_calls_as_delegated_admin() -> None:
    cfn, stub = stubbed()
    time = Sleeps()
    outside = "333333333333"  # the estate has no environment there, nor in the OU's others
    calls = {"CallAs": "DELEGATED_ADMIN"}
    service = spec(
        permissions="SERVICE_MANAGED",
        organizational_units=("ou-ab12-cdef3456",),
        accounts={SHOP: {}, outside: {}},
    )
    stub.add_client_error(
        "describe_stack_set", "StackSetNotFoundException", "StackSet shared-identity not found",
        expected_params={"StackSetName": "shared-identity", **calls},
    )  # fmt: skip
    created = service.set_arguments()
    stub.add_response("create_stack_set", {"StackSetId": "s:1"}, {**created, **calls})
    listing = {"StackSetName": "shared-identity", **calls}
    stub.add_response("list_stack_instances", {"Summaries": []}, listing)
    stub.add_response(
        "create_stack_instances",
        {"OperationId": "op-1"},
        {
            "StackSetName": "shared-identity",
            "DeploymentTargets": {
                "OrganizationalUnitIds": ["ou-ab12-cdef3456"],
                "Accounts": [SHOP, outside],
                "AccountFilterType": "INTERSECTION",
            },
            "Regions": [REGION],
            "OperationPreferences": dict(service.preferences),
            **calls,
        },
    )
    operation = {"StackSetName": "shared-identity", "OperationId": "op-1", **calls}
    stub.add_response(
        "describe_stack_set_operation",
        {"StackSetOperation": {"OperationId": "op-1", "Action": "CREATE", "Status": "SUCCEEDED"}},
        operation,
    )
    stub.add_response("list_stack_set_operation_results", {"Summaries": [ok(SHOP)]}, operation)
    stub.add_response(  # the account no OU holds got no instance
        "list_stack_instances",
        {"Summaries": [{"Account": SHOP, "Region": REGION, "StackSetId": "s:1"}]},
        listing,
    )
    with stub, pytest.raises(DeployError) as raised:
        StackSets(
            cfn, REGION, clock=time.clock, sleep=time.sleep, call_as="DELEGATED_ADMIN"
        ).ensure(service)
    assert f"no stack instance in account(s) {outside}" in raised.value.message
    assert "none of the organizational units ou-ab12-cdef3456 holds them" in raised.value.message
    stub.assert_no_pending_responses()


def test_max_concurrent_accounts_that_strict_failure_tolerance_would_ignore_is_refused() -> None:
    from pydantic import ValidationError

    from relight.model.estate_schema import StackSetSettings

    with pytest.raises(ValidationError) as raised:
        StackSetSettings(max_concurrent_accounts=5, failure_tolerance_count=0)
    assert "max_concurrent_accounts 5 cannot take effect" in str(raised.value)
    assert "set concurrency_mode: SOFT_FAILURE_TOLERANCE, or max_concurrent_accounts: 1" in str(
        raised.value
    )
    soft = StackSetSettings(max_concurrent_accounts=5, concurrency_mode="SOFT_FAILURE_TOLERANCE")
    assert soft.max_concurrent_accounts == 5
    assert StackSetSettings(max_concurrent_accounts=3, failure_tolerance_count=2)


def test_a_stack_set_of_the_other_permission_model_is_refused_not_changed() -> None:
    current = {"StackSetName": "shared-identity", "PermissionModel": "SERVICE_MANAGED"}
    with pytest.raises(AwsError) as raised:
        set_differences(current, spec())
    assert "a StackSet's permission model cannot change" in raised.value.message


def test_preferences_carry_the_estate_files_settings_and_only_those_given() -> None:
    assert preferences(max_concurrent_percentage=50, failure_tolerance_percentage=10) == {
        "RegionConcurrencyType": "PARALLEL",
        "ConcurrencyMode": "STRICT_FAILURE_TOLERANCE",  # AWS's default, said explicitly
        "MaxConcurrentPercentage": 50,
        "FailureTolerancePercentage": 10,
    }


# On the stand-in's CloudFormation (moto with relight's additions, in process) ------------------


def _as(account: str) -> boto3.session.Session:
    sts = boto3.client("sts", region_name=REGION)
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/relight-estate", RoleSessionName="test-stacksets"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def test_on_the_stand_in_instances_are_stacks_in_each_account_and_a_rerun_changes_nothing() -> None:
    with mock_aws():
        cfn = _as(ADMIN).client("cloudformation")
        sets = StackSets(cfn, REGION, poll=0.05)
        first = sets.ensure(spec())
        assert first.created and first.instances == {ADMIN: "created", SHOP: "created"}
        shop = _as(SHOP).client("cloudformation").describe_stacks()["Stacks"]
        assert [s["StackName"].startswith("StackSet-shared-identity-") for s in shop] == [True]
        (stack,) = shop
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        tags = {t["Key"]: t["Value"] for t in stack["Tags"]}
        assert tags["relight:serves:shared-identity"] == "shared"
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["Suffix"] == "b"  # its override, over the StackSet's "a"
        assert outputs["RoleArn"].startswith(f"arn:aws:iam::{SHOP}:role/")

        # one operation per distinct set of overrides: the admin's (none) and the shop's
        assert len(first.operations) == 2
        again = sets.ensure(spec())
        assert again.unchanged and "unchanged" in again.line()
        operations = cfn.list_stack_set_operations(StackSetName="shared-identity")["Summaries"]
        assert len(operations) == 2  # the first run's; the rerun started none

        changed = sets.ensure(spec(accounts={ADMIN: {}, SHOP: {"Suffix": "c"}}))
        assert changed.instances[SHOP] == "updated" and changed.instances[ADMIN] == "current"
        shop = _as(SHOP).client("cloudformation").describe_stacks()["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in shop[0]["Outputs"]}
        assert outputs["Suffix"] == "c"


def test_the_stand_in_refuses_a_second_operation_while_one_runs_as_aws_does() -> None:
    from botocore.exceptions import ClientError

    with mock_aws():
        cfn = _as(ADMIN).client("cloudformation")
        cfn.create_stack_set(
            StackSetName="busy", TemplateBody=BODY, Parameters=[
                {"ParameterKey": "Suffix", "ParameterValue": "a"}
            ], Capabilities=["CAPABILITY_NAMED_IAM"],
        )  # fmt: skip
        first = cfn.create_stack_instances(StackSetName="busy", Accounts=[ADMIN], Regions=[REGION])
        with pytest.raises(ClientError) as refused:
            cfn.create_stack_instances(StackSetName="busy", Accounts=[SHOP], Regions=[REGION])
        assert refused.value.response["Error"]["Code"] == "OperationInProgressException"
        assert refused.value.response["Error"]["Message"] == IN_PROGRESS_TEXT
        StackSets(cfn, REGION, poll=0.05).wait("busy", first["OperationId"])
