"""Structured initializers: orthogonal, identity, dirac, delta-orthogonal, sparse.

Each is checked by the property that defines it (orthogonality, an identity convolution,
exact zero counts), by statistics whose tolerances are derived from the sampling
distribution, and, when PyTorch is installed, against ``torch.nn.init``.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi
from weightinit._engine import run
from weightinit.distributions import Distribution
from weightinit.initializers import Builder

#: z for two-sided checks with failure odds of about 2e-9 on a correct implementation.
Z = 6.0
#: Failure odds used by the Kolmogorov-Smirnov (DKW) bounds.
ALPHA = 1e-9

# The out axis of each layout the structured initializers are tested in.
OUT_AXIS = {"in_out": -1, "out_in": 0, "pytorch": 0}


# --------------------------------------------------------------------------- helpers


def matrix_view(w: np.ndarray, layout: str) -> np.ndarray:
    """Rows = output channels, columns = everything else (in any fixed order)."""
    return np.moveaxis(w, OUT_AXIS[layout], 0).reshape(w.shape[OUT_AXIS[layout]], -1)


def gram(m: np.ndarray) -> np.ndarray:
    """``M Mᵀ`` or ``Mᵀ M``, whichever side has fewer vectors, in float64."""
    m = m.astype(np.float64)
    return m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m


def assert_semi_orthogonal(m: np.ndarray, gain: float, atol: float) -> None:
    g = gram(m)
    np.testing.assert_allclose(g, gain**2 * np.eye(len(g)), rtol=0, atol=atol * gain**2)


def to_pytorch(w: np.ndarray, layout: str) -> np.ndarray:
    """A convolution kernel in ``(out, in, *kernel)`` order."""
    if layout == "pytorch":
        return w
    return np.moveaxis(w, (-1, -2), (0, 1))  # (*kernel, in, out) -> (out, in, *kernel)


def conv_same(x: np.ndarray, weight: np.ndarray, groups: int = 1) -> np.ndarray:
    """Reference convolution: PyTorch's cross-correlation with ``padding = k // 2``.

    ``x`` is ``(in_channels, *spatial)``, ``weight`` is ``(out, in // groups, *kernel)`` with
    odd kernel sizes, so the output keeps the spatial shape:
    ``y[o, p] = sum_c sum_d weight[o, c, d] * padded[g * in_pg + c, p + d]``.
    """
    out_channels, in_pg, *kernel = weight.shape
    out_pg = out_channels // groups
    spatial = x.shape[1:]
    padded = np.pad(x, [(0, 0)] + [(k // 2, k // 2) for k in kernel])
    y = np.zeros((out_channels, *spatial))
    for offset in itertools.product(*(range(k) for k in kernel)):
        window = padded[
            (slice(None), *(slice(d, d + s) for d, s in zip(offset, spatial, strict=True)))
        ]
        for g in range(groups):
            taps = weight[(slice(g * out_pg, (g + 1) * out_pg), slice(None), *offset)]
            y[g * out_pg : (g + 1) * out_pg] += np.tensordot(
                taps, window[g * in_pg : (g + 1) * in_pg], axes=1
            )
    return y


def conv_shape(layout: str, out_channels: int, in_pg: int, kernel: tuple[int, ...]):
    if layout == "pytorch":
        return (out_channels, in_pg, *kernel)
    return (*kernel, in_pg, out_channels)


def normal_cdf(x: float, std: float) -> float:
    return 0.5 * (1.0 + math.erf(x / (std * math.sqrt(2.0))))


def ks_statistic(sample: np.ndarray, cdf) -> float:
    """``sup |F_n - F|`` of ``sample`` against the continuous ``cdf``."""
    xs = np.sort(np.asarray(sample, dtype=np.float64))
    n = len(xs)
    f = np.array([cdf(float(x)) for x in xs])
    upper = np.arange(1, n + 1) / n - f
    lower = f - np.arange(n) / n
    return float(max(upper.max(), lower.max()))


def dkw_bound(n: int, alpha: float = ALPHA) -> float:
    """``eps`` with ``P(D_n > eps) <= 2 exp(-2 n eps^2) = alpha`` (Dvoretzky-Kiefer-Wolfowitz)."""
    return math.sqrt(math.log(2.0 / alpha) / (2.0 * n))


# --------------------------------------------------------------------------- orthogonal

ORTHOGONAL_CASES = [
    # (layout, shape): square, tall and wide matrix views, convolution kernels of rank 3-5
    ("in_out", (64, 64)),
    ("in_out", (128, 32)),  # 32 rows of length 128: wide view
    ("in_out", (32, 128)),  # tall view
    ("in_out", (3, 3, 16, 32)),  # 32 x 144: wide
    ("in_out", (3, 3, 2, 64)),  # 64 x 18: tall
    ("in_out", (5, 4, 8)),
    ("in_out", (3, 3, 3, 4, 16)),
    ("pytorch", (64, 64)),
    ("pytorch", (128, 32)),  # tall
    ("pytorch", (32, 128)),  # wide
    ("pytorch", (32, 16, 3, 3)),  # 32 x 144: wide
    ("pytorch", (64, 2, 3, 3)),  # 64 x 18: tall
    ("out_in", (8, 4, 3)),
    ("out_in", (16, 2, 3, 3, 3)),
]


@pytest.mark.parametrize(("layout", "shape"), ORTHOGONAL_CASES)
@pytest.mark.parametrize("gain", [1.0, 1.7])
def test_orthogonal_is_semi_orthogonal_in_float32(layout, shape, gain) -> None:
    w = wi.orthogonal(gain)(shape, seed=1, layout=layout)
    assert w.shape == shape and w.dtype == np.float32
    assert_semi_orthogonal(matrix_view(w, layout), gain, atol=1e-5)


@pytest.mark.parametrize(("layout", "shape"), ORTHOGONAL_CASES)
def test_orthogonal_is_semi_orthogonal_in_float64(layout, shape) -> None:
    w = wi.orthogonal(0.5)(shape, np.float64, seed=2, layout=layout)
    assert w.dtype == np.float64
    assert_semi_orthogonal(matrix_view(w, layout), 0.5, atol=1e-12)


def test_orthogonal_float16_is_the_float32_result_rounded() -> None:
    half = wi.orthogonal()((16, 8), np.float16, seed=3)
    single = wi.orthogonal()((16, 8), np.float32, seed=3)
    assert half.dtype == np.float16
    np.testing.assert_array_equal(half, single.astype(np.float16))
    assert_semi_orthogonal(matrix_view(half, "in_out"), 1.0, atol=5e-3)


def test_orthogonal_layout_aliases_agree() -> None:
    shape = (12, 4, 3, 3)
    a = wi.orthogonal()(shape, seed=4, layout="pytorch")
    for alias in ("out_in", "torch", "OIHW"):
        np.testing.assert_array_equal(wi.orthogonal()(shape, seed=4, layout=alias), a)


def test_orthogonal_layouts_are_transposes_of_each_other() -> None:
    """The matrix view is the same object read from the other side: a 2-D in_out weight
    ``(in, out)`` holds the same matrix as a pytorch weight ``(out, in)``."""
    a = wi.orthogonal()((24, 10), seed=5, layout="in_out")
    b = wi.orthogonal()((10, 24), seed=5, layout="pytorch")
    np.testing.assert_array_equal(a, b.T)


@pytest.mark.parametrize("shape", [(300, 200), (200, 300), (70, 1000)])
def test_assign_copies_transposed_views_exactly(shape) -> None:
    source = np.arange(math.prod(shape), dtype=np.float32).reshape(shape[::-1]).T
    for out in (np.empty(shape, np.float32), np.empty(shape[::-1], np.float32).T):
        run.assign(out, source, block=64)
        np.testing.assert_array_equal(out, source)


@pytest.mark.parametrize(
    "init", [wi.orthogonal(), wi.delta_orthogonal(), wi.sparse()], ids=lambda i: i._name
)
def test_structured_initializers_honour_threads(init, monkeypatch) -> None:
    """``threads`` reaches the Gaussian draw: one thread starts no pool, and the values do
    not depend on the count."""
    pools: list[int] = []
    original = run._pool
    monkeypatch.setattr(run, "_pool", lambda k: pools.append(k) or original(k))
    shape = (1, 1, 1024, 1024)  # 2^20 Gaussian draws or more: where threads=None is parallel
    one = init(shape, seed=3, threads=1)
    assert pools == []
    np.testing.assert_array_equal(init(shape, seed=3, threads=2), one)
    # Two threads ran on the pool of two (one submission per worker).
    assert pools and set(pools) == {2}


HAAR_N = 64
HAAR_SEEDS = 2000


@pytest.fixture(scope="module")
def haar_diagonals() -> np.ndarray:
    """The diagonals of ``HAAR_SEEDS`` orthogonal ``HAAR_N x HAAR_N`` float64 matrices drawn
    with seeds 0, 1, ...: one row per seed."""
    init = wi.orthogonal()
    shape = (HAAR_N, HAAR_N)
    return np.stack([np.diagonal(init(shape, np.float64, seed=s)) for s in range(HAAR_SEEDS)])


def test_orthogonal_first_entry_has_haar_moments(haar_diagonals) -> None:
    """Mean 0 and variance 1/n of the (0, 0) entry over ``N`` seeds.

    Under Haar measure on O(n) each column is uniform on the unit sphere, so an entry x has
    ``E x = 0``, ``E x^2 = 1/n`` and ``E x^4 = 3 / (n (n + 2))``. Over N independent seeds
    the sample mean has standard deviation ``sqrt(1 / (n N))`` and the mean of ``x^2`` (the
    variance about the known mean 0) has standard deviation
    ``sqrt((3 / (n (n + 2)) - 1 / n^2) / N)``. Both are checked at ``Z = 6`` standard
    deviations: a correct implementation fails with odds of about 2e-9 per check.

    The mean is the check that catches a missing sign correction: without it LAPACK's
    Householder QR makes ``q[0, 0] = -|a00| / |a0|`` always negative, a mean of about
    ``-sqrt(2 / (pi n))`` = -0.1, 36 standard deviations (6 tolerances) away. A single
    entry cannot resolve a 5% error in the variance with 2000 seeds (the tolerance is 18%
    of 1/n); the diagonal test does.
    """
    n, count = HAAR_N, HAAR_SEEDS
    x = haar_diagonals[:, 0]
    mean_tol = Z * math.sqrt(1.0 / (n * count))
    assert abs(x.mean()) < mean_tol
    fourth = 3.0 / (n * (n + 2))
    var_tol = Z * math.sqrt((fourth - 1.0 / n**2) / count)
    assert abs(np.mean(x**2) - 1.0 / n) < var_tol


def test_orthogonal_diagonal_second_moment_resolves_five_percent(haar_diagonals) -> None:
    """The mean of ``Q_ii^2`` over the diagonal and the seeds is ``1/n``, to a tolerance that
    a 5% error in the variance would exceed.

    Let ``S = (1/n) sum_i Q_ii^2``. ``E S = 1/n``. For the variance, besides ``E Q_11^4 =
    3/(n(n+2))`` we need ``E Q_11^2 Q_22^2``: row 2 has unit norm, so
    ``1/n = E Q_11^2 = E Q_11^2 Q_21^2 + (n - 1) E Q_11^2 Q_22^2``, and ``E Q_11^2 Q_21^2 =
    1/(n(n+2))`` (two coordinates of one uniform unit vector), which gives
    ``E Q_11^2 Q_22^2 = (n + 1) / ((n - 1) n (n + 2))``. Summing the variances and the
    covariances, ``Var S = 2 / (n^2 (n + 2))``, and the mean of S over N seeds has standard
    deviation ``sd = sqrt(2 / (n^2 (n + 2) N))``.

    The tolerance is ``Z sd``; a 5% error shifts the mean by ``0.05 / n``, which the test
    requires to be at least ``2 Z sd``, so the shifted statistic would also fall outside the
    tolerance with odds of failure to notice of about 1e-9.
    """
    n, count = HAAR_N, HAAR_SEEDS
    squares = haar_diagonals**2
    statistic = squares.mean()
    sd = math.sqrt(2.0 / (n**2 * (n + 2) * count))
    tol = Z * sd
    assert 0.05 / n >= 2 * tol, "too few seeds to resolve a 5% error in the variance"
    assert abs(statistic - 1.0 / n) < tol
    assert abs(1.05 * statistic - 1.0 / n) > tol  # a 5% too large variance is caught
    assert abs(0.95 * statistic - 1.0 / n) > tol  # and a 5% too small one


def test_orthogonal_trace_has_haar_mean_and_variance(haar_diagonals) -> None:
    """``tr Q`` of a Haar orthogonal matrix has mean 0 and ``E (tr Q)^2 = 1`` for every n.

    ``E Q_ii Q_jj = 0`` for ``i != j`` (flip the sign of row i), so ``E (tr Q)^2 = n * 1/n``.
    Over N seeds the mean has sd ``1 / sqrt(N)``; ``(tr Q)^2`` has fourth moment
    ``E (tr Q)^4 = 3`` for n >= 4 (Diaconis & Shahshahani 1994), so the mean of squares has sd
    ``sqrt(2 / N)``.
    """
    count = HAAR_SEEDS
    trace = haar_diagonals.sum(axis=1)
    assert abs(trace.mean()) < Z / math.sqrt(count)
    assert abs(np.mean(trace**2) - 1.0) < Z * math.sqrt(2.0 / count)


def test_orthogonal_3x3_entry_is_uniform_on_minus_one_one() -> None:
    """For n = 3 the first coordinate of a uniform point on the sphere is uniform on
    [-1, 1] (Archimedes), so the (0, 0) entry's empirical CDF must stay within the DKW
    bound ``sqrt(ln(2 / alpha) / (2 N))`` of ``(x + 1) / 2``."""
    count = 2000
    init = wi.orthogonal()
    x = np.array([init((3, 3), np.float64, seed=s)[0, 0] for s in range(count)])
    d = ks_statistic(x, lambda v: (v + 1.0) / 2.0)
    assert d < dkw_bound(count)


def test_orthogonal_entry_variance_of_a_wide_shape_is_one_over_max() -> None:
    """A 5 x 12 ``in_out`` weight is a 12 x 5 matrix with orthonormal columns; its (0, 0)
    entry is a coordinate of a uniform unit vector in R^12: variance 1/12 = variance()."""
    count = 600
    init = wi.orthogonal(2.0)
    shape = (5, 12)
    x = np.array([init(shape, np.float64, seed=s)[0, 0] for s in range(count)]) / 2.0
    m = 12
    assert init.variance(shape) == pytest.approx(4.0 / m, rel=1e-15)
    tol = Z * math.sqrt((3.0 / (m * (m + 2)) - 1.0 / m**2) / count)
    assert abs(np.mean(x**2) - 1.0 / m) < tol


@pytest.mark.parametrize(("layout", "shape"), ORTHOGONAL_CASES)
def test_orthogonal_variance_is_gain_squared_over_max_dim(layout, shape) -> None:
    """The mean of squares of one semi-orthogonal ``r x c`` matrix is exactly
    ``gain^2 min(r, c) / (r c) = gain^2 / max(r, c)``; every entry has that variance."""
    init = wi.orthogonal(1.3)
    rows = shape[OUT_AXIS[layout]]
    cols = math.prod(shape) // rows
    expected = 1.3**2 / max(rows, cols)
    assert init.variance(shape, layout=layout) == pytest.approx(expected, rel=1e-15)
    for seed in range(3):
        w = init(shape, np.float64, seed=seed, layout=layout)
        assert np.mean(w**2) == pytest.approx(expected, rel=1e-12)


def test_orthogonal_variance_of_an_empty_shape_raises() -> None:
    with pytest.raises(ValueError, match=r"is empty, so it has no variance"):
        wi.orthogonal().variance((0, 0))


@pytest.mark.parametrize(
    ("init", "shape", "layout"),
    [
        (wi.orthogonal(), (20, 12), "in_out"),
        (wi.orthogonal(), (6, 4, 3, 3), "pytorch"),
        (wi.delta_orthogonal(), (3, 3, 4, 6), "in_out"),
        (wi.sparse(0.4), (15, 9), "in_out"),
        (wi.sparse(0.4), (7, 5, 3), "pytorch"),
    ],
)
def test_same_seed_same_bytes_and_regions_are_slices(init, shape, layout) -> None:
    whole = init(shape, seed=11, layout=layout)
    assert whole.tobytes() == init(shape, seed=11, layout=layout).tobytes()
    assert whole.tobytes() == init(shape, seed=np.random.SeedSequence(11), layout=layout).tobytes()
    assert not np.array_equal(whole, init(shape, seed=12, layout=layout))
    for region in (np.s_[1:4], np.s_[::-1, 2], np.s_[..., 1:3], np.s_[-1], np.s_[::2, 1::3]):
        part = init(shape, seed=11, layout=layout, region=region)
        np.testing.assert_array_equal(part, whole[region])
    filled = init.fill(np.empty(shape[::-1], np.float32).T, seed=11, layout=layout)
    np.testing.assert_array_equal(filled, whole)


def test_a_generator_seed_is_advanced() -> None:
    rng = np.random.default_rng(0)
    first = wi.orthogonal()((6, 6), seed=rng)
    assert not np.array_equal(first, wi.orthogonal()((6, 6), seed=rng))


def test_orthogonal_needs_rank_two() -> None:
    with pytest.raises(ValueError, match=r"orthogonal needs a shape of rank >= 2"):
        wi.orthogonal()((5,))


# --------------------------------------------------------------------------- identity


@pytest.mark.parametrize("shape", [(4, 4), (2, 5), (5, 2), (1, 1)])
@pytest.mark.parametrize("gain", [1.0, 0.5, -2.0])
def test_identity_is_gain_on_the_main_diagonal(shape, gain) -> None:
    w = wi.identity(gain)(shape)
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, gain * np.eye(*shape, dtype=np.float32))
    # The identity ignores the layout: ones at (i, i) whichever axis is the input.
    np.testing.assert_array_equal(wi.identity(gain)(shape, layout="pytorch"), w)


@pytest.mark.parametrize("shape", [(4,), (3, 3, 3)])
def test_identity_needs_a_matrix(shape) -> None:
    with pytest.raises(ValueError, match=r"identity needs a 2-D shape; got .* of rank"):
        wi.identity()(shape)


# --------------------------------------------------------------------------- dirac

KERNELS = {3: (3,), 4: (3, 5), 5: (1, 3, 3)}
SPATIAL = {3: (7,), 4: (5, 6), 5: (3, 4, 5)}
CHANNELS = [
    # (in per group, out per group, groups)
    (3, 3, 1),
    (2, 5, 1),
    (5, 2, 1),
    (2, 3, 2),
    (3, 2, 3),
]


@pytest.mark.parametrize("rank", [3, 4, 5])
@pytest.mark.parametrize("layout", ["pytorch", "in_out"])
@pytest.mark.parametrize(("in_pg", "out_pg", "groups"), CHANNELS)
def test_dirac_convolution_is_the_identity(rank, layout, in_pg, out_pg, groups) -> None:
    shape = conv_shape(layout, out_pg * groups, in_pg, KERNELS[rank])
    rng = np.random.default_rng(rank)
    x = rng.standard_normal((in_pg * groups, *SPATIAL[rank]))
    gain = 1.0 if groups == 1 else 2.5
    for init, call_groups in ((wi.dirac(groups, gain), 1), (wi.dirac(gain=gain), groups)):
        w = init(shape, np.float64, layout=layout, groups=call_groups)
        y = conv_same(x, to_pytorch(w, layout), groups)
        for g in range(groups):
            for i in range(out_pg):
                if i < min(in_pg, out_pg):
                    np.testing.assert_allclose(y[g * out_pg + i], gain * x[g * in_pg + i])
                else:
                    assert not y[g * out_pg + i].any()


@pytest.mark.parametrize(
    ("init", "shape", "kwargs", "match"),
    [
        (wi.dirac(), (4, 4), {}, r"convolution kernel of rank 3 to 5; got \(4, 4\) of rank 2"),
        (wi.dirac(), (2, 2, 2, 2, 2, 2), {}, r"rank 3 to 5"),
        (wi.dirac(), (3, 3, 4, 1), {"layout": "keras_depthwise"}, r"layout 'keras_depthwise'"),
        (wi.dirac(3), (4, 2, 3, 3), {"layout": "pytorch"}, r"groups=3 does not divide .* 4"),
        (wi.dirac(), (3, 3, 2, 4), {"groups": 3}, r"groups=3 does not divide .* 4"),
        (wi.dirac(2), (4, 2, 3, 3), {"groups": 4}, r"dirac\(groups=2\) .* groups=4"),
        (wi.dirac(), (4, 2, 3, 3), {"groups": 0}, r"groups must be >= 1; got 0"),
    ],
)
def test_dirac_errors(init, shape, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        init(shape, **kwargs)


def test_dirac_grouped_transposed_is_the_identity() -> None:
    """``ConvTranspose2d(4, 4, 3, groups=2, padding=1)`` has a ``(4, 2, 3, 3)`` weight;
    input channel ``2 g + i`` reaches output ``2 g + j`` through ``w[2 g + i, j]``, so the
    identity is ``w[2 g + i, i, 1, 1] = 1``."""
    expected = np.zeros((4, 2, 3, 3), np.float32)
    for g, i in itertools.product(range(2), range(2)):
        expected[2 * g + i, i, 1, 1] = 1.0
    got = wi.dirac(2)((4, 2, 3, 3), layout="pytorch_transposed")
    np.testing.assert_array_equal(got, expected)


# --------------------------------------------------------------------------- delta-orthogonal

DELTA_CASES = [
    ("in_out", (3, 3, 8, 16)),
    ("in_out", (5, 4, 4)),
    ("in_out", (3, 1, 3, 2, 6)),
    ("pytorch", (16, 8, 3, 3)),
    ("pytorch", (4, 4, 5)),
    ("pytorch", (6, 2, 3, 1, 3)),
]


@pytest.mark.parametrize(("layout", "shape"), DELTA_CASES)
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_delta_orthogonal_is_an_orthogonal_centre(layout, shape, gain) -> None:
    w = wi.delta_orthogonal(gain)(shape, np.float64, seed=7, layout=layout)
    rank = len(shape)
    kernel_axes = range(rank - 2) if layout == "in_out" else range(2, rank)
    centre_index: list[object] = [slice(None)] * rank
    for axis in kernel_axes:
        centre_index[axis] = shape[axis] // 2
    centre = w[tuple(centre_index)]
    rest = w.copy()
    rest[tuple(centre_index)] = 0.0
    assert not rest.any()
    # The centre is (in, out) for in_out and (out, in) for pytorch; in <= out, so the
    # orthonormal vectors are the in-channel ones: C Cᵀ (resp. Cᵀ C) = gain² I_in.
    c = centre if layout == "in_out" else centre.T
    np.testing.assert_allclose(c @ c.T, gain**2 * np.eye(len(c)), rtol=0, atol=1e-12)
    w32 = wi.delta_orthogonal(gain)(shape, seed=7, layout=layout)
    assert_semi_orthogonal(w32[tuple(centre_index)], gain, atol=1e-5)


@pytest.mark.parametrize(
    ("shape", "layout", "match"),
    [
        ((3, 3, 16, 8), "in_out", r"in channels <= out channels; .* 16 in and 8 out"),
        ((8, 16, 3, 3), "pytorch", r"in channels <= out channels; .* 16 in and 8 out"),
        ((8, 16), "in_out", r"rank 3 to 5; got \(8, 16\) of rank 2"),
        ((3, 3, 4, 1), "keras_depthwise", r"does not apply to layout 'keras_depthwise'"),
    ],
)
def test_delta_orthogonal_errors(shape, layout, match) -> None:
    with pytest.raises(ValueError, match=match):
        wi.delta_orthogonal()(shape, layout=layout)


# --------------------------------------------------------------------------- sparse


@st.composite
def sparse_cases(draw):
    layout = draw(st.sampled_from(["in_out", "out_in"]))
    rank = draw(st.integers(2, 4))
    shape = tuple(draw(st.lists(st.integers(1, 7), min_size=rank, max_size=rank)))
    sparsity = draw(st.floats(0.0, 1.0))
    return shape, layout, sparsity


@settings(max_examples=60, deadline=None)
@given(sparse_cases(), st.integers(0, 2**32 - 1))
def test_sparse_zero_count_per_output_unit(case, seed) -> None:
    """Each output unit (a column of an ``(in, out)`` weight, a row of an ``(out, in)``
    weight; generally a row of the matrix view) has ``ceil(sparsity * inputs)`` zeros.

    The count uses the sparsity's decimal form exactly (``Fraction(repr(sparsity))``), so
    it can be one less than ``torch.nn.init.sparse_``'s floating-point ceil (see
    ``test_sparse_count_follows_the_decimal_sparsity``).
    """
    shape, layout, sparsity = case
    init = wi.sparse(sparsity)
    w = init(shape, seed=seed, layout=layout)
    m = matrix_view(w, layout)
    inputs = m.shape[1]
    expected = math.ceil(Fraction(repr(sparsity)) * inputs)
    assert init.zeros_per_unit(shape, layout=layout) == expected
    assert ((m == 0).sum(axis=1) == expected).all()
    assert init.variance(shape, layout=layout) == pytest.approx(
        (1.0 - expected / inputs) * 0.01**2, rel=1e-15, abs=0.0
    )


def test_sparse_in_out_zeros_columns_and_out_in_zeros_rows() -> None:
    a = wi.sparse(0.75)((8, 5), seed=0)  # in_out: 5 units of 8 inputs
    assert ((a == 0).sum(axis=0) == 6).all()
    b = wi.sparse(0.75)((5, 8), seed=0, layout="pytorch")  # out_in: 5 units of 8 inputs
    assert ((b == 0).sum(axis=1) == 6).all()


def test_sparse_count_follows_the_decimal_sparsity() -> None:
    inputs = 100
    expected = math.ceil(Fraction("0.07") * inputs)  # 7
    w = wi.sparse(0.07)((inputs, 3), seed=0)
    assert ((w == 0).sum(axis=0) == expected).all()


SPARSE_SHAPE = (1000, 200)  # in_out: 200 units of 1000 inputs
SPARSE_SPARSITY = 0.5
SPARSE_STD = 0.05


@pytest.fixture(scope="module")
def sparse_draw() -> np.ndarray:
    init = wi.sparse(SPARSE_SPARSITY, SPARSE_STD)
    return init(SPARSE_SHAPE, np.float64, seed=2024)


def test_sparse_nonzeros_have_normal_moments(sparse_draw) -> None:
    """The M non-zeros are independent N(0, s^2): the sample mean has sd ``s / sqrt(M)`` and
    the mean of squares (variance about the known mean) has sd ``s^2 sqrt(2 / M)``, since
    ``Var x^2 = 2 s^4``; both are checked at ``Z`` standard deviations."""
    x = sparse_draw[sparse_draw != 0]
    m, s = x.size, SPARSE_STD
    assert m == SPARSE_SHAPE[1] * (SPARSE_SHAPE[0] // 2)
    assert abs(x.mean()) < Z * s / math.sqrt(m)
    assert abs(np.mean(x**2) - s**2) < Z * s**2 * math.sqrt(2.0 / m)


def test_sparse_nonzeros_pass_a_ks_test_against_the_normal(sparse_draw) -> None:
    x = sparse_draw[sparse_draw != 0]
    d = ks_statistic(x, lambda v: normal_cdf(v, SPARSE_STD))
    assert d < dkw_bound(x.size)


def test_sparse_variance_matches_the_empirical_mean_of_squares(sparse_draw) -> None:
    """Over all M elements, ``sum w^2`` is ``s^2`` times a sum of exactly ``p M`` squared
    standard normals (``p = 1 - k / inputs``), so the mean of squares has mean ``p s^2`` =
    variance() and sd ``s^2 sqrt(2 p / M)``."""
    init = wi.sparse(SPARSE_SPARSITY, SPARSE_STD)
    inputs = SPARSE_SHAPE[0]
    k = math.ceil(SPARSE_SPARSITY * inputs)
    p = 1.0 - k / inputs
    variance = init.variance(SPARSE_SHAPE)
    assert variance == pytest.approx(p * SPARSE_STD**2, rel=1e-15)
    m = sparse_draw.size
    tol = Z * SPARSE_STD**2 * math.sqrt(2.0 * p / m)
    assert abs(np.mean(sparse_draw**2) - variance) < tol


def test_sparse_zeros_are_spread_over_the_inputs() -> None:
    """Units are independent, so how often input i is zero across U units is
    Binomial(U, k / inputs); every input stays within Z sd of its mean."""
    inputs, units, sparsity = 40, 2000, 0.3
    w = wi.sparse(sparsity)((inputs, units), seed=5)
    q = math.ceil(sparsity * inputs) / inputs
    counts = (w == 0).sum(axis=1)
    tol = Z * math.sqrt(units * q * (1 - q))
    assert np.abs(counts - units * q).max() < tol


@pytest.mark.parametrize(("sparsity", "expected"), [(0.0, 0), (1.0, 6)])
def test_sparse_extremes(sparsity, expected) -> None:
    init = wi.sparse(sparsity)
    w = init((6, 4), seed=0)
    assert ((w == 0).sum(axis=0) == expected).all()
    assert init.variance((6, 4)) == pytest.approx((1.0 - expected / 6) * 1e-4, rel=1e-15)


def test_sparse_needs_rank_two() -> None:
    with pytest.raises(ValueError, match=r"sparse needs a shape of rank >= 2"):
        wi.sparse()((6,))


# --------------------------------------------------------------------------- variance()


@pytest.mark.parametrize(
    ("init", "shape", "layout"),
    [
        (wi.identity(), (3, 3), "in_out"),
        (wi.dirac(), (4, 4, 3, 3), "pytorch"),
        (wi.delta_orthogonal(), (3, 3, 4, 8), "in_out"),
    ],
)
def test_variance_raises_where_there_is_no_common_variance(init, shape, layout) -> None:
    name = init.get_config()["name"]  # identity, dirac, delta_orthogonal
    with pytest.raises(ValueError, match=rf"^{name} .* no common per-element variance"):
        init.variance(shape, layout=layout)
    # The plan says the same: the weight is built whole, with no common moments.
    plan = init.recipe(shape, layout=layout)
    assert plan.elementwise is False
    with pytest.raises(ValueError, match=rf"^{name} .* no common per-element variance"):
        plan.mean()


STRUCTURED_PLANS = [
    (wi.orthogonal(), (6, 4)),
    (wi.identity(), (3, 3)),
    (wi.dirac(), (3, 3, 4, 4)),
    (wi.delta_orthogonal(), (3, 3, 4, 8)),
    (wi.sparse(), (10, 4)),
]


@pytest.mark.parametrize(("init", "shape"), STRUCTURED_PLANS, ids=repr)
def test_structured_initializers_build_whole_weights(init, shape) -> None:
    # What was the Structured base class is now a plan that is not element-wise: a Builder.
    plan = init.recipe(shape)
    assert isinstance(plan, Builder)
    assert plan.elementwise is False
    w = init(shape, np.float64, seed=2)
    # The builder makes the weight in the canonical order (out, in, *kernel).
    whole = plan.build(np.dtype(np.float64), 2, 1)
    np.testing.assert_array_equal(whole.transpose(np.argsort(plan.axes)), w)
    region = np.s_[1:, ::2]
    np.testing.assert_array_equal(init(shape, np.float64, seed=2, region=region), w[region])


@pytest.mark.parametrize(
    "init", [wi.he_normal(), wi.zeros(), wi.uniform(), wi.truncated_normal()], ids=repr
)
def test_elementwise_initializers_plan_a_distribution(init) -> None:
    plan = init.recipe((6, 4))
    assert isinstance(plan, Distribution)
    assert plan.elementwise is True


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("orthogonal", wi.orthogonal()),
        ("identity", wi.identity()),
        ("eye", wi.identity()),
        ("Eye", wi.identity()),
        ("dirac", wi.dirac()),
        ("delta_orthogonal", wi.delta_orthogonal()),
        ("delta-orthogonal", wi.delta_orthogonal()),
        ("sparse", wi.sparse()),
    ],
)
def test_get_by_name(name, expected) -> None:
    assert wi.get(name) == expected


def test_structured_names_are_listed() -> None:
    listed = wi.names(aliases=True)
    for name in ("orthogonal", "identity", "eye", "dirac", "delta_orthogonal", "sparse"):
        assert name in listed


@pytest.mark.parametrize(
    "init",
    [
        wi.orthogonal(2.0),
        wi.identity(0.5),
        wi.dirac(3, 2.0),
        wi.delta_orthogonal(1.5),
        wi.sparse(0.25, 0.1),
    ],
    ids=repr,
)
def test_get_config_round_trips(init) -> None:
    config = init.get_config()
    assert wi.get(config) == init
    assert hash(wi.get(config)) == hash(init)


def test_configs_are_plain_dicts() -> None:
    assert wi.dirac(2, 0.5).get_config() == {"name": "dirac", "groups": 2, "gain": 0.5}
    assert wi.sparse(0.25, 0.1).get_config() == {
        "name": "sparse",
        "sparsity": 0.25,
        "stddev": 0.1,
    }
    assert wi.get({"name": "eye", "gain": 3.0}) == wi.identity(3.0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: wi.orthogonal(0.0), r"gain must be positive and finite; got 0\.0"),
        (lambda: wi.orthogonal(-1), r"gain must be positive and finite; got -1"),
        (lambda: wi.orthogonal(math.inf), r"gain must be positive and finite; got inf"),
        (lambda: wi.delta_orthogonal(0), r"gain must be positive and finite; got 0"),
        (lambda: wi.identity(math.nan), r"gain must be finite; got nan"),
        (lambda: wi.dirac(gain=math.inf), r"gain must be finite; got inf"),
        (lambda: wi.sparse(1.5), r"sparsity must lie in \[0, 1\]; got 1\.5"),
        (lambda: wi.sparse(-0.1), r"sparsity must lie in \[0, 1\]; got -0\.1"),
        (lambda: wi.sparse(math.nan), r"sparsity must be finite; got nan"),
        (lambda: wi.sparse(0.5, 0.0), r"stddev must be positive and finite; got 0\.0"),
        (lambda: wi.sparse(0.5, -1.0), r"stddev must be positive and finite; got -1\.0"),
        (lambda: wi.dirac(0), r"groups must be >= 1; got 0"),
        (lambda: wi.get({"name": "orthogonal", "gain": -2.0}), r"gain must be positive"),
        (lambda: wi.get({"name": "sparse", "sparsity": 2}), r"sparsity must lie in"),
    ],
)
def test_bad_parameters_fail_where_written(make, match) -> None:
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: wi.orthogonal("1"), r"gain must be a real number; got '1' of type str"),
        (lambda: wi.sparse(True), r"sparsity must be a real number; got True"),
        (lambda: wi.dirac(1.5), r"groups must be an integer; got 1\.5"),
    ],
)
def test_wrong_types_raise_type_error(make, match) -> None:
    with pytest.raises(TypeError, match=match):
        make()


# --------------------------------------------------------------------------- PyTorch parity


def test_reference_convolution_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    functions = {3: torch.nn.functional.conv1d, 4: torch.nn.functional.conv2d}
    functions[5] = torch.nn.functional.conv3d
    for rank, groups in itertools.product((3, 4, 5), (1, 2)):
        kernel = KERNELS[rank]
        weight = rng.standard_normal((4, 3, *kernel))
        x = rng.standard_normal((3 * groups, *SPATIAL[rank]))
        padding = tuple(k // 2 for k in kernel)
        expected = functions[rank](
            torch.from_numpy(x)[None], torch.from_numpy(weight), padding=padding, groups=groups
        )[0].numpy()
        np.testing.assert_allclose(conv_same(x, weight, groups), expected, atol=1e-12)


@pytest.mark.parametrize("shape", [(32, 64), (64, 32), (48, 48), (16, 4, 3, 3), (8, 2, 5)])
def test_orthogonal_matches_torch_structure(shape) -> None:
    """PyTorch views a weight as ``(size(0), numel / size(0))`` and makes the shorter side
    orthonormal; ours with ``layout="pytorch"`` views it the same way."""
    torch = pytest.importorskip("torch")
    theirs = torch.empty(shape)
    torch.nn.init.orthogonal_(theirs, gain=1.5, generator=torch.Generator().manual_seed(0))
    ours = wi.orthogonal(1.5)(shape, seed=0, layout="pytorch")
    rows = shape[0]
    cols = math.prod(shape) // rows
    for m in (theirs.numpy().reshape(rows, cols), ours.reshape(rows, cols)):
        assert_semi_orthogonal(m, 1.5, atol=1e-5)
        side = m @ m.T if rows <= cols else m.T @ m
        assert side.shape == (min(rows, cols),) * 2
    np.testing.assert_allclose(np.mean(ours**2), np.mean(theirs.numpy() ** 2), rtol=1e-5)


@pytest.mark.parametrize(
    ("shape", "groups"),
    [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((5, 3, 3, 3), 1), ((8, 2, 3, 3, 3), 4), ((3, 5, 5), 1)],
)
def test_dirac_equals_torch(shape, groups) -> None:
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init.dirac_(torch.full(shape, 7.0), groups=groups).numpy()
    np.testing.assert_array_equal(wi.dirac(groups)(shape, layout="pytorch"), theirs)
    np.testing.assert_array_equal(wi.dirac()(shape, layout="pytorch", groups=groups), theirs)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_identity_equals_torch_eye(shape) -> None:
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init.eye_(torch.full(shape, 7.0)).numpy()
    np.testing.assert_array_equal(wi.identity()(shape), theirs)


@pytest.mark.parametrize(("shape", "sparsity"), [((20, 6), 0.9), ((31, 4), 0.5), ((10, 3), 0.25)])
def test_sparse_zero_counts_match_torch(shape, sparsity) -> None:
    """``torch.nn.init.sparse_`` zeroes ``ceil(sparsity * rows)`` entries in every column of
    a 2-D ``(rows, cols)`` tensor, whatever its axes mean. On a PyTorch ``Linear`` weight
    ``(out, in)`` a column is one input's fan-out, so PyTorch's rule is per input there;
    our per-output-unit rule (Martens 2010) reads columns only in the ``in_out`` layout.
    So ``sparse_`` on shape ``(r, c)`` corresponds to ours on ``(r, c)`` with
    ``layout="in_out"``; ``layout="pytorch"`` on an ``(out, in)`` weight zeroes per row."""
    torch = pytest.importorskip("torch")
    theirs = torch.empty(shape)
    torch.nn.init.sparse_(theirs, sparsity, std=0.01, generator=torch.Generator().manual_seed(0))
    ours = wi.sparse(sparsity)(shape, seed=0, layout="in_out")
    expected = math.ceil(sparsity * shape[0])
    np.testing.assert_array_equal((theirs.numpy() == 0).sum(axis=0), expected)
    np.testing.assert_array_equal((ours == 0).sum(axis=0), expected)
