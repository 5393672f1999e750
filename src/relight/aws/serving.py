"""Which region serves an environment: a marker a verified failover leaves in the region.

A region that holds a failover must not be disturbed: `relight prepare` there would move
the standing stacks back to their standby scale (a fleet of one, no database address) under
live traffic. So after a verified failover of production (not a drill, not a test copy)
relight writes `relight/serving/<env>.json` into its own bucket in that region (a regional
S3 data-plane call, like the run lock), and `prepare` reads it first and refuses.

The marker says what ran and when. It stays until the environment is failed back: a
teardown of production there that leaves nothing removes it, or a person does
(`aws s3 rm`, the command the refusal prints).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from relight.aws.bucket import bucket_name
from relight.aws.lease import no_bucket, no_key
from relight.errors import AwsError

PREFIX = "relight/serving/"


FAILING_OVER, SERVING = "failing over", "serving"


@dataclass(frozen=True)
class Serving:
    env: str
    region: str
    since: str  # ISO 8601: when the failover started changing the region, or was verified
    run_id: str
    strategy: str
    state: str = SERVING  # FAILING_OVER from the failover's first change until it is verified

    def as_dict(self) -> dict[str, str]:
        return {
            "env": self.env,
            "region": self.region,
            "since": self.since,
            "run_id": self.run_id,
            "strategy": self.strategy,
            "state": self.state,
        }


def marker_key(env: str) -> str:
    return f"{PREFIX}{env}.json"


def marker_url(account_id: str, region: str, env: str) -> str:
    return f"s3://{bucket_name(account_id, region)}/{marker_key(env)}"


def mark_serving(s3: Any, account_id: str, marker: Serving) -> None:
    """Record that `marker.region` serves `marker.env` (after a verified failover)."""
    write_record(s3, account_id, marker.region, marker_key(marker.env), marker.as_dict())


def read_serving(s3: Any, account_id: str, region: str, env: str) -> Serving | None:
    """The marker of `env` in `region`, or None (no marker, or no bucket yet)."""
    data = read_record(s3, account_id, region, marker_key(env))
    if data is None:
        return None
    return Serving(
        env=str(data.get("env", env)),
        region=str(data.get("region", region)),
        since=str(data.get("since", "?")),
        run_id=str(data.get("run_id", "?")),
        strategy=str(data.get("strategy", "?")),
        state=str(data.get("state", SERVING)),
    )


def read_record(s3: Any, account_id: str, region: str, key: str) -> dict[str, Any] | None:
    """One of relight's JSON records in its bucket in `region`, or None (no such object, or
    no bucket yet). An unreadable body reads as {}: the record still says something ran."""
    from botocore.exceptions import ClientError

    url = f"s3://{bucket_name(account_id, region)}/{key}"
    try:
        answer = s3.get_object(Bucket=bucket_name(account_id, region), Key=key)
    except ClientError as exc:
        if no_key(exc) or no_bucket(exc):
            return None
        raise AwsError(
            f"cannot read {url}: {exc}",
            hint="relight needs s3:GetObject and s3:ListBucket on its own bucket in the target "
            "region (without ListBucket, S3 answers a missing object with 403, not 404)",
        ) from exc
    try:
        data = json.loads(answer["Body"].read() or b"{}")
    except ValueError:
        data = {}
    return data if isinstance(data, dict) else {}


def write_record(s3: Any, account_id: str, region: str, key: str, data: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket_name(account_id, region),
        Key=key,
        Body=(json.dumps(data, indent=2, sort_keys=True) + "\n").encode(),
        ContentType="application/json",
    )


def clear_serving(s3: Any, account_id: str, region: str, env: str) -> None:
    """Remove the marker (the environment no longer serves from `region`); no bucket, or no
    marker, is nothing to remove."""
    delete_record(
        s3,
        account_id,
        region,
        marker_key(env),
        hint="relight needs s3:DeleteObject on its own bucket in the target region; "
        "remove the marker by hand before the next relight prepare there",
    )


def delete_record(s3: Any, account_id: str, region: str, key: str, hint: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.delete_object(Bucket=bucket_name(account_id, region), Key=key)
    except ClientError as exc:
        if no_bucket(exc) or no_key(exc):
            return
        raise AwsError(
            f"cannot remove s3://{bucket_name(account_id, region)}/{key}: {exc}", hint=hint
        ) from exc


# A failback's progress (commands/failback.py): what each finished phase made, so a rerun
# goes on from the first unfinished phase and never redoes one whose result is in use.
FAILBACK_PREFIX = "relight/failback/"


def failback_key(env: str) -> str:
    return f"{FAILBACK_PREFIX}{env}.json"
