"""The ledger's defaults are compared, never assumed: a key capture writes only when production
differs from AWS's (or the blueprint's) default is reproduced by its absence only when
production has exactly that default; otherwise it is noted or not read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from relight.capture.common import Note
from relight.capture.ledger import table as t
from relight.capture.ledger.judge import judge
from relight.capture.ledger.resources import Resource


def _judged(res: Resource, doc: Any, notes: list[Note] | None = None) -> dict[str, Any]:
    return {e["property"]: e for e in judge(res, doc, notes or [])}


def _group(**props: Any) -> Resource:
    res = Resource(t.ASG, "shop-web", {"AutoScalingGroupName": "shop-web", **props}, {"shop-web"})
    res.stack = "web"
    return res


def test_a_group_setting_at_awss_default_is_reproduced_by_its_absence_only_then() -> None:
    doc: dict[str, Any] = {"stacks": {"web": {"params": {}}}}
    same = _judged(_group(DefaultCooldown=300, TerminationPolicies=["Default"]), doc)
    assert same["DefaultCooldown"]["status"] == "reproduced"
    assert same["DefaultCooldown"]["key"] == "stacks.web.params.default_cooldown"
    assert "AWS's default" in same["DefaultCooldown"]["by"]
    # production's 60 with no key in the file: not reproduced by any default
    other = _judged(_group(DefaultCooldown=60, TerminationPolicies=["OldestInstance"]), doc)
    assert other["DefaultCooldown"] == {
        "property": "DefaultCooldown",
        "status": "not read",
        "production": 60,
    }
    assert other["TerminationPolicies"]["status"] == "not read"


def _acl(entries: list[dict[str, Any]]) -> Resource:
    res = Resource(
        t.NACL, "acl-1", {"NetworkAclId": "acl-1", "IsDefault": True, "Entries": entries}, {"acl-1"}
    )
    res.stack = "network"
    res.context["tier"] = "public"
    return res


def _rule(number: int, egress: bool, action: str = "allow") -> dict[str, Any]:
    return {
        "RuleNumber": number,
        "Egress": egress,
        "Protocol": "-1",
        "RuleAction": action,
        "CidrBlock": "0.0.0.0/0",
    }


def test_a_default_nacl_is_reproduced_only_with_awss_allow_all_rules() -> None:
    doc: dict[str, Any] = {"stacks": {"network": {"params": {}}}}
    allow_all = [_rule(100, False), _rule(100, True), _rule(32767, False, "deny")]
    assert _judged(_acl(allow_all), doc)["Entries"]["status"] == "reproduced"
    changed = [_rule(100, False, "deny"), _rule(100, True), _rule(32767, False, "deny")]
    note = Note("acl-1", "Entries", "the VPC's default NACL has rules other than AWS's")
    judged = _judged(_acl(changed), doc, [note])
    assert judged["Entries"]["status"] == "noted"
    assert judged["Entries"]["note"] == note.line()
    assert _judged(_acl(changed), doc)["Entries"]["status"] == "not read"


def test_a_recurring_actions_start_time_is_changed_on_purpose_a_one_time_one_reproduced() -> None:
    start = datetime(2031, 1, 5, 7, tzinfo=UTC)
    doc = {
        "stacks": {
            "web": {
                "params": {
                    "scheduled_actions": [
                        {"name": "mornings", "recurrence": "0 7 * * 1-5"},
                        {"name": "launch", "start_time": "2031-01-05T07:00:00Z"},
                    ]
                }
            }
        }
    }

    def action(name: str, **props: Any) -> Resource:
        res = Resource(
            t.SCHEDULED,
            f"shop-web:{name}",
            {"AutoScalingGroupName": "shop-web", "ScheduledActionName": name, **props},
        )
        res.stack, res.context["action"] = "web", name
        return res

    recurring = _judged(action("mornings", Recurrence="0 7 * * 1-5", StartTime=start), doc)
    assert recurring["StartTime"]["status"] == "changed on purpose"
    assert "past" in recurring["StartTime"]["why"]
    assert recurring["Recurrence"]["key"] == (
        "stacks.web.params.scheduled_actions[name=mornings].recurrence"
    )
    once = _judged(action("launch", StartTime=start), doc)
    assert once["StartTime"] == {
        "property": "StartTime",
        "status": "reproduced",
        "key": "stacks.web.params.scheduled_actions[name=launch].start_time",
    }
    # an action the file does not hold is not read, whatever other actions it holds
    gone = _judged(action("nightly", Recurrence="0 22 * * *"), doc)
    assert gone["Recurrence"]["status"] == "not read"
