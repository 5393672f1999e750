"""`--publish`: readiness verdicts as CloudWatch metrics in the recovery region.

On moto in-process with the home region switched off (relight.aws.outage): a readiness
evaluation of MINIMAL into us-west-2 is published there, lands as `Relight/Ready`,
`ForecastRtoSeconds` and `WorstArtifactAgeSeconds` by `Environment`, nothing lands in the home
region, and nothing was asked of it. The alarm the docs give pages on 0 and on missing data
(tests/aws_rules.py plays its states); a refused PutMetricData is relight's error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from aws_rules import alarm_sees, alarm_states
from conftest import MINIMAL, REPO, moto_web_inputs
from relight.aws.bucket import TemplateBucket
from relight.aws.clients import Aws, AwsTarget
from relight.aws.outage import Outage
from relight.commands.connection import Connection
from relight.commands.readiness import evaluate
from relight.errors import AwsError
from relight.model.config import LoadedEnvironment, load_environment
from relight.steps.publish import (
    ESTATE,
    NAMESPACE,
    Verdict,
    alarm_command,
    publish,
    publish_in,
    ready_alarm,
)

REGION, HOME, ACCOUNT = "us-west-2", "us-east-1", "123456789012"
AT = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def _metrics(region: str) -> dict[str, list[dict[str, str]]]:
    listed = boto3.client("cloudwatch", region).list_metrics(Namespace=NAMESPACE)["Metrics"]
    return {m["MetricName"]: m["Dimensions"] for m in listed}


def _value(region: str, metric: str, env: str, at: datetime) -> float:
    points = boto3.client("cloudwatch", region).get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": "Environment", "Value": env}],
        StartTime=at - timedelta(minutes=5),
        EndTime=at + timedelta(minutes=5),
        Period=60,
        Statistics=["Minimum"],
    )["Datapoints"]
    assert len(points) == 1, points
    return float(points[0]["Minimum"])


@pytest.fixture
def world(
    write_env: Callable[..., Path],
) -> Iterator[tuple[LoadedEnvironment, Connection, Outage]]:
    """MINIMAL's copies in us-west-2 and relight's bucket made there; then a connection into
    us-west-2 with us-east-1 switched off."""
    with mock_aws():
        moto_web_inputs(tags=True)
        TemplateBucket(Aws(AwsTarget()).client("s3", REGION), REGION, ACCOUNT).configure()
        outage = Outage(HOME)
        conn = Connection(Aws(AwsTarget()).under_outage(outage), REGION, ACCOUNT)
        yield load_environment(str(write_env(MINIMAL)), REGION), conn, outage


def test_a_verdict_lands_in_the_recovery_region_only_with_the_home_region_switched_off(
    world: tuple[LoadedEnvironment, Connection, Outage], tmp_path: Path
) -> None:
    loaded, conn, outage = world
    result = evaluate(loaded, REGION, conn, tmp_path)
    assert result.ready is False, "no drill recorded: not ready"
    assert set(result.artifact_ages) == {"web_ami", "web_data"}

    published = publish_in(conn.aws, REGION, [result.verdict()], result.at)

    assert published.metrics == {"shop": ["Ready", "ForecastRtoSeconds", "WorstArtifactAgeSeconds"]}
    assert published.line() == (
        "published to CloudWatch in us-west-2 (namespace Relight): ForecastRtoSeconds, "
        "Ready, WorstArtifactAgeSeconds for Environment=shop"
    )
    dimension = [{"Name": "Environment", "Value": "shop"}]
    assert _metrics(REGION) == {
        "Ready": dimension,
        "ForecastRtoSeconds": dimension,
        "WorstArtifactAgeSeconds": dimension,
    }
    assert _value(REGION, "Ready", "shop", result.at) == 0.0
    assert _value(REGION, "ForecastRtoSeconds", "shop", result.at) == pytest.approx(
        result.forecast_seconds
    )
    assert _value(REGION, "WorstArtifactAgeSeconds", "shop", result.at) == pytest.approx(
        max(result.artifact_ages.values()), abs=0.01
    )
    assert _metrics(HOME) == {}, "nothing is published to the home region"
    # readiness reads production at home for drift, once (a hint: a warning when refused);
    # publishing asked nothing of it
    assert [(r.service, r.action, r.region) for r in outage.refused] == [
        ("cloudformation", "DescribeStacks", HOME)
    ]
    assert result.checks()["drift"] == "warning"


def test_a_ready_verdict_is_one_and_an_unknown_age_is_not_published() -> None:
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", REGION)
        published = publish(cloudwatch, REGION, [Verdict("demo", True, 1800.0)], AT)
        assert published.metrics == {"demo": ["Ready", "ForecastRtoSeconds"]}
        assert _value(REGION, "Ready", "demo", AT) == 1.0
        assert set(_metrics(REGION)) == {"Ready", "ForecastRtoSeconds"}


def test_the_documented_alarm_watches_the_published_metric_and_pages_on_zero_and_on_silence() -> (
    None
):
    alarm = ready_alarm("demo")
    for datum in Verdict("demo", False, 60.0, 3600.0).data(AT):
        assert alarm_sees(alarm, NAMESPACE, datum) is (datum["MetricName"] == "Ready")
    assert not alarm_sees(alarm, NAMESPACE, Verdict("shop", True).data(AT)[0]), "another env"
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"]) == (3600, 2, 2)
    # an hourly job whose run drifts across an hour boundary (10:59:50, then 12:00:05):
    # one hour without a verdict between two ready ones does not page
    assert alarm_states(alarm, [[1.0], [], [1.0], [1.0], [], [1.0]]) == ["OK"] * 6
    # the readiness job stops running: the second hour without a verdict pages
    assert alarm_states(alarm, [[1.0], [1.0], [], [], []]) == ["OK", "OK", "OK", "ALARM", "ALARM"]
    # not ready, still not ready an hour later: pages, and clears on a ready verdict
    states = alarm_states(alarm, [[1.0], [1.0, 0.0], [0.0], [1.0], [1.0]])
    assert states == ["OK", "OK", "ALARM", "OK", "OK"]
    # not ready, and then no verdict: pages too
    assert alarm_states(alarm, [[1.0], [0.0], []]) == ["OK", "OK", "ALARM"]
    estate = ready_alarm("corp", dimension=ESTATE)
    assert alarm_sees(estate, NAMESPACE, Verdict("corp", True, dimension=ESTATE).data(AT)[0])
    assert not alarm_sees(estate, NAMESPACE, Verdict("corp", True).data(AT)[0])


def test_the_alarm_command_in_the_docs_is_the_one_relight_describes() -> None:
    command = alarm_command("us-west-2", "demo")
    assert command == (
        "aws cloudwatch put-metric-alarm --region us-west-2 --alarm-name relight-demo-not-ready "
        "--namespace Relight --metric-name Ready --dimensions Name=Environment,Value=demo "
        "--statistic Minimum --period 3600 --evaluation-periods 2 --datapoints-to-alarm 2 "
        "--threshold 1 --comparison-operator LessThanThreshold --treat-missing-data breaching "
        "--alarm-actions TOPIC-ARN"
    )
    docs = (REPO / "docs" / "readiness.md").read_text(encoding="utf-8")
    assert command.replace(" --", " \\\n  --") in docs
    estates = (REPO / "docs" / "estates.md").read_text(encoding="utf-8").replace("\\\n", " ")
    assert alarm_command("us-west-2", "demo", dimension=ESTATE) in " ".join(estates.split())


def test_a_refused_publish_is_relights_error_naming_the_region_and_the_grant() -> None:
    cloudwatch = boto3.client("cloudwatch", REGION)
    with Stubber(cloudwatch) as stub:
        stub.add_client_error(
            "put_metric_data",
            service_error_code="AccessDenied",
            service_message="User: arn:aws:sts::123456789012:assumed-role/ops/x is not "
            "authorized to perform: cloudwatch:PutMetricData",
            http_status_code=403,
        )
        with pytest.raises(AwsError) as raised:
            publish(cloudwatch, REGION, [Verdict("demo", False)], AT)
    said = str(raised.value)
    assert said.startswith(
        "the readiness verdict could not be published to CloudWatch in us-west-2"
    )
    assert "AccessDenied" in said
    assert "grant cloudwatch:PutMetricData in that region" in said


def test_an_estate_of_many_verdicts_is_sent_in_requests_under_the_limit() -> None:
    sent: list[int] = []

    class Recorder:
        def put_metric_data(self, **kwargs: Any) -> None:
            assert kwargs["Namespace"] == NAMESPACE
            sent.append(len(kwargs["MetricData"]))

    verdicts = [Verdict(f"env{i}", True, 60.0, 60.0) for i in range(400)]
    publish(Recorder(), REGION, verdicts, AT)
    assert sum(sent) == 1200 and max(sent) <= 1000


def test_the_policy_grants_publishing_in_the_namespace_relight_publishes_in() -> None:
    from relight.commands.failover import LATCH_NAMESPACE
    from relight.model.permissions.policies import METRICS_NAMESPACE

    assert NAMESPACE == METRICS_NAMESPACE == LATCH_NAMESPACE
