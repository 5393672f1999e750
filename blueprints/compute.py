"""compute: instances from an AMI, as an Auto Scaling group or as fixed instances.

Both modes launch with the same settings (an Auto Scaling group through a
launch template, fixed instances with them as their own properties): the AMI and the data volume's
snapshot are Parameters filled by discovery; the root volume is gp3 and the data volume as its
options say (gp3 by default; empty at `data_volume_size` when no snapshot is given), both
encrypted (with `KmsKeyId` when given, else the account's default EBS key);
IMDSv2 is required; user data is rendered from a Jinja2 template in
`blueprints/user_data/`. Instances spread across the subnets, one per AZ in
turn. In `asg` mode, the group registers with `TargetGroupArn` when one is given, and has
the health checks, settings and scheduled actions its options give (`FleetOptions`).

In `asg` mode the group's DesiredCapacity is the `DesiredCapacity` Parameter when it is given
and the options' size (`desired`, else `min_size`) when it is empty. CloudFormation sets the
group to the template's value whenever it updates the group, so a size hard-coded here would
shrink a fleet scaled by hand during an incident on the next rerun; relight's deploy fills the
Parameter with the live size of an existing group when that is larger (steps/live_scale.py).
With `wait_for_signals` (on by default) each instance signals CloudFormation once the
application answers `health_check_path` locally, and the group's creation (CreationPolicy) and
rolling updates (WaitOnResourceSignals) wait for those signals instead of a blind pause.

No IAM resource is made here: IAM's control plane is in us-east-1, which a
failover must not depend on. The instance profile comes from the identity
stack (blueprints/identity.py, deployed ahead of time by `relight prepare`)
as the `InstanceProfileArn` Parameter, e.g. `{output: identity.WebInstanceProfileArn}`.
A launch template takes that ARN; an EC2 instance takes the profile's name,
which the template reads from the ARN's last part (identity makes its profiles
with the path "/", and the Parameter's pattern refuses a profile with another
path, where that part would not be the name). So one Parameter serves both modes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import jinja2
from pydantic import Field, field_validator, model_validator
from troposphere import (
    Base64,
    Equals,
    GetAtt,
    If,
    Join,
    Not,
    Output,
    Parameter,
    Ref,
    Select,
    Split,
    Sub,
    Tags,
    Template,
    autoscaling,
    ec2,
    policies,
)

from relight.blueprint import (
    FleetOptions,
    blueprint,
    derived_parameter,
    optional_parameter,
    scan_skips,
)

USER_DATA = Path(__file__).parent / "user_data"
# An instance profile with the path "/" (identity's): the name is all that follows the type.
INSTANCE_PROFILE_ARN = r"^arn:aws[a-zA-Z-]*:iam::\d{12}:instance-profile/[\w+=,.@-]+$"
GROUP = "AutoScalingGroup"  # the group's logical id: what the instances signal
DEVICE_WAIT_SECONDS = 300  # how long the user data waits for the data volume to appear


class ComputeOptions(FleetOptions):
    """The fleet's shape; its data volume and group settings are `FleetOptions`."""

    mode: Literal["asg", "instances"] = "asg"
    instance_type: str = Field(default="t3.micro", pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    ebs_optimized: bool = Field(
        default=False,
        description="ask for EBS optimization: only for a type that supports it without having "
        "it by default (current types are EBS-optimized by default; preflight refuses a type "
        "that does not support it)",
    )
    az_count: int = Field(default=2, ge=1, le=6, description="length of SubnetIds")
    count: int = Field(default=2, ge=1, description="instances (mode: instances)")
    min_size: int = Field(default=2, ge=0, le=1000)
    max_size: int = Field(default=4, ge=1, le=1000)
    desired: int | None = Field(default=None, ge=0, le=1000)
    mount_point: str = "/data"
    delete_data_on_teardown: bool = Field(
        default=False,
        description="the data volume's DeleteOnTermination: false keeps restored data volumes "
        "when instances go away (capture writes true for a group whose production volumes "
        "are deleted on termination: nothing reattaches a group's kept volume)",
    )
    app_port: int = Field(default=8080, ge=1, le=65535)
    user_data: str | None = Field(default="web.sh.j2", description="template in user_data/")
    user_data_environment: dict[str, str] = Field(default_factory=dict)
    user_data_command: str = ""
    health_check_grace_seconds: int = Field(default=300, ge=0)
    update_pause_seconds: int = Field(
        default=60,
        ge=0,
        le=3600,
        description="asg without wait_for_signals: the blind wait between batches of a "
        "rolling replacement (a new AMI, say)",
    )
    wait_for_signals: bool = Field(
        default=True,
        description="asg: each instance signals CloudFormation once the application is ready; "
        "the group's creation and rolling updates wait for the signals",
    )
    health_check_path: str | None = Field(
        default="/health",
        pattern=r"^(/[A-Za-z0-9._~/-]*)?$",
        description='asg: ready means this path answers on app_port locally ("": ready '
        "once the user data is done; in a file, null means the default)",
    )
    signal_timeout_seconds: int = Field(
        default=900,
        ge=60,
        le=3600,
        description="asg: how long CloudFormation waits for the signals of a creation or of "
        "a batch of a rolling update (the rolling update's PauseTime: at most 1 h)",
    )
    min_successful_percent: int = Field(
        default=100,
        ge=0,
        le=100,
        description="asg: the share of a rolling update's new instances that must signal success",
    )

    @field_validator("user_data")
    @classmethod
    def _template_exists(cls, name: str | None) -> str | None:
        if name is not None and not (USER_DATA / name).is_file():
            known = ", ".join(sorted(p.name for p in USER_DATA.glob("*.j2")))
            raise ValueError(f"no user data template {name!r} in {USER_DATA}; known: {known}")
        return name

    @property
    def desired_capacity(self) -> int:
        return self.desired if self.desired is not None else self.min_size

    @model_validator(mode="after")
    def _sizes(self) -> ComputeOptions:
        desired = self.desired_capacity
        if not self.min_size <= desired <= self.max_size:
            raise ValueError(
                f"min_size {self.min_size} <= desired {desired} <= max_size {self.max_size} "
                "does not hold"
            )
        return self

    @model_validator(mode="after")
    def _group_only(self) -> ComputeOptions:
        given = sorted(self.GROUP_ONLY & self.model_fields_set) if self.mode == "instances" else []
        if given:
            raise ValueError(
                f"{', '.join(given)}: only an Auto Scaling group (mode: asg) has this; fixed "
                "instances (mode: instances) would ignore it"
            )
        return self

    @property
    def signals(self) -> bool:
        """Whether CloudFormation waits for the instances' signals (asg mode only)."""
        return self.mode == "asg" and self.wait_for_signals

    @model_validator(mode="after")
    def _something_signals(self) -> ComputeOptions:
        """With signals, the user data must send them: else every creation and rolling update
        would wait signal_timeout_seconds and fail."""
        if not self.signals:
            return self
        script = self.rendered_user_data()
        if script is None or "cfn-signal" not in script:
            what = "no user data" if script is None else f"user data {self.user_data!r}"
            raise ValueError(
                f"wait_for_signals: {what} sends no signal (cfn-signal), so CloudFormation "
                "would wait for signals that never come; signal as web.sh.j2 does, or set "
                "wait_for_signals: false"
            )
        return self

    def rendered_user_data(self) -> str | None:
        if self.user_data is None:
            return None
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(USER_DATA),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        return env.get_template(self.user_data).render(
            data_device=self.data_device if self.data_volume else None,
            device_wait_seconds=DEVICE_WAIT_SECONDS,
            format_if_empty=self.empty_data,
            mount_point=self.mount_point,
            app_port=self.app_port,
            environment=self.user_data_environment,
            command=self.user_data_command,
            signal=self._signal() if self.signals else None,
        )

    def _signal(self) -> dict[str, object]:
        """What the user data needs to signal the group: its logical id, what to ask locally,
        and how long (a FAILURE before CloudFormation's own timeout says why, and sooner)."""
        path = self.health_check_path
        return {
            "resource": GROUP,
            "health_url": f"http://127.0.0.1:{self.app_port}{path}" if path else None,
            "wait_seconds": max(30, self.signal_timeout_seconds - 120),
        }


def _volumes(options: ComputeOptions, snapshot: Parameter | None, fixed: bool) -> list[object]:
    """Root and data volumes: gp3, encrypted, the data volume restored from the snapshot.

    The root volume is the AMI's own: its device name and size come from the discovered
    image (RootDeviceName, RootVolumeSize), so an AMI rooted at /dev/sda1 gets no extra blank
    volume and a root snapshot over the size never fails the launch. Without
    `data_volume_size` the data volume has no size: EC2 gives a volume restored from a snapshot
    the snapshot's size. With it, the snapshot is optional (empty: a blank volume of that
    size) and a restored volume is grown to it (EC2 refuses a size below the snapshot's).
    """
    mapping, device = (
        (ec2.BlockDeviceMapping, ec2.EbsBlockDevice)
        if fixed
        else (ec2.LaunchTemplateBlockDeviceMapping, ec2.EBSBlockDevice)
    )
    key = If("HasKmsKey", Ref("KmsKeyId"), Ref("AWS::NoValue"))
    volumes = [
        mapping(
            DeviceName=Ref("RootDeviceName"),
            Ebs=device(
                VolumeType="gp3",
                VolumeSize=Ref("RootVolumeSize"),
                Encrypted=True,
                KmsKeyId=key,
                DeleteOnTermination=True,
            ),
        )
    ]
    if snapshot is not None:
        data: dict[str, object] = {
            "SnapshotId": (
                If("HasDataSnapshot", Ref(snapshot), Ref("AWS::NoValue"))
                if options.empty_data
                else Ref(snapshot)
            ),
            "VolumeType": options.data_volume_type,
            # false leaves it to the snapshot and the account's encryption by default
            "Encrypted": True if options.data_volume_encrypted else Ref("AWS::NoValue"),
            "KmsKeyId": key if options.data_volume_encrypted else Ref("AWS::NoValue"),
            "DeleteOnTermination": options.delete_data_on_teardown,
        }
        for name, value in (
            ("VolumeSize", options.data_volume_size),
            ("Iops", options.data_volume_iops),
            ("Throughput", options.data_volume_throughput),
        ):
            if value is not None:
                data[name] = value
        volumes.append(mapping(DeviceName=options.data_device, Ebs=device(**data)))
    return volumes


def _rolling_update(options: ComputeOptions) -> policies.UpdatePolicy:
    """A new launch template version (a newer AMI or data snapshot) replaces the running
    instances; without an UpdatePolicy only instances launched later would get it.

    Suited to recovery: half the group (at the options' size) at a time, so the rest keeps
    serving; with signals, each batch's new instances must signal that the application
    answers before the next batch (PauseTime is then how long CloudFormation waits for them,
    and an update whose instances do not signal fails); without, a blind pause between
    batches. The processes that would fight the replacement (health-check replacement, AZ
    rebalancing, scheduled and alarm-driven scaling) are suspended while it runs, as AWS
    recommends.
    """
    desired = options.desired_capacity
    batch = max(1, (desired + 1) // 2)
    waiting: dict[str, object] = (
        {
            "PauseTime": f"PT{options.signal_timeout_seconds}S",
            "WaitOnResourceSignals": True,
            "MinSuccessfulInstancesPercent": options.min_successful_percent,
        }
        if options.signals
        else {"PauseTime": f"PT{options.update_pause_seconds}S"}
    )
    return policies.UpdatePolicy(
        AutoScalingRollingUpdate=policies.AutoScalingRollingUpdate(
            MaxBatchSize=batch,
            MinInstancesInService=max(0, desired - batch),
            SuspendProcesses=[
                "HealthCheck",
                "ReplaceUnhealthy",
                "AZRebalance",
                "AlarmNotification",
                "ScheduledActions",
            ],
            **waiting,
        )
    )


def _update_policy(options: ComputeOptions) -> policies.UpdatePolicy:
    """The rolling update, and with scheduled actions the `AutoScalingScheduledAction` policy:
    "When you update a stack with an Auto Scaling group and scheduled action, CloudFormation
    always sets the min size, max size, and desired capacity properties of your group to the
    values that are defined in the AWS::AutoScaling::AutoScalingGroup section of your
    template"; `IgnoreUnmodifiedGroupSizeProperties` leaves those the template did not change
    alone, so a rerun while an action is in effect does not undo it (row A13)."""
    policy = _rolling_update(options)
    if options.scheduled_actions:
        policy.AutoScalingScheduledAction = policies.AutoScalingScheduledAction(
            IgnoreUnmodifiedGroupSizeProperties=True
        )
    return policy


def _creation_policy(options: ComputeOptions) -> policies.CreationPolicy:
    """The group is CREATE_COMPLETE once each instance it starts with has signalled. A creation
    starts at the options' size: relight fills DesiredCapacity only for a group that exists,
    and a creation policy applies only when CloudFormation creates the group."""
    return policies.CreationPolicy(
        ResourceSignal=policies.ResourceSignal(
            Count=options.desired_capacity, Timeout=f"PT{options.signal_timeout_seconds}S"
        )
    )


def _desired_capacity(t: Template, options: ComputeOptions) -> If:
    """The group's DesiredCapacity: the Parameter when given (relight's deploy gives the live
    size of an existing group when it is larger), else the options' size."""
    t.add_parameter(
        Parameter(
            "DesiredCapacity",
            Type="String",
            Default="",
            AllowedPattern=r"^[0-9]*$",
            Description="the group's desired capacity; empty for the blueprint's "
            f"({options.desired_capacity}). relight fills it with an existing group's live "
            "size when that is larger, so a rerun never shrinks a fleet scaled by hand",
        )
    )
    t.add_condition("HasDesiredCapacity", Not(Equals(Ref("DesiredCapacity"), "")))
    return If("HasDesiredCapacity", Ref("DesiredCapacity"), str(options.desired_capacity))


# checkov asks every instance for EbsOptimized; the type decides (E20 in aws-behaviours.md).
_NOT_ASKED = scan_skips(
    {
        "CKV_AWS_135": "EBS optimization comes with the instance type (current types have it by "
        "default); asking for it is refused where the type does not support it, so it is asked "
        "only with the ebs_optimized option, which preflight checks against the type"
    }
)


def _launch_settings(
    options: ComputeOptions,
    image: Parameter,
    snapshot: Parameter | None,
    group: Parameter,
    fixed: bool,
) -> dict[str, object]:
    """What every instance is launched with, shaped for an Instance or a launch template."""
    settings: dict[str, object] = {
        "ImageId": Ref(image),
        "InstanceType": options.instance_type,
        "SecurityGroupIds": [Ref(group)],
        "MetadataOptions": ec2.MetadataOptions(
            HttpTokens="required", HttpEndpoint="enabled", HttpPutResponseHopLimit=1
        ),
        "Monitoring": True if fixed else ec2.Monitoring(Enabled=True),
        "BlockDeviceMappings": _volumes(options, snapshot, fixed),
    }
    if options.ebs_optimized:  # only asked for: RunInstances refuses it where unsupported
        settings["EbsOptimized"] = True
    user_data = options.rendered_user_data()
    if user_data is not None:
        settings["UserData"] = Base64(Sub(user_data))
    return settings


@blueprint(
    "compute",
    sample={"mode": "asg", "az_count": 3, "min_size": 3, "max_size": 6, "app_port": 8080},
    # A warm standby's fleet is not in service behind the load balancer before the failover:
    # otherwise the recovery region's record could turn healthy early and take traffic to a
    # standby with no database. The failover registers it (an update of the group).
    standby={"TargetGroupArn": ""},
)
def compute(options: ComputeOptions) -> Template:
    """Instances or an Auto Scaling group from an AMI, data volumes from a snapshot, IMDSv2, SSM."""
    t = Template(Description=f"relight compute ({options.mode})")
    image = t.add_parameter(
        Parameter("ImageId", Type="AWS::EC2::Image::Id", Description="AMI to launch from")
    )
    derived_parameter(
        t,
        "RootDeviceName",
        source="ImageId",
        attribute="root_device",
        Type="String",
        AllowedPattern=r"^/dev/[a-z0-9]+$",
        Description="the AMI's root device name (filled from the discovered image)",
    )
    derived_parameter(
        t,
        "RootVolumeSize",
        source="ImageId",
        attribute="root_size_gb",
        Type="Number",
        MinValue=1,
        MaxValue=16384,
        Description="GiB: the AMI's root snapshot size (filled from the discovered image)",
    )
    for name, what in (
        ("DatabaseEndpoint", "address"),
        ("DatabasePort", "port"),
        ("AppSecretArn", "application secret's ARN in this region (never its value)"),
    ):
        t.add_parameter(
            Parameter(
                name,
                Type="String",
                Default="",
                Description=f"the restored database's {what}, for the application "
                "(user data writes it to /etc/environment); empty for none",
            )
        )
    snapshot = None
    if options.empty_data:
        snapshot = optional_parameter(
            t,
            "DataSnapshotId",
            "HasDataSnapshot",
            "EBS snapshot each data volume is restored from; empty for an empty volume of "
            f"{options.data_volume_size} GiB",
        )
        snapshot.AllowedPattern = r"^(snap-[0-9a-f]+)?$"
    elif options.data_volume:
        snapshot = t.add_parameter(
            Parameter(
                "DataSnapshotId",
                Type="String",
                AllowedPattern=r"^snap-[0-9a-f]+$",
                Description="EBS snapshot each data volume is restored from",
            )
        )
    optional_parameter(
        t,
        "KmsKeyId",
        "HasKmsKey",
        "KMS key for the volumes; empty for the account's default EBS key",
    )
    subnets = t.add_parameter(
        Parameter(
            "SubnetIds",
            Type="List<AWS::EC2::Subnet::Id>",
            Description=f"{options.az_count} subnets, one per AZ",
        )
    )
    group = t.add_parameter(Parameter("SecurityGroupId", Type="AWS::EC2::SecurityGroup::Id"))
    profile = t.add_parameter(
        Parameter(
            "InstanceProfileArn",
            Type="String",
            AllowedPattern=INSTANCE_PROFILE_ARN,
            Description="the instances' profile, from the identity stack (made ahead of time: "
            "a failover creates no IAM resource)",
        )
    )
    if options.mode == "asg":
        target = optional_parameter(
            t, "TargetGroupArn", "HasTargetGroup", "target group to register with; empty for none"
        )
        template = t.add_resource(
            ec2.LaunchTemplate(
                "LaunchTemplate",
                LaunchTemplateData=ec2.LaunchTemplateData(
                    IamInstanceProfile=ec2.IamInstanceProfile(Arn=Ref(profile)),
                    TagSpecifications=[
                        ec2.TagSpecifications(
                            ResourceType=kind, Tags=Tags(Name=Ref("AWS::StackName"))
                        )
                        for kind in ("instance", "volume")
                    ],
                    **_launch_settings(options, image, snapshot, group, fixed=False),
                ),
            )
        )
        desired = _desired_capacity(t, options)
        signalled = (
            {"CreationPolicy": _creation_policy(options)}
            if options.signals and options.desired_capacity > 0
            else {}
        )
        asg = t.add_resource(
            autoscaling.AutoScalingGroup(
                GROUP,
                UpdatePolicy=_update_policy(options),
                **signalled,
                MinSize=str(options.min_size),
                MaxSize=str(options.max_size),
                DesiredCapacity=desired,
                VPCZoneIdentifier=Ref(subnets),
                LaunchTemplate=autoscaling.LaunchTemplateSpecification(
                    LaunchTemplateId=Ref(template),
                    Version=GetAtt(template, "LatestVersionNumber"),
                ),
                TargetGroupARNs=If("HasTargetGroup", [Ref(target)], Ref("AWS::NoValue")),
                HealthCheckType=(
                    If("HasTargetGroup", "ELB", "EC2")
                    if options.health_check_type == "ELB"
                    else "EC2"
                ),
                HealthCheckGracePeriod=options.health_check_grace_seconds,
                Tags=[autoscaling.Tag("Name", Ref("AWS::StackName"), True)],
                **options.group_settings(),
            )
        )
        for index, action in enumerate(options.scheduled_actions):
            t.add_resource(
                autoscaling.ScheduledAction(
                    f"ScheduledAction{index + 1}",
                    AutoScalingGroupName=Ref(asg),
                    **action.properties(),
                )
            )
        t.add_output(Output("AutoScalingGroupName", Value=Ref(asg)))
    else:
        settings = _launch_settings(options, image, snapshot, group, fixed=True)  # built once
        profile_name = Select(1, Split("instance-profile/", Ref(profile)))  # the path is "/"
        instances = [
            t.add_resource(
                ec2.Instance(
                    f"Instance{index + 1}",
                    IamInstanceProfile=profile_name,
                    SubnetId=Select(index % options.az_count, Ref(subnets)),
                    Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), str(index + 1)])),
                    **({} if options.ebs_optimized else {"Metadata": _NOT_ASKED}),
                    **settings,
                )
            )
            for index in range(options.count)
        ]
        t.add_output(Output("InstanceIds", Value=Join(",", [Ref(i) for i in instances])))
    return t
