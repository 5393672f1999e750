"""The one table of AWS calls (relight.model.permissions) is kept honest: every call relight
makes is written to the call log with its command, the session fails on a call the table lacks,
and every entry and IAM action is a real one."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from moto import mock_aws

from conftest import call_table_failures, relight
from relight.aws.clients import Aws, AwsTarget
from relight.model.permissions import CALLS, STORY, iam_action, missing_calls
from relight.model.permissions.actions import OVERRIDES, split_call

ALL = sorted(frozenset().union(*CALLS.values()))


def _operations(service: str) -> list[str]:
    return list(botocore.session.get_session().get_service_model(service).operation_names)


def test_every_call_in_the_table_is_a_real_botocore_operation() -> None:
    unknown = [c for c in ALL if split_call(c)[1] not in _operations(split_call(c)[0])]
    assert unknown == []
    assert [c for c in OVERRIDES if split_call(c)[1] not in _operations(split_call(c)[0])] == []


def test_iam_actions_are_awss_names_not_the_operations() -> None:
    assert iam_action("s3", "HeadObject") == "s3:GetObject"
    assert iam_action("s3", "HeadBucket") == "s3:ListBucket"
    assert iam_action("s3", "ListObjectsV2") == "s3:ListBucket"
    assert iam_action("s3", "PutBucketEncryption") == "s3:PutEncryptionConfiguration"
    assert iam_action("s3", "PutPublicAccessBlock") == "s3:PutBucketPublicAccessBlock"
    assert iam_action("s3", "PutBucketLifecycleConfiguration") == "s3:PutLifecycleConfiguration"
    assert iam_action("elbv2", "DescribeLoadBalancers") == (
        "elasticloadbalancing:DescribeLoadBalancers"
    )
    assert iam_action("service-quotas", "GetServiceQuota") == "servicequotas:GetServiceQuota"
    assert iam_action("cloudwatch", "PutMetricData") == "cloudwatch:PutMetricData"
    assert iam_action("cloudformation", "CreateStack") == "cloudformation:CreateStack"


def test_the_check_names_each_call_missing_from_the_table() -> None:
    log = [
        "failover\tcloudformation\tCreateStack\n",  # in the table
        "failover\tec2\tRunInstances\n",  # not: relight never runs instances itself
        "-\tec2\tDescribeImages\n",  # outside a command: in some command's set
        "-\tec2\tTerminateInstances\n",
        "teardown\tec2\tRunInstances\n",
        "failover\tec2\tRunInstances\n",  # once in the report
    ]
    assert "cloudformation.CreateStack" in CALLS["failover"]
    assert missing_calls(log) == [
        "- ec2.TerminateInstances",
        "failover ec2.RunInstances",
        "teardown ec2.RunInstances",
    ]


def test_the_session_check_fails_with_a_message_listing_what_to_add(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    log.write_text("discover\tec2\tDescribeImages\n", encoding="utf-8")
    assert call_table_failures(log) is None
    log.write_text("discover\tec2\tDescribeImages\ndiscover\tec2\tRunInstances\n")
    message = call_table_failures(log)
    assert message is not None
    assert "1 AWS call(s)" in message
    assert "  discover ec2.RunInstances" in message
    assert "src/relight/model/permissions/calls.py" in message


def test_a_real_run_is_logged_by_command_and_one_entry_less_is_caught(
    world: dict[str, Any], tmp_path: Path
) -> None:
    log = tmp_path / "calls.log"
    env = {**world["env"], "RELIGHT_CALL_LOG": str(log)}
    run = relight(
        {**world, "env": env}, "discover", "--env", "demo", "--region", "us-west-2", "--json"
    )
    assert run.returncode == 0, run.stderr
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    commands = {line.split("\t")[0] for line in lines}
    assert commands <= {"discover", STORY}  # the story builds the simulated production
    assert "discover\tec2\tDescribeImages\n" in lines
    assert missing_calls(lines) == []
    less = {**CALLS, "discover": CALLS["discover"] - {"ec2.DescribeImages"}}
    assert missing_calls(lines, less) == ["discover ec2.DescribeImages"]


def test_every_call_of_every_thread_is_one_line(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("RELIGHT_CALL_LOG", str(log))
        aws = Aws(AwsTarget(command="failover"))
        ec2 = aws.client("ec2", "us-west-2")

        def describe() -> None:
            for _ in range(10):
                ec2.describe_images(Owners=["self"])

        threads = [threading.Thread(target=describe) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert log.read_text(encoding="utf-8").splitlines() == ["failover\tec2\tDescribeImages"] * 40
    assert os.environ.get("RELIGHT_CALL_LOG") != str(log)
