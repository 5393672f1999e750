"""Standing cost: what a rendered template keeps running, in USD per month.

A DR rung (backup_restore, pilot_light, warm_standby) is paid for by what it
keeps standing in the recovery region. `stack_costs` reads one rendered
CloudFormation template and prices each resource that bills by the hour or by
the month while it merely exists:

- EC2 instances and Auto Scaling groups (DesiredCapacity, or MinSize, times the
  instance type of their launch template or launch configuration), with the EBS
  volumes they are launched with when the template gives their size; EBS volumes;
- NAT gateways, Elastic IPs (AWS bills every public IPv4 address), interface
  VPC endpoints (per AZ; gateway endpoints are free), load balancers (per hour;
  an internet-facing one also holds one public IPv4 address per AZ);
- RDS DB instances (single-AZ price, doubled for Multi-AZ, with their storage
  when AllocatedStorage is given; a read replica's storage is its source's, priced when
  the caller knows that size, `source_storage_gb`) and Aurora DB instances (`aurora:`
  prices, their cluster itself has no hourly price); the secondary cluster of an Aurora
  global database also holds a copy of the volume, priced per GB-month from the source's
  size when known;
- Route 53 health checks (with their optional features) and hosted zones,
  CloudWatch alarms.

Everything else (VPC, subnets, route tables, security groups, IAM, target
groups, listeners, launch templates, log groups...) costs nothing standing.

Not counted, because it depends on traffic or is the same on every rung, so it
does not change the comparison: data transfer and NAT/endpoint data processing,
load balancer capacity units (LCU/NLCU), requests, Aurora storage and I/O (but for a
global database's secondary: its copy of the volume), replicated write I/O,
snapshot and backup storage, provisioned IOPS and throughput above the gp3
baseline, public IPv4 addresses an instance gets from its subnet, Gateway Load
Balancer endpoints, and the extra metrics of anomaly-detection alarms.

The prices, and how a file overrides them, are the model's (`relight.model.prices`,
listed in docs/prices.md).

Values are read as CloudFormation would, as far as the template alone tells:
a Ref to a Parameter takes its Default (or a value passed in `parameters`);
conditions made of Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition are
evaluated from those values; Fn::If takes the branch its condition picks, or,
when the condition cannot be evaluated, the first branch that resolves. A
resource whose Condition cannot be evaluated is counted ("if <condition>"), so
the total is an upper bound; one whose Condition is false is not. A value the
template leaves to deploy time (a Parameter without a Default, a Fn::GetAtt...)
makes its line `unpriced`: it counts 0 and says what is missing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from relight.model.prices import HOURS_PER_MONTH, PRICES, check_prices, unit


@dataclass(frozen=True)
class CostLine:
    stack: str
    resource: str  # the logical id
    type: str  # the CloudFormation resource type
    what: str  # what is counted, or, when unpriced, what is missing
    usd_month: float
    unpriced: bool = False


def monthly_total(lines: Iterable[CostLine]) -> float:
    """The sum of the lines, in USD per month (unpriced lines count 0)."""
    return sum(line.usd_month for line in lines)


def usd(amount: float) -> str:
    """`1234.5` → "$1,234.50/month"."""
    return f"${amount:,.2f}/month"


def stack_costs(
    stack: str,
    template: Mapping[str, Any],
    prices: Mapping[str, float] | None = None,
    *,
    parameters: Mapping[str, Any] | None = None,
    source_storage_gb: float | None = None,
    source_storage_type: str | None = None,
) -> list[CostLine]:
    """What one rendered template keeps running, a line per priced part of a resource.

    `prices` override or extend PRICES; `parameters` are Parameter values known before deploy
    (they win over Defaults); `source_storage_gb` is the allocated storage of the database a
    replica in the template copies (a read replica's, or an Aurora secondary's, is its
    source's), when known, and `source_storage_type` its storage type (a read replica given
    none inherits it). Lines come in the template's resource order.
    """
    overrides = dict(prices or {})
    check_prices(overrides)
    costing = _Costing(stack, _Template(template, parameters or {}), {**PRICES, **overrides})
    costing.source_gb = source_storage_gb
    costing.source_type = source_storage_type
    return costing.lines()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _missing(node: Any) -> str:
    """Why a value is unknown: the template leaves it out, or leaves it to deploy time."""
    return "not in the template" if node is None else "given at deploy time"


class _Template:
    """A template's values as far as the template alone (and known Parameters) tells."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, Any]) -> None:
        self.resources: Mapping[str, Any] = template.get("Resources") or {}
        self._conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self._params = {
            name: spec["Default"]
            for name, spec in (template.get("Parameters") or {}).items()
            if isinstance(spec, Mapping) and "Default" in spec
        }
        self._params.update(parameters)
        self._deciding: set[str] = set()

    def value(self, node: Any) -> Any:
        """The literal `node` stands for, or None when only deploy time knows it."""
        if not isinstance(node, Mapping) or len(node) != 1:
            return node
        (key, arg), *_ = node.items()
        if key == "Ref":
            return self._params.get(arg) if isinstance(arg, str) else None
        if key == "Fn::If" and isinstance(arg, list) and len(arg) == 3:
            chosen = self.condition(arg[0])
            if chosen is not None:
                return self.value(arg[1] if chosen else arg[2])
            first = self.value(arg[1])
            return first if first is not None else self.value(arg[2])
        return None if key.startswith("Fn::") else node

    def mapping(self, node: Any) -> Mapping[str, Any]:
        """`node` as a mapping; empty when it is not one (or only deploy time knows it)."""
        found = self.value(node)
        return found if isinstance(found, Mapping) else {}

    def items(self, node: Any) -> list[Any]:
        """`node` as a list; empty when it is not one (or only deploy time knows it)."""
        found = self.value(node)
        return found if isinstance(found, list) else []

    def count(self, node: Any) -> int | None:
        """How many items a list (or a comma-delimited Parameter) holds."""
        items = self.value(node)
        if isinstance(items, str):
            return len(items.split(",")) if items else 0
        return len(items) if isinstance(items, list) else None

    def condition(self, name: Any) -> bool | None:
        """A named condition's value, None when it cannot be evaluated here."""
        if not isinstance(name, str) or name not in self._conditions or name in self._deciding:
            return None
        self._deciding.add(name)
        try:
            return self._test(self._conditions[name])
        finally:
            self._deciding.discard(name)

    def _test(self, node: Any) -> bool | None:
        if not isinstance(node, Mapping) or len(node) != 1:
            return None
        (key, arg), *_ = node.items()
        if key == "Condition":
            return self.condition(arg)
        if not isinstance(arg, list):
            return None
        if key == "Fn::Equals" and len(arg) == 2:
            left, right = self.value(arg[0]), self.value(arg[1])
            return None if left is None or right is None else str(left) == str(right)
        tests = [self._test(a) for a in arg]
        if key == "Fn::Not" and len(tests) == 1:
            return None if tests[0] is None else not tests[0]
        if key == "Fn::And":
            return False if False in tests else (None if None in tests else True)
        if key == "Fn::Or":
            return True if True in tests else (None if None in tests else False)
        return None


# One priced part of a resource: what it is, its price key (None: it cannot be priced,
# `what` says why) and how many units of that key it takes.
_Part = tuple[str, str | None, float]


class _Costing:
    """Prices one template's resources: a method per resource type that costs something."""

    def __init__(self, stack: str, template: _Template, prices: Mapping[str, float]) -> None:
        self.stack = stack
        self.t = template
        self.prices = prices
        self.source_gb: float | None = None  # a replica's storage: its source's, when known
        self.source_type: str | None = None  # and its storage type
        self.handlers: dict[str, Callable[[Mapping[str, Any]], list[_Part]]] = {
            "AWS::EC2::Instance": self._instance,
            "AWS::AutoScaling::AutoScalingGroup": self._group,
            "AWS::EC2::Volume": self._volume,
            "AWS::EC2::NatGateway": self._flat("ec2:nat_gateway", "NAT gateway"),
            "AWS::EC2::EIP": self._flat("ec2:public_ipv4", "Elastic IP (public IPv4 address)"),
            "AWS::EC2::VPCEndpoint": self._endpoint,
            "AWS::ElasticLoadBalancingV2::LoadBalancer": self._load_balancer,
            "AWS::RDS::DBInstance": self._database,
            "AWS::RDS::DBCluster": self._cluster,
            "AWS::Route53::HealthCheck": self._health_check,
            "AWS::Route53::HostedZone": self._flat("route53:hosted_zone", "hosted zone"),
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::CompositeAlarm": self._flat("cloudwatch:composite_alarm", "alarm"),
        }

    def lines(self) -> list[CostLine]:
        found: list[CostLine] = []
        for name, resource in self.t.resources.items():
            kind = resource.get("Type", "")
            handler = self.handlers.get(kind)
            condition = resource.get("Condition")
            stands = self.t.condition(condition) if condition else True
            if handler is None or stands is False:
                continue
            for what, key, quantity in handler(self.t.mapping(resource.get("Properties"))):
                line = self._line(name, kind, what, key, quantity)
                if stands is None:  # counted: an upper bound
                    line = dataclasses.replace(line, what=f"{line.what} (if {condition})")
                found.append(line)
        return found

    def _line(self, name: str, kind: str, what: str, key: str | None, quantity: float) -> CostLine:
        price = self.prices.get(key) if key else None
        if key is None or price is None:
            if key is not None:
                what = (
                    f"{what}: no price for {key}: add prices.{key} "
                    f"(USD per {unit(key)}) to the environment file"
                )
            return CostLine(self.stack, name, kind, what, 0.0, unpriced=True)
        per_month = HOURS_PER_MONTH if unit(key).endswith("-hour") else 1
        return CostLine(self.stack, name, kind, what, quantity * price * per_month)

    @staticmethod
    def _flat(key: str, what: str) -> Callable[[Mapping[str, Any]], list[_Part]]:
        return lambda _props: [(what, key, 1)]

    def _instance(self, props: Mapping[str, Any]) -> list[_Part]:
        # CloudFormation's documented default instance type is m1.small
        kind = props.get("InstanceType", "m1.small")
        return self._fleet(1, kind, props.get("BlockDeviceMappings"))

    def _group(self, props: Mapping[str, Any]) -> list[_Part]:
        desired = props.get("DesiredCapacity", props.get("MinSize"))
        count = _number(self.t.value(desired))
        if count is None:
            return [(f"instance count {_missing(desired)}", None, 0)]
        launch = self._launch_data(props)
        if launch is None:
            return [
                (f"{count:g} instances: their launch template is not in this template", None, 0)
            ]
        return self._fleet(count, launch.get("InstanceType"), launch.get("BlockDeviceMappings"))

    def _launch_data(self, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The launch template's LaunchTemplateData or launch configuration's Properties."""
        mixed = self.t.mapping(props.get("MixedInstancesPolicy"))
        spec = props.get("LaunchTemplate") or self.t.mapping(mixed.get("LaunchTemplate")).get(
            "LaunchTemplateSpecification"
        )
        if isinstance(spec, Mapping):
            ref = spec.get("LaunchTemplateId") or spec.get("LaunchTemplateName")
            wanted, field = "AWS::EC2::LaunchTemplate", "LaunchTemplateData"
        else:
            ref = props.get("LaunchConfigurationName")
            wanted, field = "AWS::AutoScaling::LaunchConfiguration", ""
        name = ref.get("Ref") if isinstance(ref, Mapping) else None
        target = self.t.resources.get(name) if isinstance(name, str) else None
        if not isinstance(target, Mapping) or target.get("Type") != wanted:
            return None
        properties = self.t.mapping(target.get("Properties"))
        return self.t.mapping(properties.get(field)) if field else properties

    def _fleet(self, count: float, kind_node: Any, mappings: Any) -> list[_Part]:
        """`count` instances of a type, with the EBS volumes each is launched with."""
        kind = self.t.value(kind_node)
        if isinstance(kind, str):
            parts: list[_Part] = [(f"{count:g} x {kind}", f"ec2:{kind}", count)]
        else:
            parts = [(f"{count:g} instances: instance type {_missing(kind_node)}", None, 0)]
        unsized = 0
        for mapping in self.t.items(mappings):
            ebs = self.t.value(self.t.mapping(mapping).get("Ebs"))
            if not isinstance(ebs, Mapping):
                continue  # an instance store or suppressed device
            size = _number(self.t.value(ebs.get("VolumeSize")))
            volume_type = self.t.value(ebs.get("VolumeType", "gp2"))
            if size is None or not isinstance(volume_type, str):
                unsized += 1
            else:
                what = f"{count:g} x {size:g} GB {volume_type} volume"
                parts.append((what, f"ebs:{volume_type}", count * size))
        if unsized:
            why = "size from the image, a snapshot or deploy time"
            parts.append((f"{unsized} EBS volume(s) on each of {count:g}: {why}", None, 0))
        return parts

    def _volume(self, props: Mapping[str, Any]) -> list[_Part]:
        size = _number(self.t.value(props.get("Size")))
        volume_type = self.t.value(props.get("VolumeType", "gp2"))
        if size is None or not isinstance(volume_type, str):
            return [("EBS volume: size or type from a snapshot or deploy time", None, 0)]
        return [(f"{size:g} GB {volume_type} volume", f"ebs:{volume_type}", size)]

    def _endpoint(self, props: Mapping[str, Any]) -> list[_Part]:
        if self.t.value(props.get("VpcEndpointType", "Gateway")) != "Interface":
            return []  # gateway endpoints are free; Gateway Load Balancer ones are not counted
        subnets = props.get("SubnetIds")
        zones = self.t.count(subnets)
        if zones is None:
            return [(f"interface endpoint: subnets {_missing(subnets)}", None, 0)]
        return [(f"interface endpoint in {zones} AZ(s)", "ec2:vpc_endpoint_interface", zones)]

    def _load_balancer(self, props: Mapping[str, Any]) -> list[_Part]:
        kind = self.t.value(props.get("Type", "application"))
        if not isinstance(kind, str):
            return [("load balancer: type given at deploy time", None, 0)]
        parts: list[_Part] = [(f"{kind} load balancer", f"elb:{kind}", 1)]
        public = self.t.value(props.get("Scheme", "internet-facing")) == "internet-facing"
        no_ipv4 = self.t.value(props.get("IpAddressType")) == "dualstack-without-public-ipv4"
        if kind == "gateway" or not public or no_ipv4:
            return parts
        zones: int | None
        if "SubnetMappings" in props:  # an Elastic IP given there is priced as an EIP resource
            mappings = [self.t.mapping(m) for m in self.t.items(props["SubnetMappings"])]
            zones = sum(1 for m in mappings if "AllocationId" not in m)
        else:
            zones = self.t.count(props.get("Subnets"))
        if zones is None:
            parts.append(("a public IPv4 address per AZ: subnets given at deploy time", None, 0))
        elif zones:
            what = f"{zones} public IPv4 address(es), one per AZ"
            parts.append((what, "ec2:public_ipv4", zones))
        return parts

    def _database(self, props: Mapping[str, Any]) -> list[_Part]:
        klass = self.t.value(props.get("DBInstanceClass"))
        if not isinstance(klass, str):
            return [(f"DB instance: class {_missing(props.get('DBInstanceClass'))}", None, 0)]
        engine = self.t.value(props.get("Engine"))
        if "DBClusterIdentifier" in props or str(engine).startswith("aurora"):
            # Aurora storage and I/O are billed by use, on the cluster: not counted
            return [(f"Aurora {klass}", f"aurora:{klass}", 1)]
        multi_az = _flag(self.t.value(props.get("MultiAZ", False)))
        copies, deployment = (1, "single-AZ") if multi_az is False else (2, "Multi-AZ")
        if multi_az is None:
            deployment = "Multi-AZ given at deploy time: counted as Multi-AZ"
        parts: list[_Part] = [(f"{klass}, {deployment}", f"rds:{klass}", copies)]
        size = _number(self.t.value(props.get("AllocatedStorage")))
        replica = "SourceDBInstanceIdentifier" in props and "AllocatedStorage" not in props
        inherited = self.source_type if replica and self.source_type else "gp2"
        storage = self.t.value(props.get("StorageType", inherited))
        source = " (its source's)" if replica else ""
        if replica and size is None:
            size = self.source_gb
        if size is None or not isinstance(storage, str):
            why = (
                "a read replica's is its source's, not known here (plan reads it from the "
                "newest snapshot copy)"
                if replica
                else "size from a snapshot or deploy time"
            )
            parts.append((f"DB storage: {why}", None, 0))
        else:
            what = f"{size:g} GB {storage} storage{source}, {deployment}"
            parts.append((what, f"rds:storage_{storage}", copies * size))
        return parts

    def _cluster(self, props: Mapping[str, Any]) -> list[_Part]:
        engine = self.t.value(props.get("Engine"))
        if str(engine).startswith("aurora") and "GlobalClusterIdentifier" in props:
            return self._secondary(props)
        if "DBClusterInstanceClass" not in props or str(engine).startswith("aurora"):
            return []  # an Aurora cluster's instances are priced as DB instances
        # A Multi-AZ DB cluster: a writer and two readers that the cluster creates itself.
        klass = self.t.value(props["DBClusterInstanceClass"])
        if not isinstance(klass, str):
            return [("Multi-AZ DB cluster: instance class given at deploy time", None, 0)]
        return [(f"Multi-AZ DB cluster of 3 x {klass}", f"rds-cluster:{klass}", 1)]

    def _secondary(self, _props: Mapping[str, Any]) -> list[_Part]:
        """A secondary cluster of an Aurora global database: its instances are priced as DB
        instances; it also keeps a full copy of the cluster volume, as large as the source's
        (Aurora Standard storage; its I/O and the replicated writes bill by use: not counted)."""
        if self.source_gb is None:
            why = "its source's size, not known here (plan reads it from the newest snapshot copy)"
            return [(f"Aurora global database secondary storage: {why}", None, 0)]
        what = f"{self.source_gb:g} GB Aurora storage (the global database's copy)"
        return [(what, "aurora:storage_standard", self.source_gb)]

    def _health_check(self, props: Mapping[str, Any]) -> list[_Part]:
        config = self.t.mapping(props.get("HealthCheckConfig"))
        kind = self.t.value(config.get("Type"))
        if not isinstance(kind, str):
            return [
                (
                    "health check (type, and so optional features, unknown)",
                    "route53:health_check",
                    1,
                )
            ]
        features = []
        if kind.startswith("HTTPS"):
            features.append("HTTPS")
        if kind.endswith("_STR_MATCH"):
            features.append("string matching")
        if _number(self.t.value(config.get("RequestInterval"))) == 10:
            features.append("fast interval")
        if _flag(self.t.value(config.get("MeasureLatency"))):
            features.append("latency measurement")
        parts: list[_Part] = [(f"{kind} health check", "route53:health_check", 1)]
        if features:
            what = "optional health check features: " + ", ".join(features)
            parts.append((what, "route53:health_check_feature", len(features)))
        return parts

    def _alarm(self, props: Mapping[str, Any]) -> list[_Part]:
        queries = [self.t.mapping(m) for m in self.t.items(props.get("Metrics"))]
        stats = [self.t.mapping(q["MetricStat"]) for q in queries if "MetricStat" in q]
        periods = [_number(self.t.value(s.get("Period"))) for s in stats] or [
            _number(self.t.value(props.get("Period")))
        ]
        fast = any(p is not None and p < 60 for p in periods)
        metrics = max(len(stats), 1)
        what = f"alarm on {metrics} metric(s)" + (", high resolution" if fast else "")
        key = "cloudwatch:alarm_high_resolution" if fast else "cloudwatch:alarm"
        return [(what, key, metrics)]
