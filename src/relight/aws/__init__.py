"""The AWS layer: the one way in to AWS, and the AWS objects relight keeps.

`clients` builds every client (region, profile, assumed role, endpoint, the stand-in)
and `failures` turns botocore's errors into relight's; `cloudformation` is every
CloudFormation call, as waits the scheduler drives; `bucket` is relight's S3 bucket in
the target region, where `lease` and `lock` keep the run lock; `grants` is Auto
Scaling's access to KMS keys; `outage` refuses, for a rehearsal, every call a lost
region would fail.

Imports the model and `relight.errors` only: never rendering, never a step.
"""
