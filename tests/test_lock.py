"""One mutating run at a time: the run lock in relight's bucket, and the stand-in's first run.

The lock's rules are S3's conditional writes. moto 5.2.5 answers them with AWS's codes
(412 PreconditionFailed for If-None-Match "*" on an existing key and for an If-Match on
another ETag, 404 NoSuchKey for an If-Match on a missing key, for PutObject and DeleteObject
alike), but it checks and writes without a lock of its own, so it does not promise what
AWS does: that of two writes at once exactly one wins. The races therefore run on FakeS3
below, which behaves as AWS documents (S3 User Guide, "How to prevent object overwrites
with conditional writes" and "How to perform conditional deletes"), atomically, with a
pause between its check and its write to let threads meet there; the whole path also runs
on moto.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL
from relight.aws.bucket import READY_KEY, TemplateBucket
from relight.aws.clients import Aws, AwsTarget
from relight.aws.lease import REPLICATION, Holder, LockRef, break_lock, read_lock
from relight.aws.lock import LockHeld, LockLost, LockSettings, RunLock, hold
from relight.commands.connection import Connection, lock_ref
from relight.commands.failover import failover
from relight.commands.replicate import replicate_environment
from relight.commands.teardown import teardown
from relight.errors import AwsError, StandInError
from relight.model.config import LoadedEnvironment, load_environment
from relight.standin.story import ensure_story
from relight.steps.render import build_plan
from s3_fake import REGION, Clock, FakeS3, error

ACCOUNT = "123456789012"


def _timed() -> tuple[FakeS3, Clock]:
    """S3 and the runs on one clock."""
    clock = Clock()
    return FakeS3(clock=clock), clock


def _ref(s3: Any, scope: str | None = None) -> LockRef:
    return LockRef(s3, ACCOUNT, REGION, "shop", scope)


def _settings(clock: Callable[[], datetime], said: list[str] | None = None) -> LockSettings:
    return LockSettings(now=clock, say=(said.append if said is not None else lambda _: None))


def _holder(s3: Any, scope: str | None = None) -> str | None:
    found = read_lock(_ref(s3, scope))
    return found[0].run_id if found else None


# taking it ----------------------------------------------------------------------------------


def _race(s3: FakeS3, runs: tuple[str, ...]) -> tuple[list[str], list[LockHeld]]:
    """Runs that take the lock at the same moment, each in its own thread."""
    start = threading.Barrier(len(runs))
    won: list[str] = []
    refused: list[LockHeld] = []

    def take(run_id: str) -> None:
        lock = RunLock(_ref(s3), run_id, f"relight failover --env shop # {run_id}", LockSettings())
        start.wait()
        try:
            lock.acquire()
        except LockHeld as exc:
            refused.append(exc)
        else:
            won.append(run_id)

    threads = [threading.Thread(target=take, args=(run,)) for run in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return won, refused


def test_of_two_runs_taking_the_lock_at_once_exactly_one_wins() -> None:
    for _ in range(10):
        s3 = FakeS3(pause=0.01)
        won, refused = _race(s3, ("run-a", "run-b"))
        assert len(won) == 1 and len(refused) == 1
        assert refused[0].holder.run_id == won[0]
        assert f"run {won[0]} of " in str(refused[0])
        assert _holder(s3) == won[0]


def test_of_runs_taking_over_a_dead_holders_lock_at_once_exactly_one_wins() -> None:
    for _ in range(10):
        ago = {"by": timedelta(hours=1)}  # S3's clock: the dead run wrote an hour ago
        s3 = FakeS3(pause=0.01, clock=lambda ago=ago: datetime.now(UTC) - ago["by"])
        RunLock(_ref(s3), "run-dead", "relight failover", LockSettings()).acquire()
        ago["by"] = timedelta(0)
        won, refused = _race(s3, ("run-a", "run-b", "run-c"))
        assert len(won) == 1 and len(refused) == 2
        assert {exc.holder.run_id for exc in refused} == set(won)


def test_the_refusal_names_the_holder_and_how_to_break_the_lock() -> None:
    s3, clock = _timed()
    first = RunLock(
        _ref(s3), "20250601-120000-ab12", "relight failover --env shop", _settings(clock)
    )
    first.acquire()
    clock.advance(100)
    with pytest.raises(LockHeld) as caught:
        RunLock(_ref(s3), "run-b", "relight teardown --env shop", _settings(clock)).acquire()
    message = str(caught.value)
    me = first.me
    assert message.startswith("shop in us-west-2 is locked by another run: ")
    assert f"run 20250601-120000-ab12 of {me.user}@{me.host} (pid {me.pid})" in message
    assert "`relight failover --env shop`, since 2025-06-01 12:00:00 UTC (100 s ago)" in message
    assert "s3://relight-templates-123456789012-us-west-2/locks/shop/-.json" in message
    assert "nothing was changed" in message
    assert "taken over once its heartbeat is 300 s old (in 3 min at the latest)" in message
    assert "break it now: relight unlock --env shop --region us-west-2" in message
    assert caught.value.exit_code == 1


def test_each_namespace_and_replication_have_their_own_lock() -> None:
    s3 = FakeS3()
    refs = [_ref(s3), _ref(s3, "qa"), _ref(s3, "drill-t1"), _ref(s3, REPLICATION)]
    for i, ref in enumerate(refs):
        RunLock(ref, f"run-{i}", "relight ...", LockSettings()).acquire()
    assert [ref.key for ref in refs] == [
        "locks/shop/-.json",
        "locks/shop/qa.json",
        "locks/shop/drill-t1.json",
        "locks/shop/-replicate.json",
    ]
    assert [ref.unlock_command() for ref in refs[1:]] == [
        "relight unlock --env shop --region us-west-2 --as qa",
        "relight unlock --env shop --region us-west-2 --as drill-t1",
        "relight unlock --env shop --region us-west-2 --replication",
    ]


def test_a_conflicting_write_is_retried_as_s3_asks() -> None:
    s3 = FakeS3()
    s3.buckets["relight-templates-123456789012-us-west-2"] = {}
    s3.conflicts = 1
    RunLock(_ref(s3), "run-a", "relight failover", LockSettings()).acquire()
    assert _holder(s3) == "run-a"


CONFIGURATION = [
    "PutPublicAccessBlock",
    "PutBucketPolicy",
    "PutBucketEncryption",
    "PutBucketVersioning",
    "PutBucketLifecycleConfiguration",
]
BUCKET = "relight-templates-123456789012-us-west-2"


def test_the_bucket_is_made_when_the_first_lock_needs_it() -> None:
    s3 = FakeS3()
    RunLock(_ref(s3), "run-a", "relight failover", LockSettings()).acquire()
    assert s3.calls == ["PutObject", "HeadObject", "CreateBucket", *CONFIGURATION, "PutObject",
                        "PutObject"]  # fmt: skip
    assert s3.configured == {BUCKET: CONFIGURATION}
    assert set(s3.buckets[BUCKET]) == {READY_KEY, "locks/shop/-.json"}, "configured, then locked"
    assert _holder(s3) == "run-a"


def test_a_bucket_found_without_its_marker_is_configured_before_use() -> None:
    """A bucket someone else made, or a run left half-configured: no READY_KEY in it."""
    s3 = FakeS3()
    s3.buckets[BUCKET] = {}
    bucket = TemplateBucket(s3, REGION, ACCOUNT)
    url = bucket.url_for('{"Resources": {}}')
    assert s3.calls == [
        "HeadObject", "CreateBucket", *CONFIGURATION, "PutObject",  # configured, marked last
        "HeadObject", "PutObject",  # then the template, once
    ]  # fmt: skip
    assert s3.configured == {BUCKET: CONFIGURATION}
    assert json.loads(s3.buckets[BUCKET][READY_KEY][0]) == {
        "configured": [
            "public access block", "tls-only policy", "encryption", "versioning", "lifecycle"
        ]
    }  # fmt: skip
    (template,) = set(s3.buckets[BUCKET]) - {READY_KEY}
    assert url == f"https://s3.us-west-2.amazonaws.com/{BUCKET}/{template}"
    assert bucket.uploads == 1
    s3.calls.clear()
    TemplateBucket(s3, REGION, ACCOUNT).ensure()
    assert s3.calls == ["HeadObject"], "a configured bucket is used as it is: one object read"


@pytest.mark.parametrize("failing", ["CreateBucket", *CONFIGURATION])
def test_a_bucket_that_cannot_be_configured_is_refused_not_used_half_configured(
    failing: str,
) -> None:
    s3 = FakeS3()
    s3.refuse = {failing}
    with pytest.raises(AwsError) as caught:
        RunLock(_ref(s3), "run-a", "relight failover", LockSettings()).acquire()
    message = str(caught.value)
    assert message.startswith(
        f"relight's bucket {BUCKET} in us-west-2 could not be created and configured: "
    )
    assert f"when calling the {failing} operation" in message
    assert "relight never stores templates in a bucket it could not configure" in message
    assert "Make it before a disaster: relight prepare" in message
    assert READY_KEY not in s3.buckets.get(BUCKET, {}), "never marked configured"
    assert "locks/shop/-.json" not in s3.buckets.get(BUCKET, {}), "no lock taken"
    with pytest.raises(AwsError, match="could not be created and configured"):
        TemplateBucket(s3, REGION, ACCOUNT).url_for('{"Resources": {}}')
    assert set(s3.buckets.get(BUCKET, {})) == set(), "no template stored in it"
    s3.refuse.clear()  # the control plane is back: the next use configures it all
    s3.configured.clear()
    TemplateBucket(s3, REGION, ACCOUNT).url_for('{"Resources": {}}')
    assert s3.configured == {BUCKET: CONFIGURATION}
    assert READY_KEY in s3.buckets[BUCKET]


def test_a_bucket_whose_marker_relight_may_not_read_is_refused() -> None:
    s3 = FakeS3()
    s3.buckets[BUCKET] = {}

    def forbidden(**_: Any) -> Any:
        raise error("403", "Forbidden", 403, "HeadObject")

    s3.head_object = forbidden  # type: ignore[method-assign]
    with pytest.raises(AwsError, match=f"S3 bucket {BUCKET} exists but cannot be used"):
        TemplateBucket(s3, REGION, ACCOUNT).ensure()
    assert s3.calls == [] and s3.configured == {}, "not configured over someone else's bucket"


# giving it back -----------------------------------------------------------------------------


def test_the_lock_is_released_when_the_run_fails() -> None:
    s3 = FakeS3()
    with pytest.raises(RuntimeError), hold(_ref(s3), "run-a", "relight failover"):
        assert _holder(s3) == "run-a"
        raise RuntimeError("a stack failed")
    assert _holder(s3) is None
    with hold(_ref(s3), "run-b", "relight failover"):
        assert _holder(s3) == "run-b"


def test_the_lock_is_released_on_ctrl_c() -> None:
    s3 = FakeS3()
    with pytest.raises(KeyboardInterrupt), hold(_ref(s3), "run-a", "relight drill"):
        raise KeyboardInterrupt
    assert _holder(s3) is None


def test_a_refused_run_leaves_the_holders_lock_alone() -> None:
    s3 = FakeS3()
    with hold(_ref(s3), "run-a", "relight failover"):
        with pytest.raises(LockHeld), hold(_ref(s3), "run-b", "relight failover"):
            pass
        assert _holder(s3) == "run-a"


# heartbeats, dead holders and take-overs ----------------------------------------------------


def test_a_holder_whose_heartbeat_is_older_than_the_lease_is_taken_over_with_a_message() -> None:
    s3, clock, said = *_timed(), []
    dead = RunLock(_ref(s3), "run-a", "relight failover --env shop", _settings(clock))
    dead.acquire()
    clock.advance(299)
    with pytest.raises(LockHeld):
        RunLock(_ref(s3), "run-b", "relight failover", _settings(clock)).acquire()
    clock.advance(2)
    heir = RunLock(_ref(s3), "run-b", "relight failover", _settings(clock, said))
    heir.acquire()
    assert heir.took_over is not None and heir.took_over.run_id == "run-a"
    assert _holder(s3) == "run-b"
    assert len(said) == 1 and said == heir.notes
    assert said[0].startswith("took over the lock on shop in us-west-2 from run run-a of ")
    assert "last heartbeat 5 min ago" in said[0]
    assert "no heartbeat for longer than its lease of 300 s" in said[0]


def test_heartbeats_keep_a_long_runs_lock() -> None:
    s3, clock = _timed()
    holder = RunLock(_ref(s3), "run-a", "relight failover", _settings(clock))
    holder.acquire()
    for _ in range(10):  # 50 minutes, a heartbeat a minute
        clock.advance(60)
        assert holder.beat()
    with pytest.raises(LockHeld) as caught:
        RunLock(_ref(s3), "run-b", "relight failover", _settings(clock)).acquire()
    assert "(10 min ago), last heartbeat 0 s ago" in str(caught.value)


def test_the_heartbeat_thread_refreshes_the_lock_while_the_run_works() -> None:
    s3 = FakeS3()
    settings = LockSettings(lease_seconds=5, heartbeat_seconds=0.02, say=lambda _: None)
    with hold(_ref(s3), "run-a", "relight failover", settings):
        first = read_lock(_ref(s3))
        assert first is not None
        beats = [first]
        deadline = time.monotonic() + 5
        while beats[-1][1] == first[1] and time.monotonic() < deadline:
            time.sleep(0.01)
            found = read_lock(_ref(s3))
            assert found is not None, "held throughout"
            beats.append(found)
        assert beats[-1][1] != first[1], "rewritten"
        written = json.loads(s3.buckets[BUCKET]["locks/shop/-.json"][0])
        assert written["heartbeat"] > written["since"], "the heartbeat moved, not the start"
        assert beats[-1][0].token == first[0].token
    assert _holder(s3) is None


def test_the_old_holders_release_does_not_delete_the_new_holders_lock() -> None:
    s3, clock, said = *_timed(), []
    old = RunLock(_ref(s3), "run-a", "relight failover", _settings(clock, said))
    old.acquire()
    clock.advance(400)  # run-a hung (its machine slept): no heartbeat for 400 s
    new = RunLock(_ref(s3), "run-b", "relight failover", _settings(clock))
    new.acquire()
    old.release()
    assert _holder(s3) == "run-b"
    assert said == [
        "the run lock s3://relight-templates-123456789012-us-west-2/locks/shop/-.json was "
        "taken over by another run meanwhile; it is left to that run"
    ]


def test_a_holder_that_lost_its_lock_learns_it_at_its_next_heartbeat_and_stops() -> None:
    s3, clock, said = *_timed(), []
    old = RunLock(_ref(s3), "run-a", "relight failover", _settings(clock, said))
    old.acquire()
    clock.advance(400)
    RunLock(_ref(s3), "run-b", "relight failover", _settings(clock)).acquire()
    assert not old.beat()
    assert said[0].startswith("this run's lock on shop in us-west-2 was taken over by run run-b")
    with pytest.raises(LockLost):
        old.ensure_held()
    old.release()
    assert _holder(s3) == "run-b"


# breaking it --------------------------------------------------------------------------------


def test_break_lock_removes_the_lock_and_names_its_holder() -> None:
    s3, said = FakeS3(), []
    assert break_lock(_ref(s3)) is None, "nothing to break: no bucket yet"
    running = RunLock(_ref(s3), "run-a", "relight failover", _settings(Clock(), said))
    running.acquire()
    broken = break_lock(_ref(s3))
    assert isinstance(broken, Holder) and broken.run_id == "run-a"
    assert _holder(s3) is None
    assert break_lock(_ref(s3)) is None
    assert not running.beat(), "a live holder learns at its next heartbeat"
    assert said == [
        "this run's lock on shop in us-west-2 was removed (relight unlock); another run may "
        "be changing the same stacks"
    ]
    with hold(_ref(s3), "run-b", "relight failover"):
        assert _holder(s3) == "run-b"


def test_a_lock_relight_cannot_read_is_held_until_its_lease_lapses() -> None:
    s3, clock = _timed()
    s3.buckets["relight-templates-123456789012-us-west-2"] = {
        "locks/shop/-.json": (b"not json", '"x"', clock.at)
    }
    with pytest.raises(LockHeld) as caught:
        RunLock(_ref(s3), "run-b", "relight failover", _settings(clock)).acquire()
    assert "run unknown of unknown@unknown" in str(caught.value)
    clock.advance(301)
    RunLock(_ref(s3), "run-b", "relight failover", _settings(clock)).acquire()
    assert _holder(s3) == "run-b"


# on moto, through the engine ----------------------------------------------------------------


def test_on_moto_the_lock_lives_in_relights_bucket_in_the_target_region() -> None:
    with mock_aws():
        s3 = boto3.client("s3", REGION)
        clock, said = Clock(), []
        first = RunLock(_ref(s3), "run-a", "relight failover --env shop", _settings(clock))
        first.acquire()
        bucket = "relight-templates-123456789012-us-west-2"
        assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == REGION
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        s3.head_object(Bucket=bucket, Key=READY_KEY)  # configured, and marked so last
        body = json.loads(s3.get_object(Bucket=bucket, Key="locks/shop/-.json")["Body"].read())
        assert set(body) == {
            "run_id", "user", "host", "command", "pid", "since", "heartbeat", "lease_seconds",
            "token", "machine_id", "boot_id", "pid_namespace", "started",
        }  # fmt: skip
        assert body["since"] == "2025-06-01T12:00:00.000+00:00" and body["lease_seconds"] == 300
        with pytest.raises(LockHeld):
            RunLock(_ref(s3), "run-b", "relight failover", _settings(clock)).acquire()
        clock.advance(60)
        assert first.beat()
        clock.advance(400)
        second = RunLock(_ref(s3), "run-b", "relight failover", _settings(clock, said))
        second.acquire()
        assert said and said[0].startswith("took over the lock on shop in us-west-2 from run run-a")
        first.release()
        assert _holder(s3) == "run-b", "moto enforces If-Match on DeleteObject"
        second.release()
        assert _holder(s3) is None
        with hold(_ref(s3), "run-c", "relight failover"):
            assert break_lock(_ref(s3)) is not None
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]


@pytest.fixture
def moto_env(
    write_env: Callable[[str], Path],
) -> Iterator[tuple[LoadedEnvironment, Connection]]:
    with mock_aws():
        loaded = load_environment(str(write_env(MINIMAL)), REGION)
        yield loaded, Connection(Aws(AwsTarget()), REGION, ACCOUNT)


class RecordingAws(Aws):
    """moto, noting each (service, region) a client is made for."""

    def __init__(self) -> None:
        super().__init__(AwsTarget())
        self.made: set[tuple[str, str]] = set()

    def client(self, service: str, region: str, *, bounded: bool = False) -> Any:
        self.made.add((service, region))
        return super().client(service, region, bounded=bounded)


def test_a_failover_refuses_before_any_stack_is_created_when_another_run_holds_the_lock(
    moto_env: tuple[LoadedEnvironment, Connection],
) -> None:
    loaded, _ = moto_env
    aws = RecordingAws()
    conn = Connection(aws, REGION, ACCOUNT)
    plan = build_plan(loaded, REGION)
    with hold(lock_ref(loaded, conn), "run-elsewhere", "relight failover --env shop"):
        aws.made.clear()
        with pytest.raises(LockHeld) as caught:
            failover(plan, conn, lock=LockSettings(say=lambda _: None))
        assert "run run-elsewhere of " in str(caught.value)
        assert aws.made == {("s3", REGION)}, "only the lock was read, in the target region"
        cfn = boto3.client("cloudformation", REGION)
        assert cfn.describe_stacks()["Stacks"] == [], "no stack was created"
        assert _holder(conn.aws.client("s3", REGION)) == "run-elsewhere"


def test_a_test_copy_is_not_held_up_by_the_environments_own_lock(
    moto_env: tuple[LoadedEnvironment, Connection],
) -> None:
    loaded, conn = moto_env
    with hold(lock_ref(loaded, conn, "qa"), "launch-qa", "relight launch --as qa"):
        launch = build_plan(loaded, REGION, purpose="test", namespace="qa")
        with pytest.raises(LockHeld):
            failover(launch, conn, lock=LockSettings(say=lambda _: None))
        with hold(lock_ref(loaded, conn), "failover", "relight failover"):
            pass  # the environment's own lock is free


def test_teardown_and_replication_refuse_while_their_lock_is_held(
    moto_env: tuple[LoadedEnvironment, Connection],
) -> None:
    loaded, conn = moto_env
    with hold(lock_ref(loaded, conn, "qa"), "launch-qa", "relight launch --as qa"):
        with pytest.raises(LockHeld) as caught:
            teardown(loaded, conn, namespace="qa")
        assert "shop --as qa in us-west-2 is locked by another run" in str(caught.value)
        assert "relight unlock --env" in str(caught.value) and "--as qa" in str(caught.value)
    east = Connection(conn.aws, "us-east-1", ACCOUNT)
    with hold(lock_ref(loaded, conn, replication=True), "copying", "relight replicate"):
        with pytest.raises(LockHeld) as caught:
            replicate_environment(loaded, east, [REGION])
        assert str(caught.value).startswith("replication of shop into us-west-2 is locked")
    assert _holder(conn.aws.client("s3", REGION), REPLICATION) is None


# the stand-in's first run -------------------------------------------------------------------


def test_two_runs_on_a_fresh_stand_in_tell_its_story_once(
    moto_env: tuple[LoadedEnvironment, Connection],
) -> None:
    loaded, conn = moto_env
    told: list[str] = []
    results: dict[str, bool] = {}
    start = threading.Barrier(2)

    def run(run_id: str) -> None:
        def tell() -> None:
            told.append(run_id)
            time.sleep(0.3)  # the story takes a while

        start.wait()
        results[run_id] = ensure_story(
            conn.aws, loaded, run_id=run_id, say=lambda _: None, tell=tell,
            sleep=lambda _: time.sleep(0.02),
        )  # fmt: skip

    threads = [threading.Thread(target=run, args=(r,)) for r in ("run-a", "run-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(told) == 1
    assert results == {told[0]: True, ({"run-a", "run-b"} - set(told)).pop(): False}
    assert not ensure_story(conn.aws, loaded, run_id="run-c", say=lambda _: None, tell=told.clear)
    assert len(told) == 1


def test_a_failed_story_is_told_again_by_the_next_run(
    moto_env: tuple[LoadedEnvironment, Connection],
) -> None:
    loaded, conn = moto_env

    def fail() -> None:
        raise StandInError("story: the home build failed")

    with pytest.raises(StandInError):
        ensure_story(conn.aws, loaded, run_id="run-a", say=lambda _: None, tell=fail)
    told: list[str] = []
    assert ensure_story(
        conn.aws, loaded, run_id="run-b", say=lambda _: None, tell=lambda: told.append("b")
    )
    assert told == ["b"]


def test_a_story_whose_teller_stopped_is_reported_not_waited_for_forever(
    moto_env: tuple[LoadedEnvironment, Connection],
) -> None:
    loaded, conn = moto_env
    telling, finish = threading.Event(), threading.Event()

    def slow() -> None:
        telling.set()
        finish.wait(10)

    teller = threading.Thread(
        target=ensure_story,
        args=(conn.aws, loaded),
        kwargs={"run_id": "run-a", "say": lambda _: None, "tell": slow},
    )
    teller.start()
    try:
        assert telling.wait(10)
        later = datetime.now(UTC) + timedelta(seconds=700)
        said: list[str] = []
        with pytest.raises(StandInError) as caught:
            ensure_story(
                conn.aws, loaded, run_id="run-b", say=said.append, now=lambda: later,
                sleep=lambda _: None,
            )  # fmt: skip
        assert "was started by run run-a 70" in str(caught.value)
        assert "relight local stop" in str(caught.value)
    finally:
        finish.set()
        teller.join()


def test_relight_unlock_names_the_holder_it_removes(write_env: Any) -> None:
    from typer.testing import CliRunner

    from relight.cli import app

    path = write_env(MINIMAL.replace("stand_in: true", 'account_id: "123456789012"'))
    with mock_aws():
        s3 = boto3.client("s3", REGION)
        with hold(_ref(s3), "run-a", "relight failover --env shop"):
            asked = ["unlock", "--env", str(path), "--region", REGION, "--aws"]
            refused = CliRunner().invoke(app, asked)  # no terminal, no --yes: nothing removed
            assert refused.exit_code == 2, refused.output
            assert "unlock would remove the lock of shop in us-west-2, held by run run-a" in (
                refused.output
            )
            assert _holder(s3) == "run-a"
            done = CliRunner().invoke(app, [*asked, "--yes"])
            assert done.exit_code == 0, done.output
            assert "removed the lock: it was held by run run-a" in done.output
            assert _holder(s3) is None
            again = CliRunner().invoke(app, [*asked, "--yes"])
            assert "the lock of shop in us-west-2 is not held; nothing to do" in again.output


def test_a_run_whose_write_was_answered_late_and_retried_keeps_its_lock() -> None:
    """A conditional write that went through, whose answer was lost: botocore's retry gets 412.
    The run must see its own lock there, not refuse itself or give up its lock."""
    s3, clock = _timed()
    run = RunLock(_ref(s3), "run-a", "relight failover", _settings(clock))
    real_put = s3.put_object
    replays = {"left": 1}

    def put_then_replay(**kwargs: Any) -> Any:
        answer = real_put(**kwargs)
        if replays["left"]:  # the retry of the same request, after the first went through
            replays["left"] -= 1
            return real_put(**kwargs)  # raises 412: the condition no longer holds
        return answer

    s3.put_object = put_then_replay  # type: ignore[method-assign]
    run.acquire()
    assert _holder(s3) == "run-a" and run.etag is not None
    replays["left"] = 1
    clock.advance(60)
    assert run.beat(), "its own late write is not a lost lock"
    run.ensure_held()
    run.release()
    assert _holder(s3) is None, "released: the next run is not blocked for a lease"


def test_an_unreadable_answer_is_a_fault_the_heartbeat_and_release_survive() -> None:
    """botocore's ResponseParserError (an HTTP 500 page, an answer cut short) is not a
    BotoCoreError: it must not kill the heartbeat or make release raise."""
    from botocore.parsers import ResponseParserError

    s3, clock, said = *_timed(), []
    run = RunLock(_ref(s3), "run-a", "relight failover", _settings(clock, said))
    run.acquire()
    real_put, real_delete = s3.put_object, s3.delete_object

    def broken(**_: Any) -> Any:
        raise ResponseParserError("Unable to parse response, invalid XML received")

    s3.put_object = broken  # type: ignore[method-assign]
    clock.advance(60)
    assert run.beat(), "a fault: the next heartbeat tries again"
    assert said and "could not refresh the run lock" in said[-1]
    s3.put_object = real_put  # type: ignore[method-assign]
    s3.delete_object = broken  # type: ignore[method-assign]
    run.release()  # never raises
    s3.delete_object = real_delete  # type: ignore[method-assign]
    run.ensure_held()


def test_unlock_removes_only_the_holder_the_operator_was_shown() -> None:
    from relight.errors import RelightError

    s3, clock = _timed()
    first = RunLock(_ref(s3), "run-a", "relight failover", _settings(clock))
    first.acquire()
    shown = read_lock(_ref(s3))
    assert shown is not None
    first.release()
    with hold(_ref(s3), "run-b", "relight failover"):  # took it between question and answer
        with pytest.raises(RelightError, match="changed hands since you were asked"):
            break_lock(_ref(s3), shown[0])
        assert _holder(s3) == "run-b", "the other run's lock stays"
    with hold(_ref(s3), "run-c", "relight failover"):
        now = read_lock(_ref(s3))
        assert now is not None and break_lock(_ref(s3), now[0]) is not None
