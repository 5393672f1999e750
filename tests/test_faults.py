"""Fault injection on the stand-in (standin/faults.py), and relight's failure paths run on it.

First the faults themselves: their shape, the registry the stand-in keeps, the environment
file's switch (honoured on the stand-in only). Then, end to end, the real CLI against a private
stand-in with the demo environment, as tests/test_e2e.py runs it: a failover that fails on one
resource keeps what it made and its rerun continues; a stack that never finishes hits its
timeout; a throttling storm slows a run that still succeeds; Ctrl-C, then a rerun that waits for
what CloudFormation went on with.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from conftest import RELIGHT, REPO, relight
from relight import standin
from relight.errors import ConfigError
from relight.model.faults import Faults
from relight.standin.faults import (
    Registry,
    clear_faults,
    read_faults,
    send_environment_faults,
    set_faults,
)

REGION = "us-west-2"


# the faults and the registry ------------------------------------------------------------------


def test_a_throttle_may_be_one_mapping_and_faults_describe_themselves() -> None:
    faults = Faults.model_validate(
        {
            "resources": [{"stack": "demo-web", "resource": "AutoScalingGroup", "mode": "fail"}],
            "throttle": {"action": "DescribeStacks", "count": 5},
        }
    )
    assert [t.action for t in faults.throttle] == ["DescribeStacks"]
    assert faults.describe() == (
        "create of demo-web/AutoScalingGroup fails; cloudformation DescribeStacks throttled 5x"
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"resources": [{"stack": "a", "resource": "b", "mode": "explode"}]},
        {"resources": [{"stack": "a", "resource": "b", "mode": "hang", "seconds": 0}]},
        {"throttle": {"action": "DescribeStacks", "count": 0}},
        {"throttle": {"action": "DescribeStacks"}},
        {"resources": [{"stack": "a", "resource": "b", "mode": "fail", "actoin": "delete"}]},
    ],
)
def test_a_fault_that_cannot_be_played_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Faults.model_validate(bad)


def test_the_registry_matches_by_glob_and_uses_up_throttles() -> None:
    registry = Registry(clock=lambda: 0.0)
    registry.replace(
        "drill",
        Faults.model_validate(
            {
                "resources": [
                    {"stack": "demo-*", "resource": "Web*", "mode": "fail", "region": "us-*"},
                    {"stack": "demo-db", "resource": "Db", "mode": "hang", "action": "delete"},
                ],
                "throttle": [{"action": "DescribeStacks", "count": 2}],
            }
        ),
    )
    assert registry.resource_fault("us-west-2", "demo-web", "WebGroup", "create") is not None
    assert registry.resource_fault("eu-west-1", "demo-web", "WebGroup", "create") is None
    assert registry.resource_fault("us-west-2", "demo-web", "WebGroup", "delete") is None
    assert registry.resource_fault("us-west-2", "demo-db", "Db", "delete") is not None
    calls = [registry.throttled("cloudformation", "DescribeStacks", REGION) for _ in range(3)]
    assert calls == [True, True, False]
    assert not registry.throttled("cloudformation", "ListStacks", REGION)
    assert registry.view()["sources"]["drill"]["throttle_left"] == [0]
    registry.replace("drill", Faults())
    assert registry.resource_fault("us-west-2", "demo-web", "WebGroup", "create") is None
    registry.clear()
    assert registry.view() == {"sources": {}, "hits": []}


def test_on_aws_the_environment_files_faults_are_ignored_with_a_note() -> None:
    said: list[str] = []
    faults = Faults.model_validate({"throttle": {"action": "DescribeStacks", "count": 5}})
    send_environment_faults("demo", faults, None, said.append)  # None: not the stand-in
    assert said == [
        "stand_in_faults ignored: relight acts on AWS, and faults are only ever injected into "
        "the local stand-in"
    ]
    send_environment_faults("demo", None, None, said.append)
    assert len(said) == 1, "nothing to say about a file without faults"


def _env_file(tmp_path: Path, faults: str | None) -> Path:
    """stacks/demo.yaml as it is, with `faults` (YAML) as its stand_in_faults."""
    stacks = tmp_path / "stacks"
    stacks.mkdir(exist_ok=True)
    text = (REPO / "stacks" / "demo.yaml").read_text(encoding="utf-8")
    if "\nblueprints_dir:" not in text:
        text += f"\nblueprints_dir: {REPO / 'blueprints'}\n"
    if faults is not None:
        text += "\nstand_in_faults:\n" + faults
    path = stacks / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_fault_the_stand_in_cannot_play_is_refused_when_the_file_is_loaded(
    tmp_path: Path,
) -> None:
    from relight.model.config import load_environment

    path = _env_file(
        tmp_path, "  resources:\n    - {stack: demo-web, resource: Web, mode: explode}\n"
    )
    with pytest.raises(ConfigError, match=r"stand_in_faults\.resources\.0\.mode"):
        load_environment(str(path), REGION)
    good = _env_file(tmp_path, "  throttle: {action: DescribeStacks, count: 3}\n")
    loaded = load_environment(str(good), REGION)
    assert loaded.env.stand_in_faults is not None
    assert loaded.env.stand_in_faults.throttle[0].count == 3


# end to end on the stand-in -------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A private stand-in whose story (the demo's home region and backups) is told before any
    fault is set, so the faults meet only the runs under test."""
    state = tmp_path_factory.mktemp("stand-in")
    env = {**os.environ, "RELIGHT_STATE_DIR": str(state)}
    world = {"state": state, "env": env}
    try:
        told = relight(world, "plan", "--env", "demo", "--region", REGION)
        assert told.returncode == 0, told.stderr
        found = standin.find(state)
        assert found is not None
        world["endpoint"] = found.endpoint
        yield world
    finally:  # stopped even when the story failed
        standin.stop(state)


@pytest.fixture
def faults(world: dict[str, Any]) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Set the test's faults; every fault is cleared afterwards."""
    yield lambda wanted: set_faults(world["endpoint"], wanted)
    clear_faults(world["endpoint"])


def _cfn(world: dict[str, Any]) -> Any:
    return boto3.client("cloudformation", REGION, endpoint_url=world["endpoint"])


def _stacks(run: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {s["stack"]: s for s in json.loads(run.stdout)["stacks"]}


def _vpcs(world: dict[str, Any]) -> set[str]:
    ec2 = boto3.client("ec2", REGION, endpoint_url=world["endpoint"])
    return {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]}


def _tear_down(world: dict[str, Any], name: str, env: str = "demo") -> None:
    """Remove the test environment `name` (a region holds 5 VPCs); nothing of it is left."""
    run = relight(world, "teardown", "--env", env, "--region", REGION, "--as", name, "--yes")
    assert run.returncode == 0, run.stderr + run.stdout
    left = [s["StackName"] for s in _cfn(world).describe_stacks()["Stacks"]]
    assert not [n for n in left if n.startswith(f"demo-{name}-")]


def _physical(world: dict[str, Any], stack: str, logical_id: str) -> str:
    found = _cfn(world).describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return str(found["StackResourceDetail"]["PhysicalResourceId"])


@pytest.mark.e2e
def test_a_failed_failover_keeps_what_it_made_and_the_rerun_continues_from_there(
    world: dict[str, Any], faults: Callable[[dict[str, Any]], None]
) -> None:
    no_capacity = "We currently do not have sufficient t3.small capacity in the zone you requested"
    faults({"resources": [{"stack": "demo-web", "resource": "AutoScalingGroup", "mode": "fail",
                           "message": no_capacity, "region": REGION}]})  # fmt: skip
    failed = relight(world, "failover", "--env", "demo", "--region", REGION, "--yes", "--json")
    assert failed.returncode == 1, failed.stderr
    stacks = _stacks(failed)
    assert stacks.pop("web")["action"] == "failed"
    assert {s["action"] for s in stacks.values()} == {"created"}, "the rest was built"
    web = _stacks(failed)["web"]
    assert web["status"] == "CREATE_FAILED"
    assert web["reason"] == f"AutoScalingGroup: {no_capacity}"
    assert web["kept_resources"] == ["LaunchTemplate"]
    stack = _cfn(world).describe_stacks(StackName="demo-web")["Stacks"][0]
    assert (stack["StackStatus"], stack["DisableRollback"]) == ("CREATE_FAILED", True)
    template = _physical(world, "demo-web", "LaunchTemplate")

    clear_faults(world["endpoint"])
    rerun = relight(world, "failover", "--env", "demo", "--region", REGION, "--yes", "--json")
    assert rerun.returncode == 0, rerun.stderr
    again = _stacks(rerun)
    assert (again["web"]["action"], again.pop("web")["status"]) == ("retried", "UPDATE_COMPLETE")
    assert {s["action"] for s in again.values()} == {"unchanged"}, "finished stacks left alone"
    assert _physical(world, "demo-web", "LaunchTemplate") == template, "what was made was kept"
    checks = {c["check"]: c["result"] for c in json.loads(rerun.stdout)["verification"]}
    assert checks["auto scaling group at desired capacity"] == "passed"


@pytest.mark.e2e
def test_a_stack_that_never_finishes_hits_its_timeout_and_its_dependents_never_start(
    world: dict[str, Any], faults: Callable[[dict[str, Any]], None]
) -> None:
    faults({"resources": [{"stack": "demo-slow-network", "resource": "Vpc", "mode": "hang"}]})
    started = time.monotonic()
    run = relight(
        world, "launch", "--env", "demo", "--region", REGION, "--as", "slow",
        "--stack-timeout", "2", "--json",
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert time.monotonic() - started < 60
    stacks = _stacks(run)
    assert stacks["network"]["status"] == "TIMED_OUT"
    assert stacks["network"]["reason"].startswith(
        "stack demo-slow-network: still CREATE_IN_PROGRESS after 2 s (timeout 2 s)"
    )
    assert {s["action"] for k, s in stacks.items() if k != "network"} == {"skipped"}
    stack = _cfn(world).describe_stacks(StackName="demo-slow-network")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_IN_PROGRESS", "as on AWS: it goes on without relight"
    clear_faults(world["endpoint"])
    _tear_down(world, "slow")


@pytest.mark.e2e
def test_a_throttling_storm_slows_the_run_but_relight_backs_off_and_succeeds(
    world: dict[str, Any], faults: Callable[[dict[str, Any]], None]
) -> None:
    """CreateStack refused 6 times in a row: botocore's own retries (3 attempts) give up twice,
    and relight waits and asks again (docs/aws-behaviours.md, C2)."""
    faults({"throttle": [{"action": "CreateStack", "count": 6, "region": REGION}]})
    before = _vpcs(world)
    run = relight(world, "launch", "--env", "demo", "--region", REGION, "--as", "storm", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert {s["action"] for s in result["stacks"]} == {"created"}
    assert result["throttled"] >= 1, "relight saw the throttling and waited it out"
    seen = read_faults(world["endpoint"])
    assert seen["sources"]["test"]["throttle_left"] == [0], "every refusal was met"
    assert len([h for h in seen["hits"] if h["kind"] == "throttle"]) == 6
    _tear_down(world, "storm")
    assert _vpcs(world) == before, "its VPC went with its network stack"


@pytest.mark.e2e
def test_a_describe_stacks_storm_before_the_deploy_is_waited_out_too(
    world: dict[str, Any], faults: Callable[[dict[str, Any]], None]
) -> None:
    faults({"throttle": [{"action": "DescribeStacks", "count": 6, "region": REGION}]})
    run = relight(world, "launch", "--env", "demo", "--region", REGION, "--as", "gusty", "--json")
    assert run.returncode == 0, run.stderr


@pytest.mark.e2e
def test_ctrl_c_leaves_what_cloudformation_goes_on_with_and_the_rerun_waits_for_it(
    world: dict[str, Any], faults: Callable[[dict[str, Any]], None]
) -> None:
    faults({"resources": [{"stack": "demo-ctrlc-web", "resource": "LaunchTemplate",
                           "mode": "hang"}]})  # fmt: skip
    command = [RELIGHT, "launch", "--env", "demo", "--region", REGION, "--as", "ctrlc", "--json"]
    # Ctrl-C at a terminal. A shell starts a background job with SIGINT ignored, and Python
    # keeps a signal ignored that it starts with (then KeyboardInterrupt never comes): so that
    # a suite run in the background (`make test &`) still tests Ctrl-C, the child starts with
    # SIGINT at its default, as a foreground command's is.
    running = subprocess.Popen(
        command, cwd=REPO, env=world["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not read_faults(world["endpoint"])["hits"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert read_faults(world["endpoint"])["hits"], "the web stack got as far as the hang"
    running.send_signal(signal.SIGINT)
    _, err = running.communicate(timeout=120)
    assert running.returncode == 130
    assert "CloudFormation goes on with: web (a rerun waits for them)" in err
    stack = _cfn(world).describe_stacks(StackName="demo-ctrlc-web")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_IN_PROGRESS"

    clear_faults(world["endpoint"])  # what held it ends; CloudFormation finishes it
    rerun = relight(world, *command[1:])
    assert rerun.returncode == 0, rerun.stderr
    assert {s["status"] for s in _stacks(rerun).values()} == {"CREATE_COMPLETE"}
    _tear_down(world, "ctrlc")


@pytest.mark.e2e
def test_the_environment_files_faults_are_sent_at_each_run_and_removing_them_clears_them(
    world: dict[str, Any], tmp_path: Path
) -> None:
    path = _env_file(
        tmp_path,
        "  resources:\n"
        "    - {stack: demo-envf-web, resource: AutoScalingGroup, mode: fail, message: drill}\n",
    )
    args = ["launch", "--env", str(path), "--region", REGION, "--as", "envf", "--json"]
    failed = relight(world, *args)
    assert failed.returncode == 1, failed.stderr
    assert (
        "stand-in faults from the environment file: create of demo-envf-web/AutoScalingGroup fails"
        in failed.stderr
    )
    assert _stacks(failed)["web"]["reason"] == "AutoScalingGroup: drill"
    assert set(read_faults(world["endpoint"])["sources"]) == {"environment:demo"}

    _env_file(tmp_path, None)  # the drill is over: the switch is taken out of the file
    rerun = relight(world, *args)
    assert rerun.returncode == 0, rerun.stderr
    assert _stacks(rerun)["web"]["action"] == "retried"
    assert read_faults(world["endpoint"])["sources"] == {}
    _tear_down(world, "envf", str(path))
