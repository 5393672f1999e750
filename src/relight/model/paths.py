"""Where relight keeps what it makes on this machine. Imports nothing heavy: the CLI's
`relight local` commands reach it at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where relight keeps what it makes on this machine (the stand-in, the lint cache):
    `$RELIGHT_STATE_DIR`, or `.relight` in the working directory."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("RELIGHT_STATE_DIR") or ".relight").resolve()
