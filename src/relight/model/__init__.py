"""The model: what an environment is, before anything talks to AWS.

The environment file (`config` loads and renders it, `environment` is its validated
schema, `values` the checks of single values, `faults` the stand-in's fault section,
`prices` the price table it may override), the blueprint contract (`blueprint`), the
plan of stacks a render produces (`plan`), the stack graph and its scheduler (`graph`,
`scheduler`), what holds data (`stateful`), which control planes live where
(`control_planes`), AWS's list-of-pairs shapes (`shapes`) and times (`times`).

Lowest layer but `relight.errors`: it imports nothing else of relight and makes no AWS
call (no boto3; botocore only for its bundled list of regions). Its only I/O is reading
the environment file and the blueprint files it names.
"""
