"""Standing cost: what a rendered template keeps running per month, from the price table."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from conftest import REPO
from relight.dr.costs import CostLine, monthly_total, stack_costs, usd
from relight.model.prices import (
    HOURS_PER_MONTH,
    PRICES,
    PRICES_AS_OF,
    PRICES_SOURCE,
    check_prices,
    unit,
)

GOLDEN = REPO / "tests" / "golden"
MONTH = HOURS_PER_MONTH


def _golden(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def _template(resources: dict[str, Any], **sections: Any) -> dict[str, Any]:
    return {"Resources": resources, **sections}


def _group(desired: Any, instance_type: Any, volumes: list[Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"InstanceType": instance_type}
    if volumes is not None:
        data["BlockDeviceMappings"] = volumes
    return _template(
        {
            "Template": {
                "Type": "AWS::EC2::LaunchTemplate",
                "Properties": {"LaunchTemplateData": data},
            },
            "Group": {
                "Type": "AWS::AutoScaling::AutoScalingGroup",
                "Properties": {
                    "DesiredCapacity": desired,
                    "MinSize": "1",
                    "MaxSize": "6",
                    "LaunchTemplate": {"LaunchTemplateId": {"Ref": "Template"}, "Version": "1"},
                },
            },
        },
        Parameters={
            "Size": {"Type": "String", "Default": "t3.medium"},
            "Given": {"Type": "String"},
        },
        Conditions={"Big": {"Fn::Equals": [{"Ref": "Given"}, "yes"]}},
    )


def _database(**props: Any) -> dict[str, Any]:
    return _template({"Db": {"Type": "AWS::RDS::DBInstance", "Properties": props}})


# Auto Scaling groups and instances


def test_a_group_costs_its_desired_capacity_times_its_launch_template_instance_type() -> None:
    lines = stack_costs("web", _group("3", "t3.small"))
    assert lines == [
        CostLine(
            "web", "Group", "AWS::AutoScaling::AutoScalingGroup", "3 x t3.small", 3 * 0.0208 * MONTH
        )
    ]
    assert monthly_total(lines) == pytest.approx(45.552)


def test_a_group_without_desired_capacity_runs_its_minimum() -> None:
    template = _group("2", "t3.small")
    del template["Resources"]["Group"]["Properties"]["DesiredCapacity"]
    assert monthly_total(stack_costs("web", template)) == pytest.approx(1 * 0.0208 * MONTH)


def test_a_group_counts_the_literal_gp3_volumes_each_instance_launches_with() -> None:
    volumes = [
        {"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 20, "VolumeType": "gp3"}},
        {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"},
    ]
    lines = stack_costs("web", _group(3, "t3.small", volumes))
    assert [line.what for line in lines] == ["3 x t3.small", "3 x 20 GB gp3 volume"]
    assert lines[1].usd_month == pytest.approx(3 * 20 * 0.08)


def test_volumes_sized_by_a_snapshot_or_at_deploy_time_are_unpriced_not_guessed() -> None:
    volumes = [
        {"Ebs": {"SnapshotId": "snap-1", "VolumeType": "gp3"}},
        {"Ebs": {"VolumeSize": {"Ref": "Given"}, "VolumeType": "gp3"}},
    ]
    lines = stack_costs("web", _group(3, "t3.small", volumes))
    assert lines[1].unpriced and lines[1].usd_month == 0
    assert "2 EBS volume(s) on each of 3" in lines[1].what


def test_a_single_instance_costs_its_type_and_an_ebs_volume_its_size() -> None:
    template = _template(
        {
            "Box": {"Type": "AWS::EC2::Instance", "Properties": {"InstanceType": "m5.large"}},
            "Disk": {
                "Type": "AWS::EC2::Volume",
                "Properties": {"Size": "100", "VolumeType": "gp3"},
            },
        }
    )
    assert monthly_total(stack_costs("app", template)) == pytest.approx(0.096 * MONTH + 100 * 0.08)


# Intrinsic functions and conditions


def test_a_ref_to_a_parameter_takes_its_default() -> None:
    lines = stack_costs("web", _group("2", {"Ref": "Size"}))
    assert lines[0].what == "2 x t3.medium"
    assert lines[0].usd_month == pytest.approx(2 * 0.0416 * MONTH)


def test_a_parameter_value_passed_in_wins_over_its_default() -> None:
    lines = stack_costs("web", _group("2", {"Ref": "Size"}), parameters={"Size": "t3.micro"})
    assert lines[0].what == "2 x t3.micro"


def test_a_value_given_at_deploy_time_is_unpriced_and_says_so() -> None:
    (line,) = stack_costs("web", _group("2", {"Ref": "Given"}))
    assert line.unpriced and line.usd_month == 0
    assert line.what == "2 instances: instance type given at deploy time"


def test_fn_if_takes_the_first_branch_that_resolves_when_the_condition_is_unknown() -> None:
    kind = {"Fn::If": ["Big", {"Ref": "AWS::NoValue"}, "m5.large"]}
    assert stack_costs("web", _group("1", kind))[0].what == "1 x m5.large"
    kind = {"Fn::If": ["Big", "m5.large", "t3.micro"]}
    assert stack_costs("web", _group("1", kind))[0].what == "1 x m5.large"


def test_fn_if_takes_the_branch_its_condition_picks_from_parameter_defaults() -> None:
    template = _group("1", {"Fn::If": ["Small", "t3.micro", "m5.large"]})
    template["Conditions"]["Small"] = {"Fn::Equals": [{"Ref": "Size"}, "t3.medium"]}
    assert stack_costs("web", template)[0].what == "1 x t3.micro"
    template["Conditions"]["Small"] = {"Fn::Not": [{"Condition": "Small2"}]}
    template["Conditions"]["Small2"] = {"Fn::Equals": [{"Ref": "Size"}, "t3.medium"]}
    assert stack_costs("web", template)[0].what == "1 x m5.large"


def test_a_resource_whose_condition_is_false_is_not_counted_and_an_unknown_one_is() -> None:
    template = _template(
        {
            "Off": {"Type": "AWS::EC2::NatGateway", "Condition": "Never"},
            "Maybe": {"Type": "AWS::EC2::NatGateway", "Condition": "Unknown"},
        },
        Parameters={"Flag": {"Type": "String", "Default": "no"}, "Open": {"Type": "String"}},
        Conditions={
            "Never": {"Fn::Equals": [{"Ref": "Flag"}, "yes"]},
            "Unknown": {"Fn::Equals": [{"Ref": "Open"}, "yes"]},
        },
    )
    (line,) = stack_costs("net", template)
    assert (line.resource, line.what) == ("Maybe", "NAT gateway (if Unknown)")
    assert line.usd_month == pytest.approx(0.045 * MONTH)


# Unknown types and overrides


def test_an_unknown_instance_type_is_unpriced_named_and_counts_nothing() -> None:
    (line,) = stack_costs("web", _group("3", "x9.mega"))
    assert line.unpriced and line.usd_month == 0
    assert "no price for ec2:x9.mega: add prices.ec2:x9.mega" in line.what
    assert "environment file" in line.what


def test_overrides_win_over_the_table_and_price_what_it_lacks() -> None:
    prices = {"ec2:t3.small": 0.025, "ec2:x9.mega": 1.0}
    assert monthly_total(stack_costs("web", _group("3", "t3.small"), prices)) == pytest.approx(
        3 * 0.025 * MONTH
    )
    (line,) = stack_costs("web", _group("2", "x9.mega"), prices)
    assert not line.unpriced and line.usd_month == pytest.approx(2 * 1.0 * MONTH)


def test_check_prices_accepts_well_formed_keys_even_unknown_ones() -> None:
    check_prices({"ec2:x9.mega": 1.5, "rds:db.t4g.medium": 0, "rds-cluster:db.m6gd.large": 2})


@pytest.mark.parametrize("key", ["t3.small", "ec2:", ":t3.small", "ec2 t3.small", "EC2:t3.small"])
def test_check_prices_refuses_a_key_that_is_not_service_colon_thing(key: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"prices.{key}")):
        check_prices({key: 1.0})


@pytest.mark.parametrize("value", [-0.01, float("nan"), float("inf"), True, "0.02", None])
def test_check_prices_refuses_a_value_that_is_not_a_price(value: Any) -> None:
    with pytest.raises(ValueError, match=r"prices\.ec2:t3\.small: .* USD per instance-hour"):
        check_prices({"ec2:t3.small": value})


def test_stack_costs_refuses_bad_overrides_too() -> None:
    with pytest.raises(ValueError, match=re.escape("prices.ec2:t3.small")):
        stack_costs("web", _group("1", "t3.small"), {"ec2:t3.small": -1})


# Databases


def test_multi_az_doubles_an_rds_instance_and_its_storage() -> None:
    single = stack_costs(
        "db", _database(DBInstanceClass="db.t4g.medium", AllocatedStorage="100", StorageType="gp3")
    )
    multi = stack_costs(
        "db",
        _database(
            DBInstanceClass="db.t4g.medium",
            AllocatedStorage="100",
            StorageType="gp3",
            MultiAZ="true",
        ),
    )
    assert [line.usd_month for line in single] == pytest.approx([0.065 * MONTH, 100 * 0.115])
    assert [line.usd_month for line in multi] == pytest.approx([2 * 0.065 * MONTH, 200 * 0.115])
    assert multi[0].what == "db.t4g.medium, Multi-AZ"


def test_aurora_is_priced_by_its_instances_and_its_cluster_adds_nothing() -> None:
    template = _template(
        {
            "Cluster": {
                "Type": "AWS::RDS::DBCluster",
                "Properties": {"Engine": "aurora-postgresql"},
            },
            "Writer": {
                "Type": "AWS::RDS::DBInstance",
                "Properties": {
                    "DBClusterIdentifier": {"Ref": "Cluster"},
                    "DBInstanceClass": "db.r6g.large",
                    "Engine": "aurora-postgresql",
                },
            },
        }
    )
    (line,) = stack_costs("db", template)
    assert line.resource == "Writer"
    assert line.usd_month == pytest.approx(0.26 * MONTH)


# Network, load balancers, DNS, alarms


def test_interface_endpoints_cost_per_subnet_and_gateway_endpoints_nothing() -> None:
    template = _template(
        {
            "S3": {"Type": "AWS::EC2::VPCEndpoint", "Properties": {"VpcEndpointType": "Gateway"}},
            "Ssm": {
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {
                    "VpcEndpointType": "Interface",
                    "SubnetIds": [{"Ref": "A"}, {"Ref": "B"}, {"Ref": "C"}],
                },
            },
        }
    )
    (line,) = stack_costs("net", template)
    assert line.resource == "Ssm"
    assert line.usd_month == pytest.approx(3 * 0.01 * MONTH)


def test_an_internet_facing_load_balancer_also_pays_a_public_ipv4_address_per_az() -> None:
    template = _template(
        {
            "Nlb": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Type": "network", "Subnets": ["subnet-1", "subnet-2"]},
            },
            "Internal": {
                "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
                "Properties": {"Scheme": "internal", "Subnets": ["subnet-1", "subnet-2"]},
            },
        }
    )
    lines = stack_costs("lb", template)
    assert [(line.resource, line.what) for line in lines] == [
        ("Nlb", "network load balancer"),
        ("Nlb", "2 public IPv4 address(es), one per AZ"),
        ("Internal", "application load balancer"),
    ]
    assert monthly_total(lines) == pytest.approx(2 * 0.0225 * MONTH + 2 * 0.005 * MONTH)


def test_health_checks_pay_for_their_optional_features_and_alarms_per_metric() -> None:
    template = _template(
        {
            "Check": {
                "Type": "AWS::Route53::HealthCheck",
                "Properties": {
                    "HealthCheckConfig": {"Type": "HTTP_STR_MATCH", "RequestInterval": 10}
                },
            },
            "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "example.com"}},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 10}},
        }
    )
    lines = stack_costs("dns", template)
    assert [line.usd_month for line in lines] == pytest.approx([0.5, 2 * 1.0, 0.5, 0.3])
    assert lines[1].what == "optional health check features: string matching, fast interval"


def test_resources_that_cost_nothing_standing_have_no_line() -> None:
    template = _template(
        {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": {}},
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Targets": {"Type": "AWS::ElasticLoadBalancingV2::TargetGroup", "Properties": {}},
        }
    )
    assert stack_costs("net", template) == []


# The rendered blueprints


def test_the_golden_compute_stack_runs_three_t3_micro_and_leaves_its_volume_sizes_open() -> None:
    lines = stack_costs("compute", _golden("compute"))
    assert lines[0].what == "3 x t3.micro"
    assert lines[0].usd_month == pytest.approx(3 * 0.0104 * MONTH)
    assert [line.unpriced for line in lines] == [False, True]


def test_the_golden_database_is_a_multi_az_db_t4g_medium_restored_from_a_snapshot() -> None:
    lines = stack_costs("database", _golden("database"))
    assert lines[0].what == "db.t4g.medium, Multi-AZ"
    assert lines[0].usd_month == pytest.approx(2 * 0.065 * MONTH)
    assert lines[1].unpriced and "snapshot" in lines[1].what


def test_the_golden_network_pays_three_nat_gateways_and_their_addresses() -> None:
    lines = stack_costs("network", _golden("network"))
    assert sorted({line.type for line in lines}) == ["AWS::EC2::EIP", "AWS::EC2::NatGateway"]
    assert monthly_total(lines) == pytest.approx(3 * 0.045 * MONTH + 3 * 0.005 * MONTH)


def test_the_golden_load_balancer_dns_and_security_stacks() -> None:
    lb = stack_costs("load_balancer", _golden("load_balancer"))
    assert monthly_total(lb) == pytest.approx(0.0225 * MONTH)  # the HTTPS listener is free
    assert [line.unpriced for line in lb] == [False, True]  # its addresses: subnets unknown
    dns = stack_costs("dns", _golden("dns"))
    # an HTTPS health check (one optional feature) and the failback latch: a standard alarm
    assert [(line.resource, line.what) for line in dns] == [
        ("FailbackLatchAlarm", "alarm on 1 metric(s)"),
        ("HealthCheck", "HTTPS health check"),
        ("HealthCheck", "optional health check features: HTTPS"),
    ]
    assert [line.usd_month for line in dns] == pytest.approx([0.10, 0.50, 1.00])
    assert monthly_total(dns) == pytest.approx(0.5 + 1.0 + 0.1)
    assert stack_costs("security", _golden("security")) == []


def test_the_golden_identity_stack_of_iam_roles_costs_nothing_standing() -> None:
    assert {r["Type"] for r in _golden("identity")["Resources"].values()} == {
        "AWS::IAM::Role",
        "AWS::IAM::InstanceProfile",
        "AWS::IAM::ManagedPolicy",  # the CloudFormation service role's
    }
    assert stack_costs("identity", _golden("identity")) == []


# The table and its documentation


def test_every_price_has_a_well_formed_key_a_unit_and_a_plausible_value() -> None:
    check_prices(PRICES)
    assert all(unit(key).endswith(("-hour", "-month")) for key in PRICES)
    assert all(0 < price < 10 for price in PRICES.values())
    assert PRICES_AS_OF.startswith("20")
    assert all(url.startswith("https://aws.amazon.com/") for url in PRICES_SOURCE)


def test_the_docs_table_lists_every_price_with_the_same_value_and_unit() -> None:
    doc = (REPO / "docs" / "prices.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([^`]+)` \| ([0-9.]+) \| ([^|]+?) \|$", doc, re.MULTILINE)
    documented = {key: (float(price), per) for key, price, per in rows}
    assert len(rows) == len(documented), "a key is listed twice"
    assert documented == {key: (price, unit(key)) for key, price in PRICES.items()}
    assert PRICES_AS_OF in doc
    assert all(url in doc for url in PRICES_SOURCE)


def test_usd_formats_a_monthly_amount() -> None:
    assert usd(1234.5) == "$1,234.50/month"
    assert usd(0) == "$0.00/month"
