// A k-of-n witness policy over the checkpoint note (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1), as
// verifier/witness/policy.py checks it: a cosignature line is "— <name> base64(key id ‖ u64 BE time ‖ signature)"
// over "cosignature/v1\ntime <time>\n" ‖ the checkpoint body. A line by a pinned witness that does not verify
// fails the policy whatever the threshold; fewer than k valid pinned witnesses fail it; other keys are ignored.
"use strict";

async function verifyCosignature(cp, sigRaw, wk) {
  if (sigRaw.length !== 76 || !equal(sigRaw.slice(0, 4), wk.id)) return false;
  let time = 0n;
  for (const b of sigRaw.slice(4, 12)) time = (time << 8n) | BigInt(b);
  const msg = enc.encode(`cosignature/v1\ntime ${time}\n${cp.body}`);
  return crypto.subtle.verify({ name: "Ed25519" }, wk.key, sigRaw.slice(12), msg);
}

// -> {state: "none"} (no policy pinned) | {state: "ok"|"fail", threshold, total, cosigned: [...], invalid: [...]}
async function checkWitnesses(cp, cfg) {
  const pins = (cfg && cfg.witnesses) || [];
  if (!pins.length) return { state: "none" };
  const threshold = cfg.witness_threshold || pins.length;
  const keys = [];
  for (const p of pins) keys.push({ label: p.name, vk: await parseKey(p.key, 4) });
  const cosigned = new Set(), invalid = new Set();
  for (const s of cp.sigs) {
    for (const k of keys) {
      if (s.name !== k.vk.name || s.raw.length < 4 || !equal(s.raw.slice(0, 4), k.vk.id)) continue;
      if (await verifyCosignature(cp, s.raw, k.vk)) cosigned.add(k.label);
      else invalid.add(k.label);
    }
  }
  const ok = invalid.size === 0 && cosigned.size >= threshold;
  return {
    state: ok ? "ok" : "fail",
    threshold,
    total: pins.length,
    cosigned: [...cosigned],
    invalid: [...invalid],
    missing: keys.map((k) => k.label).filter((l) => !cosigned.has(l)),
  };
}
