"""Capture: an Auto Scaling group's settings beyond its size and launch template: health
check type and grace period, cooldown, warm-up, lifetime, termination policies, capacity
rebalancing, its scheduled actions and its lifecycle hooks. Each is written as read or named
in a note, never left at the blueprint's default in silence."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relight.capture.common import Note, _pages

AWS_COOLDOWN = 300  # "Default: 300 seconds" (CreateAutoScalingGroup DefaultCooldown)


def _group_settings(asg: dict[str, Any], params: dict[str, Any], notes: list[Note]) -> None:
    """HealthCheckType and HealthCheckGracePeriod always, as read; the rest when they differ
    from AWS's defaults (the blueprint leaves them to AWS otherwise)."""
    name = asg["AutoScalingGroupName"]
    # "A comma-separated value string of one or more health check types"; EC2's is always on
    kinds = [k.strip() for k in (asg.get("HealthCheckType") or "EC2").split(",") if k.strip()]
    params["health_check_type"] = "ELB" if "ELB" in kinds else "EC2"
    for other in (k for k in kinds if k not in ("EC2", "ELB")):  # EBS, VPC_LATTICE
        notes.append(
            Note(name, "HealthCheckType", f"{other} health checks: not reproduced (EC2, ELB only)")
        )
    params["health_check_grace_seconds"] = int(asg.get("HealthCheckGracePeriod") or 0)
    cooldown = asg.get("DefaultCooldown")
    if cooldown is not None and cooldown != AWS_COOLDOWN:
        params["default_cooldown"] = cooldown
    if asg.get("DefaultInstanceWarmup") is not None:
        params["default_instance_warmup"] = asg["DefaultInstanceWarmup"]
    if asg.get("MaxInstanceLifetime"):
        params["max_instance_lifetime"] = asg["MaxInstanceLifetime"]
    policies = asg.get("TerminationPolicies") or ["Default"]
    if policies != ["Default"]:
        params["termination_policies"] = list(policies)
    if asg.get("CapacityRebalance"):
        params["capacity_rebalance"] = True
    _unexpressed(asg, notes)


def _unexpressed(asg: dict[str, Any], notes: list[Note]) -> None:
    """What the blueprint cannot express of a group, named."""
    name = asg["AutoScalingGroupName"]
    said = {
        "MixedInstancesPolicy": "its instance types and purchase options are not reproduced: "
        "the stack launches the launch template's instance type, on demand",
        "WarmPoolConfiguration": "a warm pool: not reproduced",
        "PlacementGroup": "a placement group: not reproduced",
    }
    for key, text in said.items():
        if asg.get(key):
            notes.append(Note(name, key, text))
    if asg.get("NewInstancesProtectedFromScaleIn"):
        notes.append(Note(name, "NewInstancesProtectedFromScaleIn", "true: not reproduced"))
    suspended = sorted(p["ProcessName"] for p in asg.get("SuspendedProcesses") or [])
    if suspended:
        notes.append(
            Note(
                name, "SuspendedProcesses", f"{', '.join(suspended)}: not suspended in the rebuild"
            )
        )


def _scaling_policies(autoscaling: Any, name: str, notes: list[Note]) -> None:
    """Scaling policies are named, not reproduced (their alarms and metrics are not read)."""
    for policy in _pages(
        autoscaling, "describe_policies", "ScalingPolicies", AutoScalingGroupName=name
    ):
        notes.append(
            Note(
                name,
                f"ScalingPolicy {policy['PolicyName']}",
                f"{policy.get('PolicyType', 'SimpleScaling')}: not reproduced; the rebuilt "
                "group holds the size the file gives it (add the policy in the recovery region)",
            )
        )


def _scheduled_actions(
    autoscaling: Any,
    name: str,
    params: dict[str, Any],
    notes: list[Note],
    now: datetime | None = None,
) -> None:
    """The group's scheduled actions as `scheduled_actions`. Auto Scaling refuses a start time
    in the past, so a recurring action is written without one (it runs by its recurrence from
    the rebuild on), and a one-time action only while it is ahead (one that has passed has
    run, and is not written)."""
    now = now or datetime.now(UTC)
    written: list[dict[str, Any]] = []
    for action in _pages(
        autoscaling,
        "describe_scheduled_actions",
        "ScheduledUpdateGroupActions",
        AutoScalingGroupName=name,
    ):
        label = action["ScheduledActionName"]
        start, end = action.get("StartTime"), action.get("EndTime")
        recurrence = action.get("Recurrence")
        if end is not None and end <= now:
            notes.append(
                Note(name, f"ScheduledAction {label}", f"ended {end:%Y-%m-%d}: not written")
            )
            continue
        if start is not None and not recurrence and start <= now:
            notes.append(
                Note(name, f"ScheduledAction {label}", f"ran {start:%Y-%m-%d}: not written")
            )
            continue
        if start is not None and recurrence:
            # a recurring action's StartTime is at most a boundary that passes: in the file it
            # would make every rebuild after it fail (Auto Scaling refuses a past start time)
            notes.append(
                Note(
                    name,
                    f"ScheduledAction {label} StartTime",
                    # no time in the text: it may be the next run, and drift compares notes
                    "not written (Auto Scaling refuses a start time in the past, so a file "
                    "holding one fails once it has passed); the recurrence runs from the "
                    "rebuild on",
                )
            )
            start = None
        item: dict[str, Any] = {"name": label}
        for key, value in (
            ("recurrence", recurrence),
            ("start_time", start),
            ("end_time", end),
            ("min_size", action.get("MinSize")),
            ("max_size", action.get("MaxSize")),
            ("desired", action.get("DesiredCapacity")),
            ("time_zone", action.get("TimeZone")),
        ):
            if value is not None:
                item[key] = (
                    value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                    if isinstance(value, datetime)
                    else value
                )
        if "start_time" in item:
            notes.append(
                Note(
                    name,
                    f"ScheduledAction {label} StartTime",
                    f"{item['start_time']}: a rebuild after it is refused (a start time in "
                    "the past); remove start_time from the file once it has passed",
                )
            )
        written.append(item)
    if written:
        params["scheduled_actions"] = written


def _lifecycle_hooks(autoscaling: Any, name: str, notes: list[Note]) -> None:
    """Lifecycle hooks are named, not reproduced: what completes a hook (a Lambda function, an
    EventBridge rule, a queue's consumer) is outside the VPC and not captured, and a launch
    hook nobody completes holds every new instance for its heartbeat timeout, then applies its
    default result (ABANDON terminates it): a failover would wait on it, or lose its fleet."""
    hooks = autoscaling.describe_lifecycle_hooks(AutoScalingGroupName=name)["LifecycleHooks"]
    for hook in hooks:
        target = hook.get("NotificationTargetARN")
        where = f"to {target} (role {hook.get('RoleARN')})" if target else "to EventBridge"
        notes.append(
            Note(
                name,
                f"LifecycleHook {hook['LifecycleHookName']}",
                f"{hook.get('LifecycleTransition')}, {hook.get('HeartbeatTimeout')} s then "
                f"{hook.get('DefaultResult')}, notifying {where}: not reproduced; rebuild "
                "what completes it in the recovery region first (a hook's target and role "
                "must exist there before the failover: the role from the identity stack, "
                "made by relight prepare), then add the hook",
            )
        )
