"""Each property of each resource read, judged against the table and the captured file:
reproduced (the file key), noted (the `# CAPTURE:` comment), changed on purpose (production's
value, the rebuild's, why), or not read."""

from __future__ import annotations

import json
import re
from typing import Any

from relight.capture.common import Note
from relight.capture.ledger import table as t
from relight.capture.ledger.resources import Resource

REPRODUCED, NOTED, CHANGED, NOT_READ = "reproduced", "noted", "changed on purpose", "not read"
STATUSES = (REPRODUCED, NOTED, CHANGED, NOT_READ)
_ITEM = re.compile(r"([^\[]+)\[name=([^\]]+)\]")


def has(doc: Any, path: str) -> bool:
    """Whether the captured document holds the key path (`stacks.web.params.min_size`); a
    part `key[name=X]` is the item of the list at `key` whose `name` is X."""
    node = doc
    for part in path.split("."):
        found = _ITEM.fullmatch(part)
        key = found.group(1) if found else part
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
        if found:
            items = [i for i in node or [] if isinstance(i, dict) and i.get("name") == found[2]]
            if not items:
                return False
            node = items[0]
    return True


def _plain(value: Any) -> Any:
    """A JSON-safe copy of a response value (datetimes and other objects as text)."""
    return json.loads(json.dumps(value, default=str))


def _notes_for(res: Resource, row: t.Row, notes: list[Note]) -> list[str]:
    out: list[str] = []
    for note in notes:
        named = note.resource in res.names or any(
            note.resource.startswith(n + " ") for n in res.names
        )
        if not named or (row.note_on and not note.resource.endswith(row.note_on)):
            continue
        props = [_fill(p, res) for p in row.notes]
        if any(p and (note.property == p or note.property.startswith(p + " ")) for p in props):
            out.append(note.line())
    return out


def _fill(template: str, res: Resource) -> str:
    try:
        return template.format(**res.context)
    except KeyError:
        return ""


def _keys(res: Resource, row: t.Row, doc: Any) -> list[str]:
    out: list[str] = []
    for template in row.keys:
        try:
            key = template.format(**res.context, stack=res.stack)
        except KeyError:
            continue
        if "{}" not in key and not key.endswith(".") and ".." not in key and has(doc, key):
            out.append(key)
    return out


def _where(res: Resource, row: t.Row) -> str:
    """The key a default stands in for: the row's first (absent from the file), else the
    stack that makes the resource."""
    for template in row.keys:
        try:
            return template.format(**res.context, stack=res.stack)
        except KeyError:
            continue
    return f"stacks.{res.stack}" if res.stack else "the blueprint"


def _by_keys(res: Resource, row: t.Row, doc: Any, notes: list[Note], value: Any) -> dict[str, Any]:
    """A row with keys or notes: noted, reproduced (a key, or production has the default),
    else not read."""
    entry: dict[str, Any] = {}
    keys, named = _keys(res, row, doc), _notes_for(res, row, notes)
    if named:
        entry.update(status=NOTED, note=named[0])
        if len(named) > 1:
            entry["more_notes"] = named[1:]
        if keys:
            entry["key"] = keys[0]
    elif keys:
        entry.update(status=REPRODUCED, key=keys[0])
    elif row.default is not None and row.default(value, res.props):
        entry.update(status=REPRODUCED, key=_where(res, row), by=row.by)
    else:
        entry.update(status=NOT_READ, production=_plain(value))
    return entry


def judge(
    res: Resource, doc: Any, notes: list[Note], rows: dict[str, t.Row] | None = None
) -> list[dict[str, Any]]:
    """The resource's properties as ledger entries, in the response's order; identity fields
    are left out (the table lists them once per type). With `rows`, only those properties."""
    entries: list[dict[str, Any]] = []
    only = rows is not None
    rows = t.ROWS.get(res.kind, {}) if rows is None else rows
    props = dict(properties_of(res))
    if only:
        props = {k: v for k, v in props.items() if k in rows}
    missing = [name for name, r in rows.items() if name not in props and (r.absent or r.if_absent)]
    props.update(dict.fromkeys(missing))
    for name, value in props.items():
        if t.identity(res.kind, name) or name == "LaunchTemplateData":
            continue
        entry: dict[str, Any] = {"property": name}
        row = rows.get(name)
        if row is None:
            entry.update(status=NOT_READ, production=_plain(value))
        elif name in missing and row.if_absent:
            rebuild, why = row.if_absent
            entry.update(status=CHANGED, production=None, rebuild=rebuild, why=why)
        elif row.changed_when is not None and row.changed_when(value, res.props):
            entry.update(status=CHANGED, production=_plain(value), rebuild=row.rebuild, why=row.why)
        elif row.same is not None:
            if row.same(value):
                where = f"stacks.{res.stack}.blueprint" if res.stack else "the blueprint"
                entry.update(status=REPRODUCED, key=where, by="the blueprint's fixed value")
            else:
                entry.update(
                    status=CHANGED, production=_plain(value), rebuild=row.rebuild, why=row.why
                )
        else:
            entry.update(_by_keys(res, row, doc, notes, value))
        entries.append(entry)
    return entries


def properties_of(res: Resource) -> dict[str, Any]:
    """A launch template version's properties are its LaunchTemplateData's, by dotted name."""
    if res.kind == t.LT:
        data = res.props.get("LaunchTemplateData") or {}
        return {**res.props, **{f"LaunchTemplateData.{k}": v for k, v in data.items()}}
    return res.props
