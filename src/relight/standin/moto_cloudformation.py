"""Stand-in additions (see extensions.py): being written."""

from __future__ import annotations


def install() -> None:
    """Nothing yet."""
