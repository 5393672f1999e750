"""Which recorded resources belong to the captured VPC (capture lists some region-wide), and
which of the file's stacks each is captured into: the stack whose source it is, or its
owner's (a listener its load balancer's, a launch template its group's)."""

from __future__ import annotations

from dataclasses import dataclass

from relight.capture.ledger import table as t
from relight.capture.ledger.resources import Resource

NETWORK = (t.VPC, t.SUBNET, t.ROUTE_TABLE, t.IGW, t.NAT, t.ENDPOINT, t.FLOW_LOG, t.NACL)


@dataclass
class Placed:
    """What capture knows of where each production resource went in the file."""

    vpc_id: str
    sources: dict[str, str]  # stack key → the production resource it was captured from
    groups: dict[str, str]  # security group id → its key in the security stack
    instances: dict[str, str]  # fixed instance id → its compute stack
    subnets: dict[str, list[str]]  # tier → production's subnet CIDRs


def _in_vpc(res: Resource, vpc: str, ours: dict[str, set[str]]) -> bool:
    """`ours`: the VPC's subnets, load balancers, DB subnet groups and Aurora clusters."""
    p = res.props
    subnets, lbs, db_nets, clusters = (ours[k] for k in ("subnets", "lbs", "db_nets", "clusters"))
    if res.kind == t.LB:
        return p.get("VpcId") == vpc
    if res.kind == t.TG:
        return p.get("VpcId") == vpc or bool(set(p.get("LoadBalancerArns", [])) & lbs)
    if res.kind == t.LISTENER:
        return p.get("LoadBalancerArn") in lbs
    if res.kind == t.ASG:
        zone = [s for s in str(p.get("VPCZoneIdentifier", "")).split(",") if s]
        return bool(zone) and set(zone) <= subnets
    if res.kind == t.DB:  # an Aurora member may report no subnet group: its cluster's
        return (p.get("DBSubnetGroup") or {}).get("VpcId") == vpc or (
            p.get("DBClusterIdentifier") in clusters
        )
    if res.kind == t.CLUSTER:
        return p.get("DBSubnetGroup") in db_nets
    if res.kind == t.DB_SUBNETS:
        return p.get("VpcId") == vpc
    return True


def scope(found: dict[tuple[str, str], Resource], placed: Placed) -> list[Resource]:
    """The resources of the VPC, each with its stack and the names notes may call it by."""
    vpc = placed.vpc_id
    of = [r for r in found.values()]
    subnets = {r.id for r in of if r.kind == t.SUBNET and r.props.get("VpcId") == vpc}
    lbs = {r.id for r in of if r.kind == t.LB and r.props.get("VpcId") == vpc}
    db_nets = {r.id for r in of if r.kind == t.DB_SUBNETS and r.props.get("VpcId") == vpc}
    clusters = {r.id for r in of if r.kind == t.CLUSTER and r.props.get("DBSubnetGroup") in db_nets}
    ours = {"subnets": subnets, "lbs": lbs, "db_nets": db_nets, "clusters": clusters}
    kept = [r for r in of if _in_vpc(r, vpc, ours)]
    _link(kept, placed)
    return _referenced(kept)


def _tier_of(cidr: str, placed: Placed) -> str:
    return next((tier for tier, cidrs in placed.subnets.items() if cidr in cidrs), "")


@dataclass
class _Links:
    """What a resource's stack is found through: its source, its load balancer, its group."""

    placed: Placed
    stack_of: dict[str, str]
    lb_stack: dict[str, str]
    subnet_tier: dict[str, str]
    asg_of_lt: dict[str, str]
    members: dict[str, str]

    def place(self, r: Resource) -> None:
        p = r.props
        if r.kind in NETWORK:
            self.network(r)
        elif r.kind == t.GROUP:
            r.stack = "security"
            if r.id in self.placed.groups:
                r.context["group"] = self.placed.groups[r.id]
        elif r.kind in (t.LB, t.TG, t.LISTENER):
            arns = [r.id, *p.get("LoadBalancerArns", []), p.get("LoadBalancerArn", "")]
            r.stack = next((self.lb_stack[a] for a in arns if self.lb_stack.get(a)), "")
            if r.kind == t.LISTENER:
                r.context["port"] = str(p.get("Port", ""))
        elif r.kind in (t.ASG, t.SCHEDULED, t.HOOK, t.POLICY):
            r.stack = self.stack_of.get(p.get("AutoScalingGroupName", ""), "")
            for field, name in (
                ("action", "ScheduledActionName"),
                ("hook", "LifecycleHookName"),
                ("policy", "PolicyName"),
            ):
                if p.get(name):
                    r.context[field] = str(p[name])
        elif r.kind in (t.LT, t.INSTANCE):
            self.compute(r)
        elif r.kind in (t.DB, t.CLUSTER):  # an Aurora member: its cluster's stack
            r.stack = self.stack_of.get(r.id) or self.stack_of.get(
                p.get("DBClusterIdentifier") or "", ""
            )
        elif r.kind in (t.ZONE, t.RECORD):
            r.stack = "dns" if "dns" in self.placed.sources else ""

    def network(self, r: Resource) -> None:
        r.stack = "network"
        tier = _network_tier(r, self.subnet_tier)
        if tier:
            r.names.add(f"{tier} tier")
            r.context["tier"] = tier
        if r.kind == t.NAT:
            r.names.add(self.placed.vpc_id)
        if r.kind == t.ENDPOINT and r.props.get("ServiceName"):  # com.amazonaws.<region>.s3
            r.context["svc"] = str(r.props["ServiceName"]).rsplit(".", 1)[-1]

    def compute(self, r: Resource) -> None:
        p = r.props
        if r.kind == t.LT:
            asg = self.asg_of_lt.get(p.get("LaunchTemplateId", "")) or self.asg_of_lt.get(
                p.get("LaunchTemplateName", ""), ""
            )
            r.stack = self.stack_of.get(asg, "")
            return
        r.stack = self.placed.instances.get(r.id, "")
        if r.id in self.members:
            r.owner = f"{t.ASG} {self.members[r.id]}"
            r.stack = self.stack_of.get(self.members[r.id], "")


def _launch_templates(kept: list[Resource]) -> tuple[dict[str, str], dict[str, str]]:
    """(launch template id or name → its group, member instance → its group)."""
    asg_of_lt: dict[str, str] = {}
    members: dict[str, str] = {}
    for r in (r for r in kept if r.kind == t.ASG):
        mixed = (r.props.get("MixedInstancesPolicy") or {}).get("LaunchTemplate", {})
        spec = r.props.get("LaunchTemplate") or mixed.get("LaunchTemplateSpecification") or {}
        for k in ("LaunchTemplateId", "LaunchTemplateName"):
            if spec.get(k):
                asg_of_lt[spec[k]] = r.id
        members.update({i["InstanceId"]: r.id for i in r.props.get("Instances", [])})
    return asg_of_lt, members


def _link(kept: list[Resource], placed: Placed) -> None:
    stack_of = {source: key for key, source in placed.sources.items() if source}
    lb_stack = {
        r.id: stack_of.get(r.props.get("LoadBalancerName", ""), "") for r in kept if r.kind == t.LB
    }
    subnet_tier = {
        r.id: _tier_of(r.props.get("CidrBlock", ""), placed) for r in kept if r.kind == t.SUBNET
    }
    links = _Links(placed, stack_of, lb_stack, subnet_tier, *_launch_templates(kept))
    for r in kept:
        links.place(r)
    _owned(kept, {r.key: r for r in kept})
    for r in kept:
        source = placed.sources.get(r.stack, "")
        if source and r.kind not in NETWORK and r.kind != t.GROUP:
            r.names.add(source)


def _network_tier(r: Resource, subnet_tier: dict[str, str]) -> str:
    if r.kind == t.SUBNET:
        return subnet_tier.get(r.id, "")
    if r.kind in (t.ROUTE_TABLE, t.NACL):
        for a in r.props.get("Associations", []):
            if subnet_tier.get(a.get("SubnetId", "")):
                return subnet_tier[a["SubnetId"]]
    return ""


def _users(kept: list[Resource]) -> dict[str, str]:
    """What uses what: an image, snapshot, volume, profile or group → the user's stack."""
    user: dict[str, str] = {}
    for r in (r for r in kept if r.stack):
        data = r.props.get("LaunchTemplateData", r.props) if r.kind in (t.LT, t.INSTANCE) else {}
        refs: list[str] = []
        if data:
            refs.append(str(data.get("ImageId", "")))
            ebs = [m.get("Ebs") or {} for m in data.get("BlockDeviceMappings", [])]
            refs += [str(e.get(k)) for e in ebs for k in ("SnapshotId", "VolumeId") if e.get(k)]
            profile = data.get("IamInstanceProfile") or {}
            refs += [
                str(v).rsplit("/", 1)[-1] for v in (profile.get("Arn"), profile.get("Name")) if v
            ]
        if r.kind in (t.DB, t.CLUSTER):
            refs += [
                f"pg:{g['DBParameterGroupName']}" for g in r.props.get("DBParameterGroups", [])
            ]
            refs.append(f"cpg:{r.props.get('DBClusterParameterGroup', '')}")
            refs += [
                f"og:{m.get('OptionGroupName')}" for m in r.props.get("OptionGroupMemberships", [])
            ]
            net = r.props.get("DBSubnetGroup")
            refs.append(f"sg:{net.get('DBSubnetGroupName') if isinstance(net, dict) else net}")
        for ref in refs:
            user.setdefault(ref, r.stack)
    return user


_PREFIXED = {
    t.DB_PARAMS: "pg:",
    t.CLUSTER_PARAMS: "cpg:",
    t.DB_SUBNETS: "sg:",
    t.OPTIONS: "og:",
    t.PROFILE: "",
}


def _owned(kept: list[Resource], by: dict[tuple[str, str], Resource]) -> None:
    """Images, snapshots, volumes, parameter and subnet groups, instance profiles: the stack
    of what uses them."""
    user = _users(kept)
    for r in kept:
        if r.kind == t.VOLUME:
            _volume(r, by, user)
        elif r.kind in _PREFIXED:
            r.stack = user.get(_PREFIXED[r.kind] + r.id, "")
    profiles = {r.id: r.stack for r in kept if r.kind == t.PROFILE}
    for r in kept:
        if r.kind == t.ROLE:
            r.stack = next((profiles[n] for n in r.names if profiles.get(n)), "")
        elif r.kind in (t.IMAGE, t.SNAPSHOT) and not r.stack:
            r.stack = user.get(r.id, "")


def _volume(r: Resource, by: dict[tuple[str, str], Resource], user: dict[str, str]) -> None:
    attached = (r.props.get("Attachments") or [{}])[0]
    inst = by.get((t.INSTANCE, attached.get("InstanceId", "")))
    r.stack = user.get(r.id, "")
    if inst is not None and attached.get("Device") == inst.props.get("RootDeviceName"):
        r.owner = f"the root volume of {inst.id} (from its image)"
    elif inst is not None and inst.owner:
        r.owner = f"made by the launch template of {inst.owner}"
    if r.props.get("SnapshotId"):
        user.setdefault(str(r.props["SnapshotId"]), r.stack)


def _referenced(kept: list[Resource]) -> list[Resource]:
    """Records pointing at a load balancer of the VPC, and their zones; the rest of the
    account's Route 53 is not this VPC's."""
    targets = [str(r.props.get("DNSName", "")).lower().rstrip(".") for r in kept if r.kind == t.LB]
    targets = [d for d in targets if d]
    zones: set[str] = set()
    out: list[Resource] = []
    for r in kept:
        if r.kind == t.RECORD:
            values = [str((r.props.get("AliasTarget") or {}).get("DNSName", ""))]
            values += [str(v.get("Value", "")) for v in r.props.get("ResourceRecords", [])]
            if not any(d in v.lower() for v in values for d in targets):
                continue
            zones.add(r.id.split(" ", 1)[0])
        out.append(r)
    return [r for r in out if r.kind != t.ZONE or r.id in zones]
