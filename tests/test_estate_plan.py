"""`relight estate plan`: each environment's plan and forecast RTO, the waves, and the estate's
forecast as the critical path through the environments' predecessors. Changes nothing.

On moto in-process (tests/estate_world.py), with the home region switched off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from estate_world import HOME, REGION, World, estate_world
from relight.estate.plan import plan_estate

BUILT = {"network": "create", "security": "create", "web": "create"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from estate_world(tmp_path)


def test_every_environment_is_planned_and_the_estate_forecast_is_its_critical_path(
    world: World, tmp_path: Path
) -> None:
    estate = world.write()
    result = plan_estate(estate, REGION, tmp_path / "reports", connect=world.connect)

    assert result.waves == [["shared"], ["demo", "storefront"]]
    assert list(result.envs) == ["shared", "demo", "storefront"]
    assert {n: e.actions for n, e in result.envs.items()} == dict.fromkeys(result.envs, BUILT)
    assert {n: e.summary() for n, e in result.envs.items()} == dict.fromkeys(
        result.envs, "3 create"
    )
    storefront = result.envs["storefront"]
    assert (storefront.wave, storefront.account, storefront.predecessors) == (
        1,
        "shop",
        ["shared"],
    )
    assert set(storefront.restores) == {"web_ami", "web_data"}
    assert storefront.restores_text().startswith("2 copies, oldest ")
    # the same stacks: the same forecast, each the one `relight plan` gives (dr.forecast)
    one = result.envs["shared"].forecast_seconds
    assert one and {e.forecast_seconds for e in result.envs.values()} == {one}
    assert result.envs["shared"].forecast_path == "network → security → web"
    # shared, then either: equally long, the first by name
    assert result.critical_path == ["shared", "demo"]
    assert result.critical_seconds == pytest.approx(2 * one)
    assert result.objective_seconds == 7200
    assert result.within is (2 * one <= 7200)
    assert result.exit_code() == 0
    assert sorted(world.connected) == ["demo", "shared", "storefront"]
    cfn = boto3.client("cloudformation", REGION)
    assert cfn.describe_stacks()["Stacks"] == [], "plan builds nothing"
    assert world.outage.refused == [], "nothing asked of the home region " + HOME


def test_the_critical_path_follows_after_edges_not_waves_and_can_be_over_the_objective(
    world: World, tmp_path: Path
) -> None:
    estate = world.write(rto="10m", storefront_after="demo")
    result = plan_estate(estate, REGION, tmp_path / "reports", connect=world.connect)

    assert result.waves == [["shared"], ["demo"], ["storefront"]]
    one = result.envs["shared"].forecast_seconds
    assert one is not None
    assert result.critical_path == ["shared", "demo", "storefront"]
    assert result.critical_seconds == pytest.approx(3 * one)
    assert result.within is False, "three forecasts in a row are over ten minutes"
    shown = result.as_dict()["forecast"]
    assert shown["critical_path"] == ["shared", "demo", "storefront"]
    assert shown["within"] is False and shown["objective_seconds"] == 600


def test_an_environment_that_cannot_be_planned_is_said_and_the_others_are_planned(
    world: World, tmp_path: Path
) -> None:
    estate = world.write(tags={"storefront": "store"})  # no AMI tagged Role=store
    result = plan_estate(estate, REGION, tmp_path / "reports", connect=world.connect)

    storefront = result.envs["storefront"]
    assert storefront.error is not None
    assert "artifacts.web_ami" in storefront.error and "Role=store" in storefront.error
    assert storefront.summary().startswith(
        "cannot plan: artifacts.web_ami: no AMI tagged Role=store in us-west-2"
    )
    assert storefront.exit_code == 2, "a preflight problem: bad input, nothing was changed"
    assert storefront.forecast_seconds, "its forecast needs no AWS call: still given"
    assert result.blocked == ["storefront"]
    assert result.exit_code() == 2
    assert result.envs["shared"].actions == BUILT and result.envs["demo"].actions == BUILT


def test_the_printed_plan_gives_the_waves_each_row_and_the_estates_forecast(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from relight.cli.estate.plan import _print
    from relight.dr.report import human_duration

    estate = world.write(tags={"storefront": "store"})
    result = plan_estate(estate, REGION, tmp_path / "reports", connect=world.connect)
    _print(result)
    out = capsys.readouterr().out
    assert out.splitlines()[:3] == [
        "estate corp into us-west-2: 3 environment(s) in 2 wave(s)",
        "  wave 1: shared",
        "  wave 2: demo, storefront",
    ]
    assert "cannot plan: " in out, "its first problem in its row"
    assert "storefront: preflight found" in out, "the whole problem, under the table"
    within = "within" if result.within else "OVER"
    assert (
        f"RTO forecast for the estate on AWS: {human_duration(result.critical_seconds)} "
        f"(critical path shared → demo); objective 2 h: {within}"
    ) in out
