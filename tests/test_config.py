"""The environment file: good files load, each kind of malformed file gives one clear error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import MINIMAL, REPO
from relight.config import load_environment
from relight.environment import ArtifactRef, OutputRef, ZonesRef, parse_duration
from relight.errors import ConfigError
from relight.render import build_plan

WriteEnv = Callable[..., Path]


def test_demo_environment_loads_with_its_stacks_in_dependency_order() -> None:
    loaded = load_environment("demo", "us-west-2", cwd=REPO)
    assert loaded.env.name == "demo"
    assert loaded.env.stand_in is True
    order = loaded.order
    assert order[0] == "network"
    assert order.index("security") < order.index("load_balancer") < order.index("web")
    assert order.index("load_balancer") < order.index("dns")
    web = loaded.env.stacks["web"].params
    assert web["ImageId"] == ArtifactRef(artifact="web_ami")
    assert web["TargetGroupArn"] == OutputRef(stack="load_balancer", output="TargetGroupArn")
    assert loaded.env.stacks["network"].params["AvailabilityZones"] == ZonesRef(zones="names")
    assert loaded.env.objectives.rpo == 24 * 3600


def test_a_path_to_a_yaml_file_is_accepted(write_env: WriteEnv) -> None:
    path = write_env(MINIMAL)
    assert load_environment(str(path), "us-west-2").env.name == "shop"


def test_output_references_imply_dependencies(write_env: WriteEnv) -> None:
    loaded = load_environment(str(write_env(MINIMAL)), "us-west-2")
    assert loaded.env.stacks["web"].dependencies() == {"network", "security"}


def test_jinja_sees_the_target_region_and_the_process_environment(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("cidr: 10.1.0.0/16", "cidr: {{ env.SHOP_CIDR }}").replace(
        "tags: {Role: web}}", "tags: {Role: web, Region: '{{ region }}'}}"
    )
    loaded = load_environment(
        str(write_env(text)), "us-west-2", environ={"SHOP_CIDR": "10.9.0.0/16"}
    )
    assert loaded.env.stacks["network"].params["cidr"] == "10.9.0.0/16"
    assert loaded.env.artifacts["web_ami"].tags == {"Role": "web", "Region": "us-west-2"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [(90, 90), ("90s", 90), ("15m", 900), ("4h", 14400), ("1d", 86400), ("1.5h", 5400)],
)
def test_durations_read_as_seconds(text: object, expected: int) -> None:
    assert parse_duration(text) == expected


def _error(write_env: WriteEnv, text: str, region: str | None = "us-west-2") -> ConfigError:
    path = write_env(text)
    with pytest.raises(ConfigError) as caught:
        loaded = load_environment(str(path), region)
        if region:
            build_plan(loaded, region)
    assert str(path) in str(caught.value), "the message names the file"
    assert caught.value.exit_code == 2
    return caught.value


def test_bad_yaml_names_the_line(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("stacks:\n", "stacks:\n  - [unclosed\n"))
    assert "not valid YAML" in str(err)
    assert "shop.yaml:" in str(err)


def test_unknown_top_level_key_lists_the_allowed_keys(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL + "regoin: us-west-2\n")
    assert "regoin: unknown key" in str(err)
    assert "home_region" in str(err) and "recovery_regions" in str(err)


def test_unknown_nested_key_names_its_path(write_env: WriteEnv) -> None:
    err = _error(
        write_env, MINIMAL.replace("blueprint: compute", "blueprint: compute\n    deps: []")
    )
    assert "stacks.web.deps: unknown key; allowed: blueprint, params, depends_on" in str(err)


def test_unknown_blueprint_lists_the_known_ones(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("blueprint: compute", "blueprint: compte"))
    assert "stacks.web.blueprint: unknown blueprint 'compte'" in str(err)
    assert "compute" in str(err) and "network" in str(err)


def test_output_of_unknown_stack(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("{output: network.VpcId}", "{output: netwrk.VpcId}"))
    assert "stacks.security.params.VpcId: output of unknown stack 'netwrk'" in str(err)


def test_depends_on_unknown_stack(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("blueprint: compute", "blueprint: compute\n    depends_on: [db]")
    err = _error(write_env, text)
    assert "stacks.web.depends_on: unknown stack 'db'" in str(err)


def test_unknown_artifact(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("{artifact: web_ami}", "{artifact: web_image}"))
    assert "stacks.web.params.ImageId: unknown artifact 'web_image'" in str(err)
    assert "web_ami" in str(err)


def test_dependency_cycle_is_named(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("blueprint: network", "blueprint: network\n    depends_on: [web]")
    err = _error(write_env, text)
    assert "dependency cycle" in str(err)
    assert "network" in str(err) and "web" in str(err)


def test_invalid_cidr(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("cidr: 10.1.0.0/16", "cidr: 10.1.0.0/33"))
    assert "stacks.network.params.cidr" in str(err)
    assert "not an IPv4 CIDR" in str(err)


def test_cidr_too_small_for_its_subnets(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("cidr: 10.1.0.0/16", "cidr: 10.1.0.0/24"))
    assert "10.1.0.0/24 is too small for the computed plan" in str(err)


def test_overlapping_subnets_are_refused(write_env: WriteEnv) -> None:
    subnets = "subnets: {public: [10.1.0.0/24, 10.1.0.128/25]}"
    err = _error(write_env, MINIMAL.replace("nat: none", f"nat: none\n      {subnets}"))
    assert "subnets.public: 10.1.0.128/25 overlaps public 10.1.0.0/24" in str(err)


def test_invalid_region(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("home_region: us-east-1", "home_region: us-est-1"))
    assert "home_region: 'us-est-1' is not an AWS region" in str(err)
    assert "us-east-1" in str(err)


def test_invalid_recovery_region_names_its_index(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("[us-west-2]", "[us-west-2, mars-north-1]"))
    assert "recovery_regions.1: 'mars-north-1' is not an AWS region" in str(err)


def test_bad_duration(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("rpo: 4h", "rpo: four hours"))
    assert "objectives.rpo: 'four hours' is not a duration" in str(err)


def test_az_names_are_refused_where_az_ids_belong(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("zones: {count: 2}", "zones: {ids: {us-west-2: [us-west-2a]}}")
    err = _error(write_env, text)
    assert "zones.ids: 'us-west-2a' is not an AZ ID" in str(err)


def test_undefined_jinja_variable_names_the_line(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("cidr: 10.1.0.0/16", "cidr: {{ env.NOPE }}"))
    assert "shop.yaml:15: undefined env.NOPE: environment variable not set" in str(err)


def test_a_reference_where_a_literal_option_belongs(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("cidr: 10.1.0.0/16", "cidr: {artifact: web_ami}"))
    assert (
        "stacks.network.params.cidr: option 'cidr' of blueprint network shapes the template"
        in str(err)
    )


def test_malformed_reference(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("{output: network.VpcId}", "{output: VpcId}"))
    assert "stacks.security.params.VpcId: 'output: VpcId' must read STACK.OUTPUT" in str(err)


def test_parameter_the_blueprint_does_not_have(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("mode: instances\n", "mode: instances\n      KeyName: ops\n")
    err = _error(write_env, text)
    assert "stacks.web.params.KeyName: not an option or Parameter of blueprint compute" in str(err)
    assert "ImageId" in str(err) and "instance_type" in str(err)


def test_a_structured_value_for_a_parameter_is_refused(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("{artifact: web_data}", "{snapshot: web_data}"))
    assert "stacks.web.params.DataSnapshotId: a Parameter takes a string, a number" in str(err)


def test_stand_in_switch_skips_and_overrides_only_on_the_stand_in(write_env: WriteEnv) -> None:
    zones = "      AvailabilityZones: {zones: names}\n"
    text = (
        MINIMAL.replace("flow_logs: false", "flow_logs: true").replace(
            zones, zones + "    stand_in_params: {flow_logs: false}\n"
        )
    ).replace("blueprint: compute", "blueprint: compute\n    stand_in_skip: true")
    loaded = load_environment(str(write_env(text)), "us-west-2")
    on_aws = build_plan(loaded, "us-west-2", stand_in=False)
    local = build_plan(loaded, "us-west-2", stand_in=True)
    assert "web" in on_aws.stacks and "web" not in local.stacks
    assert local.skipped == {"web": "stand_in_skip: the local stand-in cannot simulate it"}
    assert "AWS::EC2::FlowLog" in on_aws.stacks["network"].body
    assert "AWS::EC2::FlowLog" not in local.stacks["network"].body


def test_a_stack_reading_outputs_of_a_skipped_stack_is_refused(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("blueprint: security", "blueprint: security\n    stand_in_skip: true")
    loaded = load_environment(str(write_env(text)), "us-west-2")
    with pytest.raises(ConfigError, match=r"stacks\.web needs security, which the stand-in skips"):
        build_plan(loaded, "us-west-2", stand_in=True)


def test_relight_purpose_is_reserved_and_filled_in(write_env: WriteEnv) -> None:
    loaded = load_environment("demo", "us-west-2", cwd=REPO)
    plan = build_plan(loaded, "us-west-2", purpose="drill")
    assert plan.stacks["load_balancer"].parameters["RelightPurpose"] == "drill"
    text = MINIMAL.replace("mode: instances\n", "mode: instances\n      RelightPurpose: drill\n")
    err = _error(write_env, text)
    assert "RelightPurpose: reserved" in str(err)


def test_a_drill_or_test_copy_gets_its_own_dns_name_whatever_record_name_is_given_as() -> None:
    loaded = load_environment("demo", "us-west-2", cwd=REPO)
    failover = build_plan(loaded, "us-west-2").stacks["dns"]
    copy = build_plan(loaded, "us-west-2", purpose="test", namespace="qa").stacks["dns"]
    assert failover.parameters["RelightNamespace"] == ""
    assert copy.parameters["RelightNamespace"] == "qa"
    assert copy.parameters["RecordName"] == failover.parameters["RecordName"], "given as is"
    name = json.loads(copy.body)["Resources"]["Record"]["Properties"]["Name"]
    assert name == {
        "Fn::If": [
            "Namespaced",
            {"Fn::Join": [".", [{"Ref": "RelightNamespace"}, {"Ref": "RecordName"}]]},
            {"Ref": "RecordName"},
        ]
    }


def test_missing_parameter_without_default(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("      DataSnapshotId: {artifact: web_data}\n", ""))
    assert "missing DataSnapshotId (String)" in str(err)


def test_output_the_source_stack_does_not_have(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("network.VpcId", "network.Vpc"))
    assert "stack network (blueprint network) has no output 'Vpc'" in str(err)
    assert "VpcId" in str(err)


def test_az_count_must_agree_with_zones(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("zones: {count: 2}", "zones: {count: 3}"))
    assert "stacks.network.params.az_count: 2, but zones gives 3 zone(s) in us-west-2" in str(err)


def test_several_problems_are_reported_together(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("rpo: 4h", "rpo: soon").replace("name: shop", "name: Shop!")
    err = _error(write_env, text)
    assert "2 problems" in str(err)
    assert "name:" in str(err) and "objectives.rpo" in str(err)


def test_unknown_environment_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_environment("prod", "us-west-2", cwd=REPO)
    assert "stacks/prod.yaml" in str(caught.value)
    assert "demo" in str(caught.value)


DB_LOOKUP = "  db: {kind: rds_snapshot, db_instance: orders, option_groups: %s}\n"


def _with_db_lookup(option_groups: str) -> str:
    return MINIMAL.replace("stacks:\n", DB_LOOKUP % option_groups + "stacks:\n", 1)


def test_option_groups_name_one_per_target_region(write_env: WriteEnv) -> None:
    text = _with_db_lookup("{us-west-2: orders-tde-west, eu-west-1: orders-tde-eu}")
    loaded = load_environment(str(write_env(text)), "us-west-2")
    assert loaded.env.artifacts["db"].option_groups == {
        "us-west-2": "orders-tde-west",
        "eu-west-1": "orders-tde-eu",
    }


def test_option_groups_are_keyed_by_real_regions(write_env: WriteEnv) -> None:
    err = _error(write_env, _with_db_lookup("{us-wst-2: orders-tde-west}"))
    assert "artifacts.db.option_groups: 'us-wst-2' is not an AWS region" in str(err)
    assert "us-west-2" in str(err)


def test_an_option_group_name_rds_would_refuse_is_refused_here(write_env: WriteEnv) -> None:
    err = _error(write_env, _with_db_lookup("{us-west-2: orders--tde}"))
    assert "artifacts.db.option_groups: us-west-2: 'orders--tde' is not an option group name" in (
        str(err)
    )


def test_option_groups_belong_to_rds_snapshot_lookups_only(write_env: WriteEnv) -> None:
    text = MINIMAL.replace(
        "{kind: ami, tags: {Role: web}}",
        "{kind: ami, tags: {Role: web}, option_groups: {us-west-2: og}}",
    )
    err = _error(write_env, text)
    assert "artifacts.web_ami: 'option_groups' applies to kind rds_snapshot only, not ami" in (
        str(err)
    )
