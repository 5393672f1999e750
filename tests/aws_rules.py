"""What AWS does with a template that moto lets through: a small CloudFormation evaluator
and the rules of the services behind it, each as AWS documents it (docs/aws-behaviours.md).

`resolve(template, parameters)` gives each resource's properties as CloudFormation would
hand them to the service: conditions evaluated, `Fn::If` chosen, `AWS::NoValue` removed,
`Fn::Split` and `Fn::Select` applied, parameter `Ref`s replaced by their values (pseudo
parameters and resources' physical ids when the test gives them; other references stay as
they are); `outputs` likewise for the Outputs. The rule functions then raise
`botocore.exceptions.ClientError` with the service's own error code and text, so a test reads
like a deploy against AWS would go; the models (`alarm_states`, `health_check_healthy`,
`failover_answer`) say what a service does over time with what it was given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

NO_VALUE = object()


def aws_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class _Evaluator:
    def __init__(
        self,
        template: Mapping[str, Any],
        parameters: Mapping[str, str],
        physical: Mapping[str, str] | None = None,
    ) -> None:
        self.template = template
        self.parameters = {
            name: parameters.get(name, spec.get("Default"))
            for name, spec in template.get("Parameters", {}).items()
        }
        # Pseudo parameters (AWS::StackName, AWS::Region, ...) when the test gives them.
        self.parameters |= {k: v for k, v in parameters.items() if k.startswith("AWS::")}
        self.physical = dict(physical or {})  # logical id → what Ref gives (its physical id)
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def value(self, node: Any) -> Any:  # noqa: C901  (one branch per intrinsic function)
        if isinstance(node, list):
            items = [self.value(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.parameters:
                    return self.parameters[arg]
                if arg in self.physical:
                    return self.physical[arg]
                return node
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::If":
                chosen = arg[1] if self.condition(arg[0]) else arg[2]
                return self.value(chosen)
            if key == "Fn::Equals":
                left, right = (self.value(a) for a in arg)
                return left == right
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::Or":
                return any(self.value(a) for a in arg)
            if key == "Fn::And":
                return all(self.value(a) for a in arg)
            if key == "Fn::Sub" and isinstance(arg, str):
                known = {**self.parameters, **self.physical}
                names = re.findall(r"\$\{([^}!]+)\}", arg)
                if all(name in known for name in names):
                    return re.sub(r"\$\{([^}!]+)\}", lambda m: str(known[m.group(1)]), arg)
                return node
            if key == "Fn::Split":
                delimiter, source = (self.value(a) for a in arg)
                if isinstance(source, str):
                    return source.split(delimiter)
                return {key: [delimiter, source]}
            if key == "Fn::Select":
                index, items = (self.value(a) for a in arg)
                if isinstance(items, list):
                    return items[int(index)]
                return {key: [index, items]}
        resolved = {k: self.value(v) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def resolve(
    template: str | Mapping[str, Any],
    parameters: Mapping[str, str],
    physical: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """logical id → {"Type", "Properties", "DependsOn", ...} as CloudFormation would create it
    (resources whose Condition is false are left out). `parameters` may give pseudo
    parameters too (`AWS::StackName`, `AWS::Region`); `physical` what a `Ref` to a resource
    gives (its physical id): resource references not given stay as they are."""
    body = json.loads(template) if isinstance(template, str) else template
    evaluator = _Evaluator(body, parameters, physical)
    resources = {}
    for logical, resource in body.get("Resources", {}).items():
        if "Condition" in resource and not evaluator.condition(resource["Condition"]):
            continue
        resources[logical] = evaluator.value(resource)
    return resources


def outputs(
    template: str | Mapping[str, Any],
    parameters: Mapping[str, str],
    physical: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """output name → value, as DescribeStacks would give them (as `resolve`)."""
    body = json.loads(template) if isinstance(template, str) else template
    evaluator = _Evaluator(body, parameters, physical)
    return {
        name: evaluator.value(output["Value"])
        for name, output in body.get("Outputs", {}).items()
        if "Condition" not in output or evaluator.condition(output["Condition"])
    }


def references(node: Any) -> Iterator[str]:
    """Every logical id a node refers to (Ref, Fn::GetAtt, and ${Name} in Fn::Sub)."""
    if isinstance(node, list):
        for item in node:
            yield from references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                yield value
            elif key == "Fn::GetAtt":
                yield value[0] if isinstance(value, list) else value.split(".")[0]
            else:
                yield from references(value)


def needs(resources: Mapping[str, Any], logical: str) -> set[str]:
    """Everything `logical` waits for in CloudFormation: its DependsOn and its references,
    followed transitively."""
    seen: set[str] = set()
    todo = [logical]
    while todo:
        current = resources.get(todo.pop())
        if current is None:
            continue
        depends = current.get("DependsOn", [])
        direct = set([depends] if isinstance(depends, str) else depends)
        direct |= set(references(current.get("Properties", {})))
        for name in direct - seen:
            if name in resources:
                seen.add(name)
                todo.append(name)
    return seen


# Elastic Load Balancing -------------------------------------------------------------------


def elb_attributes(resources: Mapping[str, Any]) -> None:
    """ModifyLoadBalancerAttributes, as CloudFormation calls it: a bucket name is required
    and must be a valid S3 bucket name; an empty one is refused."""
    for resource in resources.values():
        if resource["Type"] != "AWS::ElasticLoadBalancingV2::LoadBalancer":
            continue
        for attribute in resource["Properties"].get("LoadBalancerAttributes", []):
            if attribute["Key"] == "access_logs.s3.bucket" and attribute["Value"] == "":
                raise aws_error(
                    "ValidationError",
                    "The value of 'access_logs.s3.bucket' cannot be empty",
                    "ModifyLoadBalancerAttributes",
                )


def _constraint(value: object, member: str, bound: str) -> ClientError:
    return aws_error(
        "ValidationError",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
        f"constraint: Member must have value {bound}",
        "CreateTargetGroup",
    )


def target_group_health_check(resources: Mapping[str, Any]) -> None:
    """CreateTargetGroup's health check rules (ELB API Reference, CreateTargetGroup and
    Matcher): interval 5-300, timeout 2-120 and below the interval (the timeout AWS takes
    when none is given: 6 s for an HTTP target group, 10 s for TCP, TLS or HTTPS), thresholds
    2-10; a TCP health check only for a TCP/TLS/UDP target group, with no matcher and no
    path; HTTP codes 200-499 for an HTTP/HTTPS target group, 200-599 for a TCP/TLS one."""
    for resource in resources.values():
        if resource["Type"] != "AWS::ElasticLoadBalancingV2::TargetGroup":
            continue
        props = resource["Properties"]
        protocol = props.get("Protocol", "HTTP")
        web = protocol in ("HTTP", "HTTPS")
        check = props.get("HealthCheckProtocol", "HTTP" if web else "TCP")
        interval = props.get("HealthCheckIntervalSeconds", 30)
        timeout = props.get("HealthCheckTimeoutSeconds", 6 if protocol == "HTTP" else 10)
        for member, value, low, high in (
            ("healthCheckIntervalSeconds", interval, 5, 300),
            ("healthCheckTimeoutSeconds", timeout, 2, 120),
            ("healthyThresholdCount", props.get("HealthyThresholdCount", 5), 2, 10),
            ("unhealthyThresholdCount", props.get("UnhealthyThresholdCount", 2), 2, 10),
        ):
            if value < low:
                raise _constraint(value, member, f"greater than or equal to {low}")
            if value > high:
                raise _constraint(value, member, f"less than or equal to {high}")
        if check == "TCP":
            if web:
                raise aws_error(
                    "InvalidConfigurationRequest",
                    "The TCP protocol is not supported for health checks if the protocol of "
                    "the target group is HTTP or HTTPS",
                    "CreateTargetGroup",
                )
            for key, what in (("Matcher", "matchers"), ("HealthCheckPath", "paths")):
                if key in props:
                    raise aws_error(
                        "InvalidConfigurationRequest",
                        f"Health check {what} are not supported for TCP health checks",
                        "CreateTargetGroup",
                    )
        if interval <= timeout:
            raise aws_error(
                "ValidationError",
                "Health check interval must be greater than the timeout.",
                "CreateTargetGroup",
            )
        code = props.get("Matcher", {}).get("HttpCode")
        high = 499 if web else 599
        if code is not None and not _http_codes(str(code), 200, high):
            raise aws_error(
                "ValidationError",
                f"Health check matcher HTTP code '{code}' must be values between 200 and "
                f"{high}: one code, a list (200,202) or a range (200-299)",
                "CreateTargetGroup",
            )


def _http_codes(text: str, low: int, high: int) -> bool:
    for part in text.split(","):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isdigit() and len(b) == 3 for b in bounds):
            return False
        if not low <= int(bounds[0]) <= int(bounds[-1]) <= high:
            return False
    return True


# RDS ----------------------------------------------------------------------------------------


def cluster_restore(resources: Mapping[str, Any]) -> None:
    """AWS::RDS::DBCluster, StorageEncrypted: "If you specify the SnapshotIdentifier or
    SourceDBInstanceIdentifier property, don't specify this property. The value is inherited
    from the snapshot or source DB instance". AWS documents no error text for it: the text here
    is the rule's own."""
    for logical, resource in resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::RDS::DBCluster" or "StorageEncrypted" not in props:
            continue
        if "SnapshotIdentifier" in props or "SourceDBInstanceIdentifier" in props:
            raise aws_error(
                "InvalidParameterCombination",
                f"{logical}: StorageEncrypted is inherited from the snapshot; don't specify it "
                "with SnapshotIdentifier",
                "RestoreDBClusterFromSnapshot",
            )


# EC2 ----------------------------------------------------------------------------------------


def gateway_dependencies(resources: Mapping[str, Any]) -> None:
    """Gateway.NotAttached: an EIP for the VPC, a NAT gateway, or a route to the internet
    gateway created before the gateway is attached to the VPC."""
    attachments = {
        logical for logical, r in resources.items() if r["Type"] == "AWS::EC2::VPCGatewayAttachment"
    }
    if not attachments:
        return
    for logical, resource in resources.items():
        kind = resource["Type"]
        properties = resource.get("Properties", {})
        sensitive = (
            (kind == "AWS::EC2::EIP" and properties.get("Domain") == "vpc")
            or kind == "AWS::EC2::NatGateway"
            or (kind == "AWS::EC2::Route" and "GatewayId" in properties)
        )
        if sensitive and not attachments & needs(resources, logical):
            raise aws_error(
                "Gateway.NotAttached",
                f"{logical}: Network vpc-0123 is not attached to any internet gateway",
                "CreateNatGateway" if kind == "AWS::EC2::NatGateway" else "AllocateAddress",
            )


def launch_volumes(
    mappings: list[dict[str, Any]], image: Mapping[str, Any], snapshots: Mapping[str, int]
) -> list[dict[str, Any]]:
    """The volumes RunInstances attaches: the AMI's mappings overridden by the launch's, by
    device name. A volume from a snapshot may not be smaller than the snapshot; with no size
    it takes the snapshot's."""
    volumes = {m["DeviceName"]: dict(m.get("Ebs", {})) for m in image["BlockDeviceMappings"]}
    for mapping in mappings:
        merged = {**volumes.get(mapping["DeviceName"], {}), **mapping.get("Ebs", {})}
        volumes[mapping["DeviceName"]] = merged
    attached = []
    for device, ebs in volumes.items():
        snapshot = ebs.get("SnapshotId")
        size = int(ebs["VolumeSize"]) if "VolumeSize" in ebs else None
        if snapshot in snapshots:
            if size is None:
                size = snapshots[snapshot]
            elif size < snapshots[snapshot]:
                raise aws_error(
                    "InvalidBlockDeviceMapping",
                    f"Volume of size {size}GB is smaller than  snapshot '{snapshot}', "  # sic
                    f"expect size >= {snapshots[snapshot]}GB",
                    "RunInstances",
                )
        attached.append({"DeviceName": device, "SnapshotId": snapshot, "VolumeSize": size})
    return attached


def instance_profile(spec: Mapping[str, str], profiles: list[Mapping[str, str]]) -> None:
    """RunInstances, or Auto Scaling launching from a launch template: the instance profile
    named (`{"Name": ...}`, all AWS::EC2::Instance takes, or `{"Arn": ...}`) must exist among
    `profiles` (IAM ListInstanceProfiles entries); otherwise the launch fails."""
    if "Arn" in spec:
        if spec["Arn"] not in {p["Arn"] for p in profiles}:
            raise aws_error(
                "ValidationError",
                "You must use a valid fully-formed launch template. Value "
                f"({spec['Arn']}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM "
                "Instance Profile ARN",
                "CreateAutoScalingGroup",
            )
    elif spec["Name"] not in {p["InstanceProfileName"] for p in profiles}:
        raise aws_error(
            "InvalidParameterValue",
            f"Value ({spec['Name']}) for parameter iamInstanceProfile.name is invalid. Invalid "
            "IAM Instance Profile name",
            "RunInstances",
        )


# EC2 Auto Scaling ---------------------------------------------------------------------------


def images_after_update(before: Mapping[str, Any], after: Mapping[str, Any], group: str) -> str:
    """Which AMI the group's running instances have once CloudFormation has updated the
    stack from `before` to `after` (resolved resources, ImageId resolved to the AMI id).

    A new launch template version alone changes nothing that runs: only instances launched
    later use it. The running ones are replaced only by an UpdatePolicy that says so
    (AutoScalingRollingUpdate or AutoScalingReplacingUpdate with WillReplace)."""

    def image(resources: Mapping[str, Any]) -> str:
        spec = resources[group]["Properties"]["LaunchTemplate"]
        template = resources[spec["LaunchTemplateId"]["Ref"]]
        return str(template["Properties"]["LaunchTemplateData"]["ImageId"])

    policy = after[group].get("UpdatePolicy", {})
    replaces = "AutoScalingRollingUpdate" in policy or policy.get(
        "AutoScalingReplacingUpdate", {}
    ).get("WillReplace") in (True, "true")
    return image(after) if replaces else image(before)


# CloudWatch alarms ----------------------------------------------------------------------------

OPERATORS = {
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
}
STATISTICS = {
    "Maximum": max,
    "Minimum": min,
    "Sum": sum,
    "SampleCount": len,
    "Average": lambda values: sum(values) / len(values),
}


def alarm_sees(alarm: Mapping[str, Any], namespace: str, datum: Mapping[str, Any]) -> bool:
    """Whether a PutMetricData datum lands on the metric an alarm (its resolved Properties)
    watches. A metric is its namespace, its name and all of its dimensions: another
    dimension value, or one dimension more or less, is another metric."""

    def dimensions(items: list[Mapping[str, str]]) -> set[tuple[str, str]]:
        return {(d["Name"], d["Value"]) for d in items}

    return (
        alarm["Namespace"] == namespace
        and alarm["MetricName"] == datum["MetricName"]
        and dimensions(alarm.get("Dimensions", [])) == dimensions(datum.get("Dimensions", []))
    )


def alarm_states(
    alarm: Mapping[str, Any], periods: list[list[float]], state: str = "INSUFFICIENT_DATA"
) -> list[str]:
    """The alarm's state after each period, given the values its metric received in it (an
    empty list: no data). Each period is breaching when its statistic crosses the threshold;
    the alarm is ALARM when at least DatapointsToAlarm (M) of the last EvaluationPeriods (N)
    periods breach, OK otherwise ("M out of N"; periods before the first are without data).
    A period without data counts as TreatMissingData says: `breaching` breaching,
    `notBreaching` not; with one period evaluated (1 of 1), `ignore` keeps the current state
    and `missing` (the default) is INSUFFICIENT_DATA, all of the evaluation range missing
    (those two over several periods are not modelled)."""
    n = int(alarm["EvaluationPeriods"])
    m = int(alarm.get("DatapointsToAlarm", n))
    compare = OPERATORS[alarm["ComparisonOperator"]]
    statistic = STATISTICS[alarm["Statistic"]]
    missing = alarm.get("TreatMissingData", "missing")
    if n != 1 and missing not in ("breaching", "notBreaching"):
        raise NotImplementedError("ignore and missing are modelled over one period only")
    history: list[bool | None] = [None] * (n - 1)  # None: a period without data
    states = []
    for values in periods:
        history.append(compare(statistic(values), float(alarm["Threshold"])) if values else None)
        window = history[-n:]
        if all(b is None for b in window) and missing in ("missing", "ignore"):
            state = "INSUFFICIENT_DATA" if missing == "missing" else state
        else:
            bad = sum(1 for b in window if b or (b is None and missing == "breaching"))
            state = "ALARM" if bad >= m else "OK"
        states.append(state)
    return states


def route53_sees(alarm: Mapping[str, Any], periods: list[list[float]]) -> list[str]:
    """What a Route 53 CLOUDWATCH_METRIC health check reads of an alarm after each period.

    Route 53 "monitors the data stream for the corresponding alarm instead of monitoring the
    alarm state" (Route 53 Developer Guide, "How Amazon Route 53 determines whether a health
    check is healthy"): a period with data is ALARM or OK as the alarm's threshold says, and
    one without is INSUFFICIENT_DATA, whatever the alarm's TreatMissingData keeps for its own
    state. The health check then applies its InsufficientDataHealthStatus
    (`health_check_healthy`, with `last_known`)."""
    return alarm_states({**alarm, "TreatMissingData": "missing"}, periods)


# Route 53 health checks and failover routing --------------------------------------------------


def health_check_healthy(
    resources: Mapping[str, Any],
    logical: str,
    endpoints: Mapping[str, bool],
    alarms: Mapping[tuple[str, str], str],
    last_known: Mapping[str, bool] | None = None,
) -> bool:
    """Whether Route 53 considers the health check `logical` (of resolved `resources`)
    healthy. Endpoint checks are as `endpoints` says; a CLOUDWATCH_METRIC check is unhealthy
    while the alarm it names (by name and region, a key of `alarms`: its state) is in ALARM,
    healthy in OK, and in INSUFFICIENT_DATA as its InsufficientDataHealthStatus says
    (LastKnownStatus, the default: `last_known`, healthy for a check that has none yet); a
    CALCULATED check is healthy when at least HealthThreshold of its children are (more than
    it has: never; 0: always). `Inverted` turns the result over."""
    config = resources[logical]["Properties"]["HealthCheckConfig"]
    kind = config["Type"]
    if kind == "CALCULATED":
        children = [child["Ref"] for child in config.get("ChildHealthChecks", [])]
        healthy = sum(
            health_check_healthy(resources, c, endpoints, alarms, last_known) for c in children
        )
        result = healthy >= int(config["HealthThreshold"])
    elif kind == "CLOUDWATCH_METRIC":
        alarm = config["AlarmIdentifier"]
        state = alarms[(alarm["Name"], alarm["Region"])]  # KeyError: no such alarm there
        if state == "INSUFFICIENT_DATA":
            status = config.get("InsufficientDataHealthStatus", "LastKnownStatus")
            if status == "LastKnownStatus":
                result = (last_known or {}).get(logical, True)
            else:
                result = status == "Healthy"
        else:
            result = state == "OK"
    else:
        result = endpoints[logical]
    return not result if config.get("Inverted") in (True, "true") else result


def failover_answer(primary_healthy: bool, secondary_healthy: bool) -> str:
    """Which record of a failover pair Route 53 answers with: the primary while it is
    healthy, the secondary while the primary is not. Route 53 evaluates this on every query:
    a primary that is healthy again gets the traffic back."""
    if primary_healthy:
        return "PRIMARY"
    if secondary_healthy:
        return "SECONDARY"
    raise NotImplementedError("both records unhealthy: not modelled")
