"""Latency look-up tables, the additive and learned predictors, device tables, the CLI."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archsearch.cli_latency import add_latency_parser, cmd_latency
from archsearch.errors import ConfigError, DataError
from archsearch.evaluation import NB201Benchmark
from archsearch.evaluation._latency import (
    LatencyTable,
    LearnedLatencyPredictor,
    LUTPredictor,
    device_latency,
    nb201_encoding,
    profile_lut,
)
from archsearch.models.nb201 import NB201Cell
from archsearch.spaces.nb201 import EDGES, OPS, from_arch_str, nb201_space

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
# node 1 is cut off from the output: its conv runs unless the network is pruned
DEAD_CONV = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
FIXED = ("stem", "reduction_1", "reduction_2", "head")
PARTS = (*OPS, "add", "zeros", "cell")
TINY = {"input_shape": (3, 8, 8), "repeats": 2, "model_options": {"channels": 4, "n_cells": 1}}


def _table(entries: dict[str, float], *, n_cells: int = 2) -> LatencyTable:
    """A hand-made table: the given entries, every other one 0."""
    keys = [*FIXED, *(f"stage_{s}/{p}" for s in range(3) for p in PARTS)]
    return LatencyTable(
        space="nb201",
        entries_ms={key: entries.get(key, 0.0) for key in keys},
        skeleton={"channels": 4, "n_cells": n_cells, "n_classes": 10},
        input_shape=(3, 8, 8),
        batch_size=1,
        device="cpu",
        threads=1,
        clock="wall",
        repeats=1,
        torch_version="test",
        machine="test",
        created="2025-01-01T00:00:00+00:00",
    )


def _random_cells(n: int, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    return [nb201_space().sample(rng) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_table() -> LatencyTable:
    return profile_lut("nb201", threads=1, clock="cpu", **TINY)  # type: ignore[arg-type]


# -- the table -----------------------------------------------------------------------
def test_profile_has_every_entry_and_metadata(tiny_table: LatencyTable) -> None:
    keys = {*FIXED, *(f"stage_{s}/{p}" for s in range(3) for p in PARTS)}
    assert set(tiny_table.entries_ms) == keys
    assert all(v >= 0 for v in tiny_table.entries_ms.values())
    assert tiny_table.entries_ms["stage_2/none"] == 0.0
    assert (tiny_table.threads, tiny_table.batch_size, tiny_table.device) == (1, 1, "cpu")
    assert tiny_table.clock == "cpu"
    assert tiny_table.skeleton == {"channels": 4, "n_cells": 1, "n_classes": 10}


def test_table_json_round_trip(tiny_table: LatencyTable, tmp_path: Path) -> None:
    path = tmp_path / "lut.json"
    tiny_table.save(path)
    assert LatencyTable.load(path) == tiny_table
    assert json.loads(path.read_text())["input_shape"] == [3, 8, 8]


def test_table_load_names_missing_field_and_file(tmp_path: Path) -> None:
    data = _table({}).to_json()
    del data["entries_ms"]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match="missing field 'entries_ms'"):
        LatencyTable.load(tmp_path / "bad.json")
    with pytest.raises(DataError, match="cannot read"):
        LatencyTable.load(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_options": {"width": 3}}, "model_options: unknown option 'width'"),
        ({"repeats": 0}, "repeats: must be a positive integer"),
        ({"input_shape": (3, 32)}, "input_shape: expected"),
        ({"threads": 0}, "threads: must be a positive integer"),
        (
            {"clock": "cpu", "threads": 2},
            "clock: must be wall, or cpu with device cpu and threads 1",
        ),
        ({"clock": "tsc"}, "clock: must be wall"),
    ],
)
def test_profile_rejects_bad_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        profile_lut("nb201", **kwargs)


def test_profile_rejects_unknown_space() -> None:
    with pytest.raises(ConfigError, match="space: no latency profile for 'darts'"):
        profile_lut("darts")


# -- the additive predictor ----------------------------------------------------------
def test_prediction_is_fixed_plus_op_entries_and_none_adds_nothing() -> None:
    entries = {"stem": 1.0, "reduction_1": 2.0, "reduction_2": 3.0, "head": 4.0}
    for s in range(3):
        entries |= {f"stage_{s}/{op}": (s + 1) * 10.0**i for i, op in enumerate(OPS[1:])}
        entries[f"stage_{s}/cell"] = 0.5
    predictor = LUTPredictor(_table(entries, n_cells=2))
    cell = from_arch_str(RESNET)
    per_stage = [0.5 + 2 * entries[f"stage_{s}/nor_conv_3x3"] + 2 * (s + 1) for s in range(3)]
    assert predictor.predict(cell) == pytest.approx(10.0 + 2 * sum(per_stage))
    assert predictor.predict(dict.fromkeys(EDGES, "none")) == pytest.approx(10.0 + 2 * 1.5)
    with_none = {**cell, "edge_1_2": "none"}
    conv = sum(entries[f"stage_{s}/nor_conv_3x3"] for s in range(3))
    assert predictor.predict(cell) - predictor.predict(with_none) == pytest.approx(2 * conv)


@pytest.mark.parametrize("prune", [False, True])
@pytest.mark.parametrize("part", PARTS[1:])
def test_counts_match_the_built_cell(part: str, prune: bool) -> None:
    """A table with 1 ms for one part at stage 0 predicts how often the builder runs it."""
    predictor = LUTPredictor(_table({f"stage_0/{part}": 1.0}, n_cells=1), prune=prune)
    for cell in [*_random_cells(30), from_arch_str(DEAD_CONV)]:
        built = set(NB201Cell(cell, 4, 4, prune=prune).edges)
        terms = [sum(f"edge_{i}_{j}" in built for i in range(j)) for j in (1, 2, 3)]
        expected = {
            "add": sum(max(t - 1, 0) for t in terms),
            "zeros": terms.count(0),
            "cell": 1,
        }.get(part, sum(cell[e] == part for e in built))
        assert predictor.predict(cell) == expected, (cell, part)


def test_prune_drops_dead_edges() -> None:
    predictor = LUTPredictor(_table({"stage_1/nor_conv_3x3": 1.0}, n_cells=5))
    pruned = LUTPredictor(predictor.table, prune=True)
    assert (predictor.predict(DEAD_CONV), pruned.predict(DEAD_CONV)) == (5.0, 0.0)


def test_every_conv_cell_is_slower_than_skip_and_none(tiny_table: LatencyTable) -> None:
    predictor = LUTPredictor(tiny_table)
    fastest = {op: predictor.predict(dict.fromkeys(EDGES, op)) for op in OPS}
    assert fastest["nor_conv_3x3"] > max(fastest["skip_connect"], fastest["none"])
    assert predictor.predict(RESNET) == predictor.predict(from_arch_str(RESNET))


def test_predictor_rejects_bad_cell_and_incomplete_table() -> None:
    predictor = LUTPredictor(_table({}))
    with pytest.raises(ConfigError, match="edge_0_2: unknown op 'conv5x5'"):
        predictor.predict({**from_arch_str(RESNET), "edge_0_2": "conv5x5"})
    entries = dict(_table({}).entries_ms)
    del entries["stage_1/add"]
    table = LatencyTable(**{**_table({}).to_json(), "entries_ms": entries})
    with pytest.raises(DataError, match="missing entry 'stage_1/add'"):
        LUTPredictor(table)


# -- the learned predictor -----------------------------------------------------------
def _linear_target(cells: list[dict[str, str]]) -> np.ndarray:
    weights = np.random.default_rng(0).uniform(0.1, 2.0, size=(len(EDGES), len(OPS)))
    return np.array([3.0 + weights.ravel() @ nb201_encoding(c) for c in cells])


def test_learned_predictor_fits_a_linear_target() -> None:
    cells = _random_cells(300)
    y = _linear_target(cells)
    for alpha in (1e-6, None):
        model = LearnedLatencyPredictor(alpha=alpha).fit(cells[:200], y[:200])
        np.testing.assert_allclose(model.predict_many(cells[200:]), y[200:], rtol=1e-2)
    assert model.predict(cells[0]) == pytest.approx(y[0], rel=1e-2)


def test_learned_predictor_learns_the_residual_of_a_base() -> None:
    cells = _random_cells(200, seed=1)
    base = LUTPredictor(_table({"stage_0/nor_conv_3x3": 1.0, "stage_2/add": 0.3}))
    y = _linear_target(cells) + np.array([base.predict(c) for c in cells])
    model = LearnedLatencyPredictor(alpha=1e-6, base=base).fit(cells[:150], y[:150])
    np.testing.assert_allclose(model.predict_many(cells[150:]), y[150:], rtol=1e-3)


def test_encoding_with_interactions_marks_built_pairs() -> None:
    code = nb201_encoding(RESNET, interactions=True)
    assert code.shape == (45,) and code[:30].sum() == 6
    assert code[30:].sum() == 6  # 4 built edges: 6 pairs


def test_learned_predictor_errors() -> None:
    with pytest.raises(ConfigError, match="call fit"):
        LearnedLatencyPredictor().predict(RESNET)
    with pytest.raises(ConfigError, match="fit: needs as many latencies as configs"):
        LearnedLatencyPredictor().fit([RESNET, RESNET], [1.0])
    with pytest.raises(ConfigError, match="alpha: must be > 0"):
        LearnedLatencyPredictor(alpha=0.0)


# -- shipped device tables -----------------------------------------------------------
def test_device_latency_matches_the_benchmark() -> None:
    cell = from_arch_str(RESNET)
    expected = NB201Benchmark(device="pixel3").evaluate(cell).metrics["latency_ms"]
    assert device_latency(cell, "pixel3") == expected == device_latency(RESNET, "pixel3")
    with pytest.raises(ConfigError, match="device: unknown 'tpu'; allowed: 1080ti_1"):
        device_latency(cell, "tpu")


# -- the CLI -------------------------------------------------------------------------
def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="archsearch")
    add_latency_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["latency", *argv])


def test_cli_profiles_then_predicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lut = str(tmp_path / "lut.json")
    tiny = ["--input-shape", "3,8,8", "--channels", "4", "--n-cells", "1", "--repeats", "2"]
    assert cmd_latency(_args("profile", "nb201", "--out", lut, *tiny)) == 0
    out = capsys.readouterr().out
    assert f"table written to {lut}" in out and "nor_conv_3x3" in out
    assert cmd_latency(_args("predict", "nb201", lut, RESNET)) == 0
    first = capsys.readouterr().out
    assert " ms predicted (nb201 C=4 N=1 on cpu, 1 thread(s), wall clock" in first
    as_json = json.dumps(from_arch_str(RESNET))
    assert cmd_latency(_args("predict", "nb201", lut, as_json)) == 0
    assert capsys.readouterr().out == first
    with pytest.raises(ConfigError, match="space: .* profiles 'nb201', not 'darts'"):
        cmd_latency(_args("predict", "darts", lut, RESNET))


def test_cli_rejects_bad_shape() -> None:
    with pytest.raises(ConfigError, match="--input-shape: expected C,H,W"):
        cmd_latency(_args("profile", "nb201", "--input-shape", "3x32x32"))
