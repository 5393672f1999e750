"""A row of the ledger's table (table.py) and its constructors: what capture does with one
property of one resource type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    keys: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    rebuild: str = ""  # changed on purpose: the rebuild's value
    why: str = ""
    same: Callable[[Any], bool] | None = None
    absent: bool = False
    note_on: str = ""  # the note's resource ends with this (a group's "ingress" or "egress")
    if_absent: tuple[str, str] | None = None  # (rebuild, why) when production lacks it
    # absent from the file, production's value is the default the rebuild gets: (value, props)
    default: Callable[[Any, dict[str, Any]], bool] | None = None
    by: str = ""  # what makes the default (AWS's, the blueprint's)
    # production's value the rebuild replaces on purpose: (value, props) → (rebuild, why)
    changed_when: Callable[[Any, dict[str, Any]], bool] | None = None


AWS_DEFAULT = "absent from the file: AWS's default, which production has"
BLUEPRINT_DEFAULT = "absent from the file: the blueprint's default, which production has"


def reproduced(
    *keys: str,
    notes: tuple[str, ...] = (),
    note_on: str = "",
    if_absent: tuple[str, str] | None = None,
    default: Callable[[Any, dict[str, Any]], bool] | None = None,
    by: str = AWS_DEFAULT,
    changed_when: Callable[[Any, dict[str, Any]], bool] | None = None,
    rebuild: str = "",
    why: str = "",
) -> Row:
    """Reproduced at `keys`; with `default`, also when the file holds none of them and
    production's value is exactly the default the rebuild gets (`by` says whose); with
    `changed_when`, changed on purpose (`rebuild`, `why`) when it holds."""
    return Row(
        keys=keys,
        notes=notes,
        note_on=note_on,
        if_absent=if_absent,
        default=default,
        by=by,
        changed_when=changed_when,
        rebuild=rebuild,
        why=why,
    )


def noted(
    *notes: str,
    default: Callable[[Any, dict[str, Any]], bool] | None = None,
    by: str = AWS_DEFAULT,
) -> Row:
    """Named by a note when production's value is one the blueprint cannot make; with
    `default`, reproduced (nothing written) when production has the default."""
    return Row(notes=notes, default=default, by=by)


def at_default(default: Callable[[Any, dict[str, Any]], bool], by: str = AWS_DEFAULT) -> Row:
    """Capture writes nothing for it: reproduced when production has the default the rebuild
    gets, else not read (the value shown)."""
    return Row(default=default, by=by)


def equals(value: Any) -> Callable[[Any, dict[str, Any]], bool]:
    return lambda v, _props: v == value


def empty(v: Any, _props: dict[str, Any]) -> bool:
    return not v


def changed(rebuild: str, why: str, same: Callable[[Any], bool], *, absent: bool = False) -> Row:
    return Row(rebuild=rebuild, why=why, same=same, absent=absent)


def is_(value: Any) -> Callable[[Any], bool]:
    return lambda v: v == value
