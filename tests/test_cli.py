"""The CLI: fast help, render without AWS, bad input exits 2 before anything starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from moto import mock_aws
from typer.testing import CliRunner

from conftest import MINIMAL, REPO, moto_web_inputs
from fakes import FakeClock, FakeCloudFormation
from relight.aws.cloudformation import Stacks, quiet
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


def test_the_clis_copies_of_the_engines_constants_match_it() -> None:
    """options.py copies these so that --help imports no engine (pydantic, botocore)."""
    from typing import get_args

    from relight.cli import options
    from relight.model import environment, scheduler
    from relight.steps import verify

    assert options.STRATEGIES == environment.STRATEGIES == get_args(environment.Strategy)
    assert options.DEFAULT_VERIFY == verify.DEADLINE_SECONDS
    assert options.DEFAULT_CONCURRENCY == scheduler.DEFAULT_CONCURRENCY


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
    assert "cfn-lint: no errors, no warnings" in result.output
    # backup_restore: identity is prepared (written too); dns stands from pilot_light only
    stacks = ["database", "identity", "load_balancer", "network", "security", "web"]
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
    state = tmp_path / "state"
    assert not (state / "standin.json").exists(), "render never starts the stand-in"
    assert sorted(p.name for p in state.iterdir()) == ["lint-cache"], "only cfn-lint's cache"


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
            "--strategy",
            "pilot_light",  # every stack of the demo: dns stands from this rung
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    templates = sorted(out.glob("*.template.json"))
    assert len(templates) == (7 if region == "us-west-2" else 6), "dns: regions: [us-west-2]"
    lint = subprocess.run(
        [bin_dir / "cfn-lint", "--regions", region, "--", *templates],
        capture_output=True,
        text=True,
    )
    # cfn-lint exits 0 only with no errors and no warnings.
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_render_on_the_stand_in_says_what_it_leaves_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_env: Any
) -> None:
    monkeypatch.chdir(REPO)
    out = tmp_path / "out"
    result = RUNNER.invoke(app, ["render", "-e", "demo", "-r", "us-west-2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "the stand-in variant" in result.output
    assert "stand_in_skip" not in result.output, "the stand-in plays the whole demo"
    assert (out / "database.template.json").exists()
    network = (out / "network.template.json").read_text()
    assert "AWS::EC2::VPCEndpoint" in network and "AWS::EC2::FlowLog" in network
    # a user's own switch is still honoured, and said
    mine = MINIMAL.replace("blueprint: security", "blueprint: security\n    stand_in_skip: true")
    mine = mine.replace(
        "  web:\n    blueprint: compute", "  web:\n    blueprint: compute\n    stand_in_skip: true"
    )
    result = RUNNER.invoke(
        app, ["render", "-e", str(write_env(mine)), "-r", "us-west-2", "-o", str(out / "mine")]
    )
    assert result.exit_code == 0, result.output
    assert "security" in result.output and "skipped: stand_in_skip" in result.output
    assert not (out / "mine" / "security.template.json").exists()


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

    from relight.cli.common import _errors
    from relight.model.scheduler import Interrupted

    with pytest.raises(typer.Exit) as stopped, _errors(debug=False):
        raise Interrupted({}, ["web", "batch"])
    assert stopped.value.exit_code == 130
    err = capsys.readouterr().err
    assert "CloudFormation goes on with: web, batch" in err
    assert "interrupted" in err
    assert "unexpected" not in err and "please report it" not in err


# Exits: each exit-1 and exit-130 path prints its own message once, never the crash notice ------

CRASH_NOTICE = ("unexpected", "please report it")


def use_fake_cloudformation(
    monkeypatch: pytest.MonkeyPatch,
    behaviour: dict[str, str],
    *,
    interrupt_after: float | None = None,
) -> FakeCloudFormation:
    """The CLI's engine gets CloudFormation from `connect_stacks`; here it gets the fake, which
    makes the failures moto cannot (a failed stack; Ctrl-C, once, `interrupt_after` seconds
    into the run). The CLI takes no collaborators, so this one patch stands in for passing one."""
    clock = FakeClock()
    cfn = FakeCloudFormation(behaviour, clock=clock, duration=5.0)
    interrupted: list[float] = []

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if interrupt_after is not None and clock.now > interrupt_after and not interrupted:
            interrupted.append(clock.now)
            raise KeyboardInterrupt

    def connect_stacks(conn: object, **options: Any) -> Stacks:
        return Stacks(
            cfn,
            clock=clock,
            sleep=sleep,
            timeout=options.get("timeout") or 600,
            on_event=options.get("on_event") or quiet,
            events=options.get("events", False),
        )

    monkeypatch.setattr("relight.commands.connection.connect_stacks", connect_stacks)
    monkeypatch.setattr("relight.commands.failover.connect_stacks", connect_stacks)
    monkeypatch.setattr("relight.commands.teardown.connect_stacks", connect_stacks)
    monkeypatch.setattr("relight.commands.status.connect_stacks", connect_stacks)
    monkeypatch.setattr("relight.commands.drill.connect_stacks", connect_stacks)
    return cfn


def _on_moto(path: Path, *args: str) -> Result:
    """`relight ARGS --env PATH --region us-west-2 --aws` on moto holding MINIMAL's sources."""
    with mock_aws():
        moto_web_inputs(tags=True)
        return RUNNER.invoke(app, [*args, "--env", str(path), "--region", "us-west-2", "--aws"])


def test_a_failed_deploy_prints_its_failure_once_and_no_crash_notice(
    write_env: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_fake_cloudformation(monkeypatch, {"shop-web": "fail"})
    result = _on_moto(write_env(MINIMAL), "failover", "--yes")
    assert result.exit_code == 1, result.output
    assert result.stdout.count("shop-web: Instance1: The image id") == 1
    assert result.stdout.count("Fix the cause, then continue with: relight failover") == 1
    assert not any(notice in result.output for notice in CRASH_NOTICE)


def test_ctrl_c_during_a_failover_says_how_to_continue_once_and_no_crash_notice(
    write_env: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_fake_cloudformation(monkeypatch, {}, interrupt_after=7)
    path = write_env(MINIMAL)
    result = _on_moto(path, "failover", "--yes")
    assert result.exit_code == 130, result.output
    assert result.stderr.count("error: interrupted") == 1
    assert (
        "interrupted. Finished stacks are kept; rerun the same command to continue:\n"
        f"  relight failover --env {path} --region us-west-2 --yes --aws\n"
    ) in result.stderr
    assert "CloudFormation goes on with: network (a rerun waits for them)" in result.stderr
    assert not any(notice in result.output for notice in CRASH_NOTICE)


def test_ctrl_c_during_a_drill_names_its_report_and_what_it_tore_down(
    write_env: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfn = use_fake_cloudformation(monkeypatch, {}, interrupt_after=7)
    reports = tmp_path / "reports"
    result = _on_moto(write_env(MINIMAL), "drill", "--drill-id", "t1", "--reports", str(reports))
    assert result.exit_code == 130, result.output
    report = reports / "shop" / "t1" / "report.html"
    assert result.stderr.count(f"error: drill t1 interrupted; report: {report}") == 1
    assert "its stacks were torn down" in result.stderr
    assert "Finished stacks are kept" not in result.stderr, "a drill removes them"
    assert report.exists()
    assert cfn.stacks == {}
    assert not any(notice in result.output for notice in CRASH_NOTICE)


def test_a_drill_interrupted_before_its_report_names_the_command_that_removes_its_stacks(
    tmp_path: Path,
) -> None:
    from relight.cli.drill import _drill_interrupted

    said = _drill_interrupted(
        "t1",
        tmp_path / "shop" / "t1" / "report.json",
        0.0,
        "relight teardown --env shop --region us-west-2 --as drill-t1 --yes",
        keep=False,
    )
    assert "before its report was written" in said
    assert "Remove them with: relight teardown --env shop --region us-west-2 --as drill-t1" in said


def test_a_kept_drill_interrupted_names_what_is_still_there(tmp_path: Path) -> None:
    from relight.cli.drill import _drill_interrupted

    report = tmp_path / "report.json"
    report.write_text(
        json.dumps({"teardown": {"status": "kept", "left_behind": []}}), encoding="utf-8"
    )
    remove = "relight teardown --env shop --region us-west-2 --as drill-t1 --yes"
    said = _drill_interrupted("t1", report, 0.0, remove, keep=True)
    assert f"report: {tmp_path / 'report.html'}" in said
    assert f"still there (--keep): its stacks. Remove them with: {remove}" in said


def test_a_failed_drill_prints_drill_failed_once_and_no_crash_notice(
    write_env: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_fake_cloudformation(monkeypatch, {"shop-drill-t2-web": "fail"})
    result = _on_moto(
        write_env(MINIMAL), "drill", "--drill-id", "t2", "--reports", str(tmp_path / "reports")
    )
    assert result.exit_code == 1, result.output
    assert result.stdout.count("drill FAILED") == 1
    assert "problem: deploy: shop-drill-t2-web" in result.stdout
    assert not any(notice in result.output for notice in CRASH_NOTICE)


@pytest.mark.parametrize(
    ("cause", "code", "said"),
    [
        (KeyboardInterrupt, 130, "interrupted at the question; nothing was changed"),
        (EOFError, 1, "no answer (the input ended at the question); nothing was changed"),
    ],
)
def test_ctrl_c_or_end_of_input_at_the_question_changes_nothing_and_is_no_crash(
    capsys: pytest.CaptureFixture[str], cause: type[BaseException], code: int, said: str
) -> None:
    import click
    import typer

    from relight.cli.common import _errors

    def ask() -> None:  # as click.confirm turns both into Abort
        try:
            raise cause
        except (KeyboardInterrupt, EOFError):
            raise click.exceptions.Abort() from None

    with pytest.raises(typer.Exit) as stopped, _errors(debug=False):
        ask()
    assert stopped.value.exit_code == code
    err = capsys.readouterr().err
    assert err.count(said) == 1
    assert not any(notice in err for notice in CRASH_NOTICE)


def test_a_drill_whose_teardown_failed_prints_the_command_that_removes_its_stacks(
    write_env: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cfn = use_fake_cloudformation(monkeypatch, {})
    original = cfn.delete_stack

    def stuck(StackName: str) -> None:
        original(StackName)
        if StackName.endswith("-network"):
            cfn.behaviour[StackName] = "hang"

    cfn.delete_stack = stuck  # type: ignore[method-assign]
    path = write_env(MINIMAL)
    result = _on_moto(path, "drill", "--drill-id", "t9", "--reports", str(tmp_path / "reports"))
    assert result.exit_code == 1, result.output
    assert "teardown: failed; left behind: shop-drill-t9-network" in result.stdout
    assert (
        f"remove the drill's stacks with: relight teardown --env {path} --region us-west-2 "
        "--as drill-t9 --yes --aws" in result.stdout
    )


def test_the_render_summary_counts_cfn_lints_warnings_and_never_says_only_no_errors() -> None:
    """Issue 21: "cfn-lint: no errors" was printed while warnings stood above it."""
    from relight.cli.render import _lint_said
    from relight.steps.lint import Finding

    warned = Finding("W3687", "warning", "Resources/X/Properties/FromPort", "ignored")
    assert _lint_said({"web": [], "security": []}) == "no errors, no warnings"
    assert _lint_said({"web": [warned], "security": []}) == "no errors, 1 warning (above)"
    assert _lint_said({"web": [warned], "security": [warned]}) == "no errors, 2 warnings (above)"
