"""The story's application secrets: each secret a database stack names (`app_secret`) is made
in the home region with a random value, as production's would hold a password, and replicated
to every recovery region (Secrets Manager replica regions, under the AWS managed key there).

The value is made here and given to Secrets Manager only: nothing relight writes holds it, and
the tests that scan relight's outputs for it read it from the stand-in. A secret made by an
earlier telling (or seeded by hand) is used as it is; a region it is not replicated to yet is
added.
"""

from __future__ import annotations

import secrets as random
from typing import Any

from relight.aws.secrets import SecretReplica, describe_secret
from relight.model.app_secrets import app_secrets
from relight.model.environment import Environment
from relight.standin.story.common import Say


def tell_secrets(
    aws: Any, env: Environment, recovery: list[str], say: Say
) -> dict[str, SecretReplica | None]:
    """Make and replicate the environment's application secrets; their description in the
    home region, by name (for the home build's `AppSecretArn`)."""
    home = env.home_region
    names = sorted(set(app_secrets(env, home).values()))
    if not names:
        return {}
    client = aws.client("secretsmanager", home)
    found: dict[str, SecretReplica | None] = {}
    for name in names:
        there = describe_secret(client, name, home)
        if there is None:
            client.create_secret(
                Name=name,
                Description=f"relight stand-in: the {env.name} application's secret",
                SecretString=random.token_urlsafe(24),
                Tags=[{"Key": k, "Value": v} for k, v in env.tags.items()],
            )
        replicated = {
            s["Region"] for s in client.describe_secret(SecretId=name).get("ReplicationStatus", [])
        }
        missing = [r for r in recovery if r not in replicated]
        if missing:
            client.replicate_secret_to_regions(
                SecretId=name, AddReplicaRegions=[{"Region": r} for r in missing]
            )
        found[name] = describe_secret(client, name, home)
    say(
        f"stand-in story: application secret(s) {', '.join(names)} in {home}, replicated to "
        + (", ".join(recovery) or "(no recovery region)")
    )
    return found
