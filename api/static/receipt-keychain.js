// Following the log's chain of signing keys from the trusted key (docs/formats.md §3 "Key hand-over"), the same
// rules, boundaries and refusals as verifier/keychain.py (follow, open_in_chain, not_current):
// a hand-over is a checkpoint note with one extension line "key-handover <verifier key of the new key>", signed by
// the key current at its size and by the new key it names. Hand-overs are followed in order of tree size; key i may
// sign sizes since_i ..= until_i (since: its hand-over's size, 0 for the trusted key; until: the size of the
// hand-over that retired it), so at a hand-over's size both keys may sign, after it only the new key.
// Results carry a `why` (the texts are receipt.js's T table), never a verdict of their own.
"use strict";

const HANDOVER_PREFIX = "key-handover ";

const covers = (k, size) => k.since <= size && (k.until === null || size <= k.until);
const cmpSize = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

// notes: [{label, text}] -> the hand-over candidates, deduplicated, sorted by (size, label); a note that does not
// parse, or carries no key-handover line, is no hand-over (verifier/keychain.py _candidates)
function handoverCandidates(notes) {
  const out = [], seen = new Set();
  for (const n of notes) {
    if (seen.has(n.text)) continue;
    let cp;
    try { cp = parseNote(n.text); } catch (_) { continue; }
    if (!cp.extensions.some((e) => e.startsWith(HANDOVER_PREFIX))) continue;
    seen.add(n.text);
    out.push({ label: n.label, cp, signers: new Set(cp.sigs.map((s) => s.signer)) });
  }
  return out.sort((a, b) => cmpSize(a.cp.size, b.cp.size) || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

// -> {key} (the new key) when `c` is a valid hand-over from the chain's current key, else {rejected: {why, ...}}
async function checkHandover(c, chain) {
  const size = c.cp.size, current = chain.keys[chain.keys.length - 1];
  const rej = (why, extra) => ({ rejected: { why, label: c.label, size, ...(extra || {}) } });
  try {
    await openNote(c.cp, [current.key]);
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    if (err.kind === "signature") return rej("badSignature", { detail: err.message });
    const earlier = chain.keys.slice(0, -1).filter((k) => c.signers.has(keyLabel(k.key)));
    if (earlier.length) {
      try {
        await openNote(c.cp, [earlier[0].key]);
        return rej("retiredAgain", { key: keyLabel(earlier[0].key), until: earlier[0].until });
      } catch (e) {
        if (!(e instanceof NoteError)) throw e;
      }
    }
    return rej("notByCurrent", { expected: keyLabel(current.key) });
  }
  const lines = c.cp.extensions.filter((e) => e.startsWith(HANDOVER_PREFIX));
  if (lines.length !== 1) return rej("notOneKey", { found: lines.length });
  const named = lines[0].slice(HANDOVER_PREFIX.length);
  let nk;
  try {
    nk = await parseKey(named, 1);
  } catch (err) {
    // as parse_verifier_key: a well-formed cosignature (0x04) key is a key, just not a log key
    let cosigner = false;
    try { await parseKey(named, 4); cosigner = true; } catch (_) { /* malformed */ }
    return rej(cosigner ? "notLogKey" : "malformedKey", { detail: err.message, found: named });
  }
  if (nk.name !== current.key.name || c.cp.origin !== current.key.name) return rej("notLogKey", { found: named });
  if (chain.keys.some((k) => keyLabel(k.key) === keyLabel(nk))) {
    return rej("reused", { key: keyLabel(nk), namesTrusted: keyLabel(nk) === keyLabel(chain.keys[0].key) });
  }
  try {
    await openNote(c.cp, [nk]);
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    return rej("notByNew", { key: keyLabel(nk), detail: err.message });
  }
  return { key: nk };
}

// The chain of keys from `trusted` (a parseKey result) through the hand-over notes among `notes` ([{label, text}]):
// {keys: [{key, since, until, label}], rejected: [...], claimed} (claimed: the notes hold at least one hand-over)
async function followChain(trusted, notes) {
  const candidates = handoverCandidates(notes);
  const chain = { keys: [{ key: trusted, since: 0n, until: null, label: null }], rejected: [], claimed: candidates.length > 0 };
  let remaining = candidates;
  while (remaining.length) {
    const size = remaining[0].cp.size;
    const group = remaining.filter((c) => c.cp.size === size);
    remaining = remaining.slice(group.length);
    for (;;) { // several rotations at one size: each signed by the key the one before introduced
      const current = chain.keys[chain.keys.length - 1];
      const i = group.findIndex((c) => c.signers.has(keyLabel(current.key)));
      if (i < 0) break;
      const [tried] = group.splice(i, 1);
      const got = await checkHandover(tried, chain);
      if (got.rejected) { chain.rejected.push(got.rejected); continue; }
      current.until = size;
      chain.keys.push({ key: got.key, since: size, until: null, label: tried.label });
    }
    for (const c of group) chain.rejected.push((await checkHandover(c, chain)).rejected);
  }
  return chain;
}

// The checkpoint `cp` against `trusted` and the hand-over notes, as verifier/receipt.py does with --handover:
// any rejected hand-over fails the check (the chain does not go through it); then the note must be signed by a key
// of the chain in force at its size. -> {state: "ok", signer, index (hand-overs from the trusted key), chain} |
// {state: "fail", why: "sigBad"|"handoverInvalid"|"keyUnknown"|"keyNotCurrent", ..., chain}
async function checkLogKey(cp, trusted, notes) {
  const chain = await followChain(trusted, notes);
  if (chain.rejected.length) return { state: "fail", why: "handoverInvalid", rejected: chain.rejected[0], chain };
  let verified;
  try {
    verified = await openNote(cp, chain.keys.map((k) => k.key));
  } catch (err) {
    if (!(err instanceof NoteError)) throw err;
    const why = err.kind === "unverified" && chain.claimed ? "keyUnknown" : "sigBad";
    return { state: "fail", why, chain };
  }
  if (cp.origin !== trusted.name) return { state: "fail", why: "sigBad", chain };
  const signers = verified.map((vk) => chain.keys.find((k) => k.key === vk));
  const signer = signers.find((k) => covers(k, cp.size));
  if (signer) return { state: "ok", signer, index: chain.keys.indexOf(signer), chain };
  const stray = signers[0];
  return {
    state: "fail",
    why: "keyNotCurrent",
    size: cp.size,
    key: keyLabel(stray.key),
    retiredAt: stray.until !== null && cp.size > stray.until ? stray.until : null,
    since: stray.since,
    expected: chain.keys.filter((k) => covers(k, cp.size)).map((k) => keyLabel(k.key)),
    chain,
  };
}
