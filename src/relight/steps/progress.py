"""How a deployment's progress is shown: a live table on a terminal, one line per event elsewhere.

Both receive the engine's events `(stack name, status, message)`. A stack's own
event has a bare status (CREATE_IN_PROGRESS, SKIPPED); a resource's event has
"LogicalId STATUS" as its status. `--json` shows neither (the engine then does
not even read resource events).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table


def colour_of(status: str) -> str:
    if any(word in status for word in ("FAIL", "ROLLBACK", "REFUSED", "TIMED_OUT", "GONE")):
        return "red"
    if status.endswith("_COMPLETE"):
        return "green"
    if status in ("SKIPPED", "PROTECTED", "waiting"):
        return "yellow"
    return "cyan"


class Lines:
    """One line per event: for logs, pipes and CI."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __call__(self, stack: str, status: str, message: str) -> None:
        from rich.markup import escape

        extra = f"  {escape(message)}" if message else ""
        self.console.print(f"  {stack:<40} [{colour_of(status)}]{status}[/]{extra}")


@dataclass
class Row:
    status: str = "waiting"
    started: float | None = None
    ended: float | None = None
    latest: str = ""


class LiveTable:
    """One row per stack (state, elapsed, latest event), redrawn in place. Use as a context."""

    def __init__(
        self,
        console: Console,
        names: Iterable[str],
        title: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.rows = {name: Row() for name in names}
        self.title = title
        self.clock = clock
        self.live: Live | None = None

    def __call__(self, stack: str, status: str, message: str) -> None:
        if self.live is None:
            self._start()
        row = self.rows.setdefault(stack, Row())
        now = self.clock()
        if " " in status:  # a resource's event, "Logical STATUS": news, not the stack's state
            row.latest = f"{status}  {message}".strip()
        else:
            if row.started is None and status != "SKIPPED":
                row.started = now
            row.status = status
            row.ended = None if status.endswith("_IN_PROGRESS") else now
            if message:
                row.latest = message
        if self.live is not None:
            self.live.refresh()

    def _start(self) -> None:
        from rich.live import Live

        self.live = Live(
            console=self.console, get_renderable=self.table, refresh_per_second=4, transient=False
        )
        self.live.start()

    def table(self) -> Table:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=self.title, expand=False)
        for column in ("stack", "state", "elapsed", "latest event"):
            table.add_column(column, no_wrap=column != "latest event")
        now = self.clock()
        for name, row in self.rows.items():
            elapsed = ""
            if row.started is not None:
                elapsed = f"{(row.ended or now) - row.started:5.1f} s"
            table.add_row(
                name,
                f"[{colour_of(row.status)}]{row.status}[/]",
                elapsed,
                escape(row.latest),
            )
        return table

    def __enter__(self) -> LiveTable:
        """The table appears with the first event (after any confirmation prompt)."""
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None
