"""The NAS-Bench-201 cell space: strings, indices and functional identity."""

from __future__ import annotations

import pytest

from archsearch.errors import ConfigError
from archsearch.registry import SPACES
from archsearch.space import Choice, Space
from archsearch.spaces.nb201 import (
    EDGES,
    OPS,
    arch_index,
    cell_from_index,
    from_arch_str,
    functional_key,
    nb201_space,
    to_arch_str,
)

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
RESNET_CELL = {
    "edge_0_1": "nor_conv_3x3",
    "edge_0_2": "none",
    "edge_1_2": "nor_conv_3x3",
    "edge_0_3": "skip_connect",
    "edge_1_3": "none",
    "edge_2_3": "skip_connect",
}


def cell(**ops: str) -> dict[str, str]:
    """A cell of all 'none' edges with some edges set (``e01="skip_connect"``)."""
    out = dict.fromkeys(EDGES, "none")
    for short, op in ops.items():
        out[f"edge_{short[1]}_{short[2]}"] = op
    return out


def test_space_has_15625_cells_over_six_edges() -> None:
    space = nb201_space()
    assert space.size == 15_625
    assert space.name == "nb201"
    config = space.sample(seed=0)
    assert list(config) == list(EDGES)
    assert all(op in OPS for op in config.values())
    assert space.n_decisions(config) == 6


def test_space_is_registered_under_nb201() -> None:
    assert SPACES["nb201"] is nb201_space
    assert SPACES["nb201"]().size == 15_625


def test_arch_str_of_a_known_cell() -> None:
    assert from_arch_str(RESNET) == RESNET_CELL
    assert to_arch_str(RESNET_CELL) == RESNET
    assert list(from_arch_str(RESNET)) == list(EDGES)


def test_arch_str_round_trip_over_all_cells() -> None:
    seen = set()
    for config in nb201_space().enumerate():
        arch = to_arch_str(config)
        assert from_arch_str(arch) == config
        assert to_arch_str(from_arch_str(arch)) == arch
        seen.add(arch)
    assert len(seen) == 15_625


def test_from_arch_str_tolerates_surrounding_whitespace() -> None:
    assert from_arch_str(f"  {RESNET}\n") == RESNET_CELL


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|", r"expected 3 nodes joined by '\+', got 2"),
        (RESNET + "+|none~0|", "expected 3 nodes joined by '\\+', got 4"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 inputs, got 1"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|", "node 3 needs 3 inputs, got 2"),
        ("|none0|+|none~0|none~1|+|none~0|none~1|none~2|", r"malformed input 'none0' of node 1"),
        ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", r"malformed input 'none~1' of node 1"),
        ("|none~0|+|none~0|none~x|+|none~0|none~1|none~2|", r"malformed input 'none~x' of node 2"),
        ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "node 2 lists input 0 twice"),
        ("", "expected 3 nodes"),
    ],
)
def test_malformed_arch_str_raises_config_error(arch: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_arch_str(arch)


@pytest.mark.parametrize("op", ["conv_5x5", "sep_conv_3x3", "Skip_Connect", "max_pool_3x3"])
def test_unknown_op_in_arch_str_is_named(op: str) -> None:
    arch = f"|nor_conv_3x3~0|+|none~0|{op}~1|+|skip_connect~0|none~1|none~2|"
    with pytest.raises(ConfigError, match=rf"unknown op '{op}' at edge 1->2; allowed: none, "):
        from_arch_str(arch)


def test_from_arch_str_rejects_non_strings() -> None:
    with pytest.raises(ConfigError, match="arch: expected an NB201 string"):
        from_arch_str(12)  # type: ignore[arg-type]


def test_to_arch_str_rejects_bad_configs() -> None:
    with pytest.raises(ConfigError, match=r"^edge_2_3: missing"):
        to_arch_str({e: "none" for e in EDGES[:-1]})
    with pytest.raises(ConfigError, match=r"^edge_0_1: unknown op 'conv'"):
        to_arch_str({**RESNET_CELL, "edge_0_1": "conv"})
    with pytest.raises(ConfigError, match="expected a mapping"):
        to_arch_str(RESNET)  # type: ignore[arg-type]


# -- subsets of ops -------------------------------------------------------------------


def test_subset_of_ops_keeps_nb201_order() -> None:
    space = nb201_space(ops=["nor_conv_3x3", "none", "skip_connect"])
    assert space.size == 3**6
    assert space == Space(
        {e: Choice(["none", "skip_connect", "nor_conv_3x3"]) for e in EDGES}, name="nb201"
    )
    used = {op for c in space.enumerate() for op in c.values()}
    assert used == {"none", "skip_connect", "nor_conv_3x3"}
    with pytest.raises(ConfigError, match=r"edge_0_1: unknown value 'avg_pool_3x3'"):
        space.validate({**cell(), "edge_0_1": "avg_pool_3x3"})


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (["none", "conv_5x5"], r"^ops\[1\]: unknown op 'conv_5x5'; allowed: none, skip_connect"),
        (["sep_conv"], r"^ops\[0\]: unknown op 'sep_conv'"),
        (["none", "none"], r"^ops: listed twice"),
        ([], r"^ops: expected a non-empty list"),
        ("none", r"^ops: expected a non-empty list"),
    ],
)
def test_bad_ops_raise_config_error(ops: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        nb201_space(ops=ops)  # type: ignore[arg-type]


# -- indices --------------------------------------------------------------------------


def test_arch_index_and_cell_from_index_are_inverse() -> None:
    configs = list(nb201_space().enumerate())
    for i in range(15_625):
        assert arch_index(cell_from_index(i)) == i
    # the index is the position in the space's own enumeration
    assert [arch_index(c) for c in configs] == list(range(15_625))
    assert cell_from_index(0) == cell()
    assert cell_from_index(15_624) == dict.fromkeys(EDGES, "avg_pool_3x3")
    assert cell_from_index(1) == cell(e23="skip_connect")


@pytest.mark.parametrize("index", [-1, 15_625])
def test_cell_from_index_out_of_range(index: int) -> None:
    with pytest.raises(ConfigError, match=r"^index: must be in \[0, 15624\]"):
        cell_from_index(index)


# -- functional identity ----------------------------------------------------------------


def test_edges_out_of_a_dead_node_do_not_matter() -> None:
    # node 1's only input is 'none': what leaves node 1 computes nothing
    base = cell(
        e01="none",
        e02="nor_conv_3x3",
        e12="none",
        e03="skip_connect",
        e13="none",
        e23="nor_conv_1x1",
    )
    for op in OPS:
        for other in OPS:
            variant = {**base, "edge_1_2": op, "edge_1_3": other}
            assert functional_key(variant) == functional_key(base)


def test_edges_into_a_node_that_never_reaches_the_output_do_not_matter() -> None:
    # node 2 feeds nothing (edge_2_3 is 'none'): its inputs are irrelevant
    base = cell(
        e01="nor_conv_3x3",
        e02="none",
        e12="none",
        e03="skip_connect",
        e13="nor_conv_3x3",
        e23="none",
    )
    variant = {**base, "edge_0_2": "avg_pool_3x3", "edge_1_2": "nor_conv_1x1"}
    assert functional_key(variant) == functional_key(base)


def test_isomorphic_cells_share_a_key() -> None:
    # nodes 1 and 2 are independent (edge_1_2 'none'); swapping their roles
    a = cell(
        e01="nor_conv_3x3",
        e02="avg_pool_3x3",
        e12="none",
        e03="skip_connect",
        e13="nor_conv_1x1",
        e23="skip_connect",
    )
    b = cell(
        e01="avg_pool_3x3",
        e02="nor_conv_3x3",
        e12="none",
        e03="skip_connect",
        e13="skip_connect",
        e23="nor_conv_1x1",
    )
    assert a != b
    assert functional_key(a) == functional_key(b)


def test_skip_connect_is_the_identity() -> None:
    # x -> skip -> node1 -> conv -> node3 computes conv(x), as does conv(x) straight
    via_skip = cell(e01="skip_connect", e13="nor_conv_3x3")
    direct = cell(e03="nor_conv_3x3")
    assert functional_key(via_skip) == functional_key(direct)


def test_genuinely_different_cells_have_different_keys() -> None:
    keys = {
        functional_key(cell(e03="nor_conv_3x3")),
        functional_key(cell(e03="nor_conv_1x1")),
        functional_key(cell(e03="skip_connect")),
        functional_key(cell(e03="avg_pool_3x3")),
        functional_key(cell()),  # outputs zero
        # conv(conv(x)) is not conv(x)
        functional_key(cell(e01="nor_conv_3x3", e13="nor_conv_3x3")),
        # conv(x) + conv(x) keeps two weights: not conv(x)
        functional_key(cell(e01="nor_conv_3x3", e03="nor_conv_3x3", e13="skip_connect")),
        # conv(x) + x
        functional_key(cell(e03="nor_conv_3x3", e13="skip_connect", e01="skip_connect")),
        functional_key(from_arch_str(RESNET)),
    }
    assert len(keys) == 9


def test_functional_key_validates_its_input() -> None:
    with pytest.raises(ConfigError, match=r"^edge_1_2: unknown op 'conv'"):
        functional_key({**RESNET_CELL, "edge_1_2": "conv"})


def test_count_of_functionally_distinct_cells() -> None:
    # Pins what the implementation gives, so that a change is noticed.
    keys = {functional_key(cell_from_index(i)) for i in range(15_625)}
    assert len(keys) == 4930


def test_functional_key_flattens_sums_reached_through_skips() -> None:
    # node1 = conv3(x); A: node2 = node1 + conv1(x), out = node2 + pool(x)
    #                   B: node2 = node1 + pool(x),  out = node2 + conv1(x)
    # both compute conv3(x) + conv1(x) + pool(x) with the same weights
    base = {
        "edge_0_1": "nor_conv_3x3",
        "edge_1_2": "skip_connect",
        "edge_0_3": "none",
        "edge_1_3": "none",
        "edge_2_3": "skip_connect",
    }
    a = {**base, "edge_0_2": "nor_conv_1x1", "edge_0_3": "avg_pool_3x3"}
    b = {**base, "edge_0_2": "avg_pool_3x3", "edge_0_3": "nor_conv_1x1"}
    assert functional_key(a) == functional_key(b)
    c = {**a, "edge_2_3": "nor_conv_3x3"}  # a conv over the sum is another function
    assert functional_key(c) != functional_key(a)
