"""The demo estate on the stand-in: each environment fails over alone, in its own account,
reached through its account's role (estates/demo.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO
from relight.aws.clients import Aws, AwsTarget
from relight.commands.failover import failover
from relight.estate.accounts import connect_env
from relight.model.estate import load_estate
from relight.steps.render import build_plan

SHOP, PLATFORM = "210987654321", "123456789012"

pytestmark = pytest.mark.e2e


def test_the_demo_estate_loads_with_its_waves_accounts_and_budget() -> None:
    estate = load_estate(str(REPO / "estates" / "demo.yaml"), "us-west-2")
    assert estate.waves == [["shared"], ["demo", "storefront"]]
    assert estate.predecessors("storefront") == {"shared"}
    assert estate.dependents("shared") == {"demo", "storefront"}
    assert estate.access("storefront").id == SHOP
    assert estate.access("storefront").role == f"arn:aws:iam::{SHOP}:role/relight-estate"
    assert estate.access("demo").id == PLATFORM
    budget = estate.budget_for("shop", "us-west-2")
    assert (budget.requests_per_second, budget.burst, budget.stack_operations) == (20, 40, 8)
    assert estate.file.objectives.rto == 7200
    global_stacks = {
        name: [k for k, s in loaded.env.stacks.items() if s.stands == "global"]
        for name, loaded in estate.envs.items()
    }
    assert global_stacks == {
        "shared": ["identity", "baseline"],
        "demo": ["identity"],
        "storefront": ["identity", "baseline"],
    }


def _stacks(aws: Aws, region: str) -> set[str]:
    cfn = aws.client("cloudformation", region)
    return {
        s["StackName"]
        for page in cfn.get_paginator("describe_stacks").paginate()
        for s in page["Stacks"]
        if s["StackStatus"] != "DELETE_COMPLETE"
    }


def test_the_storefront_fails_over_alone_in_the_shop_account_through_its_role(
    state_dir: Path,
) -> None:
    estate = load_estate(str(REPO / "estates" / "demo.yaml"), "us-west-2")
    said: list[str] = []
    conn = connect_env(estate, "storefront", "us-west-2", command="failover", say=said.append)
    assert conn.account_id == SHOP
    plan = build_plan(estate.envs["storefront"], "us-west-2", stand_in=True)
    result = failover(plan, conn, on_progress=said.append)
    assert result.ok, said
    mine = _stacks(conn.aws, "us-west-2")
    expected = {
        f"storefront-{k}" for k in ("network", "security", "load-balancer", "web", "database")
    }
    assert expected <= mine
    assert "storefront-identity" in mine  # prepared by the story, as the shop account's
    # nothing of the storefront in the platform account
    assert conn.stand_in is not None
    platform = Aws(AwsTarget(endpoint_url=conn.stand_in.endpoint, stand_in=True))
    assert platform.account_id("us-west-2") == PLATFORM
    assert not {s for s in _stacks(platform, "us-west-2") if s.startswith("storefront-")}
    for name in expected:
        stack = conn.aws.client("cloudformation", "us-west-2").describe_stacks(StackName=name)
        assert f":{SHOP}:stack/" in stack["Stacks"][0]["StackId"]


def test_the_shared_services_and_the_demo_fail_over_alone_in_the_platform_account(
    state_dir: Path,
) -> None:
    estate = load_estate(str(REPO / "estates" / "demo.yaml"), "us-west-2")
    for name in ("shared", "demo"):
        said: list[str] = []
        conn = connect_env(estate, name, "us-west-2", command="failover", say=said.append)
        assert conn.account_id == PLATFORM
        assert conn.aws.target.role_arn == f"arn:aws:iam::{PLATFORM}:role/relight-estate"
        plan = build_plan(estate.envs[name], "us-west-2", stand_in=True)
        result = failover(plan, conn, on_progress=said.append)
        assert result.ok, (name, said)
        assert f"{name}-network" in _stacks(conn.aws, "us-west-2")
