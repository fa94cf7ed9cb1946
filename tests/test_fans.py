"""Tests of ``weightinit._fans``: a hand-checkable table against PyTorch and Keras, aliases,
JAX-style axis overrides, properties over random shapes, and every error message."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import layouts
from strategies import shapes

from weightinit import Fans
from weightinit import fans
from weightinit._fans import LAYOUTS
from weightinit._fans import resolve_layout

_PROPERTY = settings(max_examples=100, deadline=None)

# --------------------------------------------------------------------------- table
# Each row: the weight shape as the framework stores it, our layout, groups, and the
# expected (fan_in, fan_out, receptive_field), worked out by hand:
#   out_in  (out, in, *kernel): fan_in = in * prod(kernel), fan_out = out * prod(kernel)
#   in_out  (*kernel, in, out): the same, reading the last two axes.
# The first rows are the shapes on which PyTorch's ``_calculate_fan_in_and_fan_out`` and
# Keras' ``_compute_fans`` are right, so we give exactly what they give.
AGREEING = [
    # PyTorch, weight (out, in, *kernel).
    pytest.param((256, 784), "out_in", 1, 784, 256, 1, id="torch-Linear(784,256)"),
    pytest.param((33, 16, 3), "out_in", 1, 48, 99, 3, id="torch-Conv1d(16,33,3)"),
    pytest.param((64, 32, 3, 3), "out_in", 1, 288, 576, 9, id="torch-Conv2d(32,64,3)"),
    pytest.param((64, 3, 7, 5), "out_in", 1, 105, 2240, 35, id="torch-Conv2d(3,64,(7,5))"),
    pytest.param((8, 4, 3, 3, 3), "out_in", 1, 108, 216, 27, id="torch-Conv3d(4,8,3)"),
    # Keras, kernel (*kernel, in, out).
    pytest.param((784, 256), "in_out", 1, 784, 256, 1, id="keras-Dense(256)-on-784"),
    pytest.param((3, 16, 33), "in_out", 1, 48, 99, 3, id="keras-Conv1D(33,3)-on-16"),
    pytest.param((3, 3, 32, 64), "in_out", 1, 288, 576, 9, id="keras-Conv2D(64,3)-on-32"),
    pytest.param((7, 5, 3, 64), "in_out", 1, 105, 2240, 35, id="keras-Conv2D(64,(7,5))-on-3"),
    pytest.param((3, 3, 3, 4, 8), "in_out", 1, 108, 216, 27, id="keras-Conv3D(8,3)-on-4"),
]

# Shapes on which the frameworks' own functions are wrong; each comment gives what the
# framework computes and why we differ.
CORRECTED = [
    # PyTorch Conv2d(16, 32, 3, groups=2). PyTorch: fan_out = 32*9 = 288, all out channels;
    # but each input channel feeds only the 16 output channels of its group: 16*9 = 144.
    pytest.param((32, 8, 3, 3), "out_in", 2, 72, 144, 9, id="torch-Conv2d(16,32,3,groups=2)"),
    # PyTorch depthwise Conv2d(4, 4, 3, groups=4). PyTorch: fan_out = 4*9 = 36; each input
    # channel feeds one output channel: 1*9 = 9.
    pytest.param((4, 1, 3, 3), "out_in", 4, 9, 9, 9, id="torch-Conv2d(4,4,3,groups=4)"),
    # PyTorch depthwise with multiplier 2, Conv2d(4, 8, 3, groups=4). PyTorch: fan_out =
    # 8*9 = 72; each input channel feeds its 2 output channels: 2*9 = 18.
    pytest.param((8, 1, 3, 3), "out_in", 4, 9, 18, 9, id="torch-Conv2d(4,8,3,groups=4)"),
    # PyTorch ConvTranspose2d(16, 32, 3), weight (in, out/groups, kH, kW). PyTorch reads
    # size(1) as in: fan_in = 32*9 = 288, fan_out = 16*9 = 144, swapped.
    pytest.param(
        (16, 32, 3, 3), "pytorch_transposed", 1, 144, 288, 9, id="torch-ConvTranspose2d(16,32,3)"
    ),
    # PyTorch ConvTranspose1d(8, 4, 5). PyTorch: fan_in = 4*5 = 20, fan_out = 8*5 = 40, swapped.
    pytest.param((8, 4, 5), "pytorch_transposed", 1, 40, 20, 5, id="torch-ConvTranspose1d(8,4,5)"),
    # PyTorch ConvTranspose2d(16, 32, 3, groups=2), weight (16, 16, 3, 3). PyTorch: fan_in =
    # fan_out = 16*9 = 144; each output sees only the 8 inputs of its group: 8*9 = 72, and
    # each input feeds the 16 outputs of its group: 16*9 = 144.
    pytest.param(
        (16, 16, 3, 3),
        "pytorch_transposed",
        2,
        72,
        144,
        9,
        id="torch-ConvTranspose2d(16,32,3,groups=2)",
    ),
    # Keras Conv2D(32, 3, groups=2) on 16 channels, kernel (3, 3, 16/2, 32). Keras: fan_out
    # = 32*9 = 288; each input channel feeds the 16 outputs of its group: 16*9 = 144.
    pytest.param((3, 3, 8, 32), "in_out", 2, 72, 144, 9, id="keras-Conv2D(32,3,groups=2)-on-16"),
    # Keras DepthwiseConv2D(3, depth_multiplier=2) on 8 channels, kernel (3, 3, 8, 2).
    # Keras reads 8 as input channels: fan_in = 8*9 = 72; each output sees one input
    # channel: 9. Keras' fan_out = 2*9 = 18 is right.
    pytest.param(
        (3, 3, 8, 2), "keras_depthwise", 1, 9, 18, 9, id="keras-DepthwiseConv2D(3,mult=2)-on-8"
    ),
    # Keras DepthwiseConv2D(3) on 32 channels. Keras: fan_in = 32*9 = 288; ours 9.
    pytest.param((3, 3, 32, 1), "keras_depthwise", 1, 9, 9, 9, id="keras-DepthwiseConv2D(3)-on-32"),
    # Keras DepthwiseConv1D(5) on 4 channels. Keras: fan_in = 4*5 = 20; ours 5.
    pytest.param((5, 4, 1), "keras_depthwise", 1, 5, 5, 5, id="keras-DepthwiseConv1D(5)-on-4"),
]

# Zero-size weights have fans like any other: no error, no division by zero.
ZERO_SIZE = [
    pytest.param((0, 5), "in_out", 1, 0, 5, 1, id="in_out-no-inputs"),
    pytest.param((5, 0), "in_out", 1, 5, 0, 1, id="in_out-no-outputs"),
    pytest.param((3, 3, 0, 64), "in_out", 1, 0, 576, 9, id="in_out-conv-no-inputs"),
    pytest.param((0, 3, 3, 3), "out_in", 2, 27, 0, 9, id="out_in-no-outputs-grouped"),
    pytest.param((64, 32, 0, 3), "out_in", 1, 0, 0, 0, id="out_in-empty-kernel"),
    pytest.param((0, 4, 3), "pytorch_transposed", 3, 0, 12, 3, id="transposed-no-inputs"),
]


@pytest.mark.parametrize(
    ("shape", "layout", "groups", "fan_in", "fan_out", "receptive_field"),
    [*AGREEING, *CORRECTED, *ZERO_SIZE],
)
def test_fans_table(
    shape: tuple[int, ...],
    layout: str,
    groups: int,
    fan_in: int,
    fan_out: int,
    receptive_field: int,
) -> None:
    result = fans(shape, layout=layout, groups=groups)
    assert result == Fans(fan_in, fan_out, receptive_field)
    assert all(type(value) is int for value in result)


def test_fans_of_zero_size_dense_weight() -> None:
    assert fans((0, 5)) == Fans(0, 5, 1)


def test_fans_named_fields() -> None:
    result = fans((3, 3, 32, 64))
    assert (result.fan_in, result.fan_out, result.receptive_field) == (288, 576, 9)


@pytest.mark.parametrize(
    "shape",
    [[784, 256], (np.int64(784), np.int64(256)), (784, np.int32(256))],
    ids=["list", "numpy-ints", "mixed-ints"],
)
def test_fans_accepts_any_sequence_of_integers(shape: object) -> None:
    result = fans(shape)  # type: ignore[arg-type]
    assert result == Fans(784, 256, 1)
    assert all(type(value) is int for value in result)


def test_fans_accepts_numpy_array_shape() -> None:
    assert fans(np.array([784, 256])) == Fans(784, 256, 1)  # type: ignore[arg-type]


def test_fans_options_are_keyword_only() -> None:
    with pytest.raises(TypeError, match="positional"):
        fans((3, 4), "out_in")  # type: ignore[call-arg]


# --------------------------------------------------------------------------- aliases
ALIASES = [
    ("in_out", "in_out"),
    ("keras", "in_out"),
    ("tensorflow", "in_out"),
    ("tf", "in_out"),
    ("jax", "in_out"),
    ("flax", "in_out"),
    ("hwio", "in_out"),
    ("out_in", "out_in"),
    ("pytorch", "out_in"),
    ("torch", "out_in"),
    ("onnx", "out_in"),
    ("oihw", "out_in"),
    ("pytorch_transposed", "pytorch_transposed"),
    ("torch_transposed", "pytorch_transposed"),
    ("keras_depthwise", "keras_depthwise"),
    ("depthwise", "keras_depthwise"),
    # Case, hyphens and surrounding blanks do not matter.
    ("KERAS", "in_out"),
    ("TensorFlow", "in_out"),
    ("JAX", "in_out"),
    ("Flax", "in_out"),
    ("PyTorch", "out_in"),
    ("Torch", "out_in"),
    ("ONNX", "out_in"),
    ("In_Out", "in_out"),
    ("Pytorch-Transposed", "pytorch_transposed"),
    (" keras ", "in_out"),
]


@pytest.mark.parametrize(("alias", "canonical"), ALIASES)
def test_layout_aliases(alias: str, canonical: str) -> None:
    assert resolve_layout(alias) == canonical
    # A shape with four distinct dims, so that any other layout would give other fans.
    assert fans((2, 3, 5, 7), layout=alias) == fans((2, 3, 5, 7), layout=canonical)


def test_every_canonical_layout_differs_on_one_shape() -> None:
    results = {fans((2, 3, 5, 7), layout=layout) for layout in LAYOUTS}
    assert len(results) == len(LAYOUTS)


# --------------------------------------------------------------------------- axis overrides
# in_axis, out_axis and batch_axis mean what they mean in JAX's variance_scaling: fans
# multiply the sizes of the listed axes, the receptive field the sizes of all other axes
# that are not batch axes.
OVERRIDES = [
    pytest.param(
        (2, 3, 4, 5), {"in_axis": -2, "out_axis": -1, "batch_axis": 0}, (12, 15, 3), id="jax"
    ),
    pytest.param(
        (2, 3, 4, 5), {"in_axis": 2, "out_axis": 3, "batch_axis": 0}, (12, 15, 3), id="positive"
    ),
    pytest.param((2, 3, 4, 5), {"in_axis": (0, 1), "out_axis": -1}, (24, 20, 4), id="in-seq"),
    pytest.param((2, 3, 4, 5), {"in_axis": 0, "out_axis": (2, 3)}, (6, 60, 3), id="out-seq"),
    pytest.param((2, 3, 4, 5), {"in_axis": [0, 1], "out_axis": [2, 3]}, (6, 20, 1), id="lists"),
    pytest.param((2, 3, 4, 5), {"batch_axis": (0, 1)}, (4, 5, 1), id="batch-seq"),
    pytest.param((2, 3, 4, 5), {"in_axis": (), "out_axis": -1}, (24, 120, 24), id="no-in-axis"),
    pytest.param((4, 784, 256), {"batch_axis": 0}, (784, 256, 1), id="stacked-dense"),
    # An override replaces one side of the layout only: out stays axis 0 of out_in.
    pytest.param(
        (2, 3, 4, 5), {"layout": "out_in", "in_axis": 2}, (60, 30, 15), id="out_in-in-only"
    ),
    # groups still divides the output side: 6 / 3 = 2 outputs per group.
    pytest.param(
        (2, 3, 4, 6), {"in_axis": 0, "out_axis": -1, "groups": 3}, (24, 24, 12), id="groups"
    ),
]


@pytest.mark.parametrize(("shape", "kwargs", "expected"), OVERRIDES)
def test_axis_overrides(
    shape: tuple[int, ...], kwargs: dict[str, object], expected: tuple[int, int, int]
) -> None:
    assert fans(shape, **kwargs) == Fans(*expected)  # type: ignore[arg-type]


def test_default_axes_are_jax_defaults() -> None:
    shape = (3, 3, 32, 64)
    assert fans(shape) == fans(shape, in_axis=-2, out_axis=-1, batch_axis=())


# --------------------------------------------------------------------------- properties
def _divisors(n: int) -> list[int]:
    """Divisors of ``n``; every group count divides 0, so a few small ones stand in."""
    return list(range(1, 5)) if n == 0 else [d for d in range(1, n + 1) if n % d == 0]


def _expected(shape: tuple[int, ...], layout: str, groups: int) -> Fans:
    """The fans by the docstring of ``fans``, one layout at a time."""
    if layout == "in_out":
        *kernel, n_in, n_out = shape
        n_out //= groups
    elif layout == "out_in":
        n_out, n_in, *kernel = shape
        n_out //= groups
    elif layout == "pytorch_transposed":
        n_in, n_out, *kernel = shape
        n_in //= groups
    elif layout == "keras_transposed":
        *kernel, n_out, n_in = shape
        n_in //= groups
    else:  # keras_depthwise: (*kernel, in, multiplier); each output sees one input channel
        *kernel, _, multiplier = shape
        field = math.prod(kernel)
        return Fans(field, multiplier * field, field)
    field = math.prod(kernel)
    return Fans(n_in * field, n_out * field, field)


@st.composite
def _layout_shape_groups(draw: st.DrawFn) -> tuple[str, tuple[int, ...], int]:
    """A canonical layout, a shape, and a group count that divides the grouped axis."""
    layout = draw(layouts())
    shape = draw(shapes())
    grouped_axis = {"in_out": -1, "out_in": 0, "pytorch_transposed": 0, "keras_transposed": -1}
    grouped_axis = grouped_axis.get(layout)
    if grouped_axis is None:  # keras_depthwise takes groups=1 only
        return layout, shape, 1
    return layout, shape, draw(st.sampled_from(_divisors(shape[grouped_axis])))


@_PROPERTY
@given(_layout_shape_groups())
def test_fans_per_layout(case: tuple[str, tuple[int, ...], int]) -> None:
    layout, shape, groups = case
    assert fans(shape, layout=layout, groups=groups) == _expected(shape, layout, groups)


@_PROPERTY
@given(shapes(), layouts())
def test_receptive_field_is_product_of_kernel_axes(shape: tuple[int, ...], layout: str) -> None:
    kernel = shape[2:] if layout in ("out_in", "pytorch_transposed") else shape[:-2]
    assert fans(shape, layout=layout).receptive_field == math.prod(kernel)


@_PROPERTY
@given(shapes(), st.data())
def test_out_in_equals_in_out_of_permuted_shape(
    shape: tuple[int, ...], data: st.DataObject
) -> None:
    groups = data.draw(st.sampled_from(_divisors(shape[0])), label="groups")
    n_out, n_in, *kernel = shape
    assert fans(shape, layout="out_in", groups=groups) == fans(
        (*kernel, n_in, n_out), layout="in_out", groups=groups
    )


_kernels = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5)


@_PROPERTY
@given(
    _kernels,
    st.integers(1, 4),  # groups
    st.integers(0, 5),  # input channels per group
    st.integers(0, 5),  # output channels per group
)
def test_layouts_agree_on_one_convolution(
    kernel: tuple[int, ...], groups: int, in_per_group: int, out_per_group: int
) -> None:
    # A convolution with groups * in_per_group inputs and groups * out_per_group outputs,
    # as each framework stores its weight.
    n_in, n_out = groups * in_per_group, groups * out_per_group
    field = math.prod(kernel)
    expected = Fans(in_per_group * field, out_per_group * field, field)
    stored = {
        "in_out": (*kernel, in_per_group, n_out),
        "out_in": (n_out, in_per_group, *kernel),
        "pytorch_transposed": (n_in, out_per_group, *kernel),
    }
    for layout, shape in stored.items():
        assert fans(shape, layout=layout, groups=groups) == expected, layout


@_PROPERTY
@given(_kernels, st.integers(1, 6), st.integers(0, 4))
def test_keras_depthwise_equals_grouped_convolution(
    kernel: tuple[int, ...], channels: int, multiplier: int
) -> None:
    depthwise = fans((*kernel, channels, multiplier), layout="keras_depthwise")
    n_out = channels * multiplier
    assert depthwise == fans((n_out, 1, *kernel), layout="out_in", groups=channels)
    assert depthwise == fans((*kernel, 1, n_out), layout="in_out", groups=channels)


@st.composite
def _shape_and_axes(
    draw: st.DrawFn,
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """A shape and disjoint in, out and batch axes of it, in random order."""
    shape = draw(shapes())
    rank = len(shape)
    roles = draw(st.lists(st.sampled_from("iobk"), min_size=rank, max_size=rank))
    axes = {role: tuple(a for a, r in enumerate(roles) if r == role) for role in "iob"}
    return shape, axes["i"], axes["o"], axes["b"]


@_PROPERTY
@given(_shape_and_axes(), st.data())
def test_fans_follow_the_axes_when_they_move(
    case: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]],
    data: st.DataObject,
) -> None:
    shape, ins, outs, batch = case
    before = fans(shape, in_axis=ins, out_axis=outs, batch_axis=batch)
    field = math.prod(d for a, d in enumerate(shape) if a not in ins + outs + batch)
    n_in = math.prod(shape[a] for a in ins)
    n_out = math.prod(shape[a] for a in outs)
    assert before == Fans(n_in * field, n_out * field, field)

    # Axis ``a`` of ``shape`` is axis ``order.index(a)`` of the permuted shape; also name
    # the moved axes with negative numbers, which must not matter.
    order = data.draw(st.permutations(range(len(shape))), label="order")
    moved = tuple(shape[a] for a in order)

    def where(axes: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(order.index(a) - len(shape) for a in axes)

    after = fans(moved, in_axis=where(ins), out_axis=where(outs), batch_axis=where(batch))
    assert after == before


# --------------------------------------------------------------------------- errors
_CHOICES = "'in_out', 'out_in', 'pytorch_transposed', 'keras_depthwise', 'keras_transposed'"

ERRORS = [
    # Shapes without fans point to the initializers that need none.
    pytest.param((), {}, ValueError, r"shape \(\) of rank 0 .*zeros\(\)", id="rank-0"),
    pytest.param((5,), {}, ValueError, r"shape \(5,\) of rank 1 .*bias.*zeros\(\)", id="rank-1"),
    pytest.param(5, {}, ValueError, r"shape \(5,\) of rank 1 .*bias.*zeros\(\)", id="int-shape"),
    # Bad dims.
    pytest.param(
        (3, -1), {}, ValueError, r"non-negative integers; got -1 in \(3, -1\)", id="negative-dim"
    ),
    pytest.param((3, 2.5), {}, TypeError, r"integers only; got 2\.5 in", id="float-dim"),
    pytest.param((3, "3"), {}, TypeError, r"integers only; got '3' in", id="str-dim"),
    pytest.param((3, True), {}, TypeError, r"integers only; got True in", id="bool-dim"),
    pytest.param("34", {}, TypeError, r"sequence of non-negative integers; got '34'", id="str"),
    pytest.param(None, {}, TypeError, r"sequence of non-negative integers; got None", id="none"),
    # Layouts: the choices in a fixed order, and a close match when there is one.
    pytest.param(
        (3, 4),
        {"layout": "pytorh"},
        ValueError,
        rf"layout must be one of {_CHOICES}; got 'pytorh'\. Did you mean 'pytorch'\?",
        id="layout-typo",
    ),
    pytest.param(
        (3, 4),
        {"layout": "kears"},
        ValueError,
        r"got 'kears'\. Did you mean 'keras'\?",
        id="layout-typo-alias",
    ),
    pytest.param(
        (3, 4),
        {"layout": "xyz"},
        ValueError,
        rf"layout must be one of {_CHOICES}; got 'xyz'\. Aliases: 'keras', .*'hwoi'\.$",
        id="layout-no-match",
    ),
    pytest.param((3, 4), {"layout": None}, ValueError, r"got None\. Aliases: ", id="layout-none"),
    # groups.
    pytest.param(
        (32, 8, 3, 3),
        {"layout": "out_in", "groups": 3},
        ValueError,
        r"groups=3 does not divide the output channel count 32 of shape \(32, 8, 3, 3\) "
        r"\(layout 'out_in'\)",
        id="groups-out_in",
    ),
    pytest.param(
        (3, 3, 8, 30),
        {"layout": "keras", "groups": 4},
        ValueError,
        r"groups=4 does not divide the output channel count 30 .*\(layout 'in_out'\)",
        id="groups-in_out",
    ),
    pytest.param(
        (16, 8, 3, 3),
        {"layout": "pytorch_transposed", "groups": 3},
        ValueError,
        r"groups=3 does not divide the input channel count 16 ",
        id="groups-transposed",
    ),
    pytest.param((3, 4), {"groups": 0}, ValueError, r"groups must be >= 1; got 0\.", id="groups-0"),
    pytest.param(
        (3, 4), {"groups": -2}, ValueError, r"groups must be >= 1; got -2\.", id="groups-negative"
    ),
    pytest.param(
        (3, 4),
        {"groups": 1.5},
        TypeError,
        r"groups must be an integer; got 1\.5",
        id="groups-float",
    ),
    pytest.param(
        (3, 4),
        {"groups": True},
        TypeError,
        r"groups must be an integer; got True",
        id="groups-bool",
    ),
    pytest.param(
        (3, 3, 8, 2),
        {"layout": "keras_depthwise", "groups": 2},
        ValueError,
        r"groups=2 does not apply to layout 'keras_depthwise'.*pass groups=1",
        id="groups-depthwise",
    ),
    # Axes out of range.
    pytest.param(
        (2, 3, 4, 5),
        {"in_axis": 4},
        ValueError,
        r"in_axis=4 is out of range for shape \(2, 3, 4, 5\) of rank 4; valid axes are -4 to 3",
        id="in_axis-too-big",
    ),
    pytest.param((2, 3, 4, 5), {"in_axis": -5}, ValueError, r"in_axis.*-5", id="in_axis-too-small"),
    pytest.param(
        (2, 3, 4, 5), {"out_axis": (0, 9)}, ValueError, r"out_axis=9 is out of range", id="out_axis"
    ),
    pytest.param(
        (2, 3, 4, 5), {"batch_axis": 7}, ValueError, r"batch_axis=7 is out of range", id="batch"
    ),
    pytest.param(
        (2, 3, 4, 5),
        {"in_axis": True},
        TypeError,
        r"in_axis must be an integer; got True",
        id="in_axis-bool",
    ),
    pytest.param(
        (2, 3, 4, 5),
        {"in_axis": 1.5},
        TypeError,
        r"in_axis must be an integer; got 1\.5",
        id="in_axis-float",
    ),
    # Axes shared between roles, reported after normalising negative axes.
    pytest.param(
        (2, 3, 4, 5),
        {"in_axis": 0, "out_axis": -4},
        ValueError,
        r"in_axis \(0,\), out_axis \(0,\) and batch_axis \(\) must not share an axis "
        r"\(shape \(2, 3, 4, 5\)\)",
        id="in-out-overlap",
    ),
    pytest.param(
        (2, 3, 4, 5),
        {"in_axis": (0, 0)},
        ValueError,
        r"in_axis \(0, 0\), out_axis \(3,\) .*must not share an axis",
        id="in-repeated",
    ),
    pytest.param(
        (2, 3, 4, 5),
        {"batch_axis": -1},
        ValueError,
        r"out_axis \(3,\) and batch_axis \(3,\) must not share an axis",
        id="batch-overlaps-default-out",
    ),
]


@pytest.mark.parametrize(("shape", "kwargs", "error", "pattern"), ERRORS)
def test_fans_errors(
    shape: object, kwargs: dict[str, object], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        fans(shape, **kwargs)  # type: ignore[arg-type]
