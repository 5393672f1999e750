"""The steps of the data flow (README, "How a failover works"): discover, render, deploy, verify.

`discovery` finds the newest copies and the zones in the target region; `render` turns
the environment and blueprints into a plan, checked by `lint` (cfn-lint, with its
cache); `preflight` checks everything before a change; `preview` says what a deploy
would do; `deploy` runs the plan (`progress` shows it); `verify` checks what was built;
`teardown` deletes what a run made; `replicate` makes the cross-region copies the next
failover restores from.

Imports the AWS layer, the model and `relight.errors`; never `capture` (its sibling in
this layer), nor anything above.
"""
