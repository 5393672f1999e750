"""`relight capture` of an Auto Scaling group's settings beyond its size and launch
template: health check type and grace period, cooldown, warm-up, lifetime, termination
policies, capacity rebalancing, scheduled actions, lifecycle hooks and what else is named in
notes; and a round trip of a captured fleet into us-west-2. Production is built with plain
boto3 (moto); see test_capture_compute.py for the fleet's data volume.

moto 5.2.5 has put/describe for scheduled actions, lifecycle hooks and scaling policies; it
does not refuse a scheduled action's start time in the past as Auto Scaling does (A12), keeps
one health check type, and drops MaxInstanceLifetime and DefaultInstanceWarmup: those are
played on DescribeAutoScalingGroups' and DescribeScheduledActions' documented shapes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from relight.capture.fleet import _group_settings, _scheduled_actions
from relight.model.blueprint import load_blueprints
from test_capture import REGION, _production
from test_capture_compute import GP3, _batch_fleet, _captured, _template


def test_the_groups_health_check_grace_and_settings_are_written_as_read(tmp_path: Path) -> None:
    with mock_aws():
        prod = _production()
        _batch_fleet(
            prod,
            GP3,
            HealthCheckType="EC2",
            HealthCheckGracePeriod=45,
            DefaultCooldown=60,
            TerminationPolicies=["OldestInstance"],
            CapacityRebalance=True,
        )
        autoscaling = boto3.client("autoscaling", REGION)
        autoscaling.put_lifecycle_hook(
            AutoScalingGroupName="shop-batch",
            LifecycleHookName="drain",
            LifecycleTransition="autoscaling:EC2_INSTANCE_TERMINATING",
            HeartbeatTimeout=300,
            DefaultResult="CONTINUE",
        )
        autoscaling.put_scaling_policy(
            AutoScalingGroupName="shop-batch",
            PolicyName="cpu-50",
            PolicyType="TargetTrackingScaling",
            TargetTrackingConfiguration={
                "PredefinedMetricSpecification": {
                    "PredefinedMetricType": "ASGAverageCPUUtilization"
                },
                "TargetValue": 50.0,
            },
        )
        autoscaling.suspend_processes(
            AutoScalingGroupName="shop-batch", ScalingProcesses=["AZRebalance"]
        )
        result, doc, plan = _captured(tmp_path)
    params = doc["stacks"]["batch"]["params"]
    assert (params["health_check_type"], params["health_check_grace_seconds"]) == ("EC2", 45)
    assert (params["default_cooldown"], params["termination_policies"]) == (60, ["OldestInstance"])
    assert params["capacity_rebalance"] is True
    group = _template(plan, "batch")["Resources"]["AutoScalingGroup"]["Properties"]
    assert (group["HealthCheckType"], group["HealthCheckGracePeriod"]) == ("EC2", 45)
    assert (group["Cooldown"], group["TerminationPolicies"]) == ("60", ["OldestInstance"])
    assert group["CapacityRebalance"] is True
    # the web group was made without a type (EC2) though registered with a target group: today's
    # code left the blueprint's ELB-while-registered in place of production's EC2
    assert doc["stacks"]["web"]["params"]["health_check_type"] == "EC2"
    web = _template(plan, "web")["Resources"]["AutoScalingGroup"]["Properties"]
    assert web["HealthCheckType"] == "EC2"
    hook = [n for n in result.notes if n.property == "LifecycleHook drain"]
    assert len(hook) == 1 and "EC2_INSTANCE_TERMINATING" in hook[0].text
    assert "not reproduced" in hook[0].text and "identity stack" in hook[0].text
    said = {n.property: n.text for n in result.notes if n.resource == "shop-batch"}
    assert said["ScalingPolicy cpu-50"].startswith("TargetTrackingScaling: not reproduced")
    assert said["SuspendedProcesses"] == "AZRebalance: not suspended in the rebuild"


def test_scheduled_actions_are_written_and_rendered_one_resource_each(tmp_path: Path) -> None:
    with mock_aws():
        prod = _production()
        _batch_fleet(prod, GP3)
        autoscaling = boto3.client("autoscaling", REGION)
        autoscaling.put_scheduled_update_group_action(
            AutoScalingGroupName="shop-batch",
            ScheduledActionName="weekday-morning",
            Recurrence="0 7 * * 1-5",
            MinSize=2,
            MaxSize=6,
            DesiredCapacity=4,
            TimeZone="Europe/Paris",
        )
        autoscaling.put_scheduled_update_group_action(
            AutoScalingGroupName="shop-batch",
            ScheduledActionName="night",
            Recurrence="0 20 * * *",
            DesiredCapacity=1,
        )
        _, doc, plan = _captured(tmp_path)
    actions = sorted(doc["stacks"]["batch"]["params"]["scheduled_actions"], key=lambda a: a["name"])
    assert actions == [
        {"name": "night", "recurrence": "0 20 * * *", "desired": 1},
        {
            "name": "weekday-morning",
            "recurrence": "0 7 * * 1-5",
            "min_size": 2,
            "max_size": 6,
            "desired": 4,
            "time_zone": "Europe/Paris",
        },
    ]
    resources = _template(plan, "batch")["Resources"]
    rendered = sorted(
        (r["Properties"] for r in resources.values() if r["Type"].endswith("ScheduledAction")),
        key=lambda p: p["Recurrence"],
    )
    assert rendered == [
        {
            "AutoScalingGroupName": {"Ref": "AutoScalingGroup"},
            "Recurrence": "0 20 * * *",
            "DesiredCapacity": 1,
        },
        {
            "AutoScalingGroupName": {"Ref": "AutoScalingGroup"},
            "Recurrence": "0 7 * * 1-5",
            "TimeZone": "Europe/Paris",
            "MinSize": 2,
            "MaxSize": 6,
            "DesiredCapacity": 4,
        },
    ]
    assert "scheduled_actions" not in doc["stacks"]["web"]["params"]  # it has none


def test_warmup_and_lifetime_moto_does_not_keep_are_written_as_read() -> None:
    """moto 5.2.5 drops MaxInstanceLifetime and DefaultInstanceWarmup from its answer, and
    keeps one health check type; the group here is DescribeAutoScalingGroups' shape as AWS
    documents it (HealthCheckType a comma-separated list, EC2's always on)."""
    group = {
        "AutoScalingGroupName": "shop-batch",
        "HealthCheckType": "ELB,EBS",
        "HealthCheckGracePeriod": 0,
        "DefaultCooldown": 300,
        "TerminationPolicies": ["Default"],
        "MaxInstanceLifetime": 604800,
        "DefaultInstanceWarmup": 90,
        "NewInstancesProtectedFromScaleIn": True,
        "WarmPoolConfiguration": {"MinSize": 1, "PoolState": "Stopped"},
    }
    params: dict[str, Any] = {}
    notes: list[Any] = []
    _group_settings(group, params, notes)
    assert [(n.property, n.text) for n in notes] == [
        ("HealthCheckType", "EBS health checks: not reproduced (EC2, ELB only)"),
        ("WarmPoolConfiguration", "a warm pool: not reproduced"),
        ("NewInstancesProtectedFromScaleIn", "true: not reproduced"),
    ]
    assert params == {
        "health_check_type": "ELB",
        "health_check_grace_seconds": 0,
        "max_instance_lifetime": 604800,
        "default_instance_warmup": 90,
    }
    template = load_blueprints(None)["compute"].render(params).to_dict()
    props = template["Resources"]["AutoScalingGroup"]["Properties"]
    assert (props["MaxInstanceLifetime"], props["DefaultInstanceWarmup"]) == (604800, 90)
    assert props["HealthCheckGracePeriod"] == 0 and "Cooldown" not in props


class _Actions:
    """DescribeScheduledActions answering with the actions given (moto keeps a past start time
    that Auto Scaling would have refused, so the clock is the test's)."""

    def __init__(self, actions: list[dict[str, Any]]) -> None:
        self.actions = actions

    def get_paginator(self, op: str) -> Any:
        assert op == "describe_scheduled_actions"
        actions = self.actions

        class _Pages:
            def paginate(self, **_: Any) -> list[dict[str, Any]]:
                return [{"ScheduledUpdateGroupActions": actions}]

        return _Pages()


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_no_start_time_that_can_pass_is_written_for_a_recurring_action() -> None:
    client = _Actions(
        [
            {
                "ScheduledActionName": "recurring",
                "Recurrence": "0 8 * * *",
                "StartTime": datetime(2026, 1, 1, tzinfo=UTC),
                "MinSize": 2,
            },
            {
                "ScheduledActionName": "once-done",
                "StartTime": datetime(2026, 11, 1, tzinfo=UTC),
                "DesiredCapacity": 5,
            },
            {
                "ScheduledActionName": "once-ahead",
                "StartTime": datetime(2027, 1, 1, 9, tzinfo=UTC),
                "DesiredCapacity": 5,
            },
            {  # Auto Scaling may report a recurring action's next run as its StartTime
                "ScheduledActionName": "recurring-ahead",
                "Recurrence": "0 20 * * *",
                "StartTime": datetime(2026, 12, 6, 20, tzinfo=UTC),
                "DesiredCapacity": 1,
            },
            {
                "ScheduledActionName": "ended",
                "Recurrence": "0 8 * * *",
                "EndTime": datetime(2026, 6, 1, tzinfo=UTC),
                "MinSize": 1,
            },
        ]
    )
    params: dict[str, Any] = {}
    notes: list[Any] = []
    _scheduled_actions(client, "shop-batch", params, notes, now=NOW)
    assert params["scheduled_actions"] == [
        {"name": "recurring", "recurrence": "0 8 * * *", "min_size": 2},
        {"name": "once-ahead", "start_time": "2027-01-01T09:00:00Z", "desired": 5},
        {"name": "recurring-ahead", "recurrence": "0 20 * * *", "desired": 1},
    ]
    said = {n.property: n.text for n in notes}
    for recurring in ("recurring", "recurring-ahead"):
        text = said[f"ScheduledAction {recurring} StartTime"]
        assert "not written" in text and "refuses a start time in the past" in text
        assert "2026" not in text  # the next run changes daily: drift would see a new note
    assert "ran 2026-11-01" in said["ScheduledAction once-done"]
    assert "ended 2026-06-01" in said["ScheduledAction ended"]
    assert "remove start_time" in said["ScheduledAction once-ahead StartTime"]


def test_round_trip_of_a_fleet_with_an_empty_data_volume_and_a_scheduled_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The captured file, as written, fails over into us-west-2 (in-process moto) with the
    batch fleet: its launch template makes the data volume empty at the size read, and its
    group gets production's scheduled action and settings."""
    from typer.testing import CliRunner

    from relight.cli import app

    # as test_capture's round trip: in-process moto offers no orderable DB instance classes
    monkeypatch.setattr("relight.steps.preflight._db_classes", lambda plan, aws: ([], []))
    monkeypatch.setattr(
        "relight.steps.preflight.check_databases", lambda plan, aws, found, skip: ([], [])
    )
    runner = CliRunner()
    path = tmp_path / "stacks" / "shop.yaml"
    with mock_aws():
        prod = _production()
        _batch_fleet(prod, GP3, HealthCheckType="EC2", HealthCheckGracePeriod=45)
        boto3.client("autoscaling", REGION).put_scheduled_update_group_action(
            AutoScalingGroupName="shop-batch",
            ScheduledActionName="night",
            Recurrence="0 20 * * *",
            DesiredCapacity=1,
        )
        boto3.client("rds", REGION).create_db_snapshot(
            DBSnapshotIdentifier="shop-orders-nightly", DBInstanceIdentifier="shop-orders"
        )
        args = ["--vpc", prod["vpc"], "--region", REGION, "--name", "shop", "--out", str(path)]
        captured = runner.invoke(app, ["capture", *args, "--recovery-region", "us-west-2"])
        assert captured.exit_code == 0, captured.output
        env = ["--env", str(path), "--aws"]
        results = {
            name: runner.invoke(app, argv)
            for name, argv in {
                "replicate": ["replicate", *env, "--from", REGION, "--to", "us-west-2"],
                "prepare": ["prepare", *env, "--region", "us-west-2", "--yes"],
                "failover": [
                    *("failover", *env, "--region", "us-west-2", "--yes", "--json"),
                    *("--verify-timeout", "1"),
                ],
            }.items()
        }
        west = boto3.client("autoscaling", "us-west-2")
        groups = west.describe_auto_scaling_groups()["AutoScalingGroups"]
        batch = next(g for g in groups if g["AutoScalingGroupName"].startswith("shop-batch"))
        actions = west.describe_scheduled_actions(
            AutoScalingGroupName=batch["AutoScalingGroupName"]
        )["ScheduledUpdateGroupActions"]
        versions = boto3.client("ec2", "us-west-2").describe_launch_template_versions(
            LaunchTemplateId=batch["LaunchTemplate"]["LaunchTemplateId"], Versions=["$Latest"]
        )["LaunchTemplateVersions"]
    for name in ("replicate", "prepare"):
        assert results[name].exit_code == 0, results[name].output
    summary = json.loads(results["failover"].stdout)
    states = {s["stack"]: s["status"] for s in summary["stacks"]}
    assert states["batch"] == "CREATE_COMPLETE", states
    assert (batch["HealthCheckType"], batch["HealthCheckGracePeriod"]) == ("EC2", 45)
    assert [(a["Recurrence"], a["DesiredCapacity"]) for a in actions] == [("0 20 * * *", 1)]
    (data,) = [
        m
        for m in versions[0]["LaunchTemplateData"]["BlockDeviceMappings"]
        if m["DeviceName"] == "/dev/sdg"
    ]
    assert data["Ebs"]["VolumeSize"] == 50 and "SnapshotId" not in data["Ebs"]
