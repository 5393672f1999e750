"""The price table standing costs are computed from, and the check of a file's overrides.

Prices are us-east-1 on-demand list prices (Linux, no reserved or savings plan
discount; RDS prices are PostgreSQL's, MySQL's are the same or slightly lower)
as of PRICES_AS_OF, from the pages in PRICES_SOURCE; docs/prices.md lists them
with their units. Another region, engine or discount: override prices in the
environment file, e.g. `prices: {"ec2:t3.small": 0.0250}`. A key the table lacks
is how an unlisted type gets a price (`prices: {"ec2:x2iedn.xlarge": 1.0}`).
What is priced, and how, is `relight.dr.costs`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

HOURS_PER_MONTH = 730


PRICES_AS_OF = "2025-01"


PRICES_SOURCE = (
    "https://aws.amazon.com/ec2/pricing/on-demand/",
    "https://aws.amazon.com/ebs/pricing/",
    "https://aws.amazon.com/vpc/pricing/",
    "https://aws.amazon.com/privatelink/pricing/",
    "https://aws.amazon.com/elasticloadbalancing/pricing/",
    "https://aws.amazon.com/rds/postgresql/pricing/",
    "https://aws.amazon.com/rds/aurora/pricing/",
    "https://aws.amazon.com/route53/pricing/",
    "https://aws.amazon.com/cloudwatch/pricing/",
)


# USD, us-east-1, on-demand; the unit of each key is unit(key).
PRICES: dict[str, float] = {
    # EC2 instances, Linux, per instance-hour
    "ec2:t3.nano": 0.0052,
    "ec2:t3.micro": 0.0104,
    "ec2:t3.small": 0.0208,
    "ec2:t3.medium": 0.0416,
    "ec2:t3.large": 0.0832,
    "ec2:t3.xlarge": 0.1664,
    "ec2:t3.2xlarge": 0.3328,
    "ec2:t3a.micro": 0.0094,
    "ec2:t3a.small": 0.0188,
    "ec2:t3a.medium": 0.0376,
    "ec2:t3a.large": 0.0752,
    "ec2:t4g.nano": 0.0042,
    "ec2:t4g.micro": 0.0084,
    "ec2:t4g.small": 0.0168,
    "ec2:t4g.medium": 0.0336,
    "ec2:t4g.large": 0.0672,
    "ec2:m5.large": 0.096,
    "ec2:m5.xlarge": 0.192,
    "ec2:m5.2xlarge": 0.384,
    "ec2:m6i.large": 0.096,
    "ec2:m6i.xlarge": 0.192,
    "ec2:m6g.large": 0.077,
    "ec2:m7i.large": 0.1008,
    "ec2:m7g.large": 0.0816,
    "ec2:c5.large": 0.085,
    "ec2:c6i.large": 0.085,
    "ec2:c6g.large": 0.068,
    "ec2:c7g.large": 0.0725,
    "ec2:r5.large": 0.126,
    "ec2:r6i.large": 0.126,
    "ec2:r6g.large": 0.1008,
    "ec2:r7g.large": 0.1071,
    # VPC
    "ec2:nat_gateway": 0.045,
    "ec2:public_ipv4": 0.005,
    "ec2:vpc_endpoint_interface": 0.01,
    # EBS, per GB-month (gp3: with its baseline 3,000 IOPS and 125 MB/s)
    "ebs:gp3": 0.08,
    "ebs:gp2": 0.10,
    "ebs:st1": 0.045,
    "ebs:sc1": 0.015,
    "ebs:standard": 0.05,
    # Elastic Load Balancing, per load balancer-hour, without capacity units
    "elb:application": 0.0225,
    "elb:network": 0.0225,
    "elb:gateway": 0.0125,
    # RDS for PostgreSQL, single-AZ, per instance-hour (Multi-AZ: twice)
    "rds:db.t3.micro": 0.018,
    "rds:db.t3.small": 0.036,
    "rds:db.t3.medium": 0.072,
    "rds:db.t3.large": 0.145,
    "rds:db.t4g.micro": 0.016,
    "rds:db.t4g.small": 0.032,
    "rds:db.t4g.medium": 0.065,
    "rds:db.t4g.large": 0.129,
    "rds:db.m5.large": 0.178,
    "rds:db.m5.xlarge": 0.356,
    "rds:db.m6i.large": 0.178,
    "rds:db.m6g.large": 0.159,
    "rds:db.m6g.xlarge": 0.318,
    "rds:db.r5.large": 0.25,
    "rds:db.r5.xlarge": 0.50,
    "rds:db.r6i.large": 0.25,
    "rds:db.r6g.large": 0.225,
    "rds:db.r6g.xlarge": 0.45,
    # RDS storage, single-AZ, per GB-month (Multi-AZ: twice)
    "rds:storage_gp3": 0.115,
    "rds:storage_gp2": 0.115,
    # Aurora (standard configuration), per instance-hour
    "aurora:db.t3.medium": 0.082,
    "aurora:db.t4g.medium": 0.073,
    "aurora:db.r5.large": 0.29,
    "aurora:db.r6g.large": 0.26,
    # Aurora Standard storage, per GB-month (counted for a global database's secondary only)
    "aurora:storage_standard": 0.10,
    # Route 53, per month; health checks of AWS endpoints (others cost more)
    "route53:health_check": 0.50,
    "route53:health_check_feature": 1.00,  # HTTPS, string matching, fast interval, latency
    "route53:hosted_zone": 0.50,
    # CloudWatch, per month
    "cloudwatch:alarm": 0.10,  # per metric of a standard-resolution alarm
    "cloudwatch:alarm_high_resolution": 0.30,  # per metric, period under 60 s
    "cloudwatch:composite_alarm": 0.50,
}


_UNITS = {
    "ec2:nat_gateway": "NAT gateway-hour",
    "ec2:public_ipv4": "address-hour",
    "ec2:vpc_endpoint_interface": "endpoint AZ-hour",
    "route53:health_check": "health check-month",
    "route53:health_check_feature": "feature-month",
    "route53:hosted_zone": "zone-month",
    "cloudwatch:composite_alarm": "alarm-month",
}


_UNITS_BY_SERVICE = {
    "ec2": "instance-hour",
    "rds": "instance-hour",
    "aurora": "instance-hour",
    "rds-cluster": "cluster-hour",
    "elb": "load balancer-hour",
    "ebs": "GB-month",
    "cloudwatch": "alarm metric-month",
}


_KEY = re.compile(r"[a-z0-9-]+:[A-Za-z0-9._-]+")


def unit(key: str) -> str:
    """What one price of `key` pays for, e.g. "instance-hour": per hour, or per month."""
    service, _, thing = key.partition(":")
    if key in _UNITS:
        return _UNITS[key]
    if thing.startswith("storage_"):
        return "GB-month"
    return _UNITS_BY_SERVICE.get(service, "unit")


def check_prices(prices: Mapping[str, float]) -> None:
    """Refuse an environment file's `prices:` overrides that are not `service:thing: USD >= 0`.

    A well-formed key the table lacks is welcome: it prices a type the table does not list.
    """
    for key, value in prices.items():
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise ValueError(
                f"prices.{key}: a price key reads service:thing, e.g. ec2:t3.small or "
                "rds:db.t4g.medium (see docs/prices.md)"
            )
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or value < 0:
            raise ValueError(
                f"prices.{key}: {value!r} is not a price: give USD per {unit(key)}, a number >= 0"
            )
