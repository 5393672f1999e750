"""`relight prepare` makes EC2 Auto Scaling's service-linked role and its grants while IAM is
up, and records them; a failover reads the record and never asks IAM (issue 20, item 1)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from conftest import MINIMAL
from relight.aws.bucket import TemplateBucket
from relight.aws.clients import Aws, AwsTarget
from relight.aws.grants import ensure_autoscaling_role
from relight.aws.prepared_record import read_autoscaling_record
from relight.dr.autoscaling_role import prepare_autoscaling
from relight.errors import AwsError
from relight.model.config import load_environment
from relight.steps.render import build_plan

ACCOUNT, REGION = "123456789012", "us-west-2"
ROLE = (
    f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
    "AWSServiceRoleForAutoScaling"
)
TAKEN = (
    "Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try "
    "a different suffix."
)


class FakeIam:
    """IAM's CreateServiceLinkedRole as AWS answers it: the role once, then InvalidInput with
    AWS's text (moto answers EntityAlreadyExists instead). Records every call."""

    def __init__(self, exists: bool = False) -> None:
        self.exists, self.calls = exists, []  # type: list[str]

    def create_service_linked_role(self, AWSServiceName: str) -> Any:
        self.calls.append(f"CreateServiceLinkedRole {AWSServiceName}")
        if self.exists:
            raise ClientError(
                {"Error": {"Code": "InvalidInput", "Message": TAKEN}}, "CreateServiceLinkedRole"
            )
        self.exists = True
        return {"Role": {"Arn": ROLE, "RoleName": "AWSServiceRoleForAutoScaling"}}


class _With:
    """moto, but IAM answers from the fake."""

    def __init__(self, iam: FakeIam) -> None:
        self.moto, self.iam = Aws(AwsTarget()), iam

    def client(self, service: str, region: str, bounded: bool = False) -> Any:
        return self.iam if service == "iam" else self.moto.client(service, region)


@pytest.fixture
def asg_env(write_env: Callable[[str], Path]) -> Iterator[Any]:
    with mock_aws():
        kms = boto3.client("kms", REGION)
        key = kms.create_key()["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName="alias/shop", TargetKeyId=key)
        text = MINIMAL.replace("mode: instances\n", "mode: asg\n").replace(
            "stand_in: true\n", "stand_in: true\nkms_keys: {us-west-2: alias/shop}\n"
        )
        TemplateBucket(boto3.client("s3", REGION), REGION, ACCOUNT).configure()
        loaded = load_environment(str(write_env(text)), REGION)
        yield build_plan(loaded, REGION, phase="prepare"), key


def _now() -> datetime:
    return datetime(2026, 12, 6, 20, 0, tzinfo=UTC)


def test_prepare_creates_the_role_grants_the_copies_key_and_records_both(asg_env: Any) -> None:
    plan, key = asg_env
    iam = FakeIam()
    said = prepare_autoscaling(plan, _With(iam), ACCOUNT, _now)
    assert said == [
        f"iam role AWSServiceRoleForAutoScaling: created ({ROLE})",
        "KMS key alias/shop: Auto Scaling's grant created",
    ]
    assert iam.calls == ["CreateServiceLinkedRole autoscaling.amazonaws.com"]
    grants = boto3.client("kms", REGION).list_grants(KeyId=key)["Grants"]
    assert [g["GranteePrincipal"] for g in grants] == [ROLE]
    record = read_autoscaling_record(boto3.client("s3", REGION), ACCOUNT, REGION, "shop")
    assert record is not None
    assert (record.role_arn, record.role, record.keys) == (
        ROLE,
        "created",
        {"alias/shop": "created"},
    )
    assert record.at == "2026-12-06T20:00:00+00:00"


def test_a_second_prepare_finds_the_role_taken_and_the_grant_present_and_changes_nothing(
    asg_env: Any,
) -> None:
    plan, key = asg_env
    iam = FakeIam()
    prepare_autoscaling(plan, _With(iam), ACCOUNT, _now)
    said = prepare_autoscaling(plan, _With(iam), ACCOUNT, _now)
    assert said == [
        f"iam role AWSServiceRoleForAutoScaling: exists ({ROLE})",
        "KMS key alias/shop: Auto Scaling's grant present",
    ]
    assert len(boto3.client("kms", REGION).list_grants(KeyId=key)["Grants"]) == 1
    record = read_autoscaling_record(boto3.client("s3", REGION), ACCOUNT, REGION, "shop")
    assert record is not None and (record.role, record.keys) == (
        "present",
        {"alias/shop": "present"},
    )


def test_only_awss_taken_text_means_the_role_exists() -> None:
    """InvalidInput also answers a malformed request: that one is an error with the fix."""

    class Refusing:
        def create_service_linked_role(self, AWSServiceName: str) -> Any:
            raise ClientError(
                {"Error": {"Code": "InvalidInput", "Message": "Custom suffix is not allowed"}},
                "CreateServiceLinkedRole",
            )

    assert ensure_autoscaling_role(FakeIam(exists=True), "aws", ACCOUNT) == ("present", ROLE)
    with pytest.raises(AwsError) as caught:
        ensure_autoscaling_role(Refusing(), "aws", ACCOUNT)
    assert caught.value.message.startswith(
        "iam role AWSServiceRoleForAutoScaling: cannot be created"
    )
    assert caught.value.hint is not None and "iam:CreateServiceLinkedRole" in caught.value.hint


ASG = MINIMAL.replace(
    "    params:\n      mode: instances\n      count: 2\n",
    "    params:\n      mode: asg\n      min_size: 1\n      max_size: 2\n",
)


def test_plan_failover_and_drill_with_aws_managed_keys_make_no_iam_call(
    write_env: Callable[[str], Path], tmp_path: Path
) -> None:
    """The outage rehearsal of issue 20 saw GetRole for AWSServiceRoleForAutoScaling in every
    plan, failover and drill: IAM's control plane is in us-east-1. With AWS managed keys (or
    none), nothing a failover does needs IAM: every request each run sent is counted."""
    from conftest import moto_web_inputs
    from relight.aws.cloudformation import Stacks
    from relight.aws.lock import LockSettings
    from relight.commands import failover
    from relight.commands.connection import Connection
    from relight.commands.drill import drill

    assert "mode: asg" in ASG
    with mock_aws():
        moto_web_inputs(tags=True)
        TemplateBucket(boto3.client("s3", REGION), REGION, ACCOUNT).configure()
        loaded = load_environment(str(write_env(ASG)), REGION)
        plan = build_plan(loaded, REGION)  # not the stand-in: preflight checks Auto Scaling
        assert not plan.stand_in and "web" in plan.stacks
        quiet = LockSettings(say=lambda _: None)
        for run in ("plan", "failover", "drill"):
            conn = Connection(Aws(AwsTarget()), REGION, ACCOUNT)
            if run == "plan":
                failover.plan_changes(plan, conn)
            elif run == "failover":
                failover.failover(plan, conn, lock=quiet, verify_after=False)
            else:
                stacks = Stacks(boto3.client("cloudformation", REGION), timeout=60)
                drill(loaded, conn, drill_id="t1", reports_dir=tmp_path, stacks=stacks)
            assert conn.aws.calls.get("ec2"), f"{run} ran against moto"
            assert "iam" not in conn.aws.calls, (run, conn.aws.calls)


def test_relight_prepare_leaves_the_record_a_failover_reads(asg_env: Any) -> None:
    from conftest import moto_web_inputs
    from relight.aws.lock import LockSettings
    from relight.commands import failover
    from relight.commands.connection import Connection

    plan, _ = asg_env
    moto_web_inputs(tags=True)
    conn = Connection(Aws(AwsTarget()), REGION, ACCOUNT)
    done = failover.prepare(plan, conn, lock=LockSettings(say=lambda _: None))
    assert f"iam role AWSServiceRoleForAutoScaling: created ({ROLE})" in done.notes
    record = read_autoscaling_record(boto3.client("s3", REGION), ACCOUNT, REGION, "shop")
    assert (
        record is not None and record.role_arn == ROLE and record.keys == {"alias/shop": "created"}
    )
