"""`relight estate ...`: the commands over a whole estate (`estates/<name>.yaml`).

One module per command, each registered below with one `app.command(...)` line by its owner;
each parses options, calls one function of `relight.estate`, prints, and picks the exit code
(0 ok, 1 an environment failed, 2 bad input and nothing changed). As in the main CLI, the
engine is imported inside each command, so `relight estate --help` stays fast.
"""

from __future__ import annotations

import typer

from ..common import named
from . import check, failover

app = typer.Typer(
    help=(
        "Many environments across many accounts (estates/<name>.yaml), brought back in waves: "
        "plan, prepare (StackSets), failover, drill, readiness, status."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

# In the order `relight estate --help` lists them (each owner adds its line).
app.command()(named(check.check))
app.command()(named(failover.failover))
