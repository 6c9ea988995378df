"""Step 2 follows the chain of log keys from the pinned key through hand-over notes (docs/formats.md §3 "Key
hand-over", docs/audit.md): the tampered chains first, each caught with its code, then clean rotations.

The hand-over notes are written here from the format with the test factory's own signer (no ledger code)."""

from __future__ import annotations

import base64
import itertools
from pathlib import Path

import pytest

from tests.verifier import factory
from verifier.audit import AuditReport, run_audit
from verifier.note import parse_verifier_key
from verifier.report import Finding

N = 40
ORIGIN = factory.ORIGIN
K0 = factory.make_signer(ORIGIN, b"k0")
K1 = factory.make_signer(ORIGIN, b"k1")
K2 = factory.make_signer(ORIGIN, b"k2")
MALLORY = factory.make_signer(ORIGIN, b"mallory")


def signature_line(signer: factory.Signer, text: str) -> str:
    return signer.sign(text).split("\n\n", 1)[1]


def handover(old: factory.Signer, new: factory.Signer | str, size: int, root: bytes, *, cosigner: object = None) -> str:
    """A hand-over note at ``size``: the checkpoint body with ``key-handover <new vkey>``, signed by ``old`` then by
    ``cosigner`` (default: the new key itself; None-like ``False``: not cosigned)."""
    named = new if isinstance(new, str) else new.verifier_key
    text = factory.checkpoint_body(ORIGIN, size, root) + f"key-handover {named}\n"
    lines = signature_line(old, text)
    co = new if cosigner is None else cosigner
    if isinstance(co, factory.Signer):
        lines += signature_line(co, text)
    return text + "\n" + lines


def rotated_bundle(path: Path, plan: list[tuple[int, factory.Signer]], sizes: list[int]) -> factory.BundleInfo:
    """A bundle of N events whose checkpoint at each of ``sizes`` is signed by the key of ``plan`` in force there:
    ``plan`` = [(from size, key), ...]; each change of key gets a valid hand-over at its size."""
    info = factory.write_bundle(path, n=N, checkpoint_sizes=sizes, signer=K0)
    for f in (path / "checkpoints").iterdir():
        f.unlink()

    def key_at(size: int) -> factory.Signer:
        return [k for since, k in plan if since <= size][-1]

    for s in sorted(set(sizes) | {N}):
        root = factory.mth(info.leaves[:s])
        (path / "checkpoints" / str(s)).write_text(factory.signed_checkpoint(key_at(s), ORIGIN, s, root))
    for (_, old), (at, new) in itertools.pairwise(plan):
        note = handover(old, new, at, factory.mth(info.leaves[:at]))
        (path / "checkpoints" / f"{at}.handover-{new.key_id.hex()}").write_text(note)
    return info


def audit(info: factory.BundleInfo, key: factory.Signer = K0) -> AuditReport:
    return run_audit(info.path, parse_verifier_key(key.verifier_key))


def codes(report: AuditReport) -> list[str]:
    return sorted(f.code for f in report.findings())


def finding(report: AuditReport, code: str) -> Finding:
    return next(f for f in report.findings() if f.code == code)


def root(info: factory.BundleInfo, size: int) -> bytes:
    return factory.mth(info.leaves[:size])


# --- tampered chains -----------------------------------------------------------------------------------------
def test_handover_not_signed_by_the_old_key_is_invalid_and_the_new_key_unknown(tmp_path: Path) -> None:
    """Mallory writes a hand-over to her own key (signed by her, cosigned by it): the chain does not follow it, and
    every checkpoint she signs after it is by an unknown key."""
    info = rotated_bundle(tmp_path / "b", [(0, K0)], [10, 20, 30])
    for s in (30, N):
        (info.path / "checkpoints" / str(s)).write_text(factory.signed_checkpoint(K1, ORIGIN, s, root(info, s)))
    (info.path / "checkpoints" / "20.handover").write_text(handover(MALLORY, K1, 20, root(info, 20)))
    report = audit(info)
    step2 = [f.code for f in report.findings() if f.step == 2]
    # the hand-over itself (signed by no key of the chain) and Mallory's checkpoints at 30 and 40
    assert sorted(step2) == ["checkpoint_key_unknown"] * 3 + ["key_handover_invalid", "no_checkpoint_at_tree_size"]
    assert "beyond_signed_size" in codes(report)  # the events after size 20 are authenticated by nothing
    f = finding(report, "key_handover_invalid")
    assert "not signed by the key current at that size" in f.message
    assert f.expected == K0.verifier_key
    assert not report.verified


def test_handover_not_cosigned_by_the_new_key_is_invalid(tmp_path: Path) -> None:
    info = rotated_bundle(tmp_path / "b", [(0, K0)], [10, 20])
    (info.path / "checkpoints" / "20.handover").write_text(handover(K0, K1, 20, root(info, 20), cosigner=False))
    report = audit(info)
    assert codes(report) == ["key_handover_invalid"]
    assert "not signed by the new key it names" in finding(report, "key_handover_invalid").message


@pytest.mark.parametrize(
    ("named", "why"),
    [
        ("not-a-key", "malformed key"),
        (factory.make_signer("other.example/log", b"k1").verifier_key, "named as the log"),
        (K0.verifier_key, "already used"),
    ],
)
def test_handover_naming_an_unusable_key_is_invalid(tmp_path: Path, named: str, why: str) -> None:
    info = rotated_bundle(tmp_path / "b", [(0, K0)], [10, 20])
    (info.path / "checkpoints" / "20.handover").write_text(handover(K0, named, 20, root(info, 20), cosigner=K0))
    report = audit(info)
    assert codes(report) == ["key_handover_invalid"]
    assert why in finding(report, "key_handover_invalid").message


def test_checkpoint_after_the_handover_signed_by_the_old_key_is_not_current(tmp_path: Path) -> None:
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1)], [10, 20, 30])
    (info.path / "checkpoints" / "30").write_text(factory.signed_checkpoint(K0, ORIGIN, 30, root(info, 30)))
    report = audit(info)
    assert codes(report) == ["checkpoint_key_not_current"]
    f = finding(report, "checkpoint_key_not_current")
    assert "the hand-over at size 20 retired it" in f.message
    assert f.expected == f"{ORIGIN}+{K1.key_id.hex()}"


def test_checkpoint_before_the_handover_signed_by_the_new_key_is_not_current(tmp_path: Path) -> None:
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1)], [10, 20, 30])
    (info.path / "checkpoints" / "10").write_text(factory.signed_checkpoint(K1, ORIGIN, 10, root(info, 10)))
    report = audit(info)
    assert codes(report) == ["checkpoint_key_not_current"]
    assert "only at size 20" in finding(report, "checkpoint_key_not_current").message


def test_checkpoint_after_the_handover_signed_by_an_unknown_key(tmp_path: Path) -> None:
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1)], [10, 20, 30])
    (info.path / "checkpoints" / "30").write_text(factory.signed_checkpoint(MALLORY, ORIGIN, 30, root(info, 30)))
    report = audit(info)
    assert codes(report) == ["checkpoint_key_unknown"]
    assert MALLORY.key_id.hex() in str(finding(report, "checkpoint_key_unknown").found)


def test_broken_chain_a_missing_middle_handover_leaves_the_rest_unreached(tmp_path: Path) -> None:
    """K0 -> K1 at 10, K1 -> K2 at 25: with the first hand-over removed, the second is not signed by the current key
    (K0), and K1's and K2's checkpoints are by keys the chain does not reach."""
    info = rotated_bundle(tmp_path / "b", [(0, K0), (10, K1), (25, K2)], [5, 10, 20, 25, 30])
    (info.path / "checkpoints" / f"10.handover-{K1.key_id.hex()}").unlink()
    report = audit(info)
    assert codes(report).count("key_handover_invalid") == 1
    step2 = {f.code for f in report.findings() if f.step == 2}
    assert step2 == {"key_handover_invalid", "checkpoint_key_unknown", "no_checkpoint_at_tree_size"}
    assert not report.verified


def test_forged_signature_by_the_current_key_on_a_handover_is_invalid(tmp_path: Path) -> None:
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1)], [10, 20, 30])
    path = info.path / "checkpoints" / f"20.handover-{K1.key_id.hex()}"
    text, sigs = path.read_text().split("\n\n", 1)
    first, rest = sigs.split("\n", 1)
    name, b64 = first[2:].split(" ")
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    path.write_text(text + "\n\n" + f"\u2014 {name} {base64.b64encode(bytes(raw)).decode()}\n" + rest)
    report = audit(info)
    assert "key_handover_invalid" in codes(report) and not report.verified


# --- clean rotations -----------------------------------------------------------------------------------------
def test_no_rotation_is_unchanged(tmp_path: Path) -> None:
    report = audit(rotated_bundle(tmp_path / "b", [(0, K0)], [10, 20]))
    assert report.verified, codes(report)


def test_two_rotations_followed_from_the_pinned_key(tmp_path: Path) -> None:
    info = rotated_bundle(tmp_path / "b", [(0, K0), (10, K1), (25, K2)], [5, 10, 20, 25, 30])
    report = audit(info)
    assert report.verified, [f.describe() for f in report.findings()]
    step2 = next(s for s in report.steps if s.number == 2)
    assert step2.stats["key_chain"] == [K0.verifier_key, K1.verifier_key, K2.verifier_key]


def test_two_rotations_at_one_size(tmp_path: Path) -> None:
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1), (20, K2)], [10, 20, 30])
    report = audit(info)
    assert report.verified, [f.describe() for f in report.findings()]


def test_pinning_a_later_key_does_not_reach_earlier_checkpoints(tmp_path: Path) -> None:
    """Trust goes forward only: an auditor who pinned K1 cannot vouch for K0's checkpoints before the hand-over."""
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1)], [10, 20, 30])
    report = audit(info, K1)
    assert "bundle_key_mismatch" in codes(report)
    assert not report.verified


def test_log_json_naming_a_key_the_chain_reaches_is_no_mismatch(tmp_path: Path) -> None:
    """A ledger's GET /v1/log names its current key: with the original pinned and the hand-over at hand, that is a
    key of the chain, not a mismatch; a key outside the chain still is."""
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1)], [10, 20, 30])
    log = info.path / "log.json"
    log.write_text(log.read_text().replace(K0.verifier_key, K1.verifier_key))
    report = audit(info)
    assert report.verified, codes(report)
    log.write_text(log.read_text().replace(K1.verifier_key, MALLORY.verifier_key))
    assert codes(audit(info)) == ["bundle_key_mismatch"]


def test_a_second_handover_from_a_retired_key_is_evidence(tmp_path: Path) -> None:
    """K0 hands over to K1 at 20, then (retired) signs another hand-over to K2 at 30: rejected, named as a retired
    key signing again; as a checkpoint the note is signed by a key no longer the log's."""
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1)], [10, 20, 30])
    (info.path / "checkpoints" / "30.handover").write_text(handover(K0, K2, 30, root(info, 30)))
    report = audit(info)
    assert "PROOF THAT A RETIRED KEY SIGNED AGAIN" in finding(report, "key_handover_invalid").message
    assert codes(report) == ["checkpoint_key_not_current", "key_handover_invalid"]


def test_many_forged_handovers_at_one_size_are_each_rejected_once(tmp_path: Path) -> None:
    """A hostile bundle of hand-overs no chain key signed: none is tried as a link (no line by the current key),
    each is reported once, and the real rotation beside them is followed."""
    info = rotated_bundle(tmp_path / "b", [(0, K0), (20, K1)], [10, 20, 30])
    for i in range(150):
        forger = factory.make_signer(ORIGIN, f"forger{i}".encode())
        (info.path / "checkpoints" / f"20.forged{i}").write_text(handover(forger, forger, 20, root(info, 20)))
    report = audit(info)
    step2 = next(s for s in report.steps if s.number == 2)
    assert step2.stats["key_chain"] == [K0.verifier_key, K1.verifier_key]
    assert codes(report).count("key_handover_invalid") == 150
