"""What other services add to a VPC relight made, dealt with before the VPC's stack is deleted.

CloudFormation deletes only what a stack made. GuardDuty Runtime Monitoring with automated
agent configuration adds an interface endpoint (`com.amazonaws.<region>.guardduty-data`) and a
security group (`GuardDutyManagedSecurityGroup-vpc-...`) to every VPC, both tagged
`GuardDutyManaged: true`, and removes them only when Runtime Monitoring is disabled; while
they stand, the VPC's delete fails (`DependencyViolation`: "The vpc 'vpc-...' has dependencies
and cannot be deleted."), and the stack ends DELETE_FAILED. AWS's page for infrastructure as
code says to delete them by hand: relight does so, for a VPC one of its stacks made and only
for what is tagged as GuardDuty's. Anything else another hand added (an endpoint, a security
group) is named, with the command that removes it, and the stack is not deleted: its delete
would fail, and relight never removes what it cannot attribute.

An interface endpoint's delete takes time (its network interfaces go first); its security
group can be deleted only once they are gone ("resource sg-... has a dependent object"), so
the group's delete waits for the endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from relight.aws.failures import translated
from relight.errors import AwsError
from relight.model.scheduler import Task
from relight.model.shapes import tag_dict

GUARDDUTY_TAG = "GuardDutyManaged"
POLL_SECONDS = 10.0
DEFAULT_WAIT = 600.0  # an interface endpoint is usually gone in a minute or two


@dataclass
class Cleared:
    """What was found in the VPCs a stack made: removed (GuardDuty's), or left and named."""

    removed: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)  # each with the command that removes it


def _guardduty(item: dict[str, Any]) -> bool:
    return tag_dict(item.get("Tags")).get(GUARDDUTY_TAG, "").lower() == "true"


def _stack_resources(cfn: Any, stack_name: str) -> tuple[list[str], set[str]]:
    """The VPCs the stack made, and the physical ids of everything it made."""
    vpcs, own = [], set()
    token: dict[str, str] = {}
    while True:
        page = cfn.list_stack_resources(StackName=stack_name, **token)
        for resource in page["StackResourceSummaries"]:
            physical = resource.get("PhysicalResourceId")
            if not physical:
                continue
            own.add(physical)
            if resource.get("ResourceType") == "AWS::EC2::VPC":
                vpcs.append(physical)
        if not page.get("NextToken"):
            return vpcs, own
        token = {"NextToken": page["NextToken"]}


@dataclass
class _Found:
    vpc: str
    endpoints: list[str] = field(default_factory=list)  # GuardDuty's, to remove
    groups: list[str] = field(default_factory=list)  # GuardDuty's, to remove
    named: list[str] = field(default_factory=list)  # another hand's, with their commands


def _look(ec2: Any, region: str, vpc: str, own: set[str]) -> _Found:
    found = _Found(vpc)
    where = [{"Name": "vpc-id", "Values": [vpc]}]
    guardduty_service = f"com.amazonaws.{region}.guardduty-data"
    for endpoint in ec2.describe_vpc_endpoints(Filters=where).get("VpcEndpoints", []):
        ident = endpoint["VpcEndpointId"]
        if ident in own or endpoint.get("State", "").lower() in ("deleted", "deleting"):
            continue
        if _guardduty(endpoint) and endpoint.get("ServiceName") == guardduty_service:
            found.endpoints.append(ident)
        else:
            found.named.append(
                f"endpoint {ident} ({endpoint.get('ServiceName', '?')}), not made by relight: "
                f"aws ec2 delete-vpc-endpoints --region {region} --vpc-endpoint-ids {ident}"
            )
    for group in ec2.describe_security_groups(Filters=where).get("SecurityGroups", []):
        ident = group["GroupId"]
        if ident in own or group.get("GroupName") == "default":
            continue
        if _guardduty(group):
            found.groups.append(ident)
        else:
            found.named.append(
                f"security group {ident} ({group.get('GroupName', '?')}), not made by relight: "
                f"aws ec2 delete-security-group --region {region} --group-id {ident}"
            )
    return found


def _gone(ec2: Any, endpoints: list[str]) -> bool:
    from botocore.exceptions import ClientError

    try:
        answer = ec2.describe_vpc_endpoints(VpcEndpointIds=endpoints)
    except ClientError as exc:
        if "NotFound" in exc.response.get("Error", {}).get("Code", ""):
            return True
        raise
    return all(e.get("State", "").lower() == "deleted" for e in answer.get("VpcEndpoints", []))


def _remove(
    ec2: Any, region: str, found: _Found, clock: Callable[[], float], wait: float
) -> Task[Cleared]:
    from botocore.exceptions import ClientError

    cleared = Cleared()
    deadline = clock() + wait
    if found.endpoints:
        answer = ec2.delete_vpc_endpoints(VpcEndpointIds=found.endpoints)
        for failure in answer.get("Unsuccessful", []):
            error = failure.get("Error", {})
            cleared.left.append(
                f"GuardDuty's endpoint {failure.get('ResourceId')} in {found.vpc} was not "
                f"deleted ({error.get('Code')}: {error.get('Message')}): aws ec2 "
                f"delete-vpc-endpoints --region {region} --vpc-endpoint-ids "
                f"{failure.get('ResourceId')}"
            )
        failed = {f.get("ResourceId") for f in answer.get("Unsuccessful", [])}
        deleted = [e for e in found.endpoints if e not in failed]
        cleared.removed += [
            f"GuardDuty's endpoint {e} (guardduty-data, tagged {GUARDDUTY_TAG}) in {found.vpc}"
            for e in deleted
        ]
        while deleted and not _gone(ec2, deleted) and clock() < deadline:
            yield POLL_SECONDS
    for group in found.groups:
        while True:
            try:
                ec2.delete_security_group(GroupId=group)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code == "DependencyViolation" and clock() < deadline:
                    yield POLL_SECONDS  # the endpoint's network interfaces are still going
                    continue
                cleared.left.append(
                    f"GuardDuty's security group {group} in {found.vpc} was not deleted "
                    f"({code}: {exc.response.get('Error', {}).get('Message')}): aws ec2 "
                    f"delete-security-group --region {region} --group-id {group}"
                )
                break
            cleared.removed.append(
                f"GuardDuty's security group {group} (tagged {GUARDDUTY_TAG}) in {found.vpc}"
            )
            break
    return cleared


def clear_vpc_extras(
    cfn: Any,
    ec2: Any,
    region: str,
    stack_name: str,
    *,
    clock: Callable[[], float],
    wait: float = DEFAULT_WAIT,
) -> Task[Cleared]:
    """Before `stack_name`'s delete: remove what GuardDuty added to the VPCs it made; name the
    rest. With anything named, nothing is removed (the stack's delete would fail anyway)."""
    from botocore.exceptions import ClientError

    try:
        with translated(f"cannot read what stack {stack_name} made", cfn):
            vpcs, own = _stack_resources(cfn, stack_name)
    except AwsError as exc:
        cause = exc.__cause__
        if isinstance(cause, ClientError) and "does not exist" in str(cause):
            return Cleared()  # gone already: its delete has nothing to fail on
        raise
    if not vpcs:
        return Cleared()
    with translated(f"cannot list what is in the VPC of stack {stack_name}", ec2):
        found = [_look(ec2, region, vpc, own) for vpc in vpcs]
    named = [line for f in found for line in f.named]
    if named:
        return Cleared(left=named)
    cleared = Cleared()
    for each in found:
        with translated(f"cannot remove what GuardDuty added to {each.vpc}", ec2):
            done = yield from _remove(ec2, region, each, clock, wait)
        cleared.removed += done.removed
        cleared.left += done.left
    return cleared
