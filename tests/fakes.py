"""A fake CloudFormation client for what moto cannot produce (see shared/notes/local-stand-in.md):
stacks that take time, fail and roll back with per-resource events, never finish, are throttled,
are left over by an earlier run, or are protected from deletion; change sets with and without
changes. bench/scheduler.py uses it too."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError


def _error(code: str, message: str, operation: str = "DescribeStacks") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def _missing(name: str) -> ClientError:
    return _error("ValidationError", f"Stack with id {name} does not exist")


@dataclass
class FakeStack:
    name: str
    status: str
    tags: list[dict[str, str]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    body: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    ready_at: float = 0.0  # when the operation in progress ends
    final: str = "CREATE_COMPLETE"
    protected: bool = False
    disable_rollback: bool = False
    role_arn: str = ""  # the service role CloudFormation uses for every operation on it


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeCloudFormation:
    """CloudFormation in (fake or real) time: each operation takes its stack's duration.

    Behaviour per stack name: 'ok' (default), 'fail' (the create fails: rolled back, or kept
    as CREATE_FAILED with what was made when DisableRollback is set), 'fail-once' (the same,
    but a retry succeeds), 'fail-update' (an update fails), 'hang' (never finishes).
    `throttle(operation)` returning True makes that call fail with Throttling, as
    CloudFormation does under load. `replacing` maps a parameter to the resource (logical id,
    type) that a change of it replaces, as CloudFormation reports it in a change set. A stack
    whose `RelightPurpose` is failover or home has deletion protection on its database: its
    delete fails as RDS refuses it, until an update sets another purpose.
    """

    def __init__(
        self,
        behaviour: dict[str, str] | None = None,
        *,
        clock: Callable[[], float] | None = None,
        durations: dict[str, float] | None = None,
        duration: float = 0.5,
        throttle: Callable[[str], bool] | None = None,
        page_size: int = 100,
    ) -> None:
        self.behaviour = behaviour or {}
        self.clock = clock or FakeClock()
        self.durations = durations or {}
        self.duration = duration
        self.throttle = throttle or (lambda operation: False)
        self.page_size = page_size
        self.stacks: dict[str, FakeStack] = {}
        self.change_sets: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.created: list[str] = []
        self.started: dict[str, float] = {}  # name → when its create began
        self.deleted: list[str] = []
        self.updated: list[str] = []
        self.retried: list[str] = []
        self.log: list[tuple[str, str]] = []  # (operation, stack) of updates and deletes, in order
        self.replacing: dict[str, tuple[str, ...]] = {}
        # stack → the resources (type, physical id) ListStackResources names besides its events'
        self.resources: dict[str, list[dict[str, str]]] = {}
        # stack → what refuses its delete now (the reason its resource's DELETE_FAILED gives)
        self.delete_blockers: dict[str, Callable[[], str | None]] = {}
        self._delete_failures: dict[str, str] = {}
        self._ids = itertools.count(1)
        # (operation, stack, the RoleARN it passed or "") of every create, update, change set
        # and delete, in order
        self.roles: list[tuple[str, str, str]] = []
        self.gone_roles: set[str] = set()  # service roles deleted since: unusable

    # what relight calls ----------------------------------------------------------------------

    def _role(self, operation: str, stack: FakeStack | None, kwargs: dict[str, Any]) -> str:
        """The service role an operation runs with, as AWS documents RoleARN: the one given
        becomes the stack's for every later operation; without one, the stack's own. A role
        that no longer exists fails the call as CloudFormation does."""
        given = kwargs.get("RoleARN") or ""
        self.roles.append((operation, kwargs["StackName"], given))
        role = given or (stack.role_arn if stack else "")
        if role in self.gone_roles:
            raise _error(
                "ValidationError", f"Role {role} is invalid or cannot be assumed", operation
            )
        return role

    def _call(self, operation: str) -> None:
        self.calls.append(operation)
        if self.throttle(operation):
            raise _error("Throttling", "Rate exceeded", operation)

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self._call("DescribeStacks")
        stack = self._advance(StackName)
        return {"Stacks": [self._view(stack)]}

    def create_stack(self, **kwargs: Any) -> dict[str, str]:
        name = kwargs["StackName"]
        self._call("CreateStack")
        if name in self.stacks:
            raise _error("AlreadyExistsException", f"Stack [{name}] already exists", "CreateStack")
        role = self._role("CreateStack", None, kwargs)
        self.created.append(name)
        self.started[name] = self.clock()
        params = {p["ParameterKey"]: p["ParameterValue"] for p in kwargs.get("Parameters", [])}
        stack = FakeStack(
            name,
            "CREATE_IN_PROGRESS",
            tags=kwargs.get("Tags", []),
            parameters=params,
            body=kwargs.get("TemplateBody", kwargs.get("TemplateURL", "")),
            ready_at=self.clock() + self.durations.get(name, self.duration),
            protected=bool(kwargs.get("EnableTerminationProtection")),
            disable_rollback=bool(kwargs.get("DisableRollback")),
            role_arn=role,
        )
        if "OnFailure" in kwargs and "DisableRollback" in kwargs:
            raise _error(
                "ValidationError",
                "You cannot specify both DisableRollback and OnFailure.",
                "CreateStack",
            )
        if self.behaviour.get(name) in ("fail", "fail-once"):
            stack.final = "CREATE_FAILED" if stack.disable_rollback else "ROLLBACK_COMPLETE"
        self.stacks[name] = stack
        self._event(stack, name, "CREATE_IN_PROGRESS", "User Initiated")
        return {"StackId": f"arn:stack/{name}"}

    def delete_stack(self, StackName: str, RoleARN: str = "") -> None:
        self._call("DeleteStack")
        stack = self._advance(StackName)
        stack.role_arn = self._role(
            "DeleteStack", stack, {"StackName": StackName, "RoleARN": RoleARN}
        )
        if stack.protected:
            raise _error(
                "ValidationError",
                f"Stack [{StackName}] cannot be deleted while TerminationProtection is enabled",
                "DeleteStack",
            )
        self.deleted.append(StackName)
        self.log.append(("DeleteStack", StackName))
        protected_data = stack.parameters.get("RelightPurpose") in ("failover", "home")
        blocker = self.delete_blockers.get(StackName)
        refused = blocker() if blocker else None
        if refused:
            self._delete_failures[StackName] = refused
        stack.status = "DELETE_IN_PROGRESS"
        stack.final = "DELETE_FAILED" if protected_data or refused else "DELETE_COMPLETE"
        stack.ready_at = self.clock() + self.durations.get(StackName, self.duration) / 2
        self._event(stack, StackName, "DELETE_IN_PROGRESS", "User Initiated")

    def update_stack(self, **kwargs: Any) -> dict[str, str]:
        """A retry in place (CREATE_FAILED, UPDATE_FAILED) or a direct update; with
        UsePreviousTemplate and UsePreviousValue parameters as AWS takes them."""
        self._call("UpdateStack")
        name = kwargs["StackName"]
        stack = self._advance(name)
        role = self._role("UpdateStack", stack, kwargs)
        allowed = stack.status.endswith("_COMPLETE") or stack.status in (
            "CREATE_FAILED",
            "UPDATE_FAILED",
        )
        if not allowed or stack.status == "ROLLBACK_COMPLETE":
            raise _error(
                "ValidationError",
                f"Stack:arn:stack/{name} is in {stack.status} state and can not be updated.",
                "UpdateStack",
            )
        # AWS: a parameter left out takes its default (these stacks' have none: refused), and
        # the template is given or UsePreviousTemplate says to keep it.
        given = {p["ParameterKey"]: p for p in kwargs.get("Parameters", [])}
        missing = sorted(set(stack.parameters) - set(given))
        if missing:
            raise _error(
                "ValidationError", f"Parameters: [{', '.join(missing)}] must have values",
                "UpdateStack",
            )  # fmt: skip
        params = {
            key: stack.parameters[key] if p.get("UsePreviousValue") else p["ParameterValue"]
            for key, p in given.items()
        }
        if not (kwargs.get("UsePreviousTemplate") or "TemplateBody" in kwargs):
            raise _error(
                "ValidationError",
                "Either Template URL or Template Body must be specified.",
                "UpdateStack",
            )
        body = stack.body if kwargs.get("UsePreviousTemplate") else kwargs["TemplateBody"]
        retry = stack.status in ("CREATE_FAILED", "UPDATE_FAILED")
        if retry and not kwargs.get("DisableRollback"):
            raise _error(
                "ValidationError",
                f"This stack is currently in a non-terminal [{stack.status}] state. To update "
                "the stack from this state, please use the disable-rollback parameter with "
                "update-stack API. To rollback to the last known good state, use the "
                "rollback-stack API",
                "UpdateStack",
            )
        if not retry and body == stack.body and params == stack.parameters:
            raise _error("ValidationError", "No updates are to be performed.", "UpdateStack")
        (self.retried if retry else self.updated).append(name)
        self.log.append(("UpdateStack", name))
        stack.role_arn = role
        stack.parameters, stack.body = params, body
        stack.status, stack.final = "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"
        if retry and self.behaviour.get(name) == "fail":
            stack.final = "UPDATE_FAILED"
        stack.ready_at = self.clock() + self.durations.get(name, self.duration)
        self._event(stack, name, "UPDATE_IN_PROGRESS", "User Initiated")
        return {"StackId": f"arn:stack/{name}"}

    def update_termination_protection(
        self, StackName: str, EnableTerminationProtection: bool
    ) -> None:
        self._call("UpdateTerminationProtection")
        self._advance(StackName).protected = EnableTerminationProtection

    def describe_stack_events(self, StackName: str, NextToken: str = "0") -> dict[str, Any]:
        self._call("DescribeStackEvents")
        events = self._advance(StackName).events[::-1]
        start = int(NextToken)
        page: dict[str, Any] = {"StackEvents": events[start : start + self.page_size]}
        if start + self.page_size < len(events):
            page["NextToken"] = str(start + self.page_size)
        return page

    def list_stack_resources(self, StackName: str, NextToken: str = "") -> dict[str, Any]:
        """Each resource the stack's events name, in its latest status."""
        self._call("ListStackResources")
        latest: dict[str, str] = {}
        for event in self._advance(StackName).events:
            if event["LogicalResourceId"] != StackName:
                latest[event["LogicalResourceId"]] = event["ResourceStatus"]
        return {
            "StackResourceSummaries": [
                {"LogicalResourceId": k, "ResourceStatus": v} for k, v in latest.items()
            ]
            + self.resources.get(StackName, [])
        }

    def create_change_set(self, **kwargs: Any) -> dict[str, str]:
        self._call("CreateChangeSet")
        stack = self._advance(kwargs["StackName"])
        role = self._role("CreateChangeSet", stack, kwargs)
        params = {p["ParameterKey"]: p["ParameterValue"] for p in kwargs.get("Parameters", [])}
        body = kwargs.get("TemplateBody", kwargs.get("TemplateURL", ""))
        arn = f"arn:changeSet/{stack.name}/{kwargs['ChangeSetName']}"
        same = body == stack.body and params == stack.parameters
        changed = [name for name, value in params.items() if stack.parameters.get(name) != value]
        self.change_sets[arn] = {
            "ChangeSetId": arn,
            "StackName": stack.name,
            "Status": "FAILED" if same else "CREATE_COMPLETE",
            "StatusReason": "The submitted information didn't contain changes. "
            "Submit different information to create a change set."
            if same
            else "",
            "Changes": [] if same else [self._change(name) for name in changed],
            "parameters": params,
            "body": body,
            "role": role,
        }
        return {"Id": arn, "StackId": f"arn:stack/{stack.name}"}

    def _change(self, parameter: str) -> dict[str, Any]:
        """The ResourceChange a changed parameter makes: a replacement ("True", or what
        `replacing` says: "Conditional", or a "Remove" action) where `replacing` names it."""
        logical, kind, *how = self.replacing.get(parameter, (parameter, "AWS::EC2::Instance"))
        replacement = (how or ["True"])[0] if parameter in self.replacing else "False"
        change: dict[str, Any] = {"LogicalResourceId": logical, "ResourceType": kind}
        if replacement == "Remove":
            change["Action"] = "Remove"
        else:
            change.update(Action="Modify", Replacement=replacement)
        return {"ResourceChange": change}

    def describe_change_set(self, ChangeSetName: str) -> dict[str, Any]:
        self._call("DescribeChangeSet")
        found = self.change_sets[ChangeSetName]
        return {k: v for k, v in found.items() if k not in ("parameters", "body", "role")}

    def execute_change_set(self, ChangeSetName: str, DisableRollback: bool = False) -> None:
        self._call("ExecuteChangeSet")
        change = self.change_sets.pop(ChangeSetName)
        stack = self.stacks[change["StackName"]]
        self.updated.append(stack.name)
        stack.parameters, stack.body = change["parameters"], change["body"]
        stack.role_arn = change["role"]
        stack.status = "UPDATE_IN_PROGRESS"
        stack.final = "UPDATE_COMPLETE"
        if self.behaviour.get(stack.name) == "fail-update":
            stack.final = "UPDATE_FAILED" if DisableRollback else "UPDATE_ROLLBACK_COMPLETE"
        stack.ready_at = self.clock() + self.durations.get(stack.name, self.duration)
        self._event(stack, stack.name, "UPDATE_IN_PROGRESS", "User Initiated")

    def delete_change_set(self, ChangeSetName: str) -> None:
        self._call("DeleteChangeSet")
        self.change_sets.pop(ChangeSetName, None)

    def get_paginator(self, operation: str) -> Any:
        fake = self

        class Paginator:
            def paginate(self) -> list[dict[str, Any]]:
                fake._call("DescribeStacks")
                for name in list(fake.stacks):
                    with contextlib.suppress(ClientError):
                        fake._advance(name)
                return [{"Stacks": [fake._view(s) for s in fake.stacks.values()]}]

        return Paginator()

    # time passing ----------------------------------------------------------------------------

    def _advance(self, name: str) -> FakeStack:
        stack = self.stacks.get(name)
        if stack is None:
            raise _missing(name)
        done = self.clock() >= stack.ready_at and self.behaviour.get(name) != "hang"
        if stack.status.endswith("_IN_PROGRESS") and stack.status != "REVIEW_IN_PROGRESS" and done:
            self._complete(stack)
            if stack.status == "DELETE_COMPLETE":
                del self.stacks[name]
                raise _missing(name)
        return stack

    def _complete(self, stack: FakeStack) -> None:
        if stack.final == "CREATE_FAILED":  # rollback disabled: what was made stays
            self._event(stack, "Database", "CREATE_COMPLETE", "")
            self._event(
                stack, "Instance1", "CREATE_FAILED", "The image id '[ami-0bad]' does not exist"
            )
            if self.behaviour.get(stack.name) == "fail-once":
                self.behaviour[stack.name] = "ok"
        elif stack.final == "UPDATE_FAILED":
            self._event(
                stack, "Instance1", "UPDATE_FAILED", "Instance type t9.huge is not supported"
            )
        elif stack.final == "DELETE_FAILED" and stack.name in self._delete_failures:
            self._event(stack, "Vpc", "DELETE_FAILED", self._delete_failures.pop(stack.name))
        elif stack.final == "DELETE_FAILED" and 'LoadBalancer"' in stack.body:
            self._event(
                stack,
                "LoadBalancer",
                "DELETE_FAILED",
                f"Load balancer 'arn:aws:elasticloadbalancing:us-west-2:123456789012:"
                f"loadbalancer/app/{stack.name}/1' cannot be deleted because deletion "
                "protection is enabled (Service: AmazonElasticLoadBalancing; Status Code: 400; "
                "Error Code: OperationNotPermitted)",
            )
        elif stack.final == "DELETE_FAILED":
            self._event(
                stack,
                "Database",
                "DELETE_FAILED",
                "Cannot delete protected DB Instance, please disable deletion protection "
                "and try again. (Service: Rds, Status Code: 400)",
            )
        elif stack.final == "ROLLBACK_COMPLETE":
            self._event(
                stack, "Instance1", "CREATE_FAILED", "The image id '[ami-0bad]' does not exist"
            )
            self._event(stack, stack.name, "ROLLBACK_IN_PROGRESS", "Resource creation failed")
            self._event(stack, "AppSecurityGroup", "DELETE_COMPLETE", "")
        elif stack.final == "UPDATE_ROLLBACK_COMPLETE":
            self._event(
                stack, "Instance1", "UPDATE_FAILED", "Instance type t9.huge is not supported"
            )
            self._event(stack, stack.name, "UPDATE_ROLLBACK_IN_PROGRESS", "")
        elif stack.final == "UPDATE_COMPLETE":
            self._event(stack, "Instance1", "UPDATE_COMPLETE", "")
            self._outputs(stack)
        elif stack.final == "CREATE_COMPLETE":
            self._event(stack, "Instance1", "CREATE_COMPLETE", "")
            self._outputs(stack)
        stack.status = stack.final
        self._event(stack, stack.name, stack.final, "")

    @staticmethod
    def _outputs(stack: FakeStack) -> None:
        stack.outputs = {
            "VpcId": "vpc-1",
            "PrivateSubnetIds": "subnet-1,subnet-2",
            "WebSecurityGroupId": "sg-1",
            "InstanceIds": "i-1",
            "Seen": str(stack.parameters),
            # the identity stack's service role
            **(
                {"CloudFormationRoleArn": f"arn:aws:iam::123456789012:role/{stack.name}-CfnRole"}
                if "CloudFormationRole" in stack.body
                else {}
            ),
        }

    def _event(self, stack: FakeStack, logical: str, status: str, reason: str) -> None:
        event = {
            "EventId": f"e{next(self._ids)}",
            "StackName": stack.name,
            "Timestamp": datetime.now(UTC),
            "LogicalResourceId": logical,
            "ResourceStatus": status,
        }
        if reason:
            event["ResourceStatusReason"] = reason
        stack.events.append(event)

    # test set-up -----------------------------------------------------------------------------

    def leftover(self, name: str, status: str, env: str = "shop", protected: bool = False) -> None:
        self.stacks[name] = FakeStack(
            name, status, tags=[{"Key": "relight:env", "Value": env}], protected=protected
        )

    @staticmethod
    def _view(stack: FakeStack) -> dict[str, Any]:
        return {
            "StackName": stack.name,
            "StackStatus": stack.status,
            "Tags": stack.tags,
            "EnableTerminationProtection": stack.protected,
            "DisableRollback": stack.disable_rollback,
            **({"RoleARN": stack.role_arn} if stack.role_arn else {}),
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": v} for k, v in stack.parameters.items()
            ],
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in stack.outputs.items()],
        }


class StubbedAws:
    """An Aws whose clients are botocore Stubbers, for exact requests and for what moto lacks
    (cross-account copies, AWS Backup listings, AZs that lack an instance type)."""

    def __init__(self) -> None:
        from relight.aws.clients import AwsTarget

        self.clients: dict[tuple[str, str], Any] = {}
        self.stubs: dict[tuple[str, str], Any] = {}
        self.bounded: set[tuple[str, str]] = set()
        self.target = AwsTarget()

    def client(self, service: str, region: str, bounded: bool = False) -> Any:
        import boto3
        from botocore.stub import Stubber

        if bounded:  # one stub serves both; which calls were bounded is recorded
            self.bounded.add((service, region))
        key = (service, region)
        if key not in self.clients:
            self.clients[key] = boto3.client(service, region)
            self.stubs[key] = Stubber(self.clients[key])
            self.stubs[key].activate()
        return self.clients[key]

    def stub(self, service: str, region: str) -> Any:
        self.client(service, region)
        return self.stubs[(service, region)]

    def down(self, service: str, region: str) -> str | None:
        """As relight.aws.clients.Aws outside an outage rehearsal: no region is declared lost."""
        return None
