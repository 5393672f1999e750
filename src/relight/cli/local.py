"""`relight local status|start|stop`: the local stand-in (moto on 127.0.0.1)."""

from __future__ import annotations

from .common import _console, _errors, _print_json
from .options import DebugOpt, JsonOpt


def local_status(json_out: JsonOpt = False) -> None:
    """Show whether the stand-in is running, and where."""
    from relight import standin

    found = standin.find(standin.state_dir())
    if json_out:
        _print_json(found.__dict__ if found else None)
    elif found:
        _console().print(
            f"stand-in running: {found.endpoint} (pid {found.pid}, moto {found.moto_version}, "
            f"since {found.started_at}, stops after {found.idle_timeout / 3600:.1f} h idle)\n"
            f"look at it with: aws --endpoint-url {found.endpoint} ec2 describe-instances"
        )
    else:
        _console().print("stand-in not running (it starts when an environment needs it)")


def local_start(debug: DebugOpt = False) -> None:
    """Start the stand-in now (relight also starts it on demand)."""
    with _errors(debug):
        from relight import standin

        found = standin.ensure_running(standin.state_dir())
        _console().print(f"stand-in running: {found.endpoint} (pid {found.pid})")


def local_stop() -> None:
    """Stop the stand-in; its simulated world is forgotten."""
    from relight import standin

    stopped = standin.stop(standin.state_dir())
    _console().print(
        f"stand-in stopped (was {stopped.endpoint})" if stopped else "stand-in was not running"
    )
