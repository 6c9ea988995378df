// The voting booth's cryptography (docs/voting.md §2, §4, §6): ElGamal encryption on secp256k1, the bit, count
// and budget range proofs with strong Fiat-Shamir, the tracker, the manifest hash and the Benaloh audit.
// The same bytes as domain/ballots/crypto/ (Python); both pass tests/vectors/voting/voting.json.
// Runs in the browser (import map in booth.html) and under node (tests: a resolve hook maps @noble/ to
// tools/node_modules/@noble/).
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';

const Point = secp256k1.Point;
export const N = Point.Fn.ORDER;
const P_FIELD = Point.Fp.ORDER;
const G = Point.BASE;
const ZERO = Point.ZERO;
const DST = 'hromada/vote/v1/';
const BIT = [0, 1];
const utf8 = new TextEncoder();

export class CryptoError extends Error {}

// --- scalars and points --------------------------------------------------------------------------------------
const mod = (k) => ((k % N) + N) % N;

function bytesToBig(bytes) {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function bigToBytes(v, size) {
  const out = new Uint8Array(size);
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) || [], (h) => parseInt(h, 16));

export function scalarHex(k) {
  return mod(k).toString(16).padStart(64, '0');
}

export function decodeScalar(text, what = 'scalar') {
  if (typeof text !== 'string' || !/^[0-9a-f]{64}$/.test(text)) throw new CryptoError(`${what} must be 64 lowercase hex digits`);
  const v = BigInt('0x' + text);
  if (v >= N) throw new CryptoError(`${what} is not below the group order`);
  return v;
}

export function decodePoint(text, what = 'point') {
  if (typeof text !== 'string' || !/^[0-9a-f]{66}$/.test(text)) throw new CryptoError(`${what} must be 66 lowercase hex digits`);
  if (!/^0[23]/.test(text) || BigInt('0x' + text.slice(2)) >= P_FIELD) throw new CryptoError(`${what} is not a compressed secp256k1 point`);
  try {
    const p = Point.fromHex(text);
    p.assertValidity();
    return p;
  } catch {
    throw new CryptoError(`${what} is not on secp256k1`);
  }
}

// The joint key H is used in every multiplication by a secret but G's: keep one decoded copy per key, with
// precomputed wNAF tables (window 8), so k·H costs about what k·G does. `prepareKey` builds them ahead of time
// (the booth calls it while the voter reads the ballot).
const KEYS = new Map();

export function prepareKey(hex) {
  let p = KEYS.get(hex);
  if (!p) {
    p = decodePoint(hex, 'public_key').precompute(8, false);
    KEYS.set(hex, p);
  }
  return p;
}

const keyOf = (publicKey) => (typeof publicKey === 'string' ? prepareKey(publicKey) : publicKey);

export function pointHex(p) {
  if (p.is0()) throw new CryptoError('the identity has no encoding');
  return p.toHex(true);
}

/** k·P in constant time (k may be secret). */
function mulSecret(p, k) {
  k = mod(k);
  return k === 0n || p.is0() ? ZERO : p.multiply(k);
}

/** k·P for public k (faster, not constant time). */
function mulPublic(p, k) {
  return p.multiplyUnsafe(mod(k));
}

const baseMul = (k) => mulSecret(G, k);
const sumPoints = (ps) => ps.reduce((acc, p) => acc.add(p), ZERO);

export function randomScalar() {
  const bytes = new Uint8Array(64);
  globalThis.crypto.getRandomValues(bytes);
  return 1n + (bytesToBig(bytes) % (N - 1n)); // bias < 2^-250
}

// --- hashing (§2) ---------------------------------------------------------------------------------------------
// Items: {point}, {scalar}, {str}, {int}, {bytes}: the same tagged form as the vectors' "items".
function encItem(item) {
  let raw;
  if ('point' in item) raw = typeof item.point === 'string' ? fromHex(item.point) : item.point.toBytes(true);
  else if ('scalar' in item) raw = bigToBytes(mod(typeof item.scalar === 'string' ? BigInt('0x' + item.scalar) : item.scalar), 32);
  else if ('str' in item) raw = utf8.encode(item.str);
  else if ('int' in item) {
    const v = BigInt(item.int);
    if (v < 0n || v >= 1n << 64n) throw new CryptoError('integers in a hash are 0 <= v < 2^64');
    raw = bigToBytes(v, 8);
  } else if ('bytes' in item) raw = typeof item.bytes === 'string' ? fromHex(item.bytes) : item.bytes;
  else throw new CryptoError('unknown hash item');
  if ('point' in item && raw.length !== 33) throw new CryptoError('a point in a hash must be 33 bytes');
  const out = new Uint8Array(4 + raw.length);
  new DataView(out.buffer).setUint32(0, raw.length);
  out.set(raw, 4);
  return out;
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Hs(tag, x1..xm) = int(SHA-512(DST ‖ tag ‖ 0x00 ‖ enc(x1) ‖ …)) mod n. */
export function hs(tag, items) {
  const digest = sha512(concat([utf8.encode(DST + tag), new Uint8Array([0]), ...items.map(encItem)]));
  return bytesToBig(digest) % N;
}

/** RFC 8785 JSON canonicalization for the values the protocol hashes (strings, integers, null, bool, lists, objects). */
export function jcs(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CryptoError('JCS has no encoding for this number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return '[' + value.map(jcs).join(',') + ']';
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort(); // UTF-16 code unit order, as RFC 8785 says
    return '{' + keys.map((k) => JSON.stringify(k) + ':' + jcs(value[k])).join(',') + '}';
  }
  throw new CryptoError(`JCS has no encoding for ${typeof value}`);
}

/** SHA-256(JCS({ballot, opened without manifest_hash})), hex (§3). */
export function manifestHash(ballotId, opened) {
  const frozen = Object.fromEntries(Object.entries(opened).filter(([k]) => k !== 'manifest_hash'));
  return toHex(sha256(utf8.encode(jcs({ ballot: ballotId, opened: frozen }))));
}

/** Hex SHA-256(DST ‖ "tracker" ‖ 0x00 ‖ JCS({ballot, voter, district, ciphertexts, proofs})) (§6). */
export function tracker(body) {
  const fields = {};
  for (const k of ['ballot', 'voter', 'district', 'ciphertexts', 'proofs']) fields[k] = body[k];
  return toHex(sha256(concat([utf8.encode(DST + 'tracker'), new Uint8Array([0]), utf8.encode(jcs(fields))])));
}

// --- range proofs (§4) ----------------------------------------------------------------------------------------
function rangeChallenge(manifest, h, ctx, alpha, beta, values, commits) {
  return hs('range', [
    { bytes: manifest },
    { point: h },
    ...ctx.map((s) => ({ str: s })),
    { point: alpha },
    { point: beta },
    { int: values.length },
    ...values.map((v) => ({ int: v })),
    ...commits.map((p) => ({ point: p })),
  ]);
}

/** Prove α = rG, β = value·G + rH with value in values. `manifest` is the 32 bytes of the manifest hash. */
export function proveRange(manifest, h, ctx, alpha, beta, values, value, r) {
  const t = values.indexOf(value);
  if (t < 0) throw new CryptoError('the value is not in the list');
  for (;;) {
    const cs = values.map(() => 0n);
    const ss = values.map(() => 0n);
    const commits = [];
    const w = randomScalar();
    values.forEach((j, k) => {
      if (k === t) {
        commits.push(baseMul(w), mulSecret(h, w));
      } else {
        cs[k] = randomScalar();
        ss[k] = randomScalar();
        commits.push(
          baseMul(ss[k]).subtract(mulPublic(alpha, cs[k])),
          mulSecret(h, ss[k]).subtract(mulPublic(beta.subtract(mulPublic(G, BigInt(j))), cs[k])),
        );
      }
    });
    if (commits.some((p) => p.is0())) continue; // probability ~2^-256
    const c = rangeChallenge(manifest, h, ctx, alpha, beta, values, commits);
    cs[t] = mod(c - cs.reduce((a, b) => a + b, 0n));
    ss[t] = mod(w + cs[t] * r);
    return { c: cs.map(scalarHex), s: ss.map(scalarHex) };
  }
}

/** True iff the range proof holds; never throws on a malformed proof. */
export function verifyRange(manifest, h, ctx, alpha, beta, values, proof) {
  try {
    if (!proof || typeof proof !== 'object' || Object.keys(proof).sort().join() !== 'c,s') return false;
    if (!Array.isArray(proof.c) || !Array.isArray(proof.s) || proof.c.length !== values.length || proof.s.length !== values.length) return false;
    const cs = proof.c.map((x) => decodeScalar(x));
    const ss = proof.s.map((x) => decodeScalar(x));
    const commits = [];
    values.forEach((j, k) => {
      commits.push(
        mulPublic(G, ss[k]).subtract(mulPublic(alpha, cs[k])),
        mulPublic(h, ss[k]).subtract(mulPublic(beta.subtract(mulPublic(G, BigInt(j))), cs[k])),
      );
    });
    if (commits.some((p) => p.is0())) return false;
    return mod(cs.reduce((a, b) => a + b, 0n)) === rangeChallenge(manifest, h, ctx, alpha, beta, values, commits);
  } catch {
    return false;
  }
}

// --- the ballot (§6) ------------------------------------------------------------------------------------------
const range = (lo, hi) => Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);

/** What a voter's ballot proves, from the ballot's `opened` data (as domain/ballots/crypto/ballot.py:statement). */
export function statement(opened, district) {
  const { method, options } = opened;
  if (method.type === 'budget') {
    const mine = options.filter((o) => o.district === district);
    if (!(district in method.budgets)) throw new CryptoError(`no budget for district ${district}`);
    return { options: mine.map((o) => o.id), count: range(1, mine.length), costs: mine.map((o) => Number(o.cost)), budget: Number(method.budgets[district]) };
  }
  const hi = method.type === 'single' ? 1 : Number(method.max_choices);
  return { options: options.map((o) => o.id), count: range(1, Math.min(hi, options.length)), costs: null, budget: null };
}

const ctxOf = (voter, label) => [voter, label];
const ctJson = ([a, b]) => ({ a: pointHex(a), b: pointHex(b) });

function budgetSum(costs, cts, bits) {
  const a = [...costs.map((c, i) => mulPublic(cts[i][0], BigInt(c))), ...bits.map(([x], e) => mulPublic(x, 1n << BigInt(e)))];
  const b = [...costs.map((c, i) => mulPublic(cts[i][1], BigInt(c))), ...bits.map(([, y], e) => mulPublic(y, 1n << BigInt(e)))];
  return [sumPoints(a), sumPoints(b)];
}

function proveBudget(manifest, h, voter, costs, budget, cts, rs, left) {
  const width = budget.toString(2).length;
  const digits = range(0, width - 1).map((e) => (left >> e) & 1);
  const rhos = digits.map(() => randomScalar());
  const bits = digits.map((d, e) => [baseMul(rhos[e]), baseMul(BigInt(d)).add(mulSecret(h, rhos[e]))]);
  const bitProofs = bits.map(([a, b], e) => proveRange(manifest, h, ctxOf(voter, `budget/bit/${e}`), a, b, BIT, digits[e], rhos[e]));
  const [bigA, bigB] = budgetSum(costs, cts, bits);
  let randomness = 0n;
  costs.forEach((c, i) => (randomness += BigInt(c) * rs[i]));
  rhos.forEach((rho, e) => (randomness += (1n << BigInt(e)) * rho));
  const sum = proveRange(manifest, h, ctxOf(voter, 'budget/sum'), bigA, bigB, [budget], budget, mod(randomness));
  return { bits: bits.map(ctJson), bit_proofs: bitProofs, sum };
}

/**
 * Encrypt `selection` (option ids) for this voter with every proof. Returns {body, randomness, choices}: `body`
 * is {ballot, voter, district, ciphertexts, proofs, tracker}; the API takes {ciphertexts, proofs, tracker} of it.
 */
export function encryptBallot({ ballotId, manifestHash: mh, publicKey, st, voter, district, selection }) {
  const chosen = new Set(selection);
  if (chosen.size !== selection.length || ![...chosen].every((o) => st.options.includes(o))) {
    throw new CryptoError('the selection names an option twice or one this ballot does not offer');
  }
  const choices = st.options.map((o) => (chosen.has(o) ? 1 : 0));
  const total = choices.reduce((a, b) => a + b, 0);
  if (!st.count.includes(total)) throw new CryptoError('the number of chosen options is not allowed');
  const manifest = fromHex(mh);
  const h = keyOf(publicKey);
  const rs = choices.map(() => randomScalar());
  const cts = choices.map((v, i) => [baseMul(rs[i]), baseMul(BigInt(v)).add(mulSecret(h, rs[i]))]);
  const options = cts.map(([a, b], i) => proveRange(manifest, h, ctxOf(voter, `option/${i}`), a, b, BIT, choices[i], rs[i]));
  const sumA = sumPoints(cts.map(([a]) => a));
  const sumB = sumPoints(cts.map(([, b]) => b));
  const count = proveRange(manifest, h, ctxOf(voter, 'count'), sumA, sumB, st.count, total, mod(rs.reduce((a, b) => a + b, 0n)));
  let budget = null;
  if (st.costs !== null) {
    const spent = st.costs.reduce((acc, c, i) => acc + c * choices[i], 0);
    if (spent > st.budget) throw new CryptoError("the selection costs more than the district's budget");
    budget = proveBudget(manifest, h, voter, st.costs, st.budget, cts, rs, st.budget - spent);
  }
  const body = { ballot: ballotId, voter, district, ciphertexts: cts.map(ctJson), proofs: { options, count, budget } };
  body.tracker = tracker(body);
  return { body, randomness: rs, choices };
}

/** What the device reveals when the voter audits a ballot instead of casting it (§6). */
export function auditRecord(made) {
  const { ballot, voter, district, tracker: t, ciphertexts, proofs } = made.body;
  return { ballot, voter, district, tracker: t, ciphertexts, proofs, randomness: made.randomness.map(scalarHex), choices: made.choices };
}

function pairs(raw, where) {
  if (!Array.isArray(raw)) throw new CryptoError(`${where}: must be a list of ciphertexts`);
  return raw.map((ct, i) => [decodePoint(ct.a, `${where}[${i}].a`), decodePoint(ct.b, `${where}[${i}].b`)]);
}

/** Every check of a ballot's proofs and tracker (as the ledger does). Returns null, or the name of the first failure. */
export function checkBallot(body, { manifestHash: mh, publicKey, st }) {
  const manifest = fromHex(mh);
  const h = keyOf(publicKey);
  let cts;
  try {
    cts = pairs(body.ciphertexts, 'ciphertexts');
  } catch {
    return 'ciphertexts';
  }
  if (cts.length !== st.options.length) return 'ciphertexts';
  const { proofs } = body;
  for (let i = 0; i < cts.length; i++) {
    if (!verifyRange(manifest, h, ctxOf(body.voter, `option/${i}`), cts[i][0], cts[i][1], BIT, proofs.options[i])) return `proofs.options[${i}]`;
  }
  const sumA = sumPoints(cts.map(([a]) => a));
  const sumB = sumPoints(cts.map(([, b]) => b));
  if (sumA.is0() || sumB.is0() || !verifyRange(manifest, h, ctxOf(body.voter, 'count'), sumA, sumB, st.count, proofs.count)) return 'proofs.count';
  if (st.costs === null) {
    if (proofs.budget !== null) return 'proofs.budget';
  } else {
    let bits;
    try {
      bits = pairs(proofs.budget.bits, 'bits');
    } catch {
      return 'proofs.budget.bits';
    }
    if (bits.length !== st.budget.toString(2).length) return 'proofs.budget.bits';
    for (let e = 0; e < bits.length; e++) {
      if (!verifyRange(manifest, h, ctxOf(body.voter, `budget/bit/${e}`), bits[e][0], bits[e][1], BIT, proofs.budget.bit_proofs[e])) return `proofs.budget.bit_proofs[${e}]`;
    }
    const [bigA, bigB] = budgetSum(st.costs, cts, bits);
    if (bigA.is0() || bigB.is0() || !verifyRange(manifest, h, ctxOf(body.voter, 'budget/sum'), bigA, bigB, [st.budget], proofs.budget.sum)) return 'proofs.budget.sum';
  }
  if (body.tracker !== tracker(body)) return 'tracker';
  return null;
}

/**
 * The Benaloh audit by recomputation: checks that the revealed randomness and choices make exactly the record's
 * ciphertexts, that its proofs and tracker hold, and returns the chosen option ids. Throws CryptoError otherwise.
 */
export function auditBallot(record, { manifestHash: mh, publicKey, st }) {
  const h = keyOf(publicKey);
  const cts = pairs(record.ciphertexts, 'ciphertexts');
  const { randomness: rs, choices: vs } = record;
  if (!Array.isArray(rs) || !Array.isArray(vs) || rs.length !== cts.length || vs.length !== cts.length || cts.length !== st.options.length) {
    throw new CryptoError('randomness: must hold one value and one choice per ciphertext');
  }
  const failed = checkBallot(record, { manifestHash: mh, publicKey: h, st });
  if (failed) throw new CryptoError(`${failed}: does not verify`);
  cts.forEach(([a, b], i) => {
    if (vs[i] !== 0 && vs[i] !== 1) throw new CryptoError(`choices[${i}]: must be 0 or 1`);
    const r = decodeScalar(rs[i], `randomness[${i}]`);
    if (!mulPublic(G, r).equals(a) || !mulPublic(G, BigInt(vs[i])).add(mulPublic(h, r)).equals(b)) {
      throw new CryptoError(`ciphertexts[${i}]: does not encrypt the revealed choice with the revealed randomness`);
    }
  });
  return st.options.filter((_, i) => vs[i] === 1);
}
