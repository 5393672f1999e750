"""How capture reads Route 53's answers, as Route 53 documents them (docs/aws-behaviours.md,
D5): names come back lower case and fully qualified (a trailing dot), a wildcard's `*` as
the octal escape `\\052`, and an alias to a load balancer names its DNS name, often with
the `dualstack.` prefix. moto keeps names as they were given, so botocore's Stubber (which
checks the answers against Route 53's API model) plays Route 53 here."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber

from relight.capture.dns import _dns_target, _points_at, _record_name, _route53_records

LB = "Shop-LB-1234567890.us-east-1.elb.amazonaws.com"
ZONE = {"Id": "/hostedzone/Z1", "Name": "shop.example.com.", "CallerReference": "r"}


def _alias(name: str, target: str) -> dict[str, Any]:
    return {
        "Name": name,
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": "Z35SXDOTRQ7X7K",
            "DNSName": target,
            "EvaluateTargetHealth": True,
        },
    }


def test_route53s_own_forms_of_a_record_pointing_at_the_load_balancer() -> None:
    route53 = boto3.client(
        "route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stub = Stubber(route53)
    stub.add_response(
        "list_hosted_zones",
        {"HostedZones": [ZONE], "IsTruncated": False, "Marker": "", "MaxItems": "100"},
    )
    records = [
        _alias("\\052.shop.example.com.", f"dualstack.{LB.lower()}."),
        _alias("www.shop.example.com.", f"{LB.lower()}."),
        {
            "Name": "api.shop.example.com.",
            "Type": "CNAME",
            "TTL": 60,
            "ResourceRecords": [{"Value": LB.lower()}],
        },
        _alias("cdn.shop.example.com.", "d111111abcdef8.cloudfront.net."),
    ]
    stub.add_response(
        "list_resource_record_sets",
        {"ResourceRecordSets": records, "IsTruncated": False, "MaxItems": "300"},
        {"HostedZoneId": "/hostedzone/Z1"},
    )
    notes: list[Any] = []
    with stub:
        found = _route53_records(lambda service: route53, notes)
    assert notes == [] and found is not None
    # ELB gives the load balancer's DNS name with capitals; Route 53 answers in lower case
    target = _dns_target(LB)
    pointing = [_record_name(r["Name"]) for _, r in found if _points_at(r, target)]
    assert pointing == ["*.shop.example.com.", "www.shop.example.com.", "api.shop.example.com."]
