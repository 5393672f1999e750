"""cfn-lint on every generated template.

Rules relight ignores are listed here, in one place, each with its reason.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# rule id → why relight does not apply it. Keep this list short and every reason true.
IGNORED_RULES: dict[str, str] = {}


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # "error", "warning" or "informational"
    path: str  # e.g. Resources/Vpc/Properties/CidrBlock
    message: str

    def __str__(self) -> str:
        return f"{self.rule} {self.path}: {self.message}"

    @property
    def value(self) -> str | None:
        """The value the finding is about, when its message quotes one ('t3.smal' is ...)."""
        quoted = re.match(r"^'([^']*)' ", self.message)
        return quoted.group(1) if quoted else None


# cfn-lint's "'t3.smal' is not one of ['a1.2xlarge', ... 800 more]": one line of 22 KB.
_NOT_ONE_OF = re.compile(
    r"^'(?P<value>[^']*)' is not one of \[(?P<allowed>.*)\](?: in '[^']*')?$", re.S
)
MAX_MESSAGE = 300


def readable(message: str, region: str) -> str:
    """A finding's message as a person can read it: a long list of allowed values becomes its
    count and the closest matches; anything else over MAX_MESSAGE characters is cut."""
    listed = _NOT_ONE_OF.match(message)
    if listed:
        allowed = re.findall(r"'([^']*)'", listed.group("allowed"))
        value = listed.group("value")
        close = difflib.get_close_matches(value, allowed, n=3, cutoff=0.6)
        guess = f"; did you mean {' or '.join(close)}?" if close else ""
        return f"{value!r} is not one of the {len(allowed)} values allowed in {region}{guess}"
    if len(message) > MAX_MESSAGE:
        return message[:MAX_MESSAGE] + f"… ({len(message) - MAX_MESSAGE} more characters)"
    return message


def lint_template(body: str, region: str) -> list[Finding]:
    """Lint one template body (JSON) for one region; informational findings are dropped."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(body, config=ManualArgs(regions=[region], ignore_checks=list(IGNORED_RULES)))
    findings = []
    for match in matches:
        severity = str(match.rule.severity).lower()
        if severity.startswith("info"):
            continue
        path = "/".join(str(p) for p in getattr(match, "path", None) or []) or "(template)"
        findings.append(
            Finding(match.rule.id, severity, path, readable(str(match.message), region))
        )
    return findings
