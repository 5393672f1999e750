"""Which CloudFormation resources and AWS APIs need a control plane that lives in one region only.

Source: AWS whitepaper "AWS Fault Isolation Boundaries", sections "Global services",
"Appendix A - Partitional service guidance" and "Appendix B - Edge network global service
guidance" (aws partition): IAM, Organizations, Account Management, Route 53 (record, zone and
health-check changes), CloudFront, Shield Advanced, STS's global endpoint and S3 bucket
configuration have their control planes in us-east-1; Global Accelerator, Route 53 ARC and
Network Manager in us-west-2. Their data planes keep working everywhere, but creating or
changing these resources needs that one region: a stack that holds one cannot be deployed
while that region is down.

This is the one place the lists live: CloudFormation resource types (`CONTROL_PLANES`), the
APIs of global services (`GLOBAL_APIS`, STS's global endpoint) and S3's bucket operations.
`relight plan` uses them to say, before anything runs, which of a failover's stacks depend on a
region other than the one they are built in; an outage rehearsal (outage.py) to refuse what
would need the region it switches off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from relight.errors import ConfigError
from relight.model.plan import Plan, StackPlan

# CloudFormation type prefix → (service, the region its control plane lives in). Not covered by
# type: a WAFv2 web ACL of Scope CLOUDFRONT (its type is regional; its scope is us-east-1's).
CONTROL_PLANES: dict[str, tuple[str, str]] = {
    "AWS::IAM::": ("IAM", "us-east-1"),
    "AWS::Organizations::": ("AWS Organizations", "us-east-1"),
    "AWS::Route53::": ("Route 53", "us-east-1"),
    "AWS::CloudFront::": ("CloudFront", "us-east-1"),
    "AWS::Shield::": ("Shield Advanced", "us-east-1"),
    "AWS::GlobalAccelerator::": ("Global Accelerator", "us-west-2"),
    "AWS::Route53RecoveryControl::": ("Route 53 ARC", "us-west-2"),
    "AWS::Route53RecoveryReadiness::": ("Route 53 ARC", "us-west-2"),
    "AWS::NetworkManager::": ("Network Manager", "us-west-2"),
    # Creating and configuring a bucket (policy, versioning, encryption) is documented as
    # depending on us-east-1; objects are read and written regionally.
    "AWS::S3::Bucket": ("S3 bucket configuration", "us-east-1"),
}


# boto3 service name → (service, the region its control plane lives in), for the global services
# whose API is one endpoint for the whole partition: every call of their clients goes to that
# region, whatever region the client names (the whitepaper's partitional services and the edge
# network's global services, aws partition).
GLOBAL_APIS: dict[str, tuple[str, str]] = {
    "iam": ("IAM", "us-east-1"),
    "organizations": ("AWS Organizations", "us-east-1"),
    "account": ("Account Management", "us-east-1"),
    "route53": ("Route 53", "us-east-1"),
    "cloudfront": ("CloudFront", "us-east-1"),
    "shield": ("Shield Advanced", "us-east-1"),
    "globalaccelerator": ("Global Accelerator", "us-west-2"),
    "route53-recovery-control-config": ("Route 53 ARC", "us-west-2"),
    "networkmanager": ("Network Manager", "us-west-2"),
}
# The region botocore gives a client of a global endpoint (sts.amazonaws.com, iam.amazonaws.com).
GLOBAL_REGION = "aws-global"
# STS's global endpoint is served from us-east-1; its regional endpoints are regional services.
GLOBAL_STS: tuple[str, str] = ("the global STS endpoint", "us-east-1")  # sts.amazonaws.com
# S3 operations that create, delete or configure a bucket: documented as depending on S3's
# control plane in us-east-1 (CONTROL_PLANES["AWS::S3::Bucket"]) whatever the bucket's region;
# besides these, every `PutBucket…` and `DeleteBucket…` is one. Objects are data plane.
S3_BUCKET_CONFIGURATION = frozenset(
    {"CreateBucket", "DeleteBucket", "PutPublicAccessBlock", "DeletePublicAccessBlock"}
)


def api_control_plane(service: str, region: str | None) -> tuple[str, str] | None:
    """(service, region of its control plane) when every call of a boto3 `service` client in
    `region` goes to a global service's control plane; None for a regional client (STS in a
    region included)."""
    if service == "sts":
        return GLOBAL_STS if region in (None, GLOBAL_REGION) else None
    return GLOBAL_APIS.get(service)


def configures_bucket(action: str) -> bool:
    """The S3 operation `action` creates, deletes or configures a bucket (see above)."""
    return action in S3_BUCKET_CONFIGURATION or action.startswith(("PutBucket", "DeleteBucket"))


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


def refuse_control_planes(plan: Plan, sp: StackPlan) -> None:
    """A failover-time stack holds nothing whose creation needs another region's control
    plane (AWS Fault Isolation Boundaries): the outage may have taken that region."""
    found = []
    for logical, resource in json.loads(sp.body).get("Resources", {}).items():
        where = control_plane(str(resource.get("Type", "")))
        if where and where[1] != plan.region:
            found.append(f"{logical} ({resource['Type']}: {where[0]}, control plane in {where[1]})")
    if found:
        raise ConfigError(
            f"{plan.loaded.path}: stacks.{sp.key} (blueprint {sp.blueprint}) is built at "
            f"failover time in {plan.region}, but holds {', '.join(found)}: while that region "
            "is down it cannot be created",
            hint=f"move it into a stack with stands: global (IAM roles: the identity blueprint) "
            f"that relight prepare deploys before a disaster, and pass its outputs to "
            f"stacks.{sp.key}; or give stacks.{sp.key} stands: pilot_light if it can wait for "
            "that rung",
        )
