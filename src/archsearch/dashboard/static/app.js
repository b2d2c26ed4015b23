// archsearch dashboard: the pages. Reads the path, calls the JSON API, draws with plot.js.
// Read-only: only GET requests. A running experiment's pages poll and redraw in place.
(function () {
"use strict";

const POLL_MS = 2000;
const main = document.getElementById("main");
let pollTimer = null;

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "on") for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    else if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}

async function api(path) {
  const r = await fetch(path, {headers: {Accept: "application/json"}});
  const body = await r.json().catch(() => ({error: `HTTP ${r.status}`}));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

const enc = encodeURIComponent;
const fmt = v => Plot.fmt(v);
const when = t => t ? new Date(t * 1000).toLocaleString() : "-";
const expUrl = name => `/experiments/${enc(name)}`;
const trialUrl = (name, n) => `${expUrl(name)}/trials/${n}`;
function card(title, id, ...extra) { return h("section", {class: "card", id}, h("h2", {}, title), ...extra); }
function fail(el, err) { el.textContent = ""; el.append(h("p", {class: "error"}, String(err.message || err))); }
function crumbs(...items) {
  const nav = document.getElementById("crumbs");
  nav.textContent = "";
  for (const [text, href] of items) nav.append(href ? h("a", {href}, text) : h("span", {}, text));
}
function setLive(on) { document.getElementById("live").textContent = on ? "● live" : ""; }
function poll(fn) { clearInterval(pollTimer); pollTimer = setInterval(fn, POLL_MS); }

function table(header, rows, id) {
  return h("table", {id}, h("thead", {}, h("tr", {}, header.map(c => h("th", {}, c)))),
    h("tbody", {}, rows.map(r => h("tr", {}, r.map(c => h("td", {}, c))))));
}

// -- experiments list ------------------------------------------------------------------
async function listPage() {
  crumbs(["experiments", null]);
  const selected = new Set();
  const go = h("button", {id: "compare-button", disabled: true,
    on: {click: () => { location.href = `/compare?names=${[...selected].map(enc).join(",")}`; }}}, "Compare selected");
  const holder = h("div");
  main.replaceChildren(card("Experiments", "experiments", h("div", {class: "controls"}, go), holder));
  async function draw() {
    const data = await api("/api/experiments");
    if (!data.experiments.length) return holder.replaceChildren(h("p", {class: "muted"}, "no experiments in this store"));
    const rows = data.experiments.map(e => [
      h("input", {type: "checkbox", "data-name": e.name, checked: selected.has(e.name), on: {change: ev => {
        ev.target.checked ? selected.add(e.name) : selected.delete(e.name);
        go.disabled = selected.size < 2;
      }}}),
      h("a", {href: expUrl(e.name)}, e.name), e.space || "-", e.strategy || "-", e.benchmark || "-",
      h("span", {class: `state-${e.status}`}, e.status), e.done, e.failed, fmt(e.best), when(e.created_at)]);
    holder.replaceChildren(table(["", "name", "space", "strategy", "benchmark", "status", "done", "failed", "best", "started"],
      rows, "experiments-table"));
    setLive(data.experiments.some(e => e.status === "running"));
  }
  await draw();
  poll(() => draw().catch(() => {}));
}

// -- one experiment ----------------------------------------------------------------------
async function experimentPage(name) {
  crumbs(["experiments", "/"], [name, null]);
  const info = await api(`/api/experiments/${enc(name)}`);
  const base = `/api/experiments/${enc(name)}`;
  const state = {sort: "number", order: "asc", offset: 0, limit: 25, state: "", metric: "", min: "", max: ""};
  const els = {
    header: h("section", {class: "card", id: "summary"}),
    best: h("div", {id: "best-plot"}), hist: h("div", {id: "hist-plot"}), scatter: h("div", {id: "scatter-plot"}),
    decisions: h("div", {class: "decisions", id: "decisions"}), rules: h("div", {id: "rules"}),
    failed: h("div", {id: "failed"}), trials: h("div", {id: "trials"}), pager: h("span", {class: "muted", id: "pager"}),
  };
  const axis = h("select", {id: "best-axis", on: {change: () => drawBest()}},
    h("option", {value: "trials"}, "against trials"), h("option", {value: "time"}, "against time"));
  const fields = ["score", "cost_s", "fidelity", ...info.metrics];
  const pick = (id, value) => h("select", {id, on: {change: () => drawScatter()}},
    fields.map(f => h("option", {value: f, selected: f === value}, f)));
  const first = info.objective_metric || info.metrics[0] || "score";
  const sx = pick("scatter-x", "cost_s"), sy = pick("scatter-y", first);
  main.replaceChildren(els.header,
    h("div", {class: "grid2"},
      card("Best so far", "best", h("div", {class: "controls"}, axis), els.best),
      card("Score distribution", "hist", els.hist)),
    h("div", {class: "grid2"},
      card("Two metrics, Pareto front in red", "scatter",
        h("div", {class: "controls"}, h("label", {}, "x ", sx), h("label", {}, "y ", sy)), els.scatter),
      card("Decisions: mean score by value", "decisions-card", els.decisions)),
    h("div", {class: "grid2"}, card("Choice rules", "rules-card", els.rules), card("Failed trials", "failed-card", els.failed)),
    card("Trials", "trials-card", trialControls(), els.trials));

  function drawHeader(info) {
    const c = info.counts, s = info.spec, b = info.best, bench = s.benchmark || {};
    const facts = [
      ["status", h("span", {class: `state-${info.status}`}, info.status)],
      ["space · strategy", `${(s.space || {}).name} · ${(s.strategy || {}).name}`],
      ["benchmark", [bench.name, bench.dataset].filter(Boolean).join(" ")],
      ["trials", Object.entries(c).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", ") || "none yet"],
      ["best", b ? h("span", {}, `${fmt(b.score)} (`, h("a", {href: trialUrl(name, b.number), id: "best-link"}, `trial ${b.number}`), ")") : "-"],
      ["best architecture", (info.summary.best || {}).arch || "-"],
      ["started", when(info.created_at)], ["updated", when(info.updated_at)],
    ];
    els.header.replaceChildren(h("h1", {}, name),
      h("table", {class: "facts"}, h("tbody", {}, facts.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v))))));
  }
  async function drawBest() {
    try {
      const d = await api(`${base}/best?x=${axis.value}`);
      Plot.linePlot(els.best, [{name, points: d.points, end: d.end}], {xlabel: d.label, ylabel: `best ${first}`});
    } catch (e) { fail(els.best, e); }
  }
  async function drawHist() {
    try { Plot.histPlot(els.hist, await api(`${base}/histogram?bins=30`), {xlabel: "score", ylabel: "trials"}); }
    catch (e) { fail(els.hist, e); }
  }
  async function drawScatter() {
    try {
      const d = await api(`${base}/scatter?x=${enc(sx.value)}&y=${enc(sy.value)}`);
      const dir = m => m ? "min" : "max";
      Plot.scatterPlot(els.scatter, d, {xlabel: `${d.x} (${dir(d.minimise[0])})`, ylabel: `${d.y} (${dir(d.minimise[1])})`},
        n => { location.href = trialUrl(name, n); });
      els.scatter.append(h("p", {class: "muted"}, `${d.n} complete trials, ${d.front.length} on the front; the others binned into ${d.points.length} cells`));
    } catch (e) { fail(els.scatter, e); }
  }
  async function drawDecisions() {
    try {
      const d = (await api(`${base}/decisions`)).decisions;
      if (!d.length) return els.decisions.replaceChildren(h("p", {class: "muted"}, "no decisions to show"));
      const means = d.flatMap(x => x.values.map(v => v.mean)), lo = Math.min(...means), hi = Math.max(...means);
      els.decisions.replaceChildren(...d.map(x => {
        const box = h("div", {class: "decision"}, h("h4", {}, x.path), h("div"));
        Plot.decisionPlot(box.lastChild, x.values, [lo - (hi - lo) * 0.1, hi]);
        return box;
      }));
    } catch (e) { fail(els.decisions, e); }
  }
  async function drawRules() {
    try {
      const d = await api(`${base}/rules`);
      els.rules.replaceChildren(d.rules.length ? h("div", {}, h("p", {class: "muted"}, d.label),
        h("ul", {}, d.rules.map(r => h("li", {}, r.text)))) : h("p", {class: "muted"}, "no choice rules"));
    } catch (e) { fail(els.rules, e); }
  }
  async function drawFailed() {
    try {
      const d = await api(`${base}/failed?limit=20`);
      els.failed.replaceChildren(d.total ? h("div", {}, h("p", {class: "muted"}, `${d.total} failed`),
        table(["trial", "kind", "error"], d.trials.map(t => [h("a", {href: trialUrl(name, t.number)}, t.number),
          t.failure || "-", h("span", {class: "error"}, t.error || "-")]), "failed-table"))
        : h("p", {class: "muted"}, "no failed trials"));
    } catch (e) { fail(els.failed, e); }
  }
  function trialControls() {
    const sel = (id, key, options) => h("select", {id, on: {change: ev => { state[key] = ev.target.value; state.offset = 0; drawTrials(); }}},
      options.map(([v, t]) => h("option", {value: v}, t)));
    const num = (id, key) => h("input", {type: "number", step: "any", id, placeholder: key,
      on: {change: ev => { state[key] = ev.target.value; state.offset = 0; drawTrials(); }}});
    const move = dir => () => { state.offset = Math.max(0, state.offset + dir * state.limit); drawTrials(); };
    return h("div", {class: "controls"},
      h("label", {}, "state ", sel("filter-state", "state", [["", "all"], ["complete", "complete"], ["failed", "failed"],
        ["infeasible", "infeasible"], ["running", "running"], ["cancelled", "cancelled"]])),
      h("label", {}, "metric ", sel("filter-metric", "metric", [["", "-"], ...fields.map(f => [f, f])])),
      num("filter-min", "min"), num("filter-max", "max"),
      h("button", {id: "prev", on: {click: move(-1)}}, "◀"), h("button", {id: "next", on: {click: move(1)}}, "▶"), els.pager);
  }
  async function drawTrials() {
    const q = new URLSearchParams({sort: state.sort, order: state.order, offset: state.offset, limit: state.limit});
    for (const k of ["state", "metric", "min", "max"]) if (state[k] !== "") q.set(k, state[k]);
    if (!state.metric) { q.delete("min"); q.delete("max"); }
    try {
      const d = await api(`${base}/trials?${q}`);
      const shown = info.metrics.slice(0, 6);
      const cols = [["number", "trial"], ["state", "state"], ["score", "score"], ["fidelity", "fidelity"],
        ["cost_s", "cost_s"], ["sim_end", "end (sim s)"], ...shown.map(m => [m, m])];
      const head = cols.map(([key, label]) => h("th", {class: "sortable" + (state.sort === key ? ` sorted ${state.order}` : ""),
        "data-sort": key, on: {click: () => {
          state.order = state.sort === key && state.order === "desc" ? "asc" : "desc";
          state.sort = key; state.offset = 0; drawTrials();
        }}}, label));
      const rows = d.trials.map(t => h("tr", {}, h("td", {}, h("a", {href: trialUrl(name, t.number)}, t.number)),
        h("td", {class: `state-${t.state}`}, t.state), h("td", {}, fmt(t.score)), h("td", {}, fmt(t.fidelity)),
        h("td", {}, fmt(t.cost_s)), h("td", {}, fmt(t.sim_end)), shown.map(m => h("td", {}, fmt(t.metrics[m])))));
      els.trials.replaceChildren(h("table", {id: "trials-table"}, h("thead", {}, h("tr", {}, head)), h("tbody", {}, rows)));
      const end = Math.min(state.offset + state.limit, d.total);
      els.pager.textContent = d.total ? `${state.offset + 1}–${end} of ${d.total}` : "no trials match";
    } catch (e) { fail(els.trials, e); }
  }
  const drawAll = () => Promise.all([drawBest(), drawHist(), drawScatter(), drawDecisions(), drawRules(), drawFailed(), drawTrials()]);
  drawHeader(info);
  await drawAll();
  let last = JSON.stringify([info.updated_at, info.counts]);
  setLive(info.status === "running");
  if (info.status === "running") {
    poll(async () => {
      const now = await api(base).catch(() => null);
      if (!now) return;
      const key = JSON.stringify([now.updated_at, now.counts]);
      setLive(now.status === "running");
      if (key !== last) { last = key; drawHeader(now); await drawAll(); }
      if (now.status !== "running") clearInterval(pollTimer);
    });
  }
}

// -- one trial -----------------------------------------------------------------------------
function tree(value) {
  if (value === null || typeof value !== "object") return h("span", {}, JSON.stringify(value));
  const entries = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : Object.entries(value);
  return h("ul", {}, entries.map(([k, v]) => h("li", {}, h("span", {class: "key"}, `${k}: `), tree(v))));
}

async function trialPage(name, number) {
  crumbs(["experiments", "/"], [name, expUrl(name)], [`trial ${number}`, null]);
  const url = `/api/experiments/${enc(name)}/trials/${number}`;
  async function draw() {
    const t = await api(url);
    const facts = [["state", h("span", {class: `state-${t.state}`}, t.state)], ["score", fmt(t.score)],
      ["architecture", t.arch || "-"], ["fidelity", fmt(t.fidelity)], ["cost (s)", fmt(t.cost_s)],
      ["simulated start / end", `${fmt(t.sim_start)} / ${fmt(t.sim_end)}`], ["started", when(t.started_at)], ["ended", when(t.ended_at)]];
    if (t.error) facts.push(["error", h("span", {class: "error", id: "trial-error"}, `${t.failure || ""}: ${t.error}`)]);
    const metrics = Object.entries(t.metrics);
    const curve = h("div", {id: "curve-plot"}), arch = h("div", {id: "arch"});
    main.replaceChildren(
      h("section", {class: "card", id: "trial-summary"}, h("h1", {}, `${name} · trial ${t.number}`),
        h("table", {class: "facts"}, h("tbody", {}, facts.map(([k, v]) => h("tr", {}, h("td", {}, k), h("td", {}, v)))))),
      card("Architecture", "arch-card", arch),
      h("div", {class: "grid2"},
        card("Metrics", "metrics-card", metrics.length ? table(["metric", "value"], metrics.map(([k, v]) => [k, fmt(v)]), "trial-metrics")
          : h("p", {class: "muted"}, "no metrics")),
        card("Learning curve", "curve-card", curve)),
      card("Config", "config-card", h("div", {class: "tree", id: "trial-config"}, tree(t.config))));
    if (t.graph.kind === "tree") arch.append(h("div", {class: "tree"}, tree(t.graph.tree)));
    else for (const cell of t.graph.cells) Plot.cellGraph(arch, cell);
    const series = [];
    if (t.curve.benchmark.length) series.push({name: `benchmark ${t.curve.metric || ""}`, points: t.curve.benchmark, end: null});
    if (t.curve.stored.length) series.push({name: "this search's evaluations (score)", points: t.curve.stored, end: null});
    if (series.length) Plot.linePlot(curve, series, {xlabel: "fidelity (epochs)", ylabel: t.curve.metric || "score", legend: true, straight: true});
    else curve.append(h("p", {class: "muted"}, "no learning curve stored for this trial"));
    setLive(t.state === "running");
    if (t.state !== "running") clearInterval(pollTimer);
    return t;
  }
  const t = await draw();
  if (t.state === "running") poll(() => draw().catch(() => {}));
}

// -- compare -------------------------------------------------------------------------------
async function comparePage() {
  const names = (new URLSearchParams(location.search).get("names") || "").split(",").filter(Boolean);
  crumbs(["experiments", "/"], ["compare", null]);
  const plot = h("div", {id: "compare-plot"}), facts = h("div");
  main.replaceChildren(card(`Anytime curves: ${names.join(", ")}`, "compare", plot, facts));
  async function draw() {
    const d = await api(`/api/compare?names=${names.map(enc).join(",")}`);
    Plot.linePlot(plot, d.curves.map(c => ({name: c.name, points: c.points, end: c.end})),
      {xlabel: d.curves[0] ? d.curves[0].label : "time", ylabel: "best score so far", height: 360, legend: true});
    facts.replaceChildren(table(["experiment", "complete trials", "final best", "time axis"], d.curves.map(c =>
      [h("a", {href: expUrl(c.name)}, c.name), c.n, fmt(c.points.length ? c.points[c.points.length - 1][1] : null), c.label]), "compare-table"));
  }
  if (!names.length) return plot.replaceChildren(h("p", {class: "muted"}, "pick experiments on the list page"));
  await draw();
  poll(() => draw().catch(() => {}));
}

// -- router --------------------------------------------------------------------------------
async function route() {
  const parts = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "experiments" && parts[2] === "trials") await trialPage(parts[1], parts[3]);
    else if (parts[0] === "experiments") await experimentPage(parts[1]);
    else if (parts[0] === "compare") await comparePage();
    else await listPage();
    document.body.dataset.ready = "1";
  } catch (e) { fail(main, e); document.body.dataset.ready = "error"; }
}
route();
})();
