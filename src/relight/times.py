"""Reading the times relight writes and AWS returns: ISO 8601, always timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time (a trailing Z, or none, read as UTC); None when absent or unreadable.

    A datetime passes through (made UTC-aware if naive): boto3 returns those, tags and
    reports hold strings.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
