"""Which application secret each stack names (a database stack's `app_secret` option)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relight.model.environment import Environment

APP_SECRET_OPTION = "app_secret"  # the database blueprint's option naming the secret


def app_secret(params: Mapping[str, Any]) -> str | None:
    """The secret a stack's params name as `app_secret` (a database blueprint option)."""
    name = params.get(APP_SECRET_OPTION)
    return name if isinstance(name, str) else None


def app_secrets(env: Environment, region: str) -> dict[str, str]:
    """Stack key → the application secret it names, for the stacks that stand in `region`."""
    return {
        key: name
        for key, spec in env.stacks.items()
        if spec.stands_in(region) and (name := app_secret(spec.params)) is not None
    }
