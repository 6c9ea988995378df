// The receipt page's key-chain code (api/static/receipt-core.js, receipt-keychain.js) under node, loaded as the
// browser loads it: classic scripts sharing one global scope. Reads {cases: [{trusted, notes: [{label, text}],
// checkpoint}]} on stdin, prints one JSON line per case: checkLogKey's result with its BigInts as numbers and its
// keys as their verifier key strings (tests/api/test_receipt_page_keychain.py compares it with verifier/keychain.py).
import { readFileSync } from "node:fs";
import vm from "node:vm";

const ctx = vm.createContext({ TextEncoder, crypto: globalThis.crypto, atob, console, document: {} });
for (const f of ["receipt-core.js", "receipt-keychain.js"]) {
  vm.runInContext(readFileSync(new URL(`../../../api/static/${f}`, import.meta.url), "utf8"), ctx, { filename: f });
}
const input = JSON.parse(readFileSync(0, "utf8"));
ctx.input = input;
const plain = (v) => JSON.parse(JSON.stringify(v, (k, x) => (typeof x === "bigint" ? Number(x) : x)));
const results = await vm.runInContext(`(async () => {
  const out = [];
  for (const c of input.cases) {
    try {
      const r = await checkLogKey(parseNote(c.checkpoint), await parseKey(c.trusted), c.notes);
      const keys = r.chain.keys.map((k) => ({ key: k.key.text, since: k.since, until: k.until }));
      out.push({ state: r.state, why: r.why || null, index: r.index ?? null, keys, rejected: r.chain.rejected,
        claimed: r.chain.claimed, key: r.key || null, retiredAt: r.retiredAt ?? null, since: r.since ?? null,
        expected: r.expected || null, signer: r.signer ? r.signer.key.text : null });
    } catch (err) {
      out.push({ state: "threw", why: String(err && err.stack || err) });
    }
  }
  return out;
})()`, ctx);
for (const r of results) process.stdout.write(JSON.stringify(plain(r)) + "\n");
