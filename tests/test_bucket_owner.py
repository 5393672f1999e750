"""relight's bucket is relight's, or relight refuses it (issue 22, item 4).

- every S3 request names the account as the bucket's expected owner (`ExpectedBucketOwner`,
  docs/aws-behaviours.md S10), and the stand-in answers a wrong one as S3 does;
- a bucket another account holds under relight's name is refused by name, nothing changed;
- the bucket takes requests over TLS only (S11), and the stand-in plays the policy's condition;
- a 403 on relight's own bucket is a missing permission, s3:ListBucket named (S4).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from moto import mock_aws
from typer.testing import CliRunner

from conftest import REPO, moto_web_inputs
from relight.aws.bucket import READY_KEY, TemplateBucket, tls_only_policy
from relight.aws.bucket_owner import ForeignBucket
from relight.aws.clients import Aws, AwsTarget
from relight.cli import app
from relight.errors import AwsError
from test_prepared import LADDER

RUNNER = CliRunner()
REGION = "us-west-2"
ACCOUNT = "123456789012"  # moto's account for the tests' credentials
STRANGER = "999999999999"
BUCKET = f"relight-templates-{ACCOUNT}-{REGION}"
WHERE = {"CreateBucketConfiguration": {"LocationConstraint": REGION}}


def _as_account(client: Any, account: str) -> Any:
    """`client`, acting in `account` (moto reads the account from this header)."""

    def header(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    client.meta.events.register("before-sign.s3", header)
    return client


def _stranger() -> Any:
    return _as_account(boto3.client("s3", REGION), STRANGER)


def _stacks() -> list[str]:
    cfn = boto3.client("cloudformation", REGION)
    return [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]


@pytest.fixture
def s3_requests(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """(operation, x-amz-expected-bucket-owner) of every S3 request any Aws's client sends,
    seen on botocore's `before-send` (after every handler that builds the request)."""
    seen: list[tuple[str, str | None]] = []
    instrument = Aws._instrument

    def watching(self: Aws, client: Any, service: str) -> None:
        instrument(self, client, service)
        if service == "s3":

            def sent(request: Any, event_name: str, **_: Any) -> None:
                owner = request.headers.get("x-amz-expected-bucket-owner")
                text = owner.decode() if isinstance(owner, bytes) else owner
                seen.append((event_name.rsplit(".", 1)[-1], text))

            client.meta.events.register_first("before-send.s3", sent)

    monkeypatch.setattr(Aws, "_instrument", watching)
    return seen


# every request names the owner -----------------------------------------------------------------


@pytest.mark.e2e
def test_every_s3_request_of_the_demos_prepare_and_failover_names_the_accounts_owner(
    state_dir: Path, s3_requests: list[tuple[str, str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the stand-in, through the CLI: the demo's prepare, then its failover."""
    monkeypatch.chdir(REPO)
    for command in ("prepare", "failover"):
        result = RUNNER.invoke(app, [command, "--env", "demo", "--region", REGION, "--yes"])
        assert result.exit_code == 0, result.output
    operations = {operation for operation, _ in s3_requests}
    assert {"PutObject", "HeadObject", "PutBucketPolicy", "DeleteObject"} <= operations
    without = {operation for operation, owner in s3_requests if owner is None}
    assert without <= {"CreateBucket", "ListBuckets"}, "S3 has no member for these two"
    assert {owner for _, owner in s3_requests if owner is not None} == {ACCOUNT}


def test_a_caller_that_names_the_owner_keeps_it_and_a_template_url_names_its_buckets() -> None:
    """outage.read_s3_object reads a TemplateURL with the owner its bucket's name says, so an
    Aws of another account (a stack's role_arn) reads relight's bucket as that bucket's
    account's; any other request names the account the Aws acts in."""
    from relight.aws.outage import read_s3_object

    home = "210987654321"
    theirs = f"relight-templates-{home}-{REGION}"
    with mock_aws():
        owner = _as_account(boto3.client("s3", REGION), home)
        owner.create_bucket(Bucket=theirs, **WHERE)
        owner.put_object(Bucket=theirs, Key="t.json", Body=b"{}")
        s3 = Aws(AwsTarget()).client("s3", REGION)  # acts in ACCOUNT
        assert read_s3_object(s3, f"https://{theirs}.s3.{REGION}.amazonaws.com/t.json") == "{}"
        with pytest.raises(ClientError, match="AccessDenied"):  # named as ACCOUNT's: refused
            s3.get_object(Bucket=theirs, Key="t.json")
        boto3.client("s3", REGION).create_bucket(Bucket="ours", **WHERE)
        s3.put_object(Bucket="ours", Key="k", Body=b"v")


# the stand-in answers as S3 does ----------------------------------------------------------------


def test_the_stand_in_refuses_a_request_whose_bucket_another_account_owns() -> None:
    with mock_aws():
        theirs = _stranger()
        theirs.create_bucket(Bucket=BUCKET, **WHERE)
        ours = boto3.client("s3", REGION)
        for call in (
            lambda: ours.put_object(Bucket=BUCKET, Key="k", Body=b"v", ExpectedBucketOwner=ACCOUNT),
            lambda: ours.get_object(Bucket=BUCKET, Key="k", ExpectedBucketOwner=ACCOUNT),
            lambda: ours.list_objects_v2(Bucket=BUCKET, ExpectedBucketOwner=ACCOUNT),
        ):
            with pytest.raises(ClientError) as caught:
                call()
            error = caught.value.response["Error"]
            assert (error["Code"], error["Message"]) == ("AccessDenied", "Access Denied")
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert theirs.list_objects_v2(Bucket=BUCKET).get("Contents", []) == [], "nothing written"
        # its owner, named as the owner, is served; a name no account holds is NoSuchBucket
        theirs.put_object(Bucket=BUCKET, Key="k", Body=b"v", ExpectedBucketOwner=STRANGER)
        with pytest.raises(ClientError, match="NoSuchBucket"):
            ours.get_object(Bucket="relight-nobody", Key="k", ExpectedBucketOwner=ACCOUNT)
        # CreateBucket of a name another account holds: 409 BucketAlreadyExists
        with pytest.raises(ClientError) as caught:
            ours.create_bucket(Bucket=BUCKET, **WHERE)
        assert caught.value.response["Error"]["Code"] == "BucketAlreadyExists"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


# a bucket another account holds is refused, by name, nothing changed ----------------------------


@pytest.fixture
def held_by_a_stranger(write_env: Callable[[str], Path]) -> Iterator[Path]:
    """LADDER's environment, its recovery region's bucket name created first by a stranger."""
    path = write_env(LADDER)
    with mock_aws():
        moto_web_inputs(REGION, tags=True)
        _stranger().create_bucket(Bucket=BUCKET, **WHERE)
        yield path
        assert _stacks() == [], "no stack made"
        assert _stranger().list_objects_v2(Bucket=BUCKET).get("Contents", []) == [], (
            "nothing written into the stranger's bucket: no lock, no marker, no template"
        )
        with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
            _stranger().get_bucket_policy(Bucket=BUCKET)


@pytest.mark.parametrize("command", ["prepare", "failover"])
def test_a_bucket_another_account_holds_under_relights_name_is_refused_naming_it(
    held_by_a_stranger: Path, command: str
) -> None:
    result = RUNNER.invoke(
        app, [command, "--env", str(held_by_a_stranger), "--region", REGION, "--aws", "--yes"]
    )
    assert result.exit_code == 2, result.output
    assert f"relight's bucket {BUCKET} is owned by another account, not {ACCOUNT}" in result.stderr
    assert "Nothing was changed" in result.stderr
    assert f"aws s3 rb s3://{BUCKET} --force" in result.stderr
    assert "recover into a region other than us-west-2" in result.stderr
    assert "Traceback" not in result.stderr


def test_creating_relights_bucket_when_another_account_holds_the_name_is_refused() -> None:
    with mock_aws():
        _stranger().create_bucket(Bucket=BUCKET, **WHERE)
        aws = Aws(AwsTarget())
        bucket = TemplateBucket(aws.client("s3", REGION), REGION, aws.account_id(REGION))
        with pytest.raises(ForeignBucket, match=f"relight's bucket {BUCKET} is owned by another"):
            bucket.configure()
        assert _stranger().list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
        with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
            _stranger().get_bucket_policy(Bucket=BUCKET)


# a 403 on relight's own bucket is a permission, s3:ListBucket named ---------------------------


def _forbidden_ready_key(listed: list[str] | None) -> BaseException:
    """ensure() of relight's bucket whose READY_KEY HEAD answers 403 (a caller without
    s3:ListBucket asking for a key that is not there), ListBuckets listing `listed` (None:
    ListBuckets refused too)."""
    with mock_aws():
        aws = Aws(AwsTarget())
        aws.account_id(REGION)
        s3 = aws.client("s3", REGION)
        with Stubber(s3) as stub:
            stub.add_client_error(
                "head_object", "403", "Forbidden", 403,
                expected_params={"Bucket": BUCKET, "Key": READY_KEY},
            )  # fmt: skip
            if listed is None:
                stub.add_client_error("list_buckets", "AccessDenied", "Access Denied", 403)
            else:
                buckets = [{"Name": name} for name in listed]
                stub.add_response("list_buckets", {"Buckets": buckets}, {"Prefix": BUCKET})
            with pytest.raises((AwsError, ForeignBucket)) as caught:
                TemplateBucket(s3, REGION, ACCOUNT).ensure()
            stub.assert_no_pending_responses()
        return caught.value


def test_a_403_on_the_accounts_own_bucket_names_the_permissions_with_list_bucket() -> None:
    for listed in ([BUCKET], None):  # its own, or S3 would not say whose
        refused = _forbidden_ready_key(listed)
        assert not isinstance(refused, ForeignBucket)
        assert f"S3 bucket {BUCKET} exists but cannot be used" in str(refused)
        hint = str(refused.hint if isinstance(refused, AwsError) else "")
        assert "s3:ListBucket" in hint
        assert "403, not 404" in hint
        assert "s3:ListAllMyBuckets" in hint


def test_a_403_on_a_bucket_the_account_does_not_own_is_the_foreign_bucket() -> None:
    refused = _forbidden_ready_key([])
    assert isinstance(refused, ForeignBucket)
    assert refused.exit_code == 2


def test_the_run_locks_hint_names_list_bucket() -> None:
    from relight.aws.lease import LockRef, failed

    with mock_aws():
        hint = failed(LockRef(boto3.client("s3", REGION), ACCOUNT, REGION, "shop"), "take",
                      RuntimeError("403")).hint  # fmt: skip
    assert hint is not None
    assert "s3:ListBucket" in hint
    assert "403, not 404" in hint


# TLS only ---------------------------------------------------------------------------------------


def test_prepare_puts_the_tls_only_policy_and_a_bucket_prepared_before_gets_it(
    write_env: Callable[[str], Path],
) -> None:
    path = write_env(LADDER)
    args = ["prepare", "--env", str(path), "--region", REGION, "--aws", "--yes"]
    with mock_aws():
        moto_web_inputs(REGION, tags=True)
        s3 = boto3.client("s3", REGION)
        # a bucket configured by an older relight: marker written, no policy
        s3.create_bucket(Bucket=BUCKET, **WHERE)
        s3.put_object(Bucket=BUCKET, Key=READY_KEY, Body=b'{"configured": []}')
        result = RUNNER.invoke(app, args)
        assert result.exit_code == 0, result.output
        policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
        assert policy == tls_only_policy(BUCKET)
        marker = json.loads(s3.get_object(Bucket=BUCKET, Key=READY_KEY)["Body"].read())
        assert "tls-only policy" in marker["configured"]
        # a Deny is not public: BlockPublicPolicy, on since the same prepare, took it
        blocked = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
        assert blocked["BlockPublicPolicy"] is True
        assert s3.get_bucket_policy_status(Bucket=BUCKET)["PolicyStatus"]["IsPublic"] is False
        # and again: idempotent, the same one policy
        assert RUNNER.invoke(app, args).exit_code == 0
        assert json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"]) == policy


def test_the_tls_only_policy_refuses_plain_http_and_serves_https() -> None:
    with mock_aws():
        s3 = boto3.client("s3", REGION)
        s3.create_bucket(Bucket=BUCKET, **WHERE)
        s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(tls_only_policy(BUCKET)))
        s3.put_object(Bucket=BUCKET, Key="k", Body=b"v")  # https: botocore's default
        assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"v"
        plain = boto3.client("s3", REGION, endpoint_url=f"http://s3.{REGION}.amazonaws.com")
        for call in (
            lambda: plain.get_object(Bucket=BUCKET, Key="k"),
            lambda: plain.put_object(Bucket=BUCKET, Key="k", Body=b"changed"),
            lambda: plain.list_objects_v2(Bucket=BUCKET),
        ):
            with pytest.raises(ClientError) as caught:
                call()
            error = caught.value.response["Error"]
            assert (error["Code"], error["Message"]) == ("AccessDenied", "Access Denied")
        assert s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == b"v", "unchanged"


def test_the_stand_ins_loopback_is_the_one_place_the_condition_cannot_hold() -> None:
    from relight.standin.extensions.s3 import secure_transport

    assert secure_transport("https://s3.us-west-2.amazonaws.com/b/k")
    assert not secure_transport("http://s3.us-west-2.amazonaws.com/b/k")
    assert secure_transport("http://127.0.0.1:5000/b/k"), "the stand-in: plain http, loopback"
    assert not secure_transport("http://10.0.0.5:5000/b/k")


@pytest.mark.e2e
def test_on_the_stand_in_a_stranger_holding_the_bucket_name_stops_the_demos_prepare(
    state_dir: Path,
) -> None:
    """The stand-in server, a second account (moto's `x-moto-account-id`) creating the demo's
    bucket name in us-west-2 first; `relight prepare` in a process of its own."""
    import os
    import subprocess
    import sys

    from relight import standin

    running = standin.ensure_running(state_dir)
    theirs = _as_account(boto3.client("s3", REGION, endpoint_url=running.endpoint), STRANGER)
    theirs.create_bucket(Bucket=BUCKET, **WHERE)
    run = subprocess.run(
        [str(Path(sys.executable).parent / "relight"), "prepare", "--env", "demo", "--region",
         REGION, "--yes"],
        cwd=REPO, env={**os.environ, "RELIGHT_STATE_DIR": str(state_dir)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert f"relight's bucket {BUCKET} is owned by another account, not {ACCOUNT}" in run.stderr
    assert "Traceback" not in run.stderr
    assert theirs.list_objects_v2(Bucket=BUCKET).get("Contents", []) == [], "nothing written"
    cfn = boto3.client("cloudformation", REGION, endpoint_url=running.endpoint)
    assert cfn.describe_stacks()["Stacks"] == [], "no stack made in us-west-2"
