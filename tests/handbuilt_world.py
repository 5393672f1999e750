"""A production relight has never seen, built the way its owners built it: by hand, with plain
boto3, in us-east-1 (issue 21's "Done when").

Written as an outside user would write it, with none of the other fixtures' helpers: a VPC
tagged `team=shop`, `env=prod`; three tiers in two AZs whose public subnets map a public IPv4
at launch; an S3 gateway endpoint on the private tier's route tables only; a custom network
ACL on the data tier (5432 from the private subnets, nothing else); security groups; an ALB
with an HTTP and an HTTPS listener (an ACM certificate for shop.example.com); a target group
with matcher 200-299 and unhealthy threshold 5; a launch template with a 50 GiB gp3 data
volume and no snapshot; an Auto Scaling group (ELB health checks, 120 s grace period) with a
scheduled action for weekday mornings; an encrypted RDS instance (a customer managed KMS key)
with backups and a nightly snapshot; and a Route 53 alias record to the ALB.

`build_world()` runs inside moto's `mock_aws()` and returns what a test needs to find it all
again (the `World`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

REGION = "us-east-1"
DOMAIN = "shop.example.com"
VPC_TAGS = {"team": "shop", "env": "prod"}
CIDRS = {
    "public": ["10.70.0.0/24", "10.70.1.0/24"],
    "private": ["10.70.10.0/24", "10.70.11.0/24"],
    "data": ["10.70.20.0/24", "10.70.21.0/24"],
}
DATA_VOLUME = {"VolumeSize": 50, "VolumeType": "gp3", "Iops": 3000, "Throughput": 125}
MORNINGS = {"recurrence": "0 7 * * 1-5", "min_size": 4, "max_size": 8, "desired": 4}


@dataclass
class World:
    """The ids of what `build_world` made, by what they are."""

    vpc: str
    subnets: dict[str, list[str]]
    route_tables: dict[str, list[str]]
    nacl: str
    endpoint: str
    groups: dict[str, str]
    certificate: str
    load_balancer: str
    load_balancer_dns: str
    target_group: str
    listeners: list[str]
    ami: str
    launch_template: str
    asg: str
    scheduled_action: str
    kms_key: str
    database: str
    db_snapshot: str
    hosted_zone: str
    extra: dict[str, Any] = field(default_factory=dict)


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def build_world(region: str = REGION) -> World:
    """Build the whole production in `region` with plain boto3 (inside `mock_aws()`)."""
    ec2 = boto3.client("ec2", region)
    vpc = ec2.create_vpc(
        CidrBlock="10.70.0.0/16",
        TagSpecifications=[
            {"ResourceType": "vpc", "Tags": _tags({**VPC_TAGS, "Name": "shop-prod"})}
        ],
    )["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    zones = ec2.describe_availability_zones()["AvailabilityZones"][:2]

    subnets: dict[str, list[str]] = {}
    for tier, blocks in CIDRS.items():
        for zone, block in zip(zones, blocks, strict=True):
            subnet = ec2.create_subnet(
                VpcId=vpc,
                CidrBlock=block,
                AvailabilityZoneId=zone["ZoneId"],
                TagSpecifications=[
                    {
                        "ResourceType": "subnet",
                        "Tags": _tags({"Name": f"shop-{tier}-{zone['ZoneName'][-1]}"}),
                    }
                ],
            )["Subnet"]["SubnetId"]
            subnets.setdefault(tier, []).append(subnet)
            if tier == "public":
                ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})

    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets["public"][0], AllocationId=eip)["NatGateway"]

    # one public table, one private table per AZ (both through the one NAT), one data table
    route_tables: dict[str, list[str]] = {"public": [], "private": [], "data": []}
    public = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    route_tables["public"].append(public)
    for subnet in subnets["public"]:
        ec2.associate_route_table(RouteTableId=public, SubnetId=subnet)
    for subnet in subnets["private"]:
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(
            RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGatewayId"]
        )
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        route_tables["private"].append(table)
    data_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    route_tables["data"].append(data_table)
    for subnet in subnets["data"]:
        ec2.associate_route_table(RouteTableId=data_table, SubnetId=subnet)

    # S3 through a gateway endpoint, from the private tier only (the data tier has no way out)
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{region}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=route_tables["private"],
    )["VpcEndpoint"]["VpcEndpointId"]

    nacl = _data_tier_nacl(ec2, vpc, subnets)
    groups = _security_groups(ec2, vpc)
    certificate, lb, lb_dns, tg, listeners = _load_balancer(region, vpc, subnets, groups)
    ami = _golden_image(ec2)
    template, asg, action = _fleet(region, ec2, ami, groups, subnets, tg)
    kms_key, database, snapshot = _database(region, subnets, groups)
    zone = _dns(lb, region)
    return World(
        vpc=vpc,
        subnets=subnets,
        route_tables=route_tables,
        nacl=nacl,
        endpoint=endpoint,
        groups=groups,
        certificate=certificate,
        load_balancer=lb,
        load_balancer_dns=lb_dns,
        target_group=tg,
        listeners=listeners,
        ami=ami,
        launch_template=template,
        asg=asg,
        scheduled_action=action,
        kms_key=kms_key,
        database=database,
        db_snapshot=snapshot,
        hosted_zone=zone,
        extra={"igw": igw, "nat": nat["NatGatewayId"], "eip": eip},
    )


def _data_tier_nacl(ec2: Any, vpc: str, subnets: dict[str, list[str]]) -> str:
    """The data tier's own network ACL: PostgreSQL in from the private subnets, the replies
    out to them, everything else denied (explicitly, and by the ACL's final `*` rule)."""
    nacl = ec2.create_network_acl(
        VpcId=vpc,
        TagSpecifications=[{"ResourceType": "network-acl", "Tags": _tags({"Name": "shop-data"})}],
    )["NetworkAcl"]["NetworkAclId"]
    for number, block in enumerate(CIDRS["private"], start=1):
        ec2.create_network_acl_entry(
            NetworkAclId=nacl,
            RuleNumber=100 + number * 10,
            Protocol="6",
            RuleAction="allow",
            Egress=False,
            CidrBlock=block,
            PortRange={"From": 5432, "To": 5432},
        )
        ec2.create_network_acl_entry(
            NetworkAclId=nacl,
            RuleNumber=100 + number * 10,
            Protocol="6",
            RuleAction="allow",
            Egress=True,
            CidrBlock=block,
            PortRange={"From": 1024, "To": 65535},
        )
    for egress in (False, True):
        ec2.create_network_acl_entry(
            NetworkAclId=nacl,
            RuleNumber=200,
            Protocol="-1",
            RuleAction="deny",
            Egress=egress,
            CidrBlock="0.0.0.0/0",
        )
    # a subnet is always associated with one ACL: move the data subnets off the default one
    current = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": subnets["data"]}]
    )["NetworkAcls"]
    for acl in current:
        for association in acl["Associations"]:
            if association["SubnetId"] in subnets["data"]:
                ec2.replace_network_acl_association(
                    AssociationId=association["NetworkAclAssociationId"], NetworkAclId=nacl
                )
    return str(nacl)


def _security_groups(ec2: Any, vpc: str) -> dict[str, str]:
    """lb (80 and 443 from anywhere) → web (8080) → db (5432); explicit egress everywhere."""
    described = {"lb": "shop load balancer", "web": "shop web servers", "db": "shop database"}
    groups = {
        name: ec2.create_security_group(GroupName=f"shop-{name}", Description=text, VpcId=vpc)[
            "GroupId"
        ]
        for name, text in described.items()
    }
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    for gid in groups.values():
        ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=everything)

    def tcp(port: int, peer: str, why: str) -> dict[str, Any]:
        if peer.startswith("sg-"):
            peers: dict[str, Any] = {"UserIdGroupPairs": [{"GroupId": peer, "Description": why}]}
        else:
            peers = {"IpRanges": [{"CidrIp": peer, "Description": why}]}
        return {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **peers}

    lb, web, db = groups["lb"], groups["web"], groups["db"]
    ec2.authorize_security_group_ingress(
        GroupId=lb,
        IpPermissions=[tcp(80, "0.0.0.0/0", "http"), tcp(443, "0.0.0.0/0", "https")],
    )
    ec2.authorize_security_group_egress(GroupId=lb, IpPermissions=[tcp(8080, web, "to web")])
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[tcp(8080, lb, "from lb")])
    ec2.authorize_security_group_egress(
        GroupId=web,
        IpPermissions=[tcp(443, "0.0.0.0/0", "https out"), tcp(5432, db, "to the database")],
    )
    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[tcp(5432, web, "from web")])
    return groups


def _load_balancer(
    region: str, vpc: str, subnets: dict[str, list[str]], groups: dict[str, str]
) -> tuple[str, str, str, str, list[str]]:
    """The ALB: a certificate for the domain, a target group with its own matcher and
    thresholds, HTTP on 80 and HTTPS on 443, both forwarding to it."""
    certificate = boto3.client("acm", region).request_certificate(
        DomainName=DOMAIN, ValidationMethod="DNS", SubjectAlternativeNames=[f"www.{DOMAIN}"]
    )["CertificateArn"]
    elbv2 = boto3.client("elbv2", region)
    lb = elbv2.create_load_balancer(
        Name="shop-prod",
        Subnets=subnets["public"],
        SecurityGroups=[groups["lb"]],
        Scheme="internet-facing",
        Type="application",
    )["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name="shop-web",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc,
        TargetType="instance",
        HealthCheckProtocol="HTTP",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=30,
        HealthCheckTimeoutSeconds=5,
        HealthyThresholdCount=5,
        UnhealthyThresholdCount=5,
        Matcher={"HttpCode": "200-299"},
    )["TargetGroups"][0]["TargetGroupArn"]
    forward = [{"Type": "forward", "TargetGroupArn": tg}]
    listeners = [
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80, DefaultActions=forward
        )["Listeners"][0]["ListenerArn"],
        elbv2.create_listener(
            LoadBalancerArn=lb["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=forward,
        )["Listeners"][0]["ListenerArn"],
    ]
    return certificate, lb["LoadBalancerArn"], lb["DNSName"], tg, listeners


def _golden_image(ec2: Any) -> str:
    """The web servers' AMI, baked from a builder instance and tagged as the team tags it."""
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    base = images[0]["ImageId"] if images else "ami-12c6146b"  # moto accepts any id
    builder = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1)["Instances"][0]
    ami = ec2.create_image(InstanceId=builder["InstanceId"], Name="shop-web-2026-12-01")["ImageId"]
    ec2.create_tags(Resources=[ami], Tags=_tags({"Role": "web", "team": "shop"}))
    ec2.terminate_instances(InstanceIds=[builder["InstanceId"]])
    return str(ami)


def _fleet(
    region: str,
    ec2: Any,
    ami: str,
    groups: dict[str, str],
    subnets: dict[str, list[str]],
    tg: str,
) -> tuple[str, str, str]:
    """The web fleet: a launch template whose data volume is created empty (50 GiB gp3, no
    snapshot), an ASG on ELB health checks with a 120 s grace period, and a scheduled action
    that scales it up on weekday mornings."""
    template = ec2.create_launch_template(
        LaunchTemplateName="shop-web",
        LaunchTemplateData={
            "ImageId": ami,
            "InstanceType": "t3.small",
            "SecurityGroupIds": [groups["web"]],
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled"},
            "BlockDeviceMappings": [
                {
                    "DeviceName": "/dev/sdf",
                    "Ebs": {**DATA_VOLUME, "Encrypted": True, "DeleteOnTermination": True},
                }
            ],
        },
    )["LaunchTemplate"]["LaunchTemplateId"]
    autoscaling = boto3.client("autoscaling", region)
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="shop-web",
        LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
        MinSize=2,
        MaxSize=6,
        DesiredCapacity=2,
        VPCZoneIdentifier=",".join(subnets["private"]),
        TargetGroupARNs=[tg],
        HealthCheckType="ELB",
        HealthCheckGracePeriod=120,
        Tags=[{"Key": "Role", "Value": "web", "PropagateAtLaunch": True}],
    )
    autoscaling.put_scheduled_update_group_action(
        AutoScalingGroupName="shop-web",
        ScheduledActionName="weekday-mornings",
        Recurrence=MORNINGS["recurrence"],
        MinSize=MORNINGS["min_size"],
        MaxSize=MORNINGS["max_size"],
        DesiredCapacity=MORNINGS["desired"],
    )
    return str(template), "shop-web", "weekday-mornings"


def _database(
    region: str, subnets: dict[str, list[str]], groups: dict[str, str]
) -> tuple[str, str, str]:
    """PostgreSQL, Multi-AZ, encrypted with the team's own KMS key, 7 days of backups, and
    the nightly snapshot a backup job takes."""
    kms = boto3.client("kms", region)
    key = kms.create_key(Description="shop-prod database")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/shop-prod-db", TargetKeyId=key)
    rds = boto3.client("rds", region)
    rds.create_db_subnet_group(
        DBSubnetGroupName="shop-data",
        DBSubnetGroupDescription="the data tier",
        SubnetIds=subnets["data"],
    )
    rds.create_db_instance(
        DBInstanceIdentifier="shop-orders",
        Engine="postgres",
        DBInstanceClass="db.t4g.medium",
        AllocatedStorage=50,
        MultiAZ=True,
        DBSubnetGroupName="shop-data",
        VpcSecurityGroupIds=[groups["db"]],
        StorageEncrypted=True,
        KmsKeyId=key,
        BackupRetentionPeriod=7,
        MasterUsername="shop",
        MasterUserPassword="not-a-real-secret-1",
    )
    rds.create_db_snapshot(
        DBSnapshotIdentifier="shop-orders-nightly", DBInstanceIdentifier="shop-orders"
    )
    return str(key), "shop-orders", "shop-orders-nightly"


def _dns(lb_arn: str, region: str) -> str:
    """shop.example.com: an alias A record to the ALB in a public hosted zone."""
    lb = boto3.client("elbv2", region).describe_load_balancers(LoadBalancerArns=[lb_arn])[
        "LoadBalancers"
    ][0]
    route53 = boto3.client("route53", region)
    zone = route53.create_hosted_zone(Name=DOMAIN, CallerReference="shop-prod")["HostedZone"]["Id"]
    route53.change_resource_record_sets(
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": DOMAIN,
                        "Type": "A",
                        "AliasTarget": {
                            "HostedZoneId": lb["CanonicalHostedZoneId"],
                            "DNSName": f"dualstack.{lb['DNSName']}",
                            "EvaluateTargetHealth": True,
                        },
                    },
                }
            ]
        },
    )
    return str(zone)
