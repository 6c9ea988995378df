"""Encrypted ballots (docs/voting.md): the verifier's side beside a Helios-style peer, same run.

Rows (``{"system", "operation", "n", "value", "unit", "note"}``):

- ours (secp256k1 via libsecp256k1, verifier/voting/): verify one 6-option approval ballot (max 3 choices; 6 bit
  proofs + a 3-way count proof), median ms; ballots/s verified in 1 process and in a pool of 2 processes (a ballot's
  checks need only the manifest, so they split across processes); the whole ``hromada-verify audit`` of a bundle with
  ``n`` encrypted ballots (ceremony, ballots, end, 2-of-3 shares, close): ballots/s and peak RSS; tally (every
  share's proof, Lagrange, counts) ms.
- helios-style peer: exponential ElGamal over the 2048-bit MODP group of RFC 3526 (q = (p-1)/2, generator 4) with
  Python's ``pow`` and short exponents (256-bit challenges, ~576-bit responses, as near Helios' 256-bit subgroup
  order as a safe prime allows), disjunctive Chaum-Pedersen 0/1 proofs per option and a disjunctive proof of the
  count in [1..3], Fiat-Shamir with SHA-256: encrypt and verify one 6-option ballot (ms), ballots/s verified.

ElectionGuard is not measured: its PyPI package is not on the local index this run uses.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from domain.ballots.crypto import ballot as dbal
from verifier.voting import ballot as vbal
from verifier.voting.group import point

SIX = [{"id": f"o{i}", "title": f"Option {i}"} for i in range(6)]


def _ours_ballots(n: int) -> tuple[dict[str, Any], bytes, str, list[dict[str, Any]]]:
    """A ceremony-less key and ``n`` cast ballots made with the ledger's crypto (the verifier's input)."""
    from domain.ballots.crypto.group import base_mul, random_scalar

    h = base_mul(random_scalar())
    opened = {"options": SIX, "method": {"type": "approval", "max_choices": 3}}
    st = dbal.statement(opened, None)
    manifest = hashlib.sha256(b"bench").digest()
    out = []
    for v in range(n):
        sel = [f"o{(v + k) % 6}" for k in range(1 + v % 3)]
        sel.sort()
        body = dbal.encrypt(
            ballot_id="b",
            manifest=manifest,
            public_key=h,
            st=st,
            voter=f"vot:v1:{v:064x}",
            district=None,
            selection=sel,
        ).body
        out.append(body)
    return opened, manifest, h.hex(), out


def _verify_all(args: tuple[dict[str, Any], bytes, str, list[dict[str, Any]]]) -> int:
    opened, manifest, h_hex, ballots = args
    h = point(h_hex)
    st = vbal.statement(opened, None)
    for body in ballots:
        vbal.check(body, manifest=manifest, h=h, st=st)
    return len(ballots)


def _ours(n: int) -> list[dict[str, Any]]:
    opened, manifest, h_hex, ballots = _ours_ballots(n)
    rows = []
    h = point(h_hex)
    st = vbal.statement(opened, None)
    times = []
    for body in ballots[:30]:
        t = time.perf_counter()
        vbal.check(body, manifest=manifest, h=h, st=st)
        times.append(time.perf_counter() - t)
    rows.append(
        {
            "system": "ours",
            "operation": "verify one 6-option approval ballot",
            "n": len(times),
            "value": statistics.median(times) * 1e3,
            "unit": "ms",
            "note": "median",
        }
    )
    t = time.perf_counter()
    _verify_all((opened, manifest, h_hex, ballots))
    rows.append(
        {
            "system": "ours",
            "operation": "verify ballots, 1 process",
            "n": n,
            "value": n / (time.perf_counter() - t),
            "unit": "ballots/s",
            "note": "",
        }
    )
    half = n // 2
    ctx = multiprocessing.get_context("spawn" if sys.platform == "darwin" else "fork")
    with ctx.Pool(2) as pool:
        pool.map(_verify_all, [(opened, manifest, h_hex, ballots[:2])] * 2)  # warm the workers
        t = time.perf_counter()
        done = sum(
            pool.map(
                _verify_all, [(opened, manifest, h_hex, ballots[:half]), (opened, manifest, h_hex, ballots[half:])]
            )
        )
        rows.append(
            {
                "system": "ours",
                "operation": "verify ballots, 2 processes",
                "n": done,
                "value": done / (time.perf_counter() - t),
                "unit": "ballots/s",
                "note": "a pool of 2",
            }
        )
    return rows


def _audit(n: int) -> list[dict[str, Any]]:
    """The whole audit of a bundle holding one encrypted ballot with ``n`` voters (tests' bundle builder)."""
    from tests.verifier_rules.builder import History, audit
    from tests.verifier_voting.builder import Encrypted

    h = History()
    h.city()
    e = Encrypted(h)
    e.run({v: [[f"o{(v + k) % 6}" for k in range(1 + v % 3)]] for v in range(1, n + 1)})
    with tempfile.TemporaryDirectory() as tmp:
        bundle = h.write(Path(tmp) / "b")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        report = audit(bundle)
        took = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        shared = _audit_two_processes(bundle)
        took_shared = time.perf_counter() - t
    bad = [f.code for s in report.steps for f in s.findings]
    note = "clean" if not bad else f"FINDINGS {sorted(set(bad))}"
    rows = [
        {
            "system": "ours",
            "operation": "hromada-verify audit, encrypted ballot",
            "n": n,
            "value": n / took,
            "unit": "ballots/s",
            "note": f"{note}; steps 1, 2, 4, 5, rules in one process",
        },
        {
            "system": "ours",
            "operation": "hromada-verify audit, encrypted ballot, 2 processes",
            "n": n,
            "value": n / took_shared,
            "unit": "ballots/s",
            "note": ("same report" if shared == _comparable(report) else "REPORT DIFFERS")
            + "; the rule worker, the main process checks every other ballot's proofs (verifier/voting/precheck.py)",
        },
        {
            "system": "ours",
            "operation": "audit peak RSS",
            "n": n,
            "value": rss / 1024,
            "unit": "MiB",
            "note": f"process peak (was {before / 1024:.0f} MiB before the audit)",
        },
    ]
    # tally: the shares' proofs, Lagrange and the counts, through the verifier's Election
    from verifier.rules.model import Event
    from verifier.voting.election import Election

    el = Election(e.bid, {}, {})
    envs = [env for env in h.events if env["type"].startswith("ballot.")]
    tally_at = next(i for i, env in enumerate(envs) if env["type"] == "ballot.decryption_shared")
    for i, env in enumerate(envs[:tally_at]):
        el.feed(Event.of(i, env))
    t = time.perf_counter()
    for i, env in enumerate(envs[tally_at:-1]):
        el.feed(Event.of(i, env))
    (decrypted, found) = el.close(Event.of(len(envs), envs[-1]))
    rows.append(
        {
            "system": "ours",
            "operation": "tally: 2 shares' proofs + Lagrange + counts",
            "n": 6,
            "value": (time.perf_counter() - t) * 1e3,
            "unit": "ms",
            "note": "ok" if decrypted and not found else "FAILED",
        }
    )
    return rows


def _comparable(report: Any) -> dict[str, Any]:
    out: dict[str, Any] = report.to_json()
    del out["seconds"], out["events_per_second"]
    return out


def _audit_two_processes(bundle: Path) -> dict[str, Any]:
    """What ``hromada-verify audit`` does on a large log with 2 CPUs: the ballots replayed by the rule worker."""
    from tests.verifier import factory
    from tests.verifier_rules.builder import ORIGIN
    from verifier.audit import default_steps, run_audit
    from verifier.note import parse_verifier_key

    key = parse_verifier_key(factory.make_signer(ORIGIN).verifier_key)
    steps = [s for s in default_steps(rules=True) if s.number in (1, 2, 4, 5)]
    return _comparable(run_audit(bundle, key, offline=True, workers=1, steps=steps, rule_worker=True))


# --- the Helios-style peer ---------------------------------------------------------------------------------------
P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B"
    "302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE6"
    "49286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED529077096966D"
    "670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718"
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
    16,
)
Q = (P - 1) // 2
GEN = 4


C_BITS = 256  # challenges and randomness: short exponents, as Helios' 256-bit subgroup order makes them


def _hq(*xs: int) -> int:
    return int.from_bytes(hashlib.sha256(b"|".join(str(x).encode() for x in xs)).digest(), "big")


def _h_prove(y: int, a: int, b: int, r: int, v: int, values: list[int]) -> list[tuple[int, int]]:
    """Disjunctive Chaum-Pedersen with short exponents: c_k < 2^256 (sum mod 2^256), s = w + c·r over the integers
    (w of 512 bits hides c·r), so every exponent is <= 512 bits instead of the 2047 bits of q."""
    mod = 1 << C_BITS
    cs, ss, com = [0] * len(values), [0] * len(values), []
    w = secrets.randbits(2 * C_BITS + 64)
    t = values.index(v)
    for k, j in enumerate(values):
        if k == t:
            com += [pow(GEN, w, P), pow(y, w, P)]
        else:
            cs[k], ss[k] = secrets.randbits(C_BITS), secrets.randbits(2 * C_BITS + 64)
            bj = b * pow(GEN, -j, P) % P
            com += [pow(GEN, ss[k], P) * pow(a, -cs[k], P) % P, pow(y, ss[k], P) * pow(bj, -cs[k], P) % P]
    c = _hq(y, a, b, *com) % mod
    cs[t] = (c - sum(cs)) % mod
    ss[t] = w + cs[t] * r
    return list(zip(cs, ss, strict=True))


def _h_verify(y: int, a: int, b: int, proof: list[tuple[int, int]], values: list[int]) -> bool:
    com = []
    for (c, s), j in zip(proof, values, strict=True):
        bj = b * pow(GEN, -j, P) % P
        com += [pow(GEN, s, P) * pow(a, -c, P) % P, pow(y, s, P) * pow(bj, -c, P) % P]
    return sum(c for c, _ in proof) % (1 << C_BITS) == _hq(y, a, b, *com) % (1 << C_BITS)


def _h_encrypt(y: int, choices: list[int]) -> dict[str, Any]:
    rs = [secrets.randbits(C_BITS) for _ in choices]
    cts = [(pow(GEN, r, P), pow(GEN, v, P) * pow(y, r, P) % P) for v, r in zip(choices, rs, strict=True)]
    proofs = [_h_prove(y, a, b, r, v, [0, 1]) for (a, b), v, r in zip(cts, choices, rs, strict=True)]
    sa, sb = 1, 1
    for a, b in cts:
        sa, sb = sa * a % P, sb * b % P
    count = _h_prove(y, sa, sb, sum(rs), sum(choices), [1, 2, 3])
    return {"cts": cts, "proofs": proofs, "count": count}


def _h_check(y: int, ballot: dict[str, Any]) -> bool:
    ok = all(_h_verify(y, a, b, p, [0, 1]) for (a, b), p in zip(ballot["cts"], ballot["proofs"], strict=True))
    sa, sb = 1, 1
    for a, b in ballot["cts"]:
        sa, sb = sa * a % P, sb * b % P
    return ok and _h_verify(y, sa, sb, ballot["count"], [1, 2, 3])


def _helios(n: int) -> list[dict[str, Any]]:
    y = pow(GEN, secrets.randbits(C_BITS), P)
    enc, ballots = [], []
    for v in range(n):
        choices = [1 if k < 1 + v % 3 else 0 for k in range(6)]
        t = time.perf_counter()
        ballots.append(_h_encrypt(y, choices))
        enc.append(time.perf_counter() - t)
    ver = []
    for b in ballots:
        t = time.perf_counter()
        assert _h_check(y, b)
        ver.append(time.perf_counter() - t)
    note = "RFC 3526 2048-bit MODP, 256-bit exponents, Python pow"
    return [
        {
            "system": "helios-style",
            "operation": "encrypt one 6-option approval ballot",
            "n": n,
            "value": statistics.median(enc) * 1e3,
            "unit": "ms",
            "note": note,
        },
        {
            "system": "helios-style",
            "operation": "verify one 6-option approval ballot",
            "n": n,
            "value": statistics.median(ver) * 1e3,
            "unit": "ms",
            "note": note,
        },
        {
            "system": "helios-style",
            "operation": "verify ballots, 1 process",
            "n": n,
            "value": n / sum(ver),
            "unit": "ballots/s",
            "note": note,
        },
    ]


def run(n: int = 300, audit_n: int = 1000, peer_n: int = 5) -> list[dict[str, Any]]:
    opened, manifest, h_hex, _ = _ours_ballots(1)
    st = dbal.statement(opened, None)
    from domain.ballots.crypto.group import decode_point

    times = []
    for v in range(10):
        t = time.perf_counter()
        dbal.encrypt(
            ballot_id="b",
            manifest=manifest,
            public_key=decode_point(h_hex),
            st=st,
            voter=f"vot:v1:{v:064x}",
            district=None,
            selection=["o0", "o3"],
        )
        times.append(time.perf_counter() - t)
    rows = [
        {
            "system": "ours",
            "operation": "encrypt one 6-option approval ballot (Python)",
            "n": 10,
            "value": statistics.median(times) * 1e3,
            "unit": "ms",
            "note": "domain/ballots/crypto",
        }
    ]
    return rows + _ours(n) + _audit(audit_n) + _helios(peer_n)
