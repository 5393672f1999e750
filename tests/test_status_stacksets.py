"""`relight status` lists the stacks a StackSet made for the environment's global stacks
(relight estate prepare): they carry no `relight:env` tag, only `relight:serves:<name>` for
each relight stack they stand for, and `StackSet-<set>-<id>` as their name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conftest import REPO
from relight.commands.status import status
from relight.model.config import load_environment

WHEN = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _stack(name: str, tags: dict[str, str]) -> dict[str, Any]:
    return {
        "StackName": name,
        "StackStatus": "CREATE_COMPLETE",
        "CreationTime": WHEN,
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }


def test_status_shows_the_stackset_stack_that_stands_for_a_global_stack() -> None:
    loaded = load_environment(str(REPO / "stacks" / "shared.yaml"), "us-west-2")
    set_tags = {
        "relight:stackset": "shared-baseline",
        "relight:stack": "shared-baseline",
        "relight:purpose": "global",
        "relight:prepared": "global",
    }
    listed = [
        _stack(
            "shared-identity",
            {
                "relight:env": "shared",
                "relight:stack": "identity",
                "relight:prepared": "global",
                "relight:purpose": "global",
            },
        ),
        _stack(
            "StackSet-shared-baseline-0f6c2a4e-1b2c-4d5e-8f90-123456789abc",
            {
                **set_tags,
                "relight:serves:shared-baseline": "1",
                "relight:serves:storefront-baseline": "1",
            },
        ),
        _stack(
            "StackSet-storefront-identity-5a1e7c9d-2b3c-4d5e-8f90-123456789abc",
            {"relight:stackset": "storefront-identity", "relight:serves:storefront-identity": "1"},
        ),
        _stack("demo-network", {"relight:env": "demo", "relight:stack": "network"}),
    ]
    rows = status(loaded, None, listed)  # type: ignore[arg-type]
    shown = {r["name"]: (r["stack"], r["prepared"], r["namespace"]) for r in rows}
    assert shown == {
        "shared-identity": ("identity", "global", ""),
        "StackSet-shared-baseline-0f6c2a4e-1b2c-4d5e-8f90-123456789abc": ("baseline", "global", ""),
    }
