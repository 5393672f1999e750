"""`relight graph`: the stack dependency graph as Mermaid or Graphviz DOT, without AWS."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .common import _errors, _load
from .options import DebugOpt, EnvOpt


def graph(
    env: EnvOpt,
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Region to render for (default: home).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="mermaid or dot.")] = "mermaid",
    debug: DebugOpt = False,
) -> None:
    """Print the stack dependency graph as Mermaid or Graphviz DOT. No AWS calls."""
    with _errors(debug):
        from relight.errors import InputError
        from relight.model.graph import to_dot, to_mermaid

        writers = {"mermaid": to_mermaid, "dot": to_dot}
        if fmt not in writers:
            raise InputError(f"--format: {fmt!r} is not one of mermaid, dot")
        loaded = _load(env, region)
        sys.stdout.write(writers[fmt](loaded.env))
