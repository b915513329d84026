// ioplane fleet map: polls the public API and draws the fleet. No framework, no build step.
// Server data only ever reaches the DOM as text nodes or attribute values (see `h`), never as HTML.
'use strict';
(() => {
  const POLL_MS = 1000;
  const FLEET_EVERY = 5; // polls between fleet refetches: the inventory changes on sync, not per second
  const REBALANCE_EVERY = 10;
  const TRACKED = 10; // newest placements whose machines the map shows
  const ACTIVE = ['queued', 'planning', 'planned', 'rolling-out', 'paused', 'rolling-back'];
  const CANCELLABLE = ['queued', 'planning', 'planned', 'rolling-out', 'paused'];
  const IN_PROGRESS = ['planned', 'pending', 'flashing', 'loading', 'verifying', 'rolling-back'];
  const FAILED = ['rolled-back', 'failed'];
  const TOKEN_KEY = 'ioplane.token';

  const state = { fleet: [], syncedAt: null, placements: [], details: new Map(), focus: null, selected: null, tick: 0, error: null, rebalance: null, notice: null };
  const drawn = new Map();

  /** Every API call goes through here: once a token is stored, it rides along as a bearer header. */
  async function api(path, init = {}) {
    const headers = { accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers || {}) };
    const token = localStorage.getItem(TOKEN_KEY);
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(path, { ...init, headers });
    const body = await res.json().catch(() => null);
    return { ok: res.ok, status: res.status, body };
  }

  function apiError(what, r) {
    const hint = r.status === 401 ? ' (paste an API token above: ioplane tokens create)' : '';
    return new Error(`${what}: HTTP ${r.status}${r.body && r.body.error ? ` ${r.body.error.message}` : ''}${hint}`);
  }

  /** Builds an element; children are nodes or text, attributes are set as values, so nothing is parsed. */
  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else e.setAttribute(k, String(v));
    }
    for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  const targetGroup = (t) => (t.startsWith('host-') ? 'host XDP' : t.startsWith('nic-') ? 'NIC offload' : t.startsWith('dpu-') ? 'DPU' : t);
  const time = (iso) => (iso ? new Date(iso).toLocaleTimeString() : '—');
  function health(st) {
    if (st === 'committed') return 'ok';
    if (IN_PROGRESS.includes(st)) return 'progress';
    if (FAILED.includes(st)) return 'bad';
    return 'none';
  }

  /**
   * What the map shows for one machine: the newest tracked placement that touched it. A machine a
   * cancel left untouched keeps what an older placement put there, so 'cancelled' looks further back.
   */
  function machineView(systemId) {
    let skipped = null;
    for (const p of state.placements.slice(0, TRACKED)) {
      const c = state.details.get(p.id);
      if (!c) continue;
      const rec = ((c.detail.rollout && c.detail.rollout.machines) || []).find((m) => m.systemId === systemId) || null;
      const planned = ((c.plan && c.plan.machines) || []).find((m) => m.systemId === systemId) || null;
      if (rec && rec.state === 'cancelled') continue;
      if (rec || (planned && ACTIVE.includes(c.detail.status))) {
        const st = rec ? rec.state : 'planned';
        return { placement: c.detail, plan: c.plan, rec, planned, state: st, health: health(st), skipped: null };
      }
      if (!skipped && c.plan) skipped = (c.plan.skipped || []).find((s) => s.systemId === systemId) || null;
    }
    return { placement: null, plan: null, rec: null, planned: null, state: 'none', health: 'none', skipped };
  }

  // ---- data ----

  async function refresh() {
    if (!state.fleet.length || state.tick % FLEET_EVERY === 0) {
      const r = await api('/v1/fleet/machines');
      if (!r.ok) throw apiError('fleet', r);
      state.fleet = r.body.items;
      state.syncedAt = r.body.syncedAt;
    }
    const list = await api('/v1/placements');
    if (!list.ok) throw apiError('placements', list);
    state.placements = list.body.items;
    const tracked = state.placements.slice(0, TRACKED);
    for (const id of state.details.keys()) if (!tracked.some((p) => p.id === id)) state.details.delete(id);
    await Promise.all(tracked.map(loadPlacement));
    if (state.tick % REBALANCE_EVERY === 0) await loadRebalance();
    state.tick++;
  }

  async function loadPlacement(p) {
    const cached = state.details.get(p.id);
    const settled = cached && cached.detail.status === p.status && !ACTIVE.includes(p.status) && (cached.plan || !cached.detail.plan);
    if (settled) return;
    const d = await api(`/v1/placements/${encodeURIComponent(p.id)}`);
    if (!d.ok) return;
    let plan = cached ? cached.plan : null;
    if (!plan && d.body.plan) {
      const r = await api(`/v1/placements/${encodeURIComponent(p.id)}/plan`);
      if (r.ok) plan = r.body;
    }
    state.details.set(p.id, { detail: d.body, plan });
  }

  async function loadRebalance() {
    const r = await api('/v1/rebalance/proposals?status=pending');
    state.rebalance = r.ok ? { items: r.body.items } : { off: r.status === 404 ? 'rebalancing not enabled' : apiError('rebalance proposals', r).message };
  }

  async function decide(id, verdict) {
    const r = await api(`/v1/rebalance/proposals/${encodeURIComponent(id)}/${verdict}`, { method: 'POST', body: '{}' });
    state.notice = r.ok ? `${verdict === 'approve' ? 'approved' : 'rejected'} ${id}${r.body.placementId ? ` as ${r.body.placementId}` : ''}` : `${verdict} failed: ${apiError(id, r).message}`;
    state.tick = 0; // refetch the proposals now
    await tick();
  }

  async function cancel(id) {
    if (!window.confirm(`Cancel placement ${id}? Machines in flight roll back; pending ones are left untouched.`)) return;
    const r = await api(`/v1/placements/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
    state.notice = r.ok ? `cancel requested for ${id}` : `cancel failed: ${apiError(id, r).message}`;
    await tick();
  }

  // ---- views ----

  function tile(m) {
    const v = machineView(m.systemId);
    const placed = v.planned ? Object.values(v.planned.placements) : [];
    const devices = m.devices.map((d) => {
      // Host XDP on a card with hardware hooks runs in the agent's host-XDP device for its netdevs (`<card>~xdp`): shown on the card.
      const mods = placed.filter((x) => x.deviceId === d.id || x.deviceId === `${d.id}~xdp`);
      return h('li', { 'data-testid': 'device', 'data-device-id': d.id, 'data-kind': d.kind, 'data-profile': d.profileId || 'unprofiled' },
        h('span', { class: 'dev-name' }, d.name), ' ', h('span', { class: 'dev-kind' }, d.kind),
        h('span', { class: d.profileId ? 'dev-profile' : 'dev-profile unprofiled' }, d.profileId || 'unprofiled'),
        mods.length ? h('span', { class: 'badges' }, mods.map((x) => h('span', {
          class: `badge health-${v.health}`, 'data-testid': 'module-badge', 'data-module': x.module, 'data-target': x.target, title: `${x.module} on ${x.deviceId} as ${x.target}`,
        }, x.module, h('small', null, targetGroup(x.target))))) : null);
    });
    return h('article', {
      class: `tile health-${v.health}${state.selected === m.systemId ? ' selected' : ''}`, tabindex: 0, role: 'button',
      'data-testid': 'machine-tile', 'data-system-id': m.systemId, 'data-hostname': m.hostname, 'data-zone': m.zone, 'data-state': v.state, 'data-health': v.health, 'data-select': m.systemId,
    },
    h('header', null, h('strong', null, m.hostname), h('span', { class: 'pill', 'data-testid': 'machine-state' }, v.state === 'none' ? 'not placed' : v.state)),
    h('p', { class: 'meta' }, `${m.pool} · ${m.statusName}${v.rec ? ` · wave ${v.rec.wave}` : ''}`),
    h('ul', { class: 'devices' }, devices));
  }

  function fleetView() {
    if (!state.fleet.length) return [h('p', { class: 'muted' }, 'No machines in the inventory yet: run a fleet sync (ioplane fleet sync).')];
    const zones = new Map();
    for (const m of state.fleet) zones.set(m.zone, [...(zones.get(m.zone) || []), m]);
    return [...zones.keys()].sort().map((z) => {
      const tiles = zones.get(z).map(tile);
      const ok = tiles.filter((t) => t.dataset.health === 'ok').length;
      return h('section', { class: 'zone', 'data-testid': 'zone', 'data-zone': z },
        h('h2', null, z, h('small', null, ` ${tiles.length} machines · ${ok} committed`)), h('div', { class: 'tiles' }, tiles));
    });
  }

  function focused() {
    const id = state.focus || (state.placements[0] && state.placements[0].id);
    return id ? state.details.get(id) || null : null;
  }

  function rolloutView() {
    const c = focused();
    if (!c) return [h('p', { class: 'muted' }, 'No placement yet.')];
    const p = c.detail;
    const out = [h('p', { 'data-testid': 'rollout-head', 'data-placement-id': p.id, 'data-status': p.status },
      h('strong', null, p.id), ' ', h('span', { class: `pill status-${p.status}` }, p.status))];
    if (p.error) out.push(h('p', { class: 'error' }, p.error));
    if (!p.rollout) {
      out.push(h('p', { class: 'muted' }, p.plan ? 'planned; rollout not started' : 'waiting for a plan'));
      return out;
    }
    const counts = Object.entries(p.rollout.counts).map(([k, n]) => `${n} ${k}`).join(', ');
    out.push(h('p', null, h('progress', { max: 100, value: p.rollout.progress }), ` ${p.rollout.progress}% · ${counts}`));
    for (const w of p.rollout.waves) {
      const ms = p.rollout.machines.filter((m) => m.wave === w.index);
      out.push(h('div', { class: 'wave', 'data-testid': 'wave', 'data-wave': w.index },
        h('span', { class: 'wave-label' }, w.index === 0 ? 'canary' : `wave ${w.index}`),
        ms.map((m) => h('span', { class: `chip health-${health(m.state)}`, 'data-select': m.systemId, 'data-system-id': m.systemId, 'data-state': m.state, 'data-code': m.code || null, title: `${m.hostname}: ${m.state}${m.code ? ` [${m.code}]` : ''}${m.reason ? ` (${m.reason})` : ''}` }, m.hostname))));
    }
    const skipped = (c.plan && c.plan.skipped) || [];
    if (skipped.length) out.push(h('p', { class: 'muted' }, `skipped: ${skipped.map((s) => `${s.hostname} (${s.reason})`).join('; ')}`));
    return out;
  }

  function placementsView() {
    if (!state.placements.length) return [h('p', { class: 'muted' }, 'None yet: ioplane submit -f placements/example.yaml')];
    const rows = state.placements.slice(0, 20).map((p) => {
      const c = state.details.get(p.id);
      const progress = c && c.detail.rollout ? `${c.detail.rollout.progress}%` : '';
      return h('tr', { 'data-testid': 'placement-row', 'data-placement-id': p.id, 'data-status': p.status, class: focused() && focused().detail.id === p.id ? 'focused' : null },
        h('td', null, h('button', { type: 'button', class: 'link', 'data-focus': p.id, title: 'show this rollout' }, p.id)),
        h('td', null, h('span', { class: `pill status-${p.status}` }, p.status), p.error ? h('span', { class: 'error', title: p.error }, ' !') : null),
        h('td', null, (p.request.modules || []).map((x) => x.name).join(', ')),
        h('td', null, progress),
        h('td', null, CANCELLABLE.includes(p.status) ? h('button', { type: 'button', class: 'danger', 'data-cancel': p.id, 'data-testid': 'cancel' }, 'Cancel') : null));
    });
    return [h('table', null, h('thead', null, h('tr', null, ['placement', 'status', 'modules', 'done', ''].map((t) => h('th', null, t)))), h('tbody', null, rows))];
  }

  function detailView() {
    const m = state.fleet.find((x) => x.systemId === state.selected);
    if (!m) return [h('p', { class: 'muted' }, 'Click a machine to see why its modules run where they do.')];
    const v = machineView(m.systemId);
    const out = [
      h('h3', { 'data-testid': 'detail-machine', 'data-system-id': m.systemId }, m.hostname, ' ', h('span', { class: `pill health-${v.health}` }, v.state === 'none' ? 'not placed' : v.state)),
      h('p', { class: 'meta' }, `${m.systemId} · ${m.zone} · ${m.pool} · ${m.statusName}${m.tags.length ? ` · ${m.tags.join(', ')}` : ''}`),
    ];
    if (v.rec) {
      out.push(h('dl', { 'data-testid': 'detail-rollout' },
        h('dt', null, 'placement'), h('dd', null, v.placement.id),
        h('dt', null, 'wave'), h('dd', null, v.rec.wave === 0 ? '0 (canary)' : v.rec.wave),
        h('dt', null, 'state'), h('dd', null, `${v.rec.state} (attempt ${v.rec.attempts})`),
        // The code says what kind of failure it was (flash, load, health, ...); the reason says it for people.
        h('dt', null, 'failure'), h('dd', { 'data-testid': 'rollout-code', 'data-code': v.rec.code || null }, v.rec.code || '—'),
        h('dt', null, 'reason'), h('dd', { 'data-testid': 'rollout-reason' }, v.rec.reason || '—'),
        h('dt', null, 'last health check'), h('dd', null, v.rec.verifiedAt ? `verified ${time(v.rec.verifiedAt)}` : 'not verified yet'),
        h('dt', null, 'updated'), h('dd', null, time(v.rec.updatedAt))));
    } else if (v.skipped) {
      out.push(h('p', { 'data-testid': 'skip-reason' }, `Not placed: ${v.skipped.reason}`));
    } else if (!v.planned) {
      out.push(h('p', { class: 'muted' }, 'No placement includes this machine.'));
    }
    if (v.planned) {
      for (const x of Object.values(v.planned.placements)) {
        out.push(h('div', { class: 'module-detail', 'data-testid': 'module-detail', 'data-module': x.module },
          h('h4', null, x.module, ' → ', `${x.target} on ${x.deviceId}`, x.profileId ? ` (${x.profileId})` : ''),
          x.costBreakdown ? h('p', { class: 'muted', 'data-testid': 'placement-cost' }, costText(x.costBreakdown)) : null,
          h('ul', null, x.reasons.map((r) => h('li', { 'data-testid': 'placement-reason', title: r }, r))),
          x.rejected.length ? h('ul', { class: 'rejected' }, x.rejected.map((r) => {
            const text = `✗ ${r.target} on ${r.deviceId}: ${r.message}`;
            return h('li', { 'data-testid': 'rejected-target', 'data-target': r.target, title: text }, text);
          })) : null));
      }
      for (const x of v.planned.infeasible) out.push(h('p', { class: 'error' }, `${x.module}: blocked by ${x.constraint}: ${x.message}`));
      for (const [dev, prof] of Object.entries(v.planned.flavourSwitches)) out.push(h('p', null, `firmware switch: ${dev} → ${prof}`));
    }
    out.push(h('h4', null, 'devices'), h('ul', { class: 'plain' }, m.devices.map((d) =>
      h('li', null, `${d.name} · ${d.kind} · ${d.productName || ''}${d.firmwareVersion ? ` · fw ${d.firmwareVersion}` : ''} · ${d.profileId || 'unprofiled'}`))));
    return out;
  }

  /** A hop's costBreakdown in words, as the CLI words it (breakdownWords in libs/placement): the plan carries the numbers. */
  function costText(b) {
    const n = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 1 ? x.toFixed(2) : x.toFixed(4));
    const parts = [`costs ${n(b.total)} hce`];
    if (b.hostCores) parts.push(`${n(b.hostCores)} host cores`);
    if (b.armCores) parts.push(`${n(b.armCores)} Arm cores`);
    if (b.deviceUtilisation) parts.push(`${n(100 * b.deviceUtilisation)} % of device packet budget`);
    parts.push(`${n(b.latencyUs)} us added`);
    if (b.migrationSeconds) parts.push(`${n(b.migrationSeconds)} s migration`);
    if (b.preferPenalty) parts.push(`${n(b.preferPenalty)} hce off-preference`);
    return parts.join(', ');
  }

  function rebalanceView() {
    if (!state.rebalance) return [h('p', { class: 'muted' }, 'loading…')];
    if (state.rebalance.off) return [h('p', { class: 'muted' }, state.rebalance.off)];
    if (!state.rebalance.items.length) return [h('p', { class: 'muted' }, 'No pending proposals.')];
    return state.rebalance.items.map((x) => h('div', { class: 'proposal', 'data-testid': 'proposal', 'data-proposal-id': x.id },
      h('p', null, h('strong', null, x.hostname), ` · ${x.reasons.whyNow} · gain ${x.reasons.gain.toFixed(3)} hce`),
      h('ul', { class: 'plain' }, x.moves.map((m) => h('li', null, `${m.module}: ${m.from.target} on ${m.from.deviceId} → ${m.to.target} on ${m.to.deviceId}`))),
      h('p', null, h('button', { type: 'button', 'data-approve': x.id }, 'Approve'), ' ', h('button', { type: 'button', class: 'danger', 'data-reject': x.id }, 'Reject'))));
  }

  function statusText() {
    if (state.error) return `API unreachable: ${state.error}`;
    return `${state.fleet.length} machines · inventory synced ${time(state.syncedAt)} · updated ${new Date().toLocaleTimeString()}${state.notice ? ` · ${state.notice}` : ''}`;
  }

  /** Redraws a section only when what it shows changed, so clicks and focus survive polling. */
  function draw(id, view, key) {
    const sig = JSON.stringify(key);
    if (drawn.get(id) === sig) return;
    drawn.set(id, sig);
    document.getElementById(id).replaceChildren(...view());
  }

  function render() {
    // Plans are immutable once stored, so whether one is loaded stands in for its (large) content.
    const views = state.placements.slice(0, TRACKED).map((p) => state.details.get(p.id)).map((c) => c && [c.detail.status, c.detail.rollout, !!c.plan]);
    const f = focused();
    const sel = state.selected && machineView(state.selected);
    draw('fleet', fleetView, [state.fleet, views, state.selected]);
    draw('rollout', rolloutView, [f && f.detail, f && !!f.plan, state.focus]);
    draw('placements', placementsView, [state.placements, views, f && f.detail.id]);
    draw('detail', detailView, [state.selected, state.fleet.find((m) => m.systemId === state.selected), sel && [sel.placement && sel.placement.id, sel.rec, sel.planned, sel.skipped]]);
    draw('rebalance', rebalanceView, [state.rebalance]);
    const s = document.getElementById('status');
    s.textContent = statusText();
    s.dataset.state = state.error ? 'error' : 'ok';
  }

  async function tick() {
    try {
      await refresh();
      state.error = null;
    } catch (e) {
      state.error = e instanceof Error ? e.message : String(e);
    }
    render();
  }

  async function loop() {
    await tick();
    setTimeout(loop, POLL_MS);
  }

  function onActivate(e) {
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    const cancelBtn = t.closest('[data-cancel]');
    if (cancelBtn) return void cancel(cancelBtn.getAttribute('data-cancel'));
    const approve = t.closest('[data-approve]');
    if (approve) return void decide(approve.getAttribute('data-approve'), 'approve');
    const reject = t.closest('[data-reject]');
    if (reject) return void decide(reject.getAttribute('data-reject'), 'reject');
    const focusBtn = t.closest('[data-focus]');
    if (focusBtn) {
      const id = focusBtn.getAttribute('data-focus');
      state.focus = state.focus === id ? null : id;
      return render();
    }
    const sel = t.closest('[data-select]');
    if (sel) {
      state.selected = sel.getAttribute('data-select');
      render();
    }
  }

  function showToken() {
    document.getElementById('token').placeholder = localStorage.getItem(TOKEN_KEY) ? 'token stored' : 'API token';
  }

  document.getElementById('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = document.getElementById('token');
    if (input.value.trim()) localStorage.setItem(TOKEN_KEY, input.value.trim());
    else localStorage.removeItem(TOKEN_KEY);
    input.value = '';
    showToken();
    state.tick = 0;
    state.fleet = [];
    void tick();
  });
  showToken();
  document.addEventListener('click', onActivate);
  document.addEventListener('keydown', (e) => {
    if ((e.key === 'Enter' || e.key === ' ') && e.target instanceof Element && e.target.matches('.tile')) {
      e.preventDefault();
      onActivate(e);
    }
  });
  void loop();
})();
