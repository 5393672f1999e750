"""`relight graph`: the dependency graph as Mermaid and DOT, from the environment file alone."""

from __future__ import annotations

from typer.testing import CliRunner

from conftest import REPO
from relight.cli import app
from relight.model.config import load_environment
from relight.model.graph import to_dot, to_mermaid

DEMO = load_environment("demo", "us-west-2", cwd=REPO).env


def test_mermaid_has_one_arrow_per_dependency() -> None:
    text = to_mermaid(DEMO)
    assert text.startswith("flowchart LR\n")
    assert "s_network --> s_security" in text
    assert "s_load_balancer --> s_dns" in text
    edges = sum(len(spec.dependencies()) for spec in DEMO.stacks.values())
    assert text.count("-->") == edges


def test_dot_names_every_stack_with_its_blueprint() -> None:
    text = to_dot(DEMO)
    assert text.startswith('digraph "demo" {')
    assert '"web" [label="web\\ncompute"];' in text
    assert '"network" -> "web";' in text
    assert text.rstrip().endswith("}")


def test_the_graph_command_prints_either_format_and_refuses_others() -> None:
    runner = CliRunner()
    assert "flowchart LR" in runner.invoke(app, ["graph", "--env", "demo"]).stdout
    assert "digraph" in runner.invoke(app, ["graph", "--env", "demo", "-f", "dot"]).stdout
    bad = runner.invoke(app, ["graph", "--env", "demo", "-f", "png"])
    assert bad.exit_code == 2
