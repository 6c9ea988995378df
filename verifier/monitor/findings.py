"""What a monitor round reports: one :class:`MonitorFinding` per problem (its code is one of verifier/codes.py's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["MonitorFinding"]


@dataclass(frozen=True)
class MonitorFinding:
    code: str
    message: str
    index: int | None = None
    expected: Any = None
    found: Any = None
    evidence: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("index", "expected", "found", "evidence"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out
