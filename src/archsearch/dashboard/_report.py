"""``archsearch report``: one self-contained HTML file and its PNG plots.

The PNGs (best-so-far, Pareto front, score distribution, best architecture) are drawn
with matplotlib's file backend and written next to the HTML; the HTML embeds them as
base64, so the one file opens offline, mailed or attached to a paper.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archsearch.dashboard import _views as views
from archsearch.dashboard._arch import arch_graph
from archsearch.dashboard._queries import Queries, objective_sign
from archsearch.errors import ConfigError, StoreError
from archsearch.store import ExperimentRecord, SqlStore
from archsearch.trial import TrialStatus

__all__ = ["write_report"]

_PLOTS = ("best_so_far", "pareto", "scores", "best_arch")


def write_report(store: SqlStore, name: str, out: str | Path) -> Path:
    """Write ``NAME.html`` and the PNG plots of experiment ``name`` into folder ``out``.

    Returns:
        The HTML file's path.

    Raises:
        StoreError: when the store holds no experiment ``name``.
        ConfigError: when ``out`` cannot be created or written.
    """
    record = store.find_experiment(name)
    if record is None:
        raise StoreError(f"no experiment {name!r} in {store.url}; `archsearch list` shows them")
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out: cannot create {folder}: {exc.strerror}") from None
    queries = Queries(store)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pngs: dict[str, Path] = {}
    for plot, draw in zip(_PLOTS, (_best, _pareto, _scores, _arch), strict=True):
        fig = draw(plt, queries, record)
        if fig is None:
            continue
        path = folder / f"{_safe(name)}-{plot}.png"
        try:
            fig.savefig(path, dpi=120)
        except OSError as exc:
            raise ConfigError(f"--out: cannot write {path}: {exc.strerror}") from None
        finally:
            plt.close(fig)
        pngs[plot] = path
    page = folder / f"{_safe(name)}.html"
    try:
        page.write_text(_html(queries, record, pngs), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--out: cannot write {page}: {exc.strerror}") from None
    return page


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _best(plt: Any, queries: Queries, record: ExperimentRecord) -> Any:
    by_time = views.best_so_far(queries, record, axis="time")
    if not by_time["points"]:
        return None
    by_trial = views.best_so_far(queries, record, axis="trials")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, curve in zip(axes, (by_time, by_trial), strict=True):
        xs = [p[0] for p in curve["points"]] + [curve["end"]]
        ys = [p[1] for p in curve["points"]] + [curve["points"][-1][1]]
        ax.step(xs, ys, where="post", color="#1f5fa8")
        ax.scatter(xs[:-1], ys[:-1], s=12, color="#1f5fa8")
        ax.set_xlabel(curve["label"])
        ax.set_ylabel(f"best {_score_label(record)}")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{record.name}: best so far")
    fig.tight_layout()
    return fig


def _score_label(record: ExperimentRecord) -> str:
    return views.objective_metric(record) or "score"


def _pareto_axes(queries: Queries, record: ExperimentRecord) -> tuple[str, str] | None:
    objective = record.spec.get("objective") or {}
    metrics = queries.metric_names(record.id)
    if isinstance(objective.get("metrics"), list) and len(objective["metrics"]) >= 2:
        return objective["metrics"][0], objective["metrics"][1]
    first = views.objective_metric(record) or (metrics[0] if metrics else None)
    if first is None or first not in metrics:
        return None
    return "cost_s", first


def _pareto(plt: Any, queries: Queries, record: ExperimentRecord) -> Any:
    pair = _pareto_axes(queries, record)
    if pair is None:
        return None
    data = views.scatter(queries, record, *pair)
    if not data["n"]:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    if data["points"]:
        rest = list(zip(*data["points"], strict=True))
        ax.scatter(rest[1], rest[2], s=8, color="#9aa5b1", alpha=0.6, label="trials")
    front = list(zip(*data["front"], strict=True))
    ax.plot(front[1], front[2], "o-", color="#d1495b", ms=5, label="Pareto front")
    x_dir, y_dir = ("min" if m else "max" for m in data["minimise"])
    ax.set_xlabel(f"{pair[0]} ({x_dir})")
    ax.set_ylabel(f"{pair[1]} ({y_dir})")
    ax.set_title(f"{record.name}: {data['n']} complete trials, {len(data['front'])} on the front")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return fig


def _scores(plt: Any, queries: Queries, record: ExperimentRecord) -> Any:
    hist = views.histogram(queries, record, bins=30)
    if not hist["n"]:
        return None
    edges, counts = hist["edges"], hist["counts"]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.bar(
        edges[:-1],
        counts,
        width=[b - a for a, b in zip(edges, edges[1:], strict=False)],
        align="edge",
    )
    ax.set_xlabel(_score_label(record))
    ax.set_ylabel("trials")
    ax.set_title(f"{record.name}: scores of {hist['n']} complete trials")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def _arch(plt: Any, queries: Queries, record: ExperimentRecord) -> Any:
    best = queries.store.best_trial(record.id)
    if best is None:
        return None
    graph = arch_graph(best.config)
    if graph["kind"] == "tree":
        text = json.dumps(best.config, indent=1)[:3000]
        fig, ax = plt.subplots(figsize=(6.4, 0.4 + 0.16 * text.count("\n")))
        ax.text(0, 1, text, family="monospace", fontsize=8, va="top")
        ax.axis("off")
    else:
        cells = graph["cells"]
        fig, axes = plt.subplots(len(cells), 1, figsize=(9, 3.2 * len(cells)), squeeze=False)
        for ax, cell in zip(axes[:, 0], cells, strict=True):
            draw_cell(ax, cell)
    fig.suptitle(f"{record.name}: best architecture (trial {best.number})")
    fig.tight_layout()
    return fig


def _curve(
    a: Sequence[float], b: Sequence[float], bend: float, radius: float
) -> tuple[list[tuple[float, float]], tuple[float, float]]:
    """A quadratic curve from node ``a`` to node ``b`` (cut at the nodes' rims) and its middle.

    The control point sits ``bend`` times the edge's length off its middle, to the
    right of the direction of travel, as the dashboard draws it.
    """
    mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    dx, dy = b[0] - a[0], b[1] - a[1]
    cx, cy = mx + bend * dy, my - bend * dx

    def rim(p: Sequence[float]) -> tuple[float, float]:
        ux, uy = cx - p[0], cy - p[1]
        norm = math.hypot(ux, uy) or 1.0
        return (p[0] + ux / norm * radius, p[1] + uy / norm * radius)

    middle = (0.25 * a[0] + 0.5 * cx + 0.25 * b[0], 0.25 * a[1] + 0.5 * cy + 0.25 * b[1])
    return [rim(a), (cx, cy), rim(b)], middle


def draw_cell(ax: Any, cell: dict[str, Any]) -> None:
    """Draw one cell of :func:`~archsearch.dashboard.arch_graph` on a matplotlib axis."""
    from matplotlib.patches import Circle, FancyArrowPatch
    from matplotlib.path import Path as CurvePath

    radius = 0.16
    at = {n["id"]: (n["x"], n["y"]) for n in cell["nodes"]}
    for edge in cell["edges"]:
        op = edge["op"]
        points, (x, y) = _curve(at[edge["source"]], at[edge["target"]], edge["bend"], radius)
        muted = op in (None, "none")
        path = CurvePath(points, [CurvePath.MOVETO, CurvePath.CURVE3, CurvePath.CURVE3])
        ax.add_patch(
            FancyArrowPatch(
                path=path,
                arrowstyle="-|>",
                mutation_scale=12,
                color="#b0b7bf" if op == "none" else "#33414e",
                linestyle="--" if op == "none" else "-",
                linewidth=1.3,
            )
        )
        if op is not None:
            color = "#8a949e" if muted else "#1f5fa8"
            box = {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.9}
            ax.text(x, y, op, ha="center", va="center", fontsize=8, color=color, bbox=box)
    for node in cell["nodes"]:
        xy = (node["x"], node["y"])
        ax.add_patch(Circle(xy, radius, fc="#f4d35e", ec="#33414e", zorder=3))
        ax.text(*xy, node["label"], ha="center", va="center", fontsize=8, zorder=4)
    xs, ys = [p[0] for p in at.values()], [p[1] for p in at.values()]
    span = max(xs) - min(xs)
    ax.set_xlim(min(xs) - 0.3, max(xs) + 0.3)
    ax.set_ylim(min(ys) - 0.4 * span / 2 - 0.3, max(ys) + 0.4 * span / 2 + 0.3)
    ax.set_aspect("equal")
    ax.set_title(cell["name"], fontsize=10)
    ax.axis("off")


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def _html(queries: Queries, record: ExperimentRecord, pngs: dict[str, Path]) -> str:
    spec, sign = record.spec, objective_sign(record.spec)
    counts = queries.counts(record.id)
    best = record.summary.get("best") or {}
    bench = spec.get("benchmark") or {}
    facts = [
        ("status", record.status),
        ("space", (spec.get("space") or {}).get("name")),
        ("strategy", (spec.get("strategy") or {}).get("name")),
        ("benchmark", " ".join(str(bench.get(k)) for k in ("name", "dataset") if bench.get(k))),
        ("seed", spec.get("seed")),
        ("trials", ", ".join(f"{n} {s}" for s, n in counts.items() if n)),
        ("started", dt.datetime.fromtimestamp(record.created_at).strftime("%Y-%m-%d %H:%M")),
        ("best trial", best.get("number")),
        ("best architecture", best.get("arch")),
        ("best score", best.get("reward")),
    ]
    facts += [(k, v) for k, v in best.items() if k in ("final_accuracy", "rank")]
    top = queries.store.top_trials(record.id, 10)
    top_rows = [
        (
            t.number,
            sign * (t.score or 0.0),
            views.describe(record, t.config) or json.dumps(t.config),
        )
        for t in top
    ]
    found = views.rules(queries, record, top_percent=5.0)
    failed = queries.page(record.id, state=str(TrialStatus.FAILED), limit=20)
    parts = [
        f"<h1>{html.escape(record.name)}</h1>",
        _table(("", ""), [(k, v) for k, v in facts if v not in (None, "")]),
    ]
    titles = {
        "best_so_far": "Best so far",
        "pareto": "Pareto front",
        "scores": "Score distribution",
        "best_arch": "Best architecture",
    }
    for plot, path in pngs.items():
        parts += [f"<h2>{titles[plot]}</h2>", _image(path, titles[plot])]
    parts += ["<h2>Best trials</h2>", _table(("trial", "score", "architecture"), top_rows)]
    if found["rules"]:
        items = "".join(f"<li>{html.escape(r['text'])}</li>" for r in found["rules"])
        parts += [f"<h2>Choice rules ({html.escape(found['label'])})</h2><ul>{items}</ul>"]
    if failed.total:
        rows = [(t.number, t.failure, t.error) for t in failed.rows]
        parts += [
            f"<h2>Failed trials ({failed.total})</h2>",
            _table(("trial", "kind", "error"), rows),
        ]
    generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts.append(f"<p class=note>archsearch report, {generated}</p>")
    return _PAGE.format(title=html.escape(record.name), body="\n".join(parts))


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - archsearch report</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; max-width: 980px; margin: 2em auto;
       color: #1d2733; padding: 0 1em; }}
h1 {{ font-size: 1.6em; }} h2 {{ font-size: 1.2em; margin-top: 1.8em; }}
table {{ border-collapse: collapse; margin: .5em 0; }}
td, th {{ border-bottom: 1px solid #dde3e9; padding: 3px 10px; text-align: left;
          font-variant-numeric: tabular-nums; vertical-align: top; }}
img {{ max-width: 100%; border: 1px solid #e3e8ee; }}
.note {{ color: #6b7785; font-size: .85em; margin-top: 3em; }}
</style></head>
<body>
{body}
</body></html>
"""
