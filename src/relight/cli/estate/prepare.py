"""`relight estate prepare`: the estate's global stacks through CloudFormation StackSets,
each environment's other standing stacks through relight's prepare."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..common import _confirm, _console, _errors, _escape, _fail, _print_json, _say
from ..options import DebugOpt, JsonOpt, RegionOpt, StrategyOpt, YesOpt
from .options import EstateOpt, load

OnlyOpt = Annotated[
    str | None,
    typer.Option(
        "--only",
        help="Prepare only these environments (comma-separated); the StackSets are brought "
        "up to date all the same.",
    ),
]


def prepare(
    estate: EstateOpt,
    region: RegionOpt,
    strategy: StrategyOpt = None,
    only: OnlyOpt = None,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Before a disaster: deploy every environment's `stands: global` stacks (IAM roles, what
    every account needs) through CloudFormation StackSets administered in --region, then each
    environment's standing stacks through relight's prepare, in the estate's order."""
    from relight.errors import InputError
    from relight.estate.prepare import prepare_estate

    with _errors(debug):
        loaded = load(estate, region)
        chosen = [n.strip() for n in only.split(",") if n.strip()] if only else None
        unknown = sorted(set(chosen or []) - set(loaded.file.environments))
        if unknown:
            raise InputError(
                f"--only {', '.join(unknown)}: not an environment of estate {loaded.file.name}",
                hint=f"its environments: {', '.join(loaded.order())}",
            )

        def confirm(_: Any) -> bool:
            return _confirm(
                yes,
                f"Prepare estate {loaded.file.name} in {region} as above?",
                f"estate prepare changes stacks in {len(loaded.file.accounts)} account(s)",
            )

        done = prepare_estate(
            loaded, region, strategy=strategy, only=chosen, say=_say, confirm=confirm, ref=estate
        )
        again = done.continue_command()
        if json_out:
            _print_json(
                {
                    "estate": done.estate,
                    "region": done.region,
                    "ok": done.ok,
                    "placement": done.lines,
                    "permissions": done.roles,
                    "stacksets": [
                        {
                            "name": s.name,
                            "created": s.created,
                            "updated": s.updated,
                            "operations": s.operations,
                            "instances": s.instances,
                        }
                        for s in done.stacksets
                    ],
                    "environments": {n: {"ok": e.ok, "line": e.line} for n, e in done.envs.items()},
                    "continue": again,
                }
            )
        else:
            con = _console()
            con.print(_escape(f"estate {done.estate} in {done.region}: which stacks went where"))
            for line in done.lines + done.roles:
                con.print(_escape(f"  {line}"))
            for s in done.stacksets:
                con.print(_escape(f"  {s.line()}"))
            for name, env in done.envs.items():
                con.print(_escape(f"  {name}: {env.line}"))
            if again:
                con.print(_escape(f"continue with: {again}"))
        if not done.ok:
            _fail("some environments were not prepared (above)", 1)
