"""Messages a newcomer can act on (issue 20, item 8), tried as a new user would: a hand-written
file for a production relight did not build, a region never prepared, a prepare at
backup_restore. Each message says what to do, and the right command for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws
from rich.console import Console

from conftest import MINIMAL
from relight.aws.clients import Aws, AwsTarget
from relight.commands.connection import Connection
from relight.commands.failover import FailoverResult
from relight.commands.readiness import ERROR, WARNING, _drift, _preflight
from relight.commands.summary import print_failover
from relight.model.config import load_environment
from relight.steps.deploy import Outcome
from relight.steps.render import build_plan
from test_preflight import DNS, _discovery, _own_bucket_made, _stacks

ACCOUNT = "123456789012"


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(AwsTarget())


def test_readiness_of_a_hand_written_file_points_to_production_and_capture_not_drift(
    aws: Aws, write_env: Callable[[str], Path]
) -> None:
    """A file written by hand for a production relight did not build: none of its stacks is
    at home. Drift of stacks has nothing to compare, so it is one warning (readiness can still
    say READY), and its fix is `production:` or `relight capture`, not `relight drift`."""
    path = write_env(MINIMAL)
    loaded = load_environment(str(path), "us-west-2")
    assert loaded.env.production is None
    conn = Connection(aws, "us-west-2", ACCOUNT)
    (found,) = _drift(loaded, conn, "relight drift --env shop")
    assert found.severity == WARNING
    assert found.message.startswith(
        f"{path}: none of the stacks the file declares (shop-network, shop-security, shop-web) "
        "exists in us-east-1: production was not built by relight"
    )
    assert "`production: {vpc: VPC-ID}`" in found.message and "relight capture" in found.message
    assert found.fix == (
        f"relight capture --region us-east-1 --name shop --out {path}.captured.yaml --vpc VPC-ID"
    )


def test_readiness_says_relight_prepare_for_what_only_prepare_makes(
    aws: Aws, write_env: Callable[[str], Path]
) -> None:
    """Auto Scaling's service-linked role is made by `relight prepare` (item 1): readiness's
    fix for its note is prepare, never `relight plan`, which only repeats the finding."""
    text = MINIMAL.replace("mode: instances\n", "mode: asg\n")
    plan = build_plan(load_environment(str(write_env(text)), "us-west-2"), "us-west-2")
    assert not plan.stand_in
    _own_bucket_made(ACCOUNT)
    conn = Connection(aws, "us-west-2", ACCOUNT)
    look, refresh = "relight plan --env shop --region us-west-2", "relight prepare --env x"
    findings = _preflight(plan, conn, _discovery(), _stacks(), look, refresh)
    said = [f for f in findings if "AWSServiceRoleForAutoScaling" in f.message]
    assert [(f.severity, f.fix) for f in said] == [(WARNING, refresh)]
    assert all(f.fix == look for f in findings if f not in said)
    assert not [f for f in findings if f.severity == ERROR], findings


def _printed(plan: Any) -> str:
    out = StringIO()
    conn = Connection(Aws(AwsTarget()), "us-west-2", ACCOUNT)
    result = FailoverResult("r1", plan, conn, _discovery(), Outcome())
    print_failover(Console(file=out, width=200, highlight=False), result)
    return out.getvalue()


def test_prepare_at_backup_restore_prints_no_restored_from_table(
    write_env: Callable[[str], Path],
) -> None:
    """At backup_restore prepare stands up only the global stacks: it restores nothing."""
    loaded = load_environment(str(write_env(MINIMAL + DNS)), "us-west-2")
    prepare = build_plan(loaded, "us-west-2", phase="prepare")
    assert set(prepare.stacks) == {"dns"}
    assert "restored from" not in _printed(prepare)
    failover = build_plan(loaded, "us-west-2")
    text = _printed(failover)
    assert "restored from" in text and "web_ami" in text


def test_a_global_stack_is_tagged_with_its_own_purpose_not_failover(
    write_env: Callable[[str], Path],
) -> None:
    """`relight status` shows the purpose tag: the global stacks (IAM, DNS) are made once by
    prepare for every region; the failover's own stacks say failover."""
    loaded = load_environment(str(write_env(MINIMAL + DNS)), "us-west-2")
    prepare = build_plan(loaded, "us-west-2", phase="prepare")
    assert prepare.tags("dns", "r1")["relight:purpose"] == "global"
    assert prepare.tags("dns", "r1")["relight:prepared"] == "global"
    failover = build_plan(loaded, "us-west-2")
    assert failover.tags("web", "r1")["relight:purpose"] == "failover"


def test_an_older_file_missing_several_parameters_gets_them_all_with_lines_and_wiring(
    write_env: Callable[[str], Path],
) -> None:
    """Tried as a new user would: a file written before the compute blueprint took an
    instance profile, that also forgot the security stack's VPC. Every missing Parameter at
    once, each at its line, with how to wire it; nothing is rendered half."""
    from relight.errors import ConfigError

    older = MINIMAL.replace(
        "      InstanceProfileArn: arn:aws:iam::123456789012:instance-profile/shop-web\n", ""
    ).replace("      VpcId: {output: network.VpcId}\n", "")
    assert older != MINIMAL and "InstanceProfileArn" not in older and "VpcId" not in older
    path = write_env(older)
    lines = path.read_text(encoding="utf-8").splitlines()
    security = lines.index("  security:") + 3  # its params: line
    web = lines.index("  web:") + 3
    with pytest.raises(ConfigError) as caught:
        build_plan(load_environment(str(path), "us-west-2"), "us-west-2")
    text = caught.value.message
    assert text.startswith(f"{path}: 2 problems\n"), text
    assert f"line {security}: stacks.security.params: missing VpcId (AWS::EC2::VPC::Id)" in text
    assert "wire it: VpcId: {output: network.VpcId}" in text
    assert f"line {web}: stacks.web.params: missing InstanceProfileArn" in text
    assert (
        "add a stack with blueprint identity, with `stands: global` (it holds IAM resources" in text
    )
    assert "InstanceProfileArn: {output: identity.WebInstanceProfileArn}" in text


def test_the_readme_names_the_checks_a_plain_emulator_cannot_pass() -> None:
    """The README said relight runs unchanged against an AWS emulator; against plain moto
    every failover ends FAILED in verification. It names those checks, as verify names them."""
    import inspect

    from relight.steps.verify import instances, security_groups

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("**Against an AWS emulator**", 1)[1].split("\n\n", 1)[0]
    checks = {
        "security groups' egress as declared": security_groups,
        "instances in the declared security groups": instances,
    }
    for check, module in checks.items():
        assert f'"{check}"' in section.replace("\n", " "), check
        assert f'"{check}"' in inspect.getsource(module), f"verify no longer names {check!r}"
    assert "FAILED in verification" in section.replace("\n", " ")
    assert "runs unchanged against an AWS emulator" not in readme
