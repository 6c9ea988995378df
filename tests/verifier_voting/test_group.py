"""The verifier's group operations against the plain ones: the fixed-base table, ``lin``/``lin_plus``, the
identity cases, and the fast JCS path of the tracker against ``rfc8785``."""

from __future__ import annotations

import hashlib

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.voting import group
from verifier.voting.group import ZERO, Bad, Fixed, N, base, fixed, lin, lin_plus, point, total
from verifier.voting.hashing import DST, tracker

scalars = st.integers(min_value=0, max_value=N - 1)
H = base(0x1234567890ABCDEF)
TABLE = Fixed(H)


@settings(max_examples=60, deadline=None)
@given(scalars)
def test_table_multiplies_like_the_library(s: int) -> None:
    assert TABLE.mul(s) == H.mul(s)


@pytest.mark.parametrize("s", [0, 1, 255, 256, 2**255, N - 1, N - 2])
def test_table_edges(s: int) -> None:
    assert TABLE.mul(s) == H.mul(s)
    assert TABLE.mul(0) == ZERO


def test_doubling_by_addition() -> None:
    assert total((H, H)) == H.mul(2)
    assert H + (-H) == ZERO


@settings(max_examples=60, deadline=None)
@given(scalars, scalars, scalars, scalars)
def test_lin_plus_is_lin_plus_a_multiple(k: int, a: int, b: int, s: int) -> None:
    p = base(k)
    want = p.mul(a) + base(b) + H.mul(s)
    assert lin(p, a, b) == p.mul(a) + base(b)
    assert lin_plus(p, a, b, H, TABLE, s) == want
    assert lin_plus(p, a, b, H, None, s) == want


def test_lin_plus_reaching_the_identity() -> None:
    # a·P + b·G + s·H = 0 for P = H: a = 1, b = 0, s = n - 1
    assert lin_plus(H, 1, 0, H, TABLE, N - 1) == ZERO
    assert lin(H, N - 1, 0x1234567890ABCDEF) == ZERO
    assert lin_plus(ZERO, 5, 0, H, TABLE, 0) == ZERO


def test_a_table_is_built_only_for_a_key_in_use_and_few_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(group, "_TABLE_AFTER", 3)
    monkeypatch.setattr(group, "_uses", {})
    monkeypatch.setattr(group, "_tables", group.OrderedDict())
    keys = [base(7 + i) for i in range(group._TABLES_KEPT + 2)]
    assert fixed(keys[0]) is None and fixed(keys[0]) is None
    table = fixed(keys[0])
    assert table is not None and fixed(keys[0]) is table
    for k in keys[1:]:
        for _ in range(3):
            fixed(k)
    assert len(group._tables) == group._TABLES_KEPT
    assert keys[0].enc() not in group._tables  # the least recently used went first
    assert fixed(ZERO) is None
    with pytest.raises(Bad):
        Fixed(ZERO)


def test_point_decoder_refuses_a_point_off_the_curve() -> None:
    x = next(x for x in range(1, 100) if not _on_curve(x))
    with pytest.raises(Bad):
        point("02" + f"{x:064x}")


def _on_curve(x: int) -> bool:
    y2 = (x**3 + 7) % group.P_FIELD
    return pow(y2, (group.P_FIELD - 1) // 2, group.P_FIELD) == 1


hexes = st.text("0123456789abcdef", min_size=1, max_size=8)
bodies = st.fixed_dictionaries(
    {
        "ballot": st.text(),
        "voter": st.text(),
        "district": st.none() | st.text(),
        "ciphertexts": st.lists(st.fixed_dictionaries({"a": hexes, "b": hexes}), max_size=3),
        "proofs": st.fixed_dictionaries(
            {
                "options": st.lists(st.fixed_dictionaries({"c": st.lists(hexes), "s": st.lists(hexes)}), max_size=2),
                "count": st.fixed_dictionaries({"c": st.lists(hexes), "s": st.lists(hexes)}),
                "budget": st.none(),
            }
        ),
    }
)


@settings(max_examples=300, deadline=None)
@given(bodies)
def test_the_fast_tracker_is_the_jcs_tracker(body: dict[str, object]) -> None:
    try:
        want = hashlib.sha256(DST + b"tracker\x00" + rfc8785.dumps(body)).hexdigest()
    except Exception as e:  # what rfc8785 refuses, the fast path must refuse alike
        with pytest.raises(type(e)):
            tracker(body, checked=True)
        return
    assert tracker(body, checked=True) == want == tracker(body)


def test_a_lone_surrogate_is_refused_by_both_paths() -> None:
    body = {"ballot": "b", "voter": "v", "district": "\ud800", "ciphertexts": [], "proofs": {}}
    with pytest.raises(rfc8785.CanonicalizationError):
        tracker(body, checked=True)
    with pytest.raises(rfc8785.CanonicalizationError):
        tracker(body)


def test_points_pickle_as_their_encoding() -> None:
    import pickle

    assert pickle.loads(pickle.dumps(H)) == H
    assert pickle.loads(pickle.dumps(ZERO)) == ZERO
    assert pickle.loads(pickle.dumps([H, -H]))[1] == -H


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=N - 1), min_size=1, max_size=6), st.text(max_size=20))
def test_range_proofs_hash_layout_is_hs(ks: list[int], text: str) -> None:
    """range_ok appends its commitments' encodings to ``hs_prefix``; that must be ``hs`` of all the items.
    (The scalars are non-zero: the identity has no encoding, and both paths refuse it alike.)"""
    from verifier.voting.hashing import hs, hs_bytes, hs_prefix
    from verifier.voting.proofs import _POINT

    points = [base(k) for k in ks]
    head = (b"m" * 32, H, text, len(ks), *range(len(ks)))
    tail = b"".join(_POINT + p.enc() for p in points)
    assert hs_bytes("range", hs_prefix(*head) + tail) == hs("range", *head, *points)


def test_range_proofs_hash_refuses_the_identity_on_both_paths() -> None:
    from verifier.voting.hashing import hs
    from verifier.voting.proofs import _POINT

    with pytest.raises(Bad):
        hs("range", b"m" * 32, ZERO)
    with pytest.raises(Bad):
        _POINT + ZERO.enc()
