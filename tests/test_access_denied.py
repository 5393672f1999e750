"""An access-denied answer becomes an error that names the IAM action, the identity refused and
the policy to attach (relight.aws.failures.access_denied), whichever way the service says it:
moto's and AWS's "User: ... is not authorized to perform: ...", EC2's encoded message that names
no action (the action then comes from relight's own table), S3's bare 403 to a HEAD."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from relight.aws.clients import Aws, AwsTarget
from relight.aws.failures import translated
from relight.errors import AwsError
from relight.model.environment import Environment
from relight.steps.discovery import discover

ENCODED = (
    "You are not authorized to perform this operation. Encoded authorization failure message: "
    "4Jx0bWVzc2FnZS1ub3QtYS1yZWFsLW9uZQ"
)


def _env() -> Environment:
    return Environment.model_validate(
        {
            "name": "shop",
            "home_region": "us-east-1",
            "recovery_regions": ["us-west-2"],
            "objectives": {"rpo": "4h", "rto": "1h"},
            "artifacts": {"web_ami": {"kind": "ami", "tags": {"Role": "web"}}},
            "stacks": {"network": {"blueprint": "network"}},
        }
    )


def _discover(aws: Aws) -> None:
    discover(aws, _env(), "us-west-2", account_id="123456789012", now=lambda: datetime.now(UTC))


def test_ec2s_encoded_refusal_is_named_by_relights_table_and_the_policy_to_attach() -> None:
    aws = Aws(AwsTarget(command="readiness", env="shop"))
    ec2 = aws.client("ec2", "us-west-2")
    with Stubber(ec2) as stub:
        stub.add_client_error(
            "describe_images",
            service_error_code="UnauthorizedOperation",
            service_message=ENCODED,
            http_status_code=403,
        )
        with pytest.raises(AwsError) as refused:
            _discover(aws)
    said = str(refused.value)
    assert "cannot list Images in us-west-2" in said
    assert "access denied (UnauthorizedOperation)" in said
    assert "these credentials may not ec2:DescribeImages" in said  # EC2 names no action
    assert "aws sts decode-authorization-message" in said
    assert "relight policy --env shop --for readiness" in said
    assert refused.value.exit_code == 1


def test_a_refusal_that_names_the_user_and_action_is_translated_with_both() -> None:
    @set_initial_no_auth_action_count(3)  # moto enforces IAM after the user is made
    def run() -> tuple[AwsError, dict[str, int]]:
        with mock_aws():
            iam = boto3.client("iam", "us-east-1")
            iam.create_user(UserName="operator")
            allowed = {"Effect": "Allow", "Action": ["ec2:DescribeSnapshots"], "Resource": "*"}
            iam.put_user_policy(
                UserName="operator",
                PolicyName="too-little",
                PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allowed]}),
            )
            key = iam.create_access_key(UserName="operator")["AccessKey"]
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("AWS_ACCESS_KEY_ID", key["AccessKeyId"])
                patch.setenv("AWS_SECRET_ACCESS_KEY", key["SecretAccessKey"])
                patch.delenv("AWS_SESSION_TOKEN", raising=False)
                aws = Aws(AwsTarget(command="discover", env="shop"))
                with pytest.raises(AwsError) as refused:
                    _discover(aws)
            return refused.value, aws.calls

    error, calls = run()
    said = str(error)
    assert "DescribeImages" in said
    assert "access denied (AccessDenied)" in said
    assert "arn:aws:iam::123456789012:user/operator may not ec2:DescribeImages" in said
    assert (
        "attach it to arn:aws:iam::123456789012:user/operator" in said
        and "relight policy --env shop --for operator" in said
    )
    assert calls == {"ec2": 1}  # the one read refused, and nothing after it
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"


def test_a_head_refused_with_a_bare_403_names_get_object_and_list_bucket() -> None:
    aws = Aws(AwsTarget(command="failover", env="shop"))
    s3 = aws.client("s3", "us-west-2")
    with Stubber(s3) as stub:
        stub.add_client_error(
            "head_object",
            service_error_code="403",
            service_message="Forbidden",
            http_status_code=403,
        )
        with pytest.raises(AwsError) as refused, translated("cannot read the lock", s3):
            s3.head_object(
                Bucket="relight-templates-123456789012-us-west-2",
                Key="locks/x",
                ExpectedBucketOwner="123456789012",  # else relight asks STS whose bucket it is
            )
    said = str(refused.value)
    assert "these credentials may not s3:GetObject" in said
    assert "s3:ListBucket on the bucket" in said
    assert "relight policy --env shop --for operator" in said


def test_other_refusals_keep_their_own_message() -> None:
    aws = Aws(AwsTarget(command="failover", env="shop"))
    ec2 = aws.client("ec2", "us-west-2")
    with Stubber(ec2) as stub:
        stub.add_client_error(
            "describe_images",
            service_error_code="InvalidParameterValue",
            service_message="bad filter",
            http_status_code=400,
        )
        with pytest.raises(AwsError) as refused:
            _discover(aws)
    assert "InvalidParameterValue: bad filter" in str(refused.value)
    assert "relight policy" not in str(refused.value)
