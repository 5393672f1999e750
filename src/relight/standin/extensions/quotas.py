"""Stand-in additions for quotas: Service Quotas' defaults and RDS's account quotas.

Written against moto 5.2.5, whose Service Quotas knows only the `vpc` service's defaults
(GetServiceQuota of any other quota answers NoSuchResourceException, as AWS does for a quota
with no applied value) and has no GetAWSDefaultServiceQuota, and whose RDS has no
DescribeAccountAttributes: both raise NotImplementedError, an HTTP 500 on the server.

- GetAWSDefaultServiceQuota answers, for the quotas relight counts (relight.aws.quotas), the
  default AWS documents, in Service Quotas' shape. The On-Demand vCPU quotas AWS sets per
  account and documents no default for: the stand-in's account has `STANDIN_VCPUS` of each
  instance family class (its own choice, as an account's are; enough for the demo's fleet).
- RDS DescribeAccountAttributes answers `DBInstances`, `ManualSnapshots` and
  `ManualClusterSnapshots` as AWS documents them (API_AccountQuota: "Used" is the count in the
  account, "Max" the quota): the backend's DB instances, manual DB snapshots and manual DB
  cluster snapshots in the region, against the documented defaults.

Nothing here runs against AWS; the defaults are AWS's, so the stand-in refuses no demo.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.models import rds_backends
from moto.rds.responses import RDSResponse
from moto.servicequotas.exceptions import NoSuchResource
from moto.servicequotas.responses import ServiceQuotasResponse

from relight.aws.quotas import QUOTAS

STANDIN_VCPUS = 256  # the stand-in account's On-Demand vCPUs per family class


def _default_quota(self: ServiceQuotasResponse) -> str:
    params = json.loads(self.body)
    service, code = str(params.get("ServiceCode")), str(params.get("QuotaCode"))
    for quota in QUOTAS.values():
        value = quota.default if quota.default is not None else STANDIN_VCPUS
        if (quota.service, quota.code) == (service, code):
            return json.dumps(
                {
                    "Quota": {
                        "ServiceCode": service,
                        "QuotaCode": code,
                        "QuotaName": quota.name,
                        "QuotaArn": f"arn:aws:servicequotas:{self.region}::{service}/{code}",
                        "Value": float(value),
                        "Unit": "None",
                        "Adjustable": True,
                        "GlobalQuota": False,
                    }
                }
            )
    raise NoSuchResource


def _account_attributes(self: RDSResponse) -> ActionResult:
    backend: Any = rds_backends[self.current_account][self.region]
    manual = [s for s in backend.database_snapshots.values() if s.snapshot_type == "manual"]
    clustered = [s for s in backend.cluster_snapshots.values() if s.snapshot_type == "manual"]
    quotas = [
        ("DBInstances", len(backend.databases), QUOTAS["db_instances"].default),
        ("ManualSnapshots", len(manual), QUOTAS["manual_snapshots"].default),
        ("ManualClusterSnapshots", len(clustered), QUOTAS["manual_cluster_snapshots"].default),
    ]
    return ActionResult(
        {
            "AccountQuotas": [
                {"AccountQuotaName": name, "Used": used, "Max": most} for name, used, most in quotas
            ]
        }
    )


def install() -> None:
    """Add the two actions moto lacks (written against moto 5.2.5)."""
    ServiceQuotasResponse.get_aws_default_service_quota = _default_quota  # type: ignore[attr-defined]
    RDSResponse.describe_account_attributes = _account_attributes  # type: ignore[attr-defined]
