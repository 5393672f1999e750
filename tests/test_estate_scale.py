"""What an estate needs at scale, apart from its commands: relight's memory with one `Aws` per
environment (every session shares botocore's parsed service models, relight.aws.sessions), and
the estate bench/estate.py generates (load_estate takes it: accounts, waves, after:)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import REPO
from relight.aws import sessions
from relight.aws.clients import Aws, AwsTarget
from relight.model.estate import load_estate


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_estate", REPO / "bench" / "estate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_estate"] = module
    spec.loader.exec_module(module)
    return module


def _aws(command: str) -> Aws:
    return Aws(AwsTarget(endpoint_url="http://127.0.0.1:9", stand_in=True, command=command))


def _model(aws: Aws, service: str) -> Any:
    return aws.client(service, "us-west-2").meta.service_model._service_description


def test_every_aws_shares_one_parsed_copy_of_each_service_model() -> None:
    one, other = _aws("failover"), _aws("drill")
    assert _model(one, "ec2") is _model(other, "ec2"), "the estate's 50 Aws: one EC2 model"
    loaders = {id(a.session()._session.get_component("data_loader")) for a in (one, other)}
    assert len(loaders) == 1
    # each still has its own clients, counters and events: only the JSON is shared
    assert one.client("ec2", "us-west-2") is not other.client("ec2", "us-west-2")


def test_without_sharing_each_session_parses_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The bench's "before": what botocore does by itself."""
    monkeypatch.setattr(sessions, "SHARE_MODELS", False)
    one, other = _aws("failover"), _aws("drill")
    assert _model(one, "cloudformation") is not _model(other, "cloudformation")


def test_the_bench_estate_is_one_load_estate_takes(tmp_path: Path) -> None:
    bench = _bench()
    estate = load_estate(str(bench.generate(tmp_path, 50, 5, "e")), "us-west-2")
    assert len(estate.envs) == 50
    assert [len(w) for w in estate.waves] == [3, 12, 35]
    assert {estate.access(n).id for n in estate.envs} == set(bench.account_ids(5))
    assert all(len(e.env.stacks) == bench.STACKS_PER_ENV for e in estate.envs.values())
    seconds, chain = estate.critical_path(dict.fromkeys(estate.envs, 1.0))
    assert seconds == 3.0 and len(chain) == 3, "shared, then platform, then an application"
    assert estate.predecessors("e-app00") == {"e-shared0", "e-plat03"}


# CloudFormation's stack quota at 500 environments (docs/aws-behaviours.md X2; docs/estates.md,
# "At 500 environments").
STACKS_PER_ACCOUNT_REGION = 2_000  # "Stacks": 2000 stacks (per account, per Region)


def test_at_500_environments_each_account_holds_its_own_stacks_under_the_stack_quota(
    tmp_path: Path,
) -> None:
    """Stacks count per account and Region: 500 environments of 7 stacks over 50 accounts are
    70 a recovery account, and the same again at home; in one account they would be 3,500."""
    bench = _bench()
    estate = load_estate(str(bench.generate(tmp_path, 500, 50, "e")), "us-west-2")
    per_account: dict[str, int] = {}
    for name, loaded in estate.envs.items():
        account = estate.access(name).id
        per_account[account] = per_account.get(account, 0) + len(loaded.env.stacks)
    assert max(per_account.values()) <= STACKS_PER_ACCOUNT_REGION
    assert sum(per_account.values()) == 3_500 > STACKS_PER_ACCOUNT_REGION, "not in one account"
