"""A Route 53 failover pair stands in one region: `regions:` limits where a stack stands, and a
failover record that could stand in two regions, or a latch alarm in another account than the
zone's, is refused at render time with the file, the key, its line and the fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import MINIMAL
from relight.cli import app
from relight.errors import ConfigError
from relight.model.config import load_environment
from relight.steps.render import build_plan

RUNNER = CliRunner()

# The recovery side of the pair, literal targets so that it reads no other stack.
DNS = """\
  dns:
    blueprint: dns
    stands: pilot_light
{regions}    params:
      mode: failover
      failover_role: SECONDARY
{latch}      HostedZoneName: shop.example.com.
      RecordName: www.shop.example.com.
      LoadBalancerDNSName: lb.example.com
      LoadBalancerHostedZoneId: Z1H1FL5HABSF5
"""


def _env(
    write_env: Callable[[str], Path],
    recovery: str = "[us-west-2, eu-west-1]",
    regions: str = "",
    latch: str = "",
    accounts: str = "",
) -> Path:
    text = MINIMAL.replace("recovery_regions: [us-west-2]", f"recovery_regions: {recovery}")
    text = text.replace("stand_in: true\n", "stand_in: true\n" + accounts)
    return write_env(text + DNS.format(regions=regions, latch=latch))


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_secondary_record_that_could_stand_in_two_recovery_regions_is_refused_with_its_line(
    write_env: Callable[[str], Path],
) -> None:
    path = _env(write_env)
    loaded = load_environment(str(path), "us-west-2")
    for region in ("us-west-2", "eu-west-1"):
        with pytest.raises(ConfigError) as caught:
            build_plan(loaded, region, phase="prepare", strategy="pilot_light")
        message = str(caught.value)
        assert message.startswith(f"{path}:{_line(path, '  dns:')}: stacks.dns: holds a Route 53 ")
        assert "failover record (SECONDARY) and could stand in 2 regions" in message
        assert "(eu-west-1, us-west-2)" in message and "nothing was changed" in message
        assert f"e.g. regions: [{region}];" in caught.value.hint, "the region at hand"
        assert caught.value.exit_code == 2


def test_a_failover_that_reads_the_standing_pair_is_not_refused_over_it(
    write_env: Callable[[str], Path],
) -> None:
    loaded = load_environment(str(_env(write_env)), "us-west-2")
    plan = build_plan(loaded, "us-west-2", strategy="pilot_light")
    assert "dns" in plan.prepared, "read, not built: Route 53 is not changed by a failover"


def test_one_recovery_region_without_regions_is_refused_only_when_prepared_elsewhere(
    write_env: Callable[[str], Path],
) -> None:
    loaded = load_environment(str(_env(write_env, recovery="[us-west-2]")), "us-west-2")
    assert "dns" in build_plan(loaded, "us-west-2", phase="prepare", strategy="pilot_light").stacks
    with pytest.raises(ConfigError, match=r"could stand in 2 regions .*eu-west-1, us-west-2"):
        build_plan(loaded, "eu-west-1", phase="prepare", strategy="pilot_light")


def test_regions_limits_where_the_pair_stands_and_other_regions_leave_it_out(
    write_env: Callable[[str], Path],
) -> None:
    path = _env(write_env, regions="    regions: [us-west-2]\n")
    loaded = load_environment(str(path), "us-west-2")
    here = build_plan(loaded, "us-west-2", phase="prepare", strategy="pilot_light")
    assert list(here.stacks) == ["dns"]
    there = build_plan(loaded, "eu-west-1", phase="prepare", strategy="pilot_light")
    assert there.stacks == {}
    assert there.skipped["dns"] == "regions: us-west-2: it stands only there"
    failover = build_plan(loaded, "eu-west-1", strategy="pilot_light")
    assert "dns" not in failover.prepared and "dns" in failover.skipped


def test_regions_naming_two_regions_is_refused_too(write_env: Callable[[str], Path]) -> None:
    path = _env(write_env, regions="    regions: [us-west-2, eu-west-1]\n")
    with pytest.raises(ConfigError, match=r"its regions: names eu-west-1, us-west-2"):
        loaded = load_environment(str(path), "us-west-2")
        build_plan(loaded, "us-west-2", phase="prepare", strategy="pilot_light")


def test_render_refuses_the_pair_before_writing_anything(
    write_env: Callable[[str], Path], tmp_path: Path
) -> None:
    path = _env(write_env)
    out = tmp_path / "out"
    args = ["--region", "us-west-2", "--strategy", "pilot_light", "--out", str(out)]
    result = RUNNER.invoke(app, ["render", "--env", str(path), *args, "--no-lint"])
    assert result.exit_code == 2, result.output
    assert "stacks.dns: holds a Route 53 failover record" in " ".join(result.output.split())
    assert not out.exists(), "nothing is written"


def test_a_latch_alarm_in_the_recovery_account_is_refused_with_the_reason(
    write_env: Callable[[str], Path],
) -> None:
    accounts = 'account_id: "111111111111"\nrecovery_account_id: "222222222222"\n'
    path = _env(write_env, recovery="[us-west-2]", accounts=accounts)
    loaded = load_environment(str(path), "us-west-2")
    with pytest.raises(ConfigError) as caught:
        build_plan(loaded, "us-west-2", phase="prepare", strategy="pilot_light")
    message = str(caught.value)
    assert message.startswith(f"{path}:{_line(path, '  dns:')}: stacks.dns: its failback latch")
    assert "recovery account 222222222222" in message and "account 111111111111" in message
    assert "reads alarms in its own account, never another's" in message
    assert "role_arn: a role in account 111111111111" in caught.value.hint
    assert "failback_latch: false" in caught.value.hint
    # Without the latch the record alone is made (its zone is checked by preflight).
    path = _env(write_env, recovery="[us-west-2]", accounts=accounts, latch=LATCH_OFF)
    loaded = load_environment(str(path), "us-west-2")
    plan = build_plan(loaded, "us-west-2", phase="prepare", strategy="pilot_light")
    assert list(plan.stacks) == ["dns"]


LATCH_OFF = "      failback_latch: false\n"
