"""The examples of the README and its pages stay true: the blueprint renders and lints, the
environment file loads and plans, the failback command clears the latch, the commands exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import REPO
from relight.dr.ladder import ladder
from relight.model.blueprint import load_registry
from relight.model.config import load_environment
from relight.steps.lint import lint_template
from relight.steps.render import build_plan

README = (REPO / "README.md").read_text()
DOCS = REPO / "docs"
BLUEPRINTS_PAGE = (DOCS / "blueprints.md").read_text()
ENVIRONMENT_PAGE = (DOCS / "environment-file.md").read_text()
FAILBACK_PAGE = (DOCS / "dns-and-failback.md").read_text()


def test_the_readme_blueprint_example_works(tmp_path: Path) -> None:
    code = re.search(r"```python\n(# blueprints/queue.py.*?)```", BLUEPRINTS_PAGE, re.S)
    assert code, "docs/blueprints.md shows how to write a blueprint"
    (tmp_path / "queue.py").write_text(code.group(1))
    bp = load_registry(tmp_path)["queue"]
    body = json.dumps(bp.render(bp.sample).to_dict())
    assert lint_template(body, "us-west-2") == []


def test_the_readme_environment_example_loads_and_plans(tmp_path: Path) -> None:
    example = re.search(r"```yaml\n(name: demo .*?)```", ENVIRONMENT_PAGE, re.S)
    assert example, "docs/environment-file.md shows an environment file"
    (tmp_path / "stacks").mkdir()
    (tmp_path / "blueprints").symlink_to(REPO / "blueprints")
    (tmp_path / "stacks" / "demo.yaml").write_text(example.group(1))
    loaded = load_environment("demo", "us-west-2", cwd=tmp_path)
    plan = build_plan(loaded, "us-west-2")
    assert list(plan.stacks) == ["network", "security", "web"]
    assert list(plan.prepared) == ["identity"], "IAM roles are made ahead of time, then read"
    assert loaded.env.account_id == "123456789012"
    standing = build_plan(loaded, "us-west-2", strategy="warm_standby", phase="prepare")
    assert list(standing.stacks) == ["identity", "network", "security", "web"]
    assert list(build_plan(loaded, "us-west-2", strategy="warm_standby").stacks) == ["web"]
    assert [rung.strategy for rung in ladder(loaded, "us-west-2")] == [
        "backup_restore",
        "pilot_light",
        "warm_standby",
    ]


def test_the_quick_start_commands_are_make_targets() -> None:
    makefile = (REPO / "Makefile").read_text()
    for target in re.findall(r"^make (\w[\w-]*)", README, re.M):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is in the README"
    assert "make failover REGION=us-west-2" in README
    assert "make test" in README


def test_the_readme_failback_command_clears_the_latch_a_failover_sets() -> None:
    from relight.commands.failover import LATCH_METRIC, LATCH_NAMESPACE
    from relight.model.plan import stack_name

    command = re.search(r"^aws cloudwatch put-metric-data .*$", FAILBACK_PAGE, re.M)
    assert command, "docs/dns-and-failback.md shows how to fail back"
    assert f"--namespace {LATCH_NAMESPACE} --metric-name {LATCH_METRIC} " in command.group(0)
    assert f"--dimensions Stack={stack_name('demo', 'dns')} --value 0" in command.group(0)
