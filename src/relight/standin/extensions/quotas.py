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

- RequestServiceQuotaIncrease is approved at once (on AWS some increases are, others wait for
  a case), and GetServiceQuota then answers the raised value for that account and region: an
  estate with more environments in one account than the defaults allow (five VPCs per Region)
  raises them beforehand, as on AWS (bench/estate.py does).

Nothing here runs against AWS; the defaults are AWS's, so the stand-in refuses no demo.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.responses import ActionResult
from moto.rds.models import rds_backends
from moto.rds.responses import RDSResponse
from moto.servicequotas.exceptions import NoSuchResource
from moto.servicequotas.models import servicequotas_backends
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


def _raised(self: ServiceQuotasResponse) -> dict[tuple[str, str], float]:
    """(service code, quota code) → the value an approved increase applied, kept on moto's
    backend for the account and region (so a reset of moto forgets it)."""
    backend: Any = servicequotas_backends[self.current_account][self.region]
    if not hasattr(backend, "relight_raised"):
        backend.relight_raised = {}
    raised: dict[tuple[str, str], float] = backend.relight_raised
    return raised


def _request_increase(self: ServiceQuotasResponse) -> str:
    params = json.loads(self.body)
    service, code = str(params.get("ServiceCode")), str(params.get("QuotaCode"))
    desired = float(params.get("DesiredValue", 0))
    _raised(self)[(service, code)] = desired
    return json.dumps(
        {
            "RequestedQuota": {
                "Id": f"relight-stand-in-{service}-{code}",
                "ServiceCode": service,
                "QuotaCode": code,
                "DesiredValue": desired,
                "Status": "APPROVED",
                "GlobalQuota": False,
            }
        }
    )


def _applied(original: Any) -> Any:
    """GetServiceQuota: a raised quota's value, else moto's answer."""

    def get(self: ServiceQuotasResponse) -> str:
        params = json.loads(self.body)
        service, code = str(params.get("ServiceCode")), str(params.get("QuotaCode"))
        value = _raised(self).get((service, code))
        if value is None:
            answer: str = original(self)
            return answer
        return json.dumps(
            {
                "Quota": {
                    "ServiceCode": service,
                    "QuotaCode": code,
                    "QuotaArn": f"arn:aws:servicequotas:{self.region}:{self.current_account}:"
                    f"{service}/{code}",
                    "Value": value,
                    "Unit": "None",
                    "Adjustable": True,
                    "GlobalQuota": False,
                }
            }
        )

    return get


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
    """Add the actions moto lacks and the raised quotas (written against moto 5.2.5)."""
    ServiceQuotasResponse.get_aws_default_service_quota = _default_quota  # type: ignore[attr-defined]
    ServiceQuotasResponse.request_service_quota_increase = _request_increase  # type: ignore[attr-defined]
    ServiceQuotasResponse.get_service_quota = _applied(  # type: ignore[method-assign]
        ServiceQuotasResponse.get_service_quota
    )
    RDSResponse.describe_account_attributes = _account_attributes  # type: ignore[attr-defined]
