"use strict";
// The leaderboard page: everything it shows comes from the board JSON embedded above; nothing is fetched.
(function () {
  const board = JSON.parse(document.getElementById("board-data").textContent);
  const NONE = "—";
  const groupKey = (e) => e.task + " / " + e.split;
  const methodOf = (e) => (e.pooling || NONE) + (e.prompt && e.prompt !== "none" ? ", " + e.prompt : "") +
    (e.ablate && e.ablate !== "none" ? ", ablate=" + e.ablate : "");
  const seriesKey = (e) => e.layer === null ? e.model : e.base_model + " (" + methodOf(e) + ")";
  const unique = (values) => Array.from(new Set(values)).sort();
  const groups = unique(board.entries.map(groupKey));
  const comparisons = new Map(board.comparisons.map((c) => [c.task + " / " + c.split + "|" + c.model, c]));

  const state = {
    group: groups[0] || null,
    sort: { key: "main_score", dir: -1 },
    families: new Set(board.entries.map((e) => e.family)),
    methods: new Set(board.entries.map(methodOf)),
    hidden: new Set(),
    open: new Set(), // series (model and method) whose every layer is shown
    pairs: { group: null, models: [], sort: "gold", highNon: false, limit: 50 },
  };

  // ------------------------------------------------------------------------------------------ helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  }
  const fmt = (v, digits) => (v === null || v === undefined ? NONE : typeof v === "number" ? v.toFixed(digits) : String(v));
  const rate = (v) => (v === null || v === undefined ? NONE : v < 1e-3 ? v.toExponential(2) : v.toFixed(4));
  const cost = (e, k) => (e.cost ? e.cost[k] : null);
  const binary = (e, k) => (e.binary ? e.binary[k] : null);
  const delta = (e) => comparisons.get(groupKey(e) + "|" + e.model) || null;
  // the main score's name in the current task split (Spearman for STS, max AP for pair classification)
  const scoreName = () => {
    const names = board.entries.filter((e) => groupKey(e) === state.group).map((e) => e.main_score_name).filter(Boolean);
    return names.length ? names[0] : "main score";
  };
  // what producing an entry's vectors cost: this run, a sweep's shared pass (N variants), or nothing (read back)
  const vectorsOf = (e) => {
    const c = e.cost;
    if (!c || !c.vectors_from) return NONE;
    if (c.vectors_from === "sweep pass") return "pass ÷ " + c.shared_by;
    return { "this evaluation": "this run", "vector cache": "cache" }[c.vectors_from] || c.vectors_from;
  };
  const LAYER_METRICS = ["prompt_entropy", "dataset_entropy", "curvature", "lidar", "dime", "infonce", "effective_rank",
    "covariance_effective_rank", "anisotropy", "intrinsic_dimension"];

  const COLUMNS = [
    { key: "model", label: "Model", value: (e) => e.model, text: (e) => (e.layer === null ? e.model : e.base_model) },
    { key: "layer", label: "Layer", value: (e) => e.layer, text: (e) => fmt(e.layer, 0) },
    { key: "pooling", label: "Method", value: methodOf, text: methodOf },
    { key: "main_score", label: "Score", value: (e) => e.main_score, interval: true,
      title: "MTEB's main score; ✂: the encoder cut inputs to its maximum length (the score of their beginnings)",
      text: (e) => fmt(e.main_score, 4) + (e.truncation ? " ✂" : "") },
    { key: "ci", label: "95% CI", value: (e) => (e.ci95_bootstrap ? e.ci95_bootstrap[0] : null),
      text: (e) => (e.ci95_bootstrap ? "[" + e.ci95_bootstrap.map((x) => x.toFixed(3)).join(", ") + "]" : NONE) },
    { key: "pearson", label: "Pearson", value: (e) => e.pearson, text: (e) => fmt(e.pearson, 4), optional: true },
    { key: "roc_auc", label: "ROC-AUC", value: (e) => binary(e, "roc_auc"), text: (e) => fmt(binary(e, "roc_auc"), 4), optional: true },
    { key: "accuracy", label: "Acc", title: "accuracy at the cosine threshold chosen on train", value: (e) => binary(e, "accuracy"), text: (e) => fmt(binary(e, "accuracy"), 4), optional: true },
    { key: "f1", label: "F1", title: "F1 at the cosine threshold chosen on train", value: (e) => binary(e, "f1"), text: (e) => fmt(binary(e, "f1"), 4), optional: true },
    { key: "delta", label: "Δ vs best (p, Holm)", value: (e) => (delta(e) ? delta(e).difference : e.n_pairs ? 0 : null), delta: true },
    { key: "seconds_per_pair", label: "s / pair", title: "seconds per pair producing the vectors (hover a cell: this run, the sweep's pass ÷ N variants, or read back from the cache)",
      value: (e) => cost(e, "seconds_per_pair"), hint: vectorsOf,
      text: (e) => rate(cost(e, "seconds_per_pair")) + (cost(e, "vectors_from") === "sweep pass" ? " ÷" + cost(e, "shared_by") : "") },
    { key: "peak_rss_mb", label: "Peak RSS MB", value: (e) => cost(e, "peak_rss_mb"), text: (e) => fmt(cost(e, "peak_rss_mb"), 0), optional: true },
  ];

  // one row per model and method: a sweep's best layer (the board's layer_sweeps), its other layers folded in
  const sweepOf = new Map(board.layer_sweeps.map((s) => [[s.task, s.split, s.base_model, s.pooling, s.prompt, s.ablate].join("|"), s]));
  const seriesOf = (e) => [e.task, e.split, e.base_model, e.pooling, e.prompt, e.ablate].join("|");
  function folded(entries) {
    const series = new Map();
    for (const e of entries) {
      const key = e.layer === null ? "entry|" + e.model : seriesOf(e);
      if (!series.has(key)) series.set(key, []);
      series.get(key).push(e);
    }
    return [...series.entries()].map(([key, members]) => {
      members.sort((a, b) => a.layer - b.layer);
      const sweep = sweepOf.get(key);
      const best = (sweep && members.find((e) => e.layer === sweep.best_layer)) ||
        members.slice().sort((a, b) => (b.main_score ?? -9) - (a.main_score ?? -9))[0];
      return { key: key, head: best, members: members };
    });
  }

  const visibleEntries = () =>
    board.entries.filter((e) => groupKey(e) === state.group && state.families.has(e.family) && state.methods.has(methodOf(e)));

  function compare(a, b) {
    const column = COLUMNS.find((c) => c.key === state.sort.key);
    const x = column.value(a), y = column.value(b);
    if (x === y) return a.model < b.model ? -1 : a.model > b.model ? 1 : 0;
    if (x === null || x === undefined) return 1; // missing values last, whatever the direction
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * state.sort.dir;
  }

  // ------------------------------------------------------------------------------------------ controls

  function renderGroups() {
    const nav = document.getElementById("groups");
    nav.replaceChildren();
    for (const g of groups) {
      nav.append(el("button", {
        type: "button", "aria-selected": String(g === state.group), "data-group": g, text: g,
        onclick: () => { state.group = g; renderAll(); },
      }));
    }
  }

  function renderFilter(id, values, selected) {
    const box = document.getElementById(id);
    box.querySelectorAll("label").forEach((n) => n.remove());
    for (const v of values) {
      const input = el("input", { type: "checkbox", value: v });
      input.checked = selected.has(v);
      input.addEventListener("change", () => { input.checked ? selected.add(v) : selected.delete(v); renderTable(); });
      box.append(el("label", {}, input, " " + v));
    }
  }

  // ------------------------------------------------------------------------------------------ table

  function intervalSvg(e, low, high) {
    if (!e.ci95_bootstrap || high <= low) return document.createTextNode("");
    const x = (v) => 3 + 54 * (v - low) / (high - low);
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "interval");
    svg.setAttribute("width", "60");
    svg.setAttribute("height", "12");
    svg.setAttribute("aria-hidden", "true");
    const line = document.createElementNS(ns, "line");
    line.setAttribute("x1", x(e.ci95_bootstrap[0])); line.setAttribute("x2", x(e.ci95_bootstrap[1]));
    line.setAttribute("y1", 6); line.setAttribute("y2", 6);
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x(e.main_score)); dot.setAttribute("cy", 6); dot.setAttribute("r", 3.5);
    svg.append(line, dot);
    return svg;
  }

  function deltaCell(e) {
    const c = delta(e);
    if (!c) return el("td", { class: "delta best", text: e.n_pairs ? "best" : NONE });
    const kind = !c.distinguishable ? "same" : c.difference < 0 ? "worse" : "better";
    const mark = kind === "same" ? "≈ " : "";
    const label = mark + (c.difference >= 0 ? "+" : "") + c.difference.toFixed(4) + " (p " + c.p_value_holm.toFixed(3) + ")";
    const title = "p " + c.p_value.toFixed(3) + " unadjusted, " + c.p_value_holm.toFixed(3) + " Holm-adjusted" +
      (kind === "same" ? ": not distinguishable from the best" : "");
    return el("td", { class: "delta " + kind, text: label, title: title });
  }

  function row(e, low, high, extra) {
    const tr = el("tr", Object.assign({ "data-model": e.model }, extra || {}));
    for (const column of COLUMNS) {
      if (column.delta) { tr.append(deltaCell(e)); continue; }
      const td = el("td", { "data-key": column.key, text: column.text(e) });
      if (column.hint) td.title = column.hint(e);
      if (column.optional) td.classList.add("optional");
      if (column.interval) td.append(intervalSvg(e, low, high));
      tr.append(td);
    }
    return tr;
  }

  function renderTable() {
    const table = document.getElementById("scores");
    const head = el("tr");
    for (const column of COLUMNS) {
      const th = el("th", { scope: "col" });
      if (column.optional) th.classList.add("optional");
      if (state.sort.key === column.key) th.setAttribute("aria-sort", state.sort.dir > 0 ? "ascending" : "descending");
      th.append(el("button", {
        type: "button", "data-key": column.key, text: column.label, title: column.title || column.label,
        onclick: () => {
          state.sort = { key: column.key, dir: state.sort.key === column.key ? -state.sort.dir : -1 };
          renderTable();
          table.querySelector('th button[data-key="' + column.key + '"]').focus();
        },
      }));
      head.append(th);
    }
    table.tHead.replaceChildren(head);
    const entries = visibleEntries();
    const bounds = entries.filter((e) => e.ci95_bootstrap).flatMap((e) => e.ci95_bootstrap);
    const low = Math.min(...bounds), high = Math.max(...bounds);
    const series = folded(entries).sort((a, b) => compare(a.head, b.head));
    const rows = [];
    for (const s of series) {
      const tr = row(s.head, low, high, { "data-series": s.key, class: "series" });
      if (s.members.length > 1) {
        const open = state.open.has(s.key);
        const cell = tr.querySelector('td[data-key="layer"]');
        cell.replaceChildren(el("button", {
          type: "button", class: "fold", "aria-expanded": String(open), "data-series": s.key,
          title: (open ? "Hide" : "Show") + " all " + s.members.length + " layers",
          text: (open ? "▾ " : "▸ ") + fmt(s.head.layer, 0) + "/" + s.members.length,
          onclick: () => { open ? state.open.delete(s.key) : state.open.add(s.key); renderTable(); },
        }));
      }
      rows.push(tr);
      if (state.open.has(s.key) && s.members.length > 1) {
        for (const e of s.members) rows.push(row(e, low, high, { "data-series": s.key, class: "layer-row" }));
      }
    }
    table.tBodies[0].replaceChildren(...rows);
  }

  function setAllFolds(open) {
    state.open = new Set(open ? folded(visibleEntries()).map((s) => s.key) : []);
    renderTable();
  }

  // ------------------------------------------------------------------------------------------ plots

  function theme() {
    const css = getComputedStyle(document.documentElement);
    const color = (name) => css.getPropertyValue(name).trim();
    return {
      paper_bgcolor: color("--bg"), plot_bgcolor: color("--bg"),
      font: { color: color("--fg") }, gridcolor: color("--line"),
    };
  }

  function layout(title, xaxis, yaxis) {
    const t = theme();
    return {
      title: { text: title }, paper_bgcolor: t.paper_bgcolor, plot_bgcolor: t.plot_bgcolor, font: t.font,
      xaxis: Object.assign({ gridcolor: t.gridcolor, zeroline: false }, xaxis),
      yaxis: Object.assign({ gridcolor: t.gridcolor, zeroline: false }, yaxis),
      margin: { l: 55, r: 15, t: 40, b: 45 }, legend: { orientation: "h", y: -0.2 }, hovermode: "closest",
    };
  }
  const CONFIG = { displaylogo: false, responsive: true };
  const PALETTE = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83", "#e16f24", "#6e7781"];

  function layerTraces(entries) {
    const curves = new Map();
    for (const e of entries.filter((e) => e.layer !== null)) {
      const key = seriesKey(e);
      if (!curves.has(key)) curves.set(key, []);
      curves.get(key).push(e);
    }
    const layers = entries.filter((e) => e.layer !== null).map((e) => e.layer);
    const span = layers.length ? [Math.min(...layers), Math.max(...layers)] : [0, 1];
    const traces = [];
    let i = 0;
    for (const [key, points] of [...curves.entries()].sort()) {
      points.sort((a, b) => a.layer - b.layer);
      const color = PALETTE[i++ % PALETTE.length];
      const withCi = points.filter((p) => p.ci95_bootstrap);
      if (withCi.length) {
        traces.push({
          x: withCi.map((p) => p.layer).concat(withCi.map((p) => p.layer).reverse()),
          y: withCi.map((p) => p.ci95_bootstrap[1]).concat(withCi.map((p) => p.ci95_bootstrap[0]).reverse()),
          fill: "toself", fillcolor: color + "33", line: { width: 0 }, hoverinfo: "skip",
          legendgroup: key, showlegend: false, name: key + " 95% band", meta: { role: "band", key: key },
        });
      }
      traces.push({
        x: points.map((p) => p.layer), y: points.map((p) => p.main_score), mode: "lines+markers",
        name: key, legendgroup: key, line: { color: color }, meta: { role: "curve", key: key },
        customdata: points.map((p) => p.ci95_bootstrap || [null, null]),
        hovertemplate: key + "<br>layer %{x}<br>" + scoreName() + " %{y:.4f}<br>95% CI [%{customdata[0]:.3f}, %{customdata[1]:.3f}]<extra></extra>",
      });
    }
    for (const e of entries.filter((e) => e.layer === null).sort((a, b) => (a.model < b.model ? -1 : 1))) {
      const color = PALETTE[i++ % PALETTE.length];
      traces.push({
        x: span, y: [e.main_score, e.main_score], mode: "lines", name: e.model, legendgroup: e.model,
        line: { color: color, dash: "dash" }, meta: { role: "reference", key: e.model },
        hovertemplate: e.model + "<br>" + scoreName() + " %{y:.4f}<extra></extra>",
      });
    }
    for (const trace of traces) if (state.hidden.has(trace.meta.key)) trace.visible = "legendonly";
    return traces;
  }

  function renderLayers() {
    const entries = board.entries.filter((e) => groupKey(e) === state.group);
    const traces = layerTraces(entries);
    const plotLayout = layout(state.group, { title: { text: "layer (hidden state)" } }, { title: { text: scoreName() } });
    if (!traces.some((t) => t.meta.role === "curve")) {
      plotLayout.annotations = [{ text: "no layer-wise model on this task and split yet", showarrow: false,
        xref: "paper", yref: "paper", x: 0.5, y: 0.5, font: { color: theme().font.color } }];
      plotLayout.xaxis.showticklabels = false;
    }
    Plotly.react("layers", traces, plotLayout, CONFIG);
    const box = document.getElementById("model-toggles");
    box.querySelectorAll("label").forEach((n) => n.remove());
    for (const key of unique(traces.map((t) => t.meta.key))) {
      const input = el("input", { type: "checkbox", "data-key": key });
      input.checked = !state.hidden.has(key);
      input.addEventListener("change", () => {
        input.checked ? state.hidden.delete(key) : state.hidden.add(key);
        const plot = document.getElementById("layers");
        const indices = plot.data.map((t, j) => (t.meta.key === key ? j : -1)).filter((j) => j >= 0);
        Plotly.restyle(plot, { visible: input.checked ? true : "legendonly" }, indices);
      });
      box.append(el("label", {}, input, " " + key));
    }
  }

  function renderCost() {
    const entries = board.entries.filter((e) => groupKey(e) === state.group && cost(e, "seconds_per_pair") && e.main_score !== null);
    const trace = {
      x: entries.map((e) => cost(e, "seconds_per_pair")), y: entries.map((e) => e.main_score),
      text: entries.map((e) => (e.layer === null ? e.model.split("/").pop() : "")), mode: "markers+text", textposition: "top center",
      customdata: entries.map((e) => [e.model, vectorsOf(e)]),
      marker: { size: entries.map((e) => (e.layer === null ? 10 : 5)), color: PALETTE[0] }, meta: { role: "cost" },
      hovertemplate: "%{customdata[0]}<br>%{x:.2e} s per pair (%{customdata[1]})<br>" + scoreName() + " %{y:.4f}<extra></extra>",
    };
    const xaxis = { type: "log", title: { text: "seconds per pair, producing the vectors (log)" } };
    Plotly.react("cost", [trace], layout(state.group, xaxis, { title: { text: scoreName() } }), CONFIG);
  }

  function renderDiagnostics() {
    const section = document.getElementById("diagnostics-section");
    const grid = document.getElementById("diagnostics");
    if (!board.diagnostics.length) {
      document.getElementById("diagnostics-note").textContent = "No layer sweep in this board wrote diagnostics.";
      grid.replaceChildren();
      return;
    }
    section.hidden = false;
    document.getElementById("diagnostics-note").textContent =
      "Per layer, on a seeded sample of the swept texts, by the published definitions: Layer by Layer's prompt entropy, " +
      "curvature, dataset entropy, LiDAR, DiME and InfoNCE (augmented views), Roy & Vetterli's effective rank, the " +
      "covariance's effective rank, anisotropy and TwoNN intrinsic dimension of the pooled vectors.";
    const metrics = LAYER_METRICS.filter((m) => board.diagnostics.some((d) => d.layers.some((r) => r[m] !== null && r[m] !== undefined)));
    grid.replaceChildren(...metrics.map((m) => el("div", { id: "diagnostics-" + m, role: "img", "aria-label": m + " by layer" })));
    for (const m of metrics) {
      const traces = board.diagnostics.map((d) => ({
        x: d.layers.map((r) => r.layer), y: d.layers.map((r) => r[m]), mode: "lines+markers",
        name: d.model + " (" + methodOf(d) + ")", meta: { role: "diagnostic", metric: m },
      }));
      Plotly.react("diagnostics-" + m, traces, layout(m, { title: { text: "layer" } }, {}), CONFIG);
    }
  }

  function fixed(value, digits) {
    return value === null || value === undefined ? NONE : Number(value).toFixed(digits);
  }

  function fillTable(id, header, rows) {
    const table = document.getElementById(id);
    table.tHead.replaceChildren(el("tr", {}, ...header.map((h) => el("th", { scope: "col", text: h }))));
    table.tBodies[0].replaceChildren(...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { text: String(c) })))));
  }

  function renderInterventions() {
    const rows = board.interventions.filter((r) => r.task + " / " + r.split === state.group);
    document.getElementById("interventions-section").hidden = !board.interventions.length;
    fillTable("interventions", ["model", "intervention", "layer", "method", "score", "intact", "Δ [95% CI]", "p"],
      rows.map((r) => [r.base_model, r.ablate, r.layer, methodOf({ pooling: r.pooling, prompt: r.prompt }),
        fixed(r.score, 4), fixed(r.intact_score, 4),
        (r.difference >= 0 ? "+" : "") + fixed(r.difference, 4) + " [" + fixed(r.ci_low, 3) + ", " + fixed(r.ci_high, 3) + "]",
        Number(r.p_value).toPrecision(3)]));
  }

  function renderRegret() {
    document.getElementById("regret-section").hidden = !board.layer_choice_regret.length;
    const rows = board.layer_choice_regret.slice().sort((a, b) => a.mean_regret - b.mean_regret);
    fillTable("regret", ["metric", "picks", "sweeps", "mean regret", "median", "worst", "picked best", "picked ≈ best", "undefined"],
      rows.map((r) => [r.metric, r.direction, r.sweeps, fixed(r.mean_regret, 4), fixed(r.median_regret, 4),
        fixed(r.max_regret, 4), r.picked_best, r.picked_tied, r.picked_undefined]));
  }

  const ANALYSIS_PLOTS = [
    ["analysis-spectra", "weights: spectrum decay rate (mean over the block's matrices)", (l) => l.mean_decay_rate, "linear"],
    ["analysis-memory", "RWKV memory length, tokens (median; on the task's texts)", (l) => l.memory_data_median, "log"],
    ["analysis-gradients", "||dL/dh|| by layer (longest-bucket texts)", null, "log"],
    ["analysis-cka", "CKA with the next layer", null, "linear"],
  ];

  function analysisTrace(a, key, getter) {
    const x = a.layers.map((l) => l.relative_depth);
    let y;
    if (key === "analysis-gradients") {
      const buckets = Object.values(a.gradients).sort((p, q) => q.texts - p.texts);
      y = buckets.length ? buckets[0].norms : [];
    } else if (key === "analysis-cka") {
      y = a.cka_layers.slice(0, -1).map((row, i) => row[i + 1]);
    } else {
      y = a.layers.map(getter);
    }
    return { x: x.slice(0, y.length), y, mode: "lines+markers", name: a.model + " / " + a.task, meta: { role: key } };
  }

  function renderAnalysis() {
    const grid = document.getElementById("analysis");
    document.getElementById("analysis-section").hidden = !board.analyses.length;
    if (!board.analyses.length) return;
    grid.replaceChildren(...ANALYSIS_PLOTS.map(([id, title]) => el("div", { id, role: "img", "aria-label": title })));
    for (const [id, title, getter, scale] of ANALYSIS_PLOTS) {
      const traces = board.analyses.map((a) => analysisTrace(a, id, getter)).filter((t) => t.y.some((v) => v !== null));
      Plotly.react(id, traces, layout(title, { title: { text: "relative depth" } }, { type: scale }), CONFIG);
    }
  }

  function renderHeads() {
    const heads = board.attention_heads || [];
    document.getElementById("heads-section").hidden = !heads.length;
    if (!heads.length) return;
    const select = document.getElementById("heads-model");
    if (!select.options.length) {
      select.replaceChildren(...heads.map((h, i) => el("option", { value: String(i), text: h.model + " (layer " + h.layer + ")" })));
      select.addEventListener("change", renderHeads);
    }
    const head = heads[Number(select.value || 0)];
    document.getElementById("heads-share").textContent = "content-word share " + fixed(head.content_share, 3) +
      " (plain mean " + fixed(head.mean_pooling_share, 3) + "), trained on " + head.trained_on;
    document.getElementById("heads-texts").replaceChildren(...head.texts.map((t) => el("li", {},
      ...t.words.map((w) => el("span", { class: "word " + w.kind, title: w.kind + ": " + fixed(w.weight, 3),
        style: "background: rgba(230, 120, 20, " + Math.min(1, 3 * w.weight).toFixed(3) + ")", text: w.word + " " })))));
  }

  // ------------------------------------------------------------------------------------------ pair explorer

  // pairs.js (beside the page) calls rwkvMtebPairs(data): loaded on demand, from file:// as from any host
  let pairData = null;
  function loadPairs() {
    const status = document.getElementById("pairs-status");
    if (pairData) return renderPairs();
    status.textContent = "loading pairs.js …";
    window.rwkvMtebPairs = (data) => { pairData = data; status.textContent = ""; renderPairControls(); renderPairs(); };
    const script = el("script", { src: "pairs.js" });
    script.addEventListener("error", () => { status.textContent = "pairs.js is missing beside this page: rebuild the board"; });
    document.body.append(script);
  }

  const scoreOf = (group, model) => {
    const e = board.entries.find((x) => groupKey(x) === group && x.model === model);
    return e && e.main_score !== null ? e.main_score : -9;
  };
  function pairModels(group) {
    return Object.keys(pairData[group].cosines).sort((a, b) => scoreOf(group, b) - scoreOf(group, a) || (a < b ? -1 : 1));
  }

  function renderPairControls() {
    const groupsWithPairs = Object.keys(pairData).sort();
    const p = state.pairs;
    if (!groupsWithPairs.includes(p.group)) p.group = groupsWithPairs.includes(state.group) ? state.group : groupsWithPairs[0];
    if (!p.group) return;
    const select = document.getElementById("pair-group");
    select.replaceChildren(...groupsWithPairs.map((g) => { const o = el("option", { value: g, text: g }); o.selected = g === p.group; return o; }));
    select.onchange = () => { p.group = select.value; p.models = []; renderPairControls(); renderPairs(); };
    const models = pairModels(p.group);
    if (!p.models.length) p.models = models.slice(0, 3);
    const box = document.getElementById("pair-models");
    box.querySelectorAll("label").forEach((n) => n.remove());
    for (const m of models) {
      const input = el("input", { type: "checkbox", value: m });
      input.checked = p.models.includes(m);
      input.disabled = !input.checked && p.models.length >= 3;
      input.addEventListener("change", () => {
        p.models = input.checked ? p.models.concat([m]) : p.models.filter((x) => x !== m);
        renderPairControls(); renderPairs();
      });
      box.append(el("label", {}, input, " " + m));
    }
  }

  // percentile ranks (ties averaged), so that cosines and gold labels of any scale compare
  function ranks(values) {
    const order = values.map((v, i) => [v, i]).sort((a, b) => a[0] - b[0]);
    const out = new Array(values.length);
    for (let i = 0; i < order.length;) {
      let j = i;
      while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
      for (let k = i; k <= j; k++) out[order[k][1]] = (i + j) / 2 / Math.max(values.length - 1, 1);
      i = j + 1;
    }
    return out;
  }

  function renderPairs() {
    const p = state.pairs;
    if (!pairData || !p.group) return;
    const data = pairData[p.group];
    const gold = data.pairs.map((x) => x[2]);
    const low = Math.min(...gold), high = Math.max(...gold);
    const goldRank = ranks(gold);
    const modelRanks = p.models.map((m) => ranks(data.cosines[m]));
    let order = data.pairs.map((_, i) => i);
    if (p.highNon) {
      const cut = low + (high - low) / 5; // binary labels: the non-paraphrases; graded: the lowest fifth of the scale
      order = order.filter((i) => gold[i] <= cut);
      const first = data.cosines[p.models[0]] || [];
      order.sort((a, b) => first[b] - first[a] || a - b);
    } else if (p.sort === "gold") {
      const off = (i) => modelRanks.reduce((t, r) => t + Math.abs(r[i] - goldRank[i]), 0);
      order.sort((a, b) => off(b) - off(a) || a - b);
    } else if (p.sort === "models") {
      const spread = (i) => modelRanks.length ? Math.max(...modelRanks.map((r) => r[i])) - Math.min(...modelRanks.map((r) => r[i])) : 0;
      order.sort((a, b) => spread(b) - spread(a) || a - b);
    }
    document.getElementById("pairs-count").textContent = order.length + " pairs" + (order.length > p.limit ? ", the first " + p.limit + " shown" : "");
    const table = document.getElementById("pairs");
    const header = ["#", "text 1", "text 2", "gold"].concat(p.models.map((m) => m.split("/").pop()));
    table.tHead.replaceChildren(el("tr", {}, ...header.map((h, i) => el("th", { scope: "col", text: h, title: i > 3 ? p.models[i - 4] : h }))));
    table.tBodies[0].replaceChildren(...order.slice(0, p.limit).map((i) => {
      const [a, b, g] = data.pairs[i];
      const tr = el("tr", { "data-index": String(i) });
      tr.append(el("td", { text: String(i) }), el("td", { class: "text", text: a }), el("td", { class: "text", text: b }),
        el("td", { "data-key": "gold", text: String(g) }));
      for (const m of p.models) tr.append(el("td", { "data-model": m, text: data.cosines[m][i].toFixed(4) }));
      return tr;
    }));
    document.getElementById("pairs-more").hidden = order.length <= p.limit;
  }

  function renderWarnings() {
    const list = document.getElementById("warnings");
    list.replaceChildren(...board.warnings.map((w) => el("li", { text: w })));
    document.getElementById("warnings-section").hidden = !board.warnings.length;
  }

  function renderAll() {
    renderGroups();
    renderTable();
    renderLayers();
    renderCost();
    renderDiagnostics();
    renderInterventions();
  }

  // ------------------------------------------------------------------------------------------ start

  const preferred = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  function setTheme(name) {
    document.documentElement.dataset.theme = name;
    const button = document.getElementById("theme-toggle");
    button.setAttribute("aria-pressed", String(name === "dark"));
    button.textContent = name === "dark" ? "Light theme" : "Dark theme";
  }
  document.getElementById("theme-toggle").addEventListener("click", () => {
    setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
    renderAll();
  });
  setTheme(preferred);
  document.getElementById("generated-by").textContent = board.generated_by.command.join(" ");
  renderFilter("family-filter", unique(board.entries.map((e) => e.family)), state.families);
  renderFilter("method-filter", unique(board.entries.map(methodOf)), state.methods);
  document.getElementById("expand-all").addEventListener("click", () => setAllFolds(true));
  document.getElementById("collapse-all").addEventListener("click", () => setAllFolds(false));
  document.getElementById("pairs-load").addEventListener("click", loadPairs);
  document.getElementById("pair-sort").addEventListener("change", (ev) => { state.pairs.sort = ev.target.value; state.pairs.highNon = false; renderPairs(); });
  document.getElementById("pairs-high").addEventListener("click", () => { state.pairs.highNon = true; state.pairs.limit = 50; renderPairs(); });
  document.getElementById("pairs-more").addEventListener("click", () => { state.pairs.limit += 50; renderPairs(); });
  renderWarnings();
  renderRegret();
  renderAnalysis();
  renderHeads();
  renderAll();
  window.rwkvMtebBoard = { state: state, board: board, render: renderAll, pairs: () => pairData };
})();
