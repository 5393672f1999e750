"""`relight estate prepare` on the stand-in: the global stacks of an estate's environments go
through StackSets administered in the recovery region (the baseline both environments share:
one StackSet with a stack instance in each account; each environment's own identity: one
each); each environment's other standing stacks through relight's prepare; a failover then
reads the identity outputs from the StackSet's stack (estate/prepare.py)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import boto3
import pytest

from conftest import BLUEPRINTS, relight

REGION = "us-west-2"
PLATFORM, SHOP = "123456789012", "210987654321"


def _env(name: str, account: str, cidr: str) -> str:
    return textwrap.dedent(
        f"""\
        name: {name}
        home_region: us-east-1
        recovery_regions: [{REGION}]
        stand_in: true
        account_id: "{account}"
        blueprints_dir: {BLUEPRINTS}
        objectives: {{rpo: 4h, rto: 1h}}
        strategy: pilot_light
        zones: {{count: 2}}
        stacks:
          identity:
            blueprint: identity
            stands: global
            params:
              instance_roles:
                web: {{managed_policies: []}}
          baseline:
            blueprint: identity
            stands: global
            params: {{flow_logs: true}}
          network:
            blueprint: network
            stands: pilot_light
            params:
              cidr: {cidr}
              az_count: 2
              nat: none
              flow_logs: false
              AvailabilityZones: {{zones: names}}
        """
    )


ESTATE = f"""\
name: corp
stand_in: true
administrator: platform
objectives: {{rto: 2h}}
accounts:
  platform:
    id: "{PLATFORM}"
    role: arn:aws:iam::{PLATFORM}:role/relight-estate
    external_id: corp-dr
  shop:
    id: "{SHOP}"
    role: arn:aws:iam::{SHOP}:role/relight-estate
    external_id: corp-dr
stacksets:
  max_concurrent_accounts: 2
  concurrency_mode: SOFT_FAILURE_TOLERANCE  # else StackSets runs one account at a time
  failure_tolerance_count: 0
environments:
  alpha: {{file: ../stacks/alpha.yaml, account: platform}}
  beta: {{file: ../stacks/beta.yaml, account: shop, after: [alpha]}}
"""


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corp")
    (root / "stacks").mkdir()
    (root / "estates").mkdir()
    (root / "stacks" / "alpha.yaml").write_text(_env("alpha", PLATFORM, "10.1.0.0/16"))
    (root / "stacks" / "beta.yaml").write_text(_env("beta", SHOP, "10.2.0.0/16"))
    path = root / "estates" / "corp.yaml"
    path.write_text(ESTATE)
    return path


def _as(endpoint: str, account: str) -> Any:
    sts = boto3.client(
        "sts", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id="x", aws_secret_access_key="x",
    )  # fmt: skip
    creds = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/relight-estate", RoleSessionName="test-estate"
    )["Credentials"]
    return boto3.client(
        "cloudformation", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )  # fmt: skip


def _endpoint(world: dict[str, Any]) -> str:
    from relight import standin

    running = standin.ensure_running(world["state"])
    return running.endpoint


def test_estate_prepare_makes_one_stackset_with_an_instance_in_each_account(
    world: dict[str, Any], estate: Path
) -> None:
    done = relight(
        world, "estate", "prepare", "--estate", str(estate), "--region", REGION, "--yes", "--json"
    )
    assert done.returncode == 0, done.stderr + done.stdout
    said = json.loads(done.stdout)
    sets = {s["name"]: s for s in said["stacksets"]}
    # each environment's first identity stack is its own (its roles' path names it, and its
    # service role holds what its own stacks need); the baseline is one template in both
    assert sorted(sets) == ["alpha-baseline", "alpha-identity", "beta-identity"]
    stackset = sets["alpha-baseline"]
    assert stackset["created"]
    assert stackset["instances"] == {PLATFORM: "created", SHOP: "created"}
    assert sets["beta-identity"]["instances"] == {SHOP: "created"}
    assert any("StackSet alpha-baseline" in line and "beta/baseline" in line
               for line in said["placement"])  # fmt: skip
    assert any("relight-stackset-execution" in line for line in said["permissions"])
    assert said["environments"]["beta"]["ok"], said["environments"]

    endpoint = _endpoint(world)
    admin = _as(endpoint, PLATFORM)
    instances = admin.list_stack_instances(StackSetName="alpha-baseline")["Summaries"]
    assert sorted(i["Account"] for i in instances) == [PLATFORM, SHOP]
    shop = {s["StackName"]: s for s in _as(endpoint, SHOP).describe_stacks()["Stacks"]}
    made = [n for n in shop if n.startswith("StackSet-alpha-baseline-")]
    assert len(made) == 1, sorted(shop)
    assert len([n for n in shop if n.startswith("StackSet-beta-identity-")]) == 1, sorted(shop)
    assert "beta-identity" not in shop and "beta-baseline" not in shop  # the StackSets' stand
    assert shop["beta-network"]["StackStatus"] == "CREATE_COMPLETE"  # relight's prepare

    again = relight(
        world, "estate", "prepare", "--estate", str(estate), "--region", REGION, "--yes", "--json"
    )
    assert again.returncode == 0, again.stderr
    for rerun in json.loads(again.stdout)["stacksets"]:  # nothing changed, no operation
        assert rerun["operations"] == [] and not rerun["updated"], rerun


def test_a_failover_after_it_reads_the_identity_outputs_from_the_stacksets_stack(
    world: dict[str, Any], estate: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relight.commands.connection import connect_stacks
    from relight.commands.failover import failover
    from relight.dr.prepared import read_prepared
    from relight.estate.accounts import connect_env
    from relight.model.estate import load_estate
    from relight.steps.render import build_plan

    monkeypatch.setenv("RELIGHT_STATE_DIR", str(world["state"]))
    loaded = load_estate(str(estate), REGION)
    conn = connect_env(loaded, "beta", REGION, command="failover", state_dir=world["state"])
    plan = build_plan(loaded.envs["beta"], REGION, stand_in=True)
    ready = read_prepared(connect_stacks(conn), plan, "relight estate prepare")
    shop = {s["StackName"]: s for s in _as(_endpoint(world), SHOP).describe_stacks()["Stacks"]}
    (made,) = [s for n, s in shop.items() if n.startswith("StackSet-beta-identity-")]
    (baseline,) = [s for n, s in shop.items() if n.startswith("StackSet-alpha-baseline-")]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in made["Outputs"]}
    assert ready.outputs["identity"] == outputs
    assert ready.stale == []  # the StackSet deploys the template as rendered
    assert ready.by_stackset == {
        "identity": made["StackName"], "baseline": baseline["StackName"]
    }  # fmt: skip
    flow_logs = {o["OutputKey"]: o["OutputValue"] for o in baseline["Outputs"]}["FlowLogRoleArn"]
    assert flow_logs.startswith(f"arn:aws:iam::{SHOP}:role/relight/stack/baseline/StackSet-")
    assert outputs["CloudFormationRoleArn"].startswith(f"arn:aws:iam::{SHOP}:role/")

    result = failover(plan, conn)
    assert result.outcome.ok, [r.reason for r in result.outcome.failed()]
    assert [c for c in result.checks if c.result == "failed"] == []


def test_without_a_terminal_or_yes_nothing_is_prepared_and_the_placement_is_shown(
    world: dict[str, Any], estate: Path
) -> None:
    done = relight(world, "estate", "prepare", "--estate", str(estate), "--region", "eu-west-1")
    assert done.returncode == 2, done.stderr
    assert "no terminal to ask on" in done.stderr and "--yes" in done.stderr
    assert "StackSet alpha-identity (administered in eu-west-1" in done.stderr


def test_only_naming_no_environment_of_the_estate_is_refused(
    world: dict[str, Any], estate: Path
) -> None:
    done = relight(
        world, "estate", "prepare", "--estate", str(estate), "--region", REGION,
        "--only", "gamma", "--yes",
    )  # fmt: skip
    assert done.returncode == 2
    assert "--only gamma: not an environment of estate corp" in done.stderr
    assert "alpha, beta" in done.stderr


def test_relights_own_global_stack_beside_the_stacksets_is_named_and_left_alone(
    world: dict[str, Any], estate: Path
) -> None:
    admin = _as(_endpoint(world), PLATFORM)
    body = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
    admin.create_stack(  # as a single-environment prepare made it before the estate's
        StackName="alpha-identity",
        TemplateBody=json.dumps(body),
        Tags=[
            {"Key": "relight:env", "Value": "alpha"},
            {"Key": "relight:stack", "Value": "identity"},
        ],
    )
    done = relight(  # beta serves from us-west-2 since the failover above: prepare refuses it
        world, "estate", "prepare", "--estate", str(estate), "--region", REGION, "--yes",
        "--only", "alpha",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "relight's own stack alpha-identity stands in us-west-2 too" in done.stderr
    assert "delete-stack --stack-name alpha-identity" in done.stderr
    names = [s["StackName"] for s in admin.describe_stacks()["Stacks"]]
    assert "alpha-identity" in names  # said, never deleted


def test_another_estates_stackset_of_the_same_name_is_refused_and_nothing_changes(
    world: dict[str, Any], estate: Path
) -> None:
    # A second estate administered from the same account and region, with an environment of
    # the same name: its StackSets would be alpha-baseline and alpha-identity too, corp's; the
    # first checked is named (U11)
    retail = estate.parent / "retail.yaml"
    retail.write_text(ESTATE.replace("name: corp", "name: retail"))
    admin = _as(_endpoint(world), PLATFORM)
    before = admin.list_stack_set_operations(StackSetName="alpha-baseline")["Summaries"]
    done = relight(
        world, "estate", "prepare", "--estate", str(retail), "--region", REGION, "--yes",
        "--only", "alpha",
    )  # fmt: skip
    assert done.returncode == 2, done.stderr + done.stdout
    assert "StackSet alpha-baseline in us-west-2 already stands and is estate corp's" in (
        done.stderr
    )
    assert "relight:estate=corp" in done.stderr and "nothing was changed" in done.stderr
    after = admin.list_stack_set_operations(StackSetName="alpha-baseline")["Summaries"]
    assert after == before
    tags = {t["Key"]: t["Value"] for t in admin.describe_stack_set(StackSetName="alpha-baseline")[
        "StackSet"]["Tags"]}  # fmt: skip
    assert tags["relight:estate"] == "corp"


def test_a_delegated_administrator_sends_the_management_accounts_stack_to_relights_prepare(
    estate: Path,
) -> None:
    # AWS: StackSets deploys no instance to the management account (DeploymentTargets, U10);
    # from a delegated administrator relight asks Organizations which account that is
    from botocore.stub import Stubber

    from relight.commands.connection import Declined
    from relight.estate.prepare import prepare_estate
    from relight.model.estate import load_estate

    org = estate.parent / "corp-org.yaml"
    org.write_text(
        ESTATE.replace("name: corp", "name: corporg")
        .replace("administrator: platform", "administrator: shop")
        .replace(
            "stacksets:\n",
            "stacksets:\n  permissions: service_managed\n  call_as: DELEGATED_ADMIN\n"
            "  organizational_units: [ou-ab12-cdef3456]\n",
        )
    )
    organizations = boto3.client(
        "organizations", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(organizations)
    stub.add_response("describe_organization", {"Organization": {"MasterAccountId": PLATFORM}})

    class Admin:
        def client(self, service: str, region: str) -> Any:
            assert service == "organizations"
            return organizations

    said: list[str] = []
    with stub, pytest.raises(Declined):
        prepare_estate(
            load_estate(str(org), REGION), REGION, admin=Admin(),  # type: ignore[arg-type]
            say=said.append, confirm=lambda _: False,
        )  # fmt: skip
    alpha = next(line for line in said if "alpha/identity" in line)
    assert alpha.startswith("relight's prepare: alpha/identity (alpha-identity): its account")
    assert f"{PLATFORM} is the organization's management account" in alpha
    assert any(line.startswith("StackSet beta-identity") for line in said), said
