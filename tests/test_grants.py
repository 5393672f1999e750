"""May EC2 Auto Scaling's service-linked role use a KMS key? moto keeps no grants for it and
launches nothing through the role, so KMS is a botocore Stubber with AWS's response shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from relight.aws.grants import (
    autoscaling_role_arn,
    autoscaling_role_for_key,
    ensure_autoscaling_grant,
    key_allows_autoscaling,
)
from relight.errors import AwsError

ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/{KEY_ID}"
ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)

# What KMS writes when a key is created without a policy: the account may delegate through
# IAM, and the service-linked role's own policy grants no KMS actions.
DEFAULT_POLICY = {
    "Version": "2012-10-17",
    "Id": "key-default-1",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


# The operations of the grant the EC2 Auto Scaling User Guide shows for its service-linked role
# ("Required AWS KMS key policy for use with encrypted volumes"), written out here to pin them.
DOCUMENTED_OPERATIONS = [
    "Encrypt",
    "Decrypt",
    "ReEncryptFrom",
    "ReEncryptTo",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "DescribeKey",
    "CreateGrant",
]


def recommended_policy(role: str = ROLE) -> dict[str, Any]:
    """The default policy plus the two statements the EC2 Auto Scaling User Guide recommends."""
    return {
        **DEFAULT_POLICY,
        "Statement": [
            *DEFAULT_POLICY["Statement"],
            {
                "Sid": "Allow service-linked role use of the customer managed key",
                "Effect": "Allow",
                "Principal": {"AWS": [role]},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
            },
            {
                "Sid": "Allow attachment of persistent resources",
                "Effect": "Allow",
                "Principal": {"AWS": [role]},
                "Action": ["kms:CreateGrant"],
                "Resource": "*",
                "Condition": {"Bool": {"kms:GrantIsForAWSResource": True}},
            },
        ],
    }


def key_metadata(manager: str = "CUSTOMER", arn: str = KEY_ARN) -> dict[str, Any]:
    """DescribeKey's KeyMetadata, as KMS returns it."""
    return {
        "AWSAccountId": arn.split(":")[4],
        "KeyId": arn.rsplit("/", 1)[1],
        "Arn": arn,
        "CreationDate": datetime(2024, 1, 1, tzinfo=UTC),
        "Enabled": True,
        "Description": "" if manager == "CUSTOMER" else "Default key for EBS",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": manager,
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }


def grant(operations: list[str], grantee: str = ROLE, name: str = "relight-autoscaling") -> Any:
    return {
        "KeyId": KEY_ARN,
        "GrantId": "0c237476b39f8bc44e45212e08498fbe3151305030726c0590dd8d3e9f3d6a60",
        "Name": name,
        "CreationDate": datetime(2024, 1, 2, tzinfo=UTC),
        "GranteePrincipal": grantee,
        "IssuingAccount": f"arn:aws:iam::{ACCOUNT}:root",
        "Operations": operations,
    }


def expect_policy_and_grants(
    stub: Stubber,
    policy: dict[str, Any],
    pages: list[list[Any]] | None = None,
    *,
    arn: str = KEY_ARN,
    role: str = ROLE,
) -> None:
    """GetKeyPolicy, then ListGrants page by page: both asked with the key's ARN, never an alias."""
    stub.add_response(
        "get_key_policy",
        {"Policy": json.dumps(policy), "PolicyName": "default"},
        {"KeyId": arn, "PolicyName": "default"},
    )
    pages = pages or [[]]
    for number, grants in enumerate(pages):
        request: dict[str, Any] = {"KeyId": arn, "GranteePrincipal": role}
        if number:
            request["Marker"] = f"page-{number}"
        response: dict[str, Any] = {"Grants": grants, "Truncated": number + 1 < len(pages)}
        if number + 1 < len(pages):
            response["NextMarker"] = f"page-{number + 1}"
        stub.add_response("list_grants", response, request)


@pytest.fixture
def stub() -> Iterator[Stubber]:
    """A Stubber on a KMS client (`stub.client`); every queued response must be asked for."""
    with Stubber(boto3.client("kms", "us-west-2")) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_the_role_is_named_in_the_keys_partition() -> None:
    client = boto3.client("kms", "cn-north-1")
    china = f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/{KEY_ID}"
    with Stubber(client) as stub:
        stub.add_response(
            "describe_key", {"KeyMetadata": key_metadata(arn=china)}, {"KeyId": "alias/shop"}
        )
        assert autoscaling_role_for_key(client, "alias/shop", "444455556666") == (
            "arn:aws-cn:iam::444455556666:role/aws-service-role/autoscaling.amazonaws.com/"
            "AWSServiceRoleForAutoScaling"
        )
    assert autoscaling_role_arn("aws", ACCOUNT) == ROLE


def test_an_aws_managed_key_is_fine_without_reading_its_policy(stub: Stubber) -> None:
    stub.add_response(
        "describe_key", {"KeyMetadata": key_metadata("AWS")}, {"KeyId": "alias/aws/ebs"}
    )
    allowed, why = key_allows_autoscaling(stub.client, "alias/aws/ebs", ROLE)
    assert allowed and "AWS managed" in why


def test_a_customer_key_with_only_the_default_policy_keeps_the_role_out(stub: Stubber) -> None:
    stub.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": "alias/shop"})
    expect_policy_and_grants(stub, DEFAULT_POLICY)
    allowed, why = key_allows_autoscaling(stub.client, "alias/shop", ROLE)
    assert not allowed
    assert why.startswith(f"neither the key policy of alias/shop nor a grant lets {ROLE} use it")
    assert "kms:CreateGrant" in why and "kms:Decrypt" in why


def test_the_statements_aws_recommends_let_the_role_in(stub: Stubber) -> None:
    stub.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": KEY_ARN})
    expect_policy_and_grants(stub, recommended_policy())
    allowed, why = key_allows_autoscaling(stub.client, KEY_ARN, ROLE)
    assert allowed and why.startswith("its key policy lets")


def test_statements_for_another_role_or_too_few_actions_do_not_count(stub: Stubber) -> None:
    other = ROLE.replace(ACCOUNT, "999999999999")
    partial = recommended_policy()
    partial["Statement"] = partial["Statement"][:2]  # no CreateGrant
    for policy in (recommended_policy(other), partial):
        stub.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": KEY_ARN})
        expect_policy_and_grants(stub, policy)
        allowed, why = key_allows_autoscaling(stub.client, KEY_ARN, ROLE)
        assert not allowed
    assert why.endswith("(missing: kms:CreateGrant)")


def test_a_grant_on_a_later_page_lets_the_role_in(stub: Stubber) -> None:
    stub.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": KEY_ARN})
    everything = DOCUMENTED_OPERATIONS
    expect_policy_and_grants(
        stub, DEFAULT_POLICY, [[grant(["Decrypt"], name="x")], [grant(everything)]]
    )
    allowed, why = key_allows_autoscaling(stub.client, KEY_ARN, ROLE)
    assert allowed and why.startswith("a grant lets")


def test_the_documented_grant_is_created_once_and_a_second_call_creates_nothing(
    stub: Stubber,
) -> None:
    operations = DOCUMENTED_OPERATIONS
    # First call: the default policy, no grant → exactly this CreateGrant, on the key's ARN.
    stub.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": "alias/shop"})
    expect_policy_and_grants(stub, DEFAULT_POLICY)
    stub.add_response(
        "create_grant",
        {"GrantToken": "AQpAM2RhZTk1MGMyNTk2ZmZmMzEyYWVhOWViN2I1MWM0ZmE2NzY4", "GrantId": "0c23"},
        {
            "KeyId": KEY_ARN,
            "GranteePrincipal": ROLE,
            "Operations": operations,
            "Name": "relight-autoscaling",
        },
    )
    assert ensure_autoscaling_grant(stub.client, "alias/shop", ROLE) == "created"
    # Second call: ListGrants shows the grant; no CreateGrant is queued, so one would fail.
    stub.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": "alias/shop"})
    expect_policy_and_grants(stub, DEFAULT_POLICY, [[grant(operations)]])
    assert ensure_autoscaling_grant(stub.client, "alias/shop", ROLE) == "present"


def test_no_grant_is_made_on_an_aws_managed_key(stub: Stubber) -> None:
    stub.add_response(
        "describe_key", {"KeyMetadata": key_metadata("AWS")}, {"KeyId": "alias/aws/ebs"}
    )
    assert ensure_autoscaling_grant(stub.client, "alias/aws/ebs", ROLE) == "aws-managed"


def test_a_refused_policy_read_says_which_permission_is_missing(stub: Stubber) -> None:
    stub.add_response("describe_key", {"KeyMetadata": key_metadata()}, {"KeyId": KEY_ARN})
    stub.add_client_error(
        "get_key_policy",
        service_error_code="AccessDeniedException",
        service_message=f"User: arn:aws:sts::{ACCOUNT}:assumed-role/ops/relight is not "
        f"authorized to perform: kms:GetKeyPolicy on resource: {KEY_ARN} because no "
        "identity-based policy allows the kms:GetKeyPolicy action",
        http_status_code=400,
    )
    with pytest.raises(AwsError) as caught:
        key_allows_autoscaling(stub.client, KEY_ARN, ROLE)
    assert caught.value.message.startswith(f"KMS key {KEY_ARN}: cannot read its policy")
    assert "kms:GetKeyPolicy and kms:ListGrants" in str(caught.value)
