"""The DR ladder side by side (relight.dr.ladder): each rung's forecast RTO and standing cost.

Rendering only: the rungs come from the demo environment's file, the costs from the rendered
prepare plans (relight.dr.costs), the RTO from the failover plans (relight.dr.forecast). The plan
command's printing of the ladder runs in-process on moto.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from moto import mock_aws
from typer.testing import CliRunner

from conftest import BLUEPRINTS, MINIMAL, REPO, moto_web_inputs
from relight.cli import app
from relight.dr.costs import monthly_total, stack_costs
from relight.dr.ladder import Rung, ladder
from relight.errors import ConfigError
from relight.model.config import load_environment
from relight.model.prices import HOURS_PER_MONTH, PRICES
from relight.steps.render import build_plan

REGION = "us-west-2"
DEMO = REPO / "stacks" / "demo.yaml"
STRATEGIES = ["backup_restore", "pilot_light", "warm_standby"]


@pytest.fixture(scope="module")
def rungs() -> dict[str, Rung]:
    """The demo's rungs with the database restored from snapshot copies (the data axis:
    tests/test_ladder_data.py)."""
    found = ladder(load_environment(str(DEMO), REGION), REGION)
    return {r.strategy: r for r in found if r.data == "snapshot"}


def _demo_with(write_env: Callable[..., Path], extra: str) -> Path:
    """The demo environment's file with `extra` top-level keys, in a fresh stacks/."""
    text = DEMO.read_text(encoding="utf-8").replace(
        "stand_in: true\n", f"stand_in: true\nblueprints_dir: {BLUEPRINTS}\n{extra}"
    )
    return write_env(text, "demo")


def test_the_ladder_has_three_rungs_from_backup_restore_up() -> None:
    found = ladder(load_environment(str(DEMO), REGION), REGION)
    assert [r.strategy for r in found if r.data == "snapshot"] == STRATEGIES


def test_each_rung_keeps_more_standing_and_builds_less_at_failover(
    rungs: dict[str, Rung],
) -> None:
    assert rungs["backup_restore"].standing == ("identity",)
    assert rungs["pilot_light"].standing == (
        "identity", "network", "security", "load_balancer", "dns",
    )  # fmt: skip
    assert rungs["warm_standby"].standing == (
        "identity", "network", "security", "load_balancer", "dns", "web",
    )  # fmt: skip
    assert set(rungs["backup_restore"].built) == {
        "network", "security", "database", "load_balancer", "web",
    }, "dns is not built at backup_restore: nothing stands for it to point at"  # fmt: skip
    assert set(rungs["pilot_light"].built) == {"database", "web"}
    assert set(rungs["warm_standby"].built) == {"database", "web"}, "web is scaled up at failover"


def test_standing_cost_rises_up_the_ladder_and_is_the_sum_of_the_prepared_stacks(
    rungs: dict[str, Rung],
) -> None:
    costs = [rungs[s].usd_month for s in STRATEGIES]
    assert costs[0] < costs[1] < costs[2]
    loaded = load_environment(str(DEMO), REGION)
    for strategy in STRATEGIES:
        preparing = build_plan(loaded, REGION, strategy=strategy, phase="prepare")
        by_hand = sum(
            monthly_total(stack_costs(key, json.loads(sp.body), loaded.env.prices))
            for key, sp in preparing.stacks.items()
        )
        assert rungs[strategy].usd_month == pytest.approx(by_hand), strategy
    assert rungs["backup_restore"].usd_month == 0, "IAM roles cost nothing to keep"
    web = [line for line in rungs["warm_standby"].lines if line.stack == "web" and line.usd_month]
    assert [line.what for line in web] == ["1 x t3.small"], "the standby runs its standby_params"
    assert web[0].usd_month == pytest.approx(PRICES["ec2:t3.small"] * HOURS_PER_MONTH)


def test_forecast_rto_never_rises_up_the_ladder_and_backup_restore_waits_for_the_network(
    rungs: dict[str, Rung],
) -> None:
    seconds = [rungs[s].forecast.seconds for s in STRATEGIES]
    assert seconds[0] >= seconds[1] >= seconds[2]
    assert seconds[0] > seconds[1], "a standing network takes the network off the critical path"
    assert rungs["backup_restore"].forecast.critical_path[0] == "network"
    assert "network" not in rungs["pilot_light"].forecast.critical_path
    assert rungs["pilot_light"].forecast.critical_path[-1] == "web"


def test_a_rung_as_json_names_its_path_stacks_and_priced_lines(rungs: dict[str, Rung]) -> None:
    shown = rungs["pilot_light"].as_dict()
    assert shown["strategy"] == "pilot_light"
    assert shown["rto_seconds"] == round(rungs["pilot_light"].forecast.seconds)
    assert shown["usd_month"] == round(rungs["pilot_light"].usd_month, 2)
    assert shown["built_at_failover"] == list(rungs["pilot_light"].built)
    assert {c["type"] for c in shown["costs"]} >= {
        "AWS::EC2::NatGateway",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
    }
    assert all(c["usd_month"] or c["unpriced"] for c in shown["costs"]), "no zero lines"


def test_a_price_from_the_environment_file_changes_the_rungs_that_keep_it_standing(
    write_env: Callable[..., Path], rungs: dict[str, Rung]
) -> None:
    path = _demo_with(write_env, "prices: {'elb:application': 1.0}\n")
    found = ladder(load_environment(str(path), REGION), REGION)
    priced = {r.strategy: r for r in found if r.data == "snapshot"}
    more = (1.0 - PRICES["elb:application"]) * HOURS_PER_MONTH  # one ALB, every hour of a month
    assert priced["pilot_light"].usd_month == pytest.approx(rungs["pilot_light"].usd_month + more)
    assert priced["warm_standby"].usd_month == pytest.approx(rungs["warm_standby"].usd_month + more)
    assert priced["backup_restore"].usd_month == 0, "no load balancer stands at backup_restore"


def test_a_price_key_that_is_not_service_colon_thing_is_a_config_error_naming_the_file(
    write_env: Callable[..., Path],
) -> None:
    path = _demo_with(write_env, "prices: {application: 1.0}\n")
    with pytest.raises(ConfigError) as caught:
        load_environment(str(path), REGION)
    said = str(caught.value)
    assert str(path) in said
    assert "prices" in said and "service:thing" in said
    assert caught.value.exit_code == 2


def test_past_drills_refine_the_forecast_of_each_rung() -> None:
    loaded = load_environment(str(DEMO), REGION)
    fast = ladder(loaded, REGION, history={"database": [60.0, 120.0, 90.0]}, drills=3)
    typical = ladder(loaded, REGION)
    for strategy in STRATEGIES:  # the database is restored: a drilled restore time
        drilled = fast.row(strategy, "snapshot").forecast
        guessed = typical.row(strategy, "snapshot").forecast
        assert drilled is not None and guessed is not None
        assert drilled.seconds < guessed.seconds, strategy
        assert drilled.from_drills == ["database"]


# the plan command ------------------------------------------------------------------------------

PROFILE = "arn:aws:iam::123456789012:instance-profile/shop-web"
LADDER = (
    MINIMAL.replace("    blueprint: network\n", "    blueprint: network\n    stands: pilot_light\n")
    .replace("    blueprint: security\n", "    blueprint: security\n    stands: pilot_light\n")
    .replace(
        "    blueprint: compute\n",
        "    blueprint: compute\n    stands: warm_standby\n    standby_params: {count: 1}\n",
    )
)


def _plan_cli(path: Path, *args: str) -> tuple[int, str, str]:
    """`relight plan` on moto in-process (--aws), holding MINIMAL's sources."""
    with mock_aws():
        moto_web_inputs(tags=True)
        run = CliRunner().invoke(
            app, ["plan", "--env", str(path), "--region", REGION, "--aws", *args]
        )
    return run.exit_code, run.stdout, run.stderr


def test_plan_json_gives_the_ladder_with_each_rungs_stacks_and_cost(
    write_env: Callable[..., Path],
) -> None:
    code, out, err = _plan_cli(write_env(LADDER), "--json")
    assert code == 0, err
    shown = json.loads(out)["ladder"]
    assert [r["strategy"] for r in shown] == STRATEGIES
    assert [r["standing"] for r in shown] == [
        [], ["network", "security"], ["network", "security", "web"],
    ]  # fmt: skip
    assert shown[0]["built_at_failover"] == ["network", "security", "web"]
    assert shown[2]["built_at_failover"] == ["web"]
    assert shown[0]["usd_month"] == 0
    instance = round(PRICES["ec2:t3.micro"] * HOURS_PER_MONTH, 2)
    web = [c for c in shown[2]["costs"] if c["stack"] == "web" and c["usd_month"]]
    assert [(c["what"], c["usd_month"]) for c in web] == [("1 x t3.micro", instance)]


def test_plan_prints_the_ladder_table_marking_this_runs_rung(
    write_env: Callable[..., Path],
) -> None:
    code, out, err = _plan_cli(write_env(LADDER))
    assert code == 0, err
    assert "the DR ladder: RPO, forecast RTO on AWS and standing cost" in out
    rows = {m.group(1): m.group(0) for m in re.finditer(r"(\w+)(?: \(this run\))?\s.*", out)
            if m.group(1) in STRATEGIES}  # fmt: skip
    assert set(rows) == set(STRATEGIES)
    assert "backup_restore (this run)" in rows["backup_restore"]
    assert "(this run)" not in rows["pilot_light"] + rows["warm_standby"]
    assert "$0.00/month" in rows["backup_restore"]
    assert "network, security, web" in rows["warm_standby"]


def test_prepare_says_of_the_dns_pair_at_backup_restore_what_render_and_failover_say() -> None:
    """Issue 21: prepare at backup_restore said "dns: built at failover" while render and the
    failover leave it out (its Route 53 records need a control plane in another region). Both
    now say the same: prepared from its rung up, not built at this one; a stack a failover
    does build is still "built at failover"."""
    from relight.model.config import load_environment
    from relight.steps.render import build_plan

    loaded = load_environment("demo", "us-west-2")
    prepare = build_plan(loaded, "us-west-2", phase="prepare", strategy="backup_restore")
    failover = build_plan(loaded, "us-west-2", strategy="backup_restore")
    assert "dns" not in failover.stacks
    assert prepare.skipped["dns"] == failover.skipped["dns"]
    assert "so it is not built" in prepare.skipped["dns"]
    assert prepare.skipped["network"] == "built at failover at backup_restore (stands: pilot_light)"
