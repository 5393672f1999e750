"""`relight drift`: production in the home region against what the environment file declares.

`production` is the entry point: a captured production is captured again and compared
(`captured`), otherwise the stacks relight built at home are read (`reading`) and
compared with today's render (`stacks`); `differences` is what drift reports;
`prepared` runs CloudFormation's own drift detection on the stacks prepared in each
recovery region. Read-only.

Imports `capture`, the steps, the AWS layer and the model; never `dr` or `standin`.
"""
