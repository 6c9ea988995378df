// Citizen receipt check (docs/formats.md §3-§4), entirely in the browser with Web Crypto.
// 1. leaf hash = SHA-256(0x00 || JCS(event)); 2. the checkpoint note's Ed25519 signature by the log key;
// 3. RFC 9162 inclusion proof of leaf_index into the checkpoint's root; 4. the anchor (chain, block, tx), and
// its consistency proof when it anchors a larger tree.
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
    return { name: m[1], raw: b64(m[2]) };
  });
  return { body, origin: lines[0], size: BigInt(lines[1]), root, sigs };
}

async function parseKey(text) {
  // name+<hex8 key id>+<base64(0x01 || key)>; the base64 part may itself contain "+"
  const t = text.trim(), i = t.indexOf("+"), j = t.indexOf("+", i + 1);
  if (i <= 0 || j !== i + 9) throw new Error("verifier key must be name+keyid+key");
  const name = t.slice(0, i), keyHex = t.slice(i + 1, j), keyB64 = t.slice(j + 1);
  const raw = b64(keyB64);
  if (raw.length !== 33 || raw[0] !== 1) throw new Error("not an Ed25519 verifier key");
  const id = (await sha256(concat(enc.encode(name), Uint8Array.of(0x0a), raw))).slice(0, 4);
  if (hex(id) !== keyHex) throw new Error("verifier key id does not match the key");
  const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, id, key };
}

async function verifyNote(cp, vk) {
  for (const s of cp.sigs) {
    if (s.name !== vk.name || s.raw.length !== 68 || !equal(s.raw.slice(0, 4), vk.id)) continue;
    if (await crypto.subtle.verify({ name: "Ed25519" }, vk.key, s.raw.slice(4), enc.encode(cp.body))) return true;
  }
  return false;
}

const T = {
  ok: ["Квитанція дійсна", "Receipt verified"],
  fail: ["Квитанція НЕ пройшла перевірку", "Receipt FAILED verification"],
  leaf: ["Хеш листка відповідає події", "Leaf hash matches the event"],
  leafBad: ["Хеш листка не відповідає події (подію змінено)", "Leaf hash does not match the event (event altered)"],
  sig: ["Підпис контрольної точки журналу дійсний", "Checkpoint signature by the log key is valid"],
  sigBad: ["Підпис контрольної точки недійсний або іншим ключем", "Checkpoint signature invalid or by another key"],
  incl: ["Доказ включення збігається з коренем контрольної точки", "Inclusion proof matches the checkpoint root"],
  inclBad: ["Доказ включення НЕ збігається з коренем", "Inclusion proof does NOT match the root"],
  pending: ["Подію прийнято, доказ ще формується — завантажте квитанцію пізніше", "Accepted; the proof is not ready yet — fetch the receipt again later"],
  anchor: ["Корінь закріплено в блокчейні", "Root anchored on chain"],
  anchorBad: ["Закріплення не узгоджується з контрольною точкою", "Anchor is not consistent with the checkpoint"],
  noAnchor: ["Ще не закріплено в блокчейні", "Not anchored on chain yet"],
};
const say = (k) => `${T[k][0]} / ${T[k][1]}`;

async function check(receipt, keyText) {
  const checks = [];
  const add = (k, ok, cls) => checks.push({ text: say(k), cls: cls || (ok ? "" : "fail") });
  let ok = true;
  if (receipt.format !== 1) throw new Error("unknown receipt format");
  const leaf = unhex(receipt.leaf_hash);
  if (receipt.event) {
    const mine = await sha256(concat(Uint8Array.of(0), enc.encode(jcs(receipt.event))));
    const good = equal(mine, leaf);
    add(good ? "leaf" : "leafBad", good);
    ok = ok && good;
  }
  if (!receipt.checkpoint) {
    add("pending", true, "info");
    return { ok: ok && receipt.status === "pending", pending: true, checks };
  }
  const cp = parseNote(receipt.checkpoint);
  const vk = await parseKey(keyText);
  const sigOk = cp.origin === vk.name && (await verifyNote(cp, vk));
  add(sigOk ? "sig" : "sigBad", sigOk);
  const proof = (receipt.inclusion_proof || []).map(unhex);
  const inclOk = await verifyInclusion(leaf, receipt.leaf_index, cp.size, proof, cp.root);
  add(inclOk ? "incl" : "inclBad", inclOk);
  ok = ok && sigOk && inclOk;
  let anchor = null;
  if (receipt.anchor) {
    const a = receipt.anchor;
    const aRoot = unhex(String(a.root).replace(/^0x/, ""));
    let aOk;
    if (BigInt(a.tree_size) === cp.size) aOk = equal(aRoot, cp.root);
    else aOk = await verifyConsistency(cp.size, BigInt(a.tree_size), (a.consistency_proof || []).map(unhex), cp.root, aRoot);
    add(aOk ? "anchor" : "anchorBad", aOk);
    ok = ok && aOk;
    anchor = a;
  } else {
    add("noAnchor", true, "info");
  }
  return { ok, checks, cp, anchor };
}

function render(result, receipt, error) {
  const el = $("result");
  el.textContent = "";
  const verdict = document.createElement("p");
  verdict.className = "verdict";
  const ok = !error && result.ok;
  el.dataset.status = ok ? (result.pending ? "pending" : "ok") : "fail";
  verdict.textContent = error ? `${say("fail")}: ${error}` : say(ok ? "ok" : "fail");
  if (ok && result.pending) verdict.textContent = say("pending");
  el.appendChild(verdict);
  if (!result) return;
  const ul = document.createElement("ul");
  ul.className = "checks";
  for (const c of result.checks) {
    const li = document.createElement("li");
    li.textContent = c.text;
    if (c.cls) li.className = c.cls;
    ul.appendChild(li);
  }
  el.appendChild(ul);
  const dl = document.createElement("dl");
  const row = (k, v) => {
    if (v === undefined || v === null) return;
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = String(v);
    dl.append(dt, dd);
  };
  const e = receipt.event || {};
  row("Подія / Event", e.type ? `${e.type} (${e.id})` : undefined);
  row("Час / Time", e.time);
  row("Листок / Leaf", `#${receipt.leaf_index} ${receipt.leaf_hash}`);
  if (result.cp) row("Контрольна точка / Checkpoint", `${result.cp.origin} · ${result.cp.size}`);
  if (result.anchor) {
    row("Мережа / Chain", result.anchor.chain_id);
    row("Контракт / Contract", result.anchor.contract);
    row("Блок / Block", `${result.anchor.block}${result.anchor.block_hash ? " " + result.anchor.block_hash : ""}`);
    row("Транзакція / Transaction", result.anchor.tx);
    row("Розмір дерева / Tree size", result.anchor.tree_size);
  }
  el.appendChild(dl);
}

async function serverKey() {
  const r = await fetch("/v1/log");
  if (!r.ok) throw new Error(`GET /v1/log: HTTP ${r.status}`);
  return (await r.json()).verifier_key;
}

async function run() {
  let receipt = null;
  try {
    receipt = JSON.parse($("receipt").value);
    const keyText = $("key").value.trim() || (await serverKey());
    render(await check(receipt, keyText), receipt, null);
  } catch (err) {
    render(null, receipt || {}, err && err.message ? err.message : String(err));
  }
}

async function fetchReceipt() {
  const id = $("event-id").value.trim();
  if (!/^[0-9a-fA-F-]{36}$/.test(id)) { render(null, {}, "event id / ідентифікатор події?"); return; }
  const r = await fetch(`/v1/receipts/${encodeURIComponent(id)}`);
  const text = await r.text();
  if (!r.ok) {
    let detail = text;
    try { detail = JSON.parse(text).detail || text; } catch (_) { /* keep text */ }
    render(null, {}, `HTTP ${r.status}: ${detail}`);
    return;
  }
  $("receipt").value = JSON.stringify(JSON.parse(text), null, 2);
  await run();
}

$("verify").addEventListener("click", run);
$("fetch").addEventListener("click", fetchReceipt);
$("file").addEventListener("change", async (ev) => {
  const f = ev.target.files[0];
  if (f) { $("receipt").value = await f.text(); await run(); }
});
const fromHash = new URLSearchParams(location.hash.slice(1)).get("event");
if (fromHash) { $("event-id").value = fromHash; fetchReceipt(); }
