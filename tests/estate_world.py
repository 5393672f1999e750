"""A small estate on moto in-process for the read-only estate commands' tests (plan,
readiness, status): three environments of MINIMAL's shape (`shared`, then `demo` and
`storefront` after it), their copies in us-west-2, relight's bucket there, and a `connect`
that hands each environment a connection into us-west-2 (moto's one account; the estate's
accounts are keys the rows are labelled with) with us-east-1 switched off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto import mock_aws

from conftest import MINIMAL, moto_web_inputs
from relight.aws.bucket import TemplateBucket
from relight.aws.clients import Aws, AwsTarget
from relight.aws.outage import Outage
from relight.commands.connection import Connection
from relight.model.estate import LoadedEstate, load_estate

REGION, HOME, ACCOUNT = "us-west-2", "us-east-1", "123456789012"
ESTATE = """\
name: corp
administrator: platform
objectives: {{rto: {rto}}}
accounts:
  platform: {{id: "123456789012", role: "arn:aws:iam::123456789012:role/relight-estate"}}
  shop: {{id: "210987654321", role: "arn:aws:iam::210987654321:role/relight-estate"}}
environments:
  shared: {{account: platform}}
  demo: {{account: platform, after: [shared]}}
  storefront: {{account: shop, after: [{storefront_after}]}}
"""


def env_text(name: str, tag: str = "web") -> str:
    """MINIMAL as `name`, its AMI looked up by Role=`tag`."""
    text = MINIMAL.replace("name: shop", f"name: {name}").replace(
        "stand_in: true", "stand_in: false"
    )
    return text.replace("tags: {Role: web}", f"tags: {{Role: {tag}}}")


@dataclass
class World:
    root: Path
    outage: Outage
    connected: list[str]

    def write(
        self,
        *,
        rto: str = "2h",
        storefront_after: str = "shared",
        tags: dict[str, str] | None = None,
    ) -> LoadedEstate:
        (self.root / "estates").mkdir(exist_ok=True)
        (self.root / "stacks").mkdir(exist_ok=True)
        for env in ("shared", "demo", "storefront"):
            text = env_text(env, (tags or {}).get(env, "web"))
            (self.root / "stacks" / f"{env}.yaml").write_text(text, encoding="utf-8")
        path = self.root / "estates" / "corp.yaml"
        path.write_text(ESTATE.format(rto=rto, storefront_after=storefront_after), encoding="utf-8")
        return load_estate(str(path), REGION)

    def connect(self, estate: LoadedEstate, name: str, region: str, **_: Any) -> Connection:
        assert region == REGION
        self.connected.append(name)
        return Connection(Aws(AwsTarget()).under_outage(self.outage), region, ACCOUNT)


def estate_world(tmp_path: Path) -> Iterator[World]:
    with mock_aws():
        moto_web_inputs(tags=True)
        TemplateBucket(Aws(AwsTarget()).client("s3", REGION), REGION, ACCOUNT).configure()
        yield World(tmp_path, Outage(HOME), [])


Connect = Callable[..., Connection]
