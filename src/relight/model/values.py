"""The checks of single values in an environment file that are not its schema.

Durations (`15m`, `4h`), regions and their partitions (from botocore's bundled endpoint
data, no AWS call; a typo gets the closest region), tag keys and values as AWS accepts
them, and the shape of an IAM role's ARN. environment.py builds the schema from these.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

# An IAM role's ARN in any partition (aws, aws-cn, aws-us-gov, ...): the account's 12 digits,
# then the role's path and name (IAM allows letters, digits and +=,.@_- in names, / in paths).
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


ROLE_ARN_SHAPE = (
    "arn:aws:iam::<12-digit account id>:role/<name> (arn:aws-cn:…, arn:aws-us-gov:… in their "
    "partitions)"
)


def is_role_arn(value: str) -> bool:
    return ROLE_ARN.match(value) is not None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> int:
    """`90`, `"90s"`, `"15m"`, `"4h"`, `"1d"`, `"2w"` → seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 15m, 4h, 1d")
    if isinstance(value, int | float):
        return int(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a duration; write e.g. 900, 15m, 4h or 1d")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


Seconds = Annotated[int, BeforeValidator(parse_duration), Field(gt=0)]


@functools.cache
def _partitions() -> dict[str, str]:
    """region → its partition (aws, aws-cn, aws-us-gov, ...), from botocore's endpoint data:
    no AWS call, and no profile read (a wrong AWS_PROFILE must not stop a region check)."""
    from botocore.loaders import create_loader

    endpoints = create_loader().load_data("endpoints")
    return {
        region: partition["partition"]
        for partition in endpoints["partitions"]
        for region in partition["regions"]
    }


def known_regions() -> frozenset[str]:
    """Every region botocore knows, in every partition."""
    return frozenset(_partitions())


def partition_of(region: str) -> str:
    """The ARN partition of a region (`aws` for one botocore does not know)."""
    return _partitions().get(region, "aws")


def _closest_regions(text: str) -> list[str]:
    """The regions most like `text` (several only when they are equally close), or none."""
    close = difflib.get_close_matches(text, sorted(known_regions()), n=3)
    if not close:
        return []

    def score(region: str) -> float:
        return difflib.SequenceMatcher(None, text, region).ratio()

    return sorted(r for r in close if score(r) == score(close[0]))


def check_region(value: str) -> str:
    """`value` if it is a region; else a ValueError suggesting the closest one."""
    if value not in known_regions():
        close = _closest_regions(value.strip().lower())
        fix = (
            f"did you mean {' or '.join(close)}?"
            if close
            else "regions read like us-east-1 or eu-west-2 (aws ec2 describe-regions lists them)"
        )
        raise ValueError(f"{value!r} is not an AWS region; {fix}")
    return value


Region = Annotated[str, BeforeValidator(lambda v: check_region(str(v)))]

# What AWS accepts in a tag (the tagging best-practices page; CloudFormation passes a stack's
# tags on to the resources it creates, whose services hold to this set), and how many a stack
# takes: 50, of which relight writes up to 6 itself.
TAG_KEY_LENGTH = 128
TAG_VALUE_LENGTH = 256
STACK_TAGS = 50
RELIGHT_TAGS = (
    "relight:env",
    "relight:stack",
    "relight:run",
    "relight:purpose",
    "relight:namespace",
    "relight:prepared",
)
_TAG_PUNCTUATION = " +-=._:/@"


def _tag_text(text: str, what: str, longest: int) -> str:
    if len(text) > longest:
        raise ValueError(
            f"{what} has {len(text)} characters; AWS allows at most {longest}: shorten it"
        )
    bad = sorted({c for c in text if not (c.isalnum() or c in _TAG_PUNCTUATION)})
    if bad:
        raise ValueError(
            f"{what} has {', '.join(repr(c) for c in bad)}, which AWS refuses in tags: use "
            "only letters, digits, spaces and + - = . _ : / @"
        )
    return text


def _tag_key(key: str) -> str:
    if not key:
        raise ValueError("a tag key cannot be empty")
    if key.lower().startswith(("relight:", "aws:")):
        raise ValueError(f"tag {key!r}: the prefixes relight: and aws: are reserved")
    return _tag_text(key, "the tag key", TAG_KEY_LENGTH)


TagKey = Annotated[str, AfterValidator(_tag_key)]
TagValue = Annotated[str, AfterValidator(lambda v: _tag_text(v, "the value", TAG_VALUE_LENGTH))]
