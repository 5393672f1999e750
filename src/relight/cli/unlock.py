"""`relight unlock`: remove a run lock whose holder is known to be dead, instead of waiting
for its lease to lapse (5 minutes without a heartbeat)."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import _confirm, _connect, _console, _errors, _escape, _load
from .options import (
    AsOpt,
    DebugOpt,
    EnvOpt,
    ProfileOpt,
    RegionOpt,
    RoleOpt,
    StandInOpt,
    YesOpt,
)


def unlock(
    env: EnvOpt,
    region: RegionOpt,
    as_name: AsOpt = None,
    replication: Annotated[
        bool, typer.Option("--replication", help="Replication's lock into --region instead.")
    ] = False,
    yes: YesOpt = False,
    stand_in: StandInOpt = None,
    profile: ProfileOpt = None,
    role_arn: RoleOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Remove the run lock of the environment in --region (--as NAME: a test copy's or a
    drill's, drill-ID). Only for a run known to be dead: a live one would go on unlocked."""
    with _errors(debug):
        from datetime import UTC, datetime

        from relight.commands.connection import Declined
        from relight.commands.status import lock_holder
        from relight.commands.status import unlock as break_it
        from relight.model.plan import check_namespace

        namespace = check_namespace(as_name) if as_name else None
        loaded = _load(env, region)
        conn = _connect(loaded, region, stand_in, profile, role_arn)
        what = "replication's lock" if replication else "the lock"
        holder = lock_holder(loaded, conn, namespace, replication=replication)
        if holder is None:
            _console().print(f"{what} of {loaded.env.name} in {region} is not held; nothing to do")
            return
        now = datetime.now(UTC)
        held = f"{what} of {loaded.env.name} in {region}, held by {holder.describe(now)}"
        if not _confirm(yes, f"Remove {held}?", f"unlock would remove {held}"):
            raise Declined("not confirmed; the lock stays")
        removed = break_it(loaded, conn, namespace, replication=replication, expected=holder)
        if removed is None:
            _console().print(f"{what} was released meanwhile; nothing removed")
            return
        _console().print(
            f"removed {_escape(what)}: it was held by {_escape(removed.describe(now))}"
        )
