"""A region that serves is not disturbed: the marker a verified failover leaves, and prepare's
refusal (issue 19, B3). The whole sequence on the stand-in is in test_e2e.py
(`test_pilot_light_in_another_region_stands_all_but_the_dns_pair_and_failover_builds_the_rest`)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import REPO
from relight.aws.bucket import bucket_name
from relight.aws.clients import Aws, AwsTarget
from relight.aws.serving import Serving, marker_key, read_serving
from relight.commands import failover
from relight.errors import AwsError, InputError
from relight.model.config import load_environment
from relight.steps.render import build_plan

ACCOUNT = "123456789012"  # moto's
REGION = "us-west-2"


def _plan(**options: Any) -> Any:
    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), REGION)
    return build_plan(loaded, REGION, **options)


def _conn() -> Any:
    return SimpleNamespace(aws=Aws(AwsTarget()), region=REGION, account_id=ACCOUNT, stand_in=None)


def test_no_bucket_or_no_marker_means_the_region_does_not_serve() -> None:
    with mock_aws():
        s3 = boto3.client("s3", REGION)
        assert read_serving(s3, ACCOUNT, REGION, "demo") is None, "no bucket yet"
        s3.create_bucket(
            Bucket=bucket_name(ACCOUNT, REGION),
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        assert read_serving(s3, ACCOUNT, REGION, "demo") is None, "a bucket, no marker"
        failover.refuse_serving_region(_plan(phase="prepare"), _conn())  # nothing raised


def test_a_verified_failover_marks_its_region_and_prepare_there_is_refused() -> None:
    plan = _plan()
    at = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
    with mock_aws():
        s3 = boto3.client("s3", REGION)
        s3.create_bucket(
            Bucket=bucket_name(ACCOUNT, REGION),
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        assert failover.mark_region_serving(_conn(), plan, "run-1", at, "serving") == []
        assert read_serving(s3, ACCOUNT, REGION, "demo") == Serving(
            "demo", REGION, at.isoformat(), "run-1", "backup_restore"
        )
        with pytest.raises(InputError) as refused:
            failover.prepare(_plan(phase="prepare"), _conn())
        said = str(refused.value)
        assert refused.value.exit_code == 2
        assert said.startswith(f"{REPO / 'stacks' / 'demo.yaml'}: demo serves from {REGION}")
        assert "since 2026-12-06T14:00:00+00:00 (failover run run-1" in said
        assert "nothing was changed" in said
        assert f"aws s3 rm s3://{bucket_name(ACCOUNT, REGION)}/{marker_key('demo')}" in said
        keys = [
            o["Key"] for o in s3.list_objects_v2(Bucket=bucket_name(ACCOUNT, REGION))["Contents"]
        ]
        assert keys == [marker_key("demo")], "refused before the bucket was even configured"
        assert "relight failback --env demo --from us-west-2" in said
        assert "relight teardown" not in said, "it served: failing back is the way"


def test_after_a_failover_that_never_served_the_refusal_says_to_tear_it_down() -> None:
    at = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
    with mock_aws():
        s3 = boto3.client("s3", REGION)
        s3.create_bucket(
            Bucket=bucket_name(ACCOUNT, REGION),
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        failover.mark_region_serving(_conn(), _plan(), "run-2", at, "failing over")
        with pytest.raises(InputError) as refused:
            failover.prepare(_plan(phase="prepare"), _conn())
    said = " ".join(str(refused.value).split())
    assert "demo has been failing over into us-west-2 since" in said
    assert (
        "if that failover failed and us-west-2 never served, once its stacks are torn down" in said
    )
    assert "(relight teardown --env demo --region us-west-2 --force)" in said


def test_a_drill_prepares_its_own_copies_while_production_serves() -> None:
    with mock_aws():
        s3 = boto3.client("s3", REGION)
        s3.create_bucket(
            Bucket=bucket_name(ACCOUNT, REGION),
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        failover.mark_region_serving(_conn(), _plan(), "run-1", datetime.now(UTC), "serving")
        drill = _plan(phase="prepare", purpose="drill", namespace="drill-x")
        failover.refuse_serving_region(drill, _conn())  # production is not touched: allowed


def test_a_marker_that_cannot_be_written_is_a_note_not_a_failure() -> None:
    with mock_aws():  # no bucket in the region: the write fails
        notes = failover.mark_region_serving(
            _conn(), _plan(), "run-1", datetime.now(UTC), "serving"
        )
    assert len(notes) == 1 and notes[0].startswith(f"could not record that {REGION} serves demo")
    assert "relight prepare there will not know it holds a failover" in notes[0]


def test_a_teardown_that_leaves_nothing_a_failover_built_clears_the_marker(write_env) -> None:  # type: ignore[no-untyped-def]
    from conftest import MINIMAL
    from relight.aws.lock import LockSettings
    from relight.commands import teardown
    from relight.commands.connection import Connection

    loaded = load_environment(str(write_env(MINIMAL)), REGION)
    with mock_aws():
        s3 = boto3.client("s3", REGION)
        s3.create_bucket(
            Bucket=bucket_name(ACCOUNT, REGION),
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        s3.put_bucket_versioning(  # as prepare configures it: a delete leaves a delete marker
            Bucket=bucket_name(ACCOUNT, REGION), VersioningConfiguration={"Status": "Enabled"}
        )
        conn = Connection(Aws(AwsTarget()), REGION, ACCOUNT)
        failover.mark_region_serving(
            conn, build_plan(loaded, REGION), "run-1", datetime.now(UTC), "serving"
        )
        drill = teardown.teardown(loaded, conn, namespace="drill-x", lock=LockSettings(say=print))
        assert drill.ok and read_serving(s3, ACCOUNT, REGION, "shop") is not None, (
            "a drill's teardown says nothing of what serves"
        )
        idle = teardown.teardown(loaded, conn, lock=LockSettings(say=print))
        assert idle.ok and read_serving(s3, ACCOUNT, REGION, "shop") is not None, (
            "a teardown that deleted nothing says nothing of what serves"
        )
        boto3.client("cloudformation", REGION).create_stack(
            StackName="shop-web",
            TemplateBody='{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}',
            Tags=[
                {"Key": "relight:env", "Value": "shop"},
                {"Key": "relight:stack", "Value": "web"},
            ],
        )
        gone = teardown.teardown(loaded, conn, lock=LockSettings(say=print))
        assert gone.ok and [r.action for r in gone.results] == ["deleted"], gone.results
        assert read_serving(s3, ACCOUNT, REGION, "shop") is None, "nothing serves there now"


def test_a_marker_that_cannot_be_read_never_stops_a_failover() -> None:
    from botocore.exceptions import ClientError

    class S3:
        def get_object(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDenied"}}, "GetObject")

    conn = SimpleNamespace(aws=SimpleNamespace(client=lambda *a, **k: S3()), region=REGION,
                           account_id=ACCOUNT, stand_in=None)  # fmt: skip
    serving, notes = failover.already_serving(conn, _plan())
    assert serving is False
    assert len(notes) == 1 and notes[0].startswith(f"could not read whether {REGION} already")
    assert "s3:ListBucket" in notes[0], "the note says which permission is missing"
    with pytest.raises(AwsError, match="s3:ListBucket"):  # prepare, unlike a failover, stops
        failover.refuse_serving_region(_plan(phase="prepare"), conn)


def test_a_failover_beside_production_in_its_home_region_marks_nothing(write_env) -> None:  # type: ignore[no-untyped-def]
    """--into-home-region builds beside production: the home region does not now serve from
    a failover, and nothing there should later ask for a failback."""
    from conftest import MINIMAL, make_instance_profile, web_artifacts
    from relight.aws.bucket import TemplateBucket
    from relight.aws.lock import LockSettings
    from relight.commands.connection import Connection

    home = "us-east-1"
    with mock_aws():
        loaded = load_environment(str(write_env(MINIMAL)), home)
        make_instance_profile(boto3.client("iam", home))
        s3 = boto3.client("s3", home)
        TemplateBucket(s3, home, ACCOUNT).configure()
        web_artifacts(home)
        conn = Connection(Aws(AwsTarget()), home, ACCOUNT)
        result = failover.failover(
            build_plan(loaded, home), conn, verify_after=False, lock=LockSettings(say=print)
        )
        assert result.ok, result.outcome.failed()
        assert read_serving(s3, ACCOUNT, home, "shop") is None
        assert [e for e, _ in result.events][:2] == ["started", "first change"]


def test_prepare_into_a_region_without_its_bucket_checks_again_once_the_lock_is_held(
    write_env,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    """The review of issue 20: with no bucket in the region the lock waits until the first
    change (`RunLock.take`), so the check "again under the lock" ran with no lock held; a
    failover that marked the region meanwhile went unseen. It runs again right after take."""
    from conftest import MINIMAL, moto_web_inputs
    from relight.aws.lock import LockSettings
    from relight.commands.connection import Connection

    checks: list[list[str]] = []  # the keys in relight's bucket at each check
    check = failover.refuse_serving_region

    def checking(plan: Any, conn: Any) -> None:
        s3 = boto3.client("s3", REGION)
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        listed = s3.list_objects_v2(Bucket=names[0]) if names else {}
        checks.append([o["Key"] for o in listed.get("Contents", [])])
        check(plan, conn)

    monkeypatch.setattr(failover, "refuse_serving_region", checking)
    joined: list[str] = []

    def meanwhile() -> None:  # the CLI's lint join; the first time, a failover marks R
        joined.append("lint")
        if len(joined) == 1:
            boto3.client("s3", REGION).create_bucket(
                Bucket=bucket_name(ACCOUNT, REGION),
                CreateBucketConfiguration={"LocationConstraint": REGION},
            )
            at = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
            failover.mark_region_serving(_conn(), plan, "run-9", at, "failing over")

    with mock_aws():
        moto_web_inputs(tags=True)
        loaded = load_environment(str(write_env(MINIMAL)), REGION)
        plan = build_plan(loaded, REGION, stand_in=True)
        with pytest.raises(InputError) as refused:
            failover.prepare(
                build_plan(loaded, REGION, stand_in=True, phase="prepare"),
                Connection(Aws(AwsTarget()), REGION, ACCOUNT),
                before_change=meanwhile,
                lock=LockSettings(say=lambda _: None),
            )
        said = " ".join(str(refused.value).split())
        assert "shop has been failing over into us-west-2 since" in said, said
        assert refused.value.exit_code == 2
        assert len(checks) == 3, checks  # before the lock, while it waited, and under it
        assert checks[:2] == [[], []], "no bucket yet: no lock held"
        assert any("lock" in key for key in checks[2]), f"checked again under the lock: {checks}"
        s3 = boto3.client("s3", REGION)
        listed = s3.list_objects_v2(Bucket=bucket_name(ACCOUNT, REGION))["Contents"]
        left = [o["Key"] for o in listed]
        assert marker_key("shop") in left and not any("lock" in k for k in left), left
        stacks = boto3.client("cloudformation", REGION).list_stacks()["StackSummaries"]
        assert stacks == [], "nothing deployed"
