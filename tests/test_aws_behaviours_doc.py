"""docs/aws-behaviours.md is the contract: every test a row names exists, and every row has a
documentation link and a test."""

from __future__ import annotations

import ast
import re

from conftest import REPO

DOC = (REPO / "docs" / "aws-behaviours.md").read_text(encoding="utf-8")
ROWS = [line for line in DOC.splitlines() if re.match(r"^\| [A-Z]\d+ \|", line)]


def _tests_in(path: str) -> set[str]:
    tree = ast.parse((REPO / "tests" / path).read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def _named(cell: str) -> list[tuple[str, str]]:
    """`file.py::test` and `::test` (the file named before it) in a table cell."""
    found, current = [], ""
    for file, test in re.findall(r"`(\w+\.py)?::(\w+)`", cell):
        current = file or current
        found.append((current, test))
    return found


def test_every_row_has_a_source_and_a_test() -> None:
    assert len(ROWS) >= 30
    for row in ROWS:
        cells = row.split(" | ")
        assert "http" in cells[2], f"no AWS documentation link: {row[:60]}"
        assert _named(cells[-1]), f"no test named: {row[:60]}"


def test_every_test_the_contract_names_exists() -> None:
    missing = [
        f"{file}::{test}"
        for row in ROWS
        for file, test in _named(row.split(" | ")[-1])
        if test not in _tests_in(file)
    ]
    assert missing == []
