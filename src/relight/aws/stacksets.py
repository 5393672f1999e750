"""CloudFormation StackSets with domain names: a StackSet made or brought up to date, its
stack instances in every account that needs one, each operation waited for.

One StackSet, administered in the recovery region by the estate's administrator account,
deploys one `stands: global` template to many accounts (estate/prepare.py decides which).
What CloudFormation documents, and this module relies on (docs/aws-behaviours.md, U*):

- only one operation runs on a StackSet at a time; another call meanwhile is refused with
  `OperationInProgressException`: relight waits and asks again, it never fails on it;
- an operation is asynchronous: its id is polled with DescribeStackSetOperation until
  SUCCEEDED, FAILED or STOPPED; whatever it ended as, each instance's result is read
  (ListStackSetOperationResults): one SUCCEEDED within its failure tolerance can still have
  failed instances, and any instance that did not succeed fails the prepare, named;
- a StackSet's name is unique in its region: one found by name that is not this estate's
  (its `relight:estate` tag) is refused, never taken over;
- service-managed instances go through the OUs, filtered to the estate's accounts
  (AccountFilterType INTERSECTION); CallAs (SELF or DELEGATED_ADMIN) is sent on every call;
- UpdateStackSet updates every instance; per-instance ParameterOverrides only override
  parameters the StackSet already has;
- with self-managed permissions, CloudFormation acts through the administration role in the
  administrator account, which assumes the execution role (by name) in each target account.

Clock and sleep are passed in; nothing here waits without a timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from relight.aws.failures import aws_failure
from relight.aws.stackset_spec import (
    DEFAULT_ADMINISTRATION_ROLE,
    DEFAULT_EXECUTION_ROLE,
    ESTATE_TAG,
    OUT_OF_DATE,
    SELF_MANAGED,
    SERVICE_MANAGED,
    CallAs,
    StackSetSpec,
    _parameters,
    administration_role_arn,
    preferences,
    set_differences,
)
from relight.errors import DeployError, InputError

__all__ = [  # the spec's vocabulary, re-exported: callers import StackSets' words from here
    "DEFAULT_ADMINISTRATION_ROLE", "DEFAULT_EXECUTION_ROLE", "ESTATE_TAG", "SELF_MANAGED",
    "SERVICE_MANAGED", "StackSetResult", "StackSetSpec", "StackSets", "administration_role_arn",
    "preferences", "set_differences",
]  # fmt: skip
IN_PROGRESS = "OperationInProgressException"
DONE = {"SUCCEEDED", "FAILED", "STOPPED"}


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
        call_as: CallAs = "SELF",
    ) -> None:
        self.cfn = cfn
        self.call_as = call_as  # sent as CallAs on every StackSets call
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

        kwargs["CallAs"] = self.call_as
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
            found: dict[str, Any] = self.cfn.describe_stack_set(
                StackSetName=name, CallAs=self.call_as
            )["StackSet"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "StackSetNotFoundException":
                return None
            raise aws_failure(exc, f"describe StackSet {name} in {self.region}", self.cfn) from exc
        return None if found.get("Status") == "DELETED" else found

    def _summaries(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> list[Any]:
        """Every page's Summaries of a StackSets listing (NextToken)."""
        found: list[Any] = []
        token: str | None = None
        while True:
            page = self._call(what, fn, **kwargs, **({"NextToken": token} if token else {}))
            found += page.get("Summaries", [])
            token = page.get("NextToken")
            if not token:
                return found

    def instances(self, name: str) -> list[dict[str, Any]]:
        """Every stack instance of the StackSet (ListStackInstances, all pages)."""
        return self._summaries(
            f"list the stack instances of {name}", self.cfn.list_stack_instances, StackSetName=name
        )

    def overrides_of(self, name: str, account: str, region: str) -> dict[str, str]:
        """The ParameterOverrides a stack instance has."""
        got = self._call(
            f"describe the stack instance of {name} in {account}",
            self.cfn.describe_stack_instance,
            StackSetName=name,
            StackInstanceAccount=account,
            StackInstanceRegion=region,
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
        failed = self.failures(name, operation_id)
        if status != "SUCCEEDED" or failed:
            how = (
                f"{status} within the failure tolerance, but not every instance succeeded"
                if status == "SUCCEEDED"
                else status
            )
            reasons = failed or [operation.get("StatusReason") or status]
            raise DeployError(
                f"StackSet {name} in {self.region}: operation {operation.get('Action', '')} "
                f"{operation_id} {how}: " + "; ".join(reasons),
                hint="fix what each instance names (often the execution role, or a resource that "
                "already exists in that account), then rerun `relight estate prepare`; the "
                "environments of those accounts were not prepared",
            )
        return operation

    def failures(self, name: str, operation_id: str) -> list[str]:
        """Each instance of an ended operation that did not succeed (FAILED, CANCELLED, ...),
        with its account, region and StatusReason (ListStackSetOperationResults, all pages).
        An operation SUCCEEDED within its failure tolerance still has such instances."""
        results = self._summaries(
            f"list the results of operation {operation_id} of StackSet {name}",
            self.cfn.list_stack_set_operation_results,
            StackSetName=name,
            OperationId=operation_id,
        )
        return [
            f"account {r.get('Account', '?')} {r.get('Region', '?')}: "
            f"{r.get('Status', '?')}, {r.get('StatusReason') or 'no reason given'}"
            for r in results
            if r.get("Status") != "SUCCEEDED"
        ]

    def check_owned(self, spec: StackSetSpec) -> dict[str, Any] | None:
        """InputError (nothing changed) when a StackSet of the spec's name stands but is not
        this estate's (no `relight:estate` tag, or another estate's): made by hand, or by
        another estate administered from the same account and region."""
        current = self.describe(spec.name)
        if current is None or spec.estate is None:
            return current
        tags = {t["Key"]: t["Value"] for t in current.get("Tags", [])}
        if tags.get(ESTATE_TAG) == spec.estate:
            return current
        whose = f"estate {tags[ESTATE_TAG]}'s" if ESTATE_TAG in tags else f"not tagged {ESTATE_TAG}"
        shown = ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "no tags"
        raise InputError(
            f"StackSet {spec.name} in {self.region} already stands and is {whose} (its tags: "
            f"{shown}); estate {spec.estate} would overwrite its template and instances",
            hint="nothing was changed. If it is another estate's or made by hand, rename this "
            "estate's environment (StackSets are named <environment>-<stack>) or administer "
            f"this estate from another account; if it is this estate's, add the tag {ESTATE_TAG}="
            f"{spec.estate} to it (aws cloudformation update-stack-set --stack-set-name "
            f"{spec.name} --use-previous-template --tags with its other tags too) and rerun",
        )

    # making it so ------------------------------------------------------------------------------

    def ensure(self, spec: StackSetSpec) -> StackSetResult:
        """Create the StackSet or bring it up to date, then its stack instances; each
        operation waited for. A second run with nothing changed starts no operation."""
        result = StackSetResult(spec.name)
        current = self.check_owned(spec)
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
                args = _instances_args(spec, accounts, region, overrides, keep_empty=False)
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
                args = _instances_args(spec, accounts, region, overrides, keep_empty=True)
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
        """Service-managed: an instance in each of the spec's accounts, reached through the OUs
        (DeploymentTargets) but only there: AccountFilterType INTERSECTION with the accounts, so
        an OU's other accounts get none. An account no OU holds gets none either: said."""
        for region in spec.regions:
            have = {i.get("Account") for i in existing if i.get("Region") == region}
            missing = [a for a in sorted(spec.accounts) if a not in have]
            if not missing:
                continue
            args = {
                "StackSetName": spec.name,
                "DeploymentTargets": {
                    "OrganizationalUnitIds": list(spec.organizational_units),
                    "Accounts": missing,
                    "AccountFilterType": "INTERSECTION",
                },
                "Regions": [region],
                "OperationPreferences": dict(spec.preferences),
            }
            self._operate(
                result,
                f"create stack instances of {spec.name}",
                self.cfn.create_stack_instances,
                args,
            )
            made = {
                i.get("Account") for i in self.instances(spec.name) if i.get("Region") == region
            }
            outside = [a for a in missing if a not in made]
            if outside:
                raise DeployError(
                    f"StackSet {spec.name} in {region}: no stack instance in account(s) "
                    f"{', '.join(outside)}: none of the organizational units "
                    f"{', '.join(spec.organizational_units)} holds them",
                    hint="add the OU that holds each account to stacksets.organizational_units "
                    "(aws organizations list-parents --child-id <account>), then rerun; their "
                    "environments were not prepared",
                )
            result.instances.update(dict.fromkeys(missing, "created"))
        for account in spec.accounts:
            result.instances.setdefault(account, "current")


def _grouped(
    spec: StackSetSpec, accounts: list[str]
) -> dict[tuple[tuple[str, str], ...], list[str]]:
    """Accounts grouped by their ParameterOverrides: one operation per distinct set."""
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for account in accounts:
        groups.setdefault(tuple(sorted(spec.accounts[account].items())), []).append(account)
    return groups


def _backoff(first: float, factor: float = 1.5, ceiling: float = 30.0) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(delay * factor, ceiling)


def _instances_args(
    spec: StackSetSpec,
    accounts: list[str],
    region: str,
    overrides: Any,
    *,
    keep_empty: bool,
) -> dict[str, Any]:
    """CreateStackInstances' or UpdateStackInstances' arguments for `accounts` in `region`;
    an update sends its (even empty) ParameterOverrides, which replace the instances' earlier
    ones; a create leaves them out when there are none."""
    args: dict[str, Any] = {
        "StackSetName": spec.name,
        "Accounts": accounts,
        "Regions": [region],
        "ParameterOverrides": _parameters(dict(overrides)),
        "OperationPreferences": dict(spec.preferences),
    }
    if not overrides and not keep_empty:
        args.pop("ParameterOverrides")
    return args
