"""What a copy is: what happened to it (`CopyResult`), the tags and the identifier it gets,
the ARN its RDS source is named by, and what a key policy must allow the recovery account
(`KEY_ACTIONS`, `key_policy_gaps`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from relight.aws.grants import account_principal, policy_allows
from relight.model.shapes import tag_list
from relight.model.values import partition_of
from relight.steps.discovery import (
    COPY_MARK,
    LINEAGE_ID,
    LINEAGE_REGION,
    LINEAGE_TIME,
    LINEAGE_VOLUME,
    Candidate,
    rds_snapshot_id,
)

# What the recovery account must be allowed on a customer managed key to copy what it protects.
KEY_ACTIONS = ("Decrypt", "CreateGrant", "DescribeKey")


@dataclass
class CopyResult:
    artifact: str
    kind: str
    source_id: str
    region: str
    action: str  # copied, started, up-to-date, deferred, pruned, in-use (kept by prune), failed
    copy_id: str = ""
    reason: str = ""
    seconds: float = 0.0


def copy_tags(source: Candidate, region: str) -> list[dict[str, str]]:
    """The source's own tags (not aws:*) plus lineage and the copy mark, as an AWS tag list."""
    tags = {k: v for k, v in source.tags.items() if not k.startswith(("aws:", "relight:"))}
    tags.update(
        {
            LINEAGE_ID: source.id,
            LINEAGE_REGION: region,
            LINEAGE_TIME: (source.source_time or source.created).isoformat(timespec="seconds"),
            COPY_MARK: "true",
        }
    )
    if source.volume:
        tags[LINEAGE_VOLUME] = source.volume
    return tag_list(tags)


def _arn(kind: str, region: str, account: str, name: str) -> str:
    if name.startswith("arn:"):  # a snapshot shared with this account is named by its ARN
        return name
    what = "snapshot" if kind == "rds_snapshot" else "cluster-snapshot"
    return f"arn:{partition_of(region)}:rds:{region}:{account}:{what}:{name}"


def _custom_option_group(source: Candidate) -> bool:
    """A DB snapshot of a DB with its own option group (RDS's own are named `default:...`)."""
    return (
        source.kind == "rds_snapshot"
        and bool(source.option_group)
        and not source.option_group.startswith("default:")
    )


def key_policy_gaps(policy: str, account: str) -> list[str]:
    """The KEY_ACTIONS a key policy (JSON) does not allow `account` (wildcards count)."""
    allowed = policy_allows(policy, account_principal(account), KEY_ACTIONS)
    return [f"kms:{action}" for action in KEY_ACTIONS if action not in allowed]


def rds_copy_id(source_id: str, region: str) -> str:
    """A valid identifier for the copy: letters, digits, single hyphens, starting with a letter
    (automated snapshots are `rds:<db>-<time>`, shared ones ARNs)."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{rds_snapshot_id(source_id)}-{region}").strip("-")
    return (name if name[:1].isalpha() else f"copy-{name}")[:255].rstrip("-")
