// Citizen receipt check (docs/receipts.md), entirely in the browser:
// 1. leaf hash = SHA-256(0x00 || JCS(event)); 2. the checkpoint note's Ed25519 signature by the log key pinned at
// deploy time (receipt-config.json), else the key entered, else the server's (said so), or by a later key of the log
// that the key hand-overs of GET /v1/log/handovers reach from it (receipt-keychain.js); 3. RFC 9162 inclusion
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
  keyServerDiffers: (rotated) => rotated
    ? ["Сервер оголошує інший ключ журналу, ніж закріплений містом, і до нього не веде ланцюг передач ключа",
      "The server announces another log key than the one the city pinned, and the chain of key hand-overs does not reach it"]
    : ["Сервер оголошує інший ключ журналу, ніж закріплений містом",
      "The server announces another log key than the one the city pinned"],
  // key hand-overs (docs/formats.md §3): which key signed, reached from the trusted key through how many
  sigChain: (a) => [`Підпис контрольної точки журналу дійсний: підписав ключ ${a.key} (відбиток ${a.fp}), до якого від ключа довіри веде ланцюг через ${a.n} ${handoversUk(a.n)} ключа`,
    `Checkpoint signature by the log key is valid: signed by ${a.key} (fingerprint ${a.fp}), reached from the trusted key through ${a.n} key hand-over${a.n === 1 ? "" : "s"}`],
  sigTrustedKept: (a) => [`Підпис контрольної точки журналу дійсний: підписав сам ключ довіри, чинний для розмірів до ${a.until}; журнал пізніше передав ключ (${a.total} ${handoversUk(a.total)})`,
    `Checkpoint signature by the log key is valid: signed by the trusted key itself, the log's key up to size ${a.until}; the log handed its key over later (${a.total} hand-over${a.total === 1 ? "" : "s"})`],
  keyUnknown: ["Контрольну точку підписано ключем, до якого не веде ланцюг передач ключа від ключа довіри",
    "The checkpoint is signed by no key the chain of key hand-overs reaches from the trusted key"],
  keyNotCurrent: (a) => [`Контрольну точку розміру ${a.size} підписано ключем ${a.key}, який не був ключем журналу на цьому розмірі: ` +
    (a.retiredAt !== null ? `передача ключа на розмірі ${a.retiredAt} вивела його з ужитку` : `він став ключем журналу лише на розмірі ${a.since}`) +
    (a.expected.length ? ` (чинний ключ: ${a.expected.join(", ")})` : ""),
  `The checkpoint of size ${a.size} is signed by ${a.key}, which was not the log's key at that size: ` +
    (a.retiredAt !== null ? `the hand-over at size ${a.retiredAt} retired it` : `it became the log's key only at size ${a.since}`)],
  handoverInvalid: (r) => [`Ланцюг передач ключа журналу розірвано: ${HANDOVER_WHY[r.why](r)[0]}; від ключа довіри ланцюг через цю передачу не йде`,
    `The chain of the log's key hand-overs is broken: ${HANDOVER_WHY[r.why](r)[1]}; the chain from the trusted key does not go through it`],
  trustedNotFirst: ["Ключ довіри — не перший ключ ланцюга передач: закріпіть чи введіть перший ключ журналу (verifier_key у log.json пакета аудиту), від якого починаються передачі",
    "The trusted key is not the first key of the chain of hand-overs: pin or enter the log's first key (verifier_key of the audit bundle's log.json), where the hand-overs start"],
  handoversUnavailable: (d) => [`Передачі ключа журналу не вдалося прочитати (${d}): не перевірено, чи ключ, що підписав, ще був ключем журналу`,
    `The log's key hand-overs could not be read (${d}): not checked that the signing key was still the log's key`],
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
// why a hand-over is refused (verifier/keychain.py _check), [ukrainian, english]
const HANDOVER_WHY = {
  badSignature: (r) => [`у передачі на розмірі ${r.size} недійсний підпис (${r.detail})`, `hand-over at size ${r.size}: ${r.detail}`],
  retiredAgain: (r) => [`передачу на розмірі ${r.size} підписано ключем ${r.key}, який уже передав повноваження на розмірі ${r.until}: ДОКАЗ, що виведений з ужитку ключ підписав знову (збережіть обидві передачі)`,
    `hand-over at size ${r.size} is signed by ${r.key}, which had already handed over at size ${r.until}: PROOF THAT A RETIRED KEY SIGNED AGAIN (keep both notes)`],
  notByCurrent: (r) => [`передачу на розмірі ${r.size} не підписано ключем, чинним на цьому розмірі (${r.expected})`,
    `hand-over at size ${r.size} is not signed by the key current at that size (${r.expected})`],
  notOneKey: (r) => [`передача на розмірі ${r.size} має називати рівно один новий ключ, а називає ${r.found}`,
    `the hand-over at size ${r.size} names ${r.found} new keys, not exactly one`],
  malformedKey: (r) => [`передача на розмірі ${r.size} називає ключ у хибному форматі (${r.detail})`,
    `the hand-over at size ${r.size} names a malformed key (${r.detail})`],
  notLogKey: (r) => [`новий ключ передачі на розмірі ${r.size} не є ключем Ed25519 з назвою журналу`,
    `the new key of the hand-over at size ${r.size} is not an Ed25519 note key named as the log`],
  reused: (r) => [`передача на розмірі ${r.size} називає ключ ${r.key}, яким журнал уже користувався: ланцюг ніколи не повертається`,
    `the hand-over at size ${r.size} names ${r.key}, a key the log already used: a chain never returns`],
  notByNew: (r) => [`передачу на розмірі ${r.size} не підписано новим ключем ${r.key}, який вона називає`,
    `the hand-over at size ${r.size} is not signed by the new key ${r.key} it names`],
};
// 1 передачу, 2-4 передачі, 5+ передач (11-14 too)
function handoversUk(n) {
  const d = n % 10, h = n % 100;
  if (d === 1 && h !== 11) return "передачу";
  return d >= 2 && d <= 4 && (h < 12 || h > 14) ? "передачі" : "передач";
}
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

// The log's key hand-over notes (GET /v1/log/handovers, the same origin): evidence checked from the trusted key,
// never trusted as such. -> {notes: [{label, text}], oldest: the first hand-over's old key | null} | {error}
async function loadHandovers() {
  try {
    const r = await fetch("/v1/log/handovers", { credentials: "omit" });
    if (!r.ok) return { error: `GET /v1/log/handovers: HTTP ${r.status}` };
    const list = (await r.json()).handovers;
    if (!Array.isArray(list) || !list.every((h) => h && typeof h.note === "string")) {
      return { error: "GET /v1/log/handovers: not a list of hand-over notes" };
    }
    const label = (i) => `handover ${String(i).padStart(6, "0")}`;
    const oldest = list.length && typeof list[0].old_key === "string" ? list[0].old_key : null;
    return { notes: list.map((h, i) => ({ label: label(i), text: h.note })), oldest };
  } catch (err) {
    return { error: `GET /v1/log/handovers: ${err && err.message ? err.message : "unreachable"}` };
  }
}

// -> {text, source: "entered"|"pinned"|"server", server: the key GET /v1/log announces (pinned: to compare)}
// Without a pin the chain starts at the server's first key (its first hand-over's old key): the server's word,
// said so, as its current key would be.
async function chooseKey(entered, cfg, handovers) {
  if (entered) return { text: entered, source: "entered" };
  if (cfg.log_key) {
    let server = null;
    try { server = (await serverKey()).trim(); } catch (_) { /* the pin is what counts */ }
    return { text: cfg.log_key, source: "pinned", server };
  }
  const announced = await serverKey();
  return { text: handovers.oldest || announced, source: "server", server: announced.trim() };
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
  const handovers = await loadHandovers();
  const key = await chooseKey(entered, cfg, handovers);
  const vk = await parseKey(key.text);
  const fp = await fingerprint(key.text);
  const logKey = await checkLogKey(cp, vk, handovers.notes || []);
  const rotated = logKey.chain.claimed;
  let signedBy = null;
  if (logKey.state === "ok" && logKey.index > 0) {
    const sfp = await fingerprint(logKey.signer.key.text);
    signedBy = { key: keyLabel(logKey.signer.key), fp: sfp, n: logKey.index };
    add("sigChain", "", signedBy);
  } else if (logKey.state === "ok" && rotated) {
    add("sigTrustedKept", "", { until: logKey.signer.until, total: logKey.chain.keys.length - 1 });
  } else if (logKey.state === "ok") {
    add("sig", "");
  } else if (logKey.why === "handoverInvalid") {
    add("handoverInvalid", "fail", logKey.rejected);
    if (logKey.rejected.namesTrusted) add("trustedNotFirst", "info");
  } else {
    add(logKey.why, "fail", logKey);
  }
  if (handovers.error) add("handoversUnavailable", "warn", handovers.error);
  if (key.source === "pinned") add("keyPinned", "info", fp);
  if (key.source === "entered") add("keyEntered", "info", fp);
  if (key.source === "server") add("keyServer", "warn", fp);
  // the server's announced key (its current one) must be a key of the chain from the trusted key
  if (key.server && !logKey.chain.keys.some((k) => k.key.text === key.server)) add("keyServerDiffers", "fail", rotated);
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
  return { checks, cp, anchor: receipt.anchor, chain, fp, signedBy };
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
  if (result.signedBy) {
    const s = result.signedBy;
    row("Ключ підпису / Signing key", `${s.key} · ${s.fp} · передач ключа / key hand-overs: ${s.n}`);
  }
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
