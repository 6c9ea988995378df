"""Erasures of personal data (docs/domain.md "Personal data, commitments and erasure"): ``personal_data.erased``
streams.

The log never holds personal data; the vault does, and erasing a subject there (crypto-shredding) changes nothing the
verifier reads except this record of it. :class:`ErasureRules` checks the record itself (step 4): one stream per
subject (``stream_id("personal_data", subject)``, ``erasure_stream_mismatch``), opened by its one event and never
erased again (``erasure_repeated``), the subject a kindergarten or housing entry's vault subject and the reason one of
the documented codes (``malformed_data`` otherwise: free text could carry personal data into the public log).

A city erases few subjects compared with its events: they are kept in memory.
"""

from __future__ import annotations

import re
from typing import Any

from verifier.rules.model import Event, Malformed, Report, Violation, as_str, stream_id
from verifier.rules.store import Scratch

__all__ = ["REASONS", "ErasureRules"]

_SUBJECT = re.compile(r"(kindergarten|housing)\.[A-Za-z0-9][A-Za-z0-9._:-]{0,127}\Z")
#: docs/domain.md's erasure reason codes.
REASONS = frozenset({"subject_request", "retention_expired", "court_order", "unlawful_processing"})


class ErasureRules:
    """Step 4 for ``personal_data.*`` streams."""

    def __init__(self, report: Report, scratch: Scratch | None = None) -> None:
        self.report = report  # ``scratch``: as every kind's rules get it; erasures are few, kept in memory
        self.erased: dict[str, str] = {}

    def fail(self, ev: Event, code: str, message: str, expected: Any = None, found: Any = None) -> None:
        self.report(Violation(ev, code, message, expected, found))

    def handle(self, ev: Event) -> None:
        if ev.type != "personal_data.erased":
            self.fail(ev, "unknown_type", "not an event type of docs/domain.md", "a personal_data.* type", ev.type)
            return
        subject = as_str(ev.data, "subject")
        reason = as_str(ev.data, "reason")
        if not _SUBJECT.match(subject):
            raise Malformed("subject", "kindergarten.<entry id> or housing.<entry id>", subject)
        if reason not in REASONS:
            raise Malformed("reason", " | ".join(sorted(REASONS)), reason)
        expected = stream_id("personal_data", subject)
        if ev.stream != expected:
            self.fail(ev, "erasure_stream_mismatch", "an erasure's stream is S('personal_data', subject)",
                      expected, ev.stream)  # fmt: skip
        if ev.version != 1 or subject in self.erased:
            self.fail(ev, "erasure_repeated", "a subject's personal data is erased once",
                      "version 1 of a new stream", ev.version)  # fmt: skip
            return
        self.erased[subject] = ev.time
