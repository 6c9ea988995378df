// Citizen receipt check (docs/receipts.md), entirely in the browser:
// 1. leaf hash = SHA-256(0x00 || JCS(event)); 2. the checkpoint note's Ed25519 signature by the log key pinned at
// deploy time (receipt-config.json), else the key entered, else the server's (said so); 3. RFC 9162 inclusion
// proof into the checkpoint; 4. the witness policy pinned with the key; 5. the anchor, read from the chain through
// the pinned JSON-RPC endpoint, and the consistency proof to the anchored size when it anchors a larger tree.
// A check that fails makes the receipt fail; one that could not be made is said ("partial"), never ticked.
"use strict";


const T = {
  ok: ["Квитанція дійсна: усе перевірено", "Receipt verified: every check made"],
  partial: [
    "Квитанцію підписано журналом, але не все вдалося перевірити незалежно",
    "Signed by the log, but not everything could be checked independently",
  ],
  fail: ["Квитанція НЕ пройшла перевірку", "Receipt FAILED verification"],
  leaf: ["Хеш листка відповідає події", "Leaf hash matches the event"],
  leafBad: ["Хеш листка не відповідає події (подію змінено)", "Leaf hash does not match the event (event altered)"],
  sig: ["Підпис контрольної точки журналу дійсний", "Checkpoint signature by the log key is valid"],
  sigBad: ["Підпис контрольної точки недійсний або іншим ключем", "Checkpoint signature invalid or by another key"],
  keyPinned: (fp) => [`Ключ журналу закріплений містом, відбиток ${fp}: порівняйте з надрукованим`,
    `Log key pinned by the city, fingerprint ${fp}: compare it with the printed one`],
  keyEntered: (fp) => [`Ключ журналу введено вами, відбиток ${fp}`, `Log key entered by you, fingerprint ${fp}`],
  keyServer: (fp) => [`Ключ журналу взято з цього сервера (відбиток ${fp}), а не із закріпленого джерела: сервер, що бреше, підписав би будь-що своїм ключем`,
    `Log key taken from this server (fingerprint ${fp}), not from a pinned source: a lying server would sign anything with its own key`],
  keyServerDiffers: ["Сервер оголошує інший ключ журналу, ніж закріплений містом",
    "The server announces another log key than the one the city pinned"],
  incl: ["Доказ включення збігається з коренем контрольної точки", "Inclusion proof matches the checkpoint root"],
  inclBad: ["Доказ включення НЕ збігається з коренем", "Inclusion proof does NOT match the root"],
  pending: ["Подію прийнято, доказ ще формується — завантажте квитанцію пізніше", "Accepted; the proof is not ready yet — fetch the receipt again later"],
  witNone: ["Свідків не закріплено: підписи свідків не перевірено", "No witnesses pinned: witness cosignatures not checked"],
  witOk: (r) => [`Свідки підтвердили контрольну точку: ${r.cosigned.length} з ${r.total} (потрібно ${r.threshold}: ${r.cosigned.join(", ")})`,
    `Witnesses cosigned the checkpoint: ${r.cosigned.length} of ${r.total} (${r.threshold} required)`],
  witBad: (r) => [`Політику свідків НЕ виконано: ${r.cosigned.length} з потрібних ${r.threshold}` +
    (r.invalid.length ? `; недійсний підпис: ${r.invalid.join(", ")}` : `; бракує: ${r.missing.join(", ")}`),
  `Witness policy NOT met: ${r.cosigned.length} of the ${r.threshold} required` +
    (r.invalid.length ? `; invalid cosignature: ${r.invalid.join(", ")}` : `; missing: ${r.missing.join(", ")}`)],
  noAnchor: ["Ще не закріплено в блокчейні", "Not anchored on chain yet"],
  anchor: (a) => [`Корінь знайдено в блокчейні (мережа ${a.chainId}, через ${a.where})`,
    `Root found on chain (chain ${a.chainId}, via ${a.where})`],
  anchorCons: ["Контрольна точка узгоджується із закріпленим коренем", "The checkpoint is consistent with the anchored root"],
  anchorConsBad: ["Закріплення не узгоджується з контрольною точкою", "Anchor is not consistent with the checkpoint"],
  dev: (a) => [`Мережа ${a.chainId} — локальний ланцюг розробки: таке закріплення нічого не доводить`,
    `Chain ${a.chainId} is a local development chain: this anchor proves nothing`],
  contractUnpinned: ["Адресу контракту взято з квитанції: місто її не закріпило", "Contract address taken from the receipt: the city pinned none"],
  noRpc: ["Закріплення в блокчейні НЕ перевірено: вузол блокчейну не налаштовано; дані нижче — лише твердження сервера",
    "Anchor NOT checked: no chain RPC configured; the details below are only the server's claim"],
  unreachable: (a) => [`Закріплення в блокчейні НЕ перевірено: вузол ${a.where} недоступний (${a.detail})`,
    `Anchor NOT checked: the chain RPC ${a.where} could not be reached (${a.detail})`],
  malformed: (a) => [`Закріплення в блокчейні НЕ перевірено: незрозуміла відповідь вузла (${a.detail})`,
    `Anchor NOT checked: malformed answer of the chain RPC (${a.detail})`],
  wrongChain: (a) => [`Закріплення в іншій мережі (${a.chainId}), ніж закріплена містом`, `Anchor on another chain (${a.chainId}) than the one the city pinned`],
  wrongContract: ["Закріплення в іншому контракті, ніж закріплений містом", "Anchor in another contract than the one the city pinned"],
  chainMismatch: (a) => [`Вузол обслуговує мережу ${a.chainId}, а квитанція називає ${a.claimed}`, `The RPC serves chain ${a.chainId}, the receipt names ${a.claimed}`],
  noTx: ["Транзакції закріплення немає в блокчейні: сервер вигадав закріплення", "The anchor transaction is not on chain: the server's anchor is fabricated"],
  txFailed: ["Транзакцію закріплення скасовано (revert)", "The anchor transaction reverted"],
  otherBlock: ["Транзакція закріплення в іншому блоці, ніж каже квитанція", "The anchor transaction is in another block than the receipt says"],
  reorged: ["Блок закріплення більше не в ланцюгу (reorg)", "The anchor's block is no longer canonical (reorg)"],
  notCarried: ["Блокчейн НЕ містить такого закріплення: твердження сервера відрізняється від ланцюга",
    "The chain does NOT carry this anchor: the server's claim differs from the chain"],
};
const say = (k, arg) => { const t = typeof T[k] === "function" ? T[k](arg) : T[k]; return `${t[0]} / ${t[1]}`; };

async function loadConfig() {
  try {
    const r = await fetch("/receipt-config.json", { credentials: "omit" });
    return r.ok ? await r.json() : {};
  } catch (_) {
    return {};
  }
}

async function serverKey() {
  const r = await fetch("/v1/log");
  if (!r.ok) throw new Error(`GET /v1/log: HTTP ${r.status}`);
  return (await r.json()).verifier_key;
}

// -> {text, source: "entered"|"pinned"|"server", differs}
async function chooseKey(entered, cfg) {
  if (entered) return { text: entered, source: "entered" };
  if (cfg.log_key) {
    let differs = false;
    try { differs = (await serverKey()).trim() !== cfg.log_key.trim(); } catch (_) { /* the pin is what counts */ }
    return { text: cfg.log_key, source: "pinned", differs };
  }
  return { text: await serverKey(), source: "server" };
}

async function check(receipt, entered, cfg) {
  const checks = [];
  const add = (k, cls, arg) => checks.push({ text: say(k, arg), cls });
  if (receipt.format !== 1) throw new Error("unknown receipt format");
  const leaf = unhex(receipt.leaf_hash);
  if (receipt.event) {
    const mine = await sha256(concat(Uint8Array.of(0), enc.encode(jcs(receipt.event))));
    add(equal(mine, leaf) ? "leaf" : "leafBad", equal(mine, leaf) ? "" : "fail");
  }
  if (!receipt.checkpoint) {
    add("pending", "info");
    return { checks, pending: true };
  }
  const cp = parseNote(receipt.checkpoint);
  const key = await chooseKey(entered, cfg);
  const vk = await parseKey(key.text);
  const fp = await fingerprint(key.text);
  const sigOk = cp.origin === vk.name && (await verifyNote(cp, vk));
  add(sigOk ? "sig" : "sigBad", sigOk ? "" : "fail");
  if (key.source === "pinned") add("keyPinned", "info", fp);
  if (key.source === "entered") add("keyEntered", "info", fp);
  if (key.source === "server") add("keyServer", "warn", fp);
  if (key.differs) add("keyServerDiffers", "fail");
  const proof = (receipt.inclusion_proof || []).map(unhex);
  const inclOk = await verifyInclusion(leaf, receipt.leaf_index, cp.size, proof, cp.root);
  add(inclOk ? "incl" : "inclBad", inclOk ? "" : "fail");
  const wit = await checkWitnesses(cp, cfg);
  if (wit.state === "none") add("witNone", "warn");
  else add(wit.state === "ok" ? "witOk" : "witBad", wit.state === "ok" ? "" : "fail", wit);
  let chain = null;
  if (receipt.anchor) {
    const a = receipt.anchor;
    chain = await checkAnchorOnChain(a, cp.origin, cfg);
    if (chain.state === "ok") {
      add("anchor", "", chain);
      // the root and size as the chain has them, not as the server wrote them
      let consOk;
      if (chain.size === cp.size) consOk = equal(chain.root, cp.root);
      else consOk = await verifyConsistency(cp.size, chain.size, (a.consistency_proof || []).map(unhex), cp.root, chain.root);
      add(consOk ? "anchorCons" : "anchorConsBad", consOk ? "" : "fail");
      if (chain.dev) add("dev", "warn", chain);
      if (!chain.contractPinned) add("contractUnpinned", "warn");
    } else {
      add(chain.why, chain.state === "fail" ? "fail" : "warn", chain);
    }
  } else {
    add("noAnchor", "info");
  }
  return { checks, cp, anchor: receipt.anchor, chain, fp };
}

function verdictOf(result) {
  if (result.checks.some((c) => c.cls === "fail")) return "fail";
  if (result.pending) return "pending";
  return result.checks.some((c) => c.cls === "warn") ? "partial" : "ok";
}

function render(result, receipt, error, what, erasure) {
  const el = $("result");
  el.textContent = "";
  const status = error ? "fail" : verdictOf(result);
  el.dataset.status = status;
  const verdict = document.createElement("h2");
  verdict.className = "verdict";
  verdict.textContent = error ? `${say("fail")}: ${error}` : say(status === "pending" ? "pending" : status);
  el.appendChild(verdict);
  if (what) {
    const p = document.createElement("p");
    p.className = "what";
    p.textContent = what[0];
    const en = document.createElement("span");
    en.className = "en";
    en.textContent = what[1];
    p.append(" ", en);
    el.appendChild(p);
  }
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
  if (erasure) {
    // the commitments stay in the log (and verify); the data they committed to is gone from the vault
    row("Персональні дані / Personal data", `видалено / erased ${erasure.erased_at} (${erasure.reason})`);
  }
  row("Листок / Leaf", `#${receipt.leaf_index} ${receipt.leaf_hash}`);
  if (result.cp) row("Контрольна точка / Checkpoint", `${result.cp.origin} · ${result.cp.size}`);
  if (result.fp) row("Відбиток ключа / Key fingerprint", result.fp);
  if (result.anchor) {
    const a = result.anchor;
    const claim = result.chain && result.chain.state === "ok" ? "" : " (твердження сервера / server's claim)";
    row("Мережа / Chain", `${a.chain_id}${claim}`);
    row("Контракт / Contract", a.contract);
    row("Блок / Block", `${a.block}${a.block_hash ? " " + a.block_hash : ""}`);
    row("Транзакція / Transaction", a.tx);
    row("Розмір дерева / Tree size", a.tree_size);
  }
  el.appendChild(dl);
}

async function run() {
  let receipt = null;
  try {
    receipt = JSON.parse($("receipt").value);
    const cfg = await loadConfig();
    const result = await check(receipt, $("key").value.trim(), cfg);
    const what = receipt.event ? await describe(receipt.event) : null;
    render(result, receipt, null, what, receipt.event ? await erasureOf(receipt.event) : null);
  } catch (err) {
    render(null, receipt || {}, err && err.message ? err.message : String(err), null);
  }
}

async function fetchReceipt() {
  const id = $("event-id").value.trim();
  if (!/^[0-9a-fA-F-]{36}$/.test(id)) { render(null, {}, "event id / ідентифікатор події?", null); return; }
  const r = await fetch(`/v1/receipts/${encodeURIComponent(id)}`);
  const text = await r.text();
  if (!r.ok) {
    let detail = text;
    try { detail = JSON.parse(text).detail || text; } catch (_) { /* keep text */ }
    render(null, {}, `HTTP ${r.status}: ${detail}`, null);
    return;
  }
  $("receipt").value = JSON.stringify(JSON.parse(text), null, 2);
  await run();
}

async function showPins() {
  const cfg = await loadConfig();
  const el = $("pins");
  if (!el) return;
  el.textContent = cfg.log_key_fingerprint
    ? `Відбиток закріпленого ключа журналу: ${cfg.log_key_fingerprint} / Pinned log key fingerprint`
    : "Місто не закріпило ключ журналу на цій сторінці / The city pinned no log key on this page";
}

$("verify").addEventListener("click", run);
$("fetch").addEventListener("click", fetchReceipt);
$("file").addEventListener("change", async (ev) => {
  const f = ev.target.files[0];
  if (f) { $("receipt").value = await f.text(); await run(); }
});
showPins();
const fromHash = new URLSearchParams(location.hash.slice(1)).get("event");
if (fromHash) { $("event-id").value = fromHash; fetchReceipt(); }
