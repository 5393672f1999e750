"""Service quotas relight counts against, in one table, and how their value is read.

Each quota is named as Service Quotas names it (service code, quota code, quota name) with the
default AWS documents for it (docs/aws-behaviours.md, Q1-Q4); `None` where AWS sets the value
per account and documents none (the On-Demand vCPU quotas). The value a region applies is read
as AWS documents it (Q1): GetServiceQuota gives the applied value, and answers
NoSuchResourceException for a quota that has none, whose value is then its default
(GetAWSDefaultServiceQuota). Where Service Quotas cannot be read at all (AccessDenied, no
endpoint), the documented default stands in, with a note saying so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relight.aws.failures import is_aws_failure


@dataclass(frozen=True)
class Quota:
    service: str  # Service Quotas' service code
    code: str  # the quota code
    name: str  # the quota's name in Service Quotas
    default: int | None  # AWS's documented default; None: set per account, none documented


QUOTAS: dict[str, Quota] = {
    "vpcs": Quota("vpc", "L-F678F1CE", "VPCs per Region", 5),
    "eips": Quota("ec2", "L-0263D0A3", "EC2-VPC Elastic IPs", 5),
    "nat_gateways": Quota("vpc", "L-FE5A380F", "NAT gateways per Availability Zone", 5),
    "albs": Quota(
        "elasticloadbalancing", "L-53DA6B97", "Application Load Balancers per Region", 50
    ),
    "nlbs": Quota("elasticloadbalancing", "L-69A177A2", "Network Load Balancers per Region", 50),
    "db_instances": Quota("rds", "L-7B6409FD", "DB instances", 40),
    "manual_snapshots": Quota("rds", "L-272F1212", "Manual DB instance snapshots", 100),
    "manual_cluster_snapshots": Quota("rds", "L-9B510759", "Manual DB cluster snapshots", 100),
    "stacks": Quota("cloudformation", "L-0485CB21", "Stack count", 2000),
    # Running On-Demand instances, in vCPUs, one quota per instance family class (Q2)
    "vcpus_standard": Quota(
        "ec2",
        "L-1216C47A",
        "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
        None,
    ),
    "vcpus_f": Quota("ec2", "L-74FC7D96", "Running On-Demand F instances", None),
    "vcpus_g": Quota("ec2", "L-DB2E81BA", "Running On-Demand G and VT instances", None),
    "vcpus_p": Quota("ec2", "L-417A185B", "Running On-Demand P instances", None),
    "vcpus_x": Quota("ec2", "L-7295265B", "Running On-Demand X instances", None),
    "vcpus_inf": Quota("ec2", "L-1945791B", "Running On-Demand Inf instances", None),
    "vcpus_trn": Quota("ec2", "L-2C3B7624", "Running On-Demand Trn instances", None),
    "vcpus_dl": Quota("ec2", "L-6E869C2A", "Running On-Demand DL instances", None),
    "vcpus_hpc": Quota("ec2", "L-F7808C92", "Running On-Demand HPC instances", None),
    "vcpus_u": Quota("ec2", "L-43DA4232", "Running On-Demand High Memory instances", None),
}

# An instance type's family letters (before the generation digit) → its vCPU quota.
_FAMILY_CLASS = {
    **{letter: "vcpus_standard" for letter in "acdhimrtz"},
    "f": "vcpus_f",
    "g": "vcpus_g",
    "vt": "vcpus_g",
    "p": "vcpus_p",
    "x": "vcpus_x",
    "inf": "vcpus_inf",
    "trn": "vcpus_trn",
    "dl": "vcpus_dl",
    "hpc": "vcpus_hpc",
    "u": "vcpus_u",
}


# Families that run only on Dedicated Hosts (mac1, mac2, ...): no On-Demand vCPU quota applies
# (Q2); their hosts have a quota of their own, per host type, which relight does not count.
DEDICATED_HOST_ONLY = frozenset({"mac"})


def _letters(instance_type: str) -> str:
    family = instance_type.split(".")[0].split("-")[0].lower()
    letters = ""
    for char in family:
        if char.isdigit():
            break
        letters += char
    return letters


def dedicated_host_only(instance_type: str) -> bool:
    """mac2.metal and its kin launch only onto an allocated Dedicated Host."""
    return _letters(instance_type) in DEDICATED_HOST_ONLY


def vcpu_quota(instance_type: str) -> str | None:
    """The key of the On-Demand vCPU quota an instance type counts against (m5.large: the
    standard class; g4dn.xlarge: G and VT; u-6tb1.metal: High Memory), None when unknown or
    when none applies (mac instances run only on Dedicated Hosts)."""
    letters = _letters(instance_type)
    if letters in DEDICATED_HOST_ONLY:
        return None
    return _FAMILY_CLASS.get(letters) or _FAMILY_CLASS.get(letters[:1]) if letters else None


def request_command(quota: Quota, desired: int, region: str) -> str:
    """The command that asks AWS for more."""
    return (
        f"aws service-quotas request-service-quota-increase --service-code {quota.service} "
        f"--quota-code {quota.code} --desired-value {desired} --region {region}"
    )


@dataclass
class QuotaBook:
    """The quotas of one region, each read once: GetServiceQuota, then the default.

    `notes` says which values are AWS's documented defaults because Service Quotas did not
    answer, and which quotas could not be read at all."""

    client: Any  # a Service Quotas client in the target region
    region: str
    _values: dict[str, int | None] = field(default_factory=dict)
    _unreadable: str | None = None  # why Service Quotas did not answer, once it did not
    _defaulted: dict[str, str] = field(default_factory=dict)  # quota → why
    _unchecked: dict[str, str] = field(default_factory=dict)

    def value(self, key: str) -> int | None:
        if key not in self._values:
            self._values[key] = self._read(key, QUOTAS[key])
        return self._values[key]

    def _read(self, key: str, quota: Quota) -> int | None:
        ask = {"ServiceCode": quota.service, "QuotaCode": quota.code}
        why = self._unreadable
        for call in ("get_service_quota", "get_aws_default_service_quota"):
            if why is not None:
                break
            try:
                return int(getattr(self.client, call)(**ask)["Quota"]["Value"])
            except Exception as exc:
                if not is_aws_failure(exc):
                    raise
                if _code(exc) == "NoSuchResourceException":  # no applied value: the default
                    why = "no such quota" if call != "get_service_quota" else None
                    continue
                why = self._unreadable = _code(exc) or type(exc).__name__
        (self._unchecked if quota.default is None else self._defaulted)[key] = str(why)
        return quota.default

    @property
    def notes(self) -> list[str]:
        def named(keys: dict[str, str]) -> str:
            return ", ".join(
                f"{QUOTAS[k].name} ({QUOTAS[k].service} {QUOTAS[k].code}"
                + (f", {QUOTAS[k].default})" if QUOTAS[k].default is not None else ")")
                for k in keys
            )

        def why(keys: dict[str, str]) -> str:
            return ", ".join(sorted(set(keys.values())))

        said = []
        if self._defaulted:
            said.append(
                f"Service Quotas gave no value in {self.region} ({why(self._defaulted)}): "
                f"compared with AWS's documented defaults, so an increase granted to the "
                f"account is not seen: {named(self._defaulted)}"
            )
        if self._unchecked:
            said.append(
                f"Service Quotas gave no value in {self.region} ({why(self._unchecked)}): not "
                f"checked, as AWS sets them per account: {named(self._unchecked)}"
            )
        return said


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
