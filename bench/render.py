"""Rendering speed: an environment of 1,000 instances, and cfn-lint on the demo.

The 1,000 instances are four compute stacks of 250 fixed instances (one stack
cannot hold 1,000: CloudFormation's limit is 500 resources). Rendering means
loading and validating the environment file and building every template and
its JSON, without cfn-lint. Target: under 3 s on the project's 2-core
machines. The baseline, measured in the same run, is troposphere alone
building the same four templates, so the ratio is relight's own overhead.

Usage: .venv/bin/python bench/render.py [runs]
       .venv/bin/python bench/render.py --quick   (one run of 20 instances: the suite's check
                                                   that this script still works, no figure)
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUICK = "--quick" in sys.argv[1:]
STACKS, PER_STACK = (2, 10) if QUICK else (4, 250)


def environment(directory: Path) -> Path:
    stacks = "\n".join(
        f"""  web{n}:
    blueprint: compute
    params:
      mode: instances
      count: {PER_STACK}
      az_count: 3
      ImageId: {{artifact: web_ami}}
      DataSnapshotId: {{artifact: web_data}}
      SubnetIds: {{output: network.PrivateSubnetIds}}
      SecurityGroupId: sg-0123456789abcdef0
      InstanceProfileArn: {{output: identity.WebInstanceProfileArn}}"""
        for n in range(1, STACKS + 1)
    )
    path = directory / "stacks" / "big.yaml"
    path.parent.mkdir()
    path.write_text(
        f"""name: big
home_region: us-east-1
blueprints_dir: {REPO / "blueprints"}
objectives: {{rpo: 1h, rto: 1h}}
zones: {{count: 3}}
artifacts:
  web_ami: {{kind: ami, tags: {{Role: web}}}}
  web_data: {{kind: ebs_snapshot, tags: {{Role: web-data}}}}
stacks:
  identity:
    blueprint: identity
    stands: global
    params: {{flow_logs: true, instance_roles: {{web: {{managed_policies: []}}}}}}
  network:
    blueprint: network
    params:
      az_count: 3
      AvailabilityZones: {{zones: names}}
      FlowLogRoleArn: {{output: identity.FlowLogRoleArn}}
{stacks}
"""
    )
    return path


def timed(fn, runs: int) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    runs = 1 if QUICK else int(sys.argv[1]) if len(sys.argv) > 1 else 5
    from relight.model.blueprint import load_registry
    from relight.model.config import load_environment
    from relight.steps.lint import LintCache, lint_template
    from relight.steps.render import build_plan

    registry = load_registry(REPO / "blueprints")
    with tempfile.TemporaryDirectory() as tmp:
        path = environment(Path(tmp))

        def relight_render() -> None:
            plan = build_plan(load_environment(str(path), "us-west-2"), "us-west-2")
            assert sum(sp.resource_count for sp in plan.stacks.values()) > STACKS * PER_STACK

        compute = registry["compute"]
        options = compute.options_model(mode="instances", count=PER_STACK, az_count=3)

        def troposphere_only() -> None:
            for _ in range(STACKS):
                json.dumps(compute.build(options).to_dict(), separators=(",", ":"))

        relight_render()  # warm imports and the blueprint registry
        ours = statistics.median(timed(relight_render, runs))
        base = statistics.median(timed(troposphere_only, runs))
    print(
        f"render {STACKS * PER_STACK} instances in {STACKS + 1} stacks (and the identity stack "
        f"they read): median {ours:.3f} s over {runs} runs (target < 3 s)"
    )
    print(f"troposphere alone, same templates: {base:.3f} s; relight's overhead {ours / base:.2f}x")

    demo = build_plan(load_environment("demo", "us-west-2", cwd=REPO), "us-west-2")
    with tempfile.TemporaryDirectory() as empty:  # cfn-lint itself: no cached findings
        cold = LintCache(Path(empty), workers=1)
        start = time.perf_counter()
        findings = sum(
            len(lint_template(sp.body, "us-west-2", cold)) for sp in demo.stacks.values()
        )
        lint = time.perf_counter() - start
    print(
        f"cfn-lint on the demo ({len(demo.stacks)} templates, us-west-2): {lint:.2f} s, "
        f"{findings} findings"
    )


if __name__ == "__main__":
    main()
