"""Field checks for rule sets and other frozen parameters: exact JSON types (no coercion: a string of digits is
not a number, a bool is not an integer, "false" is not a bool), bounds, and refusals (`InvalidInput`) that name
the field (`evidence.field`, e.g. ``rules.calendar.weekend``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from domain.errors import InvalidInput

#: What a code of a table may look like: it is used in paths (`.../benefits/{code}/revoke`) and queries.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")  # \Z: "$" would take a trailing newline


def refuse(field: str, message: str, **evidence: Any) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", field=field, **evidence)


def mapping(value: Any, field: str, allowed: Iterable[str], required: Iterable[str] = ()) -> Mapping[str, Any]:
    """A JSON object with only `allowed` keys and every `required` one."""
    if not isinstance(value, Mapping):
        raise refuse(field, "must be an object")
    unknown = sorted(str(k) for k in value if k not in set(allowed))
    if unknown:
        raise refuse(f"{field}.{unknown[0]}", "is not a field of this object", allowed=sorted(allowed))
    for key in required:
        if key not in value:
            raise refuse(f"{field}.{key}", "is required")
    return value


def integer(value: Any, field: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise refuse(field, "must be an integer", found=repr(value)[:100])
    if not lo <= value <= hi:
        raise refuse(field, f"must be between {lo} and {hi}", found=value)
    return value


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise refuse(field, "must be true or false", found=repr(value)[:100])
    return value


def text(value: Any, field: str, max_chars: int, *, min_chars: int = 1) -> str:
    """A string of `min_chars`..`max_chars` characters without control characters."""
    if not isinstance(value, str):
        raise refuse(field, "must be a string", found=repr(value)[:100])
    if not min_chars <= len(value) <= max_chars:
        raise refuse(f"{field}", f"must be {min_chars}-{max_chars} characters", found=len(value))
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in value):
        raise refuse(field, "must not contain control characters or lone surrogates")
    return value


def array(value: Any, field: str, max_items: int, *, min_items: int = 0) -> list[Any]:
    """A JSON array (not a string, not an object) of `min_items`..`max_items` items."""
    if not isinstance(value, list | tuple):
        raise refuse(field, "must be an array", found=type(value).__name__)
    if not min_items <= len(value) <= max_items:
        raise refuse(field, f"must hold {min_items}-{max_items} items", found=len(value))
    return list(value)


def code(value: Any, field: str) -> str:
    if not isinstance(value, str) or not CODE.match(value):
        raise refuse(field, "must be 1-64 of A-Z a-z 0-9 . _ : - (the first a letter or digit)", found=str(value)[:100])
    return value


#: Most rows of a code table (benefits, removal reasons, list bases).
MAX_TABLE_ROWS = 100


def validate_code_table(table: Any, what: str, field: str | None = None) -> list[dict[str, str]]:
    """A table of ``{code, title, statute}`` rows (1-100, unique codes usable in paths), or InvalidInput naming
    the field (``field`` defaults to the table's name, e.g. ``benefits``)."""
    field = field or what.replace(" ", "_")
    out: list[dict[str, str]] = []
    for i, raw in enumerate(array(table, field, MAX_TABLE_ROWS, min_items=1)):
        row = mapping(raw, f"{field}[{i}]", ("code", "title", "statute"), ("code", "title", "statute"))
        out.append(
            {
                "code": code(row["code"], f"{field}[{i}].code"),
                "title": text(row["title"], f"{field}[{i}].title", 500, min_chars=0),
                "statute": text(row["statute"], f"{field}[{i}].statute", 500),
            }
        )
    codes = [r["code"] for r in out]
    if len(set(codes)) != len(codes):
        raise refuse(field, f"{what} codes must be unique", found=codes)
    return out
