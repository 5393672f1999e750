"""A Route 53 failover pair has one PRIMARY and one SECONDARY record per name and type.

Route 53 API Reference, ResourceRecordSet (Failover): "To configure failover, you add the
Failover element to two resource record sets. For one resource record set, you specify PRIMARY
as the value for Failover; for the other resource record set, you specify SECONDARY." A stack
that holds a failover record (the dns blueprint's SECONDARY, prepared in a recovery region) may
therefore stand in one region only: prepared into a second region it would be a second
SECONDARY for the same name, which Route 53 refuses (the second stack ends CREATE_FAILED), or
which moto, the stand-in, quietly keeps beside the first.

So a stack's `regions:` (StackSpec.regions) limits where it stands, and a plan refuses a stack
with a failover record that could stand in two regions: its `regions:` names more than one, or
it has none and the environment has more than one recovery region, or the run's region is not
the one recovery region. Rendering needs no AWS call; this is checked when the plan is built,
for the stacks it builds (so `relight prepare` refuses before anything changes), and by
`relight render` for the prepared stacks too; a failover that only reads the standing stack is
not refused over it. `relight prepare` in a region the stack's `regions:` leaves out
leaves it out (build_plan skips it, saying why).

The same rule holds the latch (blueprints/dns.py): a CLOUDWATCH_METRIC health check names its
alarm by name and region only (AlarmIdentifier has no account), so the home side's latch check
reads an alarm in its own account. A SECONDARY with a latch, made in the recovery account
(`recovery_account_id`) while the zone and the PRIMARY are in `account_id`, would hold an alarm
that check can never read: refused with the reason, unless the stack is made in the zone's
account through its `role_arn` (aws/accounts.py).
"""

from __future__ import annotations

import json
from typing import Any

from relight.errors import ConfigError
from relight.model.plan import Plan, StackPlan

RECORD_SET = "AWS::Route53::RecordSet"
ALARM = "AWS::CloudWatch::Alarm"


def failover_records(body: str) -> list[dict[str, Any]]:
    """The Properties of each failover record (a RecordSet with `Failover`) of a template."""
    found = []
    for resource in json.loads(body).get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == RECORD_SET and "Failover" in props:
            found.append(props)
    return found


def _roles(records: list[dict[str, Any]]) -> str:
    return "/".join(sorted({str(r["Failover"]) for r in records}))


def stand_regions(plan: Plan, key: str) -> list[str]:
    """Every region the stack could stand in: its `regions:`, or else the recovery regions and
    this run's region."""
    spec = plan.loaded.env.stacks[key]
    if spec.regions is not None:
        return sorted(spec.regions)
    return sorted({*plan.loaded.env.recovery_regions, plan.region})


def refuse_second_pairs(plan: Plan) -> None:
    """`refuse_second_pair` for every stack of the plan, the prepared ones it reads too
    (`relight render`, which writes both). A failover itself checks only what it builds: the
    standing pair is prepare's, and the worst day is no time to refuse over it."""
    for sp in (*plan.prepared.values(), *plan.stacks.values()):
        refuse_second_pair(plan, sp)


def refuse_second_pair(plan: Plan, sp: StackPlan) -> None:
    """Refuse a stack holding a failover record that could stand in more than one region, or,
    with a latch alarm, in another account than the zone's (exit 2, nothing changed)."""
    if plan.phase == "home":
        return  # production's own side (the PRIMARY): one home region
    records = failover_records(sp.body)
    if not records:
        return
    from relight.model.config import placed

    loaded = plan.loaded
    regions = stand_regions(plan, sp.key)
    role = _roles(records)
    if len(regions) > 1:
        given = loaded.env.stacks[sp.key].regions
        listed = ", ".join(regions)
        why = (
            f"its regions: names {listed}"
            if given
            else f"without regions: it stands wherever relight prepare is run ({listed})"
        )
        raise ConfigError(
            placed(
                loaded,
                f"stacks.{sp.key}: holds a Route 53 failover record ({role}) and could stand "
                f"in {len(regions)} regions ({why}); a name has one PRIMARY and one SECONDARY "
                "record, so Route 53 refuses a second one (its stack ends CREATE_FAILED); "
                "nothing was changed",
            ),
            hint=f"give stacks.{sp.key} the one region its record stands in, e.g. regions: "
            f"[{plan.region if plan.region in regions else regions[0]}]; prepare and failover "
            "elsewhere leave it out (switch DNS there by hand, docs/dns-and-failback.md)",
        )
    _refuse_latch_in_another_account(plan, sp)


def _refuse_latch_in_another_account(plan: Plan, sp: StackPlan) -> None:
    """The latch alarm a SECONDARY holds is made in the account the stack is deployed into:
    with `recovery_account_id` that is not the account of the zone and its PRIMARY."""
    env = plan.loaded.env
    recovery, home = env.recovery_account_id, env.account_id
    if env.stacks[sp.key].role_arn or recovery is None or home is None or recovery == home:
        return  # made in its role's account (the zone's), or in the zone's account itself
    resources = json.loads(sp.body).get("Resources", {}).values()
    if not any(r.get("Type") == ALARM for r in resources):
        return
    from relight.model.config import placed

    raise ConfigError(
        placed(
            plan.loaded,
            f"stacks.{sp.key}: its failback latch alarm would be made in the recovery account "
            f"{recovery}, but the home side's latch check, a Route 53 CLOUDWATCH_METRIC health "
            f"check in account {home}, names an alarm by name and region only "
            "(AlarmIdentifier): it reads alarms in its own account, never another's; "
            "nothing was changed",
        ),
        hint=f"give stacks.{sp.key} role_arn: a role in account {home} (the zone's) that "
        "relight assumes to make the stack there, latch included; or set failback_latch: "
        f"false in stacks.{sp.key}.params and fail back by hand (docs/dns-and-failback.md)",
    )
