"""The blueprint contract and the registry that finds blueprints by name.

A blueprint is one file in `blueprints/` holding a pure function from typed
options to a `troposphere.Template`, marked with `@blueprint`:

    from relight.blueprint import Options, blueprint

    class QueueOptions(Options):
        fifo: bool = False

    @blueprint("queue", sample={"fifo": True})
    def queue(options: QueueOptions) -> Template:
        ...

Two kinds of stack parameters reach a blueprint:

- *options* (the fields of its `Options` model) shape the template and are
  literal values known before any AWS call (a CIDR, an instance count);
- *CloudFormation Parameters* declared in the template carry what is only
  known at deploy time (a discovered AMI id, another stack's output), so that
  one failover differs from another only in parameter values.

In `stacks/<env>.yaml`, a stack's `params` holds both: keys that name an
option go to the function, keys that name a template Parameter are passed to
CloudFormation.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from relight.errors import BlueprintError, OptionError

if TYPE_CHECKING:
    from troposphere import Parameter, Template

_MARK = "__relight_blueprint__"
PURPOSE_PARAMETER = "RelightPurpose"
PURPOSES = ("failover", "test", "drill", "home")
NAMESPACE_PARAMETER = "RelightNamespace"
# The application secret's ARN in the target region, filled by relight (database: app_secret).
APP_SECRET_PARAMETER = "AppSecretArn"
NAMESPACED = "Namespaced"
PROTECTED = "Protected"
# The purposes whose stacks are the real environment: deletion protection on (teardown --force
# lifts it by setting another purpose).
PROTECTED_PURPOSES = ("failover", "home")
DERIVED = "relight:derived"
F = TypeVar("F", bound=Callable[..., Any])


class Options(BaseModel):
    """Base class of a blueprint's typed options: unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def fewest_zones(self) -> tuple[int, str] | None:
        """The fewest Availability Zones a stack of these options can stand in, and AWS's
        reason (the environment file's zones are checked against it); None: one will do."""
        return None


@dataclass(frozen=True)
class Blueprint:
    name: str
    build: Callable[[Any], Template]
    options_model: type[Options]
    sample: Mapping[str, Any]
    description: str
    source: Path = field(default=Path("?"))
    # Template Parameters the blueprint gives a standing copy (`relight prepare`, a stack's
    # standby_params) unless the file's standby_params say otherwise, e.g. compute's
    # {"TargetGroupArn": ""}: a standby fleet takes no traffic before the failover.
    standby: Mapping[str, str] = field(default_factory=dict)

    def options_from(self, params: Mapping[str, Any]) -> Options:
        """Validate the option part of a stack's params (the rest are template Parameters)."""
        values = {k: v for k, v in params.items() if k in self.options_model.model_fields}
        for key, value in values.items():
            if isinstance(value, BaseModel):
                raise BlueprintError(
                    f"{key}: option {key!r} of blueprint {self.name} shapes the template, "
                    "so it takes a literal value, not a reference"
                )
        try:
            return self.options_model.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])  # "": the options as a whole
            raise OptionError(
                where, f"{err['msg'].removeprefix('Value error, ')} (blueprint {self.name})"
            ) from None

    def render(self, params: Mapping[str, Any]) -> Template:
        template = self.build(self.options_from(params))
        template.set_version("2010-09-09")
        return template


def purpose_parameter(template: Template) -> Parameter:
    """Declare relight's reserved `RelightPurpose` Parameter and the `Protected` condition.

    relight fills `RelightPurpose` with the run's purpose (failover, test, drill or home);
    `Protected` is true for failover and home, so deletion protection is on where the
    environment is the real one and off for drills and test copies, with one template.
    """
    from troposphere import Equals, Or, Parameter, Ref

    parameter = template.add_parameter(
        Parameter(
            PURPOSE_PARAMETER,
            Type="String",
            AllowedValues=list(PURPOSES),
            Default="failover",
            Description="Filled by relight: why this stack exists",
        )
    )
    template.add_condition(
        PROTECTED, Or(*(Equals(Ref(parameter), purpose) for purpose in PROTECTED_PURPOSES))
    )
    return parameter


def optional_parameter(
    template: Template, name: str, condition: str, description: str
) -> Parameter:
    """A String Parameter that may be left empty, and the condition true when it is not."""
    from troposphere import Equals, Not, Parameter, Ref

    parameter = template.add_parameter(
        Parameter(name, Type="String", Default="", Description=description)
    )
    template.add_condition(condition, Not(Equals(Ref(parameter), "")))
    return parameter


def derived_parameter(
    template: Template, name: str, *, source: str, attribute: str, **properties: Any
) -> Parameter:
    """A Parameter relight fills from an attribute of the artifact that fills `source`.

    E.g. `RootDeviceName` from the `root_device` of the AMI given as `ImageId`: the stack's
    params need not name it (they may, to override). Recorded in the template's Metadata under
    `relight:derived`, where render finds it.
    """
    from troposphere import Parameter

    parameter = template.add_parameter(Parameter(name, **properties))
    template.metadata.setdefault(DERIVED, {})[name] = {"from": source, "attribute": attribute}
    return parameter


def derived_parameters(template: Template) -> dict[str, tuple[str, str]]:
    """name → (the Parameter it comes from, the attribute), as `derived_parameter` recorded."""
    found = template.metadata.get(DERIVED, {})
    return {name: (spec["from"], spec["attribute"]) for name, spec in found.items()}


def namespace_parameter(template: Template) -> Parameter:
    """Declare relight's reserved `RelightNamespace` Parameter and the `Namespaced` condition.

    relight fills it with the test copy's or drill's namespace (`qa`, `drill-<id>`), and with
    "" for a failover: a blueprint uses it for names that live outside the stack and must
    not collide with production's, such as a DNS record (see blueprints/dns.py).
    """
    return optional_parameter(
        template,
        NAMESPACE_PARAMETER,
        NAMESPACED,
        "Filled by relight: the test copy's or drill's namespace, or empty",
    )


def trusted_by(service: str) -> dict[str, Any]:
    """An IAM trust policy that lets one AWS service (e.g. ec2.amazonaws.com) assume the role."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }


def managed_policy(name: str) -> Any:
    """The ARN of an AWS managed policy, in whichever partition the stack runs."""
    from troposphere import Sub

    return Sub(f"arn:${{AWS::Partition}}:iam::aws:policy/{name}")


def no_egress() -> Any:
    """A security group egress rule that matches nothing: it replaces AWS's default allow-all."""
    from troposphere import ec2

    return ec2.SecurityGroupRule(
        IpProtocol="icmp",
        FromPort=252,
        ToPort=86,
        CidrIp="127.0.0.1/32",
        Description="no egress: replaces AWS's default allow-all rule",
    )


def scan_skips(reasons: dict[str, str]) -> dict[str, Any]:
    """Resource Metadata that skips checkov checks, each with the reason it does not apply."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in reasons.items()]}}


def blueprint(
    name: str,
    *,
    sample: Mapping[str, Any] | None = None,
    description: str = "",
    standby: Mapping[str, str] | None = None,
) -> Callable[[F], F]:
    """Mark a function `f(options: SomeOptions) -> Template` as the blueprint `name`.

    `standby`: Parameters a standing copy of a stack gets (before the file's standby_params)."""

    def mark(fn: F) -> F:
        hints = typing.get_type_hints(fn)
        params = [h for k, h in hints.items() if k != "return"]
        if len(params) != 1 or not (isinstance(params[0], type) and issubclass(params[0], Options)):
            raise TypeError(
                f"blueprint {name}: the function takes exactly one argument, typed with a "
                "subclass of relight.blueprint.Options"
            )
        summary = description or (fn.__doc__ or "").strip().split("\n")[0]
        setattr(
            fn,
            _MARK,
            Blueprint(
                name=name,
                build=fn,
                options_model=params[0],
                sample=dict(sample or {}),
                description=summary,
                standby=dict(standby or {}),
            ),
        )
        return fn

    return mark


@dataclass
class Registry:
    """Blueprints by name: an environment's own directory's over relight's shipped ones.

    `directory` is where the environment's own blueprints are (the shipped directory when it
    has none); `shipped` is relight's own, when it is searched too. A blueprint of the
    environment's own that has the name of a shipped one replaces it: `replaced` maps such a
    name to the shipped file that is not used.
    """

    directory: Path
    blueprints: dict[str, Blueprint]
    shipped: Path | None = None
    replaced: dict[str, Path] = field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.blueprints

    def __getitem__(self, name: str) -> Blueprint:
        try:
            return self.blueprints[name]
        except KeyError:
            raise BlueprintError(
                f"unknown blueprint {name!r}; known: {', '.join(self.names())} ({self.searched()})"
            ) from None

    def __iter__(self) -> Iterator[Blueprint]:
        return iter(self.blueprints[n] for n in self.names())

    def names(self) -> list[str]:
        return sorted(self.blueprints)

    def searched(self) -> str:
        """Where the blueprints were found, for messages: `from DIR and relight's DIR`."""
        if self.shipped is None or self.shipped == self.directory:
            return f"from {self.directory}"
        return f"from {self.directory}, then relight's own in {self.shipped}"

    def over(self, shipped: Registry) -> Registry:
        """These blueprints over `shipped` ones: a name defined in both is this one's."""
        if shipped.directory == self.directory:
            return self
        replaced = {
            name: shipped.blueprints[name].source for name in self.blueprints if name in shipped
        }
        return Registry(
            directory=self.directory,
            blueprints={**shipped.blueprints, **self.blueprints},
            shipped=shipped.directory,
            replaced=replaced,
        )


def shipped_directory(package: Path | None = None) -> Path | None:
    """relight's own blueprints: `blueprints/` of the checkout relight runs from (beside its
    `src/`), else the copy an installed wheel carries (`relight/_blueprints`, pyproject.toml's
    force-include), or None when there is neither."""
    package = package or Path(__file__).resolve().parent.parent  # relight/, not relight/model/
    candidates = [package / "_blueprints"]
    if package.parent.name == "src":
        candidates.insert(0, package.parent.parent / "blueprints")
    return next((d for d in candidates if d.is_dir()), None)


_loaded: dict[Path, Registry] = {}


def _module_name(path: Path) -> str:
    """`relight_blueprints.compute` for a shipped file; a file elsewhere gets its directory's
    digest too, so an environment's own `compute.py` does not replace the shipped module."""
    if path.parent == shipped_directory():
        return f"relight_blueprints.{path.stem}"
    digest = hashlib.sha1(str(path.parent).encode(), usedforsecurity=False).hexdigest()[:10]
    return f"relight_blueprints.d{digest}_{path.stem}"


def _import_file(path: Path) -> Any:
    module_name = _module_name(path)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise BlueprintError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise BlueprintError(
            f"{path}: the blueprint failed to import: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def load_registry(directory: Path) -> Registry:
    """Import every `*.py` in `directory` (not `_*.py`) and collect its blueprints."""
    directory = directory.resolve()
    if directory in _loaded:
        return _loaded[directory]
    if not directory.is_dir():
        raise BlueprintError(
            f"{directory}: no blueprints directory",
            hint="put blueprints/ beside stacks/, or set blueprints_dir in the environment file",
        )
    found: dict[str, Blueprint] = {}
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module = _import_file(path)
        for value in vars(module).values():
            bp = getattr(value, _MARK, None)
            if not isinstance(bp, Blueprint):
                continue
            if bp.name in found and found[bp.name].source != path:
                raise BlueprintError(
                    f"blueprint {bp.name!r} is defined twice: {found[bp.name].source} and {path}"
                )
            found[bp.name] = replace(bp, source=path)
    registry = Registry(directory=directory, blueprints=found)
    _loaded[directory] = registry
    return registry


def load_blueprints(own: Path | None) -> Registry:
    """An environment's blueprints: those in `own` (its own directory; None: it has none)
    over relight's shipped ones. Of two blueprints with one name, the one in `own` is used
    (`Registry.replaced` names the shipped file it replaces); two with one name inside one
    directory are an error."""
    shipped = shipped_directory()
    if own is None:
        if shipped is None:
            raise BlueprintError(
                "no blueprints: this relight was installed without its own, and the "
                "environment names no directory of its own",
                hint="set blueprints_dir in the environment file, or put blueprints/ beside "
                "stacks/",
            )
        return load_registry(shipped)
    registry = load_registry(own)
    return registry.over(load_registry(shipped)) if shipped else registry
