"""The domain never cites one document commitment twice (what the verifier's document_commitment_reused relies on,
verifier/rules/documents.py): the vault seals every document afresh, with a new salt, under the entry's own subject
- even the very same document data, for two children or two households, or for one child again."""

from __future__ import annotations

from uuid import UUID

import pytest

from domain import errors
from domain.app import CityApp
from tests.domain.conftest import EDU, HOUSING, T0, days
from tests.domain.test_housing import entry as housing_entry
from tests.domain.test_housing import register
from tests.domain.test_kindergarten import queue, reg

DOCUMENT = {"kind": "military_id", "number": "АА 123456"}  # the same document data every time


def test_the_same_benefit_document_gets_a_fresh_commitment_per_grant(app: CityApp) -> None:
    q = queue(app)
    a, b = reg(app, q, 1, 0), reg(app, q, 2, 0)
    first = app.grant_benefit(by=EDU, queue_id=q, entry=a, code="military_child", document=DOCUMENT, at=T0 + days(1))
    second = app.grant_benefit(by=EDU, queue_id=q, entry=b, code="military_child", document=DOCUMENT, at=T0 + days(1))
    app.revoke_benefit(by=EDU, queue_id=q, entry=a, code="military_child", reason="granted_in_error", at=T0 + days(2))
    again = app.grant_benefit(by=EDU, queue_id=q, entry=a, code="military_child", document=DOCUMENT, at=T0 + days(3))
    assert len({first, second, again}) == 3
    vault = app.vault
    assert vault is not None
    assert vault.open(app.kindergarten_subject(b), second).data == DOCUMENT
    with pytest.raises(errors.RecordNotFound):  # a commitment opens only under the entry it was sealed for
        vault.open(app.kindergarten_subject(b), first)


def test_the_same_list_document_gets_a_fresh_commitment_per_inclusion(app: CityApp) -> None:
    r = register(app)
    a, b = housing_entry(app, r, 1, 0), housing_entry(app, r, 2, 0)
    made = {include(app, r, e) for e in (a, b)}
    assert len(made) == 2


def include(app: CityApp, r: UUID, entry: str) -> str:
    return app.include_in_list(
        by=HOUSING, register_id=r, entry=entry, list_name="first_priority", code="art45.combatant", document=DOCUMENT,
        at=T0 + days(1),
    )  # fmt: skip
