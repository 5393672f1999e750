"""`relight estate status`: one line per environment, grouped by wave: whether the region
serves it, what stands there, the newest data; only the recovery region is read.

On moto in-process (tests/estate_world.py), with the home region switched off."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from estate_world import ACCOUNT, REGION, World, estate_world
from relight.aws.serving import FAILING_OVER, Serving, mark_serving
from relight.estate.status import estate_status


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from estate_world(tmp_path)


def test_one_line_per_environment_grouped_by_wave_says_which_the_region_serves(
    world: World,
) -> None:
    estate = world.write()
    s3 = boto3.client("s3", REGION)
    mark_serving(s3, ACCOUNT, Serving("shared", REGION, "2026-12-07T08:00:00+00:00", "r1", "x"))
    mark_serving(
        s3,
        ACCOUNT,
        Serving("demo", REGION, "2026-12-07T08:30:00+00:00", "r2", "x", FAILING_OVER),
    )
    result = estate_status(estate, REGION, connect=world.connect)

    waves = [[(e.name, e.serving) for e in wave] for wave in result.by_wave()]
    assert waves == [[("shared", True)], [("demo", True), ("storefront", False)]]
    lines = {e.name: e.line() for e in result.envs.values()}
    assert lines["shared"].startswith(
        "serves from us-west-2 (serving since 2026-12-07T08:00:00); "
        "stands in us-west-2: nothing; newest data "
    )
    assert lines["demo"].startswith("serves from us-west-2 (failing over since 2026-12-07T08:30")
    assert lines["storefront"].startswith(
        "not failed over into us-west-2 (its home region serves); stands in us-west-2: nothing; "
        "newest data "
    )
    assert "(web_" in lines["storefront"] and "the oldest of 2)" in lines["storefront"]
    assert result.as_dict()["serving"] == ["demo", "shared"]
    assert world.outage.refused == [], "only the recovery region is read"


def test_an_environment_that_cannot_be_read_is_said_on_its_line(world: World) -> None:
    from relight.errors import AccountError

    estate = world.write()

    def connect(estate_: object, name: str, region: str, **options: object) -> object:
        if name == "storefront":
            raise AccountError("the role of account shop could not be assumed: AccessDenied")
        return world.connect(estate, name, region)

    result = estate_status(estate, REGION, connect=connect)
    assert result.envs["storefront"].line() == (
        "could not be read: the role of account shop could not be assumed: AccessDenied"
    )
    assert result.envs["shared"].state is not None
