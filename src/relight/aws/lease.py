"""The run lock's object in S3: whom it names, where it lives, reading it and breaking it.

A `Holder` is what the lock object `locks/<env>/<namespace or ->.json` holds (the run, its
heartbeat and its lease); a `LockRef` says where that object lives, in relight's own bucket
in the region a run changes (bucket.py), and how to name it to the operator. `read_lock`
reads who holds it; `break_lock` (the command `relight unlock`) removes a lock whose holder
is known to be dead without waiting for its lease. Taking, renewing and releasing the lock
are in lock.py.

How long a holder has been silent is measured by S3 alone: every heartbeat rewrites the
object, so its `LastModified` is S3's time of the last heartbeat, and the `Date` header of
the answer that read it is S3's time now. Their difference is the holder's silence, whatever
the holder's and the reader's clocks say (a skew of minutes must neither take over a live
run's lock nor hold up the take-over of a dead one's). `read_lock` places the holder's
times on the reader's clock by that measure; the holder's own `heartbeat` field is shown,
never compared. Only an answer without a `Date` header (an emulator; S3 always sends it)
falls back to the holder's recorded heartbeat.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from relight.aws.bucket import bucket_name
from relight.aws.liveness import Whereabouts
from relight.errors import AwsError, RelightError
from relight.model.times import human_age, parse_time

LEASE_SECONDS = 300.0
# The scope of `relight replicate`'s lock in a target region. Namespaces start with a letter,
# so no test copy or drill can share it.
REPLICATION = "-replicate"
# Rounds of "write, read the holder, take over" before a key that keeps changing is given up.
ROUNDS = 4


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _shown(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class Holder:
    """The run a lock names: what the lock object holds."""

    run_id: str
    user: str
    host: str
    command: str
    pid: int
    since: datetime
    heartbeat: datetime
    lease_seconds: float
    # Random per lock object: tells this run's own write (a retry answered 412) from another
    # run's, even one with the same id on the same host.
    token: str = ""
    # Where the run lives (liveness.py): on its own machine, a rerun knows at once that it is
    # gone. Empty in a lock written without them: the lease decides.
    machine_id: str = ""
    boot_id: str = ""
    pid_namespace: str = ""
    started: str = ""

    @property
    def whereabouts(self) -> Whereabouts:
        return Whereabouts(
            self.host, self.pid, self.machine_id, self.boot_id, self.pid_namespace, self.started
        )

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "run_id": self.run_id,
                "user": self.user,
                "host": self.host,
                "command": self.command,
                "pid": self.pid,
                "since": _iso(self.since),
                "heartbeat": _iso(self.heartbeat),
                "lease_seconds": self.lease_seconds,
                "token": self.token,
                "machine_id": self.machine_id,
                "boot_id": self.boot_id,
                "pid_namespace": self.pid_namespace,
                "started": self.started,
            },
            indent=2,
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes, written: datetime) -> Holder:
        """The holder a lock object names. What relight cannot read (another tool's object, a
        truncated write) is held by "unknown" since `written`, with the default lease."""
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {}
        lease = data.get("lease_seconds")
        pid = data.get("pid")
        return cls(
            run_id=str(data.get("run_id") or "unknown"),
            user=str(data.get("user") or "unknown"),
            host=str(data.get("host") or "unknown"),
            command=str(data.get("command") or "unknown"),
            pid=pid if isinstance(pid, int) else 0,
            since=parse_time(data.get("since")) or written,
            heartbeat=parse_time(data.get("heartbeat")) or written,
            lease_seconds=float(lease)
            if isinstance(lease, int | float) and lease > 0
            else LEASE_SECONDS,
            token=str(data.get("token") or ""),
            machine_id=str(data.get("machine_id") or ""),
            boot_id=str(data.get("boot_id") or ""),
            pid_namespace=str(data.get("pid_namespace") or ""),
            started=str(data.get("started") or ""),
        )

    def heard_at(self, heartbeat: datetime) -> Holder:
        """This holder with its last heartbeat at `heartbeat` (on the reader's clock), its
        start moved with it: the run's length is measured on the holder's own clock."""
        return replace(self, since=heartbeat - (self.heartbeat - self.since), heartbeat=heartbeat)

    def silent_for(self, now: datetime) -> float:
        """Seconds since the holder's last heartbeat."""
        return (now - self.heartbeat).total_seconds()

    def expired(self, now: datetime) -> bool:
        """No heartbeat for longer than the lease: the holder is taken to be dead."""
        return self.silent_for(now) > self.lease_seconds

    def describe(self, now: datetime) -> str:
        return (
            f"run {self.run_id} of {self.user}@{self.host} (pid {self.pid}), "
            f"`{self.command}`, since {_shown(self.since)} "
            f"({human_age(now - self.since)} ago), last heartbeat "
            f"{human_age(self.silent_for(now))} ago"
        )


@dataclass(frozen=True)
class LockRef:
    """Where the lock of one environment, region and scope lives, and how to name it."""

    s3: Any  # an S3 client in `region`
    account_id: str
    region: str
    env: str
    scope: str | None = None  # a namespace (launch --as, drill-<id>), REPLICATION, or None
    env_option: str | None = None  # what `--env` takes to name the environment; default: env

    @property
    def bucket(self) -> str:
        return bucket_name(self.account_id, self.region)

    @property
    def key(self) -> str:
        return f"locks/{self.env}/{self.scope or '-'}.json"

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def describe(self) -> str:
        if self.scope == REPLICATION:
            return f"replication of {self.env} into {self.region}"
        if self.scope:
            return f"{self.env} --as {self.scope} in {self.region}"
        return f"{self.env} in {self.region}"

    def unlock_command(self) -> str:
        words = ["relight", "unlock", "--env", self.env_option or self.env]
        words += ["--region", self.region]
        if self.scope == REPLICATION:
            words.append("--replication")
        elif self.scope:
            words += ["--as", self.scope]
        return shlex.join(words)


# S3's answers -----------------------------------------------------------------------------


def code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def status(exc: Any) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def lost_race(exc: Any) -> bool:
    """412 PreconditionFailed (the condition did not hold) or 409 ConditionalRequestConflict
    (another conditional write to the key was under way: S3 says to read and retry)."""
    return code(exc) in ("PreconditionFailed", "ConditionalRequestConflict") or status(exc) in (
        409,
        412,
    )


def no_key(exc: Any) -> bool:
    return code(exc) in ("NoSuchKey", "404") or (status(exc) == 404 and not no_bucket(exc))


def no_bucket(exc: Any) -> bool:
    return code(exc) == "NoSuchBucket"


def failed(ref: LockRef, action: str, exc: Exception) -> AwsError:
    return AwsError(
        f"cannot {action} the run lock {ref.url}: {exc}",
        hint=f"relight keeps its run locks in its own bucket in {ref.region} and needs "
        "s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on it (without "
        "s3:ListBucket S3 answers a missing lock with 403, not 404; s3:CreateBucket the first "
        "time); nothing was changed",
    )


def s3_silence(answer: dict[str, Any]) -> float | None:
    """Seconds since the object in `answer` (a GetObject's) was last written, by S3's clock:
    the answer's `Date` header minus the object's `LastModified`. None without either."""
    written = answer.get("LastModified")
    header = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if not isinstance(written, datetime) or not header:
        return None
    try:
        served = parsedate_to_datetime(str(header))
    except (TypeError, ValueError):
        return None
    if served.tzinfo is None:
        served = served.replace(tzinfo=UTC)
    return max(0.0, (served - written).total_seconds())


def read_lock(ref: LockRef, now: Callable[[], datetime] = utc_now) -> tuple[Holder, str] | None:
    """The lock's holder and the ETag of what it wrote last; None when nobody holds it.
    The holder's heartbeat is placed on `now`'s clock by S3's measure of its silence."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError  # not a BotoCoreError

    try:
        got = ref.s3.get_object(Bucket=ref.bucket, Key=ref.key)
        raw = got["Body"].read()
    except ClientError as exc:
        if no_key(exc) or no_bucket(exc):
            return None
        raise failed(ref, "read", exc) from exc
    except (BotoCoreError, ResponseParserError) as exc:
        raise failed(ref, "read", exc) from exc
    written = parse_time(got.get("LastModified")) or utc_now()
    holder = Holder.from_json(raw, written)
    silence = s3_silence(got)
    if silence is not None:
        holder = holder.heard_at(now() - timedelta(seconds=silence))
    return holder, str(got["ETag"])


def break_lock(ref: LockRef, expected: Holder | None = None) -> Holder | None:
    """Remove the lock (`relight unlock`); the holder it named, or None when there was none.
    A live holder notices at its next heartbeat and stops. With `expected` (the holder the
    operator was shown), only that holder's lock is removed: one that changed hands since is
    left alone (RelightError)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError  # not a BotoCoreError

    for _ in range(ROUNDS):
        found = read_lock(ref)
        if found is None:
            return None
        holder, etag = found
        if expected is not None and (holder.run_id, holder.token) != (
            expected.run_id,
            expected.token,
        ):
            raise RelightError(
                f"the lock on {ref.describe()} changed hands since you were asked: now held by "
                f"{holder.describe(utc_now())}; nothing was removed",
                hint="rerun relight unlock to see who holds it now",
            )
        try:
            ref.s3.delete_object(Bucket=ref.bucket, Key=ref.key, IfMatch=etag)
        except ClientError as exc:
            if no_key(exc):
                return None  # released meanwhile
            if lost_race(exc):
                continue  # a heartbeat came in between: read it again
            raise failed(ref, "remove", exc) from exc
        except (BotoCoreError, ResponseParserError) as exc:
            raise failed(ref, "remove", exc) from exc
        return holder
    raise AwsError(
        f"cannot remove the run lock {ref.url}: it changed under each of {ROUNDS} attempts",
        hint="its holder is alive and beating: let it finish, or try again",
    )
