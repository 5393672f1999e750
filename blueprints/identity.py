"""identity: the IAM roles and instance profiles the other blueprints use, made ahead of time.

Why a stack of its own: IAM's control plane is in us-east-1, so creating or
changing a role needs us-east-1 to answer, and us-east-1 may be the region
that is down (AWS's "Fault Isolation Boundaries" whitepaper, on static
stability). This stack is deployed by `relight prepare`, before any outage;
the stacks a failover deploys (compute, network, database) hold no IAM
resource and take the ARNs made here as CloudFormation Parameters. Using a
role that already exists is a data-plane matter, served in every region.

- `instance_roles`: per short name (`web`, `app_server`), a role EC2 may
  assume, with AmazonSSMManagedInstanceCore and the extra AWS managed
  policies named (never administrator-like ones), and its instance profile.
  Outputs `<Name>InstanceProfileArn`, `<Name>InstanceProfileName` and
  `<Name>InstanceRoleArn`, `<Name>` being the key in CamelCase (app_server →
  AppServer).
  `instance_roles.<key>.secrets`: Secrets Manager secret names the role may read
  (GetSecretValue on `...:secret:<name>-??????` in the region it runs in, and kms:Decrypt
  through Secrets Manager there for a customer managed key).
- `flow_logs`: the role VPC flow logs deliver with, allowed to write only to
  log groups under `/relight/flow-logs/` (where blueprints/network.py puts
  its group). Output `FlowLogRoleArn`.
- `rds_monitoring`: the RDS enhanced-monitoring role. Output `MonitoringRoleArn`.
- in the environment's first identity stack (`cloudformation_role`, filled by relight: a
  second identity stack, such as an estate's baseline, has none), the CloudFormation service
  role (`CloudFormationRole`, trusted by
  cloudformation.amazonaws.com): every stack operation on the environment's other stacks
  passes it as RoleARN, so CloudFormation acts with it, not with the operator's session.
  Its policy (`cloudformation_policy`) is filled by relight when it renders the identity
  stack, derived from the resource types of the environment's other stacks in the region
  (relight.steps.service_role, where the scoping is explained); it is attached as managed
  policies of at most 6,144 characters each. Output `CloudFormationRoleArn`.

No role or profile is given a name: CloudFormation makes unique ones, so one
identity stack per recovery region never collides with another.

Every role but the CloudFormation service role gets the IAM path `role_path` (filled by
relight: relight.steps.service_role, `role_path`), and the service role may pass exactly the
roles under its environment's paths (`iam:PassRole` on `role/<path>*`): a role's ARN holds its
path, so the grant holds whatever stack made the role (relight's prepare, or a StackSet's
`StackSet-<name>-<id>` stack) and however CloudFormation shortens a generated name.

- the environment's first identity stack (the one holding the service role): `/relight/env/<env>/`;
  only that environment's service role passes them.
- any other identity stack (e.g. an estate's `baseline`, one StackSet for every account):
  `/relight/stack/<key>/`, the same for every environment, so the template is the same in
  every account. The trade-off: environments in one account that both have an identity stack
  of that key may pass each other's roles of that stack. Keep roles that belong to one
  environment (instance roles that read its secrets) in its first identity stack.

The service role has a path of its own, `/relight-cloudformation/<env>/` (`service_role_path`):
outside `/relight/`, so outside every pattern it may pass, and a Deny (`NeverPassItself`)
refuses passing any role outside `/relight/`; the operator passes it to CloudFormation by that
path, whichever stack (relight's or a StackSet's) made it. Instance profiles keep
`/`: `iam:PassRole` is checked on the role a profile holds. A role's path cannot change in
place (CloudFormation replaces the role): the first prepare after upgrading replaces the
identity roles, which relight's prepare does while every region is healthy.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field, field_validator
from troposphere import GetAtt, Output, Ref, Sub, Tags, Template, iam

from relight.blueprint import Options, blueprint, managed_policy, trusted_by

POLICY_LIMIT = 6_144  # IAM: a managed policy's size, white space not counted

ADMIN_POLICIES = {"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"}
FLOW_LOG_PREFIX = "/relight/flow-logs/"  # blueprints/network.py names its log group under it
ROLE_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
ROLE_PATH = re.compile(r"/|/[\x21-\x7e]{1,510}/")  # IAM: AWS::IAM::Role Path, at most 512


def camel(key: str) -> str:
    """app_server → AppServer: the part of a logical id or an output name a role key gives."""
    return "".join(part.capitalize() for part in key.split("_"))


class InstanceRole(Options):
    managed_policies: list[str] = Field(
        default_factory=list,
        description="AWS managed policy names, besides AmazonSSMManagedInstanceCore",
    )

    @field_validator("managed_policies")
    @classmethod
    def _no_admin(cls, names: list[str]) -> list[str]:
        for name in names:
            if name in ADMIN_POLICIES or name.endswith("FullAccess"):
                raise ValueError(f"{name}: instances get least privilege, not {name}")
            if not re.fullmatch(r"[A-Za-z0-9+=,.@_/-]+", name):
                raise ValueError(f"{name!r} is not a managed policy name")
        return names

    secrets: list[str] = Field(
        default_factory=list,
        description="Secrets Manager secret names the instances may read (GetSecretValue)",
    )

    @field_validator("secrets")
    @classmethod
    def _secret_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if name.startswith("arn:") or not SECRET_NAME.fullmatch(name):
                raise ValueError(
                    f"{name!r}: give a secret's name (ASCII letters, digits and /_+=.@-), not "
                    "an ARN: an ARN names one region, and the role reads the secret in the "
                    "region it runs in"
                )
        return names


class IdentityOptions(Options):
    instance_roles: dict[str, InstanceRole] = Field(
        default_factory=dict, description="short name (web, app_server) → instance role"
    )
    flow_logs: bool = Field(default=False, description="the role VPC flow logs deliver with")
    rds_monitoring: bool = Field(default=False, description="the RDS enhanced-monitoring role")
    cloudformation_role: bool = Field(
        default=True,
        description="filled by relight: the CloudFormation service role stands in the "
        "environment's first identity stack only (a second one, e.g. what every account of an "
        "estate needs, holds no service role)",
    )
    role_path: str = Field(
        default="/",
        description="filled by relight (relight.steps.service_role.role_path): the IAM path of "
        "every role but the service role, which the service role may pass",
    )
    service_role_path: str = Field(
        default="/",
        description="filled by relight: the CloudFormation service role's IAM path (outside "
        "role_path's, so it never passes itself; the operator passes it by this path)",
    )
    cloudformation_policy: list[dict[str, Any]] = Field(
        default_factory=list,
        description="filled by relight (relight.steps.service_role), never by the file: the "
        "CloudFormation service role's managed policy documents",
    )

    @field_validator("instance_roles")
    @classmethod
    def _keys(cls, roles: dict[str, InstanceRole]) -> dict[str, InstanceRole]:
        seen: dict[str, str] = {}
        for key in roles:
            if not ROLE_KEY.fullmatch(key):
                raise ValueError(
                    f"{key!r}: a role's short name is lowercase letters, digits and _, "
                    "starting with a letter (e.g. web, app_server)"
                )
            name = camel(key)
            if name in seen:
                raise ValueError(
                    f"{seen[name]!r} and {key!r} both become {name} in output names: rename one"
                )
            seen[name] = key
        return roles

    @field_validator("role_path", "service_role_path")
    @classmethod
    def _path(cls, path: str) -> str:
        if not ROLE_PATH.fullmatch(path):
            raise ValueError(
                f"{path!r}: an IAM path is / or begins and ends with / (ASCII ! to ~ between)"
            )
        return path

    @field_validator("cloudformation_policy")
    @classmethod
    def _fits(cls, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for document in documents:
            size = len(json.dumps(document, separators=(",", ":")))
            if size > POLICY_LIMIT:
                raise ValueError(
                    f"a policy of {size:,} characters: IAM's managed policies hold {POLICY_LIMIT:,}"
                )
        return documents


def _path(path: str) -> dict[str, str]:
    return {} if path == "/" else {"Path": path}


def _instance_role(t: Template, key: str, role: InstanceRole, path: str = "/") -> None:
    name = camel(key)
    policies = ["AmazonSSMManagedInstanceCore", *role.managed_policies]
    made = t.add_resource(
        iam.Role(
            f"{name}InstanceRole",
            AssumeRolePolicyDocument=trusted_by("ec2.amazonaws.com"),
            ManagedPolicyArns=[managed_policy(policy) for policy in policies],
            Tags=Tags(Name=Sub(f"${{AWS::StackName}}-{key}")),
            **_path(path),
            **({"Policies": [_read_secrets(role.secrets)]} if role.secrets else {}),
        )
    )
    profile = t.add_resource(iam.InstanceProfile(f"{name}InstanceProfile", Roles=[Ref(made)]))
    t.add_output(
        Output(
            f"{name}InstanceProfileArn",
            Value=GetAtt(profile, "Arn"),
            Description=f"{key}: for compute's InstanceProfileArn",
        )
    )
    t.add_output(Output(f"{name}InstanceProfileName", Value=Ref(profile)))
    t.add_output(Output(f"{name}InstanceRoleArn", Value=GetAtt(made, "Arn")))


def _read_secrets(names: list[str]) -> iam.Policy:
    """GetSecretValue on the named secrets in the region the role is used in (a secret's ARN
    ends with a hyphen and six random characters: `-??????`), and kms:Decrypt only through
    Secrets Manager there (for a secret under a customer managed key)."""
    arns = [
        Sub(
            f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{name}-??????"
        )
        for name in names
    ]
    via = Sub("secretsmanager.${AWS::Region}.amazonaws.com")
    statements = [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": arns},
        {
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": via}},
        },
    ]
    return iam.Policy(
        PolicyName="read-app-secrets",
        PolicyDocument={"Version": "2012-10-17", "Statement": statements},
    )


def _service_role(
    t: Template, logical: str, service: str, suffix: str, reader: str, **permissions: object
) -> None:
    """A role `service` assumes, and its ARN as the output `<logical>Arn` for `reader`."""
    role = t.add_resource(
        iam.Role(
            logical,
            AssumeRolePolicyDocument=trusted_by(service),
            Tags=Tags(Name=Sub(f"${{AWS::StackName}}-{suffix}")),
            **permissions,
        )
    )
    t.add_output(Output(f"{logical}Arn", Value=GetAtt(role, "Arn"), Description=f"for {reader}"))


def _flow_log_role(t: Template, path: str = "/") -> None:
    groups = f"arn:${{AWS::Partition}}:logs:*:${{AWS::AccountId}}:log-group:{FLOW_LOG_PREFIX}*"
    statement = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [Sub(groups), Sub(f"{groups}:*")],
    }
    policy = iam.Policy(
        PolicyName="write-flow-logs",
        PolicyDocument={"Version": "2012-10-17", "Statement": [statement]},
    )
    _service_role(
        t, "FlowLogRole", "vpc-flow-logs.amazonaws.com", "flow-logs",
        "network's FlowLogRoleArn", Policies=[policy], **_path(path),
    )  # fmt: skip


def _monitoring_role(t: Template, path: str = "/") -> None:
    _service_role(
        t, "MonitoringRole", "monitoring.rds.amazonaws.com", "rds-monitoring",
        "database's MonitoringRoleArn",
        ManagedPolicyArns=[managed_policy("service-role/AmazonRDSEnhancedMonitoringRole")],
        **_path(path),
    )  # fmt: skip


def _substituted(value: Any) -> Any:
    """The document with every string naming `${AWS::...}` as Fn::Sub (account, partition)."""
    if isinstance(value, dict):
        return {k: _substituted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v) for v in value]
    return Sub(value) if isinstance(value, str) and "${AWS::" in value else value


def _cloudformation_role(t: Template, documents: list[dict[str, Any]], path: str = "/") -> None:
    role = t.add_resource(
        iam.Role(
            "CloudFormationRole",
            AssumeRolePolicyDocument=trusted_by("cloudformation.amazonaws.com"),
            Tags=Tags(Name=Sub("${AWS::StackName}-cloudformation")),
            **_path(path),
        )
    )
    for number, document in enumerate(documents, start=1):
        t.add_resource(
            iam.ManagedPolicy(
                f"CloudFormationPolicy{number}",
                Description=Sub(f"${{AWS::StackName}}: CloudFormation's permissions ({number})"),
                PolicyDocument=_substituted(document),
                Roles=[Ref(role)],
            )
        )
    t.add_output(
        Output(
            "CloudFormationRoleArn",
            Value=GetAtt(role, "Arn"),
            Description="RoleARN of every stack operation on the environment's other stacks",
        )
    )


@blueprint(
    "identity",
    sample={
        "instance_roles": {"web": {"managed_policies": ["CloudWatchAgentServerPolicy"]}},
        "flow_logs": True,
        "rds_monitoring": True,
        "role_path": "/relight/env/demo/",
        "service_role_path": "/relight-cloudformation/demo/",
        "cloudformation_policy": [
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["ec2:CreateVpc", "ec2:DeleteVpc", "ec2:Describe*"],
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:RequestedRegion": "us-west-2"}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
                        "relight/env/demo/*",
                    },
                ],
            }
        ],
    },
)
def identity(options: IdentityOptions) -> Template:
    """IAM roles and instance profiles, prepared ahead of an outage (IAM lives in us-east-1)."""
    t = Template(
        Description="relight identity: IAM roles, instance profiles and the CloudFormation "
        "service role, made ahead"
    )
    path = options.role_path
    for key, role in options.instance_roles.items():
        _instance_role(t, key, role, path)
    if options.flow_logs:
        _flow_log_role(t, path)
    if options.rds_monitoring:
        _monitoring_role(t, path)
    if options.cloudformation_role:
        _cloudformation_role(t, options.cloudformation_policy, options.service_role_path)
    return t
