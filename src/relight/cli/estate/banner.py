"""Where an estate command acts, said once per account (the banner of a single-environment
command, cli/common._banner, would repeat for every environment)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..common import _banner

if TYPE_CHECKING:
    from relight.commands.connection import Connection


def once_per_account() -> Callable[[Connection], None]:
    """An `announce` for connect_env that prints the banner for the first environment reached
    in each account (the stand-in's: once), from any thread."""
    seen: set[str] = set()
    lock = threading.Lock()

    def announce(conn: Connection) -> None:
        key = "stand-in" if conn.stand_in else conn.account_id
        with lock:
            if key in seen:
                return
            seen.add(key)
        _banner(conn)

    return announce
