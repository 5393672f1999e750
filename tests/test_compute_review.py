"""What a senior AWS review of the compute blueprint found (issue 21, fixa): scheduled actions
whose time has passed (A14), the group's size while a scheduled action is in effect (A13), the
EBS ratios EC2 refuses (E27), the data volume's DeleteOnTermination in asg mode (E28) and the
device the user data mounts (E29).

moto accepts a scheduled action in the past, any IOPS-to-size ratio, and sets the template's
size on an update whatever the UpdatePolicy: the rules are played by the option model and
the plan, with the clock passed in; the user data's device lookup runs against a fake /dev.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from relight.errors import RelightError
from relight.model.blueprint import load_blueprints
from relight.model.config import load_environment
from relight.steps.render import build_plan

DEMO = Path(__file__).resolve().parent.parent / "stacks" / "demo.yaml"
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)  # the plan's clock, passed in

ONE_TIME = {"name": "black-friday", "start_time": "2026-11-27T08:00:00Z", "desired": 6}
ENDED = {
    "name": "campaign",
    "recurrence": "0 8 * * *",
    "end_time": "2026-12-01T00:00:00Z",
    "min_size": 3,
}
AHEAD = {"name": "night", "recurrence": "0 20 * * *", "desired": 2}


def _env(tmp_path: Path, **options: Any) -> Path:
    doc = yaml.safe_load(DEMO.read_text())
    doc["stacks"]["web"]["params"].update(options)
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _web(plan: Any) -> dict[str, Any]:
    return dict(json.loads(plan.stacks["web"].body))


def _actions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::AutoScaling::ScheduledAction"
    ]


def test_an_action_whose_time_has_passed_is_left_out_of_the_plan_naming_the_file_and_key(
    tmp_path: Path,
) -> None:
    """Auto Scaling refuses an action scheduled in the past: a failover weeks after capture
    would fail on it and roll back. The plan leaves out a one-time action whose start has
    passed and a recurring one whose end has passed, and says so; the file is not changed."""
    path = _env(tmp_path, scheduled_actions=[ONE_TIME, ENDED, AHEAD])
    before = path.read_text()
    plan = build_plan(load_environment(str(path)), "us-west-2", now=NOW)
    assert _actions(_web(plan)) == [
        {
            "AutoScalingGroupName": {"Ref": "AutoScalingGroup"},
            "Recurrence": "0 20 * * *",
            "DesiredCapacity": 2,
        }
    ]
    assert plan.warnings == [
        f"{path}: stacks.web.params.scheduled_actions[name=black-friday]: its start time "
        "2026-11-27T08:00Z has passed: it is left out; remove it from the file",
        f"{path}: stacks.web.params.scheduled_actions[name=campaign]: its end time "
        "2026-12-01T00:00Z has passed: it is left out; remove it from the file",
    ]
    assert path.read_text() == before


def test_an_action_still_ahead_is_kept_with_its_time(tmp_path: Path) -> None:
    path = _env(tmp_path, scheduled_actions=[ONE_TIME, ENDED])
    plan = build_plan(
        load_environment(str(path)), "us-west-2", now=datetime(2026, 11, 1, tzinfo=UTC)
    )
    times = sorted(str(a.get("StartTime") or a.get("EndTime")) for a in _actions(_web(plan)))
    assert times == ["2026-11-27T08:00:00Z", "2026-12-01T00:00:00Z"]
    assert plan.warnings == []


def test_render_says_what_it_left_out_on_stderr(tmp_path: Path) -> None:
    """`relight render` (and plan, prepare, failover, through the same plan) says it; a start
    time years back has passed whatever day the test runs."""
    from typer.testing import CliRunner

    from relight.cli import app

    old = {**ONE_TIME, "start_time": "2020-01-01T00:00:00Z"}
    path = _env(tmp_path, scheduled_actions=[old])
    result = CliRunner().invoke(
        app,
        [
            "render",
            "--env",
            str(path),
            "--region",
            "us-west-2",
            "--out",
            str(tmp_path / "o"),
            "--no-lint",
        ],
    )
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert (
        "stacks.web.params.scheduled_actions[name=black-friday]: its start time "
        "2020-01-01T00:00Z has passed: it is left out; remove it from the file" in said
    )
    rendered = json.loads((tmp_path / "o" / "web.template.json").read_text())
    assert _actions(rendered) == []


def test_with_scheduled_actions_an_update_leaves_the_groups_unmodified_size_alone(
    tmp_path: Path,
) -> None:
    """CloudFormation sets the group's size to the template's on every update, even while a
    scheduled action is in effect; IgnoreUnmodifiedGroupSizeProperties keeps a rerun from
    undoing the action. Without scheduled actions the template is as before."""
    path = _env(tmp_path, scheduled_actions=[AHEAD])
    group = _web(build_plan(load_environment(str(path)), "us-west-2", now=NOW))["Resources"][
        "AutoScalingGroup"
    ]
    assert group["UpdatePolicy"]["AutoScalingScheduledAction"] == {
        "IgnoreUnmodifiedGroupSizeProperties": True
    }
    assert "AutoScalingRollingUpdate" in group["UpdatePolicy"]
    plain = _web(build_plan(load_environment(str(DEMO)), "us-west-2", now=NOW))
    assert (
        "AutoScalingScheduledAction" not in plain["Resources"]["AutoScalingGroup"]["UpdatePolicy"]
    )


@pytest.mark.parametrize(
    ("options", "key", "says"),
    [
        (
            {"data_volume_size": 10, "data_volume_iops": 6000},
            "data_volume_iops",
            "6000 IOPS on a 10 GiB gp3 volume is over 500 IOPS per GiB",
        ),
        (
            {"data_volume_throughput": 1000},
            "data_volume_throughput",
            "1000 MiB/s on a gp3 volume of 3000 IOPS is over 0.25 MiB/s per IOPS",
        ),
        (
            {"data_volume_iops": 4000, "data_volume_throughput": 1001},
            "data_volume_throughput",
            "at most 1000",
        ),
        (
            {"data_volume_type": "io1", "data_volume_size": 10, "data_volume_iops": 600},
            "data_volume_iops",
            "over 50 IOPS per GiB (EBS User Guide, Amazon EBS volume types): at most 500",
        ),
        (
            {"data_volume_type": "io2", "data_volume_size": 10, "data_volume_iops": 10001},
            "data_volume_iops",
            "over 1000 IOPS per GiB",
        ),
    ],
)
def test_ratios_ec2_refuses_are_refused_at_render_naming_the_file_and_key(
    tmp_path: Path, options: dict[str, Any], key: str, says: str
) -> None:
    path = _env(tmp_path, **options)
    with pytest.raises(RelightError) as refused:
        build_plan(load_environment(str(path)), "us-west-2", now=NOW)
    message = str(refused.value)
    assert f"stacks.web.params.{key}: " in message and says in message, message
    assert str(path) in message and refused.value.exit_code == 2


@pytest.mark.parametrize(
    "options",
    [
        {"data_volume_size": 1},  # gp3's 3,000 IOPS and 125 MiB/s come with any size
        {"data_volume_size": 10, "data_volume_iops": 5000, "data_volume_throughput": 1250},
        {"data_volume_type": "io1", "data_volume_size": 10, "data_volume_iops": 500},
        {"data_volume_type": "io2", "data_volume_size": 10, "data_volume_iops": 10000},
    ],
)
def test_ratios_at_the_limit_render(tmp_path: Path, options: dict[str, Any]) -> None:
    path = _env(tmp_path, **options)
    assert "web" in build_plan(load_environment(str(path)), "us-west-2").stacks


def test_in_asg_mode_production_s_delete_on_termination_is_reproduced(tmp_path: Path) -> None:
    """A group replaces and scales in its instances by itself and nothing reattaches a kept
    volume: in asg mode capture carries production's DeleteOnTermination (true here) instead
    of keeping volumes that would pile up unattached; one that is false stays the default."""
    from moto import mock_aws

    from test_capture import _production
    from test_capture_compute import GP3, _batch_fleet, _captured

    with mock_aws():
        _batch_fleet(_production(), {**GP3, "DeleteOnTermination": True})
        result, doc, plan = _captured(tmp_path)
    params = doc["stacks"]["batch"]["params"]
    assert params["mode"] == "asg" and params["delete_data_on_teardown"] is True
    data = _launch_data(plan, "batch")["BlockDeviceMappings"][1]
    assert data["DeviceName"] == "/dev/sdg" and data["Ebs"]["DeleteOnTermination"] is True
    said = [f"{n.resource} {n.property}" for n in result.notes]
    assert not [n for n in said if n.startswith("shop-batch") and "DeleteOnTermination" in n]
    with mock_aws():
        _batch_fleet(_production(), {**GP3, "DeleteOnTermination": False})
        (tmp_path / "kept").mkdir()
        _, kept, _ = _captured(tmp_path / "kept")
    assert "delete_data_on_teardown" not in kept["stacks"]["batch"]["params"]


def _launch_data(plan: Any, key: str) -> dict[str, Any]:
    template = json.loads(plan.stacks[key].body)
    return dict(template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"])


# ---------------------------------------------------------------------------------------------
# The user data finds the EBS volume mapped at data_device, never a guessed disk (E29)

BEGIN, END = "dev_root=", 'echo "relight: the EBS volume mapped at'


def _device_lookup(tmp_path: Path, **options: Any) -> str:
    """The rendered user data's device lookup, as CloudFormation's Fn::Sub leaves it (the
    script has no ${...} of its own there), to run on its own."""
    compute = load_blueprints(None)["compute"]
    script = compute.options_from(options).rendered_user_data()  # type: ignore[attr-defined]
    assert script is not None and "${" not in script[script.index(BEGIN) : script.index(END)]
    return "set -euo pipefail\n" + script[script.index(BEGIN) : script.index(END)]


def _block(path: Path, minor: int) -> None:
    import os
    import stat

    try:
        os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(259, minor))
    except PermissionError:
        pytest.skip("making a block device needs root")


def _nitro(tmp_path: Path, names: dict[str, str | None]) -> tuple[Path, Path]:
    """A fake /dev of a Nitro instance: each NVMe disk with, for EBS, its by-id link and the
    mapping name its controller holds (None: an instance store disk, not EBS), and an `nvme`
    that answers Identify Controller with 4096 bytes, the name at byte 3072."""
    root, tools = tmp_path / "root", tmp_path / "bin"
    (root / "dev" / "disk" / "by-id").mkdir(parents=True)
    tools.mkdir()
    for minor, (disk, name) in enumerate(names.items(), start=1):
        _block(root / "dev" / disk, minor)
        if name is None:
            store = (
                root / "dev" / "disk" / "by-id" / f"nvme-Amazon_EC2_NVMe_Instance_Storage_{disk}"
            )
            store.symlink_to(f"../../{disk}")
            continue
        (
            root / "dev" / "disk" / "by-id" / f"nvme-Amazon_Elastic_Block_Store_vol0{minor}"
        ).symlink_to(f"../../{disk}")
        (tools / f"{disk}.idctrl").write_bytes(
            bytes(3072) + name.encode().ljust(32, b" ") + bytes(4096 - 3104)
        )
    nvme = tools / "nvme"
    nvme.write_text(f'#!/bin/bash\ncat "{tools}/$(basename "$3").idctrl"\n')
    nvme.chmod(0o755)
    return root, tools


def _run(tmp_path: Path, script: str, root: Path, tools: Path) -> Any:
    import os
    import subprocess

    lookup = tmp_path / "lookup.sh"
    lookup.write_text(script + '\necho "DEVICE=$device"\n')
    env = {
        **os.environ,
        "PATH": f"{tools}:{os.environ['PATH']}",
        "RELIGHT_DEV_ROOT": str(root),
        "RELIGHT_DEVICE_WAIT": "0",
    }
    return subprocess.run(
        ["bash", str(lookup)], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize("name", ["sdf", "/dev/sdf", "xvdf"])
def test_the_data_device_is_the_ebs_volume_whose_controller_names_the_mapping(
    tmp_path: Path, name: str
) -> None:
    """Ubuntu on an instance type with NVMe instance store: nvme1n1 is the instance store,
    the data volume nvme2n1; no /dev/sdf link. The lookup takes nvme2n1, never nvme1n1."""
    root, tools = _nitro(tmp_path, {"nvme0n1": "xvda", "nvme1n1": None, "nvme2n1": name})
    ran = _run(tmp_path, _device_lookup(tmp_path, data_volume_size=10), root, tools)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"DEVICE={root}/dev/nvme2n1" in ran.stdout


def test_amazon_linux_s_udev_link_is_taken_when_it_points_at_an_ebs_volume(
    tmp_path: Path,
) -> None:
    """Amazon Linux links /dev/sdf to the EBS device (its udev rules read the controller);
    the link is taken when it points at a device EBS's by-id names, even without nvme-cli."""
    root, tools = _nitro(tmp_path, {"nvme0n1": "xvda", "nvme1n1": None, "nvme2n1": "sdf"})
    (tools / "nvme").unlink()
    (root / "dev" / "sdf").symlink_to("nvme2n1")
    ran = _run(tmp_path, _device_lookup(tmp_path, data_volume_size=10), root, tools)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"DEVICE={root}/dev/nvme2n1" in ran.stdout


def test_without_the_ebs_volume_the_user_data_fails_and_formats_nothing(tmp_path: Path) -> None:
    """Only an instance store disk at nvme1n1, where the old script would have run mkfs: the
    lookup gives up after its wait, says so, and fails (the signal is FAILURE)."""
    root, tools = _nitro(tmp_path, {"nvme0n1": "xvda", "nvme1n1": None})
    script = _device_lookup(tmp_path, data_volume_size=10)
    ran = _run(tmp_path, script, root, tools)
    assert ran.returncode == 1 and "DEVICE=" not in ran.stdout
    assert "relight: no EBS volume mapped at /dev/sdf after 0 s; nothing mounted or formatted" in (
        ran.stdout
    )
    compute = load_blueprints(None)["compute"]
    whole = compute.options_from({"data_volume_size": 10}).rendered_user_data()  # type: ignore[attr-defined]
    assert whole.index(END) < whole.index("mkfs")  # mkfs only on the device found
    assert "/dev/nvme1n1" not in whole


def test_readiness_says_what_the_plan_leaves_out_days_ahead(tmp_path: Path) -> None:
    """readiness runs on a schedule while production is healthy: an action that has passed
    is a warning there, naming the file and key, long before a failover needs the file."""
    from relight.commands.readiness import WARNING, left_out_findings

    path = _env(tmp_path, scheduled_actions=[ONE_TIME, AHEAD])
    plan = build_plan(load_environment(str(path)), "us-west-2", now=NOW)
    found = left_out_findings(plan)
    assert [(f.check, f.severity, f.fix) for f in found] == [("preflight", WARNING, f"edit {path}")]
    assert found[0].message.startswith(
        f"{path}: stacks.web.params.scheduled_actions[name=black-friday]: its start time "
        "2026-11-27T08:00Z has passed"
    )
