"""What the capture submodules share: the capture's types, the AWS reads' error handling,
and stack keys."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from relight.errors import RelightError

if TYPE_CHECKING:
    from relight.capture.ledger import Ledger

Client = Callable[[str], Any]  # service name → a boto3 client in the home region
TIERS = ("public", "private", "data")


class CaptureError(RelightError):
    """Production could not be read."""


@dataclass(frozen=True)
class Note:
    resource: str
    property: str
    text: str
    # production could not be read here (a refused call): not a fact about production, so
    # drift says it was not checked rather than that production changed
    unread: bool = False

    def line(self) -> str:
        return f"{self.resource} {self.property}: {self.text}"


@dataclass
class Capture:
    """The captured environment: the file's text and what it could not reproduce."""

    text: str
    notes: list[Note]
    sources: dict[str, str] = field(default_factory=dict)  # stack key → production resource
    # tier → production's subnet CIDRs in AZ ID order, also for a tier the file cannot hold
    # (one that misses an AZ): drift compares them with the file's
    subnets: dict[str, list[str]] = field(default_factory=dict)
    # the coverage ledger (docs/capture.md): None when not asked for (drift)
    ledger: Ledger | None = None


@dataclass
class _Section:
    key: str
    body: dict[str, Any]
    notes: list[Note] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    source: str = ""  # the production resource it was captured from
    dns_name: str = ""  # a load balancer's DNSName: the target of production's records
    # a load balancer: the instances its target group holds; fixed instances: their ids
    instances: list[str] = field(default_factory=list)


@dataclass
class _Found:
    """What the compute stacks are read with and write into."""

    ec2: Any
    client: Client
    subnet_tier: dict[str, str]
    sg_keys: dict[str, str]
    az_count: int
    artifacts: dict[str, Any]
    roles: dict[str, Any]
    taken: set[str]


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise CaptureError(f"capture: could not read {what}: {exc}") from None


def _pages(client: Any, op: str, key: str, **kwargs: Any) -> list[Any]:
    try:
        out: list[Any] = []
        for page in client.get_paginator(op).paginate(**kwargs):
            out.extend(page.get(key, []))
        return out
    except (ClientError, BotoCoreError) as exc:
        raise CaptureError(f"capture: could not read {op}: {exc}") from None


def _tags(items: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or [] if not t["Key"].startswith("aws:")}


def _key(text: str, taken: set[str] | None = None) -> str:
    """A blueprint-friendly key: lower case letters and digits, starting with a letter."""
    key = re.sub(r"[^a-z0-9]", "", text.lower())
    key = re.sub(r"^[0-9]+", "", key) or "x"
    if taken is not None:
        base, n = key, 2
        while key in taken:
            key, n = f"{base}{n}", n + 1
        taken.add(key)
    return key
