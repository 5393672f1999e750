"""What `relight prepare` stood up before a disaster, as a failover finds it.

A failover never creates what needs a control plane homed in another region (IAM roles,
Route 53 records and health checks), nor, above backup_restore, what its rung keeps
standing (network, load balancer, scaled-down compute). It reads those stacks' outputs in
the target region and never changes them; the warm standby's compute, which it scales up,
is deployed as one of its own stacks.

A prepared stack a failover stack reads that is missing or unfinished stops the run before
anything changes (exit 2: run `relight prepare` first). One that differs from today's
render (its template, or a literal parameter) is a warning naming the command that
refreshes it: the failover goes on with what stands, as it must on the day of an outage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from relight.aws.cloudformation import COMPLETE, Stacks, outputs_of, owned_by
from relight.errors import PreflightError
from relight.model.data_modes import replicates
from relight.model.environment import ArtifactRef, OutputRef, ParamValue, SecretRef, ZonesRef
from relight.model.plan import SERVICE_ROLE_OUTPUT, Plan, StackPlan, identity_key
from relight.model.shapes import parameter_dict, tag_dict
from relight.steps.render import placeholder
from relight.steps.service_role import role_lacks, uses_role


@dataclass
class Prepared:
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)  # stack key → outputs
    notes: list[str] = field(default_factory=list)  # what is out of date, or unused and absent
    # the notes about stacks that differ from today's render (a failover goes on with them;
    # readiness says the region is not ready until they are prepared again)
    stale: list[str] = field(default_factory=list)
    # the prepared stacks a StackSet made (estate prepare): key → their stack's own name
    by_stackset: dict[str, str] = field(default_factory=dict)

    def located(self, plan: Plan) -> Plan:
        """The plan with each prepared stack a StackSet made under its stack's own name, so
        what reads it later (verification, the failback latch) reads that stack."""
        if not self.by_stackset:
            return plan
        prepared = {
            key: replace(sp, name=self.by_stackset[key]) if key in self.by_stackset else sp
            for key, sp in plan.prepared.items()
        }
        return replace(plan, prepared=prepared)


def readers(plan: Plan, key: str) -> list[str]:
    """The stacks of the plan that read outputs of `key`."""
    return [
        k
        for k, sp in plan.stacks.items()
        if any(isinstance(v, OutputRef) and v.stack == key for v in sp.parameters.values())
    ]


ROLE_NEEDED = "; every stack this run builds passes its CloudFormation service role (RoleARN)"


def _role_output(plan: Plan, key: str) -> list[OutputRef]:
    """The identity stack's service-role output, read by every stack that passes the role."""
    if key != identity_key(plan) or not any(uses_role(plan, k) for k in plan.stacks):
        return []
    return [OutputRef(stack=key, output=SERVICE_ROLE_OUTPUT)]


def literal_parameters(parameters: Mapping[str, ParamValue]) -> dict[str, str]:
    """The parameter values known before any AWS call, as deployed (references are not)."""
    return {
        name: placeholder(value)
        for name, value in parameters.items()
        if not isinstance(value, ArtifactRef | OutputRef | ZonesRef | SecretRef)
    }


def differences(sp: StackPlan, stack: dict[str, Any], template: Any) -> list[str]:
    """How a prepared stack differs from today's render: its template, its literal
    parameters (references are what they were when prepared, and may differ by design)."""
    found = []
    body = json.loads(template) if isinstance(template, str) else template
    if body != json.loads(sp.body):
        found.append("its template")
    deployed = parameter_dict(stack)
    for name, value in literal_parameters(sp.parameters).items():
        if deployed.get(name) != value:
            found.append(f"parameter {name} ({deployed.get(name)!r}, now {value!r})")
    return found


def _found(
    stacks: Stacks, plan: Plan, key: str, sp: StackPlan
) -> tuple[dict[str, Any] | None, bool, str]:
    """The prepared stack (a global one may be a StackSet's: relight estate prepare), whether
    a StackSet made it, and how messages name it."""
    stands = plan.loaded.env.stacks[key].stands
    stack = stacks.prepared_state(sp.name) if stands == "global" else stacks.state(sp.name)
    by_set = stack is not None and stack["StackName"] != sp.name
    how = f"stands: {stands}" if stands or not replicates(plan, key) else "data: replica"
    where = f"stack {sp.name} (stacks.{key}, {how})"
    if by_set and stack is not None:
        where = f"stack {stack['StackName']} (made by a StackSet for {sp.name}, stacks.{key})"
    return stack, by_set, where


def read_prepared(stacks: Stacks, plan: Plan, refresh: str) -> Prepared:
    """The outputs of the plan's prepared stacks in its region; PreflightError (nothing
    changed) when one a failover stack reads is missing or unfinished. `refresh` is the
    command that prepares them."""
    found = Prepared()
    problems = []
    located = {key: _found(stacks, plan, key, sp) for key, sp in plan.prepared.items()}
    for key, sp in plan.prepared.items():
        stack, by_set, where = located[key]
        needed = readers(plan, key)
        state = ""
        if stack is None:
            state = "does not exist"
        elif not by_set and not owned_by(stack, plan.env_name):
            state = "is not relight's"
        elif stack["StackStatus"] not in COMPLETE:
            state = f"is {stack['StackStatus']}"
        if stack is None or state:
            text = f"{where} {state} in {plan.region}"
            role = ROLE_NEEDED if _role_output(plan, key) else ""
            if needed or role:
                reads = f"; {', '.join(needed)} read(s) its outputs" if needed else ""
                problems.append(f"{text}{reads}{role}")
            else:
                found.notes.append(f"{text}: nothing this run builds needs it; run {refresh}")
            continue
        found.outputs[key] = outputs_of(stack)
        if by_set:
            found.by_stackset[key] = stack["StackName"]
        lacking = sorted(
            {
                f"{v.output} (read by {k})"
                for k, s in plan.stacks.items()
                for v in s.parameters.values()
                if isinstance(v, OutputRef)
                and v.stack == key
                and v.output not in found.outputs[key]
            }
            | {
                f"{v.output} (the CloudFormation service role every stack passes)"
                for v in _role_output(plan, key)
                if v.output not in found.outputs[key]
            }
        )
        if lacking:
            problems.append(f"{where} is out of date: it has no output {', '.join(lacking)}")
            continue
        template = stacks.call(
            f"read the template of {stack['StackName']}",
            stacks.cfn.get_template,
            StackName=stack["StackName"],
            TemplateStage="Original",
        )["TemplateBody"]
        lacks = role_lacks(plan, template) if _role_output(plan, key) else []
        if lacks:  # a stack of a type added since then would be refused halfway through
            shown = ", ".join(lacks[:6]) + (f" and {len(lacks) - 6} more" if len(lacks) > 6 else "")
            why = (  # a role prepared before relight passed the identity roles by IAM path
                "roles it must pass (its iam:PassRole patterns predate the identity roles' IAM "
                "paths)"
                if any(" on " in lack for lack in lacks)
                else "a resource type added since the last prepare"
            )
            problems.append(
                f"{where}: its CloudFormation service role, as last prepared, may not {shown}, "
                f"which the stacks this run builds need ({why}); run {refresh} while IAM "
                "(us-east-1) answers, or build only what the role was prepared for"
            )
            continue
        changed = differences(sp, stack, template)
        if changed:
            estate = tag_dict(stack.get("Tags")).get("relight:estate")
            again = (
                f"relight estate prepare --estate {estate} --region {plan.region}"
                if by_set and estate
                else refresh
            )
            found.notes.append(
                f"{where} differs from today's render ({'; '.join(changed)}): this run uses it "
                f"as it stands; refresh it with {again} while every region is healthy"
            )
            found.stale.append(found.notes[-1])
    if problems:
        raise PreflightError(
            problems + [f"also: {note}" for note in found.notes],
            hint=f"run {refresh} before a disaster: it deploys what a failover at "
            f"{plan.strategy} finds ready (nothing was changed)",
        )
    return found


# CloudFormation's own drift detection ----------------------------------------------------------
