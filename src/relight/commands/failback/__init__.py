"""`relight failback --env E --from R`: bring the environment home once its home region is back.

The phases, each recorded when done (relight/failback/<env>.json in relight's bucket in R),
so a rerun goes on from the first one not done and never redoes one whose result is in use:

    stop      (graceful only) writes stop in R: a maintenance page on its load balancers (503,
              but Route 53's health check still answered: traffic stays in R, not on home's
              old stack)
    snapshot  (a) fresh snapshots of what R has been writing, copied home (steps/failback.py)
    home      (b) the home region's stacks brought to the file with that data, through change
              sets (failover's own path, purpose home); a data holder brought home is
              replaced, its old self leaving a final snapshot (UpdateReplacePolicy Snapshot)
    verify    (c) home verified as a failover is
    release   (d) the failback latch released (FailedOver=0 in R): Route 53 moves traffic home
              once the PRIMARY's endpoint is healthy; R's serving marker removed
    return    (e) R back to its rung (as prepare leaves it), or torn down with --teardown

What is lost: in the ungraceful mode, the writes R takes between (a)'s snapshot and (d) (and
until Route 53 has moved traffic: phase (e) waits for it). They
stay in R's databases (and in the final snapshots a teardown leaves). The graceful mode
stops writes first, so nothing is lost, at the cost of an outage from `stop` until Route 53
sends traffic home.

Each phase holds the run lock of the region it changes: R's for stop, snapshot, release and
return; the home region's for home and verify (failover's own).

The package: `planning` (what a failback would do, phase by phase: `plan_failback`, changing
nothing) and `running` (`failback`, the phases run in order and recorded).
"""

from __future__ import annotations

from relight.commands.failback.planning import (
    PHASES,
    FailbackPlan,
    FailbackResult,
    Phase,
    check_failback,
    home_plan,
    plan_failback,
)
from relight.commands.failback.running import failback

__all__ = [
    "PHASES",
    "FailbackPlan",
    "FailbackResult",
    "Phase",
    "check_failback",
    "failback",
    "home_plan",
    "plan_failback",
]
