"""CloudFormation with domain names: a stack's state, its events, waiting, change sets, deletes.

What a stack's state means (complete, left failed, whose it is, what a deploy does with it) is
in stack_states.py, re-exported here. Every call to CloudFormation goes through `Stacks`, which
counts calls, turns botocore errors into relight's (AwsError, Throttled), and knows how to wait:

- poll with a backoff that starts at a tenth of a second and grows to 10 s, so a
  stack that finishes fast is seen fast and a slow one costs few calls;
- read only the events of the current operation (newest first, stopping at the
  last event seen before it began: no clock comparison between machines);
- a call throttled even after botocore's own retries (standard mode) does not
  fail the stack: the poll waits longer and asks again, up to the timeout;
- every wait has a timeout (a stack that never finishes, the stand-in's hang fault
  included, ends there);
- with a `budget` (aws/budget.py: an estate's, per account and region), a stack's create,
  update or delete holds one of its stack-operation slots until the stack leaves
  *_IN_PROGRESS (`holding`); a stack that finds them all taken waits its turn and says so.

The waits are generators (see model/scheduler.py): they yield seconds to wait and
return the final state, so one loop can watch many stacks. `run` drives one
of them alone.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from relight.aws.budget import TokenBudget
from relight.aws.failures import aws_failure
from relight.aws.stack_states import (
    COMPLETE,
    LEFTOVER,
    NO_CHANGES,
    RETRYABLE,
    SERVES_TAG,
    STACKSET_PREFIXES,
    STACKSET_TAG,
    classify,
    in_progress,
    no_changes,
    outputs_of,
    owned_by,
    serves,
)
from relight.errors import AwsError, DeployError, InputError
from relight.model.plan import MAX_INLINE_BODY
from relight.model.scheduler import Task
from relight.model.shapes import tag_dict

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
THROTTLING = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
}
__all__ = [
    "COMPLETE",
    "LEFTOVER",
    "NO_CHANGES",
    "RETRYABLE",
    "SERVES_TAG",
    "STACKSET_PREFIXES",
    "STACKSET_TAG",
    "classify",
    "in_progress",
    "no_changes",
    "outputs_of",
    "owned_by",
    "serves",
]

T = TypeVar("T")
Event = Callable[[str, str, str], None]  # (stack name, status, message)


def quiet(stack: str, status: str, message: str) -> None:
    pass


class Throttled(AwsError):
    """CloudFormation still refused after botocore's retries: wait longer and ask again."""


# The codes of an identity whose policy lacks the action (CloudFormation's query API answers
# AccessDenied; moto's server too, for every service).
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})


class AccessRefused(AwsError):
    """A stack operation the credentials may not make: `aws_failure` says which action and
    what to grant (its hint), which the stack's failure carries to the summary."""


def failure_reason(exc: AwsError | DeployError) -> str:
    """A stack's failure as its summary shows it: for an access refusal (itself, or what a
    DeployError was raised from), with what to grant."""
    refused = exc if isinstance(exc, AccessRefused) else exc.__cause__
    hint = refused.hint if isinstance(refused, AccessRefused) else None
    return f"{exc.message}; {hint}" if hint else exc.message


class TimedOut(DeployError):
    pass


def backoff(first: float = 0.1, factor: float = 1.5, ceiling: float = 10.0) -> Iterator[float]:
    delay = first
    while True:
        yield delay
        delay = min(ceiling, delay * factor)


class Stacks:
    """One region's CloudFormation. Clock, sleep and the client are passed in (tests fake them)."""

    def __init__(
        self,
        cfn: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 1800.0,
        on_event: Event = quiet,
        events: bool = False,
        template_url: Callable[[str], str] | None = None,
        budget: TokenBudget | None = None,
    ) -> None:
        self.cfn = cfn
        self.budget = budget
        self.clock = clock
        self.sleep = sleep
        self.timeout = timeout
        self.on_event = on_event
        # Read each operation's resource events as it goes (for the progress view): one more
        # call per poll, so off when nobody watches (--json).
        self.events = events
        # Uploads a body too large to pass inline and returns its URL (see bucket.py).
        self.template_url = template_url
        self.calls = 0
        self.throttled = 0
        self._stackset_stacks: list[dict[str, Any]] | None = None  # listed once, when asked

    # single calls ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """botocore's errors as relight's: Throttled, or AwsError naming the call."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        try:
            yield
        except ResponseParserError as exc:  # an endpoint that answered with something broken
            raise aws_failure(exc, what, self.cfn) from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", ""), error.get("Message", "")
            if code in THROTTLING:
                self.throttled += 1
                raise Throttled(f"{what}: {code}: {message}") from exc
            if code in ACCESS_DENIED:
                failure = aws_failure(exc, what, self.cfn)
                raise AccessRefused(failure.message, hint=failure.hint) from exc
            raise AwsError(f"{what}: {code}: {message}") from exc
        except BotoCoreError as exc:
            raise AwsError(f"{what}: {exc}") from exc

    def call(
        self, what: str, fn: Callable[..., Any], *, missing_ok: bool = False, **kwargs: Any
    ) -> Any:
        """One API call; AwsError (or Throttled) when it fails. With `missing_ok`, a stack
        that does not exist is None instead (for reads and deletes, where that is an answer)."""
        from botocore.exceptions import ClientError

        self.calls += 1
        try:
            with self._translated(what):
                return fn(**kwargs)
        except AwsError as exc:
            cause = exc.__cause__
            if (
                missing_ok
                and isinstance(cause, ClientError)
                and cause.response.get("Error", {}).get("Code") == "ValidationError"
                and "does not exist" in cause.response["Error"].get("Message", "")
            ):
                return None
            raise

    def patiently(self, attempt: Callable[[], T]) -> Task[T]:
        """Run `attempt`, waiting out throttling (with backoff, up to the timeout)."""
        started = self.clock()
        delays = backoff(first=1.0)
        while True:
            try:
                return attempt()
            except Throttled as exc:
                if self.clock() - started >= self.timeout:
                    raise TimedOut(
                        f"{exc.message} (throttled for {self.timeout:.0f} s)",
                        hint="CloudFormation is refusing calls: lower --concurrency, or rerun",
                    ) from exc
                yield next(delays)

    def send(
        self, what: str, fn: Callable[..., Any], *, missing_ok: bool = False, **kwargs: Any
    ) -> Task[Any]:
        """One call, retried while throttled."""
        return (
            yield from self.patiently(lambda: self.call(what, fn, missing_ok=missing_ok, **kwargs))
        )

    def state(self, name: str) -> dict[str, Any] | None:
        """The stack as DescribeStacks shows it, or None if there is no such stack."""
        found = self.call(
            f"describe stack {name}", self.cfn.describe_stacks, missing_ok=True, StackName=name
        )
        if not found or not found.get("Stacks"):
            return None
        stack: dict[str, Any] = found["Stacks"][0]
        return None if stack["StackStatus"] == "DELETE_COMPLETE" else stack

    def prepared_state(self, name: str) -> dict[str, Any] | None:
        """The stack `name` as `state` finds it or, when there is none of that name, the one a
        StackSet made for it in this account and region (its StackName is the StackSet's)."""
        return self.state(name) or self.made_by_stackset(name)

    def made_by_stackset(self, name: str) -> dict[str, Any] | None:
        """The stack a StackSet made for relight's stack `name`, or None. The region's stacks are
        listed once per Stacks (DescribeStacks, which carries the tags) and only when asked."""
        if self._stackset_stacks is None:
            self._stackset_stacks = [
                s for s in self.list_stacks() if s["StackName"].startswith(STACKSET_PREFIXES)
            ]
        found = [s for s in self._stackset_stacks if serves(s, name)]
        if len(found) > 1:  # an instance left over (docs/estates.md): never a guess
            named = ", ".join(
                f"{s['StackName']} ({tag_dict(s.get('Tags')).get(STACKSET_TAG)})" for s in found
            )
            raise InputError(
                f"stacks of several StackSets serve relight's stack {name}: {named}",
                hint='delete the stack instance no longer wanted (docs/estates.md, "Retiring a '
                'stack instance"), then rerun',
            )
        return found[0] if found else None

    def list_stacks(self) -> list[dict[str, Any]]:
        """Every live stack in the region (one paginated listing, begun again while
        CloudFormation throttles it, with backoff up to the timeout)."""

        def listing() -> list[dict[str, Any]]:
            stacks: list[dict[str, Any]] = []
            paginator = self.cfn.get_paginator("describe_stacks")
            with self._translated("list stacks"):
                for page in paginator.paginate():
                    self.calls += 1
                    live = (s for s in page["Stacks"] if s["StackStatus"] != "DELETE_COMPLETE")
                    stacks.extend(live)
            return stacks

        found: list[dict[str, Any]] = self.run(self.patiently(listing))
        return found

    def completed_resources(self, name: str) -> set[str]:
        """Logical ids of the stack's resources that exist (status *_COMPLETE), every page."""
        done: set[str] = set()
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StackName": name, **({"NextToken": token} if token else {})}
            page = self.call(f"list resources of {name}", self.cfn.list_stack_resources, **kwargs)
            done |= {
                r["LogicalResourceId"]
                for r in page.get("StackResourceSummaries", [])
                if r.get("ResourceStatus", "").endswith("_COMPLETE")
                and not r["ResourceStatus"].startswith("DELETE")
            }
            token = page.get("NextToken")
            if not token:
                return done

    def newest_event(self, name: str) -> str | None:
        """The id of the stack's newest event: the mark before an operation starts."""
        page = self.call(
            f"describe events of {name}",
            self.cfn.describe_stack_events,
            missing_ok=True,
            StackName=name,
        )
        events = (page or {}).get("StackEvents", [])
        return events[0]["EventId"] if events else None

    def events_since(
        self, name: str, mark: str | None, seen: set[str] | None = None
    ) -> list[dict[str, Any]]:
        """Events after `mark` (and not in `seen`), oldest first; stops at the first old one."""
        seen = seen if seen is not None else set()
        fresh: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StackName": name}
            if token:
                kwargs["NextToken"] = token
            page = self.call(f"describe events of {name}", self.cfn.describe_stack_events, **kwargs)
            if page is None:
                break
            for event in page.get("StackEvents", []):  # newest first
                if event["EventId"] == mark or event["EventId"] in seen:
                    token = None
                    break
                fresh.append(event)
            else:
                token = page.get("NextToken")
            if not token:
                break
        seen.update(e["EventId"] for e in fresh)
        return fresh[::-1]

    def first_failure(self, name: str, mark: str | None) -> str:
        """The first failed resource of the operation after `mark`, with CloudFormation's reason."""
        return self.failure(name, mark)[0]

    def failure(self, name: str, mark: str | None) -> tuple[str, list[str]]:
        """The first failed resource of the operation after `mark` with CloudFormation's reason,
        and the resources the operation completed (kept when rollback is disabled)."""
        try:
            events = self.events_since(name, mark)
        except AwsError as exc:  # the failure stands; only its explanation is missing
            return f"no failure reason readable ({exc.message})", []
        reason = "no failure reason recorded"
        for event in events:
            if event["ResourceStatus"].endswith("_FAILED") and event.get("ResourceStatusReason"):
                reason = f"{event['LogicalResourceId']}: {event['ResourceStatusReason']}"
                break
        done = {
            e["LogicalResourceId"]
            for e in events
            if e["ResourceStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
            and e["LogicalResourceId"] != name
        }
        return reason, sorted(done)

    def template_argument(self, name: str, body: str) -> dict[str, Any]:
        """TemplateBody inline, or TemplateURL for a body over CloudFormation's inline limit."""
        if len(body.encode()) <= MAX_INLINE_BODY:
            return {"TemplateBody": body}
        if self.template_url is None:
            raise DeployError(
                f"stack {name}: the template is over {MAX_INLINE_BODY:,} bytes "
                "and no S3 bucket was given to upload it to"
            )
        return {"TemplateURL": self.template_url(body)}

    # waits (generators) -------------------------------------------------------------------------

    def holding(self, name: str, operation: Task[T]) -> Task[T]:
        """Run a stack operation (`operation`: its call and its wait) holding one of the budget's
        stack-operation slots; without a budget, just run it. While every slot is taken the stack
        waits (yielding, so the other stacks of the run go on) and its progress line says so."""
        budget = self.budget
        if budget is None:
            return (yield from operation)
        delays = backoff(first=0.2, ceiling=1.0)  # a local check, no API call: cheap
        said, ticket = False, object()
        try:
            while not budget.try_acquire(name, ticket):
                if not said:
                    self.on_event(name, "WAITING_FOR_SLOT", budget.busy())
                    said = True
                yield next(delays)
        except BaseException:  # stopped while in line (Ctrl-C closes the task): leave the line
            budget.give_up(ticket)
            raise
        try:
            return (yield from operation)
        finally:  # also when the run stops (Ctrl-C closes the task) or the operation fails
            budget.release(name)

    def watch(
        self, name: str, started: float, mark: str | None, *, report: bool = True
    ) -> Task[dict[str, Any] | None]:
        """Poll until the stack leaves *_IN_PROGRESS; None: it is gone. TimedOut at the timeout.

        With `report` (and `events` on), each new resource event of the operation after `mark`
        goes to on_event as it appears.
        """
        delays = backoff()
        seen: set[str] = set()
        while True:
            yield next(delays)
            try:
                stack = self.state(name)
                if report and self.events and stack is not None:
                    for event in self.events_since(name, mark, seen):
                        self._report(name, event)
            except Throttled:
                next(delays)  # back off harder while CloudFormation is refusing us
                stack = {"StackStatus": "THROTTLED_IN_PROGRESS"}
            if not in_progress(stack) or stack["StackStatus"] == "REVIEW_IN_PROGRESS":  # type: ignore[index]
                return stack
            waited = self.clock() - started
            if waited >= self.timeout:
                raise TimedOut(
                    f"stack {name}: still {stack['StackStatus']} after {waited:.0f} s "  # type: ignore[index]
                    f"(timeout {self.timeout:.0f} s)",
                    hint="look at its events in the CloudFormation console; rerun to continue",
                )

    def _report(self, name: str, event: dict[str, Any]) -> None:
        logical = event.get("LogicalResourceId", "")
        if logical == name:  # the stack's own events: the caller reports those
            return
        reason = event.get("ResourceStatusReason") or ""
        self.on_event(name, f"{logical} {event['ResourceStatus']}", reason)

    def change_set(self, arn: str) -> Task[dict[str, Any]]:
        """Wait until a change set is computed; its description with every change (all pages)."""
        delays = backoff()
        started = self.clock()
        while True:
            yield next(delays)
            try:
                found = self.call(
                    "describe change set", self.cfn.describe_change_set, ChangeSetName=arn
                )
            except Throttled:
                found = {"Status": "THROTTLED"}
            if found["Status"] in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE"):
                changes = list(found.get("Changes", []))
                token = found.get("NextToken")
                while token:
                    page = yield from self.send(
                        "describe change set",
                        self.cfn.describe_change_set,
                        ChangeSetName=arn,
                        NextToken=token,
                    )
                    changes += page.get("Changes", [])
                    token = page.get("NextToken")
                return {**found, "Changes": changes}
            if self.clock() - started >= self.timeout:
                raise TimedOut(f"change set {arn}: still {found['Status']}")

    def discard_change_set(self, arn: str) -> None:
        """Best effort: a change set left behind costs nothing and blocks nothing."""
        with contextlib.suppress(AwsError):
            self.call("delete change set", self.cfn.delete_change_set, ChangeSetName=arn)

    def delete(self, name: str, *, force: bool = False, role_arn: str | None = None) -> Task[None]:
        """Delete a stack and wait until it is gone; DeployError when the delete failed.
        `role_arn`: the CloudFormation service role the delete runs with (RoleARN). Holds a
        stack-operation slot of the budget while it runs (`holding`)."""
        yield from self.holding(name, self._delete(name, force=force, role_arn=role_arn))

    def _delete(self, name: str, *, force: bool, role_arn: str | None) -> Task[None]:
        started = self.clock()
        mark = yield from self.patiently(lambda: self.newest_event(name))
        if force:
            yield from self.send(
                f"lift termination protection of {name}",
                self.cfn.update_termination_protection,
                StackName=name,
                EnableTerminationProtection=False,
            )
            self.on_event(name, "PROTECTION_LIFTED", "termination protection lifted (--force)")
        yield from self.send(
            f"delete stack {name}",
            self.cfn.delete_stack,
            missing_ok=True,
            StackName=name,
            **({"RoleARN": role_arn} if role_arn else {}),
        )
        self.on_event(name, "DELETE_IN_PROGRESS", "")
        final = yield from self.watch(name, started, mark)
        if final is not None:
            raise DeployError(
                f"stack {name}: {final['StackStatus']}: {self.first_failure(name, mark)}",
                hint="remove what blocks the delete (see the reason), then rerun",
            )

    def run(self, task: Task[Any]) -> Any:
        """Drive one wait on its own (outside the scheduler)."""
        while True:
            try:
                delay = next(task)
            except StopIteration as stop:
                return stop.value
            self.sleep(delay)
