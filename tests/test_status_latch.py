"""`relight status` reads each failback latch from CloudWatch (commands.status._latches).

AWS (CloudWatch API Reference, GetMetricStatistics): one-minute data is kept 15 days, one-hour
data 455 days; a start time more than 15 days ago is rounded down (to 5 minutes, beyond 63 days
to the hour) and wants periods that are multiples of 300 (beyond 63 days of 3600), or no data
comes back; at most 1,440 data points a call. So a period is the Maximum and Minimum of what
it holds: an hour in which the latch was set and released has a Maximum of 1. Played twice:
with a small CloudWatch that keeps data as AWS documents (`KeptCloudWatch`), and on moto
in-process with the stand-in's periods on the minute (tests/conftest.py installs them),
which keeps every point at every period.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from relight.commands.connection import Connection
from relight.commands.failover import LATCH_METRIC, LATCH_NAMESPACE, LATCH_OUTPUT
from relight.commands.status import _latches

NOW = datetime(2025, 6, 1, 12, 0, 30, tzinfo=UTC)
STACK = "shop-dns"
LATCH_SET_OR_RELEASED = "(older than 15 days: CloudWatch no longer has the minute)"


def _at(days: int = 0, hour: int = 0, minute: int = 0) -> datetime:
    """`days` before NOW's date, at hour:minute (UTC)."""
    return (NOW - timedelta(days=days)).replace(hour=hour, minute=minute, second=5, microsecond=0)


def _kept_as(age: timedelta) -> int | None:
    """The finest period CloudWatch still has a point of that age in, in seconds (None: gone)."""
    for within, seconds in ((15, 60), (63, 300), (455, 3600)):
        if age < timedelta(days=within):
            return seconds
    return None


class KeptCloudWatch:
    """GetMetricStatistics of one metric as AWS documents it, at NOW: the start time rounded
    down by its age, periods that do not fit the age answered with no data, points past their
    resolution's retention not seen at a finer period, more than 1,440 points refused."""

    def __init__(self, points: list[tuple[datetime, float]]) -> None:
        self.points = points
        self.calls: list[tuple[datetime, int]] = []

    def get_metric_statistics(self, **kw: Any) -> dict[str, Any]:
        assert (kw["Namespace"], kw["MetricName"]) == (LATCH_NAMESPACE, LATCH_METRIC)
        assert kw["Dimensions"] == [{"Name": "Stack", "Value": STACK}]
        assert sorted(kw["Statistics"]) == ["Maximum", "Minimum"]
        period, start, end = kw["Period"], kw["StartTime"], kw["EndTime"]
        self.calls.append((start, period))
        age = NOW - start
        step = 60 if age < timedelta(days=15) else 300 if age < timedelta(days=63) else 3600
        start -= timedelta(seconds=int(start.timestamp()) % step, microseconds=start.microsecond)
        if (end - start) / timedelta(seconds=period) > 1440:
            raise ClientError(
                {"Error": {"Code": "InvalidParameterCombination", "Message": "too many"}},
                "GetMetricStatistics",
            )
        if age > timedelta(hours=3) and period % step:
            return {"Datapoints": []}
        periods: dict[int, list[float]] = defaultdict(list)
        for at, value in self.points:
            kept = _kept_as(NOW - at)
            if start <= at < end and kept is not None and period % kept == 0:
                periods[(at - start) // timedelta(seconds=period)].append(value)
        return {
            "Datapoints": [
                {
                    "Timestamp": start + k * timedelta(seconds=period),
                    "Maximum": max(values),
                    "Minimum": min(values),
                    "Unit": "None",
                }
                for k, values in periods.items()
            ]
        }


class Stacks:
    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        outputs = [{"OutputKey": LATCH_OUTPUT, "OutputValue": f"{StackName}-failback-latch"}]
        return {
            "Stacks": [{"StackName": StackName, "Outputs": outputs if StackName == STACK else []}]
        }


def _read(points: list[tuple[datetime, float]]) -> tuple[str, KeptCloudWatch]:
    cloudwatch = KeptCloudWatch(points)
    clients = {"cloudformation": Stacks(), "cloudwatch": cloudwatch}
    clients_of = SimpleNamespace(client=lambda s, _: clients[s])
    conn = Connection(clients_of, "us-west-2", "123456789012")  # type: ignore[arg-type]
    listed = [Stacks().describe_stacks(n)["Stacks"][0] for n in (STACK, "shop-web")]
    found = _latches(conn, listed, NOW)  # type: ignore[arg-type]
    assert list(found) == [STACK], "a stack without a latch is not listed"
    return found[STACK], cloudwatch


# as AWS keeps the data ----------------------------------------------------------------------


def test_set_and_released_in_the_same_hour_more_than_3_hours_ago_is_released() -> None:
    """The hour's Maximum is 1; its Minimum says a 0 came too: the hour is read in minutes."""
    said, cloudwatch = _read([(_at(hour=7, minute=10), 1.0), (_at(hour=7, minute=40), 0.0)])
    assert said == "released (2025-06-01T07:40+00:00)"
    assert cloudwatch.calls[-1] == (_at(hour=7).replace(second=0), 60), "that hour, by minute"


def test_released_then_set_again_in_the_same_hour_is_latched() -> None:
    said, _ = _read([(_at(hour=7, minute=10), 0.0), (_at(hour=7, minute=40), 1.0)])
    assert said == "latched (2025-06-01T07:40+00:00)"


@pytest.mark.parametrize(
    ("at", "said"),
    [
        (_at(hour=11, minute=20), "latched (2025-06-01T11:20+00:00)"),  # within 3 hours
        (_at(hour=7, minute=10), "latched (2025-06-01T07:00+00:00)"),  # the hour of it
        (_at(days=20, hour=7, minute=10), "latched (2025-05-12)"),  # the day of it
        (_at(days=400, hour=7, minute=10), "latched (2024-04-27)"),
    ],
)
def test_a_latch_only_ever_set_is_latched(at: datetime, said: str) -> None:
    assert _read([(at, 1.0)])[0] == said


@pytest.mark.parametrize("points", [[], [(_at(days=460), 1.0)]])
def test_nothing_in_455_days_is_never_set_in_three_calls_within_aws_limits(
    points: list[tuple[datetime, float]],
) -> None:
    said, cloudwatch = _read(points)
    assert said == "never set"
    assert [period for _, period in cloudwatch.calls] == [60, 3600, 86400]
    assert NOW - cloudwatch.calls[-1][0] >= timedelta(days=455)


def test_set_and_released_on_one_day_20_days_ago_is_read_by_the_hour() -> None:
    """One-hour data is kept 455 days: the day is read again in hours."""
    said, cloudwatch = _read([(_at(days=20, hour=7), 1.0), (_at(days=20, hour=9), 0.0)])
    assert said == "released (2025-05-12T09:00+00:00)"
    assert cloudwatch.calls[-1] == (_at(days=20).replace(second=0), 3600)


def test_set_and_released_in_one_hour_20_days_ago_is_said_to_be_unknown() -> None:
    """The minutes are gone: which came last cannot be read, and is not guessed."""
    said, cloudwatch = _read([(_at(days=20, hour=7, minute=10), 1.0),
                              (_at(days=20, hour=7, minute=40), 0.0)])  # fmt: skip
    assert (
        said == f"latched or released on 2025-05-12 between 07:00 and 08:00 {LATCH_SET_OR_RELEASED}"
    )
    assert [period for _, period in cloudwatch.calls] == [60, 3600, 86400, 3600]


# on moto in-process (the stand-in's periods on the minute) ------------------------------------


def _moto_latch(now: datetime, points: list[tuple[datetime, float]]) -> str:
    """The latch as status reads it at `now`, with `points` published."""
    cfn = boto3.client("cloudformation", "us-west-2")
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=(
            '{"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},'
            f' "Outputs": {{"{LATCH_OUTPUT}": {{"Value": "{STACK}-failback-latch"}}}}}}'
        ),
    )
    cloudwatch = boto3.client("cloudwatch", "us-west-2")
    for at, value in points:
        cloudwatch.put_metric_data(
            Namespace=LATCH_NAMESPACE,
            MetricData=[
                {
                    "MetricName": LATCH_METRIC,
                    "Dimensions": [{"Name": "Stack", "Value": STACK}],
                    "Timestamp": at,
                    "Value": value,
                }
            ],
        )
    conn = Connection(SimpleNamespace(client=boto3.client), "us-west-2", "123456789012")  # type: ignore[arg-type]
    listed = Stacks().describe_stacks(STACK)["Stacks"]
    return _latches(conn, listed, now)[STACK]  # type: ignore[arg-type]


def test_on_moto_set_and_released_in_one_hour_more_than_3_hours_ago_is_released() -> None:
    now = datetime.now(UTC)
    hour = (now - timedelta(hours=5)).replace(minute=0, second=0, microsecond=0)
    released = hour + timedelta(minutes=40)
    with mock_aws():
        said = _moto_latch(now, [(hour + timedelta(minutes=10), 1.0), (released, 0.0)])
    assert said == f"released ({released.isoformat(timespec='minutes')})"


@pytest.mark.parametrize(
    ("ago", "value", "resolution"),
    [
        (timedelta(hours=5), 1.0, "hour"),
        (timedelta(days=20), 1.0, "day"),
        (None, None, ""),
    ],
)
def test_on_moto_a_latch_set_or_never_set(
    ago: timedelta | None, value: float | None, resolution: str
) -> None:
    now = datetime.now(UTC)
    at = now - ago if ago else now
    with mock_aws():
        said = _moto_latch(now, [(at, value)] if value is not None else [])
    if resolution == "hour":
        assert said == f"latched ({at.replace(minute=0).isoformat(timespec='minutes')})"
    elif resolution == "day":
        assert said == f"latched ({at.date().isoformat()})"
    else:
        assert said == "never set"
