"""The shape of an estate file (`estates/<name>.yaml`), as validated types.

Loading it (every problem at once, at file:line) is `estate.load_estate` with the checks in
estate_checks.py; `estate.LoadedEstate` is the graph it describes. Nothing here calls AWS.
"""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from relight.model.environment import NAME_PATTERN
from relight.model.values import ROLE_ARN, Seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccountAccess(_Strict):
    """`accounts.<key>`: an account and the role relight assumes in it (always, also in the
    administrator's own account: relight acts through the role, never its caller's identity)."""

    id: str = Field(pattern=r"^\d{12}$")
    role: str = Field(pattern=ROLE_ARN.pattern)
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)

    @model_validator(mode="after")
    def _role_in_account(self) -> AccountAccess:
        if self.role.split(":")[4] != self.id:
            raise ValueError(
                f"the role {self.role} is in account {self.role.split(':')[4]}, not {self.id}: "
                "give the role relight assumes in this account"
            )
        return self


class Budget(_Strict):
    """One shared token budget per account and region, for every environment in it."""

    requests_per_second: float = Field(default=5.0, gt=0)  # refill, all services
    burst: int = Field(default=10, ge=1)  # bucket size
    stack_operations: int = Field(default=10, ge=1)  # CloudFormation operations in flight


class StackSetSettings(_Strict):
    """`stacksets:`: how the `stands: global` stacks are deployed to every account."""

    permissions: Literal["self_managed", "service_managed"] = "self_managed"
    # self_managed; default: AWSCloudFormationStackSetAdministrationRole in the administrator
    administration_role: str | None = Field(default=None, pattern=ROLE_ARN.pattern)
    execution_role_name: str = Field(
        default="AWSCloudFormationStackSetExecutionRole", pattern=r"^[\w+=,.@-]{1,64}$"
    )
    organizational_units: list[str] = Field(default_factory=list)  # service_managed: ou-..., r-...
    auto_deployment: bool = True  # service_managed
    max_concurrent_accounts: int | None = Field(default=None, ge=1)
    max_concurrent_percentage: int | None = Field(default=None, ge=1, le=100)
    failure_tolerance_count: int | None = Field(default=None, ge=0)
    failure_tolerance_percentage: int | None = Field(default=None, ge=0, le=100)
    region_concurrency: Literal["SEQUENTIAL", "PARALLEL"] = "PARALLEL"
    # STRICT (AWS's default): concurrency at most failure tolerance + 1; SOFT: max_concurrent_*
    concurrency_mode: Literal["STRICT_FAILURE_TOLERANCE", "SOFT_FAILURE_TOLERANCE"] = (
        "STRICT_FAILURE_TOLERANCE"
    )
    # service_managed: SELF from the management account, DELEGATED_ADMIN from a delegated one
    call_as: Literal["SELF", "DELEGATED_ADMIN"] = "SELF"

    def administration_role_arn(self, administrator: AccountAccess) -> str:
        """The self-managed administration role: given, else AWS's documented default name in
        the administrator account (its partition)."""
        partition = administrator.role.split(":")[1]
        return self.administration_role or (
            f"arn:{partition}:iam::{administrator.id}:role/AWSCloudFormationStackSetAdministrationRole"
        )

    @model_validator(mode="after")
    def _consistent(self) -> StackSetSettings:
        problems = []
        for a, b in (
            ("max_concurrent_accounts", "max_concurrent_percentage"),
            ("failure_tolerance_count", "failure_tolerance_percentage"),
        ):
            if getattr(self, a) is not None and getattr(self, b) is not None:
                problems.append(f"give {a} or {b}, not both (StackSets takes one of the two)")
        tolerance = (self.failure_tolerance_count or 0) + 1
        if (
            self.concurrency_mode == "STRICT_FAILURE_TOLERANCE"
            and self.max_concurrent_accounts is not None
            and self.failure_tolerance_percentage is None
            and self.max_concurrent_accounts > tolerance
        ):
            problems.append(
                f"max_concurrent_accounts {self.max_concurrent_accounts} cannot take effect: "
                "under concurrency_mode STRICT_FAILURE_TOLERANCE (the default) StackSets runs at "
                f"most failure_tolerance_count + 1 = {tolerance} account(s) at once; set "
                "concurrency_mode: SOFT_FAILURE_TOLERANCE, or max_concurrent_accounts: "
                f"{tolerance}"
            )
        if self.call_as == "DELEGATED_ADMIN" and self.permissions != "service_managed":
            problems.append(
                "call_as DELEGATED_ADMIN is for service_managed permissions (a delegated "
                "administrator of the organization): remove it, or use service_managed"
            )
        if self.permissions == "service_managed" and not self.organizational_units:
            problems.append(
                "service_managed permissions deploy to organizational units: list them in "
                "organizational_units (ou-... or the root r-...)"
            )
        if self.permissions == "service_managed" and self.administration_role:
            problems.append(
                "administration_role is for self_managed permissions; service_managed uses "
                "the Organizations service-linked roles: remove it"
            )
        bad = [ou for ou in self.organizational_units if not ou.startswith(("ou-", "r-"))]
        if bad:
            problems.append(
                f"organizational_units: {', '.join(bad)}: an OU id starts ou- (the root r-)"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


class EstateObjectives(_Strict):
    rto: Seconds  # the whole estate back, the same duration syntax as environment files


class EstateEnvironment(_Strict):
    """`environments.<name>`: one environment of the estate."""

    file: str | None = None  # relative to the estate file; default ../stacks/<name>.yaml
    account: str  # a key of accounts:
    after: list[str] = Field(default_factory=list)  # verified before this one starts


class EstateFile(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    stand_in: bool = False
    administrator: str  # a key of accounts: StackSets are administered there
    objectives: EstateObjectives
    accounts: dict[str, AccountAccess] = Field(min_length=1)
    # "default", "<account key>", "<account key>/<region>": the most specific wins.
    budgets: dict[str, Budget] = Field(default_factory=dict)
    stacksets: StackSetSettings = Field(default_factory=StackSetSettings)
    environments: dict[str, EstateEnvironment] = Field(min_length=1)
    waves: list[list[str]] = Field(default_factory=list)  # absent: depth in the after: graph


def env_file_ref(estate_path: Path, name: str, spec: EstateEnvironment) -> Path:
    """The environment file: `file:` relative to the estate file, else ../stacks/<name>.yaml."""
    given = spec.file or f"../stacks/{name}.yaml"
    return (estate_path.parent / given).resolve()


def computed_waves(after: Mapping[str, list[str]]) -> list[list[str]]:
    """Wave k holds the environments whose longest `after:` chain is k long (an acyclic graph)."""
    depth: dict[str, int] = {}
    order = graphlib.TopologicalSorter({n: sorted(a) for n, a in sorted(after.items())})
    for name in order.static_order():
        depth[name] = 1 + max((depth[a] for a in after.get(name, [])), default=-1)
    waves: list[list[str]] = [[] for _ in range(1 + max(depth.values(), default=-1))]
    for name, k in depth.items():
        waves[k].append(name)
    return [sorted(w) for w in waves]
