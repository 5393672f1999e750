"""The estate engine: many environments, in many accounts, brought back in an order.

An estate (`estates/<name>.yaml`, its model in `relight.model.estate`) lists environments,
the account each lives in and the role relight assumes there, `after:` edges and waves, and
one API budget per account and region. This package runs the single-environment commands
over it, and sits between the CLI and `commands`: it imports `commands` and below, never
the CLI.

- `accounts`: `connect_env`, one environment's connection through its account's role.
- `run`: `run_estate`, the scheduler: an environment starts as soon as its predecessors are
  verified; a failure stops exactly its dependents (runner part).
- `failover`: the `Work` that fails one environment over (runner part).
- `prepare`: the `stands: global` stacks through CloudFormation StackSets (stacksets part).
- `plan`, `readiness`, `status`: the estate's plan and forecast RTO (the critical path),
  one readiness table, its status (ops part).
- `drill`, `report`: the estate drill and its one report (drill part).
"""
