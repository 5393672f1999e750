"""Outage rehearsal: one region switched off for every client relight builds.

`Outage(region)`, installed on a botocore client (`Outage.install`; `Aws(target, outage)` and
`Aws.under_outage(outage)` do it for every client they build, the STS client that assumes the
role included), refuses every call that would need the region:

- any call of a client in that region;
- any call of a global service whose control plane lives there, whatever region its client
  names (`control_planes.GLOBAL_APIS`: IAM, Organizations, Account Management, Route 53,
  CloudFront and STS's global endpoint in us-east-1; Global Accelerator, Route 53 ARC in
  us-west-2). STS's regional endpoints in other regions answer;
- S3's bucket creation and configuration (`control_planes.configures_bucket`) when the region
  is the one S3's bucket control plane lives in (us-east-1), whatever the bucket's region, and
  a bucket to be created in the region. Objects are read and written regionally;
- CloudFormation's CreateStack, UpdateStack and CreateChangeSet whose template (nested stacks'
  included) holds a resource whose control plane lives there (`control_planes.control_plane`):
  on the local stand-in moto creates those resources in-process, so the refusal happens where
  relight sends the template. A TemplateURL is read through the `fetch` given to `install`
  (Aws gives one that reads S3 in the stack's region); one that cannot be read is not refused
  but noted (`Outage.notes`). An UpdateStack with UsePreviousTemplate is not inspected: the
  template is the one already deployed (relight sends it only to lift a protection before a
  delete). ExecuteChangeSet is not inspected either: its change set was inspected when created;
- last, any request botocore signs for the region (S3's redirect to a bucket that lives there,
  a global service the list does not name): checked when the request is made, after botocore
  resolved its endpoint.

A refusal is raised before the request is made (nothing reaches the network, botocore retries
nothing) as an `EndpointConnectionError`, what a region that is down looks like to botocore
and to relight's `unreachable`; `refusal(exc)` tells it from a real one. Every refused call is
recorded in `Outage.refused`, each attempt: a caller's retries are attempts too, and
`summary()` groups identical ones.

This module is import-cheap (botocore is imported when a refusal is raised).
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from relight.model.control_planes import (
    CONTROL_PLANES,
    api_control_plane,
    configures_bucket,
    control_plane,
)

if TYPE_CHECKING:
    from botocore.exceptions import EndpointConnectionError

# Reads the object at a TemplateURL: its text.
Fetch = Callable[[str], str]

# The CloudFormation operations that send a template whose resources CloudFormation may create.
TEMPLATE_ACTIONS = frozenset({"CreateStack", "UpdateStack", "CreateChangeSet"})
# How deep nested stacks (AWS::CloudFormation::Stack) are followed.
MAX_NESTING = 5
# How a reason ends that names the region switched off.
OFF = "which is switched off"
# The region S3's bucket configuration depends on.
S3_BUCKET_PLANE = CONTROL_PLANES["AWS::S3::Bucket"][1]


@dataclass(frozen=True)
class Refused:
    """A call the outage refused."""

    service: str  # boto3's name of it: "ec2", "iam", "sts"
    action: str  # the API operation: "DescribeVpcs"
    region: str  # where the call was addressed: its client's region, a global service's home
    why: str

    def __str__(self) -> str:
        return f"{self.service} {self.action} in {self.region}: {self.why}"


def refusal(exc: BaseException) -> Refused | None:
    """The outage's refusal `exc` is, None for any other failure (a real endpoint's)."""
    found = getattr(exc, _REFUSED, None)
    return found if isinstance(found, Refused) else None


class Outage:
    """A region switched off for the clients it is installed on; records what it refused.
    Safe to share between threads and clients."""

    def __init__(self, region: str) -> None:
        self.region = region
        self._lock = threading.Lock()
        self._refused: list[Refused] = []
        self._notes: list[str] = []

    @property
    def refused(self) -> list[Refused]:
        """Every refused call, each attempt, in the order they were made."""
        with self._lock:
            return list(self._refused)

    @property
    def notes(self) -> list[str]:
        """What could not be inspected (a TemplateURL that could not be read), once each."""
        with self._lock:
            return list(self._notes)

    @property
    def passed(self) -> bool:
        """Nothing needed the region that is switched off."""
        with self._lock:
            return not self._refused

    def summary(self) -> str:
        """One line when nothing was refused; else the count, then each distinct refusal (with
        how many attempts it had) on a line of its own; notes last."""
        with self._lock:
            refused, notes = list(self._refused), list(self._notes)
        if refused:
            counts = Counter(refused)
            head = (
                f"failed with {self.region} down: {len(refused)} call"
                f"{'' if len(refused) == 1 else 's'} refused"
            )
            lines = [head] + [
                f"  {r}" + (f" ({counts[r]} attempts)" if counts[r] > 1 else "") for r in counts
            ]
        else:
            lines = [f"passed with {self.region} down: no call refused"]
        return "\n".join(lines + [f"  note: {note}" for note in notes])

    # the decision ------------------------------------------------------------------------------

    def addressed(self, service: str, region: str | None) -> str:
        """The region a call of a `service` client in `region` goes to."""
        plane = api_control_plane(service, region)
        return plane[1] if plane else str(region)

    def why_refused(
        self,
        service: str,
        region: str | None,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        fetch: Fetch | None = None,
    ) -> str | None:
        """Why a call of `action` with `params` by a boto3 `service` client in `region` needs
        the region that is switched off; None when it does not. Decides only (a template at a
        TemplateURL is read through `fetch`; one that cannot be read is noted, not refused)."""
        params = params or {}
        plane = api_control_plane(service, region)
        if plane is not None:
            name, home = plane
            return f"{name}'s control plane is in {home}, {OFF}" if home == self.region else None
        if region == self.region:
            return f"{self.region} is switched off"
        if service == "s3":
            return self._bucket(action, params)
        if service == "cloudformation" and action in TEMPLATE_ACTIONS:
            return self._template(action, params, fetch)
        return None

    def _bucket(self, action: str, params: Mapping[str, Any]) -> str | None:
        if not configures_bucket(action):
            return None
        if self.region == S3_BUCKET_PLANE:
            return f"S3 bucket configuration ({action}) depends on {S3_BUCKET_PLANE}, {OFF}"
        where = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        if action == "CreateBucket" and where == self.region:
            return f"the bucket would be created in {self.region}, {OFF}"
        return None

    def _template(self, action: str, params: Mapping[str, Any], fetch: Fetch | None) -> str | None:
        if params.get("UsePreviousTemplate"):
            return None  # the template already deployed (see the module's docstring)
        body, url = params.get("TemplateBody"), params.get("TemplateURL")
        if isinstance(body, str):
            found = self._inspect(action, body, fetch, "", MAX_NESTING)
        elif isinstance(url, str):
            text = self._read(action, url, fetch, "the template")
            found = [] if text is None else self._inspect(action, text, fetch, "", MAX_NESTING)
        else:
            return None  # botocore refuses the call itself
        if not found:
            return None
        verb = "would create" if action == "CreateStack" else "would create or update"
        held = ", ".join(f"{logical} ({kind}, {service})" for logical, kind, service in found)
        return f"{verb} {held}: control plane in {self.region}, {OFF}"

    def _inspect(
        self, action: str, text: str, fetch: Fetch | None, prefix: str, depth: int
    ) -> list[tuple[str, str, str]]:
        """(logical id, type, service) of each resource of the template whose control plane is
        in the region, nested stacks' (as "Parent/Child") included."""
        resources = _resources(text)
        if resources is None:
            self._note(f"{action}: a template that is neither JSON nor YAML was not inspected")
            return []
        found = []
        for logical, resource in resources.items():
            kind = str(resource.get("Type", "")) if isinstance(resource, dict) else ""
            where = control_plane(kind)
            if where and where[1] == self.region:
                found.append((f"{prefix}{logical}", kind, where[0]))
            if kind == "AWS::CloudFormation::Stack":
                found += self._nested(action, prefix + logical, resource, fetch, depth)
        return found

    def _nested(
        self, action: str, name: str, resource: Mapping[str, Any], fetch: Fetch | None, depth: int
    ) -> list[tuple[str, str, str]]:
        url = (resource.get("Properties") or {}).get("TemplateURL")
        if not isinstance(url, str):
            self._note(f"{action}: nested stack {name}'s TemplateURL is computed: not inspected")
            return []
        if depth <= 1:
            self._note(f"{action}: nested stack {name} is nested too deep: not inspected")
            return []
        text = self._read(action, url, fetch, f"nested stack {name}'s template")
        return [] if text is None else self._inspect(action, text, fetch, f"{name}/", depth - 1)

    def _read(self, action: str, url: str, fetch: Fetch | None, what: str) -> str | None:
        if fetch is None:
            self._note(f"{action}: {what} at {url} was not inspected (nothing to read it with)")
            return None
        try:
            return fetch(url)
        except Exception as exc:  # unreadable: the deploy will say so; the rehearsal notes it
            self._note(f"{action}: {what} at {url} could not be read, not inspected ({exc})")
            return None

    def _note(self, note: str) -> None:
        with self._lock:
            if note not in self._notes:
                self._notes.append(note)

    # the client ---------------------------------------------------------------------------------

    def install(self, client: Any, *, fetch: Fetch | None = None) -> None:
        """Refuse `client`'s calls that need the region (see the module's docstring), before
        anything is sent. `fetch` reads a CloudFormation TemplateURL. Installing twice on one
        client installs once."""
        service = str(client.meta.service_model.service_name)
        region = client.meta.region_name
        endpoint = str(client.meta.endpoint_url)
        addressed = self.addressed(service, region)

        def decide(params: Mapping[str, Any], model: Any, **_: Any) -> None:
            why = self.why_refused(service, region, model.name, params, fetch=fetch)
            if why is not None:
                self._refuse(Refused(service, model.name, addressed, why), endpoint)

        def signed(request: Any, operation_name: str, **_: Any) -> None:
            signing = (getattr(request, "context", None) or {}).get("signing") or {}
            if signing.get("region") == self.region:
                why = f"the request is signed for {self.region}, {OFF}"
                self._refuse(Refused(service, operation_name, self.region, why), endpoint)

        events = client.meta.events
        # the API parameters as given, before botocore builds (and can redirect) the request
        events.register("before-parameter-build", decide, unique_id=f"relight-outage-{id(self)}")
        # each request made, retries and redirects included; raised here, it is not retried
        events.register("request-created", signed, unique_id=f"relight-outage-sent-{id(self)}")

    def _refuse(self, refused: Refused, endpoint: str) -> None:
        with self._lock:
            self._refused.append(refused)
        exc = _refusal_class()(endpoint_url=endpoint, why=refused.why)
        setattr(exc, _REFUSED, refused)
        exc.operation_name = refused.action  # type: ignore[attr-defined]  # as a ClientError names it
        raise exc


def read_s3_object(s3: Any, url: str) -> str:
    """The text of the S3 object at `url` (a TemplateURL: path-style, virtual-hosted or an
    emulator's `<endpoint>/<bucket>/<key>`), read through the client `s3`."""
    from relight.aws.bucket_owner import owner_and_region

    bucket, key = s3_location(url)
    owner = owner_and_region(bucket)[0]  # relight's bucket names its account: it must own it
    named = {"ExpectedBucketOwner": owner} if owner else {}
    body = s3.get_object(Bucket=bucket, Key=key, **named)["Body"].read()
    return body.decode("utf-8") if isinstance(body, bytes) else str(body)


def s3_location(url: str) -> tuple[str, str]:
    """(bucket, key) of an S3 object's URL."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = unquote(parts.path).lstrip("/")
    for marker in (".s3.", ".s3-"):
        if marker in host:  # virtual-hosted: https://bucket.s3.region.amazonaws.com/key
            return host.split(marker, 1)[0], path
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise ValueError(f"{url} names no S3 object")
    return bucket, key


def _resources(text: str) -> Mapping[str, Any] | None:
    """A template's Resources (empty when it has none); None when it is neither JSON nor
    YAML (CloudFormation's short-form tags such as !Ref are read as plain values)."""
    try:
        template = json.loads(text)
    except ValueError:
        template = _yaml(text)
    if not isinstance(template, dict):
        return None
    resources = template.get("Resources")
    return resources if isinstance(resources, dict) else {}


def _yaml(text: str) -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def untagged(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)  # type: ignore[arg-type]  # the only node left

    Loader.add_multi_constructor("!", untagged)
    try:
        return yaml.load(text, Loader=Loader)  # a SafeLoader: no object is constructed
    except yaml.YAMLError:
        return None


# The attribute that carries a refusal's record on its exception.
_REFUSED = "_relight_outage_refused"


@functools.cache
def _refusal_class() -> type[EndpointConnectionError]:
    """The exception of a refusal: an EndpointConnectionError (made when first needed, so that
    importing this module does not import botocore)."""
    from botocore.exceptions import EndpointConnectionError

    class OutageRefusal(EndpointConnectionError):
        fmt = 'Could not connect to the endpoint URL: "{endpoint_url}" (outage rehearsal: {why})'

    return OutageRefusal
