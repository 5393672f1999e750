"""One shared budget of API requests and stack operations per account and region.

An estate fails over many environments at once, often several in one account and region, and
AWS's limits are the account's, per region, not the environment's: CloudFormation throttles the
account's calls ("Rate exceeded"), and its quotas (DescribeAccountLimits: concurrent resources,
stacks, stack outputs; docs/aws-behaviours.md T2) count every stack of the account. AWS sets no
limit on stack operations in flight as such: `stack_operations` is relight's own, a bound it
keeps so that an estate's operations (and the resources they provision) stay under those quotas
and leave room for the account's other users. So every environment relight runs in one account
and region draws on one `TokenBudget`:

- a token bucket of requests (`requests_per_second` refill, `burst` at most, every service):
  each HTTP request a client of that `Aws` sends takes a token first (botocore's
  `before-send`, so botocore's own retries take one too). A request that finds the bucket empty
  waits for its turn: the tokens are handed out in the order they were asked for (each asker
  reserves the next free moment under the lock, then sleeps outside it), so no thread starves;
- `stack_operations` slots: a stack's create, update (change set or retry) or delete holds one
  from the call that starts it until the stack leaves *_IN_PROGRESS (steps/deploy.py,
  aws/cloudformation.py `Stacks.delete`). The deploy drives its stacks as generators in one
  thread, so it asks for a slot without blocking (`try_acquire`) and waits its turn by yielding,
  saying so in the stack's progress line; `operation` is the blocking form for a thread. Slots
  go first come, first served: a stack that waits is not overtaken by one that asks later.

Throttling that still happens (another tool in the account, a quota lower than the budget)
slows a run, never fails it: botocore's standard retry mode retries `Throttling` with backoff,
and `Stacks` waits and asks again after that (aws/cloudformation.py).

Clock and sleep are passed in: tests run the bucket in fake time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol


class BudgetSettings(Protocol):
    """What a budget is made from (relight.model.estate.Budget)."""

    @property
    def requests_per_second(self) -> float: ...
    @property
    def burst(self) -> int: ...
    @property
    def stack_operations(self) -> int: ...


class TokenBudget:
    """The request tokens and stack-operation slots of one account in one region; thread-safe."""

    def __init__(
        self,
        budget: BudgetSettings,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        where: str = "",
    ) -> None:
        if budget.requests_per_second <= 0 or budget.burst < 1 or budget.stack_operations < 1:
            raise ValueError(f"a budget needs positive figures, not {budget!r}")
        self.settings = budget
        self.rate = float(budget.requests_per_second)
        self.burst = int(budget.burst)
        self.slots = int(budget.stack_operations)
        self.clock = clock
        self.sleep = sleep
        self.where = where  # "account 123456789012 in us-west-2", for the progress lines
        self._lock = threading.Lock()
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._free = threading.Condition(threading.Lock())
        self._holding: dict[str, int] = {}  # what holds a slot → how many it holds
        self._line: list[object] = []  # the tickets waiting for a slot, first come first
        self.in_flight = 0
        self.peak_operations = 0
        self.waited_seconds = 0.0
        self.requests = 0
        self.slot_waits = 0  # how many times a stack operation found every slot taken

    # request tokens ----------------------------------------------------------------------------

    def reserve(self) -> float:
        """Take the next token; the seconds until it is the caller's (0: at once). The caller
        waits that long before sending (`take` does)."""
        with self._lock:
            now = self.clock()
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self.rate
            self.requests += 1
            self.waited_seconds += wait
            return wait

    def take(self) -> float:
        """Block until a request token is free; the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self.sleep(wait)
        return wait

    # stack operations --------------------------------------------------------------------------

    def try_acquire(self, what: str, ticket: object | None = None) -> bool:
        """Take a stack-operation slot for `what` if one is free for it, at once; whether it
        was. Slots go in the order they were first asked for: a `ticket` (any object, the same
        for every try of one operation; default `what`) that found none free waits in line, and
        a later one does not jump it. An operation that stops waiting gives its ticket up
        (`give_up`)."""
        ticket = what if ticket is None else ticket
        with self._free:
            if self._grant(ticket):
                self._hold(what)
                return True
            return False

    def give_up(self, ticket: object) -> None:
        """`ticket` no longer waits for a slot (its operation stopped): the next one may go."""
        with self._free:
            if ticket in self._line:
                self._line.remove(ticket)
                self._free.notify_all()

    def acquire(self, what: str) -> None:
        """Take a slot for `what`, waiting in line until one is free for it."""
        ticket = object()
        with self._free:
            while not self._grant(ticket):
                self._free.wait()
            self._hold(what)

    def _grant(self, ticket: object) -> bool:
        """Under the lock: whether `ticket` may take a slot now (a free one, and no ticket
        ahead of it in line for it); it joins the line when not."""
        free = self.slots - self.in_flight
        if ticket in self._line:
            if self._line.index(ticket) < free:
                self._line.remove(ticket)
                return True
            return False
        if free > len(self._line):
            return True
        self._line.append(ticket)
        self.slot_waits += 1
        return False

    def release(self, what: str) -> None:
        with self._free:
            held = self._holding.get(what, 0)
            if held <= 0:
                raise RuntimeError(f"{what} holds no stack-operation slot")
            if held == 1:
                del self._holding[what]
            else:
                self._holding[what] = held - 1
            self.in_flight -= 1
            self._free.notify_all()

    def _hold(self, what: str) -> None:
        self._holding[what] = self._holding.get(what, 0) + 1
        self.in_flight += 1
        self.peak_operations = max(self.peak_operations, self.in_flight)

    @contextmanager
    def operation(self, what: str) -> Iterator[None]:
        """Hold one of the `stack_operations` slots while the block runs (blocking)."""
        self.acquire(what)
        try:
            yield
        finally:
            self.release(what)

    def holders(self) -> list[str]:
        """What holds a slot now (the stacks whose operation is in flight), sorted."""
        with self._free:
            return sorted(self._holding)

    def busy(self) -> str:
        """Why a stack waits for a slot: the progress line it shows."""
        where = f" in {self.where}" if self.where else ""
        return (
            f"waiting for a stack operation slot: {self.slots} in flight{where} "
            "(the estate's budget: stack_operations)"
        )

    # botocore ----------------------------------------------------------------------------------

    def before_send(self, **_: Any) -> None:
        """botocore's `before-send` hook: every request (retries included) takes a token."""
        self.take()


class _Estate(Protocol):
    """What `Budgets` reads of an estate (relight.model.estate.LoadedEstate)."""

    @property
    def file(self) -> Any: ...
    def budget_for(self, account_key: str, region: str) -> Any: ...


class Budgets:
    """The estate's budgets: one `TokenBudget` per (account id, region), made when first asked."""

    def __init__(
        self,
        estate: _Estate,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        accounts: Mapping[str, Any] = estate.file.accounts
        self._keys = {str(access.id): key for key, access in accounts.items()}
        self._estate = estate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._made: dict[tuple[str, str], TokenBudget] = {}

    def for_(self, account_id: str, region: str) -> TokenBudget:
        with self._lock:
            key = (account_id, region)
            if key not in self._made:
                account = self._keys.get(account_id)
                if account is None:
                    raise KeyError(f"account {account_id} is not one of the estate's accounts")
                self._made[key] = TokenBudget(
                    self._estate.budget_for(account, region),
                    self._clock,
                    self._sleep,
                    where=f"account {account} ({account_id}) in {region}",
                )
            return self._made[key]

    def all(self) -> dict[tuple[str, str], TokenBudget]:
        with self._lock:
            return dict(self._made)

    def peaks(self) -> dict[tuple[str, str], int]:
        """(account id, region) → the most stack operations that were in flight at once."""
        return {key: budget.peak_operations for key, budget in sorted(self.all().items())}
