"""Tests of ``weightinit.presets``: every framework default by name, equal to the call it
stands for, with the variance, bounds, layout and docstring it promises.

Statistical checks compare the mean of the squares of ``n`` zero-mean values with the exact
variance ``v``: its standard error is ``v * sqrt((k - 1) / n)``, ``k`` the kurtosis of one
value, and the tolerance is ``Z`` of those. Seeds are fixed, so outcomes are too.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import weightinit as wi
from weightinit import families
from weightinit import presets
from weightinit.distributions import TRUNCATION_STD
from weightinit.distributions import truncated_variance
from weightinit.families import VarianceScaling
from weightinit.presets import PRESET_LAYOUTS
from weightinit.presets import PRESETS
from weightinit.presets import Recurrent
from weightinit.presets import describe
from weightinit.presets import fan_in_bias
from weightinit.presets import preset

Z = 5.0
NAMES = tuple(PRESETS)
#: Presets whose factory needs the weight's fan_in (PyTorch's biases).
NEEDS_FAN_IN = tuple(n for n in NAMES if PRESETS[n][2].endswith("needs fan_in)"))
FAN_IN = 400


def _make(name: str) -> wi.Initializer:
    return preset(name, FAN_IN) if name in NEEDS_FAN_IN else preset(name)


# --------------------------------------------------------------------------- names


def test_the_contract_presets_exist() -> None:
    required = {
        "pytorch.linear",
        "pytorch.conv1d",
        "pytorch.conv2d",
        "pytorch.conv3d",
        "pytorch.conv_transpose2d",
        "pytorch.embedding",
        "pytorch.lstm",
        "pytorch.gru",
        "keras.dense",
        "keras.conv2d",
        "keras.embedding",
        "flax.dense",
        "flax.conv",
        "haiku.linear",
    }
    assert required <= set(PRESETS)
    for name in required - {"pytorch.embedding", "keras.embedding"}:
        assert f"{name}.bias" in PRESETS, name


def test_bias_presets_are_exactly_the_fan_in_ones_for_pytorch_layers() -> None:
    assert set(NEEDS_FAN_IN) == {
        f"pytorch.{layer}.bias"
        for layer in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose2d")
    }


@pytest.mark.parametrize("name", NAMES)
def test_every_preset_is_reachable_through_get(name: str) -> None:
    assert name in wi.names()
    expected = _make(name)
    for spelling in (name, name.upper(), name.title(), f"  {name}  "):
        if name in NEEDS_FAN_IN:
            assert wi.get({"name": spelling, "fan_in": FAN_IN}) == expected
        else:
            assert wi.get(spelling) == expected
            assert preset(spelling) == expected


@pytest.mark.parametrize("name", NEEDS_FAN_IN)
def test_fan_in_presets_need_fan_in(name: str) -> None:
    with pytest.raises(TypeError, match="fan_in"):
        wi.get(name)
    with pytest.raises(TypeError, match="fan_in"):
        preset(name)


def test_unknown_preset_names_suggest_the_closest() -> None:
    with pytest.raises(
        ValueError,
        match=r"'pytorch\.lineer' is not a framework preset; the closest are 'pytorch\.linear'",
    ):
        preset("pytorch.lineer")
    with pytest.raises(ValueError, match=r"The closest are 'keras\.dense'"):
        wi.get("keras.dens")
    with pytest.raises(TypeError, match="a preset name must be a string; got 3"):
        preset(3)  # type: ignore[arg-type]


def test_preset_rejects_plain_names_and_points_to_get() -> None:
    # A named initializer is not a preset: the error
    # says so and where named initializers come from; wi.get still knows the name.
    with pytest.raises(
        ValueError, match=r"'he_normal' is not a framework preset; the closest are"
    ) as error:
        preset("he_normal")
    assert "weightinit.get()" in str(error.value)
    assert "weightinit.presets.PRESETS" in str(error.value)
    assert wi.get("he_normal") == wi.he_normal()


@pytest.mark.parametrize(
    ("typed", "closest"),
    [
        ("torch.linear", "pytorch.linear"),
        ("keras.dens", "keras.dense"),
        ("Pytorch.LSTM.biass", "pytorch.lstm.bias"),
        ("flax.dense.bais", "flax.dense.bias"),
    ],
)
def test_unknown_preset_names_name_close_presets(typed: str, closest: str) -> None:
    with pytest.raises(ValueError, match=r"is not a framework preset; the closest are") as error:
        preset(typed)
    assert repr(closest) in str(error.value)


# --------------------------------------------------------------------------- equalities

ONE_THIRD_UNIFORM = wi.variance_scaling(1 / 3, "fan_in", "uniform")
LECUN_TRUNCATED = wi.variance_scaling(1.0, "fan_in", "truncated_normal")
HAIKU = wi.variance_scaling(0.87962566103423978**2, "fan_in", "truncated_normal")

EQUALITIES = {
    "pytorch.linear": ONE_THIRD_UNIFORM,
    "pytorch.conv1d": ONE_THIRD_UNIFORM,
    "pytorch.conv2d": ONE_THIRD_UNIFORM,
    "pytorch.conv3d": ONE_THIRD_UNIFORM,
    # Scaled by PyTorch's "fan_in" of the (in, out/groups, *k) weight: our fan_out.
    "pytorch.conv_transpose2d": wi.variance_scaling(1 / 3, "fan_out", "uniform"),
    "pytorch.embedding": wi.scaled_normal(1.0),
    "pytorch.multihead_attention": wi.glorot_uniform(),
    "pytorch.multihead_attention.bias_kv": wi.glorot_normal(),
    "pytorch.transformer": wi.glorot_uniform(),
    "pytorch.layer_norm": wi.ones(),
    "pytorch.layer_norm.bias": wi.zeros(),
    "pytorch.prelu": wi.constant(0.25),
    "pytorch.lstm": Recurrent(4),
    "pytorch.lstm.bias": Recurrent(4),
    "pytorch.gru": Recurrent(3),
    "pytorch.gru.bias": Recurrent(3),
    "keras.dense": wi.glorot_uniform(),
    "keras.dense.bias": wi.zeros(),
    "keras.conv2d": wi.glorot_uniform(),
    "keras.conv2d.bias": wi.zeros(),
    "keras.embedding": wi.uniform(-0.05, 0.05),
    "flax.dense": LECUN_TRUNCATED,
    "flax.dense.bias": wi.zeros(),
    "flax.conv": LECUN_TRUNCATED,
    "flax.conv.bias": wi.zeros(),
    "haiku.linear": HAIKU,
    "haiku.linear.bias": wi.zeros(),
    **{name: fan_in_bias(FAN_IN) for name in NEEDS_FAN_IN},
}


def test_equality_table_covers_every_preset() -> None:
    assert set(EQUALITIES) == set(PRESETS)


@pytest.mark.parametrize("name", NAMES)
def test_preset_equals_the_call_it_stands_for(name: str) -> None:
    made = _make(name)
    assert made == EQUALITIES[name]
    assert hash(made) == hash(EQUALITIES[name])
    assert type(made) is type(EQUALITIES[name])


@pytest.mark.parametrize("name", [n for n in NAMES if isinstance(EQUALITIES[n], VarianceScaling)])
def test_fan_scaled_presets_are_variance_scaling_objects(name: str) -> None:
    assert isinstance(_make(name), VarianceScaling)


def test_pytorch_default_is_kaiming_uniform_with_a_sqrt5() -> None:
    # kaiming_uniform_(w, a=sqrt(5)): gain^2 = 2 / (1 + 5) = 1/3, up to the rounding of
    # sqrt(5)**2; the distributions are the same to the last few bits.
    he = wi.he_uniform(negative_slope=math.sqrt(5.0))
    shape = (256, 784)
    assert he.variance(shape, layout="out_in") == pytest.approx(
        preset("pytorch.linear").variance(shape, layout="out_in"), rel=1e-14
    )


def test_keras_dense_uses_glorot_with_zero_bias() -> None:
    assert preset("keras.dense") == wi.variance_scaling(1.0, "fan_avg", "uniform")
    assert preset("keras.dense.bias")((5,)).tolist() == [0.0] * 5


# --------------------------------------------------------------------------- layouts


def test_layouts_table() -> None:
    for name, layout in PRESET_LAYOUTS.items():
        framework = name.split(".")[0]
        if name.startswith("pytorch.conv_transpose"):
            assert layout == "pytorch_transposed"
        elif name == "pytorch.embedding":
            assert layout == "in_out"  # looked up as one_hot(index) @ table
        elif framework == "pytorch":
            assert layout == "out_in"
        else:
            assert layout == "in_out"
        assert layout == PRESETS[name][1]


def test_pytorch_linear_lies_within_one_over_sqrt_fan_in_in_out_in_layout() -> None:
    shape = (256, 784)  # torch.nn.Linear(784, 256).weight
    w = preset("pytorch.linear")(shape, seed=0, layout=PRESET_LAYOUTS["pytorch.linear"])
    bound = 1.0 / math.sqrt(784)
    assert w.shape == shape and w.dtype == np.float32
    assert float(np.abs(w).max()) <= bound * (1 + 1e-6)
    # The largest of n uniform values is within 30 / n of the bound but for e^-30.
    assert float(np.abs(w).max()) >= bound * (1 - 30 / w.size)
    # Read in the wrong layout the bound would be 1 / sqrt(256).
    wrong = preset("pytorch.linear")(shape, seed=0)
    assert float(np.abs(wrong).max()) > bound * 1.5


@pytest.mark.parametrize(
    ("name", "shape", "fan_in"),
    [
        ("pytorch.conv1d", (64, 32, 5), 160),
        ("pytorch.conv2d", (64, 32, 3, 3), 288),
        ("pytorch.conv3d", (16, 8, 3, 3, 3), 216),
    ],
)
def test_pytorch_convs_lie_within_one_over_sqrt_fan_in(
    name: str, shape: tuple[int, ...], fan_in: int
) -> None:
    w = preset(name)(shape, seed=1, layout=PRESET_LAYOUTS[name])
    assert float(np.abs(w).max()) <= (1 + 1e-6) / math.sqrt(fan_in)
    assert preset(name).variance(shape, layout="out_in") == pytest.approx(1 / (3 * fan_in))


def test_pytorch_conv_transpose_scales_by_pytorchs_fan_in() -> None:
    # ConvTranspose2d(64, 128, 3, groups=2).weight: (64, 64, 3, 3); PyTorch's fan_in is
    # shape[1] * 9 = 576, our fan_out in the pytorch_transposed layout.
    shape = (64, 64, 3, 3)
    init = preset("pytorch.conv_transpose2d")
    assert init.variance(shape, layout="pytorch_transposed", groups=2) == pytest.approx(
        1 / (3 * 576)
    )
    w = init(shape, seed=2, layout="pytorch_transposed", groups=2)
    assert float(np.abs(w).max()) <= (1 + 1e-6) / math.sqrt(576)


def test_haiku_is_a_normal_of_stddev_one_over_sqrt_fan_in_cut_at_two() -> None:
    shape = (784, 256)
    init = preset("haiku.linear")
    dist = init.recipe(shape)
    # Pre-truncation standard deviation 1 / sqrt(fan_in), cut at two of them.
    assert dist.std == pytest.approx(1.0 / math.sqrt(784), rel=1e-14)
    assert dist.bound == 2.0
    assert init.variance(shape) == pytest.approx(truncated_variance(2.0) / 784, rel=1e-12)
    assert pytest.approx(truncated_variance(2.0), rel=1e-14) == TRUNCATION_STD**2
    w = init(shape, seed=3)
    limit = 2.0 / math.sqrt(784)
    assert float(np.abs(w).max()) <= limit * (1 + 1e-6)
    assert float(np.abs(w).max()) >= limit * 0.99


def test_flax_is_lecun_normal_truncated() -> None:
    init = preset("flax.dense")
    assert init.variance((3, 3, 32, 64)) == pytest.approx(1 / 288)
    w = init((3, 3, 32, 64), seed=4)
    pre = math.sqrt(1 / 288) / TRUNCATION_STD
    assert float(np.abs(w).max()) <= 2 * pre * (1 + 1e-6)


# --------------------------------------------------------------------------- biases


@pytest.mark.parametrize("fan_in", [1, 3, 400, 784, 10**6])
def test_fan_in_bias(fan_in: int) -> None:
    bound = 1.0 / math.sqrt(fan_in)
    assert fan_in_bias(fan_in) == wi.uniform(-bound, bound)
    b = fan_in_bias(fan_in)((1000,), seed=fan_in)
    assert b.shape == (1000,)
    assert float(np.abs(b).max()) <= bound * (1 + 1e-6)


@pytest.mark.parametrize("bad", [0, -1, 2**62])
def test_fan_in_bias_rejects_non_positive_ints(bad: object) -> None:
    with pytest.raises(ValueError, match=rf"fan_in must be >= 1 and below 2\*\*62; got {bad}\."):
        fan_in_bias(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [True, 2.0, "3", None, np.float64(4.0)])
def test_fan_in_bias_rejects_non_ints(bad: object) -> None:
    with pytest.raises(TypeError, match=r"fan_in must be an integer; got .* of type \w+\."):
        fan_in_bias(bad)  # type: ignore[arg-type]


def test_numpy_integers_are_ints() -> None:
    assert fan_in_bias(np.int64(400)) == fan_in_bias(400)
    assert Recurrent(np.int64(4)) == Recurrent(4)


@pytest.mark.parametrize("name", NEEDS_FAN_IN)
def test_pytorch_bias_presets_are_fan_in_bias(name: str) -> None:
    assert preset(name, 288) == fan_in_bias(288)
    assert preset(name, fan_in=288) == fan_in_bias(288)


# --------------------------------------------------------------------------- recurrent


@pytest.mark.parametrize(
    ("name", "gates", "shapes"),
    [
        ("pytorch.lstm", 4, [(512, 64), (512, 128)]),
        ("pytorch.lstm.bias", 4, [(512,)]),
        ("pytorch.gru", 3, [(384, 64), (384, 128)]),
        ("pytorch.gru.bias", 3, [(384,)]),
    ],
)
def test_recurrent_is_uniform_one_over_sqrt_hidden(
    name: str, gates: int, shapes: list[tuple[int, ...]]
) -> None:
    hidden = 128
    bound = 1.0 / math.sqrt(hidden)
    init = preset(name)
    assert init == Recurrent(gates)
    for shape in shapes:
        assert shape[0] == gates * hidden
        dist = init.recipe(shape)
        assert (dist.low, dist.high) == (-bound, bound)
        assert init.variance(shape) == pytest.approx(bound * bound / 3)
        w = init(shape, seed=5, layout=PRESET_LAYOUTS[name])
        assert w.shape == shape
        assert float(np.abs(w).max()) <= bound * (1 + 1e-6)
        assert float(np.abs(w).max()) >= bound * (1 - 30 / w.size)


@pytest.mark.parametrize(("gates", "shape"), [(4, (10, 3)), (3, (512, 64)), (4, (6,)), (3, (4,))])
def test_recurrent_rejects_a_first_axis_not_divisible_by_gates(
    gates: int, shape: tuple[int, ...]
) -> None:
    pattern = (
        rf"first axis of \({shape[0]},.*must be {gates} x hidden size"
        rf".*not a positive multiple of {gates}"
    )
    with pytest.raises(ValueError, match=pattern):
        Recurrent(gates)(shape)
    with pytest.raises(ValueError, match=pattern):
        Recurrent(gates).variance(shape)


def test_recurrent_rejects_scalars_and_bad_gates() -> None:
    with pytest.raises(ValueError, match="needs at least one axis"):
        Recurrent(4)(())
    with pytest.raises(ValueError, match="not a positive multiple of 4"):
        Recurrent(4).variance((0, 3))
    for bad in (0, -4):
        with pytest.raises(ValueError, match=rf"gates must be >= 1 and below 2\*\*62; got {bad}\."):
            Recurrent(bad)
    for wrong in (True, 2.5, "4", None):
        with pytest.raises(TypeError, match=r"gates must be an integer; got .* of type \w+\."):
            Recurrent(wrong)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- docstrings

#: The layer each preset reproduces, as its framework spells it.
SOURCE_LAYERS = {
    "pytorch.linear": "torch.nn.Linear",
    "pytorch.conv1d": "torch.nn.Conv1d",
    "pytorch.conv2d": "torch.nn.Conv2d",
    "pytorch.conv3d": "torch.nn.Conv3d",
    "pytorch.conv_transpose2d": "torch.nn.ConvTranspose2d",
    "pytorch.embedding": "torch.nn.Embedding",
    "pytorch.lstm": "torch.nn.LSTM",
    "pytorch.gru": "torch.nn.GRU",
    "pytorch.multihead_attention": "torch.nn.MultiheadAttention",
    "pytorch.multihead_attention.bias_kv": "torch.nn.MultiheadAttention",
    "pytorch.transformer": "torch.nn.Transformer",
    "pytorch.layer_norm": "torch.nn.LayerNorm",
    "pytorch.prelu": "torch.nn.PReLU",
    "keras.dense": "keras.layers.Dense",
    "keras.conv2d": "keras.layers.Conv2D",
    "keras.embedding": "keras.layers.Embedding",
    "flax.dense": "flax.linen.Dense",
    "flax.conv": "flax.linen.Conv",
    "haiku.linear": "haiku.Linear",
}


@pytest.mark.parametrize("name", NAMES)
def test_docstring_names_layer_version_and_layout(name: str) -> None:
    doc = PRESETS[name][0].__doc__
    assert doc
    layer = SOURCE_LAYERS[name.removesuffix(".bias")]
    assert layer in doc
    framework = {"pytorch": "PyTorch", "keras": "Keras", "flax": "Flax", "haiku": "Haiku"}[
        name.split(".")[0]
    ]
    assert re.search(rf"{framework}[^,]*\d", doc), doc  # the framework and a version number
    assert repr(PRESET_LAYOUTS[name]) in doc
    axes = {"out_in": "(out, in", "in_out": "(*kernel, in, out)", "pytorch_transposed": "(in, out"}
    assert axes[PRESET_LAYOUTS[name]] in doc
    if name.endswith(".bias"):
        assert "bias" in doc or f"{layer} b:" in doc  # Haiku calls its bias parameter b


def test_pytorch_docstrings_name_the_checked_version() -> None:
    assert "2.13" in presets.__doc__
    for name in NAMES:
        if name.startswith("pytorch."):
            assert "PyTorch 2.13" in PRESETS[name][0].__doc__


def test_describe_lists_every_preset() -> None:
    table = describe()
    lines = table.splitlines()
    assert len(lines) == len(PRESETS)
    for line, name in zip(lines, PRESETS, strict=True):
        assert line.split()[0] == name
        assert PRESET_LAYOUTS[name] in line
        if name in NEEDS_FAN_IN:
            assert line.endswith("needs fan_in")
        else:
            # The initializer, as the call that shows its numbers (a named preset or the
            # whole variance_scaling(...) call, never presets.preset), which makes an equal
            # initializer.
            init = _make(name)
            shown = line.split(PRESETS[name][2], 1)[1].strip()
            assert eval(shown, vars(wi)) == init
            assert "presets.preset" not in shown
            if isinstance(init, VarianceScaling) and shown.startswith("variance_scaling("):
                scale, mode, distribution = init.scale, init.mode, init.distribution
                assert shown == f"variance_scaling({scale!r}, {mode!r}, {distribution!r})"
    assert describe(["keras.dense"]).split()[0] == "keras.dense"


# --------------------------------------------------------------------------- configs


@pytest.mark.parametrize("name", NAMES)
def test_get_config_round_trips(name: str) -> None:
    init = _make(name)
    config = init.get_config()
    assert json.loads(json.dumps(config)) == config
    assert wi.get(config) == init
    assert wi.get(json.loads(json.dumps(config))) == init


# --------------------------------------------------------------------------- statistics

#: (preset, shape, layout, groups, exact variance worked out by hand).
STATISTICS = [
    ("pytorch.linear", (256, 784), "out_in", 1, 1 / (3 * 784)),
    ("pytorch.conv1d", (64, 32, 5), "out_in", 1, 1 / (3 * 160)),
    ("pytorch.conv2d", (64, 32, 3, 3), "out_in", 1, 1 / (3 * 288)),
    ("pytorch.conv2d", (64, 8, 3, 3), "out_in", 4, 1 / (3 * 72)),
    ("pytorch.conv3d", (16, 8, 3, 3, 3), "out_in", 1, 1 / (3 * 216)),
    ("pytorch.conv_transpose2d", (32, 64, 3, 3), "pytorch_transposed", 1, 1 / (3 * 576)),
    ("pytorch.embedding", (1000, 64), "in_out", 1, 1.0),
    ("pytorch.lstm", (512, 64), "out_in", 1, 1 / (3 * 128)),
    ("pytorch.lstm.bias", (512,), "out_in", 1, 1 / (3 * 128)),
    ("pytorch.gru", (384, 128), "out_in", 1, 1 / (3 * 128)),
    ("keras.dense", (784, 256), "in_out", 1, 2 / (784 + 256)),
    ("keras.conv2d", (3, 3, 32, 64), "in_out", 1, 2 / (288 + 576)),
    ("keras.embedding", (1000, 64), "in_out", 1, 0.1**2 / 12),
    ("flax.dense", (784, 256), "in_out", 1, 1 / 784),
    ("flax.conv", (3, 3, 32, 64), "in_out", 1, 1 / 288),
    ("haiku.linear", (784, 256), "in_out", 1, 0.87962566103423978**2 / 784),
]
KURTOSIS = {"uniform": 9 / 5, "normal": 3.0}


def _kurtosis(init: wi.Initializer) -> float:
    distribution = getattr(init, "distribution", None)
    if isinstance(init, (Recurrent, families.Uniform)) or distribution == "uniform":
        return KURTOSIS["uniform"]
    if distribution == "truncated_normal":
        # A standard normal cut at +-2: E[z^4] = 3 E[z^2] - 2 b^3 phi(b) / (2 Phi(b) - 1).
        b, m2 = 2.0, truncated_variance(2.0)
        m4 = 3 * m2 - 2 * b**3 * math.exp(-b * b / 2) / math.sqrt(2 * math.pi) / math.erf(
            b / 2**0.5
        )
        return m4 / m2**2
    return KURTOSIS["normal"]


@pytest.mark.parametrize(
    ("name", "shape", "layout", "groups", "variance"),
    STATISTICS,
    ids=[f"{row[0]}-{row[1]}" for row in STATISTICS],
)
def test_sampled_variance_matches(
    name: str, shape: tuple[int, ...], layout: str, groups: int, variance: float
) -> None:
    init = preset(name)
    assert init.variance(shape, layout=layout, groups=groups) == pytest.approx(variance, rel=1e-12)
    w = init(shape, np.float64, seed=sum(map(ord, name)), layout=layout, groups=groups)
    n = w.size
    second = float(np.mean(w * w))
    assert abs(second - variance) <= Z * variance * math.sqrt((_kurtosis(init) - 1) / n)
    assert abs(float(w.mean())) <= Z * math.sqrt(variance / n)


@pytest.mark.parametrize("name", [n for n in NAMES if isinstance(EQUALITIES[n], families.Constant)])
def test_constant_presets_are_their_constant(name: str) -> None:
    b = preset(name)((7,), seed=0)
    assert b.tolist() == [EQUALITIES[name].value] * 7  # type: ignore[attr-defined]
    assert preset(name).variance((7,)) == 0.0


def test_bias_sample_matches_fan_in_bias_variance() -> None:
    init = preset("pytorch.conv2d.bias", 288)
    b = init((20_000,), np.float64, seed=6)
    variance = 1 / (3 * 288)
    assert abs(float(np.mean(b * b)) - variance) <= Z * variance * math.sqrt(0.8 / b.size)
