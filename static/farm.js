// The animals page: a client of farm's REST API, nothing more. The page's
// own URL (animals.html?page=2&per_page=10&species=cow) says what to show,
// and the paging links come from the API's Link header, so the page pages
// exactly as the API does. It is live: the change feed (Server-Sent
// Events) tells it of every write, by anyone, and it shows the page again.
'use strict';

const API = 'api/v1/animal';
const LISTING_ARGS = ['species', 'sex', 'name', 'dob', 'page', 'per_page', 'after', 'before'];

// listingQuery keeps the listing arguments of a query string.
function listingQuery(search) {
  const from = new URLSearchParams(search);
  const q = new URLSearchParams();
  for (const k of LISTING_ARGS) {
    if (from.get(k)) q.set(k, from.get(k));
  }
  return q;
}

// parseLinks reads a Link header: {first: url, prev: url, ...}.
function parseLinks(header) {
  const links = {};
  for (const part of (header || '').split(',')) {
    const m = part.match(/<([^>]+)>;\s*rel="(\w+)"/);
    if (m) links[m[2]] = m[1];
  }
  return links;
}

// apiError turns a failed response into farm's error text.
async function apiError(res) {
  try {
    const body = await res.json();
    return body.text || res.status + ' ' + res.statusText;
  } catch (e) {
    return res.status + ' ' + res.statusText;
  }
}

// uuid makes a version 4 UUID. crypto.randomUUID exists only in secure
// contexts (HTTPS, localhost); getRandomValues everywhere.
function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map(x => x.toString(16).padStart(2, '0')).join('');
  return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
}

function say(text, isError) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.className = isError ? 'error' : 'ok';
}

function cell(row, text) {
  const td = document.createElement('td');
  td.textContent = text || '';
  row.appendChild(td);
  return td;
}

const FILTERS = ['species', 'sex', 'name', 'dob', 'per_page'];

async function load() {
  const q = listingQuery(location.search);
  const form = document.getElementById('filter');
  for (const k of FILTERS) {
    if (q.get(k)) form.elements[k].value = q.get(k);
  }
  // Whole records, with their revisions: one request for the page.
  const apiQuery = new URLSearchParams(q);
  apiQuery.set('fields', 'all');
  const res = await fetch(API + '?' + apiQuery.toString(), {headers: {Accept: 'application/json'}});
  // An edit began while the page was asked for: keep the form (endEdit
  // shows the page again).
  if (editing) return;
  const tbody = document.querySelector('#animals tbody');
  tbody.textContent = '';
  const pages = document.getElementById('pages');
  pages.textContent = '';
  if (!res.ok) {
    document.getElementById('summary').textContent = '';
    say(await apiError(res), true);
    return;
  }
  const records = await res.json();
  const total = Number(res.headers.get('X-Total-Count'));
  const page = Number(q.get('page') || 1);
  const perPage = Number(q.get('per_page') || 10);
  const last = Math.max(1, Math.ceil(total / perPage));
  document.getElementById('summary').textContent =
    total + (total === 1 ? ' animal' : ' animals') + ', page ' + page + ' of ' + last;

  const links = parseLinks(res.headers.get('Link'));
  for (const rel of ['first', 'prev', 'next', 'last']) {
    if (!links[rel]) continue;
    const a = document.createElement('a');
    a.textContent = rel;
    a.rel = rel;
    a.href = 'animals.html?' + listingQuery(new URL(links[rel]).search).toString();
    pages.appendChild(a);
  }

  // Each record comes with its revision: an edit or a delete sends it
  // back as If-Match (the ETag is the revision in quotes).
  for (const a of records) {
    tbody.appendChild(row(a));
  }
}

// row is a record's row: its fields, an edit and a delete button.
function row(a) {
  const tr = document.createElement('tr');
  tr.dataset.id = a.id;
  tr.dataset.rev = a._rev;
  cell(tr, a.id).className = 'id';
  cell(tr, a.species);
  cell(tr, a.sex);
  cell(tr, a.name);
  cell(tr, a.dob);
  const td = cell(tr, '');
  const edit = document.createElement('button');
  edit.textContent = 'edit';
  edit.className = 'edit';
  edit.addEventListener('click', () => startEdit(tr, a, '"' + a._rev + '"'));
  const del = document.createElement('button');
  del.textContent = 'delete';
  del.className = 'delete';
  del.addEventListener('click', () => remove(a.id, '"' + a._rev + '"'));
  td.append(edit, ' ', del);
  return tr;
}

// The row being edited, if any: live updates wait until it is saved or
// cancelled, so that they do not take the form from under the user.
let editing = null;

// startEdit turns a row into a form over the record a, read at etag.
function startEdit(tr, a, etag) {
  if (editing && editing !== tr) return;
  editing = tr;
  tr.textContent = '';
  cell(tr, a.id).className = 'id';
  const field = (name, el) => {
    el.name = name;
    cell(tr, '').appendChild(el);
    return el;
  };
  const select = (options, value) => {
    const s = document.createElement('select');
    for (const o of options) s.add(new Option(o, o, false, o === value));
    return s;
  };
  const input = (type, value) => {
    const i = document.createElement('input');
    i.type = type;
    i.value = value || '';
    return i;
  };
  field('species', select(['chicken', 'cow'], a.species));
  field('sex', select(['female', 'male'], a.sex));
  field('name', input('text', a.name)).maxLength = 200;
  field('dob', input('date', a.dob));
  const td = cell(tr, '');
  const save = document.createElement('button');
  save.textContent = 'save';
  save.className = 'save';
  save.addEventListener('click', () => saveEdit(tr, a, etag));
  const cancel = document.createElement('button');
  cancel.textContent = 'cancel';
  cancel.className = 'cancel';
  cancel.addEventListener('click', () => endEdit());
  td.append(save, ' ', cancel);
}

function endEdit() {
  editing = null;
  document.getElementById('conflict').hidden = true;
  return load();
}

// saveEdit sends what the user changed of the record a (as the edit
// began) as a merge patch with If-Match: etag. When someone else changed
// the record first (412), it shows the record as it is now and offers to
// apply the same changes over it (its current ETag): only the fields this
// user changed are sent, so the other's changes to other fields stay.
async function saveEdit(tr, a, etag) {
  const value = name => tr.querySelector('[name=' + name + ']').value;
  const patch = {};
  for (const k of ['species', 'sex', 'name', 'dob']) {
    const v = value(k);
    if (v !== (a[k] || '')) patch[k] = v === '' ? null : v;
  }
  const url = API + '/' + encodeURIComponent(a.id);
  const res = await write(url, {
    method: 'PATCH',
    headers: {'Content-Type': 'application/merge-patch+json', 'If-Match': etag},
    body: JSON.stringify(patch),
  });
  if (res.status === 412) {
    const cur = await fetch(url, {headers: {Accept: 'application/json'}});
    if (!cur.ok) {
      say(await apiError(cur), true);
      return;
    }
    const now = await cur.json();
    const box = document.getElementById('conflict');
    box.textContent = 'Someone changed ' + a.id + ' first. It is now: ' +
      ['species', 'sex', 'name', 'dob'].map(k => k + ' ' + (now[k] || '(none)')).join(', ') + '. ';
    const retry = document.createElement('button');
    retry.textContent = 'apply my changes to it';
    retry.className = 'retry';
    // The same edits, over the current record and its ETag.
    retry.addEventListener('click', () => {
      box.hidden = true;
      saveEdit(tr, a, cur.headers.get('ETag'));
    });
    box.appendChild(retry);
    box.hidden = false;
    say(await apiError(res), true);
    return;
  }
  if (!res.ok) {
    say(await apiError(res), true);
    return;
  }
  say('saved ' + a.id);
  await endEdit();
}

// write sends a write (POST, PUT, PATCH, DELETE) with the write token of
// this session, if any. When farm wants one (401), it asks for it, keeps it
// for the session (sessionStorage: gone with the tab) and tries again; the
// token goes nowhere but this farm's API.
const TOKEN_KEY = 'farm-write-token';
async function write(url, init) {
  for (let asked = 0; ; asked++) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = Object.assign({}, init.headers);
    if (token) headers.Authorization = 'Bearer ' + token;
    const res = await fetch(url, Object.assign({}, init, {headers}));
    if (res.status !== 401 || asked >= 3) return res;
    const given = prompt(token
      ? 'That write token is not valid. The write token (ask whoever runs this farm):'
      : 'This farm needs a write token for changes (ask whoever runs this farm):');
    if (!given || !given.trim()) return res;
    sessionStorage.setItem(TOKEN_KEY, given.trim());
  }
}

async function remove(id, etag) {
  const res = await write(API + '/' + encodeURIComponent(id), {method: 'DELETE', headers: {'If-Match': etag}});
  if (!res.ok) {
    say(await apiError(res), true);
    return;
  }
  say('deleted ' + id);
  await load();
}

async function add(event) {
  event.preventDefault();
  const f = event.target.elements;
  const animal = {id: f.id.value.trim() || uuid(), species: f.species.value, sex: f.sex.value};
  if (f.name.value) animal.name = f.name.value;
  if (f.dob.value) animal.dob = f.dob.value;
  const res = await write(API, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(animal)});
  if (!res.ok) {
    say(await apiError(res), true);
    return;
  }
  say('added ' + animal.id);
  event.target.reset();
  await load();
}

function filter(event) {
  event.preventDefault();
  const q = new URLSearchParams();
  for (const k of FILTERS) {
    const v = event.target.elements[k].value.trim();
    if (v) q.set(k, v);
  }
  location.search = q.toString(); // page 1 of the new selection
}

// follow keeps the page live: it opens the change feed from where the
// store is now, and shows the page again after each change (a burst of
// changes: once). The browser's EventSource reconnects by itself, with
// the last event's id; when the feed refuses it (it no longer keeps those
// changes, or the instance is full), the page starts over from now.
let feed = null;
let reloadTimer = 0;

function setLive(on) {
  const live = document.getElementById('live');
  live.textContent = on ? 'live' : 'offline';
  live.className = on ? 'live' : 'offline';
}

function changed() {
  if (editing) return; // endEdit shows the page again
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => {
    if (!editing) load().catch(e => say(String(e), true));
  }, 100);
}

async function follow() {
  if (feed) feed.close();
  setLive(false);
  let since = 'now';
  try {
    const res = await fetch('api/v1/_changes?since=now&limit=1', {headers: {Accept: 'application/json'}});
    if (res.ok) since = String((await res.json()).last_seq);
  } catch (e) {
    setTimeout(follow, 2000);
    return;
  }
  feed = new EventSource('api/v1/_changes?since=' + since);
  feed.onopen = () => setLive(true);
  feed.onmessage = changed;
  feed.onerror = () => {
    setLive(false);
    if (feed.readyState === EventSource.CLOSED) {
      setTimeout(() => { follow(); changed(); }, 2000);
    }
  };
}

document.getElementById('add').addEventListener('submit', add);
document.getElementById('filter').addEventListener('submit', filter);
load().catch(e => say(String(e), true));
follow();
