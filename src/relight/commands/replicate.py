"""`relight replicate`: copy the newest artifacts into the recovery regions (and account),
holding replication's lock in each of them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from relight.aws.clients import Aws, check_account
from relight.aws.lease import REPLICATION
from relight.aws.lock import LockSettings, hold
from relight.commands.connection import Connection, lock_ref_at, new_run_id, run_command
from relight.errors import InputError
from relight.model.config import LoadedEnvironment


def replicate_environment(
    loaded: LoadedEnvironment,
    conn: Connection,
    targets: list[str],
    *,
    role_arn: str | None = None,
    wait: bool = True,
    prune: int | None = None,
    on_progress: Callable[[str, str, str, str], None] = lambda *_: None,
    lock: LockSettings | None = None,
) -> list[Any]:
    """Copy the newest artifacts from the connection's region to `targets`.

    The connection reads the sources. When the environment declares a recovery account
    other than the source's, the copies are made there, through `role_arn` (or the
    environment's); otherwise through the same credentials.

    The run holds replication's lock in each target region, where the copies are made (in
    the account that makes them); `LockHeld` when another replication into one of them runs.
    Replication has its own lock, not the environment's: a copy can take hours, and must not
    hold up a failover into that region (nor a failover a replication).
    """
    from relight.model.config import refuse_placed
    from relight.model.per_region import kms_key_problem
    from relight.steps.replicate import Replicator, replicate

    unfilled = [
        p for t in targets if (p := kms_key_problem(loaded.env.kms_keys, t, loaded.env.home_region))
    ]
    if unfilled:  # before any lock, share or copy: capture's placeholder is not a key
        refuse_placed(loaded, unfilled)
    target = conn.aws
    target_account = conn.account_id
    recovery = loaded.env.recovery_account_id
    if recovery and recovery != conn.account_id and not conn.stand_in:
        role = role_arn or loaded.env.role_arn
        if not role:
            raise InputError(
                f"{loaded.path}: recovery_account_id {recovery} needs role_arn (or --role-arn) "
                "to copy into it"
            )
        target = Aws(replace(conn.aws.target, role_arn=role, sts_region=conn.region))
        target_account = check_account(target, conn.region, recovery, str(loaded.path))
    replicator = Replicator(
        loaded,
        conn.aws,
        target,
        source_account=conn.account_id,
        target_account=target_account,
        on_progress=on_progress,
    )
    settings = lock or LockSettings()
    command = settings.command or run_command(
        "replicate", loaded, "--from", conn.region, *(w for t in targets for w in ("--to", t))
    )
    run_id = new_run_id()
    with contextlib.ExitStack() as stack:
        held = [
            stack.enter_context(
                hold(lock_ref_at(loaded, target, target_account, region, REPLICATION), run_id,
                     command, settings, defer_bucket=True)
            )
            for region in sorted(set(targets))  # one order for every run
        ]  # fmt: skip

        def still_held() -> None:
            for lock in held:
                lock.ensure_held()

        return replicate(
            replicator, conn.region, targets, wait=wait, prune=prune, still_held=still_held
        )
