"""Run one task per node of a dependency graph: each starts the moment its own needs are done.

Not level by level (one slow stack must not hold back unrelated ones) and not a
thread per stack: every task is a generator that does one short step (an API
call) and yields how many seconds it wants to wait before its next step. One
loop drives them all, always resuming the task that is due first, so

- concurrency is the number of tasks alive at once (a bound, default 8);
- nothing sleeps longer than the earliest task needs;
- clock and sleep are passed in, so tests run a whole deployment in fake time,
  deterministically;
- Ctrl-C arrives in one place, between two API calls, and says what was in flight.

`graphlib.TopologicalSorter` does the bookkeeping.
"""

from __future__ import annotations

import graphlib
import heapq
import itertools
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Generic, TypeVar

R = TypeVar("R")
# A task: yields seconds to wait before its next step, returns its result.
Task = Generator[float, None, R]

DEFAULT_CONCURRENCY = 8


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while tasks were in flight: what finished and what was still running."""

    def __init__(self, results: Mapping[str, object], in_flight: Sequence[str]) -> None:
        super().__init__()
        self.results = dict(results)
        self.in_flight = list(in_flight)


class Scheduler(Generic[R]):
    """Drive `start(node)` tasks over `needs` (node → the nodes it needs), in dependency order.

    `blocked(node, failed_needs)` gives the result of a node whose needs did not all succeed
    (it is never started); `ok(result)` says whether a result lets dependents start.
    """

    def __init__(
        self,
        needs: Mapping[str, Sequence[str]],
        start: Callable[[str], Task[R]],
        *,
        ok: Callable[[R], bool],
        blocked: Callable[[str, list[str]], R],
        concurrency: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.needs = {node: list(deps) for node, deps in needs.items()}
        self.start = start
        self.ok = ok
        self.blocked = blocked
        self.concurrency = concurrency
        self.clock = clock
        self.sleep = sleep
        # Ready nodes start in the order `needs` lists them (the plan's), so runs are repeatable.
        self.rank = {node: i for i, node in enumerate(needs)}

    def run(self) -> dict[str, R]:
        sorter = graphlib.TopologicalSorter(self.needs)
        sorter.prepare()
        results: dict[str, R] = {}
        ready: list[str] = []
        # (due time, tie-breaker, node); tasks by node
        due: list[tuple[float, int, str]] = []
        tasks: dict[str, Task[R]] = {}
        tie = itertools.count()

        def finish(node: str, result: R) -> None:
            results[node] = result
            sorter.done(node)

        try:
            while sorter.is_active():
                ready.extend(sorter.get_ready())
                ready.sort(key=self.rank.__getitem__)
                while ready and len(tasks) < self.concurrency:
                    node = ready.pop(0)
                    failed = [d for d in self.needs[node] if not self.ok(results[d])]
                    if failed:
                        finish(node, self.blocked(node, failed))  # its dependents: next round
                        continue
                    tasks[node] = self.start(node)
                    heapq.heappush(due, (self.clock(), next(tie), node))
                if not tasks:
                    continue
                when, _, node = heapq.heappop(due)
                wait = when - self.clock()
                if wait > 0:
                    self.sleep(wait)
                try:
                    delay = next(tasks[node])
                except StopIteration as stop:
                    del tasks[node]
                    finish(node, stop.value)
                    continue
                heapq.heappush(due, (self.clock() + max(0.0, delay), next(tie), node))
        except KeyboardInterrupt:
            for task in tasks.values():
                task.close()
            raise Interrupted(results, sorted(tasks, key=self.rank.__getitem__)) from None
        return results
