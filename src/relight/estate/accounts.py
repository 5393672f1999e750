"""Reaching an environment of an estate: through the role of the account it lives in.

relight always acts in an estate's accounts through the role the estate file names (also in
the administrator's own account), with the external id where the role's trust policy asks for
one, assumed through STS in the region relight acts in (never the global endpoint). On the
stand-in the same role is assumed through the stand-in's STS: moto keeps one world per
account, and an assumed role's credentials act in the role's account (docs/stand-in.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from relight.commands.connection import Connection, connect
from relight.model.estate import LoadedEstate


class BudgetRegistry(Protocol):
    """What connect_env needs of the estate's budgets (relight.aws.budget.Budgets)."""

    def for_(self, account_id: str, region: str) -> Any: ...


def connect_env(
    estate: LoadedEstate,
    name: str,
    region: str,
    *,
    command: str,
    budgets: BudgetRegistry | None = None,
    say: Callable[[str], None] = lambda _: None,
    announce: Callable[[Connection], None] = lambda _: None,
    state_dir: Path | None = None,
) -> Connection:
    """The connection of environment `name` in `region`: its account's role assumed (with
    its external id), the account checked against the estate's and the file's; on the
    stand-in, that account's simulated production told first. With `budgets`, every request
    takes a token of the account's and region's shared budget (aws/budget.py)."""
    access = estate.access(name)
    more: dict[str, Any] = {}
    if budgets is not None:
        more["budget"] = budgets.for_(access.id, region)
    return connect(
        estate.envs[name],
        region,
        use_stand_in=estate.file.stand_in,
        role_arn=access.role,
        external_id=access.external_id,
        state_dir=state_dir,
        announce=announce,
        say=say,
        command=command,
        **more,
    )
