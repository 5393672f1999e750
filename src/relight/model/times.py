"""Reading the times relight writes and AWS returns: ISO 8601, always timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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


def human_age(delta: timedelta | float) -> str:
    """`45 s`, `12 min`, `3.0 h`, `2.5 d`."""
    total = delta.total_seconds() if isinstance(delta, timedelta) else delta
    seconds = max(0, int(total))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
