"""az_count against what each blueprint needs: an Application Load Balancer takes subnets from
at least two Availability Zones and a DB subnet group must cover at least two, so an environment
with either is refused one zone when the file is read (exit 2, nothing started), each key named
with its line and the fix. A network load balancer, or compute alone, stands in one zone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import MINIMAL
from relight.cli import app
from relight.errors import ConfigError
from relight.model.config import load_environment

RUNNER = CliRunner()
LOAD_BALANCER = """\
  load_balancer:
    blueprint: load_balancer
    params:
      type: {kind}
      target_port: 8080
      VpcId: {{output: network.VpcId}}
      SubnetIds: {{output: network.PublicSubnetIds}}
      SecurityGroupId: {{output: security.WebSecurityGroupId}}
"""
ONE_ZONE = (
    MINIMAL.replace("zones: {count: 2}", "zones: {count: 1}")
    .replace("      az_count: 2\n", "      az_count: 1\n")
    .replace("      count: 2\n", "      count: 1\n")
)


def test_one_zone_with_an_application_load_balancer_is_refused_at_every_key_with_its_line(
    write_env: Callable[[str], Path], state_dir: Path, tmp_path: Path
) -> None:
    path = write_env(ONE_ZONE + LOAD_BALANCER.format(kind="application"))
    out = tmp_path / "rendered"
    result = RUNNER.invoke(
        app, ["render", "--env", str(path), "--region", "us-west-2", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.stderr.split())
    assert f"{path}: 3 problems" in text
    lines = path.read_text().splitlines()
    for key, line in (
        ("zones.count", lines.index("zones: {count: 1}") + 1),
        ("stacks.network.params.az_count", lines.index("      az_count: 1") + 1),
        ("stacks.web.params.az_count", len(lines) - lines[::-1].index("      az_count: 1")),
    ):
        assert (
            f"line {line}: {key}: 1, but stacks.load_balancer (blueprint load_balancer) needs at "
            "least 2 zones: an Application Load Balancer takes"
        ) in text
    assert '"You must specify subnets from at least two Availability Zones"' in text
    assert "give 2 or more (zones.count, zones.ids and every az_count agree" in text
    assert not out.exists() and not state_dir.exists(), "nothing written, nothing started"


def test_a_database_needs_two_zones_and_names_rdss_refusal(write_env: Callable[..., Path]) -> None:
    database = """\
  database:
    blueprint: database
    params:
      VpcId: {output: network.VpcId}
      SubnetIds: {output: network.PrivateSubnetIds}
      SecurityGroupId: {output: security.WebSecurityGroupId}
"""
    with pytest.raises(ConfigError) as refused:
        load_environment(str(write_env(ONE_ZONE + database)), "us-west-2")
    assert (
        "zones.count: 1, but stacks.database (blueprint database) needs at least 2 zones: its "
        "DB subnet group must cover at least 2 AZs"
    ) in str(refused.value)
    assert "Add subnets to cover at least 2 AZs." in str(refused.value)


def test_zone_ids_for_a_region_are_held_to_the_same_need(write_env: Callable[..., Path]) -> None:
    text = MINIMAL.replace("zones: {count: 2}", "zones: {ids: {us-west-2: [usw2-az1]}}")
    with pytest.raises(ConfigError) as refused:
        load_environment(str(write_env(text + LOAD_BALANCER.format(kind="application"))), None)
    assert "zones.ids.us-west-2: 1, but stacks.load_balancer" in str(refused.value)


def test_one_zone_is_fine_without_a_blueprint_that_needs_two(
    write_env: Callable[..., Path],
) -> None:
    loaded = load_environment(
        str(write_env(ONE_ZONE + LOAD_BALANCER.format(kind="network"))), "us-west-2"
    )
    assert loaded.env.zones.count == 1
