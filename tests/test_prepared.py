"""What `relight prepare` stood up, as a failover finds it (relight.dr.prepared).

A failover reads the outputs of the stacks prepared ahead of time and never changes them. One
that a failover stack reads and that is missing, unfinished, not relight's, or lacks an output
stops the run before anything changes (exit 2, naming `relight prepare`); one that differs
from today's render is a note, and the failover goes on with what stands.

The stacks live in moto (in-process); the last test runs the CLI against the local stand-in.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from conftest import MINIMAL, REPO
from relight import standin
from relight.aws.cloudformation import Stacks
from relight.commands.connection import prepare_command
from relight.dr.prepared import differences, read_prepared
from relight.errors import PreflightError
from relight.model.config import load_environment
from relight.model.plan import Plan
from relight.steps.deploy import deploy
from relight.steps.discovery import Discovery
from relight.steps.render import build_plan

REGION = "us-west-2"
PROFILE = "arn:aws:iam::123456789012:instance-profile/shop-web"
IDENTITY = (
    "  identity:\n"
    "    blueprint: identity\n"
    "    stands: global\n"
    "    params: {instance_roles: {web: {}}}\n"
)
# identity stands at every rung; network and security from pilot_light; web reads identity.
LADDER = (
    MINIMAL.replace("stacks:\n", "stacks:\n" + IDENTITY)
    .replace("    blueprint: network\n", "    blueprint: network\n    stands: pilot_light\n")
    .replace("    blueprint: security\n", "    blueprint: security\n    stands: pilot_light\n")
    .replace(PROFILE, "{output: identity.WebInstanceProfileArn}")
)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the directory holding stacks/, so that `--env shop` names the file."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def cfn() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudformation", REGION)


def _plan(write_env: Callable[..., Path], text: str = LADDER, **options: Any) -> Plan:
    loaded = load_environment(str(write_env(text)), REGION)
    return build_plan(loaded, REGION, **options)


def _prepare(write_env: Callable[..., Path], cfn: Any, text: str = LADDER) -> None:
    """What `relight prepare` deploys at the file's strategy: the identity stack alone."""
    plan = _plan(write_env, text, phase="prepare")
    assert list(plan.stacks) == ["identity"]
    nothing = Discovery(region=REGION, at=datetime.now(UTC))
    outcome = deploy(Stacks(cfn, timeout=30), plan, nothing, run_id="prepare-1")
    assert outcome.ok, outcome.failed()


def _names(cfn: Any) -> list[str]:
    return sorted(s["StackName"] for s in cfn.describe_stacks()["Stacks"])


def _refused(cfn: Any, plan: Plan) -> PreflightError:
    with pytest.raises(PreflightError) as caught:
        read_prepared(Stacks(cfn, timeout=30), plan, prepare_command(plan, REGION))
    return caught.value


# nothing prepared ------------------------------------------------------------------------------


def test_a_failover_whose_prepared_stack_does_not_exist_is_refused_naming_prepare(
    write_env: Callable[..., Path], here: Path, cfn: Any
) -> None:
    plan = _plan(write_env)
    assert list(plan.prepared) == ["identity"]
    refused = _refused(cfn, plan)
    assert refused.exit_code == 2
    assert refused.problems == [
        "stack shop-identity (stacks.identity, stands: global) does not exist in us-west-2; "
        "web read(s) its outputs"
        "; every stack this run builds passes its CloudFormation service role (RoleARN)"
    ]
    assert refused.hint == (
        "run relight prepare --env shop --region us-west-2 before a disaster: it deploys what "
        "a failover at backup_restore finds ready (nothing was changed)"
    )
    assert _names(cfn) == [], "nothing was created"


def test_at_a_strategy_other_than_the_files_the_hint_names_it_and_every_missing_stack(
    write_env: Callable[..., Path], here: Path, cfn: Any
) -> None:
    plan = _plan(write_env, strategy="pilot_light")
    assert list(plan.prepared) == ["identity", "network", "security"]
    refused = _refused(cfn, plan)
    assert [p.split(" (")[0] for p in refused.problems] == [
        "stack shop-identity",
        "stack shop-network",
        "stack shop-security",
    ]
    assert "stack shop-network (stacks.network, stands: pilot_light) does not exist" in str(refused)
    assert all("web read(s) its outputs" in p for p in refused.problems)
    assert "relight prepare --env shop --region us-west-2 --strategy pilot_light " in str(
        refused.hint
    )
    assert "a failover at pilot_light finds ready" in str(refused.hint)


def test_a_missing_identity_stack_is_refused_even_when_no_stack_reads_its_outputs(
    write_env: Callable[..., Path], here: Path, cfn: Any
) -> None:
    """Every stack a failover builds passes the identity stack's CloudFormation service role,
    so a missing identity stack stops the run (before, nothing reading it made it a note)."""
    unread = LADDER.replace("{output: identity.WebInstanceProfileArn}", PROFILE)
    plan = _plan(write_env, unread)
    refused = _refused(cfn, plan)
    assert refused.exit_code == 2
    assert refused.problems == [
        "stack shop-identity (stacks.identity, stands: global) does not exist in us-west-2"
        "; every stack this run builds passes its CloudFormation service role (RoleARN)"
    ]
    assert "relight prepare --env shop --region us-west-2" in str(refused.hint)
    assert cfn.describe_stacks()["Stacks"] == []


# prepared --------------------------------------------------------------------------------------


def test_a_prepared_stack_gives_its_outputs_and_no_note(
    write_env: Callable[..., Path], here: Path, cfn: Any
) -> None:
    _prepare(write_env, cfn)
    ready = read_prepared(
        Stacks(cfn, timeout=30), _plan(write_env), "relight prepare --env shop --region us-west-2"
    )
    assert ready.notes == []
    profile = ready.outputs["identity"]["WebInstanceProfileArn"]
    assert profile.startswith("arn:aws:iam::123456789012:instance-profile/shop-identity-")
    assert set(ready.outputs) == {"identity"}


def test_a_prepared_stack_that_differs_from_todays_render_is_a_note_and_still_read(
    write_env: Callable[..., Path], here: Path, cfn: Any
) -> None:
    _prepare(write_env, cfn)
    stood = cfn.describe_stacks(StackName="shop-identity")["Stacks"][0]
    changed = LADDER.replace("{instance_roles: {web: {}}}", "{instance_roles: {web: {}}, "
                             "rds_monitoring: true}")  # fmt: skip
    plan = _plan(write_env, changed)
    ready = read_prepared(Stacks(cfn, timeout=30), plan, prepare_command(plan, REGION))
    assert ready.notes == [
        "stack shop-identity (stacks.identity, stands: global) differs from today's render "
        "(its template): this run uses it as it stands; refresh it with relight prepare --env "
        "shop --region us-west-2 while every region is healthy"
    ]
    assert ready.outputs["identity"]["WebInstanceProfileArn"].startswith("arn:aws:iam::")
    after = cfn.describe_stacks(StackName="shop-identity")["Stacks"][0]
    assert after.get("LastUpdatedTime") == stood.get("LastUpdatedTime"), "read, never changed"
    assert _names(cfn) == ["shop-identity"]


def test_a_changed_literal_parameter_is_named_with_its_value_then_and_now(
    write_env: Callable[..., Path],
) -> None:
    plan = _plan(write_env, MINIMAL)
    web = plan.stacks["web"]
    deployed = {
        "Parameters": [
            {"ParameterKey": "InstanceProfileArn", "ParameterValue": PROFILE.replace("web", "old")},
            {"ParameterKey": "ImageId", "ParameterValue": "ami-0then"},  # a reference: ignored
        ]
    }
    assert differences(web, deployed, json.loads(web.body)) == [
        "parameter InstanceProfileArn ('arn:aws:iam::123456789012:instance-profile/shop-old', "
        "now 'arn:aws:iam::123456789012:instance-profile/shop-web')"
    ]
    deployed["Parameters"][0]["ParameterValue"] = PROFILE
    assert differences(web, deployed, web.body) == [], "the same template, as text or parsed"


def test_a_prepared_stack_without_an_output_a_failover_stack_reads_is_refused(
    write_env: Callable[..., Path], here: Path, cfn: Any
) -> None:
    _prepare(write_env, cfn)  # instance roles: web only
    later = LADDER.replace("{instance_roles: {web: {}}}", "{instance_roles: {web: {}, app: {}}}")
    later = later.replace("identity.WebInstanceProfileArn", "identity.AppInstanceProfileArn")
    refused = _refused(cfn, _plan(write_env, later))
    assert refused.problems == [
        "stack shop-identity (stacks.identity, stands: global) is out of date: it has no output "
        "AppInstanceProfileArn (read by web)"
    ]
    assert "run relight prepare --env shop --region us-west-2 before a disaster" in str(
        refused.hint
    )


def test_a_stack_of_the_prepared_name_that_is_not_relights_is_refused(
    write_env: Callable[..., Path], here: Path, cfn: Any
) -> None:
    plan = _plan(write_env)
    cfn.create_stack(  # the same template, made by hand: no relight:env tag
        StackName="shop-identity", TemplateBody=plan.prepared["identity"].body
    )
    refused = _refused(cfn, plan)
    assert refused.problems == [
        "stack shop-identity (stacks.identity, stands: global) is not relight's in us-west-2; "
        "web read(s) its outputs"
        "; every stack this run builds passes its CloudFormation service role (RoleARN)"
    ]
    cfn.update_stack(
        StackName="shop-identity",
        TemplateBody=plan.prepared["identity"].body,
        Tags=[{"Key": "relight:env", "Value": "other"}],
    )
    assert "is not relight's" in _refused(cfn, plan).problems[0], "another environment's"


def test_an_unfinished_prepared_stack_is_refused_with_its_status(
    write_env: Callable[..., Path], here: Path, cfn: Any
) -> None:
    plan = _plan(write_env)
    cfn.create_change_set(  # a change set never executed leaves the stack REVIEW_IN_PROGRESS
        StackName="shop-identity",
        ChangeSetName="never-run",
        ChangeSetType="CREATE",
        TemplateBody=plan.prepared["identity"].body,
        Tags=[{"Key": "relight:env", "Value": "shop"}],
    )
    refused = _refused(cfn, plan)
    assert refused.problems == [
        "stack shop-identity (stacks.identity, stands: global) is REVIEW_IN_PROGRESS in "
        "us-west-2; web read(s) its outputs"
        "; every stack this run builds passes its CloudFormation service role (RoleARN)"
    ]


# the CLI on the stand-in -----------------------------------------------------------------------


RELIGHT = str(Path(sys.executable).parent / "relight")


@pytest.mark.e2e
def test_a_pilot_light_failover_before_prepare_exits_2_and_builds_nothing(
    state_dir: Path,
) -> None:
    run = subprocess.run(
        [RELIGHT, "failover", "--env", "demo", "--region", REGION, "--strategy", "pilot_light",
         "--yes"],
        cwd=REPO, env={**os.environ, "RELIGHT_STATE_DIR": str(state_dir)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    for name in ("demo-network", "demo-security", "demo-load-balancer"):
        assert f"stack {name} (stacks." in run.stderr, name
    assert "does not exist in us-west-2; web read(s) its outputs" in run.stderr
    assert "relight prepare --env demo --region us-west-2 --strategy pilot_light" in run.stderr
    assert "Traceback" not in run.stderr
    found = standin.find(state_dir)
    assert found, "the stand-in is running"
    cfn = boto3.client("cloudformation", REGION, endpoint_url=found.endpoint)
    names = sorted(s["StackName"] for s in cfn.describe_stacks()["Stacks"])
    assert names == ["demo-identity"], "only what the stand-in's story prepared"


def test_a_warm_standby_fleet_stands_out_of_service_until_the_failover() -> None:
    """Issue 19: registered in the target group before any disaster, the standby fleet could
    make the recovery region's record healthy and take traffic to a standby with no database.
    The compute blueprint gives its standing copy no target group (`standby=`); the failover
    registers the fleet. A file's own standby_params still win."""
    from conftest import REPO
    from relight.model.config import load_environment
    from relight.model.environment import OutputRef
    from relight.steps.render import build_plan

    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), "us-west-2")
    standing = build_plan(loaded, "us-west-2", strategy="warm_standby", phase="prepare")
    assert standing.stacks["web"].parameters["TargetGroupArn"] == ""
    serving = build_plan(loaded, "us-west-2", strategy="warm_standby")
    assert serving.stacks["web"].parameters["TargetGroupArn"] == OutputRef(
        stack="load_balancer", output="TargetGroupArn"
    )
    web = loaded.env.stacks["web"]
    chosen = web.model_copy(
        update={"standby_params": {**web.standby_params, "TargetGroupArn": "tg"}}
    )
    stacks = {**loaded.env.stacks, "web": chosen}
    mine = dataclasses.replace(loaded, env=loaded.env.model_copy(update={"stacks": stacks}))
    kept = build_plan(mine, "us-west-2", strategy="warm_standby", phase="prepare")
    assert kept.stacks["web"].parameters["TargetGroupArn"] == "tg", "the file's standby_params win"
