"""`relight estate drill` after `relight estate prepare` on the stand-in: the demo estate's
baseline is a StackSet's stack in each account (`StackSet-shared-baseline-…`, not relight's
`shared-baseline`), and every environment's drill reads it there, verifies, writes its report
and leaves nothing of the drill behind, the StackSet's stacks standing as they were."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import relight
from relight import standin
from test_estate_drill_e2e import ACCOUNTS, _stacks_left

pytestmark = pytest.mark.e2e

DRILL_ID = "e2e-sets"


def test_a_drill_reads_the_global_stacks_a_stackset_made(
    world: dict[str, Any], tmp_path: Any
) -> None:
    prepared = relight(
        world, "estate", "prepare", "--estate", "demo", "--region", "us-west-2", "--yes"
    )
    assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    running = standin.find(world["state"])
    assert running is not None
    before = {a: sorted(_stacks_left(running.endpoint, a)) for a in ACCOUNTS}
    made = [
        n for names in before.values() for n in names if n.startswith("StackSet-shared-baseline-")
    ]
    assert len(made) == 2, before  # one in each account, neither named shared-baseline
    assert not any(n.endswith("-baseline") for names in before.values() for n in names), before
    reports = tmp_path / "reports"
    done = relight(
        world, "estate", "drill", "--estate", "demo", "--region", "us-west-2",
        "--drill-id", DRILL_ID, "--reports", str(reports),
    )  # fmt: skip
    said = done.stdout + done.stderr
    assert done.returncode == 0, said
    assert "estate drill passed" in done.stdout
    assert "does not exist" not in said
    report = json.loads((reports / "estates" / "demo" / f"{DRILL_ID}.json").read_text())
    states = {e["name"]: e["state"] for e in report["environments"]}
    assert states == {"shared": "verified", "demo": "verified", "storefront": "verified"}
    for env in states:
        own = json.loads((reports / env / DRILL_ID / "report.json").read_text())
        assert own["teardown"]["status"] == "ok"
    after = {a: sorted(_stacks_left(running.endpoint, a)) for a in ACCOUNTS}
    for account in ACCOUNTS:
        left = [n for n in after[account] if f"-drill-{DRILL_ID}-" in n]
        assert left == [], f"{ACCOUNTS[account]} ({account}) still has {left}"
    assert after == before  # the prepared stacks, the StackSet's among them, untouched
    # readiness reads the StackSet's stack too, and finds the drill just recorded
    ready = relight(
        world, "readiness", "--env", "shared", "--region", "us-west-2",
        "--reports", str(reports), "--json",
    )  # fmt: skip
    verdict = json.loads(ready.stdout)
    findings = [f for f in verdict["findings"] if f["check"] in ("prepared", "drill")]
    assert not [f for f in findings if f["severity"] == "error"], findings


def test_status_shows_and_teardown_prepared_leaves_the_stackset_stack(
    world: dict[str, Any],
) -> None:
    """After the estate prepare above: `relight status` lists shared's baseline under the
    StackSet's stack name; `relight teardown --prepared` deletes relight's own prepared stacks,
    names the StackSet's and leaves it standing."""
    shown = relight(world, "status", "--env", "shared", "--region", "us-west-2", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {r["name"]: r["stack"] for r in json.loads(shown.stdout)}
    made = [n for n in rows if n.startswith("StackSet-shared-baseline-")]
    assert len(made) == 1 and rows[made[0]] == "baseline", rows
    gone = relight(
        world, "teardown", "--env", "shared", "--region", "us-west-2", "--prepared", "--yes"
    )
    said = " ".join((gone.stdout + gone.stderr).split())
    assert gone.returncode == 0, said
    assert f"left alone: {made[0]}, made by StackSet shared-baseline" in said
    assert "never by teardown" in said
    running = standin.find(world["state"])
    assert running is not None
    left = _stacks_left(running.endpoint, "123456789012")
    assert made[0] in left and "shared-identity" not in left, left
