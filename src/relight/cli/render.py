"""`relight render`: write each stack's template and parameters, without AWS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer

from .common import (
    _check_directory,
    _console,
    _errors,
    _escape,
    _load,
    _on_stand_in,
    _print_json,
    _say_plan_warnings,
)
from .options import DataOpt, DebugOpt, EnvOpt, JsonOpt, RegionOpt, StandInOpt, StrategyOpt


def render(
    env: EnvOpt,
    region: RegionOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write to.")] = Path("out"),
    lint: Annotated[bool, typer.Option(help="Run cfn-lint on every template.")] = True,
    stand_in: StandInOpt = None,
    strategy: StrategyOpt = None,
    data: DataOpt = None,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write each stack's template and parameters to --out, those relight prepare deploys
    included. No AWS calls."""
    with _errors(debug):
        from relight.model.failover_pairs import refuse_second_pairs
        from relight.steps.render import build_plan, lint_plan, write_plan

        _check_directory(out, "--out", "<stack>.template.json and <stack>.parameters.json")
        loaded = _load(env, region)
        plan = build_plan(
            loaded, region, stand_in=_on_stand_in(loaded, stand_in), strategy=strategy, data=data
        )
        refuse_second_pairs(plan)  # the prepared stacks it writes too
        _say_plan_warnings(plan)
        findings = lint_plan(plan, prepared=True) if lint else {}
        every = {**plan.prepared, **plan.stacks}
        try:
            written = write_plan(plan, out)
        except OSError as exc:
            raise _unwritable(out, exc) from exc
        if json_out:
            _print_json(
                {
                    "env": loaded.env.name,
                    "region": region,
                    "files": [str(p) for p in written],
                    "stand_in": plan.stand_in,
                    "strategy": plan.strategy,
                    "prepared": list(plan.prepared),
                    "skipped": plan.skipped,
                    "warnings": {k: [str(f) for f in v] for k, v in findings.items() if v},
                    "left_out": plan.warnings,
                }
            )
            return
        con = _console()
        if plan.stand_in:
            con.print("[yellow]the stand-in variant[/] (stand_in_params applied; --aws for AWS's)")
        for key, why in plan.skipped.items():
            con.print(f"  {key:<32} skipped: {why}")
        for key, sp in every.items():
            when = "prepared" if key in plan.prepared else "failover"
            con.print(
                f"  {sp.name:<32} {sp.resource_count:>3} resources  {when:<8} "
                f"→ {out / (key + '.template.json')}"
            )
        for key, found in findings.items():
            for finding in found:
                con.print(f"  [yellow]warning[/] {every[key].name}: {_escape(str(finding))}")
        con.print(
            f"{len(every)} stacks rendered for {region} at {plan.strategy} "
            f"({len(plan.prepared)} made by relight prepare); cfn-lint: "
            + (_lint_said(findings) if lint else "skipped")
        )


def _lint_said(findings: Mapping[str, Sequence[object]]) -> str:
    """What cfn-lint found, counted: errors stop the render before this, so what is left are
    warnings (and informational findings), never called "no errors" while there are some."""
    count = sum(len(found) for found in findings.values())
    if not count:
        return "no errors, no warnings"
    return f"no errors, {count} warning{'s' if count != 1 else ''} (above)"


def _unwritable(out: Path, exc: OSError) -> Exception:
    from relight.errors import InputError, RelightError

    what = f"--out {out}: cannot write {exc.filename or out}: {exc.strerror or exc}"
    if isinstance(exc, PermissionError | FileExistsError | IsADirectoryError | NotADirectoryError):
        return InputError(what, hint="name a directory you can write to")
    return RelightError(what)
