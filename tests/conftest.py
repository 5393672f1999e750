from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from relight.standin import extensions

# In-process moto (mock_aws) plays AWS as the stand-in server does: relight's additions first.
extensions.install()

REPO = Path(__file__).resolve().parent.parent
BLUEPRINTS = REPO / "blueprints"

# No test may reach real AWS: fake credentials, no profile, no endpoint from the environment.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    MOTO_EC2_LOAD_DEFAULT_AMIS="false",
)
for _var in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
    os.environ.pop(_var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


# MINIMAL's network and security stacks, which the tests' other environments build on too.
NETWORK_AND_SECURITY = """\
  network:
    blueprint: network
    params:
      cidr: 10.1.0.0/16
      az_count: 2
      nat: none
      flow_logs: false
      AvailabilityZones: {zones: names}
  security:
    blueprint: security
    params:
      VpcId: {output: network.VpcId}
      groups:
        web:
          ingress: [{cidr: 10.1.0.0/16, port: 8080}]
          egress: [{cidr: 0.0.0.0/0, port: 443}]
"""
MINIMAL = f"""\
name: shop
home_region: us-east-1
recovery_regions: [us-west-2]
stand_in: true
blueprints_dir: {BLUEPRINTS}
objectives: {{rpo: 4h, rto: 1h}}
zones: {{count: 2}}
artifacts:
  web_ami: {{kind: ami, tags: {{Role: web}}}}
  web_data: {{kind: ebs_snapshot, tags: {{Role: web-data}}}}
stacks:
{NETWORK_AND_SECURITY}  web:
    blueprint: compute
    params:
      mode: instances
      count: 2
      az_count: 2
      ImageId: {{artifact: web_ami}}
      DataSnapshotId: {{artifact: web_data}}
      SubnetIds: {{output: network.PrivateSubnetIds}}
      SecurityGroupId: {{output: security.WebSecurityGroupId}}
      InstanceProfileArn: arn:aws:iam::123456789012:instance-profile/shop-web
"""


@pytest.fixture
def write_env(tmp_path: Path) -> Callable[[str], Path]:
    """Write an environment file into a fresh stacks/ directory; returns its path."""

    def write(text: str, name: str = "shop") -> Path:
        stacks = tmp_path / "stacks"
        stacks.mkdir(exist_ok=True)
        path = stacks / f"{name}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private stand-in state directory; any stand-in started in it is stopped afterwards."""
    from relight import standin

    directory = tmp_path / "state"
    monkeypatch.setenv("RELIGHT_STATE_DIR", str(directory))
    yield directory
    standin.stop(directory)


# What MINIMAL's web stack launches with: made before a failover by the identity blueprint in
# a real environment; moto refuses to launch with a profile that does not exist.
INSTANCE_PROFILE = "shop-web"


def make_instance_profile(iam: Any, name: str = INSTANCE_PROFILE) -> None:
    """Create the instance profile (and its role) MINIMAL's web stack names, with `iam`."""
    trust = '{"Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}]}'
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)


def web_artifacts(
    region: str, tags: bool = True, extra: list[dict[str, str]] | None = None
) -> tuple[str, str]:
    """Inside mock_aws: an AMI and a data snapshot in `region` (with MINIMAL's lookup tags,
    Role=web and Role=web-data, and `extra`), as a backup or relight replicate leaves them."""
    import boto3

    ec2 = boto3.client("ec2", region)
    image = ec2.register_image(Name="web-1", RootDeviceName="/dev/xvda")["ImageId"]
    volume = ec2.create_volume(AvailabilityZone=f"{region}a", Size=1)["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    if tags:
        more = list(extra or [])
        ec2.create_tags(Resources=[image], Tags=[{"Key": "Role", "Value": "web"}, *more])
        ec2.create_tags(Resources=[snapshot], Tags=[{"Key": "Role", "Value": "web-data"}, *more])
    return image, snapshot


def moto_web_inputs(region: str = "us-west-2", tags: bool = False) -> Any:
    """Inside mock_aws: an AMI and a data snapshot in `region`, and the Discovery that found them
    (and MINIMAL's instance profile).

    With `tags`, they carry MINIMAL's lookup tags (Role=web, Role=web-data), so discovery
    itself can find them.
    """
    import boto3

    from relight.steps.discovery import Artifact, Discovery, Zone, root_volume

    make_instance_profile(boto3.client("iam", "us-east-1"))
    ec2 = boto3.client("ec2", region)
    image, snapshot = web_artifacts(region, tags)
    now = datetime.now(UTC)
    return Discovery(
        region=region,
        at=now,
        artifacts={
            "web_ami": Artifact(
                "web_ami",
                "ami",
                image,
                region,
                now,
                1,
                attributes=root_volume(ec2.describe_images(ImageIds=[image])["Images"][0]),
            ),
            "web_data": Artifact("web_data", "ebs_snapshot", snapshot, region, now, 1),
        },
        zones=(Zone(f"{region}b", "usw2-az1"), Zone(f"{region}a", "usw2-az2")),
    )


# The CLI end to end against a private stand-in (one per test module) ---------------------------

RELIGHT = str(Path(sys.executable).parent / "relight")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A private stand-in for the module's tests: its state directory and the environment
    the `relight` console script runs with; stopped after the module."""
    from relight import standin

    state = tmp_path_factory.mktemp("stand-in")
    yield {"state": state, "env": {**os.environ, "RELIGHT_STATE_DIR": str(state)}}
    standin.stop(state)


def relight(world: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `relight` console script in the checkout against the world's stand-in."""
    return subprocess.run(
        [RELIGHT, *args], cwd=REPO, env=world["env"], capture_output=True, text=True, timeout=300
    )


# The table of calls kept honest (relight.model.permissions) --------------------------------------
#
# Every client relight builds writes each API call to RELIGHT_CALL_LOG (relight.aws.clients); the
# whole session writes to one file (subprocess CLI runs inherit it; pytest-xdist's workers get it
# from the controller), and at the end the controller fails the session when a call is missing
# from the table.

CALL_LOG = "RELIGHT_CALL_LOG"
_MADE_LOG = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:  # an xdist worker: the controller's log
        os.environ[CALL_LOG] = workerinput[CALL_LOG]
        return
    if not os.environ.get(CALL_LOG):
        import tempfile

        handle, path = tempfile.mkstemp(prefix="relight-calls-", suffix=".log")
        os.close(handle)
        os.environ[CALL_LOG] = path
        config.stash[_MADE_LOG] = Path(path)  # removed once checked


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:  # pytest-xdist's hook, on the controller
    node.workerinput[CALL_LOG] = os.environ[CALL_LOG]


def call_table_failures(log: Path) -> str | None:
    """The message that fails the session when the call log `log` holds calls the table
    lacks, or None."""
    from relight.model.permissions import missing_calls

    if not log.exists():
        return None
    with log.open(encoding="utf-8") as lines:
        missing = missing_calls(lines)
    if not missing:
        return None
    return (
        f"{len(missing)} AWS call(s) the suite made are missing from relight's table of calls "
        "(src/relight/model/permissions/calls.py: add each to its command's set; `-` is a call "
        "made outside a command, which must be in some command's set):\n"
        + "\n".join(f"  {line}" for line in missing)
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # the controller checks the whole session's log
    message = call_table_failures(Path(os.environ[CALL_LOG]))
    made = session.config.stash.get(_MADE_LOG, None)
    if made is not None:
        made.unlink(missing_ok=True)
    if message is None:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line("")
        reporter.write_line(message, red=True, bold=True)
    else:
        print(message, file=sys.stderr)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
