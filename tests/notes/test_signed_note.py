"""Every vector of ../shared/testvectors/signed_note.json, plus golden checkpoint notes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from ledger import note
from ledger.merkle import TreeReader
from tests.merkle.helpers import build_store

TESTVECTORS = Path(__file__).resolve().parents[2] / ".." / "shared" / "testvectors"
GOLDEN = Path(__file__).resolve().parents[1] / "golden"
V = json.loads((TESTVECTORS / "signed_note.json").read_text(encoding="utf-8"))
BY_ID: dict[str, dict[str, Any]] = {v["id"]: v for v in V["vectors"]}
RFC = json.loads((TESTVECTORS / "rfc6962.json").read_text(encoding="utf-8"))


def vectors(kind: str) -> list[dict[str, Any]]:
    return [v for v in V["vectors"] if v["kind"] == kind]


def test_every_vector_kind_is_covered() -> None:
    assert {v["kind"] for v in V["vectors"]} == {
        "signed-note-ed25519",
        "signed-note-ed25519-multi",
        "signed-note-negative",
        "cosignature-ed25519-parse-only",
        "cosignature-ed25519",
        "checkpoint-ed25519",
    }


def test_peterneumann_keys_and_signature() -> None:
    v = BY_ID["x-mod-peterneumann"]
    signer = note.parse_signer_key(v["signer_key"])
    parts = v["signer_key_parts"]
    assert (signer.name, signer.key_id.hex(), signer.seed.hex()) == (
        parts["name"],
        parts["key_id_hex"],
        parts["ed25519_seed_hex"],
    )
    assert signer.public_key.hex() == v["public_key_hex"]
    assert signer.signer_key() == v["signer_key"]
    assert signer.verifier_key() == v["verifier_key"]
    verifier = note.parse_verifier_key(v["verifier_key"])
    assert verifier == signer.verifier()
    assert verifier.key_id.hex() == v["key_id_hex"]
    signed = note.sign_note(v["text"], signer)
    assert signed == v["expected_signed_note"]
    assert signed.endswith(v["expected_signature_line"])
    text, sigs = note.open_note(signed, [verifier])
    assert text == v["text"]
    assert [s.line() for s in sigs] == [v["expected_signature_line"]]
    assert "seed" not in repr(signer) or signer.seed.hex() not in repr(signer)


@pytest.mark.parametrize("v", vectors("signed-note-ed25519"), ids=lambda v: v["id"])
def test_signed_notes_open(v: dict[str, Any]) -> None:
    verifier = note.parse_verifier_key(v["verifier_key"])
    if "key_id_hex" in v:
        assert verifier.key_id.hex() == v["key_id_hex"]
    cases = v.get("notes") or [{"text": v["text"], "signed_note": v.get("signed_note", v.get("expected_signed_note"))}]
    for case in cases:
        text, sigs = note.open_note(case["signed_note"], [verifier])
        assert text == case["text"]
        assert len(sigs) == 1
        if "signer_key" in v:  # deterministic Ed25519: signing reproduces the note byte for byte
            assert note.sign_note(case["text"], note.parse_signer_key(v["signer_key"])) == case["signed_note"]
        if "signature_line" in case:
            assert sigs[0].line() == case["signature_line"]


def test_two_signatures() -> None:
    v = BY_ID["x-mod-two-signatures"]
    peter, enoch = (note.parse_verifier_key(k) for k in v["verifier_keys"])
    text, sigs = note.open_note(v["signed_note"], [peter, enoch])
    assert text == v["text"]
    assert [s.name for s in sigs] == ["PeterNeumann", "EnochRoot"]
    # only Peter trusted: Enoch's line is ignored, not an error
    _, sigs = note.open_note(v["signed_note"], [peter])
    assert [s.name for s in sigs] == ["PeterNeumann"]
    with pytest.raises(note.UnverifiedNoteError) as err:
        note.open_note(v["signed_note"], [])
    assert [s.name for s in err.value.signatures] == ["PeterNeumann", "EnochRoot"]


@pytest.mark.parametrize("case", BY_ID["x-mod-negatives"]["cases"], ids=lambda c: c["desc"])
def test_negatives(case: dict[str, Any]) -> None:
    assert case["want_error"]
    with pytest.raises(note.NoteError):
        note.open_note(case["note"], [note.parse_verifier_key(case["verifier_key"])])


def test_negative_kinds() -> None:
    cases = {c["desc"]: c for c in BY_ID["x-mod-negatives"]["cases"]}
    peter = note.parse_verifier_key(BY_ID["x-mod-peterneumann"]["verifier_key"])
    with pytest.raises(note.InvalidSignatureError):
        note.open_note(cases["corrupted signature from known key (must reject whole note)"]["note"], [peter])
    with pytest.raises(note.MalformedNoteError, match="more than 100"):
        note.open_note(cases[next(d for d in cases if d.startswith("101 copies"))]["note"], [peter])
    # 100 copies are fine and count once
    signed = BY_ID["x-mod-peterneumann"]["expected_signed_note"]
    line = BY_ID["x-mod-peterneumann"]["expected_signature_line"]
    _, sigs = note.open_note(signed + line * 99, [peter])
    assert len(sigs) == 1


def test_more_malformed_notes() -> None:
    v = BY_ID["x-mod-peterneumann"]
    signer = note.parse_signer_key(v["signer_key"])
    peter = signer.verifier()
    good = v["expected_signed_note"]
    for bad in (
        "\ud800" + good,  # not UTF-8 encodable (lone surrogate)
        good.replace("— ", "-- "),
        good.replace("PeterNeumann x08", "PeterNeumann  x08"),
        good.replace("PeterNeumann x08go", "PeterNeumann !!go"),
        good.replace("\u2014 PeterNeumann x08go/ZJkuBS9UG/Sff", "\u2014 PeterNeumann x08go/ZJkuBS9UG/Sff\t"),
        "",
        "\n",
    ):
        with pytest.raises(note.NoteError):
            note.open_note(bad, [peter])
    with pytest.raises(note.MalformedNoteError):
        note.sign_note("no newline", signer)
    with pytest.raises(note.MalformedNoteError):
        note.sign_note("bell\x07\n", signer)
    # a key with the right name but another key id is "unknown", not a failure
    other = note.generate_signer("PeterNeumann")
    with pytest.raises(note.UnverifiedNoteError):
        note.open_note(good, [other.verifier()])


def test_key_strings_rejected() -> None:
    v = BY_ID["x-mod-peterneumann"]
    sk, vk = v["signer_key"], v["verifier_key"]
    for bad in (
        sk.replace("PRIVATE+KEY", "PRIVATE+KEX"),
        sk.replace("c74f20a3", "c74f20a4"),
        sk.replace("c74f20a3", "c74f20"),
        sk[:-4],
        sk.replace("+AYEK", "+AhEK"),  # algorithm byte
        "PRIVATE+KEY+Bad Name+c74f20a3+" + sk.rsplit("+", 1)[1],
    ):
        with pytest.raises(note.KeyFormatError) as err:
            note.parse_signer_key(bad)
        assert v["signer_key_parts"]["ed25519_seed_hex"] not in str(err.value.key)
    for bad in (vk.replace("c74f20a3", "00000000"), vk[:-2], "PeterNeumann+c74f20a3", "Peter+Neumann+c74f20a3+AA=="):
        with pytest.raises(note.KeyFormatError):
            note.parse_verifier_key(bad)
    with pytest.raises(note.KeyFormatError):
        note.generate_signer("two words")


def test_generated_signer_round_trip() -> None:
    signer = note.generate_signer("ledger.hromada.example/kyiv")
    again = note.parse_signer_key(signer.signer_key())
    assert again == signer
    body = note.format_checkpoint(signer.name, 3, bytes(32))
    text, sigs = note.open_note(note.sign_note(body, signer), [note.parse_verifier_key(signer.verifier_key())])
    assert text == body and sigs[0].key_id == signer.key_id


# --- checkpoints ------------------------------------------------------------------------------------


def test_checkpoint_vector() -> None:
    v = BY_ID["derived-checkpoint-rfc6962-size8"]
    p = v["parsed"]
    cp = note.parse_checkpoint(v["checkpoint_body"])
    assert (cp.origin, cp.size, cp.root.hex(), cp.extensions) == (p["origin"], p["size"], p["root_hash_hex"], ())
    root = TreeReader(build_store([bytes.fromhex(x) for x in RFC["leaves_hex"]]), 8).root()
    assert root.hex() == p["root_hash_hex"]
    body = note.format_checkpoint(p["origin"], 8, root)
    assert body == v["checkpoint_body"]
    signer = note.parse_signer_key(BY_ID["x-mod-peterneumann"]["signer_key"])
    assert note.sign_note(body, signer) == v["expected_signed_checkpoint"]
    text, _ = note.open_note(v["expected_signed_checkpoint"], [note.parse_verifier_key(v["verifier_key"])])
    assert note.parse_checkpoint(text) == cp


def test_sumdb_tree_notes_parse_as_checkpoints() -> None:
    for n in BY_ID["x-mod-sumdb-tree-notes"]["notes"]:
        cp = note.parse_checkpoint(n["text"])
        assert cp.origin == "go.sum database tree"
        assert note.format_checkpoint(cp.origin, cp.size, cp.root) == n["text"]


def test_checkpoint_extensions_and_rejections() -> None:
    root = bytes(range(32))
    b64 = base64.b64encode(root).decode()
    body = note.format_checkpoint("o", 0, root, ["ext one", "ext two"])
    assert body == f"o\n0\n{b64}\next one\next two\n"
    assert note.parse_checkpoint(body) == note.Checkpoint("o", 0, root, ("ext one", "ext two"))
    for bad in (
        f"o\n01\n{b64}\n",
        f"o\n-1\n{b64}\n",
        f"o\n+1\n{b64}\n",
        f"o\n1 \n{b64}\n",
        f"o\n{1 << 64}\n{b64}\n",
        f"o\n1\n{b64}",
        f"o\n1\n{base64.b64encode(root[:31]).decode()}\n",
        f"o\n1\n{b64.rstrip('=')}\n",
        f"o\n1\n{b64}\n\n",
        f"\n1\n{b64}\n",
        "o\n1\n",
        f"o\n1\n{b64}\next\x01\n",
    ):
        with pytest.raises(note.CheckpointFormatError):
            note.parse_checkpoint(bad)
    with pytest.raises(note.CheckpointFormatError):
        note.format_checkpoint("o", 1, root[:31])
    with pytest.raises(note.CheckpointFormatError):
        note.format_checkpoint("two\nlines", 1, root)


# --- cosignatures -----------------------------------------------------------------------------------


def test_cosignature_parse_only_vectors() -> None:
    v = BY_ID["c2sp-cosignature-example-parse"]
    text, sigs = note.parse_note(v["checkpoint_body"] + "\n" + v["cosignature_line"])
    assert text == v["checkpoint_body"]
    cosig = note.decode_cosignature(sigs[0])
    d = v["decoded"]
    assert (cosig.key_id.hex(), cosig.timestamp, cosig.signature.hex()) == (
        d["key_id_hex"],
        d["timestamp"],
        d["ed25519_signature_hex"],
    )
    assert len(sigs[0].key_id + sigs[0].signature) == d["decoded_length"]
    assert note.cosignature_message(v["checkpoint_body"], cosig.timestamp).decode() == v["expected_signed_message"]

    f = BY_ID["formats-cosig-timestamp-parse"]
    cosig = note.decode_cosignature(base64.b64decode(f["signature_base64"]))
    assert (cosig.key_id.hex(), cosig.timestamp) == (f["decoded"]["key_id_hex"], f["decoded"]["timestamp"])
    with pytest.raises(note.MalformedNoteError):
        note.decode_cosignature(bytes(75))


def test_derived_cosignature() -> None:
    v = BY_ID["derived-ed25519-cosignature-v1"]
    seed = bytes.fromhex(v["ed25519_seed_hex"])
    line = note.cosign(v["checkpoint_body"], v["cosigner_name"], seed, v["timestamp"])
    assert line == v["expected_cosignature_line"]
    verifier = note.parse_verifier_key(v["cosigner_vkey"])
    assert (verifier.alg, verifier.key_id.hex(), verifier.public_key.hex()) == (4, v["key_id_hex"], v["public_key_hex"])
    assert note.cosignature_message(v["checkpoint_body"], v["timestamp"]).decode() == v["signed_message"]
    _, sigs = note.parse_note(v["checkpoint_body"] + "\n" + line)
    assert note.verify_cosignature(v["checkpoint_body"], sigs[0], verifier).timestamp == v["timestamp"]
    other_body = v["checkpoint_body"].replace("20852163", "20852164")
    with pytest.raises(note.InvalidSignatureError):
        note.verify_cosignature(other_body, sigs[0], verifier)
    # a cosignature key does not verify plain notes
    with pytest.raises(note.UnverifiedNoteError):
        note.open_note(v["checkpoint_body"] + "\n" + line, [verifier])


# --- golden files -----------------------------------------------------------------------------------

GOLDEN_SIGNER = BY_ID["x-mod-peterneumann"]["signer_key"]


def _golden_leaves(size: int) -> list[bytes]:
    """Sizes up to 8: the rfc6962.json leaves; larger: the accumulated-subtree tree d[i] = bytes([i])."""
    if size <= 8:
        return [bytes.fromhex(x) for x in RFC["leaves_hex"][:size]]
    return [bytes([i]) for i in range(size)]


def _golden_checkpoint(size: int) -> str:
    root = TreeReader(build_store(_golden_leaves(size)), size).root()
    if size <= 8:
        assert root.hex() == RFC["roots"][str(size)]
    else:
        assert root.hex() == RFC["accumulated_subtree_vectors"]["roots_by_size"][str(size)]
    return note.sign_note(note.format_checkpoint("PeterNeumann", size, root), note.parse_signer_key(GOLDEN_SIGNER))


@pytest.mark.parametrize("size", [0, 1, 8, 130])
def test_golden_checkpoints(size: int) -> None:
    """tests/golden/checkpoint_size<N>.txt (leaves: see _golden_leaves), signed with the x/mod test key."""
    path = GOLDEN / f"checkpoint_size{size}.txt"
    got = _golden_checkpoint(size)
    assert path.read_bytes() == got.encode("utf-8")
    verifier = note.parse_verifier_key(BY_ID["x-mod-peterneumann"]["verifier_key"])
    text, _ = note.open_note(path.read_text(encoding="utf-8"), [verifier])
    assert note.parse_checkpoint(text).size == size
    if size == 8:
        assert got == BY_ID["derived-checkpoint-rfc6962-size8"]["expected_signed_checkpoint"]


def test_golden_note() -> None:
    v = BY_ID["x-mod-peterneumann"]
    assert (GOLDEN / "note_peterneumann.txt").read_bytes() == v["expected_signed_note"].encode("utf-8")
    assert (GOLDEN / "note_verifier_key.txt").read_text(encoding="ascii") == v["verifier_key"] + "\n"
