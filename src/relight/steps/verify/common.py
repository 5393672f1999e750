"""What every check of the rebuilt environment shares: the results a check can have
(`Check`, and `Reading`, one look at it), the deadline and AWS's batch sizes, `batched` calls,
and `VerifierBase`, the verifier's settings and what it reads of a stack's template and
Parameters."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from relight.aws.clients import Aws
from relight.model.plan import Plan
from relight.model.shapes import parameter_dict
from relight.steps.deploy import Outcome

PASSED, FAILED, NOT_LOCAL, SKIPPED = "passed", "failed", "not simulated locally", "skipped"
# Against an emulator: what it reports cannot be checked from this machine. Neither a pass nor
# a failure, as NOT_LOCAL.
NOT_VERIFIABLE = "not verifiable from here"
PENDING = "pending"  # a reading that may still change; never the result of a returned Check

DEADLINE_SECONDS = 900.0
FIRST_WAIT, LONGEST_WAIT = 5.0, 30.0

# The most ids (names, ARNs) AWS takes in one call.
INSTANCE_IDS_PER_CALL = 100  # DescribeInstances, DescribeInstanceStatus
VOLUME_IDS_PER_CALL = 100  # DescribeVolumes
GROUP_NAMES_PER_CALL = 50  # DescribeAutoScalingGroups
LOAD_BALANCERS_PER_CALL = 20  # DescribeLoadBalancers

_SECURITY_GROUP = "AWS::EC2::SecurityGroup"


@dataclass
class Check:
    check: str
    stack: str | None
    result: str  # passed, failed, not simulated locally, not verifiable from here, skipped
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reading:
    """One look at a check. PENDING readings are looked at again until the deadline."""

    check: str
    result: str  # PASSED, FAILED, NOT_LOCAL, NOT_VERIFIABLE, SKIPPED or PENDING
    detail: str
    waiting: str = ""  # while PENDING: what is still awaited ("2 initializing")
    hint: str = ""  # where to look when it is still pending at the deadline


Probe = Callable[[], list[Reading]]


def verified(checks: list[Check]) -> bool:
    """The environment is verified when nothing failed and something was actually checked."""
    return not any(c.result == FAILED for c in checks) and any(c.result == PASSED for c in checks)


def batched(
    call: Callable[..., Any],
    param: str,
    ids: Sequence[str],
    size: int,
    result: str,
    *,
    token: tuple[str, str] = ("NextToken", "NextToken"),
    **request: Any,
) -> list[Any]:
    """Every `result` item for `ids`, asking for at most `size` of them a call (AWS's limit),
    each batch's pages followed (`token`: the request's and the response's token names)."""
    asked, answered = token
    items: list[Any] = []
    for start in range(0, len(ids), size):
        kwargs = {**request, param: list(ids[start : start + size])}
        while True:
            page = call(**kwargs)
            items.extend(page.get(result, []))
            if not page.get(answered):
                break
            kwargs[asked] = page[answered]
    return items


def _counted(states: Iterable[str]) -> str:
    """ "2 initializing, 1 impaired": how many of each, most first."""
    return ", ".join(f"{n} {state}" for state, n in Counter(states).most_common())


def _constant(*readings: Reading) -> Probe:
    return lambda: list(readings)


class VerifierBase:
    """What the checks of every kind share: the verifier's settings (Verifier.__init__ sets
    them), its AWS clients, and each stack's template and Parameters."""

    aws: Aws
    region: str
    plan: Plan
    outcome: Outcome
    stand_in: bool
    http_get: Callable[[str], int]
    resolves: Callable[[str], bool]

    def client(self, service: str) -> Any:
        return self.aws.client(service, self.region)

    def _template(self, key: str) -> dict[str, Any]:
        sp = self.plan.stacks.get(key) or self.plan.prepared[key]
        template: dict[str, Any] = json.loads(sp.body)
        return template

    def _given(self, key: str) -> dict[str, str]:
        """The stack's Parameters as deployed: what this run gave it, or for a stack prepared
        ahead of time what CloudFormation holds."""
        if key in self.plan.stacks:
            return self.outcome.results[key].parameters
        name = self.plan.prepared[key].name
        return parameter_dict(
            self.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
        )
