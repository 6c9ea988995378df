// Receipt check primitives (docs/formats.md §3-§4, docs/receipts.md), in the browser with Web Crypto: hex and base64,
// RFC 8785 JCS, RFC 9162 inclusion and consistency proofs, C2SP signed notes and verifier keys.
"use strict";

const enc = new TextEncoder();
const $ = (id) => document.getElementById(id);

function hex(bytes) { return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""); }
function unhex(s) {
  if (typeof s !== "string" || !/^([0-9a-f]{2})*$/.test(s)) throw new Error("bad hex");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}
function b64(s) { const bin = atob(s); return Uint8Array.from(bin, (c) => c.charCodeAt(0)); }
function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
function equal(a, b) { return a.length === b.length && a.every((x, i) => x === b[i]); }
async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
const node = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// RFC 8785 for JSON-native values without floats: sorted keys (UTF-16 order = JS sort), ES JSON.stringify escaping.
function jcs(v) {
  if (v === null || typeof v !== "object") {
    if (typeof v === "number" && !Number.isSafeInteger(v)) throw new Error("non-integer number in event");
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return "[" + v.map(jcs).join(",") + "]";
  return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + jcs(v[k])).join(",") + "}";
}

// RFC 9162 §2.1.3.2
async function verifyInclusion(leaf, index, size, proof, root) {
  let fn = BigInt(index), sn = BigInt(size) - 1n, r = leaf;
  if (fn > sn) return false;
  for (const p of proof) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await node(p, r);
      if ((fn & 1n) === 0n) while (!((fn & 1n) === 1n || fn === 0n)) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await node(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && equal(r, root);
}

// RFC 9162 §2.1.4.2
async function verifyConsistency(first, second, proof, firstRoot, secondRoot) {
  let f = BigInt(first), s = BigInt(second);
  if (f === s) return proof.length === 0 && equal(firstRoot, secondRoot);
  if (f === 0n || f > s || proof.length === 0) return false;
  let path = proof.slice();
  if ((f & (f - 1n)) === 0n) path = [firstRoot, ...path];
  let fn = f - 1n, sn = s - 1n;
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await node(c, fr); sr = await node(c, sr);
      if ((fn & 1n) === 0n) while (!((fn & 1n) === 1n || fn === 0n)) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = await node(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  return sn === 0n && equal(fr, firstRoot) && equal(sr, secondRoot);
}

// C2SP signed note + tlog-checkpoint body
function parseNote(note) {
  const sep = note.indexOf("\n\n");
  if (sep < 0) throw new Error("checkpoint note has no signature block");
  const body = note.slice(0, sep + 1);
  const lines = body.split("\n");
  if (lines.length < 4) throw new Error("checkpoint body too short");
  const root = b64(lines[2]);
  if (root.length !== 32 || !/^\d+$/.test(lines[1])) throw new Error("malformed checkpoint body");
  const sigs = note.slice(sep + 2).split("\n").filter((l) => l.length).map((l) => {
    const m = /^\u2014 (\S+) (\S+)$/.exec(l);
    if (!m) throw new Error("malformed signature line");
    const raw = b64(m[2]);
    if (raw.length < 5) throw new Error("malformed signature line");
    return { name: m[1], raw, signer: `${m[1]}+${hex(raw.slice(0, 4))}` };
  });
  // extension lines (after the root, before the empty line): a key hand-over's "key-handover <vkey>" (§3)
  return { body, origin: lines[0], size: BigInt(lines[1]), root, extensions: lines.slice(3, -1), sigs };
}

async function parseKey(text, alg = 1) {
  // name+<hex8 key id>+<base64(alg || key)>, alg 0x01 (note signer) or 0x04 (tlog-cosignature/v1 witness);
  // the base64 part may itself contain "+"
  const t = text.trim(), i = t.indexOf("+"), j = t.indexOf("+", i + 1);
  if (i <= 0 || j !== i + 9) throw new Error("verifier key must be name+keyid+key");
  const name = t.slice(0, i), keyHex = t.slice(i + 1, j), keyB64 = t.slice(j + 1);
  const raw = b64(keyB64);
  if (raw.length !== 33 || raw[0] !== alg) throw new Error(alg === 1 ? "not an Ed25519 verifier key" : "not a cosignature/v1 witness key");
  const id = (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a), raw))).slice(0, 4);
  if (hex(id) !== keyHex) throw new Error("verifier key id does not match the key");
  const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, id, key, text: t };
}

// "name+hex8 key id", how a key and a signature line are told apart (a note may carry several keys of one name)
const keyLabel = (vk) => `${vk.name}+${hex(vk.id)}`;

class NoteError extends Error {
  constructor(kind, message) { super(message); this.kind = kind; } // kind: "signature" | "unverified"
}

// The keys of `keys` whose signature lines verify, as verifier/note.py open_note: a line by a known key that does
// not verify rejects the whole note (NoteError "signature"); only the first line per key counts; lines by other
// keys (witnesses' cosignatures) are ignored; no line by a known key is NoteError "unverified".
async function openNote(cp, keys) {
  const verified = [], seen = new Set();
  for (const s of cp.sigs) {
    const vk = keys.find((k) => k.name === s.name && equal(s.raw.slice(0, 4), k.id));
    if (!vk || seen.has(s.signer)) continue;
    seen.add(s.signer);
    const ok = s.raw.length === 68 &&
      (await crypto.subtle.verify({ name: "Ed25519" }, vk.key, s.raw.slice(4), enc.encode(cp.body)));
    if (!ok) throw new NoteError("signature", `signature by ${s.signer} does not verify`);
    verified.push(vk);
  }
  if (!verified.length) throw new NoteError("unverified", "note is not signed by any trusted key");
  return verified;
}


// The printed fingerprint of a verifier key: the first 80 bits of SHA-256 of the key string, in groups of 4 hex
// digits (api/receipt_page.py key_fingerprint computes the same for the city's paper copy).
async function fingerprint(keyText) {
  return hex(await sha256(enc.encode(keyText.trim()))).slice(0, 20).match(/.{4}/g).join(" ");
}
