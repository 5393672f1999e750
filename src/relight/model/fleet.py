"""What a fleet's options share with AWS's rules: EBS volume limits per volume type, and a
scheduled action of an Auto Scaling group. Blueprints import these through `relight.blueprint`.

The numbers are EC2's, from the EC2 API Reference's `LaunchTemplateEbsBlockDeviceRequest` and
`CreateVolume` (rows E25 and E26 of docs/aws-behaviours.md): a value outside them is refused at
render, naming the option, instead of by EC2 at launch, during a failover.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from relight.model.blueprint import Options

VolumeType = Literal["gp2", "gp3", "io1", "io2", "st1", "sc1", "standard"]

# GiB, per volume type: LaunchTemplateEbsBlockDeviceRequest VolumeSize.
VOLUME_SIZES: dict[str, tuple[int, int]] = {
    "gp2": (1, 16384),
    "gp3": (1, 65536),
    "io1": (4, 16384),
    "io2": (4, 65536),
    "st1": (125, 16384),
    "sc1": (125, 16384),
    "standard": (1, 1024),
}
# IOPS, only for these types ("supported for io1, io2, and gp3 volumes only"; required for
# io1 and io2; gp3's default 3,000).
VOLUME_IOPS: dict[str, tuple[int, int]] = {
    "gp3": (3000, 80000),
    "io1": (100, 64000),
    "io2": (100, 256000),
}
# MiB/s, gp3 only ("Supported for gp3 volumes only. Omit for all other volume types").
GP3_THROUGHPUT = (125, 2000)
SOURCE = "EC2 API Reference, LaunchTemplateEbsBlockDeviceRequest"


def check_volume_size(size: int | None, kind: str) -> int | None:
    if size is None:
        return None
    low, high = VOLUME_SIZES[kind]
    if not low <= size <= high:
        raise ValueError(f"a {kind} volume is {low}-{high} GiB ({SOURCE}); {size} is not")
    return size


def check_volume_iops(iops: int | None, kind: str) -> int | None:
    if kind not in VOLUME_IOPS:
        if iops is not None:
            takes = ", ".join(VOLUME_IOPS)
            raise ValueError(
                f"a {kind} volume takes no IOPS setting (only {takes} do: {SOURCE}); "
                "remove it or change the volume type"
            )
        return None
    if iops is None:
        if kind in ("io1", "io2"):
            raise ValueError(f"a {kind} volume needs its IOPS ({SOURCE}: required for io1, io2)")
        return None
    low, high = VOLUME_IOPS[kind]
    if not low <= iops <= high:
        raise ValueError(f"a {kind} volume takes {low}-{high} IOPS ({SOURCE}); {iops} is not")
    return iops


def check_volume_throughput(throughput: int | None, kind: str) -> int | None:
    if throughput is None:
        return None
    if kind != "gp3":
        raise ValueError(
            f"a {kind} volume takes no throughput setting (gp3 only: {SOURCE}); "
            "remove it or change the volume type"
        )
    low, high = GP3_THROUGHPUT
    if not low <= throughput <= high:
        raise ValueError(
            f"a gp3 volume takes {low}-{high} MiB/s of throughput ({SOURCE}); {throughput} is not"
        )
    return throughput


# The ratios EC2 refuses a volume past (EBS User Guide, "Amazon EBS volume types" and
# "Provisioned IOPS SSD volumes"; row E27): IOPS per GiB of size, and for gp3 MiB/s of
# throughput per IOPS. gp3's baseline (3,000 IOPS, 125 MiB/s) comes with any size.
IOPS_PER_GIB: dict[str, int] = {"gp3": 500, "io1": 50, "io2": 1000}
GP3_BASELINE_IOPS, GP3_BASELINE_THROUGHPUT = 3000, 125
GP3_MIB_PER_IOPS = 0.25
RATIO_SOURCE = "EBS User Guide, Amazon EBS volume types"


def check_volume_ratios(
    kind: str, size: int | None, iops: int | None, throughput: int | None
) -> list[tuple[str, str]]:
    """(option, why) for each ratio EC2 would refuse: IOPS over the type's IOPS per GiB of
    `size` (checked only when the size is given: a volume restored at its snapshot's size is
    checked by preflight's size, not here), a gp3 throughput over a quarter of its IOPS."""
    found: list[tuple[str, str]] = []
    per_gib = IOPS_PER_GIB.get(kind)
    baseline = GP3_BASELINE_IOPS if kind == "gp3" else 0
    if per_gib and size is not None and iops is not None and iops > max(baseline, per_gib * size):
        found.append(
            (
                "data_volume_iops",
                f"{iops} IOPS on a {size} GiB {kind} volume is over {per_gib} IOPS per GiB "
                f"({RATIO_SOURCE}): at most {per_gib * size}; lower the IOPS or set "
                f"data_volume_size to at least {-(-iops // per_gib)}",
            )
        )
    if kind == "gp3" and throughput is not None:
        provisioned = iops if iops is not None else GP3_BASELINE_IOPS
        allowed = max(GP3_BASELINE_THROUGHPUT, int(provisioned * GP3_MIB_PER_IOPS))
        if throughput > allowed:
            found.append(
                (
                    "data_volume_throughput",
                    f"{throughput} MiB/s on a gp3 volume of {provisioned} IOPS is over "
                    f"{GP3_MIB_PER_IOPS} MiB/s per IOPS ({RATIO_SOURCE}): at most {allowed}; "
                    f"lower it or set data_volume_iops to at least {throughput * 4}",
                )
            )
    return found


def _refuse_ratios(found: list[tuple[str, str]]) -> None:
    if found:
        raise ValueError("; ".join(why for _, why in found))


_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?#LW-]+$")


class ScheduledAction(BaseModel):
    """One scheduled action of an Auto Scaling group, as DescribeScheduledActions reads it
    (`AWS::AutoScaling::ScheduledAction`). CloudFormation names the action itself; `name` is
    production's, kept for the reader and for drift."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=255)
    recurrence: str | None = Field(
        default=None, description="cron, five fields (minute hour day month weekday)"
    )
    start_time: datetime | None = Field(
        default=None,
        description="UTC; Auto Scaling refuses a start time in the past (capture leaves out "
        "one that has passed)",
    )
    end_time: datetime | None = None
    min_size: int | None = Field(default=None, ge=0)
    max_size: int | None = Field(default=None, ge=0)
    desired: int | None = Field(default=None, ge=0)
    time_zone: str | None = Field(default=None, description="IANA name, e.g. Europe/Paris")

    @field_validator("recurrence")
    @classmethod
    def _five_fields(cls, recurrence: str | None) -> str | None:
        if recurrence is None:
            return None
        fields = recurrence.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(
                f"recurrence {recurrence!r} is not a cron expression of five fields "
                '(minute hour day-of-month month day-of-week, e.g. "0 8 * * 1-5")'
            )
        return recurrence

    @model_validator(mode="after")
    def _changes_something(self) -> ScheduledAction:
        if self.min_size is None and self.max_size is None and self.desired is None:
            raise ValueError(
                f"scheduled action {self.name!r} sets none of min_size, max_size, desired: "
                "Auto Scaling needs at least one"
            )
        if self.recurrence is None and self.start_time is None:
            raise ValueError(
                f"scheduled action {self.name!r} has neither recurrence nor start_time: "
                "it would never run"
            )
        if self.start_time and self.end_time and self.end_time <= self.start_time:
            raise ValueError(f"scheduled action {self.name!r} ends before it starts")
        return self

    def properties(self) -> dict[str, object]:
        """Its `AWS::AutoScaling::ScheduledAction` properties, but the group's name (times in
        UTC: "in YYYY-MM-DDThh:mm:ssZ format in UTC/GMT only")."""
        props: dict[str, object] = {
            key: _utc(value)
            for key, value in (("StartTime", self.start_time), ("EndTime", self.end_time))
            if value is not None
        }
        for key, value in (
            ("Recurrence", self.recurrence),
            ("TimeZone", self.time_zone),
            ("MinSize", self.min_size),
            ("MaxSize", self.max_size),
            ("DesiredCapacity", self.desired),
        ):
            if value is not None:
                props[key] = value
        return props


def _utc(when: datetime) -> str:
    """A naive time is UTC already."""
    return (when.astimezone(UTC) if when.tzinfo else when).strftime("%Y-%m-%dT%H:%M:%SZ")


class FleetOptions(Options):
    """The options of a fleet's data volume and of its Auto Scaling group's settings beyond
    its size: what capture reads from production and writes as read. Each default is what the
    compute blueprint did before it had the option."""

    data_volume: bool = Field(default=True, description="each instance gets a data volume")
    data_device: str = "/dev/sdf"
    data_volume_type: VolumeType = "gp3"
    data_volume_size: int | None = Field(
        default=None,
        description="GiB. Unset: the volume is restored from DataSnapshotId (required) at the "
        "snapshot's size. Set: DataSnapshotId may be empty, and the volume is then created "
        "empty of this size (else restored, grown to this size: at least the snapshot's)",
    )
    data_volume_iops: int | None = Field(
        default=None, validate_default=True, description="gp3, io1, io2 only (io1/io2: required)"
    )
    data_volume_throughput: int | None = Field(default=None, description="MiB/s, gp3 only")
    data_volume_encrypted: bool = Field(
        default=True,
        description="with KmsKeyId when given, else the account's default EBS key; false asks "
        "nothing (a snapshot's volume keeps its encryption, and an account that encrypts by "
        "default still encrypts)",
    )
    health_check_type: Literal["EC2", "ELB"] = Field(
        default="ELB",
        description="asg: ELB counts the target group's health checks (while the group is "
        "registered with one: a standby without TargetGroupArn checks EC2); EC2 only the "
        "instance's status checks",
    )
    default_cooldown: int | None = Field(default=None, ge=0, description="seconds (AWS: 300)")
    default_instance_warmup: int | None = Field(default=None, ge=0, description="seconds")
    max_instance_lifetime: int | None = Field(
        default=None, description="seconds: 0 (none) or at least 86400"
    )
    termination_policies: list[str] | None = None
    capacity_rebalance: bool = False
    scheduled_actions: list[ScheduledAction] = Field(default_factory=list)

    # what only an Auto Scaling group has (mode: asg)
    GROUP_ONLY: ClassVar[frozenset[str]] = frozenset(
        {
            "health_check_type",
            "default_cooldown",
            "default_instance_warmup",
            "max_instance_lifetime",
            "termination_policies",
            "capacity_rebalance",
            "scheduled_actions",
        }
    )

    @field_validator("data_volume_size")
    @classmethod
    def _size(cls, size: int | None, info: ValidationInfo) -> int | None:
        return check_volume_size(size, info.data.get("data_volume_type", "gp3"))

    @field_validator("data_volume_iops")
    @classmethod
    def _iops(cls, iops: int | None, info: ValidationInfo) -> int | None:
        if not info.data.get("data_volume", True):
            return iops
        kind = info.data.get("data_volume_type", "gp3")
        checked = check_volume_iops(iops, kind)
        _refuse_ratios(check_volume_ratios(kind, info.data.get("data_volume_size"), checked, None))
        return checked

    @field_validator("data_volume_throughput")
    @classmethod
    def _throughput(cls, throughput: int | None, info: ValidationInfo) -> int | None:
        kind = info.data.get("data_volume_type", "gp3")
        checked = check_volume_throughput(throughput, kind)
        if info.data.get("data_volume", True):
            iops = info.data.get("data_volume_iops")
            _refuse_ratios(check_volume_ratios(kind, None, iops, checked))
        return checked

    @field_validator("max_instance_lifetime")
    @classmethod
    def _lifetime(cls, seconds: int | None) -> int | None:
        if seconds is not None and seconds != 0 and seconds < 86400:
            raise ValueError(
                f"{seconds} s: Auto Scaling takes 0 (no limit) or at least 86400 seconds "
                "(1 day: CreateAutoScalingGroup MaxInstanceLifetime)"
            )
        return seconds

    @property
    def empty_data(self) -> bool:
        """Whether the data volume may be created empty (no DataSnapshotId given)."""
        return self.data_volume and self.data_volume_size is not None

    def group_settings(self) -> dict[str, object]:
        """The Auto Scaling group's properties for the settings production had beyond AWS's
        defaults (capture writes them only then): left out, AWS's defaults apply, as before
        the options existed."""
        found: dict[str, object] = {}
        if self.default_cooldown is not None:
            found["Cooldown"] = str(self.default_cooldown)
        if self.default_instance_warmup is not None:
            found["DefaultInstanceWarmup"] = self.default_instance_warmup
        if self.max_instance_lifetime is not None:
            found["MaxInstanceLifetime"] = self.max_instance_lifetime
        if self.termination_policies:
            found["TerminationPolicies"] = list(self.termination_policies)
        if self.capacity_rebalance:
            found["CapacityRebalance"] = True
        return found
