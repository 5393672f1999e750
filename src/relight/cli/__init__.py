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
    policy,
    prepare,
    readiness,
    render,
    replicate,
    report,
    status,
    teardown,
    unlock,
)
from .common import named
from .estate import app as estate_app

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
app.add_typer(estate_app, name="estate")

# In the order `relight --help` lists them.
app.command()(named(render.render))
app.command()(named(capture.capture))
app.command()(named(discover.discover))
app.command()(named(plan.plan))
app.command()(named(drift.drift))
app.command()(named(readiness.readiness))
app.command()(named(prepare.prepare))
app.command()(named(failover.failover))
app.command()(named(failover.launch))
app.command()(named(failback.failback))
app.command()(named(drill.drill))
app.command()(named(report.report))
app.command()(named(replicate.replicate))
app.command()(named(teardown.teardown))
app.command()(named(status.status))
app.command()(named(graph.graph))
app.command()(named(unlock.unlock))
app.command()(named(policy.policy))

local_app.command("status")(local.local_status)
local_app.command("start")(local.local_start)
local_app.command("stop")(local.local_stop)


def main() -> None:
    app()
