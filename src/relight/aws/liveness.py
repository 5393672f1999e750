"""Whether the run a lock names, when it ran on this machine, is known to be gone.

A run killed with SIGKILL, or one whose machine crashed and rebooted, never releases its
lock; its heartbeat stops, and another machine must wait out the lease (lease.py). On the
machine it ran on, the rerun can know at once: the lock records where its run lives
(`Whereabouts`: host name, the machine's persistent id, the boot's id, the pid namespace,
the pid and the process's start time), and here they are compared with this machine's.

The answer is "gone" only when it is certain:

- the same machine (host name and `/etc/machine-id`) booted since (another boot id), and the
  lock has been silent (by S3's clock, lease.py) for longer than this machine has been up
  (`/proc/uptime`): a holder here before the boot cannot have written after it. Cloned VM and
  container images carry the same machine id, and host names repeat, so a boot id alone could
  be a live run on another machine: a lock written since this boot waits for its lease;
- the same host, boot and pid namespace, and no process has that pid (`os.kill(pid, 0)`), or
  only a dead one not yet reaped;
- the same host, boot and pid namespace, and the process with that pid started at another
  time: the pid was reused, so it is not the run.

Anywhere else (another host, a container with its own pid namespace, a system without
`/proc`, a lock written before these were recorded) nothing is known, and the lease decides.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

MACHINE_ID = Path("/etc/machine-id")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
UPTIME = Path("/proc/uptime")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _uptime() -> float | None:
    """Seconds since this machine booted (the first field of /proc/uptime); None without it."""
    try:
        return float(_read(UPTIME).split()[0])
    except (IndexError, ValueError):
        return None


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name, from field 3 (the state) on;
    [] when it cannot be read (no such process, no /proc)."""
    raw = _read(Path(f"/proc/{pid}/stat"))
    _, paren, after = raw.rpartition(")")  # the command name may hold spaces and parentheses
    return after.split() if paren else []


def started(pid: int) -> str:
    """The start time of process `pid` (clock ticks after boot, field 22 of /proc/PID/stat),
    or "" when it cannot be read."""
    fields = _stat(pid)
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Whereabouts:
    """Where a run lives: enough to tell, on its own machine, whether it still runs."""

    host: str
    pid: int
    machine_id: str = ""
    boot_id: str = ""
    pid_namespace: str = ""
    started: str = ""
    uptime: float | None = None  # this machine's, when read here; never recorded in a lock

    @classmethod
    def here(cls) -> Whereabouts:
        """This process."""
        pid = os.getpid()
        return cls(
            host=socket.gethostname(),
            pid=pid,
            machine_id=_read(MACHINE_ID),
            boot_id=_read(BOOT_ID),
            pid_namespace=_pid_namespace(),
            started=started(pid),
            uptime=_uptime(),
        )

    def gone(self, here: Whereabouts | None = None, silence: float | None = None) -> str | None:
        """Why this run is known to be gone, seen from `here` (default: this process); None
        when it may still run or nothing can be known from here. `silence`: seconds since its
        lock was last written, by S3's clock."""
        me = here or Whereabouts.here()
        if self.host != me.host or not self.boot_id or not me.boot_id:
            return None
        if self.boot_id != me.boot_id:
            if not self.machine_id or self.machine_id != me.machine_id:
                return None  # another machine of the same name, or one that cannot say
            if silence is None or me.uptime is None or silence <= me.uptime:
                return None  # written since this boot: a clone of this machine may hold it
            return (
                f"{self.host} has restarted since that run began (its lock silent "
                f"{silence:.0f} s, this machine up {me.uptime:.0f} s)"
            )
        if not self.pid_namespace or self.pid_namespace != me.pid_namespace or self.pid <= 0:
            return None
        if not _exists(self.pid) or _stat(self.pid)[:1] == ["Z"]:  # Z: dead, not yet reaped
            return f"no process {self.pid} runs on {self.host}"
        now = started(self.pid)
        if self.started and now and now != self.started:
            return f"process {self.pid} on {self.host} is another program now (its pid reused)"
        return None


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    except OSError:
        return True  # cannot tell: assume it runs
    return True
