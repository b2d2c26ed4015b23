"""An analytical cost model of a systolic-array accelerator (NAHAS-style co-search).

An :class:`Accelerator` is a ``rows x cols`` array of processing elements (PEs), each
a MAC with a local buffer of ``pe_buffer`` words, a global buffer (GLB, SRAM) of
``glb_kib`` KiB and a dataflow. Words are int8 (``WORD_BYTES = 1``); the clock
(``FREQUENCY_MHZ = 500``) and the DRAM bandwidth (``DRAM_BYTES_PER_CYCLE = 16``,
8 GB/s) are fixed. A :class:`Layer` (conv, depthwise conv, linear) runs alone on the
array, layers one after another; pooling, batch norm and activations are not costed.

**GEMM view.** A layer with ``G`` groups is ``G`` matrix products, each of
``M = out_h * out_w`` output pixels (rows of a linear layer), ``N = out_channels / G``
output channels and a reduction of ``D = (in_channels / G) * kh * kw``:
``MACs = G * M * N * D``.

**Mapping** (SCALE-Sim, Samajdar et al., ISPASS 2020). Two dimensions of the product
are spread over the array and one runs in time:

- weight-stationary (``ws``, TPU-like): array rows <- ``D``, cols <- ``N``, time
  ``T = M``; each PE holds a weight, inputs flow across, partial sums down.
- output-stationary (``os``, ShiDianNao-like): rows <- ``M``, cols <- ``N``, time
  ``T = D``; each PE accumulates one output, inputs and weights flow across.

With ``(Sr, Sc)`` the dimensions mapped on rows and cols, a layer needs
``folds = G * ceil(Sr / rows) * ceil(Sc / cols)`` folds, each taking SCALE-Sim's
``2 * rows + cols + T - 2`` cycles (fill, stream, drain)::

    compute_cycles = folds * (2 * rows + cols + T - 2)
    mapping_utilisation = MACs / (folds * T * rows * cols)   # 1 iff rows | Sr and cols | Sc
    utilisation = MACs / (compute_cycles * rows * cols)      # fill and drain included

**PE array and register traffic** (per MAC; the moving operands take one neighbour
hop each): ``array = 2 * MACs``; ``rf = 1 * MACs`` under ``ws`` (the weight read) and
``2 * MACs`` under ``os`` (the partial sum read and written).

**Global-buffer traffic** (words; ``b = pe_buffer``: a PE holds ``b`` weights (``ws``) or
``b`` accumulators (``os``) of consecutive column folds, so an input streamed into the
array serves ``b`` column folds; the cycle count stays that of ``b = 1``). With
``fr = ceil(Sr / rows)`` and ``fc = ceil(Sc / cols)``, per group:

- ``ws``: weights ``D * N`` (each loaded once), inputs ``M * D * ceil(fc / b)``,
  partial sums ``M * N * fr`` written and ``M * N * (fr - 1)`` read back;
- ``os``: inputs ``M * D * ceil(fc / b)``, weights ``D * N * fr``, outputs ``M * N``.

Inputs are counted as unrolled patches (im2col), with no line buffer.

**DRAM traffic.** The layer's weights ``W``, input ``I`` and output ``O`` (words) each
move at least once: ``W + I + O``. When they do not fit the GLB (``B`` words), the
output is split into ``n_s`` row stripes and ``n_k`` output-channel tiles, whose
working set must fit::

    I / (n_s * min(n_k, G)) + W / n_k + O / (n_s * n_k) <= B

Stripes outside tiles re-fetch weights (``(n_s - 1) * W``), tiles outside stripes
re-fetch inputs (``(ceil(n_k / G) - 1) * I``); the cheaper loop order is taken, and
neither refetch occurs when ``n_s = 1`` or ``n_k = 1``::

    dram = W + I + O + (0 if n_s == 1 or n_k == 1
                        else min((n_s - 1) * W, (ceil(n_k / G) - 1) * I))

minimised over ``n_s <= out_h`` (for each, the smallest ``n_k`` that fits is best).
Convolution halos are ignored. If even ``n_s = out_h, n_k = out_channels`` does not
fit, that tiling is costed anyway and ``fits_glb`` is False.

**Latency** (roofline: DRAM transfers overlap compute through double buffering)::

    dram_cycles = ceil(dram * WORD_BYTES / DRAM_BYTES_PER_CYCLE)
    cycles = max(compute_cycles, dram_cycles);   latency = cycles / frequency

**Energy**, in units of one MAC (Eyeriss' normalised access energies, Chen et al.,
ISCA 2016: ALU 1x, RF 1x, PE array 2x, GLB 6x, DRAM 200x)::

    energy = MACs * 1 + rf * 1 + array * 2 + glb * 6 + dram * 200

times ``MAC_ENERGY_PJ = 0.23`` pJ (8-bit multiply 0.2 pJ + 8-bit add 0.03 pJ at 45 nm,
Horowitz, ISSCC 2014) for picojoules.

**Area** (45 nm)::

    area = rows * cols * (MAC_AREA_UM2 + pe_buffer * REG_AREA_UM2_PER_BYTE)
           + glb_kib * SRAM_AREA_UM2_PER_KIB

with a MAC of 318 um^2 (8-bit multiplier 282 + adder 36, Horowitz 2014), a register byte
of 36 um^2 (8 flip-flops of 4.5 um^2, NanGate 45 nm DFF_X1) and 6,000 um^2 per KiB of
SRAM (a 0.346 um^2 6T cell at about 47 % array efficiency).

Example:
    >>> acc = Accelerator(rows=4, cols=4, pe_buffer=1, glb_kib=64, dataflow="ws")
    >>> cost = layer_cost(Layer(in_channels=4, out_channels=4, out_h=2, out_w=2), acc)
    >>> cost.compute_cycles, cost.mapping_utilisation, cost.dram_words
    (14, 1.0, 48)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

from archsearch.errors import ConfigError

__all__ = [
    "DATAFLOWS",
    "DRAM_BYTES_PER_CYCLE",
    "ENERGY",
    "FREQUENCY_MHZ",
    "LAYER_KINDS",
    "MAC_AREA_UM2",
    "MAC_ENERGY_PJ",
    "REG_AREA_UM2_PER_BYTE",
    "SRAM_AREA_UM2_PER_KIB",
    "WORD_BYTES",
    "dram_tiling",
    "Accelerator",
    "Layer",
    "LayerCost",
    "NetworkCost",
    "layer_cost",
    "network_cost",
]

#: weight-stationary, output-stationary
DATAFLOWS: tuple[str, ...] = ("ws", "os")
LAYER_KINDS: tuple[str, ...] = ("conv", "depthwise", "linear")

FREQUENCY_MHZ = 500.0
DRAM_BYTES_PER_CYCLE = 16  # 8 GB/s at 500 MHz, an LPDDR4 channel
WORD_BYTES = 1  # int8 weights and activations

#: access energy per word in units of one MAC (Eyeriss, Chen et al., ISCA 2016)
ENERGY: dict[str, float] = {"mac": 1.0, "rf": 1.0, "array": 2.0, "glb": 6.0, "dram": 200.0}
MAC_ENERGY_PJ = 0.23  # 8-bit mult 0.2 pJ + add 0.03 pJ, 45 nm (Horowitz, ISSCC 2014)
MAC_AREA_UM2 = 318.0  # 8-bit mult 282 um^2 + add 36 um^2, 45 nm (Horowitz, ISSCC 2014)
REG_AREA_UM2_PER_BYTE = 36.0  # 8 x DFF_X1 (4.5 um^2), NanGate 45 nm
SRAM_AREA_UM2_PER_KIB = 6000.0  # 8192 x 0.346 um^2 6T cells / ~47 % array efficiency

# per MAC: register reads/writes and neighbour hops of the moving operands
_RF_PER_MAC = {"ws": 1, "os": 2}
_ARRAY_PER_MAC = 2


def _positive(field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{field}: must be a positive integer, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Accelerator:
    """A systolic-array accelerator.

    Args:
        rows, cols: the PE array.
        pe_buffer: words of local buffer per PE (>= 1: the stationary operand).
        glb_kib: global buffer (SRAM) in KiB.
        dataflow: ``ws`` (weight-stationary) or ``os`` (output-stationary).

    Raises:
        ConfigError: naming the field (a non-positive size, an unknown dataflow).
    """

    rows: int
    cols: int
    pe_buffer: int = 1
    glb_kib: int = 128
    dataflow: str = "ws"

    def __post_init__(self) -> None:
        for name in ("rows", "cols", "pe_buffer", "glb_kib"):
            _positive(name, getattr(self, name))
        if self.dataflow not in DATAFLOWS:
            raise ConfigError(
                f"dataflow: unknown {self.dataflow!r}; allowed: {', '.join(DATAFLOWS)}"
            )

    @property
    def n_pes(self) -> int:
        return self.rows * self.cols

    @property
    def glb_words(self) -> int:
        return self.glb_kib * 1024 // WORD_BYTES

    @property
    def area_mm2(self) -> float:
        """PE array plus global buffer, in mm^2 (see the module docstring)."""
        pe = MAC_AREA_UM2 + self.pe_buffer * REG_AREA_UM2_PER_BYTE
        return (self.n_pes * pe + self.glb_kib * SRAM_AREA_UM2_PER_KIB) / 1e6


@dataclass(frozen=True, slots=True)
class Layer:
    """One conv / depthwise conv / linear layer at batch 1, by its shapes.

    Args:
        in_channels, out_channels: channels (features of a linear layer).
        kernel: ``k`` or ``(kh, kw)``.
        stride: the conv stride (only used to infer the input size).
        out_h, out_w: the output's spatial size (a linear layer: rows, 1).
        groups: channel groups; ``depthwise`` sets it to ``in_channels``.
        kind: ``conv``, ``depthwise`` or ``linear``.
        in_h, in_w: the input's spatial size (0: ``out * stride``, "same" padding).
    """

    in_channels: int
    out_channels: int
    kernel: int | tuple[int, int] = 1
    stride: int = 1
    out_h: int = 1
    out_w: int = 1
    groups: int = 1
    kind: str = "conv"
    in_h: int = 0
    in_w: int = 0

    def __post_init__(self) -> None:
        if self.kind not in LAYER_KINDS:
            raise ConfigError(f"kind: unknown {self.kind!r}; allowed: {', '.join(LAYER_KINDS)}")
        kernel = self.kernel if isinstance(self.kernel, tuple) else (self.kernel, self.kernel)
        object.__setattr__(self, "kernel", tuple(kernel))
        for name, value in (
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
            ("kernel", kernel[0]),
            ("kernel", kernel[1]),
            ("stride", self.stride),
            ("out_h", self.out_h),
            ("out_w", self.out_w),
            ("groups", self.groups),
        ):
            _positive(name, value)
        if self.kind == "depthwise":
            object.__setattr__(self, "groups", self.in_channels)
        if self.kind == "linear" and (kernel != (1, 1) or self.groups != 1):
            raise ConfigError("kernel: a linear layer has kernel 1 and one group")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ConfigError(
                f"groups: must divide in_channels ({self.in_channels}) and out_channels "
                f"({self.out_channels}), got {self.groups}"
            )
        for name, out in (("in_h", self.out_h), ("in_w", self.out_w)):
            value = getattr(self, name)
            if value == 0:
                object.__setattr__(self, name, out * self.stride)
            else:
                _positive(name, value)

    @property
    def kh(self) -> int:
        return self.kernel[0]  # type: ignore[index]

    @property
    def kw(self) -> int:
        return self.kernel[1]  # type: ignore[index]

    @property
    def gemm(self) -> tuple[int, int, int]:
        """``(M, N, D)`` of one group's matrix product."""
        d = self.in_channels // self.groups * self.kh * self.kw
        return self.out_h * self.out_w, self.out_channels // self.groups, d

    @property
    def macs(self) -> int:
        m, n, d = self.gemm
        return self.groups * m * n * d

    @property
    def weight_words(self) -> int:
        m, n, d = self.gemm
        return self.groups * n * d

    @property
    def input_words(self) -> int:
        return self.in_channels * self.in_h * self.in_w

    @property
    def output_words(self) -> int:
        return self.out_channels * self.out_h * self.out_w


@dataclass(frozen=True, slots=True)
class LayerCost:
    """The cost of one layer on one accelerator (counts in words and cycles)."""

    macs: int
    folds: int
    compute_cycles: int
    dram_cycles: int
    mapping_utilisation: float
    utilisation: float
    rf_words: int
    array_words: int
    glb_words: int
    dram_words: int
    tiles: tuple[int, int]  # (n_s, n_k): output row stripes, output-channel tiles
    fits_glb: bool

    @property
    def cycles(self) -> int:
        return max(self.compute_cycles, self.dram_cycles)

    @property
    def is_dram_bound(self) -> bool:
        return self.dram_cycles > self.compute_cycles

    @property
    def energy(self) -> float:
        """Energy in units of one MAC."""
        return (
            self.macs * ENERGY["mac"]
            + self.rf_words * ENERGY["rf"]
            + self.array_words * ENERGY["array"]
            + self.glb_words * ENERGY["glb"]
            + self.dram_words * ENERGY["dram"]
        )

    @property
    def latency_s(self) -> float:
        return self.cycles / (FREQUENCY_MHZ * 1e6)


def _glb_traffic(layer: Layer, acc: Accelerator, fr: int, fc: int) -> int:
    m, n, d = layer.gemm
    inputs = m * d * -(-fc // acc.pe_buffer)
    if acc.dataflow == "ws":
        per_group = d * n + inputs + m * n * fr + m * n * (fr - 1)
    else:
        per_group = inputs + d * n * fr + m * n
    return layer.groups * per_group


def _footprint(layer: Layer, n_s: int, n_k: int) -> float:
    i, w, o = layer.input_words, layer.weight_words, layer.output_words
    return i / (n_s * min(n_k, layer.groups)) + w / n_k + o / (n_s * n_k)


def _refetch(layer: Layer, n_s: int, n_k: int) -> int:
    if n_s == 1 or n_k == 1:
        return 0
    weights = (n_s - 1) * layer.weight_words
    inputs = (-(-n_k // layer.groups) - 1) * layer.input_words
    return min(weights, inputs)


def dram_tiling(layer: Layer, glb_words: int) -> tuple[int, int, int, bool]:
    """``(dram words, n_s, n_k, fits)``: the cheapest tiling of the layer over the GLB."""
    base = layer.weight_words + layer.input_words + layer.output_words
    best: tuple[int, int, int] | None = None
    for n_s in range(1, layer.out_h + 1):
        if _footprint(layer, n_s, layer.out_channels) > glb_words:
            continue
        low, high = 1, layer.out_channels  # smallest n_k that fits (footprint decreases)
        while low < high:
            mid = (low + high) // 2
            if _footprint(layer, n_s, mid) <= glb_words:
                high = mid
            else:
                low = mid + 1
        traffic = base + _refetch(layer, n_s, low)
        if best is None or (traffic, n_s * low) < (best[0], best[1] * best[2]):
            best = (traffic, n_s, low)
        if traffic == base:
            break  # no refetch: nothing costs less
    if best is None:
        n_s, n_k = layer.out_h, layer.out_channels
        return base + _refetch(layer, n_s, n_k), n_s, n_k, False
    return best[0], best[1], best[2], True


@functools.lru_cache(maxsize=65536)
def layer_cost(layer: Layer, accelerator: Accelerator) -> LayerCost:
    """Cycles, traffic per memory level and utilisation of ``layer`` (cached).

    Example:
        >>> acc = Accelerator(rows=4, cols=4, glb_kib=64, dataflow="os")
        >>> layer_cost(Layer(in_channels=8, out_channels=6, out_h=2, out_w=2), acc).folds
        2
    """
    acc = accelerator
    m, n, d = layer.gemm
    spatial_r, spatial_c, t = (d, n, m) if acc.dataflow == "ws" else (m, n, d)
    fr, fc = -(-spatial_r // acc.rows), -(-spatial_c // acc.cols)
    folds = layer.groups * fr * fc
    compute = folds * (2 * acc.rows + acc.cols + t - 2)
    macs = layer.macs
    dram, n_s, n_k, fits = dram_tiling(layer, acc.glb_words)
    return LayerCost(
        macs=macs,
        folds=folds,
        compute_cycles=compute,
        dram_cycles=-(-dram * WORD_BYTES // DRAM_BYTES_PER_CYCLE),
        mapping_utilisation=macs / (folds * t * acc.n_pes),
        utilisation=macs / (compute * acc.n_pes),
        rf_words=_RF_PER_MAC[acc.dataflow] * macs,
        array_words=_ARRAY_PER_MAC * macs,
        glb_words=_glb_traffic(layer, acc, fr, fc),
        dram_words=dram,
        tiles=(n_s, n_k),
        fits_glb=fits,
    )


@dataclass(frozen=True, slots=True)
class NetworkCost:
    """A network's cost on one accelerator: its layers' costs, summed.

    Attributes:
        latency_ms: the layers' roofline cycles, summed, at ``FREQUENCY_MHZ``.
        energy_uj: in microjoules (``MAC_ENERGY_PJ`` per unit).
        area_mm2: the accelerator's area.
        macs, cycles, compute_cycles, dram_bytes: totals.
        utilisation: MACs over (cycles x PEs).
        n_dram_bound: layers whose DRAM cycles exceed their compute cycles.
        layers: the cost of each layer.
    """

    latency_ms: float
    energy_uj: float
    area_mm2: float
    macs: int
    cycles: int
    compute_cycles: int
    dram_bytes: int
    utilisation: float
    n_dram_bound: int
    layers: tuple[LayerCost, ...]

    def metrics(self) -> dict[str, float]:
        """The figures a search reports."""
        return {
            "latency_ms": self.latency_ms,
            "energy_uj": self.energy_uj,
            "area_mm2": self.area_mm2,
            "utilisation": self.utilisation,
            "dram_mb": self.dram_bytes / 1e6,
        }


def network_cost(layers: Iterable[Layer], accelerator: Accelerator) -> NetworkCost:
    """Run ``layers`` one after another on ``accelerator``.

    Raises:
        ConfigError: when there is no layer.
    """
    costs = tuple(layer_cost(layer, accelerator) for layer in layers)
    if not costs:
        raise ConfigError("layers: a network needs at least one conv or linear layer")
    cycles = sum(c.cycles for c in costs)
    macs = sum(c.macs for c in costs)
    energy = math.fsum(c.energy for c in costs)
    return NetworkCost(
        latency_ms=cycles / (FREQUENCY_MHZ * 1e3),
        energy_uj=energy * MAC_ENERGY_PJ / 1e6,
        area_mm2=accelerator.area_mm2,
        macs=macs,
        cycles=cycles,
        compute_cycles=sum(c.compute_cycles for c in costs),
        dram_bytes=sum(c.dram_words for c in costs) * WORD_BYTES,
        utilisation=macs / (cycles * accelerator.n_pes),
        n_dram_bound=sum(c.is_dram_bound for c in costs),
        layers=costs,
    )
