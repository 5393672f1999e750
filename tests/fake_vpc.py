"""A fake EC2 for one VPC and what other services add to it, as AWS documents it and moto does
not play it: GuardDuty Runtime Monitoring's interface endpoint and security group (tagged
`GuardDutyManaged: true`), an interface endpoint's delete that takes time, a security group
that cannot go while an endpoint still uses it ("resource sg-... has a dependent object"), and
subnets and a VPC that cannot go while anything CloudFormation did not make is in them
(DependencyViolation: "The subnet 'subnet-...' has dependencies and cannot be deleted.", "The vpc
'vpc-...' has dependencies and cannot be deleted.")."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

REGION = "us-west-2"
GUARDDUTY_SERVICE = f"com.amazonaws.{REGION}.guardduty-data"


def _error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@dataclass
class Endpoint:
    id: str
    service: str
    groups: list[str]
    tags: dict[str, str] = field(default_factory=dict)
    state: str = "available"
    describes_until_gone: int = 0  # a deleting endpoint is "deleting" for this many reads


@dataclass
class Group:
    id: str
    name: str
    tags: dict[str, str] = field(default_factory=dict)


class FakeVpcEc2:
    """EC2 for `vpc`: endpoints and security groups beside the ones the stack made."""

    def __init__(self, vpc: str = "vpc-1", deleting_reads: int = 3) -> None:
        self.vpc = vpc
        self.deleting_reads = deleting_reads
        self.endpoints: dict[str, Endpoint] = {}
        self.groups: dict[str, Group] = {"sg-default": Group("sg-default", "default")}
        self.calls: list[str] = []
        self._ids = itertools.count(1)

    # set-up ----------------------------------------------------------------------------------

    def guardduty(self) -> tuple[str, str]:
        """What GuardDuty's automated agent configuration adds: an endpoint and its group."""
        group = self.group(
            f"GuardDutyManagedSecurityGroup-{self.vpc}", {"GuardDutyManaged": "true"}
        )
        endpoint = self.endpoint(GUARDDUTY_SERVICE, [group], {"GuardDutyManaged": "true"})
        return endpoint, group

    def group(self, name: str, tags: dict[str, str] | None = None) -> str:
        ident = f"sg-{next(self._ids):04x}"
        self.groups[ident] = Group(ident, name, tags or {})
        return ident

    def endpoint(self, service: str, groups: list[str], tags: dict[str, str] | None = None) -> str:
        ident = f"vpce-{next(self._ids):04x}"
        self.endpoints[ident] = Endpoint(ident, service, groups, tags or {})
        return ident

    def blocks_vpc_delete(self) -> str | None:
        """Why the network stack's delete fails now: its subnets cannot go while an interface
        endpoint's network interfaces are in them (the error GuardDuty's page shows), the VPC
        cannot go while a security group it did not make is in it."""
        if any(e.state != "deleted" for e in self.endpoints.values()):
            return "The subnet 'subnet-1' has dependencies and cannot be deleted."
        if any(g.name != "default" for g in self.groups.values()):
            return f"The vpc '{self.vpc}' has dependencies and cannot be deleted."
        return None

    # what relight calls ----------------------------------------------------------------------

    @staticmethod
    def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def _view(self, e: Endpoint) -> dict[str, Any]:
        return {
            "VpcEndpointId": e.id,
            "VpcEndpointType": "Interface",
            "VpcId": self.vpc,
            "ServiceName": e.service,
            "State": e.state,
            "Groups": [{"GroupId": g} for g in e.groups],
            "Tags": self._tags(e.tags),
        }

    def describe_vpc_endpoints(
        self, Filters: list[dict[str, Any]] | None = None, VpcEndpointIds: list[str] | None = None
    ) -> dict[str, Any]:
        self.calls.append("DescribeVpcEndpoints")
        for e in self.endpoints.values():
            if e.state == "deleting":
                e.describes_until_gone -= 1
                if e.describes_until_gone <= 0:
                    e.state = "deleted"
        if VpcEndpointIds:
            missing = [i for i in VpcEndpointIds if i not in self.endpoints]
            if missing:
                raise _error(
                    "InvalidVpcEndpointId.NotFound",
                    f"The VpcEndpoint Id '{missing[0]}' does not exist",
                    "DescribeVpcEndpoints",
                )
            chosen = [self.endpoints[i] for i in VpcEndpointIds]
        else:
            chosen = list(self.endpoints.values())
        return {"VpcEndpoints": [self._view(e) for e in chosen]}

    def describe_security_groups(self, Filters: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append("DescribeSecurityGroups")
        return {
            "SecurityGroups": [
                {
                    "GroupId": g.id,
                    "GroupName": g.name,
                    "VpcId": self.vpc,
                    "Tags": self._tags(g.tags),
                }
                for g in self.groups.values()
            ]
        }

    def delete_vpc_endpoints(self, VpcEndpointIds: list[str]) -> dict[str, Any]:
        self.calls.append("DeleteVpcEndpoints")
        unsuccessful = []
        for ident in VpcEndpointIds:
            endpoint = self.endpoints.get(ident)
            if endpoint is None:
                unsuccessful.append(
                    {
                        "ResourceId": ident,
                        "Error": {
                            "Code": "InvalidVpcEndpoint.NotFound",
                            "Message": f"The VpcEndpoint Id '{ident}' does not exist",
                        },
                    }
                )
                continue
            endpoint.state = "deleting"
            endpoint.describes_until_gone = self.deleting_reads
        return {"Unsuccessful": unsuccessful}

    def delete_security_group(self, GroupId: str) -> None:
        self.calls.append("DeleteSecurityGroup")
        if GroupId not in self.groups:
            raise _error(
                "InvalidGroup.NotFound",
                f"The security group '{GroupId}' does not exist",
                "DeleteSecurityGroup",
            )
        if any(GroupId in e.groups and e.state != "deleted" for e in self.endpoints.values()):
            raise _error(
                "DependencyViolation",
                f"resource {GroupId} has a dependent object",
                "DeleteSecurityGroup",
            )
        del self.groups[GroupId]
