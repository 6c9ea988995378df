"""The receipt page follows the log's key hand-overs exactly as the verifier does (docs/formats.md §3): its
receipt-keychain.js, run under node as the browser loads it (tests/api/js/keychain.mjs), against verifier/keychain.py
and verifier/receipt.py on the same notes, case by case: the chain of keys with their sizes, each refused hand-over
and why, and the verdict on the checkpoint. Tampered chains first, then clean rotations. The notes are written here
from the format with the verifier tests' own signers (no ledger code). In the browser: test_receipt_page_rotation.py."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.verifier import factory
from verifier.errors import VerificationError
from verifier.keychain import follow, open_in_chain
from verifier.note import open_note, parse_verifier_key

ORIGIN = factory.ORIGIN
K0 = factory.make_signer(ORIGIN, b"k0")
K1 = factory.make_signer(ORIGIN, b"k1")
K2 = factory.make_signer(ORIGIN, b"k2")
MALLORY = factory.make_signer(ORIGIN, b"mallory")
FOREIGN = factory.make_signer("other.example/log", b"k1")
SCRIPT = Path(__file__).parent / "js" / "keychain.mjs"

# what verifier/keychain.py says of each refusal the page names (api/static/receipt-keychain.js checkHandover)
PY_MESSAGE = {
    "badSignature": "does not verify",
    "retiredAgain": "PROOF THAT A RETIRED KEY SIGNED AGAIN",
    "notByCurrent": "not signed by the key current at that size",
    "notOneKey": "names exactly one new key",
    "malformedKey": "names a malformed key",
    "notLogKey": "named as the log",
    "reused": "already used",
    "notByNew": "not signed by the new key it names",
}


def root(size: int) -> bytes:
    return factory.mth([factory.h_leaf(b"leaf %d" % i) for i in range(size)])


def lines_of(signer: factory.Signer, text: str) -> str:
    return signer.sign(text).split("\n\n", 1)[1]


def checkpoint(size: int, *signers: factory.Signer) -> str:
    text = factory.checkpoint_body(ORIGIN, size, root(size))
    return text + "\n" + "".join(lines_of(s, text) for s in signers)


def handover(old: factory.Signer, new: factory.Signer | str, size: int, *cosigners: factory.Signer) -> str:
    """A hand-over note at ``size`` naming ``new``, signed by ``old`` then by ``cosigners`` (default: the new key)."""
    named = new if isinstance(new, str) else new.verifier_key
    text = factory.checkpoint_body(ORIGIN, size, root(size)) + f"key-handover {named}\n"
    signers = cosigners or ((new,) if isinstance(new, factory.Signer) else ())
    return text + "\n" + lines_of(old, text) + "".join(lines_of(s, text) for s in signers)


def flip_line(note: str, index: int) -> str:
    """``note`` with one bit of the signature on its ``index``-th signature line flipped."""
    text, sigs = note.split("\n\n", 1)
    lines = sigs.rstrip("\n").split("\n")
    name, b64 = lines[index][2:].split(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    lines[index] = f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}"
    return text + "\n\n" + "\n".join(lines) + "\n"


def cosigner_key() -> str:
    """A well-formed cosignature/v1 (0x04) key named as the log: a key, not a log key."""
    from verifier.note import key_id

    pub = K2.public
    return f"{ORIGIN}+{key_id(ORIGIN, 4, pub).hex()}+{base64.b64encode(bytes([4]) + pub).decode()}"


TWO_LINES = (
    factory.checkpoint_body(ORIGIN, 20, root(20)) + f"key-handover {K1.verifier_key}\nkey-handover {K2.verifier_key}\n"
)

# name -> (trusted key, hand-over notes, the receipt's checkpoint, what the page must say)
CASES: dict[str, tuple[factory.Signer, list[str], str, str]] = {
    # tampered chains
    "second signature of the hand-over forged": (
        K0, [flip_line(handover(K0, K1, 20), 1)], checkpoint(30, K1), "notByNew",
    ),
    "first signature of the hand-over forged": (
        K0, [flip_line(handover(K0, K1, 20), 0)], checkpoint(30, K1), "badSignature",
    ),
    "hand-over not cosigned by the new key": (K0, [handover(K0, K1, 20, K0)], checkpoint(30, K1), "notByNew"),
    "hand-over not signed by the current key": (K0, [handover(MALLORY, K1, 20)], checkpoint(30, K1), "notByCurrent"),
    "hand-over to a malformed key": (K0, [handover(K0, "not-a-key", 20, K0)], checkpoint(10, K0), "malformedKey"),
    "hand-over to another log's key": (
        K0, [handover(K0, FOREIGN.verifier_key, 20, FOREIGN)], checkpoint(10, K0), "notLogKey",
    ),
    "hand-over to a cosigner key": (K0, [handover(K0, cosigner_key(), 20, K0)], checkpoint(10, K0), "notLogKey"),
    "hand-over back to the first key": (K0, [handover(K0, K0, 20, K0)], checkpoint(10, K0), "reused"),
    "hand-over naming two keys": (
        K0, [TWO_LINES + "\n" + lines_of(K0, TWO_LINES) + lines_of(K1, TWO_LINES)], checkpoint(10, K0), "notOneKey",
    ),
    "retired key hands over again": (
        K0, [handover(K0, K1, 20), handover(K0, K2, 30)], checkpoint(25, K1), "retiredAgain",
    ),
    "middle hand-over missing": (K0, [handover(K1, K2, 25)], checkpoint(30, K2), "notByCurrent"),
    "a later key trusted": (K1, [handover(K0, K1, 20)], checkpoint(30, K1), "reused"),
    "retired key signs past its hand-over": (K0, [handover(K0, K1, 20)], checkpoint(30, K0), "keyNotCurrent"),
    "new key signs before its hand-over": (K0, [handover(K0, K1, 20)], checkpoint(10, K1), "keyNotCurrent"),
    "unknown key after a rotation": (K0, [handover(K0, K1, 20)], checkpoint(30, MALLORY), "keyUnknown"),
    "no rotation, another key": (K0, [], checkpoint(30, K1), "sigBad"),
    "bad line by a chain key beside a good one": (
        K0, [handover(K0, K1, 20)], flip_line(checkpoint(30, K1, K0), 1), "sigBad",
    ),
    # clean rotations
    "no rotation": (K0, [], checkpoint(30, K0), "ok"),
    "through one hand-over": (K0, [handover(K0, K1, 20)], checkpoint(30, K1), "ok"),
    "before the hand-over, the first key": (K0, [handover(K0, K1, 20)], checkpoint(10, K0), "ok"),
    "at the hand-over's size, the old key": (K0, [handover(K0, K1, 20)], checkpoint(20, K0), "ok"),
    "at the hand-over's size, the new key": (K0, [handover(K0, K1, 20)], checkpoint(20, K1), "ok"),
    "past the hand-over, both keys": (K0, [handover(K0, K1, 20)], checkpoint(30, K0, K1), "ok"),
    "two rotations": (K0, [handover(K1, K2, 25), handover(K0, K1, 10)], checkpoint(30, K2), "ok"),
    "two rotations at one size": (K0, [handover(K1, K2, 20), handover(K0, K1, 20)], checkpoint(20, K2), "ok"),
    "a note listed twice, and a plain checkpoint": (
        K0, [handover(K0, K1, 20)] * 2 + [checkpoint(20, K0)], checkpoint(30, K1), "ok",
    ),
}  # fmt: skip


def label(i: int) -> str:
    return f"handover {i:06d}"  # as receipt.js labels GET /v1/log/handovers' notes


def python_says(trusted: factory.Signer, notes: list[str], note: str) -> dict[str, Any]:
    """verifier/keychain.py's chain, and verifier/receipt.py's verdict, in the page's terms."""
    chain = follow(parse_verifier_key(trusted.verifier_key), [(label(i), n.encode()) for i, n in enumerate(notes)])
    out: dict[str, Any] = {
        "keys": [{"key": str(k.key), "since": k.since, "until": k.until} for k in chain.keys],
        "rejected": [(r.label, r.size, r.message) for r in chain.rejected],
        "claimed": chain.claimed,
    }
    if chain.rejected:
        return {**out, "state": "fail", "why": "handoverInvalid"}
    try:
        cp, stray = open_in_chain(note, chain)
    except VerificationError as exc:
        return {**out, "state": "fail", "why": "keyUnknown" if exc.code == "checkpoint_key_unknown" else "sigBad"}
    if stray is not None:
        retired = stray.until if stray.until is not None and cp.size > stray.until else None
        expected = [f"{k.key.name}+{k.key.key_id_hex}" for k in chain.keys if k.covers(cp.size)]
        found = f"{stray.key.name}+{stray.key.key_id_hex}"
        return {**out, "state": "fail", "why": "keyNotCurrent", "key": found, "retiredAt": retired,
                "since": stray.since, "expected": expected}  # fmt: skip
    verified = open_note(note, chain.verifier_keys()).verified
    entries = [chain.entry(s.name, s.key_id) for s in verified]
    signer = next(e for e in entries if e is not None and e.covers(cp.size))
    return {**out, "state": "ok", "why": None, "index": chain.keys.index(signer), "signer": str(signer.key)}


@pytest.fixture(scope="module")
def page_says() -> dict[str, dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing (the receipt page's key-chain tests run it)")
    cases = [
        {
            "trusted": t.verifier_key,
            "notes": [{"label": label(i), "text": n} for i, n in enumerate(ns)],
            "checkpoint": c,
        }
        for t, ns, c, _ in CASES.values()
    ]
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps({"cases": cases}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == len(CASES)
    return dict(zip(CASES, rows, strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_the_page_follows_the_chain_as_the_verifier_does(name: str, page_says: dict[str, dict[str, Any]]) -> None:
    trusted, notes, note, expected = CASES[name]
    page, py = page_says[name], python_says(trusted, notes, note)
    assert page["state"] != "threw", page["why"]
    said = page["rejected"][0]["why"] if page["rejected"] else page["why"] or "ok"
    assert said == expected, page
    assert page["state"] == py["state"] and page["why"] == py["why"], (page, py)
    assert page["keys"] == py["keys"] and page["claimed"] == py["claimed"]
    # the same hand-overs refused, in the same order, for the same reason
    assert [(r["label"], r["size"]) for r in page["rejected"]] == [(lbl, size) for lbl, size, _ in py["rejected"]]
    for r, (_, _, message) in zip(page["rejected"], py["rejected"], strict=True):
        assert PY_MESSAGE[r["why"]] in message, (r, message)
    if py["why"] == "keyNotCurrent":
        for k in ("key", "retiredAt", "since", "expected"):
            assert page[k] == py[k], (k, page, py)
    if py["state"] == "ok":
        assert (page["index"], page["signer"]) == (py["index"], py["signer"])
