"""The house keeps its shape: layers import one way, no cycles, no room too big, a true map.

The contracts themselves live in pyproject.toml ([tool.importlinter]); `make lint` and CI run
`lint-imports` too. Here they run against the tree as it is, and against a copy with one
forbidden import added, to prove they would catch it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SRC = REPO / "src" / "relight"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MAX_LINES = 500
MAX_TOP = 12  # modules and packages at the top of src/relight, __init__ and __main__ aside


def lint_imports(root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the repo's contracts over the `relight` package found under `root`."""
    shutil.copy(REPO / "pyproject.toml", cwd / "pyproject.toml")
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_import_contracts_hold(tmp_path: Path) -> None:
    done = lint_imports(REPO / "src", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
    for contract in ("Layers import one way", "No import cycles", "Only the CLI imports typer"):
        assert contract in done.stdout


@pytest.mark.parametrize(
    ("module", "added", "broken"),
    [
        # The model importing a step of the data flow runs up the layers.
        ("model/config.py", "import relight.steps.render", "Layers import one way"),
        # The AWS layer importing rendering, even lazily inside a function.
        (
            "aws/cloudformation.py",
            "def _late():\n    from relight.steps import render\n",
            "Layers import one way",
        ),
        # render and deploy both in steps/: deploy imports render, so this closes a cycle.
        ("steps/render.py", "import relight.steps.deploy", "No import cycles"),
        # Two parts of capture that must not know each other.
        ("capture/dns.py", "import relight.capture.network", "Capture reads each part"),
        # A command reaching up into the estate engine that drives it.
        ("commands/summary.py", "import relight.estate", "Layers import one way"),
        # The estate engine reaching up into the CLI.
        ("estate/__init__.py", "import relight.cli", "Layers import one way"),
        # typer outside the CLI.
        ("commands/summary.py", "import typer", "Only the CLI imports typer"),
    ],
)
def test_the_contracts_catch_a_forbidden_import(
    tmp_path: Path, module: str, added: str, broken: str
) -> None:
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy / "relight", ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "relight" / module
    target.write_text(target.read_text(encoding="utf-8") + "\n" + added + "\n", encoding="utf-8")
    cwd = tmp_path / "run"
    cwd.mkdir()
    done = lint_imports(copy, cwd)
    assert done.returncode != 0, done.stdout
    assert "Broken contracts" in done.stdout, done.stdout
    named = done.stdout.split("Broken contracts", 1)[1]
    assert broken in named, f"expected {broken!r} among the broken contracts:\n{named}"


def test_no_module_is_over_500_lines() -> None:
    sizes = {
        str(path.relative_to(SRC)): len(path.read_text(encoding="utf-8").splitlines())
        for path in SRC.rglob("*.py")
    }
    too_big = {name: lines for name, lines in sizes.items() if lines > MAX_LINES}
    assert not too_big, f"split these by what they do: {too_big}"


def test_few_rooms_sit_at_the_top() -> None:
    top = sorted(
        p.name
        for p in SRC.iterdir()
        if (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))
        or (p.is_dir() and (p / "__init__.py").exists())
    )
    assert len(top) <= MAX_TOP, top


def packages() -> list[Path]:
    return sorted(p.parent for p in SRC.rglob("__init__.py"))


@pytest.mark.parametrize("package", packages(), ids=lambda p: str(p.relative_to(SRC.parent)))
def test_every_package_says_what_it_holds(package: Path) -> None:
    doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8")))
    assert doc and len(doc) > 40 and "TODO" not in doc, f"{package}: no docstring saying what"


def test_the_readme_map_names_every_room_at_the_top() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    for path in SRC.iterdir():
        if path.name.startswith("_") or path.name == "py.typed":
            continue
        if path.is_dir() and (path / "__init__.py").exists():
            assert f"`{path.name}/`" in section, f"the README's map does not name {path.name}/"
        elif path.suffix == ".py":
            assert f"`{path.name}`" in section, f"the README's map does not name {path.name}"
