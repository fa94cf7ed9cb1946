"""Stream version 2: a weight made in one layout is the axis permutation of the same weight
made in any other (values are drawn in the canonical order (out, in, *kernel))."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi
from weightinit._fans import canonical_axes

LAYOUTS = ("in_out", "out_in", "pytorch_transposed", "keras_depthwise")

# Laws that do not depend on the fans: any layout and groups give the same weight.
FAN_FREE = [
    wi.uniform(-0.3, 0.7),
    wi.scaled_normal(0.02),
    wi.truncated_normal(0.1, bound=0.7),
    wi.truncated_normal(0.1, bound=3.0),
    wi.constant(0.25),
    wi.orthogonal(gain=1.5),
    wi.sparse(0.4, 0.05),
]
# Fan-scaled laws: the same weight wherever the layouts give the same fans.
FAN_SCALED = [
    wi.he_normal(),
    wi.glorot_uniform(),
    wi.variance_scaling(1.3, "fan_geo_avg", "truncated_normal"),
    wi.lecun_uniform(),
]


def _in_layout(canonical: tuple[int, ...], layout: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The shape in ``layout`` of a weight whose canonical shape is ``canonical``, and the axes
    that bring it back to the canonical order."""
    axes = canonical_axes(len(canonical), layout)
    shape = [0] * len(canonical)
    for position, axis in enumerate(axes):
        shape[axis] = canonical[position]
    return tuple(shape), axes


@st.composite
def weights(draw: st.DrawFn) -> tuple[tuple[int, ...], str, str, int, np.dtype]:
    rank = draw(st.integers(2, 5))
    canonical = tuple(draw(st.lists(st.integers(1, 9), min_size=rank, max_size=rank)))
    # Depthwise kernels are a reshape of PyTorch's, not a permutation: tested below.
    first = draw(st.sampled_from(LAYOUTS[:3]))
    second = draw(st.sampled_from(LAYOUTS[:3]))
    dtype = np.dtype(draw(st.sampled_from(["float16", "float32", "float64"])))
    seed = draw(st.integers(0, 2**40))
    return canonical, first, second, seed, dtype


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
@given(case=weights(), init=st.sampled_from(FAN_FREE))
def test_fan_free_weights_are_the_same_in_every_layout(case, init) -> None:
    canonical, first, second, seed, dtype = case
    a_shape, a_axes = _in_layout(canonical, first)
    b_shape, b_axes = _in_layout(canonical, second)
    a = init(a_shape, dtype, seed=seed, layout=first)
    b = init(b_shape, dtype, seed=seed, layout=second)
    assert a.transpose(a_axes).tobytes() == b.transpose(b_axes).tobytes()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    database=None,
)
@given(
    canonical=st.lists(st.integers(1, 12), min_size=2, max_size=5).map(tuple),
    groups=st.sampled_from([1, 2, 3]),
    init=st.sampled_from(FAN_SCALED),
    seed=st.integers(0, 2**40),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
)
def test_fan_scaled_weights_are_the_same_in_kernel_and_pytorch_layouts(
    canonical, groups, init, seed, dtype
) -> None:
    # (*kernel, in, out) and (out, in, *kernel) give the same fans, groups included (both
    # divide the output channels).
    canonical = (canonical[0] * groups, *canonical[1:])
    keras_shape, keras_axes = _in_layout(canonical, "in_out")
    a = init(keras_shape, dtype, seed=seed, groups=groups)
    b = init(canonical, dtype, seed=seed, layout="pytorch", groups=groups)
    assert a.transpose(keras_axes).tobytes() == b.tobytes()
    if groups == 1:  # the transposed layout has the same fans without groups
        shape, axes = _in_layout(canonical, "pytorch_transposed")
        c = init(shape, dtype, seed=seed, layout="pytorch_transposed")
        assert c.transpose(axes).tobytes() == b.tobytes()


@pytest.mark.parametrize("init", [wi.delta_orthogonal(1.5), wi.dirac(), wi.identity(2.0)], ids=repr)
def test_structured_kernels_are_the_same_in_every_layout(init) -> None:
    canonical = (8, 4, 3, 3) if init != wi.identity(2.0) else (7, 5)
    reference = init(canonical, seed=4, layout="pytorch")
    for layout in ("in_out", "pytorch_transposed"):
        shape, axes = _in_layout(canonical, layout)
        assert np.array_equal(init(shape, seed=4, layout=layout).transpose(axes), reference)


def test_grouped_dirac_is_the_same_in_transposed_layouts() -> None:
    # Groups divide the input channels of a transposed kernel (in, out / groups, *kernel).
    canonical = (2, 8, 3, 3)  # (out / groups, in, kh, kw)
    shape, _ = _in_layout(canonical, "pytorch_transposed")
    w = wi.dirac(groups=4)(shape, layout="pytorch_transposed")
    assert w.shape == (8, 2, 3, 3)
    assert float(w.sum()) == 8.0


@pytest.mark.parametrize("init", [wi.he_normal(), wi.truncated_normal(0.1, bound=0.5)], ids=repr)
def test_regions_threads_and_chunks_of_a_layout_match_the_whole(init) -> None:
    shape = (3, 3, 300, 200)  # HWIO: drawn as (200, 300, 3, 3)
    whole = init(shape, seed=9)
    region = np.s_[1, :, 7:250:3, ::-5]
    assert np.array_equal(init(shape, seed=9, region=region), whole[region])
    assert np.array_equal(init(shape, seed=9, threads=2), whole)
    torch_style = init((200, 300, 3, 3), seed=9, layout="pytorch", threads=3)
    assert np.array_equal(torch_style.transpose(2, 3, 1, 0), whole)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(
    channels=st.integers(1, 40),
    multiplier=st.integers(1, 4),
    kernel=st.lists(st.integers(1, 7), min_size=0, max_size=3).map(tuple),
    init=st.sampled_from([*FAN_SCALED, *FAN_FREE[:5]]),
    seed=st.integers(0, 2**40),
)
def test_depthwise_kernels_are_pytorchs_depthwise_weights(
    channels, multiplier, kernel, init, seed
) -> None:
    # Keras' (*kernel, in, multiplier) and PyTorch's (in * multiplier, 1, *kernel) with
    # groups=in: output channel c * multiplier + m in both, and the same fans.
    keras = init((*kernel, channels, multiplier), seed=seed, layout="keras_depthwise")
    torch_shape = (channels * multiplier, 1, *kernel)
    torch = init(torch_shape, seed=seed, layout="pytorch", groups=channels)
    rank = len(kernel) + 2
    moved = keras.transpose(rank - 2, rank - 1, *range(rank - 2)).reshape(torch_shape)
    assert moved.tobytes() == torch.tobytes()
    region = (Ellipsis, slice(None, None, 2), slice(0, 1))
    assert np.array_equal(
        init((*kernel, channels, multiplier), seed=seed, layout="keras_depthwise", region=region),
        keras[region],
    )


@pytest.mark.parametrize("shape", [(), (3,)])
def test_vectors_in_a_depthwise_layout_are_plain_vectors(shape) -> None:
    # Below rank 2 there are no channel axes: any layout gives the same values.
    init = wi.uniform()
    assert np.array_equal(init(shape, seed=1, layout="keras_depthwise"), init(shape, seed=1))
