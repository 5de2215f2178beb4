/* infersight built-in page: reads the public API (and /overview, /histogram) and draws
   uPlot charts. Each chart container gets data-points (non-null points drawn) and
   data-series (series drawn) so tests and tools can check what is shown; time charts also
   get data-provisional (open windows in range) and data-hidden (open windows whose drift
   scores are left out until they hold the drift rules' minimum rows). The uPlot instances
   are in window.infersightCharts. */
(function () {
  "use strict";

  const REFRESH_MS = 10000;
  const PALETTE = ["#58a6ff", "#f0883e", "#3fb950", "#d2a8ff", "#f778ba", "#e3b341", "#56d4dd"];
  const state = {
    models: [], model: null, feature: null, range: "21600", auto: true, timer: null,
    key: localStorage.getItem("infersight.apiKey") || "", overview: null, loading: false,
  };
  const charts = (window.infersightCharts = {});
  const bands = {};  // chart name -> {starts, win}: open windows shaded on the chart
  const $ = (id) => document.getElementById(id);

  // ---------- API ----------
  class AuthNeeded extends Error {}
  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null) url.searchParams.set(k, v);
    const headers = state.key ? { Authorization: "Bearer " + state.key } : {};
    const res = await fetch(url, { headers });
    if (res.status === 401 || res.status === 403) throw new AuthNeeded();
    if (!res.ok) {
      let detail = res.statusText;
      try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
      throw new Error(path + ": " + detail);
    }
    return res.json();
  }
  const metrics = (model, metric, feature, range) =>
    api(`/v1/models/${encodeURIComponent(model)}/metrics`,
      { metric, feature, start: range.startIso, end: range.endIso, limit: 100000 });

  // ---------- formatting ----------
  const fmt = (v, d = 3) => (v === null || v === undefined || !isFinite(v) ? "–" : (+v).toFixed(d));
  const pct = (v) => (v === null || v === undefined || !isFinite(v) ? "–" : Math.round(v * 100) + "%");
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const secs = (iso) => Date.parse(iso) / 1000;
  function ago(iso) {
    if (!iso) return "";
    const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (s < 0) return "in the future";
    if (s < 90) return s + "s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 129600) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }
  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return d.toISOString().slice(5, 16).replace("T", " ") + " UTC";
  }
  const hhmm = (iso) => (iso ? new Date(iso).toISOString().slice(11, 16) : "");
  /** A name as one shell word (quoted when it holds anything beyond [A-Za-z0-9._-]). */
  const shellWord = (s) => (/^[A-Za-z0-9._-]+$/.test(s) ? s : "'" + String(s).replace(/'/g, "'\\''") + "'");
  const uploadCommand = (model, version) => `infersight reference upload ${shellWord(model)} ${version ? shellWord(version) : "VERSION"} reference.csv`;
  /** [x, y] points of a chart from metric points. */
  const xy = (points) => points.map((p) => [secs(p.window_start), p.value]);
  function windowLabel(seconds) {
    if (seconds % 86400 === 0) return seconds / 86400 + "d";
    if (seconds % 3600 === 0) return seconds / 3600 + "h";
    if (seconds % 60 === 0) return seconds / 60 + "min";
    return seconds + "s";
  }

  // ---------- charts ----------
  const axisStyle = { stroke: "#8593a3", grid: { stroke: "#222b36", width: 1 }, ticks: { stroke: "#27313d", width: 1 }, font: "11px system-ui" };

  /** Align several [x, y] point lists on the union of their x values. */
  function align(seriesPoints) {
    const xs = Array.from(new Set(seriesPoints.flatMap((pts) => pts.map((p) => p[0])))).sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const ys = seriesPoints.map((pts) => {
      const y = new Array(xs.length).fill(null);
      for (const [x, v] of pts) y[index.get(x)] = v;
      return y;
    });
    return [xs, ...ys];
  }

  function mark(el, data, seriesCount) {
    let n = 0;
    for (let s = 1; s < data.length; s++) for (const v of data[s]) if (v !== null && v !== undefined) n++;
    el.dataset.points = String(n);
    el.dataset.series = String(seriesCount);
    let note = el.querySelector(".nodata");
    if (n === 0) {
      if (!note) { note = document.createElement("div"); note.className = "nodata"; el.appendChild(note); }
      note.textContent = el.dataset.empty || "no data in this range yet";
    } else if (note) note.remove();
  }

  /** Draw or update a chart; ``recreate`` when the options' closures changed (e.g. the
      histogram's bin labels belong to one feature). */
  function draw(name, el, opts, data, recreate) {
    const width = Math.max(200, el.clientWidth);
    const height = el.clientHeight || 232;
    const old = charts[name];
    const sameShape = !recreate && old && old.series.length === opts.series.length &&
      old.series.every((s, i) => s.label === opts.series[i].label);
    if (sameShape) {
      old.setData(data);
    } else {
      if (old) old.destroy();
      el.querySelectorAll(".uplot").forEach((n) => n.remove());
      charts[name] = new uPlot(Object.assign({ width, height: height - 24 }, opts), data, el);
    }
    mark(el, data, opts.series.length - 1);
  }

  // ---------- open (provisional) windows ----------
  /** The open windows of the range, from its dataset-level ``count`` points: ``rows`` per
      "version|window_start", ``starts`` (seconds), and ``hidden(p)``: whether a drift point
      of an open window has a sample below ``minRows``, counted as the alert rules count it
      (the point's sample_size; for drift_share, the window's rows). */
  function openWindows(counts, minRows) {
    const rows = new Map();
    for (const p of counts) if (p.provisional) rows.set(p.version + "|" + p.window_start, p.value || 0);
    const starts = Array.from(new Set(counts.filter((p) => p.provisional).map((p) => secs(p.window_start))));
    const sample = (p) => (p.metric === "drift_share" ? rows.get(p.version + "|" + p.window_start) || 0 : p.sample_size);
    const hidden = (p) => Boolean(p.provisional) && sample(p) < minRows;
    return { rows, starts, minRows, hidden };
  }
  const NO_OPEN = openWindows([], 0);

  /** Shade the open windows (from the first open window's start to the chart's end). */
  function drawBand(u, name) {
    const band = bands[name];
    if (!band || !band.starts.length) return;
    const { ctx, bbox } = u;
    const x0 = Math.max(bbox.left, u.valToPos(Math.min(...band.starts), "x", true));
    const x1 = bbox.left + bbox.width;
    ctx.save();
    ctx.fillStyle = "rgba(227,179,65,.08)";
    ctx.fillRect(x0, bbox.top, Math.max(0, x1 - x0), bbox.height);
    ctx.setLineDash([4, 4]);
    ctx.strokeStyle = "rgba(227,179,65,.7)";
    ctx.beginPath(); ctx.moveTo(x0, bbox.top); ctx.lineTo(x0, bbox.top + bbox.height); ctx.stroke();
    ctx.restore();
  }

  /** The x range: the data's, reaching the end of the last open window when there is one. */
  function xRange(name, lo, hi) {
    const band = bands[name];
    if (lo === null || hi === null || lo === undefined || hi === undefined) return [lo, hi];
    if (band && band.starts.length) hi = Math.max(hi, Math.max(...band.starts) + band.win);
    return lo === hi ? [lo - 60, hi + 60] : [lo, hi];
  }

  /** The "provisional" label of a chart: the open window, its rows, and whether its drift
      scores are drawn. */
  function markOpen(el, open, drift) {
    const latest = open.starts.length ? Math.max(...open.starts) : null;
    let rows = 0;
    for (const [key, n] of open.rows) if (secs(key.slice(key.indexOf("|") + 1)) === latest) rows = Math.max(rows, n);
    const hidden = drift && latest !== null && rows < open.minRows;
    el.dataset.provisional = String(open.starts.length);
    const small = new Set([...open.rows].filter(([, n]) => n < open.minRows).map(([key]) => key.slice(key.indexOf("|") + 1)));
    el.dataset.hidden = String(drift ? small.size : 0);
    let note = el.querySelector(".provisional-note");
    if (latest === null) { if (note) note.remove(); return; }
    if (!note) { note = document.createElement("div"); note.className = "provisional-note"; el.appendChild(note); }
    const hhmm = new Date(latest * 1000).toISOString().slice(11, 16);
    note.textContent = `window ${hhmm} open: provisional — ${Math.round(rows).toLocaleString()}` +
      (drift ? ` of ${open.minRows.toLocaleString()} rows${hidden ? ", drift not drawn yet" : ""}` : " rows so far");
    note.title = "The window is still open: its values change as events arrive." +
      (drift ? ` Drift scores are drawn once it has ${open.minRows} rows, the minimum the drift alert rules judge.` : "");
  }

  function timeChart(name, el, series, pointsBySeries, axes, open, drift) {
    const data = align(pointsBySeries);
    open = open || NO_OPEN;
    bands[name] = { starts: open.starts, win: (state.overview || {}).window_seconds || 60 };
    const opts = {
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      hooks: { draw: [(u) => drawBand(u, name)] },
      scales: { x: { time: true, range: (u, lo, hi) => xRange(name, lo, hi) }, y: axes.y || {}, r: axes.r || {} },
      axes: [
        Object.assign({}, axisStyle),
        Object.assign({}, axisStyle, { size: axes.ySize || 50, values: axes.yValues }),
        ...(axes.r ? [Object.assign({}, axisStyle, { scale: "r", side: 1, grid: { show: false }, size: 46, values: axes.rValues })] : []),
      ],
      series: [{ label: "window" }, ...series],
    };
    draw(name, el, opts, data);
    markOpen(el, open, Boolean(drift));
  }

  const line = (label, color, extra) => Object.assign({
    label, stroke: color, width: 1.6, spanGaps: true, points: { show: false },
    value: (u, v) => fmt(v),
  }, extra || {});

  // ---------- range ----------
  function currentRange(overview) {
    const win = overview.window_seconds;
    const last = overview.last_window ? secs(overview.last_window) : Date.now() / 1000;
    const end = last + win;
    const first = overview.first_window ? secs(overview.first_window) : end - win;
    const start = state.range === "all" ? first : Math.max(first, end - Number(state.range));
    return {
      start, end,
      startIso: new Date(start * 1000).toISOString(),
      endIso: new Date(end * 1000).toISOString(),
    };
  }

  // ---------- models list ----------
  function statusOf(o) {
    if (!o || !o.last_window) return ["idle", "no windows yet"];
    if (o.firing_alerts > 0) return ["bad", o.firing_alerts + " alert" + (o.firing_alerts > 1 ? "s" : "") + " firing"];
    if ((o.latest.drift_share || 0) > 0.3) return ["warn", "drifting"];
    return ["ok", "healthy"];
  }

  function renderModels(overviews) {
    const ul = $("models");
    ul.innerHTML = "";
    for (const o of overviews) {
      const [cls, text] = statusOf(o);
      const li = document.createElement("li");
      li.className = o.model === state.model ? "on" : "";
      li.dataset.model = o.model;
      li.innerHTML = `<div class="name"><span class="dot ${cls}" title="${esc(text)}"></span>${esc(o.model)}</div>
        <div class="sub">${o.versions_with_reference.length ? `drift ${pct(o.latest.drift_share)} · F1 ${fmt(o.latest.f1, 2)}` : "no reference"} · ${esc(text)}</div>`;
      li.onclick = () => { state.model = o.model; state.feature = null; refresh(); };
      ul.appendChild(li);
    }
    $("side-foot").textContent = overviews.length + " model" + (overviews.length === 1 ? "" : "s");
  }

  // ---------- model view ----------
  function kpi(label, value, cls, delta) {
    return `<div class="kpi ${cls || ""}"><div class="label">${label}</div><div class="value">${value}</div><div class="delta">${delta || "&nbsp;"}</div></div>`;
  }

  function renderHead(o) {
    $("model-name").textContent = o.model;
    const versions = o.versions.map((v) => o.versions_with_reference.includes(v) ? `<b>v${esc(v)}</b>` : `v${esc(v)} (no reference)`).join(", ");
    const latest = o.last_window
      ? `latest window <b>${esc(when(o.last_window))}</b> <span class="clock" title="windows are in the events' own time (ts); a replay or the demo runs it ahead of or behind the wall clock">event time</span> (${ago(o.last_window)} by the wall clock)`
      : '<span class="none" id="no-window">no window yet: nothing recorded for this model</span>';
    $("model-meta").innerHTML = `${esc(o.task || "task not set")} · window <b>${windowLabel(o.window_seconds)}</b> · ${versions || "no versions"} · ${latest}`;
    $("crumbs").textContent = "models / " + o.model;
    const l = o.latest, ref = o.reference_performance || {};
    const drift = l.drift_share;
    const f1Delta = l.f1 !== null && ref.f1 !== undefined ? (l.f1 - ref.f1) : null;
    const estDelta = l.estimated_f1 !== null && ref.f1 !== undefined ? (l.estimated_f1 - ref.f1) : null;
    const signed = (d) => (d === null ? "" : (d >= 0 ? "+" : "") + d.toFixed(3) + " vs reference");
    const closed = o.latest_window ? "window " + hhmm(o.latest_window) : "";
    const labelled = o.latest_labelled_window ? "labels of " + hhmm(o.latest_labelled_window) : "no labels yet";
    const referenced = o.versions_with_reference.length ? [
      kpi("predictions / window", l.count === null ? "–" : Math.round(l.count).toLocaleString(), "", closed),
      kpi("drift share", pct(drift), drift > 0.3 ? "bad" : drift > 0.1 ? "warn" : "ok", closed),
      kpi("F1 (labelled)", fmt(l.f1), f1Delta !== null && f1Delta < -0.05 ? "bad" : "", signed(f1Delta)),
      kpi("F1 (estimated)", fmt(l.estimated_f1), estDelta !== null && estDelta < -0.05 ? "warn" : "", signed(estDelta)),
      kpi("label coverage", pct(l.label_coverage), "", labelled),
    ] : [];  // without a reference there is no drift or performance to headline
    $("kpis").innerHTML = [
      ...referenced,
      kpi("p99 latency", l.latency_p99_ms === null ? "–" : fmt(l.latency_p99_ms, 1) + " ms", "", closed),
      kpi("alerts firing", String(o.firing_alerts), o.firing_alerts ? "bad" : "ok"),
    ].join("");
  }

  async function renderDrift(o, range, ranking) {
    const m = o.model;
    const version = ranking && ranking.versions.length ? ranking.versions[ranking.versions.length - 1] : null;
    const top = version ? version.features.filter((f) => f.score !== null).slice(0, 4) : [];
    const [share, ...perFeature] = await Promise.all([
      metrics(m, "drift_share", "", range),
      ...top.map((f) => metrics(m, "psi", f.feature, range)),
    ]);
    const open = state.open || NO_OPEN;
    const shown = (arr) => arr.map((p) => [secs(p.window_start), open.hidden(p) ? null : p.value]);
    // closed windows on the solid line; open ones with enough rows on a dashed one with
    // hollow points, joined to the last closed window; too few rows: not drawn at all
    const closed = share.filter((p) => !p.provisional);
    const provisional = share.filter((p) => p.provisional && !open.hidden(p));
    const joined = provisional.length && closed.length ? [closed[closed.length - 1], ...provisional] : provisional;
    const series = [
      line("drift share", "#f85149", { fill: "rgba(248,81,73,.10)", width: 2, value: (u, v) => pct(v) }),
      line("drift share (provisional)", "#f85149", { width: 1.5, dash: [4, 4], value: (u, v) => pct(v),
        points: { show: true, size: 7, width: 1.5, stroke: "#f85149", fill: "#151b23" } }),
    ];
    const points = [shown(closed), shown(joined)];
    top.forEach((f, i) => {
      series.push(line("psi " + f.feature, PALETTE[i % PALETTE.length], { scale: "r", width: 1.2 }));
      points.push(shown(perFeature[i]));
    });
    timeChart("drift", $("chart-drift"), series, points, {
      y: { range: [0, 1] }, yValues: (u, vals) => vals.map((v) => Math.round(v * 100) + "%"),
      r: top.length ? { range: (u, lo, hi) => [0, Math.max(0.3, hi * 1.1)] } : undefined,
    }, open, true);
  }

  /** Multivariate drift (PCA reconstruction error of the tabular features together), for the
      newest version with a reference: its z per window against the line from which a window
      can count as drift, and the latest window's decision. Hidden without those points. */
  async function renderMultivariate(o, range) {
    const version = o.versions_with_reference[o.versions_with_reference.length - 1];
    const ofVersion = (points) => points.filter((p) => p.version === version);
    const [z, decisions] = (await Promise.all([
      metrics(o.model, "reconstruction_error_drift", "", range),
      metrics(o.model, "multivariate_drift", "", range)])).map(ofVersion);
    const card = $("multivariate");
    card.hidden = !z.length;
    if (card.hidden) return;
    const open = state.open || NO_OPEN;
    const limit = o.multivariate_drift_z;
    const shown = z.map((p) => [secs(p.window_start), open.hidden(p) ? null : p.value]);
    const xs = shown.map((p) => p[0]);
    const last = latestClosed(decisions.filter((p) => !open.hidden(p)));
    const badge = $("mv-decision");
    badge.className = "badge " + (!last ? "muted" : last.value === 1 ? "bad" : "ok");
    badge.textContent = !last ? "not judged yet" : last.value === 1 ? "drift" : "no drift";
    card.dataset.decision = last ? String(last.value) : "";
    $("mv-hint").textContent = `v${version} · z of the window's mean reconstruction error against the reference's` +
      (last ? ` · ${closedLabel(last)}` : "");
    timeChart("multivariate", $("chart-multivariate"), [
      line("z", "#d2a8ff", { width: 2, points: { show: true, size: 4 } }),
      line("drift from z " + fmt(limit, 2), "#f85149", { width: 1, dash: [4, 4] }),
    ], [shown, [[Math.min(...xs), limit], [Math.max(...xs), limit]]], {
      y: { range: (u, lo, hi) => [Math.min(0, lo), Math.max(limit * 1.3, hi * 1.1)] },
    }, open, true);
  }

  const TEST_NAMES = { wasserstein_normed: "Wasserstein", js_distance: "JS dist.", ks: "KS", ks_statistic: "KS", ks_pvalue: "KS", chi2: "χ²", chi2_pvalue: "χ²", psi: "PSI" };

  function renderRanking(ranking) {
    const tbody = $("rank").querySelector("tbody");
    const version = ranking.versions.length ? ranking.versions[ranking.versions.length - 1] : null;
    if (!version) {
      tbody.innerHTML = '<tr><td colspan="5" class="none">no window of a version with a reference in this range</td></tr>';
      $("rank-hint").textContent = "";
      return [];
    }
    $("rank-hint").textContent = `v${version.version} · ${version.events.toLocaleString()} predictions in range · ${pct(version.drift_share)} drifted`;
    const max = Math.max(0.25, ...version.features.map((f) => f.score || 0));
    tbody.innerHTML = version.features.map((f) => {
      const t = f.tests[0];
      const p = t ? (t.adjusted_pvalue !== null && t.adjusted_pvalue !== undefined ? "p " + t.adjusted_pvalue.toExponential(1) : fmt(t.value)) : "–";
      const width = Math.round(48 * Math.min(1, (f.score || 0) / max));
      const cells = f.kind === "embedding" ? embeddingCells(f) : `
        <td><span class="bar" style="width:${width}px"></span>${fmt(f.score)}</td>
        <td title="${t ? esc(t.test) : ""}">${t ? esc(TEST_NAMES[t.test] || t.test) : "–"}</td><td>${p}</td>`;
      return `<tr data-feature="${esc(f.feature)}" data-kind="${esc(f.kind)}" class="${f.feature === state.feature ? "on" : ""}">
        <td title="${esc(f.feature)}">${esc(f.feature)}</td>${cells}
        <td>${f.drifted ? '<span class="badge bad">drift</span>' : '<span class="badge muted">ok</span>'}</td></tr>`;
    }).join("");
    tbody.querySelectorAll("tr").forEach((tr) => {
      tr.onclick = () => { state.feature = tr.dataset.feature; refreshFeature(); renderRankingSelection(); };
    });
    return version.features;
  }

  /** An embedding's score, test and value cells: the share of its principal components that
      drifted (or, without it, its mean distance), the "embedding" kind, its mean distance. */
  function embeddingCells(f) {
    const share = f.metrics.embedding_drifted_components;
    const distance = f.metrics.embedding_mean_distance;
    const score = share !== null && share !== undefined
      ? `<td data-score title="share of the embedding's principal components whose test drifted">${pct(share)} comp.</td>`
      : `<td data-score title="distance of the mean vectors over the reference's spread">${fmt(distance)}</td>`;
    return `${score}<td title="embedding feature: judged over its principal components"><span class="kind">embedding</span></td>
      <td title="mean distance: the mean vectors' distance over the reference's spread">d ${fmt(distance)}</td>`;
  }

  function renderRankingSelection() {
    $("rank").querySelectorAll("tbody tr").forEach((tr) => tr.classList.toggle("on", tr.dataset.feature === state.feature));
  }

  const short = (v) => {
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toPrecision(3) + "M";
    if (a >= 1e4) return (v / 1e3).toPrecision(3) + "k";
    return String(+v.toPrecision(3));
  };
  /** Axis label of a bin: its lower edge (numbers) or a shortened category. */
  function shortBin(bin, kind) {
    if (kind === "categorical") return bin.label.length > 11 ? bin.label.slice(0, 10) + "…" : bin.label;
    if (bin.lower === null) return "<" + short(bin.upper);
    if (bin.upper === null) return ">" + short(bin.lower);
    return short(bin.lower);
  }

  async function renderHistogram(o, range) {
    const el = $("chart-hist");
    const h = await api(`/v1/models/${encodeURIComponent(o.model)}/histogram`,
      { feature: state.feature, start: range.startIso, end: range.endIso });
    const embedding = h.kind === "embedding";
    $("hist-what").textContent = embedding ? ": projection on its first principal component" : ": reference vs current";
    $("hist-hint").textContent = embedding
      ? `embedding · ${h.current_count.toLocaleString()} vectors in range vs ${h.reference_count.toLocaleString()} in reference, on the reference's first principal component`
      : `${h.kind} · ${h.current_count.toLocaleString()} values in range vs ${h.reference_count.toLocaleString()} in reference`;
    const xs = h.bins.map((_, i) => i);
    const data = [xs, h.bins.map((b) => b.reference), h.bins.map((b) => h.current_count ? b.current : null)];
    const bars = uPlot.paths.bars;
    const opts = {
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.6, xs.length - 0.4] }, y: { range: (u, lo, hi) => [0, Math.max(0.05, hi * 1.08)] } },
      axes: [
        Object.assign({}, axisStyle, { values: (u, vals) => vals.map((v) => (Number.isInteger(v) && h.bins[v] ? shortBin(h.bins[v], h.kind) : "")), splits: () => xs, size: 30,
          font: "10px system-ui" }),
        Object.assign({}, axisStyle, { size: 46, values: (u, vals) => vals.map((v) => Math.round(v * 100) + "%") }),
      ],
      series: [
        { label: "bin", value: (u, v) => (v === null || !h.bins[v] ? "" : h.bins[v].label) },
        { label: "reference", stroke: "#8593a3", fill: "rgba(133,147,163,.35)", width: 1, paths: bars({ size: [0.38, 60], align: -1 }), points: { show: false }, value: (u, v) => pct(v) },
        { label: "current", stroke: "#58a6ff", fill: "rgba(88,166,255,.55)", width: 1, paths: bars({ size: [0.38, 60], align: 1 }), points: { show: false }, value: (u, v) => pct(v) },
      ],
    };
    el.dataset.feature = h.feature;
    el.dataset.bins = h.bins.map((b) => b.label).join("|");
    draw("histogram", el, opts, data, true);
  }

  async function renderFeatureSeries(o, range) {
    const names = ["psi", "js_distance", "wasserstein_normed", "hellinger",
      "embedding_drifted_components", "embedding_mean_distance"];  // the last two: embeddings
    const all = await metrics(o.model, null, state.feature, range);
    const by = Object.fromEntries(names.map((n) => [n, []]));
    const open = state.open || NO_OPEN;
    for (const p of all) if (by[p.metric]) by[p.metric].push([secs(p.window_start), open.hidden(p) ? null : p.value]);
    const present = names.filter((n) => by[n].length);
    timeChart("feature", $("chart-feature"),
      present.map((n, i) => line(n, PALETTE[i % PALETTE.length])), present.map((n) => by[n]),
      { y: { range: (u, lo, hi) => [0, Math.max(0.2, hi * 1.1)] } }, open, true);
  }

  async function renderPerformance(o, range) {
    const [f1, est, cov, auc] = await Promise.all(["f1", "estimated_f1", "label_coverage", "roc_auc"].map((n) => metrics(o.model, n, "", range)));
    const ref = (o.reference_performance || {}).f1;
    const series = [
      line("F1 (labelled)", "#3fb950", { width: 2 }),
      line("F1 (estimated)", "#e3b341", { dash: [5, 4] }),
      line("ROC AUC", "#d2a8ff", { width: 1.2 }),
      line("label coverage", "#56d4dd", { width: 1, dash: [2, 3], value: (u, v) => pct(v) }),
    ];
    const points = [xy(f1), xy(est), xy(auc), xy(cov)];
    if (ref !== undefined) {
      const xs = points.flat().map((p) => p[0]);
      if (xs.length) {
        series.push(line("reference F1", "#8593a3", { width: 1, dash: [1, 4] }));
        points.push([[Math.min(...xs), ref], [Math.max(...xs), ref]]);
      }
    }
    $("perf-hint").textContent = ref !== undefined ? `reference F1 ${fmt(ref)} · realised F1 needs labels; the estimate does not` : "realised (labelled) and estimated (label-free), with label coverage";
    timeChart("performance", $("chart-perf"), series, points, { y: { range: [0, 1] } }, state.open);
  }

  function evidenceHtml(details) {
    const ev = details && details.evidence;
    if (!ev) return "";
    const parts = [];
    for (const f of (ev.top_features || []).slice(0, 6)) {
      const score = `${f.score_metric || "score"} ${fmt(f.score)}`;
      parts.push(`<div><b>${esc(f.feature)}</b> ${esc(score)}${f.drifting_since ? " · since " + esc(when(f.drifting_since)) : ""}</div>`);
    }
    for (const p of ev.performance || []) {
      const delta = p.delta !== undefined && p.delta !== null ? ` (Δ ${fmt(p.delta)})` : "";
      parts.push(`<div><b>${esc(p.metric || p.rule || "performance")}</b> ${fmt(p.value)} vs ${fmt(p.reference)}${delta}${p.sample_size ? " · n=" + p.sample_size : ""}</div>`);
    }
    return parts.length ? `<div class="evidence">${parts.join("")}</div>` : "";
  }

  function renderAlerts(alerts) {
    const el = $("alerts");
    const shown = alerts.filter((a) => a.status !== "inactive");
    const firing = shown.filter((a) => a.status === "firing").length;
    $("alerts-hint").textContent = shown.length ? `${firing} firing · ${shown.length} total` : "";
    el.dataset.alerts = String(shown.length);
    if (!shown.length) { el.innerHTML = '<div class="none">No alerts for this model.</div>'; return; }
    const order = { firing: 0, pending: 1, resolved: 2 };
    shown.sort((a, b) => (order[a.status] - order[b.status]) || String(b.firing_since || b.pending_since).localeCompare(String(a.firing_since || a.pending_since)));
    const sevClass = { critical: "bad", warning: "warn", info: "info" };
    el.innerHTML = shown.map((a) => {
      const d = a.details || {};
      const summary = d.summary || (d.annotations && d.annotations.summary) || "";
      const since = (a.status === "firing" ? "firing since " + when(a.firing_since) : a.status === "pending" ? "pending since " + when(a.pending_since) : "resolved " + when(a.resolved_at)) + " (wall clock)";
      // the state's value is the latest judgement's; the payload's, the value when it fired
      const fired = a.status !== "pending" && d.value !== null && d.value !== undefined && d.value !== a.value ? ` · at firing <b>${fmt(d.value)}</b>` : "";
      const value = a.value !== null && a.value !== undefined ? `<span class="values">now <b data-now>${fmt(a.value)}</b>${fired}${a.threshold !== null && a.threshold !== undefined ? " · threshold " + fmt(a.threshold) : ""}</span>` : "";
      return `<div class="alert ${esc(a.status)}" data-rule="${esc(a.rule)}" data-status="${esc(a.status)}">
        <div class="row"><span class="badge ${a.status === "firing" ? "bad" : a.status === "pending" ? "warn" : "ok"}">${esc(a.status)}</span>
          <span class="badge ${sevClass[a.severity] || "muted"}">${esc(a.severity || "")}</span>
          <span class="rule">${esc(a.rule)}${a.feature ? " [" + esc(a.feature) + "]" : ""}</span> ${value}
          <span class="when">${esc(since)}</span></div>
        ${summary ? `<div class="summary">${esc(summary)}</div>` : ""}
        ${evidenceHtml(d)}</div>`;
    }).join("");
  }

  // ---------- inference health (every call; no reference needed) ----------
  const DAY = 86400;
  const total = (points) => points.reduce((a, p) => a + (p.value || 0), 0);
  const count = (v) => Math.round(v).toLocaleString();
  const ms = (v) => fmt(v, v >= 100 ? 0 : 1) + " ms";
  const rate = (v) => (v === null || v === undefined || !isFinite(v) ? "–" : (v * 100).toFixed(v >= 0.1 ? 1 : 2) + "%");
  const fromZero = (floor) => ({ range: (u, lo, hi) => [0, Math.max(floor, (hi || 0) * 1.1)] });
  /** The latest point of a closed window (the latest point when every window is open). */
  function latestClosed(points) {
    const defined = points.filter((p) => p.value !== null && p.value !== undefined);
    const closed = defined.filter((p) => !p.provisional);
    return (closed.length ? closed : defined).at(-1) || null;
  }
  const closedLabel = (p) => (p ? (p.provisional ? "open window " : "window ") + hhmm(p.window_start) : "");

  async function renderRate(o, range, calls) {
    const rates = await metrics(o.model, "request_rate", "", range);
    const last = latestClosed(rates);
    $("rate-value").innerHTML = last ? `${fmt(last.value, last.value >= 100 ? 0 : 2)} /s <small>calls per second · ${closedLabel(last)}</small>` : "–";
    $("rate-hint").textContent = calls.length ? `${count(total(calls))} calls in range` : "no calls in range yet";
    timeChart("rate", $("chart-rate"), [line("calls/s", "#58a6ff", { width: 2, value: (u, v) => fmt(v, 2) + " /s" })],
      [xy(rates)], { y: fromZero(1) }, state.healthOpen);
  }

  async function renderErrors(o, range, calls) {
    const [rates, errors] = await Promise.all([
      metrics(o.model, "error_rate", "", range), metrics(o.model, "error_count", null, range)]);
    const failed = total(errors.filter((p) => !p.feature));
    const byType = new Map();
    for (const p of errors) if (p.feature) byType.set(p.feature, (byType.get(p.feature) || 0) + (p.value || 0));
    const top = [...byType].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, 3);
    const called = total(calls);
    const share = called ? failed / called : null;
    const el = $("error-rate");
    el.className = "figure" + (share > 0.05 ? " bad" : share > 0.01 ? " warn" : "");
    el.innerHTML = share === null ? "–" : `${rate(share)} <small>${count(failed)} of ${count(called)} calls failed in range</small>`;
    $("errors-hint").textContent = byType.size > top.length ? `top ${top.length} of ${byType.size} error types` : "";
    $("error-types").innerHTML = top.length
      ? top.map(([type, n]) => `<li data-type="${esc(type)}"><span class="type">${esc(type)}</span><span class="n">${count(n)} · ${pct(failed ? n / failed : 0)} of errors</span></li>`).join("")
      : `<li class="none">${failed ? "error types not recorded" : calls.length ? "no failed calls in range" : "no calls recorded in range"}</li>`;
    timeChart("errors", $("chart-errors"), [line("error rate", "#f85149", { width: 2, value: (u, v) => rate(v) })],
      [xy(rates)], { y: fromZero(0.05), yValues: (u, vals) => vals.map((v) => +(v * 100).toPrecision(2) + "%") }, state.healthOpen);
  }

  async function renderLatency(o, range) {
    const names = ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"];
    const [p50, p95, p99, failed] = await Promise.all([
      ...names.map((n) => metrics(o.model, n, "", range)), metrics(o.model, "latency_p95_ms", "@error", range)]);
    const last = [p50, p95, p99].map(latestClosed);
    $("latency-value").innerHTML = last[2] ? `${last.map((p) => (p ? ms(p.value).slice(0, -3) : "–")).join(" / ")} ms <small>p50 / p95 / p99 · ${closedLabel(last[2])}</small>` : "–";
    const colors = ["#3fb950", "#e3b341", "#f85149"];
    const series = names.map((n, i) => line(n.replace("latency_", "").replace("_ms", ""), colors[i], { value: (u, v) => ms(v) }));
    const points = [xy(p50), xy(p95), xy(p99)];
    if (failed.length) {
      series.push(line("p95 failed calls", "#d2a8ff", { dash: [4, 3], value: (u, v) => ms(v) }));
      points.push(xy(failed));
    }
    timeChart("latency", $("chart-latency"), series, points,
      { y: fromZero(1), yValues: (u, vals) => vals.map((v) => v + " ms"), ySize: 58 }, state.healthOpen);
  }

  /** Tokens per window and time to first token: generative models only (hidden otherwise). */
  async function renderTokens(o, range) {
    const [input, output, ttft] = await Promise.all(["input_tokens", "output_tokens", "time_to_first_token_p95_ms"]
      .map((n) => metrics(o.model, n, "", range)));
    const card = $("health-tokens");
    card.hidden = !input.length && !output.length;
    if (card.hidden) return;
    const last = latestClosed(ttft);
    $("tokens-value").innerHTML = `${short(total(input))} in · ${short(total(output))} out <small>tokens in range</small>`;
    $("tokens-hint").textContent = last ? `first token p95 ${ms(last.value)}` : "";
    const series = [line("input tokens", "#58a6ff", { value: (u, v) => fmt(v, 0) }), line("output tokens", "#3fb950", { value: (u, v) => fmt(v, 0) })];
    const points = [xy(input), xy(output)];
    if (ttft.length) {
      series.push(line("ttft p95", "#e3b341", { scale: "r", dash: [4, 3], value: (u, v) => ms(v) }));
      points.push(xy(ttft));
    }
    timeChart("tokens", $("chart-tokens"), series, points, {
      y: fromZero(1), yValues: (u, vals) => vals.map(short),
      r: ttft.length ? fromZero(1) : undefined, rValues: (u, vals) => vals.map((v) => +(v / 1000).toPrecision(2) + " s"),
    }, state.healthOpen);
  }

  /** The currency of the model's price (``GET /v1/models/{model}``: ``pricing.currency``),
      or "" when the server does not say. */
  async function currencyOf(model) {
    try {
      const m = await api(`/v1/models/${encodeURIComponent(model)}`);
      const currency = m && m.pricing && m.pricing.currency;
      return typeof currency === "string" ? currency : "";
    } catch (err) {
      if (err instanceof AuthNeeded) throw err;
      return "";
    }
  }
  function money(v, currency) {
    const digits = v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : String(+v.toPrecision(3));
    return currency ? `${digits} ${esc(currency)}` : digits;
  }

  /** Cost summed over each UTC day (by window start) of the range: priced models only. */
  async function renderCost(o, range) {
    const dayStart = Math.floor(range.start / DAY) * DAY;
    const [costs, perRequest] = await Promise.all([
      metrics(o.model, "cost", "", { startIso: new Date(dayStart * 1000).toISOString(), endIso: range.endIso }),
      metrics(o.model, "cost_per_request", "", range)]);
    const card = $("health-cost");
    card.hidden = !costs.length;
    if (card.hidden) return;
    const currency = await currencyOf(o.model);
    const days = new Map();
    for (const p of costs) {
      const day = new Date(Math.floor(secs(p.window_start) / DAY) * DAY * 1000).toISOString().slice(0, 10);
      days.set(day, (days.get(day) || 0) + (p.value || 0));
    }
    const shown = [...days].sort((a, b) => b[0].localeCompare(a[0])).slice(0, 7);
    const most = Math.max(...shown.map(([, v]) => v)) || 1;
    const [latestDay, latestCost] = shown[0];
    $("cost-value").innerHTML = `${money(latestCost, currency)} <small>on ${latestDay} (UTC)</small>`;
    const each = latestClosed(perRequest);
    $("cost-hint").textContent = each ? `${money(each.value, currency)} per request` : "";
    $("cost-days").querySelector("tbody").innerHTML = shown.map(([day, v]) =>
      `<tr data-day="${day}"><td>${day}</td><td><span class="bar" style="width:${Math.round(120 * v / most)}px"></span></td><td data-cost>${money(v, currency)}</td></tr>`).join("");
  }

  function renderHealth(o, range, calls) {
    return Promise.all([renderRate(o, range, calls), renderErrors(o, range, calls), renderLatency(o, range),
      renderTokens(o, range), renderCost(o, range)]);
  }

  // ---------- without a reference ----------
  /** In place of the drift and performance cards: the model's upload command, and when the
      worker takes a first-window reference by itself (``/overview``'s reference_bootstrap). */
  function renderReference(o) {
    const has = o.versions_with_reference.length > 0;
    document.querySelectorAll(".needs-reference").forEach((el) => { el.hidden = !has; });
    if (!has) $("multivariate").hidden = true;  // shown by renderMultivariate when it has points
    $("no-reference").hidden = has;
    if (has) return;
    const b = o.reference_bootstrap;
    const version = b ? b.version : o.versions[o.versions.length - 1];
    const min = ((b && b.min_events) || 1000).toLocaleString();
    const first = b && b.first_window ? `its first window (${when(b.first_window)}, event time)` : "its first window";
    const auto = b
      ? `Without an upload, the worker takes one from ${first} of v${esc(b.version)} once ${min} predictions are held or that window closes: <b id="held">${b.held.toLocaleString()}</b> held so far.`
      : `Without an upload, the worker takes one from the first window of predictions once ${min} are held or that window closes.`;
    $("no-reference-body").innerHTML = `<p>No reference for <b>${esc(o.model)}</b> yet: drift, prediction drift and performance are
      measured against one. Upload yours (e.g. validation data with its predictions and labels) to compare with what the model was built on:</p>
      <p><code id="upload-command">${esc(uploadCommand(o.model, version))}</code></p><p>${auto} The health row above needs no reference.</p>`;
  }

  // ---------- data quality (the latest closed window) ----------
  /** Per feature of the newest version with a reference, the latest closed window's missing
      (with the reference's rate), invalid, out-of-range and new-category rates, and its
      schema changes: a feature missing from every row, and names the reference never had. */
  async function renderQuality(o) {
    const tbody = $("quality-table").querySelector("tbody");
    const card = $("quality");
    const version = o.versions_with_reference[o.versions_with_reference.length - 1];
    if (!o.latest_window) {
      tbody.innerHTML = '<tr><td colspan="6" class="none">no closed window yet</td></tr>';
      return;
    }
    const start = secs(o.latest_window);
    const points = (await metrics(o.model, null, null, {
      startIso: o.latest_window, endIso: new Date((start + o.window_seconds) * 1000).toISOString() }))
      .filter((p) => p.version === version && p.feature && secs(p.window_start) === start);
    const by = new Map();
    for (const p of points) {
      if (!by.has(p.feature)) by.set(p.feature, {});
      by.get(p.feature)[p.metric] = p.value;
    }
    const unexpected = [...by].filter(([, m]) => m.unexpected_feature !== undefined)
      .sort((a, b) => b[1].unexpected_feature - a[1].unexpected_feature || a[0].localeCompare(b[0]));
    const cell = (m, metric, cls) => {
      const v = m[metric];
      return `<td data-metric="${metric}" data-value="${v === undefined || v === null ? "" : v}" class="${cls || ""}">${v === undefined ? "–" : rate(v)}</td>`;
    };
    const rows = o.features.filter((f) => by.has(f.name)).map((f) => {
      const m = by.get(f.name);
      const ref = m.reference_missing_rate;
      const up = ref !== undefined && m.missing_rate !== undefined && m.missing_rate > ref + 0.05;
      const missing = m.feature_missing === 1;
      const refText = ref === undefined ? "" : ` <small data-reference="${ref}">(${rate(ref)})</small>`;
      return `<tr data-feature="${esc(f.name)}" data-kind="${esc(f.kind)}"><td title="${esc(f.name)}">${esc(f.name)}</td>
        <td data-metric="missing_rate" data-value="${m.missing_rate ?? ""}" class="${up ? "warn" : ""}">${rate(m.missing_rate)}${refText}</td>
        ${cell(m, "invalid_rate", m.invalid_rate > 0 ? "warn" : "")}${cell(m, "out_of_range_rate", m.out_of_range_rate > 0.05 ? "warn" : "")}
        ${cell(m, "new_category_rate", m.new_category_rate > 0.05 ? "warn" : "")}
        <td data-schema="${missing ? "missing" : "ok"}">${missing ? '<span class="badge bad">missing</span>' : '<span class="badge muted">ok</span>'}</td></tr>`;
    });
    for (const [name, m] of unexpected) {
      rows.push(`<tr data-feature="${esc(name)}" class="unexpected"><td title="${esc(name === "@other" ? "names beyond the 50 a window keeps" : name)}">${esc(name)}</td>
        <td colspan="4" class="none" data-rows="${m.unexpected_feature}">not in the reference: ${count(m.unexpected_feature)} rows carried it</td>
        <td data-schema="unexpected"><span class="badge bad">new</span></td></tr>`);
    }
    tbody.innerHTML = rows.join("") || '<tr><td colspan="6" class="none">no feature points for this window</td></tr>';
    const gone = o.features.filter((f) => (by.get(f.name) || {}).feature_missing === 1).length;
    card.dataset.window = o.latest_window;
    card.dataset.unexpected = String(unexpected.length);
    card.dataset.missing = String(gone);
    const changes = gone + unexpected.length;
    $("quality-hint").textContent = `v${version} · ${closedLabel({ window_start: o.latest_window })} · ` +
      (changes ? `${gone} missing, ${unexpected.length} unexpected feature${unexpected.length === 1 ? "" : "s"}` : "no schema change");
  }

  /** The cards that compare with the reference: drift, ranked features, drill-down, performance. */
  async function renderReferenced(o, range) {
    const ranking = await api(`/v1/models/${encodeURIComponent(o.model)}/drift`, { start: range.startIso, end: range.endIso });
    const ranked = renderRanking(ranking);
    if (!state.feature || !o.features.some((f) => f.name === state.feature)) {
      state.feature = ranked.length ? ranked[0].feature : (o.features[0] || {}).name || null;
      renderRankingSelection();
    }
    await Promise.all([
      renderDrift(o, range, ranking), renderMultivariate(o, range), renderPerformance(o, range), renderQuality(o),
      state.feature ? refreshFeature() : Promise.resolve(),
    ]);
  }

  // ---------- refresh ----------
  async function refreshFeature() {
    const o = state.overview;
    if (!o || !state.feature) return;
    const range = currentRange(o);
    $("feature-name").textContent = state.feature;
    $("feature-name-2").textContent = state.feature;
    await Promise.all([renderHistogram(o, range), renderFeatureSeries(o, range)]);
  }

  async function refresh() {
    if (state.loading) return;
    state.loading = true;
    try {
      const models = await api("/v1/models");
      $("auth").hidden = true;
      const overviews = await Promise.all(models.map((m) => api(`/v1/models/${encodeURIComponent(m.name)}/overview`)));
      state.models = overviews;
      if (!overviews.length) {
        $("empty").hidden = false; $("model-view").hidden = true; renderModels([]);
        return;
      }
      $("empty").hidden = true;
      if (!state.model || !overviews.some((o) => o.model === state.model)) {
        const hash = decodeURIComponent(location.hash.slice(1));
        state.model = overviews.some((o) => o.model === hash) ? hash
          : (overviews.find((o) => o.last_window) || overviews[0]).model;
      }
      if (location.hash.slice(1) !== encodeURIComponent(state.model)) history.replaceState(null, "", "#" + encodeURIComponent(state.model));
      renderModels(overviews);
      const o = overviews.find((x) => x.model === state.model);
      state.overview = o;
      $("model-view").hidden = false;
      renderHead(o);
      renderReference(o);
      const range = currentRange(o);
      const [alerts, counts, calls] = await Promise.all([
        api("/v1/alerts", { model: o.model }),
        metrics(o.model, "count", "", range),
        metrics(o.model, "request_count", "", range),
      ]);
      state.open = openWindows(counts, o.drift_min_rows);
      state.healthOpen = openWindows(calls, 0);
      await Promise.all([
        renderHealth(o, range, calls),
        o.versions_with_reference.length ? renderReferenced(o, range) : Promise.resolve(),
      ]);
      renderAlerts(alerts);
      $("updated").textContent = "updated " + new Date().toLocaleTimeString([], { timeZoneName: "short" });
      document.body.dataset.ready = "1";
    } catch (err) {
      if (err instanceof AuthNeeded) {
        $("auth").hidden = false; $("model-view").hidden = true; $("empty").hidden = true;
      } else {
        $("updated").textContent = "error: " + err.message;
        console.error(err);
      }
    } finally {
      state.loading = false;
    }
  }

  function schedule() {
    clearInterval(state.timer);
    if (state.auto) state.timer = setInterval(refresh, REFRESH_MS);
  }

  // ---------- controls ----------
  document.querySelectorAll("#range button").forEach((b) => {
    b.classList.toggle("on", b.dataset.range === state.range);
    b.onclick = () => {
      state.range = b.dataset.range;
      document.querySelectorAll("#range button").forEach((x) => x.classList.toggle("on", x === b));
      refresh();
    };
  });
  $("auto").onchange = (e) => { state.auto = e.target.checked; schedule(); };
  $("auth-form").onsubmit = (e) => {
    e.preventDefault();
    state.key = $("auth-key").value.trim();
    localStorage.setItem("infersight.apiKey", state.key);
    refresh();
  };
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const [name, u] of Object.entries(charts)) {
        const el = document.querySelector(`[data-chart="${name}"]`);
        if (el) u.setSize({ width: Math.max(200, el.clientWidth), height: (el.clientHeight || 232) - 24 });
      }
    }, 150);
  });

  refresh();
  schedule();
})();
