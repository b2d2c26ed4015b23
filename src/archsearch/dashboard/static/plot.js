// archsearch dashboard: small SVG plots (lines, scatter, histogram, bars, cell graphs).
// No library: every plot is a few SVG elements built from data the server already reduced.
(function () {
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const COLORS = ["#1f5fa8", "#d1495b", "#2a9d8f", "#e9a23b", "#7b4fa0", "#4d6a83", "#8c564b"];

function svgEl(tag, attrs, parent) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function niceTicks(lo, hi, n) {
  if (!isFinite(lo) || !isFinite(hi)) return [];
  if (hi === lo) { hi = lo + 1; lo = lo - 1; }
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function fmt(v) {
  if (v === null || v === undefined) return "-";
  if (typeof v !== "number") return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return +v.toPrecision(5) + "";
}

// An empty plot frame with axes; returns {svg, x(v), y(v), g} mapping data to pixels.
function frame(el, xr, yr, opts) {
  el.textContent = "";
  const W = opts.width || el.clientWidth || 520, H = opts.height || 280;
  const m = {l: 62, r: 14, t: 12, b: 42};
  const svg = svgEl("svg", {viewBox: `0 0 ${W} ${H}`, width: "100%", class: "plot"}, el);
  const pad = (r) => { const d = (r[1] - r[0]) || Math.abs(r[0]) || 1; return [r[0] - d * 0.04, r[1] + d * 0.04]; };
  const [x0, x1] = opts.xExact ? xr : pad(xr), [y0, y1] = pad(yr);
  const x = v => m.l + (v - x0) / (x1 - x0) * (W - m.l - m.r);
  const y = v => H - m.b - (v - y0) / (y1 - y0) * (H - m.t - m.b);
  const axes = svgEl("g", {class: "axes"}, svg);
  for (const t of niceTicks(x0, x1, 6)) {
    svgEl("line", {x1: x(t), x2: x(t), y1: m.t, y2: H - m.b, class: "grid"}, axes);
    svgEl("text", {x: x(t), y: H - m.b + 15, "text-anchor": "middle"}, axes).textContent = fmt(t);
  }
  for (const t of niceTicks(y0, y1, 5)) {
    svgEl("line", {x1: m.l, x2: W - m.r, y1: y(t), y2: y(t), class: "grid"}, axes);
    svgEl("text", {x: m.l - 6, y: y(t) + 4, "text-anchor": "end"}, axes).textContent = fmt(t);
  }
  svgEl("rect", {x: m.l, y: m.t, width: W - m.l - m.r, height: H - m.t - m.b, class: "box"}, axes);
  svgEl("text", {x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle", class: "label"}, axes)
    .textContent = opts.xlabel || "";
  svgEl("text", {x: 14, y: (m.t + H - m.b) / 2, "text-anchor": "middle", class: "label",
    transform: `rotate(-90 14 ${(m.t + H - m.b) / 2})`}, axes).textContent = opts.ylabel || "";
  return {svg, x, y, g: svgEl("g", {}, svg)};
}

function extent(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (v !== null && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  return lo === Infinity ? [0, 1] : [lo, hi];
}

function empty(el, text) { el.textContent = ""; const p = document.createElement("p"); p.className = "muted"; p.textContent = text; el.appendChild(p); }

// Step lines: series = [{name, points: [[x, y], ...], end}]
function linePlot(el, series, opts) {
  const live = series.filter(s => s.points.length);
  if (!live.length) return empty(el, "no complete trials yet");
  const xs = live.flatMap(s => s.points.map(p => p[0]).concat(s.end === null || s.end === undefined ? [] : [s.end]));
  const ys = live.flatMap(s => s.points.map(p => p[1]));
  const f = frame(el, extent(xs), extent(ys), opts);
  live.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    let d = "";
    s.points.forEach((p, j) => {
      const to = opts.straight ? `L${f.x(p[0])},${f.y(p[1])}` : `H${f.x(p[0])}V${f.y(p[1])}`;
      d += j === 0 ? `M${f.x(p[0])},${f.y(p[1])}` : to;
    });
    if (s.end !== null && s.end !== undefined) d += `H${f.x(s.end)}`;
    svgEl("path", {d, class: "line", stroke: color}, f.g);
    for (const p of s.points) {
      const c = svgEl("circle", {cx: f.x(p[0]), cy: f.y(p[1]), r: 2.5, fill: color}, f.g);
      svgEl("title", {}, c).textContent = `${fmt(p[0])}: ${fmt(p[1])}`;
    }
  });
  if (live.length > 1 || opts.legend) legend(f.svg, live.map(s => s.name));
}

function legend(svg, names) {
  const g = svgEl("g", {class: "legend"}, svg);
  names.forEach((n, i) => {
    svgEl("rect", {x: 72, y: 18 + i * 15, width: 10, height: 10, fill: COLORS[i % COLORS.length]}, g);
    svgEl("text", {x: 87, y: 27 + i * 15}, g).textContent = n;
  });
}

// data: {front: [[number, x, y]], points: [[number, x, y]]}; onPick(number)
function scatterPlot(el, data, opts, onPick) {
  const all = data.points.concat(data.front);
  if (!all.length) return empty(el, "no complete trials with both values");
  const f = frame(el, extent(all.map(p => p[1])), extent(all.map(p => p[2])), opts);
  const dot = (p, cls, r) => {
    const c = svgEl("circle", {cx: f.x(p[1]), cy: f.y(p[2]), r, class: cls}, f.g);
    const many = p.length > 3 && p[3] > 1 ? `${p[3]} trials near ` : `trial ${p[0]}: `;
    svgEl("title", {}, c).textContent = `${many}${fmt(p[1])}, ${fmt(p[2])}`;
    if (onPick) c.addEventListener("click", () => onPick(p[0]));
  };
  for (const p of data.points) dot(p, "pt", Math.min(2 + Math.log10(p[3] || 1) * 1.5, 5));
  if (data.front.length) {
    const d = data.front.map((p, i) => `${i ? "L" : "M"}${f.x(p[1])},${f.y(p[2])}`).join("");
    svgEl("path", {d, class: "front"}, f.g);
  }
  for (const p of data.front) dot(p, "pt-front", 3.8);
}

// Histogram: {edges, counts}
function histPlot(el, data, opts) {
  if (!data.n) return empty(el, "no complete trials yet");
  const f = frame(el, [data.edges[0], data.edges[data.edges.length - 1]], [0, Math.max(...data.counts)],
    Object.assign({xExact: true}, opts));
  data.counts.forEach((n, i) => {
    const a = f.x(data.edges[i]), b = f.x(data.edges[i + 1]);
    const r = svgEl("rect", {x: Math.min(a, b) + 0.5, width: Math.max(Math.abs(b - a) - 1, 1), y: f.y(n),
      height: Math.max(f.y(0) - f.y(n), 0), class: "bar"}, f.g);
    svgEl("title", {}, r).textContent = `${fmt(data.edges[i])} to ${fmt(data.edges[i + 1])}: ${n} trials`;
  });
}

// Horizontal bars for one decision: values = [{value, count, mean, best}]
function decisionPlot(el, values, range) {
  el.textContent = "";
  const H = 18 * values.length + 8, W = 430, left = 120;
  const svg = svgEl("svg", {viewBox: `0 0 ${W} ${H}`, width: "100%", style: `max-width: ${W}px`, class: "plot"}, el);
  const [lo, hi] = range, sx = v => left + (v - lo) / ((hi - lo) || 1) * (W - left - 70);
  values.forEach((v, i) => {
    const y = 4 + i * 18;
    svgEl("text", {x: left - 6, y: y + 12, "text-anchor": "end"}, svg).textContent = String(v.value).slice(0, 18);
    const r = svgEl("rect", {x: left, y, height: 13, width: Math.max(sx(v.mean) - left, 1), class: "bar"}, svg);
    svgEl("title", {}, r).textContent = `${v.value}: mean ${fmt(v.mean)}, best ${fmt(v.best)}, ${v.count} trials`;
    svgEl("text", {x: Math.max(sx(v.mean), left) + 4, y: y + 11, class: "small"}, svg)
      .textContent = `${fmt(v.mean)} (n=${v.count})`;
  });
}

// A cell graph from the server: {name, nodes: [{id, label, x, y}], edges: [{source, target, op, bend}]}.
// One scale for both axes, so arcs bend as in the report's matplotlib drawing.
function cellGraph(el, cell) {
  const S = 130, R = 20;
  const at = Object.fromEntries(cell.nodes.map(n => [n.id, [n.x * S, -n.y * S]]));
  const curves = cell.edges.map(e => {
    const [ax, ay] = at[e.source], [bx, by] = at[e.target];
    const mx = (ax + bx) / 2, my = (ay + by) / 2, dx = bx - ax, dy = by - ay;
    const cx = mx - e.bend * dy, cy = my + e.bend * dx;  // screen y points down: signs flip
    const rim = (px, py) => { const d = Math.hypot(cx - px, cy - py) || 1; return [px + (cx - px) / d * R, py + (cy - py) / d * R]; };
    return {e, a: rim(ax, ay), b: rim(bx, by), c: [cx, cy], mid: [0.25 * ax + 0.5 * cx + 0.25 * bx, 0.25 * ay + 0.5 * cy + 0.25 * by]};
  });
  const xs = Object.values(at).map(p => p[0]).concat(curves.map(c => c.mid[0]));
  const ys = Object.values(at).map(p => p[1]).concat(curves.map(c => c.mid[1]));
  const x0 = Math.min(...xs) - 60, x1 = Math.max(...xs) + 60, y0 = Math.min(...ys) - 35, y1 = Math.max(...ys) + 35;
  const wrap = document.createElement("div");
  wrap.className = "cell";
  const title = document.createElement("h4"); title.textContent = cell.name; wrap.appendChild(title);
  const svg = svgEl("svg", {viewBox: `${x0} ${y0} ${x1 - x0} ${y1 - y0}`, width: "100%", class: "graph",
    style: `max-width: ${x1 - x0}px`, "data-cell": cell.name}, wrap);
  const marker = "arrow-" + cell.name;
  const mk = svgEl("marker", {id: marker, viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7,
    orient: "auto-start-reverse"}, svgEl("defs", {}, svg));
  svgEl("path", {d: "M0,0L10,5L0,10z", fill: "#33414e"}, mk);
  for (const {e, a, b, c} of curves) {
    svgEl("path", {d: `M${a[0]},${a[1]}Q${c[0]},${c[1]} ${b[0]},${b[1]}`, class: "edge" + (e.op === "none" ? " none" : ""),
      "marker-end": `url(#${marker})`}, svg);
  }
  for (const {e, mid} of curves) {
    if (e.op === null) continue;
    const t = svgEl("text", {x: mid[0], y: mid[1] + 4, "text-anchor": "middle", class: "op" + (e.op === "none" ? " muted" : "")}, svg);
    t.textContent = e.op;
  }
  for (const n of cell.nodes) {
    const [x, y] = at[n.id];
    svgEl("circle", {cx: x, cy: y, r: R, class: "node"}, svg);
    svgEl("text", {x, y: y + 4, "text-anchor": "middle", class: "node-label"}, svg).textContent = n.label;
  }
  el.appendChild(wrap);
}

window.Plot = {linePlot, scatterPlot, histPlot, decisionPlot, cellGraph, fmt};
})();
