"""security: security groups declared as a graph of who may talk to whom.

    groups:
      lb:  {ingress: [{cidr: 0.0.0.0/0, ports: [80, 443]}], egress: [{group: web, port: 8080}]}
      web: {ingress: [{group: lb, port: 8080}],
            egress: [{cidr: 0.0.0.0/0, port: 443}, {group: db, port: 5432}]}
      db:  {ingress: [{group: web, port: 5432}], egress: []}

Every rule carries a description (one is written when none is given). Egress
is explicit: a group's egress is exactly its list, and an empty list means no
egress at all (AWS's default allow-all is replaced). Rules between groups are
separate resources, so groups may reference each other in both directions.
SSH, RDP and database ports are never open to 0.0.0.0/0 or ::/0.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated

from pydantic import Field, model_validator
from troposphere import GetAtt, Join, Output, Parameter, Ref, Tags, Template, ec2

from relight.blueprint import Options, blueprint, no_egress, scan_skips

WORLD = {"0.0.0.0/0", "::/0"}
SENSITIVE_PORTS = {
    22: "SSH",
    3389: "RDP",
    1433: "SQL Server",
    1521: "Oracle",
    3306: "MySQL",
    5432: "PostgreSQL",
    5439: "Redshift",
    6379: "Redis",
    9042: "Cassandra",
    11211: "Memcached",
    27017: "MongoDB",
}


Port = Annotated[int, Field(ge=0, le=65535)]


class Rule(Options):
    cidr: str | None = None
    group: str | None = None
    prefix_list: str | None = None
    port: Port | None = None
    ports: list[Port] = Field(default_factory=list)
    port_range: tuple[Port, Port] | None = None
    protocol: str = Field(default="tcp", pattern=r"^(tcp|udp|icmp|icmpv6|-1)$")
    description: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _one_peer_and_ports(self) -> Rule:
        peers = [p for p in (self.cidr, self.group, self.prefix_list) if p is not None]
        if len(peers) != 1:
            raise ValueError("a rule names exactly one of cidr, group or prefix_list")
        if self.cidr is not None:
            try:
                ipaddress.ip_network(self.cidr, strict=True)
            except ValueError as exc:
                raise ValueError(f"cidr {self.cidr!r} is not a CIDR block ({exc})") from None
        given = sum(x is not None and x != [] for x in (self.port, self.ports, self.port_range))
        if self.protocol == "-1":
            if given:
                raise ValueError("protocol -1 (all traffic) takes no ports")
        elif given != 1:
            raise ValueError("give exactly one of port, ports or port_range")
        if self.port_range is not None and self.port_range[0] > self.port_range[1]:
            low, high = self.port_range
            raise ValueError(
                f"port_range [{low}, {high}]: the low end is above the high end (AWS refuses "
                f"it); write [{high}, {low}]"
            )
        return self

    def ranges(self) -> list[tuple[int, int]]:
        if self.protocol == "-1":
            return [(-1, -1)]
        if self.port is not None:
            return [(self.port, self.port)]
        if self.port_range is not None:
            return [self.port_range]
        return [(p, p) for p in self.ports]

    def exposes(self) -> list[str]:
        """Sensitive services this rule opens to the whole internet."""
        if self.cidr not in WORLD:
            return []
        exposed = []
        for low, high in self.ranges():
            for port, service in SENSITIVE_PORTS.items():
                if low == -1 or low <= port <= high:
                    exposed.append(f"{service} ({port})")
        return exposed


class Group(Options):
    description: str = ""
    ingress: list[Rule] = Field(default_factory=list)
    egress: list[Rule] = Field(default_factory=list)


class SecurityOptions(Options):
    groups: dict[str, Group] = Field(min_length=1)

    @model_validator(mode="after")
    def _graph_is_sound(self) -> SecurityOptions:
        for name, group in self.groups.items():
            if not re.fullmatch(r"[a-z][a-z0-9]*", name):
                raise ValueError(f"groups.{name}: names are lower case letters and digits")
            for direction in ("ingress", "egress"):
                for index, rule in enumerate(getattr(group, direction)):
                    where = f"groups.{name}.{direction}.{index}"
                    if rule.group is not None and rule.group not in self.groups:
                        raise ValueError(
                            f"{where}: unknown group {rule.group!r}; groups: "
                            + ", ".join(self.groups)
                        )
                    exposed = rule.exposes()
                    if exposed and direction == "ingress":
                        raise ValueError(
                            f"{where}: {', '.join(exposed)} may not be open to {rule.cidr}; "
                            "reach instances through Systems Manager and databases from "
                            "their application's group"
                        )
        return self


def _world_open(rule: Rule) -> dict[str, str]:
    """A world-open rule was declared on purpose; sensitive ports were refused above."""
    why = (
        f"declared open to {rule.cidr} in the environment's security graph"
        + (f" ({rule.description})" if rule.description else "")
        + "; SSH, RDP and database ports are refused by the blueprint"
    )
    return {"CKV_AWS_260": why}


def _logical(name: str) -> str:
    return name.capitalize()


def _describe(direction: str, rule: Rule, low: int, high: int) -> str:
    if rule.description:
        return rule.description
    peer = rule.cidr or (f"group {rule.group}" if rule.group else rule.prefix_list)
    what = "all traffic" if low == -1 else (f"port {low}" if low == high else f"ports {low}-{high}")
    towards = "from" if direction == "ingress" else "to"
    protocol = "" if low == -1 else f"{rule.protocol} "
    return f"{protocol}{what} {towards} {peer}"


def _ports(low: int, high: int) -> dict[str, int]:
    """FromPort/ToPort, left out for all traffic (protocol -1), which takes none: EC2 ignores
    them there and cfn-lint warns W3687."""
    return {} if low == -1 else {"FromPort": low, "ToPort": high}


def _peer(rule: Rule, groups: dict[str, ec2.SecurityGroup], direction: str) -> dict[str, object]:
    if rule.group is not None:
        key = "SourceSecurityGroupId" if direction == "ingress" else "DestinationSecurityGroupId"
        return {key: GetAtt(groups[rule.group], "GroupId")}
    if rule.prefix_list is not None:
        key = "SourcePrefixListId" if direction == "ingress" else "DestinationPrefixListId"
        return {key: rule.prefix_list}
    assert rule.cidr is not None
    return {"CidrIpv6" if ":" in rule.cidr else "CidrIp": rule.cidr}


@blueprint(
    "security",
    sample={
        "groups": {
            "lb": {
                "description": "load balancer",
                "ingress": [{"cidr": "0.0.0.0/0", "ports": [80, 443]}],
                "egress": [{"group": "web", "port": 8080}],
            },
            "web": {
                "description": "web servers",
                "ingress": [{"group": "lb", "port": 8080}],
                "egress": [
                    {"cidr": "0.0.0.0/0", "port": 443, "description": "HTTPS to AWS APIs"},
                    {"group": "db", "port": 5432},
                ],
            },
            "db": {"description": "database", "ingress": [{"group": "web", "port": 5432}]},
        }
    },
)
def security(options: SecurityOptions) -> Template:
    """Security groups as a graph: every rule described, egress explicit, no world-open admin."""
    t = Template(Description="relight security groups")
    vpc = t.add_parameter(Parameter("VpcId", Type="AWS::EC2::VPC::Id"))
    groups: dict[str, ec2.SecurityGroup] = {}
    for name, group in options.groups.items():
        # Egress rules that name no group live on the group itself; an empty list gets a rule
        # that matches nothing, which is how AWS's default allow-all egress is removed.
        inline = [
            ec2.SecurityGroupRule(
                IpProtocol=rule.protocol,
                **_ports(low, high),
                Description=_describe("egress", rule, low, high),
                **_peer(rule, {}, "egress"),
            )
            for rule in group.egress
            if rule.group is None
            for low, high in rule.ranges()
        ] or [no_egress()]
        groups[name] = t.add_resource(
            ec2.SecurityGroup(
                f"{_logical(name)}SecurityGroup",
                GroupDescription=group.description or f"relight {name}",
                VpcId=Ref(vpc),
                SecurityGroupEgress=inline,
                Tags=Tags(Name=Join("-", [Ref("AWS::StackName"), name])),
            )
        )
    for name, group in options.groups.items():
        for direction in ("ingress", "egress"):
            for index, rule in enumerate(getattr(group, direction), start=1):
                if direction == "egress" and rule.group is None:
                    continue
                for part, (low, high) in enumerate(rule.ranges(), start=1):
                    kind = (
                        ec2.SecurityGroupIngress
                        if direction == "ingress"
                        else ec2.SecurityGroupEgress
                    )
                    extra = {}
                    if rule.cidr in WORLD and direction == "ingress":
                        extra["Metadata"] = scan_skips(_world_open(rule))
                    t.add_resource(
                        kind(
                            f"{_logical(name)}{direction.capitalize()}{index}x{part}",
                            **extra,
                            GroupId=GetAtt(groups[name], "GroupId"),
                            IpProtocol=rule.protocol,
                            **_ports(low, high),
                            Description=_describe(direction, rule, low, high),
                            **_peer(rule, groups, direction),
                        )
                    )
        t.add_output(
            Output(f"{_logical(name)}SecurityGroupId", Value=GetAtt(groups[name], "GroupId"))
        )
    return t
