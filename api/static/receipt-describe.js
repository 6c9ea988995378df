// What the receipt is, in the citizen's words: "Ваш підпис під петицією «…»", "Ваш бюлетень, трекер …". Titles come
// from the public API (the server's word, shown as such); never a choice of a vote or a ballot.
"use strict";

async function titleOf(path, field) {
  try {
    const r = await fetch(path, { credentials: "omit" });
    if (!r.ok) return null;
    const v = (await r.json())[field];
    return typeof v === "string" && v ? v : null;
  } catch (_) {
    return null;
  }
}

const quoted = (title, id) => (title ? `«${title}»` : String(id || "?"));
const KINDERGARTEN_ENTRY = ["Ваша заява в черзі до дитсадка", "Your application to the kindergarten queue"];
const QUEUE_TYPES = {
  "kindergarten.entry_registered": KINDERGARTEN_ENTRY,
  "queue.entry_registered": KINDERGARTEN_ENTRY, // envelope format 1 wrote the kindergarten queue's events as queue.*
  "housing.entry_registered": ["Ваша заява на квартирний облік", "Your application to the housing register"],
  "housing.reregistered": ["Ваша перереєстрація на квартирному обліку", "Your re-registration in the housing register"],
};

// The vault subject holding the personal data an event's commitments open (a queue or register entry's), or null.
function subjectOf(event) {
  const type = event && event.type, d = (event && event.data) || {};
  if (typeof type !== "string" || typeof d.entry !== "string" || !d.entry) return null;
  if (/^(kindergarten|queue)\./.test(type)) return `kindergarten.${d.entry}`;
  if (/^housing\./.test(type)) return `housing.${d.entry}`;
  return null;
}

// -> {erased_at, reason} when the log records the erasure of the event's personal data (GET /v1/erasures/...),
// else null: the receipt then says "видалено / erased" where that data would be.
async function erasureOf(event) {
  const subject = subjectOf(event);
  if (!subject) return null;
  try {
    const r = await fetch(`/v1/erasures/${encodeURIComponent(subject)}`, { credentials: "omit" });
    if (!r.ok) return null;
    const v = await r.json();
    return typeof v.erased_at === "string" ? v : null;
  } catch (_) {
    return null;
  }
}

// -> [ukrainian, english]
async function describe(event) {
  const type = event && event.type, d = (event && event.data) || {};
  const id = (x) => encodeURIComponent(String(x || ""));
  if (type === "petition.signed") {
    const t = quoted(await titleOf(`/v1/petitions/${id(d.petition)}`, "title"), d.petition);
    return [`Ваш підпис під петицією ${t}`, `Your signature under the petition ${t}`];
  }
  if (type === "petition.created") {
    const t = quoted(d.title, event.stream);
    return [`Ваша петиція ${t}`, `Your petition ${t}`];
  }
  if (type === "ballot.vote_cast" || type === "ballot.vote_changed") {
    const t = quoted(await titleOf(`/v1/ballots/${id(d.ballot)}`, "title"), d.ballot);
    const again = type === "ballot.vote_changed" ? [" (змінений)", " (changed)"] : ["", ""];
    return [`Ваш голос у голосуванні ${t}${again[0]}`, `Your vote in the ballot ${t}${again[1]}`];
  }
  if (type === "ballot.ballot_cast" || type === "ballot.ballot_recast") {
    const t = quoted(await titleOf(`/v1/ballots/${id(d.ballot)}`, "title"), d.ballot);
    const again = type === "ballot.ballot_recast" ? [" (повторний)", " (recast)"] : ["", ""];
    const tr = typeof d.tracker === "string" ? d.tracker : "?";
    return [
      `Ваш бюлетень${again[0]}, трекер ${tr}, у голосуванні ${t}`,
      `Your encrypted ballot${again[1]}, tracker ${tr}, in the ballot ${t}`,
    ];
  }
  if (QUEUE_TYPES[type]) {
    const path = type.startsWith("housing.") ? "/v1/housing-registers/" : "/v1/queues/";
    const t = quoted(await titleOf(path + id(event.stream), "name"), event.stream);
    return [`${QUEUE_TYPES[type][0]} ${t}`, `${QUEUE_TYPES[type][1]} ${t}`];
  }
  if (typeof type === "string" && /^(kindergarten|queue|housing)\./.test(type)) {
    return [`Запис у черзі: ${type}`, `A queue entry: ${type}`];
  }
  return [`Подія журналу: ${type || "?"}`, `A log event: ${type || "?"}`];
}
