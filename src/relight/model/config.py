"""Step 1 of the data flow: `stacks/<env>.yaml` → a validated `Environment`.

The file is rendered with Jinja2 first (`region`, `env` for the process
environment, `name` for the file's stem), then parsed as YAML, then validated
into the typed model, then checked for things a model alone cannot see:
references to unknown artifacts or stacks, unknown blueprints, blueprint
options, and dependency cycles. Every failure is a `ConfigError` naming the
file, the line where known and the key path; nothing here calls AWS.

Lines are lines of the rendered text, which are the file's own lines unless a
Jinja2 loop or a multi-line expression adds some.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from relight.errors import BlueprintError, ConfigError
from relight.model.blueprint import Registry, load_blueprints, shipped_directory
from relight.model.data_modes import data_problems
from relight.model.environment import ArtifactRef, Environment, OutputRef
from relight.model.graph import stack_order

if TYPE_CHECKING:
    import yaml
    from pydantic import ValidationError


# A large broken file lists this many problems and counts the rest.
MAX_PROBLEMS = 20

# Dotted key path (`stacks.web.params.cidr`, `recovery_regions.1`) → its line in the file.
KeyLines = dict[str, int]
# A problem: the line it is on (None: not known), and `key.path: what is wrong and the fix`.
Problem = tuple[int | None, str]


def locate(problems: list[str], lines: KeyLines | None) -> list[Problem]:
    """Pair each `key.path: ...` problem with the line of its key, or of its nearest parent."""
    located: list[Problem] = []
    for problem in problems:
        where = problem.partition(": ")[0]
        line = None
        while where and lines:
            if where in lines:
                line = lines[where]
                break
            where = where.rpartition(".")[0]
        located.append((line, problem))
    return located


def refuse(path: Path, problems: list[Problem]) -> NoReturn:
    """One ConfigError for all problems, in file order, at most MAX_PROBLEMS of them."""
    if len(problems) == 1:
        ((line, problem),) = problems
        raise ConfigError(f"{path}:{line}: {problem}" if line else f"{path}: {problem}")
    ordered = sorted(problems, key=lambda p: p[0] or 0)
    shown = [f"line {line}: {text}" if line else text for line, text in ordered[:MAX_PROBLEMS]]
    if len(ordered) > MAX_PROBLEMS:
        shown.append(f"... and {len(ordered) - MAX_PROBLEMS} more")
    raise ConfigError(f"{path}: {len(problems)} problems\n  " + "\n  ".join(shown))


def _lines_moved(source: str, rendered: str) -> bool:
    """Jinja2 blocks (`{% if %}`, loops, comments) can add or remove lines: the rendered text's
    line numbers are then not the file's."""
    return "{%" in source or "{#" in source or source.count("\n") != rendered.count("\n")


class _RenderedPath(type(Path())):  # type: ignore[misc]  # Path's concrete class on this OS
    """The environment file, shown with a note that line numbers are of its rendered text."""

    def __str__(self) -> str:
        return f"{super().__str__()} (Jinja2-rendered)"


@dataclass(frozen=True)
class LoadedEnvironment:
    """An environment with where it came from and the blueprints it can use."""

    env: Environment
    path: Path
    registry: Registry
    order: tuple[str, ...]
    # The file as read (after Jinja2): its YAML document and text, for what compares the file
    # itself with production (drift of a captured environment).
    document: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""


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


def read_text(path: Path) -> str:
    """The file as UTF-8 text; anything else is refused with where the first bad byte is."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise ConfigError(
            f"{path}:{line}: not UTF-8 text: byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start} ({exc.reason})",
            hint="save the file as UTF-8" + (" (it is UTF-16 now)" if utf16 else ""),
        ) from None


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
    except Exception as exc:  # the file's own expression failed: {{ 1 + "a" }}, {{ 1 / 0 }}, ...
        raise ConfigError(
            f"{path}:{_template_line(exc)}: template error: {exc} ({type(exc).__name__})",
            hint="fix the Jinja2 expression on that line",
        ) from exc


def _template_line(exc: BaseException) -> str:
    """The line of the Jinja2 template an exception was raised on ('?' if unknown)."""
    line = "?"
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = str(tb.tb_lineno)
        tb = tb.tb_next
    return line


def _check_keys(
    root: yaml.Node, key_of: Callable[[yaml.Node], Any]
) -> tuple[KeyLines, list[Problem]]:
    """The line of every key path under `root`, and every key a mapping repeats. `key_of` gives
    a scalar key node's value, so keys that are equal once loaded (`1`, `true`) clash too."""
    import yaml

    lines: KeyLines = {}
    duplicates: list[Problem] = []
    seen: set[int] = set()  # an alias repeats a node: visit it once (and survive cycles)
    todo: list[tuple[yaml.Node, str]] = [(root, "")]
    while todo:
        node, where = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        children: list[tuple[yaml.Node, yaml.Node, str]] = []
        if isinstance(node, yaml.SequenceNode):
            children = [(item, item, str(i)) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            first: dict[Hashable, int] = {}
            for key_node, value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                    key_node, yaml.ScalarNode
                ):
                    continue  # `<<: *base` may be overridden on purpose; complex keys: no path
                child = f"{where}.{key_node.value}" if where else str(key_node.value)
                line = key_node.start_mark.line + 1
                key = key_of(key_node)
                if isinstance(key, Hashable) and key in first:
                    duplicates.append(
                        (
                            line,
                            f"{child}: duplicate key, first at line {first[key]} (YAML would "
                            "keep only this one): remove or rename one of them",
                        )
                    )
                elif isinstance(key, Hashable):
                    first[key] = line
                children.append((key_node, value, str(key_node.value)))
        for mark_node, value, name in children:
            child = f"{where}.{name}" if where else name
            lines.setdefault(child, mark_node.start_mark.line + 1)
            todo.append((value, child))
    return lines, duplicates


def parse_yaml(path: Path, text: str) -> tuple[dict[str, Any], KeyLines]:
    """The data and the line of each key path. The safe loader composes the node tree, the
    keys are checked on it (a duplicate is refused), and only then is it built."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:  # an empty file
            raise ConfigError(
                f"{path}: the file is empty; an environment file declares name:, stacks:, ..."
            )
        lines, duplicates = _check_keys(node, loader.construct_object)
        if duplicates:
            refuse(path, duplicates)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {exc.problem}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping (name:, stacks:, ...)")
    return data, lines


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


def model_problems(
    model: type[Any], exc: ValidationError
) -> list[tuple[tuple[int | str, ...], str]]:
    """Each of pydantic's errors as (its location, `key.path: what is wrong`), worded as
    relight words a file's problems (an unknown key lists the allowed ones)."""
    problems = []
    for err in exc.errors():
        where = _key_path(err["loc"])
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, err["loc"])
            problems.append((err["loc"], f"{where}: unknown key; allowed: {', '.join(allowed)}"))
        elif err["type"] == "missing":
            problems.append((err["loc"], f"{where}: required key is missing"))
        else:
            problems.append((err["loc"], f"{where}: {err['msg'].removeprefix('Value error, ')}"))
    return problems


def validate_model(path: Path, data: dict[str, Any], lines: KeyLines | None = None) -> Environment:
    from pydantic import ValidationError

    try:
        return Environment.model_validate(data)
    except ValidationError as exc:
        problems = [text for _, text in model_problems(Environment, exc)]
    refuse(path, locate(problems, lines))


def check_stack_names(path: Path, env: Environment, lines: KeyLines | None = None) -> None:
    """No two stacks become the same CloudFormation stack name (`web_tier`, `web-tier`)."""
    from relight.model.plan import stack_name

    by_name: dict[str, list[str]] = {}
    for key in env.stacks:
        by_name.setdefault(stack_name(env.name, key), []).append(key)
    problems = [
        f"stacks.{keys[-1]}: {', '.join(keys[:-1])} and {keys[-1]} become the same "
        f"CloudFormation stack name {name} (relight writes _ as -), so one would replace the "
        f"other: rename {keys[-1]}"
        for name, keys in by_name.items()
        if len(keys) > 1
    ]
    if problems:
        refuse(path, locate(problems, lines))


def check_references(path: Path, env: Environment, lines: KeyLines | None = None) -> None:
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
                and env.artifacts[value.artifact].kind not in ("ami", "backup_recovery_point")
            ):
                problems.append(
                    f"{where}: {value.key}: only an AMI (kind ami, or an AWS Backup recovery "
                    f"point of an instance) has a {value.attribute}; "
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
        refuse(path, locate(problems, lines))


def blueprints_directory(
    path: Path, env: Environment, lines: KeyLines | None = None, shown: Path | None = None
) -> Path | None:
    """The environment's own blueprints directory: `blueprints_dir` (relative to the file),
    else `blueprints/` beside `stacks/` when there is one; None when it has none.

    Its blueprints are added to relight's shipped ones (blueprint.load_blueprints); one with
    the name of a shipped blueprint replaces that one for this environment, so a file may
    keep its own `compute` and never change when relight ships a new blueprint of a name it
    uses. Two files of one directory defining one name are an error naming both.
    """
    if env.blueprints_dir:
        directory = (path.parent / env.blueprints_dir).resolve()
        if not directory.is_dir():
            refuse(
                shown or path,
                locate(
                    [
                        f"blueprints_dir: {directory} is not a directory; it names the "
                        "environment's own blueprints, added to relight's shipped ones (leave "
                        "it out to use only those)"
                    ],
                    lines,
                ),
            )
        return directory
    root = path.parent.parent if path.parent.name == "stacks" else path.parent
    beside = (root / "blueprints").resolve()
    return beside if beside.is_dir() else None


def check_blueprints(
    path: Path, env: Environment, registry: Registry, lines: KeyLines | None = None
) -> None:
    """Every stack names a known blueprint and gives it options it accepts."""
    problems = []
    for key, spec in env.stacks.items():
        if spec.blueprint not in registry:
            own = (
                ""
                if registry.directory != shipped_directory()
                else (
                    "; a blueprint of your own goes in blueprints/ beside stacks/, or in the "
                    "directory blueprints_dir names"
                )
            )
            problems.append(
                f"stacks.{key}.blueprint: unknown blueprint {spec.blueprint!r}; "
                f"known: {', '.join(registry.names())} ({registry.searched()}){own}"
            )
            continue
        for section, stand_in in (("params", False), ("stand_in_params", True)):
            try:
                registry[spec.blueprint].options_from(spec.params_for(stand_in))
            except BlueprintError as exc:
                problems.append(exc.at(f"stacks.{key}.{section}"))
                break
    if problems:
        refuse(path, locate(problems, lines))


def check_zone_needs(
    path: Path, env: Environment, registry: Registry, lines: KeyLines | None = None
) -> None:
    """The zones (and every stack's `az_count`) are at least the most any stack's blueprint
    needs (`Options.fewest_zones`): an ALB or a DB subnet group in one zone is refused by AWS."""
    needs = []
    for key, spec in env.stacks.items():
        need = registry[spec.blueprint].options_from(spec.params_for(False)).fewest_zones()
        if need is not None:
            needs.append((need[0], key, spec.blueprint, need[1]))
    if not needs:
        return
    fewest, key, name, why = max(needs, key=lambda n: n[0])
    given: list[tuple[str, int]] = [("zones.count", env.zones.count)]
    given += [(f"zones.ids.{region}", len(ids)) for region, ids in env.zones.ids.items()]
    for other, spec in env.stacks.items():
        count = spec.params_for(False).get("az_count")
        if isinstance(count, int):
            given.append((f"stacks.{other}.params.az_count", count))
    problems = [
        f"{where}: {count}, but stacks.{key} (blueprint {name}) needs at least {fewest} zones: "
        f"{why}; give {fewest} or more (zones.count, zones.ids and every az_count agree: a YAML "
        "anchor keeps them together)"
        for where, count in given
        if count < fewest
    ]
    if problems:
        refuse(path, locate(problems, lines))


def load_environment(
    ref: str,
    region: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> LoadedEnvironment:
    """Read, render, validate and cross-check one environment file."""
    path = find_environment_file(ref, cwd)
    source = read_text(path)
    text = render_text(path, source, region, environ or os.environ)
    # Line numbers in messages are the rendered text's: where Jinja2 may have moved lines,
    # the file is named with a note saying so.
    shown = _RenderedPath(path) if _lines_moved(source, text) else path
    data, lines = parse_yaml(shown, text)
    env = validate_model(shown, data, lines)
    check_stack_names(shown, env, lines)
    check_references(shown, env, lines)
    wrong = data_problems(env)
    if wrong:
        refuse(shown, locate(wrong, lines))
    registry = load_blueprints(blueprints_directory(path, env, lines, shown))
    check_blueprints(shown, env, registry, lines)
    check_zone_needs(shown, env, registry, lines)
    order = stack_order(env, shown)
    return LoadedEnvironment(
        env=env, path=path, registry=registry, order=order, document=data, text=text
    )


def placed(loaded: LoadedEnvironment, problem: str) -> str:
    """`file:line: problem` for a `key.path: ...` problem, the line of its key (or of its
    nearest parent) in the file as read; `file: problem` when not known."""
    try:
        lines = parse_yaml(loaded.path, loaded.text)[1] if loaded.text else {}
    except ConfigError:
        lines = {}
    ((line, _),) = locate([problem], lines)
    return f"{loaded.path}:{line}: {problem}" if line else f"{loaded.path}: {problem}"


def refuse_placed(loaded: LoadedEnvironment, problems: list[str]) -> NoReturn:
    """One ConfigError for every `key.path: ...` problem, each with the line of its key, in
    file order (as a file's own problems are refused)."""
    try:
        lines = parse_yaml(loaded.path, loaded.text)[1] if loaded.text else {}
    except ConfigError:
        lines = {}
    refuse(loaded.path, locate(problems, lines))
