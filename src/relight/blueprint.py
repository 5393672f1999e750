"""What a blueprint file imports: the contract and helpers, at a path that does not move.

Blueprints live outside the package (the shipped ones in `blueprints/`, a user's
beside them) and import `from relight.blueprint import Options, blueprint`. That
import is relight's public API for blueprint authors, so it stays here while the
contract itself lives in the model (`relight.model.blueprint`). Nothing inside
`src/relight` imports this module (the import contract in pyproject.toml says so).
"""

from relight.model.blueprint import (
    DERIVED,
    NAMESPACE_PARAMETER,
    NAMESPACED,
    PROTECTED,
    PROTECTED_PURPOSES,
    PURPOSE_PARAMETER,
    PURPOSES,
    Blueprint,
    Options,
    blueprint,
    derived_parameter,
    managed_policy,
    namespace_parameter,
    no_egress,
    optional_parameter,
    purpose_parameter,
    scan_skips,
    trusted_by,
)
from relight.model.fleet import (
    FleetOptions,
    ScheduledAction,
    VolumeType,
)

__all__ = [
    "DERIVED",
    "NAMESPACED",
    "NAMESPACE_PARAMETER",
    "PROTECTED",
    "PROTECTED_PURPOSES",
    "PURPOSES",
    "PURPOSE_PARAMETER",
    "Blueprint",
    "FleetOptions",
    "Options",
    "ScheduledAction",
    "VolumeType",
    "blueprint",
    "derived_parameter",
    "managed_policy",
    "namespace_parameter",
    "no_egress",
    "optional_parameter",
    "purpose_parameter",
    "scan_skips",
    "trusted_by",
]
