"""`relight capture`: read a production VPC in its home region (read-only) and write an
environment file that rebuilds it with the shipped blueprints.

What the blueprints cannot express is never dropped silently: each such difference becomes a
`Note` (resource, property, what was found, what the file says instead), written into the
file as a YAML comment and listed by the command.

The package, one module per part of production:

- `common`: the shared types (`Capture`, `Note`, `CaptureError`, `_Section`, `_Found`) and
  helpers (`_call`, `_pages`, `_tags`, `_key`)
- `network`: the VPC, its subnets and tiers, NAT, gateway endpoints, flow logs, production's
  own tags (the VPC's); `network_acls`, its part for the network ACLs
- `security`: security groups and their rules
- `load_balancers`: ALBs and NLBs, their target groups and listeners (with `lb_settings`:
  health checks and attributes; `certificates`: the listener's certificate per region)
- `compute`: Auto Scaling groups, fixed instances, AMI and snapshot lookups, instance roles
- `databases`: RDS instances and Aurora clusters
- `dns`: the Route 53 record pointing at a captured load balancer
- `secrets`: the application's secret, by name (ListSecrets with the selection tags)
- `ledger`: the coverage ledger of what capture found and did with each property (its reads
  recorded, plus a sweep of its own), written beside the file
- here: `find_vpc`, and `capture`, which reads them all, wires the stacks together and
  writes the file

The parts never import each other (an import contract in pyproject.toml says so). Capture
imports only `relight.errors` and the model's checks of single values (`relight.model.values`,
for tags): it reads production with the clients it is given.
"""

from __future__ import annotations

from typing import Any

import yaml

from relight.capture.common import (
    TIERS,
    Capture,
    CaptureError,
    Client,
    Note,
    _call,
    _Found,
    _Section,
)
from relight.capture.compute import _asgs, _compute, _fixed_instances
from relight.capture.databases import AURORA_ENGINES, SERVERLESS_CLASS, _Databases, _databases
from relight.capture.dns import DNS_FEEDS, _dns, _in_one_region, _stand_with_dns
from relight.capture.kms import encrypted_artifacts, kms_placeholders
from relight.capture.ledger import Placed, Recorder, build_ledger
from relight.capture.load_balancers import _fixed_targets, _load_balancers
from relight.capture.network import _network
from relight.capture.secrets import _app_secret
from relight.capture.security import ADMIN_PORTS, _security

__all__ = [
    "ADMIN_PORTS",
    "AURORA_ENGINES",
    "DNS_FEEDS",
    "SERVERLESS_CLASS",
    "TIERS",
    "Capture",
    "CaptureError",
    "Client",
    "Note",
    "capture",
    "find_vpc",
]


RELIGHT_BUILT = "relight:env"  # a stack tag relight puts on every stack it makes


def find_vpc(client: Client, tags: dict[str, str]) -> str:
    """The one VPC carrying every tag in `tags` (`--tag Key=Value`), relight's own left out.

    A captured file's `tags:` are production's, and CloudFormation passes a stack's tags on to
    the VPC it makes: a copy relight built in the same region (a test environment, a drill)
    carries them too, with relight's own `relight:env`. That copy is never production."""
    filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
    found = _call("VPCs", client("ec2").describe_vpcs, Filters=filters)["Vpcs"]
    built = [v["VpcId"] for v in found if any(t["Key"] == RELIGHT_BUILT for t in v.get("Tags", []))]
    vpcs = [v for v in found if v["VpcId"] not in built]
    shown = ", ".join(f"{k}={v}" for k, v in tags.items())
    if len(vpcs) != 1:
        ids = ", ".join(v["VpcId"] for v in vpcs) or "none"
        left_out = (
            f" ({', '.join(built)} left out: tagged {RELIGHT_BUILT}, built by relight, not "
            "production)"
            if built
            else ""
        )
        raise CaptureError(
            f"capture: --tag {shown} must select exactly one VPC; found {ids}{left_out}: "
            "add tags or name it with --vpc"
        )
    return str(vpcs[0]["VpcId"])


def capture(
    client: Client,
    *,
    vpc_id: str,
    region: str,
    name: str,
    recovery_regions: list[str],
    account_id: str | None = None,
    stand_in: bool = False,
    blueprints_dir: str | None = None,
    tags: dict[str, str] | None = None,
    ledger: bool = True,
) -> Capture:
    """Read production around `vpc_id` (read-only) and write the environment file's text.

    The file's `production:` names the VPC (or the `tags` it was selected by), where
    `relight drift` reads production again. With `ledger` (the default), capture's reads are
    recorded and swept around for the coverage ledger (`Capture.ledger`); drift passes
    `ledger=False`: no recording, and none of the sweep's calls."""
    args: dict[str, Any] = {
        "vpc_id": vpc_id,
        "region": region,
        "name": name,
        "recovery_regions": recovery_regions,
        "account_id": account_id,
        "stand_in": stand_in,
        "blueprints_dir": blueprints_dir,
        "tags": tags,
    }
    if not ledger:
        return _capture(client, **args)[0]
    with Recorder(client) as recorder:
        result, placed = _capture(recorder.client, **args)
    result.ledger = build_ledger(
        recorder.calls,
        client,
        placed=placed,
        text=result.text,
        notes=result.notes,
        environment=name,
        region=region,
        tags=tags,
    )
    return result


def _capture(
    client: Client,
    *,
    vpc_id: str,
    region: str,
    name: str,
    recovery_regions: list[str],
    account_id: str | None,
    stand_in: bool,
    blueprints_dir: str | None,
    tags: dict[str, str] | None,
) -> tuple[Capture, Placed]:
    ec2 = client("ec2")
    net_notes: list[Note] = []
    network, facts = _network(ec2, vpc_id, net_notes)
    sg_notes: list[Note] = []
    groups, sg_keys = _security(ec2, vpc_id, sg_notes)
    subnet_tier: dict[str, str] = facts["subnet_tier"]
    az_count = len(facts["az_ids"])
    artifacts: dict[str, Any] = {}
    roles: dict[str, Any] = {}
    taken = {"identity", "network", "security", "loadbalancer", "database", "dns"}
    unplaced: list[Note] = []  # notes no stack of the file holds: written at its top
    found = _Found(ec2, client, subnet_tier, sg_keys, az_count, artifacts, roles, taken)
    lbs, target_groups = _load_balancers(client("elbv2"), vpc_id, found, unplaced, recovery_regions)
    asgs, asg_instances = _asgs(client, ec2, subnet_tier)
    sections = [_compute(asg, data, found, target_groups) for asg, data in asgs]
    sections += _fixed_instances(found, vpc_id, asg_instances)
    _fixed_targets(lbs, sections)
    dbs = _databases(client("rds"), vpc_id, _Databases(sg_keys, groups, artifacts, unplaced, taken))
    _wire_database(dbs, sections, facts["tiers"])
    computes = [s for s in sections if s.body.get("blueprint") == "compute"]
    if dbs and tags:
        _app_secret(client("secretsmanager"), tags, region, dbs, computes, roles, unplaced)
    sections.extend(dbs)
    stacks: list[_Section] = []
    # always: its CloudFormation service role runs every other stack (blueprints/identity.py)
    identity = {
        "instance_roles": roles,
        "flow_logs": bool(network["flow_logs"]),
        "rds_monitoring": bool(dbs),
    }
    stacks.append(
        _Section("identity", {"blueprint": "identity", "stands": "global", "params": identity})
    )
    stacks.append(
        _Section(
            "network",
            {"blueprint": "network", "params": network},
            notes=net_notes,
            comments=facts["comments"],
        )
    )
    if groups:
        security = {"VpcId": {"output": "network.VpcId"}, "groups": groups}
        stacks.append(
            _Section("security", {"blueprint": "security", "params": security}, notes=sg_notes)
        )
    elif sg_notes:
        stacks[-1].notes.extend(sg_notes)
    stacks.extend(lbs)
    stacks.extend(sections)
    dns = _dns(client, lbs, unplaced) if lbs else None
    if dns is not None:
        _in_one_region(dns, recovery_regions)
        _stand_with_dns(stacks, dns)
        stacks.append(dns)
    head: dict[str, Any] = {
        "name": name,
        "description": f"captured from {vpc_id} in {region} by relight capture",
        "home_region": region,
        "recovery_regions": recovery_regions,
        "stand_in": stand_in,
        "production": {"tags": dict(tags)} if tags else {"vpc": vpc_id},
    }
    if account_id:
        head["account_id"] = account_id
    if blueprints_dir:
        head["blueprints_dir"] = blueprints_dir
    if facts["tags"]:
        head["tags"] = facts["tags"]  # production's own, which the rebuilt resources carry
    encrypted = encrypted_artifacts(client, artifacts, unplaced)
    kms_keys, kms_note = kms_placeholders(encrypted, region, recovery_regions)
    if kms_note is not None:  # replicate needs a key per recovery region: say so at the top
        unplaced.append(kms_note)
    head_lines = [_dump(head), *kms_keys]
    text = _render(head_lines, vpc_id, region, facts["az_ids"], artifacts, stacks, unplaced)
    sources = {
        s.key: s.source or (vpc_id if s.key in ("network", "security") else "") for s in stacks
    }
    notes = [*unplaced, *(n for s in stacks for n in s.notes)]
    fixed = {
        i: s.key
        for s in sections
        if s.body["params"].get("mode") == "instances"
        for i in s.instances
    }
    placed = Placed(vpc_id, sources, sg_keys, fixed, facts["subnets"])
    return Capture(text, notes, sources, facts["subnets"]), placed


def _wire_database(dbs: list[_Section], sections: list[_Section], tiers: list[str]) -> None:
    """Compute stacks get the first database's endpoint; each database a client group and
    subnets."""
    if not dbs:
        return
    computes = [s for s in sections if s.body.get("blueprint") == "compute"]
    for s in computes:
        s.body["params"]["DatabaseEndpoint"] = {"output": f"{dbs[0].key}.Endpoint"}
        s.body["params"]["DatabasePort"] = {"output": f"{dbs[0].key}.Port"}
    for db in dbs:
        _client_group(db, computes)
        if "data" not in tiers:
            fallback = "private" if "private" in tiers else tiers[0]
            db.body["params"]["SubnetIds"] = {"output": f"network.{fallback.capitalize()}SubnetIds"}
            db.notes.append(
                Note(db.source, "DBSubnetGroup", f"no data tier: the {fallback} subnets are used")
            )


def _client_group(db: _Section, computes: list[_Section]) -> None:
    """The database's client group: the one its group admits, else the compute stack's."""
    if "ClientSecurityGroupId" in db.body["params"]:
        return
    group = next(
        (
            s.body["params"]["SecurityGroupId"]
            for s in computes
            if "SecurityGroupId" in s.body["params"]
        ),
        None,
    )
    if group is None:
        db.notes.append(
            Note(db.source, "ClientSecurityGroupId", "no client group found: give one by hand")
        )
        return
    db.body["params"]["ClientSecurityGroupId"] = group
    db.notes.append(
        Note(
            db.source,
            "ClientSecurityGroupId",
            f"no group of the database admits another: {group['output']} (the compute "
            "stack's) assumed to be its client",
        )
    )


def _render(
    head: list[str],
    vpc_id: str,
    region: str,
    az_ids: list[str],
    artifacts: dict[str, Any],
    stacks: list[_Section],
    unplaced: list[Note],
) -> str:
    out: list[str] = [
        f"# Captured by `relight capture` from {vpc_id} in {region}, read-only.",
        "# Review it: the comments marked CAPTURE name what the blueprints cannot reproduce.",
        "# See docs/environment-file.md and docs/capture.md.",
        *(f"# CAPTURE: {note.line()}" for note in unplaced),
        *head,
        "# Not read from production: set your own objectives.",
        _dump({"objectives": {"rpo": "24h", "rto": "4h"}}),
        f"# production's AZs, by AZ ID: {', '.join(az_ids)}",
        _dump({"zones": {"count": len(az_ids)}}),
    ]
    if artifacts:
        out.append(_dump({"artifacts": artifacts}))
    out.append("stacks:")
    for s in stacks:
        out.append("")
        out.extend(f"  # CAPTURE: {note.line()}" for note in s.notes)
        out.extend(f"  # {c}" for c in s.comments)
        out.append(_dump({s.key: s.body}, indent=2))
    return "\n".join(out) + "\n"


class _Dumper(yaml.SafeDumper):
    """Leaf mappings in flow style, except a `per_region` value's: a person edits its entries one
    by one (the recovery region's placeholder), so each stands on its own line."""

    def represent_mapping(self, tag: str, mapping: Any, flow_style: bool | None = None) -> Any:
        node = super().represent_mapping(tag, mapping, flow_style)
        for key, value in node.value:
            if key.value == "per_region":
                value.flow_style = False
        return node


def _dump(data: dict[str, Any], indent: int = 0) -> str:
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=None, width=100)
    pad = " " * indent
    return "\n".join(pad + line for line in text.rstrip("\n").splitlines())
