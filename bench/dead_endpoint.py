"""What a dead home-region endpoint costs a failover: the bounded read relight uses for the
home region's hint (and for Route 53 and IAM, whose control planes live in us-east-1) against
the client every other call uses, measured in the same run, on two kinds of dead endpoint:

- refused: nothing listens (a region whose endpoint answers with RST);
- black hole: the connection is accepted and never answered (a region that has gone quiet).

The normal client against the black hole is not run (it would wait its read timeout on every
attempt): its figure is computed from its configuration and says so.
Usage: .venv/bin/python bench/dead_endpoint.py
       .venv/bin/python bench/dead_endpoint.py --quick   (the bounded reads only: the suite's check
                                                      that this script still works)
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

from botocore.exceptions import BotoCoreError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from relight.aws.clients import Aws, AwsTarget
from relight.aws.failures import unreachable


def refused_url() -> str:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


def black_hole_url() -> str:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}"


def seconds(url: str, bounded: bool) -> float:
    """How long one DescribeImages takes to fail against `url` (it must fail by not answering)."""
    client = Aws(AwsTarget(endpoint_url=url)).client("ec2", "us-east-1", bounded=bounded)
    start = time.perf_counter()
    try:
        client.describe_images(Owners=["self"])
    except BotoCoreError as exc:
        if not unreachable(exc):
            raise
    return time.perf_counter() - start


def main() -> None:
    # Throwaway credentials: the calls must fail on the endpoint, not on finding credentials.
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(variable, None)
    refused = refused_url()
    config = Aws(AwsTarget()).client("ec2", "us-east-1").meta.config
    attempts = config.retries["total_max_attempts"]  # botocore: first try + retries
    if "--quick" in sys.argv[1:]:  # the normal client takes ~30 s of backoff here
        bounded = seconds(refused, True)
        print(f"refused endpoint    : bounded {bounded:.3f} s (1 attempt); normal client not run")
    else:
        normal, bounded = seconds(refused, False), seconds(refused, True)
        print(
            f"refused endpoint    : normal client {normal:6.2f} s ({attempts} attempts, backoff), "
            f"bounded {bounded:.3f} s (1 attempt), both measured"
        )
    hole = black_hole_url()
    bounded = seconds(hole, True)
    computed = attempts * config.read_timeout
    print(
        f"black-hole endpoint : bounded {bounded:5.2f} s measured (1 attempt, "
        f"{AwsTarget().bounded_seconds:g} s read); normal client not run: at least "
        f"{attempts} attempts x {config.read_timeout} s read = {computed / 60:.0f} min, "
        "computed from its configuration, not measured"
    )


if __name__ == "__main__":
    main()
