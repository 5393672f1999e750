"""The sessions relight's clients are made from: one botocore loader shared by every session of
the process (`shared_models`: the parsed service models once, not once per environment of an
estate), STS pinned to its regional endpoints, and an assumed role's session, refreshed before
it expires (`assume_role_session`). clients.py builds `Aws` on them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from relight.aws.failures import aws_failure, unreachable
from relight.errors import AwsError

if TYPE_CHECKING:
    import boto3

# One botocore loader for every session relight makes (`shared_models`): a session otherwise
# loads and keeps its own parsed copy of each service's model and of the endpoint data, about
# 30 MB for the clients a failover builds, once per environment of an estate (bench/estate.py
# measures it). False: each session its own loader, as botocore does (the bench's "before").
SHARE_MODELS = True
_loader: Any = None
_loader_lock = threading.Lock()


def share_loader(session: Any) -> Any:
    """Give the botocore `session` the process's shared data loader (the first session's),
    before it builds any client. Its cache only ever holds the JSON botocore ships (service
    models, paginators, waiters, endpoints), read-only once parsed; every session of the
    process has the same search path (botocore's and boto3's data, AWS_DATA_PATH)."""
    global _loader
    if not SHARE_MODELS:
        return session
    with _loader_lock:
        if _loader is None:
            _loader = session.get_component("data_loader")
        else:
            session.register_component("data_loader", _loader)
    return session


def shared_models(session: boto3.session.Session) -> boto3.session.Session:
    """A boto3 session whose botocore session shares the process's loader (`share_loader`)."""
    share_loader(session._session)
    return session


def sts_client(base: boto3.session.Session, region: str | None, endpoint_url: str | None) -> Any:
    """STS in `region`, at its regional endpoint (sts.REGION.amazonaws.com): never the global
    endpoint or the profile's default region, which may be the region that is down."""
    regional(base)
    make: Any = base.client
    if region is None:
        return make("sts", endpoint_url=endpoint_url)
    return make("sts", region_name=region, endpoint_url=endpoint_url)


def regional(session: boto3.session.Session) -> boto3.session.Session:
    """Pin STS to its regional endpoints in `session`, whatever the operator's config says
    (`sts_regional_endpoints = legacy`, AWS_STS_REGIONAL_ENDPOINTS): legacy sends us-east-1's
    and other regions' calls to the global endpoint, homed in us-east-1."""
    session._session.set_config_variable("sts_regional_endpoints", "regional")
    return session


# The longest role session AWS grants (a role's MaxSessionDuration is 1 to 12 hours), then the
# steps down tried when STS answers that the role allows less; role chaining allows 1 hour.
SESSION_SECONDS = (43_200, 28_800, 21_600, 14_400, 7_200, 3_600)
CHAINED_SECONDS = 3_600
# STS's ValidationError messages for a DurationSeconds above what the role allows.
OVER_ROLE_MAXIMUM = "exceeds the MaxSessionDuration set for this role"
OVER_CHAINING_LIMIT = "exceeds the 1 hour session limit for roles assumed by role chaining"


def assume_role_session(
    base: boto3.session.Session,
    role_arn: str,
    endpoint_url: str | None,
    region: str | None = None,
    *,
    watch: Callable[[Any, str], None] | None = None,
    granted: Callable[[int], None] | None = None,
    external_id: str | None = None,
) -> boto3.session.Session:
    """A session whose credentials come from `role_arn` (assumed through STS in `region`) and
    refresh before they expire, its STS regional like `base`'s (`regional`: a fresh botocore
    session reads the operator's config again). `watch` is shown the STS client (Aws counts
    its calls).

    It asks for the longest session the role allows: 12 hours first, stepping down while STS
    answers that the role's MaxSessionDuration is lower (read only through IAM, homed in
    us-east-1: not asked), and 1 hour at once for a chained role (credentials that are a
    role's session themselves). `granted` is told the duration STS granted; refreshes ask
    for it again, not for 12 hours. `external_id` is sent as ExternalId (a trust policy that
    requires one refuses the assumption without it)."""
    import boto3.session
    from botocore.credentials import RefreshableCredentials
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError
    from botocore.session import get_session

    sts = sts_client(base, region, endpoint_url)
    if watch is not None:
        watch(sts, "sts")
    durations = list(SESSION_SECONDS)
    extra = {"ExternalId": external_id} if external_id else {}

    def assume() -> dict[str, Any]:
        while True:
            try:
                answer: dict[str, Any] = sts.assume_role(
                    RoleArn=role_arn,
                    RoleSessionName="relight",
                    DurationSeconds=durations[0],
                    **extra,
                )
            except ClientError as exc:
                message = str(exc.response.get("Error", {}).get("Message", ""))
                if OVER_CHAINING_LIMIT in message and durations[0] > CHAINED_SECONDS:
                    durations[:] = [CHAINED_SECONDS]
                    continue
                if OVER_ROLE_MAXIMUM in message and len(durations) > 1:
                    del durations[0]
                    continue
                raise
            if granted is not None:
                granted(durations[0])
            return answer

    def fetch() -> dict[str, str]:
        try:
            creds = assume()["Credentials"]
        except ResponseParserError as exc:
            raise aws_failure(exc, f"cannot assume role {role_arn}", sts) from exc
        except BotoCoreError as exc:
            where = f"STS in {region}" if region else "STS"
            raise AwsError(
                f"cannot assume role {role_arn}: {where} did not answer ({exc})"
                if unreachable(exc)
                else f"cannot assume role {role_arn}: {exc}",
                hint="the endpoint is unreachable from here: check the network, or act in "
                "another recovery region"
                if unreachable(exc)
                else "check the credentials relight starts from (profile, environment)",
            ) from exc
        except ClientError as exc:
            sent = f" with external id {external_id!r}" if external_id else " (no external id)"
            raise AwsError(
                f"cannot assume role {role_arn}{sent}: {exc}",
                hint="the role's trust policy must allow your identity to call sts:AssumeRole"
                + (
                    ", and its sts:ExternalId condition must match the external id sent "
                    "(an estate's accounts.<key>.external_id)"
                ),
            ) from exc
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    botocore_session = get_session()
    share_loader(botocore_session)
    botocore_session._credentials = credentials  # type: ignore[attr-defined]  # no public setter for refreshable credentials
    return regional(boto3.session.Session(botocore_session=botocore_session))
