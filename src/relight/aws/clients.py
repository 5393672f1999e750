"""The one way in to AWS: every boto3 client relight uses is built here.

An `Aws` is made from an `AwsTarget` (profile, role to assume, endpoint) and
passed to engine functions; it is never global. Source and target regions are
two `client(service, region)` calls on the same object, and tests hand in one
that points at moto.

Endpoints: without an explicit `endpoint_url`, botocore honours the standard
`AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`) variables, so relight runs
unchanged against AWS or any emulator. The local stand-in passes its endpoint
explicitly, with throwaway credentials, so real credentials never reach it.

Every client it builds is watched through botocore's event system:

- every HTTP request it sends is counted per service (`Aws.calls`), botocore's
  retries included: the figure is what the endpoint receives, whatever made the
  call (discovery, preflight, deploy, verification, the lock);
- an answer cut short (fewer bytes than its Content-Length said: botocore reads
  without enforcing it) or, from a JSON service, not JSON at all is refused as a
  `ResponseParserError` instead of being read as an empty answer;
- a call that fails without an answer (no connection, an unreadable answer) is
  marked with its operation and endpoint, so `aws_failure` can name them; an error
  answer is marked with its endpoint, service, command and environment, so a refusal
  (access denied) names the IAM action and the `relight policy` that grants it;
- with `RELIGHT_CALL_LOG` naming a file, every API call (botocore's `before-call`:
  once per call, not per retry) appends `<command>\t<service>\t<Operation>` to it, the
  command being `AwsTarget.command` (`-` when none): the record tests/conftest.py checks
  against the table of calls (relight.model.permissions.CALLS).

How a failed call becomes an `AwsError` (`aws_failure`, `translated`) is in
failures.py; the sessions clients are made from (a shared botocore loader, STS at its regional
endpoints, an assumed role's refreshed session) in sessions.py.
"""

from __future__ import annotations

import functools
import os
import threading
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from relight.aws.bucket_owner import expect_owner
from relight.aws.failures import (
    CALL,
    COMMAND,
    ENDPOINT,
    ENVIRONMENT,
    SERVICE,
    Call,
    aws_failure,
    missing_profile,
    refuse_broken_answer,
    unreachable,
)
from relight.aws.sessions import assume_role_session, regional, shared_models
from relight.errors import AccountError, AwsError

if TYPE_CHECKING:
    import boto3

    from relight.aws.budget import TokenBudget
    from relight.aws.outage import Outage


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
    # The CLI command these calls are made for (`failover`, `drill`, ...; the stand-in's story:
    # `stand-in story`): what the call log records, and what an access-denied error advises.
    command: str | None = None
    # What `--env` takes to name the environment (for the `relight policy` an error advises).
    env: str | None = None
    # Sent as ExternalId when `role_arn` is assumed (an estate's account whose role's trust
    # policy requires one: sts:ExternalId in its Condition).
    external_id: str | None = None

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


class Aws:
    """Builds and caches boto3 clients per (service, region); safe to share between threads.

    With an `outage` (outage.py), an outage rehearsal: every client it builds, the STS client
    that assumes the role included, refuses what would need the region switched off. With a
    `budget` (budget.py: the estate's, shared by every environment in one account and region),
    every request its clients send, retries included, first takes a token of it.
    """

    def __init__(
        self, target: AwsTarget, outage: Outage | None = None, budget: TokenBudget | None = None
    ) -> None:
        self.target = target
        self.outage = outage
        self.budget = budget
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str, bool], Any] = {}
        self._counting = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._retries = 0
        self._account: str | None = None  # the account the credentials act in, once asked
        # The role session STS granted, in seconds (an assumed role only; see
        # assume_role_session): said with the target, so the operator knows how long it lasts.
        self.session_seconds: int | None = None

    @property
    def calls(self) -> dict[str, int]:
        """service → HTTP requests its clients sent so far, botocore's retries included (what
        the endpoints received), most first."""
        with self._counting:
            return dict(sorted(self._requests.items(), key=lambda item: (-item[1], item[0])))

    @property
    def total_calls(self) -> int:
        with self._counting:
            return sum(self._requests.values())

    @property
    def retries(self) -> int:
        """How many of the requests counted were botocore's retries of a call."""
        with self._counting:
            return self._retries

    def down(self, service: str, region: str) -> str | None:
        """Why a read of `service` in `region` would be refused in this outage rehearsal (the
        rehearsal declares that region lost: an optional read of it is not even tried), or
        None."""
        if self.outage is None:
            return None
        return self.outage.why_refused(service, region, "")

    def under_outage(self, outage: Outage) -> Aws:
        """An Aws for the same target whose every client has `outage` installed: clients,
        session (the role assumed again, through the outage) and counters of its own."""
        twin = Aws(self.target, outage, self.budget)
        twin._account = self._account
        return twin

    def _instrument(self, client: Any, service: str) -> None:
        """Watch `client` (see `_watch`) and, in an outage rehearsal, install the outage; a
        CloudFormation client reads a TemplateURL through S3 in its own region."""
        self._watch(client, service)
        if self.outage is None:
            return
        fetch = None
        if service == "cloudformation":
            fetch = functools.partial(self._read_object, str(client.meta.region_name))
        self.outage.install(client, fetch=fetch)

    def _read_object(self, region: str, url: str) -> str:
        from relight.aws.outage import read_s3_object

        return read_s3_object(self.client("s3", region), url)

    def _watch(self, client: Any, service: str) -> None:
        """Count `client`'s requests, refuse answers cut short, mark failed calls (see above)."""
        endpoint = client.meta.endpoint_url

        def sent(request: Any, **_: Any) -> None:
            retrying = ((getattr(request, "context", None) or {}).get("retries") or {}).get(
                "attempt", 1
            ) > 1
            with self._counting:
                self._requests[service] += 1
                self._retries += retrying

        def failed(exception: BaseException, event_name: str, **_: Any) -> None:
            if not hasattr(exception, CALL):
                setattr(exception, CALL, Call(event_name.rsplit(".", 1)[-1], endpoint))

        def answered(http_response: Any, parsed: Any, **_: Any) -> None:
            if http_response.status_code >= 300 and isinstance(parsed, dict):
                # `parsed` becomes the ClientError's `response`: it says where it came from,
                # which service refused, and for which command of which environment
                where = urlsplit(str(getattr(http_response, "url", "") or endpoint))
                metadata = parsed.setdefault("ResponseMetadata", {})
                metadata[ENDPOINT] = f"{where.scheme}://{where.netloc}"
                metadata[SERVICE] = service
                metadata[COMMAND] = self.target.command
                metadata[ENVIRONMENT] = self.target.env

        events = client.meta.events
        if self.budget is not None:  # first: a request waits for its token, then is sent
            events.register("before-send", self.budget.before_send)
        log = os.environ.get(CALL_LOG)
        if log:
            events.register("before-call", functools.partial(_log_call, log, self.target.command))
        events.register("before-send", sent)  # once per attempt: retries are requests too
        events.register("before-parse", refuse_broken_answer)
        events.register("after-call", answered)  # an error answer (a ClientError to be)
        events.register("after-call-error", failed)  # no answer, or none that could be read

    def _base_session(self) -> boto3.session.Session:
        import boto3.session

        if self.target.stand_in:
            return shared_models(
                boto3.session.Session(
                    aws_access_key_id="relight-stand-in",
                    aws_secret_access_key="relight-stand-in",
                    region_name="us-east-1",
                )
            )
        from botocore.exceptions import ProfileNotFound

        try:
            return shared_models(boto3.session.Session(profile_name=self.target.profile))
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
                base = regional(self._base_session())
                self._session = (
                    assume_role_session(
                        base,
                        self.target.role_arn,
                        self.target.endpoint_url,
                        self.target.sts_region,
                        external_id=self.target.external_id,
                        watch=self._instrument,
                        granted=self._granted,
                    )
                    if self.target.role_arn
                    else base
                )
            return self._session

    def _granted(self, seconds: int) -> None:
        self.session_seconds = seconds

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
                client = make(
                    service,
                    region_name=region,
                    endpoint_url=self.target.endpoint_url,
                    config=config,
                )
                self._instrument(client, service)
                if service == "s3":  # every S3 request names the bucket's owner: bucket_owner.py
                    expect_owner(client, functools.partial(self.owner, region))
                self._clients[key] = client
            return self._clients[key]

    def owner(self, region: str) -> str:
        """The account the credentials act in: the one `account_id` found, else asked of STS in
        `region` now. Every S3 request names it as its bucket's expected owner."""
        return self._account or self.account_id(region)

    def account_id(self, region: str) -> str:
        """The account the credentials act in (an STS call)."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        sts = self.client("sts", region)
        try:
            self._account = str(sts.get_caller_identity()["Account"])
            return self._account
        except ResponseParserError as exc:
            what = f"STS in {region} failed: relight cannot tell which account it acts in"
            raise aws_failure(exc, what, sts) from exc
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
            raise aws_failure(
                exc,
                "cannot tell which AWS account these credentials belong to",
                sts,
                hint="check your credentials (aws sts get-caller-identity), profile and role",
            ) from exc


CALL_LOG = "RELIGHT_CALL_LOG"
_call_log_lock = threading.Lock()


def _log_call(path: str, command: str | None, model: Any, **_: Any) -> None:
    """botocore's `before-call` hook: one line per API call (not per retry) in the call log."""
    line = f"{command or '-'}\t{model.service_model.service_name}\t{model.name}\n"
    with _call_log_lock, open(path, "a", encoding="utf-8") as log:
        log.write(line)


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
