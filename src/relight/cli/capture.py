"""`relight capture`: write an environment file from production in its home region."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from .common import _check_region, _console, _errors, _escape
from .options import DebugOpt, ProfileOpt

# Not options.StandInOpt: capture has no environment file to take the default from (it writes
# one), so it reads AWS unless told otherwise.
CaptureStandInOpt = Annotated[
    bool,
    typer.Option("--stand-in/--aws", help="Read the local stand-in, or AWS (the default)."),
]


def capture(
    region: Annotated[str, typer.Option("--region", "-r", help="Production's (home) region.")],
    name: Annotated[str, typer.Option("--name", help="The environment's name.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write it: stacks/NAME.yaml.")],
    vpc: Annotated[str | None, typer.Option("--vpc", help="Production's VPC id.")] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Select the VPC by tag instead: Key=Value (repeatable)."),
    ] = None,
    recovery_region: Annotated[
        list[str] | None,
        typer.Option("--recovery-region", help="A region to recover into (repeatable)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite --out and its ledger if they exist.")
    ] = False,
    stand_in: CaptureStandInOpt = False,
    profile: ProfileOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Read production (VPC, subnets, security groups, Auto Scaling groups, instances, RDS
    instances and Aurora clusters, load balancer, the Route 53 record pointing at it) in its
    region, read-only, and write an environment file that rebuilds it
    with the shipped blueprints. What they cannot reproduce is written as comments and listed.
    """
    with _errors(debug):
        from relight import standin
        from relight.aws.clients import Aws, AwsTarget
        from relight.capture import capture as read_production
        from relight.capture import find_vpc
        from relight.capture.ledger import ledger_path
        from relight.errors import InputError
        from relight.model.environment import NAME_PATTERN

        _check_region(region, "--region")
        for r in recovery_region or []:
            _check_region(r, "--recovery-region")
        if not re.fullmatch(NAME_PATTERN, name):
            raise InputError(
                f"--name {name!r}: lower case letters, digits and -, 2 to 32 characters"
            )
        if (vpc is None) == (not tag):
            raise InputError("give --vpc VPC_ID or --tag Key=Value (one of them)")
        tags: dict[str, str] = {}
        for item in tag or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise InputError(f"--tag {item!r}: write Key=Value")
            tags[key] = value
        ledger_out = ledger_path(out)
        _refuse_existing(out, ledger_out, force)
        if stand_in:
            if profile:
                raise InputError("--profile does not apply to the local stand-in")
            running = standin.ensure_running(standin.state_dir())
            aws = Aws(
                AwsTarget(
                    endpoint_url=running.endpoint, stand_in=True, max_attempts=3, command="capture"
                )
            )
        else:
            aws = Aws(AwsTarget(profile=profile, sts_region=region, command="capture"))
        err = _console(stderr=True)
        err.print(
            f"[bold]reading:[/] {_escape(aws.target.describe())}, region {region} (read-only)"
        )
        account = aws.client("sts", region).get_caller_identity()["Account"]
        vpc_id = vpc or find_vpc(lambda service: aws.client(service, region), tags)
        captured = read_production(
            lambda service: aws.client(service, region),
            vpc_id=vpc_id,
            region=region,
            name=name,
            recovery_regions=list(recovery_region or []),
            account_id=account,
            stand_in=stand_in,
            tags=tags,
        )
        _write(out, ledger_out, captured)
    con = _console()
    con.print(f"wrote {_escape(str(out))} from {vpc_id} in {region}")
    if captured.ledger is not None:
        con.print(
            "[bold]coverage ledger[/] (what capture found and what it did with each property):"
        )
        for line in captured.ledger.lines():
            con.print(f"  {_escape(line)}")
        con.print(f"  the full ledger: {_escape(str(ledger_out))} (docs/capture.md)")
    if captured.notes:
        con.print(
            f"[yellow]{len(captured.notes)} thing(s) the blueprints cannot reproduce[/] "
            "(commented in the file as CAPTURE):"
        )
        for note in captured.notes:
            con.print(f"  - {_escape(note.line())}")
    to = recovery_region[0] if recovery_region else "R"
    env = _escape(str(out) if out.parent.name != "stacks" else name)
    first = (
        f"replace its {placeholders} REPLACE-ME value(s) (the notes say with what), "
        if (
            placeholders := sum(
                "REPLACE-ME" in line and not line.lstrip().startswith("#")
                for line in captured.text.splitlines()
            )
        )
        else ""
    )
    con.print(
        f"Next: review it, {first}then relight replicate --env {env} --from {region} "
        f"--to {to}, relight prepare --env {env} --region {to}, relight drill, relight "
        "readiness on a schedule."
    )


def _refuse_existing(out: Path, ledger_out: Path, force: bool) -> None:
    """Before anything is read or written: the file or its ledger exists, and no --force."""
    from relight.errors import InputError

    for path in (out, ledger_out):
        if path.exists() and not force:
            raise InputError(
                f"{path} exists: review it, or pass --force to overwrite {out} and {ledger_out}"
            )


def _print_ledger(con: Any, ledger: Any, path: Path) -> None:
    """The ledger's summary on screen, and where the full ledger is."""
    if ledger is None:
        return
    con.print("[bold]coverage ledger[/] (what capture found, and what it did with each property):")
    for line in ledger.lines():
        con.print(f"  {_escape(line)}")
    con.print(f"  the full ledger: {_escape(str(path))} (docs/capture.md#the-coverage-ledger)")


def _write(out: Path, ledger_out: Path, captured: Any) -> None:
    """The environment file, and its coverage ledger beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(captured.text)
    if captured.ledger is not None:
        ledger_out.write_text(captured.ledger.to_json())
