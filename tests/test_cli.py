"""The CLI: fast help, render without AWS, bad input exits 2 before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import MINIMAL, REPO
from relight.cli import app

RUNNER = CliRunner()


def test_help_does_not_import_the_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "from relight.cli import main\n"
        "sys.argv = ['relight', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('boto3', 'botocore', 'troposphere', 'cfnlint', 'pydantic', 'moto',"
        " 'rich', 'jinja2', 'yaml')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "failover" in run.stdout
    assert "HEAVY []" in run.stdout


def test_render_writes_templates_and_parameters_without_aws(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    # An unreachable endpoint: any AWS call would fail the command.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("RELIGHT_STATE_DIR", str(tmp_path / "state"))
    out = tmp_path / "out"
    result = RUNNER.invoke(
        app, ["render", "--env", "demo", "--region", "us-west-2", "--out", str(out), "--aws"]
    )
    assert result.exit_code == 0, result.output
    stacks = ["database", "dns", "load_balancer", "network", "security", "web"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stack}.{kind}.json" for stack in stacks for kind in ("template", "parameters")
    )
    template = json.loads((out / "web.template.json").read_text())
    assert template["Parameters"]["ImageId"]["Type"] == "AWS::EC2::Image::Id"
    params = {
        p["ParameterKey"]: p["ParameterValue"]
        for p in json.loads((out / "web.parameters.json").read_text())
    }
    assert params["ImageId"] == "${artifact:web_ami}"
    assert params["TargetGroupArn"] == "${output:load_balancer.TargetGroupArn}"
    assert not (tmp_path / "state").exists(), "render never starts the stand-in"


@pytest.mark.parametrize("region", ["us-west-2", "eu-west-1"])
def test_the_demo_passes_the_cfn_lint_command_with_no_warnings(tmp_path: Path, region: str) -> None:
    out = tmp_path / "out"
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            bin_dir / "relight",
            "render",
            "-e",
            "demo",
            "-r",
            region,
            "-o",
            out,
            "--no-lint",
            "--aws",
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    templates = sorted(out.glob("*.template.json"))
    assert len(templates) == 6
    lint = subprocess.run(
        [bin_dir / "cfn-lint", "--regions", region, "--", *templates],
        capture_output=True,
        text=True,
    )
    # cfn-lint exits 0 only with no errors and no warnings.
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_render_on_the_stand_in_says_what_it_leaves_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    result = RUNNER.invoke(app, ["render", "-e", "demo", "-r", "us-west-2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "the stand-in variant" in result.output
    assert "database" in result.output and "skipped" in result.output
    assert not (out / "database.template.json").exists()
    network = (out / "network.template.json").read_text()
    assert "AWS::EC2::VPCEndpoint" not in network


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("cidr: 10.1.0.0/16", "cidr: 10.1.0.0/33"), "stacks.network.params.cidr"),
        (("blueprint: compute", "blueprint: nope"), "stacks.web.blueprint: unknown blueprint"),
        (("stacks:", "stackz:"), "stackz: unknown key"),
        (("{output: network.VpcId}", "{output: db.VpcId}"), "output of unknown stack 'db'"),
        (("home_region: us-east-1", "home_region: moon-1"), "home_region: 'moon-1' is not"),
        (("stacks:\n", "stacks:\n  - ["), "not valid YAML"),
    ],
)
def test_a_malformed_environment_file_exits_2_and_starts_nothing(
    write_env: Callable[..., Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: tuple[str, str],
    expected: str,
) -> None:
    assert change[0] in MINIMAL, "the case must change the file"
    path = write_env(MINIMAL.replace(*change))
    monkeypatch.setenv("RELIGHT_STATE_DIR", str(tmp_path / "state"))
    result = RUNNER.invoke(app, ["failover", "--env", str(path), "--region", "us-west-2"])
    assert result.exit_code == 2
    assert expected in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "state").exists(), "the stand-in was never started"


def test_an_unknown_target_region_exits_2() -> None:
    result = RUNNER.invoke(app, ["render", "--env", "demo", "--region", "us-wets-2"])
    assert result.exit_code == 2
    assert "--region: 'us-wets-2' is not an AWS region" in result.output


def test_profile_with_the_stand_in_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("RELIGHT_STATE_DIR", str(tmp_path / "state"))
    result = RUNNER.invoke(app, ["discover", "-e", "demo", "-r", "us-west-2", "--profile", "prod"])
    assert result.exit_code == 2
    assert "--profile and --role-arn do not apply to the local stand-in" in result.output


def test_console_script_is_installed() -> None:
    assert os.access(Path(sys.executable).parent / "relight", os.X_OK)


def test_ctrl_c_during_a_deploy_names_the_stacks_cloudformation_goes_on_with(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import typer

    from relight.cli import _errors
    from relight.scheduler import Interrupted

    with pytest.raises(typer.Exit) as stopped, _errors(debug=False):
        raise Interrupted({}, ["web", "batch"])
    assert stopped.value.exit_code == 130
    err = capsys.readouterr().err
    assert "CloudFormation goes on with: web, batch" in err
    assert "Rerun the same command" in err
