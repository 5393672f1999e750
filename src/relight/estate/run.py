"""Run one command over an estate's environments: each starts the moment its predecessors are
verified, several at once, and a failure stops exactly what comes after it.

Not wave by wave: a wave-2 environment whose own predecessors are done starts while another
wave-2 environment still waits for a slower wave-1 one. Each running environment has a thread
of its own (the single-environment commands block: they deploy their own stacks, many at
once, in their own scheduler, model/scheduler.py); this thread only starts them, collects
what they return and decides what may start next. What they share is the estate's budget per
account and region (aws/budget.py), handed to each environment's connection.

- an environment whose work returns not ok, or raises a RelightError, is "failed"; every
  environment that comes after it, transitively, is "stopped" (never started) and says after
  which failed environment; everything else goes on;
- each environment's own command takes that environment's run lock, as when it runs alone, so
  a second estate run (or a single-environment run) of the same environment refuses at once;
- `only` runs just those environments; each one's predecessors must be verified already
  (`verified`) or also run: otherwise the run is refused before anything starts (exit 2);
- Ctrl-C: the running environments get it as if it were pressed in their own run (their
  deploys stop between two API calls; what finished is kept), then the run says which were
  running and the command that continues (`EstateInterrupted`).
"""

from __future__ import annotations

import ctypes
import shlex
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from relight.aws.budget import Budgets
from relight.errors import InputError, RelightError

if TYPE_CHECKING:
    from relight.commands.connection import Connection
    from relight.model.estate import LoadedEstate

State = Literal["verified", "failed", "stopped", "not run"]
# An environment's work: its name and connection → (ok, the one line saying what happened,
# the command's own result: a FailoverResult, a DrillResult, ...).
Work = Callable[[str, "Connection"], tuple[bool, str, Any]]
# How an environment is reached (relight.estate.accounts.connect_env's signature).
Connect = Callable[..., "Connection"]


@dataclass
class EnvOutcome:
    name: str
    state: State
    wave: int
    account: str  # the account key
    started: datetime | None
    ended: datetime | None
    seconds: float | None
    line: str  # what happened, or why it did not run: "after shared, which failed"
    error: str | None = None
    stopped_by: str | None = None  # the failed environment that stopped it
    result: Any = None  # the environment command's own result

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state": self.state,
            "wave": self.wave,
            "account": self.account,
            "started": self.started.isoformat() if self.started else None,
            "ended": self.ended.isoformat() if self.ended else None,
            "seconds": None if self.seconds is None else round(self.seconds, 1),
            "line": self.line,
            "error": self.error,
            "stopped_by": self.stopped_by,
        }


@dataclass
class EstateRun:
    estate: str
    region: str
    command: str
    outcomes: dict[str, EnvOutcome]  # in estate.order()
    started: datetime
    ended: datetime
    peaks: dict[tuple[str, str], int]  # (account id, region) → stack operations in flight at most
    # What the run was asked to run (None: every environment), and the options to repeat.
    only: list[str] | None = None
    options: list[str] = field(default_factory=list)
    loaded: LoadedEstate | None = field(default=None, repr=False, compare=False)
    interrupted: list[str] = field(default_factory=list)  # running when Ctrl-C came
    ref: str | None = None  # what --estate was given (a name or a path), for the continue command

    def ran(self) -> list[str]:
        """The environments this run was asked to run, in order."""
        return [n for n in self.outcomes if self.only is None or n in self.only]

    def ok(self) -> bool:
        """Every environment it was asked to run is verified."""
        return all(self.outcomes[n].state == "verified" for n in self.ran())

    def unfinished(self) -> list[str]:
        """What is left to run: the asked environments not verified, in order."""
        return [n for n in self.ran() if self.outcomes[n].state != "verified"]

    def critical_path(self) -> tuple[float, list[str]]:
        """The longest chain of measured seconds through predecessors (what set the estate's
        time); environments that did not run count 0."""
        seconds = {n: o.seconds or 0.0 for n, o in self.outcomes.items()}
        if self.loaded is not None:
            return self.loaded.critical_path(seconds)
        best = max(seconds.items(), key=lambda item: (item[1], item[0]), default=("", 0.0))
        return (best[1], [best[0]] if best[0] else [])

    def continue_command(self) -> str | None:
        """The command that continues: the same one, `--only` what failed, stopped or did not
        run; None when there is nothing left."""
        left = self.unfinished()
        if not left:
            return None
        words = ["relight", "estate", self.command, "--estate", self.ref or self.estate]
        words += ["--region", self.region, "--only", ",".join(left), *self.options]
        return shlex.join(words)

    def as_dict(self) -> dict[str, Any]:
        seconds, path = self.critical_path()
        return {
            "estate": self.estate,
            "region": self.region,
            "command": self.command,
            "ok": self.ok(),
            "started": self.started.isoformat(),
            "ended": self.ended.isoformat(),
            "seconds": round((self.ended - self.started).total_seconds(), 1),
            "environments": [o.as_dict() for o in self.outcomes.values()],
            "critical_path": {"seconds": round(seconds, 1), "environments": path},
            "peak_stack_operations": [
                {"account_id": account, "region": region, "peak": peak}
                for (account, region), peak in self.peaks.items()
            ],
            "interrupted": self.interrupted,
            "continue": self.continue_command(),
        }


class EstateInterrupted(KeyboardInterrupt):
    """Ctrl-C during an estate run: what each environment came to, and which were running."""

    def __init__(self, run: EstateRun) -> None:
        super().__init__()
        self.run = run


def default_connect() -> Connect:
    """relight.estate.accounts.connect_env, looked up when a run starts (tests replace it)."""
    from relight.estate.accounts import connect_env

    return connect_env


def stopped_line(failed: str) -> str:
    return f"after {failed}, which failed"


def check_only(
    estate: LoadedEstate,
    only: Collection[str],
    verified: Callable[[str], bool] | None,
    command: str,
) -> None:
    """Refuse (exit 2, before anything runs) an `only` naming unknown environments, or one
    whose predecessor is neither in it nor verified already."""
    known = set(estate.order())
    unknown = sorted(set(only) - known)
    if unknown:
        raise InputError(
            f"--only {','.join(unknown)}: not an environment of estate {estate.file.name} "
            f"({estate.path}); nothing was run",
            hint=f"its environments: {', '.join(estate.order())}",
        )
    missing: dict[str, list[str]] = {}
    for name in estate.order():
        if name not in only:
            continue
        for before in sorted(estate.predecessors(name) - set(only)):
            if verified is None or not verified(before):
                missing.setdefault(before, []).append(name)
    if missing:
        said = "; ".join(
            f"{before} (before {', '.join(after)})" for before, after in missing.items()
        )
        wanted = [n for n in estate.order() if n in only or n in missing]
        raise InputError(
            f"--only {','.join(n for n in estate.order() if n in only)}: what comes first is "
            f"not verified in this region: {said}; nothing was run",
            hint=f"add it to --only (--only {','.join(wanted)}), or {command} it first",
        )


def run_estate(
    estate: LoadedEstate,
    region: str,
    work: Work,
    *,
    command: str,
    only: Collection[str] | None = None,
    budgets: Budgets | None = None,
    connect: Connect | None = None,
    on_progress: Callable[[str], None] = lambda line: None,
    max_parallel: int | None = None,
    verified: Callable[[str], bool] | None = None,
    options: list[str] | None = None,
    ref: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> EstateRun:
    """Run `work` for every environment (or `only` those), each in a thread of its own as soon
    as its predecessors are verified. `connect` reaches an environment (default: through its
    account's role, `relight.estate.accounts.connect_env`), with `budgets` (default: one made
    from the estate's). `verified(name)`: whether an environment outside `only` is verified
    already in the region. `options`: what the continue command repeats, after `--estate ref`
    (default: the estate's name). EstateInterrupted on
    Ctrl-C, once the running environments stopped."""
    if connect is None:
        connect = default_connect()
    if only is not None:
        check_only(estate, only, verified, command)
    runner = _Runner(estate, region, work, command, only, budgets or Budgets(estate), connect)
    runner.on_progress, runner.clock, runner.now = on_progress, clock, now
    runner.run.options, runner.run.ref = list(options or []), ref
    return runner.go(max_parallel)


class _Runner:
    """One estate run's bookkeeping: what is pending, running and done (this thread's alone)."""

    def __init__(
        self,
        estate: LoadedEstate,
        region: str,
        work: Work,
        command: str,
        only: Collection[str] | None,
        budgets: Budgets,
        connect: Connect,
    ) -> None:
        self.estate, self.region, self.work, self.command = estate, region, work, command
        self.budgets, self.connect = budgets, connect
        self.on_progress: Callable[[str], None] = lambda line: None
        self.clock: Callable[[], float] = time.monotonic
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.order = estate.order()
        self.chosen = [n for n in self.order if only is None or n in only]
        self.outcomes = {name: self._outcome(name) for name in self.order}
        started = datetime.now(UTC)
        self.run = EstateRun(
            estate.file.name, region, command, self.outcomes, started, started, {},
            only=None if only is None else self.chosen, loaded=estate,
        )  # fmt: skip
        self.pending = list(self.chosen)
        # outside `only`: verified already (check_only made sure)
        self.done_ok = {n for n in self.order if n not in self.chosen}
        self.running: dict[Future[tuple[bool, str, Any]], str] = {}
        self.threads: dict[str, int] = {}  # running environment → its thread (for Ctrl-C)
        self.marks: dict[str, float] = {}
        self.guard = threading.Lock()

    def _outcome(self, name: str) -> EnvOutcome:
        why = "not started" if name in self.chosen else "not in --only (verified already)"
        account = self.estate.file.environments[name].account
        return EnvOutcome(
            name, "not run", self.estate.wave_of(name), account, None, None, None, why
        )

    def say(self, name: str) -> Callable[[str], None]:
        return lambda line: self.on_progress(f"[{name}] {line}")

    def go(self, max_parallel: int | None) -> EstateRun:
        self.run.started = self.now()
        workers = max(1, min(max_parallel or len(self.chosen), len(self.chosen) or 1))
        try:
            while self.pending or self.running:
                for name in list(self.pending):
                    if len(self.running) >= workers:
                        break
                    if self.estate.predecessors(name) <= self.done_ok:
                        self.pending.remove(name)
                        self.start(name)
                if not self.running:  # nothing runs and nothing can start: only the stopped
                    break
                # a bounded wait, again and again: a Ctrl-C is seen within a second
                done, _ = wait(list(self.running), timeout=0.5, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=lambda f: self.order.index(self.running[f])):
                    self.finish(self.running.pop(future), future)
        except KeyboardInterrupt:
            self.interrupted()
            raise EstateInterrupted(self.close()) from None
        return self.close()

    def one(self, name: str, future: Future[tuple[bool, str, Any]]) -> None:
        """In the environment's own thread: connect, then its work, into `future`."""
        with self.guard:
            self.threads[name] = threading.get_ident()
        try:
            conn = self.connect(
                self.estate, name, self.region, command=self.command, budgets=self.budgets,
                say=self.say(name),
            )  # fmt: skip
            future.set_result(self.work(name, conn))
        except BaseException as exc:  # its Ctrl-C included: the runner's thread reads it
            if not future.done():
                future.set_exception(exc)
        finally:
            with self.guard:
                self.threads.pop(name, None)

    def start(self, name: str) -> None:
        outcome = self.outcomes[name]
        outcome.started, self.marks[name] = self.now(), self.clock()
        outcome.line = "running"
        self.say(name)(f"started (wave {outcome.wave + 1}, account {outcome.account})")
        future: Future[tuple[bool, str, Any]] = Future()
        self.running[future] = name  # before its thread starts: a Ctrl-C always finds it
        thread = threading.Thread(
            target=self.one, args=(name, future), name=f"relight-estate-{name}", daemon=True
        )
        thread.start()

    def finish(self, name: str, future: Future[tuple[bool, str, Any]]) -> None:
        outcome = self.outcomes[name]
        outcome.ended, outcome.seconds = self.now(), self.clock() - self.marks[name]
        try:
            ok, line, outcome.result = future.result()
        except RelightError as exc:
            ok, line = False, exc.message
            outcome.error = exc.message + (f" ({exc.hint})" if exc.hint else "")
        except Exception as exc:  # a bug in one environment's run must not strand the others
            ok, line = False, f"unexpected error: {exc!r}"
        outcome.line = line
        if ok:
            outcome.state = "verified"
            self.done_ok.add(name)
            self.say(name)(f"verified in {outcome.seconds:.0f} s: {line}")
            return
        outcome.state, outcome.error = "failed", outcome.error or line
        self.say(name)(f"FAILED after {outcome.seconds:.0f} s: {line}")
        after = self.estate.dependents(name)
        for stopped in [n for n in self.pending if n in after]:
            self.pending.remove(stopped)
            which = self.outcomes[stopped]
            which.state, which.stopped_by, which.line = "stopped", name, stopped_line(name)
            self.say(stopped)(f"stopped: {which.line}")

    def interrupted(self) -> None:
        """Ctrl-C: the running environments get it too; wait for them to stop."""
        with self.guard:
            for ident in self.threads.values():  # as if pressed in their own run
                _interrupt(ident)
        for future, name in list(self.running.items()):
            outcome = self.outcomes[name]
            stopped = future.exception()  # waits for it
            if not isinstance(stopped, KeyboardInterrupt):  # it ended before the Ctrl-C got
                self.finish(name, future)  # to it: what it came to stands
                continue
            outcome.error = str(stopped) or "interrupted"  # what its own run said
            outcome.state, outcome.ended = "stopped", self.now()
            outcome.seconds = self.clock() - self.marks[name]
            outcome.line = "interrupted (Ctrl-C) while running: its finished stacks are kept"
            self.run.interrupted.append(name)
        self.run.interrupted.sort(key=self.order.index)
        for name in self.pending:
            self.outcomes[name].line = "not started: the run was interrupted"

    def close(self) -> EstateRun:
        self.run.ended = self.now()
        self.run.peaks = self.budgets.peaks()
        return self.run


def _interrupt(ident: int) -> None:
    """Raise KeyboardInterrupt in the thread `ident` at its next Python instruction: what a
    Ctrl-C does to a single-environment run (its deploy stops between two API calls)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(ident), ctypes.py_object(KeyboardInterrupt)
    )


def seconds_of(outcomes: Mapping[str, EnvOutcome]) -> dict[str, float]:
    """Each environment's measured seconds (0 for those that did not run)."""
    return {name: o.seconds or 0.0 for name, o in outcomes.items()}
