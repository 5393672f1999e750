"""A stack's params against its blueprint's Parameters, and how to wire what is missing.

An environment file older than a blueprint may miss several Parameters (a newer compute
blueprint takes the instance profile the identity stack makes, say). Every such problem is
collected, across every stack, and refused once (`ParameterProblems`, placed on the file's
lines by `build_plan`), each with how to wire it: the output of a stack the file has, or the
blueprint whose stack would give it, with `stands: global` where that stack holds what only a
global control plane makes (IAM, Route 53).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from relight.errors import ConfigError
from relight.model.blueprint import derived_parameters
from relight.model.config import LoadedEnvironment
from relight.model.control_planes import control_plane
from relight.model.environment import ArtifactRef, ParamValue
from relight.model.plan import StackPlan


class ParameterProblems(ConfigError):
    """Problems of one stack's params, each `stacks.KEY.params...: what`, not yet placed."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _where(loaded: LoadedEnvironment, key: str, suffix: str = "") -> str:
    return f"{loaded.path}: stacks.{key}.params{suffix}"


def split_params(
    loaded: LoadedEnvironment,
    key: str,
    template: Any,
    params: dict[str, ParamValue],
    reserved: Mapping[str, ParamValue],
    built: Mapping[str, StackPlan],
) -> dict[str, ParamValue]:
    """The stack's params that are template Parameters; anything else unknown, or a Parameter
    without a default that is not given, is a problem (ParameterProblems, all of them).
    `built`: the stacks rendered so far, whose outputs may wire a missing Parameter."""
    spec = loaded.env.stacks[key]
    blueprint = loaded.registry[spec.blueprint]
    options = set(blueprint.options_model.model_fields)
    declared = template.parameters
    given = {k: v for k, v in params.items() if k not in options}
    at = f"stacks.{key}.params"
    problems = []
    for name, filled in reserved.items():  # relight's own Parameters: filled, never given
        if name in given:
            problems.append(f"{at}.{name}: reserved; relight fills it")
        elif name in declared:
            given[name] = filled
    derived = derived_parameters(template)
    problems += _derive(derived, given, at, declared)
    for name, value in given.items():
        scalar_list = isinstance(value, list) and all(
            isinstance(v, str | int | float | bool) for v in value
        )
        if isinstance(value, dict) or (isinstance(value, list) and not scalar_list):
            problems.append(
                f"{at}.{name}: a Parameter takes a string, a number, a list of them, or a "
                "reference: {artifact: NAME}, {output: STACK.OUTPUT}, {zones: names}"
            )
    for name in given:
        if name not in declared:
            problems.append(
                f"{at}.{name}: not an option or Parameter of blueprint {spec.blueprint}; "
                f"options: {', '.join(sorted(options)) or '(none)'}; "
                f"Parameters: {', '.join(declared) or '(none)'}"
            )
    for name, parameter in declared.items():
        if name not in given and name not in derived and "Default" not in parameter.properties:
            ptype = parameter.properties.get("Type", "String")
            about = parameter.properties.get("Description")
            problems.append(
                f"{at}: missing {name} ({ptype}), a Parameter of blueprint {spec.blueprint} "
                "with no default"
                + (f": {about}" if isinstance(about, str) else "")
                + f"; {wiring(loaded, key, name, built)}"
            )
    if problems:
        raise ParameterProblems(problems)
    return given


def _derive(
    derived: dict[str, tuple[str, str]],
    given: dict[str, ParamValue],
    where: str,
    declared: dict[str, Any],
) -> list[str]:
    """Fill the blueprint's derived Parameters the params do not give (an AMI's root device
    from the artifact given as ImageId, say); problems where that artifact is not known."""
    problems = []
    for name, (source, attribute) in derived.items():
        origin = given.get(source)
        if name in given:
            continue
        if isinstance(origin, ArtifactRef) and not origin.attribute:
            given[name] = ArtifactRef(artifact=origin.artifact, attribute=attribute)
        elif "Default" not in declared[name].properties:  # else: its default serves
            problems.append(
                f"{where}.{name}: missing; relight fills it from the {attribute} of the "
                f"artifact given as {source}, but {source} is not {{artifact: NAME}}: give "
                f"{name} yourself"
            )
    return problems


def _matching(outputs: Any, name: str) -> list[str]:
    """Outputs named `name`, or ending with it (WebInstanceProfileArn for InstanceProfileArn)."""
    return [o for o in outputs if o == name] or [o for o in outputs if str(o).endswith(name)]


def wiring(loaded: LoadedEnvironment, key: str, name: str, built: Mapping[str, StackPlan]) -> str:
    """How to give Parameter `name` of stack `key`: an output of a stack the file has, else
    the blueprint whose stack would give it (and its `stands:`), else a value."""
    for other, sp in built.items():
        found = _matching(sp.outputs, name)
        if other != key and found:
            return f"wire it: {name}: {{output: {other}.{found[0]}}}"
    for blueprint in loaded.registry:
        try:
            template = blueprint.render(dict(blueprint.sample))
        except Exception:
            continue
        found = _matching(template.outputs, name)
        if not found:
            continue
        types = [str(r.resource.get("Type", "")) for r in template.resources.values()]
        planes = sorted({where[0] for t in types if (where := control_plane(t))})
        stands = (
            f", with `stands: global` (it holds {', '.join(planes)} resources, whose control "
            "plane is in another region: relight prepare makes it before a disaster)"
            if planes
            else ""
        )
        users = [k for k, s in loaded.env.stacks.items() if s.blueprint == blueprint.name]
        if users:
            return f"wire it: {name}: {{output: {users[0]}.{found[0]}}}"
        return (
            f"add a stack with blueprint {blueprint.name}{stands}, say `{blueprint.name}:`, "
            f"and wire it: {name}: {{output: {blueprint.name}.{found[0]}}} (outputs of "
            f"{blueprint.name}: {', '.join(template.outputs)})"
        )
    return f"give it a value under stacks.{key}.params"
