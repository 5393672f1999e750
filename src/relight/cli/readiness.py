"""`relight readiness`: would a failover into the region work now, and how long would it take?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from .common import (
    _check_directory,
    _connect,
    _console,
    _errors,
    _escape,
    _load,
    _on_stand_in,
    _print_json,
)
from .options import (
    DataOpt,
    DebugOpt,
    EnvOpt,
    JsonOpt,
    ProfileOpt,
    PublishOpt,
    RegionOpt,
    ReportsOpt,
    RoleOpt,
    StandInOpt,
    StrategyOpt,
)


def readiness(
    env: EnvOpt,
    region: RegionOpt,
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    reports: ReportsOpt = Path("reports"),
    json_out: JsonOpt = False,
    publish: PublishOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Say whether a failover into the region would work now, and how long it would take.
    Deploys nothing, changes nothing (--publish writes the verdict to CloudWatch in the region).
    Exit 0 ready, 1 not ready (or not published), 2 bad input."""
    with _errors(debug):
        from relight.commands.readiness import evaluate, write_evaluation
        from relight.errors import AwsError
        from relight.steps.publish import publish_in

        loaded = _load(env, region)
        _check_directory(reports, "--reports", "the readiness pages")
        local = _on_stand_in(loaded, stand_in)
        conn = _connect(loaded, region, local, profile, role_arn)
        result = evaluate(loaded, region, conn, reports, strategy=strategy, data=data)
        written = write_evaluation(result, reports)
        published, refused = None, None
        if publish:
            try:
                published = publish_in(conn.aws, region, [result.verdict()], result.at)
            except AwsError as exc:  # the verdict is still shown; then the refusal, exit 1
                refused = exc
        if json_out:
            shown = result.as_dict() | {"page": str(written[1])}
            if publish:
                shown["published"] = published.metrics if published else None
            _print_json(shown)
        else:
            _print(result, written[1])
            if published:
                _console().print(f"[dim]{_escape(published.line())}[/]")
        if refused is not None:
            raise refused
    if not result.ready:
        raise typer.Exit(1)


def _print(result: Any, page: Path) -> None:
    from relight.dr.report import human_duration

    con = _console()
    verdict = "[bold green]READY[/]" if result.ready else "[bold red]NOT READY[/]"
    con.print(
        f"{verdict}: failover of {result.env} into {result.region} ({result.strategy}), "
        f"RTO forecast on AWS {human_duration(result.forecast_seconds)} "
        f"(objective {human_duration(result.rto_seconds)})"
    )
    for check, said in result.checks().items():
        colour = {"ok": "green", "error": "red", "warning": "yellow"}.get(said, "dim")
        con.print(f"  {check}: [{colour}]{said}[/]")
    for finding in result.findings:
        colour = "red" if finding.severity == "error" else "yellow"
        con.print(f"[{colour}]{finding.severity}[/] {finding.check}: {_escape(finding.message)}")
        if finding.fix:
            con.print(f"  → {_escape(finding.fix)}")
    con.print(f"[dim]page: {page}[/]")
