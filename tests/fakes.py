"""A fake CloudFormation client for what moto cannot produce (see shared/notes/local-stand-in.md):
stacks that fail and roll back with per-resource events, stacks that never finish, leftovers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError


def _missing(name: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "ValidationError", "Message": f"Stack with id {name} does not exist"}},
        "DescribeStacks",
    )


@dataclass
class FakeStack:
    name: str
    status: str
    tags: list[dict[str, str]] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    polls_left: int = 0  # describe calls that still answer *_IN_PROGRESS
    final: str = "CREATE_COMPLETE"


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
    """Behaviour per stack name: 'ok' (default), 'fail' (rolls back), 'hang' (never finishes)."""

    def __init__(self, behaviour: dict[str, str] | None = None, polls: int = 2) -> None:
        self.behaviour = behaviour or {}
        self.polls = polls
        self.stacks: dict[str, FakeStack] = {}
        self.calls: list[str] = []
        self.created: list[str] = []
        self.deleted: list[str] = []

    # what relight calls ----------------------------------------------------------------------

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.calls.append("DescribeStacks")
        stack = self.stacks.get(StackName)
        if stack is None:
            raise _missing(StackName)
        if stack.polls_left > 0:
            stack.polls_left -= 1
        elif stack.status.endswith("_IN_PROGRESS") and self.behaviour.get(StackName) != "hang":
            stack.status = stack.final
            if stack.status == "DELETE_COMPLETE":
                del self.stacks[StackName]
                raise _missing(StackName)
        return {"Stacks": [self._view(stack)]}

    def create_stack(self, **kwargs: Any) -> dict[str, str]:
        name = kwargs["StackName"]
        self.calls.append("CreateStack")
        self.created.append(name)
        params = {p["ParameterKey"]: p["ParameterValue"] for p in kwargs.get("Parameters", [])}
        behaviour = self.behaviour.get(name, "ok")
        stack = FakeStack(
            name, "CREATE_IN_PROGRESS", tags=kwargs.get("Tags", []), polls_left=self.polls
        )
        if behaviour == "fail":
            stack.final = "ROLLBACK_COMPLETE"
            now = datetime.now(UTC)
            stack.events = [
                {
                    "Timestamp": now,
                    "LogicalResourceId": "Instance1",
                    "ResourceStatus": "CREATE_FAILED",
                    "ResourceStatusReason": "The image id '[ami-0bad]' does not exist",
                },
                {
                    "Timestamp": now,
                    "LogicalResourceId": "AppSecurityGroup",
                    "ResourceStatus": "DELETE_COMPLETE",
                },
            ]
        else:
            stack.outputs = {
                "VpcId": "vpc-1",
                "PrivateSubnetIds": "subnet-1,subnet-2",
                "WebSecurityGroupId": "sg-1",
                "InstanceIds": "i-1",
                "Seen": str(params),
            }
        self.stacks[name] = stack
        return {"StackId": f"arn:stack/{name}"}

    def delete_stack(self, StackName: str) -> None:
        self.calls.append("DeleteStack")
        self.deleted.append(StackName)
        stack = self.stacks[StackName]
        stack.status, stack.final, stack.polls_left = "DELETE_IN_PROGRESS", "DELETE_COMPLETE", 1

    def describe_stack_events(self, StackName: str) -> dict[str, Any]:
        self.calls.append("DescribeStackEvents")
        return {"StackEvents": list(self.stacks[StackName].events)}

    def get_paginator(self, operation: str) -> Any:
        fake = self

        class Paginator:
            def paginate(self) -> list[dict[str, Any]]:
                fake.calls.append("DescribeStacks")
                return [{"Stacks": [fake._view(s) for s in fake.stacks.values()]}]

        return Paginator()

    # test set-up -----------------------------------------------------------------------------

    def leftover(self, name: str, status: str, env: str = "shop") -> None:
        self.stacks[name] = FakeStack(name, status, tags=[{"Key": "relight:env", "Value": env}])

    @staticmethod
    def _view(stack: FakeStack) -> dict[str, Any]:
        return {
            "StackName": stack.name,
            "StackStatus": stack.status,
            "Tags": stack.tags,
            "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in stack.outputs.items()],
        }


class StubbedAws:
    """An Aws whose clients are botocore Stubbers, for exact requests and for what moto lacks
    (cross-account copies, AWS Backup listings, AZs that lack an instance type)."""

    def __init__(self) -> None:
        from relight.aws import AwsTarget

        self.clients: dict[tuple[str, str], Any] = {}
        self.stubs: dict[tuple[str, str], Any] = {}
        self.target = AwsTarget()

    def client(self, service: str, region: str) -> Any:
        import boto3
        from botocore.stub import Stubber

        key = (service, region)
        if key not in self.clients:
            self.clients[key] = boto3.client(service, region)
            self.stubs[key] = Stubber(self.clients[key])
            self.stubs[key].activate()
        return self.clients[key]

    def stub(self, service: str, region: str) -> Any:
        self.client(service, region)
        return self.stubs[(service, region)]
