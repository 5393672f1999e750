"""cfn-lint on every generated template.

Rules relight ignores are listed here, in one place, each with its reason.
"""

from __future__ import annotations

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
        findings.append(Finding(match.rule.id, severity, path, str(match.message)))
    return findings
