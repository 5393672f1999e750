"""What the `relight estate` commands share: the --estate option and loading the estate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from relight.model.estate import LoadedEstate

EstateOpt = Annotated[
    str,
    typer.Option("--estate", help="Estate name (estates/NAME.yaml) or a YAML path."),
]


def load(estate: str, region: str | None, flag: str = "--region") -> LoadedEstate:
    """The estate and every environment of it, loaded for the region (exit 2 naming every
    problem of the estate file and of its environment files)."""
    from relight.model.estate import load_estate

    from ..common import _check_region

    if region is not None:
        _check_region(region, flag)
    return load_estate(estate, region)
