"""Rolling updates wait for instance health, not a blind pause (issue 19).

AWS (docs/aws-behaviours.md, A7): with `WaitOnResourceSignals`, CloudFormation "must receive a
signal from each new instance within the specified PauseTime before continuing the update", and
a CreationPolicy's `ResourceSignal` holds the group's creation until `Count` success signals
arrive or `Timeout` passes; a FAILURE signal fails the operation at once; an instance signals
with cfn-signal (no credentials needed) or SignalResource, naming its instance id. The compute
blueprint's group waits so, and its user data signals once the application answers its health
check locally. The user data is run here, in bash, with cfn-signal, the AWS CLI and curl faked.
The stand-in (moto) ignores both policies: it creates and updates the group without a signal.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

import aws_rules
from conftest import BLUEPRINTS, MINIMAL, moto_web_inputs
from relight.aws.cloudformation import Stacks
from relight.errors import BlueprintError
from relight.model.blueprint import load_registry
from relight.model.config import load_environment
from relight.steps.deploy import deploy
from relight.steps.lint import lint_template
from relight.steps.render import build_plan

REGISTRY = load_registry(BLUEPRINTS)
ASG = MINIMAL.replace("      mode: instances\n      count: 2\n", "      mode: asg\n")


def _template(**options: Any) -> dict[str, Any]:
    return dict(REGISTRY["compute"].render(options).to_dict())


def _group(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"]["AutoScalingGroup"])


def _user_data(template: dict[str, Any]) -> str:
    resources = template["Resources"]
    if "LaunchTemplate" in resources:
        data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    else:
        data = resources["Instance1"]["Properties"]
    return str(data["UserData"]["Fn::Base64"]["Fn::Sub"])


# the template -----------------------------------------------------------------------------------


def test_rolling_updates_wait_for_the_new_instances_signals_within_the_pause_time() -> None:
    template = _template(min_size=3, max_size=6, signal_timeout_seconds=600)
    group = _group(template)
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["WaitOnResourceSignals"] is True
    assert rolling["PauseTime"] == "PT600S", "with signals, PauseTime is how long to wait for them"
    assert rolling["MinSuccessfulInstancesPercent"] == 100
    signal = group["CreationPolicy"]["ResourceSignal"]
    assert signal == {"Count": 3, "Timeout": "PT600S"}, "each instance it starts with signals"
    resolved = aws_rules.resolve(template, {})["AutoScalingGroup"]
    assert int(resolved["Properties"]["DesiredCapacity"]) == signal["Count"]
    script = _user_data(template)
    assert "--resource AutoScalingGroup" in script, "the instances signal the group itself"
    assert "http://127.0.0.1:8080/health" in script


def test_without_signals_an_update_pauses_blindly_and_a_creation_waits_for_nothing() -> None:
    template = _template(wait_for_signals=False, update_pause_seconds=45)
    group = _group(template)
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["PauseTime"] == "PT45S"
    assert "WaitOnResourceSignals" not in rolling
    assert "MinSuccessfulInstancesPercent" not in rolling
    assert "CreationPolicy" not in group
    assert "cfn-signal" not in _user_data(template)


def test_fixed_instances_send_no_signal() -> None:
    template = _template(mode="instances", count=1)
    assert "cfn-signal" not in _user_data(template)
    assert all("CreationPolicy" not in r for r in template["Resources"].values())


@pytest.mark.parametrize("wait", [True, False])
def test_both_ways_pass_cfn_lint(wait: bool) -> None:
    body = json.dumps(_template(wait_for_signals=wait, min_size=3, max_size=6))
    assert lint_template(body, "us-west-2") == []


def test_signals_need_user_data_that_sends_them() -> None:
    with pytest.raises(BlueprintError, match="sends no signal"):
        REGISTRY["compute"].options_from({"user_data": None})
    REGISTRY["compute"].options_from({"user_data": None, "wait_for_signals": False})
    REGISTRY["compute"].options_from({"user_data": None, "mode": "instances"})


# the user data, run -----------------------------------------------------------------------------

# A bash function replaces `sleep` in the script: it moves bash's SECONDS on instead of waiting.
FAST_SLEEP = {"BASH_FUNC_sleep%%": "() { SECONDS=$((SECONDS + $1)); }"}
FAKE_CURL = """\
#!/bin/bash
echo "$*" >> "$FAKES/curl.log"
case "$*" in
  *api/token*) echo token-1 ;;
  *instance-id*) echo i-0abc ;;
  *) exit "$HEALTH_EXIT" ;;
esac
"""
RECORDER = '#!/bin/bash\necho "$*" >> "$FAKES/$(basename "$0").log"\n'


def _run(tmp_path: Path, healthy: bool, fakes: tuple[str, ...], **options: Any) -> tuple[int, Path]:
    """Run the group's user data as an instance would (CloudFormation's Fn::Sub done by hand,
    for stack shop-web in us-west-2 with no database), with `fakes` on the PATH."""
    if Path("/opt/aws/bin/cfn-signal").exists():
        pytest.skip("a real cfn-signal is installed here")
    template = _template(data_volume=False, **options)
    script = _user_data(template)
    for name, value in {
        "${AWS::StackName}": "shop-web",
        "${AWS::Region}": "us-west-2",
        "${DatabaseEndpoint}": "",
        "${DatabasePort}": "",
        "/var/log/relight-user-data.log": str(tmp_path / "user-data.log"),
    }.items():
        script = script.replace(name, value)
    path = tmp_path / "user-data.sh"
    path.write_text(script, encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in fakes:
        fake = bin_dir / name
        fake.write_text(FAKE_CURL if name == "curl" else RECORDER, encoding="utf-8")
        fake.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKES": str(tmp_path),
        "HEALTH_EXIT": "0" if healthy else "7",
        **FAST_SLEEP,
    }
    done = subprocess.run(["bash", str(path)], env=env, capture_output=True, timeout=60)
    return done.returncode, tmp_path


def _log(where: Path, name: str) -> list[str]:
    path = where / f"{name}.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


SIGNAL = "--stack shop-web --resource AutoScalingGroup --region us-west-2"


def test_an_instance_signals_success_once_the_application_answers_locally(tmp_path: Path) -> None:
    started = 'touch "$FAKES/started"'  # the application's start, before the health check
    code, where = _run(tmp_path, True, ("curl", "cfn-signal"), user_data_command=started)
    assert code == 0 and (where / "started").exists()
    assert _log(where, "cfn-signal") == [f"--success true {SIGNAL}"]
    assert _log(where, "curl") == ["-fsS -o /dev/null --max-time 5 http://127.0.0.1:8080/health"]


def test_an_instance_whose_application_never_answers_signals_failure(tmp_path: Path) -> None:
    code, where = _run(tmp_path, False, ("curl", "cfn-signal"), signal_timeout_seconds=300)
    assert code != 0
    assert _log(where, "cfn-signal") == [f"--success false {SIGNAL}"], "once, a failure"
    asked = _log(where, "curl")
    assert len(asked) > 10, "it kept asking until its deadline"
    assert "did not answer within 180 s" in (where / "user-data.log").read_text()


def test_an_instance_whose_user_data_fails_signals_failure_at_once(tmp_path: Path) -> None:
    code, where = _run(tmp_path, True, ("curl", "cfn-signal"), user_data_command="false")
    assert code != 0
    assert _log(where, "cfn-signal") == [f"--success false {SIGNAL}"]
    assert _log(where, "curl") == [], "no health check: the script had failed already"


def test_without_cfn_signal_the_aws_cli_signals_with_the_instance_id(tmp_path: Path) -> None:
    code, where = _run(tmp_path, True, ("curl", "aws"), health_check_path="/ready")
    assert code == 0
    assert _log(where, "aws") == [
        "cloudformation signal-resource --stack-name shop-web --logical-resource-id "
        "AutoScalingGroup --unique-id i-0abc --status SUCCESS --region us-west-2"
    ]
    asked = _log(where, "curl")
    assert asked[0] == "-fsS -o /dev/null --max-time 5 http://127.0.0.1:8080/ready"
    assert any("X-aws-ec2-metadata-token: token-1" in line for line in asked), "IMDSv2"


@pytest.mark.parametrize("path", [None, ""], ids=["None", "empty: what a file can say"])
def test_without_a_health_path_an_instance_is_ready_when_its_user_data_is_done(
    tmp_path: Path, path: str | None
) -> None:
    # In an environment file null means "the default" (params_for drops it): "" says none.
    code, where = _run(tmp_path, False, ("curl", "cfn-signal"), health_check_path=path)
    assert code == 0
    assert _log(where, "cfn-signal") == [f"--success true {SIGNAL}"]
    assert _log(where, "curl") == []


# the stand-in ----------------------------------------------------------------------------------


def test_the_stand_in_creates_a_signalled_group_without_any_signal(tmp_path: Path) -> None:
    """moto ignores CreationPolicy and WaitOnResourceSignals: no instance runs user data there,
    and the group is complete at once. A stand-in run proves the path, not the signals."""
    env = tmp_path / "stacks" / "shop.yaml"
    env.parent.mkdir()
    env.write_text(textwrap.dedent(ASG), encoding="utf-8")
    with mock_aws():
        inputs = moto_web_inputs()
        plan = build_plan(load_environment(str(env), "us-west-2"), "us-west-2")
        assert (
            "CreationPolicy" in json.loads(plan.stacks["web"].body)["Resources"]["AutoScalingGroup"]
        )
        cfn = boto3.client("cloudformation", "us-west-2")
        outcome = deploy(Stacks(cfn, timeout=30), plan, inputs, run_id="r1")
        assert outcome.ok, outcome.failed()
        groups = boto3.client("autoscaling", "us-west-2").describe_auto_scaling_groups()
        assert [len(g["Instances"]) for g in groups["AutoScalingGroups"]] == [2]
