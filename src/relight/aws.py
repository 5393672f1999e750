"""The one way in to AWS: every boto3 client relight uses is built here.

An `Aws` is made from an `AwsTarget` (profile, role to assume, endpoint) and
passed to engine functions; it is never global. Source and target regions are
two `client(service, region)` calls on the same object, and tests hand in one
that points at moto.

Endpoints: without an explicit `endpoint_url`, botocore honours the standard
`AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) variables, so relight runs
unchanged against AWS or any emulator. The local stand-in passes its endpoint
explicitly, with throwaway credentials, so real credentials never reach it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relight.errors import AccountError, AwsError, InputError

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True)
class AwsTarget:
    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None
    stand_in: bool = False
    max_attempts: int = 10  # botocore standard retry mode: backoff against throttling
    # The region whose STS endpoint assumes `role_arn`: the region relight acts in, so the
    # assumption needs nothing from any other region (never the global sts.amazonaws.com).
    sts_region: str | None = None
    # A bounded client (a hint from the home region, a global control plane's read) makes one
    # attempt and waits at most this long to connect and as long again for the answer.
    bounded_seconds: float = 3.0

    def describe(self) -> str:
        if self.stand_in:
            return f"the LOCAL STAND-IN at {self.endpoint_url} (moto; nothing real is touched)"
        where = os.environ.get("AWS_ENDPOINT_URL")
        parts = [f"AWS endpoint {where} (from AWS_ENDPOINT_URL)" if where else "AWS"]
        if self.profile:
            parts.append(f"profile {self.profile}")
        if self.role_arn:
            parts.append(f"role {self.role_arn}")
        return ", ".join(parts)


# An IAM role's ARN in any partition (aws, aws-cn, aws-us-gov, ...): the account's 12 digits,
# then the role's path and name (IAM allows letters, digits and +=,.@_- in names, / in paths).
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
ROLE_ARN_SHAPE = (
    "arn:aws:iam::<12-digit account id>:role/<name> (arn:aws-cn:…, arn:aws-us-gov:… in their "
    "partitions)"
)


def is_role_arn(value: str) -> bool:
    return ROLE_ARN.match(value) is not None


def tag_dict(items: Iterable[Mapping[str, str]] | None) -> dict[str, str]:
    """AWS's `[{"Key": k, "Value": v}, ...]` as a dict."""
    return {t["Key"]: t["Value"] for t in items or ()}


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    """A dict of tags in AWS's `[{"Key": k, "Value": v}, ...]` shape, sorted by key."""
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


class Aws:
    """Builds and caches boto3 clients per (service, region); safe to share between threads."""

    def __init__(self, target: AwsTarget) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str, bool], Any] = {}

    def _base_session(self) -> boto3.session.Session:
        import boto3.session

        if self.target.stand_in:
            return boto3.session.Session(
                aws_access_key_id="relight-stand-in",
                aws_secret_access_key="relight-stand-in",
                region_name="us-east-1",
            )
        from botocore.exceptions import ProfileNotFound

        try:
            return boto3.session.Session(profile_name=self.target.profile)
        except ProfileNotFound as exc:
            raise missing_profile(self.target.profile) from exc
        except Exception as exc:  # a config file botocore cannot read, and the like
            raise AwsError(
                f"AWS profile {self.target.profile!r} cannot be used: {exc}",
                hint="check ~/.aws/config, or drop --profile to use the default credentials",
            ) from exc

    def session(self) -> boto3.session.Session:
        with self._lock:
            if self._session is None:
                base = self._base_session()
                self._session = (
                    assume_role_session(
                        base,
                        self.target.role_arn,
                        self.target.endpoint_url,
                        self.target.sts_region,
                    )
                    if self.target.role_arn
                    else base
                )
            return self._session

    def client(self, service: str, region: str, *, bounded: bool = False) -> Any:
        """A client for `service` in `region`, with standard retries and the target's endpoint.

        `bounded`: for a read that is a hint, not a dependency (the home region during an
        outage, a global control plane homed in another region): one attempt, and
        `bounded_seconds` to connect and to read, so a dead endpoint costs seconds.
        """
        from botocore.config import Config

        key = (service, region, bounded)
        session = self.session()
        with self._lock:
            if key not in self._clients:
                if bounded:
                    config = Config(
                        retries={"mode": "standard", "total_max_attempts": 1},
                        user_agent_extra="relight",
                        connect_timeout=self.target.bounded_seconds,
                        read_timeout=self.target.bounded_seconds,
                    )
                else:
                    config = Config(
                        retries={"mode": "standard", "max_attempts": self.target.max_attempts},
                        user_agent_extra="relight",
                        connect_timeout=5 if self.target.stand_in else 30,
                        read_timeout=60,
                    )
                make: Any = session.client  # typed per service literal; ours is a str
                self._clients[key] = make(
                    service,
                    region_name=region,
                    endpoint_url=self.target.endpoint_url,
                    config=config,
                )
            return self._clients[key]

    def account_id(self, region: str) -> str:
        """The account the credentials act in (an STS call)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return str(self.client("sts", region).get_caller_identity()["Account"])
        except BotoCoreError as exc:
            if unreachable(exc):
                raise AwsError(
                    f"STS in {region} did not answer ({exc}): relight cannot tell which account "
                    "it acts in, so it does nothing",
                    hint=f"{region}'s endpoints are unreachable from here: check the network "
                    "(proxy, VPC endpoint), or act in another recovery region",
                ) from exc
            raise AwsError(
                f"cannot tell which AWS account these credentials belong to: {exc}",
                hint="check your credentials (aws sts get-caller-identity), profile and role",
            ) from exc
        except ClientError as exc:
            raise AwsError(
                f"cannot tell which AWS account these credentials belong to: {exc}",
                hint="check your credentials (aws sts get-caller-identity), profile and role",
            ) from exc


def missing_profile(profile: str | None) -> InputError:
    """The error for a profile the AWS config files do not define: bad input, nothing tried."""
    import botocore.session

    name = profile or os.environ.get("AWS_PROFILE", "")
    named = repr(name) if profile else f"{name!r} (from AWS_PROFILE)"
    try:
        known = sorted(botocore.session.Session().available_profiles)
    except Exception:  # an unreadable config file: the listing is only a help
        known = []
    if known:
        there = f"the profiles there and in ~/.aws/credentials are {', '.join(known)}"
        fix = "name one of them with --profile" if profile else "set AWS_PROFILE to one of them"
    else:
        there = "no profile is defined there or in ~/.aws/credentials"
        fix = f"define it (aws configure --profile {name})"
    instead = "leave --profile out" if profile else "unset AWS_PROFILE"
    return InputError(
        f"AWS profile {named} is not in ~/.aws/config (or AWS_CONFIG_FILE): {there}",
        hint=f"{fix}, or {instead} for the default credentials; nothing was changed",
    )


def known_error(exc: BaseException) -> InputError | None:
    """A botocore error raised outside relight's wrappers (a session made to list regions,
    say), as the relight error it means; None when it is no known input problem."""
    from botocore.exceptions import ProfileNotFound

    if isinstance(exc, ProfileNotFound):  # only AWS_PROFILE reaches here; --profile is wrapped
        return missing_profile(None)
    return None


def unreachable(exc: BaseException) -> bool:
    """The endpoint did not answer (refused, timed out, connection dropped): not bad input."""
    from botocore.exceptions import (
        ConnectionClosedError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    return isinstance(
        exc,
        EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError | ConnectionClosedError,
    )


def sts_client(base: boto3.session.Session, region: str | None, endpoint_url: str | None) -> Any:
    """STS in `region`, at its regional endpoint (sts.REGION.amazonaws.com): never the global
    endpoint or the profile's default region, which may be the region that is down."""
    make: Any = base.client
    if region is None:
        return make("sts", endpoint_url=endpoint_url)
    return make("sts", region_name=region, endpoint_url=endpoint_url)


def assume_role_session(
    base: boto3.session.Session,
    role_arn: str,
    endpoint_url: str | None,
    region: str | None = None,
) -> boto3.session.Session:
    """A session whose credentials come from `role_arn` (assumed through STS in `region`) and
    refresh before they expire."""
    import boto3.session
    from botocore.credentials import RefreshableCredentials
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.session import get_session

    sts = sts_client(base, region, endpoint_url)

    def fetch() -> dict[str, str]:
        try:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="relight")["Credentials"]
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
            raise AwsError(
                f"cannot assume role {role_arn}: {exc}",
                hint="the role's trust policy must allow your identity to call sts:AssumeRole",
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
    botocore_session._credentials = credentials  # type: ignore[attr-defined]  # no public setter for refreshable credentials
    return boto3.session.Session(botocore_session=botocore_session)


def check_account(
    aws: Aws, region: str, expected: str | None, source: str, key: str = "account_id"
) -> str:
    """Refuse to act when the credentials belong to another account than the one declared."""
    actual = aws.account_id(region)
    if expected and actual != expected:
        raise AccountError(
            f"{source}: {key} is {expected}, but the credentials act in account {actual}",
            hint="use credentials (or --role-arn) for the declared account; nothing was changed",
        )
    return actual
