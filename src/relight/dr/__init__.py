"""The DR features built on the steps: the ladder, prepared stacks, costs, forecasts, reports.

`ladder` sets each rung's forecast RTO beside its standing cost (`costs`, from the
model's prices); `forecast` estimates a failover's RTO on AWS; `prepared` is what
`relight prepare` stood up, as a failover finds it; `report` writes and reads the
drill reports, laid out by the Jinja2 pages in `templates/`.

Imports the steps, the AWS layer and the model; never `drift` or `standin`, its
siblings in this layer, nor the commands that compose it (drill, readiness).
"""
