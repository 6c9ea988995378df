"""The auditor's k-of-n witness policy (verifier/witness/policy.py): failures first (a missing cosignature, a bad one,
one over another checkpoint), unknown keys ignored and not counted, then what passes."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from ledger import note
from verifier.errors import BadArgument
from verifier.note import parse_verifier_key
from verifier.witness.policy import (
    INSUFFICIENT,
    INVALID,
    UNKNOWN_KEY,
    WitnessPolicy,
    check_witness_policy,
    policy_from_options,
)
from witness.keys import WitnessKey

ORIGIN = "city.example/kyiv"
LOG = note.Signer(ORIGIN, bytes(range(32)))
W1, W2, W3 = (WitnessKey(f"w{i}.example/witness", bytes([i]) * 32) for i in (1, 2, 3))
TEXT = note.format_checkpoint(ORIGIN, 42, bytes(range(32)))
OTHER = note.format_checkpoint(ORIGIN, 43, bytes(range(32)))
T = 1767225600


def cosigned(*lines: str) -> str:
    return note.sign_note(TEXT, LOG) + "".join(lines)


def policy(*names: str, k: int | None = None) -> WitnessPolicy:
    keys = {"w1": W1, "w2": W2, "w3": W3}
    found = policy_from_options([f"{n}={keys[n].verifier_key()}" for n in names], k)
    assert found is not None
    return found


def codes(result: object) -> list[str]:
    return [f.code for f in result.findings]  # type: ignore[attr-defined]


LOG_KEY = parse_verifier_key(LOG.verifier_key())


def test_a_missing_cosignature_fails_and_names_the_witness() -> None:
    result = check_witness_policy(cosigned(W1.cosign(TEXT, T)), policy("w1", "w2"), LOG_KEY)
    assert not result.passed and codes(result) == [INSUFFICIENT]
    assert "w2" in result.findings[0].message and "w1" not in result.findings[0].message.split("missing")[1]
    assert result.cosigned_by == ["w1"]
    assert check_witness_policy(cosigned(W1.cosign(TEXT, T)), policy("w1", "w2", k=1), LOG_KEY).passed


def test_a_bad_cosignature_fails_whatever_the_threshold() -> None:
    line = W2.cosign(TEXT, T)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[-1] ^= 1
    flipped = f"— {W2.name} {base64.b64encode(bytes(raw)).decode()}\n"
    over_other = W2.cosign(OTHER, T)  # a lying witness: a cosignature over another checkpoint
    for bad in (flipped, over_other):
        result = check_witness_policy(cosigned(W1.cosign(TEXT, T), bad), policy("w1", "w2", k=1), LOG_KEY)
        assert not result.passed and codes(result) == [INVALID]
        assert result.findings[0].witness == "w2" and result.findings[0].found == bad.strip()
        assert result.cosigned_by == ["w1"]


def test_unknown_keys_are_ignored_and_not_counted() -> None:
    note_text = cosigned(W1.cosign(TEXT, T), W3.cosign(TEXT, T))
    result = check_witness_policy(note_text, policy("w1", "w2", k=2), LOG_KEY)
    assert codes(result) == [UNKNOWN_KEY, INSUFFICIENT] and not result.passed
    passing = check_witness_policy(note_text, policy("w1", "w2", k=1), LOG_KEY)
    assert passing.passed and codes(passing) == [UNKNOWN_KEY] and passing.cosigned_by == ["w1"]
    # without the log's key, its line (named after the origin) is still not taken for a cosignature
    assert codes(check_witness_policy(note_text, policy("w1", "w2", k=1))) == [UNKNOWN_KEY]


def test_k_of_n_passes() -> None:
    note_text = cosigned(W2.cosign(TEXT, T), W1.cosign(TEXT, T + 5), W1.cosign(TEXT, T + 6))
    result = check_witness_policy(note_text, policy("w1", "w2"), LOG_KEY)
    assert result.passed and result.findings == [] and sorted(result.cosigned_by) == ["w1", "w2"]
    assert result.to_json()["passed"] is True and result.tree_size == 42


def test_the_options(tmp_path: Path) -> None:
    assert policy_from_options(None, None) is None
    vkey = str(W1.verifier_key())
    (tmp_path / "w1.vkey").write_text(vkey + "\n")
    from_file = policy_from_options([f"w1={tmp_path / 'w1.vkey'}"], None)
    assert from_file is not None and from_file.threshold == 1 and str(from_file.witnesses[0][1]) == vkey
    bad = [
        ([], 1),
        (["w1"], None),
        ([f"w1={LOG.verifier_key()}"], None),  # a log key, not a cosigner key
        ([f"w1={vkey}"], 2),
        ([f"w1={vkey}"], 0),
        ([f"w1={vkey}", f"w1={W2.verifier_key()}"], None),
        ([f"w1={vkey}", f"again={vkey}"], None),
        (["w1=nonsense+00000000+AAAA"], None),
    ]
    for options, k in bad:
        with pytest.raises(BadArgument):
            policy_from_options(options, k)
