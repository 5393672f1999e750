"""What several of the stand-in's additions share."""

from __future__ import annotations

from typing import Any


def template_flag(value: Any) -> bool:
    """A CloudFormation Boolean: true/false, or the strings a Parameter gives ("true", "True")."""
    return value if isinstance(value, bool) else str(value).lower() == "true"
