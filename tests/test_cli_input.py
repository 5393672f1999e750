"""Bad options are refused before anything starts: exit 2, one message naming the option (or the
file) and the fix, and nothing changed (no stand-in started, no stack made).

Where a test needs AWS it is moto in-process (`--aws`); where a stand-in would be the first
thing a run starts, the test's private state directory shows none was.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from conftest import MINIMAL, REPO, moto_web_inputs
from relight.cli import app
from test_cli import use_fake_cloudformation

RUNNER = CliRunner()
SHOP_REFUSAL = (
    "--region us-east-1 is shop's home region: a {command} there would build {prefix}-* stacks "
    "beside production; pick a recovery region (us-west-2), or pass --into-home-region if that "
    "is meant"
)


# a target region that is the home region -----------------------------------------------------


def test_a_failover_into_the_demos_home_region_is_refused_before_anything_starts(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    result = RUNNER.invoke(app, ["failover", "--env", "demo", "--region", "us-east-1", "--yes"])
    assert result.exit_code == 2, result.output
    assert (
        "error: --region us-east-1 is demo's home region: a failover there would build demo-* "
        "stacks beside production; pick a recovery region (us-west-2, eu-west-1), or pass "
        "--into-home-region if that is meant"
    ) in result.stderr
    assert result.stderr.count("home region") == 1, "one message"
    assert not state_dir.exists(), "the stand-in was never started"


@pytest.mark.parametrize(
    ("args", "command", "prefix"),
    [
        (["launch", "--as", "qa"], "launch", "shop-qa"),
        (["drill", "--drill-id", "t1"], "drill", "shop-drill-t1"),
    ],
)
def test_a_launch_or_drill_into_the_home_region_is_refused_naming_its_stacks(
    write_env: Callable[[str], Path],
    state_dir: Path,
    args: list[str],
    command: str,
    prefix: str,
) -> None:
    path = write_env(MINIMAL)
    result = RUNNER.invoke(app, [*args, "--env", str(path), "--region", "us-east-1"])
    assert result.exit_code == 2, result.output
    assert SHOP_REFUSAL.format(command=command, prefix=prefix) in result.stderr
    assert not state_dir.exists(), "the stand-in was never started"


def test_a_prepare_into_the_home_region_is_refused_without_naming_an_option_it_lacks(
    write_env: Callable[[str], Path], state_dir: Path
) -> None:
    path = write_env(MINIMAL)
    result = RUNNER.invoke(app, ["prepare", "--env", str(path), "--region", "us-east-1"])
    assert result.exit_code == 2, result.output
    assert (
        "--region us-east-1 is shop's home region: a prepare there would build shop-* stacks "
        "beside production; pick a recovery region (us-west-2)\n"
    ) in result.stderr
    assert "--into-home-region" not in result.stderr, "prepare has no such option"
    assert not state_dir.exists(), "the stand-in was never started"


def test_into_home_region_lets_the_failover_go_on_and_its_continue_command_keeps_it(
    write_env: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_env(MINIMAL)
    with mock_aws():
        moto_web_inputs("us-east-1", tags=True)
        use_fake_cloudformation(monkeypatch, {"shop-web": "fail"})
        result = RUNNER.invoke(
            app,
            ["failover", "--env", str(path), "--region", "us-east-1", "--aws", "--yes",
             "--into-home-region"],
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "home region" not in result.output
    assert "shop-network" in result.stdout, "it deployed"
    assert (
        f"continue with: relight failover --env {path} --region us-east-1 --yes --aws "
        "--into-home-region"
    ) in result.stdout


# option ranges ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["failover", "--yes", "--stack-timeout", "0"],
        ["failover", "--yes", "--stack-timeout", "-30"],
        ["failover", "--yes", "--stack-timeout", "nan"],
        ["launch", "--as", "qa", "--stack-timeout", "0"],
        ["drill", "--stack-timeout", "-1"],
    ],
)
def test_a_stack_timeout_of_zero_or_less_is_refused_naming_the_option(
    write_env: Callable[[str], Path], state_dir: Path, args: list[str]
) -> None:
    path = write_env(MINIMAL)
    result = RUNNER.invoke(app, [*args, "--env", str(path), "--region", "us-west-2"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--stack-timeout'" in result.stderr
    assert "is not a number of seconds above 0" in result.stderr
    assert not state_dir.exists(), "the stand-in was never started"


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_verify_timeout_that_is_no_number_of_seconds_is_refused(
    write_env: Callable[[str], Path], state_dir: Path, value: str
) -> None:
    path = write_env(MINIMAL)
    result = RUNNER.invoke(
        app, ["drill", "--env", str(path), "--region", "us-west-2", "--verify-timeout", value]
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--verify-timeout'" in result.stderr
    assert not state_dir.exists(), "the stand-in was never started"


@pytest.mark.parametrize("drill_id", ["Bad_ID", "-t1", "t1-", "a--b", "x" * 35])
def test_a_bad_drill_id_is_named_as_drill_id_not_as(
    write_env: Callable[[str], Path], state_dir: Path, drill_id: str
) -> None:
    path = write_env(MINIMAL)
    result = RUNNER.invoke(
        app, ["drill", "--env", str(path), "--region", "us-west-2", "--drill-id", drill_id]
    )
    assert result.exit_code == 2, result.output
    assert f"error: --drill-id {drill_id!r}: use 1-34 lowercase letters" in result.stderr
    assert "--as" not in result.stderr
    assert not state_dir.exists(), "the stand-in was never started"


def test_the_longest_drill_id_is_accepted(
    write_env: Callable[[str], Path], state_dir: Path
) -> None:
    path = write_env(MINIMAL)
    result = RUNNER.invoke(
        app,
        ["drill", "--env", str(path), "--region", "us-east-1", "--drill-id", "x" * 34],
    )
    assert result.exit_code == 2, "refused for the home region, not for its id"
    assert f"shop-drill-{'x' * 34}-* stacks" in result.stderr


# render --out -------------------------------------------------------------------------------


@pytest.mark.parametrize("inside", [False, True])
def test_render_out_that_is_a_file_is_refused_and_the_file_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inside: bool
) -> None:
    monkeypatch.chdir(REPO)
    existing = tmp_path / "templates"
    existing.write_text("mine\n", encoding="utf-8")
    out = existing / "demo" if inside else existing
    result = RUNNER.invoke(
        app, ["render", "--env", "demo", "--region", "us-west-2", "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    assert f"error: --out {out}:" in result.stderr
    expected = f"inside {existing}, which is a file" if inside else "is a file, not a directory"
    assert expected in result.stderr
    assert "name a directory" in result.stderr
    assert "unexpected" not in result.stderr
    assert existing.read_text(encoding="utf-8") == "mine\n"


def test_drill_reports_that_is_a_file_is_refused_before_the_drill_starts(
    write_env: Callable[[str], Path], state_dir: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    reports.write_text("mine\n", encoding="utf-8")
    path = write_env(MINIMAL)
    result = RUNNER.invoke(
        app, ["drill", "--env", str(path), "--region", "us-west-2", "--reports", str(reports)]
    )
    assert result.exit_code == 2, result.output
    assert f"error: --reports {reports}: is a file, not a directory" in result.stderr
    assert not state_dir.exists(), "the stand-in was never started: no drill ran"
    assert reports.read_text(encoding="utf-8") == "mine\n"


# --role-arn and --profile ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [
        "relight",
        "arn:aws:iam::1234:role/relight",
        "arn:aws:iam::123456789012:user/relight",
        "arn:aws:sts::123456789012:assumed-role/relight/me",
        "arn:aws:iam::123456789012:role/",
    ],
)
def test_a_malformed_role_arn_is_refused_with_the_expected_shape_and_nothing_is_built(
    write_env: Callable[[str], Path], role: str
) -> None:
    path = write_env(MINIMAL)
    with mock_aws():
        moto_web_inputs(tags=True)
        result = RUNNER.invoke(
            app,
            ["failover", "--env", str(path), "--region", "us-west-2", "--aws", "--yes",
             "--role-arn", role],
        )  # fmt: skip
        stacks = boto3.client("cloudformation", "us-west-2").describe_stacks()["Stacks"]
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--role-arn': {role!r} is not an IAM role's ARN" in result.stderr
    assert "expected arn:aws:iam::<12-digit account id>:role/<name>" in result.stderr
    assert "trust policy" not in result.stderr
    assert stacks == []


@pytest.fixture
def aws_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An AWS config file that defines the profile prod; no endpoint answers."""
    config = tmp_path / "aws-config"
    config.write_text("[profile prod]\nregion = us-west-2\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # any AWS call would fail
    return config


def test_an_unknown_profile_exits_2_naming_it_and_the_profiles_there(
    write_env: Callable[[str], Path], state_dir: Path, aws_config: Path
) -> None:
    path = write_env(MINIMAL)
    result = RUNNER.invoke(
        app, ["status", "--env", str(path), "--region", "us-west-2", "--aws", "--profile", "prdo"]
    )
    assert result.exit_code == 2, result.output
    assert (
        "error: AWS profile 'prdo' is not in ~/.aws/config (or AWS_CONFIG_FILE): the profiles "
        "there and in ~/.aws/credentials are prod"
    ) in result.stderr
    assert "name one of them with --profile" in result.stderr
    assert "unexpected" not in result.stderr and "trust policy" not in result.stderr


def test_an_unknown_profile_in_aws_profile_exits_2_as_well(
    write_env: Callable[[str], Path],
    state_dir: Path,
    aws_config: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "prdo")
    path = write_env(MINIMAL)
    result = RUNNER.invoke(app, ["status", "--env", str(path), "--region", "us-west-2", "--aws"])
    assert result.exit_code == 2, result.output
    assert "AWS profile 'prdo' (from AWS_PROFILE) is not in ~/.aws/config" in result.stderr
    assert "set AWS_PROFILE to one of them" in result.stderr
    assert "unexpected" not in result.stderr
