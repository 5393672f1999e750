"""The environment model: what `stacks/<env>.yaml` declares, as validated types.

Loading (Jinja2, YAML, error messages) lives in `config.py`; this module is
only the shape of a valid environment and the checks that need no AWS call. The
checks of single values it uses (durations, regions, tags, role ARNs) are in
`values.py`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from relight.model.faults import Faults
from relight.model.per_region import (
    PER_REGION,
    PerRegion,
    kms_key_form_problem,
    regional_arn_problem,
)
from relight.model.values import (
    RELIGHT_TAGS,
    ROLE_ARN,
    STACK_TAGS,
    Region,
    Seconds,
    TagKey,
    TagValue,
)

NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
NOUNS = {
    "ami": "AMI",
    "ebs_snapshot": "EBS snapshot",
    "rds_snapshot": "RDS snapshot",
    "rds_cluster_snapshot": "Aurora cluster snapshot",
    "backup_recovery_point": "AWS Backup recovery point",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Objectives(_Strict):
    """Recovery objectives: the oldest data a restore may use, the longest a rebuild may take."""

    rpo: Seconds
    rto: Seconds


class Readiness(_Strict):
    """What `relight readiness` holds the environment to besides its objectives."""

    # The last passing drill into the region may be at most this old.
    max_drill_age: Seconds = 7 * 86400


class Production(_Strict):
    """Where production runs when relight did not build it (`relight capture` writes this):
    `relight drift` reads production there again and compares it with the file."""

    vpc: str | None = Field(default=None, pattern=r"^vpc-[0-9a-f]+$")
    # Select the VPC by its tags instead (what `relight capture --tag` was given).
    tags: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> Production:
        if (self.vpc is None) == (not self.tags):
            raise ValueError("give vpc: VPC_ID or tags: {Key: Value} (one of them)")
        return self


class Zones(_Strict):
    """Which availability zones to build in, chosen by AZ ID, never by name."""

    count: int = Field(default=2, ge=1, le=6)
    # Per target region, the AZ IDs to use (e.g. usw2-az1). Regions not listed use `count`.
    ids: dict[Region, list[str]] = Field(default_factory=dict)

    @field_validator("ids")
    @classmethod
    def _ids_look_like_az_ids(cls, ids: dict[str, list[str]]) -> dict[str, list[str]]:
        for zone_ids in ids.values():
            for zone_id in zone_ids:
                if not re.fullmatch(r"[a-z]{2,5}\d-az\d+", zone_id):
                    raise ValueError(
                        f"{zone_id!r} is not an AZ ID (AZ IDs look like usw2-az1; "
                        "AZ names such as us-west-2a differ between accounts)"
                    )
        return ids

    def count_for(self, region: str) -> int:
        return len(self.ids[region]) if region in self.ids else self.count


class ArtifactLookup(_Strict):
    """How to find one thing to restore from: the newest match in the target region wins."""

    kind: Literal[
        "ami", "ebs_snapshot", "rds_snapshot", "rds_cluster_snapshot", "backup_recovery_point"
    ]
    tags: dict[str, str] = Field(default_factory=dict)
    name: str | None = Field(default=None, description="AMI name pattern (glob), amis only")
    owners: list[str] = Field(default_factory=lambda: ["self"])
    db_instance: str | None = Field(default=None, description="source DB identifier")
    db_cluster: str | None = Field(default=None, description="source Aurora cluster identifier")
    source_volume: str | None = Field(default=None, pattern=r"^vol-[0-9a-f]+$")
    vault: str | None = Field(default=None, description="AWS Backup vault name")
    resource: str | None = Field(default=None, description="backed-up resource id or ARN part")
    # Per target region, the option group a copy of an RDS snapshot gets there: a snapshot of
    # a DB that uses a non-default option group cannot be copied across regions without one.
    option_groups: dict[Region, str] = Field(default_factory=dict)

    @field_validator("option_groups")
    @classmethod
    def _option_groups_by_region(cls, groups: dict[str, str]) -> dict[str, str]:
        for region, group in groups.items():
            if not re.fullmatch(r"[A-Za-z](?!.*--)[A-Za-z0-9-]{0,254}(?<!-)", group):
                raise ValueError(
                    f"{region}: {group!r} is not an option group name (letters, digits and "
                    "single hyphens, starting with a letter, not ending with a hyphen)"
                )
        return groups

    @model_validator(mode="after")
    def _fields_fit_kind(self) -> ArtifactLookup:
        applies = {
            "name": "ami",
            "db_instance": "rds_snapshot",
            "db_cluster": "rds_cluster_snapshot",
            "source_volume": "ebs_snapshot",
            "vault": "backup_recovery_point",
            "resource": "backup_recovery_point",
        }
        for field, kind in applies.items():
            if getattr(self, field) is not None and self.kind != kind:
                raise ValueError(f"'{field}' applies to kind {kind} only, not {self.kind}")
        if self.option_groups and self.kind != "rds_snapshot":
            raise ValueError(f"'option_groups' applies to kind rds_snapshot only, not {self.kind}")
        if self.kind == "backup_recovery_point":
            if not (self.vault and self.resource):
                raise ValueError("a backup_recovery_point lookup names its vault and resource")
        elif not (
            self.tags or self.name or self.db_instance or self.db_cluster or self.source_volume
        ):
            raise ValueError(
                "give at least one selector: tags, name (ami), db_instance (rds_snapshot), "
                "db_cluster (rds_cluster_snapshot) or source_volume (ebs_snapshot); without "
                "one any image or snapshot in the account would match"
            )
        for owner in self.owners:
            if owner != "self" and not re.fullmatch(r"\d{12}", owner):
                raise ValueError(f"owner {owner!r} must be 'self' or a 12-digit account id")
        return self

    def describe(self) -> str:
        """`AMI tagged Role=web named demo-web-*`: how the lookup reads in a message."""
        parts = [NOUNS[self.kind]]
        if self.tags:
            parts.append("tagged " + ",".join(f"{k}={v}" for k, v in sorted(self.tags.items())))
        if self.name:
            parts.append(f"named {self.name}")
        if self.db_instance:
            parts.append(f"of database {self.db_instance}")
        if self.db_cluster:
            parts.append(f"of cluster {self.db_cluster}")
        if self.source_volume:
            parts.append(f"of volume {self.source_volume}")
        if self.vault:
            parts.append(f"of {self.resource} in vault {self.vault}")
        if self.owners != ["self"]:
            parts.append("owned by " + ",".join(self.owners))
        return " ".join(parts)


# Parameter values ---------------------------------------------------------------------------


# What an artifact offers besides its id, as `{artifact: NAME.ATTRIBUTE}`: an AMI's root
# device, and what a restore keeps of a DB (cluster) snapshot.
ARTIFACT_ATTRIBUTES = {
    "root_device": "the AMI's root device name, e.g. /dev/xvda or /dev/sda1",
    "root_size_gb": "the size of the AMI's root volume snapshot, in GiB",
    "port": "the port of a DB (cluster) snapshot, which its restore keeps",
    "storage_type": "the storage type of a DB snapshot, e.g. gp3",
    "option_group": "the option group of a DB snapshot ('' for the engine's default)",
    "engine_version": "the engine version of a DB (cluster) snapshot, e.g. 16.4",
}


class ArtifactRef(_Strict):
    artifact: str
    attribute: str | None = None  # None: the artifact's id

    @property
    def key(self) -> str:
        """How discovery's values name it: `web_ami` or `web_ami.root_device`."""
        return f"{self.artifact}.{self.attribute}" if self.attribute else self.artifact


class OutputRef(_Strict):
    stack: str
    output: str


class ZonesRef(_Strict):
    zones: Literal["names"]


class SecretRef(_Strict):
    """The ARN, in the target region, of the application's secret named `secret` (a database
    stack's `app_secret`): filled by relight, never written in the environment file."""

    secret: str

    @property
    def key(self) -> str:
        """How discovery's values name it: `secret:NAME`."""
        return f"secret:{self.secret}"


# Structured literals (mappings, lists of mappings) are for blueprint options only; a
# CloudFormation Parameter takes a scalar, a list of scalars, or a reference.
Literal_ = str | int | float | bool | list[Any] | dict[str, Any]
ParamValue = ArtifactRef | OutputRef | ZonesRef | SecretRef | PerRegion | Literal_

_REF_FORMS = (
    "{artifact: NAME}, {output: STACK.OUTPUT}, {zones: names} or {per_region: {REGION: VALUE, ...}}"
)
_REF_KEYS = {"artifact", "output", "zones", PER_REGION}


_SCALARS = (str, int, float, bool)


def _artifact_ref(target: str) -> ArtifactRef:
    """`NAME` (the artifact's id) or `NAME.ATTRIBUTE`."""
    name, dot, attribute = target.partition(".")
    if dot and attribute not in ARTIFACT_ATTRIBUTES:
        raise ValueError(
            f"'artifact: {target}': an artifact offers its id ({name}) or one of "
            + ", ".join(f"{name}.{a} ({why})" for a, why in ARTIFACT_ATTRIBUTES.items())
        )
    return ArtifactRef(artifact=name, attribute=attribute or None)


def _per_region(target: Any) -> PerRegion:
    from pydantic import ValidationError

    try:
        return PerRegion.model_validate({PER_REGION: target})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(err["msg"].removeprefix("Value error, ")) from None


def _param_value(value: Any) -> Any:
    if value is None:
        raise ValueError("a parameter needs a value; remove the key to use the default")
    if isinstance(value, (*_SCALARS, list)):
        return value
    if not isinstance(value, dict):  # e.g. a YAML date: pass it on as text
        return str(value)
    if not _REF_KEYS & set(value):
        return value  # a structured option value, validated by the blueprint's options
    if len(value) != 1:
        raise ValueError(f"a reference has exactly one key: {_REF_FORMS}")
    ((key, target),) = value.items()
    if key == "artifact":
        return _artifact_ref(str(target))
    if key == "output":
        stack, dot, output = str(target).partition(".")
        if not dot or not stack or not output:
            raise ValueError(f"'output: {target}' must read STACK.OUTPUT, e.g. network.VpcId")
        return OutputRef(stack=stack, output=output)
    if key == "zones":
        if target != "names":
            raise ValueError("'zones' takes the value 'names' (the AZ names chosen by AZ ID)")
        return ZonesRef(zones="names")
    if key == PER_REGION:  # the target region's entry, resolved when a plan is built
        return _per_region(target)
    raise ValueError(f"unknown reference {key!r}; a reference is {_REF_FORMS}")


Param = Annotated[ParamValue, BeforeValidator(_param_value)]
# In stand_in_params and standby_params, null leaves the key of `params` out there (a
# Parameter that exists only with an option the override turns off, say).
Override = Annotated[
    ParamValue | None, BeforeValidator(lambda v: None if v is None else _param_value(v))
]


# The DR ladder (AWS whitepaper "Disaster Recovery of Workloads on AWS"), lowest rung first:
# what stands ready in a recovery region before a disaster.
STRATEGIES = ("backup_restore", "pilot_light", "warm_standby")
Strategy = Literal["backup_restore", "pilot_light", "warm_standby"]
# A stack's `stands:`: from which rung it is prepared ahead of time (`global`: at every rung,
# for what a failover may not create: IAM roles, Route 53 records and health checks).
Stands = Literal["global", "pilot_light", "warm_standby"]
_RANK = {"global": 0, "backup_restore": 0, "pilot_light": 1, "warm_standby": 2}


# The data axis of the ladder, per database stack (`data:`, `--data` per run): restored from
# snapshot copies at failover, or a cross-region read replica (an Aurora global database's
# secondary cluster) that `relight prepare` keeps replicating and a failover promotes.
DATA_MODES = ("snapshot", "replica")
DataMode = Literal["snapshot", "replica"]


def stands_at(stands: str | None, strategy: str) -> bool:
    """Whether a stack with this `stands:` is prepared ahead of time at `strategy`."""
    return stands is not None and _RANK[stands] <= _RANK[strategy]


class StackSpec(_Strict):
    """One CloudFormation stack: a blueprint, its parameters, what it waits for."""

    blueprint: str
    params: dict[str, Param] = Field(default_factory=dict)
    depends_on: list[str] = Field(default_factory=list)
    # Prepared ahead of time (`relight prepare`) from this rung of the ladder up; built at
    # failover below it. None: always built at failover.
    stands: Stands | None = None
    # What the standing copy runs with instead (reduced capacity, say): a stack with these is
    # prepared with them and scaled up to `params` by the failover (an update in the region).
    standby_params: dict[str, Override] = Field(default_factory=dict)
    # The documented switch for what the local stand-in cannot simulate: skip the stack
    # there, or override some of its params there. Never used on AWS.
    stand_in_skip: bool = False
    stand_in_params: dict[str, Override] = Field(default_factory=dict)
    # The only regions the stack stands in (prepared, built, drilled); elsewhere it is left
    # out. A Route 53 failover record needs it when it could stand in two regions
    # (model/failover_pairs.py). None: every region a run names.
    regions: list[Region] | None = Field(default=None, min_length=1)
    # The stack is made in another account, as this role (assumed through STS in the region
    # relight acts in): the dns stack's, when the hosted zone is another account's.
    role_arn: str | None = Field(default=None, pattern=ROLE_ARN.pattern)
    # A database stack's data mode (model/data_modes.py): restored from a snapshot copy at
    # failover ("snapshot", the default), or a replica prepared ahead of time and promoted.
    data: DataMode | None = None

    @field_validator("regions")
    @classmethod
    def _regions_once(cls, regions: list[str] | None) -> list[str] | None:
        if regions is not None and len(set(regions)) != len(regions):
            raise ValueError(f"{regions}: each region once")
        return regions

    def stands_in(self, region: str) -> bool:
        """Whether `regions:` lets the stack stand in `region`."""
        return self.regions is None or region in self.regions

    def params_for(self, stand_in: bool, standby: bool = False) -> dict[str, ParamValue]:
        """The params on the stand-in or AWS; `standby`: the standing copy's (prepare)."""
        params: dict[str, ParamValue | None] = dict(self.params)
        if stand_in:
            params.update(self.stand_in_params)
        if standby:
            params.update(self.standby_params)
        return {k: v for k, v in params.items() if v is not None}

    @model_validator(mode="after")
    def _standby_needs_stands(self) -> StackSpec:
        if self.standby_params and self.stands in (None, "global"):
            raise ValueError(
                "standby_params are what a standing copy runs with: give the stack "
                "stands: pilot_light or stands: warm_standby too"
            )
        return self

    def output_refs(
        self, stand_in: bool | None = None, standby: bool = False
    ) -> list[tuple[str, OutputRef]]:
        """The outputs this stack reads: on AWS (False), on the stand-in (True), or in
        either (None: what a graph of the file must hold); `standby`: its standing copy's."""
        if stand_in is None:
            pairs: list[tuple[str, ParamValue | None]] = [
                *self.params.items(),
                *self.stand_in_params.items(),
                *self.standby_params.items(),
            ]
        else:
            pairs = list(self.params_for(stand_in, standby).items())
        return [(k, v) for k, v in pairs if isinstance(v, OutputRef)]

    def uses_artifact(self, name: str) -> bool:
        every = {**self.params, **self.stand_in_params, **self.standby_params}
        return any(isinstance(v, ArtifactRef) and v.artifact == name for v in every.values())

    def dependencies(self, stand_in: bool | None = None, standby: bool = False) -> set[str]:
        """Explicit `depends_on` plus the stacks whose outputs this one reads (see output_refs)."""
        refs = self.output_refs(stand_in, standby)
        return set(self.depends_on) | {ref.stack for _, ref in refs}


class Environment(_Strict):
    """A whole environment: where it lives, what to restore it from, and its stacks."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    home_region: Region
    recovery_regions: list[Region] = Field(default_factory=list)
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    role_arn: str | None = Field(default=None, pattern=ROLE_ARN.pattern)  # as --role-arn
    # The account that restores, when backups live in another one: replicate shares the
    # source artifacts with it and copies them from there.
    recovery_account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    # Per region, the KMS key that copies into it are encrypted with.
    kms_keys: dict[Region, str] = Field(default_factory=dict)
    stand_in: bool = Field(
        default=False, description="run on the local stand-in (moto), never on AWS"
    )
    # Production that relight did not build (captured): where drift reads it.
    production: Production | None = None
    # Faults the stand-in injects (schema model/faults.py, injected by standin/faults.py), for
    # drills; ignored on AWS, with a note.
    stand_in_faults: Faults | None = None
    # The rung of the DR ladder: what stands ready in the recovery regions (`--strategy`
    # overrides it for one run).
    strategy: Strategy = "backup_restore"
    # Overrides of the price table (model/prices.py), e.g. {"ec2:t3.small": 0.025} per hour.
    prices: dict[str, float] = Field(default_factory=dict)
    objectives: Objectives
    readiness: Readiness = Field(default_factory=Readiness)
    tags: dict[TagKey, TagValue] = Field(default_factory=dict)
    zones: Zones = Field(default_factory=Zones)
    artifacts: dict[str, ArtifactLookup] = Field(default_factory=dict)
    stacks: dict[str, StackSpec] = Field(min_length=1)
    blueprints_dir: str | None = None

    @field_validator("artifacts", "stacks")
    @classmethod
    def _keys_are_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if not re.fullmatch(r"[a-z][a-z0-9_-]*", key):
                raise ValueError(f"{key!r}: names are lower case letters, digits, '-' and '_'")
        return value

    @field_validator("kms_keys")
    @classmethod
    def _keys_of_their_region(cls, keys: dict[str, str]) -> dict[str, str]:
        for region, key in keys.items():
            wrong = kms_key_form_problem(key) or regional_arn_problem(region, key)
            if wrong:
                raise ValueError(f"{region}: {wrong}")
        return keys

    @field_validator("prices")
    @classmethod
    def _prices_are_prices(cls, prices: dict[str, float]) -> dict[str, float]:
        from relight.model.prices import check_prices

        check_prices(prices)
        return prices

    @model_validator(mode="after")
    def _standing_stacks_read_standing_stacks(self) -> Environment:
        """A stack prepared from a rung reads only stacks prepared at that rung too: before
        a disaster nothing else exists."""
        for key, spec in self.stacks.items():
            if spec.stands is None:
                continue
            refs = {ref for s in (False, True) for _, ref in spec.output_refs(s, standby=True)}
            for ref in sorted(refs, key=lambda r: (r.stack, r.output)):
                other = self.stacks.get(ref.stack)
                if other is None:
                    continue  # the graph check names an unknown stack
                if not stands_at(other.stands, spec.stands):
                    where = "stands: " + other.stands if other.stands else "no stands:"
                    raise ValueError(
                        f"stacks.{key} (stands: {spec.stands}) reads {ref.stack}.{ref.output}, "
                        f"but stacks.{ref.stack} ({where}) is not ready at that rung before a "
                        f"disaster: give {ref.stack} a stands: at or below {spec.stands}, or "
                        f"override the value in stacks.{key}.standby_params"
                    )
        return self

    @field_validator("tags")
    @classmethod
    def _tags_fit_a_stack(cls, tags: dict[str, str]) -> dict[str, str]:
        room = STACK_TAGS - len(RELIGHT_TAGS)
        if len(tags) > room:
            raise ValueError(
                f"{len(tags)} tags; a CloudFormation stack takes at most {STACK_TAGS} and "
                f"relight adds up to {len(RELIGHT_TAGS)} of its own ({', '.join(RELIGHT_TAGS)}): "
                f"keep at most {room}"
            )
        return tags
