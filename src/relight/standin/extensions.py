"""relight's additions to moto: what the local stand-in plays that moto alone does not.

The stand-in server (server.py) calls `install()` after importing moto and before serving its
first request. Each addition is one function below, whose docstring names the AWS behaviour it
plays and the moto version it was written against; `MOTO_TESTED` is that version, and
pyproject.toml pins moto to the range they were tested with. Nothing here runs against AWS.

moto's CloudFormation builds its map of resource types from `CloudFormationModel`'s direct
subclasses the first time a template is parsed (`moto.cloudformation.parsing.get_model_map`, an
lru_cache): an addition that plays a resource type differently subclasses moto's model and lists
`CloudFormationModel` among its bases, so it is found, and later than moto's own, so it wins.
"""

from __future__ import annotations

MOTO_TESTED = "5.2.5"
_installed: list[bool] = []


def install() -> None:
    """Install every addition (once per process)."""
    if _installed:
        return
    from relight.standin import moto_cloudformation, moto_ec2, moto_rds

    moto_rds.install()
    moto_ec2.install()
    moto_cloudformation.install()
    _installed.append(True)
