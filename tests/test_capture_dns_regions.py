"""`relight capture` with several recovery regions writes the dns stack with `regions:` naming
the first: a name has one SECONDARY record, and the file it writes must render."""

from __future__ import annotations

from pathlib import Path

import boto3
import yaml
from moto import mock_aws

from relight.capture import capture
from relight.model.config import load_environment
from relight.steps.render import build_plan
from test_capture_more import REGION, _alias, _production, _zone


def test_with_two_recovery_regions_the_captured_pair_stands_in_the_first(tmp_path: Path) -> None:
    with mock_aws():
        prod = _production()
        lb = boto3.client("elbv2", REGION).describe_load_balancers()["LoadBalancers"][0]
        _zone("shop.example.com", [_alias(lb["CanonicalHostedZoneId"], "www.shop.example.com",
                                          lb["DNSName"])])  # fmt: skip
        result = capture(
            lambda service: boto3.client(service, REGION),
            vpc_id=prod["vpc"],
            region=REGION,
            name="shop",
            recovery_regions=["us-west-2", "eu-west-1"],
            account_id="123456789012",
            stand_in=True,
        )
    dns = yaml.safe_load(result.text)["stacks"]["dns"]
    assert dns["regions"] == ["us-west-2"]
    assert "# a name has one SECONDARY record: it stands in us-west-2 only" in result.text
    path = tmp_path / "shop.yaml"
    path.write_text(result.text)
    loaded = load_environment(str(path))
    assert "dns" in build_plan(loaded, "us-west-2", stand_in=True, strategy="pilot_light").prepared
    elsewhere = build_plan(loaded, "eu-west-1", stand_in=True, strategy="pilot_light")
    assert elsewhere.skipped["dns"] == "regions: us-west-2: it stands only there"
