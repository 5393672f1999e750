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
  marked with its operation and endpoint, so `aws_failure` can name them.

`aws_failure` (and the `translated` context around calls) turns any failure of
an AWS call into an `AwsError` that names the operation, the endpoint and what
to do; botocore's `ResponseParserError` is not a `BotoCoreError`, so it is
caught by name.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from relight.errors import AccountError, AwsError, InputError, RelightError

if TYPE_CHECKING:
    import boto3

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
    that assumes the role included, refuses what would need the region switched off.
    """

    def __init__(self, target: AwsTarget, outage: Outage | None = None) -> None:
        self.target = target
        self.outage = outage
        self._lock = threading.Lock()
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple[str, str, bool], Any] = {}
        self._counting = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._retries = 0

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
        return Aws(self.target, outage)

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
            if not hasattr(exception, _CALL):
                setattr(exception, _CALL, _Call(event_name.rsplit(".", 1)[-1], endpoint))

        def answered(http_response: Any, parsed: Any, **_: Any) -> None:
            if http_response.status_code >= 300 and isinstance(parsed, dict):
                # `parsed` becomes the ClientError's `response`: it says where it came from
                where = urlsplit(str(getattr(http_response, "url", "") or endpoint))
                metadata = parsed.setdefault("ResponseMetadata", {})
                metadata[_ENDPOINT] = f"{where.scheme}://{where.netloc}"

        events = client.meta.events
        events.register("before-send", sent)  # once per attempt: retries are requests too
        events.register("before-parse", _refuse_broken_answer)
        events.register("after-call", answered)  # an error answer (a ClientError to be)
        events.register("after-call-error", failed)  # no answer, or none that could be read

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
                base = regional(self._base_session())
                self._session = (
                    assume_role_session(
                        base,
                        self.target.role_arn,
                        self.target.endpoint_url,
                        self.target.sts_region,
                        watch=self._instrument,
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
                client = make(
                    service,
                    region_name=region,
                    endpoint_url=self.target.endpoint_url,
                    config=config,
                )
                self._instrument(client, service)
                self._clients[key] = client
            return self._clients[key]

    def account_id(self, region: str) -> str:
        """The account the credentials act in (an STS call)."""
        from botocore.exceptions import BotoCoreError, ClientError
        from botocore.parsers import ResponseParserError

        sts = self.client("sts", region)
        try:
            return str(sts.get_caller_identity()["Account"])
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


def known_error(exc: BaseException) -> RelightError | None:
    """A botocore error raised outside relight's wrappers (a session made to list regions,
    a call a module does not translate), as the relight error it means; None when it is no
    AWS failure at all. The last line of defence: `aws_failure` where the call is made says
    more (what relight was doing)."""
    from botocore.exceptions import ProfileNotFound

    if isinstance(exc, ProfileNotFound):  # only AWS_PROFILE reaches here; --profile is wrapped
        return missing_profile(None)
    if isinstance(exc, Exception) and is_aws_failure(exc):
        return aws_failure(exc, "an AWS call failed")
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


# The attribute `Aws._watch` sets on the exception of a call that failed without an answer.
_CALL = "_relight_call"
# The attribute that tells an answer cut short from other unreadable ones.
_CUT_SHORT = "_relight_cut_short"
# The key in a ClientError's response["ResponseMetadata"] that names the endpoint it came from.
_ENDPOINT = "RelightEndpoint"


@dataclass(frozen=True)
class _Call:
    operation: str  # DescribeKey
    endpoint: str  # https://kms.us-west-2.amazonaws.com


def _refuse_broken_answer(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's `before-parse` hook: an answer cut short (the connection closed before the
    Content-Length it announced arrived; botocore reads without enforcing it) or a JSON
    service's answer that is not JSON (an HTML page from a proxy) is a ResponseParserError,
    as an unreadable XML answer is, never an empty answer read as if complete."""
    from botocore.parsers import ResponseParserError

    body = response_dict.get("body")
    status = int(response_dict.get("status_code") or 0)
    head = operation_model.http.get("method") == "HEAD"  # announces a length it never sends
    if not isinstance(body, bytes) or status in (204, 304) or head:
        return
    announced = str((response_dict.get("headers") or {}).get("content-length", ""))
    if announced.isdigit() and len(body) < int(announced):
        cut = ResponseParserError(
            f"{len(body)} of the {announced} bytes announced arrived before the connection closed"
        )
        setattr(cut, _CUT_SHORT, True)
        raise cut
    protocol = getattr(operation_model.service_model, "resolved_protocol", None)
    if protocol == "json" and status < 300 and body.strip():
        try:
            json.loads(body)
        except ValueError as exc:
            raise ResponseParserError(
                f"the answer is not JSON ({exc}): {_gist(body.decode('utf-8', 'replace'))}"
            ) from exc


def is_aws_failure(exc: BaseException) -> bool:
    """`exc` is how a botocore call fails: an error answer (ClientError), no answer or a
    request that could not be made (BotoCoreError), an answer that could not be read
    (ResponseParserError, which is neither)."""
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    return isinstance(exc, ClientError | BotoCoreError | ResponseParserError)


def _status(exc: BaseException) -> int:
    """The HTTP status of a ClientError's answer (0 when not known)."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return 0
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def refused(exc: BaseException) -> bool:
    """AWS answered, and said no (a ClientError under HTTP 500: AccessDenied, NotFound,
    Throttling, ...): about this request, not the endpoint. Code whose check depends on the
    answer (a key that does not exist) reads it; every other failure is `endpoint_failed`
    or a request botocore would not make."""
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and _status(exc) < 500


def endpoint_failed(exc: BaseException) -> bool:
    """The endpoint failed, not the request: no answer (`unreachable`), an answer that could
    not be read, or an HTTP 5xx after botocore's retries."""
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    return (
        unreachable(exc)
        or isinstance(exc, ResponseParserError)
        or (isinstance(exc, ClientError) and _status(exc) >= 500)
    )


def _gist(text: str, limit: int = 160) -> str:
    """`text` on one line of at most `limit` characters; of an HTML page, its title (or its
    text without the markup)."""
    page = re.search(r"<!doctype html|<html", text, re.IGNORECASE)
    if page:
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = title.group(1) if title else re.sub(r"<[^>]*>", " ", text[page.start() :])
        text = text.replace("\\n", " ")  # inside the repr of a body botocore quotes
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _site(exc: BaseException, client: Any) -> str:
    """Which operation failed at which endpoint, as far as known: "DescribeKey at URL"."""
    call = getattr(exc, _CALL, None)
    operation = getattr(exc, "operation_name", None) or (call.operation if call else None)
    answer = getattr(exc, "response", None)
    endpoint = (
        (call.endpoint if call else None)
        or (answer.get("ResponseMetadata", {}).get(_ENDPOINT) if isinstance(answer, dict) else None)
        or getattr(getattr(client, "meta", None), "endpoint_url", None)
        or getattr(exc, "kwargs", {}).get("endpoint_url")
    )
    if operation and endpoint:
        return f"{operation} at {endpoint}"
    if endpoint:
        return f"the endpoint {endpoint}"
    return str(operation or "the AWS call")


_UNREACHABLE_HINT = (
    "the endpoint is unreachable from here: check the network (proxy, VPC endpoint) and the "
    "endpoint's address (AWS_ENDPOINT_URL), or act in another recovery region"
)
_UNREADABLE_HINT = (
    "that is no AWS answer: an emulator answers so for an operation it does not implement, a "
    "proxy for a request it blocks; check the endpoint (AWS_ENDPOINT_URL), or rerun"
)
_CUT_SHORT_HINT = (
    "the connection closed mid-answer: the endpoint, or a proxy on the way, failed while "
    "answering; rerun, or check the endpoint and the network"
)
_SERVER_HINT = (
    "the endpoint failed on its side, also when botocore asked again (an emulator answers HTTP "
    "500 for an operation it does not implement); rerun later, or check the endpoint"
)


def aws_failure(
    exc: Exception, what: str, client: Any = None, *, hint: str | None = None
) -> AwsError:
    """The AwsError for `exc`, raised by an AWS call while relight was doing `what` ("cannot
    list Images in us-west-2"): it names the operation and the endpoint (from the exception,
    else from `client`) and says what to do. `hint` is the advice for a refusal (a ClientError
    under HTTP 500, which is about the request); an endpoint that failed gets advice about
    the endpoint."""
    from botocore.exceptions import ClientError
    from botocore.parsers import ResponseParserError

    site = _site(exc, client)
    if getattr(exc, _CUT_SHORT, False):
        detail, advice = f"{site}: the answer was cut short ({exc})", _CUT_SHORT_HINT
    elif isinstance(exc, ResponseParserError):
        lines = str(exc).split("\n", 1)
        first = lines[0].removesuffix(" Further retries may succeed:").rstrip(".")
        seen = f"; it began: {_gist(lines[1])}" if len(lines) > 1 else ""
        detail, advice = f"{site}: the answer could not be read ({first}{seen})", _UNREADABLE_HINT
    elif isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), _gist(str(error.get("Message", "")))
        said = ": ".join(part for part in (code, message) if part)
        if _status(exc) >= 500:
            said = message if code.isdigit() else said  # a bare status: an HTML error page
            detail = f"{site}: HTTP {_status(exc)}" + (f" ({said})" if said else "")
            advice = _SERVER_HINT
        else:
            detail = f"{site}: {said}"
            advice = hint or "check that the credentials may do this (their role's policy)"
    elif unreachable(exc):
        detail, advice = f"{site} did not answer ({exc})", _UNREACHABLE_HINT
    else:  # no credentials, a request botocore would not build, ...
        detail = f"{site}: {exc}"
        advice = hint or "check the credentials (profile, role, environment) and the endpoint"
    return AwsError(f"{what}: {detail}" if what else detail, hint=advice)


@contextlib.contextmanager
def translated(what: str, client: Any = None, *, hint: str | None = None) -> Iterator[None]:
    """Around AWS calls: a failure of theirs leaves as `aws_failure(exc, what, client)`."""
    try:
        yield
    except Exception as exc:
        if not is_aws_failure(exc):
            raise
        raise aws_failure(exc, what, client, hint=hint) from exc


@functools.cache
def _aws_dns_suffixes() -> tuple[str, ...]:
    """The DNS suffixes of AWS's endpoints in every partition botocore knows (amazonaws.com,
    api.aws, amazonaws.com.cn, ...)."""
    from botocore.loaders import create_loader

    suffixes = set()
    for partition in create_loader().load_data("endpoints")["partitions"]:
        suffixes.add(partition["dnsSuffix"])
        for variant in partition.get("defaults", {}).get("variants", []):
            suffixes.add(variant["dnsSuffix"])
    return tuple(sorted(suffixes))


def aws_endpoint(url: str) -> bool:
    """`url` is one of AWS's own endpoints (a regional, FIPS, dual-stack or VPC endpoint name
    in a partition botocore knows), not an emulator's or a proxy's."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return any(host.endswith(f".{suffix}") for suffix in _aws_dns_suffixes())


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


def assume_role_session(
    base: boto3.session.Session,
    role_arn: str,
    endpoint_url: str | None,
    region: str | None = None,
    *,
    watch: Callable[[Any, str], None] | None = None,
) -> boto3.session.Session:
    """A session whose credentials come from `role_arn` (assumed through STS in `region`) and
    refresh before they expire, its STS regional like `base`'s (`regional`: a fresh botocore
    session reads the operator's config again). `watch` is shown the STS client (Aws counts
    its calls)."""
    import boto3.session
    from botocore.credentials import RefreshableCredentials
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError
    from botocore.session import get_session

    sts = sts_client(base, region, endpoint_url)
    if watch is not None:
        watch(sts, "sts")

    def fetch() -> dict[str, str]:
        try:
            creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="relight")["Credentials"]
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
    return regional(boto3.session.Session(botocore_session=botocore_session))


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
