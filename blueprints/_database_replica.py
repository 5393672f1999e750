"""The database blueprint's replica mode (data: replica), split from database.py: a
cross-region read replica of the home DB instance, or a secondary cluster of the home cluster's
Aurora global database. Made by `relight prepare` in a recovery region, promoted by a failover.

Not a blueprint of its own (load_registry skips `_` files): database.py loads it and hands it
what the two modes share with the restore (`Shared`: the groups, the app secret, the log
exports, the monitoring role's pattern).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from troposphere import (
    GetAtt,
    If,
    Join,
    Output,
    Parameter,
    Ref,
    Select,
    Split,
    Tags,
    Template,
    ec2,
    rds,
)

from relight.blueprint import PROTECTED, no_egress, purpose_parameter

ARN = r"^arn:aws[a-zA-Z-]*:rds:[a-z0-9-]+:\d{12}:%s:[a-zA-Z][a-zA-Z0-9-]*$"


@dataclass(frozen=True)
class Shared:
    groups: Callable[[Template], dict[str, object]]  # Parameter name → the group to use
    app_secret: Callable[[Template, str], None]
    network_parameters: Callable[[Template], tuple[Any, Any, Any]]  # VPC, subnets, client
    log_exports: list[str]
    role_pattern: str


def _network(t: Template, options: Any, shared: Shared) -> tuple[Any, Any, Any]:
    """The Parameters and resources both modes stand in: the VPC, the data subnets' group and
    the database's own security group (its rule, on the port the replica inherits, comes once
    the database exists: `_open`)."""
    vpc, subnets, client = shared.network_parameters(t)
    group = t.add_resource(
        ec2.SecurityGroup(
            "DatabaseSecurityGroup",
            GroupDescription="relight database",
            VpcId=Ref(vpc),
            SecurityGroupEgress=[no_egress()],
            Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), "db"])),
        )
    )
    subnet_group = t.add_resource(
        rds.DBSubnetGroup(
            "SubnetGroup", DBSubnetGroupDescription="relight data subnets", SubnetIds=Ref(subnets)
        )
    )
    return group, subnet_group, client


def _source(t: Template, what: str) -> Any:
    kind = "db" if what == "instance" else "cluster"
    return t.add_parameter(
        Parameter(
            "ReplicaSourceArn",
            Type="String",
            AllowedPattern=ARN % kind,
            Description=f"the home DB {what}'s ARN, which this replicates (relight fills it "
            "from the environment's home region and account)",
        )
    )


def _key(t: Template) -> Any:
    return t.add_parameter(
        Parameter(
            "KmsKeyId",
            Type="String",
            MinLength=1,
            Description="the KMS key in this region the replica is encrypted with (kms_keys)",
        )
    )


def _monitoring(t: Template, options: Any, shared: Shared) -> dict[str, object]:
    if not options.monitoring_interval:
        return {}
    role = t.add_parameter(
        Parameter(
            "MonitoringRoleArn",
            Type="String",
            AllowedPattern=shared.role_pattern,
            Description="the RDS enhanced-monitoring role, from the identity stack",
        )
    )
    return {"MonitoringRoleArn": Ref(role)}


def _open(t: Template, options: Any, group: Any, client: Any, database: Any) -> Any:
    """The rule that lets the application in, on the port the database took from its source
    (a resource of its own: the group is the database's, so the rule comes after it)."""
    port = GetAtt(database, "Endpoint.Port")
    t.add_resource(
        ec2.SecurityGroupIngress(
            "DatabaseIngress",
            GroupId=GetAtt(group, "GroupId"),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            SourceSecurityGroupId=Ref(client),
            Description=f"{options.engine} from the application",
        )
    )
    return port


def _outputs(
    t: Template, options: Any, shared: Shared, database: Any, group: Any, source: Any, port: Any
) -> None:
    t.add_output(Output("Endpoint", Value=GetAtt(database, "Endpoint.Address")))
    t.add_output(Output("Port", Value=port))
    t.add_output(Output("DatabaseIdentifier", Value=Ref(database)))
    t.add_output(Output("SecurityGroupId", Value=GetAtt(group, "GroupId")))
    t.add_output(Output("DataMode", Value="replica"))
    t.add_output(Output("ReplicaSourceArn", Value=Ref(source)))
    if options.app_secret is not None:
        shared.app_secret(t, options.app_secret)


def replica_instance(options: Any, shared: Shared) -> Template:
    """A cross-region read replica of the home DB instance (mode instance).

    `ReplicaSourceArn` is the home instance's ARN and `KmsKeyId` the region's key (relight
    fills both; RDS: "if the source DB instance is in a different AWS Region, you must specify
    a KMS key ID"). The replica inherits engine, version, storage, master user and port from its
    source, so its security group's rule takes the port from the replica itself. Its security
    group is always given (a cross-region replica otherwise gets the VPC's default). No
    BackupRetentionPeriod (a replica's backups are off, docs D13). DeletionPolicy and
    UpdateReplacePolicy Snapshot: CloudFormation ignores a read replica's deletion policy
    (docs D13), but once the failover promotes it (outside CloudFormation) it is the live
    database, and its stack's delete then leaves a final snapshot.
    """
    t = Template(Description=f"relight database (replica of the home {options.engine} instance)")
    purpose_parameter(t)
    source, key = _source(t, "instance"), _key(t)
    group, subnet_group, client = _network(t, options, shared)
    extra = _monitoring(t, options, shared)
    groups = shared.groups(t)
    replica = t.add_resource(
        rds.DBInstance(
            "Database",
            # troposphere's check predates AWS's: it wants Engine and StorageEncrypted (a
            # replica inherits both; AWS::RDS::DBInstance says not to give StorageEncrypted
            # with SourceDBInstanceIdentifier) and refuses MultiAZ, which a replica takes.
            # cfn-lint checks the template against CloudFormation's schema instead.
            validation=False,
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
            SourceDBInstanceIdentifier=Ref(source),
            SourceRegion=Select(3, Split(":", Ref(source))),
            KmsKeyId=Ref(key),
            DBInstanceClass=options.instance_class,
            DBSubnetGroupName=Ref(subnet_group),
            VPCSecurityGroups=[Ref(group)],
            DBParameterGroupName=groups["ParameterGroupName"],
            OptionGroupName=groups["OptionGroupName"],
            MultiAZ=options.multi_az,
            PubliclyAccessible=False,
            AutoMinorVersionUpgrade=True,
            EnablePerformanceInsights=options.performance_insights,
            MonitoringInterval=options.monitoring_interval,
            DeletionProtection=If(PROTECTED, True, False),
            EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=shared.log_exports,
            CopyTagsToSnapshot=True,
            Tags=Tags(Name=Ref("AWS::StackName")),
            **extra,
        )
    )
    port = _open(t, options, group, client, replica)
    _outputs(t, options, shared, replica, group, source, port)
    return t


def secondary_cluster(options: Any, shared: Shared) -> Template:
    """A secondary cluster of the home cluster's Aurora global database (mode aurora).

    `GlobalClusterIdentifier` is the global database prepare made (or found) in the home region
    with the home cluster as its primary (relight fills it at prepare); `KmsKeyId` is the
    region's key. No EngineVersion: the cluster takes the global database's, and
    AWS::RDS::DBCluster says of EngineVersion "Don't use this property if your DB cluster is a
    member of a global database cluster" (docs D57). A secondary has no master user of
    its own: it replicates the primary's. Its instances (`aurora_instances`) are readers until
    the failover detaches and promotes the cluster.
    """
    t = Template(Description=f"relight database (secondary {options.engine} cluster)")
    purpose_parameter(t)
    source = _source(t, "cluster")
    global_id = t.add_parameter(
        Parameter(
            "GlobalClusterIdentifier",
            Type="String",
            MinLength=1,
            Description="the Aurora global database this cluster joins (relight fills it)",
        )
    )
    key = _key(t)
    group, subnet_group, client = _network(t, options, shared)
    groups = shared.groups(t)
    cluster = t.add_resource(
        rds.DBCluster(
            "Cluster",
            DeletionPolicy="Snapshot",  # ignored while a secondary; honoured once promoted
            UpdateReplacePolicy="Snapshot",
            Engine=options.engine,
            GlobalClusterIdentifier=Ref(global_id),
            KmsKeyId=Ref(key),
            StorageEncrypted=True,
            DBSubnetGroupName=Ref(subnet_group),
            VpcSecurityGroupIds=[Ref(group)],
            DBClusterParameterGroupName=groups["ClusterParameterGroupName"],
            BackupRetentionPeriod=options.backup_retention_days,
            DeletionProtection=If(PROTECTED, True, False),
            EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=shared.log_exports,
            CopyTagsToSnapshot=True,
        )
    )
    extra = _monitoring(t, options, shared)
    for index in range(options.aurora_instances):
        t.add_resource(
            rds.DBInstance(
                f"ClusterInstance{index + 1}",
                Engine=options.engine,
                DBClusterIdentifier=Ref(cluster),
                DBInstanceClass=options.instance_class,
                DBParameterGroupName=groups["ParameterGroupName"],
                PubliclyAccessible=False,
                AutoMinorVersionUpgrade=True,
                EnablePerformanceInsights=options.performance_insights,
                MonitoringInterval=options.monitoring_interval,
                Tags=Tags(Name=Ref("AWS::StackName")),
                **extra,
            )
        )
    port = _open(t, options, group, client, cluster)
    t.add_output(Output("ReaderEndpoint", Value=GetAtt(cluster, "ReadEndpoint.Address")))
    _outputs(t, options, shared, cluster, group, source, port)
    t.add_output(Output("GlobalClusterIdentifier", Value=Ref(global_id)))
    return t
