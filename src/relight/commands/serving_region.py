"""Whether a region serves the environment: the marker a production failover leaves in
relight's bucket there (aws/serving.py), as the failover writes it and as `prepare` and a
rerun read it. `prepare` in a region that serves is refused; a failover rerun there keeps the
serving fleet on its launch snapshot (`keep_launches`)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from relight.aws.serving import SERVING, Serving
from relight.commands.connection import Connection, env_option
from relight.errors import RelightError
from relight.model.plan import Plan


def mark_region_serving(
    conn: Connection, plan: Plan, run_id: str, at: datetime, state: str
) -> list[str]:
    """Record in the region's bucket that a production failover changes it (FAILING_OVER,
    before its first change: a failed or interrupted failover may already take traffic) and
    that it serves once verified (SERVING): aws/serving.py, which `prepare` reads before it
    changes anything. A note, never a failure, when it cannot be written."""
    from botocore.exceptions import BotoCoreError, ClientError

    from relight.aws.serving import Serving, mark_serving, marker_url

    marker = Serving(plan.env_name, conn.region, at.isoformat(), run_id, plan.strategy, state)
    try:
        mark_serving(conn.aws.client("s3", conn.region), conn.account_id, marker)
    except (ClientError, BotoCoreError, RelightError) as exc:
        url = marker_url(conn.account_id, conn.region, plan.env_name)
        return [
            f"could not record that {conn.region} serves {plan.env_name} ({url}): {exc}; "
            f"relight prepare there will not know it holds a failover"
        ]
    return []


def region_serves(conn: Connection, plan: Plan) -> Serving | None:
    """The marker of a failover of the environment into the region, if there is one."""
    from relight.aws.serving import read_serving

    return read_serving(
        conn.aws.client("s3", conn.region), conn.account_id, conn.region, plan.env_name
    )


def already_serving(conn: Connection, plan: Plan) -> tuple[bool, list[str]]:
    """Whether a production failover reruns in a region that serves, and a note when the
    marker cannot be read: a failover never stops on it (treated as not serving: the fleet
    then launches from the newest copy)."""
    try:
        return region_serves(conn, plan) is not None, []
    except RelightError as exc:
        return False, [
            f"could not read whether {conn.region} already serves {plan.env_name} ({exc}); "
            "taken as not serving: a newer copy, if any, rolls the fleet"
        ]


def keep_launches(plan: Plan) -> Plan:
    """The plan with each launch template's snapshot kept like restored data (stateful.py):
    while the region serves, a newer copy must not roll the serving fleet."""
    stacks = {
        key: replace(
            sp, stateful_parameters=tuple(sorted({*sp.stateful_parameters, *sp.launch_parameters}))
        )
        for key, sp in plan.stacks.items()
    }
    return replace(plan, stacks=stacks)


def refuse_serving_region(plan: Plan, conn: Connection) -> None:
    """`prepare` in a region that serves the environment (a verified failover left its
    marker there) would move the standing stacks back to their standby scale under live
    traffic: refused, before anything changes (exit 2)."""
    from relight.aws.serving import marker_url
    from relight.errors import InputError

    if plan.namespace is not None:  # a drill's own standing copies: production is not touched
        return
    env, region = plan.env_name, conn.region
    serving = region_serves(conn, plan)
    if serving is None:
        return
    option = env_option(plan.loaded)  # what --env takes to name this file again
    url = marker_url(conn.account_id, region, env)
    endpoint = f" --endpoint-url {conn.stand_in.endpoint}" if conn.stand_in is not None else ""
    how = "serves from" if serving.state == SERVING else "has been failing over into"
    raise InputError(
        f"{plan.loaded.path}: {env} {how} {region} since {serving.since} (failover run "
        f"{serving.run_id}, at {serving.strategy}): relight prepare there would redeploy what "
        "stands ready before a disaster (a warm standby's fleet back at its standby_params) "
        "under live traffic; nothing was changed",
        hint=f"to apply a changed file to what serves in {region}, run relight failover --env "
        f"{option} --region {region}; prepare {region} again once {env} has failed back home "
        f"(relight failback --env {option} --from {region})"
        + (
            f", or, if that failover failed and {region} never served, once its stacks are "
            f"torn down (relight teardown --env {option} --region {region} --force)"
            if serving.state != SERVING
            else ""
        )
        + f". If {region} no longer serves {env}, remove the marker: aws s3 rm {url} --region "
        f"{region}{endpoint}",
    )
