"""The application secrets: each database stack's `app_secret` is replicated to the target
region from the home region's primary, under a KMS key usable there.

Read from discovery (DescribeSecret in the target region: metadata, never the value) and
KMS in the target region: nothing here calls the home region, so a failover can run this
while it is down. `prepare` runs it for every stack of the environment, not only the ones
it stands up: a secret is replicated before a disaster, or the failover cannot hand the
application its ARN.
"""

from __future__ import annotations

from relight.aws.secrets import SecretReplica, replicate_command
from relight.model.app_secrets import APP_SECRET_OPTION, app_secrets
from relight.model.plan import Plan
from relight.steps.discovery import Discovery
from relight.steps.preflight.artifacts import _KeyBook


def app_secret_problems(plan: Plan, discovery: Discovery, book: _KeyBook) -> list[str]:
    """One problem per stack whose application secret the target region cannot serve: no
    replica there, a secret of that name that is not the home primary's replica, a failed
    replication, or a customer managed key that is not Enabled there. Each names the file,
    the stack, the key `app_secret`, and the command that fixes it."""
    env = plan.loaded.env
    problems = []
    for key, name in sorted(app_secrets(env, plan.region).items()):
        found = discovery.secrets.get(name)
        why = _why_not(found, name, env.home_region, plan.region, book)
        if why is None:
            continue
        where = f"{plan.loaded.path}: stacks.{key}.params.{APP_SECRET_OPTION}"
        if plan.region == env.home_region:  # the primary lives here: nothing to replicate
            problems.append(
                f"{where}: {why}: create it there (`aws secretsmanager create-secret --name "
                f"{name} --region {plan.region}`), then replicate it to the recovery regions"
            )
            continue
        kms_key = _own_key(env.kms_keys.get(plan.region))
        fix = replicate_command(name, env.home_region, plan.region, kms_key)
        if found is not None and found.primary_region != env.home_region:
            fix += " --force-overwrite-replica-secret"  # it replaces the secret of that name
        problems.append(
            f"{where}: {why}; the application would get no secret in {plan.region}: run `{fix}`"
        )
    return problems


def _own_key(key: str | None) -> str | None:
    """The environment's KMS key for the region (`kms_keys`), unless it is an AWS managed one."""
    return key if key and not key.startswith("alias/aws/") else None


def _why_not(
    found: SecretReplica | None, name: str, home: str, region: str, book: _KeyBook
) -> str | None:
    """Why the secret cannot serve in `region`, None when it can."""
    if found is None:
        what = "does not exist" if region == home else "has no replica"
        return f"secret {name} {what} in {region}"
    if region == home:  # the primary itself (a failback home, a test copy there)
        return None
    if found.primary_region != home:
        own = found.primary_region in (None, region)  # made there, or promoted standalone
        source = "a secret of its own" if own else f"a replica of {found.primary_region}'s"
        return (
            f"secret {name} in {region} is {source}, not a replica of {home}'s primary "
            f"({found.arn})"
        )
    if found.status == "Failed":
        said = f": {found.status_message}" if found.status_message else ""
        return f"secret {name}'s replication to {region} failed{said}"
    if found.managed_key or found.kms_key is None:
        return None
    try:
        state = book.describe(found.kms_key).get("KeyState")
    except Exception as exc:  # refused (no such key, no access), kept by the key book
        return (
            f"secret {name} in {region} is encrypted with KMS key {found.kms_key}, not usable "
            f"there ({type(exc).__name__}); replicate it under a key of {region}"
        )
    if state != "Enabled":
        return (
            f"secret {name} in {region} is encrypted with KMS key {found.kms_key}, which is "
            f"{state} there, not Enabled; enable the key, or replicate it under another"
        )
    return None
