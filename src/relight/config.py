"""Step 1 of the data flow: `stacks/<env>.yaml` → a validated `Environment`.

The file is rendered with Jinja2 first (`region`, `env` for the process
environment, `name` for the file's stem), then parsed as YAML, then validated
into the typed model, then checked for things a model alone cannot see:
references to unknown artifacts or stacks, unknown blueprints, blueprint
options, and dependency cycles. Every failure is a `ConfigError` naming the
file and the key path; nothing here calls AWS.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relight.blueprint import Registry, load_registry
from relight.environment import ArtifactRef, Environment, OutputRef
from relight.errors import BlueprintError, ConfigError
from relight.graph import stack_order


@dataclass(frozen=True)
class LoadedEnvironment:
    """An environment with where it came from and the blueprints it can use."""

    env: Environment
    path: Path
    registry: Registry
    order: tuple[str, ...]


def find_environment_file(ref: str, cwd: Path | None = None) -> Path:
    """`demo` → `./stacks/demo.yaml`; a path to a YAML file is taken as it is."""
    cwd = cwd or Path.cwd()
    if ref.endswith((".yaml", ".yml")) or os.sep in ref:
        path = (cwd / ref).resolve()
        if not path.is_file():
            raise ConfigError(f"{ref}: no such environment file")
        return path
    stacks = cwd / "stacks"
    for suffix in (".yaml", ".yml"):
        path = stacks / f"{ref}{suffix}"
        if path.is_file():
            return path.resolve()
    known = sorted(p.stem for p in stacks.glob("*.y*ml")) if stacks.is_dir() else []
    hint = f"known environments: {', '.join(known)}" if known else f"no {stacks}/ directory here"
    raise ConfigError(f"--env {ref}: no file stacks/{ref}.yaml", hint=hint)


def render_text(path: Path, text: str, region: str | None, environ: Mapping[str, str]) -> str:
    """Render the environment file with Jinja2; undefined variables are errors."""
    import jinja2

    jenv = jinja2.Environment(
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
    )
    try:
        return jenv.from_string(text).render(region=region, env=dict(environ), name=path.stem)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"{path}:{exc.lineno}: template syntax error: {exc.message}") from exc
    except jinja2.UndefinedError as exc:
        hint = "variables available: region, name, env.VAR (the process environment)"
        if region is None and "region" in str(exc):
            hint = "this command has no target region; guard with {% if region %}"
        unset = re.search(r"'dict object' has no attribute '([^']+)'", exc.message or "")
        what = f"env.{unset.group(1)}: environment variable not set" if unset else exc.message
        raise ConfigError(f"{path}:{_template_line(exc)}: undefined {what}", hint=hint) from exc


def _template_line(exc: BaseException) -> str:
    """The line of the Jinja2 template an exception was raised on ('?' if unknown)."""
    line = "?"
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = str(tb.tb_lineno)
        tb = tb.tb_next
    return line


def parse_yaml(path: Path, text: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (name:, stacks:, ...)")
    return data


def _key_path(loc: tuple[int | str, ...]) -> str:
    # Pydantic puts the names of union members and validators in locations; they are not keys.
    parts = [str(p) for p in loc if not re.search(r"[\[(]|^function-", str(p))]
    return ".".join(parts) or "(top level)"


def _allowed_keys(model: type[Any], loc: tuple[int | str, ...]) -> list[str]:
    """The keys a model accepts at `loc` (for 'unknown key' messages)."""
    from pydantic import BaseModel

    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:  # a dict[str, Model]: this part is a user's key; step into the value type
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def validate_model(path: Path, data: dict[str, Any]) -> Environment:
    from pydantic import ValidationError

    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _key_path(err["loc"])
            if err["type"] == "extra_forbidden":
                allowed = _allowed_keys(Environment, err["loc"])
                lines.append(f"{where}: unknown key; allowed: {', '.join(allowed)}")
            elif err["type"] == "missing":
                lines.append(f"{where}: required key is missing")
            else:
                lines.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
        if len(lines) == 1:
            raise ConfigError(f"{path}: {lines[0]}") from None
        raise ConfigError(f"{path}: {len(lines)} problems\n  " + "\n  ".join(lines)) from None


def check_references(path: Path, env: Environment) -> None:
    """Every reference names something that exists."""
    problems = []
    for key, spec in env.stacks.items():
        for dep in spec.depends_on:
            if dep not in env.stacks:
                problems.append(
                    f"stacks.{key}.depends_on: unknown stack {dep!r}; stacks: "
                    + ", ".join(env.stacks)
                )
            elif dep == key:
                problems.append(f"stacks.{key}.depends_on: a stack cannot depend on itself")
        for section, param, value in [
            *(("params", k, v) for k, v in spec.params.items()),
            *(("stand_in_params", k, v) for k, v in spec.stand_in_params.items()),
        ]:
            where = f"stacks.{key}.{section}.{param}"
            if isinstance(value, ArtifactRef) and value.artifact not in env.artifacts:
                known = ", ".join(env.artifacts) or "(none declared)"
                problems.append(f"{where}: unknown artifact {value.artifact!r}; artifacts: {known}")
            elif (
                isinstance(value, ArtifactRef)
                and value.attribute
                and env.artifacts[value.artifact].kind != "ami"
            ):
                problems.append(
                    f"{where}: {value.key}: only an AMI (kind ami) has a {value.attribute}; "
                    f"{value.artifact} is a {env.artifacts[value.artifact].kind}"
                )
            if isinstance(value, OutputRef):
                if value.stack not in env.stacks:
                    problems.append(
                        f"{where}: output of unknown stack {value.stack!r}; stacks: "
                        + ", ".join(env.stacks)
                    )
                elif value.stack == key:
                    problems.append(f"{where}: a stack cannot read its own outputs")
    if problems:
        raise ConfigError(f"{path}: " + "\n  ".join(problems))


def check_blueprints(path: Path, env: Environment, registry: Registry) -> None:
    """Every stack names a known blueprint and gives it options it accepts."""
    problems = []
    for key, spec in env.stacks.items():
        if spec.blueprint not in registry:
            problems.append(
                f"stacks.{key}.blueprint: unknown blueprint {spec.blueprint!r}; "
                f"known: {', '.join(registry.names())} (from {registry.directory})"
            )
            continue
        for section, stand_in in (("params", False), ("stand_in_params", True)):
            try:
                registry[spec.blueprint].options_from(spec.params_for(stand_in))
            except BlueprintError as exc:
                problems.append(f"stacks.{key}.{section}.{exc.message}")
                break
    if problems:
        raise ConfigError(f"{path}: " + "\n  ".join(problems))


def load_environment(
    ref: str,
    region: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> LoadedEnvironment:
    """Read, render, validate and cross-check one environment file."""
    path = find_environment_file(ref, cwd)
    text = render_text(path, path.read_text(encoding="utf-8"), region, environ or os.environ)
    env = validate_model(path, parse_yaml(path, text))
    check_references(path, env)
    root = path.parent.parent if path.parent.name == "stacks" else path.parent
    directory = (path.parent / env.blueprints_dir) if env.blueprints_dir else root / "blueprints"
    registry = load_registry(directory.resolve())
    check_blueprints(path, env, registry)
    order = stack_order(env, path)
    return LoadedEnvironment(env=env, path=path, registry=registry, order=order)
