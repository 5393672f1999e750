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
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from troposphere import (
    GetAtt,
    If,
    Join,
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
    no_egress,
    optional_parameter,
    purpose_parameter,
    scan_skips,
)

ENGINE_PORTS = {
    "postgres": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "aurora-postgresql": 5432,
    "aurora-mysql": 3306,
}
LOG_EXPORTS = {
    "postgres": ["postgresql", "upgrade"],
    "aurora-postgresql": ["postgresql"],
    "mysql": ["error", "general", "slowquery"],
    "mariadb": ["error", "general", "slowquery"],
    "aurora-mysql": ["error", "general", "slowquery"],
}
ROLE_ARN = r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/.+$"


class DatabaseOptions(Options):
    mode: Literal["instance", "aurora"] = "instance"
    engine: Literal["postgres", "mysql", "mariadb", "aurora-postgresql", "aurora-mysql"] = (
        "postgres"
    )
    instance_class: str = Field(default="db.t4g.medium", pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")
    aurora_instances: int = Field(default=2, ge=1, le=15, description="writer + readers")
    multi_az: bool = True
    storage_type: Literal["gp3", "io1", "io2"] = "gp3"
    backup_retention_days: int = Field(default=7, ge=1, le=35)
    monitoring_interval: Literal[0, 1, 5, 10, 15, 30, 60] = 60
    performance_insights: bool = True

    @model_validator(mode="after")
    def _engine_fits_mode(self) -> DatabaseOptions:
        aurora = self.engine.startswith("aurora-")
        if aurora != (self.mode == "aurora"):
            wanted = "an aurora-* engine" if self.mode == "aurora" else "a non-Aurora engine"
            raise ValueError(f"mode {self.mode} needs {wanted}, not {self.engine}")
        return self

    @property
    def port(self) -> int:
        return ENGINE_PORTS[self.engine]

    def fewest_zones(self) -> tuple[int, str] | None:
        return 2, (
            'its DB subnet group must cover at least 2 AZs (RDS refuses fewer: "The DB subnet '
            "group doesn't meet Availability Zone (AZ) coverage requirement. ... Add subnets to "
            'cover at least 2 AZs.")'
        )


@blueprint("database", sample={"mode": "instance", "engine": "postgres", "multi_az": True})
def database(options: DatabaseOptions) -> Template:
    """RDS restored from a snapshot (or Aurora from a cluster snapshot), encrypted, no password."""
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
    group = t.add_resource(
        ec2.SecurityGroup(
            "DatabaseSecurityGroup",
            GroupDescription="relight database",
            VpcId=Ref(vpc),
            SecurityGroupIngress=[
                ec2.SecurityGroupRule(
                    IpProtocol="tcp",
                    FromPort=options.port,
                    ToPort=options.port,
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
    # A restore gets the engine's default groups unless told otherwise: the environment file
    # names the ones production uses (they must exist in the target region beforehand).
    wanted = {"ParameterGroupName": "DB parameter group to restore with"}
    if options.mode == "aurora":
        wanted["ClusterParameterGroupName"] = "DB cluster parameter group to restore with"
    else:
        wanted["OptionGroupName"] = "option group to restore with"
    groups = {
        name: optional_parameter(t, name, f"Has{name}", f"{what}; empty for the default")
        for name, what in wanted.items()
    }

    def group_name(name: str) -> If:
        return If(f"Has{name}", Ref(groups[name]), Ref("AWS::NoValue"))

    common["DBParameterGroupName"] = group_name("ParameterGroupName")
    if options.mode == "instance":
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
                StorageType=options.storage_type,
                BackupRetentionPeriod=options.backup_retention_days,
                DeletionProtection=protected,
                EnableIAMDatabaseAuthentication=True,
                EnableCloudwatchLogsExports=LOG_EXPORTS[options.engine],
                CopyTagsToSnapshot=True,
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
                KmsKeyId=If("HasKmsKey", Ref(key), Ref("AWS::NoValue")),
                StorageEncrypted=True,
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
    t.add_output(Output("Port", Value=str(options.port)))
    t.add_output(Output("SecurityGroupId", Value=GetAtt(group, "GroupId")))
    return t
