"""Scheduled actions whose time has passed, left out of a plan.

Auto Scaling refuses to schedule an action in the past (PutScheduledUpdateGroupAction: "If you
try to schedule your action in the past, Amazon EC2 Auto Scaling returns an error message";
rows A12 and A14 of docs/aws-behaviours.md). Capture writes a one-time action only while its
time is ahead, but a failover may come weeks later: a stack holding that action would fail on
it and roll back mid-outage. So every plan (render, plan, prepare, failover, drill, readiness:
all go through `build_plan`) leaves out a one-time action whose start time has passed and any
action whose end time has passed, with a warning naming the file and the key. The clock is
passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from relight.model.fleet import ScheduledAction

OPTION = "scheduled_actions"


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _shown(when: datetime) -> str:
    return _utc(when).strftime("%Y-%m-%dT%H:%MZ")


def why_passed(action: ScheduledAction, now: datetime) -> str | None:
    """Why Auto Scaling would refuse the action at `now`, or None while it may be scheduled."""
    if action.end_time is not None and _utc(action.end_time) <= now:
        return f"its end time {_shown(action.end_time)} has passed"
    if action.recurrence is None and action.start_time and _utc(action.start_time) <= now:
        return f"its start time {_shown(action.start_time)} has passed"
    return None


def leave_out_passed(actions: Sequence[Any], now: datetime) -> tuple[list[Any], list[str]]:
    """The actions to keep (as given), and `[name=X]: why` for each one left out. An item the
    option model refuses is kept, for the blueprint to refuse naming its key."""
    kept: list[Any] = []
    left_out: list[str] = []
    for item in actions:
        try:
            action = ScheduledAction.model_validate(item)
        except ValidationError:
            kept.append(item)
            continue
        why = why_passed(action, _utc(now))
        if why is None:
            kept.append(item)
        else:
            left_out.append(
                f"{OPTION}[name={action.name}]: {why}: it is left out; remove it from the file"
            )
    return kept, left_out
