"""The catalogue of finding codes (verifier/codes.py) is complete, and docs/audit.md's "Finding codes" table is it.

"Complete": every code the verifier's source can emit (a ``Problem``, ``Finding``, ``Violation`` or ``fail`` with a
literal code, a ``code=`` argument, an error class's ``code``) has a row, and every row is a code the source emits.
"""

from __future__ import annotations

import re
from pathlib import Path

from verifier.codes import BY_CODE, CODES, Code

ROOT = Path(__file__).resolve().parents[2]
AUDIT_MD = ROOT / "docs" / "audit.md"

_EMITS = [
    re.compile(p)
    for p in (
        r'Problem\(\s*"([a-z_0-9.]+)"',
        r'Finding\(\s*\d+,\s*"([a-z_0-9.]+)"',
        r'Finding\(\s*step=\d+,\s*code="([a-z_0-9.]+)"',
        r'Violation\(\s*\w+,\s*"([a-z_0-9.]+)"',
        r'\bfail\(\s*\w+,\s*"([a-z_0-9.]+)"',
        # Election._fail(code, ...) (verifier/voting/election.py): the event is the election's current one
        r'\b_fail\(\s*"([a-z_0-9.]+)"',
        r'\b_fail\(\s*\n\s*"([a-z_0-9.]+)",',
        r'\bcode\s*=\s*"([a-z_0-9.]+)"',
        r'\bcode:\s*str\s*=\s*"([a-z_0-9.]+)"',
        # a Finding/Violation/fail call whose code is on its own line after the first argument
        r'(?:Finding|Violation|fail)\(\s*(?:\d+|[\w.]+),\s*\n\s*"([a-z_0-9.]+)",\n',
        r'(?:Finding|Violation|fail)\(\s*\n\s*(?:\d+|[\w.]+),\s*\n\s*"([a-z_0-9.]+)",\n',
        # a (code, message, expected, found) tuple collected first and reported later (verifier/rules/ballots.py)
        r'\bappend\(\s*\(\s*"([a-z_0-9.]+)",',
        # code, message = "version_gap", ... (verifier/envelope.py)
        r'\bcode, \w+ = \(?\s*"([a-z_0-9.]+)",',
    )
]


def emitted(text: str) -> set[str]:
    return {m.group(1) for pattern in _EMITS for m in pattern.finditer(text)}


def source_codes() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / "verifier").rglob("*.py")):
        if path.name == "codes.py":
            continue
        for code in emitted(path.read_text(encoding="utf-8")):
            out.setdefault(code, set()).add(path.relative_to(ROOT).as_posix())
    return out


def render(code: Code) -> str:
    """A catalogue row as docs/audit.md shows it."""
    tamper = "; ".join(f"`{t}`" for t in code.tamper.split("; ")) if code.tamper else "–"
    return f"| `{code.code}` | {code.step} | {code.meaning.replace('|', chr(92) + '|')} | {tamper} |"


def docs_rows() -> list[str]:
    text = AUDIT_MD.read_text(encoding="utf-8")
    section = text.split("\n## Finding codes\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| `")]
    return lines


def test_every_code_the_source_emits_is_catalogued() -> None:
    found = source_codes()
    assert len(found) > 150
    missing = sorted(set(found) - set(BY_CODE))
    assert missing == [], {c: sorted(found[c]) for c in missing}


def test_every_catalogued_code_is_emitted() -> None:
    assert sorted(set(BY_CODE) - set(source_codes())) == []


def test_the_catalogue_has_one_row_per_code_with_a_step_and_a_meaning() -> None:
    assert len(BY_CODE) == len(CODES)
    for c in CODES:
        assert c.meaning and c.step, c
        assert set(c.step.split(", ")) <= {"1", "2", "3", "4", "5", "receipt", "monitor", "exit 2"}, c


def test_a_tamper_case_names_a_test_or_vector_that_exists() -> None:
    for c in CODES:
        for t in filter(None, c.tamper.split("; ")):
            if t.startswith("vectors/"):
                assert (ROOT / "tests" / t / "case.json").is_file(), (c.code, t)
                continue
            path, _, name = t.partition("::")
            text = (ROOT / "tests" / path).read_text(encoding="utf-8")
            assert f"def {name}(" in text, (c.code, t)


def test_docs_findings_table_equals_the_catalogue() -> None:
    assert docs_rows() == [render(c) for c in CODES]


def test_the_scanner_sees_a_new_code() -> None:
    """The completeness check can fail: a code in new source is seen, in each form the verifier writes."""
    assert emitted('self.fail(ev, "brand_new", "msg")') == {"brand_new"}
    assert emitted('Problem("other_new", "m")') == {"other_new"}
    assert emitted('Finding(\n                    2,\n                    "third_new",\n                    "m"') == {
        "third_new"
    }
    assert emitted('raise VerificationError("m", code="fourth_new")') == {"fourth_new"}
    assert emitted('errors.append(\n    (\n        "fifth_new",\n') == {"fifth_new"}
    assert emitted('code, msg = (\n    "sixth_new",\n') == {"sixth_new"}
    assert emitted('self.fail(\n    p.reached_by,\n    "seventh_new",\n') == {"seventh_new"}
