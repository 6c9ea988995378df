// The anchor, asked of the chain itself through the JSON-RPC endpoint the city pinned (receipt-config.json), never
// of the ledger; the same checks as verifier/anchors.py check_receipt_anchor: the chain id, the pinned contract, the
// transaction's receipt (mined, successful, in the claimed block), that block still canonical, and an
// Anchored(SHA-256(origin), tree_size, root) event of the contract in it.
"use strict";

// keccak256("Anchored(bytes32,uint64,bytes32)"), topic0 of HromadaAnchor's event (anchoring/contracts/)
const ANCHORED_TOPIC = "0xbea4d11b910aad40d2df2a90d97a3329219b6389f85777c99daad7eb5fafd439";
const RPC_TIMEOUT_MS = 8000;

class RpcUnavailable extends Error {}

async function rpcCall(url, method, params) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), RPC_TIMEOUT_MS);
  let reply;
  try {
    const r = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: ctl.signal,
      credentials: "omit",
    });
    if (!r.ok) throw new RpcUnavailable(`${method}: HTTP ${r.status}`);
    reply = await r.json();
  } catch (err) {
    if (err instanceof RpcUnavailable) throw err;
    throw new RpcUnavailable(`${method}: ${err && err.name === "AbortError" ? "no answer in time" : "unreachable"}`);
  } finally {
    clearTimeout(timer);
  }
  if (!reply || typeof reply !== "object") throw new RpcUnavailable(`${method}: not a JSON-RPC answer`);
  if (reply.error) throw new RpcUnavailable(`${method}: ${reply.error.message || "error"}`);
  return reply.result;
}

const lowHex = (v) => { const t = String(v).toLowerCase(); return t.startsWith("0x") ? t : "0x" + t; };
const qty = (v) => BigInt(v);
const display = (url) => { try { const u = new URL(url); return `${u.protocol}//${u.host}`; } catch (_) { return "?"; } };

// -> {state: "ok"|"fail"|"unchecked", why, chainId, dev, contractPinned, size, root}
async function checkAnchorOnChain(anchor, origin, cfg) {
  const out = (state, why, extra) => ({ state, why, ...(extra || {}) });
  if (!cfg || !cfg.rpc_url) return out("unchecked", "noRpc");
  const claimed = Number(anchor.chain_id);
  if (cfg.chain_id && claimed !== cfg.chain_id) return out("fail", "wrongChain", { chainId: claimed });
  const contract = lowHex(anchor.contract || "");
  if (cfg.contract && contract !== cfg.contract.toLowerCase()) return out("fail", "wrongContract");
  const url = cfg.rpc_url, where = display(url);
  try {
    const actual = Number(qty(await rpcCall(url, "eth_chainId", [])));
    const dev = (cfg.local_chain_ids || [31337, 1337]).includes(actual);
    const base = { chainId: actual, dev, where, contractPinned: Boolean(cfg.contract) };
    if (actual !== claimed) return out("fail", "chainMismatch", { ...base, claimed });
    const rc = await rpcCall(url, "eth_getTransactionReceipt", [anchor.tx]);
    if (!rc) return out("fail", "noTx", base);
    if (rc.status !== undefined && qty(rc.status) !== 1n) return out("fail", "txFailed", base);
    if (qty(rc.blockNumber) !== BigInt(anchor.block) || lowHex(rc.blockHash) !== lowHex(anchor.block_hash)) {
      return out("fail", "otherBlock", base);
    }
    const blk = await rpcCall(url, "eth_getBlockByNumber", ["0x" + BigInt(anchor.block).toString(16), false]);
    if (!blk || lowHex(blk.hash) !== lowHex(anchor.block_hash)) return out("fail", "reorged", base);
    const logId = "0x" + hex(await sha256(enc.encode(origin)));
    for (const log of rc.logs || []) {
      const topics = (log.topics || []).map(lowHex);
      if (lowHex(log.address) !== contract || topics.length !== 2 || topics[0] !== ANCHORED_TOPIC) continue;
      if (topics[1] !== logId) continue;
      const data = lowHex(log.data).slice(2);
      if (data.length !== 128) continue;
      const size = BigInt("0x" + data.slice(0, 64)), root = data.slice(64);
      if (size === BigInt(anchor.tree_size) && root === String(anchor.root).replace(/^0x/, "").toLowerCase()) {
        return out("ok", "onChain", { ...base, size, root: unhex(root) });
      }
    }
    return out("fail", "notCarried", base);
  } catch (err) {
    if (err instanceof RpcUnavailable) return out("unchecked", "unreachable", { where, detail: err.message });
    return out("unchecked", "malformed", { where, detail: err && err.message ? err.message : String(err) });
  }
}
