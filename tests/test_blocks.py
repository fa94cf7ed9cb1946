"""Stacked blocks along the output axis (fused q/k/v projections, recurrent gates)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import weightinit as wi

E = 512


@pytest.mark.parametrize(
    ("shape", "layout", "blocks", "expected"),
    [
        ((3 * E, E), "pytorch", 3, wi.Fans(E, E, 1)),
        ((E, 3 * E), "in_out", 3, wi.Fans(E, E, 1)),
        ((4 * 128, 64), "pytorch", 4, wi.Fans(64, 128, 1)),
        ((3 * 8, 4, 3, 3), "pytorch", 3, wi.Fans(36, 72, 9)),
        ((3, 3, 4, 3 * 8), "in_out", 3, wi.Fans(36, 72, 9)),
        ((2 * 16, 4, 3, 3), "pytorch", 2, wi.Fans(36, 144, 9)),
    ],
)
def test_fans_are_those_of_one_block(shape, layout, blocks, expected) -> None:
    assert wi.fans(shape, layout=layout, blocks=blocks) == expected


def test_blocks_and_groups_combine() -> None:
    # Conv2d(8, 48, 3, groups=2) holding 3 stacked blocks of 16 output channels.
    assert wi.fans((48, 4, 3, 3), layout="pytorch", groups=2, blocks=3) == wi.Fans(36, 72, 9)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: wi.fans((10, 4), layout="pytorch", blocks=3),
            r"blocks=3 does not divide the output channel count 10",
        ),
        (lambda: wi.he_normal()((10, 4), layout="pytorch", blocks=3), r"blocks=3 does not divide"),
        (
            lambda: wi.orthogonal()((10, 4), layout="pytorch", blocks=3),
            r"blocks=3 does not divide the 10 output channels",
        ),
        (
            lambda: wi.sparse()((4, 10), blocks=4),
            r"blocks=4 does not divide the 10 output channels",
        ),
        (lambda: wi.fans((6, 4), blocks=0), r"blocks must be >= 1; got 0"),
        (lambda: wi.Param(wi.zeros(), (6, 4), blocks=1.5), r"blocks must be an integer"),
    ],
)
def test_bad_blocks_are_named(call, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_a_packed_attention_weight_gets_each_projections_variance() -> None:
    # torch.nn.MultiheadAttention's in_proj_weight (3E, E): xavier over the whole weight
    # sees fan_out = 3E and gives half the intended variance; per block it is 1 / E.
    init = wi.glorot_uniform()
    shape = (3 * E, E)
    assert init.variance(shape, layout="pytorch", blocks=3) == 2 / (E + E)
    assert init.variance(shape, layout="pytorch") == 2 / (E + 3 * E)
    w = init(shape, seed=0, layout="pytorch", blocks=3)
    target = 2 / (E + E)
    # Sample variance of n uniform values: relative standard error sqrt(0.8 / n).
    for block in w.reshape(3, E, E):
        n = block.size
        assert abs(float(block.var(dtype=np.float64)) / target - 1) < 4.3 * math.sqrt(0.8 / n)


def test_element_wise_blocks_rescale_the_same_draws() -> None:
    shape = (3 * 64, 64)
    plain = wi.he_normal()(shape, np.float64, seed=3, layout="pytorch")
    blocked = wi.he_normal()(shape, np.float64, seed=3, layout="pytorch", blocks=3)
    # fan_in does not change with blocks: He normal (fan_in) is the same weight.
    assert np.array_equal(plain, blocked)
    plain = wi.glorot_normal()(shape, np.float64, seed=3, layout="pytorch")
    blocked = wi.glorot_normal()(shape, np.float64, seed=3, layout="pytorch", blocks=3)
    ratio = math.sqrt((64 + 3 * 64) / (64 + 64))
    np.testing.assert_allclose(blocked, plain * ratio, rtol=1e-12)


@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_is_orthogonal_per_gate(gain) -> None:
    hidden = 48
    w = wi.orthogonal(gain)((4 * hidden, hidden), seed=1, layout="pytorch", blocks=4)
    for gate in w.reshape(4, hidden, hidden):
        np.testing.assert_allclose(gate @ gate.T, gain**2 * np.eye(hidden), atol=2e-5 * gain**2)
    # The stacked weight as a whole is not: its gates are independent draws.
    assert not np.allclose(w[:hidden] @ w[hidden : 2 * hidden].T, 0.0, atol=1e-3)
    plan = wi.orthogonal(gain).recipe((4 * hidden, hidden), layout="pytorch", blocks=4)
    assert plan.variance() == gain**2 / hidden


def test_one_block_is_the_plain_weight() -> None:
    for init in (wi.orthogonal(), wi.delta_orthogonal(), wi.sparse(0.5), wi.he_uniform()):
        shape = (3, 3, 8, 16)
        assert np.array_equal(init(shape, seed=2, blocks=1), init(shape, seed=2))


def test_blocks_keep_layouts_and_regions_exact() -> None:
    init = wi.orthogonal()
    torch_style = init((3 * 32, 32), seed=4, layout="pytorch", blocks=3)
    keras_style = init((32, 3 * 32), seed=4, blocks=3)
    assert np.array_equal(torch_style.T, keras_style)
    region = np.s_[10:70:3, ::2]
    assert np.array_equal(
        init((3 * 32, 32), seed=4, layout="pytorch", blocks=3, region=region), torch_style[region]
    )


def test_deterministic_structured_blocks() -> None:
    eye = wi.identity(2.0)((6, 2), layout="pytorch", blocks=3)
    assert np.array_equal(eye, np.tile(2.0 * np.eye(2), (3, 1)).astype(np.float32))
    d = wi.dirac()((6, 2, 3, 3), layout="pytorch", blocks=3)
    assert float(d.sum()) == 6.0
    assert np.array_equal(d[:, :, 1, 1], np.tile(np.eye(2), (3, 1)).astype(np.float32))
    centre = wi.delta_orthogonal()((3 * 8, 4, 3, 3), seed=0, layout="pytorch", blocks=3)[:, :, 1, 1]
    for block in centre.reshape(3, 8, 4):
        np.testing.assert_allclose(block.T @ block, np.eye(4), atol=1e-5)
    with pytest.raises(ValueError, match="in channels <= out channels per block"):
        wi.delta_orthogonal()((3 * 2, 4, 3, 3), layout="pytorch", blocks=3)


def test_models_and_chunks_take_blocks() -> None:
    params = {
        "attn.in_proj_weight": wi.Param("glorot_uniform", (3 * 64, 64), layout="pytorch", blocks=3),
        "lstm.weight_hh": wi.Param(wi.orthogonal(), (4 * 32, 32), layout="pytorch", blocks=4),
    }
    values = wi.initialize(params, 5)
    for name, p in params.items():
        key = wi.Key.from_seed(5).fold_in(name)
        alone = wi.get(p.initializer)(p.shape, seed=key, layout=p.layout, blocks=p.blocks)
        assert values[name].tobytes() == alone.tobytes()
    pytest.importorskip("dask.array")
    from weightinit.dask import array as dask_array

    lazy = dask_array(
        wi.he_uniform(mode="fan_out"),
        (3 * 64, 64),
        chunks=(50, 30),
        seed=1,
        layout="pytorch",
        blocks=3,
    )
    whole = wi.he_uniform(mode="fan_out")((3 * 64, 64), seed=1, layout="pytorch", blocks=3)
    assert np.array_equal(lazy.compute(), whole)
