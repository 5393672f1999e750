"""The environment file: good files load, each kind of malformed file gives one clear error."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import BLUEPRINTS, MINIMAL, REPO
from relight.errors import BlueprintError, ConfigError
from relight.model.config import load_environment
from relight.model.environment import ArtifactRef, OutputRef, ZonesRef
from relight.model.values import check_region, parse_duration
from relight.steps.render import build_plan

WriteEnv = Callable[..., Path]


def test_demo_environment_loads_with_its_stacks_in_dependency_order() -> None:
    loaded = load_environment("demo", "us-west-2", cwd=REPO)
    assert loaded.env.name == "demo"
    assert loaded.env.stand_in is True
    assert loaded.env.strategy == "backup_restore"
    order = loaded.order
    assert order[0] == "identity", "IAM roles first: network, database and web read them"
    assert order.index("identity") < order.index("network") < order.index("security")
    assert order.index("security") < order.index("load_balancer") < order.index("web")
    assert order.index("load_balancer") < order.index("dns")
    web = loaded.env.stacks["web"].params
    assert web["ImageId"] == ArtifactRef(artifact="web_ami")
    assert web["TargetGroupArn"] == OutputRef(stack="load_balancer", output="TargetGroupArn")
    assert web["InstanceProfileArn"] == OutputRef(stack="identity", output="WebInstanceProfileArn")
    stands = {key: spec.stands for key, spec in loaded.env.stacks.items()}
    assert stands == {
        "identity": "global", "network": "pilot_light", "security": "pilot_light",
        "load_balancer": "pilot_light", "web": "warm_standby", "database": None,
        "dns": "pilot_light",
    }  # fmt: skip
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
    assert "home_region: 'us-est-1' is not an AWS region; did you mean us-east-1 or us-west-1?" in (
        str(err)
    )


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


FLOW_LOG_ROLE = "arn:aws:iam::123456789012:role/shop-identity-flow-logs"


def test_stand_in_switch_skips_and_overrides_only_on_the_stand_in(write_env: WriteEnv) -> None:
    zones = "      AvailabilityZones: {zones: names}\n"
    # null in stand_in_params leaves the key out there: no flow logs, so no role to take
    text = (
        MINIMAL.replace("flow_logs: false", "flow_logs: true").replace(
            zones,
            zones + f"      FlowLogRoleArn: {FLOW_LOG_ROLE}\n"
            "    stand_in_params: {flow_logs: false, FlowLogRoleArn: null}\n",
        )
    ).replace("blueprint: compute", "blueprint: compute\n    stand_in_skip: true")
    loaded = load_environment(str(write_env(text)), "us-west-2")
    on_aws = build_plan(loaded, "us-west-2", stand_in=False)
    local = build_plan(loaded, "us-west-2", stand_in=True)
    assert "web" in on_aws.stacks and "web" not in local.stacks
    assert local.skipped == {"web": "stand_in_skip: the local stand-in cannot simulate it"}
    assert "AWS::EC2::FlowLog" in on_aws.stacks["network"].body
    assert on_aws.stacks["network"].parameters["FlowLogRoleArn"] == FLOW_LOG_ROLE
    assert "AWS::EC2::FlowLog" not in local.stacks["network"].body
    assert "FlowLogRoleArn" not in local.stacks["network"].parameters


def test_a_stack_reading_outputs_of_a_skipped_stack_is_refused(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("blueprint: security", "blueprint: security\n    stand_in_skip: true")
    loaded = load_environment(str(write_env(text)), "us-west-2")
    with pytest.raises(
        ConfigError,
        match=r"stacks\.web needs security, which this run does not build \(security: "
        r"stand_in_skip: the local stand-in cannot simulate it\); mark it stand_in_skip too",
    ):
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
    # The demo's DNS pair stands from pilot_light up: prepared before a disaster, with a copy
    # of its own for a test copy (only stands: global stacks are shared with production).
    assert "dns" in build_plan(loaded, "us-west-2").skipped, "at backup_restore: by hand"
    ahead = {"strategy": "pilot_light", "phase": "prepare"}
    production = build_plan(loaded, "us-west-2", **ahead).stacks["dns"]
    copy = build_plan(loaded, "us-west-2", purpose="test", namespace="qa", **ahead).stacks["dns"]
    assert production.parameters["RelightNamespace"] == ""
    assert copy.parameters["RelightNamespace"] == "qa"
    assert copy.parameters["RecordName"] == production.parameters["RecordName"], "given as is"
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
    assert "artifacts.db.option_groups.us-wst-2: 'us-wst-2' is not an AWS region" in str(err)
    assert "did you mean us-west-2?" in str(err)


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


# Refused before any AWS call: each class of bad input names file, line, key path and the fix.


def test_a_duplicate_key_is_refused_naming_both_lines(write_env: WriteEnv) -> None:
    text = MINIMAL.replace("      nat: none\n", "      nat: none\n      cidr: 10.2.0.0/16\n")
    err = _error(write_env, text)
    assert str(err).endswith(
        "shop.yaml:18: stacks.network.params.cidr: duplicate key, first at line 15 (YAML would "
        "keep only this one): remove or rename one of them"
    )
    flow = MINIMAL.replace("port: 8080}", "port: 8080, port: 80}")
    assert "stacks.security.params.groups.web.ingress.0.port: duplicate key, first at line 26" in (
        str(_error(write_env, flow))
    )
    top = _error(write_env, MINIMAL + "home_region: us-west-2\n")
    assert "shop.yaml:39: home_region: duplicate key, first at line 2" in str(top)


def test_a_merge_key_may_be_overridden_but_a_key_repeated_beside_it_may_not(
    write_env: WriteEnv,
) -> None:
    overridden = MINIMAL.replace("zones: {count: 2}", "zones: {<<: {count: 3}, count: 2}")
    assert load_environment(str(write_env(overridden)), "us-west-2").env.zones.count == 2
    repeated = MINIMAL.replace("zones: {count: 2}", "zones: {<<: {count: 3}, count: 2, count: 2}")
    assert "shop.yaml:7: zones.count: duplicate key, first at line 7" in str(
        _error(write_env, repeated)
    )


def test_stacks_that_become_the_same_cloudformation_name_are_refused(write_env: WriteEnv) -> None:
    extra = "  web_tier: {blueprint: compute}\n  web-tier: {blueprint: compute}\n"
    err = _error(write_env, MINIMAL + extra)
    assert str(err).endswith(
        "shop.yaml:40: stacks.web-tier: web_tier and web-tier become the same CloudFormation "
        "stack name shop-web-tier (relight writes _ as -), so one would replace the other: "
        "rename web-tier"
    )


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("home_region: us-east-1", "home_region: us-wets-2", "home_region"),
        ("[us-west-2]", "[eu-west-1, us-wets-2]", "recovery_regions.1"),
        ("stand_in: true", "stand_in: true\nkms_keys: {us-wets-2: alias/dr}", "kms_keys.us-wets-2"),
        ("zones: {count: 2}", "zones: {ids: {us-wets-2: [usw2-az1]}}", "zones.ids.us-wets-2"),
        (
            "tags: {Role: web-data}}",
            "tags: {Role: web-data}}\n  db: {kind: rds_snapshot, db_instance: orders, "
            "option_groups: {us-wets-2: og}}",
            "artifacts.db.option_groups.us-wets-2",
        ),
    ],
    ids=["home_region", "recovery_regions", "kms_keys", "zones.ids", "option_groups"],
)
def test_every_region_in_the_file_is_checked_with_a_close_match(
    write_env: WriteEnv, old: str, new: str, where: str
) -> None:
    err = _error(write_env, MINIMAL.replace(old, new))
    assert f"{where}: 'us-wets-2' is not an AWS region; did you mean us-west-2?" in str(err)
    assert "include" not in str(err), "no list of regions sharing a prefix"


def test_a_region_on_the_command_line_gets_a_close_match_too() -> None:
    with pytest.raises(
        ValueError, match=r"^'eu-wset-1' is not an AWS region; did you mean eu-west-1\?$"
    ):
        check_region("eu-wset-1")
    with pytest.raises(ValueError, match="regions read like us-east-1"):
        check_region("xx")


def test_a_file_that_is_not_utf8_names_the_byte(write_env: WriteEnv) -> None:
    path = write_env(MINIMAL)
    raw = path.read_bytes().replace(b"stand_in: true", b"stand_in: true  # caf\xe9")
    path.write_bytes(raw)
    with pytest.raises(ConfigError) as caught:
        load_environment(str(path), "us-west-2")
    offset = raw.index(b"\xe9")
    assert str(caught.value).startswith(
        f"{path}:4: not UTF-8 text: byte 0xe9 at offset {offset} (invalid continuation byte)"
    )
    assert "save the file as UTF-8" in str(caught.value)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    ("expression", "what"),
    [
        ('{{ 1 + "a" }}', "unsupported operand type(s) for +: 'int' and 'str' (TypeError)"),
        ("{{ 16 // 0 }}", "integer division or modulo by zero (ZeroDivisionError)"),
        ('{% include "base.yaml" %}', "no loader for this environment specified (TypeError)"),
    ],
    ids=["TypeError", "ZeroDivisionError", "include"],
)
def test_a_jinja_error_while_rendering_names_the_line(
    write_env: WriteEnv, expression: str, what: str
) -> None:
    err = _error(
        write_env, MINIMAL.replace("az_count: 2\n      nat", f"az_count: {expression}\n      nat")
    )
    assert f"shop.yaml:16: template error: {what}" in str(err)
    assert "fix the Jinja2 expression on that line" in str(err)


LONG_KEY = "k" * 129
MANY_TAGS = ", ".join(f"t{i}: x" for i in range(46))


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (
            f"{{{LONG_KEY}: x}}",
            f"tags.{LONG_KEY}: the tag key has 129 characters; AWS allows at most 128",
        ),
        (
            f"{{team: {'v' * 257}}}",
            "tags.team: the value has 257 characters; AWS allows at most 256",
        ),
        ("{'team,name': x}", "tags.team,name: the tag key has ',', which AWS refuses in tags"),
        (
            "{team: 'a#b!'}",
            "tags.team: the value has '!', '#', which AWS refuses in tags: use only "
            "letters, digits, spaces and + - = . _ : / @",
        ),
        (
            "{AWS:team: x}",
            "tags.AWS:team: tag 'AWS:team': the prefixes relight: and aws: are reserved",
        ),
        (
            f"{{{MANY_TAGS}}}",
            "tags: 46 tags; a CloudFormation stack takes at most 50 and relight adds up to 6 of "
            "its own (relight:env, relight:stack, relight:run, relight:purpose, "
            "relight:namespace, relight:prepared): keep at most 44",
        ),
    ],
    ids=["key-length", "value-length", "key-character", "value-character", "reserved", "count"],
)
def test_tags_aws_would_refuse_are_refused_now(
    write_env: WriteEnv, tags: str, expected: str
) -> None:
    err = _error(write_env, MINIMAL.replace("stand_in: true", f"stand_in: true\ntags: {tags}"))
    assert f"shop.yaml:5: {expected}" in str(err)


def test_tags_at_aws_limits_are_accepted_and_one_past_them_refused(write_env: WriteEnv) -> None:
    at_limits = {"k" * 128: "v" * 256, "Owner:team/app@x": "a+b=c.d_e f-g", "Équipe": "café"}
    tags = dict(at_limits, **{f"t{i}": "x" for i in range(41)})
    text = MINIMAL.replace("stand_in: true", f"stand_in: true\ntags: {json.dumps(tags)}")
    loaded = load_environment(str(write_env(text)), "us-west-2")
    assert len(loaded.env.tags) == 44
    assert len(build_plan(loaded, "us-west-2", namespace="qa").tags("web", "r1")) == 49
    past = text.replace('"v' + "v" * 255 + '"', '"v' + "v" * 256 + '"')
    assert "the value has 257 characters" in str(_error(write_env, past))


def test_a_large_broken_file_lists_20_problems_and_counts_the_rest(write_env: WriteEnv) -> None:
    lookups = "".join(f"  a{i}: {{kind: amy, tags: {{Role: web}}}}\n" for i in range(300))
    err = _error(write_env, MINIMAL.replace("artifacts:\n", "artifacts:\n" + lookups))
    lines = str(err).splitlines()
    assert lines[0].endswith("shop.yaml: 300 problems")
    assert lines[1].startswith("  line 9: artifacts.a0.kind: Input should be 'ami'")
    assert lines[20].startswith("  line 28: artifacts.a19.kind:")
    assert lines[21:] == ["  ... and 280 more"]


def test_a_problem_names_its_line(write_env: WriteEnv) -> None:
    err = _error(write_env, MINIMAL.replace("rpo: 4h", "rpo: soon"))
    assert "shop.yaml:6: objectives.rpo: 'soon' is not a duration" in str(err)
    err = _error(write_env, MINIMAL.replace("{output: network.VpcId}", "{output: netwrk.VpcId}"))
    assert "shop.yaml:23: stacks.security.params.VpcId: output of unknown stack" in str(err)


def test_regions_are_checked_whatever_aws_profile_says(monkeypatch: pytest.MonkeyPatch) -> None:
    from relight.model.values import _partitions, check_region

    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    _partitions.cache_clear()
    assert check_region("eu-west-1") == "eu-west-1"
    with pytest.raises(ValueError, match="did you mean us-west-2"):
        check_region("us-wets-2")


def test_line_numbers_after_a_jinja_block_say_they_are_the_rendered_texts(write_env) -> None:  # type: ignore[no-untyped-def]
    text = MINIMAL.replace(
        "home_region: us-east-1\n",
        "{% if false %}\nhome_region: eu-west-1\nrecovery_regions: []\n{% endif %}\n"
        "home_region: us-east-1\nhome_region: us-east-2\n",
    )
    path = write_env(text)
    with pytest.raises(ConfigError) as caught:
        load_environment(str(path), "us-west-2")
    assert str(caught.value).startswith(
        f"{path} (Jinja2-rendered):4: home_region: duplicate key, first at line 3"
    )


def test_the_tag_limit_counts_exactly_the_tags_relight_adds(write_env) -> None:  # type: ignore[no-untyped-def]
    from relight.model.values import RELIGHT_TAGS

    # every one of them: a drill's copy of a stack prepared ahead of time (relight:prepared)
    text = MINIMAL.replace("blueprint: network\n", "blueprint: network\n    stands: pilot_light\n")
    loaded = load_environment(str(write_env(text)), "us-west-2")
    drill = build_plan(
        loaded, "us-west-2", purpose="drill", namespace="drill-x", strategy="pilot_light",
        phase="prepare",
    )  # fmt: skip
    tags = drill.tags("network", "r1")
    assert set(tags) - set(loaded.env.tags) == set(RELIGHT_TAGS)
    assert tags["relight:prepared"] == "pilot_light"
    at_failover = build_plan(loaded, "us-west-2", purpose="drill", namespace="drill-x")
    assert "relight:prepared" not in at_failover.tags("network", "r1"), "built at failover"


def test_only_an_image_offers_a_root_device(write_env) -> None:  # type: ignore[no-untyped-def]
    text = MINIMAL.replace(
        "      DataSnapshotId: {artifact: web_data}\n",
        "      DataSnapshotId: {artifact: web_data}\n"
        "      RootDeviceName: {artifact: web_data.root_device}\n",
    )
    with pytest.raises(ConfigError, match=r"web_data\.root_device: only an AMI"):
        load_environment(str(write_env(text)), "us-west-2")
    backed_up = text.replace(
        "  web_data: {kind: ebs_snapshot, tags: {Role: web-data}}",
        "  web_data: {kind: backup_recovery_point, vault: dr, resource: i-0abc}",
    )
    assert load_environment(str(write_env(backed_up)), "us-west-2")  # an instance's backup


# blueprints_dir: an environment's own blueprints, added to relight's shipped ones ---------------

QUEUE = '''\
from troposphere import NoValue, Output, Ref, Template, sqs

from relight.model.blueprint import Options, blueprint


class QueueOptions(Options):
    fifo: bool = False


@blueprint("{name}", sample={{}})
def queue(options: QueueOptions) -> Template:
    """One SQS queue ({name})."""
    t = Template()
    q = t.add_resource(sqs.Queue("Queue", FifoQueue=True if options.fifo else NoValue))
    t.add_output(Output("QueueUrl", Value=Ref(q)))
    return t
'''


def _outside_the_checkout(tmp_path: Path, extra: str = "", blueprints_dir: str = "") -> Path:
    """MINIMAL kept in a directory of its own, not beside relight's blueprints."""
    text = MINIMAL.replace(f"blueprints_dir: {BLUEPRINTS}\n", blueprints_dir) + extra
    path = tmp_path / "elsewhere" / "stacks" / "shop.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_an_environment_outside_the_checkout_finds_the_shipped_blueprints(
    tmp_path: Path,
) -> None:
    loaded = load_environment(str(_outside_the_checkout(tmp_path)), "us-west-2")
    assert loaded.registry["compute"].source == BLUEPRINTS / "compute.py"
    assert "network" in loaded.registry and "identity" in loaded.registry


def test_blueprints_dir_adds_its_blueprints_to_the_shipped_ones(tmp_path: Path) -> None:
    own = tmp_path / "elsewhere" / "blueprints"
    own.mkdir(parents=True)
    (own / "queue.py").write_text(QUEUE.format(name="queue"))
    jobs = "  jobs: {blueprint: queue, params: {fifo: true}}\n"
    path = _outside_the_checkout(tmp_path, jobs, "blueprints_dir: ../blueprints\n")
    loaded = load_environment(str(path), "us-west-2")
    assert loaded.registry["queue"].source == own / "queue.py"
    assert loaded.registry["network"].source == BLUEPRINTS / "network.py"
    assert loaded.registry.replaced == {}
    assert set(build_plan(loaded, "us-west-2").stacks) == {"network", "jobs", "security", "web"}


def test_blueprints_beside_stacks_are_added_without_blueprints_dir(tmp_path: Path) -> None:
    path = _outside_the_checkout(tmp_path, "  jobs: {blueprint: queue}\n")
    own = path.parent.parent / "blueprints"
    own.mkdir()
    (own / "queue.py").write_text(QUEUE.format(name="queue"))
    registry = load_environment(str(path), "us-west-2").registry
    assert {"queue", "compute"} <= set(registry.names())


def test_an_own_blueprint_with_a_shipped_name_replaces_it_for_that_environment_only(
    tmp_path: Path,
) -> None:
    own = tmp_path / "elsewhere" / "blueprints"
    own.mkdir(parents=True)
    (own / "my_security.py").write_text(QUEUE.format(name="security"))
    path = _outside_the_checkout(tmp_path, blueprints_dir="blueprints_dir: ../blueprints\n")
    loaded = load_environment(str(path), "us-west-2")
    assert loaded.registry["security"].source == own / "my_security.py"
    assert loaded.registry.replaced == {"security": BLUEPRINTS / "security.py"}
    with pytest.raises(ConfigError) as caught:  # the file's security stack gets the own one
        build_plan(loaded, "us-west-2")
    assert (
        "stacks.security.params.groups: not an option or Parameter of blueprint security; "
        "options: fifo" in str(caught.value)
    )
    shipped = load_environment("demo", "us-west-2", cwd=REPO).registry
    assert shipped["security"].source == BLUEPRINTS / "security.py", "others keep the shipped"


def test_two_files_of_one_directory_defining_one_blueprint_are_refused_naming_both(
    tmp_path: Path,
) -> None:
    own = tmp_path / "elsewhere" / "blueprints"
    own.mkdir(parents=True)
    (own / "a.py").write_text(QUEUE.format(name="queue"))
    (own / "b.py").write_text(QUEUE.format(name="queue"))
    path = _outside_the_checkout(tmp_path, blueprints_dir="blueprints_dir: ../blueprints\n")
    with pytest.raises(BlueprintError) as caught:
        load_environment(str(path), "us-west-2")
    assert f"blueprint 'queue' is defined twice: {own / 'a.py'} and {own / 'b.py'}" in str(
        caught.value
    )


def test_a_blueprints_dir_that_does_not_exist_is_named_at_its_line(tmp_path: Path) -> None:
    path = _outside_the_checkout(tmp_path, blueprints_dir="blueprints_dir: ../blueprintz\n")
    with pytest.raises(ConfigError) as caught:
        load_environment(str(path), "us-west-2")
    assert f"{path}:5: blueprints_dir: {tmp_path / 'elsewhere' / 'blueprintz'} is not a " in str(
        caught.value
    )


def test_an_unknown_blueprint_names_where_blueprints_were_looked_for(tmp_path: Path) -> None:
    path = _outside_the_checkout(tmp_path, "  jobs: {blueprint: queue}\n")
    with pytest.raises(ConfigError) as caught:
        load_environment(str(path), "us-west-2")
    message = str(caught.value)
    assert "stacks.jobs.blueprint: unknown blueprint 'queue'; known: compute, " in message
    assert f"(from {BLUEPRINTS}); a blueprint of your own goes in blueprints/ beside " in message
