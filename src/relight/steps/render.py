"""Step 3 of the data flow: blueprints → a Plan of stacks (name, template, parameters, tags, deps).

Rendering needs no AWS call. Discovered values and other stacks' outputs stay
references in the plan; `resolve_parameters` turns them into strings at deploy
time, once discovery has run and the stacks they come from are complete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relight.errors import BlueprintError, ConfigError, DeployError, RenderError
from relight.model.app_secrets import app_secret
from relight.model.blueprint import (
    APP_SECRET_PARAMETER,
    NAMESPACE_PARAMETER,
    PURPOSE_PARAMETER,
    PURPOSES,
)
from relight.model.config import LoadedEnvironment, refuse_placed
from relight.model.control_planes import refuse_control_planes
from relight.model.data_modes import replicates
from relight.model.environment import (
    ArtifactRef,
    OutputRef,
    ParamValue,
    SecretRef,
    ZonesRef,
    stands_at,
)
from relight.model.failover_pairs import refuse_second_pair
from relight.model.passed_actions import OPTION, leave_out_passed
from relight.model.per_region import per_region_problem, region_problems, resolve
from relight.model.plan import (
    IDENTITY_BLUEPRINT,
    MAX_STACK_NAME,
    Plan,
    StackPlan,
    stack_name,
)
from relight.model.stateful import launch_parameters, stateful_parts
from relight.steps.data_render import check_data, data_params
from relight.steps.lint import Finding, check_limits, lint_templates
from relight.steps.parameters import ParameterProblems, _where, split_params
from relight.steps.service_role import identity_params, warn_without_identity

# troposphere refuses to add past CloudFormation's limits: "Maximum outputs 200 reached",
# "Maximum number of resources 500 reached".
_TROPOSPHERE_LIMIT = re.compile(r"Maximum (?:number of )?(\w+) (\d+) reached")


def _option_problem(loaded: LoadedEnvironment, key: str, exc: BlueprintError, standby: bool) -> str:
    """`file:line: stacks.KEY.SECTION.option: why`, SECTION being where the refused value was
    given: standby_params (prepare's standing copy) or stand_in_params override params."""
    from relight.errors import OptionError
    from relight.model.config import placed

    spec = loaded.env.stacks[key]
    option = exc.path.split(".")[0] if isinstance(exc, OptionError) else ""
    section = "params"
    if option and standby and option in spec.standby_params:
        section = "standby_params"
    elif option and option in spec.stand_in_params and option not in spec.params:
        section = "stand_in_params"
    return placed(loaded, exc.at(f"stacks.{key}.{section}"))


def _render(
    loaded: LoadedEnvironment,
    key: str,
    name: str,
    params: dict[str, ParamValue],
    standby: bool = False,
) -> Any:
    """Run the stack's blueprint; its failures name the stack and the blueprint's file."""
    spec = loaded.env.stacks[key]
    blueprint = loaded.registry[spec.blueprint]
    try:
        return blueprint.render(params)
    except BlueprintError as exc:
        raise ConfigError(_option_problem(loaded, key, exc, standby)) from None
    except ValueError as exc:
        limit = _TROPOSPHERE_LIMIT.match(str(exc))
        if limit is None:
            raise _blueprint_failed(loaded, key, blueprint.source, exc) from exc
        what, count = limit.groups()
        raise RenderError(
            f"stack {name}: more than {count} {what}, over CloudFormation's limit of {count}",
            hint="split it into several stacks in the environment file",
        ) from None
    except Exception as exc:
        raise _blueprint_failed(loaded, key, blueprint.source, exc) from exc


def _blueprint_failed(
    loaded: LoadedEnvironment, key: str, source: Path, exc: Exception
) -> BlueprintError:
    return BlueprintError(
        f"{loaded.path}: stacks.{key}: blueprint {loaded.env.stacks[key].blueprint} ({source}) "
        f"failed: {type(exc).__name__}: {exc}",
        hint="fix the blueprint, or the options the environment file gives it",
    )


def _check_zone_counts(loaded: LoadedEnvironment, region: str, stand_in: bool) -> None:
    """An `az_count` option must agree with the number of zones chosen in the region."""
    wanted = loaded.env.zones.count_for(region)
    for key, spec in loaded.env.stacks.items():
        count = spec.params_for(stand_in).get("az_count")
        if isinstance(count, int) and count != wanted:
            raise ConfigError(
                f"{_where(loaded, key, '.az_count')}: {count}, but zones gives {wanted} "
                f"zone(s) in {region}; make them agree (a YAML anchor keeps them together)"
            )


PHASES = ("failover", "prepare")


def build_plan(
    loaded: LoadedEnvironment,
    region: str,
    *,
    purpose: str = "failover",
    namespace: str | None = None,
    stand_in: bool = False,
    strategy: str | None = None,
    phase: str = "failover",
    now: datetime | None = None,
    data: str | None = None,
) -> Plan:
    """Render every stack's template and check it against the plan's own references.

    `strategy` (default: the environment file's) and `phase` split the stacks by the DR
    ladder: phase "prepare" holds what stands ready at that rung (`relight prepare`, with
    each stack's standby_params); phase "failover" holds the rest, plus the standing stacks
    it scales up (those with standby_params), and lists the standing ones it reads in
    `Plan.prepared`. A failover-time stack may hold no resource whose control plane lives in
    another region (control_planes.py): refused, naming where to move it. Purpose "home"
    (production itself) holds every stack.

    A drill or test copy (`namespace`) prepares and builds its own copies of the standing
    stacks, but reads production's `stands: global` ones (IAM roles): those are never copied.

    With `stand_in`, stacks marked `stand_in_skip` are left out and `stand_in_params`
    override their params: the documented switch for what the stand-in cannot simulate.

    `now` (default: the clock's UTC time) decides which scheduled actions have passed: those
    are left out, each a warning in `Plan.warnings` (model/passed_actions.py).

    `data` (the run's `--data`, default: each stack's `data:`) is the database stacks' data
    mode (model/data_modes.py): a replica-mode stack is prepared (phase prepare builds it) and
    read at failover like a standing stack, at a rung where what it reads stands (below it the
    run is refused, steps/data_render.py); a namespaced plan renders it as a snapshot restore.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES}")
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}")
    rung = strategy or loaded.env.strategy
    _check_zone_counts(loaded, region, stand_in)
    if purpose != "home":  # home builds nothing from copies and reads no recovery entry
        _refuse_unfilled(loaded, region, stand_in)
    plan = Plan(
        loaded=loaded,
        region=region,
        purpose=purpose,
        namespace=namespace,
        stand_in=stand_in,
        strategy=rung,
        phase="home" if purpose == "home" else phase,
        now=now or datetime.now(UTC),
        data=data,
    )
    check_data(plan)
    problems: list[str] = []
    for key in loaded.order:
        spec = loaded.env.stacks[key]
        if stand_in and spec.stand_in_skip:
            plan.skipped[key] = "stand_in_skip: the local stand-in cannot simulate it"
            continue
        role = _role(plan, key)
        standby = plan.phase == "prepare" and bool(spec.standby_params)
        needs = sorted(
            {r.stack for _, r in spec.output_refs(stand_in, standby) if r.stack in plan.skipped}
        )
        if needs and role != "skip":
            local = any(plan.skipped[n].startswith("stand_in_skip") for n in needs)
            raise ConfigError(
                f"{loaded.path}: stacks.{key} needs {', '.join(needs)}, which this run does "
                f"not build ({'; '.join(f'{n}: {plan.skipped[n]}' for n in needs)}); "
                + (
                    "mark it stand_in_skip too, or override the references in stand_in_params"
                    if local
                    else f"give stacks.{key} the same stands: so it is left out at this rung "
                    "too, or stop reading those outputs"
                )
            )
        if role == "skip":
            plan.skipped[key] = _below_rung(plan, key)
            continue
        try:
            built = _stack_plan(plan, key, standby)
        except ParameterProblems as exc:  # every stack's, refused together below
            problems += exc.problems
            continue
        if role == "read":  # a failover never stops on it: `relight render` checks it too
            plan.prepared[key] = built
            continue
        refuse_second_pair(plan, built)  # one region holds a failover record
        if plan.phase == "failover":
            refuse_control_planes(plan, built)
        plan.stacks[key] = built
    if problems:
        refuse_placed(loaded, problems)
    warn_without_identity(plan)
    return plan


def _refuse_unfilled(loaded: LoadedEnvironment, region: str, stand_in: bool) -> None:
    """Every stack's placeholders for the region, whatever this phase builds: prepare at
    backup_restore builds no load balancer, yet its certificate must be requested before the
    outage (ACM: "you must request or import a certificate for each region"; its DNS
    validation is a Route 53 change, whose control plane is in us-east-1; docs K5)."""
    unfilled = region_problems(loaded.env, region, stand_in)
    if unfilled:
        refuse_placed(loaded, unfilled)


def _role(plan: Plan, key: str) -> str:
    """What the plan does with a stack: "build" it, "read" it (prepared ahead of time; the
    plan takes its outputs), or "skip" it (not built at this rung at all)."""
    spec = plan.loaded.env.stacks[key]
    if not spec.stands_in(plan.region):
        return "skip"  # its regions: leave this region out (home too: no SECONDARY there)
    if plan.phase == "home":
        return "build"
    if replicates(plan, key):  # prepared ahead of time (check_data: where its reads stand)
        return "build" if plan.phase == "prepare" else "read"
    standing = stands_at(spec.stands, plan.strategy)
    shared = spec.stands == "global" and plan.namespace is not None  # production's, read
    if plan.phase == "prepare":
        if not standing:
            return "skip"
        return "read" if shared else "build"
    if standing:
        return "build" if spec.standby_params else "read"
    if spec.stands is not None and _needs_control_planes(plan, key):
        return "skip"  # stands from a higher rung only: it cannot be built at failover
    return "build"


def _needs_control_planes(plan: Plan, key: str) -> bool:
    from relight.model.control_planes import control_plane

    spec = plan.loaded.env.stacks[key]
    params = data_params(plan, key, spec.params_for(plan.stand_in))
    template = _render(plan.loaded, key, key, params)
    return any(
        (where := control_plane(str(r.resource.get("Type", "")))) and where[1] != plan.region
        for r in template.resources.values()
    )


def _below_rung(plan: Plan, key: str) -> str:
    spec = plan.loaded.env.stacks[key]
    if not spec.stands_in(plan.region):
        return f"regions: {', '.join(spec.regions or [])}: it stands only there"
    if plan.phase == "prepare" and not (spec.stands and _needs_control_planes(plan, key)):
        return f"built at failover at {plan.strategy} (stands: {spec.stands or '-'})"
    return (  # what a failover at this rung does with it, said alike by render and prepare
        f"stands: {spec.stands}, so it is prepared from that rung up; at {plan.strategy} it "
        "would need a control plane in another region at failover time, so it is not built"
    )


def _for_region(plan: Plan, key: str, params: dict[str, ParamValue]) -> dict[str, ParamValue]:
    """The params with each `{per_region: ...}` value resolved to the plan's region's entry;
    one without an entry, or still capture's placeholder, is a problem (ParameterProblems)."""
    spec = plan.loaded.env.stacks[key]

    def where(name: str) -> str:
        if plan.phase == "prepare" and name in spec.standby_params:
            return f"stacks.{key}.standby_params.{name}"
        if plan.stand_in and name in spec.stand_in_params:
            return f"stacks.{key}.stand_in_params.{name}"
        return f"stacks.{key}.params.{name}"

    problems = [
        problem
        for name, value in params.items()
        if (problem := per_region_problem(where(name), value, plan.region))
    ]
    if problems:
        raise ParameterProblems(problems)
    resolved = {name: resolve(value, plan.region) for name, value in params.items()}
    actions = resolved.get(OPTION)
    if isinstance(actions, list) and actions:
        kept, left_out = leave_out_passed(actions, plan.now)
        resolved[OPTION] = kept
        plan.warnings.extend(f"{_where(plan.loaded, key)}.{why}" for why in left_out)
    return resolved


def _stack_plan(plan: Plan, key: str, standby: bool) -> StackPlan:
    """Render one stack of the plan and check its references."""
    loaded, stand_in = plan.loaded, plan.stand_in
    spec = loaded.env.stacks[key]
    params = data_params(plan, key, _for_region(plan, key, spec.params_for(stand_in, standby)))
    if spec.blueprint == IDENTITY_BLUEPRINT:  # its CloudFormation role, from the other stacks
        params = identity_params(plan, key, params)  # one service role per environment
    shared = spec.stands == "global"  # one per account and region, whoever reads it
    name = stack_name(loaded.env.name, key, None if shared else plan.namespace)
    if len(name) > MAX_STACK_NAME:
        raise ConfigError(
            f"{loaded.path}: stacks.{key}: the stack name {name!r} is {len(name)} "
            f"characters; CloudFormation allows {MAX_STACK_NAME}",
            hint="shorten the environment, stack or --as name",
        )
    template = _render(loaded, key, name, params, standby)
    if standby:  # the blueprint's standby Parameter values, under the file's standby_params
        given = loaded.registry[spec.blueprint].standby
        params.update(
            {
                k: v
                for k, v in given.items()
                if k in template.parameters and k not in spec.standby_params
            }
        )
    reserved: dict[str, ParamValue] = {
        PURPOSE_PARAMETER: "failover" if shared and plan.purpose != "home" else plan.purpose,
        NAMESPACE_PARAMETER: "" if shared else plan.namespace or "",
    }
    secret = app_secret(spec.params)
    if secret is not None:  # its ARN in the target region, found by discovery
        reserved[APP_SECRET_PARAMETER] = SecretRef(secret=secret)
    known = {**plan.prepared, **plan.stacks}
    parameters = split_params(loaded, key, template, params, reserved, known)
    for param, value in parameters.items():
        if isinstance(value, OutputRef) and value.stack in known:  # else its own problems
            source = known[value.stack]
            if value.output not in source.outputs:
                raise ConfigError(
                    f"{_where(loaded, key, '.' + param)}: stack {value.stack} "
                    f"(blueprint {source.blueprint}) has no output {value.output!r}; "
                    f"outputs: {', '.join(source.outputs)}"
                )
    as_dict = template.to_dict()
    body = json.dumps(as_dict, separators=(",", ":"))
    check_limits(name, template, body)
    stateful_parameters, stateful_resources = stateful_parts(as_dict)
    return StackPlan(
        key=key,
        name=name,
        blueprint=spec.blueprint,
        body=body,
        parameters=parameters,
        outputs=tuple(template.outputs),
        depends_on=tuple(
            sorted(d for d in spec.dependencies(stand_in, standby) if d in plan.stacks)
        ),
        resource_count=len(template.resources),
        stateful_parameters=stateful_parameters,
        stateful_resources=stateful_resources,
        launch_parameters=launch_parameters(as_dict),
    )


def lint_plan(plan: Plan, *, prepared: bool = False) -> dict[str, list[Finding]]:
    """cfn-lint every template (with `prepared`, the prepared stacks' too); any error is a
    RenderError naming stack, rule and path, and the environment file's key when the value at
    fault is one the file gave.

    Findings come from the lint cache (`relight.steps.lint`) when a template was linted before;
    the others are linted in parallel worker processes."""
    every = {**plan.prepared, **plan.stacks} if prepared else plan.stacks
    linted = lint_templates([(sp.body, plan.region) for sp in every.values()])
    findings = dict(zip(every, linted, strict=True))
    errors, yours = [], False
    for key, found in findings.items():
        for finding in found:
            if finding.severity != "error":
                continue
            given = _given_as(plan, key, finding.value)
            yours = yours or given is not None
            where = f"{plan.loaded.path}: {given}: " if given else ""
            errors.append(
                f"{where}stack {every[key].name} (blueprint {every[key].blueprint}): {finding}"
            )
    if errors:
        raise RenderError(
            f"cfn-lint found {len(errors)} error(s) in the rendered templates:\n  "
            + "\n  ".join(errors),
            hint=(
                "fix the value in the environment file"
                if yours
                else "fix the blueprint (or its options in the environment file)"
            )
            + "; nothing was deployed",
        )
    return findings


def _given_as(plan: Plan, key: str, value: str | None) -> str | None:
    """The key path under which the environment file gave `value` to the stack, if it did."""
    if value is None:
        return None
    spec = plan.loaded.env.stacks[key]
    for name, given in spec.params_for(plan.stand_in).items():
        if isinstance(given, str | int | float) and str(given) == value:
            return f"stacks.{key}.params.{name}"
    return None


def _as_parameter_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_parameter_value(v) for v in value)
    return str(value)


def resolve_parameters(
    stack: StackPlan,
    *,
    artifact_ids: Mapping[str, str],
    zone_names: Sequence[str],
    outputs: Mapping[str, Mapping[str, str]],
) -> dict[str, str]:
    """Turn a stack's parameters into the strings CloudFormation takes."""
    resolved = {}
    for name, value in stack.parameters.items():
        if isinstance(value, ArtifactRef):
            if value.key not in artifact_ids:
                raise DeployError(
                    f"stack {stack.name}: {name} takes {value.key}, which the chosen "
                    f"{value.artifact} does not report",
                    hint="an AMI needs an EBS root device with a size (instance-store AMIs "
                    "cannot be launched this way); or give the parameter a literal value",
                )
            resolved[name] = artifact_ids[value.key]
        elif isinstance(value, OutputRef):
            resolved[name] = outputs[value.stack][value.output]
        elif isinstance(value, ZonesRef):
            resolved[name] = ",".join(zone_names)
        elif isinstance(value, SecretRef):
            if value.key not in artifact_ids:
                raise DeployError(
                    f"stack {stack.name}: {name} takes the ARN of secret {value.secret}, "
                    "which has no replica in this region",
                    hint="replicate the secret to this region (preflight names the command)",
                )
            resolved[name] = artifact_ids[value.key]
        else:
            resolved[name] = _as_parameter_value(value)
    return resolved


def placeholder(value: ParamValue) -> str:
    """How an unresolved reference reads in a rendered parameters file."""
    if isinstance(value, ArtifactRef):
        return f"${{artifact:{value.key}}}"
    if isinstance(value, OutputRef):
        return f"${{output:{value.stack}.{value.output}}}"
    if isinstance(value, ZonesRef):
        return "${zones:names}"
    if isinstance(value, SecretRef):
        return f"${{{value.key}}}"
    return _as_parameter_value(value)


def write_plan(plan: Plan, out: Path) -> list[Path]:
    """Write `<stack>.template.json` and `<stack>.parameters.json` per stack, the prepared
    stacks the plan reads included (as `relight prepare` deploys them)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for key, sp in {**plan.prepared, **plan.stacks}.items():
        template_path = out / f"{key}.template.json"
        template_path.write_text(json.dumps(json.loads(sp.body), indent=2) + "\n", "utf-8")
        params = [
            {"ParameterKey": name, "ParameterValue": placeholder(value)}
            for name, value in sp.parameters.items()
        ]
        params_path = out / f"{key}.parameters.json"
        params_path.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
        written += [template_path, params_path]
    return written
