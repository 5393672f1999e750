"""The estate's shared budget (aws/budget.py): the request token bucket, the stack-operation
slots, the deploy holding a slot per stack operation, and throttling that slows, never fails.

Everything runs in fake time (FakeClock) or with a frozen clock: no wall-clock assertions."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from hypothesis import given, settings
from hypothesis import strategies as st

from fakes import FakeClock
from relight.aws.accounts import as_role
from relight.aws.budget import Budgets, TokenBudget
from relight.aws.clients import Aws, AwsTarget
from relight.aws.outage import Outage
from relight.model.scheduler import Interrupted
from relight.steps.deploy import deploy
from test_deploy import _fake, _inputs, _plan, _stacks


@dataclass(frozen=True)
class Settings:
    requests_per_second: float = 5.0
    burst: int = 10
    stack_operations: int = 10


def test_the_burst_goes_at_once_then_requests_go_at_the_rate() -> None:
    clock = FakeClock()
    budget = TokenBudget(Settings(requests_per_second=5, burst=10), clock, clock.sleep)
    waits = [budget.take() for _ in range(10)]
    assert waits == [0.0] * 10, "a full bucket: the burst goes without waiting"
    assert clock.now == 0.0
    for _ in range(20):
        budget.take()
    assert clock.now == pytest.approx(20 / 5), "then one request per 1/rate seconds"
    assert budget.requests == 30 and budget.waited_seconds == pytest.approx(4.0)


def test_an_idle_bucket_refills_up_to_the_burst_and_no_further() -> None:
    clock = FakeClock()
    budget = TokenBudget(Settings(requests_per_second=2, burst=4), clock, clock.sleep)
    for _ in range(4):
        budget.take()
    clock.now += 1.0  # two tokens back
    assert [budget.take() for _ in range(3)] == pytest.approx([0.0, 0.0, 0.5])
    clock.now += 3600.0  # an hour idle: still only `burst` tokens
    assert sum(budget.take() > 0 for _ in range(5)) == 1


def test_threads_share_the_bucket_fairly_in_the_order_they_asked() -> None:
    """Four environments' threads asking in rounds on a frozen clock: every token is handed out
    once, in the order asked (each asker reserves the next free moment under the lock, so one
    that comes later never jumps a thread already waiting), and every thread's k-th request
    gets a moment of round k: none is starved by the others' bursts."""
    budget = TokenBudget(Settings(requests_per_second=10, burst=5), lambda: 0.0, lambda _: None)
    waits: dict[int, list[float]] = {n: [] for n in range(4)}
    rounds = threading.Barrier(4)

    def asker(n: int) -> None:
        for _ in range(25):
            rounds.wait()
            waits[n].append(budget.take())

    threads = [threading.Thread(target=asker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = sorted(w for ws in waits.values() for w in ws)
    assert every == pytest.approx([max(0, k - 4) / 10 for k in range(100)]), "one queue"
    for ws in waits.values():
        assert ws == sorted(ws)
        for k, wait in enumerate(ws):
            assert max(0, 4 * k - 4) / 10 <= wait + 1e-9 <= max(0, 4 * k - 1) / 10 + 1e-9


@settings(max_examples=25, deadline=None)
@given(
    slots=st.integers(min_value=1, max_value=4),
    holds=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=24),
)
def test_stack_operation_slots_are_never_exceeded_under_many_threads(
    slots: int, holds: list[int]
) -> None:
    budget = TokenBudget(Settings(stack_operations=slots), time.monotonic, time.sleep)
    seen = {"now": 0, "most": 0}
    count = threading.Lock()

    def operation(n: int, spins: int) -> None:
        blocking = n % 2 == 0
        if not blocking:
            while not budget.try_acquire(f"s{n}"):
                time.sleep(0)
        else:
            budget.acquire(f"s{n}")
        try:
            with count:
                seen["now"] += 1
                seen["most"] = max(seen["most"], seen["now"])
            for _ in range(spins):
                time.sleep(0)
            with count:
                seen["now"] -= 1
        finally:
            budget.release(f"s{n}")

    threads = [threading.Thread(target=operation, args=(n, h)) for n, h in enumerate(holds)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["most"] <= slots
    assert budget.peak_operations <= slots
    assert budget.in_flight == 0 and budget.holders() == []


def test_the_blocking_operation_waits_for_a_free_slot() -> None:
    budget = TokenBudget(Settings(stack_operations=1), time.monotonic, time.sleep)
    order: list[str] = []
    inside = threading.Event()
    leave = threading.Event()

    def first() -> None:
        with budget.operation("shop-network"):
            order.append("network in")
            inside.set()
            leave.wait(10)
            order.append("network out")

    def second() -> None:
        inside.wait(10)
        with budget.operation("shop-web"):
            order.append("web in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    inside.wait(10)
    assert budget.holders() == ["shop-network"]
    leave.set()
    for thread in threads:
        thread.join()
    assert order == ["network in", "network out", "web in"]
    assert budget.peak_operations == 1 and budget.slot_waits >= 0


def test_a_slot_released_that_was_never_held_is_a_bug_not_a_silent_miscount() -> None:
    budget = TokenBudget(Settings(), time.monotonic, time.sleep)
    with pytest.raises(RuntimeError, match="holds no stack-operation slot"):
        budget.release("shop-web")


def test_a_budget_with_no_room_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBudget(Settings(stack_operations=0))


# the budget on Aws ------------------------------------------------------------------------------

THROTTLED = (
    b'<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><Error>'
    b"<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
    b"<RequestId>1</RequestId></ErrorResponse>"
)
LISTED = (
    b'<ListStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
    b"<ListStacksResult><StackSummaries/></ListStacksResult>"
    b"<ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></ListStacksResponse>"
)


def _answering(answers: list[tuple[int, bytes]], sent: list[str]) -> Any:
    """A `before-send` hook that answers in place of CloudFormation, at the HTTP level: so
    botocore's retry handler sees each answer as it would AWS's."""

    def answer(request: Any, **_: Any) -> AWSResponse:
        status, body = answers.pop(0) if len(answers) > 1 else answers[0]
        sent.append(request.url)
        return AWSResponse(request.url, status, {}, _Raw(body))

    return answer


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body

    def read(self, *_: Any) -> bytes:
        return self.body


def _aws(budget: TokenBudget) -> Aws:
    target = AwsTarget(endpoint_url="http://relight.invalid", stand_in=True, max_attempts=5)
    return Aws(target, budget=budget)


def test_every_request_takes_a_token_and_throttling_is_retried_slower_never_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CloudFormation answers `Throttling` "Rate exceeded" twice: botocore's standard retry
    mode retries after a backoff, each retry takes a token of the budget too, and the call
    succeeds."""
    clock = FakeClock()
    budget = TokenBudget(Settings(requests_per_second=1, burst=1), clock, clock.sleep)
    backoffs: list[float] = []
    monkeypatch.setattr("botocore.endpoint.time.sleep", backoffs.append)
    aws = _aws(budget)
    cfn = aws.client("cloudformation", "us-west-2")
    sent: list[str] = []
    throttled_twice = [(400, THROTTLED), (400, THROTTLED), (200, LISTED)]
    cfn.meta.events.register("before-send", _answering(throttled_twice, sent))
    answer = cfn.list_stacks()
    assert answer["StackSummaries"] == []
    assert len(sent) == 3, "two throttled attempts and the one that went through"
    assert budget.requests == 3, "the retries took tokens too"
    assert clock.now == pytest.approx(2.0), "with one token a second, the retries waited"
    assert len(backoffs) == 2, "botocore backed off before each retry"
    assert aws.retries == 2


def test_as_role_and_an_outage_rehearsal_keep_the_budget() -> None:
    budget = TokenBudget(Settings(), time.monotonic, time.sleep)
    aws = _aws(budget)
    assert as_role(aws, "arn:aws:iam::210987654321:role/relight-estate", "us-west-2").budget is (
        budget
    )
    assert aws.under_outage(Outage("us-east-1")).budget is budget


def test_budgets_are_one_per_account_and_region_with_the_estates_figures() -> None:
    @dataclass
    class Access:
        id: str

    class Estate:
        file = SimpleNamespace(
            accounts={"platform": Access("123456789012"), "shop": Access("210987654321")}
        )

        def budget_for(self, account_key: str, region: str) -> Settings:
            return Settings(stack_operations=2 if account_key == "shop" else 8)

    budgets = Budgets(Estate())
    shop = budgets.for_("210987654321", "us-west-2")
    assert budgets.for_("210987654321", "us-west-2") is shop
    assert budgets.for_("210987654321", "eu-west-1") is not shop
    assert shop.slots == 2 and budgets.for_("123456789012", "us-west-2").slots == 8
    assert "shop (210987654321) in us-west-2" in shop.busy()
    with budgets.for_("123456789012", "us-west-2").operation("shared-network"):
        pass
    assert budgets.peaks()[("123456789012", "us-west-2")] == 1
    with pytest.raises(KeyError, match="not one of the estate's accounts"):
        budgets.for_("999999999999", "us-west-2")


# the deploy holds a slot per stack operation ---------------------------------------------------


def test_each_stack_operation_holds_a_slot_and_a_stack_that_finds_none_says_it_waits(
    write_env: Any,
) -> None:
    cfn, clock = _fake(duration=5.0)
    budget = TokenBudget(Settings(stack_operations=1), clock, clock.sleep, where="account shop")
    said: list[tuple[str, str, str]] = []
    stacks = _stacks(cfn, clock, budget=budget, on_event=lambda *e: said.append(e))
    outcome = deploy(stacks, _plan(write_env), _inputs(), run_id="r1")
    assert outcome.ok, outcome.failed()
    assert budget.peak_operations == 1, "web and batch were ready together: one waited"
    waiting = [e for e in said if e[1] == "WAITING_FOR_SLOT"]
    assert waiting, said
    stack, _, line = waiting[0]
    assert stack in {"shop-web", "shop-batch"}
    assert line == (
        "waiting for a stack operation slot: 1 in flight in account shop "
        "(the estate's budget: stack_operations)"
    )
    assert budget.in_flight == 0, "every slot was given back"


def test_two_deploys_sharing_a_budget_never_run_more_operations_than_it_allows(
    write_env: Any,
) -> None:
    budget = TokenBudget(Settings(stack_operations=2), time.monotonic, time.sleep)
    plan = _plan(write_env)
    outcomes: list[Any] = []

    def one() -> None:
        cfn, clock = _fake(duration=3.0)
        stacks = _stacks(cfn, clock, budget=budget)
        outcomes.append(deploy(stacks, plan, _inputs(), run_id="r1", concurrency=8))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [o.ok for o in outcomes] == [True, True, True]
    assert 1 <= budget.peak_operations <= 2
    assert budget.in_flight == 0


def test_a_failed_or_interrupted_stack_gives_its_slot_back(write_env: Any) -> None:
    cfn, clock = _fake({"shop-security": "fail"}, duration=2.0)
    budget = TokenBudget(Settings(stack_operations=1), clock, clock.sleep)
    outcome = deploy(_stacks(cfn, clock, budget=budget), _plan(write_env), _inputs(), run_id="r")
    assert outcome.results["security"].action == "failed"
    assert budget.in_flight == 0

    cfn, clock = _fake(duration=5.0)
    budget = TokenBudget(Settings(stack_operations=1), clock, clock.sleep)

    def interrupt_at_8_s(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.now > 8:
            raise KeyboardInterrupt

    stacks = _stacks(cfn, clock, budget=budget)
    stacks.sleep = interrupt_at_8_s
    with pytest.raises(Interrupted):
        deploy(stacks, _plan(write_env), _inputs(), run_id="r")
    assert budget.in_flight == 0, "Ctrl-C closed the stack's task, which gave its slot back"


def test_slots_go_first_come_first_served_and_a_waiter_that_stops_leaves_the_line() -> None:
    budget = TokenBudget(Settings(stack_operations=1), time.monotonic, time.sleep)
    first, second, third = object(), object(), object()
    assert budget.try_acquire("shared-network", first)
    assert not budget.try_acquire("demo-network", second), "every slot taken: in line"
    assert not budget.try_acquire("shop-network", third)
    budget.release("shared-network")
    assert not budget.try_acquire("shop-network", third), "demo-network asked first"
    assert budget.try_acquire("demo-network", second)
    budget.release("demo-network")
    late = object()
    assert not budget.try_acquire("late-network", late), "shop-network is still in line"
    budget.give_up(third)  # shop's deploy stopped while it waited
    assert budget.try_acquire("late-network", late)
    assert budget.slot_waits == 3
