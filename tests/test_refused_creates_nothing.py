"""A refused run creates nothing: not relight's bucket, not its marker, not a lock.

Creating and configuring a bucket depends on S3's control plane in us-east-1
(docs/aws-behaviours.md S3), and a run refused with exit 2 promises "nothing was changed".
So a run checks, and asks, before it makes relight's bucket: the run lock waits for the
bucket until the run's first change (`defer_bucket`, S8), and only a checked and confirmed
run (a prepare, a replication, or a failover that goes ahead) makes it.

Through the CLI against moto in-process (`--aws`): ListBuckets shows every bucket of the
account, whatever its region.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from conftest import MINIMAL, make_instance_profile, moto_web_inputs
from relight.aws.bucket import READY_KEY
from relight.aws.lease import LockRef, read_lock
from relight.aws.lock import LockHeld, LockSettings, RunLock, hold
from relight.cli import app
from s3_fake import REGION, FakeS3
from test_prepared import LADDER

RUNNER = CliRunner()
ACCOUNT = "123456789012"
BUCKET = f"relight-templates-{ACCOUNT}-{REGION}"
CONFIGURATION = [
    "PutPublicAccessBlock",
    "PutBucketPolicy",
    "PutBucketEncryption",
    "PutBucketVersioning",
    "PutBucketLifecycleConfiguration",
]


def _relights_buckets() -> list[str]:
    buckets = boto3.client("s3", "us-east-1").list_buckets()["Buckets"]
    return [b["Name"] for b in buckets if b["Name"].startswith("relight-templates-")]


def _stacks(region: str = REGION) -> list[str]:
    cfn = boto3.client("cloudformation", region)
    return [s["StackName"] for s in cfn.describe_stacks()["Stacks"]]


def _refused(args: list[str]) -> Any:
    result = RUNNER.invoke(app, [*args, "--aws"])
    assert result.exit_code == 2, result.output
    return result


# the four refusals -------------------------------------------------------------------------


def test_a_failover_into_an_unprepared_region_makes_no_bucket(
    write_env: Callable[[str], Path],
) -> None:
    path = write_env(LADDER)
    with mock_aws():
        moto_web_inputs(REGION, tags=True)
        result = _refused(["failover", "--env", str(path), "--region", REGION, "--yes"])
        assert _relights_buckets() == [], "no bucket, so no marker and no lock either"
        assert _stacks() == []
    assert "stack shop-identity (stacks.identity, stands: global) does not exist in " in (
        result.stderr
    )
    assert "us-west-2; web read(s) its outputs" in result.stderr
    assert "(nothing was changed)" in result.stderr


def test_a_failover_into_a_region_without_copies_makes_no_bucket(
    write_env: Callable[[str], Path],
) -> None:
    path = write_env(MINIMAL)
    with mock_aws():
        make_instance_profile(boto3.client("iam", "us-east-1"))
        result = _refused(["failover", "--env", str(path), "--region", REGION, "--yes"])
        assert _relights_buckets() == []
        assert _stacks() == []
    assert "artifacts.web_ami: no AMI" in result.stderr
    assert "in us-west-2" in result.stderr


def test_a_replication_into_its_own_source_region_makes_no_bucket(
    write_env: Callable[[str], Path],
) -> None:
    path = write_env(MINIMAL)
    with mock_aws():
        moto_web_inputs("us-east-1", tags=True)
        result = _refused(
            ["replicate", "--env", str(path), "--from", "us-east-1", "--to", "us-east-1"]
        )
        assert _relights_buckets() == []
        snapshots = boto3.client("ec2", "us-east-1").describe_snapshots(OwnerIds=["self"])
    assert "replication cannot start:" in result.stderr
    assert "--to us-east-1: the same region as --from" in result.stderr
    assert "nothing was shared, copied or deleted" in result.stderr
    assert all("copied" not in (s.get("Description") or "") for s in snapshots["Snapshots"])


def test_a_prepare_without_yes_and_without_a_terminal_makes_no_bucket_marker_or_lock(
    write_env: Callable[[str], Path],
) -> None:
    path = write_env(LADDER)
    with mock_aws():
        moto_web_inputs(REGION, tags=True)
        result = _refused(["prepare", "--env", str(path), "--region", REGION])
        assert _relights_buckets() == [], "no bucket, so no marker and no lock"
        assert _stacks() == []
        again = RUNNER.invoke(
            app, ["prepare", "--env", str(path), "--region", REGION, "--aws", "--yes"]
        )
        assert again.exit_code == 0, again.output
        s3 = boto3.client("s3", REGION)
        assert _relights_buckets() == [BUCKET], "a confirmed prepare makes it"
        s3.head_object(Bucket=BUCKET, Key=READY_KEY)  # configured, and marked so
        assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
        assert read_lock(LockRef(s3, ACCOUNT, REGION, "shop")) is None, "released"
        assert _stacks() == ["shop-identity"]
    assert "prepare needs a yes; no terminal to ask on" in result.stderr
    assert "pass --yes to confirm" in result.stderr
    assert "plan: prepare shop in us-west-2" in result.stderr, "the plan is shown first"


# runs that change nothing make nothing either -------------------------------------------------


def test_a_drill_stopped_by_its_preflight_and_a_teardown_with_nothing_to_do_make_no_bucket(
    write_env: Callable[[str], Path], tmp_path: Path
) -> None:
    path = write_env(MINIMAL)
    with mock_aws():
        make_instance_profile(boto3.client("iam", "us-east-1"))
        drill = RUNNER.invoke(
            app,
            ["drill", "--env", str(path), "--region", REGION, "--aws",
             "--reports", str(tmp_path / "reports")],
        )  # fmt: skip
        assert _relights_buckets() == []
        teardown = RUNNER.invoke(
            app, ["teardown", "--env", str(path), "--region", REGION, "--aws", "--yes"]
        )
        assert _relights_buckets() == []
        assert _stacks() == []
    assert drill.exit_code == 1, drill.output
    assert "preflight found 2 problem(s)" in drill.output
    assert "artifacts.web_ami: no AMI tagged Role=web in us-west-2" in drill.output
    assert teardown.exit_code == 0, teardown.output
    assert "no stacks of shop in us-west-2; nothing to do" in teardown.output


# the lock that waits for the bucket -----------------------------------------------------------


def _ref(s3: Any) -> LockRef:
    return LockRef(s3, ACCOUNT, REGION, "shop")


def test_a_lock_that_may_not_make_the_bucket_waits_and_writes_nothing() -> None:
    s3 = FakeS3()
    with hold(_ref(s3), "run-a", "relight failover", defer_bucket=True) as held:
        assert held.waiting and held.etag is None
        assert s3.calls == ["PutObject"], "one write tried, refused NoSuchBucket"
        assert s3.buckets == {}
    assert s3.buckets == {}, "a run that never changed anything made nothing"
    assert s3.calls == ["PutObject"]


def test_its_first_change_makes_and_configures_the_bucket_then_takes_the_lock() -> None:
    s3 = FakeS3()
    with hold(_ref(s3), "run-a", "relight failover", defer_bucket=True) as held:
        held.ensure_held()  # the first change
        assert not held.waiting and held.etag is not None
        assert s3.configured == {BUCKET: CONFIGURATION}
        assert set(s3.buckets[BUCKET]) == {READY_KEY, "locks/shop/-.json"}
        found = read_lock(_ref(s3))
        assert found is not None and found[0].run_id == "run-a"
        held.ensure_held()
        assert s3.configured == {BUCKET: CONFIGURATION}, "once"
    assert set(s3.buckets[BUCKET]) == {READY_KEY}, "released"


def test_of_two_runs_that_waited_only_one_gets_past_its_first_change() -> None:
    s3 = FakeS3(pause=0.01)
    locks = [
        RunLock(_ref(s3), f"run-{n}", "relight failover", LockSettings(), defer_bucket=True)
        for n in "ab"
    ]
    for lock in locks:
        lock.acquire()
    assert all(lock.waiting for lock in locks)
    start = threading.Barrier(2)
    won: list[str] = []
    refused: list[LockHeld] = []

    def change(lock: RunLock) -> None:
        start.wait()
        try:
            lock.take()
        except LockHeld as exc:
            refused.append(exc)
        else:
            won.append(lock.me.run_id)

    threads = [threading.Thread(target=change, args=(lock,)) for lock in locks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for lock in locks:
        lock.release()
    assert len(won) == 1 and len(refused) == 1
    assert "nothing was changed" in str(refused[0])


def test_a_bucket_that_cannot_be_made_at_the_first_change_stops_the_run_there() -> None:
    from relight.errors import AwsError

    s3 = FakeS3()
    s3.refuse = {"CreateBucket"}  # us-east-1's control plane is out of reach
    with (
        hold(_ref(s3), "run-a", "relight failover", defer_bucket=True) as held,
        pytest.raises(AwsError, match="could not be created and configured"),
    ):
        held.ensure_held()
    assert s3.buckets == {}
