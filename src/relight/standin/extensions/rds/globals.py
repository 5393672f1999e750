"""Aurora global databases on the stand-in: where moto 5.2.6 falls short of AWS (measured).

CreateGlobalCluster with `SourceDBClusterIdentifier` makes the source cluster the global
database's primary: AWS reports it in `GlobalClusterMembers` with `IsWriter` true and the
cluster's `GlobalClusterIdentifier` as the global database's identifier. moto lists it with
`IsWriter` false and gives the cluster the global database's ARN instead, so a secondary made
later (relight's `RestoredDBCluster` with `GlobalClusterIdentifier`, clusters.py) would sit
beside a primary that does not write. `install()` wraps moto's CreateGlobalCluster so the
source is the writer, named by the global database's identifier.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.rds.models import RDSBackend

_MARK = "__relight_global_writer__"


def install() -> None:
    """Wrap `RDSBackend.create_global_cluster` once (idempotent)."""
    original = RDSBackend.create_global_cluster
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def create_global_cluster(self: RDSBackend, *args: Any, **kwargs: Any) -> Any:
        made = original(self, *args, **kwargs)
        for member in made.members:  # the source, when one was given: the primary
            member.is_writer = True
            member.global_cluster_identifier = made.global_cluster_identifier
        return made

    setattr(create_global_cluster, _MARK, True)
    RDSBackend.create_global_cluster = create_global_cluster  # type: ignore[method-assign]
