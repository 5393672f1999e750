"""Scheduler efficiency: wall time of a deploy against the graph's critical path.

A fake CloudFormation (tests/fakes.py) whose stacks take set, realistic
durations (a NAT gateway network ~3 min, an RDS restore ~12 min, ...), driven
in simulated time: the fake clock advances only when the engine sleeps, so
the figure is exactly what the engine's scheduling and polling add to
CloudFormation's own time, with no noise from the machine.

Printed, all measured in the same run:
- the critical path (the longest chain of durations: no scheduler can beat it);
- relight's dependency-driven schedule, as a ratio to the critical path (target <= 1.1x);
- level-by-level scheduling (Sceptre's batches: a level starts when the whole previous
  level is done), made by the same engine over a graph where every stack needs every
  stack of the level before it;
- CloudFormation API calls per stack.

Usage: .venv/bin/python bench/scheduler.py   (simulated time: --quick, which the suite passes,
       runs the same)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

# key: (seconds, needs). A 14-stack environment with uneven branches.
GRAPH: dict[str, tuple[float, list[str]]] = {
    "network": (180, []),
    "security": (25, ["network"]),
    "kms": (15, []),
    "database": (720, ["network", "security", "kms"]),
    "cache": (420, ["network", "security"]),
    "queue": (20, ["kms"]),
    "load_balancer": (210, ["network", "security"]),
    "web": (240, ["load_balancer", "security"]),
    "api": (200, ["load_balancer", "database", "cache"]),
    "worker": (150, ["queue", "database"]),
    "batch": (90, ["queue"]),
    "dns": (60, ["load_balancer"]),
    "monitoring": (30, ["web", "api", "worker"]),
    "cdn": (900, ["load_balancer"]),
}


def critical_path(graph: dict[str, tuple[float, list[str]]]) -> float:
    finish: dict[str, float] = {}

    def end(key: str) -> float:
        if key not in finish:
            seconds, needs = graph[key]
            finish[key] = seconds + max((end(n) for n in needs), default=0.0)
        return finish[key]

    return max(end(k) for k in graph)


def levels(graph: dict[str, tuple[float, list[str]]]) -> dict[str, tuple[float, list[str]]]:
    """The same stacks, each needing the whole previous level: level-by-level scheduling."""
    level: dict[str, int] = {}

    def depth(key: str) -> int:
        if key not in level:
            level[key] = 1 + max((depth(n) for n in graph[key][1]), default=-1)
        return level[key]

    for key in graph:
        depth(key)
    return {
        key: (seconds, [k for k in graph if level[k] == level[key] - 1])
        for key, (seconds, _) in graph.items()
    }


def environment(graph: dict[str, tuple[float, list[str]]], directory: Path) -> Path:
    """An environment of `security` stacks wired by depends_on (the fake ignores bodies)."""
    lines = [
        "name: bench",
        "home_region: us-east-1",
        "recovery_regions: [us-west-2]",
        "objectives: {rpo: 4h, rto: 1h}",
        f"blueprints_dir: {REPO / 'blueprints'}",
        "stacks:",
    ]
    for key, (_, needs) in graph.items():
        lines += [f"  {key}:", "    blueprint: security", f"    depends_on: {needs}"]
        lines += [
            "    params:",
            "      VpcId: vpc-0123456789abcdef0",
            "      groups: {app: {description: app, ingress: [{cidr: 10.0.0.0/8, port: 443,"
            " description: https}]}}",
        ]
    path = directory / "bench.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def deploy_in_simulated_time(
    graph: dict[str, tuple[float, list[str]]], events: bool = False
) -> tuple[float, int]:
    from datetime import UTC, datetime

    from fakes import FakeClock, FakeCloudFormation
    from relight.aws.cloudformation import Stacks
    from relight.model.config import load_environment
    from relight.steps.deploy import deploy
    from relight.steps.discovery import Discovery
    from relight.steps.render import build_plan

    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_environment(str(environment(graph, Path(tmp))), "us-west-2")
    plan = build_plan(loaded, "us-west-2")
    clock = FakeClock()
    cfn = FakeCloudFormation(
        clock=clock, durations={plan.stacks[k].name: s for k, (s, _) in graph.items()}
    )
    stacks = Stacks(cfn, clock=clock, sleep=clock.sleep, timeout=3600, events=events)
    outcome = deploy(stacks, plan, Discovery("us-west-2", datetime.now(UTC)), run_id="bench")
    assert outcome.ok, outcome.failed()
    return clock.now, outcome.api_calls


def main() -> None:
    best = critical_path(GRAPH)
    ours, calls = deploy_in_simulated_time(GRAPH)
    batched, batched_calls = deploy_in_simulated_time(levels(GRAPH))
    _, watched_calls = deploy_in_simulated_time(GRAPH, events=True)
    n = len(GRAPH)
    print(f"{n} stacks, durations {min(s for s, _ in GRAPH.values()):.0f}-"
          f"{max(s for s, _ in GRAPH.values()):.0f} s (simulated time)")  # fmt: skip
    print(f"critical path:            {best:7.0f} s  1.000x")
    print(f"relight (by dependency):  {ours:7.0f} s  {ours / best:.3f}x  "
          f"{calls} API calls, {calls / n:.1f} per stack")  # fmt: skip
    print(f"level by level:           {batched:7.0f} s  {batched / best:.3f}x  "
          f"{batched_calls} API calls, {batched_calls / n:.1f} per stack")  # fmt: skip
    print(f"with the progress view reading each operation's events: {watched_calls} API calls, "
          f"{watched_calls / n:.1f} per stack")  # fmt: skip


if __name__ == "__main__":
    main()
