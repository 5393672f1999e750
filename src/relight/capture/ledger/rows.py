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


def reproduced(
    *keys: str,
    notes: tuple[str, ...] = (),
    note_on: str = "",
    if_absent: tuple[str, str] | None = None,
) -> Row:
    return Row(keys=keys, notes=notes, note_on=note_on, if_absent=if_absent)


def noted(*notes: str) -> Row:
    return Row(notes=notes)


def changed(rebuild: str, why: str, same: Callable[[Any], bool], *, absent: bool = False) -> Row:
    return Row(rebuild=rebuild, why=why, same=same, absent=absent)


def is_(value: Any) -> Callable[[Any], bool]:
    return lambda v: v == value


def imdsv2(v: Any) -> bool:
    return isinstance(v, dict) and v.get("HttpTokens") == "required"
