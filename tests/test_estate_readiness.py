"""`relight estate readiness`: one table, environment by check, worst first; ready only when
every environment is; `--publish` writes each verdict in the region (and the estate's).

On moto in-process (tests/estate_world.py), with the home region switched off."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from estate_world import HOME, REGION, World, estate_world
from relight.commands.connection import env_option
from relight.commands.readiness import CHECKS, Evaluation, Finding
from relight.estate.readiness import SEVERITY_RANK, EnvReadiness, evaluate_estate, worst_first

NOW = datetime.now(UTC)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    yield from estate_world(tmp_path)


def _drilled(reports: Path, env: str) -> None:
    """A passing AWS drill of `env` into the region an hour ago (what readiness reads)."""
    folder = reports / env / "20261207-080000-abcd"
    folder.mkdir(parents=True)
    report = {
        "run_id": folder.name,
        "region": REGION,
        "stand_in": False,
        "started": (NOW - timedelta(hours=1)).isoformat(),
        "ok": True,
    }
    (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")


def test_the_table_is_environment_by_check_with_the_worst_first(
    world: World, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    _drilled(reports, "shared")  # shared: drilled, the others not; storefront's AMI missing
    estate = world.write(tags={"storefront": "store"})
    result = evaluate_estate(estate, REGION, reports, connect=world.connect, now=lambda: NOW)

    assert list(result.envs) == ["storefront", "demo", "shared"], "most errors first"
    storefront, demo, shared = result.envs.values()
    assert storefront.cells()["artifacts"] == "error" and storefront.cells()["drill"] == "error"
    assert demo.cells()["artifacts"] == "ok" and demo.cells()["drill"] == "error"
    assert shared.cells()["drill"] == "ok"
    assert shared.ready and shared.severity == "warning", "home not built by relight: a warning"
    assert not demo.ready and not storefront.ready
    assert result.ready is False
    assert storefront.worst().startswith("artifacts: artifacts.web_ami: no AMI tagged Role=store")
    assert demo.worst() == (
        "drill: no drill into this region has been recorded "
        f"(fix: relight drill --env {env_option(estate.envs['demo'])} --region us-west-2)"
    )
    shown = result.as_dict()
    assert shown["checks"] == list(CHECKS)
    assert [(e["env"], e["ready"], e["severity"]) for e in shown["environments"]] == [
        ("storefront", False, "error"),
        ("demo", False, "error"),
        ("shared", True, "warning"),
    ]
    for env in ("shared", "demo", "storefront"):  # each environment's own pages, as alone
        assert (reports / env / "readiness" / "index.html").exists()
    assert result.critical_path[0] == "shared" and result.forecast_seconds > 0
    cfn = boto3.client("cloudformation", REGION)
    assert cfn.describe_stacks()["Stacks"] == [], "readiness builds nothing"
    assert {r.region for r in world.outage.refused} <= {HOME}
    assert {(r.service, r.action) for r in world.outage.refused} == {
        ("cloudformation", "DescribeStacks")
    }, "only each environment's drift read of home (a hint), refused"


def test_an_environment_that_cannot_be_evaluated_comes_first_and_the_rest_are_evaluated(
    world: World, tmp_path: Path
) -> None:
    from relight.errors import AccountError

    estate = world.write()

    def connect(estate_: object, name: str, region: str, **options: object) -> object:
        if name == "demo":
            raise AccountError("demo: the role arn:aws:iam::123456789012:role/x refused")
        return world.connect(estate, name, region)

    result = evaluate_estate(estate, REGION, tmp_path, connect=connect, now=lambda: NOW)
    assert next(iter(result.envs)) == "demo"
    demo = result.envs["demo"]
    assert demo.severity == "not evaluated" and demo.cells() == dict.fromkeys(CHECKS, "?")
    assert demo.worst() == "demo: the role arn:aws:iam::123456789012:role/x refused"
    assert result.envs["shared"].evaluation is not None
    assert result.ready is False


def test_worst_first_keeps_the_estates_order_between_equals() -> None:
    rows = [EnvReadiness(n, 0, "a", error="x") for n in ("b", "a", "c")]
    assert [r.name for r in worst_first(rows)] == ["b", "a", "c"]


def test_publish_writes_every_environments_verdict_and_the_estates_in_the_region(
    world: World, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    _drilled(reports, "shared")
    estate = world.write()
    result = evaluate_estate(
        estate, REGION, reports, publish=True, connect=world.connect, now=lambda: NOW
    )
    cloudwatch = boto3.client("cloudwatch", REGION)
    listed = cloudwatch.list_metrics(Namespace="Relight", MetricName="Ready")["Metrics"]
    assert sorted((d["Name"], d["Value"]) for m in listed for d in m["Dimensions"]) == [
        ("Environment", "demo"),
        ("Environment", "shared"),
        ("Environment", "storefront"),
        ("Estate", "corp"),
    ]

    def ready(name: str, value: str) -> float:
        points = cloudwatch.get_metric_statistics(
            Namespace="Relight",
            MetricName="Ready",
            Dimensions=[{"Name": name, "Value": value}],
            StartTime=NOW - timedelta(minutes=5),
            EndTime=NOW + timedelta(minutes=5),
            Period=60,
            Statistics=["Minimum"],
        )["Datapoints"]
        return float(points[0]["Minimum"])

    assert ready("Environment", "shared") == 1.0
    assert ready("Environment", "demo") == 0.0
    assert ready("Estate", "corp") == 0.0, "not every environment is ready"
    assert result.published is not None and result.published.metrics == {
        "corp": ["Ready", "ForecastRtoSeconds", "WorstArtifactAgeSeconds"]
    }
    assert result.envs["shared"].published == [
        "Ready",
        "ForecastRtoSeconds",
        "WorstArtifactAgeSeconds",
    ]
    home = boto3.client("cloudwatch", HOME).list_metrics(Namespace="Relight")["Metrics"]
    assert home == [], "nothing published in the home region"


def test_the_printed_table_lists_the_worst_first_and_says_what_is_wrong(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from relight.cli.estate.readiness import _print

    reports = tmp_path / "reports"
    _drilled(reports, "shared")
    estate = world.write(tags={"storefront": "store"})
    _print(evaluate_estate(estate, REGION, reports, connect=world.connect), False)
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(
        "NOT READY: estate corp into us-west-2: 1 of 3 environment(s) ready; RTO forecast on AWS "
    )
    rows = [line for line in out.splitlines() if line.startswith("│ ")]
    named = [row.split("│")[1].strip() for row in rows]
    assert [n for n in named if n in ("shared", "demo", "storefront")] == [
        "storefront",
        "demo",
        "shared",
    ]
    waves = {row.split("│")[1].strip(): row.split("│")[2].strip() for row in rows}
    assert (waves["shared"], waves["demo"], waves["storefront"]) == ("1", "2", "2"), (
        "waves counted from 1, as estate failover's and drill's lines count them"
    )
    assert "storefront: artifacts: artifacts.web_ami: no AMI tagged Role=store" in out
    assert "demo: drill: no drill into this region has been recorded" in out
    assert "shared:" not in out, "a ready environment has no line under the table"


SEVERITIES = st.lists(st.sampled_from(["error", "warning"]), max_size=4)


@given(st.lists(st.one_of(st.none(), SEVERITIES), max_size=8))
@settings(max_examples=60, deadline=None, derandomize=True)
def test_worst_first_is_a_stable_order_by_severity_then_errors(
    found: list[list[str] | None],
) -> None:
    """Any estate: not evaluated first, then not ready (more errors first), then warnings, then
    ready; between rows of equal rank, the estate's order."""
    rows = []
    for i, severities in enumerate(found):
        name = f"env{i}"
        if severities is None:
            rows.append(EnvReadiness(name, 0, "a", error="refused"))
            continue
        evaluation = Evaluation(name, REGION, "backup_restore", NOW, False)
        evaluation.findings = [Finding("drill", s, "x") for s in severities]
        rows.append(EnvReadiness(name, 0, "a", evaluation))
    ordered = worst_first(rows)
    assert sorted(r.name for r in ordered) == sorted(r.name for r in rows)

    def key(row: EnvReadiness) -> tuple[int, int]:
        errors = (
            sum(f.severity == "error" for f in row.evaluation.findings) if row.evaluation else 0
        )
        return (SEVERITY_RANK[row.severity], -errors)

    keys = [key(r) for r in ordered]
    assert keys == sorted(keys)
    position = {r.name: i for i, r in enumerate(rows)}
    for a, b in itertools.pairwise(ordered):
        if key(a) == key(b):
            assert position[a.name] < position[b.name]
    assert [r.ready for r in ordered] == sorted(r.ready for r in ordered), "ready ones last"


def test_the_estates_verdict_goes_to_an_administrator_account_without_environments(
    world: World, tmp_path: Path
) -> None:
    """An administrator's account that holds no environment (a tooling account): its role is
    assumed (moto: credentials that act in that account) and the estate's verdict lands there."""
    world.write()
    path = tmp_path / "estates" / "corp.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "administrator: platform", "administrator: tools"
    )
    text = text.replace(
        "accounts:\n",
        "accounts:\n  tools:\n    id: '111122223333'\n"
        "    role: arn:aws:iam::111122223333:role/relight-estate\n",
    )
    path.write_text(text, encoding="utf-8")
    from relight.model.estate import load_estate

    estate = load_estate(str(path), REGION)
    result = evaluate_estate(
        estate, REGION, tmp_path / "reports", publish=True, connect=world.connect, now=lambda: NOW
    )
    assert result.publish_note is None
    assert result.published is not None and list(result.published.metrics) == ["corp"]
    here = boto3.client("cloudwatch", REGION).list_metrics(Namespace="Relight", MetricName="Ready")
    dimensions = {d["Name"] for m in here["Metrics"] for d in m["Dimensions"]}
    assert dimensions == {"Environment"}, "the estate's verdict is not in the environments' account"
    creds = boto3.client("sts", REGION).assume_role(
        RoleArn="arn:aws:iam::111122223333:role/relight-estate", RoleSessionName="check"
    )["Credentials"]
    tools = boto3.client(
        "cloudwatch",
        REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    listed = tools.list_metrics(Namespace="Relight", MetricName="Ready")["Metrics"]
    assert [m["Dimensions"] for m in listed] == [[{"Name": "Estate", "Value": "corp"}]]
