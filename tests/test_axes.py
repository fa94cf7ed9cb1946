"""Explicit in/out/batch axes on every fan-scaled call, read as JAX's ``variance_scaling``
reads them; the ``keras_transposed`` layout; data formats refused as layouts."""

from __future__ import annotations

import importlib.util
import math
import os
from typing import Any

import numpy as np
import pytest

import weightinit as wi
from weightinit import Weight

if "KERAS_BACKEND" not in os.environ:  # Keras needs a backend that is installed
    for _backend in ("jax", "torch"):
        if importlib.util.find_spec(_backend):
            os.environ["KERAS_BACKEND"] = _backend
            break

Axes = Any  # an int or a sequence of ints, as a call takes them

# (shape, in_axis, out_axis, batch_axis, fan_in, fan_out), each fan worked out by hand.
CASES = [
    pytest.param((784, 256), -2, -1, (), 784, 256, id="dense"),
    pytest.param((256, 784), 1, 0, (), 784, 256, id="dense-out-in"),
    pytest.param((3, 3, 16, 32), -2, -1, (), 144, 288, id="hwio"),
    pytest.param((32, 16, 3, 3), 1, 0, (), 144, 288, id="oihw"),
    pytest.param((16, 32, 3, 3), 0, 1, (), 144, 288, id="iohw"),
    pytest.param((4, 4, 32, 64), -1, -2, (), 1024, 512, id="keras-conv-transpose"),
    # Flax DenseGeneral / attention: (embed, heads, head_dim) and (heads, head_dim, embed).
    pytest.param((512, 8, 64), 0, (1, 2), (), 512, 512, id="qkv"),
    pytest.param((512, 8, 64), 0, (-2, -1), (), 512, 512, id="qkv-negative"),
    pytest.param((8, 64, 512), (0, 1), 2, (), 512, 512, id="attention-out"),
    pytest.param((8, 64, 768), (0, 1), -1, (), 512, 768, id="attention-out-wide"),
    # Flax Embed (vocab, features): JAX's variance_scaling(1.0, "fan_in", ..., out_axis=0).
    pytest.param((1000, 64), 1, 0, (), 64, 1000, id="embed"),
    pytest.param((1000, 64), -1, 0, (), 64, 1000, id="embed-negative"),
    # Batch axes: stacked experts, a batch of kernels.
    pytest.param((8, 512, 64), 1, 2, 0, 512, 64, id="experts"),
    pytest.param((5, 3, 3, 16, 32), -2, -1, 0, 144, 288, id="kernel-batch"),
    pytest.param((2, 3, 4, 5, 6), (1, 3), 4, (0,), 60, 24, id="rank-5-mixed"),
    pytest.param((2, 3, 4, 5, 6), 4, (0, 2), 1, 30, 40, id="rank-5-out-first"),
    pytest.param((2, 3, 4, 5), (3, 0), (2, 1), (), 10, 12, id="rank-4-all-channels"),
    pytest.param((7, 2, 3), 2, 0, (), 6, 14, id="rank-3-kernel-middle"),
]


@pytest.mark.parametrize(("shape", "ins", "outs", "batch", "fan_in", "fan_out"), CASES)
def test_fans_by_hand(
    shape: tuple[int, ...], ins: Axes, outs: Axes, batch: Axes, fan_in: int, fan_out: int
) -> None:
    f = wi.fans(shape, in_axis=ins, out_axis=outs, batch_axis=batch)
    assert (f.fan_in, f.fan_out) == (fan_in, fan_out)
    weight = Weight.checked(shape, "in_out", 1, 1, in_axis=ins, out_axis=outs, batch_axis=batch)
    assert weight.fans == f
    assert all(a >= 0 for side in weight.fan_axes for a in side)


@pytest.mark.parametrize(("shape", "ins", "outs", "batch", "fan_in", "fan_out"), CASES)
def test_fans_equal_jax_compute_fans(
    shape: tuple[int, ...], ins: Axes, outs: Axes, batch: Axes, fan_in: int, fan_out: int
) -> None:
    pytest.importorskip("jax")
    from jax._src.nn.initializers import _compute_fans

    expected = _compute_fans(shape, ins, outs, batch)
    f = wi.fans(shape, in_axis=ins, out_axis=outs, batch_axis=batch)
    assert (f.fan_in, f.fan_out) == expected == (fan_in, fan_out)


def _jax_variance(scale: float, mode: str, fans: tuple[float, float]) -> float:
    """The variance JAX's ``variance_scaling`` gives, from its own fans (its formula)."""
    fan_in, fan_out = fans
    denominator = {
        "fan_in": fan_in,
        "fan_out": fan_out,
        "fan_avg": (fan_in + fan_out) / 2,
        "fan_geo_avg": math.sqrt(fan_in * fan_out),
    }[mode]
    return scale / denominator


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["normal", "uniform", "truncated_normal"])
@pytest.mark.parametrize(("shape", "ins", "outs", "batch", "fan_in", "fan_out"), CASES)
def test_variance_equals_jax_variance_scaling(
    shape: tuple[int, ...],
    ins: Axes,
    outs: Axes,
    batch: Axes,
    fan_in: int,
    fan_out: int,
    mode: str,
    distribution: str,
) -> None:
    pytest.importorskip("jax")
    from jax._src.nn.initializers import _compute_fans

    init = wi.variance_scaling(1.7, mode, distribution)  # type: ignore[arg-type]
    ours = init.variance(shape, in_axis=ins, out_axis=outs, batch_axis=batch)
    theirs = _jax_variance(1.7, mode, _compute_fans(shape, ins, outs, batch))
    assert ours == pytest.approx(theirs, rel=1e-12)
    recipe = init.recipe(shape, in_axis=ins, out_axis=outs, batch_axis=batch)
    assert recipe.variance() == pytest.approx(ours, rel=1e-12)


@pytest.mark.parametrize(
    ("shape", "ins", "outs", "batch"),
    [((512, 8, 64), 0, (1, 2), ()), ((8, 64, 512), (0, 1), 2, ()), ((4, 256, 96), 1, 2, 0)],
)
def test_sample_std_of_ours_and_jax_match_the_theoretical_std(
    shape: tuple[int, ...], ins: Axes, outs: Axes, batch: Axes
) -> None:
    jax = pytest.importorskip("jax")
    n = math.prod(shape)
    # The sample standard deviation of n normal values has a relative standard error of
    # 1 / sqrt(2 n); 4.3 of those is a false alarm once in about 60 000 runs (seeds fixed).
    tolerance = 4.3 / math.sqrt(2 * n)
    kwargs = {"in_axis": ins, "out_axis": outs, "batch_axis": batch}
    ours = wi.variance_scaling(2.0, "fan_avg", "normal")
    expected = math.sqrt(ours.variance(shape, **kwargs))
    # The wrong reading of the same shape, its default layout, would be caught.
    assert abs(math.sqrt(ours.variance(shape)) / expected - 1) > 10 * tolerance
    w = ours(shape, np.float64, seed=0, **kwargs)
    assert abs(float(w.std()) / expected - 1) < tolerance
    theirs = jax.nn.initializers.variance_scaling(2.0, "fan_avg", "normal", **kwargs)
    sample = np.asarray(theirs(jax.random.key(0), shape), dtype=np.float64)
    assert abs(float(sample.std()) / expected - 1) < tolerance


def test_flax_embed_needs_its_input_axis_named() -> None:
    # JAX's Embed init is variance_scaling(1.0, "fan_in", "normal", out_axis=0), whose default
    # in_axis=-2 is also axis 0 of (vocab, features): JAX divides the axes it counts twice and
    # lands on fan_in = features by accident. Here the overlap is an error that says what to
    # pass, and with in_axis=1 the fan-in is the same.
    with pytest.raises(
        ValueError,
        match=r"in_axis \(0,\), out_axis \(0,\) and batch_axis \(\) must not share an axis "
        r"\(shape \(1000, 64\)\); in_axis comes from layout 'in_out': pass it explicitly\.",
    ):
        wi.fans((1000, 64), out_axis=0)
    assert wi.fans((1000, 64), in_axis=1, out_axis=0).fan_in == 64
    assert wi.fans((1000, 64), layout="out_in").fan_in == 64


# --------------------------------------------------------------------------- values


INITS = [
    wi.he_normal(),
    wi.glorot_uniform(),
    wi.variance_scaling(1.3, "fan_geo_avg", "truncated_normal"),
    wi.scaled_normal(0.02),
    wi.orthogonal(gain=1.5),
    wi.sparse(0.4, 0.05),
]


@pytest.mark.parametrize("init", INITS, ids=repr)
@pytest.mark.parametrize(
    ("layout", "shape", "ins", "outs"),
    [
        ("in_out", (3, 3, 16, 32), -2, -1),
        ("in_out", (40, 24), 0, 1),
        ("out_in", (32, 16, 3, 3), 1, 0),
        ("out_in", (24, 40), -1, -2),
        ("pytorch_transposed", (16, 32, 3), 0, 1),
        ("keras_transposed", (3, 3, 32, 16), -1, -2),
    ],
)
def test_a_layouts_own_axes_give_its_bytes(
    init: wi.Initializer, layout: str, shape: tuple[int, ...], ins: int, outs: int
) -> None:
    made = init(shape, seed=7, layout=layout)
    for explicit in ({"layout": layout}, {}):
        same = init(shape, seed=7, in_axis=ins, out_axis=outs, **explicit)
        assert same.dtype == made.dtype and same.tobytes() == made.tobytes()
        explicit_variance = init.variance(shape, in_axis=ins, out_axis=outs, **explicit)
        assert explicit_variance == init.variance(shape, layout=layout)


def test_depthwise_with_its_own_axes_gives_its_bytes() -> None:
    init = wi.he_uniform()
    made = init((3, 3, 16, 2), seed=3, layout="keras_depthwise")
    same = init((3, 3, 16, 2), seed=3, layout="keras_depthwise", in_axis=2, out_axis=-1)
    assert same.tobytes() == made.tobytes()


@pytest.mark.parametrize("init", INITS, ids=repr)
def test_moving_named_axes_moves_the_values(init: wi.Initializer) -> None:
    # (embed, heads, head_dim) -> (heads, head_dim, embed): the same axes, renamed.
    a = init((96, 4, 8), seed=1, in_axis=0, out_axis=(1, 2))
    b = init((4, 8, 96), seed=1, in_axis=2, out_axis=(0, 1))
    assert np.array_equal(a, b.transpose(2, 0, 1))
    # A region is the same part of the whole weight.
    part = init((96, 4, 8), seed=1, in_axis=0, out_axis=(1, 2), region=np.s_[10:20, 1])
    assert np.array_equal(part, a[10:20, 1])


def test_fill_prepare_and_region_take_the_axes() -> None:
    init = wi.lecun_normal()
    kwargs: dict[str, Any] = {"in_axis": (0, 1), "out_axis": 2}
    whole = init((8, 64, 128), seed=4, **kwargs)
    out = np.empty((8, 64, 128), dtype=np.float32)
    assert np.array_equal(init.fill(out, seed=4, **kwargs), whole)
    scratch = np.empty((8, 64, 128), dtype=np.float32)
    prepared = init.prepare(
        scratch, (8, 64, 128), [range(8), range(64), range(128)], seed=4, **kwargs
    )
    wi.initializers.write_all([prepared])
    assert np.array_equal(scratch, whole)
    assert init.variance((8, 64, 128), **kwargs) == 1 / 512


def test_orthogonal_over_several_output_axes_is_orthogonal_per_block() -> None:
    w = wi.orthogonal()((64, 3, 4, 16), seed=0, in_axis=0, out_axis=(1, 2, 3), blocks=3)
    rows = w.reshape(64, 3, 64).transpose(1, 2, 0)  # per block: 64 rows of length 64
    for block in rows:
        assert np.allclose(block @ block.T, np.eye(64), atol=1e-5)
    assert not np.allclose(rows[0], rows[1])


def test_sparse_counts_zeros_per_unit_over_several_axes() -> None:
    w = wi.sparse(0.75)((40, 4, 5), seed=0, in_axis=0, out_axis=(1, 2))
    assert set((w == 0).sum(axis=0).ravel().tolist()) == {30}


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda: wi.orthogonal()((8, 16, 16), seed=0, batch_axis=0),
            r"orthogonal .*batch_axis=\(0,\)",
        ),
        (lambda: wi.sparse()((8, 16, 16), seed=0, batch_axis=0), r"sparse .*batch_axis=\(0,\)"),
        (
            lambda: wi.identity()((16, 16), in_axis=0, out_axis=()),
            r"identity needs exactly one input axis and one output axis; got in_axis \(0,\) "
            r"and out_axis \(\)",
        ),
        (
            lambda: wi.dirac()((3, 3, 4, 2, 8), in_axis=-1, out_axis=(2, 3)),
            r"dirac needs exactly one input axis and one output axis; got in_axis \(4,\) and "
            r"out_axis \(2, 3\)",
        ),
        (
            lambda: wi.delta_orthogonal()((2, 3, 3, 4, 8), batch_axis=0),
            r"delta_orthogonal .*batch_axis=\(0,\) is not supported",
        ),
        (
            lambda: wi.he_normal()((3, 3, 4, 2), layout="keras_depthwise", out_axis=(0, 3)),
            r"layout 'keras_depthwise' takes one in_axis and one out_axis and no batch_axis",
        ),
        (
            lambda: wi.he_normal()((3, 4, 5), in_axis=0, out_axis=3),
            r"out_axis=3 is out of range for shape \(3, 4, 5\) of rank 3; valid axes are -3 to 2",
        ),
        (
            lambda: wi.he_normal()((3, 4, 5), in_axis=(0, 2), out_axis=2),
            r"in_axis \(0, 2\), out_axis \(2,\) and batch_axis \(\) must not share an axis",
        ),
        (
            lambda: wi.he_normal()((3, 4, 5), batch_axis=-1),
            r"batch_axis \(2,\) must not share an axis .*in_axis and out_axis come from layout",
        ),
        (lambda: wi.he_normal()((3, 4, 5), in_axis=1.0), r"in_axis must be an integer; got 1\.0"),
        (lambda: wi.he_normal()((3, 4, 5), out_axis="0"), r"out_axis must be an integer; got '0'"),
        (
            lambda: wi.Param(wi.he_normal(), (3, 4, 5), in_axis=(0, 0)),
            r"in_axis \(0, 0\), out_axis \(2,\) .*must not share an axis",
        ),
    ],
)
def test_axis_errors_name_the_argument(make: Any, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        make()


# --------------------------------------------------------------------------- Weight, Param


def test_options_checked_without_a_shape_resolve_per_shape() -> None:
    options = Weight.checked((), "in_out", 1, 1, in_axis=-3, out_axis=(-2, -1))
    assert (options.in_axes, options.out_axes) == ((-3,), (-2, -1))  # as given, no rank yet
    three = options.with_shape((512, 8, 64))
    assert (three.in_axes, three.out_axes, three.fans.fan_in) == ((0,), (1, 2), 512)
    four = options.with_shape((2, 512, 8, 64))  # axis 0 is a kernel axis of size 2
    assert (four.in_axes, four.out_axes, four.fans.fan_in) == ((1,), (2, 3), 1024)
    # The request is resolved again, not the axes of a shape of another rank.
    assert four.with_shape((512, 8, 64)) == three
    with pytest.raises(ValueError, match=r"in_axis=-3 is out of range for shape \(8, 64\)"):
        options.with_shape((8, 64))
    with pytest.raises(TypeError, match="batch_axis must be an integer"):
        Weight.checked((), "in_out", 1, 1, batch_axis=[0.5])


def test_weight_repr_names_only_axes_given() -> None:
    assert repr(Weight.checked((4, 5), "in_out", 1, 1)) == (
        "Weight(shape=(4, 5), layout='in_out', groups=1, blocks=1)"
    )
    w = Weight.checked((2, 4, 5), "in_out", 1, 1, batch_axis=-3)
    assert (
        repr(w) == "Weight(shape=(2, 4, 5), layout='in_out', groups=1, blocks=1, batch_axes=(0,))"
    )
    assert eval(repr(w), {"Weight": Weight}) == w
    assert Weight((2, 4, 5), batch_axes=(0,)).ensure_checked() == w


def test_param_stores_normalised_axes_and_draws_as_the_call() -> None:
    p = wi.Param(wi.he_normal(), (8, 64, 512), in_axis=[-3, -2], out_axis=np.int64(2))
    assert (p.in_axis, p.out_axis, p.batch_axis) == ((0, 1), (2,), ())
    assert p.weight.fans.fan_in == 512
    assert wi.Param.of(p.initializer, p.weight) == p
    same = wi.Param(wi.he_normal(), (8, 64, 512), in_axis=(0, 1), out_axis=2)
    assert same == p and hash(same) == hash(p)
    params = wi.initialize({"proj": p}, seed=3)
    key = wi.Key.from_seed(3).fold_in("proj")
    direct = wi.he_normal()((8, 64, 512), seed=key, in_axis=(0, 1), out_axis=2)
    assert np.array_equal(params["proj"], direct)


# --------------------------------------------------------------------------- layouts


def test_keras_transposed_is_in_out_with_the_channel_axes_swapped() -> None:
    f = wi.fans((4, 4, 32, 64), layout="keras_transposed")  # Conv2DTranspose(32, 4), 64 in
    assert f == wi.fans((4, 4, 64, 32)) == wi.fans((4, 4, 32, 64), layout="hwoi")
    assert f == wi.Fans(1024, 512, 16)
    init = wi.he_normal()
    w = init((4, 4, 32, 64), seed=0, layout="keras_transposed")
    assert np.array_equal(w, init((4, 4, 64, 32), seed=0).swapaxes(-1, -2))
    # Grouped like PyTorch's transposed kernels: the input side holds every channel.
    assert wi.fans((4, 4, 16, 64), layout="keras_transposed", groups=2) == wi.Fans(512, 256, 16)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_keras_kernels_do_not_follow_the_data_format(data_format: str) -> None:
    keras = pytest.importorskip("keras")
    inputs = (None, 8, 8, 64) if data_format == "channels_last" else (None, 64, 8, 8)
    conv = keras.layers.Conv2D(32, 3, data_format=data_format)
    conv.build(inputs)
    assert tuple(conv.kernel.shape) == (3, 3, 64, 32)
    assert wi.fans(tuple(conv.kernel.shape)) == wi.Fans(576, 288, 9)
    transposed = keras.layers.Conv2DTranspose(32, 4, data_format=data_format)
    transposed.build(inputs)
    assert tuple(transposed.kernel.shape) == (4, 4, 32, 64)
    assert wi.fans(tuple(transposed.kernel.shape), layout="keras_transposed").fan_in == 1024


def test_flax_conv_transpose_kernels() -> None:
    jax = pytest.importorskip("jax")
    linen = pytest.importorskip("flax.linen")
    x = np.zeros((1, 8, 8, 64), dtype=np.float32)
    for transpose_kernel, layout in ((False, "in_out"), (True, "keras_transposed")):
        layer = linen.ConvTranspose(32, (4, 4), transpose_kernel=transpose_kernel)
        kernel = layer.init(jax.random.key(0), x)["params"]["kernel"]
        assert wi.fans(kernel.shape, layout=layout) == wi.Fans(1024, 512, 16), layout
