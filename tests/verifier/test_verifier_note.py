"""verifier.note against every vector of signed_note.json (positive and negative)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.verifier.vectors import load
from verifier.errors import (
    BadArgument,
    CheckpointFormatError,
    KeyFormatError,
    NoteFormatError,
    NoteSignatureError,
    NoteUnverifiedError,
    VerificationError,
)
from verifier.note import (
    ALG_COSIGNATURE_V1,
    key_id,
    load_verifier_key,
    open_checkpoint,
    open_note,
    parse_checkpoint_body,
    parse_note,
    parse_verifier_key,
    verify_cosignature,
)

VECTORS = {v["id"]: v for v in load("signed_note.json")["vectors"]}


def test_every_vector_is_exercised() -> None:
    assert set(VECTORS) == {
        "x-mod-peterneumann",
        "x-mod-two-signatures",
        "x-mod-negatives",
        "c2sp-signed-note-example",
        "x-mod-sumdb-tree-notes",
        "c2sp-cosignature-example-parse",
        "formats-cosig-timestamp-parse",
        "derived-ed25519-cosignature-v1",
        "derived-checkpoint-rfc6962-size8",
    }


def test_peterneumann_key_and_note() -> None:
    v = VECTORS["x-mod-peterneumann"]
    key = parse_verifier_key(v["verifier_key"])
    assert key.name == "PeterNeumann"
    assert key.key_id_hex == v["key_id_hex"]
    assert key.public_key.hex() == v["public_key_hex"]
    assert str(key) == v["verifier_key"]
    assert key_id(key.name, 1, key.public_key).hex() == v["key_id_hex"]
    # The signer key's seed reproduces the public key (the key id rule is independent of the verifier's).
    seed = bytes.fromhex(v["signer_key_parts"]["ed25519_seed_hex"])
    assert Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw() == key.public_key
    note = open_note(v["expected_signed_note"], [key])
    assert note.text == v["text"]
    assert [s.line for s in note.verified] == [v["expected_signature_line"]]


def test_two_signatures_only_one_trusted() -> None:
    v = VECTORS["x-mod-two-signatures"]
    peter, enoch = (parse_verifier_key(k) for k in v["verifier_keys"])
    both = open_note(v["signed_note"], [peter, enoch])
    assert [s.name for s in both.verified] == ["PeterNeumann", "EnochRoot"]
    only = open_note(v["signed_note"], [peter])
    assert [s.name for s in only.verified] == ["PeterNeumann"]
    assert [s.name for s in only.unverified] == ["EnochRoot"]
    assert only.text == v["text"]


@pytest.mark.parametrize("case", VECTORS["x-mod-negatives"]["cases"], ids=lambda c: c["desc"])
def test_negative_notes_are_rejected(case: dict[str, Any]) -> None:
    assert case["want_error"] is True
    key = parse_verifier_key(case["verifier_key"])
    with pytest.raises((NoteFormatError, NoteSignatureError, NoteUnverifiedError)):
        open_note(case["note"], [key])


def test_corrupted_signature_names_the_reason() -> None:
    case = next(c for c in VECTORS["x-mod-negatives"]["cases"] if c["desc"].startswith("corrupted"))
    with pytest.raises(NoteSignatureError) as err:
        open_note(case["note"], [parse_verifier_key(case["verifier_key"])])
    assert "does not verify" in err.value.diagnostics()


def test_c2sp_example() -> None:
    v = VECTORS["c2sp-signed-note-example"]
    note = open_note(v["signed_note"], [parse_verifier_key(v["verifier_key"])])
    assert note.text == v["text"]


def test_sumdb_tree_notes_are_checkpoints_signed_by_another_name() -> None:
    v = VECTORS["x-mod-sumdb-tree-notes"]
    key = parse_verifier_key(v["verifier_key"])  # the base64 part contains '+'
    assert key.key_id_hex == v["key_id_hex"] == "00000c67"
    sizes = []
    for n in v["notes"]:
        cp = open_checkpoint(n["signed_note"], key)
        assert cp.origin == "go.sum database tree"
        assert cp.body == n["text"]
        sizes.append(cp.size)
    assert sizes == [5, 6]


def test_derived_checkpoint() -> None:
    v = VECTORS["derived-checkpoint-rfc6962-size8"]
    cp = open_checkpoint(v["expected_signed_checkpoint"], parse_verifier_key(v["verifier_key"]))
    assert (cp.origin, cp.size, cp.root.hex()) == (
        v["parsed"]["origin"],
        v["parsed"]["size"],
        v["parsed"]["root_hash_hex"],
    )
    assert cp.body == v["checkpoint_body"]
    assert cp.note == v["expected_signed_checkpoint"]


def test_checkpoint_with_wrong_key_is_unverified() -> None:
    v = VECTORS["derived-checkpoint-rfc6962-size8"]
    other = parse_verifier_key(VECTORS["c2sp-signed-note-example"]["verifier_key"])
    with pytest.raises(NoteUnverifiedError):
        open_checkpoint(v["expected_signed_checkpoint"], other)


def test_cosignature_parse_only_vectors() -> None:
    v = VECTORS["c2sp-cosignature-example-parse"]
    sig = parse_note(v["checkpoint_body"] + "\n" + v["cosignature_line"]).signatures[0]
    assert sig.key_id.hex() == v["decoded"]["key_id_hex"]
    assert int.from_bytes(sig.signature[:8], "big") == v["decoded"]["timestamp"]
    assert sig.signature[8:].hex() == v["decoded"]["ed25519_signature_hex"]
    assert len(sig.signature) + 4 == v["decoded"]["decoded_length"]
    w = VECTORS["formats-cosig-timestamp-parse"]
    raw = base64.b64decode(w["signature_base64"])
    assert raw[:4].hex() == w["decoded"]["key_id_hex"]
    assert int.from_bytes(raw[4:12], "big") == w["decoded"]["timestamp"]
    assert len(raw) == w["decoded"]["decoded_length"]


def test_derived_cosignature_verifies() -> None:
    v = VECTORS["derived-ed25519-cosignature-v1"]
    key = parse_verifier_key(v["cosigner_vkey"])
    assert key.alg == ALG_COSIGNATURE_V1
    assert key.key_id_hex == v["key_id_hex"]
    assert verify_cosignature(v["checkpoint_body"], v["expected_cosignature_line"], key) == v["timestamp"]
    bad = v["expected_cosignature_line"].replace("zJpwRAAAAABk", "zJpwRAAAAABl")
    with pytest.raises(VerificationError):
        verify_cosignature(v["checkpoint_body"], bad, key)


@pytest.mark.parametrize(
    "text",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key id
        "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # uppercase hex
        "PeterNeumann+c74f20a3+AhpcuQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # unknown alg
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",  # short
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # space
        "PeterNeumann+c74f20a3",
    ],
)
def test_bad_verifier_keys(text: str) -> None:
    with pytest.raises(KeyFormatError):
        parse_verifier_key(text)


def test_load_verifier_key_from_file_or_string(tmp_path: Any) -> None:
    v = VECTORS["x-mod-peterneumann"]["verifier_key"]
    path = tmp_path / "key.txt"
    path.write_text(v + "\n")
    assert str(load_verifier_key(str(path))) == v
    assert str(load_verifier_key(v)) == v
    with pytest.raises(BadArgument):
        load_verifier_key(str(tmp_path / "missing"))
    with pytest.raises(BadArgument):
        load_verifier_key(VECTORS["derived-ed25519-cosignature-v1"]["cosigner_vkey"])


@pytest.mark.parametrize(
    "body",
    [
        "origin\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",  # no final newline
        "origin\n08\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  # leading zero
        "origin\n-8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",
        "origin\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQ==\n",  # 31 bytes
        "origin\n8\n!!!\n",
        "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n",  # empty origin
        "origin\n8\n",
        "origin\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n\n",  # empty extension line
    ],
)
def test_bad_checkpoint_bodies(body: str) -> None:
    with pytest.raises(CheckpointFormatError):
        parse_checkpoint_body(body)


def test_checkpoint_extension_lines() -> None:
    cp = parse_checkpoint_body("o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nextra one\nextra two\n")
    assert cp.extensions == ("extra one", "extra two")
    assert cp.body.endswith("extra two\n")
