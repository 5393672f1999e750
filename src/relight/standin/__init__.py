"""The local stand-in: moto's server on 127.0.0.1, run in the background and found again.

relight starts it on demand (when the environment file says `stand_in: true`
or `--stand-in` asks for it, never as a fallback) and keeps its address in
`<state dir>/standin.json`, so `make failover`, a later `relight status` and
`aws --endpoint-url` all see the same simulated world. It stops itself after
a long idle time; `relight local stop` stops it at once.

The state directory is `$RELIGHT_STATE_DIR`, or `.relight/` in the current directory.

The package: this module starts, finds and stops the server process; `server` is the
process itself (moto's server with relight's `extensions/` installed and the `faults`
endpoint); `janitor` deletes what a stack made as AWS would; `story/` tells the first
run's production story (build at home, back up, replicate, prepare). It imports the
steps, the AWS layer and the model; never `dr`, `drift` or the commands.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from relight.errors import StandInError
from relight.model.paths import state_dir as state_dir  # where the stand-in keeps its state

DEFAULT_IDLE_TIMEOUT = 2 * 3600.0
START_TIMEOUT = 60.0


@dataclass(frozen=True)
class StandIn:
    pid: int
    port: int
    endpoint: str
    started_at: str
    idle_timeout: float
    moto_version: str
    state_file: Path


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):  # reap it if it is our own exited child
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def find(directory: Path) -> StandIn | None:
    """The running stand-in recorded in `directory`, or None (a stale record is removed)."""
    path = directory / "standin.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        found = StandIn(
            pid=int(data["pid"]),
            port=int(data["port"]),
            endpoint=str(data["endpoint"]),
            started_at=str(data["started_at"]),
            idle_timeout=float(data["idle_timeout"]),
            moto_version=str(data["moto_version"]),
            state_file=path,
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError):
        path.unlink(missing_ok=True)
        return None
    if _alive(found.pid) and _listening(found.port):
        return found
    path.unlink(missing_ok=True)
    return None


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "standin.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def ensure_running(directory: Path, idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> StandIn:
    """Find the stand-in, or start it and wait until it listens."""
    with _locked(directory):
        found = find(directory)
        if found:
            return found
        if importlib.util.find_spec("moto") is None:
            raise StandInError(
                "the local stand-in needs moto, which is not installed",
                hint="pip install 'relight[local]' (make setup does this)",
            )
        log = directory / "standin.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "relight.standin.server",
                    "--state-file",
                    str(directory / "standin.json"),
                    "--idle-timeout",
                    str(idle_timeout),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,  # survives this relight run, and Ctrl-C in it
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = find(directory)
            if found and found.pid == process.pid:
                return found
            if process.poll() is not None:
                break
            time.sleep(0.05)
        tail = log.read_text(errors="replace").splitlines()[-5:]
        if process.poll() is None:
            process.kill()
        raise StandInError(
            "the local stand-in did not start: " + (" | ".join(tail) or "no output"),
            hint=f"see {log}",
        )


def stop(directory: Path, timeout: float = 10.0) -> StandIn | None:
    """Stop the running stand-in (its simulated world is forgotten); None if none ran."""
    found = find(directory)
    if found is None:
        return None
    os.kill(found.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(found.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(found.pid):
        os.kill(found.pid, signal.SIGKILL)
    found.state_file.unlink(missing_ok=True)
    return found
