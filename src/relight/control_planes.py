"""Which CloudFormation resources need a control plane that lives in one region only.

Source: AWS whitepaper "AWS Fault Isolation Boundaries", sections "Global services" and
"Appendix A - Partitional service guidance" (aws partition): IAM, Organizations, Route 53
(record, zone and health-check changes), CloudFront and S3 bucket configuration have their
control planes in us-east-1; Global Accelerator and Route 53 ARC in us-west-2. Their data
planes keep working everywhere, but creating or changing these resources needs that one
region: a stack that holds one cannot be deployed while that region is down.

This is the one place the list lives. `relight plan` uses it to say, before anything runs,
which of a failover's stacks depend on a region other than the one they are built in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from relight.render import Plan

# CloudFormation type prefix → (service, the region its control plane lives in).
CONTROL_PLANES: dict[str, tuple[str, str]] = {
    "AWS::IAM::": ("IAM", "us-east-1"),
    "AWS::Organizations::": ("AWS Organizations", "us-east-1"),
    "AWS::Route53::": ("Route 53", "us-east-1"),
    "AWS::CloudFront::": ("CloudFront", "us-east-1"),
    "AWS::GlobalAccelerator::": ("Global Accelerator", "us-west-2"),
    "AWS::Route53RecoveryControl::": ("Route 53 ARC", "us-west-2"),
    "AWS::Route53RecoveryReadiness::": ("Route 53 ARC", "us-west-2"),
    # Creating and configuring a bucket (policy, versioning, encryption) is documented as
    # depending on us-east-1; objects are read and written regionally.
    "AWS::S3::Bucket": ("S3 bucket configuration", "us-east-1"),
}


@dataclass(frozen=True)
class Dependency:
    """A resource of a stack whose creation needs a control plane in another region."""

    stack: str  # the stack's key in the environment file
    resource: str  # its logical id
    type: str
    service: str
    region: str

    def __str__(self) -> str:
        return (
            f"stacks.{self.stack}: {self.resource} ({self.type}) needs {self.service}, whose "
            f"control plane is in {self.region}"
        )


def control_plane(resource_type: str) -> tuple[str, str] | None:
    """(service, region) of the control plane a resource type needs, if it is homed in one."""
    for prefix, where in CONTROL_PLANES.items():
        if resource_type.startswith(prefix):
            return where
    return None


def outside_dependencies(plan: Plan) -> list[Dependency]:
    """Every resource of the plan whose control plane lives in a region other than the
    plan's: what its deploy needs from elsewhere."""
    found = []
    for key, sp in plan.stacks.items():
        for logical, resource in json.loads(sp.body).get("Resources", {}).items():
            where = control_plane(str(resource.get("Type", "")))
            if where and where[1] != plan.region:
                found.append(Dependency(key, logical, resource["Type"], *where))
    return found
