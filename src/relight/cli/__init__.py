"""relight's command line: parse options, call one engine function, print, pick the exit code.

One module per command, named after it (`relight drill` is drill.py; failover.py holds
launch too, local.py the `relight local` group); the options they share are in options.py,
the helpers in common.py. This module makes the app and registers the commands.

Only typer is imported at start-up; the engine (boto3, troposphere, cfn-lint,
pydantic) is imported inside each command, so `relight --help` stays fast.
Exit codes: 0 ok, 1 the operation failed, 2 bad input (nothing was changed).
"""

from __future__ import annotations

import typer

from . import (
    capture,
    discover,
    drift,
    drill,
    failback,
    failover,
    graph,
    local,
    plan,
    prepare,
    readiness,
    render,
    replicate,
    report,
    status,
    teardown,
    unlock,
)

app = typer.Typer(
    help="Rebuild a whole AWS environment in another region from its newest cross-region copies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: rich's help renderer costs ~0.13 s at start-up
)
local_app = typer.Typer(
    help="The local stand-in (moto on 127.0.0.1).", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(local_app, name="local")

# In the order `relight --help` lists them.
app.command()(render.render)
app.command()(capture.capture)
app.command()(discover.discover)
app.command()(plan.plan)
app.command()(drift.drift)
app.command()(readiness.readiness)
app.command()(prepare.prepare)
app.command()(failover.failover)
app.command()(failover.launch)
app.command()(failback.failback)
app.command()(drill.drill)
app.command()(report.report)
app.command()(replicate.replicate)
app.command()(teardown.teardown)
app.command()(status.status)
app.command()(graph.graph)
app.command()(unlock.unlock)

local_app.command("status")(local.local_status)
local_app.command("start")(local.local_start)
local_app.command("stop")(local.local_stop)


def main() -> None:
    app()
