"""The options several commands share: their types, their checks and their defaults.

typer reads a command's annotations when the command is registered, so each command module
imports these at run time (not under TYPE_CHECKING).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

EnvOpt = Annotated[
    str, typer.Option("--env", "-e", help="Environment name (stacks/NAME.yaml) or a YAML path.")
]
RegionOpt = Annotated[
    str, typer.Option("--region", "-r", help="The target region, e.g. us-west-2.")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
StandInOpt = Annotated[
    bool | None,
    typer.Option(
        "--stand-in/--aws",
        help="Run on the local stand-in, or on AWS. Default: what the environment file says.",
    ),
]
ProfileOpt = Annotated[str | None, typer.Option("--profile", help="AWS profile to use.")]


def _role_arn(value: str | None) -> str | None:
    """--role-arn has the shape of an IAM role's ARN (else STS's refusal would blame the trust
    policy, after the command had started)."""
    from relight.model.values import ROLE_ARN_SHAPE, is_role_arn

    if value is not None and not is_role_arn(value):
        raise typer.BadParameter(f"{value!r} is not an IAM role's ARN: expected {ROLE_ARN_SHAPE}")
    return value


RoleOpt = Annotated[
    str | None,
    typer.Option("--role-arn", callback=_role_arn, help="Role to assume in the recovery account."),
]
IntoHomeOpt = Annotated[
    bool,
    typer.Option(
        "--into-home-region",
        help="Build even when --region is the environment's home region, beside production.",
    ),
]


ConcurrencyOpt = Annotated[
    int,
    typer.Option(
        "--concurrency", min=1, max=50, help="Stacks in flight at once (CloudFormation's quota)."
    ),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
AcceptStaleOpt = Annotated[
    bool, typer.Option(help="Go ahead even with artifacts older than the RPO (marked).")
]


def _stack_timeout(value: float | None) -> float | None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(
            f"{value:g} is not a number of seconds above 0: give how long to wait for one "
            "stack (e.g. 3600), or leave it out for the default (1 h on AWS, 120 s on the "
            "stand-in)"
        )
    return value


def _verify_timeout(value: float) -> float:
    if not math.isfinite(value):  # min=0 already refuses a negative number
        raise typer.BadParameter(
            f"{value:g} is not a number of seconds: give how long verification may wait "
            "(0 or more, e.g. 900)"
        )
    return value


StackTimeoutOpt = Annotated[
    float | None,
    typer.Option(callback=_stack_timeout, help="Seconds to wait for one stack (above 0)."),
]
DEFAULT_VERIFY = 900.0  # relight.steps.verify.DEADLINE_SECONDS, without importing the engine
DEFAULT_CONCURRENCY = 8  # relight.model.scheduler.DEFAULT_CONCURRENCY, likewise
VerifyTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--verify-timeout",
        min=0,
        callback=_verify_timeout,
        help="Seconds verification waits for status checks, group capacity, healthy targets "
        "and an answering load balancer (AWS reports new ones initializing for minutes).",
    ),
]
ReplaceDataOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--replace-data",
        metavar="STACK",
        help="Restore this stack's database or data volumes again from the newest copies, "
        "replacing what runs now (repeat per stack). Without it, a stack that exists keeps "
        "the snapshot it was restored from.",
    ),
]
ReportsOpt = Annotated[Path, typer.Option("--reports", help="The reports directory (drills).")]
AsOpt = Annotated[
    str | None,
    typer.Option("--as", help="A test environment's name: stacks <env>-NAME-<stack> (see launch)."),
]

STRATEGIES = ("backup_restore", "pilot_light", "warm_standby")  # relight.model.environment's


def _strategy(value: str | None) -> str | None:
    if value is not None and value not in STRATEGIES:
        raise typer.BadParameter(
            f"{value!r} is not a rung of the DR ladder: use {', '.join(STRATEGIES)}"
        )
    return value


StrategyOpt = Annotated[
    str | None,
    typer.Option(
        "--strategy",
        callback=_strategy,
        metavar="|".join(STRATEGIES),
        help="The DR rung for this run: what stands ready in the region before a disaster "
        "(default: the environment file's strategy).",
    ),
]

DATA_MODES = ("snapshot", "replica")  # relight.model.environment's


def _data(value: str | None) -> str | None:
    if value is not None and value not in DATA_MODES:
        raise typer.BadParameter(
            f"{value!r} is not a data mode: use {', '.join(DATA_MODES)} (snapshot: restored from "
            "the newest copy at failover; replica: a cross-region replica promoted at failover)"
        )
    return value


DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        callback=_data,
        metavar="|".join(DATA_MODES),
        help="Every database stack's data mode for this run: restored from a snapshot copy, or "
        "a cross-region replica that prepare makes and a failover promotes (default: each "
        "stack's data: in the environment file, else snapshot).",
    ),
]
PublishOpt = Annotated[
    bool,
    typer.Option(
        "--publish",
        help="Also write the verdict to CloudWatch in the region (namespace Relight: Ready, "
        "ForecastRtoSeconds, WorstArtifactAgeSeconds by Environment), for an alarm to page on.",
    ),
]
