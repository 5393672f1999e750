"""database: RDS restored from a DB snapshot, or Aurora from a DB cluster snapshot.

The snapshot is the `SnapshotIdentifier` Parameter, filled by discovery with
the newest copy in the target region. No password is in the template: a
restore keeps the snapshot's master credentials. Storage stays encrypted: an
RDS instance inherits the snapshot's key (a cross-region copy is encrypted
with the target region's key when it is copied); an Aurora cluster takes
`KmsKeyId` when given. The database gets its own security group, open only to
`ClientSecurityGroupId` on its port. Deletion protection follows relight's
purpose (on for a failover, off for a drill), and deleting the stack leaves a
final snapshot (DeletionPolicy Snapshot).

Enhanced monitoring (`monitoring_interval` above 0) uses the role given as the
`MonitoringRoleArn` Parameter: the identity stack's (blueprints/identity.py,
`rds_monitoring`), made ahead of time. This stack makes no IAM resource, since
IAM's control plane is in us-east-1, which a failover must not depend on.

`app_secret` names the application's Secrets Manager secret (its name, the same in every
region it is replicated to). The stack then takes `AppSecretArn`, which relight fills at
deploy with the ARN of the secret's replica in the target region (never its value), and
gives it as the output `AppSecretArn` for the application's stack.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from troposphere import (
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Output,
    Parameter,
    Ref,
    Tags,
    Template,
    ec2,
    rds,
)

from relight.blueprint import (
    PROTECTED,
    Options,
    blueprint,
    derived_parameter,
    no_egress,
    optional_parameter,
    purpose_parameter,
    scan_skips,
)

# EngineLifecycleSupport on a DB instance: "applies only to RDS for MySQL and RDS for
# PostgreSQL" (an Aurora cluster carries it; MariaDB has no Extended Support).
LIFECYCLE_ENGINES = {"postgres", "mysql"}
LOG_EXPORTS = {
    "postgres": ["postgresql", "upgrade"],
    "aurora-postgresql": ["postgresql"],
    "mysql": ["error", "general", "slowquery"],
    "mariadb": ["error", "general", "slowquery"],
    "aurora-mysql": ["error", "general", "slowquery"],
}
ROLE_ARN = r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/.+$"
SECRET_ARN = r"^arn:aws[a-zA-Z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$"
# CreateSecret's Name: "ASCII letters, numbers, and the following characters: /_+=.@-".
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")


class GroupSpec(Options):
    """A custom DB (cluster) parameter group: its family and the settings that differ from the
    family's defaults (capture writes them from production's group)."""

    family: str = Field(pattern=r"^[a-z][a-z0-9.-]*$", description="e.g. postgres16")
    parameters: dict[str, str] = Field(default_factory=dict)


class DatabaseOptions(Options):
    mode: Literal["instance", "aurora"] = "instance"
    # Filled by relight from the stack's data mode (`data:`, `--data`): snapshot restores from
    # the copy at failover; replica makes a cross-region read replica of the home database
    # (an Aurora global database's secondary cluster), which the failover promotes.
    data: Literal["snapshot", "replica"] = "snapshot"
    engine: Literal["postgres", "mysql", "mariadb", "aurora-postgresql", "aurora-mysql"] = (
        "postgres"
    )
    instance_class: str = Field(default="db.t4g.medium", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    aurora_instances: int = Field(default=2, ge=1, le=15, description="writer + readers")
    multi_az: bool = True
    # None: the snapshot's storage type (a restore keeps it); set it to change it on restore.
    storage_type: Literal["gp3", "io1", "io2"] | None = None
    backup_retention_days: int = Field(default=7, ge=1, le=35)
    monitoring_interval: Literal[0, 1, 5, 10, 15, 30, 60] = 60
    performance_insights: bool = True
    # Production's custom groups, made by this stack (None: name one, or AWS's default).
    parameter_group: GroupSpec | None = None
    cluster_parameter_group: GroupSpec | None = None
    # Explicit, as AWS's default is: a major version past its end of standard support restores
    # into paid Extended Support. "...-disabled" avoids that charge, but then RDS upgrades the
    # restored database to a newer major version on its own (preflight warns either way).
    engine_lifecycle_support: Literal[
        "open-source-rds-extended-support", "open-source-rds-extended-support-disabled"
    ] = "open-source-rds-extended-support"

    # The application's Secrets Manager secret, by name (replicated to the recovery regions).
    app_secret: str | None = None

    @field_validator("app_secret")
    @classmethod
    def _secret_name(cls, name: str | None) -> str | None:
        if name is None:
            return None
        if name.startswith("arn:"):
            raise ValueError(
                f"{name!r} is an ARN, and a secret's ARN names one region (the home region's "
                "would point at the region that is lost): give the secret's name, the same in "
                "every region it is replicated to"
            )
        if not SECRET_NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a Secrets Manager secret name (1 to 512 ASCII letters, "
                "digits and /_+=.@-)"
            )
        return name

    @model_validator(mode="after")
    def _engine_fits_mode(self) -> DatabaseOptions:
        if self.cluster_parameter_group is not None and self.mode != "aurora":
            raise ValueError("cluster_parameter_group is for mode aurora only")
        aurora = self.engine.startswith("aurora-")
        if aurora != (self.mode == "aurora"):
            wanted = "an aurora-* engine" if self.mode == "aurora" else "a non-Aurora engine"
            raise ValueError(f"mode {self.mode} needs {wanted}, not {self.engine}")
        return self

    def fewest_zones(self) -> tuple[int, str] | None:
        return 2, (
            'its DB subnet group must cover at least 2 AZs (RDS refuses fewer: "The DB subnet '
            "group doesn't meet Availability Zone (AZ) coverage requirement. ... Add subnets to "
            'cover at least 2 AZs.")'
        )


def _group(name: str, spec: GroupSpec, options: DatabaseOptions) -> object:
    what = "cluster parameter group" if name.startswith("Cluster") else "parameter group"
    kind = rds.DBClusterParameterGroup if name.startswith("Cluster") else rds.DBParameterGroup
    return kind(
        name.removesuffix("Name"),
        Description=f"relight {options.engine} {what} (as production's)",
        Family=spec.family,
        Parameters=dict(spec.parameters),
        Tags=Tags(Name=Ref("AWS::StackName")),
    )


def _storage(t: Template, options: DatabaseOptions) -> object:
    """The storage type asked for, else the snapshot's: a restore left without one takes AWS's
    default (gp3), not the snapshot's."""
    if options.storage_type is not None:
        return options.storage_type
    kept = derived_parameter(
        t,
        "StorageType",
        source="SnapshotIdentifier",
        attribute="storage_type",
        Type="String",
        Default="",
        AllowedValues=["", "gp2", "gp3", "io1", "io2", "standard"],
        Description="the snapshot's storage type (filled from it); empty: AWS's default",
    )
    t.add_condition("HasStorageType", Not(Equals(Ref(kept), "")))
    return If("HasStorageType", Ref(kept), Ref("AWS::NoValue"))


def _groups(t: Template, options: DatabaseOptions, replica: bool = False) -> dict[str, object]:
    """The groups to restore with, by Parameter name (R4, R12, R15).

    A restore gets the engine's default groups unless told otherwise. A group declared in the
    params (`parameter_group`, `cluster_parameter_group`: its family and settings, as capture
    records them) is made by this stack in the target region, beside the database that uses
    it; otherwise a Parameter may name one that exists there (preflight checks it). The option
    group is the snapshot copy's own: the one replicate named to CopyDBSnapshot."""
    wanted = {"ParameterGroupName": "DB parameter group to restore with"}
    if options.mode == "aurora":
        wanted["ClusterParameterGroupName"] = "DB cluster parameter group to restore with"
    groups: dict[str, object] = {}
    declared = {"ParameterGroupName": options.parameter_group}
    if options.mode == "aurora":
        declared["ClusterParameterGroupName"] = options.cluster_parameter_group
    for name, what in wanted.items():
        spec = declared[name]
        if spec is None:
            given = optional_parameter(t, name, f"Has{name}", f"{what}; empty for the default")
            groups[name] = If(f"Has{name}", Ref(given), Ref("AWS::NoValue"))
        else:
            groups[name] = Ref(t.add_resource(_group(name, spec, options)))
    if options.mode == "instance" and replica:  # no snapshot to take it from
        given = optional_parameter(
            t,
            "OptionGroupName",
            "HasOptionGroupName",
            "option group in this region; empty for the default",
        )
        groups["OptionGroupName"] = If("HasOptionGroupName", Ref(given), Ref("AWS::NoValue"))
    elif options.mode == "instance":
        option_group = derived_parameter(
            t,
            "OptionGroupName",
            source="SnapshotIdentifier",
            attribute="option_group",
            Type="String",
            Default="",
            Description="option group to restore with: the snapshot copy's (filled from it; "
            "replicate copies with artifacts.NAME.option_groups); empty for the default",
        )
        t.add_condition("HasOptionGroupName", Not(Equals(Ref(option_group), "")))
        groups["OptionGroupName"] = If("HasOptionGroupName", Ref(option_group), Ref("AWS::NoValue"))
    return groups


@blueprint("database", sample={"mode": "instance", "engine": "postgres", "multi_az": True})
def database(options: DatabaseOptions) -> Template:
    """RDS restored from a snapshot (or Aurora from a cluster snapshot), encrypted, no password."""
    if options.data == "replica":
        return _replica(options)
    t = Template(Description=f"relight database ({options.mode}, {options.engine}) from a snapshot")
    purpose_parameter(t)
    snapshot = t.add_parameter(
        Parameter(
            "SnapshotIdentifier",
            Type="String",
            MinLength=1,
            Description="DB (or DB cluster) snapshot to restore, in this region",
        )
    )
    # A restore keeps the snapshot's port (RestoreDBInstanceFromDBSnapshot, RestoreDBCluster-
    # FromSnapshot: "Default: The same port as the original"), which need not be the engine's.
    port = derived_parameter(
        t,
        "Port",
        source="SnapshotIdentifier",
        attribute="port",
        Type="Number",
        MinValue=1150,
        MaxValue=65535,
        Description="the port the restored database keeps: the snapshot's (filled from it)",
    )
    vpc, subnets, client = _network_parameters(t)
    group = t.add_resource(
        ec2.SecurityGroup(
            "DatabaseSecurityGroup",
            GroupDescription="relight database",
            VpcId=Ref(vpc),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=Ref(port),
                    ToPort=Ref(port),
                    SourceSecurityGroupId=Ref(client),
                    Description=f"{options.engine} from the application",
                )
            ],
            SecurityGroupEgress=[no_egress()],
            Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), "db"])),
        )
    )
    subnet_group = t.add_resource(
        rds.DBSubnetGroup(
            "SubnetGroup", DBSubnetGroupDescription="relight data subnets", SubnetIds=Ref(subnets)
        )
    )
    monitoring = None
    if options.monitoring_interval:
        monitoring = t.add_parameter(
            Parameter(
                "MonitoringRoleArn",
                Type="String",
                AllowedPattern=ROLE_ARN,
                Description="the RDS enhanced-monitoring role, from the identity stack (made "
                "ahead of time: a failover creates no IAM resource)",
            )
        )
    common: dict[str, object] = {
        "DBInstanceClass": options.instance_class,
        "PubliclyAccessible": False,
        "AutoMinorVersionUpgrade": True,
        "EnablePerformanceInsights": options.performance_insights,
        "MonitoringInterval": options.monitoring_interval,
        "Tags": Tags(Name=Ref("AWS::StackName")),
    }
    if monitoring is not None:
        common["MonitoringRoleArn"] = Ref(monitoring)
    protected = If(PROTECTED, True, False)
    groups = _groups(t, options)

    def group_name(name: str) -> object:
        return groups[name]

    common["DBParameterGroupName"] = group_name("ParameterGroupName")
    if options.mode == "instance":
        storage = _storage(t, options)
        if options.engine in LIFECYCLE_ENGINES:
            common_instance = {"EngineLifecycleSupport": options.engine_lifecycle_support}
        else:
            common_instance = {}
        instance = t.add_resource(
            rds.DBInstance(
                "Database",
                DeletionPolicy="Snapshot",
                UpdateReplacePolicy="Snapshot",
                DBSnapshotIdentifier=Ref(snapshot),
                OptionGroupName=group_name("OptionGroupName"),
                DBSubnetGroupName=Ref(subnet_group),
                VPCSecurityGroups=[Ref(group)],
                MultiAZ=options.multi_az,
                StorageType=storage,
                BackupRetentionPeriod=options.backup_retention_days,
                DeletionProtection=protected,
                EnableIAMDatabaseAuthentication=True,
                EnableCloudwatchLogsExports=LOG_EXPORTS[options.engine],
                CopyTagsToSnapshot=True,
                **common_instance,
                Metadata=scan_skips(
                    {
                        "CKV_AWS_16": "a restore inherits encryption from its snapshot; "
                        "relight restores from encrypted copies"
                    }
                ),
                **common,
            )
        )
        t.add_output(Output("Endpoint", Value=GetAtt(instance, "Endpoint.Address")))
        t.add_output(Output("DatabaseIdentifier", Value=Ref(instance)))
    else:
        key = optional_parameter(
            t, "KmsKeyId", "HasKmsKey", "KMS key in this region; empty to keep the snapshot's"
        )
        cluster = t.add_resource(
            rds.DBCluster(
                "Cluster",
                DeletionPolicy="Snapshot",
                UpdateReplacePolicy="Snapshot",
                Engine=options.engine,
                SnapshotIdentifier=Ref(snapshot),
                DBClusterParameterGroupName=group_name("ClusterParameterGroupName"),
                # No StorageEncrypted: with SnapshotIdentifier it is inherited from the snapshot
                # (AWS::RDS::DBCluster); a key given here re-encrypts the restore with it.
                KmsKeyId=If("HasKmsKey", Ref(key), Ref("AWS::NoValue")),
                EngineLifecycleSupport=options.engine_lifecycle_support,
                DBSubnetGroupName=Ref(subnet_group),
                VpcSecurityGroupIds=[Ref(group)],
                BackupRetentionPeriod=options.backup_retention_days,
                DeletionProtection=protected,
                EnableIAMDatabaseAuthentication=True,
                EnableCloudwatchLogsExports=LOG_EXPORTS[options.engine],
                CopyTagsToSnapshot=True,
            )
        )
        for index in range(options.aurora_instances):
            t.add_resource(
                rds.DBInstance(
                    f"ClusterInstance{index + 1}",
                    Engine=options.engine,
                    DBClusterIdentifier=Ref(cluster),
                    **common,
                )
            )
        t.add_output(Output("Endpoint", Value=GetAtt(cluster, "Endpoint.Address")))
        t.add_output(Output("ReaderEndpoint", Value=GetAtt(cluster, "ReadEndpoint.Address")))
        t.add_output(Output("DatabaseIdentifier", Value=Ref(cluster)))
    t.add_output(Output("Port", Value=Ref(port)))
    t.add_output(Output("SecurityGroupId", Value=GetAtt(group, "GroupId")))
    if options.app_secret is not None:
        _app_secret(t, options.app_secret)
    return t


def _app_secret(t: Template, name: str) -> None:
    """The application's secret: its ARN in this region, filled by relight, passed through."""
    arn = t.add_parameter(
        Parameter(
            "AppSecretArn",
            Type="String",
            AllowedPattern=SECRET_ARN,
            Description=f"the ARN of secret {name} in this region (its replica; relight fills "
            "it): the application reads the value, never the template",
        )
    )
    t.add_output(
        Output(
            "AppSecretArn",
            Value=Ref(arn),
            Description="the application's secret in this region, for the compute stack",
        )
    )


def _network_parameters(t: Template) -> tuple[Parameter, Parameter, Parameter]:
    """The VPC, the data subnets and the application's security group, in either data mode."""
    vpc = t.add_parameter(Parameter("VpcId", Type="AWS::EC2::VPC::Id"))
    subnets = t.add_parameter(
        Parameter("SubnetIds", Type="List<AWS::EC2::Subnet::Id>", Description="data subnets")
    )
    client = t.add_parameter(
        Parameter(
            "ClientSecurityGroupId",
            Type="AWS::EC2::SecurityGroup::Id",
            Description="the application's group, allowed to connect",
        )
    )
    return vpc, subnets, client


# The replica (data: replica): in _database_replica.py, beside this file ------------------------


def _replica(options: DatabaseOptions) -> Template:
    """A cross-region read replica of the home instance, or (mode aurora) a secondary cluster
    of the home cluster's global database (`_database_replica.py`)."""
    parts = _replica_parts()
    shared = parts.Shared(
        groups=lambda t: _groups(t, options, replica=True),
        app_secret=_app_secret,
        network_parameters=_network_parameters,
        log_exports=LOG_EXPORTS[options.engine],
        role_pattern=ROLE_ARN,
    )
    if options.mode == "instance":
        return parts.replica_instance(options, shared)  # type: ignore[no-any-return]
    return parts.secondary_cluster(options, shared)  # type: ignore[no-any-return]


def _replica_parts() -> Any:
    """`_database_replica.py` (not a blueprint: load_registry skips `_` files), loaded once
    from beside this file when a replica is rendered."""
    import importlib.util
    import sys
    from pathlib import Path

    name = f"{__name__}_replica_parts"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("_database_replica.py")
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
