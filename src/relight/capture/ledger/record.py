"""Recording what capture reads, without touching the modules that read it: every client the
factory hands out gets two handlers on its botocore event emitter (`before-parameter-build`
keeps the call's parameters, `after-call` the parsed response of a successful call), taken
off again when the recording closes (relight's clients are cached and shared)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from relight.capture.common import Client

_PARAMS = "relight_ledger_params"
_ids = itertools.count()


@dataclass(frozen=True)
class Call:
    """One successful AWS call: its service, operation (as AWS names it), parameters and
    parsed response; `origin` is `capture` or `sweep`."""

    service: str
    operation: str
    params: dict[str, Any]
    response: dict[str, Any]
    origin: str = "capture"


@dataclass
class Recorder:
    """Wraps a client factory: `recorder.client` is the factory to read through."""

    factory: Client
    origin: str = "capture"
    calls: list[Call] = field(default_factory=list)
    _hooked: dict[int, Any] = field(default_factory=dict)
    _unique: str = field(default_factory=lambda: f"relight-ledger-{next(_ids)}")

    def client(self, service: str) -> Any:
        made = self.factory(service)
        events = getattr(getattr(made, "meta", None), "events", None)
        if events is not None and id(made) not in self._hooked:
            self._hooked[id(made)] = made
            events.register("before-parameter-build", self._params, unique_id=self._unique + "p")
            events.register("after-call", self._after(service), unique_id=self._unique + "a")
        return made

    def close(self) -> None:
        for made in self._hooked.values():
            made.meta.events.unregister("before-parameter-build", unique_id=self._unique + "p")
            made.meta.events.unregister("after-call", unique_id=self._unique + "a")
        self._hooked.clear()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _params(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS] = dict(params)

    def _after(self, service: str) -> Any:
        def record(
            http_response: Any, parsed: dict[str, Any], model: Any, context: Any, **_: Any
        ) -> None:
            status = getattr(http_response, "status_code", 200)
            if status >= 300 or "Error" in parsed:
                return
            params = (context or {}).get(_PARAMS, {})
            self.calls.append(Call(service, model.name, params, parsed, self.origin))

        return record
