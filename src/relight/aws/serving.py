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
    s3.put_object(
        Bucket=bucket_name(account_id, marker.region),
        Key=marker_key(marker.env),
        Body=(json.dumps(marker.as_dict(), indent=2) + "\n").encode(),
        ContentType="application/json",
    )


def read_serving(s3: Any, account_id: str, region: str, env: str) -> Serving | None:
    """The marker of `env` in `region`, or None (no marker, or no bucket yet)."""
    from botocore.exceptions import ClientError

    try:
        answer = s3.get_object(Bucket=bucket_name(account_id, region), Key=marker_key(env))
    except ClientError as exc:
        if no_key(exc) or no_bucket(exc):
            return None
        raise AwsError(
            f"cannot read {marker_url(account_id, region, env)}: {exc}",
            hint="relight needs s3:GetObject and s3:ListBucket on its own bucket in the target "
            "region (without ListBucket, S3 answers a missing object with 403, not 404)",
        ) from exc
    try:
        data = json.loads(answer["Body"].read() or b"{}")
    except ValueError:  # unreadable: it still says a failover touched the region
        data = {}
    if not isinstance(data, dict):
        data = {}
    return Serving(
        env=str(data.get("env", env)),
        region=str(data.get("region", region)),
        since=str(data.get("since", "?")),
        run_id=str(data.get("run_id", "?")),
        strategy=str(data.get("strategy", "?")),
        state=str(data.get("state", SERVING)),
    )


def clear_serving(s3: Any, account_id: str, region: str, env: str) -> None:
    """Remove the marker (the environment no longer serves from `region`); no bucket, or no
    marker, is nothing to remove."""
    from botocore.exceptions import ClientError

    try:
        s3.delete_object(Bucket=bucket_name(account_id, region), Key=marker_key(env))
    except ClientError as exc:
        if no_bucket(exc) or no_key(exc):
            return
        raise AwsError(
            f"cannot remove {marker_url(account_id, region, env)}: {exc}",
            hint="relight needs s3:DeleteObject on its own bucket in the target region; "
            "remove the marker by hand before the next relight prepare there",
        ) from exc
