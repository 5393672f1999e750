"""The run lock keeps time by S3, and knows a dead holder on its own machine at once.

Ages come from S3 alone: the lock object's `LastModified` against the `Date` header of the
answer that read it (docs/aws-behaviours.md S5), so the clocks of the holder and of the run
that reads it may be minutes apart. A holder on this machine whose process is gone (killed
with SIGKILL, or the machine rebooted) is taken over at once, saying why; a live one, or one
on another host, waits for its lease (S7).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from relight.aws.bucket import TemplateBucket
from relight.aws.lease import LockRef, read_lock
from relight.aws.liveness import Whereabouts
from relight.aws.lock import LockHeld, LockSettings, RunLock
from s3_fake import REGION, Clock, FakeS3

ACCOUNT = "123456789012"
KEY = "locks/shop/-.json"


def _ref(s3: Any) -> LockRef:
    return LockRef(s3, ACCOUNT, REGION, "shop")


def _off(clock: Clock, seconds: float) -> Callable[[], datetime]:
    """A machine's clock `seconds` ahead of S3's (behind when negative)."""
    return lambda: clock() + timedelta(seconds=seconds)


def _settings(
    now: Callable[[], datetime],
    said: list[str] | None = None,
    here: Callable[[], Whereabouts] = Whereabouts.here,
) -> LockSettings:
    return LockSettings(
        now=now, say=(said.append if said is not None else lambda _: None), here=here
    )


def _holder(s3: Any) -> str | None:
    found = read_lock(_ref(s3))
    return found[0].run_id if found else None


# ages by S3's clock -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("holder_off", "reader_off"),
    [(600, 0), (-600, 0), (0, 600), (0, -600), (600, -600)],
    ids=["holder-ahead", "holder-behind", "reader-ahead", "reader-behind", "both"],
)
def test_clocks_ten_minutes_apart_neither_break_the_lock_nor_stall_its_take_over(
    holder_off: float, reader_off: float
) -> None:
    s3_clock = Clock()
    s3 = FakeS3(clock=s3_clock)
    holder = RunLock(_ref(s3), "run-a", "relight failover", _settings(_off(s3_clock, holder_off)))
    holder.acquire()
    s3_clock.advance(60)
    assert holder.beat()
    written = s3.buckets[f"relight-templates-{ACCOUNT}-{REGION}"][KEY]

    s3_clock.advance(299)  # by S3's clock: 299 s since the last heartbeat, inside the lease
    reader = _off(s3_clock, reader_off)
    with pytest.raises(LockHeld) as caught:
        RunLock(_ref(s3), "run-b", "relight failover", _settings(reader)).acquire()
    assert caught.value.holder.run_id == "run-a"
    assert caught.value.holder.silent_for(reader()) == pytest.approx(299, abs=1)
    message = str(caught.value)
    assert "last heartbeat 4 min ago" in message and "nothing was changed" in message
    assert s3.buckets[f"relight-templates-{ACCOUNT}-{REGION}"][KEY] == written, "untouched"

    s3_clock.advance(2)  # 301 s by S3: the lease has lapsed, whatever the machines' clocks say
    said: list[str] = []
    heir = RunLock(_ref(s3), "run-b", "relight failover", _settings(reader, said))
    heir.acquire()
    assert heir.took_over is not None and heir.took_over.run_id == "run-a"
    assert _holder(s3) == "run-b"
    assert said[0].startswith("took over the lock on shop in us-west-2 from run run-a of ")
    assert "no heartbeat for longer than its lease of 300 s" in said[0]


def test_without_a_date_header_the_holders_own_heartbeat_is_read() -> None:
    """An emulator that sends no Date header (moto in-process): the recorded heartbeat."""
    s3_clock = Clock()
    s3 = FakeS3(clock=s3_clock)
    real_get = s3.get_object

    def no_date(**kwargs: Any) -> Any:
        answer = real_get(**kwargs)
        answer["ResponseMetadata"]["HTTPHeaders"].pop("date")
        return answer

    s3.get_object = no_date  # type: ignore[method-assign]
    RunLock(_ref(s3), "run-a", "relight failover", _settings(s3_clock)).acquire()
    s3_clock.advance(200)
    found = read_lock(_ref(s3), s3_clock)
    assert found is not None and found[0].silent_for(s3_clock()) == 200


# a holder on this machine whose process is gone ------------------------------------------------


def _dead_pid() -> int:
    """The pid of a process that has ended and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _held_by(s3: FakeS3, where: Whereabouts, clock: Clock) -> None:
    RunLock(_ref(s3), "run-a", "relight failover", _settings(clock, here=lambda: where)).acquire()


def _take(s3: FakeS3, clock: Clock, said: list[str]) -> RunLock:
    run = RunLock(_ref(s3), "run-b", "relight failover", _settings(clock, said))
    run.acquire()
    return run


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
@pytest.mark.parametrize(
    ("change", "why"),
    [
        ("pid", "no process {pid} runs on {host}, so that run is dead"),
        (
            "reused",
            "process {pid} on {host} is another program now (its pid reused), so that run is dead",
        ),
    ],
)
def test_a_gone_holder_on_this_machine_is_taken_over_at_once_saying_why(
    change: str, why: str
) -> None:
    here = Whereabouts.here()
    assert here.boot_id and here.started, "this machine can say where a run lives"
    holder = {
        "pid": replace(here, pid=_dead_pid()),
        "reused": replace(here, started=str(int(here.started) + 1)),  # this pid, earlier run
    }[change]
    s3, clock, said = FakeS3(), Clock(), []
    s3.clock = clock
    _held_by(s3, holder, clock)
    clock.advance(1)  # a second after its last heartbeat: far inside its lease
    heir = _take(s3, clock, said)
    assert heir.took_over is not None and heir.took_over.run_id == "run-a"
    assert _holder(s3) == "run-b"
    assert said == heir.notes and len(said) == 1
    assert said[0].startswith("took over the lock on shop in us-west-2 from run run-a of ")
    assert said[0].endswith(why.format(pid=holder.pid, host=here.host))


def test_a_holder_silent_since_before_this_boot_is_taken_over_at_once() -> None:
    """The holder's machine id and host are this machine's, its boot id another: it ran here
    before a reboot only if its lock has been silent (by S3's clock) longer than this machine
    has been up."""
    me = Whereabouts("laptop", 4242, "m-1", "boot-2", "pid:[1]", "99", uptime=120.0)
    before = replace(me, boot_id="boot-1", pid=17, uptime=None)
    s3, clock, said = FakeS3(), Clock(), []
    s3.clock = clock
    _held_by(s3, before, clock)
    clock.advance(121)  # silent 121 s by S3's clock; this machine has been up 120 s
    heir = RunLock(_ref(s3), "run-b", "relight failover", _settings(clock, said, lambda: me))
    heir.acquire()
    assert heir.took_over is not None and heir.took_over.run_id == "run-a"
    assert _holder(s3) == "run-b"
    assert said[0].endswith(
        "laptop has restarted since that run began (its lock silent 121 s, this machine up "
        "120 s), so that run is dead"
    )


def test_a_clone_with_this_machines_id_that_wrote_since_this_boot_waits_for_its_lease() -> None:
    """A cloned image carries the same machine id and host name: a holder with another boot id
    whose lock was written after this machine booted may be alive elsewhere."""
    me = Whereabouts("laptop", 4242, "m-1", "boot-2", "pid:[1]", "99", uptime=3600.0)
    clone = replace(me, boot_id="boot-of-the-clone", pid=17, uptime=None)
    s3, clock = FakeS3(), Clock()
    s3.clock = clock
    _held_by(s3, clone, clock)
    clock.advance(60)  # a heartbeat's silence: far less than this machine's hour up
    heir = RunLock(_ref(s3), "run-b", "relight failover", _settings(clock, [], lambda: me))
    with pytest.raises(LockHeld) as caught:
        heir.acquire()
    assert "let that run finish" in caught.value.hint
    assert _holder(s3) == "run-a", "nothing was changed"
    clock.advance(241)  # the lease lapses: taken over by the lease, not the boot id
    said: list[str] = []
    RunLock(_ref(s3), "run-b", "relight failover", _settings(clock, said, lambda: me)).acquire()
    assert "no heartbeat for longer than its lease of 300 s" in said[0]


@pytest.mark.parametrize(
    "where",
    ["live", "other-host", "no-proc", "other-pid-namespace", "unrecorded"],
)
def test_a_holder_that_may_be_alive_waits_for_its_lease(where: str) -> None:
    here = Whereabouts.here()
    dead = _dead_pid()
    holder = {
        "live": here,  # this very process: alive
        "other-host": replace(here, host="build-7", pid=dead),
        "no-proc": Whereabouts(here.host, dead),  # a system without /proc: nothing known
        "other-pid-namespace": replace(here, pid=dead, pid_namespace="pid:[1]"),
        "unrecorded": Whereabouts(here.host, dead),  # a lock written before these were kept
    }[where]
    s3, clock = FakeS3(), Clock()
    s3.clock = clock
    _held_by(s3, holder, clock)
    clock.advance(60)
    with pytest.raises(LockHeld) as caught:
        _take(s3, clock, [])
    assert "let that run finish" in caught.value.hint
    assert _holder(s3) == "run-a", "nothing was changed"
    clock.advance(241)  # the lease lapses: taken over as before
    said: list[str] = []
    _take(s3, clock, said)
    assert "no heartbeat for longer than its lease of 300 s" in said[0]


# a real run, killed with SIGKILL, on the stand-in ----------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys, time
    import boto3
    from relight.aws.lease import LockRef
    from relight.aws.lock import LockSettings, RunLock
    s3 = boto3.client("s3", region_name=sys.argv[2], endpoint_url=sys.argv[1])
    lock = RunLock(LockRef(s3, sys.argv[3], sys.argv[2], "shop"), "run-killed",
                   "relight failover --env shop", LockSettings(say=lambda _: None))
    lock.acquire()
    lock.start_heartbeat()
    print("held", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_a_run_killed_with_sigkill_is_taken_over_at_once_by_the_rerun(state_dir: Path) -> None:
    import boto3

    from relight import standin

    server = standin.ensure_running(state_dir)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=server.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    TemplateBucket(s3, REGION, ACCOUNT).configure()  # prepared
    run = subprocess.Popen(
        [sys.executable, "-c", HOLDER, server.endpoint, REGION, ACCOUNT],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert run.stdout is not None and run.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match="is locked by another run: run run-killed"):
            RunLock(_ref(s3), "run-b", "relight failover", LockSettings()).acquire()
        found = read_lock(_ref(s3))
        assert found is not None and found[0].pid == run.pid, "a live run is not taken over"
    finally:
        os.kill(run.pid, signal.SIGKILL)
        run.wait()
    said: list[str] = []
    heir = RunLock(_ref(s3), "run-b", "relight failover", LockSettings(say=said.append))
    heir.acquire()  # at once: its heartbeat is seconds old, far inside the lease
    assert heir.took_over is not None and heir.took_over.run_id == "run-killed"
    assert said[0].endswith(f"no process {run.pid} runs on {heir.me.host}, so that run is dead")
    heir.release()
    assert read_lock(_ref(s3)) is None
