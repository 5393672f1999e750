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
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from relight.errors import AccountError, AwsError

if TYPE_CHECKING:
    import boto3


@dataclass(frozen=True)
class AwsTarget:
    profile: str | None = None
    role_arn: str | None = None
    endpoint_url: str | None = None
    stand_in: bool = False
    max_attempts: int = 10  # botocore standard retry mode: backoff against throttling

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
        self._clients: dict[tuple[str, str], Any] = {}

    def _base_session(self) -> boto3.session.Session:
        import boto3.session

        if self.target.stand_in:
            return boto3.session.Session(
                aws_access_key_id="relight-stand-in",
                aws_secret_access_key="relight-stand-in",
                region_name="us-east-1",
            )
        try:
            return boto3.session.Session(profile_name=self.target.profile)
        except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
            raise AwsError(
                f"AWS profile {self.target.profile!r} cannot be used: {exc}",
                hint="check ~/.aws/config, or drop --profile to use the default credentials",
            ) from exc

    def session(self) -> boto3.session.Session:
        with self._lock:
            if self._session is None:
                base = self._base_session()
                self._session = (
                    assume_role_session(base, self.target.role_arn, self.target.endpoint_url)
                    if self.target.role_arn
                    else base
                )
            return self._session

    def client(self, service: str, region: str) -> Any:
        """A client for `service` in `region`, with standard retries and the target's endpoint."""
        from botocore.config import Config

        key = (service, region)
        session = self.session()
        with self._lock:
            if key not in self._clients:
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
        except (ClientError, BotoCoreError) as exc:
            raise AwsError(
                f"cannot tell which AWS account these credentials belong to: {exc}",
                hint="check your credentials (aws sts get-caller-identity), profile and role",
            ) from exc


def assume_role_session(
    base: boto3.session.Session, role_arn: str, endpoint_url: str | None
) -> boto3.session.Session:
    """A session whose credentials come from `role_arn` and refresh before they expire."""
    import boto3.session
    from botocore.credentials import RefreshableCredentials
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.session import get_session

    sts = base.client("sts", endpoint_url=endpoint_url)

    def fetch() -> dict[str, str]:
        try:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="relight")["Credentials"]
        except (ClientError, BotoCoreError) as exc:
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
