"""Every registered blueprint renders its sample and passes cfn-lint; options are validated."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from conftest import BLUEPRINTS
from relight.blueprint import Blueprint, load_registry
from relight.errors import BlueprintError
from relight.lint import lint_template

REGISTRY = load_registry(BLUEPRINTS)


def test_the_shipped_blueprints_are_registered_by_name() -> None:
    assert {"network", "app_tier"} <= set(REGISTRY.names())


@pytest.mark.parametrize("bp", list(REGISTRY), ids=lambda bp: bp.name)
def test_sample_renders_and_passes_cfn_lint(bp: Blueprint) -> None:
    body = json.dumps(bp.render(bp.sample).to_dict())
    findings = [f for region in ("us-west-2", "eu-west-1") for f in lint_template(body, region)]
    assert findings == [], "\n".join(map(str, findings))


def test_discovered_values_enter_as_typed_parameters() -> None:
    template = REGISTRY["app_tier"].render({}).to_dict()
    assert template["Parameters"]["ImageId"]["Type"] == "AWS::EC2::Image::Id"
    assert template["Parameters"]["SubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"


def test_app_tier_is_secure_by_default() -> None:
    template = REGISTRY["app_tier"].render({"instance_count": 1}).to_dict()
    instance = template["Resources"]["Instance1"]["Properties"]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    volumes = {m["DeviceName"]: m["Ebs"] for m in instance["BlockDeviceMappings"]}
    assert all(v["Encrypted"] is True for v in volumes.values())
    assert volumes["/dev/sdf"]["SnapshotId"] == {"Ref": "DataSnapshotId"}


def test_network_never_uses_get_azs() -> None:
    body = json.dumps(REGISTRY["network"].render({"az_count": 3}).to_dict())
    assert "Fn::GetAZs" not in body
    assert body.count('"Fn::Select"') == 3


def test_subnets_are_carved_from_the_vpc_cidr() -> None:
    template = REGISTRY["network"].render({"cidr": "10.8.0.0/20", "az_count": 2}).to_dict()
    cidrs = [
        r["Properties"]["CidrBlock"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::EC2::Subnet"
    ]
    assert cidrs == ["10.8.0.0/24", "10.8.1.0/24"]


def test_ssh_open_to_the_world_is_refused() -> None:
    with pytest.raises(BlueprintError, match=r"SSH.*may not be open to the world"):
        REGISTRY["app_tier"].render({"app_port": 22, "ingress_cidrs": ["0.0.0.0/0"]})


def test_a_bad_option_value_is_refused_by_name() -> None:
    with pytest.raises(BlueprintError, match=r"instance_count: .*greater than or equal to 1"):
        REGISTRY["app_tier"].options_from({"instance_count": 0})


def test_a_users_blueprint_file_is_picked_up_by_name(tmp_path: Path) -> None:
    (tmp_path / "queue.py").write_text(
        textwrap.dedent(
            '''
            from troposphere import Template, sqs
            from relight.blueprint import Options, blueprint

            class QueueOptions(Options):
                fifo: bool = False

            @blueprint("queue", sample={"fifo": True})
            def queue(options: QueueOptions) -> Template:
                """One SQS queue."""
                t = Template()
                t.add_resource(sqs.Queue("Queue", FifoQueue=options.fifo or None))
                return t
            '''
        )
    )
    (tmp_path / "_helpers.py").write_text("raise RuntimeError('private files are not imported')")
    registry = load_registry(tmp_path)
    assert registry.names() == ["queue"]
    assert registry["queue"].description == "One SQS queue."
    template = registry["queue"].render({"fifo": True}).to_dict()
    assert template["Resources"]["Queue"]["Properties"]["FifoQueue"] is True


def test_a_broken_blueprint_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import nonexistent_module_xyz\n")
    with pytest.raises(BlueprintError, match=r"broken.py: the blueprint failed to import"):
        load_registry(tmp_path)
