"""Step 5 of the data flow: prove the rebuilt environment works, with evidence from AWS.

Each stack's resources (from CloudFormation) are checked by what they are:

- instances: running, made from the expected AMI, status checks passed, in the security
  groups the stack was given (its security-group Parameters, and the groups it makes) and no
  other (an instance launched without its group lands in the VPC's default group);
- Auto Scaling groups: at desired capacity, every instance InService;
- target groups: every target healthy;
- databases: available, restored from the expected snapshot;
- volumes: made from the expected snapshots;
- security groups a stack makes: their egress exactly as its template declares it (the
  group's own SecurityGroupEgress, else AWS's default allow-all, plus the stack's
  SecurityGroupEgress resources for it): a rule missing or one not declared fails;
- load balancers: answering their health path over HTTP, where this machine can reach them.

In time. Right after CloudFormation reports a stack complete, AWS still reports
new instances' status checks "initializing", group members "Pending", targets
"initial" and load balancers answer 503. So a check that can still change is
*pending*, not failed: pending checks are read again, 5 s after the first look
and then with a doubling backoff capped at 30 s, until they pass or the
deadline (`deadline_seconds`, 900 s by default: AWS's status checks take a few
minutes, a target needs its health checks in a row) passes. Only then does a
pending check fail, and its detail says how long relight waited, what was
still pending and where to look. While waiting, `on_progress` gets one line a
round ("waiting: web: 4 of 6 status checks ok, 2 initializing (3 min left)").

What counts as pending (it may still pass) and what as failed (it will not):

- pending: an instance "pending"; a status check "initializing",
  "insufficient-data", "not-applicable" (not running yet) or "impaired" (a
  fresh instance can report it while booting; one that stays impaired fails
  at the deadline); a group below its desired capacity; a target "initial",
  "unhealthy" (new targets flap until their health checks settle), "unused"
  or "unavailable", or no target registered yet; a load balancer that does
  not answer or answers 5xx (what an ALB says while no target is healthy);
  a database "creating", "backing-up", "modifying" and the like; an instance
  id DescribeInstances does not know yet (EC2 is eventually consistent).
- failed at once: an instance stopping, stopped, shutting down or
  terminated; instances from another AMI; an instance in a security group the
  stack was not given; a running instance without a volume from the expected
  snapshot; egress not as declared; a database failed, stopped or deleting;
  a load balancer answering 4xx (the application answered, and refused).

Group members leaving the group (Terminating, Detaching, ...) are not counted:
the group replaces them, and its capacity check waits for that. A target
draining is leaving too. Once any check has failed, verification cannot pass,
so nothing more is waited for: checks still pending then are "skipped", and
say so.

Every call AWS limits is asked in batches of what it allows: DescribeInstances,
DescribeInstanceStatus and DescribeVolumes 100 ids, DescribeAutoScalingGroups
50 names, DescribeLoadBalancers 20 ARNs; every batch's pages are followed.

On the local stand-in some of these cannot be shown (moto reports every
status check "ok" and every target "healthy" without checking anything, and
its load balancer names do not resolve): those checks say "not simulated
locally", never "passed". The others are checked there as on AWS: the stand-in
plays instances' security groups, volumes restored from snapshots and egress
rules as AWS does (standin/extensions/ec2.py). Nothing waits on the stand-in.
Against another emulator (an endpoint that is not AWS's: `AWS_ENDPOINT_URL`,
the target's `endpoint_url`), a load balancer whose DNS name does not resolve
from here is "not verifiable from here": like "not simulated locally", never a
pass and never a failure. On AWS a name that does not resolve yet is pending,
read again until the deadline (a new load balancer's name takes a while to
appear).

When AWS refuses a read (AccessDenied on one resource, say), that check
fails and says why. When the endpoint itself fails (no answer, an answer that
cannot be read, HTTP 5xx after botocore's retries) nothing more can be read:
verification stops with an AwsError (exit 1) naming the operation and the
endpoint; the stacks stay as they were built. Used by `failover` and `drill`.

The package, one module per kind of check:

- `common`: the results (`Check`, `Reading`), the deadline and AWS's batch sizes,
  `batched`, and `VerifierBase`, what the checks of every kind share
- `instances`: instances running, from the expected AMI, status checks passed, in the
  declared security groups, their volumes from the expected snapshot; Auto Scaling groups'
  capacity
- `load_balancers`: targets' health, load balancers answering
- `databases`: databases available, restored from the expected snapshot
- `security_groups`: the egress of the security groups a stack makes
- `run`: the `Verifier`, which reads every check and waits for the pending ones, and `verify`
"""

from __future__ import annotations

from relight.steps.verify.common import (
    DEADLINE_SECONDS,
    FAILED,
    NOT_LOCAL,
    NOT_VERIFIABLE,
    PASSED,
    PENDING,
    SKIPPED,
    Check,
    Reading,
    verified,
)
from relight.steps.verify.run import Verifier, verify

__all__ = [
    "DEADLINE_SECONDS",
    "FAILED",
    "NOT_LOCAL",
    "NOT_VERIFIABLE",
    "PASSED",
    "PENDING",
    "SKIPPED",
    "Check",
    "Reading",
    "Verifier",
    "verified",
    "verify",
]
