"""`relight readiness`: would a failover into the region work now? Read-only, on a schedule.

The CLI tests run the console script in a subprocess against one private stand-in that has
played its story (the demo built at home, backed up, copied, identity prepared); the engine's
pure parts are tested directly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import BLUEPRINTS, REPO, relight
from relight import standin
from relight.commands.readiness import (
    ERROR,
    WARNING,
    Evaluation,
    Finding,
    artifact_findings,
    drill_findings,
    evaluations,
    last_drill,
    prepared_drift_findings,
    rto_findings,
    write_evaluation,
)
from relight.steps.discovery import Artifact, Discovery

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def readiness(world: dict[str, Any], reports: Path, *args: str) -> tuple[int, dict[str, Any]]:
    run = relight(
        world, "readiness", "--region", "us-west-2", "--reports", str(reports), "--json", *args
    )
    assert run.returncode in (0, 1), run.stderr
    return run.returncode, json.loads(run.stdout)


def _stack_names(world: dict[str, Any], region: str) -> list[str]:
    found = standin.find(world["state"])
    assert found, "the stand-in is running"
    cfn = boto3.client("cloudformation", region, endpoint_url=found.endpoint)
    return sorted(s["StackName"] for s in cfn.describe_stacks()["Stacks"])


def _errors(shown: dict[str, Any], check: str) -> list[dict[str, Any]]:
    return [f for f in shown["findings"] if f["check"] == check and f["severity"] == ERROR]


@pytest.mark.e2e
def test_without_a_drill_the_demo_is_not_ready_and_says_to_drill(
    world: dict[str, Any], tmp_path: Path
) -> None:
    code, shown = readiness(world, tmp_path, "--env", "demo")
    assert code == 1
    assert shown["ready"] is False
    assert [f["fix"] for f in _errors(shown, "drill")] == [
        "relight drill --env demo --region us-west-2"
    ]
    assert shown["checks"]["artifacts"] == "ok"
    assert shown["checks"]["prepared"] == "ok"
    assert shown["checks"]["drift"] == "ok", "production is as the file declares"
    # the stand-in has no CloudFormation drift detection: labelled, never passed
    assert shown["checks"]["prepared_drift"] == "not checked"
    assert _stack_names(world, "us-west-2") == ["demo-identity"], "nothing was deployed"


@pytest.mark.e2e
def test_after_a_passing_drill_the_demo_is_ready_and_the_pages_are_written(
    world: dict[str, Any], tmp_path: Path
) -> None:
    drill = relight(
        world, "drill", "--env", "demo", "--region", "us-west-2", "--reports", str(tmp_path)
    )
    assert drill.returncode == 0, drill.stderr
    code, shown = readiness(world, tmp_path, "--env", "demo")
    assert code == 0, shown["findings"]
    assert shown["ready"] is True
    assert shown["checks"]["drill"] == "ok"
    assert shown["last_drill"]["ok"] is True
    assert 0 < shown["forecast_seconds"] <= shown["rto_seconds"]
    folder = tmp_path / "demo" / "readiness"
    page = Path(shown["page"])
    assert page.parent == folder and page.with_suffix(".json").exists()
    assert "READY" in page.read_text(encoding="utf-8")
    assert page.name in (folder / "index.html").read_text(encoding="utf-8")
    assert _stack_names(world, "us-west-2") == ["demo-identity"], "the drill tore down its copy"


@pytest.mark.e2e
def test_publish_writes_the_verdict_to_cloudwatch_in_the_recovery_region_only(
    world: dict[str, Any], tmp_path: Path
) -> None:
    code, shown = readiness(world, tmp_path, "--env", "demo", "--publish")
    assert code == 1, "not ready: no drill"
    assert shown["published"] == {
        "demo": ["Ready", "ForecastRtoSeconds", "WorstArtifactAgeSeconds"]
    }
    found = standin.find(world["state"])
    assert found, "the stand-in is running"

    def ready_metrics(region: str) -> list[Any]:
        cloudwatch = boto3.client("cloudwatch", region, endpoint_url=found.endpoint)
        return cloudwatch.list_metrics(Namespace="Relight", MetricName="Ready")["Metrics"]

    assert [m["Dimensions"] for m in ready_metrics("us-west-2")] == [
        [{"Name": "Environment", "Value": "demo"}]
    ]
    assert ready_metrics("us-east-1") == [], "nothing published in the home region"


@pytest.mark.e2e
def test_a_drill_older_than_the_maximum_age_is_an_error(
    world: dict[str, Any], tmp_path: Path
) -> None:
    old = tmp_path / "demo" / "20200101-000000-0000"
    old.mkdir(parents=True)
    report = {
        "schema": "relight.report/1",
        "env": "demo",
        "run_id": old.name,
        "region": "us-west-2",
        "kind": "drill",
        "started": "2020-01-01T00:00:00+00:00",
        "ok": True,
        "stand_in": True,
    }
    (old / "report.json").write_text(json.dumps(report), encoding="utf-8")
    code, shown = readiness(world, tmp_path, "--env", "demo")
    assert code == 1
    [finding] = _errors(shown, "drill")
    assert "max_drill_age" in finding["message"]
    assert finding["fix"] == "relight drill --env demo --region us-west-2"


@pytest.mark.e2e
def test_artifacts_older_than_a_tiny_rpo_are_errors_naming_replicate(
    world: dict[str, Any], tmp_path: Path
) -> None:
    text = (REPO / "stacks" / "demo.yaml").read_text(encoding="utf-8")
    assert "  rpo: 24h" in text
    env_file = tmp_path / "demo.yaml"
    env_file.write_text(
        text.replace("  rpo: 24h", "  rpo: 1s") + f"\nblueprints_dir: {BLUEPRINTS}\n",
        encoding="utf-8",
    )
    code, shown = readiness(world, tmp_path, "--env", str(env_file))
    assert code == 1
    stale = _errors(shown, "artifacts")
    assert {f["message"].split(":")[0] for f in stale} == {
        "artifacts.web_ami",
        "artifacts.web_data",
        "artifacts.orders_db",
    }
    assert all("older than the RPO" in f["message"] for f in stale)
    assert all(f["fix"].startswith("relight replicate --env ") for f in stale)
    assert all("--from us-east-1 --to us-west-2" in f["fix"] for f in stale)


@pytest.mark.e2e
def test_a_deleted_copy_is_not_ready_and_its_fixing_command_makes_it_ready(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """Someone deleted the data volume's snapshot copy in us-west-2: readiness names the
    artifact and `relight replicate`; running that command brings the check back to ok."""
    readiness(world, tmp_path, "--env", "demo")  # the stand-in and its story exist from here
    found = standin.find(world["state"])
    assert found
    ec2 = boto3.client("ec2", "us-west-2", endpoint_url=found.endpoint)
    tagged = [{"Name": "tag:Role", "Values": ["web-data"]}]
    copies = ec2.describe_snapshots(OwnerIds=["self"], Filters=tagged)["Snapshots"]
    assert copies, "the story copied the data volume's snapshot to us-west-2"
    for copy in copies:
        ec2.delete_snapshot(SnapshotId=copy["SnapshotId"])

    code, shown = readiness(world, tmp_path, "--env", "demo")
    assert code == 1
    [missing] = _errors(shown, "artifacts")
    assert missing["message"].startswith("artifacts.web_data: ")
    assert missing["fix"] == "relight replicate --env demo --from us-east-1 --to us-west-2"

    fix = relight(world, *missing["fix"].split()[1:])
    assert fix.returncode == 0, fix.stderr
    _, after = readiness(world, tmp_path, "--env", "demo")
    assert after["checks"]["artifacts"] == "ok", after["findings"]


@pytest.mark.e2e
def test_a_prepared_stack_out_of_step_with_the_file_is_not_ready_and_names_prepare(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """The file now gives the web role a managed policy the prepared identity stack lacks: a
    failover would go on with the stack as it stands (a warning there); readiness says not
    ready, with the prepare command."""
    readiness(world, tmp_path, "--env", "demo")  # the story prepared identity from demo.yaml
    text = (REPO / "stacks" / "demo.yaml").read_text(encoding="utf-8")
    old = "        web: {managed_policies: [],"
    assert old in text
    policy = "AmazonSSMManagedInstanceCore"
    env_file = tmp_path / "demo.yaml"
    env_file.write_text(
        text.replace(old, f"        web: {{managed_policies: [{policy}],")
        + f"\nblueprints_dir: {BLUEPRINTS}\n",
        encoding="utf-8",
    )
    code, shown = readiness(world, tmp_path, "--env", str(env_file))
    assert code == 1
    [stale] = _errors(shown, "prepared")
    assert stale["message"].startswith(
        "stack demo-identity (stacks.identity, stands: global) differs from today's render "
        "(its template)"
    )
    assert stale["fix"] == f"relight prepare --env {env_file} --region us-west-2"
    assert _stack_names(world, "us-west-2") == ["demo-identity"], "nothing was deployed"


@pytest.mark.e2e
def test_pilot_light_without_prepare_is_not_ready_and_names_prepare(
    world: dict[str, Any], tmp_path: Path
) -> None:
    code, shown = readiness(world, tmp_path, "--env", "demo", "--strategy", "pilot_light")
    assert code == 1
    missing = _errors(shown, "prepared")
    assert any("demo-network" in f["message"] for f in missing)
    assert {f["fix"] for f in missing} == {
        "relight prepare --env demo --region us-west-2 --strategy pilot_light"
    }
    assert _stack_names(world, "us-west-2") == ["demo-identity"], "nothing was deployed"


@pytest.mark.e2e
def test_production_that_drifted_is_not_ready_and_names_relight_drift(
    world: dict[str, Any], tmp_path: Path
) -> None:
    """A rule added by hand to the web tier's group at home: the failover would rebuild the
    file's shape, not production's."""
    readiness(world, tmp_path, "--env", "demo")  # the stand-in and its story exist from here
    found = standin.find(world["state"])
    assert found
    ec2 = boto3.client("ec2", "us-east-1", endpoint_url=found.endpoint)
    named = [{"Name": "tag:Name", "Values": ["demo-security-web"]}]
    (group,) = ec2.describe_security_groups(Filters=named)["SecurityGroups"]
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="10.0.0.0/8"
    )
    try:
        code, shown = readiness(world, tmp_path, "--env", "demo")
        assert code == 1
        drifted = _errors(shown, "drift")
        assert drifted and all(f["fix"] == "relight drift --env demo" for f in drifted)
        assert any("22" in f["message"] for f in drifted), drifted
    finally:
        ec2.revoke_security_group_ingress(
            GroupId=group["GroupId"], IpProtocol="tcp", FromPort=22, ToPort=22, CidrIp="10.0.0.0/8"
        )


@pytest.mark.e2e
def test_an_unknown_strategy_is_bad_input(world: dict[str, Any], tmp_path: Path) -> None:
    run = relight(world, "readiness", "--env", "demo", "--region", "us-west-2", "--strategy", "hot")
    assert run.returncode == 2


# --- the engine's pure parts ---------------------------------------------------------------


def _artifact(name: str, hours_old: float) -> Artifact:
    return Artifact(
        name=name,
        kind="ami",
        id=f"ami-{name}",
        region="us-west-2",
        created=NOW - timedelta(hours=hours_old),
        candidates=1,
    )


def test_missing_and_stale_artifacts_are_errors_and_copies_in_progress_warnings() -> None:
    discovery = Discovery(
        region="us-west-2",
        at=NOW,
        artifacts={"fresh": _artifact("fresh", 1), "old": _artifact("old", 30)},
        missing={"gone": "no AMI tagged Role=gone"},
    )
    found = artifact_findings(discovery, 24 * 3600, {"fresh": ["ami-new"]}, "relight replicate")
    assert [(f.severity, f.message.split(":")[0]) for f in found] == [
        (ERROR, "artifacts.gone"),
        (ERROR, "artifacts.old"),
        (WARNING, "artifacts.fresh"),
    ]
    assert [f.fix.split(" (")[0] for f in found if f.fix] == [
        "relight replicate", "relight replicate",
        "wait for the copy to finish, then evaluate again",
    ], "a copy in progress is waited for, not copied again (issue 20)"  # fmt: skip
    pending = artifact_findings(discovery, 24 * 3600, {"gone": ["ami-9"]}, "relight replicate")
    (missing,) = [f for f in pending if f.message.startswith("artifacts.gone")]
    assert "(a copy is in progress: ami-9)" in missing.message
    assert missing.fix and missing.fix.startswith("wait for the copy to finish")


def test_a_failed_last_drill_is_an_error_and_a_recent_passing_one_is_not() -> None:
    passed = {"run_id": "r1", "started": (NOW - timedelta(days=1)).isoformat(), "ok": True}
    failed = passed | {"ok": False}
    assert drill_findings(passed, 7 * 86400, NOW, "relight drill") == []
    [finding] = drill_findings(failed, 7 * 86400, NOW, "relight drill")
    assert "failed" in finding.message and finding.severity == ERROR
    [none] = drill_findings(None, 7 * 86400, NOW, "relight drill")
    assert none.fix == "relight drill"


def test_last_drill_reads_only_this_region_and_place(tmp_path: Path) -> None:
    for run, region, stand_in, day in (
        ("a", "us-west-2", True, 1),
        ("b", "us-west-2", True, 3),
        ("c", "eu-west-1", True, 5),
        ("d", "us-west-2", False, 6),
    ):
        folder = tmp_path / "demo" / run
        folder.mkdir(parents=True)
        report = {
            "run_id": run,
            "region": region,
            "stand_in": stand_in,
            "ok": True,
            "started": f"2026-11-0{day}T00:00:00+00:00",
        }
        (folder / "report.json").write_text(json.dumps(report), encoding="utf-8")
    (tmp_path / "demo" / "broken").mkdir()
    (tmp_path / "demo" / "broken" / "report.json").write_text("{", encoding="utf-8")
    found = last_drill(tmp_path, "demo", "us-west-2", stand_in=True)
    assert found is not None and found["run_id"] == "b"
    assert last_drill(tmp_path, "demo", "eu-central-1", stand_in=True) is None


def test_a_forecast_over_the_objective_is_a_warning() -> None:
    assert rto_findings(1800, 3600, "relight plan") == []
    [over] = rto_findings(7200, 3600, "relight plan")
    assert over.severity == WARNING and over.fix == "relight plan"


def test_pages_list_every_evaluation_with_its_verdict(tmp_path: Path) -> None:
    for minute, findings in (
        (0, []),
        (1, [Finding("drill", ERROR, "no <drill>", "relight drill")]),
    ):
        evaluation = Evaluation(
            env="demo",
            region="us-west-2",
            strategy="backup_restore",
            at=NOW + timedelta(minutes=minute),
            stand_in=True,
            findings=findings,
            forecast_seconds=100.0,
            rto_seconds=3600,
        )
        write_evaluation(evaluation, tmp_path)
    folder = tmp_path / "demo" / "readiness"
    rows = evaluations(folder)
    assert [r["ready"] for r in rows] == [False, True], "newest first"
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "NOT READY" in index and "20261127T120100Z.html" in index
    page = (folder / "20261127T120100Z.html").read_text(encoding="utf-8")
    assert "no &lt;drill&gt;" in page, "escaped"


def test_a_drifted_prepared_stack_is_not_ready_and_says_to_prepare_again() -> None:
    from relight.drift.differences import CHANGED, Difference, StackDrift
    from relight.drift.prepared import Detected

    drifted = StackDrift("identity", "demo-identity", exists=True, region="us-west-2")
    drifted.differences.append(
        Difference(
            "identity",
            "demo-identity",
            "WebRole",
            "web-role-1",
            "/MaxSessionDuration",
            "3600",
            "43200",
            CHANGED,
            region="us-west-2",
        )
    )
    detected = Detected([drifted], ["demo-identity: drift detection failed for some resources"])
    refresh = "relight prepare --env demo --region us-west-2"
    assert prepared_drift_findings(detected, refresh) == [
        Finding(
            "prepared_drift",
            ERROR,
            "stacks.identity (demo-identity in us-west-2): WebRole /MaxSessionDuration: "
            "its template declares '3600', the stack has '43200'",
            refresh,
        ),
        Finding("prepared_drift", WARNING, detected.notes[0]),
    ]
