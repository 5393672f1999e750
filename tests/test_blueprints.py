"""Every registered blueprint renders its sample and passes cfn-lint; options are validated."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import BLUEPRINTS, REPO
from relight.errors import BlueprintError
from relight.model.blueprint import Blueprint, load_registry
from relight.steps.lint import lint_template

REGISTRY = load_registry(BLUEPRINTS)


def test_the_shipped_blueprints_are_registered_by_name() -> None:
    assert REGISTRY.names() == [
        "compute",
        "database",
        "dns",
        "identity",
        "load_balancer",
        "network",
        "security",
    ]


@pytest.mark.parametrize("bp", list(REGISTRY), ids=lambda bp: bp.name)
def test_sample_renders_and_passes_cfn_lint(bp: Blueprint) -> None:
    body = json.dumps(bp.render(bp.sample).to_dict())
    findings = [f for region in ("us-west-2", "eu-west-1") for f in lint_template(body, region)]
    assert findings == [], "\n".join(map(str, findings))


def _resources(name: str, options: dict[str, Any], kind: str) -> dict[str, Any]:
    template = REGISTRY[name].render(options).to_dict()
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _routes_by_table(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    routes = _resources("network", options, "AWS::EC2::Route").values()
    return {r["Properties"]["RouteTableId"]["Ref"]: r["Properties"] for r in routes}


# network -------------------------------------------------------------------------------------


def test_network_builds_three_tiers_per_az_with_a_table_each() -> None:
    subnets = _resources("network", {"az_count": 3}, "AWS::EC2::Subnet")
    assert sorted(subnets) == sorted(
        f"{tier}Subnet{az}" for tier in ("Public", "Private", "Data") for az in (1, 2, 3)
    )
    tables = _resources("network", {"az_count": 3}, "AWS::EC2::RouteTable")
    assert len(tables) == 9
    azs = {s["Properties"]["AvailabilityZone"]["Fn::Select"][0] for s in subnets.values()}
    assert azs == {0, 1, 2}


def test_network_never_uses_get_azs() -> None:
    body = json.dumps(REGISTRY["network"].render({"az_count": 3}).to_dict())
    assert "Fn::GetAZs" not in body


@pytest.mark.parametrize(("nat", "gateways"), [("none", 0), ("single", 1), ("per-az", 3)])
def test_nat_modes(nat: str, gateways: int) -> None:
    options = {"az_count": 3, "nat": nat}
    assert len(_resources("network", options, "AWS::EC2::NatGateway")) == gateways
    routes = _routes_by_table(options)
    private = [routes.get(f"PrivateRouteTable{az}") for az in (1, 2, 3)]
    if nat == "none":
        assert private == [None, None, None]
    else:
        targets = {r["NatGatewayId"]["Ref"] for r in private if r}
        assert len(targets) == gateways
    assert not any(f"DataRouteTable{az}" in routes for az in (1, 2, 3)), "data never routes out"
    assert all(routes[f"PublicRouteTable{az}"]["GatewayId"] for az in (1, 2, 3))


def test_the_cidr_plan_is_stable_when_azs_are_added() -> None:
    two = REGISTRY["network"].options_model(cidr="10.8.0.0/16", az_count=2).subnet_plan()
    three = REGISTRY["network"].options_model(cidr="10.8.0.0/16", az_count=3).subnet_plan()
    for tier in ("public", "private", "data"):
        assert three[tier][:2] == two[tier]
    assert two["public"] == ["10.8.0.0/21", "10.8.8.0/21"]
    assert two["data"][0] == "10.8.128.0/21"


def test_gateway_endpoints_serve_every_route_table() -> None:
    options = {"az_count": 2, "gateway_endpoints": ["s3", "dynamodb"]}
    endpoints = _resources("network", options, "AWS::EC2::VPCEndpoint")
    assert sorted(endpoints) == ["DynamoDbEndpoint", "S3Endpoint"]
    for endpoint in endpoints.values():
        assert len(endpoint["Properties"]["RouteTableIds"]) == 6


def test_flow_logs_deliver_with_the_role_given_into_a_group_the_role_may_write() -> None:
    template = REGISTRY["network"].render({"flow_logs": True}).to_dict()
    flow_log = template["Resources"]["FlowLog"]["Properties"]
    assert flow_log["DeliverLogsPermissionArn"] == {"Ref": "FlowLogRoleArn"}
    assert "identity stack" in template["Parameters"]["FlowLogRoleArn"]["Description"]
    group = template["Resources"]["FlowLogGroup"]["Properties"]["LogGroupName"]["Fn::Sub"]
    identity = REGISTRY["identity"].render({"flow_logs": True}).to_dict()
    statement = identity["Resources"]["FlowLogRole"]["Properties"]["Policies"][0]
    resources = [r["Fn::Sub"] for r in statement["PolicyDocument"]["Statement"][0]["Resource"]]
    prefix = resources[0].split(":log-group:")[1].removesuffix("*")
    assert group.startswith(prefix) and prefix == "/relight/flow-logs/"
    no_logs = REGISTRY["network"].render({"flow_logs": False}).to_dict()
    assert "FlowLogRoleArn" not in no_logs["Parameters"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cidr": "10.0.0.0/25"}, "between /16 and /24"),
        ({"cidr": "10.0.0.0/24"}, "too small for the computed plan"),
        ({"subnets": {"public": ["10.0.0.0/24", "10.0.0.0/25"]}}, "overlaps"),
        ({"subnets": {"public": ["10.0.0.0/24", "10.9.0.0/24"]}}, "outside the VPC"),
        ({"subnets": {"public": ["10.0.0.0/24", "10.0.1.0/29"]}}, "smaller than AWS's smallest"),
        ({"tiers": ["public", "data"], "nat": "single"}, "serves the private tier"),
    ],
)
def test_bad_network_plans_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(BlueprintError, match=message):
        REGISTRY["network"].options_from(options)


# security ------------------------------------------------------------------------------------


def test_every_security_rule_has_a_description_and_egress_is_explicit() -> None:
    template = REGISTRY["security"].render(REGISTRY["security"].sample).to_dict()
    rules = []
    for resource in template["Resources"].values():
        props = resource["Properties"]
        if resource["Type"] == "AWS::EC2::SecurityGroup":
            assert props["SecurityGroupEgress"], "never AWS's default allow-all egress"
            rules += props["SecurityGroupEgress"] + props.get("SecurityGroupIngress", [])
        else:
            rules.append(props)
    assert rules and all(rule.get("Description") for rule in rules)
    db_egress = template["Resources"]["DbSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert db_egress == [
        {
            "CidrIp": "127.0.0.1/32",
            "Description": "no egress: replaces AWS's default allow-all rule",
            "FromPort": 252,
            "IpProtocol": "icmp",
            "ToPort": 86,
        }
    ]


def test_rules_between_groups_reference_each_other() -> None:
    ingress = _resources("security", REGISTRY["security"].sample, "AWS::EC2::SecurityGroupIngress")
    web_from_lb = ingress["WebIngress1x1"]["Properties"]
    assert web_from_lb["SourceSecurityGroupId"] == {"Fn::GetAtt": ["LbSecurityGroup", "GroupId"]}
    assert web_from_lb["FromPort"] == 8080


@pytest.mark.parametrize(
    ("rule", "service"),
    [
        ({"cidr": "0.0.0.0/0", "port": 22}, "SSH"),
        ({"cidr": "::/0", "port": 3389}, "RDP"),
        ({"cidr": "0.0.0.0/0", "port": 5432}, "PostgreSQL"),
        ({"cidr": "0.0.0.0/0", "port_range": [3000, 3400]}, "MySQL"),
        ({"cidr": "0.0.0.0/0", "protocol": "-1"}, "SSH"),
    ],
)
def test_admin_and_database_ports_open_to_the_world_are_refused(
    rule: dict[str, Any], service: str
) -> None:
    with pytest.raises(BlueprintError, match=f"{service}.*may not be open to"):
        REGISTRY["security"].options_from({"groups": {"app": {"ingress": [rule]}}})


def test_an_all_traffic_rule_gives_no_ports_and_lints_without_a_finding() -> None:
    """Protocol -1 (all traffic) takes no ports: EC2 ignores FromPort/ToPort with it and
    cfn-lint warns W3687 where a template gives them. The blueprint leaves both out, inline
    and as a rule resource, so what it renders lints with no finding at all (issue 21)."""
    groups = {
        "web": {
            "description": "web",
            "ingress": [{"cidr": "10.0.0.0/8", "protocol": "-1"}],
            "egress": [{"cidr": "0.0.0.0/0", "protocol": "-1"}],
        }
    }
    template = REGISTRY["security"].render({"groups": groups}).to_dict()
    resources = template["Resources"]
    inline = resources["WebSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    ingress = resources["WebIngress1x1"]["Properties"]
    for rule in (inline[0], ingress):
        assert rule["IpProtocol"] == "-1"
        assert "FromPort" not in rule and "ToPort" not in rule
    assert ingress["Description"] == "all traffic from 10.0.0.0/8"
    assert lint_template(json.dumps(template), "us-west-2") == []


def test_a_rule_to_an_unknown_group_is_refused() -> None:
    groups = {"web": {"ingress": [{"group": "lb", "port": 80}]}}
    with pytest.raises(BlueprintError, match="unknown group 'lb'"):
        REGISTRY["security"].options_from({"groups": groups})


# load_balancer -------------------------------------------------------------------------------


def test_https_with_a_modern_policy_and_a_redirect_when_a_certificate_is_given() -> None:
    template = REGISTRY["load_balancer"].render({}).to_dict()
    https = template["Resources"]["HttpsListener"]
    assert https["Condition"] == "HasCertificate"
    assert https["Properties"]["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    action = template["Resources"]["HttpListener"]["Properties"]["DefaultActions"][0]
    redirect, forward = action["Fn::If"][1:]
    assert action["Fn::If"][0] == "HasCertificate"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert forward["Type"] == "forward"


def test_alb_drops_invalid_headers_and_protection_follows_the_purpose() -> None:
    template = REGISTRY["load_balancer"].render({}).to_dict()
    attributes = {
        a["Key"]: a["Value"]
        for a in template["Resources"]["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
        if "Key" in a  # the access-log bucket is an Fn::If that exists only with a bucket
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == {"Fn::If": ["Protected", "true", "false"]}
    assert template["Parameters"]["RelightPurpose"]["AllowedValues"] == [
        "failover",
        "test",
        "drill",
        "home",
    ]


def test_target_group_has_a_health_check() -> None:
    group = _resources(
        "load_balancer", {"health_check_path": "/ready"}, "AWS::ElasticLoadBalancingV2::TargetGroup"
    )["TargetGroup"]["Properties"]
    assert group["HealthCheckPath"] == "/ready"
    assert group["HealthCheckEnabled"] is True


# compute -------------------------------------------------------------------------------------


def test_compute_is_secure_by_default_in_both_modes() -> None:
    for options in ({"mode": "asg"}, {"mode": "instances", "count": 1}):
        template = REGISTRY["compute"].render(options).to_dict()
        if options["mode"] == "asg":
            launch = template["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        else:
            launch = template["Resources"]["Instance1"]["Properties"]
        assert launch["MetadataOptions"]["HttpTokens"] == "required"
        volumes = {str(m["DeviceName"]): m["Ebs"] for m in launch["BlockDeviceMappings"]}
        assert all(v["Encrypted"] is True and v["VolumeType"] == "gp3" for v in volumes.values())
        assert volumes["/dev/sdf"]["SnapshotId"] == {"Ref": "DataSnapshotId"}
        root = volumes[str({"Ref": "RootDeviceName"})]
        assert root["VolumeSize"] == {"Ref": "RootVolumeSize"}, "the AMI's own root size"
        assert template["Parameters"]["ImageId"]["Type"] == "AWS::EC2::Image::Id"


def test_compute_launches_with_the_instance_profile_it_is_given_in_both_modes() -> None:
    asg = REGISTRY["compute"].render({}).to_dict()
    parameter = asg["Parameters"]["InstanceProfileArn"]
    assert "Default" not in parameter and "identity stack" in parameter["Description"]
    launch = asg["Resources"]["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert launch["IamInstanceProfile"] == {"Arn": {"Ref": "InstanceProfileArn"}}
    instances = _resources("compute", {"mode": "instances", "count": 2}, "AWS::EC2::Instance")
    name = {"Fn::Select": [1, {"Fn::Split": ["instance-profile/", {"Ref": "InstanceProfileArn"}]}]}
    assert {str(i["Properties"]["IamInstanceProfile"]) for i in instances.values()} == {str(name)}
    assert "InstanceRoleProfileArn" not in asg["Outputs"]


@pytest.mark.parametrize(
    ("arn", "accepted"),
    [
        ("arn:aws:iam::123456789012:instance-profile/shop-identity-WebInstanceProfile-AB12", True),
        ("arn:aws-cn:iam::123456789012:instance-profile/web", True),
        ("arn:aws:iam::123456789012:instance-profile/team/web", False),  # the name is not last
        ("arn:aws:iam::123456789012:role/web", False),
        ("web", False),
    ],
)
def test_the_instance_profile_parameter_takes_a_profile_at_the_root_path(
    arn: str, accepted: bool
) -> None:
    pattern = REGISTRY["compute"].render({}).to_dict()["Parameters"]["InstanceProfileArn"]
    assert bool(re.fullmatch(pattern["AllowedPattern"], arn)) is accepted


def test_user_data_is_rendered_from_the_jinja_template() -> None:
    options = {"user_data_environment": {"APP_ENV": "drill"}, "mount_point": "/srv"}
    launch = _resources("compute", options, "AWS::EC2::LaunchTemplate")["LaunchTemplate"]
    script = launch["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert script.startswith("#!/bin/bash")
    assert "echo 'APP_ENV=drill' >> /etc/environment" in script
    assert "mkdir -p /srv" in script
    assert "${AWS::StackName}" in script


def test_the_group_registers_with_the_target_group_when_given() -> None:
    group = _resources("compute", {}, "AWS::AutoScaling::AutoScalingGroup")["AutoScalingGroup"]
    assert group["Properties"]["TargetGroupARNs"] == {
        "Fn::If": ["HasTargetGroup", [{"Ref": "TargetGroupArn"}], {"Ref": "AWS::NoValue"}]
    }


def test_instances_spread_across_the_azs() -> None:
    instances = _resources(
        "compute", {"mode": "instances", "count": 4, "az_count": 3}, "AWS::EC2::Instance"
    )
    indexes = [i["Properties"]["SubnetId"]["Fn::Select"][0] for i in instances.values()]
    assert indexes == [0, 1, 2, 0]


# database ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"mode": "aurora", "engine": "aurora-postgresql", "instance_class": "db.r6g.large"}],
)
def test_database_restores_from_a_snapshot_without_a_password(options: dict[str, Any]) -> None:
    template = REGISTRY["database"].render(options).to_dict()
    body = json.dumps(template).lower()
    assert "password" not in body
    main = template["Resources"]["Cluster" if options else "Database"]
    assert main["DeletionPolicy"] == "Snapshot"
    props = main["Properties"]
    assert props["DeletionProtection"] == {"Fn::If": ["Protected", True, False]}
    snapshot = props.get("DBSnapshotIdentifier") or props.get("SnapshotIdentifier")
    assert snapshot == {"Ref": "SnapshotIdentifier"}


def test_the_database_group_admits_only_the_client_group() -> None:
    group = _resources("database", {}, "AWS::EC2::SecurityGroup")["DatabaseSecurityGroup"]
    (ingress,) = group["Properties"]["SecurityGroupIngress"]
    assert ingress["SourceSecurityGroupId"] == {"Ref": "ClientSecurityGroupId"}
    assert ingress["FromPort"] == ingress["ToPort"] == {"Ref": "Port"}, "the port the restore keeps"


@pytest.mark.parametrize("interval", [0, 60])
def test_enhanced_monitoring_uses_the_role_given(interval: int) -> None:
    template = REGISTRY["database"].render({"monitoring_interval": interval}).to_dict()
    props = template["Resources"]["Database"]["Properties"]
    if interval:
        assert props["MonitoringRoleArn"] == {"Ref": "MonitoringRoleArn"}
        assert "Default" not in template["Parameters"]["MonitoringRoleArn"]
    else:
        assert "MonitoringRoleArn" not in props
        assert "MonitoringRoleArn" not in template["Parameters"]


def test_engine_and_mode_must_agree() -> None:
    with pytest.raises(BlueprintError, match="mode aurora needs an aurora-\\* engine"):
        REGISTRY["database"].options_from({"mode": "aurora", "engine": "postgres"})


# dns -----------------------------------------------------------------------------------------


def test_failover_record_with_health_check() -> None:
    template = REGISTRY["dns"].render({"mode": "failover"}).to_dict()
    record = template["Resources"]["Record"]["Properties"]
    assert record["Failover"] == "SECONDARY"
    assert record["HealthCheckId"] == {"Ref": "HealthCheck"}
    assert record["AliasTarget"]["EvaluateTargetHealth"] is True
    assert record["HostedZoneName"] == {"Ref": "HostedZoneName"}


def test_cutover_is_one_plain_alias_record() -> None:
    template = REGISTRY["dns"].render({"mode": "cutover"}).to_dict()
    assert list(template["Resources"]) == ["Record"]
    assert "Failover" not in template["Resources"]["Record"]["Properties"]


def test_the_recovery_side_holds_a_latch_alarm_that_keeps_its_state_without_data() -> None:
    template = REGISTRY["dns"].render({"failover_role": "SECONDARY"}).to_dict()
    alarm = template["Resources"]["FailbackLatchAlarm"]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    props = alarm["Properties"]
    assert {k: props[k] for k in ("Namespace", "MetricName", "Statistic")} == {
        "Namespace": "Relight",
        "MetricName": "FailedOver",
        "Statistic": "Maximum",
    }
    assert props["Dimensions"] == [{"Name": "Stack", "Value": {"Ref": "AWS::StackName"}}]
    assert (props["Period"], props["EvaluationPeriods"], props["Threshold"]) == (60, 1, 1)
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert props["TreatMissingData"] == "ignore", "once set, the latch holds until cleared"
    assert props["AlarmName"] == {"Fn::Sub": "${AWS::StackName}-failback-latch"}, (
        "a fixed name: a recreated SECONDARY keeps the name the PRIMARY refers to"
    )
    outputs = template["Outputs"]
    assert outputs["FailbackLatchAlarm"]["Value"] == {"Ref": "FailbackLatchAlarm"}
    assert outputs["FailbackLatchRegion"]["Value"] == {"Ref": "AWS::Region"}
    record = template["Resources"]["Record"]["Properties"]
    assert record["HealthCheckId"] == {"Ref": "HealthCheck"}, "the recovery side is not latched"


def test_the_home_side_is_healthy_only_while_the_endpoint_is_and_the_latch_is_not_set() -> None:
    template = REGISTRY["dns"].render({"failover_role": "PRIMARY"}).to_dict()
    parameters = template["Parameters"]
    assert (
        parameters["LatchAlarmName"]["Default"] == parameters["LatchAlarmRegion"]["Default"] == ""
    )
    resources = template["Resources"]
    latch = resources["LatchHealthCheck"]
    assert latch["Condition"] == "HasLatch"
    assert latch["Properties"]["HealthCheckConfig"] == {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {
            "Name": {"Ref": "LatchAlarmName"},
            "Region": {"Ref": "LatchAlarmRegion"},
        },
        "InsufficientDataHealthStatus": "LastKnownStatus",
    }
    both = resources["LatchedHealthCheck"]
    assert both["Condition"] == "HasLatch"
    assert both["Properties"]["HealthCheckConfig"] == {
        "Type": "CALCULATED",
        "ChildHealthChecks": [{"Ref": "HealthCheck"}, {"Ref": "LatchHealthCheck"}],
        "HealthThreshold": 2,
    }
    assert resources["HealthCheck"]["Properties"]["HealthCheckConfig"]["Type"] == "HTTPS"
    record = resources["Record"]["Properties"]
    assert record["Failover"] == "PRIMARY"
    assert record["HealthCheckId"] == {
        "Fn::If": ["HasLatch", {"Ref": "LatchedHealthCheck"}, {"Ref": "HealthCheck"}]
    }
    assert "FailbackLatchAlarm" not in resources
    assert "LatchAlarmWhole" in template["Rules"], "a name without a region is refused"


@pytest.mark.parametrize("role", ["PRIMARY", "SECONDARY"])
def test_without_the_latch_the_record_follows_the_endpoint_check_alone(role: str) -> None:
    template = REGISTRY["dns"].render({"failover_role": role, "failback_latch": False}).to_dict()
    assert sorted(template["Resources"]) == ["HealthCheck", "Record"]
    assert template["Resources"]["Record"]["Properties"]["HealthCheckId"] == {"Ref": "HealthCheck"}
    assert not {"LatchAlarmName", "LatchAlarmRegion"} & set(template["Parameters"])


@pytest.mark.parametrize("role", ["PRIMARY", "SECONDARY"])
def test_a_drill_or_test_copy_never_writes_productions_record(role: str) -> None:
    template = REGISTRY["dns"].render({"failover_role": role}).to_dict()
    assert template["Resources"]["Record"]["Properties"]["Name"] == {
        "Fn::If": [
            "Namespaced",
            {"Fn::Join": [".", [{"Ref": "RelightNamespace"}, {"Ref": "RecordName"}]]},
            {"Ref": "RecordName"},
        ]
    }


# identity ------------------------------------------------------------------------------------


def test_each_instance_role_gets_a_profile_and_outputs_named_after_its_key() -> None:
    options = {"instance_roles": {"web": {}, "app_server": {}}}
    template = REGISTRY["identity"].render(options).to_dict()
    for name in ("Web", "AppServer"):
        role = template["Resources"][f"{name}InstanceRole"]["Properties"]
        trusted = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
        assert trusted == "ec2.amazonaws.com"
        profile = template["Resources"][f"{name}InstanceProfile"]["Properties"]
        assert profile["Roles"] == [{"Ref": f"{name}InstanceRole"}]
    assert sorted(template["Outputs"]) == sorted(
        [
            f"{name}{output}"
            for name in ("Web", "AppServer")
            for output in ("InstanceProfileArn", "InstanceProfileName", "InstanceRoleArn")
        ]
        + ["CloudFormationRoleArn"]  # the service role every identity stack makes
    )
    assert template["Outputs"]["WebInstanceProfileArn"]["Value"] == {
        "Fn::GetAtt": ["WebInstanceProfile", "Arn"]
    }
    assert template["Outputs"]["AppServerInstanceProfileName"]["Value"] == {
        "Ref": "AppServerInstanceProfile"
    }


def test_an_instance_role_grants_systems_manager_and_only_the_policies_named() -> None:
    options = {"instance_roles": {"web": {"managed_policies": ["CloudWatchAgentServerPolicy"]}}}
    role = _resources("identity", options, "AWS::IAM::Role")["WebInstanceRole"]["Properties"]
    assert [p["Fn::Sub"] for p in role["ManagedPolicyArns"]] == [
        "arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:${AWS::Partition}:iam::aws:policy/CloudWatchAgentServerPolicy",
    ]
    assert "Policies" not in role


@pytest.mark.parametrize("policy", ["AdministratorAccess", "PowerUserAccess", "AmazonS3FullAccess"])
def test_administrator_like_policies_are_refused(policy: str) -> None:
    roles = {"web": {"managed_policies": [policy]}}
    with pytest.raises(
        BlueprintError, match=f"instance_roles.web.managed_policies: {policy}: instances get least"
    ):
        REGISTRY["identity"].options_from({"instance_roles": roles})
    assert "managed_policies" not in REGISTRY["compute"].options_model.model_fields


@pytest.mark.parametrize(
    ("roles", "message"),
    [
        ({"Web": {}}, "'Web': a role's short name is lowercase"),
        ({"web-1": {}}, "'web-1': a role's short name"),
        ({"a_1": {}, "a1": {}}, "'a_1' and 'a1' both become A1"),
    ],
)
def test_bad_identity_options_are_refused(roles: dict[str, Any], message: str) -> None:
    with pytest.raises(BlueprintError, match=message):
        REGISTRY["identity"].options_from({"instance_roles": roles})


def test_the_flow_log_and_monitoring_roles_trust_their_services() -> None:
    template = REGISTRY["identity"].render({"flow_logs": True, "rds_monitoring": True}).to_dict()
    resources = template["Resources"]

    def service(role: str) -> str:
        document = resources[role]["Properties"]["AssumeRolePolicyDocument"]
        return str(document["Statement"][0]["Principal"]["Service"])

    assert service("FlowLogRole") == "vpc-flow-logs.amazonaws.com"
    assert service("MonitoringRole") == "monitoring.rds.amazonaws.com"
    statement = resources["FlowLogRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert [r["Fn::Sub"] for r in statement["Statement"][0]["Resource"]] == [
        "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:/relight/flow-logs/*",
        "arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:/relight/flow-logs/*:*",
    ]
    assert template["Outputs"]["FlowLogRoleArn"]["Value"] == {"Fn::GetAtt": ["FlowLogRole", "Arn"]}
    assert template["Outputs"]["MonitoringRoleArn"]["Value"] == {
        "Fn::GetAtt": ["MonitoringRole", "Arn"]
    }


def test_identity_names_nothing_so_two_recovery_regions_never_collide() -> None:
    template = REGISTRY["identity"].render(REGISTRY["identity"].sample).to_dict()
    for resource in template["Resources"].values():
        assert not {"RoleName", "InstanceProfileName"} & set(resource["Properties"])
        if resource["Type"] == "AWS::IAM::Role":
            assert resource["Properties"]["Tags"]


def test_identity_roles_get_relights_path_and_the_service_role_its_own() -> None:
    """The service role passes the identity roles by their IAM path (a role's ARN holds it),
    so every role but the service role itself is under the path relight fills in."""
    template = REGISTRY["identity"].render(REGISTRY["identity"].sample).to_dict()
    roles = {
        k: r["Properties"]
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role"
    }
    assert {k: p.get("Path") for k, p in roles.items()} == {
        "WebInstanceRole": "/relight/env/demo/",
        "FlowLogRole": "/relight/env/demo/",
        "MonitoringRole": "/relight/env/demo/",
        "CloudFormationRole": "/relight-cloudformation/demo/",  # outside what it may pass
    }
    profiles = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::IAM::InstanceProfile"
    ]
    assert all("Path" not in p["Properties"] for p in profiles)


def test_a_roles_path_is_create_only_so_changing_it_replaces_the_role() -> None:
    """AWS's registry schema for AWS::IAM::Role (as cfn-lint ships it): Path is create-only, so
    the first prepare after relight gave the identity roles a path replaces them (docs/aws.md),
    and the pattern relight checks a path against is the schema's."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::IAM::Role").schema
    assert "/properties/Path" in schema["createOnlyProperties"]
    assert schema["properties"]["Path"]["maxLength"] == 512
    pattern = re.compile(schema["properties"]["Path"]["pattern"])
    for path in ("/", "/relight/env/demo/", "/relight/stack/baseline/"):
        assert pattern.fullmatch(path), path


@pytest.mark.parametrize(
    "path", ["relight/", "/relight", "/sp ace/", "/tab\t/", "/" + "a" * 511 + "/"]
)
def test_an_identity_role_path_iam_refuses_is_refused_before_rendering(path: str) -> None:
    with pytest.raises(Exception, match="an IAM path is / or begins and ends with /"):
        REGISTRY["identity"].render({**REGISTRY["identity"].sample, "role_path": path})


FAILOVER_TIME = [
    ("compute", {}),
    ("compute", {"mode": "instances", "count": 2, "data_volume": False}),
    ("network", {}),
    ("network", {"flow_logs": False, "nat": "none"}),
    ("network", REGISTRY["network"].sample),
    ("database", {}),
    ("database", {"monitoring_interval": 0}),
    ("database", {"mode": "aurora", "engine": "aurora-postgresql", "monitoring_interval": 30}),
    ("dns", {}),
    ("dns", {"failover_role": "PRIMARY"}),
    ("dns", {"failover_role": "PRIMARY", "failback_latch": False}),
    ("dns", {"mode": "cutover"}),
]


@pytest.mark.parametrize(("name", "options"), FAILOVER_TIME, ids=lambda x: str(x))
def test_no_iam_resource_is_left_outside_identity(name: str, options: dict[str, Any]) -> None:
    resources = REGISTRY[name].render(options).to_dict()["Resources"]
    iam = {k: r["Type"] for k, r in resources.items() if r["Type"].startswith("AWS::IAM::")}
    assert iam == {}, "IAM's control plane is in us-east-1: roles belong in the identity stack"


# users' blueprints ---------------------------------------------------------------------------


def test_a_users_blueprint_file_is_picked_up_by_name(tmp_path: Path) -> None:
    (tmp_path / "queue.py").write_text(
        textwrap.dedent(
            '''
            from troposphere import Template, sqs
            from relight.model.blueprint import Options, blueprint

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


def test_every_scan_skip_in_the_demo_carries_its_reason() -> None:
    from conftest import REPO
    from relight.model.config import load_environment
    from relight.steps.render import build_plan

    plan = build_plan(load_environment("demo", "us-west-2", cwd=REPO), "us-west-2")
    skips = [
        skip
        for sp in plan.stacks.values()
        for resource in json.loads(sp.body)["Resources"].values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "the demo documents what it skips"
    for skip in skips:
        assert skip["id"].startswith("CKV_") and len(skip["comment"]) > 40


def test_the_shipped_blueprints_are_found_in_a_checkout_and_in_an_installed_wheel(
    tmp_path: Path,
) -> None:
    from relight.model.blueprint import shipped_directory

    checkout = tmp_path / "checkout"
    (checkout / "src" / "relight").mkdir(parents=True)
    (checkout / "blueprints").mkdir()
    assert shipped_directory(checkout / "src" / "relight") == checkout / "blueprints"
    wheel = tmp_path / "site-packages" / "relight"
    (wheel / "_blueprints").mkdir(parents=True)
    assert shipped_directory(wheel) == wheel / "_blueprints"
    assert shipped_directory(tmp_path / "bare" / "relight") is None
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert '"blueprints" = "relight/_blueprints"' in pyproject
