"""The harness that runs relight as an IAM user on the stand-in (tests/iam_standin.py): the
policy's moto view grants moto's names of exactly the calls the policy covers."""

from __future__ import annotations

from typing import Any

import pytest

from iam_standin import moto_view, policy_of, without


def _actions(policy: dict[str, Any]) -> set[str]:
    return {a for s in policy["Statement"] for a in s["Action"]}


def test_the_moto_view_adds_the_names_moto_asks_for_beside_iams() -> None:
    view = moto_view(policy_of(frozenset({"s3.HeadObject", "s3.PutBucketEncryption"})))
    assert _actions(view) >= {
        "s3:GetObject", "s3:HeadObject",  # HeadObject needs s3:GetObject on AWS
        "s3:PutEncryptionConfiguration", "s3:PutBucketEncryption",
    }  # fmt: skip
    # (the table also gives GetObjectAttributes s3:GetObject: its moto name comes along)
    assert not _actions(view) & {"s3:PutObject", "s3:ListBucket", "s3:DeleteObject"}
    cloudwatch = moto_view(policy_of(frozenset({"cloudwatch.PutMetricData"})))
    assert _actions(cloudwatch) == {"cloudwatch:PutMetricData", "monitoring:PutMetricData"}


def test_an_action_taken_out_of_the_policy_is_out_of_its_moto_view_too() -> None:
    policy = policy_of(frozenset({"s3.HeadObject", "s3.GetObject", "cloudformation.CreateStack"}))
    less = moto_view(without(policy, "s3:GetObject"))
    assert _actions(less) == {"cloudformation:CreateStack"}
    with pytest.raises(AssertionError, match="s3:PutObject is not in the policy"):
        without(policy, "s3:PutObject")


def test_the_moto_view_widens_resources_moto_cannot_match_but_keeps_s3s() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["cloudformation:CreateStack"],
             "Resource": "arn:aws:cloudformation:*:123456789012:stack/demo-*/*"},
            {"Effect": "Allow", "Action": ["s3:PutObject"],
             "Resource": "arn:aws:s3:::relight-templates-123456789012-*/*"},
            {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
        ],
    }  # fmt: skip
    stack, bucket, deny = moto_view(policy)["Statement"]
    assert stack["Resource"] == "*"
    assert bucket["Resource"] == "arn:aws:s3:::relight-templates-123456789012-*/*"
    assert deny == policy["Statement"][2]
    assert policy["Statement"][0]["Resource"].startswith("arn:"), "the policy itself is left alone"
