"""The two registries of kinds agree, and docs/domain.md says what both say.

The verifier is written from docs/domain.md, independently of ``domain/`` (it must not share the ledger's bugs), so
its tables are its own: :mod:`verifier.kinds` (event types, their ``data`` fields, who may cause them). This test,
which may import both sides, checks that the verifier's tables, the domain's (``domain/kinds.py``,
``domain/registry.py``) and docs/domain.md's tables name the same event types with the same fields and the same
permissions. Event types are compared by their canonical name (:func:`verifier.kinds.canonical_type`: the
kindergarten queue's ``queue.*`` of envelope format 1 is ``kindergarten.*``), so the domain's rename of that prefix
changes nothing here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from domain import kinds as domain_kinds
from verifier import kinds as verifier_kinds
from verifier.kinds import canonical_type

DOMAIN_MD = Path(__file__).resolve().parents[1] / "docs" / "domain.md"


def tables(markdown: str) -> list[tuple[list[str], list[list[str]]]]:
    """Every markdown table: (header cells, rows of cells). A ``\\|`` inside a cell is not a separator."""
    out: list[tuple[list[str], list[list[str]]]] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and re.match(r"\|(\s*:?-+:?\s*\|)+\s*$", lines[i + 1]):
            header = cells(lines[i])
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(cells(lines[i]))
                i += 1
            out.append((header, rows))
        else:
            i += 1
    return out


def cells(line: str) -> list[str]:
    parts = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [p.strip().replace("\\|", "|") for p in parts]


def top_level_code(text: str) -> list[str]:
    """The `code` spans of ``text`` outside parentheses (a field's explanation in parentheses names values)."""
    out: list[str] = []
    depth = 0
    in_code = False
    current: list[str] = []
    for ch in text:
        if ch == "`":
            if in_code and depth == 0:
                out.append("".join(current))
            in_code = not in_code
            current = []
        elif in_code:
            current.append(ch)
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
    return out


def doc_event_types(cell: str) -> list[str]:
    return [t for t in top_level_code(cell) if re.fullmatch(r"[a-z_]+\.[a-z_]+", t)]


def docs_data_fields() -> dict[str, frozenset[str]]:
    """docs/domain.md's "| type | data |" tables: canonical event type -> the fields its data cell names."""
    out: dict[str, frozenset[str]] = {}
    for header, rows in tables(DOMAIN_MD.read_text(encoding="utf-8")):
        if header != ["type", "data"]:
            continue
        for type_cell, data_cell in rows:
            types = doc_event_types(type_cell)
            same = re.match(r"same fields as `([a-z_.]+)`", data_cell)
            if same:
                prefix = types[0].partition(".")[0]
                like = same.group(1) if "." in same.group(1) else f"{prefix}.{same.group(1)}"
                fields = out[canonical_type(like)]
            else:
                fields = frozenset(top_level_code(data_cell))
            for t in types:
                out[canonical_type(t)] = fields
    return out


def docs_authorisation() -> dict[str, tuple[str | None, bool, bool, str | None]]:
    """docs/domain.md's authorisation table: canonical type -> (scope, citizen may, system may, system id)."""
    for header, rows in tables(DOMAIN_MD.read_text(encoding="utf-8")):
        if header == ["event type", "service scope required", "citizen may", "system may"]:
            out = {}
            for type_cell, scope_cell, citizen_cell, system_cell in rows:
                scope = top_level_code(scope_cell)
                system_id = re.search(r"\(`([^`]+)`\)", system_cell)
                row = (
                    scope[0] if scope else None,
                    citizen_cell.startswith("yes"),
                    system_cell.startswith("yes"),
                    system_id.group(1) if system_id else None,
                )
                for t in doc_event_types(type_cell):
                    out[canonical_type(t)] = row
            return out
    raise AssertionError("docs/domain.md has no authorisation table")


def verifier_authorisation() -> dict[str, tuple[str | None, bool, bool, str | None]]:
    return {t: (p.scope, p.citizen is not None, p.system, p.system_id) for t, p in verifier_kinds.AUTHORISATION.items()}


def domain_authorisation() -> dict[str, tuple[str | None, bool, bool]]:
    return {canonical_type(t): (p.scope, p.citizen, p.system) for t, p in domain_kinds.AUTHORISATION.items()}


def domain_data_fields() -> dict[str, frozenset[str]]:
    return {canonical_type(t): frozenset(f) for t, f in domain_kinds.data_fields_by_type().items()}


def without_system_id(table: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    return {t: row[:3] for t, row in table.items()}


def test_the_authorisation_tables_agree() -> None:
    assert verifier_authorisation() != {}
    assert without_system_id(verifier_authorisation()) == domain_authorisation()


def test_the_data_fields_agree() -> None:
    assert verifier_kinds.DATA_FIELDS != {}
    assert domain_data_fields() == verifier_kinds.DATA_FIELDS


def test_docs_tables_equal_both() -> None:
    assert docs_authorisation() == verifier_authorisation()
    assert without_system_id(docs_authorisation()) == domain_authorisation()
    assert docs_data_fields() == verifier_kinds.DATA_FIELDS == domain_data_fields()


def test_the_kinds_agree() -> None:
    """The same kinds, with the same state parts, and every domain prefix (current or legacy) known here."""
    assert [k.name for k in verifier_kinds.KINDS] == [k.name for k in domain_kinds.KINDS]
    assert {k.name: k.state_part for k in verifier_kinds.KINDS} == {k.name: k.state_part for k in domain_kinds.KINDS}
    for k in domain_kinds.KINDS:
        for prefix in k.prefixes:
            assert verifier_kinds.BY_PREFIX[prefix].name == k.name


@pytest.mark.parametrize(
    ("tamper", "where"),
    [
        (lambda t: t.pop("petition.signed"), "a type missing"),
        (lambda t: t.__setitem__("petition.signed", (None, False, False, None)), "a permission changed"),
    ],
)
def test_a_disagreement_is_seen(tamper: Any, where: str) -> None:
    """The comparison fails when one side differs (the check can fail)."""
    table = verifier_authorisation()
    tamper(table)
    assert without_system_id(table) != domain_authorisation(), where


def test_the_markdown_reader() -> None:
    """Parenthesised explanations name values, not fields; ``\\|`` is not a separator."""
    row = '| `x.y` (v1) | `kind` (`poll` \\| `vote`), `entry` (= `S(<id>, "entry", n)`), `b` |'
    [(header, rows)] = tables("| type | data |\n|---|---|\n" + row + "\n")
    assert header == ["type", "data"]
    assert doc_event_types(rows[0][0]) == ["x.y"]
    assert top_level_code(rows[0][1]) == ["kind", "entry", "b"]
