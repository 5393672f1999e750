"""An endpoint that fails is a relight error naming the operation and the endpoint, exit 1.

The endpoints here are real HTTP servers on 127.0.0.1 that fail as emulators and proxies do:
one answers every request with HTTP 500 and an HTML page (moto does so for an operation it
does not implement), one announces an answer and closes the connection halfway through it.
botocore turns the first into a ResponseParserError (XML services; not a BotoCoreError) or
a ClientError "500" (JSON services), and reads the second, unchecked, as a short answer:
each must reach the operator as an AwsError, never as "unexpected … please report it".
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from conftest import MINIMAL
from relight.aws.clients import Aws, AwsTarget
from relight.aws.failures import known_error
from relight.errors import AwsError
from relight.model.config import load_environment

# What werkzeug (and so moto's server) answers for an error it does not handle.
HTML_500 = (
    b"<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n"
    b"<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was "
    b"unable to complete your request.</p>\n"
)
# The start of an answer, JSON and XML alike: what arrives before the connection closes.
CUT_BODY = b'{"KeyMetadata": {"KeyId": "<?xml version="1.0"?><Descr'


class BrokenEndpoint:
    """An HTTP server on 127.0.0.1 that fails every request the same way; counts them.

    `html_500`: HTTP 500 with an HTML page. `cut`: HTTP 200 announcing 5,000 bytes, then the
    connection closes after the first few (JSON and XML alike, so every parser meets it).
    """

    def __init__(self, mode: str) -> None:
        self.requests = 0
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                endpoint.requests += 1
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if mode == "html_500":
                    self.send_response(500)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                    self.send_header("Content-Length", str(len(HTML_500)))
                    self.end_headers()
                    self.wfile.write(HTML_500)
                    return
                self.send_response(200)
                self.send_header("Content-Length", "5000")
                self.end_headers()
                self.wfile.write(CUT_BODY)
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def aws(self) -> Aws:
        """An Aws that asks this endpoint, once a call (no retry: the tests count requests)."""
        return Aws(AwsTarget(endpoint_url=self.url, max_attempts=0))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=["html_500", "cut"])
def broken(request: pytest.FixtureRequest) -> Iterator[BrokenEndpoint]:
    endpoint = BrokenEndpoint(request.param)
    yield endpoint
    endpoint.close()


def _names_the_call(error: AwsError, operation: str, endpoint: BrokenEndpoint) -> None:
    """The message says which operation failed at which endpoint, the hint what to do, and
    the cause is botocore's own exception (translated, not swallowed)."""
    assert f"{operation} at {endpoint.url}" in error.message, error.message
    assert error.hint and ("endpoint" in error.hint), error.hint
    assert error.exit_code == 1, "a failed endpoint is a failed operation, not bad input"
    assert type(error.__cause__).__module__.startswith("botocore")


def test_discovery_against_a_broken_endpoint_is_an_aws_error_naming_the_call(
    write_env: Any, broken: BrokenEndpoint
) -> None:
    from datetime import UTC, datetime

    from relight.steps.discovery import discover

    env = load_environment(str(write_env(MINIMAL)), "us-west-2").env
    with pytest.raises(AwsError) as caught:
        discover(
            broken.aws(), env, "us-west-2", account_id="123456789012", now=lambda: datetime.now(UTC)
        )
    _names_the_call(caught.value, "DescribeImages", broken)
    assert caught.value.message.startswith("cannot list Images in us-west-2: ")
    assert broken.requests == 1


def test_preflights_kms_check_against_a_broken_endpoint_is_an_aws_error_not_a_problem(
    write_env: Any, broken: BrokenEndpoint
) -> None:
    """A KMS that fails says nothing about the key: no "key not usable" problem (exit 2), an
    AwsError (exit 1) instead."""
    from relight.aws.cloudformation import Stacks
    from relight.steps.preflight import run_preflight
    from test_preflight import _discovery, _plan

    aws = broken.aws()
    stacks = Stacks(aws.client("cloudformation", "us-west-2"))
    with pytest.raises(AwsError) as caught:
        run_preflight(_plan(write_env), aws, _discovery(), stacks, accept_stale=False)
    _names_the_call(caught.value, "DescribeKey", broken)
    assert caught.value.message.startswith("cannot check KMS key alias/shop in us-west-2: ")
    assert aws.calls == {"kms": 1} == {"kms": broken.requests}


def test_verification_against_a_broken_endpoint_stops_with_an_aws_error(
    write_env: Any, broken: BrokenEndpoint
) -> None:
    from relight.steps.verify import verify
    from test_verify import _on_aws

    plan, found, outcome = _on_aws(write_env)
    with pytest.raises(AwsError) as caught:
        verify(broken.aws(), plan, found, outcome, stand_in=False, sleep=lambda _: None)
    _names_the_call(caught.value, "ListStackResources", broken)
    assert caught.value.message.startswith("verification of shop-network (deployed) stopped: ")
    assert broken.requests == 1, "a failed endpoint answers no other check: nothing more asked"


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("html_500", "the answer could not be read (Unable to parse response"),
        ("cut", f"the answer was cut short ({len(CUT_BODY)} of the 5000 bytes announced arrived"),
    ],
)
def test_the_message_says_what_the_endpoint_did(mode: str, said: str, write_env: Any) -> None:
    from datetime import UTC, datetime

    from relight.steps.discovery import discover

    endpoint = BrokenEndpoint(mode)
    env = load_environment(str(write_env(MINIMAL)), "us-west-2").env
    try:
        with pytest.raises(AwsError) as caught:
            discover(
                endpoint.aws(), env, "us-west-2", account_id="1", now=lambda: datetime.now(UTC)
            )
    finally:
        endpoint.close()
    assert said in caught.value.message
    if mode == "html_500":  # the page's title, not its markup
        assert caught.value.message.endswith("it began: 500 Internal Server Error)")


def test_a_json_services_http_500_page_names_the_status_and_the_endpoint() -> None:
    """KMS speaks JSON: botocore makes the HTML page a ClientError "500", retried as a
    server error; every attempt is a request the endpoint received and is counted."""
    endpoint = BrokenEndpoint("html_500")
    aws = Aws(AwsTarget(endpoint_url=endpoint.url, max_attempts=1))
    kms = aws.client("kms", "us-west-2")
    try:
        with pytest.raises(Exception) as caught:
            kms.describe_key(KeyId="alias/shop")
    finally:
        endpoint.close()
    error = known_error(caught.value)
    assert isinstance(error, AwsError)
    assert error.message == (
        f"an AWS call failed: DescribeKey at {endpoint.url}: HTTP 500 (500 Internal Server Error)"
    )
    assert (aws.total_calls, aws.retries) == (2, 1) == (endpoint.requests, 1)


def test_the_cli_says_which_call_failed_where_and_exits_1_never_please_report_it(
    write_env: Any, broken: BrokenEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    from relight.cli import app

    monkeypatch.setenv("AWS_ENDPOINT_URL", broken.url)
    path = write_env(MINIMAL)
    result = CliRunner().invoke(
        app, ["discover", "--env", str(path), "--region", "us-west-2", "--aws"]
    )
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert f"GetCallerIdentity at {broken.url}" in output, output
    assert "please report it" not in output and "unexpected" not in output
