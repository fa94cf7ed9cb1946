"""Orthogonal weights whose bytes do not depend on BLAS: the exact products and the QR.

The products are exact in every slice product, so no order of summation can change them;
the tests reorder, regroup and transpose the sums BLAS would do and require the very same
bytes. The orthogonal factor is checked by what defines it: orthonormal columns, the
first column along the first Gaussian column, the signs, and (in ``test_structured``) the
Haar moments over many seeds.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import weightinit as wi
from weightinit._engine import exact
from weightinit._engine import qr

# --------------------------------------------------------------------------- exact products


def test_slices_hold_integers_that_sum_exactly() -> None:
    for inner in (1, 2, 3, 64, 1000, 4096, 12288, 10**6):
        bits = exact.slice_bits(inner)
        assert 2 * bits + (inner - 1).bit_length() <= 53
        assert 2 * (bits + 1) + (inner - 1).bit_length() > 53  # and no bit is wasted


@pytest.mark.parametrize("axis", [0, 1, None])
def test_a_split_is_exact_and_its_slices_are_small_integers(axis) -> None:
    x = np.random.default_rng(0).standard_normal((30, 20)) * np.logspace(-5, 5, 20)
    cut = exact.split(x, axis, 20, 3)
    assert np.all(cut.parts == np.rint(cut.parts))
    assert np.abs(cut.parts[0]).max() <= 2**20
    assert np.abs(cut.parts[1:]).max() <= 2**19
    # The slices with the rest make x: the rest is below half the last slice's unit.
    rest = x - exact.join(cut)
    assert np.all(np.abs(rest) <= cut.scale * 2.0 ** (-60 - 1))
    exponents = np.log2(cut.scale)
    assert np.all(exponents == np.rint(exponents))


def test_a_product_of_integers_is_the_exact_integer_product() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(-(2**12), 2**12, size=(40, 300))
    b = rng.integers(-(2**12), 2**12, size=(300, 50))
    expected = (a.astype(object) @ b.astype(object)).astype(np.float64)
    np.testing.assert_array_equal(exact.matmul(a.astype(float), b.astype(float), 2), expected)


@pytest.mark.parametrize("slices", [1, 2, 3])
def test_a_product_is_accurate_to_its_slices(slices) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((60, 500)), rng.standard_normal((500, 70))
    bits = exact.slice_bits(slices * 500)
    # sqrt(k) 2**(-slices * bits) relative to the row and column maxima, with room for the
    # worst of 4200 entries.
    bound = 8 * np.sqrt(500) * 2.0 ** (-slices * bits) + 4 * np.finfo(float).eps
    scale = np.abs(a).max(axis=1, keepdims=True) * np.abs(b).max(axis=0, keepdims=True)
    assert np.all(np.abs(exact.matmul(a, b, slices) - a @ b) <= bound * scale * 16)


def _reordered_matmul(order: str):
    """``np.matmul`` with the terms of every sum taken in another order: what another BLAS
    kernel or thread count does."""

    def matmul(a, b, out=None):  # matrices or stacks of them
        k = a.shape[-1]
        if order == "reversed":
            result = a[..., ::-1].copy() @ b[..., ::-1, :].copy()
        elif order == "sequential":
            batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
            result = np.zeros((*batch, a.shape[-2], b.shape[-1]))
            for i in range(k):  # one term at a time, left to right
                result += a[..., :, i, None] * b[..., None, i, :]
        elif order == "halves":
            h = k // 2
            result = b[..., h:, :].swapaxes(-1, -2).copy() @ a[..., h:].swapaxes(-1, -2).copy()
            result = result.swapaxes(-1, -2) + a[..., :h] @ b[..., :h, :]
        else:  # a random permutation of the terms
            perm = np.random.default_rng(k).permutation(k)
            result = a[..., perm] @ b[..., perm, :]
        if out is None:
            return result
        out[...] = result
        return out

    return matmul


@pytest.mark.parametrize("order", ["reversed", "sequential", "halves", "permuted"])
def test_products_do_not_depend_on_the_order_of_the_sums(order, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((20, 257)) * 1e3, rng.standard_normal((257, 30))
    expected = [exact.matmul(a, b, s) for s in (1, 2, 3)]
    monkeypatch.setattr(exact.np, "matmul", _reordered_matmul(order))
    for s, want in zip((1, 2, 3), expected, strict=True):
        assert exact.matmul(a, b, s).tobytes() == want.tobytes()


def test_scaling_the_factors_or_the_result_gives_the_same_bytes() -> None:
    rng = np.random.default_rng(4)
    a = rng.standard_normal((80, 5)) * np.logspace(-8, 8, 80)[:, None]
    b = rng.standard_normal((5, 90)) * np.logspace(3, -3, 90)
    bits = exact.slice_bits(3 * 5)
    left, right = exact.split(a, 1, bits, 3), exact.split(b, 0, bits, 3)
    first = exact.product(left, right, scale_first=True)
    assert first.tobytes() == exact.product(left, right, scale_first=False).tobytes()


def test_a_product_refuses_slices_too_wide_for_its_sum() -> None:
    x = np.ones((4, 4096))
    cut = exact.split(x, 1, 26, 2)
    with pytest.raises(ValueError, match="at most 20 bits; got 26 and 26"):
        exact.product(cut, exact.split(x.T, 0, 26, 2))


def test_ordered_products_add_left_to_right() -> None:
    x = np.array([[[1e16, -1e16, 1.0]]])
    y = np.ones((1, 3, 1))
    assert exact.ordered_matmul(x, y)[0, 0, 0] == 1.0  # (1e16 - 1e16) + 1
    assert exact.ordered_matmul(x[:, :, ::-1], y)[0, 0, 0] == 0.0  # (1 - 1e16) + 1e16


# --------------------------------------------------------------------------- the orthogonal factor

SHAPES = [(1, 1), (2, 2), (3, 1), (5, 3), (40, 40), (300, 200), (700, 130), (257, 257)]


@pytest.mark.parametrize(("rows", "cols"), SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_haar_q_has_orthonormal_columns(rows, cols, dtype) -> None:
    draw = np.random.default_rng(rows * cols).standard_normal((rows, cols)).astype(dtype)
    q = qr.haar_q(draw)
    assert q.shape == (rows, cols) and q.dtype == np.float64
    error = np.abs(q.T @ q - np.eye(cols)).max()
    # float64 to its rounding; float32 weights from two slices, far inside float32's.
    bound = 20 * np.finfo(np.float64).eps * np.sqrt(rows) if dtype == np.float64 else 1e-10
    assert error < bound


@pytest.mark.parametrize(("rows", "cols"), SHAPES)
def test_the_first_column_is_the_first_gaussian_column_normalised(rows, cols) -> None:
    """``Q e_1 = H_1 e_1 d_1 = x / ||x||``: the first reflector maps e_1 onto the draw's
    first column, up to the sign that ``d_1`` undoes."""
    draw = np.random.default_rng(rows + cols).standard_normal((rows, cols))
    q = qr.haar_q(draw)
    first = draw[:, 0] / np.linalg.norm(draw[:, 0])
    np.testing.assert_allclose(q[:, 0], first, rtol=0, atol=1e-15)


def test_each_column_is_its_reflected_gaussian_column_normalised() -> None:
    """Column j of Q is ``H_1 ... H_j e_j d_j``, the unit vector that the reflectors so far
    carry to the direction of ``[0; draw[j:, j]]``: so ``Q[:, :j+1]`` spans the images of the
    columns ``[0..0; draw[i:, i]]`` under ``H_1 ... H_i``, and the signs make each R
    diagonal entry ``||draw[j:, j]||`` positive."""
    draw = np.random.default_rng(5).standard_normal((9, 6))
    q = qr.haar_q(draw)
    v, _, _ = qr.reflectors(draw)
    for j in range(6):
        x = np.zeros(9)
        x[j:] = draw[j:, j]
        for i in reversed(range(j)):  # apply H_i ... H_1 from the inside out
            h = np.eye(9) - 2.0 * np.outer(v[:, i], v[:, i]) / (v[:, i] @ v[:, i])
            x = h @ x
        np.testing.assert_allclose(q[:, j] * np.linalg.norm(draw[j:, j]), x, atol=1e-13)


def test_a_column_with_nothing_below_the_diagonal_keeps_its_sign() -> None:
    draw = np.array([[2.0, 0.5], [1.0, -3.0]])
    q = qr.haar_q(draw)
    _, active, _ = qr.reflectors(draw)
    assert list(active) == [True, False]
    np.testing.assert_allclose(q[:, 0], draw[:, 0] / np.linalg.norm(draw[:, 0]), atol=1e-16)
    assert np.linalg.det(q) == pytest.approx(-1.0)  # the second column follows its sign


@pytest.mark.parametrize("block", [1, 3, 8, 64])
def test_the_block_size_changes_no_more_than_rounding(block) -> None:
    draw = np.random.default_rng(6).standard_normal((70, 50))
    np.testing.assert_allclose(qr.haar_q(draw, block), qr.haar_q(draw, 16), atol=1e-14)


def test_unit_upper_inverse_inverts() -> None:
    rng = np.random.default_rng(7)
    for b in (1, 2, 5, 16, 17, 33, 100):
        strict = np.triu(rng.standard_normal((b, b)), 1) * 0.2
        inverse = qr.unit_upper_inverse(strict, 3)[:b, :b]
        np.testing.assert_allclose(inverse @ (np.eye(b) + strict), np.eye(b), atol=1e-12)


@pytest.mark.parametrize("order", ["reversed", "halves", "permuted"])
@pytest.mark.parametrize(
    ("init", "shape", "kwargs"),
    [
        (wi.orthogonal(), (300, 200), {}),
        (wi.orthogonal(), (96, 160), {"layout": "pytorch", "dtype": np.float64}),
        (wi.orthogonal(), (128, 32), {"layout": "pytorch", "blocks": 4}),
        (wi.delta_orthogonal(), (3, 3, 24, 40), {}),
    ],
    ids=["dense", "wide-float64", "per-gate", "delta"],
)
def test_orthogonal_weights_do_not_depend_on_blas_summation(
    init, shape, kwargs, order, monkeypatch
) -> None:
    expected = init(shape, seed=10, **kwargs)
    monkeypatch.setattr(exact.np, "matmul", _reordered_matmul(order))
    assert init(shape, seed=10, **kwargs).tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    ("rows", "cols", "block", "dtype"),
    [
        (20, 12, 4, np.float32),
        (20, 12, 4, np.float64),
        (9, 9, 3, np.float64),
        (40, 3, 2, np.float32),
    ],
)
def test_every_blas_call_of_the_orthogonal_factor_is_exact(
    rows, cols, block, dtype, monkeypatch
) -> None:
    """Each matrix product BLAS computes for ``haar_q`` equals its exact rational sum: the
    fact that makes the order of BLAS's additions irrelevant. (Typical data stays well inside
    the worst-case bound, so the bound itself is checked by
    ``test_slices_hold_integers_that_sum_exactly`` and the refusal test.)"""
    calls = []
    plain = np.matmul

    def checked(a, b, out=None):
        result = plain(a, b, out=out)
        rows_a = [[Fraction(float(x)) for x in row] for row in np.asarray(a)]
        cols_b = [[Fraction(float(x)) for x in col] for col in np.asarray(b).T]
        for i, row in enumerate(rows_a):
            for j, col in enumerate(cols_b):
                assert Fraction(float(result[i, j])) == sum(
                    x * y for x, y in zip(row, col, strict=True)
                )
        calls.append(a.shape)
        return result

    monkeypatch.setattr(exact.np, "matmul", checked)
    draw = np.random.default_rng(rows).standard_normal((rows, cols)).astype(dtype)
    qr.haar_q(draw, block)
    assert len(calls) >= 4 * (cols // block)


def test_tall_matrices_take_more_slices_to_keep_float64_precision() -> None:
    assert qr.slice_count(np.dtype(np.float64), 4096) == 3
    assert qr.slice_count(np.dtype(np.float32), 65536) == 2
    for dtype, rows in [(np.float64, 2**17), (np.float64, 10**6), (np.float32, 10**6)]:
        slices = qr.slice_count(np.dtype(dtype), rows)
        assert slices * exact.slice_bits(slices * rows) >= qr.PRECISION[np.dtype(dtype)]


def test_a_stack_of_triangular_inverses_is_each_inverse_alone() -> None:
    rng = np.random.default_rng(8)
    strict = np.triu(rng.standard_normal((3, 40, 40)), 1) * 0.2
    together = qr.unit_upper_inverse(strict, 2)
    for one, alone in zip(together, strict, strict=True):
        assert one.tobytes() == qr.unit_upper_inverse(alone, 2).tobytes()


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (2, 2), (5, 3), (64, 64), (300, 200)])
def test_both_ways_of_summing_the_norms_give_the_same_bytes(shape, monkeypatch) -> None:
    draw = np.random.default_rng(9).standard_normal(shape)
    one = qr.reflectors(draw)
    monkeypatch.setattr(qr, "SMALL", 0)  # the row-by-row loop
    other = qr.reflectors(draw)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(one, other, strict=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_stack_of_draws_gives_each_matrix_its_own_bytes(dtype) -> None:
    draws = np.random.default_rng(10).standard_normal((3, 150, 70)).astype(dtype)
    together = qr.haar_q(draws)
    for one, draw in zip(together, draws, strict=True):
        assert one.tobytes() == qr.haar_q(draw).tobytes()
