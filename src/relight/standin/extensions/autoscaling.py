"""Auto Scaling as AWS plays it where moto 5.2.5 does not: an update's rolling replacement.

CloudFormation replaces a group's instances when an update changes its launch template and the
group has an `AutoScalingRollingUpdate` policy: "To specify how CloudFormation handles rolling
updates for an Auto Scaling group, use the AutoScalingRollingUpdate policy. Rolling updates
enable you to specify whether CloudFormation updates instances that are in an Auto Scaling
group in batches or all at once" (CloudFormation User Guide, UpdatePolicy attribute), which
applies when "You change the Auto Scaling group's AWS::EC2::LaunchTemplate" among others.

moto updates the group's launch template and leaves every running instance as it was, so a
newer AMI or data snapshot never reached a running fleet. `roll` replaces each instance whose
launch template version is not the group's (all at once: the stand-in has no boot time to wait
for), called by the stand-in's CloudFormation after it updated such a group.
Written against moto 5.2.5.
"""

from __future__ import annotations

from typing import Any


def launch_version(group: Any) -> tuple[str, str] | None:
    """(template id, the version number the group launches now), or None without a template."""
    template = getattr(group, "ec2_launch_template", None)
    if template is None:
        return None
    try:
        number = template.get_version(group.launch_template_version).number
    except Exception:  # a version moto cannot find: compare by what the group names
        number = group.launch_template_version
    return str(template.id), str(number)


def roll(group: Any, before: tuple[str, str] | None) -> int:
    """Replace the group's instances when its launch template version changed from `before`;
    how many were replaced."""
    after = launch_version(group)
    if after is None or after == before:
        return 0
    backend = group.autoscaling_backend
    old = [state.instance.id for state in group.instance_states]
    for instance_id in old:
        backend.terminate_instance(instance_id, should_decrement=False)
    return len(old)
