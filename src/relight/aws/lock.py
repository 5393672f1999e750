"""One mutating run at a time per environment, region and namespace: a lease kept in S3.

A run that changes an environment (failover, launch, drill, teardown, replicate) first
takes the lock `locks/<env>/<namespace or ->.json` in relight's own bucket in the region it
changes (`relight-templates-<account>-<region>`, bucket.py). Only that region is called:
the home region may be the one that is down. The same code runs on the stand-in.

Every write is an S3 conditional request, so of two runs on two machines only one wins:

- taking it: PutObject with If-None-Match "*". The loser gets 412 PreconditionFailed,
  reads who holds the lock and refuses at once (LockHeld, exit 1; nothing was changed);
- holding it: every `heartbeat_seconds` a daemon thread rewrites the lock's `heartbeat`
  with If-Match on the ETag it last wrote;
- a holder whose heartbeat is older than its lease has died (killed, its machine lost), the
  heartbeat's age measured by S3's clock alone (lease.py), never the holder's against ours:
  the next run takes the lock over with If-Match on that holder's ETag and says whose lock
  it took and why. Of two runs taking over at once, one wins; the other is refused;
- releasing it: DeleteObject with If-Match on the run's own ETag, on every exit (errors,
  Ctrl-C), so a run whose lock was taken over never deletes its successor's.

A run that is refused changes nothing, not even relight's bucket: with `defer_bucket`, a run
that finds no bucket in the region (it was never prepared) does not make one to lock in. It
checks first, unlocked (nothing can be locked without the bucket, and no other run holds a
lock there), and takes the lock at its first change (`take`, or `ensure_held`): only then is
the bucket made and configured, and of two runs that got that far, the lock's conditional
write lets one through.

`break_lock` (the command `relight unlock`) removes a lock whose holder is known to be dead
without waiting for its lease. `relight replicate` locks each target region under its own
scope, REPLICATION, so a long copy never holds up a failover (see relight.commands.connection).

The lock object itself (`Holder`, `LockRef`), reading it and breaking it are in lease.py;
here is a run holding it (`RunLock`, `hold`).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime

from relight.aws.bucket import TemplateBucket
from relight.aws.lease import (
    LEASE_SECONDS,
    ROUNDS,
    Holder,
    LockRef,
    code,
    failed,
    lost_race,
    no_bucket,
    no_key,
    read_lock,
    status,
    utc_now,
)
from relight.aws.liveness import Whereabouts
from relight.errors import AwsError, RelightError
from relight.model.times import human_age

HEARTBEAT_SECONDS = 60.0

Clock = Callable[[], datetime]
Say = Callable[[str], None]


def to_stderr(line: str) -> None:
    """The default for messages about the lock: they must not go unseen."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return os.environ.get("USER") or "unknown"


class LockHeld(RelightError):
    """Another run holds the lock: this run could not start, and nothing was changed."""

    exit_code = 1

    def __init__(self, ref: LockRef, holder: Holder, now: datetime) -> None:
        self.holder = holder
        self.url = ref.url
        self.unlock_command = ref.unlock_command()
        lapses = max(0.0, holder.lease_seconds - holder.silent_for(now))
        super().__init__(
            f"{ref.describe()} is locked by another run: {holder.describe(now)} "
            f"(lock {ref.url}); nothing was changed",
            hint=f"let that run finish. If it died, its lock is taken over once its heartbeat "
            f"is {holder.lease_seconds:g} s old (in {human_age(lapses)} at the latest); to "
            f"break it now: {self.unlock_command}",
        )


class _NoBucket(Exception):
    """relight's bucket does not exist, and this run may not make it yet."""


class LockLost(RelightError):
    """This run's lock was taken over or broken while it ran: it stops before changing more."""


@dataclass(frozen=True)
class LockSettings:
    """How a run holds its lock. `command` is what other runs are shown (default: the
    operation's own command line); `now` is this machine's clock (what the lock shows; ages
    are S3's, lease.py); `say` receives the messages about the lock (a take-over, a lost
    lock); `here` says where this run lives, to tell a holder on this machine that is gone."""

    command: str | None = None
    lease_seconds: float = LEASE_SECONDS
    heartbeat_seconds: float = HEARTBEAT_SECONDS
    now: Clock = utc_now
    say: Say = to_stderr
    here: Callable[[], Whereabouts] = Whereabouts.here  # where this run lives (liveness.py)

    def __post_init__(self) -> None:
        if not 0 < self.heartbeat_seconds < self.lease_seconds:
            raise ValueError("a lock's heartbeat must come more often than its lease lapses")


# holding it ---------------------------------------------------------------------------------


class RunLock:
    """The lock of one run: taken by `acquire`, kept by heartbeats, given back by `release`.

    Use `hold(...)`, which does all three around the run.
    """

    def __init__(
        self,
        ref: LockRef,
        run_id: str,
        command: str,
        settings: LockSettings,
        *,
        defer_bucket: bool = False,
    ) -> None:
        self.ref = ref
        self.settings = settings
        # False until the run's first change when `defer_bucket`: no bucket is made before.
        self._may_make_bucket = not defer_bucket
        self.waiting = False  # no bucket yet: the lock is taken at the run's first change
        now = settings.now()
        here = settings.here()
        self.me = Holder(
            run_id=run_id,
            user=_user(),
            host=here.host,
            command=command,
            pid=here.pid,
            since=now,
            heartbeat=now,
            lease_seconds=settings.lease_seconds,
            token=secrets.token_hex(8),
            machine_id=here.machine_id,
            boot_id=here.boot_id,
            pid_namespace=here.pid_namespace,
            started=here.started,
        )
        self.etag: str | None = None
        self.took_over: Holder | None = None
        self.lost: str | None = None
        self.notes: list[str] = []  # what the run should report about its lock
        self._mutex = threading.Lock()  # one S3 write at a time: heartbeat or release
        self._taking = threading.Lock()  # one first change takes a waiting lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._faulted = False

    def _write(self, holder: Holder, **condition: str) -> str:
        got = self.ref.s3.put_object(
            Bucket=self.ref.bucket,
            Key=self.ref.key,
            Body=holder.to_json(),
            ContentType="application/json",
            **condition,
        )
        return str(got["ETag"])

    def _try(self, holder: Holder, **condition: str) -> str | None:
        """Write the lock under `condition`; its new ETag, or None when another run's write
        won (the condition did not hold, or the key is gone for an If-Match)."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError  # not a BotoCoreError

        try:
            try:
                return self._write(holder, **condition)
            except ClientError as exc:
                if not no_bucket(exc):
                    raise
                if not self._may_make_bucket:
                    raise _NoBucket from exc
                TemplateBucket(self.ref.s3, self.ref.region, self.ref.account_id).ensure()
                return self._write(holder, **condition)
        except ClientError as exc:
            if lost_race(exc) or no_key(exc):
                return None
            raise failed(self.ref, "take", exc) from exc
        except (BotoCoreError, ResponseParserError) as exc:
            raise failed(self.ref, "take", exc) from exc

    def acquire(self) -> None:
        """Take the lock, or take over a dead holder's; LockHeld when a live run holds it.
        With `defer_bucket` and no bucket in the region: `waiting`, until the first change."""
        try:
            self._acquire()
        except _NoBucket:
            self.waiting = True

    def take(self, *, configure: bool = False) -> None:
        """The run's first change comes next. A lock that waited for relight's bucket makes
        and configures it now (AwsError when it cannot), then takes the lock (LockHeld when
        another run got there first: still nothing was changed). `configure` (prepare): the
        bucket is configured now, made or not."""
        with self._taking:  # deploy's threads may each ask before their first change
            if configure or self.waiting:
                bucket = TemplateBucket(self.ref.s3, self.ref.region, self.ref.account_id)
                if configure:
                    bucket.configure()
                else:
                    bucket.ensure()
            if self.waiting:
                self._may_make_bucket = True
                self._acquire()
                self.waiting = False
                self.start_heartbeat()

    def _acquire(self) -> None:
        for _ in range(ROUNDS):
            now = self.settings.now()
            self.me = replace(self.me, since=now, heartbeat=now)
            etag = self._try(self.me, IfNoneMatch="*")
            if etag:
                self.etag = etag
                return
            found = read_lock(self.ref, self.settings.now)
            if found is None:
                continue  # released between our write and our read
            holder, theirs = found
            now = self.settings.now()
            if self._is_me(holder):  # our write went through; botocore's retry got the 412
                self.etag = theirs
                return
            gone = (
                None
                if holder.expired(now)
                else holder.whereabouts.gone(self.settings.here(), holder.silent_for(now))
            )
            if gone is None and not holder.expired(now):
                raise LockHeld(self.ref, holder, now)
            self.me = replace(self.me, since=now, heartbeat=now)
            etag = self._try(self.me, IfMatch=theirs)
            if etag:
                self.etag, self.took_over = etag, holder
                why = (
                    f"{gone}, so that run is dead"
                    if gone
                    else f"no heartbeat for longer than its lease of {holder.lease_seconds:g} s, "
                    "so that run is taken to be dead"
                )
                self._tell(
                    f"took over the lock on {self.ref.describe()} from {holder.describe(now)}: "
                    + why
                )
                return
        found = read_lock(self.ref, self.settings.now)
        if found is not None:
            raise LockHeld(self.ref, found[0], self.settings.now())
        raise AwsError(
            f"cannot take the run lock {self.ref.url}: it changed under each of {ROUNDS} attempts",
            hint="other runs are starting on the same environment right now: try again",
        )

    def _tell(self, message: str) -> None:
        self.notes.append(message)
        self.settings.say(message)

    def beat(self) -> bool:
        """Refresh the heartbeat; False once the lock is no longer this run's."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError  # not a BotoCoreError

        with self._mutex:
            if self.etag is None or self.lost is not None:
                return False
            me = replace(self.me, heartbeat=self.settings.now())
            try:
                etag = self._write(me, IfMatch=self.etag)
            except ClientError as exc:
                if code(exc) == "PreconditionFailed" or status(exc) == 412 or no_key(exc):
                    mine = self._still_mine()
                    if mine is not None:  # our own write, answered late and retried
                        self.me, self.etag, self._faulted = me, mine, False
                        return True
                    self._lose()
                    return False
                self._fault(exc)  # a 409 conflict, throttling, ...: the next beat tries again
                return True
            except (BotoCoreError, ResponseParserError) as exc:
                self._fault(exc)
                return True
            self.me, self.etag, self._faulted = me, etag, False
            return True

    def _is_me(self, holder: Holder) -> bool:
        return bool(holder.token) and holder.token == self.me.token

    def _still_mine(self) -> str | None:
        """The lock's ETag when it still names this run (a write whose answer was lost)."""
        try:
            found = read_lock(self.ref, self.settings.now)
        except AwsError:
            return None
        return found[1] if found and self._is_me(found[0]) else None

    def _fault(self, exc: Exception) -> None:
        if not self._faulted:
            self._faulted = True
            self.settings.say(
                f"could not refresh the run lock {self.ref.url} ({exc}); trying again in "
                f"{self.settings.heartbeat_seconds:g} s"
            )

    def _lose(self) -> None:
        try:
            found = read_lock(self.ref, self.settings.now)
        except AwsError:
            found = None
        now = self.settings.now()
        by = f"taken over by {found[0].describe(now)}" if found else "removed (relight unlock)"
        self.lost = (
            f"this run's lock on {self.ref.describe()} was {by}; another run may be changing "
            "the same stacks"
        )
        self._tell(self.lost)

    def ensure_held(self) -> None:
        """Before the next change: the lock is taken if it waited for relight's bucket; the
        run stops once the lock is lost."""
        if self.waiting:
            self.take()
        if self.lost is not None:
            raise LockLost(
                self.lost,
                hint="this run stopped before its next change: let the other run finish, then "
                "rerun",
            )

    def start_heartbeat(self) -> None:
        def run() -> None:
            while not self._stop.wait(self.settings.heartbeat_seconds):
                if not self.beat():
                    return

        self._thread = threading.Thread(
            target=run, name=f"relight-lock {self.ref.key}", daemon=True
        )
        self._thread.start()

    def release(self) -> None:
        """Give the lock back, unless another run took it over meanwhile. Never raises: the
        run's own outcome matters more, and an unreleased lock lapses after its lease."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError  # not a BotoCoreError

        self._stop.set()
        with self._mutex:
            etag, self.etag = self.etag, None
            if etag is None or self.lost is not None:
                return
            try:
                self.ref.s3.delete_object(Bucket=self.ref.bucket, Key=self.ref.key, IfMatch=etag)
            except ClientError as exc:
                if no_key(exc):
                    pass  # removed by relight unlock
                elif lost_race(exc):
                    self.settings.say(
                        f"the run lock {self.ref.url} was taken over by another run meanwhile; "
                        "it is left to that run"
                    )
                else:
                    self._unreleased(exc)
            except (BotoCoreError, ResponseParserError) as exc:
                self._unreleased(exc)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _unreleased(self, exc: Exception) -> None:
        self.settings.say(
            f"could not release the run lock {self.ref.url} ({exc}): it lapses "
            f"{self.settings.lease_seconds:g} s after its last heartbeat, or remove it with: "
            f"{self.ref.unlock_command()}"
        )


@contextlib.contextmanager
def hold(
    ref: LockRef,
    run_id: str,
    command: str,
    settings: LockSettings | None = None,
    *,
    defer_bucket: bool = False,
) -> Iterator[RunLock]:
    """Hold the lock for the run inside the `with`: taken first (LockHeld when another live
    run holds it), heartbeats while it runs, released on every exit, Ctrl-C included. With
    `defer_bucket`, a region without relight's bucket gets none until the run's first change
    (`RunLock.take`, `ensure_held`): the lock waits until then."""
    lock = RunLock(ref, run_id, command, settings or LockSettings(), defer_bucket=defer_bucket)
    try:
        lock.acquire()
        if not lock.waiting:
            lock.start_heartbeat()
        yield lock
    finally:
        lock.release()
