"""relight's exceptions: one root, a few kinds, caught once in the CLI.

Each error carries a message that says where, what, and what to do. The
`exit_code` tells the CLI how to end: 2 when the input was bad and nothing was
changed, 1 when an operation was attempted and failed.
"""

from __future__ import annotations


class RelightError(Exception):
    """Root of every error relight raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  → {self.hint}"
        return self.message


class InputError(RelightError):
    """Bad input: nothing was changed. Exit 2."""

    exit_code = 2


class ConfigError(InputError):
    """The environment file is malformed or inconsistent."""


class BlueprintError(InputError):
    """A blueprint is unknown, broken, or was given parameters it does not accept."""

    def at(self, prefix: str) -> str:
        """The message under `prefix` (e.g. `stacks.web.params`), its key path first."""
        return f"{prefix}.{self.message}"


class OptionError(BlueprintError):
    """A value the environment file gave a blueprint's options is refused: `path` is the key
    under the stack's params ("" when the options as a whole are at fault), `reason` why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason

    def at(self, prefix: str) -> str:
        """The message under `prefix` (e.g. `stacks.web.params`): `prefix.path: reason`."""
        return f"{prefix}.{self.path}: {self.reason}" if self.path else f"{prefix}: {self.reason}"


class RenderError(InputError):
    """A rendered template is invalid (cfn-lint errors, CloudFormation limits)."""


class DiscoveryError(InputError):
    """An artifact to restore from could not be found in the target region."""


class PreflightError(InputError):
    """The target region cannot take the rebuild; every problem is listed."""

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"preflight found {len(problems)} problem(s):\n{lines}", hint=hint)


class AccountError(InputError):
    """The credentials act in another account than the environment declares."""


class StandInError(RelightError):
    """The local stand-in could not be started, found or used."""


class AwsError(RelightError):
    """An AWS call failed in a way relight did not expect."""


class DeployError(RelightError):
    """A stack could not be created, updated or deleted."""
