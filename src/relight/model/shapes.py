"""AWS's list-of-pairs shapes as dicts, and back: tags and stack parameters. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def tag_dict(items: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's `[{"Key": k, "Value": v}, ...]` as a dict."""
    return {t["Key"]: t["Value"] for t in items or ()}


def parameter_dict(stack: Mapping[str, Any]) -> dict[str, str]:
    """A stack's Parameters (as DescribeStacks gives them) as a dict of their values."""
    return {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters") or ()}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """A dict of tags in AWS's `[{"Key": k, "Value": v}, ...]` shape, sorted by key."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]
