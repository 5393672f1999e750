"""`relight estate check`: read the estate file and every environment file; no AWS call."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ..common import _console, _errors, _escape, _print_json
from ..options import DebugOpt, JsonOpt
from .options import EstateOpt, load


def check(
    estate: EstateOpt,
    region: Annotated[
        str | None,
        typer.Option("--region", "-r", help="Load the environments for this region."),
    ] = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check the estate file and its environment files; print the waves. No AWS calls.

    Exit 2 naming every problem (file:line: key: what, and the fix) at once."""
    with _errors(debug):
        loaded = load(estate, region)
        rows: list[dict[str, Any]] = [
            {
                "environment": name,
                "wave": loaded.wave_of(name),
                "account": loaded.file.environments[name].account,
                "account_id": loaded.access(name).id,
                "after": sorted(loaded.predecessors(name)),
                "file": str(loaded.envs[name].path),
            }
            for name in loaded.order()
        ]
        if as_json:
            _print_json({"estate": loaded.file.name, "environments": rows})
            return
        con = _console()
        con.print(_escape(f"{loaded.path}: estate {loaded.file.name}, {len(rows)} environments"))
        for k, wave in enumerate(loaded.waves):
            con.print(f"  wave {k + 1}: {', '.join(wave)}")
        for row in rows:
            after = ", ".join(row["after"]) or "-"
            con.print(
                f"  {row['environment']}: account {row['account']} ({row['account_id']}), "
                f"after {after}"
            )
