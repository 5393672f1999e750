"""Fault injection on the local stand-in: a resource that fails or hangs, an API that throttles.

For tests and drills only, never on AWS. The stand-in server keeps a set of faults per source
(a test, an environment file) and its CloudFormation (extensions/cloudformation/) consults them:

- a resource fault makes the create, update or delete of a chosen resource (logical id, glob)
  of a chosen stack (name, glob) fail with a message, as CloudFormation reports a resource that
  failed (a `*_FAILED` event with the message as its ResourceStatusReason, then the stack's
  failure semantics), or hang: stay `*_IN_PROGRESS` until the fault is cleared or its `seconds`
  have passed, then go on;
- a throttle refuses the next `count` calls of an API action (`*`: every action of the service)
  as AWS does under load (`Throttling: Rate exceeded`), before the action runs;
- a replica fault makes a read replica (or an Aurora secondary cluster) lag by `lag` seconds,
  or stop replicating (`mode: stopped`), in what CloudWatch and DescribeDBInstances report
  of it (extensions/replica_lag.py);
- a slow stack makes every create, update or delete of the matching stacks stay
  `*_IN_PROGRESS` for `seconds` before its first resource is touched: AWS's provisioning wait,
  which moto lacks (it makes a stack within the request). bench/estate.py uses it to model
  AWS, where an estate waits on CloudFormation instead of on relight's own CPU.

Set them with an HTTP request to the stand-in (`PUT /_relight/faults/<source>` with the JSON of
`Faults`; `GET` lists them and what fired; `DELETE` clears a source, or all), with the helpers
below (`set_faults`, `clear_faults`, `read_faults`), or in the environment file:

    stand_in_faults:
      resources:
        - {stack: demo-web, resource: AutoScalingGroup, mode: fail, message: "no capacity"}
      throttle:
        - {action: DescribeStacks, count: 20}
      replicas:
        - {db: "*", lag: 600}        # every replica ten minutes behind its source
        # - {db: "*", mode: stopped}  # or none replicating at all
      slow:
        - {stack: "demo-*", seconds: 30, region: us-west-2}  # each operation takes 30 s

relight sends the file's faults to the stand-in as the source `environment:<name>` each time it
connects (replacing what that source had, so removing them from the file clears them); on AWS
they are ignored, with a note, so a drill's switch left in a file never stops a real failover.
"""

from __future__ import annotations

import fnmatch
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError

from relight.errors import StandInError
from relight.model.faults import Faults, ReplicaFault, ResourceFault

PATH = "/_relight/faults"


# the stand-in server's side -------------------------------------------------------------------


class Registry:
    """The faults the server holds, per source, and what fired (for tests to read)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sources: dict[str, Faults] = {}
        self._left: dict[tuple[str, int], int] = {}  # (source, throttle index) → calls left
        self.hits: list[dict[str, Any]] = []

    def replace(self, source: str, faults: Faults) -> None:
        with self._lock:
            self._sources[source] = faults
            self._left = {k: v for k, v in self._left.items() if k[0] != source}
            for i, throttle in enumerate(faults.throttle):
                self._left[(source, i)] = throttle.count

    def clear(self, source: str | None = None) -> None:
        with self._lock:
            if source is None:
                self._sources.clear()
                self._left.clear()
                self.hits.clear()
            else:
                self._sources.pop(source, None)
                self._left = {k: v for k, v in self._left.items() if k[0] != source}

    def resource_fault(
        self, region: str, stack: str, logical_id: str, action: str
    ) -> ResourceFault | None:
        """The first fault that applies to this resource action, or None (no side effect)."""
        with self._lock:
            for faults in self._sources.values():
                for fault in faults.resources:
                    if fault.matches(region, stack, logical_id, action):
                        return fault
        return None

    def replica_fault(self, region: str, identifier: str) -> ReplicaFault | None:
        """The first replica fault for this DB instance or cluster, or None."""
        with self._lock:
            for faults in self._sources.values():
                for fault in faults.replicas:
                    if fault.matches(region, identifier):
                        return fault
        return None

    def slow_for(self, region: str, stack: str, action: str) -> float | None:
        """How long this stack operation stays in progress before it starts, or None."""
        with self._lock:
            for faults in self._sources.values():
                for slow in faults.slow:
                    if slow.matches(region, stack, action):
                        return slow.seconds
        return None

    def throttled(self, service: str, action: str, region: str) -> bool:
        """Whether this call is refused: uses up one of a matching throttle's calls."""
        with self._lock:
            for source, faults in self._sources.items():
                for i, t in enumerate(faults.throttle):
                    left = self._left.get((source, i), 0)
                    if (
                        left > 0
                        and t.service == service
                        and (t.action == "*" or t.action == action)
                        and fnmatch.fnmatchcase(region, t.region)
                    ):
                        self._left[(source, i)] = left - 1
                        self._hit(kind="throttle", service=service, action=action, region=region)
                        return True
        return False

    def record(self, **what: Any) -> None:
        with self._lock:
            self._hit(**what)

    def _hit(self, **what: Any) -> None:
        self.hits.append({**what, "at": self._clock()})

    def view(self) -> dict[str, Any]:
        with self._lock:
            return {
                "sources": {
                    source: {
                        **faults.model_dump(),
                        "throttle_left": [
                            self._left.get((source, i), 0) for i in range(len(faults.throttle))
                        ],
                    }
                    for source, faults in self._sources.items()
                },
                "hits": list(self.hits),
            }


REGISTRY = Registry()


def handle(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """The stand-in's fault endpoint: GET lists, PUT <source> replaces, DELETE [<source>] clears."""
    rest = path[len(PATH) :].strip("/")
    source = urllib.parse.unquote(rest) if rest else None
    if method == "GET":
        return 200, REGISTRY.view()
    if method == "DELETE":
        REGISTRY.clear(source)
        return 200, REGISTRY.view()
    if method in ("PUT", "POST") and source:
        try:
            faults = Faults.model_validate(json.loads(body or b"{}"))
        except (ValueError, ValidationError) as exc:
            return 400, {"error": str(exc)}
        REGISTRY.replace(source, faults)
        return 200, REGISTRY.view()
    return 400, {"error": f"{method} {path}: use GET {PATH}, PUT {PATH}/<source>, DELETE"}


def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """`handle` as a WSGI application (server.py routes `PATH` here, before moto)."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    status, answer = handle(environ.get("REQUEST_METHOD", "GET"), environ["PATH_INFO"], body)
    data = json.dumps(answer, default=str).encode()
    reason = "OK" if status == 200 else "Bad Request"
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
    )
    return [data]


# relight's and the tests' side ----------------------------------------------------------------


def _request(endpoint: str, method: str, source: str | None, body: Any = None) -> dict[str, Any]:
    url = endpoint.rstrip("/") + PATH
    if source:
        url += "/" + urllib.parse.quote(source, safe="")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            found: dict[str, Any] = json.loads(answer.read())
            return found
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise StandInError(f"the stand-in refused the faults ({exc.code}): {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise StandInError(
            f"the stand-in at {endpoint} did not take the faults: {exc}",
            hint="is it running? relight local status",
        ) from exc


def set_faults(endpoint: str, faults: Faults | dict[str, Any], *, source: str = "test") -> None:
    """Replace what `source` asks of the stand-in at `endpoint` (the other sources' stay)."""
    checked = faults if isinstance(faults, Faults) else Faults.model_validate(faults)
    _request(endpoint, "PUT", source, checked.model_dump())


def clear_faults(endpoint: str, source: str | None = None) -> None:
    """Clear `source`'s faults, or every fault and the record of what fired (None)."""
    _request(endpoint, "DELETE", source)


def read_faults(endpoint: str) -> dict[str, Any]:
    """The faults per source (with the throttled calls left) and what fired, oldest first."""
    return _request(endpoint, "GET", None)


def environment_source(env_name: str) -> str:
    return f"environment:{env_name}"


def send_environment_faults(
    env_name: str, faults: Faults | None, endpoint: str | None, say: Callable[[str], None]
) -> None:
    """What `connect` does with an environment file's `stand_in_faults`: on the stand-in
    (`endpoint`), replace that file's faults there (none: clear them); on AWS (None), ignore
    them and say so."""
    if endpoint is None:
        if faults and faults.any():
            say(
                "stand_in_faults ignored: relight acts on AWS, and faults are only ever "
                "injected into the local stand-in"
            )
        return
    source = environment_source(env_name)
    if faults and faults.any():
        set_faults(endpoint, faults, source=source)
        say(f"stand-in faults from the environment file: {faults.describe()}")
    else:
        clear_faults(endpoint, source)
