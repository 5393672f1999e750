"""The ledger's one declarative table: for each (resource type, AWS property name exactly as
the describe response spells it), what capture does with it.

- `reproduced(key, ...)`: the file key path(s) that reproduce it. Placeholders: `{stack}` (the
  stack the resource is captured into), `{group}` (a security group's key), `{tier}` (a
  subnet's tier), `{artifact}` (the artifact that looks it up). It counts as reproduced only
  when the captured file holds one of the keys; a `# CAPTURE:` note on the property (its
  `Note.property`, or a prefix of it, listed in `notes`) makes it `noted` instead.
- `noted(...)`: capture never writes it; it is `noted` when a note names it, else not read.
- `changed(rebuild, why, same)`: a value the rebuild sets whatever production has; when
  `same(production's value)` holds, the rebuild agrees with production (reproduced by the
  blueprint); otherwise `changed on purpose`. `absent=True`: also judged when production's
  response lacks the property (its value is then None).
- `reproduced(..., if_absent=(rebuild, why))`: reproduced when production has it; when its
  response lacks it, the rebuild adds it anyway: `changed on purpose`.

`IDENTITY` (identity.py) lists the fields that are runtime state or identity, left out of the
counts. A property in neither is `not read`, so a field AWS adds appears, never vanishes.
When capture starts writing a key, its row is added here (and nothing else changes).
"""

from __future__ import annotations

from relight.capture.forced import (
    METADATA_REBUILD,
    METADATA_WHY,
    TLS_POLICY,
    TLS_WHY,
    metadata_same,
)
from relight.capture.lb_settings import BALANCER_DEFAULTS, CHANGED_ON_PURPOSE, TARGET_GROUP_DEFAULTS
from relight.capture.ledger.identity import IDENTITY
from relight.capture.ledger.kinds import (
    ASG,
    CLUSTER,
    CLUSTER_PARAMS,
    DB,
    DB_PARAMS,
    DB_SUBNETS,
    ENDPOINT,
    ENI,
    FLOW_LOG,
    GROUP,
    HOOK,
    IGW,
    IMAGE,
    INSTANCE,
    LB,
    LISTENER,
    LT,
    NACL,
    NAT,
    OPTIONS,
    POLICY,
    PROFILE,
    RECORD,
    ROLE,
    ROUTE_TABLE,
    SCHEDULED,
    SNAPSHOT,
    SUBNET,
    TG,
    VOLUME,
    VPC,
    ZONE,
)
from relight.capture.ledger.predicates import (
    plain_listener,
    recurring,
    tls,
    unsticky,
)
from relight.capture.ledger.rows import (
    BLUEPRINT_DEFAULT,
    Row,
    at_default,
    changed,
    empty,
    equals,
    is_,
    noted,
    reproduced,
)
from relight.capture.ledger.table_databases import DATABASE_ROWS
from relight.capture.ledger.table_network import NETWORK_ROWS

# the types, re-exported: the ledger's modules name them as table.VPC etc.
__all__ = [
    "ASG",
    "CLUSTER",
    "CLUSTER_PARAMS",
    "DB",
    "DB_PARAMS",
    "DB_SUBNETS",
    "ENDPOINT",
    "ENI",
    "FLOW_LOG",
    "GROUP",
    "HOOK",
    "IDENTITY",
    "IGW",
    "IMAGE",
    "INSTANCE",
    "LB",
    "LISTENER",
    "LT",
    "NACL",
    "NAT",
    "OPTIONS",
    "OWNED",
    "POLICY",
    "PROFILE",
    "RECORD",
    "ROLE",
    "ROUTE_TABLE",
    "ROWS",
    "SCHEDULED",
    "SNAPSHOT",
    "SSM",
    "SUBNET",
    "TG",
    "VOLUME",
    "VPC",
    "ZONE",
    "Row",
    "changed",
    "identity",
    "noted",
    "reproduced",
    "row",
]


NET = "stacks.network.params"
SG = "stacks.security.params.groups.{group}"
P = "stacks.{stack}.params"
ROLE_KEY = "stacks.identity.params.instance_roles.{stack}"
DATA = (f"{P}.DataSnapshotId", f"{P}.data_volume_size")
SSM = "AmazonSSMManagedInstanceCore"
_TAGS = reproduced("tags")  # the file's top-level tags: CloudFormation propagates them
_NO_IPV6 = at_default(empty, "the network blueprint makes IPv4-only networks, as production's")
_ACTION = "{stack}.params.scheduled_actions[name={action}]"

_LT_INSTANCE: dict[str, Row] = {
    "InstanceType": reproduced(f"{P}.instance_type"),
    "ImageId": reproduced("artifacts.{stack}_ami", notes=("ImageId",)),
    "SecurityGroupIds": reproduced(f"{P}.SecurityGroupId", notes=("SecurityGroupIds",)),
    "SecurityGroups": reproduced(f"{P}.SecurityGroupId", notes=("SecurityGroupIds",)),
    "NetworkInterfaces": reproduced(f"{P}.SecurityGroupId", notes=("SecurityGroupIds",)),
    "IamInstanceProfile": reproduced(
        ROLE_KEY,
        notes=("IamInstanceProfile",),
        if_absent=(
            f"an instance profile whose role has {SSM}",
            "the identity blueprint gives every instance a role, so it can be reached and "
            "patched through Systems Manager without SSH",
        ),
    ),
    "BlockDeviceMappings": reproduced(*DATA, notes=("BlockDeviceMappings",)),
    "UserData": noted("UserData"),
    "MetadataOptions": changed(METADATA_REBUILD, METADATA_WHY, metadata_same, absent=True),
    "KeyName": changed(
        "no key pair",
        "the rebuilt instances are reached through SSM Session Manager, not SSH keys",
        is_(None),
    ),
    "TagSpecifications": _TAGS,
    "Tags": _TAGS,
}

ROWS: dict[str, dict[str, Row]] = {
    **NETWORK_ROWS,
    LB: {
        "Type": reproduced(f"{P}.type", notes=("Type",)),
        "Scheme": reproduced(f"{P}.scheme"),
        "AvailabilityZones": reproduced(f"{P}.SubnetIds", notes=("Subnets",)),
        "SecurityGroups": reproduced(f"{P}.SecurityGroupId", notes=("SecurityGroups",)),
        "IpAddressType": changed("ipv4", "the load_balancer blueprint makes IPv4", is_("ipv4")),
        # the same reasons as the `# changed on purpose:` comments capture writes beside the
        # stack (lb_settings.CHANGED_ON_PURPOSE): one source
        **{
            f"Attributes.{key}": changed("true", why, is_("true"))
            for (key, _value), why in CHANGED_ON_PURPOSE.items()
        },
        "Attributes.idle_timeout.timeout_seconds": reproduced(f"{P}.idle_timeout"),
        "Attributes.access_logs.s3.enabled": noted("access_logs.s3", default=equals("false")),
        "Attributes.access_logs.s3.bucket": noted("access_logs.s3", default=empty),
        "Attributes.access_logs.s3.prefix": noted("access_logs.s3", default=empty),
        **{
            f"Attributes.{key}": noted(key, default=equals(value))
            for key, (value, _what) in BALANCER_DEFAULTS.items()
        },
        "Tags": _TAGS,
    },
    TG: {
        "Port": reproduced(f"{P}.target_port"),
        "Protocol": reproduced(f"{P}.type", notes=("TargetGroup Protocol",)),
        "ProtocolVersion": noted("TargetGroup ProtocolVersion", default=equals("HTTP1")),
        "HealthCheckProtocol": reproduced(
            f"{P}.health_check_protocol", notes=("HealthCheckProtocol",)
        ),
        "HealthCheckPort": reproduced(f"{P}.health_check_port"),
        "HealthCheckEnabled": changed(
            "true", "the load_balancer blueprint's target group always checks health", is_(True)
        ),
        "IpAddressType": changed("ipv4", "the load_balancer blueprint makes IPv4", is_("ipv4")),
        "Attributes.deregistration_delay.timeout_seconds": reproduced(f"{P}.deregistration_delay"),
        "Attributes.stickiness.enabled": noted("TargetGroup stickiness", default=equals("false")),
        **{
            f"Attributes.stickiness.{key}": noted("TargetGroup stickiness", default=unsticky)
            for key in (
                "type",
                "lb_cookie.duration_seconds",
                "app_cookie.cookie_name",
                "app_cookie.duration_seconds",
            )
        },
        **{
            f"Attributes.{key}": noted(key, default=equals(value))
            for key, (value, _what) in TARGET_GROUP_DEFAULTS.items()
        },
        "TargetType": reproduced(f"{P}.target_type"),
        "HealthCheckPath": reproduced(f"{P}.health_check_path"),
        "HealthCheckIntervalSeconds": reproduced(f"{P}.health_check_interval"),
        "HealthCheckTimeoutSeconds": reproduced(f"{P}.health_check_timeout"),
        "HealthyThresholdCount": reproduced(f"{P}.healthy_threshold"),
        "UnhealthyThresholdCount": reproduced(f"{P}.unhealthy_threshold"),
        "Matcher": reproduced(f"{P}.health_check_matcher"),
        "Tags": _TAGS,
    },
    LISTENER: {
        "Port": reproduced("stacks.{stack}", notes=("Listener {port}",)),
        "Protocol": reproduced("stacks.{stack}", notes=("Listener {port}",)),
        "Certificates": reproduced(f"{P}.CertificateArn", notes=("Listener {port} Certificates",)),
        "DefaultActions": reproduced(f"{P}.target_port", notes=("TargetGroups",)),
        "SslPolicy": reproduced(
            default=plain_listener,
            by="an HTTP listener uses no TLS policy",
            changed_when=tls,
            rebuild=TLS_POLICY,
            why=TLS_WHY,
        ),
        "AlpnPolicy": at_default(empty),
    },
    ASG: {
        "MinSize": reproduced(f"{P}.min_size"),
        "MaxSize": reproduced(f"{P}.max_size"),
        "DesiredCapacity": reproduced(f"{P}.desired"),
        "VPCZoneIdentifier": reproduced(f"{P}.SubnetIds", notes=("VPCZoneIdentifier",)),
        "LaunchTemplate": reproduced(f"{P}.instance_type"),
        "MixedInstancesPolicy": noted("MixedInstancesPolicy"),
        "WarmPoolConfiguration": noted("WarmPoolConfiguration"),
        "PlacementGroup": noted("PlacementGroup"),
        "NewInstancesProtectedFromScaleIn": noted(
            "NewInstancesProtectedFromScaleIn", default=equals(False)
        ),
        "SuspendedProcesses": noted("SuspendedProcesses", default=empty),
        # written only when production's differs from AWS's default
        "DefaultCooldown": reproduced(f"{P}.default_cooldown", default=equals(300)),
        "DefaultInstanceWarmup": reproduced(f"{P}.default_instance_warmup", default=empty),
        "MaxInstanceLifetime": reproduced(f"{P}.max_instance_lifetime", default=empty),
        "TerminationPolicies": reproduced(f"{P}.termination_policies", default=equals(["Default"])),
        "CapacityRebalance": reproduced(f"{P}.capacity_rebalance", default=equals(False)),
        "LoadBalancerNames": at_default(empty, BLUEPRINT_DEFAULT),  # Classic Load Balancers
        "EnabledMetrics": at_default(empty, BLUEPRINT_DEFAULT),
        "LaunchConfigurationName": noted("LaunchConfigurationName"),
        "TargetGroupARNs": reproduced(f"{P}.TargetGroupArn", notes=("TargetGroupARNs",)),
        "TrafficSources": reproduced(f"{P}.TargetGroupArn", notes=("TargetGroupARNs",)),
        "HealthCheckType": reproduced(f"{P}.health_check_type", notes=("HealthCheckType",)),
        "HealthCheckGracePeriod": reproduced(f"{P}.health_check_grace_seconds"),
        "Tags": _TAGS,
    },
    SCHEDULED: {
        "ScheduledActionName": reproduced(f"stacks.{_ACTION}"),
        **{
            prop: reproduced(f"stacks.{_ACTION}.{key}")
            for prop, key in (
                ("Recurrence", "recurrence"),
                ("EndTime", "end_time"),
                ("MinSize", "min_size"),
                ("MaxSize", "max_size"),
                ("DesiredCapacity", "desired"),
                ("TimeZone", "time_zone"),
            )
        },
        "StartTime": reproduced(
            f"stacks.{_ACTION}.start_time",
            changed_when=recurring,
            rebuild="no start time: the recurrence runs from the rebuild on",
            why="Auto Scaling refuses a start time in the past, and a recurring action's "
            "passes: a file holding one would fail every rebuild after it",
        ),
    },
    HOOK: {
        prop: noted("LifecycleHook {hook}")
        for prop in (
            "LifecycleTransition",
            "NotificationTargetARN",
            "RoleARN",
            "NotificationMetadata",
            "HeartbeatTimeout",
            "GlobalTimeout",
            "DefaultResult",
        )
    },
    POLICY: {
        prop: noted("ScalingPolicy {policy}")
        for prop in (
            "PolicyType",
            "AdjustmentType",
            "MinAdjustmentStep",
            "MinAdjustmentMagnitude",
            "ScalingAdjustment",
            "Cooldown",
            "StepAdjustments",
            "MetricAggregationType",
            "EstimatedInstanceWarmup",
            "Alarms",
            "TargetTrackingConfiguration",
            "PredictiveScalingConfiguration",
            "Enabled",
        )
    },
    LT: {
        **{f"LaunchTemplateData.{k}": row for k, row in _LT_INSTANCE.items()},
        # asg mode: production's DeleteOnTermination is reproduced, not changed (E28)
        "LaunchTemplateData.BlockDeviceMappings": reproduced(
            *DATA, f"{P}.delete_data_on_teardown", notes=("BlockDeviceMappings",)
        ),
    },
    INSTANCE: {
        **{k: row for k, row in _LT_INSTANCE.items() if k != "TagSpecifications"},
        "SubnetId": reproduced(f"{P}.SubnetIds"),
        "Placement": reproduced(f"{P}.az_count"),
    },
    VOLUME: {
        "SnapshotId": reproduced(f"{P}.DataSnapshotId", notes=("BlockDeviceMappings",)),
        "Size": reproduced(f"{P}.data_volume_size", f"{P}.DataSnapshotId"),
        "VolumeType": reproduced(f"{P}.data_volume_type"),
        "Iops": reproduced(f"{P}.data_volume_iops"),
        "Throughput": reproduced(f"{P}.data_volume_throughput"),
        "Encrypted": reproduced(f"{P}.data_volume_encrypted", f"{P}.DataSnapshotId"),
        "KmsKeyId": reproduced("kms_keys", notes=("KmsKeyId",)),
        "Tags": _TAGS,
    },
    IMAGE: {
        "Tags": reproduced("artifacts.{stack}_ami.tags", "artifacts.{stack}_ami.name"),
        "Name": reproduced("artifacts.{stack}_ami.name", "artifacts.{stack}_ami.tags"),
    },
    SNAPSHOT: {
        "Tags": reproduced("artifacts.{stack}_data.tags", notes=("Tags",)),
        "Encrypted": changed(
            "true: the volume restored from it is encrypted",
            "the compute blueprint encrypts every volume, also one from an unencrypted snapshot",
            is_(True),
        ),
        "KmsKeyId": reproduced("kms_keys", notes=("KmsKeyId",)),
        "VolumeSize": reproduced("artifacts.{stack}_data"),
    },
    **DATABASE_ROWS,
    ZONE: {"Name": reproduced("stacks.dns.params.HostedZoneName")},
    RECORD: {
        "Name": reproduced("stacks.dns.params.RecordName", notes=("Name",)),
        "Type": reproduced("stacks.dns.params.RecordName", notes=("Type",)),
        "AliasTarget": reproduced("stacks.dns.params.LoadBalancerDNSName"),
        "Failover": reproduced("stacks.dns.params.failover_role", notes=("Failover",)),
        "SetIdentifier": noted("SetIdentifier"),
        "HealthCheckId": reproduced(
            "stacks.dns.params.health_check_path", notes=("HealthCheckId",)
        ),
        "TTL": noted("TTL"),
        "ResourceRecords": noted("ResourceRecords"),
    },
    PROFILE: {"Roles": reproduced(ROLE_KEY, notes=("IamInstanceProfile",))},
    ROLE: {
        "AttachedPolicies": reproduced(f"{ROLE_KEY}.managed_policies", notes=("policy",)),
        "InlinePolicies": noted("inline policy"),
        f"AttachedPolicies.{SSM}": changed(
            f"{SSM} attached",
            "the identity blueprint adds it so instances can be reached and patched through "
            "Systems Manager without SSH",
            bool,
            absent=True,
        ),
    },
}

# a resource another makes (a launched instance's volume): only what the rebuild sets itself
OWNED: dict[str, dict[str, Row]] = {
    VOLUME: {
        "Encrypted": changed(
            "true", "the compute blueprint encrypts every volume it launches", is_(True)
        ),
    },
}


def row(kind: str, prop: str) -> Row | None:
    """The table's row for a property, or None: not read."""
    return ROWS.get(kind, {}).get(prop)


def identity(kind: str, prop: str) -> bool:
    return prop in IDENTITY.get(kind, ()) or prop == "ResponseMetadata"
