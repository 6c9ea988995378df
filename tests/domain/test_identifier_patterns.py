"""Identifiers, scopes, commitments, tile paths and key lists are matched whole: ``re.match`` with ``$`` accepted a
trailing newline (``"$"`` matches before one), and ``\\d`` other scripts' digits, which ``int`` then reads."""

from __future__ import annotations

import pytest

from api.problems import ApiProblem
from api.routers.log import _parse_tile
from domain.commitments import validate_commitment
from domain.errors import InvalidInput
from domain.identity import Actor, validate_scope
from domain.personal_data.aggregate import check_subject
from ledger.errors import ConfigurationError
from ledger.secrets import parse_key_list

COMMITMENT = "sha256:" + "0" * 64


def test_the_valid_forms_pass() -> None:
    assert Actor("service", "city.kindergartens").id == "city.kindergartens"
    assert validate_scope("queues:write") == "queues:write"
    assert validate_commitment(COMMITMENT) == COMMITMENT
    assert check_subject("kindergarten.e-1") == "kindergarten.e-1"
    assert _parse_tile("0/x001/234")[1] == 1234
    assert parse_key_list("1=" + "ab" * 32)[1] == 1


@pytest.mark.parametrize("bad", ["city.kindergartens\n", "city\n.x"])
def test_an_actor_id_with_a_newline(bad: str) -> None:
    with pytest.raises(InvalidInput):
        Actor("service", bad)


def test_a_scope_with_a_trailing_newline() -> None:
    with pytest.raises(InvalidInput):
        validate_scope("queues:write\n")


def test_a_commitment_with_a_trailing_newline() -> None:
    with pytest.raises(InvalidInput):
        validate_commitment(COMMITMENT + "\n")


def test_an_erasure_subject_with_a_trailing_newline() -> None:
    with pytest.raises(InvalidInput):
        check_subject("kindergarten.e-1\n")


@pytest.mark.parametrize("path", ["0/x001/234\n", "0/\u0661\u0662\u0663", "\u0661/000", "entries/000.p/\u0661\u0660"])
def test_a_tile_path_with_a_newline_or_foreign_digits(path: str) -> None:
    with pytest.raises(ApiProblem):
        _parse_tile(path)


def test_a_key_list_with_foreign_digits() -> None:
    with pytest.raises(ConfigurationError):
        parse_key_list("\u0661=" + "ab" * 32)
