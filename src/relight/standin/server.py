"""The local stand-in's own process: moto's server on 127.0.0.1 that stops itself when idle.

Started by `relight.standin.ensure_running` as `python -m relight.standin.server`.
It writes its address to the state file once it listens, and removes that
file when it stops (idle timeout, SIGTERM or SIGINT), so a later relight run
finds the same simulated world again, or knows that it is gone.

Besides moto's API it answers `/_relight/faults` (faults.py): the faults tests and drills
inject into its CloudFormation.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--idle-timeout", type=float, default=7200.0, help="seconds")
    parser.add_argument(
        "--enforce-termination-protection",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="refuse DeleteStack of a protected stack, as AWS does (extensions/cloudformation/)",
    )
    args = parser.parse_args(argv)

    # An account without moto's ~1,300 preloaded Amazon AMIs: discovery sees only the story's.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    import moto
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from relight.standin import faults
    from relight.standin.extensions import install
    from relight.standin.extensions.cloudformation import lifecycle as moto_cloudformation

    install()  # relight's additions to moto, before the first request (extensions/__init__.py)
    moto_cloudformation.ENFORCE_TERMINATION_PROTECTION = args.enforce_termination_protection
    app = DomainDispatcherApplication(create_backend_app)
    last_request = [time.monotonic()]

    conditional = threading.Lock()

    def touched(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        last_request[0] = time.monotonic()
        if str(environ.get("PATH_INFO", "")).startswith(faults.PATH):
            return faults.wsgi(environ, start_response)
        # moto checks an S3 write's If-None-Match / If-Match and then writes, not atomically;
        # AWS is atomic, and relight's run lock relies on it: serialize those requests here.
        if environ.get("HTTP_IF_NONE_MATCH") or environ.get("HTTP_IF_MATCH"):
            with conditional:
                return list(app(environ, start_response))
        result: Iterable[bytes] = app(environ, start_response)
        return result

    server = make_server(
        "127.0.0.1", args.port, touched, threaded=True, request_handler=MotoRequestHandler
    )
    port = server.server_address[1]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _write_atomically(
        args.state_file,
        {
            "pid": os.getpid(),
            "port": port,
            "endpoint": f"http://127.0.0.1:{port}",
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "idle_timeout": args.idle_timeout,
            "moto_version": moto.__version__,
        },
    )
    print(f"relight stand-in: moto {moto.__version__} on 127.0.0.1:{port}", flush=True)
    reason = "stopped"
    while not stop.wait(0.25):  # short waits: SIGTERM's handler runs between them
        if time.monotonic() - last_request[0] > args.idle_timeout:
            reason = f"idle for {args.idle_timeout:.0f} s"
            break
    # Said before the listener closes: whoever sees the port closed finds the reason logged.
    print(f"relight stand-in: {reason}; its simulated world is gone", flush=True)
    server.shutdown()
    try:
        if json.loads(args.state_file.read_text())["pid"] == os.getpid():
            args.state_file.unlink()
    except (OSError, ValueError, KeyError):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
