"""What `relight prepare` made and checked for EC2 Auto Scaling, as a failover reads it.

Auto Scaling launches through its service-linked role, and a customer managed key lets that
role in only by its key policy or a grant (grants.py). Making the role is an IAM control-plane
call (us-east-1), so `relight prepare` makes it while IAM is up, grants it the keys the
failover's groups launch with, and records here what it found: the role's ARN, whether it
created the role, and each key's grant. A failover reads this record (a regional S3 read in
the target region) and never asks IAM.

The record lives in relight's bucket in the region, at `relight/prepared/<env>/autoscaling.json`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relight.aws.serving import read_record, write_record

PREFIX = "relight/prepared/"


def record_key(env: str) -> str:
    return f"{PREFIX}{env}/autoscaling.json"


@dataclass(frozen=True)
class AutoscalingRecord:
    role_arn: str
    role: str  # "created" (by this prepare) or "present" (IAM said it exists)
    at: str  # ISO 8601, when prepare checked
    keys: dict[str, str] = field(default_factory=dict)  # key → created, present, aws-managed

    def as_dict(self) -> dict[str, Any]:
        return {"role_arn": self.role_arn, "role": self.role, "at": self.at, "keys": self.keys}


def write_autoscaling_record(
    s3: Any, account_id: str, region: str, env: str, record: AutoscalingRecord
) -> None:
    write_record(s3, account_id, region, record_key(env), record.as_dict())


def read_autoscaling_record(
    s3: Any, account_id: str, region: str, env: str
) -> AutoscalingRecord | None:
    """The record prepare left in `region`, or None (never prepared, or no bucket yet)."""
    data = read_record(s3, account_id, region, record_key(env))
    if not data or not data.get("role_arn"):
        return None
    keys = data.get("keys")
    return AutoscalingRecord(
        role_arn=str(data["role_arn"]),
        role=str(data.get("role", "present")),
        at=str(data.get("at", "?")),
        keys={str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {},
    )
