// Marquee's search page: search as you type with suggestions, facets, filters, sort and paging, movie
// details, and, for admins, create / edit / delete / import / history. Plain JavaScript, no build step.
//
// Everything the server sends is inserted as text (text nodes; no HTML is ever parsed). The one exception is
// search highlighting, which arrives as HTML-escaped text with <mark> tags: highlighted() splits on exactly
// those two tags and inserts the rest as text, so no other markup can ever reach the page.
'use strict';

(() => {
  const PER_PAGE = 24;
  const DEBOUNCE_MS = 120;
  const SETTLE_MS = 1500; // a pause in typing that makes the next query a new entry in the history
  const GENRES_SHOWN = 10;
  const SESSION_HINT = 'marquee.signedIn'; // localStorage: "1" while this browser may hold a session cookie

  // ---------------------------------------------------------------------------------------------------
  // Small helpers

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  /** el builds an element: props set attributes (class, text, dataset, on<event>, style vars), kids are nodes or text. */
  function el(tag, props, ...kids) {
    const n = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else if (k === 'dataset') Object.assign(n.dataset, v);
      else if (k === 'style') for (const [p, val] of Object.entries(v)) n.style.setProperty(p, val);
      else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
      else n.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      n.append(c instanceof Node ? c : String(c));
    }
    return n;
  }

  const ICONS = {
    star: 'M12 2.5l2.9 6.1 6.6.8-4.9 4.6 1.3 6.6L12 17.3l-5.9 3.3 1.3-6.6-4.9-4.6 6.6-.8z',
    film: 'M4 4h16v16H4zM8 4v16M16 4v16M4 8h4M4 12h4M4 16h4M16 8h4M16 12h4M16 16h4',
    person: 'M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0',
    search: 'M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14zM20 20l-4-4',
  };
  function icon(name) {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', ICONS[name]);
    svg.append(p);
    return svg;
  }

  function debounce(fn, ms) {
    let t = 0;
    let pending = null;
    const d = (...args) => { clearTimeout(t); pending = args; t = setTimeout(() => { pending = null; fn(...args); }, ms); };
    d.cancel = () => { clearTimeout(t); pending = null; };
    d.flush = () => { if (pending) { const args = pending; d.cancel(); fn(...args); } };
    return d;
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  function decodeEntities(s) {
    return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
  }

  /** highlighted turns escaped text with <mark>…</mark> into DOM nodes; any other markup stays literal text. */
  function highlighted(value) {
    const s = Array.isArray(value) ? value.join(' … ') : String(value ?? '');
    const frag = document.createDocumentFragment();
    let inMark = false;
    for (const part of s.split(/(<mark>|<\/mark>)/)) {
      if (part === '<mark>') { inMark = true; continue; }
      if (part === '</mark>') { inMark = false; continue; }
      if (!part) continue;
      const text = decodeEntities(part);
      frag.append(inMark ? el('mark', null, text) : document.createTextNode(text));
    }
    return frag;
  }

  const numberFmt = new Intl.NumberFormat(undefined);
  const compactFmt = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
  const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

  function fmtRuntime(min) {
    if (!min) return '';
    const h = Math.floor(min / 60), m = min % 60;
    return h ? `${h} h ${m ? m + ' min' : ''}`.trim() : `${m} min`;
  }
  function fmtRating(r) { return typeof r === 'number' ? r.toFixed(1) : ''; }
  function fmtWhen(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    const secs = (d.getTime() - Date.now()) / 1000;
    const units = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60]];
    for (const [unit, size] of units) if (Math.abs(secs) >= size) return relFmt.format(Math.round(secs / size), unit);
    return 'just now';
  }
  function fmtValue(v) {
    if (v === null || v === undefined || v === '') return '—';
    if (Array.isArray(v)) return v.length ? v.join(', ') : '—';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function plural(n, one, many) { return `${numberFmt.format(n)} ${n === 1 ? one : many}`; }

  function hashHue(s) {
    const palette = [4, 18, 32, 150, 172, 192, 208, 224, 244, 262, 280, 318, 338];
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    return palette[(h >>> 0) % palette.length];
  }

  function randomKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  // ---------------------------------------------------------------------------------------------------
  // The API

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || `The server answered ${status}.`);
      this.status = status;
      this.problem = problem || {};
    }
  }

  // The access token lives in this page's memory only. The session behind it is an HttpOnly cookie that
  // POST /v1/auth/refresh exchanges for a new token (and a new cookie); see "Signing in".
  let session = null; // {token, username, role, expiresAt}

  // api calls the API. An authenticated call renews a token about to expire first, and after a 401 renews
  // the session once and retries; if the session is over, it throws the 401 with sessionEnded set.
  async function api(method, path, opts = {}) {
    if (opts.auth && session && session.expiresAt - Date.now() < 5000) await refreshSession();
    try {
      return await request(method, path, opts);
    } catch (err) {
      if (err.status !== 401 || !opts.auth) throw err;
      if (await refreshSession()) return request(method, path, opts);
      if (session) { // the renewal failed for another reason than the session's end (a 429, the server away)
        throw new ApiError(503, { detail: 'Your session could not be renewed just now; nothing was lost. Try again in a moment.' });
      }
      throw err;
    }
  }

  async function request(method, path, opts) {
    const headers = new Headers(opts.headers || {});
    headers.set('Accept', 'application/json, application/problem+json');
    let body = opts.body;
    if (body !== undefined && !(body instanceof Blob)) {
      headers.set('Content-Type', 'application/json');
      body = JSON.stringify(body);
    }
    if (opts.auth && session) headers.set('Authorization', `Bearer ${session.token}`);
    let res;
    try {
      res = await fetch(path, { method, headers, body, signal: opts.signal, cache: 'no-cache' });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, { title: 'Network error', detail: 'The server could not be reached. Check your connection and try again.' });
    }
    let data = null;
    if (res.status !== 204) {
      const text = await res.text();
      if (text && (res.headers.get('Content-Type') || '').includes('json')) {
        try { data = JSON.parse(text); } catch { data = null; }
      }
    }
    if (!res.ok) {
      throw new ApiError(res.status, data && typeof data === 'object' ? data : { title: res.statusText });
    }
    return { status: res.status, data, headers: res.headers };
  }

  // ---------------------------------------------------------------------------------------------------
  // Search state, kept in the address bar so that a search can be shared and the back button works

  const state = {
    q: '', genres: [], genreMode: 'any', yearMin: '', yearMax: '', ratingMin: '', ratingMax: '',
    runtimeMin: '', runtimeMax: '', popularityMin: '', popularityMax: '', director: '', cast: '', sort: '', page: 1,
  };
  const PARAMS = [
    ['yearMin', 'year_min'], ['yearMax', 'year_max'], ['ratingMin', 'rating_min'], ['ratingMax', 'rating_max'],
    ['runtimeMin', 'runtime_min'], ['runtimeMax', 'runtime_max'], ['popularityMin', 'popularity_min'],
    ['popularityMax', 'popularity_max'], ['director', 'director'], ['cast', 'cast'], ['sort', 'sort'],
  ];
  const NO_FILTERS = {
    genres: [], genreMode: 'any', yearMin: '', yearMax: '', ratingMin: '', ratingMax: '', runtimeMin: '', runtimeMax: '',
    popularityMin: '', popularityMax: '', director: '', cast: '',
  };

  function readURL() {
    const p = new URLSearchParams(location.search);
    state.q = p.get('q') || '';
    state.genres = p.getAll('genre');
    state.genreMode = p.get('genre_mode') === 'all' ? 'all' : 'any'; // the API's default: any
    for (const [k, name] of PARAMS) state[k] = p.get(name) || '';
    state.page = Math.max(1, parseInt(p.get('page') || '1', 10) || 1);
  }

  function toParams(forAPI) {
    const p = new URLSearchParams();
    if (state.q.trim()) p.set('q', state.q.trim());
    for (const g of state.genres) p.append('genre', g);
    if (state.genres.length > 1 && state.genreMode === 'all') p.set('genre_mode', 'all');
    for (const [k, name] of PARAMS) if (state[k] !== '') p.set(name, state[k]);
    if (state.page > 1) p.set('page', String(state.page));
    if (forAPI) {
      p.set('per_page', String(PER_PAGE));
      p.set('facets', 'genres,decade,rating,runtime,year,popularity');
    }
    return p;
  }

  function writeURL(push) {
    const qs = toParams(false).toString();
    const url = location.pathname + (qs ? `?${qs}` : '') + location.hash;
    if (url !== location.pathname + location.search + location.hash) history[push ? 'pushState' : 'replaceState'](null, '', url);
  }

  function activeFilterCount() {
    return state.genres.length + (state.yearMin || state.yearMax ? 1 : 0) + (state.ratingMin || state.ratingMax ? 1 : 0) +
      (state.runtimeMin || state.runtimeMax ? 1 : 0) + (state.popularityMin || state.popularityMax ? 1 : 0) +
      (state.director ? 1 : 0) + (state.cast ? 1 : 0);
  }

  // ---------------------------------------------------------------------------------------------------
  // Elements

  const q = $('#q');
  const results = $('#results');
  const statusEl = $('#status');
  const suggestions = $('#suggestions');

  // ---------------------------------------------------------------------------------------------------
  // Searching

  let seq = 0;
  let inflight = null;
  let last = null;
  let typing = false; // the person is typing in the search box: keep the suggestions current
  let lastQ = null; // the query that `last` answers
  const features = { suggest: true };

  /** search shows the results of the current state. minVersion ("<id>:<version>", after a write) asks for
   * results that hold that write: without it, search may answer from its cache, a few seconds behind. */
  async function search({ push = false, minVersion = '' } = {}) {
    writeURL(push);
    const my = ++seq;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    results.setAttribute('aria-busy', 'true');
    const wait = minVersion ? `&min_version=${encodeURIComponent(minVersion)}` : '';
    try {
      const { data } = await api('GET', `/v1/movies?${toParams(true)}${wait}`, { signal: inflight.signal });
      if (my !== seq) return;
      last = data || {};
      render(last);
    } catch (e) {
      if (e.name === 'AbortError' || my !== seq) return;
      renderError(e);
    } finally {
      if (my === seq) results.removeAttribute('aria-busy');
    }
  }

  function render(res) {
    const hits = Array.isArray(res.hits) ? res.hits : [];
    const total = typeof res.total === 'number' ? res.total : hits.length;
    renderStatus(total, res);
    renderDidYouMean(res.did_you_mean, total);
    renderChips();
    renderFacets(res.facets || {});
    results.replaceChildren(...hits.map(card));
    renderEmpty(total, res);
    renderPager(total, res.per_page || PER_PAGE, res.page || state.page);
    renderFreshness(res.index);
    sortLabels();
    lastQ = state.q.trim();
    if (typing) mergeSuggestions();
    document.title = state.q.trim() ? `${state.q.trim()} · Marquee` : 'Marquee · movie search';
  }

  function renderStatus(total, res) {
    statusEl.dataset.total = String(total);
    $('#filters-done').textContent = total ? `Show ${plural(total, 'movie', 'movies')}` : 'No movies match: close';
    const parts = [el('strong', null, plural(total, 'movie', 'movies'))];
    if (state.q.trim()) parts.push(' for ', el('strong', null, `“${state.q.trim()}”`));
    const perPage = res.per_page || PER_PAGE;
    const pages = Math.ceil(total / perPage);
    if (pages > 1) parts.push(` · page ${res.page || state.page} of ${pages}`);
    statusEl.replaceChildren(...parts);
  }

  function renderDidYouMean(suggestion, total) {
    const box = $('#did-you-mean');
    if (!suggestion || typeof suggestion !== 'string' || suggestion === state.q.trim()) { box.hidden = true; return; }
    const link = el('a', { href: `?q=${encodeURIComponent(suggestion)}`, onclick: (e) => { e.preventDefault(); setQuery(suggestion); } }, suggestion);
    box.replaceChildren(total ? 'Did you mean ' : 'No exact matches. Did you mean ', link, '?');
    box.hidden = false;
  }

  function renderError(e) {
    statusEl.dataset.total = '';
    const box = $('#empty');
    const problems = Object.entries((e.problem && e.problem.errors) || {});
    if (e.status === 400 && problems.length) {
      // A value from the address (typed, or an old link) the search cannot read: name it, and offer to drop it.
      statusEl.textContent = `This search is not valid: ${problems.map(([name, msg]) => `${name} ${msg}`).join('; ')}.`;
      box.replaceChildren(el('h2', null, problems.length > 1 ? 'These search settings are not valid' : 'This search setting is not valid'),
        el('ul', { class: 'problems' }, problems.map(([name, msg]) => el('li', null, el('code', null, `${name}=${paramValue(name)}`), ` ${msg}.`))),
        el('button', { type: 'button', class: 'btn', id: 'drop-invalid', onclick: () => dropParams(problems.map(([name]) => name)) },
          problems.length > 1 ? 'Remove them and search' : `Remove ${problems[0][0]} and search`));
    } else {
      statusEl.textContent = `Search is unavailable right now. ${e.message}`;
      box.replaceChildren(el('h2', null, 'Something went wrong'), el('p', null, e.message),
        el('button', { type: 'button', class: 'btn', onclick: () => search() }, 'Try again'));
    }
    box.hidden = false;
    results.replaceChildren();
    $('#pager').hidden = true;
    for (const [field, msg] of problems) {
      const input = { year_min: '#year-min', year_max: '#year-max', rating_min: '#rating-min', popularity_min: '#popularity-min' }[field];
      if (input) { $(input).setAttribute('aria-invalid', 'true'); $(input).title = msg; }
    }
  }

  function paramValue(name) {
    const v = toParams(true).getAll(name);
    return v.length ? v.join(',') : '';
  }

  /** dropParams forgets the search settings the API refused, named by their URL parameters. */
  function dropParams(names) {
    for (const name of names) {
      const known = PARAMS.find(([, n]) => n === name);
      if (known) state[known[0]] = '';
      else if (name === 'q') state.q = '';
      else if (name === 'genre') state.genres = [];
      else if (name === 'genre_mode') state.genreMode = 'any';
    }
    state.page = 1;
    syncControls();
    search();
  }

  function renderEmpty(total) {
    const box = $('#empty');
    if (total > 0) { box.hidden = true; return; }
    const kids = [el('h2', null, state.q.trim() ? `No movies match “${state.q.trim()}”` : 'No movies match these filters')];
    kids.push(el('p', null, activeFilterCount() ? 'Try removing a filter, or a word or two.' : 'Check the spelling, or try fewer words.'));
    if (activeFilterCount()) kids.push(el('button', { type: 'button', class: 'btn', onclick: clearFilters }, 'Clear all filters'));
    box.replaceChildren(...kids);
    box.hidden = false;
  }

  function card(hit) {
    const hl = hit.highlights || {};
    const title = hl.title ? highlighted(hl.title) : hit.title;
    const directors = (hit.directors || []).slice(0, 2).join(', ');
    const sub = [hit.year, directors].filter(Boolean).join(' · ');
    const genres = (hit.genres || []).slice(0, 3);
    return el('li', { class: 'card', dataset: { id: hit.id, title: hit.title, genres: (hit.genres || []).join('|') } },
      el('a', { class: 'card-link', href: `#movie/${hit.id}` },
        poster(hit),
        el('div', { class: 'card-meta' },
          el('h3', { class: 'card-title' }, title,
            hit.match === 'typo' ? el('span', { class: 'match', title: 'Found despite a typo in the search' }, '≈') : null),
          sub ? el('p', { class: 'card-sub' }, sub) : null,
          genres.length ? el('p', { class: 'card-genres' }, genres.map((g) => el('span', { class: state.genres.includes(g) ? 'tag on' : 'tag' }, g))) : null,
          hl.overview ? el('p', { class: 'card-snippet' }, highlighted(hl.overview)) : null)));
  }

  function poster(m, big) {
    const box = el('div', { class: 'poster' });
    const fallback = () => el('div', { class: 'placeholder', 'aria-hidden': 'true', style: { '--hue': String(hashHue(m.title || '')) } },
      el('span', { class: 'ph-title' }, m.title || ''),
      el('span', { class: 'ph-by' }, [m.year, (m.directors || [])[0]].filter(Boolean).join(' · ')));
    if (/^https?:\/\//i.test(m.poster_url || '')) {
      const img = el('img', { src: m.poster_url, alt: big ? `Poster of ${m.title}` : '', loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer' });
      img.addEventListener('error', () => img.replaceWith(fallback()), { once: true });
      box.append(img);
    } else {
      box.append(fallback());
    }
    if (!big && typeof m.rating === 'number') {
      box.append(el('span', { class: 'badge-rating', 'aria-label': `Rated ${fmtRating(m.rating)} out of 10` }, icon('star'), fmtRating(m.rating)));
    }
    return box;
  }

  function renderPager(total, perPage, page) {
    const nav = $('#pager');
    const pages = Math.ceil(total / perPage);
    if (pages <= 1) { nav.hidden = true; nav.replaceChildren(); return; }
    const go = (n) => () => { state.page = n; search({ push: true }); results.focus({ preventScroll: true }); window.scrollTo({ top: 0, behavior: 'smooth' }); };
    const btn = (n, label, aria) => el('button', { type: 'button', class: 'btn', onclick: go(n), 'aria-label': aria || `Page ${n}`, 'aria-current': n === page ? 'page' : null }, label);
    const kids = [];
    kids.push(el('button', { type: 'button', class: 'btn', onclick: go(page - 1), disabled: page <= 1, 'aria-label': 'Previous page' }, '‹ Prev'));
    const shown = new Set([1, pages, page - 1, page, page + 1].filter((n) => n >= 1 && n <= pages));
    let prev = 0;
    for (const n of [...shown].sort((a, b) => a - b)) {
      if (n - prev > 1) kids.push(el('span', { class: 'gap', 'aria-hidden': 'true' }, '…'));
      kids.push(btn(n, String(n)));
      prev = n;
    }
    kids.push(el('button', { type: 'button', class: 'btn', onclick: go(page + 1), disabled: page >= pages, 'aria-label': 'Next page' }, 'Next ›'));
    nav.replaceChildren(...kids);
    nav.hidden = false;
  }

  function renderFreshness(index) {
    const box = $('#freshness');
    if (!index || typeof index !== 'object') { box.hidden = true; return; }
    const lag = index.lag;
    const current = index.current === true || lag === 0 || lag === '0s';
    let text = current ? 'Search index up to date' : 'Search index catching up';
    if (!current && lag !== undefined && lag !== null) text += typeof lag === 'number' ? ` (${plural(lag, 'change', 'changes')} behind)` : ` (${lag} behind)`;
    // An answer search kept from a moment ago (its result cache) is not an index that lags.
    if (index.age > 0) text = `Results as of ${plural(index.age, 'second', 'seconds')} ago`;
    box.replaceChildren(el('span', { class: current || index.age > 0 ? 'dot' : 'dot lagging', 'aria-hidden': 'true' }), text);
    box.title = index.version !== undefined ? `Index version ${index.version}` : '';
    box.hidden = false;
  }

  // ---------------------------------------------------------------------------------------------------
  // Facets and filters

  let genresExpanded = false;

  function keepFocus(listSel, renderFn) {
    const active = document.activeElement;
    const list = $(listSel);
    const key = active && list.contains(active) ? active.dataset.value : null;
    renderFn();
    if (key !== null && key !== undefined) {
      const again = $$('[data-value]', list).find((n) => n.dataset.value === key);
      if (again) again.focus();
    }
  }

  function renderFacets(f) {
    const genres = Array.isArray(f.genres) ? f.genres.slice() : [];
    for (const g of state.genres) if (!genres.some((x) => x.value === g)) genres.push({ value: g, count: 0 });
    const datalist = $('#genre-options');
    if (!state.genres.length && !state.q && genres.length) datalist.replaceChildren(...genres.map((g) => el('option', { value: g.value })));

    keepFocus('#genre-list', () => {
      const list = $('#genre-list');
      const visible = genresExpanded ? genres : genres.filter((g, i) => i < GENRES_SHOWN || state.genres.includes(g.value));
      list.replaceChildren(...visible.map((g) => {
        const id = `genre-${g.value.replace(/[^a-z0-9]+/gi, '-')}`;
        const box = el('input', { type: 'checkbox', id, dataset: { value: g.value }, checked: state.genres.includes(g.value) });
        box.addEventListener('change', () => toggleGenre(g.value, box.checked));
        return el('li', null, el('label', { class: g.count ? 'facet-option' : 'facet-option zero', for: id }, box,
          el('span', null, g.value), el('span', { class: 'count', 'aria-label': `${g.count} movies` }, numberFmt.format(g.count))));
      }));
      const more = $('#genre-more');
      more.hidden = genres.length <= GENRES_SHOWN;
      more.textContent = genresExpanded ? 'Show fewer' : `Show all ${genres.length} genres`;
      more.setAttribute('aria-expanded', String(genresExpanded));
    });
    $('#genre-mode').hidden = state.genres.length < 2;
    $$('#genre-mode input').forEach((r) => { r.checked = r.value === state.genreMode; });

    renderBuckets('#facet-decade', '#decade-list', f.decade, 'yearMin', 'yearMax');
    renderBuckets('#facet-rating', '#rating-list', f.rating, 'ratingMin', 'ratingMax', (v) => `★ ${v.replace('-', '–')}`);
    renderBuckets('#facet-runtime', '#runtime-list', f.runtime, 'runtimeMin', 'runtimeMax', runtimeLabel);

    const years = f.year && typeof f.year === 'object' && !Array.isArray(f.year) ? f.year : null;
    if (years && years.min) { $('#year-min').placeholder = String(years.min); $('#year-max').placeholder = String(years.max); }
    const pop = f.popularity && typeof f.popularity === 'object' && !Array.isArray(f.popularity) ? f.popularity : null;
    if (pop && typeof pop.max === 'number') $('#popularity-min').placeholder = `0 to ${numberFmt.format(Math.ceil(pop.max))}`;

    const n = activeFilterCount();
    $('#clear-filters').hidden = n === 0;
    $('#filters-count').hidden = n === 0;
    $('#filters-count').textContent = String(n);
  }

  function runtimeLabel(v) {
    if (v.startsWith('<')) return `Under ${v.slice(1)} min`;
    if (v.endsWith('+')) return `${v.slice(0, -1)} min or more`;
    return `${v.replace('-', '–')} min`;
  }

  function renderBuckets(sectionSel, listSel, buckets, minKey, maxKey, label = (v) => v) {
    const section = $(sectionSel);
    if (!Array.isArray(buckets) || !buckets.length) { section.hidden = true; return; }
    section.hidden = false;
    keepFocus(listSel, () => {
      $(listSel).replaceChildren(...buckets.map((b) => {
        const on = String(state[minKey]) === String(b.from ?? '') && String(state[maxKey]) === String(b.to ?? '');
        return el('li', null, el('button', {
          type: 'button', class: b.count ? 'facet-option' : 'facet-option zero', 'aria-pressed': String(on), dataset: { value: b.value },
          onclick: () => {
            state[minKey] = on ? '' : String(b.from ?? '');
            state[maxKey] = on ? '' : String(b.to ?? '');
            filtersChanged();
          },
        }, el('span', null, label(String(b.value))), el('span', { class: 'count' }, numberFmt.format(b.count || 0))));
      }));
    });
  }

  function renderChips() {
    const chips = [];
    const chip = (label, remove) => el('li', { class: 'chip' }, label,
      el('button', { type: 'button', 'aria-label': `Remove filter ${label}`, onclick: () => { remove(); filtersChanged(); } }, '×'));
    for (const g of state.genres) chips.push(chip(`Genre: ${g}`, () => { state.genres = state.genres.filter((x) => x !== g); }));
    if (state.yearMin || state.yearMax) chips.push(chip(`Years ${state.yearMin || '…'}–${state.yearMax || '…'}`, () => { state.yearMin = state.yearMax = ''; }));
    if (state.ratingMin || state.ratingMax) {
      const text = state.ratingMax ? `Rating ${state.ratingMin || 0}–${state.ratingMax}` : `Rating ≥ ${state.ratingMin}`;
      chips.push(chip(text, () => { state.ratingMin = state.ratingMax = ''; }));
    }
    if (state.runtimeMin || state.runtimeMax) {
      const text = state.runtimeMax ? `Runtime ${state.runtimeMin || 0}–${state.runtimeMax} min` : `Runtime ≥ ${state.runtimeMin} min`;
      chips.push(chip(text, () => { state.runtimeMin = state.runtimeMax = ''; }));
    }
    if (state.popularityMin || state.popularityMax) {
      const text = state.popularityMax ? `Popularity ${state.popularityMin || 0}–${state.popularityMax}` : `Popularity ≥ ${state.popularityMin}`;
      chips.push(chip(text, () => { state.popularityMin = state.popularityMax = ''; }));
    }
    if (state.director) chips.push(chip(`Director: ${state.director}`, () => { state.director = ''; }));
    if (state.cast) chips.push(chip(`Cast: ${state.cast}`, () => { state.cast = ''; }));
    $('#chips').replaceChildren(...chips);
    $('#chips').hidden = chips.length === 0;
  }

  function syncControls() {
    q.value = state.q;
    $('#sort').value = state.sort;
    if ($('#sort').value !== state.sort) $('#sort').value = '';
    $('#year-min').value = state.yearMin;
    $('#year-max').value = state.yearMax;
    $('#rating-min').value = state.ratingMin || '0';
    $('#rating-min-out').textContent = state.ratingMin ? `${state.ratingMin}+` : 'Any';
    $('#popularity-min').value = state.popularityMin;
    for (const id of ['#year-min', '#year-max', '#rating-min', '#popularity-min']) $(id).removeAttribute('aria-invalid');
    sortLabels();
  }

  // sortLabels names the default order for what it is: relevance to the words, or, with no words, popularity
  // (the API's default then), whose own option would say the same twice.
  function sortLabels() {
    const words = Boolean(state.q.trim());
    $('#sort option[value=""]').textContent = words ? 'Relevance' : 'Popularity';
    $('#sort option[value="-popularity,title"]').hidden = !words && state.sort !== '-popularity,title';
  }

  function filtersChanged() {
    state.page = 1;
    typedEntry = false; // the words typed next are a query after this entry, not in place of it
    syncControls();
    search({ push: true });
  }

  function toggleGenre(g, on) {
    state.genres = on ? [...new Set([...state.genres, g])] : state.genres.filter((x) => x !== g);
    filtersChanged();
  }

  function clearFilters() {
    Object.assign(state, NO_FILTERS);
    filtersChanged();
  }

  function setQuery(text) {
    state.q = text;
    state.page = 1;
    q.value = text;
    closeSuggestions();
    search({ push: !typedEntry }); // in place of the entry typing made for the words on the way
    typedEntry = false;
  }

  // ---------------------------------------------------------------------------------------------------
  // The search box: search as you type, suggestions as a combobox (WAI-ARIA 1.2 pattern)

  let suggestCtrl = null;
  let activeSuggestion = -1;
  let suggestionItems = [];

  // Typing adds one history entry for the query a person settles on, not one a keystroke, and not none: its
  // first search pushes an entry, the next ones replace it, and a pause or Enter ends it. Back then returns
  // to the query before.
  let typedEntry = false;
  const typingSettled = debounce(() => { typedEntry = false; }, SETTLE_MS);
  const onType = debounce(() => {
    state.q = q.value;
    state.page = 1;
    search({ push: !typedEntry });
    typedEntry = true;
    typingSettled();
    fetchSuggestions(q.value);
  }, DEBOUNCE_MS);

  let suggested = { q: null, items: [] }; // the last answer of /v1/suggest

  async function fetchSuggestions(text) {
    if (!text.trim()) { closeSuggestions(); return; }
    if (!features.suggest) { mergeSuggestions(); return; }
    if (suggestCtrl) suggestCtrl.abort();
    suggestCtrl = new AbortController();
    try {
      const { data } = await api('GET', `/v1/suggest?q=${encodeURIComponent(text)}&limit=8`, { signal: suggestCtrl.signal });
      suggested = { q: text.trim(), items: data && Array.isArray(data.suggestions) ? data.suggestions : [] };
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.status === 404 || e.status === 405 || e.status === 501) features.suggest = false; // not deployed: hits only
    }
    mergeSuggestions();
  }

  /** mergeSuggestions lists the completions of /v1/suggest, then the top hits of the live (typo-tolerant) search. */
  function mergeSuggestions() {
    const text = q.value.trim();
    if (!typing || !text || document.activeElement !== q) return;
    const items = [];
    const seen = new Set();
    const add = (s) => {
      const key = s.id ? `id:${s.id}` : `${s.kind}:${s.text}`;
      if (!s.text || seen.has(key) || seen.has(`${s.kind}:${s.text}`)) return;
      seen.add(key);
      seen.add(`${s.kind}:${s.text}`);
      items.push(s);
    };
    if (suggested.q === text) suggested.items.forEach(add);
    if (last && lastQ === text) (last.hits || []).slice(0, 6).forEach((h) => add({ text: h.title, kind: 'title', id: h.id }));
    showSuggestions(items.slice(0, 8));
  }

  function showSuggestions(items) {
    suggestionItems = items.filter((s) => s && s.text);
    activeSuggestion = -1;
    if (!suggestionItems.length) { closeSuggestions(); return; }
    suggestions.replaceChildren(...suggestionItems.map((s, i) => el('li', {
      id: `suggestion-${i}`, role: 'option', 'aria-selected': 'false', dataset: { index: i },
    }, icon(s.kind === 'person' ? 'person' : 'film'), el('span', null, s.text),
    el('span', { class: 'kind' }, s.kind === 'person' ? (s.role === 'director' ? 'director' : 'person') : (s.year ? `movie, ${s.year}` : 'movie')))));
    suggestions.hidden = false;
    q.setAttribute('aria-expanded', 'true');
  }

  function closeSuggestions() {
    suggestions.hidden = true;
    suggestions.replaceChildren();
    suggestionItems = [];
    activeSuggestion = -1;
    q.setAttribute('aria-expanded', 'false');
    q.removeAttribute('aria-activedescendant');
  }

  function moveSuggestion(delta) {
    if (!suggestionItems.length) return;
    const n = suggestionItems.length;
    activeSuggestion = activeSuggestion < 0 && delta < 0 ? n - 1 : (activeSuggestion + delta + n) % n;
    $$('li', suggestions).forEach((li, i) => li.setAttribute('aria-selected', String(i === activeSuggestion)));
    q.setAttribute('aria-activedescendant', `suggestion-${activeSuggestion}`);
    $(`#suggestion-${activeSuggestion}`).scrollIntoView({ block: 'nearest' });
  }

  function chooseSuggestion(i) {
    const s = suggestionItems[i];
    if (!s) return;
    onType.cancel();
    typing = false;
    if (s.kind === 'person') {
      // A person is a filter, not words: their movies, whatever else matches the name.
      closeSuggestions();
      q.value = '';
      Object.assign(state, { q: '', [s.role === 'director' ? 'director' : 'cast']: s.text });
      filtersChanged();
      return;
    }
    setQuery(s.text);
    if (s.id) location.hash = `movie/${s.id}`;
  }

  q.addEventListener('input', () => { typing = true; onType(); });
  q.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown') { e.preventDefault(); if (suggestions.hidden) { typing = true; fetchSuggestions(q.value); } else moveSuggestion(1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); moveSuggestion(-1); }
    else if (e.key === 'Enter') {
      e.preventDefault();
      if (!suggestions.hidden && activeSuggestion >= 0) { chooseSuggestion(activeSuggestion); return; }
      onType.cancel();
      closeSuggestions();
      typing = false;
      const again = typedEntry; // the entry typing made is this query's
      typedEntry = false;
      state.q = q.value;
      state.page = 1;
      search({ push: !again });
    } else if (e.key === 'Escape' && !suggestions.hidden) { e.preventDefault(); typing = false; closeSuggestions(); }
    else if (e.key === 'Tab') closeSuggestions();
  });
  q.addEventListener('blur', () => setTimeout(() => { if (document.activeElement !== q) { closeSuggestions(); typing = false; } }, 120));
  suggestions.addEventListener('mousedown', (e) => e.preventDefault()); // keep the focus in the box
  suggestions.addEventListener('click', (e) => {
    const li = e.target.closest('li[data-index]');
    if (li) chooseSuggestion(Number(li.dataset.index));
  });
  $('#search-form').addEventListener('submit', (e) => e.preventDefault());

  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.closest('input, textarea, select, [contenteditable], dialog')) return;
    e.preventDefault();
    q.focus();
    q.select();
  });

  // ---------------------------------------------------------------------------------------------------
  // Filter controls

  $('#sort').addEventListener('change', (e) => { state.sort = e.target.value; filtersChanged(); });
  $$('#genre-mode input').forEach((r) => r.addEventListener('change', () => { state.genreMode = r.value; filtersChanged(); }));
  $('#genre-more').addEventListener('click', () => { genresExpanded = !genresExpanded; if (last) renderFacets(last.facets || {}); });
  $('#clear-filters').addEventListener('click', clearFilters);

  function yearChanged() {
    const lo = $('#year-min').value.trim(), hi = $('#year-max').value.trim();
    const bad = lo && hi && Number(lo) > Number(hi);
    $('#year-max').setAttribute('aria-invalid', String(Boolean(bad)));
    if (bad) return;
    state.yearMin = lo;
    state.yearMax = hi;
    filtersChanged();
  }
  const yearTyped = debounce(yearChanged, 500);
  for (const id of ['#year-min', '#year-max']) {
    $(id).addEventListener('input', yearTyped);
    $(id).addEventListener('change', () => { yearTyped.cancel(); yearChanged(); });
  }
  const ratingSlid = debounce(() => {
    const v = $('#rating-min').value;
    state.ratingMin = v === '0' ? '' : v;
    state.ratingMax = '';
    filtersChanged();
  }, 250);
  $('#rating-min').addEventListener('input', () => {
    const v = $('#rating-min').value;
    $('#rating-min-out').textContent = v === '0' ? 'Any' : `${v}+`;
    ratingSlid();
  });

  const popularityTyped = debounce(() => {
    const v = $('#popularity-min').value.trim();
    const bad = v !== '' && !(Number(v) >= 0);
    $('#popularity-min').setAttribute('aria-invalid', String(bad));
    if (bad) return;
    state.popularityMin = v;
    filtersChanged();
  }, 500);
  $('#popularity-min').addEventListener('input', popularityTyped);
  $('#popularity-min').addEventListener('change', () => { popularityTyped(); popularityTyped.flush(); });

  function showFilters(open) {
    $('.filters').classList.toggle('open', open);
    $('#filters-toggle').setAttribute('aria-expanded', String(open));
  }
  $('#filters-toggle').addEventListener('click', () => showFilters(!$('.filters').classList.contains('open')));
  // On a phone the open filters cover the results: this button folds them away and goes to the results.
  $('#filters-done').addEventListener('click', () => {
    showFilters(false);
    $('#status').scrollIntoView({ block: 'start' });
    results.focus({ preventScroll: true });
  });

  let ignorePop = false; // set while the page itself steps back in history (closing the details)
  window.addEventListener('popstate', () => {
    if (ignorePop) { // keep what is on screen, which may have changed meanwhile, and say so in the address
      setTimeout(() => { ignorePop = false; }, 0);
      writeURL(false);
      detailsClosed();
      return;
    }
    onType.cancel();
    typedEntry = false; // what is typed next is a query after this entry, not in place of it
    readURL();
    syncControls();
    search();
  });

  // ---------------------------------------------------------------------------------------------------
  // Toasts

  function toast(text, kind) {
    const t = el('div', { class: kind === 'error' ? 'toast error' : 'toast' }, text);
    const box = $('#toasts');
    box.append(t);
    if (typeof box.showPopover === 'function') { // the top layer: above an open dialog too
      if (box.matches(':popover-open')) box.hidePopover();
      box.showPopover();
    }
    setTimeout(() => t.remove(), kind === 'error' || kind === 'long' ? 7000 : 4000); // long: more to read
  }

  // ---------------------------------------------------------------------------------------------------
  // Dialogs

  for (const d of $$('dialog')) {
    d.addEventListener('click', (e) => {
      if (d.querySelector('form[aria-busy]')) return; // a save under way (formBusy)
      if (e.target.closest('[data-close]')) d.close();
      else if (e.target === d) { // a click on the backdrop
        const r = d.getBoundingClientRect();
        if (e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom) d.close();
      }
    });
  }

  function openDialog(d) { if (!d.open) d.showModal(); }

  // ---------------------------------------------------------------------------------------------------
  // Movie details, routed by the fragment (#movie/12) so the back button closes them

  const movieDialog = $('#movie-dialog');
  let current = null; // the movie shown in the details dialog
  let detailPushed = false;

  async function openMovie(id) {
    current = null;
    movieDialog.dataset.id = id;
    $('#movie-body').replaceChildren(el('div', { class: 'movie' }, el('div', { class: 'poster skeleton' }), el('div', null, el('h2', { id: 'movie-title' }, 'Loading…'))));
    openDialog(movieDialog);
    try {
      const { data } = await api('GET', `/v1/movies/${encodeURIComponent(id)}`);
      current = data;
      renderMovie(data);
    } catch (e) {
      $('#movie-body').replaceChildren(el('div', { class: 'movie' }, el('div', null,
        el('h2', { id: 'movie-title' }, e.status === 404 ? 'Movie not found' : 'Could not load this movie'),
        el('p', { class: 'muted' }, e.status === 404 ? 'It may have been deleted.' : e.message))));
    }
  }

  function people(names, filterKey, label) {
    if (!names || !names.length) return null;
    return [el('dt', null, label), el('dd', null, names.flatMap((n, i) => [i ? ', ' : null,
      el('button', { type: 'button', class: 'person', title: `Show movies with ${n}`, onclick: () => leaveDetails(() => { Object.assign(state, { q: '', [filterKey]: n }); filtersChanged(); }) }, n)]))];
  }

  function renderMovie(m) {
    const facts = [];
    if (typeof m.rating === 'number') {
      facts.push(el('span', { class: 'big-rating', 'aria-label': `Rated ${fmtRating(m.rating)} out of 10` }, icon('star'), fmtRating(m.rating),
        el('span', { class: 'muted', 'aria-hidden': 'true' }, '/10')));
    }
    if (typeof m.votes === 'number') facts.push(el('span', null, `${compactFmt.format(m.votes)} votes`));
    if (m.year) facts.push(el('span', null, String(m.year)));
    if (m.runtime_minutes) facts.push(el('span', null, fmtRuntime(m.runtime_minutes)));
    if (m.original_language) facts.push(el('span', null, m.original_language.toUpperCase()));
    if (m.certification) facts.push(el('span', { title: 'Certification' }, m.certification));
    const genreTags = (m.genres || []).map((g) => el('button', {
      type: 'button', class: 'tag', title: `Show ${g} movies`,
      onclick: () => leaveDetails(() => { state.genres = [...new Set([...state.genres, g])]; filtersChanged(); }),
    }, g));
    const admin = isAdmin() ? el('div', { class: 'admin-actions' },
      el('button', { type: 'button', class: 'btn btn-primary', id: 'edit-movie', onclick: () => openEditor(m) }, 'Edit'),
      el('button', { type: 'button', class: 'btn', id: 'history-movie', onclick: () => openHistory(m) }, 'History'),
      el('button', { type: 'button', class: 'btn btn-ghost', id: 'delete-movie', onclick: () => deleteMovie(m) }, 'Delete')) : null;
    const links = [];
    if (m.imdb_id) links.push(el('a', { href: `https://www.imdb.com/title/${encodeURIComponent(m.imdb_id)}/`, rel: 'noopener noreferrer', target: '_blank' }, 'IMDb'));
    if (m.tmdb_id) links.push(el('a', { href: `https://www.themoviedb.org/movie/${encodeURIComponent(m.tmdb_id)}`, rel: 'noopener noreferrer', target: '_blank' }, 'TMDB'));
    $('#movie-body').replaceChildren(el('article', { class: 'movie', dataset: { id: m.id, version: m.version } },
      poster(m, true),
      el('div', null,
        el('h2', { id: 'movie-title' }, m.title),
        m.tagline ? el('p', { class: 'tagline' }, m.tagline) : null,
        facts.length ? el('div', { class: 'facts' }, facts) : null,
        genreTags.length ? el('div', { class: 'card-genres' }, genreTags) : null,
        m.overview ? el('p', { class: 'overview' }, m.overview) : el('p', { class: 'overview muted' }, 'No overview yet.'),
        el('dl', null,
          people(m.directors, 'director', (m.directors || []).length > 1 ? 'Directors' : 'Director'),
          people(m.cast, 'cast', 'Cast'),
          (m.keywords || []).length ? [el('dt', null, 'Keywords'), el('dd', null, m.keywords.join(', '))] : null,
          links.length ? [el('dt', null, 'Elsewhere'), el('dd', null, links.flatMap((a, i) => [i ? ' · ' : null, a]))] : null),
        el('p', { class: 'version' }, `Version ${m.version}`, m.updated_at ? ` · updated ${fmtWhen(m.updated_at)}` : ''),
        admin)));
  }

  function routeFromHash() {
    const m = /^#movie\/(\d+)$/.exec(location.hash);
    if (m) openMovie(m[1]);
    else if (movieDialog.open) movieDialog.close();
  }
  window.addEventListener('hashchange', () => {
    if (ignorePop) return;
    detailPushed = true;
    routeFromHash();
  });
  movieDialog.addEventListener('close', () => {
    if (!/^#movie\//.test(location.hash)) { detailsClosed(); return; }
    if (detailPushed) { // step back over the entry that opened the details; the popstate it causes is ours
      ignorePop = true;
      history.back(); // detailsClosed once it is done
    } else {
      history.replaceState(null, '', location.pathname + location.search);
      detailsClosed();
    }
  });

  // leaveDetails closes the details and then runs then (a new filter, say), once the address no longer
  // names the movie: run before, its entry would keep the movie's fragment and the step back would undo it.
  let afterDetails = null;
  function leaveDetails(then) {
    afterDetails = then;
    movieDialog.close();
  }

  // detailsClosed runs what leaveDetails asked for, or puts the focus back on the movie's card, which may
  // have been drawn again meanwhile, so that a keyboard user goes on from where they were.
  function detailsClosed() {
    const then = afterDetails;
    afterDetails = null;
    if (then) { then(); results.focus({ preventScroll: true }); return; }
    const id = movieDialog.dataset.id;
    const link = id && $(`#results .card[data-id="${CSS.escape(id)}"] a.card-link`);
    if (link) link.focus();
    else if (document.activeElement === document.body) results.focus({ preventScroll: true });
  }
  results.addEventListener('click', (e) => { // a card whose details are already in the address opens them again
    const a = e.target.closest('a.card-link');
    if (a && a.getAttribute('href') === location.hash) { e.preventDefault(); routeFromHash(); }
  });

  // ---------------------------------------------------------------------------------------------------
  // Signing in

  function decodeJWT(token) {
    try {
      const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(part), (c) => c.charCodeAt(0))));
    } catch { return {}; }
  }

  function isAdmin() { return Boolean(session && session.role === 'admin'); }

  // setSession adopts a token answer (from a sign-in or a renewal), or with null forgets the session. The
  // token is renewed when four fifths of its life are gone, so an open page stays signed in.
  let renewTimer = 0;
  let lastUsername = '';
  function setSession(data) {
    clearTimeout(renewTimer);
    if (data) {
      const claims = decodeJWT(data.access_token);
      const ttl = (Number(data.expires_in) || 900) * 1000;
      session = { token: data.access_token, username: claims.sub || '', role: claims.role || 'user', expiresAt: Date.now() + ttl };
      lastUsername = session.username;
      localStorage.setItem(SESSION_HINT, '1');
      renewTimer = setTimeout(refreshSession, ttl * 0.8);
    } else {
      session = null;
      localStorage.removeItem(SESSION_HINT);
    }
    renderAccount();
  }

  // refreshSession renews the access token with the session cookie: true if it did. One renewal runs at a
  // time in this page, and across tabs too (Web Locks), because each renewal rotates the cookie that every
  // tab shares: two tabs sending one cookie at once would look like a stolen copy and end the session.
  let renewing = null;
  let renewFailures = 0;
  function refreshSession() {
    if (!renewing) {
      const renew = async () => {
        try {
          const { data } = await request('POST', '/v1/auth/refresh', { body: {} });
          renewFailures = 0;
          setSession(data);
          return true;
        } catch (err) {
          if (err.status === 401) sessionEnded();
          else if (session || localStorage.getItem(SESSION_HINT)) {
            // Busy (429) or away: the session may well be alive, so a page signing in from it tries again too.
            clearTimeout(renewTimer);
            renewTimer = setTimeout(refreshSession, Math.min(60000, 5000 * 2 ** renewFailures++));
          }
          return false;
        }
      };
      renewing = (navigator.locks ? navigator.locks.request('marquee.session', renew) : renew())
        .finally(() => { renewing = null; });
    }
    return renewing;
  }

  // restoreSession signs a new page in from the session cookie, if this browser may have one. (Earlier
  // versions kept the token itself in sessionStorage: it goes.)
  function restoreSession() {
    sessionStorage.removeItem('marquee.session');
    renderAccount();
    if (localStorage.getItem(SESSION_HINT)) refreshSession();
  }

  // A sign-in or sign-out in another tab of this browser holds here too. Every tab hears of a sign-in at
  // once, so only with Web Locks (https or localhost) do they all renew then: unsynchronised, they would send
  // one cookie together and end the session.
  window.addEventListener('storage', (e) => {
    if (e.key !== SESSION_HINT) return;
    if (!e.newValue && session) sessionEnded();
    else if (e.newValue && !session && navigator.locks) refreshSession();
  });

  function sessionEnded() {
    const had = Boolean(session);
    setSession(null);
    if (had) toast('Your session has ended. Sign in again to make changes.', 'error');
  }

  function renderAccount() {
    $('#login-button').hidden = Boolean(session);
    $('#admin-bar').hidden = !session;
    if (session) {
      $('#who').textContent = session.username;
      $('#who-avatar').textContent = session.username.slice(0, 1);
      $('#who-role').textContent = isAdmin() ? 'admin' : 'read-only';
    }
    $$('[data-admin]').forEach((b) => { b.hidden = !isAdmin(); });
    if (current && movieDialog.open) renderMovie(current);
  }

  // askToSignIn opens the sign-in dialog, over any open dialog (the top layer stacks them), and runs then
  // after a successful sign-in: a save interrupted by the end of the session resumes without losing its form.
  let afterSignIn = null;
  function askToSignIn(note, then) {
    $('#login-error').hidden = true;
    $('#login-form').reset();
    $('#login-note').textContent = note || 'Admins can add, edit, import and delete movies.';
    openDialog($('#login-dialog'));
    afterSignIn = then || null;
    if (lastUsername) { $('#login-username').value = lastUsername; $('#login-password').focus(); }
    else $('#login-username').focus();
  }
  $('#login-dialog').addEventListener('close', () => { afterSignIn = null; });

  $('#login-button').addEventListener('click', () => askToSignIn());
  // Signing out revokes the session first, then tells the other tabs (setSession), so none renews it meanwhile.
  $('#logout-button').addEventListener('click', async () => {
    let told = true;
    try { await request('POST', '/v1/auth/logout', { body: {} }); } catch { told = false; }
    setSession(null);
    if (told) toast('Signed out.');
    else toast('Signed out here, but the server could not be told; the session ends when it expires.', 'error');
  });

  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const username = $('#login-username').value.trim();
    const password = $('#login-password').value;
    const errBox = $('#login-error');
    if (!username || !password) { errBox.textContent = 'Enter your username and password.'; errBox.hidden = false; return; }
    const btn = $('#login-submit');
    btn.disabled = true;
    try {
      const { data } = await api('POST', '/v1/auth/token', { body: { username, password, session: true } });
      setSession(data);
      const then = afterSignIn;
      $('#login-dialog').close();
      toast(`Signed in as ${session.username || username}.`);
      if (then) then();
    } catch (err) {
      errBox.textContent = err.status === 401 ? 'That username and password do not match.' : err.message;
      errBox.hidden = false;
      $('#login-password').select();
    } finally {
      btn.disabled = false;
    }
  });

  // ---------------------------------------------------------------------------------------------------
  // Create and edit

  const editDialog = $('#edit-dialog');
  const editForm = $('#edit-form');
  let editing = null; // {id, version, original, merged, by, conflicts} when editing, null when creating
  let idempotencyKey = '';
  const LIST_FIELDS = ['directors', 'cast', 'genres'];
  const INT_FIELDS = ['year', 'runtime_minutes', 'votes'];
  const NUM_FIELDS = ['rating', 'popularity'];
  const TEXT_FIELDS = ['title', 'overview', 'tagline', 'certification', 'poster_url'];
  const OPTIONAL_TEXT = ['tagline', 'certification', 'poster_url']; // left out of a new movie when empty

  function fillForm(m) {
    for (const f of [...TEXT_FIELDS, ...LIST_FIELDS, ...INT_FIELDS, ...NUM_FIELDS]) setField(f, m && m[f]);
  }

  /** setField shows one field's value in the form, as fillForm does for a whole movie. */
  function setField(f, v) {
    const input = editForm.elements[f];
    if (TEXT_FIELDS.includes(f)) input.value = v || '';
    else if (LIST_FIELDS.includes(f)) input.value = (v || []).join(', ');
    else input.value = v !== null && v !== undefined ? String(v) : '';
  }

  function clearErrors() {
    $('#edit-error').hidden = true;
    $('#edit-error').replaceChildren();
    for (const p of $$('.field-error', editForm)) p.textContent = '';
    for (const i of $$('[aria-invalid]', editForm)) i.removeAttribute('aria-invalid');
  }

  function fieldError(field, msg) {
    const input = editForm.elements[field];
    const p = $(`#e-${field}`);
    if (!input || !p) return false;
    input.setAttribute('aria-invalid', 'true');
    p.textContent = msg;
    return true;
  }

  function openEditor(m) {
    editing = m ? { id: m.id, version: m.version, original: m, merged: [], by: [], conflicts: null } : null;
    idempotencyKey = randomKey();
    $('#edit-title').textContent = m ? `Edit “${m.title}”` : 'New movie';
    $('#edit-submit').textContent = m ? 'Save changes' : 'Create movie';
    clearErrors();
    clearConflicts();
    fillForm(m);
    openDialog(editDialog);
    editForm.elements.title.focus();
  }

  function collect() {
    const body = {};
    const problems = {};
    for (const f of TEXT_FIELDS) {
      const v = editForm.elements[f].value.trim();
      if (OPTIONAL_TEXT.includes(f) && !v) continue;
      body[f] = v;
    }
    for (const f of LIST_FIELDS) body[f] = editForm.elements[f].value.split(',').map((s) => s.trim()).filter(Boolean);
    for (const f of INT_FIELDS) {
      const raw = editForm.elements[f].value.trim();
      if (!raw) { body[f] = null; continue; }
      const n = Number(raw);
      if (!Number.isInteger(n)) problems[f] = 'must be a whole number';
      else body[f] = n;
    }
    for (const f of NUM_FIELDS) {
      const raw = editForm.elements[f].value.trim();
      if (!raw) { body[f] = null; continue; }
      const n = Number(raw);
      if (!Number.isFinite(n)) problems[f] = 'must be a number';
      else body[f] = n;
    }
    if (!body.title) problems.title = 'is required';
    if (typeof body.rating === 'number' && (body.rating < 0 || body.rating > 10)) problems.rating = 'must be between 0 and 10';
    if (body.poster_url && !/^https?:\/\//i.test(body.poster_url)) problems.poster_url = 'must be an http(s) URL';
    return { body, problems };
  }

  // changes is the JSON merge patch from the movie as it was opened to the form's values: only what the person
  // changed, so that fields the form does not show (keywords, tags, source ids…) are never overwritten, and an
  // emptied optional field is removed (null).
  function changes(original, body) {
    const patch = {};
    const norm = (f, v) => {
      if (LIST_FIELDS.includes(f)) return v || [];
      if (OPTIONAL_TEXT.includes(f) || INT_FIELDS.includes(f) || NUM_FIELDS.includes(f)) return v === '' || v === undefined ? null : v;
      return v === undefined || v === null ? '' : v;
    };
    for (const f of [...TEXT_FIELDS, ...LIST_FIELDS, ...INT_FIELDS, ...NUM_FIELDS]) {
      const had = norm(f, original[f]);
      const now = norm(f, body[f]);
      if (JSON.stringify(had) !== JSON.stringify(now)) patch[f] = now;
    }
    return patch;
  }

  function showProblems(problems, summary) {
    let first = null;
    const unplaced = [];
    for (const [field, msg] of Object.entries(problems)) {
      const name = field.replace(/\[\d+\]$/, '').replace(/\.\d+$/, '');
      if (fieldError(name, msg)) first = first || editForm.elements[name];
      else unplaced.push(`${field} ${msg}`);
    }
    const box = $('#edit-error');
    box.replaceChildren(...[el('p', null, summary || 'Please correct the fields marked below.'), unplaced.length ? el('p', null, unplaced.join('; ')) : null].filter(Boolean));
    box.hidden = false;
    if (first) {
      first.focus({ preventScroll: true });
      // The message is under the field, and the sticky buttons at the dialog's foot would cover it.
      $(`#e-${first.name}`).scrollIntoView({ block: 'nearest' });
    }
  }

  editForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    const { body, problems } = collect();
    if (Object.keys(problems).length) { showProblems(problems); return; }
    const patch = editing ? changes(editing.original, body) : null;
    if (patch && !Object.keys(patch).length) { editDialog.close(); toast('Nothing to save: no field changed.'); return; }
    const btn = $('#edit-submit');
    btn.disabled = true;
    formBusy(true); // a merge refills the form from what was sent: typing meanwhile would be lost
    try {
      const saved = editing
        ? await saveEdit(patch)
        : (await api('POST', '/v1/movies', { body, auth: true, headers: { 'Idempotency-Key': idempotencyKey } })).data;
      if (!saved) return; // conflicts for the person to decide are marked in the form; nothing was saved
      editDialog.close();
      if (editing && editing.merged.length) toast(mergedNote(saved), 'long');
      else toast(editing ? `Saved “${saved.title}”.` : `Created “${saved.title}”.`);
      if (movieDialog.open && current && current.id === saved.id) { current = saved; renderMovie(saved); }
      afterWrite(saved.id, saved.version);
    } catch (err) {
      if (err.problem && err.problem.errors && Object.keys(err.problem.errors).length) showProblems(err.problem.errors, err.message);
      else if (err.status === 401) {
        showProblems({}, 'Your session has ended. Sign in to save your changes; they are kept.');
        askToSignIn('Your session has ended. Sign in to save your changes; they are kept.', () => editForm.requestSubmit());
      } else if (err.status === 403) showProblems({}, 'Only admins can change movies.');
      else showProblems({}, err.message);
    } finally {
      btn.disabled = false;
      formBusy(false);
    }
  });

  /** formBusy makes the form's fields read-only (not disabled: the focus stays) while a save is under way,
   * and the dialog impossible to close: a save that merges goes on after its waits, and must not go on into a
   * form closed meanwhile, or opened for another movie. */
  function formBusy(busy) {
    if (busy) editForm.setAttribute('aria-busy', 'true'); else editForm.removeAttribute('aria-busy');
    for (const input of $$('input, textarea', editForm)) input.readOnly = busy;
    for (const b of $$('[data-close]', editDialog)) b.disabled = busy;
  }
  editDialog.addEventListener('cancel', (e) => { if (editForm.hasAttribute('aria-busy')) e.preventDefault(); }); // Esc

  // ---------------------------------------------------------------------------------------------------
  // Edit conflicts: when someone else saved the movie after the form was opened, the form is merged with
  // their version field by field (base: the movie as opened; mine: the form; theirs: the latest version).
  // A field changed on one side only takes that side's value; a field both changed to different values is a
  // conflict for the person to decide. Nothing they typed is thrown away, and nothing of theirs is overwritten
  // without the person seeing it.

  /** saveEdit saves patch (the form's changes to editing.original) and returns the saved movie, or null when
   * conflicts are left for the person to decide. A refused save (412) is merged and, without conflicts, saved
   * again on top of the latest version, as often as someone else keeps saving first. */
  async function saveEdit(patch) {
    if (markConflicts()) return null;
    for (;;) {
      try {
        const r = await api('PATCH', `/v1/movies/${editing.id}`, { body: patch, auth: true, headers: { 'If-Match': `"${editing.version}"` } });
        return r.data;
      } catch (err) {
        if (err.status === 404) throw deletedMeanwhile();
        if (err.status !== 412) throw err;
      }
      const latest = await latestAfter(editing.id, editing.version);
      const by = await whoChanged(editing.id, editing.version, latest.version);
      const theirs = changes(editing.original, latest);
      const mine = {};
      const conflicts = {};
      for (const [f, v] of Object.entries(patch)) {
        if (!(f in theirs)) mine[f] = v;
        else if (JSON.stringify(v) !== JSON.stringify(theirs[f])) conflicts[f] = { mine: v, theirs: theirs[f] };
        // else: both made the same change, which the latest version already holds
      }
      editing.original = latest;
      editing.version = latest.version;
      editing.merged = [...new Set([...editing.merged, ...Object.keys(theirs)])];
      editing.by = [...new Set([...editing.by, ...by])];
      fillForm(latest);
      for (const [f, v] of Object.entries(mine)) setField(f, v);
      $('#edit-title').textContent = `Edit “${latest.title}”`;
      if (current && current.id === latest.id) { current = latest; renderMovie(latest); }
      if (Object.keys(conflicts).length) {
        showConflicts(conflicts, Object.keys(theirs).filter((f) => !(f in conflicts)), by);
        return null;
      }
      if (!Object.keys(mine).length) return latest; // they made every change the person made
      patch = mine;
    }
  }

  function deletedMeanwhile() {
    return new ApiError(404, { detail: 'This movie was deleted after you opened it; nothing was saved.' });
  }

  /** latestAfter reads the movie once the read model holds a version after `version`: it may be a moment
   * behind the catalog that refused the save, and merging with an older version would lose their change. */
  async function latestAfter(id, version) {
    for (let i = 0; i < 20; i++) {
      let m;
      try {
        m = (await api('GET', `/v1/movies/${id}`)).data;
      } catch (err) {
        throw err.status === 404 ? deletedMeanwhile() : err;
      }
      if (m.version > version) return m;
      await sleep(150);
    }
    throw new ApiError(503, { detail: 'Someone else changed this movie, but their version cannot be read yet; nothing was saved. Save again in a moment.' });
  }

  /** whoChanged names the accounts that saved the movie after version `from` up to `to`, from its history;
   * it is only a courtesy, so without a history it names no one. */
  async function whoChanged(id, from, to) {
    try {
      const { data } = await api('GET', `/v1/movies/${id}/history`, { auth: true });
      const name = await actorNames();
      const entries = ((data && data.history) || []).filter((h) => h.version > from && h.version <= to && h.actor);
      return [...new Set(entries.map((h) => name(h.actor) || h.actor))];
    } catch (_) {
      return [];
    }
  }

  /** fieldLabel names a form field as its label does, without the hint in parentheses. */
  function fieldLabel(f) {
    const label = editForm.elements[f].labels[0];
    return label ? label.firstChild.textContent.replace(/\s*\(.*\)\s*$/, '').trim() : f;
  }

  function listOf(fields, names = fields.map(fieldLabel)) {
    return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names.join('');
  }

  function mergedNote(saved) {
    const what = `the ${editing.merged.length > 1 ? 'changes' : 'change'} ${editing.by.length ? listOf(editing.by, editing.by) : 'someone'} made to ${listOf(editing.merged)} meanwhile`;
    return saved.version === editing.version
      ? `Someone else made the same changes meanwhile; nothing left to save (version ${saved.version}).`
      : `Merged with ${what}; saved version ${saved.version}.`;
  }

  /** showConflicts marks each field both sides changed, with their value and the person's, and a choice
   * between them; until the person chooses, the field shows their own value. */
  function showConflicts(conflicts, merged, by) {
    clearConflicts();
    editing.conflicts = conflicts;
    for (const [f, c] of Object.entries(conflicts)) {
      setField(f, c.mine);
      const label = fieldLabel(f);
      const id = `c-${f}`;
      const box = el('div', { class: 'conflict', id, role: 'group', 'aria-label': `${label}: changed by someone else too` },
        el('table', { class: 'diff' }, el('tbody', null,
          el('tr', null, el('th', { scope: 'row' }, `Theirs (version ${editing.version}${by.length ? `, by ${listOf(by, by)}` : ''})`), el('td', null, el('del', null, fmtValue(c.theirs))),
            el('td', null, el('button', { type: 'button', class: 'btn', id: `take-theirs-${f}`, onclick: () => decide(f, { value: c.theirs }) },
              'Take theirs', el('span', { class: 'visually-hidden' }, ` for ${label}`)))),
          el('tr', null, el('th', { scope: 'row' }, 'Yours'), el('td', null, el('ins', null, fmtValue(c.mine))),
            el('td', null, el('button', { type: 'button', class: 'btn', id: `keep-mine-${f}`, onclick: () => decide(f) },
              'Keep mine', el('span', { class: 'visually-hidden' }, ` for ${label}`)))))));
      $(`#e-${f}`).after(box);
      const input = editForm.elements[f];
      input.setAttribute('aria-describedby', `${input.getAttribute('aria-describedby') || ''} ${id}`.trim());
    }
    const both = Object.keys(conflicts);
    $('#edit-error').replaceChildren(
      el('p', null, el('strong', null, `Changed by ${by.length ? listOf(by, by) : 'someone else'} after you opened it; nothing was saved yet.`)),
      el('p', null, merged.length ? `Their ${merged.length > 1 ? 'changes' : 'change'} to ${listOf(merged)} ${merged.length > 1 ? 'are' : 'is'} in the form with yours. ` : '',
        `You both changed ${listOf(both)}: keep yours or take theirs for each marked field, then save on top of version ${editing.version}.`));
    markConflicts();
  }

  /** markConflicts marks the undecided conflicts (again: a submit clears the marks) and focuses the first. */
  function markConflicts() {
    const left = Object.keys(editing.conflicts || {});
    if (!left.length) return false;
    for (const f of left) fieldError(f, 'Changed by someone else too: keep yours or take theirs.');
    const box = $('#edit-error');
    if (!box.childElementCount) box.replaceChildren(el('p', null, `Keep yours or take theirs for ${listOf(left)}, then save.`));
    box.hidden = false;
    editForm.elements[left[0]].focus();
    return true;
  }

  /** decide settles a conflict: with theirs, their value replaces the field's; without, the field keeps what
   * is in it (the person's value, or what they typed since), and the saved note no longer counts their change. */
  function decide(f, theirs) {
    if (theirs) setField(f, theirs.value);
    else editing.merged = editing.merged.filter((m) => m !== f);
    delete editing.conflicts[f];
    unmarkConflict(f);
    const next = Object.keys(editing.conflicts)[0];
    if (next) { editForm.elements[next].focus(); return; }
    $('#edit-error').replaceChildren(el('p', null, `Every conflict is decided. Save to store the result on top of version ${editing.version}.`));
    $('#edit-submit').focus();
  }

  function unmarkConflict(f) {
    const input = editForm.elements[f];
    $(`#c-${f}`)?.remove();
    input.setAttribute('aria-describedby', input.getAttribute('aria-describedby').split(' ').filter((id) => id !== `c-${f}`).join(' '));
    input.removeAttribute('aria-invalid');
    $(`#e-${f}`).textContent = '';
  }

  function clearConflicts() {
    for (const box of $$('.conflict', editForm)) unmarkConflict(box.id.slice(2));
  }

  /** afterWrite waits until search has the written version (or the delete), then refreshes what is shown. */
  async function afterWrite(id, version, deleted) {
    for (let i = 0; i < 50; i++) {
      try {
        const { data } = await api('GET', `/v1/movies/${id}`);
        if (!deleted && data.version >= version) break;
      } catch (e) {
        if (deleted && e.status === 404) break;
      }
      await sleep(150);
    }
    // Any min_version makes search answer from the index as it is after that wait, which holds the write
    // (a delete too, whose version the page does not know).
    search({ minVersion: `${id}:${version}` });
  }

  $('#new-button').addEventListener('click', () => openEditor(null));

  // ---------------------------------------------------------------------------------------------------
  // Delete

  function confirmDialog(title, text, okLabel) {
    const d = $('#confirm-dialog');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-ok').textContent = okLabel;
    d.returnValue = '';
    openDialog(d);
    return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
  }

  async function deleteMovie(m) {
    const ok = await confirmDialog(`Delete “${m.title}”?`, 'It will be removed from the catalog and from search. This cannot be undone.', 'Delete movie');
    if (!ok) return;
    try {
      await api('DELETE', `/v1/movies/${m.id}`, { auth: true, headers: { 'If-Match': `"${m.version}"` } });
      movieDialog.close();
      toast(`Deleted “${m.title}”.`);
      afterWrite(m.id, m.version, true);
    } catch (err) {
      if (err.status === 412) {
        toast('Someone else changed this movie meanwhile; showing the latest version. Nothing was deleted.', 'error');
        openMovie(m.id);
      } else {
        toast(err.message, 'error');
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Import

  const importDialog = $('#import-dialog');
  $('#import-button').addEventListener('click', () => {
    $('#import-form').reset();
    $('#import-error').hidden = true;
    $('#import-summary').replaceChildren();
    openDialog(importDialog);
  });

  $('#import-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const file = $('#import-file').files[0];
    const errBox = $('#import-error');
    errBox.hidden = true;
    if (!file) { errBox.textContent = 'Choose a file to import.'; errBox.hidden = false; return; }
    const btn = $('#import-submit');
    btn.disabled = true;
    btn.textContent = 'Importing…';
    try {
      const bytes = new Uint8Array(await file.arrayBuffer());
      const gz = bytes[0] === 0x1f && bytes[1] === 0x8b;
      const name = file.name.replace(/\.gz$/i, '');
      const headers = { 'Content-Type': /\.(jsonl|ndjson)$/i.test(name) ? 'application/x-ndjson' : 'application/json' };
      if (gz) headers['Content-Encoding'] = 'gzip';
      const { data } = await api('POST', '/v1/imports', { body: new Blob([bytes]), headers, auth: true });
      renderImport(data || {});
      searchAfterImport(data || {});
    } catch (err) {
      errBox.textContent = err.status === 404 ? 'This server does not accept imports yet.'
        : err.status === 413 ? `The file is too large. ${err.message}` : err.message;
      errBox.hidden = false;
    } finally {
      btn.disabled = false;
      btn.textContent = 'Import';
    }
  });

  /** searchAfterImport shows results that hold what the import wrote: search waits for the last movie it
   * created or updated. The relay publishes in order, so the others are nearly always applied by then; one
   * it had to send again after a failure may come a moment later. */
  function searchAfterImport(s) {
    const written = (Array.isArray(s.results) ? s.results : []).filter((r) => r.id && r.version && (r.status === 'created' || r.status === 'updated'));
    const last = written[written.length - 1];
    search(last ? { minVersion: `${last.id}:${last.version}` } : {});
  }

  function renderImport(s) {
    const tiles = ['total', 'created', 'updated', 'unchanged', 'failed'].map((k) =>
      el('div', null, el('strong', null, numberFmt.format(Number(s[k]) || 0)), el('span', null, k)));
    const rows = (Array.isArray(s.results) ? s.results : []).slice()
      .sort((a, b) => (statusOf(b) === 'failed') - (statusOf(a) === 'failed'));
    const table = rows.length ? el('div', { class: 'table-wrap' }, el('table', null,
      el('thead', null, el('tr', null, el('th', null, '#'), el('th', null, 'Result'), el('th', null, 'Movie'), el('th', null, 'Details'))),
      el('tbody', null, rows.map((r, i) => el('tr', null,
        el('td', null, String(r.index ?? r.line ?? r.record ?? i + 1)),
        el('td', null, el('span', { class: `status-pill ${statusOf(r)}` }, statusOf(r))),
        el('td', null, [r.title, r.id ? `#${r.id}` : null].filter(Boolean).join(' ')),
        el('td', null, importDetail(r))))))) : null;
    $('#import-summary').replaceChildren(...[el('div', { class: 'summary' }, tiles), table].filter(Boolean));
  }
  function statusOf(r) { return String(r.status || r.action || r.result || (r.error || r.errors ? 'failed' : 'ok')); }
  function importDetail(r) {
    if (r.errors && typeof r.errors === 'object') return Object.entries(r.errors).map(([k, v]) => `${k}: ${v}`).join('; ');
    return r.error || r.detail || (r.version ? `version ${r.version}` : '');
  }

  // ---------------------------------------------------------------------------------------------------
  // History

  /** actorNames returns a function naming an account by the stable id histories use (user:<id>): its
   * current username where there is one, else ''. */
  async function actorNames() {
    const names = {};
    try {
      const { data: users } = await api('GET', '/v1/users', { auth: true });
      for (const u of (users && users.users) || []) if (u.actor) names[u.actor] = u.username;
    } catch (_) { /* ids alone still say who */ }
    return (actor) => names[actor] || (actor.startsWith('import:') && names[actor.slice(7)] ? `import by ${names[actor.slice(7)]}` : '');
  }

  async function openHistory(m) {
    const body = $('#history-body');
    $('#history-title').textContent = `History of “${m.title}”`;
    body.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
    openDialog($('#history-dialog'));
    try {
      const { data } = await api('GET', `/v1/movies/${m.id}/history`, { auth: true });
      const nameOf = await actorNames();
      const who = (actor) => {
        const name = nameOf(actor);
        return name ? `${name} (${actor})` : actor;
      };
      const entries = (data && Array.isArray(data.history) ? data.history : []).slice().sort((a, b) => b.version - a.version);
      if (!entries.length) { body.replaceChildren(el('p', { class: 'muted' }, 'No history recorded.')); return; }
      body.replaceChildren(el('ol', { class: 'timeline' }, entries.map((h) => el('li', null,
        el('div', null, el('strong', null, `Version ${h.version}`), ` · ${h.action || 'changed'}`, h.actor ? ` by ${who(h.actor)}` : ''),
        el('div', { class: 'when', title: h.at || '' }, h.at ? `${fmtWhen(h.at)} · ${new Date(h.at).toLocaleString()}` : ''),
        h.changes && Object.keys(h.changes).length ? el('table', { class: 'diff' }, el('tbody', null,
          Object.entries(h.changes).map(([field, c]) => el('tr', null, el('td', null, field),
            el('td', null, c && 'from' in c && c.from !== null && c.from !== undefined && h.action !== 'created' ? [el('del', null, fmtValue(c.from)), ' → '] : null,
              el('ins', null, fmtValue(c ? c.to : c))))))) : null))));
    } catch (err) {
      body.replaceChildren(el('p', { class: 'muted' }, err.status === 404 ? 'This server does not keep movie history yet.'
        : err.status === 401 || err.status === 403 ? 'Only admins can see the history.' : err.message));
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Readiness: a server that starts over an empty index (a new machine over the same database) answers
  // from what it has indexed so far; say so, with the progress /readyz reports, until it is ready.

  async function watchReadiness() {
    const box = $('#readiness');
    let r;
    try { r = await fetch('/readyz', { headers: { Accept: 'application/json' } }); } catch (_) { return; }
    if (r.ok) {
      if (!box.hidden) { box.hidden = true; search(); }
      return;
    }
    let detail = '';
    try { detail = (await r.json()).detail || ''; } catch (_) { /* no detail: a generic notice */ }
    const rebuilding = /Rebuilding the search index from the database: (\d+) of (\d+)/.exec(detail);
    const catching = /The search index is catching up: (\d+) events? behind/.exec(detail);
    box.textContent = rebuilding ? `Rebuilding the search index: ${Number(rebuilding[1]).toLocaleString()} of ${Number(rebuilding[2]).toLocaleString()} movies. Results so far are shown.`
      : catching ? `The search index is catching up: ${Number(catching[1]).toLocaleString()} changes to go. Results so far are shown.`
      : 'The service is starting; results may be incomplete.';
    box.hidden = false;
    setTimeout(watchReadiness, 2000);
  }

  // ---------------------------------------------------------------------------------------------------
  // Start

  function skeleton() {
    results.replaceChildren(...Array.from({ length: 12 }, () => el('li', { class: 'card skeleton', 'aria-hidden': 'true' },
      el('div', { class: 'poster' }), el('div', { class: 'line' }), el('div', { class: 'line short' }))));
  }

  readURL();
  syncControls();
  restoreSession();
  skeleton();
  search();
  watchReadiness();
  if (location.hash) routeFromHash();
})();
