"""Graph classification data: Fashion-MNIST as superpixel graphs, one dense tensor a graph.

No standard graph benchmark ships here: Debian packages none, and the PyPI packages
that load TU datasets or Cora (torch_geometric, dgl, grakel, karateclub, ogb,
graph-datasets, graphkit-learn) download them at run time, which this project may
not do. So the graphs are derived from Fashion-MNIST, which Debian's
``dataset-fashion-mnist`` installs, in the manner of the MNIST superpixel benchmark
(Monti et al., 2017; Dwivedi et al., "Benchmarking Graph Neural Networks", 2020):

- **Superpixels**: SLIC (Achanta et al., 2012) on the 28x28 image: k-means over
  ``(intensity, row, col)`` from a 7x7 grid of seeds (4 pixel steps), each pixel
  comparing only the 3x3 seeds around its grid cell, ``iterations`` rounds.
- **Nodes**: the superpixels whose mean intensity exceeds ``min_intensity`` (the
  garment, not the black background; the brightest one at least), so graphs have 1 to
  49 nodes (about 25 on average); features: mean intensity, centroid row and column
  (in [0, 1]).
- **Edges**: each node to its ``k`` = 8 nearest nodes by centroid (as Dwivedi et al.
  for MNIST), made symmetric; no self loops (models add them).

A graph is one tensor ``(n_nodes, n_nodes + 1 + n_features)``, ``[adjacency | mask |
features]`` with ``n_nodes`` = 49 rows, real nodes first and padding rows all zero,
stored as uint8 fixed point (value / 255, as images are: the adjacency and the mask
hold 0 or 255). ``model_options`` carry ``n_nodes`` and ``n_features`` for the
builder (:mod:`archsearch.models.gnn`).

Building the 70,000 graphs takes about two minutes on one core, so they are built once
and cached (183 MB) in ``$ARCHSEARCH_CACHE`` (default ``~/.cache/archsearch``) under a
hash of the images and the settings; a later load reads the file in about a second.

Example:
    >>> import numpy as np
    >>> image = np.zeros((1, 28, 28), np.uint8)
    >>> image[0, 6:22, 10:18] = 200
    >>> graphs = superpixel_graphs(image)
    >>> graphs.shape, int((graphs[0, :, 49] > 0).sum())  # 49 + 1 + 3 columns; 3 nodes
    ((1, 49, 53), 3)
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from archsearch.data._datasets import DATASETS, RawData, load_fashion_mnist
from archsearch.errors import ConfigError, DataError

__all__ = [
    "CACHE_ENV",
    "GRAPH_FEATURES",
    "load_fashion_mnist_superpixels",
    "pack_graphs",
    "slic_superpixels",
    "superpixel_graphs",
]

#: environment variable naming the folder for derived data (the superpixels)
CACHE_ENV = "ARCHSEARCH_CACHE"
#: node features of a superpixel graph, in column order after the mask
GRAPH_FEATURES = ("intensity", "row", "col")
#: seeds per side: 7x7 superpixels at 4 pixel steps on a 28x28 image
GRID = 7
#: SLIC rounds (most assignments settle within 4 to 5; Achanta et al. use 10)
ITERATIONS = 5
#: intensity difference (0..1) that weighs as much as one grid step of distance
COMPACTNESS = 0.25
#: mean intensity above which a superpixel is part of the garment (a node)
MIN_INTENSITY = 0.05
#: nearest neighbours per node (Dwivedi et al., MNIST/CIFAR-10 superpixels)
K_NEIGHBOURS = 8
_CACHE_VERSION = 1
_CHUNK = 2000  # images per SLIC batch: bounds the (B, 7, 7, 16, 9) distance tensor


def slic_superpixels(
    images: np.ndarray,
    *,
    grid: int = GRID,
    iterations: int = ITERATIONS,
    compactness: float = COMPACTNESS,
) -> np.ndarray:
    """SLIC superpixels of grey images: per seed its mean intensity, centroid and size.

    Args:
        images: ``(N, H, W)`` uint8, with ``H`` and ``W`` multiples of ``grid``.
        grid: seeds per side (``grid ** 2`` superpixels at most).
        iterations: k-means rounds.
        compactness: the intensity difference (in [0, 1]) that weighs as one grid step.

    Returns:
        float32 ``(N, grid ** 2, 4)``: mean intensity (0..1), centroid row and column
        (pixels), and pixel count; a seed that lost all its pixels has count 0.

    Raises:
        ConfigError: for a bad shape or setting, naming it.
    """
    if images.ndim != 3 or images.shape[1] % grid or images.shape[2] % grid:
        raise ConfigError(
            f"images: expected (N, H, W) with H and W multiples of grid={grid}, got {images.shape}"
        )
    if not isinstance(iterations, int) or iterations < 1 or not compactness > 0:
        raise ConfigError(
            f"iterations, compactness: must be >= 1 and > 0, got {iterations}, {compactness}"
        )
    parts = [
        _slic(torch.from_numpy(np.ascontiguousarray(images[i : i + _CHUNK])), grid,
              iterations, compactness)
        for i in range(0, len(images), _CHUNK)
    ]  # fmt: skip
    if not parts:
        return np.zeros((0, grid * grid, 4), np.float32)
    return torch.cat(parts).numpy()


def _slic(images: torch.Tensor, g: int, iterations: int, m: float) -> torch.Tensor:
    """SLIC on one batch; each pixel compares the 3x3 seeds around its grid cell."""
    b, h, w = images.shape
    sh, sw = h // g, w // g
    pix = images.float().div(255).reshape(b, g, sh, g, sw).permute(0, 1, 3, 2, 4)
    pix = pix.reshape(b, g, g, sh * sw)  # pixels grouped by grid cell
    rows = torch.arange(h, dtype=torch.float32).reshape(g, 1, sh, 1).expand(g, g, sh, sw)
    cols = torch.arange(w, dtype=torch.float32).reshape(1, g, 1, sw).expand(g, g, sh, sw)
    rows, cols = rows.reshape(g, g, -1), cols.reshape(g, g, -1)
    # (g, g, 9) seed ids around each cell; ids outside the grid are never chosen, as
    # their seeds are placed far away (see _neighbours)
    candidates = _neighbours(torch.arange(g * g).reshape(1, g, g), g)[0]
    centre = torch.stack(
        [pix.mean(-1), rows.mean(-1).expand(b, g, g), cols.mean(-1).expand(b, g, g)]
    )  # (3, B, g, g): intensity, row, col of each seed
    flat = [
        pix.reshape(b, -1),
        rows.reshape(1, -1).expand(b, -1),
        cols.reshape(1, -1).expand(b, -1),
    ]
    scale = torch.tensor([1 / m, 1 / sh, 1 / sw]).reshape(3, 1, 1, 1, 1, 1)
    values = torch.stack([pix, rows.expand(b, g, g, -1), cols.expand(b, g, g, -1)])
    count = torch.zeros(b, g * g)
    for _ in range(iterations):
        near = torch.stack([_neighbours(c, g, pad=1e4) for c in centre])  # (3, B, g, g, 9)
        dist = ((values[..., None] - near[..., None, :]) * scale).square().sum(0)
        label = torch.gather(candidates.expand(b, g, g, 9), 3, dist.argmin(-1))
        label = label.reshape(b, -1)  # the seed of each pixel (cell-grouped order)
        count = torch.zeros(b, g * g).scatter_add_(1, label, torch.ones_like(flat[0]))
        sums = torch.stack([torch.zeros(b, g * g).scatter_add_(1, label, v) for v in flat])
        moved = sums / count.clamp(min=1)
        centre = torch.where(count > 0, moved, centre.reshape(3, b, -1)).reshape(3, b, g, g)
    out = torch.cat([centre.reshape(3, b, -1), count[None]]).permute(1, 2, 0)
    return out.contiguous()


def _neighbours(t: torch.Tensor, g: int, pad: float = 0.0) -> torch.Tensor:
    """``(B, g, g)`` -> ``(B, g, g, 9)``: each cell's 3x3 neighbourhood (``pad`` outside).

    With ``pad`` far away a seed outside the grid is never the nearest.
    """
    t = F.pad(t, (1, 1, 1, 1), value=pad) if t.is_floating_point() else F.pad(t, (1, 1, 1, 1))
    shifts = [t[:, 1 + a : 1 + a + g, 1 + c : 1 + c + g] for a in (-1, 0, 1) for c in (-1, 0, 1)]
    return torch.stack(shifts, -1)


def pack_graphs(
    superpixels: np.ndarray,
    *,
    image_size: tuple[int, int] = (28, 28),
    min_intensity: float = MIN_INTENSITY,
    k: int = K_NEIGHBOURS,
) -> np.ndarray:
    """Superpixels (see :func:`slic_superpixels`) as dense uint8 graphs.

    Nodes are the superpixels brighter than ``min_intensity`` (the brightest one at
    least), in seed order, then zero padding rows; edges join each node to its ``k``
    nearest nodes by centroid, both ways (ties broken by seed order).

    Returns:
        uint8 ``(N, n_nodes, n_nodes + 1 + 3)``: ``[adjacency | mask | intensity, row,
        col]`` as fixed point (value / 255), ``n_nodes`` the number of seeds.
    """
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ConfigError(f"k: must be an integer >= 1, got {k!r}")
    if superpixels.ndim != 3 or superpixels.shape[2] != 4:
        raise ConfigError(f"superpixels: expected (N, seeds, 4), got {superpixels.shape}")
    n, s, _ = superpixels.shape
    out = np.zeros((n, s, s + 1 + len(GRAPH_FEATURES)), np.uint8)
    for i in range(0, n, _CHUNK):  # bounds the (chunk, s, s) distance arrays
        out[i : i + _CHUNK] = _pack(superpixels[i : i + _CHUNK], image_size, min_intensity, k)
    return out


def _pack(
    superpixels: np.ndarray, image_size: tuple[int, int], min_intensity: float, k: int
) -> np.ndarray:
    n, s, _ = superpixels.shape
    intensity, rows, cols, count = (superpixels[..., i] for i in range(4))
    real = (count > 0) & (intensity > min_intensity)
    brightest = np.where(count > 0, intensity, -1.0).argmax(1)
    real[np.arange(n), brightest] = True  # an all-dark image keeps one node
    order = np.argsort(~real, axis=1, kind="stable")  # real nodes first, in seed order
    take = np.take_along_axis
    real = take(real, order, 1)
    feats = np.stack(
        [
            take(intensity, order, 1),
            take(rows, order, 1) / (image_size[0] - 1),
            take(cols, order, 1) / (image_size[1] - 1),
        ],
        -1,
    )
    feats = np.where(real[..., None], feats, 0.0).astype(np.float32)
    dist = np.square(feats[:, :, None, 1:] - feats[:, None, :, 1:]).sum(-1)
    pair = real[:, :, None] & real[:, None, :] & ~np.eye(s, dtype=bool)
    dist = np.where(pair, dist, np.inf)
    nearest = np.argsort(dist, axis=2, kind="stable")[:, :, :k]
    adj = np.zeros((n, s, s), dtype=bool)
    np.put_along_axis(adj, nearest, True, axis=2)
    adj &= pair  # fewer than k other nodes: only the real ones
    adj |= adj.transpose(0, 2, 1)
    dense = np.concatenate([adj, real[..., None], feats], -1)
    packed: np.ndarray = np.rint(np.clip(dense, 0.0, 1.0) * 255).astype(np.uint8)
    return packed


def superpixel_graphs(images: np.ndarray, **options: float) -> np.ndarray:
    """Grey images ``(N, H, W)`` uint8 as packed superpixel graphs (SLIC, then packing).

    Options go to :func:`pack_graphs` (``min_intensity``, ``k``).
    """
    superpixels = slic_superpixels(images)
    return pack_graphs(superpixels, image_size=images.shape[1:3], **options)  # type: ignore[arg-type]


def cache_dir() -> Path:
    """``$ARCHSEARCH_CACHE``, else ``$XDG_CACHE_HOME/archsearch``, else ``~/.cache/archsearch``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "archsearch"


def _cached_graphs(images: np.ndarray) -> np.ndarray:
    """:func:`superpixel_graphs` of ``images``, read from the cache when it holds them."""
    key = hashlib.sha1(images.tobytes())
    settings = (_CACHE_VERSION, GRID, ITERATIONS, COMPACTNESS, MIN_INTENSITY, K_NEIGHBOURS)
    key.update(repr(settings).encode())
    file = cache_dir() / f"fashion_mnist_superpixels-{key.hexdigest()[:16]}.npy"
    shape = (len(images), GRID * GRID, GRID * GRID + 1 + len(GRAPH_FEATURES))
    if file.is_file():
        try:
            found = np.load(file)
        except (OSError, ValueError) as exc:
            raise DataError(f"{file}: unreadable graph cache ({exc}); delete it") from None
        if found.shape == shape and found.dtype == np.uint8:
            return np.asarray(found)
    graphs = superpixel_graphs(images)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_suffix(f".{os.getpid()}.tmp")
        with open(partial, "wb") as f:
            np.save(f, graphs)
        os.replace(partial, file)  # atomic: parallel workers never read half a file
    except OSError as exc:
        warnings.warn(
            f"fashion_mnist_superpixels: cannot cache the graphs in {file.parent} "
            f"({exc}); each load recomputes them. Set {CACHE_ENV} to a writable folder "
            "to silence this",
            stacklevel=3,
        )
    return graphs


@DATASETS.register("fashion_mnist_superpixels")
def load_fashion_mnist_superpixels(path: str | Path | None = None) -> RawData:
    """Fashion-MNIST as superpixel graphs (see the module docstring), 10 classes.

    ``path`` is where Fashion-MNIST's IDX files are (as for ``fashion_mnist``).
    60,000 training graphs (10,000 of them the validation split) and the official
    10,000 test graphs.

    Raises:
        DataError: when Fashion-MNIST is missing, naming the file and
            ``apt-get install dataset-fashion-mnist``.
    """
    raw = load_fashion_mnist(path)
    if raw.test_images is None or raw.test_labels is None:  # pragma: no cover - IDX has both
        raise DataError("fashion_mnist_superpixels: Fashion-MNIST without its test split")
    images = np.concatenate([raw.images[:, 0], raw.test_images[:, 0]])
    graphs = _cached_graphs(images)
    n_train = len(raw.labels)
    return RawData(
        graphs[:n_train],
        raw.labels,
        graphs[n_train:],
        raw.test_labels,
        num_classes=raw.num_classes,
        n_valid=raw.n_valid,
        model_options={"n_nodes": GRID * GRID, "n_features": len(GRAPH_FEATURES)},
    )
