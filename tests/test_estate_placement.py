"""Which stacks of an estate go where at prepare (estate/placement.py), and what StackSets
needs first (aws/stackset_roles.py): the two roles of self-managed permissions, checked or
made; Organizations' trusted access for service-managed, checked and explained."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from relight.aws.cloudformation import Stacks
from relight.aws.stackset_roles import (
    EXECUTION_STACK,
    STACKSETS_PRINCIPAL,
    RoleNeed,
    check_organizations,
    ensure_role,
    execution_template,
    trust_problem,
)
from relight.aws.stacksets import SELF_MANAGED, SERVICE_MANAGED
from relight.errors import InputError
from relight.estate.placement import GlobalStack, place

PLATFORM, SHOP = "123456789012", "210987654321"
BODY = json.dumps({"Resources": {"R": {"Type": "AWS::SNS::Topic"}}, "Parameters": {"P": {}}})
OTHER = json.dumps({"Resources": {"Q": {"Type": "AWS::SNS::Topic"}}})


def stack(env: str, account: str, params: dict[str, str] | None, body: str = BODY) -> GlobalStack:
    return GlobalStack(
        env=env,
        key="identity",
        name=f"{env}-identity",
        account="platform" if account == PLATFORM else "shop",
        account_id=account,
        body=body,
        parameters=params,
        not_literal=() if params is not None else ("FlowLogGroup",),
    )


def test_identical_templates_share_one_stackset_with_an_instance_per_account() -> None:
    placed = place(
        [
            stack("shared", PLATFORM, {"P": "a"}),
            stack("storefront", SHOP, {"P": "b"}),
            stack("demo", PLATFORM, {"P": "a"}),  # same account, same values: served by one
        ]
    )
    (only,) = placed.stacksets
    assert only.name == "shared-identity"
    assert only.accounts == {PLATFORM: {}, SHOP: {"P": "b"}}  # ParameterOverrides where they differ
    tags = only.tags("corp")
    assert tags["relight:serves:demo-identity"] == "demo"
    assert tags["relight:serves:storefront-identity"] == "storefront"
    assert placed.own == []


def test_a_second_instance_in_one_account_with_other_values_gets_a_stackset_of_its_own() -> None:
    placed = place([stack("shared", PLATFORM, {"P": "a"}), stack("demo", PLATFORM, {"P": "z"})])
    assert [s.name for s in placed.stacksets] == ["shared-identity", "demo-identity"]


def test_different_templates_are_different_stacksets() -> None:
    placed = place([stack("shared", PLATFORM, {}, OTHER), stack("demo", PLATFORM, {"P": "a"})])
    assert len(placed.stacksets) == 2


def test_what_a_stackset_cannot_express_goes_through_relights_prepare_with_its_why() -> None:
    big = json.dumps({"Resources": {"R": {"Type": "AWS::SNS::Topic"}}, "Description": "x" * 60000})
    placed = place([stack("shared", PLATFORM, None), stack("demo", PLATFORM, {}, big)])
    assert placed.stacksets == []
    reasons = {s.env: why for s, why in placed.own}
    assert "FlowLogGroup" in reasons["shared"] and "literal values" in reasons["shared"]
    assert "51,200 bytes" in reasons["demo"]
    lines = placed.lines("us-west-2", "platform")
    assert any(line.startswith("relight's prepare: shared/identity") for line in lines)


def test_service_managed_cannot_override_one_account_so_a_differing_env_goes_its_own_way() -> None:
    placed = place(
        [stack("shared", PLATFORM, {"P": "a"}), stack("storefront", SHOP, {"P": "b"})],
        SERVICE_MANAGED,
    )
    assert [m.env for m in placed.stacksets[0].members] == ["shared"]
    ((own, why),) = placed.own
    assert own.env == "storefront" and "organizational unit" in why


def test_service_managed_sends_the_management_accounts_stack_to_relights_prepare_with_why() -> None:
    # AWS: "StackSets doesn't deploy stack instances to the organization management account"
    # (DeploymentTargets, U10)
    placed = place(
        [stack("shared", PLATFORM, {"P": "a"}), stack("storefront", SHOP, {"P": "a"})],
        SERVICE_MANAGED,
        management=PLATFORM,
    )
    (only,) = placed.stacksets
    assert [m.env for m in only.members] == ["storefront"] and list(only.accounts) == [SHOP]
    ((own, why),) = placed.own
    assert own.env == "shared"
    assert f"{PLATFORM} is the organization's management account" in why
    assert "deploys no stack instance" in why
    line = next(x for x in placed.lines("us-west-2", "platform") if "shared/identity" in x)
    assert line.startswith("relight's prepare: shared/identity (shared-identity): its account")
    # self-managed deploys to any account with the execution role: no exception there
    assert len(place([stack("shared", PLATFORM, {"P": "a"})], management=PLATFORM).stacksets) == 1


def test_two_stackset_stacks_serving_one_name_are_refused_naming_both_never_the_first() -> None:
    with mock_aws():
        cfn = boto3.client("cloudformation", region_name="us-west-2")
        for stackset in ("shared-identity", "storefront-identity"):
            cfn.create_stack(
                StackName=f"StackSet-{stackset}-0f6a2b8e-7c1d-4e55-9a0b-3c2d1e0f9a8b",
                TemplateBody=OTHER,
                Tags=[
                    {"Key": "relight:stackset", "Value": stackset},
                    {"Key": "relight:serves:storefront-identity", "Value": "storefront"},
                ],
            )
        with pytest.raises(InputError) as refused:
            Stacks(cfn).made_by_stackset("storefront-identity")
    message = refused.value.message
    assert "stacks of several StackSets serve relight's stack storefront-identity" in message
    assert "(shared-identity)" in message and "(storefront-identity)" in message
    assert "Retiring a stack instance" in str(refused.value.hint)
    assert refused.value.exit_code == 2


def test_a_delegated_administrator_is_checked_as_one() -> None:
    client, stub = _organizations()
    org = {"Organization": {"Id": "o-abc", "MasterAccountId": SHOP}}
    stub.add_response("describe_organization", org)
    stub.add_response(
        "list_aws_service_access_for_organization",
        {"EnabledServicePrincipals": [{"ServicePrincipal": STACKSETS_PRINCIPAL}]},
    )
    with stub:
        (note,) = check_organizations(client, PLATFORM, "DELEGATED_ADMIN")
    assert f"does not deploy to the management account {SHOP}" in note
    assert "called as DELEGATED_ADMIN" in note
    stub.add_response("describe_organization", {"Organization": {"MasterAccountId": PLATFORM}})
    with stub, pytest.raises(InputError) as refused:
        check_organizations(client, PLATFORM, "DELEGATED_ADMIN")
    assert "is the organization's management account" in refused.value.message
    assert "call_as: SELF" in str(refused.value.hint)


# the two roles of self-managed permissions --------------------------------------------------


def test_a_trust_policy_is_read_as_aws_writes_it() -> None:
    trusts_admin = {
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{PLATFORM}:root"},
             "Action": "sts:AssumeRole"}
        ]
    }  # fmt: skip
    assert trust_problem(trusts_admin, PLATFORM) is None
    problem = trust_problem(trusts_admin, SHOP)
    assert problem == f"its trust policy lets arn:aws:iam::{PLATFORM}:root assume it, not {SHOP}"


def _need() -> RoleNeed:
    return RoleNeed(
        account=PLATFORM,
        role_name="AWSCloudFormationStackSetExecutionRole",
        trusted=SHOP,
        stack_name=EXECUTION_STACK,
        body=execution_template("AWSCloudFormationStackSetExecutionRole", SHOP),
    )


def test_a_missing_execution_role_is_made_as_a_relight_stack_that_trusts_the_administrator() -> (
    None
):
    with mock_aws():
        iam = boto3.client("iam", region_name="us-west-2")
        cfn = boto3.client("cloudformation", region_name="us-west-2")
        line = ensure_role(iam, Stacks(cfn, sleep=lambda _: None), _need())
        assert "made (stack relight-stackset-execution)" in line
        role = iam.get_role(RoleName="AWSCloudFormationStackSetExecutionRole")["Role"]
        assert trust_problem(role["AssumeRolePolicyDocument"], SHOP) is None
        again = ensure_role(iam, Stacks(cfn), _need())  # a rerun checks it, and changes nothing
        assert "stands and trusts" in again


def test_an_execution_role_that_trusts_someone_else_is_named_and_left_alone() -> None:
    with mock_aws():
        iam = boto3.client("iam", region_name="us-west-2")
        cfn = boto3.client("cloudformation", region_name="us-west-2")
        iam.create_role(
            RoleName="AWSCloudFormationStackSetExecutionRole",
            AssumeRolePolicyDocument=json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111111111111"},
                                "Action": "sts:AssumeRole"}]}
            ),
        )  # fmt: skip
        with pytest.raises(InputError) as refused:
            ensure_role(iam, Stacks(cfn), _need())
        assert "lets 111111111111 assume it, not 210987654321" in refused.value.message
        assert "nothing was changed" in str(refused.value.hint)
        assert cfn.describe_stacks()["Stacks"] == []


# service-managed: AWS Organizations -----------------------------------------------------------


def _organizations(**answers: Any) -> tuple[Any, Stubber]:
    client = boto3.client(
        "organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_service_managed_outside_an_organization_is_refused_with_the_way_on() -> None:
    client, stub = _organizations()
    stub.add_client_error(
        "describe_organization",
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )
    with stub, pytest.raises(InputError) as refused:
        check_organizations(client, PLATFORM)
    assert "not in an AWS Organizations organization" in refused.value.message
    assert "self_managed" in str(refused.value.hint)


def test_service_managed_without_trusted_access_says_how_to_activate_it() -> None:
    client, stub = _organizations()
    org = {"Organization": {"Id": "o-abc", "MasterAccountId": PLATFORM}}
    stub.add_response("describe_organization", org)
    stub.add_response("list_aws_service_access_for_organization", {"EnabledServicePrincipals": []})
    with stub, pytest.raises(InputError) as refused:
        check_organizations(client, PLATFORM)
    assert STACKSETS_PRINCIPAL in refused.value.message
    assert "activate-organizations-access" in str(refused.value.hint)

    stub.add_response("describe_organization", org)
    stub.add_response(
        "list_aws_service_access_for_organization",
        {"EnabledServicePrincipals": [{"ServicePrincipal": STACKSETS_PRINCIPAL}]},
    )
    with stub:
        (note,) = check_organizations(client, PLATFORM)
    assert "trusted access is active" in note


def test_service_managed_from_a_member_account_is_refused() -> None:
    client, stub = _organizations()
    stub.add_response("describe_organization", {"Organization": {"MasterAccountId": SHOP}})
    with stub, pytest.raises(InputError) as refused:
        check_organizations(client, PLATFORM)
    assert f"not the organization's management account ({SHOP})" in refused.value.message
    assert "call_as: DELEGATED_ADMIN" in str(refused.value.hint)


def test_self_managed_is_the_default_permission_model() -> None:
    assert place([stack("a", PLATFORM, {})]).stacksets[0].admits(stack("b", SHOP, {}), SELF_MANAGED)


def test_the_demo_estates_baseline_is_one_stackset_in_both_accounts_and_passed_by_each() -> None:
    """The demo estate as shipped (estates/demo.yaml, rendered, no AWS call): the baseline both
    accounts need is one template, so one StackSet with an instance in each account; each
    environment's own identity stays its own StackSet, and its service role passes its own
    identity's roles and the baseline's by their IAM paths, which do not depend on the name of
    the stack that made them (relight's `<env>-baseline` or the StackSet's)."""
    from relight.estate.prepare import placement_for, plans_for
    from relight.model.estate import load_estate

    estate = load_estate("demo", "us-west-2")
    placed = placement_for(estate, plans_for(estate, "us-west-2", None))
    by_name = {s.name: s for s in placed.stacksets}
    assert sorted(by_name) == [
        "demo-identity", "shared-baseline", "shared-identity", "storefront-identity"
    ]  # fmt: skip
    assert sorted(by_name["shared-baseline"].accounts) == [PLATFORM, SHOP]
    assert "CloudFormationRole" not in by_name["shared-baseline"].body  # one per environment
    baseline = json.loads(by_name["shared-baseline"].body)["Resources"]
    assert {
        r["Properties"]["Path"] for r in baseline.values() if r["Type"] == "AWS::IAM::Role"
    } == {
        "/relight/stack/baseline/"
    }  # the same in both accounts, whichever environment the StackSet is named after
    storefront = json.loads(by_name["storefront-identity"].body)["Resources"]
    passed = [
        s["Resource"]
        for r in storefront.values()
        if r["Type"] == "AWS::IAM::ManagedPolicy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "PassIdentityRoles"
    ]
    assert [[r["Fn::Sub"].split(":role/")[1] for r in p] for p in passed] == [
        ["relight/env/storefront/*", "relight/stack/baseline/*"]
    ]
    assert "StackSet-" not in by_name["storefront-identity"].body  # no stack name to guess
    assert placed.own == []
