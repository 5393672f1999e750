"""What the story's modules share: how they speak (`Say`), the timestamp in what they name, and
an AWS error's code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

Say = Callable[[str], None]


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%d-%H%M%S")


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
