// The voting booth (docs/voting.md, "The booth"): load the ballot and the voter, choose, encrypt on this device,
// then cast, or audit (Benaloh: reveal, recompute, never cast, encrypt afresh). Talks to the API on this origin.
import * as vc from './crypto.js';

const $ = (id) => document.getElementById(id);
const STEPS = ['login', 'choose', 'sealed', 'audited', 'done', 'status'];
const STATUS_UA = { cast: 'прийнято (голосування триває)', counted: 'урахований', superseded: 'замінений пізнішим бюлетенем' };

const state = { ballotId: null, token: null, ballot: null, voter: null, st: null, titles: {}, costs: {}, made: null };

function show(step) {
  for (const s of STEPS) $(`step-${s}`).hidden = s !== step;
  document.body.dataset.step = step;
  const heading = $(`step-${step}`).querySelector('h2');
  if (heading) heading.focus();
}

function say(text, kind = 'info') {
  $('message').textContent = text;
  $('message').dataset.state = kind;
}

async function api(path, options = {}) {
  const headers = { Accept: 'application/json', ...(options.headers || {}) };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method: options.method || 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) {
    const why = data && (data.detail || data.title) ? `${data.title || ''}${data.detail ? ': ' + data.detail : ''}` : `HTTP ${r.status}`;
    const err = new Error(why);
    err.status = r.status;
    err.problem = data;
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

// --- loading ----------------------------------------------------------------------------------------------------
async function load(ballotId, token) {
  say('Завантаження бюлетеня…');
  const ballot = await api(`/v1/ballots/${enc(ballotId)}`);
  if (ballot.secrecy !== 'encrypted') throw new Error('це голосування відкрите (не таємне): голоси в ньому публічні');
  if (ballot.status !== 'open') throw new Error(`голосування не приймає бюлетенів (стан: ${ballot.status})`);
  const opened = ballot.opened;
  if (!opened || opened.public_key !== ballot.public_key || opened.manifest_hash !== ballot.manifest_hash) {
    throw new Error('маніфест голосування не збігається з його ключем');
  }
  if (vc.manifestHash(ballotId, opened) !== opened.manifest_hash) throw new Error('хеш маніфесту не збігається: бюлетень підмінено');
  vc.prepareKey(opened.public_key); // decode and precompute now, while the voter reads
  const voter = await api(`/v1/ballots/${enc(ballotId)}/voter`, { token });
  const st = vc.statement(opened, voter.district);
  if (JSON.stringify(st.options) !== JSON.stringify(voter.ballot_options)) {
    throw new Error('перелік варіантів від сервера не відповідає маніфесту');
  }
  Object.assign(state, { ballotId, token, ballot, voter, st, made: null });
  state.titles = Object.fromEntries(opened.options.map((o) => [o.id, o.title]));
  state.costs = Object.fromEntries(opened.options.map((o) => [o.id, Number(o.cost || 0)]));
  render();
  say('');
  show('choose');
}

function render() {
  const { ballot, st } = state;
  const method = ballot.opened.method.type;
  $('h-title').textContent = ballot.opened.title;
  const hi = Math.max(...st.count);
  $('rules').textContent =
    method === 'single'
      ? 'Оберіть один варіант.'
      : method === 'approval'
        ? `Оберіть від 1 до ${hi} варіантів.`
        : `Оберіть проєкти вашого округу в межах бюджету ${st.budget}.`;
  const box = $('choices');
  box.querySelectorAll('.choice').forEach((n) => n.remove());
  st.options.forEach((id, i) => {
    const row = document.createElement('div');
    row.className = 'choice';
    const input = document.createElement('input');
    input.type = method === 'single' ? 'radio' : 'checkbox';
    input.name = 'choice';
    input.value = id;
    input.id = `choice-${i}`;
    const label = document.createElement('label');
    label.htmlFor = input.id;
    label.textContent = method === 'budget' ? `${state.titles[id]} — ${state.costs[id]}` : state.titles[id];
    row.append(input, label);
    box.append(row);
  });
  update();
}

function selection() {
  return [...document.querySelectorAll('#choices input:checked')].map((n) => n.value);
}

function update() {
  const { st } = state;
  const chosen = selection();
  const inputs = [...document.querySelectorAll('#choices input')];
  const hi = Math.max(...st.count);
  if (st.costs !== null) {
    const spent = chosen.reduce((a, id) => a + state.costs[id], 0);
    for (const n of inputs) n.disabled = !n.checked && spent + state.costs[n.value] > st.budget;
    $('tally').textContent = `Обрано: ${chosen.length}. Витрачено ${spent} з ${st.budget}, залишок ${st.budget - spent}.`;
  } else if (inputs[0] && inputs[0].type === 'checkbox') {
    for (const n of inputs) n.disabled = !n.checked && chosen.length >= hi;
    $('tally').textContent = `Обрано ${chosen.length} з ${hi} можливих.`;
  } else {
    $('tally').textContent = chosen.length ? 'Обрано один варіант.' : 'Нічого не обрано.';
  }
  $('encrypt').disabled = !st.count.includes(chosen.length);
}

// --- encrypt, cast, audit ---------------------------------------------------------------------------------------
function encrypt() {
  const { ballotId, ballot, voter, st } = state;
  const t0 = performance.now();
  state.made = vc.encryptBallot({
    ballotId,
    manifestHash: ballot.opened.manifest_hash,
    publicKey: ballot.opened.public_key,
    st,
    voter: voter.voter,
    district: voter.district,
    selection: selection(),
  });
  document.body.dataset.encryptMs = String(Math.round(performance.now() - t0));
  $('tracker').textContent = state.made.body.tracker;
  say('');
  show('sealed');
}

async function cast() {
  const made = state.made;
  if (!made) return;
  $('cast').disabled = true;
  $('audit').disabled = true;
  say('Надсилання…');
  try {
    const { ciphertexts, proofs, tracker } = made.body;
    const r = await api(`/v1/ballots/${enc(state.ballotId)}/ballots`, { method: 'POST', token: state.token, body: { ciphertexts, proofs, tracker } });
    if (r.tracker !== tracker) throw new Error('сервер повернув інший трекер');
    state.made = null; // a cast ballot's secrets are forgotten
    $('done-tracker').textContent = tracker;
    $('done-note').textContent = r.revote ? 'Це ваш повторний бюлетень: він замінює попередній.' : 'Ваш бюлетень прийнято.';
    const link = $('status-link');
    link.href = `/booth/#ballot=${enc(state.ballotId)}&tracker=${enc(tracker)}`;
    say('');
    show('done');
  } catch (e) {
    say(`Бюлетень не прийнято: ${e.message}`, 'error');
  } finally {
    $('cast').disabled = false;
    $('audit').disabled = false;
  }
}

function audit() {
  const made = state.made;
  if (!made) return;
  state.made = null; // never cast an audited ballot
  const record = vc.auditRecord(made);
  const { ballot, st } = state;
  try {
    const chosen = vc.auditBallot(record, { manifestHash: ballot.opened.manifest_hash, publicKey: ballot.opened.public_key, st });
    $('audit-result').textContent = 'Шифротексти, докази й трекер перераховано з розкритої випадковості. Бюлетень містив:';
    $('audit-result').dataset.ok = 'true';
    const list = $('audit-choices');
    list.replaceChildren(...chosen.map((id) => Object.assign(document.createElement('li'), { textContent: state.titles[id] })));
    list.dataset.ids = chosen.join(',');
  } catch (e) {
    $('audit-result').textContent = `Перевірка НЕ пройшла: ${e.message}. Не голосуйте з цього пристрою.`;
    $('audit-result').dataset.ok = 'false';
    $('audit-choices').replaceChildren();
  }
  $('audit-tracker').textContent = record.tracker;
  $('audit-record').value = JSON.stringify(record, null, 1);
  show('audited');
}

// --- a tracker's status -----------------------------------------------------------------------------------------
async function status(ballotId, tracker) {
  show('status');
  $('status-tracker').textContent = tracker;
  $('status-result').textContent = 'Перевірка…';
  try {
    const r = await api(`/v1/ballots/${enc(ballotId)}/trackers/${enc(tracker)}`);
    $('status-result').textContent = `Бюлетень у журналі (подія ${r.event_id}): ${STATUS_UA[r.status] || r.status}.`;
    $('status-result').dataset.status = r.status;
  } catch (e) {
    $('status-result').textContent = e.status === 404 ? 'Бюлетеня з таким трекером немає.' : `Помилка: ${e.message}`;
    $('status-result').dataset.status = e.status === 404 ? 'missing' : 'error';
  }
}

// --- wiring -----------------------------------------------------------------------------------------------------
function fail(e) {
  say(`Помилка: ${e.message}`, 'error');
}

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  load($('ballot-id').value.trim(), $('token').value.trim()).catch(fail);
});
$('choices').addEventListener('change', update);
$('choose').addEventListener('submit', (ev) => {
  ev.preventDefault();
  say('Шифрування…');
  setTimeout(() => {
    try {
      encrypt();
    } catch (e) {
      fail(e);
    }
  }, 0);
});
$('cast').addEventListener('click', cast);
$('audit').addEventListener('click', audit);
$('again').addEventListener('click', () => {
  say('Перевірений бюлетень відкинуто. Зашифруйте вибір знову: буде новий трекер.');
  show('choose');
});
$('status-link').addEventListener('click', (ev) => {
  ev.preventDefault();
  const tracker = $('done-tracker').textContent;
  history.pushState(null, '', ev.currentTarget.href);
  status(state.ballotId, tracker);
});

function start() {
  const params = new URLSearchParams(location.hash.slice(1));
  const ballotId = params.get('ballot');
  const token = params.get('token');
  const tracker = params.get('tracker');
  if (token) history.replaceState(null, '', location.pathname + (ballotId ? `#ballot=${enc(ballotId)}` : '')); // keep the token out of the address bar
  document.body.dataset.ready = 'true';
  if (ballotId) $('ballot-id').value = ballotId;
  if (ballotId && tracker) return status(ballotId, tracker);
  show('login');
  if (ballotId && token) return load(ballotId, token).catch(fail);
  return undefined;
}

start();
