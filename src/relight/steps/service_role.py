"""The CloudFormation service role: its policy, and the RoleARN every stack operation passes.

Every stack operation on an environment's stacks (all but the identity stack itself, which
`relight prepare` creates with the operator's own credentials, as `cdk bootstrap` does) passes
the identity stack's `CloudFormationRoleArn` as RoleARN, so CloudFormation acts with this role
and not with the operator's session (which may expire in the middle of a long restore).

The role's permissions are derived, not listed by hand: for each CloudFormation resource type
the environment's other stacks hold in the target region, the IAM actions its resource
handlers need, as AWS's CloudFormation registry schemas state them (`handlers.create`,
`read`, `update`, `delete`, `list` `.permissions`; the schemas cfn-lint ships, in
`cfnlint/data/schemas/`, per region). A type whose schema has no handlers takes its actions
from `NO_HANDLERS` below (with its documentation source) or is refused, naming the stack.

Scoped where AWS allows it:

- every action is bound to the region the identity stack serves with `aws:RequestedRegion`
  (each recovery region has its own identity stack and role); the actions of a global
  service (IAM, Route 53, ...) to the region its control plane lives in (model/control_planes);
- `iam:PassRole` only to the roles of the environment's identity stacks, by their IAM path
  (`role_path`: `/relight/env/<env>/` for the first identity stack, `/relight/stack/<key>/`
  for any other; a role's ARN holds its path, so the grant does not depend on the name
  CloudFormation generates, whichever stack, relight's or a StackSet's, made the role), never
  to this role itself, whose path is `/relight-cloudformation/<env>/` (a Deny on every role
  outside `/relight/`);
- `iam:CreateServiceLinkedRole` only for the services whose types ask for it
  (`iam:AWSServiceName`).

IAM's size limits hold: a managed policy is at most 6,144 characters (white space not
counted), so `split` cuts the document into managed policies of at most that size.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from relight.errors import ConfigError, DeployError, RenderError
from relight.model.control_planes import GLOBAL_APIS
from relight.model.per_region import resolve
from relight.model.plan import (
    IDENTITY_BLUEPRINT,
    SERVICE_ROLE_OUTPUT,
    Plan,
    identity_key,
    identity_keys,
    stack_name,
)

HANDLERS = ("create", "read", "update", "delete", "list")
MANAGED_POLICY_LIMIT = 6_144  # IAM: a managed policy's size, white space not counted
MAX_MANAGED_POLICIES = 10  # IAM: managed policies attached to a role (default quota)
ROLE_LOGICAL_ID = "CloudFormationRole"  # the role in blueprints/identity.py
# The actions of these IAM prefixes go to one region whatever the stack's region is.
GLOBAL_PREFIXES: dict[str, str] = {service: region for service, (_, region) in GLOBAL_APIS.items()}
# Types whose registry schema lists no handlers: the actions CloudFormation needs, with the
# page that says so. Empty: the type makes nothing in any service.
NO_HANDLERS: dict[str, tuple[tuple[str, ...], str]] = {
    "AWS::CloudFormation::WaitConditionHandle": (
        (),
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
        "aws-resource-cloudformation-waitconditionhandle.html (no resource outside the stack)",
    ),
}
# The service a type's service-linked role belongs to, where it is not the type's namespace
# (`AWS::RDS::...` → rds.amazonaws.com): flow logs delivered to Firehose use the log delivery
# role (AWSServiceRoleForLogDelivery, VPC User Guide, "Publish flow logs to Amazon Data
# Firehose").
LINKED_SERVICES = {
    "AWS::EC2::FlowLog": "delivery.logs",
    "AWS::ElasticLoadBalancingV2": "elasticloadbalancing",
}
PARTITION, ACCOUNT = "${AWS::Partition}", "${AWS::AccountId}"  # resolved by CloudFormation


def resource_types(plan: Plan) -> dict[str, list[str]]:
    """Resource type → the keys of the stacks that hold it: every stack of the environment
    but the identity stack that stands in the plan's region, whatever the rung (the role
    serves prepare, failover and drills alike). A stack whose blueprint fails is left out:
    its own render says why."""
    loaded, found = plan.loaded, dict[str, list[str]]()
    for key, spec in loaded.env.stacks.items():
        if spec.blueprint == IDENTITY_BLUEPRINT or not spec.stands_in(plan.region):
            continue
        if plan.stand_in and spec.stand_in_skip:
            continue
        try:
            params = {n: resolve(v, plan.region) for n, v in spec.params_for(plan.stand_in).items()}
            template = loaded.registry[spec.blueprint].render(params)
        except Exception:  # reported by the stack's own render
            continue
        for resource in template.resources.values():
            kind = str(resource.resource.get("Type", ""))
            found.setdefault(kind, []).append(key)
    return dict(sorted(found.items()))


def handler_actions(region: str, kind: str, stacks: Iterable[str] = ()) -> set[str]:
    """The IAM actions CloudFormation's handlers need for `kind` in `region` (AWS's registry
    schema, as cfn-lint ships it); RenderError for a type relight cannot derive them for."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    if kind in NO_HANDLERS:
        return set(NO_HANDLERS[kind][0])
    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, kind).schema
    except Exception as exc:  # cfn-lint's ResourceNotFoundError and kin
        raise _underivable(kind, stacks, f"no registry schema in {region} ({exc})") from None
    handlers = schema.get("handlers") or {}
    if not handlers:
        raise _underivable(kind, stacks, "its registry schema lists no handlers")
    return {
        action for name in HANDLERS for action in (handlers.get(name) or {}).get("permissions", [])
    }


@functools.cache
def _iam_actions() -> dict[str, frozenset[str]]:
    """IAM's actions per service prefix, lowercase: AWS's Service Authorization Reference as
    cfn-lint ships it (`cfnlint/data/AdditionalSpecs/Policies.json`, its W3037 rule's)."""
    from cfnlint import data
    from cfnlint.helpers import load_resource

    services = load_resource(data.AdditionalSpecs, "Policies.json")
    return {k: frozenset(v.get("Actions", {})) for k, v in services.items()}


def iam_knows(action: str) -> bool:
    """Whether IAM defines `action` (a wildcard: whether it matches one). A few registry
    schemas name actions IAM does not (`s3:rest.put.object`, `managed-fleets:*`): a policy
    cannot grant those, and cfn-lint warns about them, so the role leaves them out."""
    service, _, name = action.lower().partition(":")
    known = _iam_actions().get(service)
    if not known:
        return False
    return any(fnmatch.fnmatchcase(a, name) for a in known) if "*" in name else name in known


def _underivable(kind: str, stacks: Iterable[str], why: str) -> RenderError:
    return RenderError(
        f"stacks {', '.join(stacks) or '?'}: resource type {kind}: relight cannot derive the "
        f"CloudFormation service role's permissions for it: {why}",
        hint="add the type to relight.steps.service_role.NO_HANDLERS with the IAM actions its "
        "AWS documentation names, or leave the type out of the blueprint",
    )


def _pruned(actions: Iterable[str]) -> list[str]:
    """Sorted, without the actions a wildcard of the same list (from a schema) covers."""
    unique = {a for a in actions}
    wild = [a.lower() for a in unique if "*" in a]
    return sorted(
        a for a in unique if "*" in a or not any(fnmatch.fnmatch(a.lower(), w) for w in wild)
    )


RELIGHT_PATH = "/relight/"  # every identity role's path begins so; the service role's does not
SERVICE_ROLE_PATH = "/relight-cloudformation/{env}/"  # outside RELIGHT_PATH: never passes itself


def role_path(env_name: str, key: str, first: bool) -> str:
    """The IAM path of the roles identity stack `key` makes: `/relight/env/<env>/` for the
    environment's first identity stack (only its service role passes them),
    `/relight/stack/<key>/` for any other (the same template in every account and
    environment: an estate's baseline is one StackSet; environments of one account sharing the
    key share the path)."""
    return f"{RELIGHT_PATH}env/{env_name}/" if first else f"{RELIGHT_PATH}stack/{key}/"


def identity_paths(plan: Plan) -> list[str]:
    """The paths of the roles the plan's environment's service role may pass: those of every
    identity stack standing in the plan's region (a baseline's too)."""
    first = identity_key(plan)
    keys = identity_keys(plan) or [first or IDENTITY_BLUEPRINT]
    return [role_path(plan.env_name, k, k == first or first is None) for k in keys]


def _role_arn(partition: str, account: str, name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{name}"


def _linked_service(kind: str) -> str:
    namespace = "::".join(kind.split("::")[:2])
    service = LINKED_SERVICES.get(kind) or LINKED_SERVICES.get(namespace)
    return f"{service or kind.split('::')[1].lower()}.amazonaws.com"


def service_role_policy(
    plan: Plan, *, account: str | None = None, partition: str | None = None
) -> dict[str, Any]:
    """The CloudFormation service role's policy document for the plan's environment in the
    plan's region: exactly what the identity stack gives the role (in managed policies of at
    most 6,144 characters, `split`). Without `account` (and `partition`), ARNs hold
    `${AWS::AccountId}` and `${AWS::Partition}`, as the template does (CloudFormation fills
    them); with them, the ARNs the role holds in that account."""
    account, partition = account or ACCOUNT, partition or PARTITION
    by_region: dict[str, set[str]] = {}
    linked: set[str] = set()
    for kind, stacks in resource_types(plan).items():
        for action in handler_actions(plan.region, kind, stacks):
            prefix = action.split(":")[0].lower()
            if not iam_knows(action):
                continue
            if action.lower() == "iam:passrole":
                continue
            if action.lower() == "iam:createservicelinkedrole":
                linked.add(_linked_service(kind))
                continue
            by_region.setdefault(GLOBAL_PREFIXES.get(prefix, plan.region), set()).add(action)
    statements: list[dict[str, Any]] = []
    for region in sorted(by_region, key=lambda r: (r != plan.region, r)):
        statements.append(
            {
                "Sid": "StackResources" + ("" if region == plan.region else "Global"),
                "Effect": "Allow",
                "Action": _pruned(by_region[region]),
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
            }
        )
    passed = [  # the roles of every identity stack of the environment (a baseline's too)
        _role_arn(partition, account, f"{path[1:]}*") for path in identity_paths(plan)
    ]
    statements.append(
        {
            "Sid": "PassIdentityRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": passed[0] if len(passed) == 1 else passed,
        }
    )
    statements.append(
        {
            "Sid": "NeverPassItself",  # nor any role outside relight's paths: it has none
            "Effect": "Deny",
            "Action": "iam:PassRole",
            "NotResource": _role_arn(partition, account, f"{RELIGHT_PATH[1:]}*"),
        }
    )
    if linked:
        statements.append(
            {
                "Sid": "ServiceLinkedRoles",
                "Effect": "Allow",
                "Action": "iam:CreateServiceLinkedRole",
                "Resource": _role_arn(partition, account, "aws-service-role/*"),
                "Condition": {"StringEquals": {"iam:AWSServiceName": sorted(linked)}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def size(document: dict[str, Any]) -> int:
    """A policy's size as IAM counts it (white space not counted)."""
    return len(json.dumps(document, separators=(",", ":")))


def split(document: dict[str, Any], limit: int = MANAGED_POLICY_LIMIT) -> list[dict[str, Any]]:
    """The document as managed policies of at most `limit` characters each, together holding
    exactly its statements (a statement too large alone is cut by its actions). RenderError
    when more than IAM's 10 managed policies per role would be needed."""
    pieces: list[dict[str, Any]] = []
    for statement in document["Statement"]:
        pieces.extend(_cut(statement, limit))
    documents: list[dict[str, Any]] = []
    for piece in pieces:
        if documents and size(_doc([*documents[-1]["Statement"], piece])) <= limit:
            documents[-1]["Statement"].append(piece)
        else:
            documents.append(_doc([piece]))
    if len(documents) > MAX_MANAGED_POLICIES:
        raise RenderError(
            f"the CloudFormation service role's policy needs {len(documents)} managed policies "
            f"of {limit:,} characters; IAM attaches at most {MAX_MANAGED_POLICIES} to a role",
            hint="split the environment into fewer resource types per region, or raise the "
            "account's quota of managed policies per role",
        )
    return documents


def _doc(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def _cut(statement: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    if size(_doc([statement])) <= limit or not isinstance(statement["Action"], list):
        return [statement]
    actions: list[str] = statement["Action"]
    half = len(actions) // 2
    first = {**statement, "Action": actions[:half], "Sid": statement["Sid"] + "A"}
    second = {**statement, "Action": actions[half:], "Sid": statement["Sid"] + "B"}
    return _cut(first, limit) + _cut(second, limit)


POLICY_OPTION = "cloudformation_policy"  # the identity blueprint's options relight fills
PATH_OPTION = "role_path"
SERVICE_PATH_OPTION = "service_role_path"


def with_service_role(plan: Plan, key: str, params: dict[str, Any]) -> dict[str, Any]:
    """The identity stack's options with the service role's policy filled in (`split` into
    managed policies); ConfigError when the environment file gives the option itself."""
    from relight.model.config import placed

    if POLICY_OPTION in plan.loaded.env.stacks[key].params:
        raise ConfigError(
            placed(plan.loaded, f"stacks.{key}.params.{POLICY_OPTION}: relight derives the "
            "CloudFormation service role's policy from the other stacks' resource types; "
            "remove the key (`relight policy --for service` prints what it derives)")
        )  # fmt: skip
    return {
        **params,
        POLICY_OPTION: split(service_role_policy(plan)),
        PATH_OPTION: role_path(plan.env_name, key, True),
        SERVICE_PATH_OPTION: SERVICE_ROLE_PATH.format(env=plan.env_name),
    }


def identity_params(plan: Plan, key: str, params: dict[str, Any]) -> dict[str, Any]:
    """An identity stack's options as relight fills them: the first holds the service role
    (`with_service_role`); any other holds none (one per environment), and its roles' path."""
    from relight.model.config import placed

    for option in (PATH_OPTION, SERVICE_PATH_OPTION):
        if option in plan.loaded.env.stacks[key].params:
            raise ConfigError(
                placed(plan.loaded, f"stacks.{key}.params.{option}: relight fills it (the IAM "
                "paths of the environment's CloudFormation service role and of the roles it "
                "may pass); remove the key")
            )  # fmt: skip
    if key == identity_key(plan):
        return with_service_role(plan, key, params)
    path = role_path(plan.env_name, key, False)
    return {**params, "cloudformation_role": False, PATH_OPTION: path}


def uses_role(plan: Plan, key: str) -> bool:
    """Whether the operations on stack `key` pass the service role: every stack but the
    identity stack itself (the bootstrap, made with the operator's credentials), in every plan
    but production's own (the stand-in's story builds it at home without a role)."""
    identity = identity_key(plan)
    return plan.phase != "home" and identity is not None and key != identity


def role_argument(plan: Plan, key: str, outputs: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """`{"RoleARN": ...}` for a stack operation on `key` (the identity stack's output in the
    plan's region, from `outputs`: stack key → outputs), or `{}` when it passes none.
    DeployError when the role is not there (prepare has not made it)."""
    if not uses_role(plan, key):
        return {}
    identity = identity_key(plan)
    arn = outputs.get(identity or "", {}).get(SERVICE_ROLE_OUTPUT)
    if not arn:
        raise DeployError(
            f"stack {plan.stacks[key].name if key in plan.stacks else key}: no CloudFormation "
            f"service role in {plan.region} (output {SERVICE_ROLE_OUTPUT} of stack "
            f"{stack_name(plan.env_name, identity or IDENTITY_BLUEPRINT)})",
            hint=f"run relight prepare --env {plan.env_name} --region {plan.region} first: it "
            "makes the role every stack operation passes; nothing was changed",
        )
    return {"RoleARN": arn}


def warn_without_identity(plan: Plan) -> None:
    """An environment without an identity stack has no CloudFormation service role: its stacks
    run with the operator's own credentials, as before the role existed. Not refused (files
    written before it keep working), but every prepare plan says so in its warnings."""
    if plan.phase != "prepare" or identity_key(plan) is not None:
        return
    plan.warnings.append(
        f"{plan.loaded.path}: stacks: no stack of blueprint {IDENTITY_BLUEPRINT}, so no "
        "CloudFormation service role: CloudFormation acts with your own credentials, which "
        "may expire during a long restore; add `identity: {blueprint: identity, stands: "
        "global, params: {}}` under stacks: and run relight prepare"
    )


def role_dependencies(plan: Plan) -> dict[str, tuple[str, ...]]:
    """Each stack's dependencies; in a run that deploys the identity stack too (prepare),
    every stack that passes its CloudFormation role waits for it."""
    first = [k for k in plan.stacks if not uses_role(plan, k)]
    return {
        key: tuple(sorted({*sp.depends_on, *(first if uses_role(plan, key) else ())}))
        for key, sp in plan.stacks.items()
    }


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _passed(statement: Mapping[str, Any]) -> list[str]:
    """The role ARN patterns an Allow of iam:PassRole names (a template's `Fn::Sub` strings)."""
    if "iam:passrole" not in {str(a).lower() for a in _listed(statement.get("Action", []))}:
        return []
    found: list[str] = []
    for resource in _listed(statement.get("Resource", [])):
        text = resource.get("Fn::Sub") if isinstance(resource, dict) else resource
        found.extend(t for t in _listed(text) if isinstance(t, str))  # Fn::Sub [text, vars]
    return found


def role_lacks(plan: Plan, deployed: str | Mapping[str, Any]) -> list[str]:
    """What today's service role policy allows (`service_role_policy`) that the role in the
    deployed identity stack's template (`deployed`: its body) does not: the actions a stack of
    a resource type added since the last prepare would be refused mid-deploy, and
    `iam:PassRole on role/<path>*` for each identity role path it may not pass (a role
    prepared before relight passed roles by path: its patterns name stacks, and the roles now
    have paths). Empty when the template does not make relight's role itself (its ARN only
    given as an output), or when the deployed role holds them all."""
    body = json.loads(deployed) if isinstance(deployed, str) else deployed
    if ROLE_LOGICAL_ID not in (body.get("Resources") or {}):
        return []  # a role the template does not make (an output only): its policy is not ours
    held: set[str] = set()
    passes: list[str] = []
    for resource in (body.get("Resources") or {}).values():
        if resource.get("Type") != "AWS::IAM::ManagedPolicy":
            continue
        for statement in (
            resource.get("Properties", {}).get("PolicyDocument", {}).get("Statement", [])
        ):
            if statement.get("Effect") == "Allow":
                held |= set(_listed(statement.get("Action", [])))
                passes.extend(_passed(statement))
    wanted: set[str] = set()
    for statement in service_role_policy(plan)["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        wanted |= set(_listed(statement["Action"]))
        for pattern in _passed(statement):
            if not any(fnmatch.fnmatchcase(pattern, p) for p in passes):
                wanted.add(f"iam:PassRole on role/{pattern.split(':role/', 1)[-1]}")
    return sorted(wanted - held)
