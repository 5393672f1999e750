"""What one StackSet should be (StackSetSpec), how it differs from what DescribeStackSet
shows, and the operation preferences from the estate file: no AWS call (aws/stacksets.py
makes it so)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from relight.errors import AwsError

SELF_MANAGED: Literal["SELF_MANAGED"] = "SELF_MANAGED"
SERVICE_MANAGED: Literal["SERVICE_MANAGED"] = "SERVICE_MANAGED"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
# A stack instance that does not match its StackSet (an update it missed, or a failed one).
OUT_OF_DATE = {"OUTDATED", "INOPERABLE"}
DEFAULT_ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
ESTATE_TAG = "relight:estate"
CallAs = Literal["SELF", "DELEGATED_ADMIN"]


def administration_role_arn(account_id: str, given: str | None = None) -> str:
    """The administration role CloudFormation uses: the file's, else AWS's default name."""
    return given or f"arn:aws:iam::{account_id}:role/{DEFAULT_ADMINISTRATION_ROLE}"


@dataclass(frozen=True)
class StackSetSpec:
    """What one StackSet should be: its template, parameters, tags, permission model, and the
    stack instances it should have (account → the parameters that differ from the set's)."""

    name: str
    body: str
    parameters: Mapping[str, str]
    tags: Mapping[str, str]
    regions: tuple[str, ...]
    accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    permissions: Literal["SELF_MANAGED", "SERVICE_MANAGED"] = SELF_MANAGED
    administration_role: str | None = None  # self-managed
    execution_role_name: str | None = None  # self-managed
    organizational_units: tuple[str, ...] = ()  # service-managed
    auto_deployment: bool = True  # service-managed
    preferences: Mapping[str, Any] = field(default_factory=dict)  # StackSetOperationPreferences
    description: str = ""

    @property
    def estate(self) -> str | None:
        return self.tags.get(ESTATE_TAG)

    def set_arguments(self) -> dict[str, Any]:
        """CreateStackSet's (and UpdateStackSet's) arguments."""
        args: dict[str, Any] = {
            "StackSetName": self.name,
            "TemplateBody": self.body,
            "Parameters": _parameters(self.parameters),
            "Capabilities": CAPABILITIES,
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())],
            "PermissionModel": self.permissions,
        }
        if self.description:
            args["Description"] = self.description
        if self.permissions == SELF_MANAGED:
            if self.administration_role:
                args["AdministrationRoleARN"] = self.administration_role
            if self.execution_role_name:
                args["ExecutionRoleName"] = self.execution_role_name
        else:
            args["AutoDeployment"] = {
                "Enabled": self.auto_deployment,
                **({"RetainStacksOnAccountRemoval": True} if self.auto_deployment else {}),
            }
        return args


def _parameters(values: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items())]


def set_differences(current: Mapping[str, Any], spec: StackSetSpec) -> list[str]:
    """What differs between a StackSet as DescribeStackSet shows it and the spec."""
    found = []
    try:
        same_body = json.loads(current.get("TemplateBody") or "null") == json.loads(spec.body)
    except ValueError:
        same_body = current.get("TemplateBody") == spec.body
    if not same_body:
        found.append("its template")
    params = {p["ParameterKey"]: p.get("ParameterValue") for p in current.get("Parameters", [])}
    if params != dict(spec.parameters):
        found.append("its parameters")
    tags = {t["Key"]: t["Value"] for t in current.get("Tags", [])}
    if tags != dict(spec.tags):
        found.append("its tags")
    if spec.permissions == SELF_MANAGED:
        role = current.get("AdministrationRoleARN")
        if spec.administration_role and role and role != spec.administration_role:
            found.append("its administration role")
        name = current.get("ExecutionRoleName")
        if spec.execution_role_name and name and name != spec.execution_role_name:
            found.append("its execution role name")
    given = current.get("PermissionModel")
    if given and given != spec.permissions:
        raise AwsError(
            f"StackSet {spec.name} in {current.get('Region', '')} is {given}, the estate file "
            f"says {spec.permissions}: a StackSet's permission model cannot change",
            hint="set stacksets.permissions back, or delete the StackSet (its instances first) "
            "and rerun `relight estate prepare`",
        )
    return found


def preferences(
    *,
    max_concurrent_accounts: int | None = None,
    max_concurrent_percentage: int | None = None,
    failure_tolerance_count: int | None = None,
    failure_tolerance_percentage: int | None = None,
    region_concurrency: str = "PARALLEL",
    concurrency_mode: str = "STRICT_FAILURE_TOLERANCE",
) -> dict[str, Any]:
    """StackSetOperationPreferences from the estate file's stacksets: settings. ConcurrencyMode
    is always sent: under STRICT_FAILURE_TOLERANCE (AWS's default) the concurrency is at most
    the failure tolerance + 1, whatever MaxConcurrentCount says (model/estate_schema.py)."""
    found: dict[str, Any] = {
        "RegionConcurrencyType": region_concurrency,
        "ConcurrencyMode": concurrency_mode,
    }
    pairs = {
        "MaxConcurrentCount": max_concurrent_accounts,
        "MaxConcurrentPercentage": max_concurrent_percentage,
        "FailureToleranceCount": failure_tolerance_count,
        "FailureTolerancePercentage": failure_tolerance_percentage,
    }
    found.update({k: v for k, v in pairs.items() if v is not None})
    return found
