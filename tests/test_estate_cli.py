"""`relight estate plan|readiness|status` as the operator runs them: the console script on the
stand-in, an estate of the demo environment reached through its account's role (connect_env:
the role assumed through the stand-in's STS, with its external id). One private stand-in for
the module (conftest's `world`), whose story the first command plays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import REPO, relight
from relight import standin

ESTATE = """\
name: one
stand_in: true
administrator: platform
objectives: {{rto: 2h}}
accounts:
  platform:
    id: "123456789012"
    role: arn:aws:iam::123456789012:role/relight-estate
    external_id: one-dr
environments:
  demo: {{account: platform, file: {demo}}}
"""


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("estates")
    path = folder / "one.yaml"
    path.write_text(ESTATE.format(demo=REPO / "stacks" / "demo.yaml"), encoding="utf-8")
    return str(path)


def _run(world: dict[str, Any], *args: str) -> tuple[int, Any, str]:
    run = relight(world, "estate", *args)
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, json.loads(run.stdout) if "--json" in args else run.stdout, run.stderr


@pytest.mark.e2e
def test_estate_readiness_publishes_and_exits_1_while_an_environment_is_not_ready(
    world: dict[str, Any], estate: str, tmp_path: Path
) -> None:
    code, shown, err = _run(
        world, "readiness", "--estate", estate, "--region", "us-west-2",
        "--reports", str(tmp_path), "--publish", "--json",
    )  # fmt: skip
    assert code == 1, "no drill recorded: not ready"
    assert err.count("LOCAL STAND-IN") == 1, "said once, loudly"
    [demo] = shown["environments"]
    assert (demo["env"], demo["ready"], demo["checks"]["drill"]) == ("demo", False, "error")
    assert demo["published"] == ["Ready", "ForecastRtoSeconds", "WorstArtifactAgeSeconds"]
    assert shown["published"] == {"one": ["Ready", "ForecastRtoSeconds", "WorstArtifactAgeSeconds"]}
    found = standin.find(world["state"])
    assert found
    cloudwatch = boto3.client("cloudwatch", "us-west-2", endpoint_url=found.endpoint)
    listed = cloudwatch.list_metrics(Namespace="Relight", MetricName="Ready")["Metrics"]
    assert sorted(d["Name"] + "=" + d["Value"] for m in listed for d in m["Dimensions"]) == [
        "Environment=demo",
        "Estate=one",
    ]
    assert (tmp_path / "demo" / "readiness" / "index.html").exists()


@pytest.mark.e2e
def test_estate_plan_and_status_read_the_region_and_change_nothing(
    world: dict[str, Any], estate: str, tmp_path: Path
) -> None:
    code, shown, _ = _run(
        world, "plan", "--estate", estate, "--region", "us-west-2",
        "--reports", str(tmp_path), "--json",
    )  # fmt: skip
    assert code == 0
    [demo] = shown["environments"]
    assert demo["error"] is None and set(demo["actions"].values()) == {"create"}
    assert shown["forecast"]["critical_path"] == ["demo"]
    assert shown["forecast"]["rto_seconds"] == round(demo["forecast_seconds"])
    code, out, _ = _run(world, "status", "--estate", estate, "--region", "us-west-2")
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == [
        "estate one in us-west-2: 0 of 1 environment(s) served from us-west-2",
        "wave 1",
    ]
    assert lines[2].split()[:1] == ["demo"]
    assert (
        "not failed over into us-west-2 (its home region serves); stands in us-west-2: " in lines[2]
    )
    found = standin.find(world["state"])
    assert found
    cfn = boto3.client("cloudformation", "us-west-2", endpoint_url=found.endpoint)
    names = sorted(s["StackName"] for s in cfn.describe_stacks()["Stacks"])
    assert names == ["demo-identity"], "only what the story prepared"
