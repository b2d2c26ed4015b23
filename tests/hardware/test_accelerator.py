"""The accelerator cost model against hand-computed cases."""

from __future__ import annotations

import itertools
import math

import pytest

from archsearch.errors import ConfigError
from archsearch.hardware import Accelerator, Layer, dram_tiling, layer_cost, network_cost
from archsearch.hardware._accelerator import _footprint, _refetch


def array(rows: int = 4, cols: int = 4, **kw: object) -> Accelerator:
    return Accelerator(rows=rows, cols=cols, **{"glb_kib": 64, **kw})  # type: ignore[arg-type]


def test_1x1_conv_that_fits_a_4x4_array_exactly() -> None:
    # M = 2*2 = 4 pixels, N = 4 filters, D = 4 channels: one fold of 2*4 + 4 + 4 - 2 cycles
    cost = layer_cost(Layer(in_channels=4, out_channels=4, out_h=2, out_w=2), array())
    assert (cost.macs, cost.folds, cost.compute_cycles) == (64, 1, 14)
    assert cost.mapping_utilisation == 1.0
    assert cost.utilisation == pytest.approx(64 / (14 * 16))
    # rf: one weight read per MAC; array: two hops per MAC
    assert (cost.rf_words, cost.array_words) == (64, 128)
    # glb: weights 16 + inputs 4*4*1 + psums written 16 (one row fold, none read back)
    assert cost.glb_words == 48
    assert (cost.dram_words, cost.tiles, cost.fits_glb) == (16 + 16 + 16, (1, 1), True)
    assert cost.dram_cycles == 3  # ceil(48 bytes / 16 per cycle)
    assert cost.energy == 64 + 64 + 2 * 128 + 6 * 48 + 200 * 48


def test_twice_the_channels_need_two_row_folds_with_partial_sums() -> None:
    cost = layer_cost(Layer(in_channels=8, out_channels=4, out_h=2, out_w=2), array())
    assert (cost.folds, cost.compute_cycles, cost.mapping_utilisation) == (2, 28, 1.0)
    # weights 32 + inputs 4*8 + psums written 4*4*2 and read back 4*4*1
    assert cost.glb_words == 32 + 32 + 32 + 16


def test_channels_that_do_not_divide_the_array_waste_pes() -> None:
    cost = layer_cost(Layer(in_channels=6, out_channels=4, out_h=2, out_w=2), array())
    # D = 6 over 4 rows: 2 folds, 6 of 8 row slots busy
    assert cost.folds == 2
    assert cost.mapping_utilisation == pytest.approx(0.75)


def test_output_stationary_maps_pixels_on_rows_and_streams_the_reduction() -> None:
    layer = Layer(in_channels=8, out_channels=6, out_h=2, out_w=2)
    cost = layer_cost(layer, array(dataflow="os"))
    # rows <- M = 4 (1 fold), cols <- N = 6 (2 folds), T = D = 8
    assert (cost.folds, cost.compute_cycles) == (2, 2 * (8 + 4 + 8 - 2))
    assert cost.mapping_utilisation == pytest.approx(192 / (2 * 8 * 16))
    # inputs 4*8*2 + weights 8*6*1 + outputs 4*6; two RF accesses (psum) per MAC
    assert cost.glb_words == 64 + 48 + 24
    assert cost.rf_words == 2 * 192
    # a PE buffer of 2 accumulators serves both column folds with one input stream
    buffered = layer_cost(layer, array(dataflow="os", pe_buffer=2))
    assert buffered.glb_words == 32 + 48 + 24
    assert buffered.compute_cycles == cost.compute_cycles


def test_depthwise_conv_runs_group_by_group() -> None:
    acc = Accelerator(rows=8, cols=8, glb_kib=1024)
    cost = layer_cost(Layer(32, 32, 3, out_h=8, out_w=8, kind="depthwise"), acc)
    # per group D = 9 over 8 rows (2 folds), N = 1 of 8 cols
    assert (cost.macs, cost.folds) == (32 * 64 * 9, 64)
    assert cost.mapping_utilisation == pytest.approx(18432 / (64 * 64 * 64))


def test_compute_bound_and_dram_bound_layers() -> None:
    conv = layer_cost(Layer(64, 64, 3, out_h=8, out_w=8), Accelerator(8, 8, glb_kib=1024))
    # D = 576 (72 row folds), N = 64 (8 col folds), T = 64: 576 * 86 cycles
    assert conv.compute_cycles == 49_536
    assert conv.dram_words == 36_864 + 4096 + 4096
    assert not conv.is_dram_bound and conv.cycles == conv.compute_cycles
    fc = Layer(1024, 1024, kind="linear")
    cost = layer_cost(fc, Accelerator(64, 64, glb_kib=1024, dataflow="os"))
    # 16 col folds of 2*64 + 64 + 1024 - 2; the 1 MiB of weights takes 65,664 cycles
    assert cost.compute_cycles == 16 * 1214
    assert cost.dram_words == 1024 * 1024 + 2048
    assert cost.is_dram_bound and cost.cycles == cost.dram_cycles == 65_664
    assert cost.latency_s == pytest.approx(65_664 / 500e6)


def test_a_layer_over_the_glb_keeps_weights_resident_and_stripes_the_rest() -> None:
    # W = 4,096, I = O = 65,536 words over 32,768: 5 stripes, all filters resident
    layer = Layer(64, 64, 1, out_h=32, out_w=32)
    assert dram_tiling(layer, 32 * 1024) == (4096 + 2 * 65_536, 5, 1, True)


def test_when_neither_operand_fits_the_cheaper_refetch_is_paid() -> None:
    # W = 147,456, I = O = 131,072 words over 65,536: 11 stripes x 3 filter tiles,
    # inputs re-read twice (262,144) beat weights re-read 10 times
    layer = Layer(128, 128, 3, out_h=32, out_w=32)
    assert dram_tiling(layer, 64 * 1024) == (147_456 + 2 * 131_072 + 262_144, 11, 3, True)


@pytest.mark.parametrize("glb", [300, 1000, 5000])
def test_tiling_search_matches_exhaustive_search(glb: int) -> None:
    layers = [
        Layer(16, 24, 3, out_h=12, out_w=12),
        Layer(24, 24, 3, out_h=6, out_w=6, kind="depthwise"),
        Layer(8, 40, 1, stride=2, out_h=10, out_w=10),
    ]
    for layer in layers:
        base = layer.weight_words + layer.input_words + layer.output_words
        feasible = [
            base + _refetch(layer, s, k)
            for s, k in itertools.product(
                range(1, layer.out_h + 1), range(1, layer.out_channels + 1)
            )
            if _footprint(layer, s, k) <= glb
        ]
        traffic, *_, fits = dram_tiling(layer, glb)
        assert fits == bool(feasible)
        if feasible:
            assert traffic == min(feasible)


def test_a_glb_too_small_for_any_tiling_is_flagged() -> None:
    assert dram_tiling(Layer(64, 64, 3, out_h=32, out_w=32), 16)[3] is False


def test_network_cost_sums_layers_under_the_roofline() -> None:
    acc = Accelerator(8, 8, glb_kib=1024)
    layers = [Layer(64, 64, 3, out_h=8, out_w=8), Layer(1024, 1024, kind="linear")]
    costs = [layer_cost(layer, acc) for layer in layers]
    total = network_cost(layers, acc)
    assert total.cycles == sum(max(c.compute_cycles, c.dram_cycles) for c in costs)
    assert total.latency_ms == pytest.approx(total.cycles / 500e6 * 1e3)
    assert total.energy_uj == pytest.approx(sum(c.energy for c in costs) * 0.23e-6)
    assert total.n_dram_bound == sum(c.is_dram_bound for c in costs)
    assert total.utilisation == pytest.approx(total.macs / (total.cycles * 64))


def test_area_is_pes_plus_sram() -> None:
    acc = Accelerator(8, 8, pe_buffer=4, glb_kib=32)
    assert acc.area_mm2 == pytest.approx((64 * (318 + 4 * 36) + 32 * 6000) / 1e6)
    assert Accelerator(16, 8, glb_kib=32).area_mm2 > Accelerator(8, 8, glb_kib=32).area_mm2


def test_bigger_arrays_are_faster_on_large_layers_and_cost_more_area() -> None:
    layer = Layer(64, 64, 3, out_h=16, out_w=16)
    small, large = Accelerator(8, 8, glb_kib=256), Accelerator(32, 32, glb_kib=256)
    assert layer_cost(layer, large).cycles < layer_cost(layer, small).cycles
    assert large.area_mm2 > small.area_mm2
    assert math.isclose(layer_cost(layer, small).macs, layer.macs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rows": 0, "cols": 4}, "rows"),
        ({"rows": 4, "cols": -1}, "cols"),
        ({"rows": 4, "cols": 4, "pe_buffer": 0}, "pe_buffer"),
        ({"rows": 4, "cols": 4, "glb_kib": 2.5}, "glb_kib"),
        ({"rows": 4, "cols": 4, "dataflow": "rs"}, "dataflow: unknown 'rs'"),
    ],
)
def test_bad_accelerators_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        Accelerator(**kwargs)  # type: ignore[arg-type]


def test_bad_layers_name_the_field() -> None:
    with pytest.raises(ConfigError, match="groups"):
        Layer(6, 4, 3, groups=4)
    with pytest.raises(ConfigError, match="kind"):
        Layer(4, 4, kind="pool")
    with pytest.raises(ConfigError, match="out_h"):
        Layer(4, 4, out_h=0)
    with pytest.raises(ConfigError, match="layers"):
        network_cost([], Accelerator(4, 4))
