// fledge dashboard: the browser side of `kubectl fledge dashboard`.
//
// Hand-written, no framework and no build step: the three assets are embedded in the binary.
// Two views behind hash routes, each fed by one EventSource:
//   #/          every Canary        <- /api/stream                   (event: list)
//   #/NS/NAME   one Canary          <- /api/canaries/NS/NAME/stream  (event: detail, gone)
// The page never reloads: each push re-renders the parts of the view whose data changed.
// All text goes in through textContent / createTextNode, never innerHTML, so nothing the
// cluster says (names, messages, Events) can inject markup.
'use strict';

(() => {
  // ------------------------------------------------------------------------------------------
  // Token and config
  // ------------------------------------------------------------------------------------------

  const TOKEN_KEY = 'fledge-token';
  const NO_TOKEN = 'open the URL printed by kubectl fledge dashboard (it carries the token)';

  // The token arrives once, in `?token=` of the URL the CLI printed. It is kept in
  // sessionStorage (this tab only) so it survives hash navigation and reloads, and taken out of
  // the address bar so it does not end up in screenshots, bookmarks or shared links.
  function initToken() {
    const params = new URLSearchParams(location.search);
    const fromUrl = params.get('token');
    if (fromUrl) {
      try { sessionStorage.setItem(TOKEN_KEY, fromUrl); } catch (_) { /* storage disabled */ }
      params.delete('token');
      const q = params.toString();
      history.replaceState(null, '', location.pathname + (q ? '?' + q : '') + location.hash);
      return fromUrl;
    }
    try { return sessionStorage.getItem(TOKEN_KEY) || ''; } catch (_) { return ''; }
  }

  const token = initToken();
  let config = { readOnly: false, namespace: null };

  // ------------------------------------------------------------------------------------------
  // DOM helpers
  // ------------------------------------------------------------------------------------------

  const $ = (sel, root = document) => root.querySelector(sel);

  function append(el, children) {
    for (const c of children) {
      if (c == null || c === false) continue;
      if (Array.isArray(c)) append(el, c);
      else el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      // Styles through the CSSOM, not a style="" attribute, so a strict Content-Security-Policy
      // (no 'unsafe-inline') on the server does not block them.
      else if (k === 'style') Object.assign(el.style, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    return el;
  }

  // h('a', {href: '#/'}, 'text', child, [more]) -> element; strings become text nodes.
  function h(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  // Replace a container's children only when the data it shows changed, so an unchanged part
  // keeps its scroll position, text selection and keyboard focus across pushes. When it does
  // change, focus moves to the new element with the same data-focus-key, if any.
  function patch(el, data, render) {
    const key = JSON.stringify(data);
    if (el.__memo === key) return;
    el.__memo = key;
    const active = document.activeElement;
    const focusKey = active && el.contains(active) ? active.getAttribute('data-focus-key') : null;
    el.replaceChildren();
    append(el, [render()]);
    if (focusKey) {
      const again = el.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
      if (again) again.focus();
    }
  }

  // ------------------------------------------------------------------------------------------
  // Formatting
  // ------------------------------------------------------------------------------------------

  const pad2 = (n) => String(n).padStart(2, '0');

  function fmtDur(sec) {
    sec = Math.max(0, Math.round(sec));
    if (sec < 60) return `${sec}s`;
    const m = Math.floor(sec / 60), r = sec % 60;
    if (m < 60) return r ? `${m}m ${r}s` : `${m}m`;
    const hr = Math.floor(m / 60), rm = m % 60;
    if (hr < 24) return rm ? `${hr}h ${rm}m` : `${hr}h`;
    const d = Math.floor(hr / 24), rh = hr % 24;
    return rh ? `${d}d ${rh}h` : `${d}d`;
  }

  function fmtClock(ms, seconds = true) {
    const d = new Date(ms);
    const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
    return seconds ? `${hm}:${pad2(d.getSeconds())}` : hm;
  }

  function fmtAgo(iso) {
    const t = Date.parse(iso);
    if (Number.isNaN(t)) return '';
    const sec = (Date.now() - t) / 1000;
    return sec >= 0 ? `${fmtDur(sec)} ago` : `in ${fmtDur(-sec)}`;
  }

  // Up to 3 decimals, no trailing zeros: 42.1, 99.877, 500.
  function fmtNum(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
    return String(Math.round(v * 1000) / 1000);
  }

  // A time that stays current: the tick below rewrites "5s ago" without a push.
  function ago(iso) {
    if (!iso) return h('span', { class: 'muted' }, '—');
    return h('time', { datetime: iso, title: iso, 'data-ago': iso }, fmtAgo(iso));
  }

  // An age the server gave in seconds at push time; the tick adds the time since.
  function age(seconds) {
    if (seconds == null) return h('span', { class: 'muted' }, '—');
    return h('span', { 'data-age': seconds, 'data-at': Date.now() }, fmtDur(seconds));
  }

  function tick() {
    for (const el of document.querySelectorAll('[data-ago]')) el.textContent = fmtAgo(el.getAttribute('data-ago'));
    for (const el of document.querySelectorAll('[data-age]')) {
      const base = Number(el.getAttribute('data-age')), at = Number(el.getAttribute('data-at'));
      el.textContent = fmtDur(base + (Date.now() - at) / 1000);
    }
    for (const el of document.querySelectorAll('[data-until]')) {
      el.textContent = fmtDur((Number(el.getAttribute('data-until')) - Date.now()) / 1000);
    }
  }
  setInterval(tick, 5000);

  const shortRev = (rev) => (rev ? String(rev).slice(0, 10) : '—');

  // ------------------------------------------------------------------------------------------
  // Status vocabulary: a symbol, a word and a class for each state (never colour alone)
  // ------------------------------------------------------------------------------------------

  const RUNNING = new Set(['Initializing', 'Progressing', 'Promoting', 'Finalising']);
  const WAITING = new Set(['Waiting', 'WaitingPromotion']);

  function phaseLook(phase, paused) {
    if (paused) return { cls: 'st-paused', sym: '‖' };
    if (phase === 'Succeeded' || phase === 'Initialized') return { cls: 'st-ok', sym: '✔' };
    if (phase === 'Failed') return { cls: 'st-bad', sym: '✖' };
    if (RUNNING.has(phase)) return { cls: 'st-run', sym: '◌' };
    if (WAITING.has(phase)) return { cls: 'st-wait', sym: '◷' };
    if (phase === 'Terminating' || phase === 'Terminated') return { cls: 'st-none', sym: '⊘' };
    return { cls: 'st-none', sym: '?' };
  }

  // <span class="phase"><sym/> <text/></span>; textAttrs go on the text (data-testid=phase).
  // `still`: no spinning symbol (lists of past or planned steps; one spinner is enough).
  function phaseBadge(phase, paused, textAttrs, still) {
    const look = phaseLook(phase, paused);
    return h('span', { class: `phase ${look.cls}${still ? ' still' : ''}` },
      h('span', { class: 'sym', 'aria-hidden': 'true' }, look.sym), ' ',
      h('span', textAttrs || {}, phase || '—'));
  }

  // Symbols are chosen from the blocks every common font has (DejaVu, Liberation, system UI
  // fonts): a missing glyph would show as an empty box. ‖ = paused, ◷ = waiting.
  const VERDICT_SYM = { Pass: '✔', Fail: '✖', Skipped: '–', Inconclusive: '?' };
  const VERDICT_WORD = { Pass: 'passing', Fail: 'failing', Skipped: 'skipped', Inconclusive: 'inconclusive' };

  function verdictBadge(verdict) {
    if (!verdict) return h('span', { class: 'muted' }, 'not run yet');
    return h('span', { class: `verdict-${verdict}` }, `${VERDICT_SYM[verdict] || ''} ${verdict}`);
  }

  const OUTCOME_LOOK = {
    Succeeded: { cls: 'st-ok', sym: '✔' },
    Failed: { cls: 'st-bad', sym: '✖' },
    Superseded: { cls: 'st-none', sym: '↷' },
  };

  function badges(summary) {
    return [
      summary.paused && h('span', { class: 'badge warn', 'data-testid': 'paused' }, '‖ paused'),
      summary.suspended && h('span', { class: 'badge warn', 'data-testid': 'suspended' }, '‖ suspended'),
      summary.ready === false && h('span', { class: 'badge', title: 'the Ready condition is False' }, 'not ready'),
    ];
  }

  // A bar of value/max with an optional marker (maxWeight), and its label.
  function bar(value, max, label, title, marker) {
    const pct = max > 0 ? Math.max(0, Math.min(100, (100 * value) / max)) : 0;
    return h('span', { class: 'wbar', title },
      h('span', { class: 'track', 'aria-hidden': 'true' },
        h('span', { class: 'fill', style: { width: `${pct}%` } }),
        marker != null && h('span', { class: 'max', style: { left: `calc(${Math.min(100, marker)}% - 1px)` } })),
      h('span', { class: 'label' }, label));
  }

  // Weight for the canary strategy; iteration i/total for blue-green and A/B testing.
  function progress(sum) {
    const w = sum.canaryWeight || 0;
    if (isIterMode(sum)) {
      const i = sum.iterations || 0, n = sum.totalIterations;
      return bar(i, n, `${i}/${n}`, `iteration ${i} of ${n}`);
    }
    // The list names the step only while a release is under way ("step 0/5" after one ends
    // says nothing); the detail page always shows it.
    const st = RUNNING.has(sum.phase) || WAITING.has(sum.phase) ? stepFacts(sum) : null;
    const title = (sum.maxWeight != null ? `canary weight ${w}% (max ${sum.maxWeight}%)` : `canary weight ${w}%`) +
      (st ? `, step ${st.text}` : '');
    return h('span', { class: 'progress' }, bar(w, 100, `${w}%`, title, sum.maxWeight),
      st ? h('span', { class: 'muted small step' }, `step ${st.step}/${st.total}`) : null);
  }

  function checksText(sum) {
    const failed = sum.failedChecks || 0;
    return h('span', {
      class: failed > 0 ? 'failing nowrap' : 'nowrap',
      title: `${failed} failed checks; rolled back at ${sum.threshold}`,
    }, failed > 0 ? `✖ ${failed}/${sum.threshold}` : `${failed}/${sum.threshold}`);
  }

  // Full references by default; `short` keeps the last path segment (podinfo:6.1.0) for
  // narrow tables, with the full reference as a tooltip.
  function imagesList(images, short) {
    if (!images || !images.length) return h('span', { class: 'muted' }, '—');
    return h('span', { class: 'images' }, images.map((i) =>
      h('code', { title: i }, short ? i.slice(i.lastIndexOf('/') + 1) : i)));
  }

  // ------------------------------------------------------------------------------------------
  // Live streams
  // ------------------------------------------------------------------------------------------

  let stream = null; // { es, timer, closed } of the current view

  function setLive(state) {
    const el = $('#live');
    el.setAttribute('data-state', state);
    el.textContent = { live: 'live', reconnecting: 'reconnecting…', connecting: 'connecting…' }[state] || state;
  }

  function closeStream() {
    if (!stream) return;
    stream.closed = true;
    clearTimeout(stream.timer);
    if (stream.es) stream.es.close();
    stream = null;
  }

  // EventSource retries by itself after a dropped connection, but gives up for good when the
  // server answers with an error status (e.g. restarted with a new port). Then we open a new
  // one ourselves, backing off up to 30 s; onGiveUp lets the view find out why.
  function openStream(url, handlers, onGiveUp) {
    closeStream();
    const me = { es: null, timer: null, closed: false };
    stream = me;
    let delay = 2000;
    const connect = () => {
      if (me.closed) return;
      const es = new EventSource(url);
      me.es = es;
      es.onopen = () => { delay = 2000; setLive('live'); };
      es.onerror = () => {
        if (me.closed) return;
        setLive('reconnecting');
        if (es.readyState === EventSource.CLOSED) {
          if (onGiveUp) onGiveUp();
          me.timer = setTimeout(connect, delay);
          delay = Math.min(delay * 2, 30000);
        }
      };
      for (const [name, fn] of Object.entries(handlers)) {
        es.addEventListener(name, (ev) => {
          if (me.closed) return;
          let data;
          try { data = JSON.parse(ev.data); } catch (err) {
            console.warn(`fledge: bad ${name} event`, err);
            return;
          }
          setLive('live');
          fn(data);
        });
      }
    };
    setLive('connecting');
    connect();
  }

  // ------------------------------------------------------------------------------------------
  // Routing
  // ------------------------------------------------------------------------------------------

  const enc = encodeURIComponent;
  const detailHref = (ns, name) => `#/${enc(ns)}/${enc(name)}`;

  function route() {
    closeStream();
    const dlg = $('#confirm');
    if (dlg.open) dlg.close('no');
    const m = location.hash.match(/^#\/([^/]+)\/([^/]+)\/?$/);
    if (m) detailView(decodeURIComponent(m[1]), decodeURIComponent(m[2]));
    else listView();
  }

  function setCrumbs(...parts) {
    const nav = $('#crumbs');
    nav.replaceChildren();
    append(nav, [h('a', { href: '#/' }, 'Canaries'), parts.map((p) => [' › ', p])]);
  }

  // ------------------------------------------------------------------------------------------
  // List view
  // ------------------------------------------------------------------------------------------

  function listView() {
    document.title = 'Canaries · fledge';
    setCrumbs();
    const counts = h('p', { class: 'muted small', 'data-testid': 'counts' });
    const body = h('tbody');
    const main = $('#main');
    main.replaceChildren(
      h('h1', {}, 'Canaries'),
      counts,
      h('div', { class: 'scroll' },
        h('table', { class: 'list-table', 'data-testid': 'canary-list' },
          h('thead', {}, h('tr', {},
            ['Name', 'Phase', 'Progress', 'Failed checks', 'Images', 'Age', 'Last event'].map((t) =>
              h('th', { scope: 'col', class: t === 'Failed checks' ? 'num' : null }, t)))),
          body)));

    openStream('/api/stream', {
      list: (data) => {
        const items = data.items || [];
        patch(counts, items.map((i) => [i.phase, i.paused]), () => countsText(items));
        patch(body, items, () => (items.length ? items.map(listRow) : emptyRow()));
      },
    });
  }

  function countsText(items) {
    const n = (f) => items.filter(f).length;
    const parts = [`${items.length} ${items.length === 1 ? 'Canary' : 'Canaries'}`];
    const running = n((i) => RUNNING.has(i.phase) || WAITING.has(i.phase));
    const failed = n((i) => i.phase === 'Failed');
    const paused = n((i) => i.paused || i.suspended);
    if (running) parts.push(`${running} in progress`);
    if (failed) parts.push(`${failed} failed`);
    if (paused) parts.push(`${paused} paused`);
    return parts.join(' · ');
  }

  function emptyRow() {
    const where = config.namespace ? `in namespace ${config.namespace}` : 'in any namespace';
    return h('tr', {}, h('td', { colspan: 7, class: 'empty' }, `No Canaries ${where} yet.`));
  }

  function listRow(sum) {
    // data-label: the column name, shown beside each cell when a narrow window stacks the rows.
    const td = (label, attrs, ...kids) => h('td', Object.assign({ 'data-label': label }, attrs), ...kids);
    return h('tr', { 'data-testid': 'canary-row', 'data-name': sum.name, 'data-namespace': sum.namespace },
      td('Name', { class: 'name nowrap' },
        h('a', { href: detailHref(sum.namespace, sum.name), 'data-focus-key': `row:${sum.namespace}/${sum.name}` }, sum.name),
        h('div', { class: 'muted small' }, sum.namespace)),
      td('Phase', {}, h('span', {}, phaseBadge(sum.phase, sum.paused || sum.suspended), ' ', badges(sum))),
      td('Progress', {}, progress(sum)),
      td('Failed checks', { class: 'num' }, checksText(sum)),
      td('Images', {}, imagesList(sum.images)),
      td('Age', { class: 'nowrap' }, age(sum.ageSeconds)),
      td('Last event', { class: 'msg' }, h('span', {}, sum.lastEvent || sum.message || '—')));
  }

  // ------------------------------------------------------------------------------------------
  // Detail view
  // ------------------------------------------------------------------------------------------

  const ACTIONS = [
    { kind: 'promote', label: 'Promote', cls: 'primary',
      what: 'Skip the rest of the analysis and promote the current revision of %s.' },
    { kind: 'abort', label: 'Abort', cls: 'danger',
      what: 'Roll %s back now: traffic goes back to the primary and the release is marked Failed.' },
    { kind: 'retry', label: 'Retry', what: 'Run the failed revision of %s again.' },
    { kind: 'pause', label: 'Pause',
      what: 'Pause %s: weights and workloads stay as they are until it is resumed.' },
    { kind: 'resume', label: 'Resume', what: 'Resume %s: the release goes on from where it stopped.' },
  ];

  function detailView(ns, name) {
    const id = `${ns}/${name}`;
    document.title = `${name} · fledge`;
    setCrumbs(h('span', {}, id));

    // The skeleton is built once; pushes fill the sections. Elements with state of their own
    // (the buttons, the status line, <details>) are never rebuilt.
    const banner = h('div', { class: 'banner', role: 'alert', hidden: true, 'data-testid': 'banner' });
    const head = h('section', { class: 'head', 'aria-label': 'Summary' }, h('p', { class: 'muted' }, 'Loading…'));
    const result = h('div', { class: 'action-result', role: 'status', 'data-testid': 'action-result' });
    const actions = config.readOnly ? null : buildActions(id, ns, name, result);
    const sec = (title, extra) => {
      const body = h('div');
      return { body, el: h('section', { class: `card ${extra || ''}`, 'aria-label': title }, h('h2', {}, title), body) };
    };
    const timeline = sec('Releases');
    const weight = sec('Traffic');
    const metrics = sec('Metrics', 'wide');
    const hooks = sec('Gates and webhooks');
    const objects = sec('Generated objects');
    const events = sec('Events');
    const plan = sec('Plan');
    const specPre = h('pre', { class: 'spec', 'data-testid': 'spec' });
    const spec = h('section', { class: 'card wide', 'aria-label': 'Spec' },
      h('details', {}, h('summary', {}, 'Spec'), specPre));

    const readOnlyNote = h('p', { class: 'muted small' }, 'read-only: this dashboard was started with --read-only, so it offers no actions.');
    $('#main').replaceChildren(banner, head,
      actions ? actions.el : readOnlyNote, actions ? result : null,
      h('div', { class: 'grid' }, timeline.el, weight.el, metrics.el, hooks.el, objects.el,
        events.el, plan.el, spec));

    let gone = false;
    const onDetail = (d) => {
      gone = false;
      banner.hidden = true;
      const sum = d.summary || {};
      const status = (d.canary && d.canary.status) || {};
      const specObj = (d.canary && d.canary.spec) || {};
      document.title = `${name} · ${sum.phase || '—'} · fledge`;
      patch(head, sum, () => renderHead(id, sum));
      if (actions) actions.update(d.actions || {}, gone);
      patch(timeline.body, [status.releases, status.steps, sum.phase], () => renderTimeline(status, sum));
      patch(weight.body, [status.steps, status.releases, sum.strategy, sum.maxWeight, sum.totalIterations],
        () => renderWeightChart(status, sum));
      patch(metrics.body, [status.steps, status.analysisHistory, d.metrics], () => renderMetrics(status, d.metrics || []));
      patch(hooks.body, [specObj.analysis && specObj.analysis.webhooks, status.analysisHistory],
        () => renderWebhooks(specObj, status));
      patch(objects.body, [d.objects, d.route], () => renderObjects(d.objects || [], d.route));
      patch(events.body, d.events, () => renderEvents(d.events || []));
      patch(plan.body, d.plan, () => renderPlan(d.plan, sum));
      const json = JSON.stringify(specObj, null, 2);
      if (specPre.textContent !== json) specPre.textContent = json;
    };

    const showBanner = (...content) => {
      banner.replaceChildren();
      append(banner, content);
      banner.hidden = false;
    };

    openStream(`/api/canaries/${enc(ns)}/${enc(name)}/stream`, {
      detail: onDetail,
      gone: () => {
        gone = true;
        if (actions) actions.update({}, true);
        showBanner(`Canary ${id} was deleted. What is shown below is its last known state. `,
          h('a', { href: '#/' }, 'Back to the list'));
      },
    }, async () => {
      // The stream was refused: say whether the Canary exists at all.
      try {
        const r = await fetch(`/api/canaries/${enc(ns)}/${enc(name)}`);
        if (r.status === 404) {
          const body = await r.json().catch(() => ({}));
          showBanner(`${body.error || `Canary ${id} not found`}. This page shows it if it appears. `,
            h('a', { href: '#/' }, 'Back to the list'));
        }
      } catch (_) { /* the server is down: the live indicator already says so */ }
    });
  }

  function renderHead(id, sum) {
    const facts = [
      ['Strategy', sum.strategy || '—'],
      ['Weight', h('span', {}, h('span', { 'data-testid': 'weight' }, `${sum.canaryWeight || 0}%`),
        sum.maxWeight != null ? h('span', { class: 'muted' }, ` of max ${sum.maxWeight}%`) : null)],
    ];
    const step = stepFacts(sum);
    if (step) facts.push([step.label, h('span', { 'data-testid': 'step' }, step.text)]);
    facts.push(['Failed checks', checksText(sum)]);
    facts.push(['Images', imagesList(sum.images)]);
    facts.push(['Age', age(sum.ageSeconds)]);
    return [
      h('h1', {}, phaseBadge(sum.phase, sum.paused || sum.suspended, { 'data-testid': 'phase' }),
        h('span', {}, id), badges(sum)),
      h('dl', { class: 'facts' }, facts.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))),
      h('p', { class: 'message', 'data-testid': 'message' }, sum.message || sum.lastEvent || ''),
    ];
  }

  // Blue-green and A/B testing count iterations; the canary strategy moves weights.
  function isIterMode(sum) {
    return sum.totalIterations != null && sum.strategy !== 'canary';
  }

  // "2 of 5": the server's step of the canary strategy (from fledge's planner, so it is never
  // worked out here), or "3 of 10" iterations for blue-green and A/B testing. Null if neither.
  function stepFacts(sum) {
    if (isIterMode(sum)) {
      const i = sum.iterations || 0, n = sum.totalIterations;
      return { label: 'Iteration', step: i, total: n, text: `${i} of ${n}` };
    }
    if (sum.step != null && sum.totalSteps != null) {
      return { label: 'Step', step: sum.step, total: sum.totalSteps, text: `${sum.step} of ${sum.totalSteps}` };
    }
    return null;
  }

  // ---- actions --------------------------------------------------------------------------------

  function buildActions(id, ns, name, result) {
    let busy = false;
    let last = { allowed: {}, gone: false };
    const items = ACTIONS.map((a) => {
      const why = h('span', { class: 'why', id: `why-${a.kind}`, 'data-testid': `why-${a.kind}` });
      const btn = h('button', {
        type: 'button', class: a.cls, 'data-testid': `action-${a.kind}`, 'aria-describedby': `why-${a.kind}`,
        onclick: () => run(a, btn),
      }, a.label);
      return { a, btn, why, el: h('div', { class: 'action' }, btn, why) };
    });

    // A reason that holds for every button (no token, Canary deleted) is written once under the
    // row; a button's own reason (from the server's `actions`) under that button. Either way it
    // is also the button's title.
    const whyAll = h('p', { class: 'why-all', 'data-testid': 'actions-why', hidden: true });

    function update(allowed, gone) {
      last = { allowed, gone };
      let common = null;
      if (!token) common = NO_TOKEN;
      else if (gone) common = 'the Canary was deleted';
      whyAll.textContent = common ? `Actions are off: ${common}.` : '';
      whyAll.hidden = !common;
      for (const it of items) {
        const act = allowed[it.a.kind];
        let own = null;
        if (busy) own = 'waiting for the previous request';
        else if (!act) own = 'not offered by the server';
        else if (!act.allowed) own = act.reason || 'not possible in this phase';
        const reason = common || own;
        it.btn.disabled = reason != null;
        it.btn.title = reason || it.a.what.replace('%s', id);
        it.why.textContent = common || busy ? '' : own || '';
      }
    }

    async function run(a, btn) {
      const ok = await confirm(`${a.label} ${id}?`, a.what.replace('%s', id), a.label, btn);
      if (!ok) return;
      busy = true;
      update(last.allowed, last.gone);
      result.className = 'action-result';
      result.textContent = `${a.label}: sent, waiting for the controller…`;
      try {
        const r = await fetch(`/api/canaries/${enc(ns)}/${enc(name)}/actions/${a.kind}`, {
          method: 'POST', headers: { 'X-Fledge-Token': token },
        });
        const body = await r.json().catch(() => ({}));
        if (r.ok) {
          result.className = 'action-result ok';
          result.textContent = `✔ ${body.message || `${a.label}: done`}`;
        } else {
          result.className = 'action-result error';
          result.textContent = `✖ ${a.label} failed (HTTP ${r.status}): ${body.error || body.message || r.statusText}`;
        }
      } catch (err) {
        result.className = 'action-result error';
        result.textContent = `✖ ${a.label} failed: the dashboard server did not answer (${err.message})`;
      }
      busy = false;
      update(last.allowed, last.gone);
    }

    update({}, false);
    return {
      el: h('section', { 'aria-label': 'Actions' }, h('div', { class: 'actions' }, items.map((i) => i.el)), whyAll),
      update,
    };
  }

  // A modal <dialog>: focus starts on Cancel (autofocus), Esc cancels, focus returns to the
  // button that opened it.
  function confirm(title, text, yesLabel, opener) {
    const dlg = $('#confirm');
    $('#confirm-title').textContent = title;
    $('#confirm-text').textContent = text;
    $('#confirm-yes').textContent = yesLabel;
    dlg.returnValue = '';
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => {
        if (opener && document.contains(opener)) opener.focus();
        resolve(dlg.returnValue === 'yes');
      }, { once: true });
      dlg.showModal();
    });
  }

  // ---- releases and the phase timeline ------------------------------------------------------

  // The current release is the newest one: the last release record, unless a newer step
  // belongs to a revision that has no record yet. The last release is the one before it.
  function currentAndLastRevision(status) {
    const releases = status.releases || [];
    const steps = status.steps || [];
    const lastRel = releases[releases.length - 1];
    const lastStep = steps[steps.length - 1];
    let cur = lastRel ? lastRel.revision : lastStep ? lastStep.revision : null;
    if (lastRel && lastStep && lastStep.revision !== cur && Date.parse(lastStep.time) >= Date.parse(lastRel.started)) {
      cur = lastStep.revision;
    }
    let last = null;
    for (const st of steps) if (st.revision !== cur) last = st.revision;
    if (!last) {
      const before = releases.filter((r) => r.revision !== cur);
      if (before.length) last = before[before.length - 1].revision;
    }
    return { cur, last };
  }

  // x = 0 of a release on the charts: its first recorded step, else its start.
  function releaseOrigin(status, rev) {
    const st = (status.steps || []).find((x) => x.revision === rev);
    if (st) return Date.parse(st.time);
    const r = (status.releases || []).find((x) => x.revision === rev);
    return r ? Date.parse(r.started) : NaN;
  }

  // The revision whose release was running at time t (for analysisHistory, which has none).
  function revisionAt(status, t) {
    const releases = status.releases || [];
    for (let i = releases.length - 1; i >= 0; i--) {
      const r = releases[i];
      if (Date.parse(r.started) <= t + 1000 && (!r.ended || t <= Date.parse(r.ended) + 1000)) return r.revision;
    }
    return null;
  }

  function renderTimeline(status, sum) {
    const releases = (status.releases || []).slice().reverse(); // newest first on screen
    const out = [];
    if (!releases.length) {
      out.push(h('p', { class: 'muted' }, 'No release recorded yet.'));
    } else {
      out.push(h('div', { class: 'scroll' }, h('table', { class: 'releases', 'data-testid': 'releases' },
        h('thead', {}, h('tr', {}, ['Revision', 'Images', 'Started', 'Took', 'Outcome'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, releases.map((r) => {
          const look = r.outcome ? OUTCOME_LOOK[r.outcome] || { cls: 'st-none', sym: '•' } : phaseLook(sum.phase, false);
          const end = r.ended ? Date.parse(r.ended) : Date.now();
          return h('tr', {},
            h('td', {}, h('code', { title: r.revision }, shortRev(r.revision))),
            h('td', {}, imagesList(r.images, true)),
            h('td', { class: 'nowrap' }, ago(r.started)),
            h('td', { class: 'nowrap' }, r.ended ? fmtDur((end - Date.parse(r.started)) / 1000) : 'running'),
            h('td', { class: `outcome ${look.cls}` }, h('span', { 'aria-hidden': 'true' }, `${look.sym} `),
              r.outcome || sum.phase || 'in progress',
              r.reason ? h('div', { class: 'small muted reason' }, r.reason) : null));
        })))));
    }
    // The current release's steps, folded into runs of one phase.
    const { cur } = currentAndLastRevision(status);
    const steps = (status.steps || []).filter((st) => st.revision === cur);
    const iterMode = isIterMode(sum);
    if (steps.length) {
      const runs = [];
      for (const st of steps) {
        const prev = runs[runs.length - 1];
        if (prev && prev.phase === st.phase) { prev.n++; prev.to = st; } else runs.push({ phase: st.phase, from: st, to: st, n: 1 });
      }
      out.push(h('h3', { class: 'sub' }, `Current release ${shortRev(cur)}: phases`));
      out.push(h('ol', { class: 'phases', 'data-testid': 'phase-timeline' }, runs.map((r) => {
        const key = iterMode ? 'iterations' : 'canaryWeight', unit = iterMode ? '' : '%';
        const a = r.from[key], b = r.to[key];
        const w = `${iterMode ? 'iteration' : 'weight'} ${a === b ? `${b}${unit}` : `${a}${unit}→${b}${unit}`}`;
        return h('li', {}, phaseBadge(r.phase, false, null, true),
          h('span', { class: 'when' },
            `${fmtClock(Date.parse(r.from.time))} · ${r.n} step${r.n === 1 ? '' : 's'} · ${w}` +
            (r.to.failedChecks ? ` · ${r.to.failedChecks} failed` : '')));
      })));
    }
    return out;
  }

  // ---- charts ---------------------------------------------------------------------------------

  // Round steps for an axis: the smallest of these giving at most `max` ticks.
  const NICE_SECONDS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
  function niceSeconds(span, max = 6) {
    return NICE_SECONDS.find((st) => span / st <= max) || Math.ceil(span / max);
  }

  function niceTicks(lo, hi, max = 4) {
    const span = hi - lo || 1;
    const raw = span / max;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const stepSize = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => span / st <= max) || 10 * mag;
    const ticks = [];
    for (let v = Math.ceil(lo / stepSize) * stepSize; v <= hi + 1e-9; v += stepSize) ticks.push(Math.round(v * 1e6) / 1e6);
    return ticks;
  }

  // Charts are drawn at the pixel width of their box, and drawn again when that width changes,
  // with a fixed height: a viewBox that scaled with the box would blow the text and the height
  // up in a wide card (one metric spans the whole page) and shrink them in a narrow window.
  // The box's height is set before drawing, so a drawing never changes the layout (and never
  // sets off another resize notification).
  const chartDraw = new WeakMap();
  const chartBoxes = new Set(); // observed boxes, to stop observing those a push replaced
  const forget = (box) => { chartObserver.unobserve(box); chartBoxes.delete(box); };
  const chartObserver = typeof ResizeObserver === 'function' ? new ResizeObserver((entries) => {
    for (const e of entries) {
      const box = e.target;
      if (!box.isConnected) { forget(box); continue; }
      const w = Math.floor(e.contentRect.width);
      if (w > 0 && w !== box.__drawnAt) {
        box.__drawnAt = w;
        box.replaceChildren(chartDraw.get(box)(w));
      }
    }
  }) : null;

  // One hand-written SVG chart, returned as its box.
  //   xMax: the x range is 0..xMax seconds (ticks chosen to fit the width)
  //   series: [{points: [{x, y, verdict?, title}], cls: 'current'|'last', stepped}]
  //   band:   {lo, hi} shaded (the passing range); refs: [{y, label}] dashed lines.
  function chart(o) {
    const height = o.height || 170;
    const box = h('div', { class: 'chart-box', style: { height: `${height}px` } });
    const draw = (width) => drawChart(o, Math.max(240, width), height);
    if (chartObserver) {
      // A box drawn once and no longer in the page was replaced for good (a box built in this
      // render is not drawn yet, nor in the page).
      for (const b of chartBoxes) if (b.__drawnAt && !b.isConnected) forget(b);
      chartDraw.set(box, draw);
      chartBoxes.add(box);
      chartObserver.observe(box);
    } else {
      box.appendChild(draw(600));
    }
    return box;
  }

  function drawChart(o, W, H) {
    const L = 44, R = 14, T = 10, B = 24;
    // About one x label per 80 px, so they never overlap.
    const stepX = niceSeconds(o.xMax, Math.max(2, Math.min(10, Math.floor((W - L - R) / 80))));
    const xTicks = [];
    for (let x = 0; x <= o.xMax + 1e-9; x += stepX) xTicks.push({ x, label: fmtDur(x) });
    o = Object.assign({ xMin: 0, xTicks }, o);
    const sx = (x) => L + ((x - o.xMin) / (o.xMax - o.xMin || 1)) * (W - L - R);
    const sy = (y) => T + (1 - (y - o.yMin) / (o.yMax - o.yMin || 1)) * (H - T - B);
    const clampY = (y) => Math.max(o.yMin, Math.min(o.yMax, y));
    const g = [];
    if (o.band) {
      const top = sy(clampY(o.band.hi)), bottom = sy(clampY(o.band.lo));
      g.push(s('rect', { class: 'band', x: L, y: top, width: W - L - R, height: Math.max(0, bottom - top) },
        s('title', {}, o.band.title || 'passing range')));
    }
    for (const y of o.yTicks) {
      g.push(s('line', { class: 'grid-line', x1: L, x2: W - R, y1: sy(y), y2: sy(y) }));
      g.push(s('text', { x: L - 6, y: sy(y) + 4, 'text-anchor': 'end' }, o.yFmt(y)));
    }
    for (const r of o.refs || []) {
      g.push(s('line', { class: r.cls || 'ref', x1: L, x2: W - R, y1: sy(r.y), y2: sy(r.y) }));
      g.push(s('text', { x: W - R, y: sy(r.y) - 3, 'text-anchor': 'end' }, r.label));
    }
    g.push(s('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    for (const t of o.xTicks) {
      g.push(s('line', { class: 'axis', x1: sx(t.x), x2: sx(t.x), y1: H - B, y2: H - B + 4 }));
      g.push(s('text', { x: sx(t.x), y: H - 6, 'text-anchor': 'middle' }, t.label));
    }
    for (const ser of o.series) {
      const pts = ser.points.filter((p) => typeof p.y === 'number' && Number.isFinite(p.y));
      if (!pts.length) continue;
      const X = (p) => sx(p.x).toFixed(1), Y = (p) => sy(clampY(p.y)).toFixed(1);
      let d = `M${X(pts[0])},${Y(pts[0])}`;
      for (const p of pts.slice(1)) {
        // Stepped: a weight holds from one step until the next, then jumps.
        d += ser.stepped ? `H${X(p)}V${Y(p)}` : `L${X(p)},${Y(p)}`;
      }
      g.push(s('path', { class: `series ${ser.cls}`, d }));
      for (const p of pts) {
        const cx = sx(p.x), cy = sy(clampY(p.y));
        const title = s('title', {}, p.title);
        // A failing point is a cross, not just a red dot.
        g.push(p.verdict === 'Fail'
          ? s('path', { class: `pt Fail ${ser.cls}`, d: `M${cx - 4},${cy - 4}L${cx + 4},${cy + 4}M${cx - 4},${cy + 4}L${cx + 4},${cy - 4}` }, title)
          : s('circle', { class: `pt ${ser.cls} ${p.verdict || ''}`, cx, cy, r: 3 }, title));
      }
    }
    return s('svg', { class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': o.label }, g);
  }

  function renderWeightChart(status, sum) {
    const iterMode = isIterMode(sum);
    const { cur, last } = currentAndLastRevision(status);
    const steps = status.steps || [];
    const release = (rev) => (status.releases || []).find((r) => r.revision === rev);
    const seriesOf = (rev, cls) => {
      const st = steps.filter((x) => x.revision === rev);
      if (!st.length) return null;
      const t0 = Date.parse(st[0].time);
      return {
        rev, cls, stepped: true,
        points: st.map((x) => {
          const y = iterMode ? x.iterations : x.canaryWeight;
          const sec = (Date.parse(x.time) - t0) / 1000;
          return { x: sec, y, title: `+${fmtDur(sec)} ${x.phase}: ${iterMode ? `iteration ${y}` : `${y}%`}${x.failedChecks ? `, ${x.failedChecks} failed` : ''}` };
        }),
      };
    };
    // The last release first, so the current one is drawn on top.
    const series = [seriesOf(last, 'last'), seriesOf(cur, 'current')].filter(Boolean);
    if (!series.length) return h('p', { class: 'muted' }, 'No analysis step recorded yet.');
    const xMax = Math.max(10, ...series.flatMap((x) => x.points.map((p) => p.x)));
    let yMax = 100, yTicks = [0, 25, 50, 75, 100], refs = [];
    if (iterMode) {
      yMax = Math.max(1, sum.totalIterations || 0, ...series.flatMap((x) => x.points.map((p) => p.y)));
      yTicks = niceTicks(0, yMax, 4).filter((v) => Number.isInteger(v));
    } else if (sum.maxWeight != null) {
      refs = [{ y: sum.maxWeight, label: `max ${sum.maxWeight}%` }];
    }
    const curSer = series.find((x) => x.cls === 'current');
    const lastPt = curSer && curSer.points[curSer.points.length - 1];
    const what = iterMode ? 'Iterations' : 'Canary weight';
    const label = `${what} over time since the release's first step` +
      (lastPt ? `; current release now ${iterMode ? lastPt.y : lastPt.y + '%'} after ${fmtDur(lastPt.x)}` : '');
    const legendItem = (ser) => {
      const rel = release(ser.rev);
      const outcome = rel && rel.outcome ? `, ${rel.outcome}` : '';
      return h('span', {}, h('span', { class: `key ${ser.cls}`, 'aria-hidden': 'true' }),
        `${ser.cls === 'current' ? 'current' : 'last'} release ${shortRev(ser.rev)}${outcome}`);
    };
    return h('figure', { 'data-testid': 'weight-chart' },
      h('h3', {}, `${what} (x: time since the release's first step)`),
      chart({
        xMax, yMin: 0, yMax, yTicks, refs, series, label,
        yFmt: iterMode ? String : (v) => `${v}%`,
      }),
      h('figcaption', { class: 'legend' }, series.slice().reverse().map(legendItem)));
  }

  // ---- metrics --------------------------------------------------------------------------------
  //
  // One chart per metric, on the same x axis as the traffic chart (time since the release's
  // first step): the current release solid, the last one dashed. The verdict shown (and
  // data-verdict) is the latest of the current release only, so a new release is not called
  // failing because the previous one failed.

  function thresholdText(m, fromHistory) {
    if (m && m.min != null && m.max != null) return `≥ ${fmtNum(m.min)}, ≤ ${fmtNum(m.max)}`;
    if (m && m.min != null) return `≥ ${fmtNum(m.min)}`;
    if (m && m.max != null) return `≤ ${fmtNum(m.max)}`;
    if (fromHistory) return fromHistory.replace('>=', '≥').replace('<=', '≤');
    return 'none';
  }

  // Points of one metric: its checks in status.steps plus its analysisHistory records, with the
  // duplicates (the same check seen in both) merged (the record brings its message), oldest
  // first, each with its revision.
  function metricPoints(name, status) {
    const pts = [];
    for (const st of status.steps || []) {
      for (const c of st.checks || []) {
        if (c.name === name) pts.push({ t: Date.parse(st.time), v: c.value, verdict: c.verdict, rev: st.revision });
      }
    }
    for (const rec of status.analysisHistory || []) {
      if (rec.kind !== 'metric' || rec.name !== name) continue;
      const t = Date.parse(rec.time);
      const dup = pts.find((p) => Math.abs(p.t - t) <= 2000 && p.v === rec.value && p.verdict === rec.verdict);
      if (dup) { if (!dup.message) dup.message = rec.message; } else pts.push({ t, v: rec.value, verdict: rec.verdict, message: rec.message, rev: revisionAt(status, t) });
    }
    return pts.filter((p) => !Number.isNaN(p.t)).sort((a, b) => a.t - b.t);
  }

  function renderMetrics(status, metrics) {
    const names = metrics.map((m) => m.name);
    // A metric seen in the history but no longer in the spec still gets its chart.
    for (const rec of status.analysisHistory || []) {
      if (rec.kind === 'metric' && !names.includes(rec.name)) names.push(rec.name);
    }
    if (!names.length) return h('p', { class: 'muted' }, 'No metrics in spec.analysis.');
    const revs = currentAndLastRevision(status);
    return h('div', { class: 'metrics' }, names.map((name) => {
      const spec = metrics.find((m) => m.name === name);
      const hist = (status.analysisHistory || []).filter((r) => r.kind === 'metric' && r.name === name && r.threshold);
      const threshold = thresholdText(spec, hist.length ? hist[hist.length - 1].threshold : null);
      return metricFigure(name, metricPoints(name, status), spec, threshold, status, revs);
    }));
  }

  function metricFigure(name, pts, spec, threshold, status, revs) {
    // With no release recorded, every point counts as the current release's.
    const current = revs.cur ? pts.filter((p) => p.rev === revs.cur) : pts;
    const previous = revs.cur && revs.last ? pts.filter((p) => p.rev === revs.last) : [];
    const last = current[current.length - 1];
    const verdict = last ? last.verdict : '';
    const failing = verdict === 'Fail';
    const prev = previous[previous.length - 1];
    const caption = h('figcaption', { class: failing ? 'failing' : '' },
      `last ${last ? fmtNum(last.v) : '—'} · threshold ${threshold}`,
      verdict
        ? [' · ', h('span', { class: `verdict verdict-${verdict}` }, `${VERDICT_SYM[verdict] || ''} ${VERDICT_WORD[verdict] || verdict}`)]
        : ' · not checked in this release yet',
      !last && prev ? h('div', { class: 'small muted' }, `last release: ${fmtNum(prev.v)}, ${prev.verdict}`) : null,
      last && last.message ? h('div', { class: 'small detail' }, last.message) : null);

    const series = [];
    const addSeries = (list, rev, cls) => {
      const t0 = releaseOrigin(status, rev);
      const origin = Number.isNaN(t0) ? (list[0] ? list[0].t : 0) : t0;
      const points = list.map((p) => ({
        x: Math.max(0, (p.t - origin) / 1000), y: p.v, verdict: p.verdict,
        title: `${cls === 'last' ? 'last release, ' : ''}${fmtClock(p.t)} (+${fmtDur((p.t - origin) / 1000)}) · ${fmtNum(p.v)} · ${p.verdict}`,
      }));
      if (points.length) series.push({ cls, stepped: false, points });
    };
    addSeries(previous, revs.last, 'last');
    addSeries(current, revs.cur, 'current');

    const values = series.flatMap((x) => x.points.map((p) => p.y)).filter((v) => typeof v === 'number' && Number.isFinite(v));
    let body;
    if (!values.length) {
      body = h('p', { class: 'muted small' }, 'No value recorded yet.');
    } else {
      const bounds = values.concat([spec && spec.min, spec && spec.max].filter((v) => v != null));
      let lo = Math.min(...bounds), hi = Math.max(...bounds);
      const padY = (hi - lo) * 0.15 || Math.abs(hi) * 0.1 || 1;
      lo -= padY; hi += padY;
      if (Math.min(...bounds) >= 0 && lo < 0) lo = 0;
      const xMax = Math.max(10, ...series.flatMap((x) => x.points.map((p) => p.x)));
      const band = spec && (spec.min != null || spec.max != null)
        ? { lo: spec.min != null ? spec.min : lo, hi: spec.max != null ? spec.max : hi, title: `passing range ${threshold}` }
        : null;
      const refs = [];
      if (spec && spec.min != null) refs.push({ y: spec.min, label: `≥ ${fmtNum(spec.min)}`, cls: 'limit' });
      if (spec && spec.max != null) refs.push({ y: spec.max, label: `≤ ${fmtNum(spec.max)}`, cls: 'limit' });
      body = chart({
        height: 150, xMax, yMin: lo, yMax: hi,
        yTicks: niceTicks(lo, hi, 5), yFmt: fmtNum, band, refs, series,
        label: `${name}: last ${last ? fmtNum(last.v) : 'none'}, threshold ${threshold}, ${VERDICT_WORD[verdict] || 'not checked in this release'}`,
      });
    }
    const legend = series.length > 1 ? h('div', { class: 'legend' },
      h('span', {}, h('span', { class: 'key', 'aria-hidden': 'true' }, ''), 'this release'),
      h('span', {}, h('span', { class: 'key last', 'aria-hidden': 'true' }, ''), 'last release')) : null;
    return h('figure', { class: 'metric', 'data-testid': `metric-${name}`, 'data-verdict': verdict },
      h('h3', {}, name), body, legend, caption);
  }

  // ---- webhooks, objects, events, plan ------------------------------------------------------

  function table(cls, heads, rows) {
    return h('div', { class: 'scroll' }, h('table', { class: cls },
      h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows)));
  }

  function renderWebhooks(spec, status) {
    const hooks = (spec.analysis && spec.analysis.webhooks) || [];
    if (!hooks.length) return h('p', { class: 'muted' }, 'No gates or webhooks in spec.analysis.');
    const history = (status.analysisHistory || []).filter((r) => r.kind === 'webhook');
    return table('hooks', ['Name', 'Type', 'URL', 'Last call'], hooks.map((w) => {
      const recs = history.filter((r) => r.name === w.name);
      const rec = recs[recs.length - 1];
      const type = w.type || 'rollout';
      return h('tr', { 'data-testid': 'webhook', 'data-name': w.name },
        h('td', { class: 'nowrap' }, w.name),
        h('td', { class: 'nowrap', title: HOOK_TYPES[type] || '' }, type),
        h('td', {}, w.url ? h('code', { class: 'url' }, breakable(w.url)) : h('span', { class: 'muted' }, '—')),
        h('td', {}, rec
          ? [h('span', { class: 'nowrap' }, verdictBadge(rec.verdict), h('span', { class: 'muted' }, ' · '), ago(rec.time)),
            rec.message ? h('div', { class: 'small muted' }, rec.message) : null]
          : h('span', { class: 'muted' }, 'not called yet')));
    }));
  }

  const HOOK_TYPES = {
    'confirm-rollout': 'gate: the release starts only once this answers 200',
    'pre-rollout': 'called before traffic moves; a failure counts as a failed check',
    rollout: 'called at every step; a failure counts as a failed check',
    'confirm-traffic-increase': 'gate: the weight goes up only once this answers 200',
    'confirm-promotion': 'gate: promotion waits until this answers 200',
    'post-rollout': 'called after promotion or rollback',
    rollback: 'rolls the release back when this answers 200',
    event: 'receives every event of the release',
  };

  // A URL with line-break opportunities after its slashes, query and & separators, so a long
  // one wraps between parts rather than mid-word (and never widens the table).
  function breakable(url) {
    const parts = String(url).split(/(?<=[/?&])(?![/])/);
    return parts.flatMap((p, i) => (i ? [h('wbr'), p] : [p]));
  }

  function renderObjects(objects, routeW) {
    const out = [];
    if (routeW) {
      out.push(h('p', { 'data-testid': 'route' }, h('strong', {}, 'Route: '),
        `primary ${routeW.primary}% · canary ${routeW.canary}%`,
        routeW.mirrored ? [' ', h('span', { class: 'badge' }, 'mirrored')] : null));
    } else {
      out.push(h('p', { class: 'muted' }, 'No route weights.'));
    }
    if (!objects.length) out.push(h('p', { class: 'muted' }, 'No generated objects found yet.'));
    else {
      out.push(table('objects', ['Kind', 'Name', 'Ready'], objects.map((o) => {
        let ready = '';
        if (o.desired === 0 && !o.ready) {
          ready = h('span', { class: 'muted' }, 'scaled to 0');
        } else if (o.desired != null) {
          const ok = o.ready === o.desired;
          ready = h('span', { class: ok ? 'st-ok' : 'st-wait' }, `${ok ? '✔' : '◷'} ${o.ready || 0}/${o.desired}`);
        }
        return h('tr', {}, h('td', {}, o.kind), h('td', {}, h('code', {}, o.name)), h('td', { class: 'nowrap' }, ready));
      })));
    }
    return out;
  }

  function renderEvents(events) {
    if (!events.length) return h('p', { class: 'muted' }, 'No Events.');
    return table('events', ['When', 'Type', 'Reason', 'Message'], events.slice().reverse().map((e) => {
      const warn = e.type === 'Warning';
      return h('tr', { class: warn ? 'warning' : '', 'data-testid': 'event' },
        h('td', { class: 'nowrap' }, ago(e.time), e.count > 1 ? h('div', { class: 'small muted' }, `×${e.count}`) : null),
        h('td', { class: 'type nowrap' }, warn ? '⚠ Warning' : e.type || ''),
        h('td', { class: 'nowrap' }, e.reason || ''),
        h('td', { class: 'msg' }, e.message || ''));
    }));
  }

  function renderPlan(plan, sum) {
    if (!plan || !plan.steps || !plan.steps.length) return h('p', { class: 'muted' }, 'Nothing planned.');
    const start = Date.parse(plan.start);
    const live = plan.fromNow && !Number.isNaN(start);
    let total;
    if (live) {
      const end = start + plan.minDurationSeconds * 1000;
      total = ['Done in about ', h('span', { 'data-until': end }, fmtDur((end - Date.now()) / 1000)),
        ` (around ${fmtClock(end)}) if every check passes.`];
    } else {
      total = `The next release will be done in about ${fmtDur(plan.minDurationSeconds)} after it is detected, if every check passes.`;
    }
    const iterMode = isIterMode(sum);
    return [
      h('p', { 'data-testid': 'plan-total' }, total),
      table('plan', ['When', 'Phase', iterMode ? 'Iteration' : 'Canary / primary', 'What happens'],
        plan.steps.map((st) => h('tr', {},
          h('td', { class: 'nowrap' }, live ? fmtClock(start + st.offsetSeconds * 1000) : '', ' ',
            h('span', { class: 'muted small' }, `+${fmtDur(st.offsetSeconds)}`)),
          h('td', { class: 'nowrap' }, phaseBadge(st.phase, false, null, true)),
          h('td', { class: 'nowrap' }, iterMode && st.iteration != null ? String(st.iteration)
            : `${st.canaryWeight}% / ${st.primaryWeight}%`),
          // One line per event; the rows grow to fit, nothing is cut off.
          h('td', { class: 'small what' }, (st.events || []).map((e) => h('div', {}, e)),
            st.checks && st.checks.length
              ? h('div', { class: 'muted' }, `checks: ${st.checks.map((c) =>
                (c.type && c.type !== 'metric' ? `${c.name} (${c.type})` : c.name)).join(', ')}`) : null)))),
    ];
  }


  // ------------------------------------------------------------------------------------------
  // Start
  // ------------------------------------------------------------------------------------------

  async function start() {
    try {
      const r = await fetch('/api/config');
      if (r.ok) config = Object.assign(config, await r.json());
    } catch (_) { /* keep the defaults; the stream's indicator shows the server is unreachable */ }
    $('#readonly').hidden = !config.readOnly;
    $('#scope').textContent = config.namespace ? `namespace ${config.namespace}` : 'all namespaces';
    // After a navigation, focus goes to the new page's content, as after a page load (the
    // link that was clicked is gone), so keyboard and screen-reader users start at the top.
    window.addEventListener('hashchange', () => { route(); $('#main').focus({ preventScroll: true }); window.scrollTo(0, 0); });
    route();
  }

  start();
})();
