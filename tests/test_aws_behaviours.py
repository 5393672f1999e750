"""The shipped blueprints against AWS's documented rules, which moto does not enforce.

Each test resolves a rendered template the way CloudFormation would (tests/aws_rules.py)
and applies the service's rule with its own error text; docs/aws-behaviours.md lists the
AWS documentation behind every rule.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import aws_rules
from conftest import BLUEPRINTS, REPO
from relight.commands import failover
from relight.commands.connection import Connection
from relight.model.blueprint import load_registry
from relight.model.config import load_environment
from relight.steps.render import build_plan

REGISTRY = load_registry(BLUEPRINTS)
ACCOUNT = "123456789012"  # moto's
AMI = "ami-0web"


def _demo(region: str = "us-west-2", **options: Any) -> Any:
    loaded = load_environment(str(REPO / "stacks" / "demo.yaml"), region)
    return build_plan(loaded, region, **options)


def _rendered(name: str, **options: Any) -> dict[str, Any]:
    bp = REGISTRY[name]
    return bp.render({**bp.sample, **options}).to_dict()  # type: ignore[no-any-return]


@pytest.mark.parametrize("bucket", ["", "my-access-logs"])
def test_load_balancer_attributes_are_ones_elb_accepts(bucket: str) -> None:
    plan = _demo()
    body = plan.stacks["load_balancer"].body
    resources = aws_rules.resolve(body, {"AccessLogsBucket": bucket, "RelightPurpose": "failover"})
    aws_rules.elb_attributes(resources)  # raises ELB's ValidationError on an empty bucket
    attributes = {
        a["Key"]: a["Value"]
        for a in resources["LoadBalancer"]["Properties"]["LoadBalancerAttributes"]
    }
    assert attributes["access_logs.s3.enabled"] == ("true" if bucket else "false")
    assert attributes.get("access_logs.s3.bucket") == (bucket or None)


def test_the_elb_rule_refuses_an_empty_bucket_as_elb_does() -> None:
    resources = {
        "Lb": {
            "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
            "Properties": {
                "LoadBalancerAttributes": [{"Key": "access_logs.s3.bucket", "Value": ""}]
            },
        }
    }
    with pytest.raises(ClientError, match=r"access_logs\.s3\.bucket"):
        aws_rules.elb_attributes(resources)


@pytest.mark.parametrize("nat", ["single", "per-az"])
def test_nat_gateways_addresses_and_routes_wait_for_the_gateway_attachment(nat: str) -> None:
    body = _rendered("network", nat=nat)
    resources = aws_rules.resolve(body, {"AvailabilityZones": "a,b,c"})
    aws_rules.gateway_dependencies(resources)  # Gateway.NotAttached otherwise
    nats = [k for k, r in resources.items() if r["Type"] == "AWS::EC2::NatGateway"]
    assert nats and all("GatewayAttachment" in aws_rules.needs(resources, n) for n in nats)


def test_the_ordering_rule_catches_an_eip_that_can_race_the_attachment() -> None:
    resources = aws_rules.resolve(_rendered("network", nat="single"), {})
    del resources["NatAddress1"]["DependsOn"]
    del resources["NatGateway1"]["DependsOn"]
    with pytest.raises(ClientError, match=r"Gateway\.NotAttached"):
        aws_rules.gateway_dependencies(resources)


# Root volume from the AMI -------------------------------------------------------------------

DATA_SNAPSHOT = "snap-0data"


def _volumes(mode: str, image: dict[str, Any], snapshots: dict[str, int]) -> list[dict[str, Any]]:
    """The volumes EC2 attaches to one instance launched by the compute template, with the
    root device name and size relight fills from the discovered image."""
    root = next(m for m in image["BlockDeviceMappings"] if m["DeviceName"] == image["Root"])
    parameters = {
        "ImageId": "ami-0web",
        "DataSnapshotId": DATA_SNAPSHOT,
        "RootDeviceName": image["Root"],
        "RootVolumeSize": str(root["Ebs"]["VolumeSize"]),
    }
    resources = aws_rules.resolve(_rendered("compute", mode=mode), parameters)
    if mode == "asg":
        data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
        mappings = data["BlockDeviceMappings"]
    else:
        mappings = resources["Instance1"]["Properties"]["BlockDeviceMappings"]
    return aws_rules.launch_volumes(mappings, image, snapshots)


@pytest.mark.parametrize("mode", ["asg", "instances"])
@pytest.mark.parametrize(("root", "size"), [("/dev/sda1", 8), ("/dev/xvda", 30)])
def test_the_root_volume_is_the_amis_own_device_and_size(mode: str, root: str, size: int) -> None:
    image = {
        "Root": root,
        "BlockDeviceMappings": [
            {"DeviceName": root, "Ebs": {"SnapshotId": "snap-0root", "VolumeSize": size}}
        ],
    }
    snapshots = {"snap-0root": size, DATA_SNAPSHOT: 50}
    volumes = _volumes(mode, image, snapshots)  # raises EC2's error on a too-small volume
    by_device = {v["DeviceName"]: v for v in volumes}
    assert len(volumes) == 2, f"an extra blank volume: {volumes}"
    assert by_device[root]["SnapshotId"] == "snap-0root"
    assert by_device[root]["VolumeSize"] == size
    data = next(v for v in volumes if v["SnapshotId"] == DATA_SNAPSHOT)
    assert data["VolumeSize"] == 50, "a data volume is never smaller than its snapshot"


def test_the_launch_rule_refuses_a_volume_smaller_than_its_snapshot() -> None:
    image = {"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"SnapshotId": "s-1"}}]}
    with pytest.raises(ClientError, match="smaller than  snapshot 's-1', expect size >= 30GB"):
        aws_rules.launch_volumes(
            [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": 16}}], image, {"s-1": 30}
        )


def test_root_device_and_size_are_filled_from_the_discovered_ami() -> None:
    web = _demo().stacks["web"]
    assert web.parameters["RootDeviceName"].key == "web_ami.root_device"  # type: ignore[union-attr]
    assert web.parameters["RootVolumeSize"].key == "web_ami.root_size_gb"  # type: ignore[union-attr]


# A new AMI reaches running instances ---------------------------------------------------------


def test_a_newer_ami_replaces_the_running_instances_of_the_group() -> None:
    body = _demo().stacks["web"].body
    common = {"RootDeviceName": "/dev/xvda", "RootVolumeSize": "8", "DataSnapshotId": "snap-1"}
    before = aws_rules.resolve(body, {**common, "ImageId": "ami-0old"})
    after = aws_rules.resolve(body, {**common, "ImageId": "ami-0new"})
    assert aws_rules.images_after_update(before, after, "AutoScalingGroup") == "ami-0new"
    rolling = after["AutoScalingGroup"]["UpdatePolicy"]["AutoScalingRollingUpdate"]
    desired = int(after["AutoScalingGroup"]["Properties"]["DesiredCapacity"])
    assert int(rolling["MinInstancesInService"]) >= desired // 2, "half keeps serving"
    assert int(rolling["MinInstancesInService"]) < int(
        after["AutoScalingGroup"]["Properties"]["MaxSize"]
    ), "CloudFormation requires MinInstancesInService below MaxSize"


def test_without_an_update_policy_running_instances_keep_the_old_ami() -> None:
    body = json.loads(_demo().stacks["web"].body)
    del body["Resources"]["AutoScalingGroup"]["UpdatePolicy"]
    before = aws_rules.resolve(body, {"ImageId": "ami-0old"})
    after = aws_rules.resolve(body, {"ImageId": "ami-0new"})
    assert aws_rules.images_after_update(before, after, "AutoScalingGroup") == "ami-0old"


# The application reaches its restored database ----------------------------------------------


def test_the_web_tier_is_given_the_restored_databases_endpoint() -> None:
    from relight.model.environment import OutputRef

    web = _demo().stacks["web"]
    assert web.parameters["DatabaseEndpoint"] == OutputRef(stack="database", output="Endpoint")
    assert "database" in web.depends_on, "the web tier starts once the database is restored"
    parameters = {"DatabaseEndpoint": "orders.abc.us-west-2.rds.amazonaws.com"}
    resources = aws_rules.resolve(web.body, parameters)
    data = resources["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    script = data["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert (
        "printf 'DATABASE_ENDPOINT=%s\\nDATABASE_PORT=%s\\nAPP_SECRET_ARN=%s\\n' "
        "'${DatabaseEndpoint}' '${DatabasePort}' '${AppSecretArn}' >> /etc/environment"
    ) in script
    local = build_plan(
        load_environment(str(REPO / "stacks" / "demo.yaml"), "us-west-2"), "us-west-2",
        stand_in=True,
    )  # fmt: skip
    assert "database" in local.stacks["web"].depends_on, "the stand-in restores it too"
    assert local.stacks["web"].parameters["DatabaseEndpoint"] == OutputRef(
        stack="database", output="Endpoint"
    )


@pytest.mark.parametrize("mode", ["instance", "aurora"])
def test_a_restore_takes_the_named_parameter_groups_or_aws_defaults(mode: str) -> None:
    engine = "postgres" if mode == "instance" else "aurora-postgresql"
    body = _rendered("database", mode=mode, engine=engine)
    named = {"ParameterGroupName": "orders-pg16", "SnapshotIdentifier": "snap"}
    if mode == "instance":
        named["OptionGroupName"] = "orders-options"
    else:
        named["ClusterParameterGroupName"] = "orders-cluster-pg16"
    resources = aws_rules.resolve(body, named)
    if mode == "instance":
        database = resources["Database"]["Properties"]
        assert database["DBParameterGroupName"] == "orders-pg16"
        assert database["OptionGroupName"] == "orders-options"
    else:
        assert resources["Cluster"]["Properties"]["DBClusterParameterGroupName"] == (
            "orders-cluster-pg16"
        )
        assert resources["ClusterInstance1"]["Properties"]["DBParameterGroupName"] == "orders-pg16"
    defaults = aws_rules.resolve(body, {"SnapshotIdentifier": "snap"})
    holder = defaults["Database" if mode == "instance" else "Cluster"]["Properties"]
    assert not {"DBParameterGroupName", "OptionGroupName", "DBClusterParameterGroupName"} & set(
        holder
    ), "left out, AWS restores with the engine's default groups"


# Control planes elsewhere: what is prepared, and what a failover reads -----------------------


def _profiles_given(arn: str) -> dict[str, dict[str, str]]:
    """The instance profile EC2 is asked to launch with, given the identity stack's
    WebInstanceProfileArn: the demo's group (its launch template takes the ARN), and
    instances (AWS::EC2::Instance takes a name, which the compute blueprint splits off)."""
    group = aws_rules.resolve(_demo().stacks["web"].body, {"InstanceProfileArn": arn})
    data = group["LaunchTemplate"]["Properties"]["LaunchTemplateData"]
    instances = aws_rules.resolve(
        _rendered("compute", mode="instances", count=1), {"InstanceProfileArn": arn}
    )
    return {
        "asg": data["IamInstanceProfile"],
        "instances": {"Name": instances["Instance1"]["Properties"]["IamInstanceProfile"]},
    }


def test_instances_launch_with_the_profile_the_prepared_identity_stack_made() -> None:
    """IAM's control plane is in us-east-1: the profile must exist before the failover that
    launches with it. The identity stack (stands: global) is prepared; the web stack takes
    its WebInstanceProfileArn output, which a failover reads from the prepared stack."""
    from relight.model.environment import OutputRef

    plan = _demo()
    identity = plan.prepared["identity"]
    assert plan.stacks["web"].parameters["InstanceProfileArn"] == OutputRef(
        stack="identity", output="WebInstanceProfileArn"
    )
    assert "identity" not in plan.stacks, "a failover never creates it"
    with mock_aws():
        iam, ec2 = boto3.client("iam"), boto3.client("ec2", "us-west-2")
        cfn = boto3.client("cloudformation", "us-west-2")
        missing = f"arn:aws:iam::{ACCOUNT}:instance-profile/demo-identity-WebInstanceProfile-X"
        for spec in _profiles_given(missing).values():
            with pytest.raises(ClientError, match="Invalid IAM Instance Profile"):
                aws_rules.instance_profile(spec, iam.list_instance_profiles()["InstanceProfiles"])
            with pytest.raises(ClientError, match=r"Instance profile \S+ not found"):  # moto too
                ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, IamInstanceProfile=spec)

        # relight prepare, before any disaster:
        cfn.create_stack(
            StackName=identity.name, TemplateBody=identity.body, Capabilities=["CAPABILITY_IAM"]
        )
        (stack,) = cfn.describe_stacks(StackName=identity.name)["Stacks"]
        arn = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}["WebInstanceProfileArn"]
        profiles = iam.list_instance_profiles()["InstanceProfiles"]
        given = _profiles_given(arn)
        assert given["asg"] == {"Arn": arn}
        assert given["instances"] == {"Name": arn.split("/")[-1]}
        for spec in given.values():
            aws_rules.instance_profile(spec, profiles)
            launch = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, IamInstanceProfile=spec)
            (launched,) = launch["Instances"]
            assert launched["IamInstanceProfile"]["Arn"] == arn

        # A profile under a path: its ARN ends PATH/NAME, and the name split off is wrong;
        # the blueprint's AllowedPattern refuses such an ARN before anything launches.
        iam.create_instance_profile(InstanceProfileName="web", Path="/team/")
        every = iam.list_instance_profiles()["InstanceProfiles"]
        (pathed,) = [p for p in every if p["Path"] == "/team/"]
        assert pathed["Arn"].endswith(":instance-profile/team/web")
        with pytest.raises(ClientError, match=r"Value \(team/web\) for parameter"):
            aws_rules.instance_profile(_profiles_given(pathed["Arn"])["instances"], profiles)


def test_relights_bucket_is_configured_by_prepare_and_used_by_object_calls_in_an_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Creating and configuring a bucket depends on us-east-1; reading and writing objects is
    regional. `relight prepare` configures relight's bucket and marks it; during an outage of
    us-east-1 a failover uses it with object calls only, and a bucket never prepared is
    refused, not made half-configured."""
    from relight.aws.bucket import READY_KEY, TemplateBucket, bucket_name
    from relight.aws.clients import Aws, AwsTarget
    from relight.aws.lock import hold
    from relight.aws.outage import Outage
    from relight.commands.connection import lock_ref
    from relight.errors import AwsError

    def checked_and_confirmed(plan: Any, conn: Any, **options: Any) -> Any:
        """failover's own path up to its first change, where prepare's bucket is made."""
        with hold(
            lock_ref(plan.loaded, conn), "run-1", "relight prepare", defer_bucket=True
        ) as held:
            held.take(configure=plan.phase == "prepare")
        return SimpleNamespace(notes=["deployed"])

    monkeypatch.setattr(failover, "failover", checked_and_confirmed)
    body = '{"Resources": {}}'
    with mock_aws():
        healthy = Aws(AwsTarget())
        conn = Connection(healthy, "us-west-2", ACCOUNT)
        assert failover.prepare(_demo(phase="prepare"), conn).notes[0] == "deployed"
        s3, name = boto3.client("s3", "us-west-2"), bucket_name(ACCOUNT, "us-west-2")
        blocked = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert set(blocked.values()) == {True}
        rules = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]
        assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
        assert s3.head_object(Bucket=name, Key=READY_KEY)["ContentLength"] > 0, "marked last"

        outage = Outage("us-east-1")
        down = healthy.under_outage(outage)
        url = TemplateBucket(down.client("s3", "us-west-2"), "us-west-2", ACCOUNT).url_for(body)
        assert f"/{name}/templates/" in url
        assert outage.passed, outage.summary()
        with pytest.raises(AwsError, match="could not be created and configured"):
            TemplateBucket(down.client("s3", "eu-west-1"), "eu-west-1", ACCOUNT).url_for(body)
        assert [(r.action, r.region) for r in outage.refused] == [("CreateBucket", "eu-west-1")]
        assert "depends on us-east-1" in outage.refused[0].why
        made = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert made == {name}, "nothing was created in eu-west-1"


def test_sts_is_regional_even_where_the_operator_configured_legacy_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from relight.aws.clients import Aws, AwsTarget
    from relight.aws.sessions import sts_client

    monkeypatch.setenv("AWS_STS_REGIONAL_ENDPOINTS", "legacy")
    base = boto3.session.Session(region_name="us-east-1")
    regional = "https://sts.us-west-2.amazonaws.com"
    assert sts_client(base, "us-west-2", None).meta.endpoint_url == regional
    assert Aws(AwsTarget()).client("sts", "us-west-2").meta.endpoint_url == regional


# The failback latch: the recovery side's alarm, the home side's health check -----------------

RECOVERY = "us-west-2"
LATCH_ALARM = "demo-dns-failback-latch"  # the name the SECONDARY stack gives its alarm
ROUTE53_STATISTICS = {"Average", "Minimum", "Maximum", "Sum", "SampleCount"}


def _recovery_side() -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """The demo's SECONDARY dns stack as relight prepares it in the recovery region: the plan
    of a pilot_light failover that reads it, its resolved resources, and its outputs."""
    plan = _demo(RECOVERY, strategy="pilot_light")
    dns = plan.prepared["dns"]
    pseudo = {"AWS::StackName": dns.name, "AWS::Region": RECOVERY}
    # Ref of an AWS::CloudWatch::Alarm is its name: the AlarmName the template gives it.
    named = aws_rules.resolve(dns.body, pseudo)["FailbackLatchAlarm"]["Properties"]["AlarmName"]
    physical = {"FailbackLatchAlarm": named}
    resources = aws_rules.resolve(dns.body, pseudo, physical)
    return plan, resources, aws_rules.outputs(dns.body, pseudo, physical)


def _published_by_a_failover(plan: Any) -> tuple[str, dict[str, Any]]:
    """The namespace and datum commands.failover.latch_failback publishes after that failover (the
    dns stack read as prepared, with its latch output)."""
    sent: list[dict[str, Any]] = []
    asked: list[tuple[str, str]] = []

    class CloudWatch:
        def put_metric_data(self, **call: Any) -> None:
            sent.append(call)

    class Clients:
        def client(self, service: str, region: str, **_: Any) -> CloudWatch:
            asked.append((service, region))
            return CloudWatch()

    conn = Connection(Clients(), RECOVERY, ACCOUNT)  # a Connection's stacks: its own account
    ready = {"dns": {failover.LATCH_OUTPUT: LATCH_ALARM}}
    notes = failover.latch_failback(conn, plan, SimpleNamespace(results={}), ready)
    assert asked == [("cloudwatch", RECOVERY)], "a data-plane call in the region failed over to"
    assert notes and notes[0].startswith("failback latched")
    (call,) = sent
    (datum,) = call["MetricData"]
    return call["Namespace"], datum


def _home_side(latch: dict[str, Any] | None) -> dict[str, Any]:
    """The home region's PRIMARY dns stack, resolved: latched when given the SECONDARY
    stack's outputs as LatchAlarmName and LatchAlarmRegion."""
    body = _rendered("dns", failover_role="PRIMARY", health_check_protocol="HTTP")
    parameters = {}
    if latch is not None:
        parameters = {
            "LatchAlarmName": latch["FailbackLatchAlarm"],
            "LatchAlarmRegion": latch["FailbackLatchRegion"],
        }
    return aws_rules.resolve(body, parameters)


def test_the_latch_alarm_keeps_its_state_and_watches_what_a_failover_publishes() -> None:
    plan, resources, outputs = _recovery_side()
    assert resources["FailbackLatchAlarm"]["Type"] == "AWS::CloudWatch::Alarm"
    alarm = resources["FailbackLatchAlarm"]["Properties"]
    assert alarm["TreatMissingData"] == "ignore", "no more data: the state is maintained"
    assert float(alarm["Threshold"]) == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert (alarm["Namespace"], alarm["MetricName"]) == ("Relight", "FailedOver")
    assert alarm["Dimensions"] == [{"Name": "Stack", "Value": plan.prepared["dns"].name}]
    assert alarm["Statistic"] in ROUTE53_STATISTICS and int(alarm["Period"]) >= 60, (
        "Route 53 watches standard-resolution alarms with these statistics only"
    )
    latch = {k: outputs[k] for k in ("FailbackLatchAlarm", "FailbackLatchRegion")}
    assert latch == {"FailbackLatchAlarm": LATCH_ALARM, "FailbackLatchRegion": RECOVERY}

    namespace, datum = _published_by_a_failover(plan)
    assert (namespace, datum["MetricName"]) == (failover.LATCH_NAMESPACE, failover.LATCH_METRIC)
    assert aws_rules.alarm_sees(alarm, namespace, datum), "the metric the alarm watches"
    other = {**datum, "Dimensions": [{"Name": "Stack", "Value": "demo-drill-x-dns"}]}
    assert not aws_rules.alarm_sees(alarm, namespace, other), "another stack: another metric"

    set_then_silent = [[], [datum["Value"]], [], [], []]
    assert aws_rules.alarm_states(alarm, set_then_silent) == [
        "INSUFFICIENT_DATA", "ALARM", "ALARM", "ALARM", "ALARM",
    ]  # fmt: skip
    cleared = [[datum["Value"]], [], [0.0], []]  # docs/dns-and-failback.md, Failing back: publish 0
    assert aws_rules.alarm_states(alarm, cleared) == ["ALARM", "ALARM", "OK", "OK"]
    omitted = {k: v for k, v in alarm.items() if k != "TreatMissingData"}
    for default in ({**alarm, "TreatMissingData": "missing"}, omitted):
        assert aws_rules.alarm_states(default, set_then_silent)[2] == "INSUFFICIENT_DATA", (
            "without ignore, the alarm's own state would lapse as soon as no more data comes"
        )
    # Route 53 does not read that state: it reads the data stream, which has insufficient
    # data once the failover's single point is older than the period, ignore or not. What
    # holds the latch is the health check's LastKnownStatus (the next test).
    assert aws_rules.route53_sees(alarm, set_then_silent) == [
        "INSUFFICIENT_DATA", "ALARM", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA",
    ]  # fmt: skip
    assert aws_rules.route53_sees(alarm, cleared) == [
        "ALARM", "INSUFFICIENT_DATA", "OK", "INSUFFICIENT_DATA",
    ]  # fmt: skip


def test_the_home_record_is_healthy_only_while_both_children_of_its_calculated_check_are() -> None:
    _, _, outputs = _recovery_side()
    home = _home_side(outputs)
    record = home["Record"]["Properties"]
    assert record["Failover"] == "PRIMARY"
    check = record["HealthCheckId"]["Ref"]
    config = home[check]["Properties"]["HealthCheckConfig"]
    assert config["Type"] == "CALCULATED"
    children = [child["Ref"] for child in config["ChildHealthChecks"]]
    assert int(config["HealthThreshold"]) == len(children) == 2, "both must be healthy"
    by_type = {home[c]["Properties"]["HealthCheckConfig"]["Type"]: c for c in children}
    assert set(by_type) == {"HTTP", "CLOUDWATCH_METRIC"}
    assert home[by_type["CLOUDWATCH_METRIC"]]["Properties"]["HealthCheckConfig"] == {
        "Type": "CLOUDWATCH_METRIC",
        "AlarmIdentifier": {"Name": LATCH_ALARM, "Region": RECOVERY},  # where the alarm is
        # A latch once set holds after its point ages out; one never set is healthy.
        "InsufficientDataHealthStatus": "LastKnownStatus",
    }
    endpoint, latch_check = by_type["HTTP"], by_type["CLOUDWATCH_METRIC"]
    for up, latch, known, healthy in [
        (True, "INSUFFICIENT_DATA", None, True),  # never had data: healthy (a new check)
        (True, "INSUFFICIENT_DATA", True, True),
        (True, "INSUFFICIENT_DATA", False, False),  # set by a failover, the point aged out
        (True, "OK", False, True),
        (True, "ALARM", True, False),
        (False, "OK", True, False),
        (False, "INSUFFICIENT_DATA", None, False),
    ]:
        last_known = {} if known is None else {latch_check: known}
        said = aws_rules.health_check_healthy(
            home, check, {endpoint: up}, {(LATCH_ALARM, RECOVERY): latch}, last_known
        )
        assert said is healthy, (up, latch, known)

    plain = _home_side(None)
    checks = {k for k, r in plain.items() if r["Type"] == "AWS::Route53::HealthCheck"}
    assert checks == {"HealthCheck"}, "without the latch parameters, no latch resources"
    assert plain["Record"]["Properties"]["HealthCheckId"] == {"Ref": "HealthCheck"}
    assert plain["HealthCheck"]["Properties"]["HealthCheckConfig"]["Type"] == "HTTP"


def test_traffic_stays_in_the_recovery_region_until_failback_is_decided() -> None:
    """Route 53 answers with the PRIMARY whenever its health check is healthy, so it sends
    traffic back to a home region that answers again, with the writes made in the recovery
    region since then stranded there. The latch holds it until someone decides, read as
    Route 53 reads it: the alarm's data stream, and the latch check's last known status once
    the failover's single point has aged out."""
    plan, resources, outputs = _recovery_side()
    alarm = resources["FailbackLatchAlarm"]["Properties"]
    _, datum = _published_by_a_failover(plan)
    story = [  # one alarm period a step: (the home endpoint answers, data in the recovery region)
        (True, []),  # before any disaster: the latch has never had data
        (False, []),  # the home region goes down: Route 53 fails over
        (False, [datum["Value"]]),  # relight's failover sets the latch
        (True, []),  # the home region answers again; the failover's point has aged out
        (True, []),
        (True, [0.0]),  # the operator fails back (docs/dns-and-failback.md, Failing back)
        (True, []),  # the 0 ages out too: home keeps the traffic
    ]

    def answers(home: dict[str, Any]) -> list[str]:
        check = home["Record"]["Properties"]["HealthCheckId"]["Ref"]
        seen = aws_rules.route53_sees(alarm, [values for _, values in story])
        latch_checks = [
            k
            for k, r in home.items()
            if r["Type"] == "AWS::Route53::HealthCheck"
            and r["Properties"]["HealthCheckConfig"]["Type"] == "CLOUDWATCH_METRIC"
        ]
        last_known: dict[str, bool] = {}
        said = []
        for (up, _), state in zip(story, seen, strict=True):
            alarms = {(LATCH_ALARM, RECOVERY): state}
            healthy = aws_rules.health_check_healthy(
                home, check, {"HealthCheck": up}, alarms, last_known
            )
            said.append(aws_rules.failover_answer(healthy, secondary_healthy=True))
            if state != "INSUFFICIENT_DATA":  # what Route 53 last knew of the latch check
                for latch in latch_checks:
                    last_known[latch] = aws_rules.health_check_healthy(
                        home, latch, {}, alarms, last_known
                    )
        return said

    latched = _home_side(outputs)
    assert answers(latched) == [
        "PRIMARY", "SECONDARY", "SECONDARY", "SECONDARY", "SECONDARY", "PRIMARY", "PRIMARY",
    ]  # fmt: skip
    assert answers(_home_side(None)) == [
        "PRIMARY", "SECONDARY", "SECONDARY", "PRIMARY", "PRIMARY", "PRIMARY", "PRIMARY",
    ], "without the latch Route 53 fails back by itself"  # fmt: skip

    def latch_status(status: str) -> dict[str, Any]:
        changed = json.loads(json.dumps(latched))
        config = changed["LatchHealthCheck"]["Properties"]["HealthCheckConfig"]
        config["InsufficientDataHealthStatus"] = status
        return changed

    assert answers(latch_status("Healthy"))[3] == "PRIMARY", (
        "Healthy when data is insufficient: the latch lapses as the failover's point ages out"
    )
    assert answers(latch_status("Unhealthy"))[0] == "SECONDARY", (
        "a latch never set would send traffic away before any disaster"
    )
