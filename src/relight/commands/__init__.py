"""The commands layer: one module per command family, each composing the layers below.

`connection` is what every command shares (connecting, the run id, the lock's name,
the commands a message names); `failover` holds failover, launch, prepare and plan's
changes, with the failback latch; `discover`, `replicate`, `teardown` and `status`
(with unlock) their commands; `drill` runs a fire drill and `drill_report` builds its
report; `readiness` evaluates whether a failover would work now; `summary` lays out a
failover's result. Drill, readiness and the summary are DR features, and live here
because each composes the steps, `dr` and `drift`, which must not know each other.

The CLI calls these; they import everything below them and never the CLI.
"""
