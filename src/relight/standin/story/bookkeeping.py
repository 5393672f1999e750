"""The story's bookkeeping: whether it was told in this stand-in world, and for what
(`story_exists`, `story_fingerprint`, the marker), and `ensure_story`, which has it told once:
by the run whose claim is written first, the others waiting for its marker."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relight.aws.bucket import create_bucket
from relight.aws.clients import Aws
from relight.errors import StandInError
from relight.model.app_secrets import app_secrets
from relight.model.config import LoadedEnvironment
from relight.model.environment import Environment
from relight.model.times import parse_time
from relight.standin.story.common import Say, _code
from relight.standin.story.telling import Story

MARKER_BUCKET = "relight-stand-in"  # + the account: bucket names are global, on moto too


def marker_bucket(account: str) -> str:
    """Where the story's markers and claims live in `account` (moto, like S3, refuses a second
    account a bucket name another account holds: an estate's accounts each keep their own)."""
    return f"{MARKER_BUCKET}-{account}"


# How long a run waits for another run's story (it takes seconds to a minute); a claim this
# old without a marker was left by a run that stopped in the middle of the story.
STORY_WAIT_SECONDS = 600.0


def _marker_key(env_name: str) -> str:
    return f"stories/{env_name}.json"


def _claim_key(env_name: str) -> str:
    return f"stories/{env_name}.claim.json"


def story_exists(aws: Aws, env_name: str, region: str, fingerprint: str | None = None) -> bool:
    """The story of `env_name` was told in this stand-in world; given `fingerprint`
    (`story_fingerprint`), for what the environment file asks today."""
    from botocore.exceptions import ClientError

    s3 = aws.client("s3", region)
    try:
        got = s3.get_object(Bucket=_bucket(aws, region), Key=_marker_key(env_name))
    except ClientError:  # 404 or no bucket: no story yet
        return False
    if fingerprint is None:
        return True
    try:
        told = json.loads(got["Body"].read()).get("fingerprint")
    except ValueError:
        told = None
    return told in (None, fingerprint)  # a marker without one: told before they were kept


def story_fingerprint(env: Environment) -> str:
    """What the story made depends on: the artifact lookups, the regions and their keys. A
    file that changes them gets its story told again (reusing what is there)."""
    asked = {
        "home": env.home_region,
        "recovery": sorted(env.recovery_regions),
        "kms_keys": env.kms_keys,
        "artifacts": {name: lk.model_dump(mode="json") for name, lk in env.artifacts.items()},
        "app_secrets": sorted(set(app_secrets(env, env.home_region).values())),
    }
    return hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:16]


_LOST = ("PreconditionFailed", "ConditionalRequestConflict")


@dataclass(frozen=True)
class Claim:
    """Who is telling the story: the run, its process on this machine, since when."""

    run: str
    at: datetime
    pid: int | None = None
    host: str | None = None
    etag: str = ""

    def stopped(self) -> bool:
        """The run's process is known to be gone (on this machine; elsewhere: not known)."""
        if self.pid is None or self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's live process
            return False
        return False

    def who(self) -> str:
        return f"run {self.run}" + (f" (process {self.pid})" if self.pid else "")


def _bucket(aws: Aws, region: str) -> str:
    return marker_bucket(aws.owner(region))


def _claim(
    s3: Any, bucket: str, env_name: str, run_id: str, now: datetime, **condition: str
) -> str | None:
    """Write this run's claim under `condition` (If-None-Match "*": nobody's; If-Match: take
    over that claim); its ETag, or None when another run's write won."""
    from botocore.exceptions import ClientError

    body: dict[str, Any] = {"env": env_name, "run": run_id, "at": now.isoformat()}
    body.update(pid=os.getpid(), host=socket.gethostname())
    try:
        put = s3.put_object(
            Bucket=bucket, Key=_claim_key(env_name), Body=json.dumps(body), **condition
        )
    except ClientError as exc:
        if _code(exc) in _LOST:
            return None
        raise
    return str(put["ETag"])


def _claimed(s3: Any, bucket: str, env_name: str) -> Claim | None:
    """The claim that stands, or None when none does."""
    from botocore.exceptions import ClientError

    try:
        got = s3.get_object(Bucket=bucket, Key=_claim_key(env_name))
    except ClientError:
        return None
    try:
        data = json.loads(got["Body"].read())
    except ValueError:
        data = {}
    at = parse_time(data.get("at")) or parse_time(got.get("LastModified")) or datetime.now(UTC)
    pid = data.get("pid")
    return Claim(
        run=str(data.get("run", "unknown")),
        at=at,
        pid=pid if isinstance(pid, int) else None,
        host=data.get("host"),
        etag=str(got.get("ETag", "")),
    )


def _give_up(s3: Any, bucket: str, env_name: str, etag: str) -> None:
    """Remove this run's claim (only its own: If-Match), so a later run tells the story."""
    from botocore.exceptions import ClientError

    try:
        s3.delete_object(Bucket=bucket, Key=_claim_key(env_name), IfMatch=etag)
    except ClientError as exc:
        if _code(exc) not in (*_LOST, "NoSuchKey"):
            raise


def ensure_story(
    aws: Aws,
    loaded: LoadedEnvironment,
    *,
    run_id: str,
    say: Say,
    tell: Callable[[], None] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    wait_seconds: float = STORY_WAIT_SECONDS,
) -> bool:
    """Run the story once per stand-in world; True if this run told it.

    Of runs that start together, the one whose claim is written first tells it (`tell`,
    the Story by default); the others wait for its marker. A story that fails gives its
    claim up, so a later run tells it again. A claim whose run stopped without giving it up
    (killed: its process is gone) is taken over at once; one older than `wait_seconds`
    whose process cannot be checked (another machine's) is taken over then. Only a run still
    alive after `wait_seconds` is reported instead.
    """
    env_name, home = loaded.env.name, loaded.env.home_region
    fingerprint = story_fingerprint(loaded.env)
    if story_exists(aws, env_name, home, fingerprint):
        return False
    if story_exists(aws, env_name, home):
        say(
            f"stand-in story for {env_name}: the file's artifacts, regions or keys changed since "
            "it was told; telling it again (what is there is used as it is)"
        )
    s3 = aws.client("s3", home)
    bucket = _bucket(aws, home)
    create_bucket(s3, bucket, home)
    said = False
    while not story_exists(aws, env_name, home, fingerprint):
        etag = _claim(s3, bucket, env_name, run_id, now(), IfNoneMatch="*")
        if etag is None:
            claim = _claimed(s3, bucket, env_name)
            if claim is None:
                continue  # given up by the run that made it: claim it again
            waited = (now() - claim.at).total_seconds()
            alive = not claim.stopped()
            if alive and waited <= wait_seconds:
                if not said:
                    say(f"stand-in story for {env_name}: {claim.who()} is setting it up; waiting")
                    said = True
                sleep(1.0)
                continue
            if alive and claim.pid is not None and claim.host == socket.gethostname():
                raise StandInError(
                    f"the stand-in's first-run setup for {env_name} was started by run "
                    f"{claim.run} {waited:.0f} s ago and has not finished: its process "
                    f"{claim.pid} is still running",
                    hint="wait for it, or stop that run and rerun: the next run tells the "
                    "story again, reusing what it made; relight local stop starts the "
                    "stand-in from nothing",
                )
            etag = _claim(s3, bucket, env_name, run_id, now(), IfMatch=claim.etag)
            if etag is None:
                continue  # another waiting run took it over first
            why = "stopped" if not alive else f"did not finish in {waited:.0f} s"
            say(f"stand-in story for {env_name}: {claim.who()} {why}; telling it again")
        if story_exists(aws, env_name, home, fingerprint):
            _give_up(s3, bucket, env_name, etag)
            return False  # told by a run whose claim was given up just before ours
        try:
            (tell or (lambda: Story(aws, loaded, say).run(now(), run_id)))()
        except BaseException:  # failed or interrupted: let a later run tell it
            _give_up(s3, bucket, env_name, etag)
            raise
        told = {"env": env_name, "at": now().isoformat(), "run": run_id}
        s3.put_object(
            Bucket=bucket,
            Key=_marker_key(env_name),
            Body=json.dumps({**told, "fingerprint": fingerprint}),
        )
        _give_up(s3, bucket, env_name, etag)  # told: the claim is done with
        return True
    return False
