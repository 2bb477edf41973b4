// The animals page: a client of farm's REST API, nothing more. The page's
// own URL (animals.html?page=2&per_page=10&species=cow) says what to show,
// and the paging links come from the API's Link header, so the page pages
// exactly as the API does.
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

async function load() {
  const q = listingQuery(location.search);
  const form = document.getElementById('filter');
  for (const k of ['species', 'sex', 'per_page']) {
    if (q.get(k)) form.elements[k].value = q.get(k);
  }
  // Whole records, with their revisions: one request for the page.
  const apiQuery = new URLSearchParams(q);
  apiQuery.set('fields', 'all');
  const res = await fetch(API + '?' + apiQuery.toString(), {headers: {Accept: 'application/json'}});
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

  // Each record comes with its revision: a delete sends it back as
  // If-Match (the ETag is the revision in quotes).
  for (const a of records) {
    const tr = document.createElement('tr');
    tr.dataset.id = a.id;
    cell(tr, a.id).className = 'id';
    cell(tr, a.species);
    cell(tr, a.sex);
    cell(tr, a.name);
    cell(tr, a.dob);
    const del = document.createElement('button');
    del.textContent = 'delete';
    del.className = 'delete';
    del.addEventListener('click', () => remove(a.id, '"' + a._rev + '"'));
    cell(tr, '').appendChild(del);
    tbody.appendChild(tr);
  }
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
  for (const k of ['species', 'sex', 'per_page']) {
    const v = event.target.elements[k].value;
    if (v) q.set(k, v);
  }
  location.search = q.toString(); // page 1 of the new selection
}

document.getElementById('add').addEventListener('submit', add);
document.getElementById('filter').addEventListener('submit', filter);
load().catch(e => say(String(e), true));
