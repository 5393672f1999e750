"""CloudFormation StackSets with domain names: a StackSet made or brought up to date, its
stack instances in every account that needs one, each operation waited for.

One StackSet, administered in the recovery region by the estate's administrator account,
deploys one `stands: global` template to many accounts (estate/prepare.py decides which).
What CloudFormation documents, and this module relies on (docs/aws-behaviours.md, U*):

- only one operation runs on a StackSet at a time; another call meanwhile is refused with
  `OperationInProgressException`: relight waits and asks again, it never fails on it;
- an operation is asynchronous: its id is polled with DescribeStackSetOperation until
  SUCCEEDED, FAILED or STOPPED; a failed one names each failed instance's StatusReason
  (ListStackSetOperationResults);
- UpdateStackSet updates every instance; per-instance ParameterOverrides only override
  parameters the StackSet already has;
- with self-managed permissions, CloudFormation acts through the administration role in the
  administrator account, which assumes the execution role (by name) in each target account.

Clock and sleep are passed in; nothing here waits without a timeout.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from relight.aws.failures import aws_failure
from relight.errors import AwsError, DeployError

SELF_MANAGED: Literal["SELF_MANAGED"] = "SELF_MANAGED"
SERVICE_MANAGED: Literal["SERVICE_MANAGED"] = "SERVICE_MANAGED"
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
IN_PROGRESS = "OperationInProgressException"
DONE = {"SUCCEEDED", "FAILED", "STOPPED"}
# A stack instance that does not match its StackSet (an update it missed, or a failed one).
OUT_OF_DATE = {"OUTDATED", "INOPERABLE"}
DEFAULT_ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"


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

    def set_arguments(self) -> dict[str, Any]:
        """CreateStackSet's (and UpdateStackSet's) arguments."""
        args: dict[str, Any] = {
            "StackSetName": self.name,
            "TemplateBody": self.body,
            "Parameters": _parameters(self.parameters),
            "Capabilities": CAPABILITIES,
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(self.tags.items())],
            "PermissionModel": self.permissions,
            "CallAs": "SELF",
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


@dataclass
class StackSetResult:
    name: str
    created: bool = False  # the StackSet itself was made by this run
    updated: bool = False  # its template, parameters or tags changed
    operations: list[str] = field(default_factory=list)  # operation ids this run waited for
    instances: dict[str, str] = field(default_factory=dict)  # account → what happened to it
    waited: float = 0.0  # seconds spent waiting for another operation to finish first

    @property
    def unchanged(self) -> bool:
        return not (self.created or self.updated or self.operations)

    def line(self) -> str:
        if self.unchanged:
            return f"StackSet {self.name}: unchanged ({len(self.instances)} instance(s) current)"
        did = "created" if self.created else "updated" if self.updated else "instances changed"
        parts = [f"{account}: {what}" for account, what in sorted(self.instances.items())]
        return f"StackSet {self.name}: {did}; " + ", ".join(parts)


class StackSets:
    """The StackSets of one administrator account in one region. `cfn` is its CloudFormation
    client; clock and sleep are passed in (tests fake them)."""

    def __init__(
        self,
        cfn: Any,
        region: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 3600.0,
        poll: float = 2.0,
        on_progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.cfn = cfn
        self.region = region
        self.clock = clock
        self.sleep = sleep
        self.timeout = timeout
        self.poll = poll
        self.on_progress = on_progress
        self.calls = 0
        self.busy_seconds = 0.0  # waited on OperationInProgressException

    # single calls ------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        """One call; OperationInProgressException (another operation on the StackSet) waited
        out and asked again, up to the timeout; any other failure an AwsError naming `what`."""
        from botocore.exceptions import ClientError

        started = self.clock()
        delays = _backoff(self.poll)
        while True:
            self.calls += 1
            try:
                return fn(**kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code != IN_PROGRESS:
                    raise aws_failure(exc, f"{what} in {self.region}", self.cfn) from exc
                if self.clock() - started >= self.timeout:
                    raise DeployError(
                        f"{what}: another operation on the StackSet was still running after "
                        f"{self.timeout:.0f} s (OperationInProgressException)",
                        hint="see it with aws cloudformation list-stack-set-operations "
                        f"--stack-set-name {kwargs.get('StackSetName', '')} --region "
                        f"{self.region}; rerun once it ends",
                    ) from exc
                delay = next(delays)
                self.on_progress(
                    f"{what}: another operation on the StackSet runs; waiting {delay:g} s"
                )
                self.busy_seconds += delay
                self.sleep(delay)
            except Exception as exc:
                from relight.aws.failures import is_aws_failure

                if not is_aws_failure(exc):
                    raise
                raise aws_failure(exc, f"{what} in {self.region}", self.cfn) from exc

    def describe(self, name: str) -> dict[str, Any] | None:
        """The StackSet, or None when there is none of that name (or it was deleted)."""
        from botocore.exceptions import ClientError

        self.calls += 1
        try:
            found: dict[str, Any] = self.cfn.describe_stack_set(StackSetName=name, CallAs="SELF")[
                "StackSet"
            ]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "StackSetNotFoundException":
                return None
            raise aws_failure(exc, f"describe StackSet {name} in {self.region}", self.cfn) from exc
        return None if found.get("Status") == "DELETED" else found

    def instances(self, name: str) -> list[dict[str, Any]]:
        """Every stack instance of the StackSet (ListStackInstances, all pages)."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self._call(
                f"list the stack instances of {name}",
                self.cfn.list_stack_instances,
                StackSetName=name,
                CallAs="SELF",
                **({"NextToken": token} if token else {}),
            )
            found += page.get("Summaries", [])
            token = page.get("NextToken")
            if not token:
                return found

    def overrides_of(self, name: str, account: str, region: str) -> dict[str, str]:
        """The ParameterOverrides a stack instance has."""
        got = self._call(
            f"describe the stack instance of {name} in {account}",
            self.cfn.describe_stack_instance,
            StackSetName=name,
            StackInstanceAccount=account,
            StackInstanceRegion=region,
            CallAs="SELF",
        )["StackInstance"]
        return {p["ParameterKey"]: p["ParameterValue"] for p in got.get("ParameterOverrides", [])}

    # waiting -----------------------------------------------------------------------------------

    def wait(self, name: str, operation_id: str) -> dict[str, Any]:
        """Poll the operation until it ends; DeployError (with each failed instance's reason)
        when it did not succeed, or when it is still running at the timeout."""
        started = self.clock()
        delays = _backoff(min(self.poll, 1.0), ceiling=max(self.poll * 5, 1.0))
        while True:
            operation: dict[str, Any] = self._call(
                f"describe operation {operation_id} of StackSet {name}",
                self.cfn.describe_stack_set_operation,
                StackSetName=name,
                OperationId=operation_id,
                CallAs="SELF",
            )["StackSetOperation"]
            status = operation.get("Status", "")
            if status in DONE:
                break
            if self.clock() - started >= self.timeout:
                raise DeployError(
                    f"StackSet {name}: operation {operation_id} still {status} after "
                    f"{self.timeout:.0f} s",
                    hint="rerun `relight estate prepare` later: it waits for the running operation "
                    "and then converges",
                )
            self.sleep(next(delays))
        if status != "SUCCEEDED":
            reasons = self.failures(name, operation_id) or [operation.get("StatusReason") or status]
            raise DeployError(
                f"StackSet {name} in {self.region}: operation {operation.get('Action', '')} "
                f"{operation_id} {status}: " + "; ".join(reasons),
                hint="fix what each instance names (often the execution role, or a resource that "
                "already exists in that account), then rerun `relight estate prepare`",
            )
        return operation

    def failures(self, name: str, operation_id: str) -> list[str]:
        """Each failed instance of an operation with its StatusReason."""
        results = self._call(
            f"list the results of operation {operation_id} of StackSet {name}",
            self.cfn.list_stack_set_operation_results,
            StackSetName=name,
            OperationId=operation_id,
            CallAs="SELF",
        ).get("Summaries", [])
        return [
            f"account {r.get('Account', '?')} {r.get('Region', '?')}: "
            f"{r.get('StatusReason') or r.get('Status', '')}"
            for r in results
            if r.get("Status") not in ("SUCCEEDED", "PENDING", "RUNNING")
        ]

    # making it so ------------------------------------------------------------------------------

    def ensure(self, spec: StackSetSpec) -> StackSetResult:
        """Create the StackSet or bring it up to date, then its stack instances; each
        operation waited for. A second run with nothing changed starts no operation."""
        result = StackSetResult(spec.name)
        current = self.describe(spec.name)
        if current is None:
            self._call(
                f"create StackSet {spec.name}", self.cfn.create_stack_set, **spec.set_arguments()
            )
            result.created = True
            self.on_progress(f"StackSet {spec.name}: created in {self.region}")
        elif changed := set_differences(current, spec):
            self.on_progress(f"StackSet {spec.name}: {', '.join(changed)} changed; updating")
            args = spec.set_arguments()
            args.pop("PermissionModel")  # fixed once the StackSet is made
            args["OperationPreferences"] = dict(spec.preferences)
            self._operate(result, f"update StackSet {spec.name}", self.cfn.update_stack_set, args)
            result.updated = True
        self._ensure_instances(spec, result)
        return result

    def _operate(
        self, result: StackSetResult, what: str, fn: Callable[..., Any], args: dict[str, Any]
    ) -> None:
        if not args.get("OperationPreferences"):
            args.pop("OperationPreferences", None)
        operation_id = self._call(what, fn, **args)["OperationId"]
        self.on_progress(f"{what}: operation {operation_id} started; waiting for it")
        self.wait(str(args["StackSetName"]), operation_id)
        result.operations.append(operation_id)

    def _ensure_instances(self, spec: StackSetSpec, result: StackSetResult) -> None:
        existing = self.instances(spec.name)
        if spec.permissions == SERVICE_MANAGED:
            self._ensure_ou_instances(spec, result, existing)
            return
        have = {(i["Account"], i["Region"]): i for i in existing}
        for region in spec.regions:
            missing = [a for a in sorted(spec.accounts) if (a, region) not in have]
            for overrides, accounts in _grouped(spec, missing).items():
                args = {
                    "StackSetName": spec.name,
                    "Accounts": accounts,
                    "Regions": [region],
                    "ParameterOverrides": _parameters(dict(overrides)),
                    "OperationPreferences": dict(spec.preferences),
                    "CallAs": "SELF",
                }
                if not overrides:
                    args.pop("ParameterOverrides")
                self._operate(
                    result,
                    f"create stack instances of {spec.name}",
                    self.cfn.create_stack_instances,
                    args,
                )
                result.instances.update(dict.fromkeys(accounts, "created"))
            stale = [
                a
                for a in sorted(spec.accounts)
                if (a, region) in have
                and (
                    have[(a, region)].get("Status") in OUT_OF_DATE
                    or self.overrides_of(spec.name, a, region) != dict(spec.accounts[a])
                )
            ]
            for overrides, accounts in _grouped(spec, stale).items():
                args = {
                    "StackSetName": spec.name,
                    "Accounts": accounts,
                    "Regions": [region],
                    "ParameterOverrides": _parameters(dict(overrides)),
                    "OperationPreferences": dict(spec.preferences),
                    "CallAs": "SELF",
                }
                self._operate(
                    result,
                    f"update stack instances of {spec.name}",
                    self.cfn.update_stack_instances,
                    args,
                )
                result.instances.update(dict.fromkeys(accounts, "updated"))
            for account in spec.accounts:
                result.instances.setdefault(account, "current")

    def _ensure_ou_instances(
        self, spec: StackSetSpec, result: StackSetResult, existing: list[dict[str, Any]]
    ) -> None:
        """Service-managed: instances in every account of the OUs (DeploymentTargets); the
        accounts come from Organizations, so an OU already deployed is left to AutoDeployment."""
        for region in spec.regions:
            seen = {i.get("OrganizationalUnitId") for i in existing if i.get("Region") == region}
            missing = [ou for ou in spec.organizational_units if ou not in seen]
            if not missing:
                continue
            args = {
                "StackSetName": spec.name,
                "DeploymentTargets": {"OrganizationalUnitIds": missing},
                "Regions": [region],
                "OperationPreferences": dict(spec.preferences),
                "CallAs": "SELF",
            }
            self._operate(
                result,
                f"create stack instances of {spec.name}",
                self.cfn.create_stack_instances,
                args,
            )
            result.instances.update(dict.fromkeys(missing, "created"))
        for instance in self.instances(spec.name) if result.operations else existing:
            result.instances.setdefault(str(instance.get("Account", "")), "current")


def _grouped(
    spec: StackSetSpec, accounts: list[str]
) -> dict[tuple[tuple[str, str], ...], list[str]]:
    """Accounts grouped by their ParameterOverrides: one operation per distinct set."""
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for account in accounts:
        groups.setdefault(tuple(sorted(spec.accounts[account].items())), []).append(account)
    return groups


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
) -> dict[str, Any]:
    """StackSetOperationPreferences from the estate file's stacksets: settings."""
    found: dict[str, Any] = {"RegionConcurrencyType": region_concurrency}
    pairs = {
        "MaxConcurrentCount": max_concurrent_accounts,
        "MaxConcurrentPercentage": max_concurrent_percentage,
        "FailureToleranceCount": failure_tolerance_count,
        "FailureTolerancePercentage": failure_tolerance_percentage,
    }
    found.update({k: v for k, v in pairs.items() if v is not None})
    return found


def _backoff(first: float, factor: float = 1.5, ceiling: float = 30.0) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, ceiling)
