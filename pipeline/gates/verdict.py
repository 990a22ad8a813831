"""The shape every gate returns, so the CLI, reports and CI annotations treat them alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One reason a gate said no (or a warning it wants read)."""

    rule: str
    message: str
    where: str = ""
    blocking: bool = True
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    gate: str
    passed: bool
    findings: tuple[Finding, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    def headline(self, limit: int = 3) -> str:
        """One line for the terminal: the verdict and the first few reasons."""
        if self.passed:
            return f"{self.gate} gate passed"
        shown = "; ".join(f"{f.where}: {f.message}" if f.where else f.message for f in self.blocking[:limit])
        more = len(self.blocking) - limit
        tail = f" (+{more} more in the report)" if more > 0 else ""
        return f"{self.gate} gate failed: {shown}{tail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate,
            "passed": self.passed,
            "summary": self.summary,
            "findings": [asdict(f) for f in self.findings],
        }
