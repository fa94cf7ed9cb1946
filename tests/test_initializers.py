"""Initializers: outputs for every shape, layout and dtype; variances; errors; equality."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi
from weightinit import families

LAYOUTS = ("in_out", "out_in", "pytorch_transposed", "keras_depthwise")
DTYPES = (np.float16, np.float32, np.float64)
MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")
ALPHA = 1e-8


def truncated_variance(bound: float) -> float:
    """``1 - 2 b phi(b) / (2 Phi(b) - 1)``: variance of a standard normal cut at ``±b``."""
    density = math.exp(-0.5 * bound * bound) / math.sqrt(2.0 * math.pi)
    return 1.0 - 2.0 * bound * density / math.erf(bound / math.sqrt(2.0))


def fan_of(shape, mode, *, layout="in_out", groups=1) -> float:
    f = wi.fans(shape, layout=layout, groups=groups)
    return {
        "fan_in": f.fan_in,
        "fan_out": f.fan_out,
        "fan_avg": (f.fan_in + f.fan_out) / 2,
        "fan_geo_avg": math.sqrt(f.fan_in * f.fan_out),
    }[mode]


def rounded(value: float, dtype) -> float:
    """``value`` rounded to ``dtype``, then widened again."""
    return float(np.asarray(value, dtype=np.float64).astype(dtype))


# --------------------------------------------------------------------------- strategies

# The axis that holds the full channel count and so must be a multiple of ``groups``.
_GROUPED_AXIS = {"in_out": -1, "out_in": 0, "pytorch_transposed": 0}


@st.composite
def weight_cases(draw, max_dim: int = 6):
    """``(shape, layout, groups)`` of rank 2 to 4 whose fans are all defined."""
    layout = draw(st.sampled_from(LAYOUTS))
    rank = draw(st.integers(2, 4))
    dims = draw(st.lists(st.integers(1, max_dim), min_size=rank, max_size=rank))
    groups = 1
    if layout != "keras_depthwise":
        groups = draw(st.integers(1, 3))
        dims[_GROUPED_AXIS[layout]] *= groups
    return tuple(dims), layout, groups


finite = st.floats(-100.0, 100.0, allow_nan=False)
positive = st.floats(1e-3, 10.0)


@st.composite
def uniform_params(draw):
    low = draw(finite)
    width = draw(st.floats(1e-2, 100.0))
    return low, low + width


initializers = st.one_of(
    st.just(wi.zeros()),
    st.just(wi.ones()),
    # Constants are either zero or large enough to survive float16 (tiny non-zero values are
    # refused in float16; test_constant_values_exact covers that).
    st.builds(wi.constant, finite.filter(lambda v: v == 0.0 or abs(v) >= 1e-7)),
    st.builds(wi.scaled_normal, positive, finite),
    uniform_params().map(lambda p: wi.uniform(*p)),
    st.builds(wi.truncated_normal, positive, finite, st.floats(0.05, 5.0)),
    st.builds(
        wi.variance_scaling,
        st.floats(0.01, 10.0),
        st.sampled_from(MODES),
        st.sampled_from(DISTRIBUTIONS),
    ),
    st.sampled_from(
        [wi.lecun_normal, wi.lecun_uniform, wi.glorot_normal, wi.glorot_uniform]
    ).flatmap(lambda f: st.builds(f, st.floats(0.1, 3.0))),
    st.sampled_from([wi.he_normal, wi.he_uniform]).flatmap(
        lambda f: st.builds(f, st.floats(-1.0, 1.0), st.sampled_from(MODES))
    ),
)
seeds = st.integers(0, 2**64 - 1)
dtypes = st.sampled_from(DTYPES)


def spread_is_lost(spread: float, mean: float, dtype) -> bool:  # type: ignore[no-untyped-def]
    """Whether ``mean ± 8 spread`` all rounds to ``mean`` in ``dtype`` (the library refuses)."""
    if mean == 0.0:
        return False
    step = float(np.spacing(np.abs(np.asarray(mean, dtype=dtype))))
    return 8.0 * spread < step / 2.0


# --------------------------------------------------------------------------- properties


@settings(max_examples=100, deadline=None)
@given(initializers, weight_cases(), dtypes, seeds)
def test_output_shape_dtype_and_finite(init, case, dtype, seed):
    shape, layout, groups = case
    spread = None
    if isinstance(init, families.ScaledNormal):
        spread = init.stddev
    elif isinstance(init, families.TruncatedNormal):
        spread = init.stddev * min(init.bound, 1.0)
    if spread is not None and spread_is_lost(spread, init.mean, dtype):  # type: ignore[attr-defined]
        with pytest.raises(ValueError, match="is lost in"):
            init(shape, dtype, seed=seed, layout=layout, groups=groups)
        return
    w = init(shape, dtype, seed=seed, layout=layout, groups=groups)
    assert isinstance(w, np.ndarray)
    assert w.shape == shape
    assert w.dtype == np.dtype(dtype)
    assert np.isfinite(w).all()
    variance = init.variance(shape, layout=layout, groups=groups)
    assert math.isfinite(variance)
    assert variance >= 0.0


@settings(max_examples=50, deadline=None)
@given(weight_cases(), dtypes, seeds)
def test_list_shape_and_dtype_name(case, dtype, seed):
    shape, layout, groups = case
    w = wi.glorot_normal()(
        list(shape), np.dtype(dtype).name, seed=seed, layout=layout, groups=groups
    )
    assert w.shape == shape
    assert w.dtype == np.dtype(dtype)
    assert wi.uniform()(7, dtype, seed=seed).shape == (7,)


def near_limit_slack(n: int, alpha: float = ALPHA) -> float:
    """Relative ``t`` with ``P(max |w| < limit (1 - t)) <= alpha`` for ``n`` uniform draws.

    For ``w`` uniform on ``[-L, L]``, ``P(|w| < L (1 - t)) = 1 - t``, so the maximum of ``n``
    draws stays below ``L (1 - t)`` with probability ``(1 - t)**n <= exp(-n t)``; this is
    ``alpha`` for ``t = ln(1 / alpha) / n`` (about ``18.4 / n`` for ``alpha = 1e-8``). A few
    float32 ulps are added for the rounding of ``u * L``.
    """
    return min(1.0, math.log(1.0 / alpha) / n + 4 * float(np.finfo(np.float32).eps))


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(MODES),
    st.floats(0.01, 10.0),
    weight_cases(max_dim=12),
    dtypes,
    seeds,
)
def test_uniform_within_and_near_its_limit(mode, scale, case, dtype, seed):
    shape, layout, groups = case
    init = wi.variance_scaling(scale, mode, "uniform")
    variance = init.variance(shape, layout=layout, groups=groups)
    assert variance == pytest.approx(scale / fan_of(shape, mode, layout=layout, groups=groups))
    limit = math.sqrt(3.0 * variance)
    w = init(shape, dtype, seed=seed, layout=layout, groups=groups).astype(np.float64)
    top = float(np.abs(w).max())
    assert top <= rounded(limit, dtype)
    assert top >= rounded(limit * (1.0 - near_limit_slack(w.size)), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_uniform_reaches_its_limit_for_large_n(dtype):
    shape = (1000, 1000)
    init = wi.glorot_uniform()
    limit = math.sqrt(6.0 / 2000)
    assert init.variance(shape) == pytest.approx(limit**2 / 3, rel=1e-14)
    w = init(shape, dtype, seed=1).astype(np.float64)
    assert np.abs(w).max() <= rounded(limit, dtype)
    assert np.abs(w).max() >= rounded(limit * (1 - near_limit_slack(w.size)), dtype)
    assert w.max() > 0 > w.min()


@settings(max_examples=100, deadline=None)
@given(uniform_params(), st.integers(1, 3000), dtypes, seeds)
def test_plain_uniform_within_bounds(params, n, dtype, seed):
    low, high = params
    w = wi.uniform(low, high)((n,), dtype, seed=seed).astype(np.float64)
    assert w.min() >= rounded(low, dtype)
    assert w.max() <= rounded(high, dtype)


@settings(max_examples=100, deadline=None)
@given(positive, finite, st.floats(0.05, 5.0), st.integers(1, 3000), dtypes, seeds)
# Bounds computed in float32 as float32(mean) - float32(span) can lie an ulp outside the
# rounded interval: float32(64.32161242126989 - 0.00025) is 64.321365, not 64.32135.
@example(0.001, 64.32161242126989, 0.25, 15, np.float32, 0)
@example(0.001, -64.32161242126989, 0.25, 97, np.float32, 0)
def test_truncated_normal_within_bound(stddev, mean, bound, n, dtype, seed):
    init = wi.truncated_normal(stddev, mean, bound)
    if spread_is_lost(stddev * min(bound, 1.0), mean, dtype):
        with pytest.raises(ValueError, match="is lost in"):
            init((n,), dtype, seed=seed)
        return
    w = init((n,), dtype, seed=seed).astype(np.float64)
    assert w.min() >= rounded(mean - bound * stddev * (1 + 1e-12), dtype)
    assert w.max() <= rounded(mean + bound * stddev * (1 + 1e-12), dtype)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(MODES), st.floats(0.01, 10.0), weight_cases(max_dim=12), dtypes, seeds)
def test_variance_scaling_truncated_within_two_stddevs(mode, scale, case, dtype, seed):
    shape, layout, groups = case
    init = wi.variance_scaling(scale, mode, "truncated_normal")
    variance = init.variance(shape, layout=layout, groups=groups)
    # The normal before truncation is widened so that the truncated one has ``variance``.
    stddev_before = math.sqrt(variance / truncated_variance(2.0))
    w = init(shape, dtype, seed=seed, layout=layout, groups=groups).astype(np.float64)
    # 1e-12: the bound is computed in float64 by the library and here in another order.
    assert np.abs(w).max() <= rounded(2.0 * stddev_before * (1 + 1e-12), dtype)


@settings(max_examples=50, deadline=None)
@given(finite, st.integers(0, 50), dtypes)
def test_constant_values_exact(value, n, dtype):
    if value != 0 and np.asarray(value).astype(dtype) == 0 and n:
        # A non-zero constant that the dtype rounds to zero is refused, not silently zeroed.
        with pytest.raises(ValueError, match="rounds to zero in"):
            wi.constant(value)((n, 3), dtype, seed=0)
        return
    w = wi.constant(value)((n, 3), dtype, seed=0)
    assert w.shape == (n, 3)
    assert w.dtype == np.dtype(dtype)
    assert (w == np.asarray(value).astype(dtype)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_zeros_and_ones(dtype):
    assert (wi.zeros()((2, 3), dtype) == 0).all()
    assert (wi.ones()((2, 3), dtype) == 1).all()
    assert wi.zeros()((2, 3), dtype).dtype == np.dtype(dtype)
    assert wi.constant(0.1)((4,), dtype).tobytes() == np.full(4, 0.1, dtype=dtype).tobytes()


def test_default_dtype_is_float32():
    assert wi.he_normal()((4, 4), seed=0).dtype == np.float32
    assert wi.zeros()((4,)).dtype == np.float32


def test_layout_aliases_give_the_same_values():
    shape = (64, 32, 3, 3)
    expected = wi.he_normal()(shape, seed=3, layout="out_in")
    for alias in ("pytorch", "torch", "OIHW", "Out-In"):
        assert np.array_equal(wi.he_normal()(shape, seed=3, layout=alias), expected)


# --------------------------------------------------------------------------- zero-size

ALL_INITIALIZERS = [
    wi.zeros(),
    wi.ones(),
    wi.constant(3.5),
    wi.scaled_normal(),
    wi.uniform(),
    wi.truncated_normal(),
    wi.truncated_normal(bound=0.5),
    *(wi.variance_scaling(2.0, m, d) for m in MODES for d in DISTRIBUTIONS),
    wi.lecun_normal(),
    wi.lecun_uniform(),
    wi.glorot_normal(),
    wi.glorot_uniform(),
    wi.he_normal(),
    wi.he_uniform(),
]
EMPTY_SHAPES = [(0, 5), (5, 0), (0, 0), (0, 3, 3, 8), (3, 3, 0, 8), (3, 3, 8, 0)]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("init", ALL_INITIALIZERS, ids=repr)
def test_zero_size_shapes(init, dtype):
    for shape in EMPTY_SHAPES:
        w = init(shape, dtype, seed=1)
        assert w.shape == shape
        assert w.dtype == np.dtype(dtype)
        assert init.fill(np.empty(shape, dtype=dtype), seed=1).shape == shape


SHAPE_FREE = [wi.zeros(), wi.constant(2.0), wi.scaled_normal(), wi.uniform(), wi.truncated_normal()]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("init", SHAPE_FREE, ids=repr)
def test_zero_size_rank_one_for_shape_free(init, dtype):
    assert init((0,), dtype, seed=1).shape == (0,)
    assert init(0, dtype, seed=1).dtype == np.dtype(dtype)


@pytest.mark.parametrize("init", [wi.he_normal(), wi.glorot_uniform(), wi.variance_scaling()])
def test_zero_size_still_needs_fans_for_fan_based(init):
    # Whether a shape has fans does not depend on whether it holds elements.
    with pytest.raises(ValueError, match=r"shape \(0,\) of rank 1 has no fans"):
        init((0,), seed=1)
    with pytest.raises(ValueError, match=r"groups=3 does not divide"):
        init((0, 4), seed=1, groups=3)


def test_zero_size_still_checks_arguments():
    with pytest.raises(TypeError, match="abc"):
        wi.he_normal()((0, 5), seed="abc")
    with pytest.raises(ValueError, match="in_outt"):
        wi.he_normal()((0, 5), layout="in_outt")
    with pytest.raises(TypeError, match="int32"):
        wi.he_normal()((0, 5), np.int32)


# --------------------------------------------------------------------------- variances


FAN_TABLE = [
    # shape, layout, groups, fan_in, fan_out  (checkable by hand)
    ((784, 256), "in_out", 1, 784, 256),
    ((3, 3, 32, 64), "in_out", 1, 288, 576),
    ((64, 32, 3, 3), "out_in", 1, 288, 576),
    ((32, 8, 3, 3), "out_in", 2, 72, 144),
    ((16, 8, 5), "pytorch_transposed", 4, 20, 40),
    ((3, 3, 16, 2), "keras_depthwise", 1, 9, 18),
]


@pytest.mark.parametrize(("shape", "layout", "groups", "fan_in", "fan_out"), FAN_TABLE)
def test_variance_table(shape, layout, groups, fan_in, fan_out):
    kw = {"layout": layout, "groups": groups}
    avg = (fan_in + fan_out) / 2
    assert wi.he_normal().variance(shape, **kw) == pytest.approx(2 / fan_in, rel=1e-15)
    assert wi.he_uniform(mode="fan_out").variance(shape, **kw) == pytest.approx(2 / fan_out)
    assert wi.lecun_normal().variance(shape, **kw) == pytest.approx(1 / fan_in, rel=1e-15)
    assert wi.lecun_uniform().variance(shape, **kw) == pytest.approx(1 / fan_in, rel=1e-15)
    assert wi.glorot_normal().variance(shape, **kw) == pytest.approx(1 / avg, rel=1e-15)
    assert wi.glorot_uniform().variance(shape, **kw) == pytest.approx(1 / avg, rel=1e-15)
    geo = wi.variance_scaling(3.0, "fan_geo_avg", "normal").variance(shape, **kw)
    assert geo == pytest.approx(3 / math.sqrt(fan_in * fan_out), rel=1e-14)


@settings(max_examples=100, deadline=None)
@given(st.floats(-10.0, 10.0), st.sampled_from(MODES), weight_cases(max_dim=20))
def test_he_negative_slope(slope, mode, case):
    shape, layout, groups = case
    fan = fan_of(shape, mode, layout=layout, groups=groups)
    expected = 2.0 / ((1.0 + slope**2) * fan)
    for factory in (wi.he_normal, wi.he_uniform):
        got = factory(negative_slope=slope, mode=mode).variance(shape, layout=layout, groups=groups)
        assert got == pytest.approx(expected, rel=1e-13)


def test_he_fan_out():
    assert wi.he_normal(mode="fan_out").variance((100, 50)) == pytest.approx(2 / 50)
    assert wi.he_normal(0.5, "fan_out").variance((100, 50)) == pytest.approx(2 / 1.25 / 50)
    assert wi.he_normal(negative_slope=1.0) == wi.lecun_normal()


@settings(max_examples=100, deadline=None)
@given(st.floats(0.01, 100.0), weight_cases(max_dim=20))
def test_gain_multiplies_variance_by_its_square(gain, case):
    shape, layout, groups = case
    kw = {"layout": layout, "groups": groups}
    for factory in (wi.lecun_normal, wi.lecun_uniform, wi.glorot_normal, wi.glorot_uniform):
        assert factory(gain).variance(shape, **kw) == pytest.approx(
            gain**2 * factory().variance(shape, **kw), rel=1e-13
        )


def test_truncated_normal_variance_known_value():
    assert truncated_variance(2.0) == pytest.approx(0.7737413035499232, rel=1e-15)
    assert wi.truncated_normal(1.0).variance((3, 3)) == pytest.approx(0.7737413035499232)
    assert wi.truncated_normal(0.1, bound=2.0).variance((3, 3)) == pytest.approx(
        0.007737413035499232, rel=1e-14
    )


@settings(max_examples=100, deadline=None)
@given(positive, finite, st.floats(0.05, 8.0))
def test_truncated_normal_variance_formula(stddev, mean, bound):
    expected = stddev**2 * truncated_variance(bound)
    got = wi.truncated_normal(stddev, mean, bound).variance((5, 7))
    assert got == pytest.approx(expected, rel=1e-12)
    assert got < stddev**2


@settings(max_examples=50, deadline=None)
@given(positive, finite, uniform_params(), finite)
def test_shape_free_variances(stddev, mean, params, value):
    low, high = params
    assert wi.scaled_normal(stddev, mean).variance((3,)) == pytest.approx(stddev**2)
    assert wi.uniform(low, high).variance(4) == pytest.approx((high - low) ** 2 / 12)
    assert wi.constant(value).variance((2, 2)) == 0.0
    assert wi.zeros().variance(()) == 0.0


def test_variance_of_zero_fan_raises():
    with pytest.raises(ValueError, match=r"fan_in = 0"):
        wi.he_normal().variance((0, 5))
    with pytest.raises(ValueError, match=r"fan_out = 0"):
        wi.variance_scaling(1.0, "fan_out", "uniform").variance((5, 0))
    with pytest.raises(ValueError, match=r"fan_geo_avg = 0"):
        wi.variance_scaling(1.0, "fan_geo_avg", "normal").variance((3, 3, 0, 8))
    # The average of 0 and 5 is not 0.
    assert wi.glorot_normal().variance((0, 5)) == pytest.approx(1 / 2.5)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda: wi.variance_scaling(mode="fan_inn"), r"'fan_inn'\. Did you mean 'fan_in'\?"),
        (lambda: wi.he_normal(mode="fan_outt"), r"'fan_outt'\. Did you mean 'fan_out'\?"),
        (lambda: wi.variance_scaling(mode="FAN_IN"), r"mode must be one of 'fan_in'"),
        (
            lambda: wi.variance_scaling(distribution="normall"),
            r"'normall'\. Did you mean 'normal'\?",
        ),
        (
            lambda: wi.variance_scaling(distribution="truncated"),
            r"Did you mean 'truncated_normal'\?",
        ),
        (lambda: wi.variance_scaling(mode="xyz"), r"got 'xyz'\.$"),
    ],
)
def test_bad_choice_names_value_and_suggests(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_mode_error_lists_choices_in_order():
    with pytest.raises(ValueError, match="'fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg'"):
        wi.variance_scaling(mode="bad")
    with pytest.raises(ValueError, match="'normal', 'uniform', 'truncated_normal'"):
        wi.variance_scaling(distribution="bad")


BAD_NUMBERS = [0, 0.0, -1.0, -1e-300, float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("bad", BAD_NUMBERS, ids=repr)
@pytest.mark.parametrize(
    ("name", "factory"),
    [
        ("scale", lambda v: wi.variance_scaling(scale=v)),
        ("stddev", lambda v: wi.scaled_normal(stddev=v)),
        ("stddev", lambda v: wi.truncated_normal(stddev=v)),
        ("bound", lambda v: wi.truncated_normal(bound=v)),
        ("gain", wi.lecun_normal),
        ("gain", wi.lecun_uniform),
        ("gain", wi.glorot_normal),
        ("gain", wi.glorot_uniform),
    ],
)
def test_nonpositive_or_nonfinite_parameter(name, factory, bad):
    with pytest.raises(ValueError, match=rf"{name} must be positive and finite; got {bad!r}"):
        factory(bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")], ids=repr)
@pytest.mark.parametrize(
    ("name", "factory"),
    [
        ("value", wi.constant),
        ("mean", lambda v: wi.scaled_normal(mean=v)),
        ("mean", lambda v: wi.truncated_normal(mean=v)),
        ("low", lambda v: wi.uniform(low=v)),
        ("high", lambda v: wi.uniform(high=v)),
        ("negative_slope", wi.he_normal),
        ("negative_slope", wi.he_uniform),
    ],
)
def test_nonfinite_parameter(name, factory, bad):
    with pytest.raises(ValueError, match=rf"{name} must be finite; got {bad!r}"):
        factory(bad)


@pytest.mark.parametrize("bad", [None, True, [1.0], 1j])
def test_non_numeric_parameter(bad):
    with pytest.raises(TypeError, match=r"scale must be a real number"):
        wi.variance_scaling(scale=bad)
    with pytest.raises(TypeError, match=r"stddev must be a real number"):
        wi.scaled_normal(bad)
    with pytest.raises(TypeError, match=r"gain must be a real number"):
        wi.glorot_uniform(bad)


def test_string_scale_is_a_type_error():
    with pytest.raises(TypeError, match=r"scale must be a real number; got '1\.0' of type str"):
        wi.variance_scaling(scale="1.0")


@pytest.mark.parametrize(("low", "high"), [(1.0, 1.0), (2.0, 1.0), (0.05, -0.05)])
def test_uniform_low_not_below_high(low, high):
    with pytest.raises(ValueError, match=rf"low < high; got low={low!r}, high={high!r}"):
        wi.uniform(low, high)


def test_uniform_infinite_width():
    with pytest.raises(ValueError, match="finite width"):
        wi.uniform(-1e308, 1e308)


def test_constant_not_representable():
    with pytest.raises(ValueError, match=r"1000000\.0 cannot be represented in float16"):
        wi.constant(1e6)((2, 2), np.float16)
    with pytest.raises(ValueError, match=r"70000\.0 cannot be represented in float16"):
        wi.constant(-70000.0).fill(np.zeros(3, np.float16))
    assert (wi.constant(1e6)((2, 2), np.float32) == 1e6).all()
    assert (wi.constant(65504.0)((2,), np.float16) == 65504.0).all()


@pytest.mark.parametrize(
    "dtype", [np.int32, np.int64, np.uint8, bool, np.complex64, np.complex128, "U3", object]
)
def test_non_float_dtype(dtype):
    name = np.dtype(dtype).name
    with pytest.raises(TypeError, match=rf"float16, float32, float64; got '{name}'"):
        wi.he_normal()((3, 3), dtype)
    with pytest.raises(TypeError, match=rf"got '{name}'"):
        wi.zeros()((3, 3), dtype)


def test_invalid_dtype_spec():
    with pytest.raises(TypeError, match="not_a_dtype"):
        wi.he_normal()((3, 3), "not_a_dtype")


def test_fill_read_only():
    array = np.zeros((3, 3), dtype=np.float32)
    array.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        wi.he_normal().fill(array, seed=0)


@pytest.mark.parametrize("dtype", [np.int32, np.complex128])
def test_fill_non_float(dtype):
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        wi.he_normal().fill(np.zeros((3, 3), dtype=dtype), seed=0)


def test_fill_non_array():
    with pytest.raises(TypeError, match="got list"):
        wi.he_normal().fill([[0.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize(
    ("seed", "error", "pattern"),
    [
        ("abc", TypeError, r"got 'abc' of type str"),
        (1.5, TypeError, r"got 1\.5 of type float"),
        (True, TypeError, r"got True of type bool"),
        ([1, 2], TypeError, r"got \[1, 2\] of type list"),
        (-1, ValueError, r"^seed must be >= 0; got -1\.$"),
        (np.int64(-3), ValueError, r"^seed must be >= 0; got -3\.$"),
    ],
)
@pytest.mark.parametrize("init", [wi.he_normal(), wi.zeros(), wi.truncated_normal()], ids=repr)
def test_bad_seed(init, seed, error, pattern):
    with pytest.raises(error, match=pattern):
        init((3, 3), seed=seed)
    with pytest.raises(error, match=pattern):
        init.fill(np.zeros((3, 3), np.float32), seed=seed)


@pytest.mark.parametrize(
    ("layout", "pattern"),
    [
        ("in_outt", r"got 'in_outt'\. Did you mean 'in_out'\?"),
        ("out-inn", r"got 'out-inn'\. Did you mean 'out_in'\?"),
        ("pytorch_transpose", r"Did you mean 'pytorch_transposed'\?"),
        ("nonsense", r"layout must be one of 'in_out', 'out_in', 'pytorch_transposed'"),
    ],
)
def test_bad_layout(layout, pattern):
    with pytest.raises(ValueError, match=pattern):
        wi.he_normal()((3, 3), layout=layout)
    with pytest.raises(ValueError, match=pattern):
        wi.he_normal().variance((3, 3), layout=layout)
    with pytest.raises(ValueError, match=pattern):
        wi.scaled_normal()((3, 3), layout=layout)


@pytest.mark.parametrize("shape", [(5,), 5, ()])
@pytest.mark.parametrize("init", [wi.he_normal(), wi.glorot_uniform(), wi.variance_scaling()])
def test_rank_below_two_for_fan_based(init, shape):
    with pytest.raises(ValueError, match=r"has no fans.*zeros\(\)"):
        init(shape, seed=0)
    with pytest.raises(ValueError, match=r"zeros\(\)"):
        init.variance(shape)


def test_rank_one_fine_for_shape_free():
    for init in (wi.zeros(), wi.scaled_normal(), wi.uniform(), wi.truncated_normal()):
        assert init((5,), seed=0).shape == (5,)
        assert init((), seed=0).shape == ()


def test_bad_groups():
    with pytest.raises(ValueError, match=r"groups=3 does not divide the output channel count 4"):
        wi.he_normal()((4, 4), groups=3)
    with pytest.raises(ValueError, match=r"groups=2 does not apply to layout 'keras_depthwise'"):
        wi.he_normal()((3, 3, 4, 4), layout="keras_depthwise", groups=2)
    with pytest.raises(ValueError, match=r"groups must be >= 1; got 0"):
        wi.he_normal()((4, 4), groups=0)


@pytest.mark.parametrize("shape", ["ab", (3, -1), (3, 1.5), 2.0])
def test_bad_shape(shape):
    with pytest.raises((TypeError, ValueError), match="shape"):
        wi.he_normal()(shape)


# Parameters so large or small that gain**2 or 2 / (1 + slope**2) leaves float range must
# still be reported as the parameter the user wrote, as a ValueError.
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: wi.lecun_normal(gain=1e200), "gain"),
        (lambda: wi.glorot_uniform(gain=1e-200), "gain"),
        (lambda: wi.he_normal(negative_slope=1e200), "negative_slope"),
    ],
)
def test_parameters_that_overflow_the_scale(call, name):
    with pytest.raises(ValueError, match=name):
        call()


@pytest.mark.parametrize(
    "init",
    [wi.uniform(-1e5, 1e5), wi.uniform(0.0, 7e4), wi.scaled_normal(1e5), wi.truncated_normal(1e5)],
    ids=repr,
)
def test_values_not_representable_in_dtype(init):
    # As for constant(): values the dtype cannot hold are an error, not a silent inf.
    with pytest.raises(ValueError, match=r"cannot be represented in float16"):
        init((4, 4), np.float16, seed=0)
    with pytest.raises(ValueError, match=r"cannot be represented in float16"):
        init.fill(np.zeros((4, 4), np.float16), seed=0)
    assert np.isfinite(init((4, 4), np.float32, seed=0)).all()


# --------------------------------------------------------------------------- equality


PRESETS = [
    (wi.lecun_normal(), (1.0, "fan_in", "normal")),
    (wi.lecun_uniform(), (1.0, "fan_in", "uniform")),
    (wi.glorot_normal(), (1.0, "fan_avg", "normal")),
    (wi.glorot_uniform(), (1.0, "fan_avg", "uniform")),
    (wi.he_normal(), (2.0, "fan_in", "normal")),
    (wi.he_uniform(), (2.0, "fan_in", "uniform")),
    (wi.xavier_normal(), (1.0, "fan_avg", "normal")),
    (wi.xavier_uniform(), (1.0, "fan_avg", "uniform")),
    (wi.kaiming_normal(), (2.0, "fan_in", "normal")),
    (wi.kaiming_uniform(), (2.0, "fan_in", "uniform")),
    (wi.he_normal(mode="fan_out"), (2.0, "fan_out", "normal")),
    (wi.he_uniform(negative_slope=1.0), (1.0, "fan_in", "uniform")),
    (wi.lecun_normal(gain=2.0), (4.0, "fan_in", "normal")),
    (wi.glorot_uniform(gain=3.0), (9.0, "fan_avg", "uniform")),
]


@pytest.mark.parametrize(("preset", "args"), PRESETS, ids=[repr(p) for p, _ in PRESETS])
def test_preset_equals_its_variance_scaling(preset, args):
    core = wi.variance_scaling(*args)
    assert preset == core
    assert hash(preset) == hash(core)
    assert np.array_equal(preset((20, 30), seed=1), core((20, 30), seed=1))


def test_he_normal_is_variance_scaling():
    assert wi.he_normal() == wi.variance_scaling(2.0, "fan_in", "normal")
    assert wi.he_normal() != wi.variance_scaling(2.0, "fan_in", "truncated_normal")
    assert wi.he_normal() != wi.he_uniform()
    assert wi.zeros() == wi.constant(0.0) == wi.constant(0)
    assert wi.zeros() != wi.ones()
    assert wi.scaled_normal() != wi.truncated_normal()
    assert wi.variance_scaling() != "variance_scaling"


def test_aliases_are_the_same_functions():
    assert wi.xavier_normal is wi.glorot_normal
    assert wi.xavier_uniform is wi.glorot_uniform
    assert wi.kaiming_normal is wi.he_normal
    assert wi.kaiming_uniform is wi.he_uniform


def test_hashable_in_a_set():
    inits = {
        wi.he_normal(),
        wi.kaiming_normal(),
        wi.variance_scaling(2.0, "fan_in", "normal"),
        wi.zeros(),
        wi.constant(0.0),
        wi.glorot_uniform(),
        wi.uniform(),
        wi.uniform(-0.05, 0.05),
    }
    assert len(inits) == 4
    assert {wi.he_normal(): "x"}[wi.kaiming_normal()] == "x"


def test_frozen():
    init = wi.he_normal()
    with pytest.raises(AttributeError):
        init.scale = 3.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("init", "text"),
    [
        # The repr is the public call that makes the initializer (defaults omitted).
        (wi.he_normal(), "he_normal()"),
        (wi.zeros(), "zeros()"),
        (wi.uniform(-1, 1), "uniform(-1.0, 1.0)"),
        (wi.scaled_normal(0.5), "normal(0.5)"),
        (wi.truncated_normal(), "truncated_normal()"),
    ],
)
def test_repr(init, text):
    assert repr(init) == text
    assert "0x" not in repr(init)
    assert eval(text, vars(wi)) == init


def test_parameters_are_normalised_to_float():
    init = wi.variance_scaling(np.float32(2), "fan_in", "normal")
    assert type(init.scale) is float
    assert init == wi.he_normal()
    assert type(wi.constant(np.int64(3)).value) is float
