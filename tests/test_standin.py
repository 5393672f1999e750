"""The stand-in process: started on demand, found again, stopped, stops itself when idle."""

from __future__ import annotations

import json
import time
from pathlib import Path

import boto3

from relight import standin


def test_started_once_then_found_again(state_dir: Path) -> None:
    first = standin.ensure_running(state_dir)
    again = standin.ensure_running(state_dir)
    assert again == first
    assert first.endpoint.startswith("http://127.0.0.1:")
    saved = json.loads((state_dir / "standin.json").read_text())
    assert saved["port"] == first.port and saved["pid"] == first.pid
    # It is a real AWS endpoint for boto3 (and for `aws --endpoint-url`).
    ec2 = boto3.client("ec2", "eu-west-1", endpoint_url=first.endpoint)
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert {z["ZoneId"] for z in zones} >= {"euw1-az1", "euw1-az2"}
    # ... with an empty account: no preloaded Amazon AMIs.
    assert ec2.describe_images(Owners=["self"])["Images"] == []


def test_stop_forgets_it(state_dir: Path) -> None:
    running = standin.ensure_running(state_dir)
    assert standin.stop(state_dir) == running
    assert standin.find(state_dir) is None
    assert not (state_dir / "standin.json").exists()
    assert standin.stop(state_dir) is None


def test_a_stale_state_file_is_removed(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "standin.json").write_text(
        json.dumps(
            {
                "pid": 999999,
                "port": 1,
                "endpoint": "http://127.0.0.1:1",
                "started_at": "x",
                "idle_timeout": 1,
                "moto_version": "x",
            }
        )
    )
    assert standin.find(state_dir) is None
    assert not (state_dir / "standin.json").exists()


def test_it_stops_by_itself_when_idle(state_dir: Path) -> None:
    pid = standin.ensure_running(state_dir, idle_timeout=1.0).pid
    deadline = time.monotonic() + 15
    while standin._alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert standin.find(state_dir) is None
    assert "idle for 1 s" in (state_dir / "standin.log").read_text()
