"""Verification: evidence from AWS that the rebuilt environment works, never a pass by default."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from conftest import MINIMAL, moto_web_inputs
from relight.aws import Aws, AwsTarget
from relight.cloudformation import Stacks
from relight.config import load_environment
from relight.deploy import deploy
from relight.discovery import Artifact, Discovery
from relight.render import build_plan
from relight.verify import verified, verify


def _built(write_env: Any) -> tuple[Any, Discovery, Any]:
    found = moto_web_inputs()
    plan = build_plan(load_environment(str(write_env(MINIMAL)), "us-west-2"), "us-west-2")
    outcome = deploy(
        Stacks(boto3.client("cloudformation", "us-west-2"), timeout=30), plan, found, run_id="v"
    )
    assert outcome.ok, outcome.failed()
    return plan, found, outcome


def test_a_good_rebuild_passes_with_evidence(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=False)
        results = {c.check: (c.result, c.detail) for c in checks}
        assert results["instances running"] == ("passed", "2 of 2")
        assert results["instances made from the expected AMI"][0] == "passed"
        assert results["data volumes from the expected snapshot"][0] == "passed"
        assert verified(checks)


def test_instances_from_another_ami_fail_verification(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        art = found.artifacts["web_ami"]
        found.artifacts["web_ami"] = Artifact(
            "web_ami", "ami", "ami-0other", art.region, art.created, 1
        )
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=False)
        wrong = next(c for c in checks if c.check == "instances made from the expected AMI")
        assert wrong.result == "failed"
        assert "found ami-" in wrong.detail
        assert not verified(checks)


def test_on_the_stand_in_what_moto_fakes_is_not_simulated_never_passed(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=True)
        status = next(c for c in checks if c.check.startswith("instance status checks"))
        assert status.result == "not simulated locally"


def test_a_stack_that_was_not_built_is_a_failed_check(write_env: Any) -> None:
    with mock_aws():
        plan, found, outcome = _built(write_env)
        outcome.results["web"].action = "failed"
        checks = verify(Aws(AwsTarget()), plan, found, outcome, stand_in=False)
        assert ("stack complete", "web", "failed") in {(c.check, c.stack, c.result) for c in checks}
        assert not verified(checks)


def test_nothing_checked_is_not_verified() -> None:
    assert not verified([])


def test_a_redirect_to_https_counts_as_an_answer_and_is_not_followed() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from relight.verify import _http_status

    class Redirecting(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(301)
            self.send_header("Location", "https://127.0.0.1:1/health")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert _http_status(f"http://127.0.0.1:{server.server_port}/health") == 301
        assert _http_status("http://127.0.0.1:1/nothing-listens") == 0
    finally:
        server.shutdown()
