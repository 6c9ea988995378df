// The booth's crypto.js against tests/vectors/voting/voting.json. Prints one JSON line per group:
// {"group", "cases", "failures": [...]}; tests/booth/test_crypto_js.py asserts there are no failures.
import { readFileSync } from 'node:fs';
import * as vc from '../../../api/static/booth/crypto.js';

const V = JSON.parse(readFileSync(new URL('../../vectors/voting/voting.json', import.meta.url), 'utf8'));
const hex = (s) => Uint8Array.from(s.match(/../g) || [], (h) => parseInt(h, 16));
const out = [];
function group(name, cases, fn) {
  const failures = [];
  cases.forEach((c, i) => {
    let ok;
    try {
      ok = fn(c);
    } catch (e) {
      ok = `threw ${e}`;
    }
    if (ok !== true) failures.push({ i, why: c.why ?? null, got: ok });
  });
  out.push({ group: name, cases: cases.length, failures });
}
const raises = (f) => {
  try {
    f();
    return false;
  } catch (e) {
    return e instanceof vc.CryptoError;
  }
};

group('points', V.encodings.points, (c) => (c.valid ? vc.pointHex(vc.decodePoint(c.hex)) === c.hex : raises(() => vc.decodePoint(c.hex))));
group('scalars', V.encodings.scalars, (c) => (c.valid ? vc.scalarHex(vc.decodeScalar(c.hex)) === c.hex : raises(() => vc.decodeScalar(c.hex))));
group('hashes', V.hashes, (c) => vc.scalarHex(vc.hs(c.tag, c.items)) === c.scalar);
const P = V.proofs;
group('range', P.range, (c) => {
  const ok = vc.verifyRange(hex(P.manifest_hash), vc.decodePoint(P.public_key), c.ctx, vc.decodePoint(c.alpha), vc.decodePoint(c.beta), c.values, c.proof);
  return ok === c.valid;
});
const B = V.ballot;
const st = vc.statement(B.opened, B.district);
const args = { manifestHash: B.manifest_hash, publicKey: B.public_key, st };
group('manifest', [B], (b) => vc.manifestHash(b.ballot, b.opened) === b.manifest_hash && b.opened.manifest_hash === b.manifest_hash);
group('cast', [B.cast], (body) => vc.checkBallot(body, args) === null && vc.tracker(body) === body.tracker);
group('refused', B.refused, (c) => vc.checkBallot(c.ballot, args) === c.where || `named ${vc.checkBallot(c.ballot, args)}`);
group('audit', [B.audit], (rec) => JSON.stringify(vc.auditBallot(rec, args)) === JSON.stringify(st.options.filter((_, i) => rec.choices[i] === 1)));
// A tampered audit: the revealed choice flipped must be caught.
group('audit-tampered', [B.audit], (rec) => raises(() => vc.auditBallot({ ...rec, choices: rec.choices.map((v) => 1 - v) }, args)));
// JS-made ballots verify in JS (Python checks them in test_crypto_js.py).
group('roundtrip', [['lib'], ['park']], (sel) => {
  const made = vc.encryptBallot({ ballotId: B.ballot, manifestHash: B.manifest_hash, publicKey: B.public_key, st, voter: 'vot:v1:ee', district: B.district, selection: sel });
  return vc.checkBallot(made.body, args) === null && JSON.stringify(vc.auditBallot(vc.auditRecord(made), args)) === JSON.stringify(sel);
});
group('over-budget', [['lib', 'park']], (sel) =>
  raises(() => vc.encryptBallot({ ballotId: B.ballot, manifestHash: B.manifest_hash, publicKey: B.public_key, st, voter: 'v', district: B.district, selection: sel })),
);
for (const g of out) console.log(JSON.stringify(g));
