"""Capture and its ledger's sweep ask AWS each question once, on the hand-built world
(tests/handbuilt_world.py): its own module, since test_handbuilt_world.py's journey holds moto
for the whole of that module."""

from __future__ import annotations

import collections
import json
from typing import Any

import boto3
from moto import mock_aws

from handbuilt_world import REGION, VPC_TAGS, build_world
from relight.capture import capture, find_vpc

RECOVERY = "us-west-2"


def test_capture_asks_aws_each_question_once() -> None:
    """Capture and its ledger's sweep share what was read: no call is made twice with the same
    parameters (the sweep skips the NACLs, scheduled actions, hooks and attributes capture
    itself read; an AMI is described once)."""
    with mock_aws():
        build_world()
        asked: collections.Counter[tuple[str, str]] = collections.Counter()
        clients: dict[str, Any] = {}

        def factory(service: str) -> Any:
            if service not in clients:
                client = boto3.client(service, REGION)
                client.meta.events.register(
                    "before-parameter-build",
                    lambda params, model, **_: asked.update(
                        [(model.name, json.dumps(params, sort_keys=True, default=str))]
                    ),
                )
                clients[service] = client
            return clients[service]

        vpc = find_vpc(factory, VPC_TAGS)
        asked.clear()
        capture(
            factory,
            vpc_id=vpc,
            region=REGION,
            name="shop",
            recovery_regions=[RECOVERY],
            tags=VPC_TAGS,
        )
    twice = {call: n for call, n in asked.items() if n > 1}
    assert asked and not twice, twice
