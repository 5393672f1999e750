"""`relight policy`: print the least-privilege IAM policy an environment's runs need."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from .common import _errors, _load
from .options import DebugOpt, EnvOpt

# IAM and AWS STS quotas: "Managed policy size: 6,144 characters" (white space not counted)
MANAGED_POLICY_CHARACTERS = 6144


def policy(
    env: EnvOpt,
    who: Annotated[
        str,
        typer.Option(
            "--for",
            help="operator (the person or pipeline running relight), bootstrap (an "
            "administrator's, for the prepare that makes or changes the identity stack's IAM "
            "roles), service (the CloudFormation service role), replicate, or readiness "
            "(read-only, on a schedule).",
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
        size = len(json.dumps(document, separators=(",", ":")))
        if size > MANAGED_POLICY_CHARACTERS:
            sys.stderr.write(
                f"note: this policy is {size:,} characters (white space not counted); an IAM "
                f"managed policy holds {MANAGED_POLICY_CHARACTERS:,} and a role's inline "
                "policies 10,240 in all: attach it inline to a role, or split its statements "
                "into two managed policies\n"
            )
