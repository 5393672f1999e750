"""`relight estate failover`: each environment's failover, as `relight failover` runs it.

`failover_work` is the `Work` (estate/run.py) that fails one environment over: its plan (built
before anything runs, so a plan that cannot be built refuses the whole run, exit 2, nothing
changed), then `commands.failover.failover` on its connection (through its account's role,
with the estate's budget for that account and region), confirmed already: the estate command
asks once for the whole estate. Its lint (cfn-lint) runs before its first change, as in a
single-environment failover. Its progress lines go out prefixed with its name.

`serving_in` reads whether an environment is failed over and verified in the region already
(the serving marker a verified failover leaves, aws/serving.py): what `--only` needs of the
environments it leaves out.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from relight.aws.serving import SERVING, read_serving
from relight.commands.failover import FailoverResult, failover
from relight.errors import InputError, RelightError
from relight.estate.run import default_connect
from relight.model.scheduler import DEFAULT_CONCURRENCY
from relight.steps.render import build_plan, lint_plan
from relight.steps.verify import DEADLINE_SECONDS

if TYPE_CHECKING:
    from relight.aws.budget import Budgets
    from relight.commands.connection import Connection
    from relight.estate.run import Connect, Work
    from relight.model.estate import LoadedEstate
    from relight.model.plan import Plan


def check_recovery_region(estate: LoadedEstate, region: str, names: Collection[str]) -> None:
    """Refuse (exit 2) a region that is an environment's home: its failover there would build
    its stacks beside its production."""
    home = [n for n in estate.order() if n in names and estate.envs[n].env.home_region == region]
    if home:
        raise InputError(
            f"--region {region} is the home region of {', '.join(home)} "
            f"({', '.join(str(estate.envs[n].path) for n in home)}): a failover there would "
            "build their stacks beside production; nothing was run",
            hint="pick a recovery region every environment of the estate can fail over into",
        )


def build_plans(
    estate: LoadedEstate,
    region: str,
    names: Collection[str],
    *,
    strategy: str | None = None,
    data: str | None = None,
) -> dict[str, Plan]:
    """Every environment's failover plan, before anything runs: the problems of all of them
    at once (exit 2, nothing changed)."""
    plans: dict[str, Plan] = {}
    problems: list[str] = []
    for name in estate.order():
        if name not in names:
            continue
        try:
            plans[name] = build_plan(
                estate.envs[name], region, stand_in=estate.file.stand_in, strategy=strategy,
                data=data,
            )  # fmt: skip
        except RelightError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        raise InputError(
            "the failover plan of "
            + ("an environment" if len(problems) == 1 else f"{len(problems)} environments")
            + " cannot be built; nothing was run:\n  "
            + "\n  ".join(problems)
        )
    return plans


class Lints:
    """Every plan's cfn-lint, started at once in a daemon thread (in the estate's order, each
    plan's templates linted in parallel worker processes): it runs while the operator answers
    and the first environments fail over, so a later environment's lint is done, or nearly,
    by the time it starts. `result(plan)` waits for that plan's and raises its error, if any
    (daemon: a Ctrl-C is never held up by it)."""

    def __init__(
        self, plans: dict[str, Plan], lint: Callable[[Plan], object] | None = None
    ) -> None:
        self._plans = plans
        self._lint = lint or (lambda plan: lint_plan(plan))
        self._done = {name: threading.Event() for name in plans}
        self._errors: dict[str, BaseException] = {}
        threading.Thread(target=self._run, name="relight-estate-lint", daemon=True).start()

    def _run(self) -> None:
        for name, plan in self._plans.items():
            try:
                self._lint(plan)
            except BaseException as exc:  # handed to the environment's run
                self._errors[name] = exc
            finally:
                self._done[name].set()

    def result(self, plan: Plan) -> None:
        name = next(n for n, p in self._plans.items() if p is plan)
        self._done[name].wait()
        if name in self._errors:
            raise self._errors[name]


def failover_work(
    plans: dict[str, Plan],
    *,
    on_progress: Callable[[str], None] = lambda line: None,
    accept_stale: bool = False,
    stack_timeout: float | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    verify_deadline: float = DEADLINE_SECONDS,
    lint: Callable[[Plan], object] = lint_plan,
) -> Work:
    """The Work that fails environment `name` over with its plan (already confirmed)."""

    def work(name: str, conn: Connection) -> tuple[bool, str, Any]:
        plan = plans[name]

        def say(line: str) -> None:
            on_progress(f"[{name}] {line}")

        def event(stack: str, status: str, message: str) -> None:
            say(f"{stack}: {status}" + (f" ({message})" if message else ""))

        result = failover(
            plan,
            conn,
            accept_stale=accept_stale,
            stack_timeout=stack_timeout,
            concurrency=concurrency,
            confirm=None,  # the estate asked once for every environment
            on_event=event,
            on_progress=say,
            verify_deadline=verify_deadline,
            before_change=lambda: lint(plan),
        )
        return result.ok, summary_line(result), result

    return work


def summary_line(result: FailoverResult) -> str:
    """One line: what the failover did to its stacks and what verification found, or the
    first thing that failed."""
    results = result.outcome.results.values()
    actions = Counter(r.action for r in results)
    made = ", ".join(f"{count} {action}" for action, count in sorted(actions.items()))
    checks = Counter(c.result for c in result.checks)
    if result.ok:
        passed = checks["passed"]
        return f"{len(results)} stacks ({made}); {passed} check{'' if passed == 1 else 's'} passed"
    failed = [r for r in results if r.action == "failed"]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return f"stack {first.name} failed: {first.reason}{more}"
    check = next((c for c in result.checks if c.result == "failed"), None)
    if check is None:
        return f"not done: {len(results)} stacks ({made})"
    return f"verification failed: {check.check}" + (f": {check.detail}" if check.detail else "")


def serving_in(
    estate: LoadedEstate,
    region: str,
    *,
    budgets: Budgets | None = None,
    connect: Connect | None = None,
) -> Callable[[str], bool]:
    """`verified(name)` for run_estate's `--only`: the environment's failover into `region`
    was verified (its serving marker says serving). An unreadable marker counts as not."""
    if connect is None:
        connect = default_connect()

    def verified(name: str) -> bool:
        try:
            conn = connect(estate, name, region, command="failover", budgets=budgets)
            marker = read_serving(
                conn.aws.client("s3", region), conn.account_id, region, estate.envs[name].env.name
            )
        except RelightError:
            return False
        return marker is not None and marker.state == SERVING

    return verified
