"""AWS failures as relight's errors: what a failed botocore call means, and what to do.

`aws_failure` (and the `translated` context around calls) turns any failure of
an AWS call into an `AwsError` that names the operation, the endpoint and what
to do; botocore's `ResponseParserError` is not a `BotoCoreError`, so it is
caught by name. `unreachable`, `refused` and `endpoint_failed` tell the kinds
of failure apart; `known_error` is the CLI's last line of defence.

The clients `Aws` builds (clients.py) are watched with what is here: a call
that fails without an answer is marked with its operation and endpoint (`CALL`,
`ENDPOINT`), and `refuse_broken_answer` refuses an answer cut short or, from a
JSON service, not JSON at all.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from relight.errors import AwsError, InputError, RelightError


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


# The attribute `Aws._watch` (clients.py) sets on the exception of a call that failed without
# an answer.
CALL = "_relight_call"
# The attribute that tells an answer cut short from other unreadable ones.
_CUT_SHORT = "_relight_cut_short"
# The key in a ClientError's response["ResponseMetadata"] that names the endpoint it came from.
ENDPOINT = "RelightEndpoint"
# The keys that name the botocore service that answered, and the command and environment
# (`AwsTarget.command`, `AwsTarget.env`) the call was made for.
SERVICE = "RelightService"
COMMAND = "RelightCommand"
ENVIRONMENT = "RelightEnvironment"


@dataclass(frozen=True)
class Call:
    operation: str  # DescribeKey
    endpoint: str  # https://kms.us-west-2.amazonaws.com


def refuse_broken_answer(operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
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
    call = getattr(exc, CALL, None)
    operation = getattr(exc, "operation_name", None) or (call.operation if call else None)
    answer = getattr(exc, "response", None)
    endpoint = (
        (call.endpoint if call else None)
        or (answer.get("ResponseMetadata", {}).get(ENDPOINT) if isinstance(answer, dict) else None)
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
        elif denied(exc):
            detail, advice = access_denied(exc, site)
        else:
            detail = f"{site}: {said}"
            advice = hint or "check that the credentials may do this (their role's policy)"
    elif unreachable(exc):
        detail, advice = f"{site} did not answer ({exc})", _UNREACHABLE_HINT
    else:  # no credentials, a request botocore would not build, ...
        detail = f"{site}: {exc}"
        advice = hint or "check the credentials (profile, role, environment) and the endpoint"
    return AwsError(f"{what}: {detail}" if what else detail, hint=advice)


# The error codes of an identity's missing permission: the query APIs' (S3, STS, IAM,
# CloudFormation, RDS, Auto Scaling), the JSON APIs' (KMS, Service Quotas, Secrets Manager), EC2's
# (its message is encoded and names no action), SNS's.
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)
# AWS's (and moto's) text: "User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform:
# ec2:DescribeImages [on resource: ...]"
_NOT_AUTHORIZED = re.compile(r"User: (arn:\S+) is not authorized to perform: ([\w-]+:\w+)")
# The `relight policy --for` that grants a command's calls.
_POLICY_FOR = {"readiness": "readiness", "drift": "readiness", "status": "readiness"}


def denied(exc: BaseException) -> bool:
    """`exc` says the identity may not make the call (its policy lacks the action); S3's HEAD
    answers carry no code, only 403."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in DENIED_CODES or (code == "403" and _status(exc) == 403)


def access_denied(exc: Any, site: str) -> tuple[str, str]:
    """What an access-denied answer means and what to do: the IAM action the call needs (from
    the message when it names one, else from relight's table: EC2's message is encoded), the
    identity refused when the message names it, and the `relight policy` to attach to it."""
    from relight.model.permissions.actions import iam_action

    error = exc.response.get("Error", {})
    metadata = exc.response.get("ResponseMetadata", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    service = str(metadata.get(SERVICE) or "")
    operation = str(getattr(exc, "operation_name", "") or "")
    named = _NOT_AUTHORIZED.search(message)
    who = named.group(1) if named else "these credentials"
    if named:
        action = named.group(2)
    elif service and operation:
        action = iam_action(service, operation)
    else:
        action = f"the IAM action of {operation or 'this call'}"
    said = "encoded authorization failure message" if "Encoded authorization" in message else ""
    detail = f"{site}: access denied ({code or 'HTTP 403'}): {who} may not {action}"
    if action == "s3:GetObject" and operation == "HeadObject":
        detail += " (or, when the key does not exist, s3:ListBucket on the bucket: without it "
        detail += "S3 answers 403 for a missing key)"
    if said:
        detail += f" ({said}: aws sts decode-authorization-message tells more)"
    command = metadata.get(COMMAND)
    env = metadata.get(ENVIRONMENT) or "ENV"
    which = _POLICY_FOR.get(str(command), "replicate" if command == "replicate" else "operator")
    advice = (
        f"grant {action} to {who}: `relight policy --env {env} --for {which}` prints "
        f"the least-privilege policy relight needs; attach it to {who}"
    )
    return detail, advice


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
