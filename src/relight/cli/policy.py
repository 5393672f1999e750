"""`relight policy`: print the least-privilege IAM policy an environment's runs need."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from .common import _errors, _load
from .options import DebugOpt, EnvOpt


def policy(
    env: EnvOpt,
    who: Annotated[
        str,
        typer.Option(
            "--for",
            help="operator (the person or pipeline running relight), service (the "
            "CloudFormation service role), replicate, or readiness (read-only, on a schedule).",
        ),
    ] = "operator",
    command: Annotated[
        list[str] | None,
        typer.Option("--command", help="Only this command's actions (--for operator; repeat)."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="--for service: the recovery region whose role to print (default: the first).",
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Print the least-privilege IAM policy relight needs, as JSON. No AWS calls."""
    with _errors(debug):
        from relight.commands.policy import policy_for

        document = policy_for(_load(env, region), who, command or (), region)
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
