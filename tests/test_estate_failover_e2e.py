"""`relight estate failover` end to end on the stand-in, with the demo estate (estates/demo.yaml:
shared, then demo and storefront, in two accounts): a fault injected into shared's network
stack fails shared, which stops exactly demo and storefront (never started); the summary says
so and gives the command that continues; that command, the fault gone, brings all three back,
CloudFormation throttling storefront's calls meanwhile (slower, never failed).

The `stands: global` stacks every failover reads are prepared first, environment by
environment, through each account's role (`commands.failover.prepare`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from conftest import REPO
from relight import standin
from relight.cli import app
from relight.standin.faults import read_faults

REGION = "us-west-2"
FAULT = """\
stand_in_faults:
  resources:
    - {stack: shared-network, resource: "*", mode: fail, message: "injected: no capacity"}
"""
THROTTLE = """\
stand_in_faults:
  throttle:
    - {action: CreateStack, count: 6, region: us-west-2}
"""


def _faulted_estate(tmp_path: Path) -> Path:
    """estates/demo.yaml and its environment files, shared's with a fault, under tmp_path."""
    (tmp_path / "estates").mkdir()
    (tmp_path / "stacks").mkdir()
    estate = (REPO / "estates" / "demo.yaml").read_text(encoding="utf-8")
    (tmp_path / "estates" / "demo.yaml").write_text(estate, encoding="utf-8")
    for name in ("shared", "demo", "storefront"):
        text = (REPO / "stacks" / f"{name}.yaml").read_text(encoding="utf-8")
        if "\nblueprints_dir:" not in text:
            text += f"\nblueprints_dir: {REPO / 'blueprints'}\n"
        if name == "shared":
            text += "\n" + FAULT
        (tmp_path / "stacks" / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path / "estates" / "demo.yaml"


def _prepare_all() -> None:
    from relight.aws.budget import Budgets
    from relight.commands.failover import prepare
    from relight.estate.accounts import connect_env
    from relight.model.estate import load_estate
    from relight.steps.render import build_plan

    estate = load_estate(str(REPO / "estates" / "demo.yaml"), REGION)
    budgets = Budgets(estate)
    for name in estate.order():
        conn = connect_env(estate, name, REGION, command="prepare", budgets=budgets)
        plan = build_plan(estate.envs[name], REGION, stand_in=True, phase="prepare")
        result = prepare(plan, conn)
        assert result.ok, (name, result.outcome.failed())


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["estate", "failover", *args])


def test_a_failed_environment_stops_exactly_its_dependents_and_the_continue_command_finishes(
    tmp_path: Path, state_dir: Path
) -> None:
    _prepare_all()
    faulted = _faulted_estate(tmp_path)
    run = _invoke("--estate", str(faulted), "--region", REGION, "--yes")
    assert run.exit_code == 1, run.output
    lines = run.output.splitlines()
    assert any(line.startswith("[shared] started (wave 1") for line in lines)
    assert "[demo] stopped: after shared, which failed" in lines
    assert "[storefront] stopped: after shared, which failed" in lines
    assert not any(line.startswith(("[demo] started", "[storefront] started")) for line in lines)
    rows = {line.split()[0]: line for line in lines if line.startswith("  ") and " s  " in line}
    assert rows["shared"].split()[1] == "failed"
    assert "stack shared-network failed: " in rows["shared"]
    assert "injected: no capacity" in rows["shared"]
    assert rows["demo"].split()[1:] == ["stopped", "-", "s", "stopped:", "after", "shared,",
                                        "which", "failed"]  # fmt: skip
    assert rows["storefront"].split()[1] == "stopped"
    assert "FAILED: 0 verified in" in run.output
    continue_with = (
        f"relight estate failover --estate {faulted} --region {REGION} "
        "--only shared,demo,storefront --yes"
    )
    assert f"  {continue_with}" in lines

    # the cause fixed (the fault taken out of shared's file), the continue command as printed;
    # meanwhile CloudFormation throttles storefront's account: it slows, and fails nothing
    stacks = faulted.parent.parent / "stacks"
    shared = stacks / "shared.yaml"
    shared.write_text(shared.read_text(encoding="utf-8").replace(FAULT, ""), encoding="utf-8")
    storefront = stacks / "storefront.yaml"
    storefront.write_text(storefront.read_text(encoding="utf-8") + "\n" + THROTTLE, "utf-8")
    again = _invoke(*continue_with.split()[3:], "--json")
    assert again.exit_code == 0, again.output
    seen = read_faults(standin.ensure_running(state_dir).endpoint)
    assert seen["sources"]["environment:storefront"]["throttle_left"] == [0]
    assert len([h for h in seen["hits"] if h["kind"] == "throttle"]) == 6
    result = json.loads(again.stdout)
    states = {e["name"]: e["state"] for e in result["environments"]}
    assert states == {"shared": "verified", "demo": "verified", "storefront": "verified"}
    started = {e["name"]: e["started"] for e in result["environments"]}
    ended = {e["name"]: e["ended"] for e in result["environments"]}
    assert started["demo"] >= ended["shared"] and started["storefront"] >= ended["shared"]
    assert result["critical_path"]["environments"][0] == "shared"
    assert result["continue"] is None
    accounts = {p["account_id"] for p in result["peak_stack_operations"]}
    assert accounts == {"123456789012", "210987654321"}
    assert all(1 <= p["peak"] <= 8 for p in result["peak_stack_operations"])
