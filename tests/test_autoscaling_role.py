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


def _warm_with_key(write_env: Callable[[str], Path]) -> Any:
    """MINIMAL at warm_standby: network and security stand from pilot_light, the web fleet
    (an Auto Scaling group) from warm_standby, its volumes under the customer managed key
    alias/shop (KmsKeyId, and the region's kms_keys)."""
    from conftest import NETWORK_AND_SECURITY

    standing = NETWORK_AND_SECURITY.replace(
        "    blueprint: network\n", "    blueprint: network\n    stands: pilot_light\n"
    ).replace("    blueprint: security\n", "    blueprint: security\n    stands: pilot_light\n")
    text = (
        ASG.replace(
            "stand_in: true\n",
            "strategy: warm_standby\nkms_keys: {us-west-2: alias/shop}\n",
        )
        .replace(NETWORK_AND_SECURITY, standing)
        .replace("    blueprint: compute\n", "    blueprint: compute\n    stands: warm_standby\n")
        .replace("      max_size: 2\n", "      max_size: 2\n      KmsKeyId: alias/shop\n")
    )
    assert "stands: warm_standby" in text and "KmsKeyId: alias/shop" in text
    loaded = load_environment(str(write_env(text)), REGION)
    plan = build_plan(loaded, REGION, phase="prepare")  # not the stand-in: Auto Scaling checked
    assert not plan.stand_in and "web" in plan.stacks
    return plan


def test_prepare_at_warm_standby_with_a_customer_managed_key_grants_before_it_launches(
    write_env: Callable[[str], Path],
) -> None:
    """The review of issue 20: prepare ran preflight and its deploy before it made the role
    and the grant, so preflight refused the key ("... run relight prepare"), a loop. The role
    may use a customer managed key only through its key policy or a grant, made before the
    group launches (A8/A9): prepare counts the keys it grants as granted and grants them
    after confirmation, under the lock, before its deploy."""
    from conftest import moto_web_inputs
    from relight.aws.lock import LockSettings
    from relight.commands import failover
    from relight.commands.connection import Connection

    with mock_aws():
        kms = boto3.client("kms", REGION)
        key = kms.create_key()["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName="alias/shop", TargetKeyId=key)
        moto_web_inputs(tags=True)
        plan = _warm_with_key(write_env)
        conn = Connection(Aws(AwsTarget()), REGION, ACCOUNT)
        seen: list[str] = []
        deploy = failover.deploy

        def deploying(*args: Any, **kwargs: Any) -> Any:  # what the deploy finds granted
            seen.extend(g["GranteePrincipal"] for g in kms.list_grants(KeyId=key)["Grants"])
            return deploy(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(failover, "deploy", deploying)
            done = failover.prepare(plan, conn, lock=LockSettings(say=lambda _: None))
        assert done.outcome.ok, done.outcome
        assert seen == [ROLE]  # granted before the deploy launched the group
        assert "KMS key alias/shop: Auto Scaling's grant created" in done.notes
        assert "web" in done.outcome.results


def test_a_refused_prepare_at_warm_standby_makes_no_role_and_no_grant(
    write_env: Callable[[str], Path],
) -> None:
    from conftest import moto_web_inputs
    from relight.aws.lock import LockSettings
    from relight.commands import failover
    from relight.commands.connection import Connection, Declined

    with mock_aws():
        kms = boto3.client("kms", REGION)
        key = kms.create_key()["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName="alias/shop", TargetKeyId=key)
        moto_web_inputs(tags=True)
        plan = _warm_with_key(write_env)
        conn = Connection(Aws(AwsTarget()), REGION, ACCOUNT)
        with pytest.raises(Declined):
            failover.prepare(
                plan, conn, lock=LockSettings(say=lambda _: None), confirm=lambda _: False
            )
        assert kms.list_grants(KeyId=key)["Grants"] == []
        assert "iam" not in conn.aws.calls
        assert boto3.client("s3", REGION).list_buckets()["Buckets"] == []


def test_a_grant_kms_refuses_stops_a_warm_standby_prepare_before_its_deploy(
    write_env: Callable[[str], Path],
) -> None:
    """A group this prepare stands up launches with the customer managed key: without the
    grant its instances would fail ("Client error on launch"), so KMS refusing the grant
    (AccessDeniedException, as AWS answers a caller without kms:CreateGrant) stops the run
    before the deploy, with the fix, instead of a note after a failed launch."""
    from conftest import moto_web_inputs
    from relight.aws.lock import LockSettings
    from relight.commands import failover
    from relight.commands.connection import Connection

    with mock_aws():
        kms = boto3.client("kms", REGION)
        key = kms.create_key()["KeyMetadata"]["Arn"]
        kms.create_alias(AliasName="alias/shop", TargetKeyId=key)
        moto_web_inputs(tags=True)
        plan = _warm_with_key(write_env)
        conn = Connection(Aws(AwsTarget()), REGION, ACCOUNT)

        from relight.aws import grants
        from relight.dr import autoscaling_role

        class Refusing:  # KMS in the region, refusing CreateGrant as AWS refuses the caller
            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def create_grant(self, **_: Any) -> Any:
                raise ClientError(
                    {"Error": {"Code": "AccessDeniedException", "Message": "not authorized"}},
                    "CreateGrant",
                )

            def __getattr__(self, name: str) -> Any:
                return getattr(self.inner, name)

        def granting(kms_client: Any, key_id: str, role: str) -> str:
            return grants.ensure_autoscaling_grant(Refusing(kms_client), key_id, role)

        deployed: list[bool] = []
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(autoscaling_role, "ensure_autoscaling_grant", granting)
            patch.setattr(failover, "deploy", lambda *a, **k: deployed.append(True))
            with pytest.raises(AwsError) as caught:
                failover.prepare(plan, conn, lock=LockSettings(say=lambda _: None))
        assert "KMS key alias/shop: cannot grant" in caught.value.message
        assert "kms:CreateGrant" in (caught.value.hint or "")
        assert deployed == [], "nothing deployed without the grant"
        assert boto3.client("cloudformation", REGION).describe_stacks()["Stacks"] == []
