"""Least privilege: the one table of every AWS call relight makes, by command (calls.py), the
IAM action of each call (actions.py), and the policy documents made from them (policies.py).

The table is kept honest by the call log: with `RELIGHT_CALL_LOG` naming a file, every client
relight builds appends `<command>\\t<service>\\t<Operation>` per call (relight.aws.clients), and
tests/conftest.py fails the suite when a call it made is missing here (`missing_calls`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from relight.model.permissions.actions import iam_action
from relight.model.permissions.calls import CALLS
from relight.model.permissions.story import STORY

__all__ = ["CALLS", "NO_COMMAND", "STORY", "iam_action", "missing_calls"]

NO_COMMAND = "-"  # the call log's command of a call made outside any CLI command (tests)


def missing_calls(lines: Iterable[str], calls: Mapping[str, frozenset[str]] = CALLS) -> list[str]:
    """Each `<command> <service>.<Operation>` of the call log's `lines` that `calls` lacks,
    sorted, once. A call made outside a command (`-`: the engine called from Python) must be
    in some command's set."""
    anywhere = frozenset().union(*calls.values())
    missing = set()
    for line in lines:
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 3:
            continue
        command, service, operation = parts
        call = f"{service}.{operation}"
        known = anywhere if command == NO_COMMAND else calls.get(command, frozenset())
        if call not in known:
            missing.add(f"{command} {call}")
    return sorted(missing)
