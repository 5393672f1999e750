"""`relight estate status`: one line per environment, grouped by wave: whether the region
serves it, what stands there, and the newest data a failover there would restore."""

from __future__ import annotations

from typing import Any

from ..common import _console, _errors, _escape, _print_json, _say
from ..options import DebugOpt, JsonOpt, RegionOpt
from .banner import once_per_account
from .options import EstateOpt, load


def status(
    estate: EstateOpt,
    region: RegionOpt,
    json_out: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show, per environment of the estate and grouped by wave, whether the region serves it,
    what stands there and the newest data there. Reads the region only; changes nothing."""
    with _errors(debug):
        from relight.estate.status import estate_status

        loaded = load(estate, region)
        result = estate_status(loaded, region, say=_say, announce=once_per_account())
        if json_out:
            _print_json(result.as_dict())
            return
        _print(result)


def _print(result: Any) -> None:
    con = _console()
    serving = [n for n, e in result.envs.items() if e.serving]
    con.print(
        f"[bold]estate {result.estate} in {result.region}[/]: {len(serving)} of "
        f"{len(result.envs)} environment(s) served from {result.region}"
    )
    for i, wave in enumerate(result.by_wave()):
        con.print(f"wave {i + 1}")
        width = max((len(e.name) for e in wave), default=0)
        for env in wave:
            colour = (
                "red"
                if env.error or (env.state or {}).get("error")
                else ("green" if env.serving else "default")
            )
            con.print(f"  [{colour}]{env.name:<{width}}[/]  {_escape(env.line())}")
