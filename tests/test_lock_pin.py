"""The run lock needs an SDK that models S3's conditional writes and deletes.

botocore validates every request against its bundled service model before sending it: a
parameter the model lacks is refused on the client ("Unknown parameter in input"), so an
install with an SDK older than the lock's requests fails every mutating run. The first
botocore whose S3 model has PutObject `IfNoneMatch` and `IfMatch` and DeleteObject `IfMatch`
is 1.35.69 (read from the wheels' `botocore/data/s3/2006-03-01/service-2.json.gz`: 1.35.0
has none of them, 1.35.2 has PutObject IfNoneMatch, 1.35.67 and 1.35.68 add DeleteObject
IfMatch but still lack PutObject IfMatch, 1.35.69 has all three). docs/aws-behaviours.md S6.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import botocore
import botocore.session
import pytest
from botocore.exceptions import ParamValidationError
from botocore.model import ServiceModel
from botocore.validate import validate_parameters
from packaging.requirements import Requirement
from packaging.version import Version

FIRST = Version("1.35.69")  # the first botocore (and boto3) modelling all three members
LOCK_MEMBERS = {"PutObject": {"IfNoneMatch", "IfMatch"}, "DeleteObject": {"IfMatch"}}
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _s3_model() -> dict[str, Any]:
    loader = botocore.session.get_session().get_component("data_loader")
    model: dict[str, Any] = loader.load_service_model("s3", "service-2")
    return model


def _floor(name: str) -> Version:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (req,) = [Requirement(d) for d in deps if Requirement(d).name == name]
    floors = [Version(s.version) for s in req.specifier if s.operator in (">=", "==", "~=")]
    assert floors, f"pyproject.toml: {name} has no lower bound"
    return max(floors)


def _lock_requests() -> list[tuple[str, dict[str, str]]]:
    return [
        ("PutObject", {"Bucket": "b", "Key": "locks/shop/-.json", "IfNoneMatch": "*"}),
        ("PutObject", {"Bucket": "b", "Key": "locks/shop/-.json", "IfMatch": '"etag"'}),
        ("DeleteObject", {"Bucket": "b", "Key": "locks/shop/-.json", "IfMatch": '"etag"'}),
    ]


@pytest.mark.parametrize("name", ["boto3", "botocore"])
def test_the_declared_floor_models_the_locks_conditional_requests(name: str) -> None:
    assert _floor(name) >= FIRST, (
        f"pyproject.toml allows {name} older than {FIRST}, whose S3 model refuses the run "
        "lock's PutObject IfMatch as an unknown parameter"
    )


def test_the_installed_botocore_models_every_member_the_lock_sends() -> None:
    assert Version(botocore.__version__) >= FIRST
    shapes = _s3_model()["shapes"]
    for operation, members in LOCK_MEMBERS.items():
        request = shapes[f"{operation}Request"]["members"]
        assert members <= set(request), f"{operation} lacks {members - set(request)}"
    model = ServiceModel(_s3_model(), "s3")
    for operation, params in _lock_requests():
        shape = model.operation_model(operation).input_shape
        validate_parameters(params, shape)  # raises when a member is not modelled


@pytest.mark.parametrize(
    ("operation", "member"),
    [("PutObject", "IfMatch"), ("PutObject", "IfNoneMatch"), ("DeleteObject", "IfMatch")],
)
def test_a_model_without_a_member_refuses_the_locks_request_before_sending_it(
    operation: str, member: str
) -> None:
    """What an older botocore does with the lock's requests: the reason for the floor."""
    older = copy.deepcopy(_s3_model())
    del older["shapes"][f"{operation}Request"]["members"][member]
    shape = ServiceModel(older, "s3").operation_model(operation).input_shape
    params = next(p for op, p in _lock_requests() if op == operation and member in p)
    with pytest.raises(ParamValidationError, match=f'Unknown parameter in input: "{member}"'):
        validate_parameters(params, shape)
