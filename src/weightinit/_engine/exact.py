"""Matrix products whose bits do not depend on the BLAS library, its kernel or its threads.

A BLAS ``gemm`` may add the terms of each dot product in any order, with or without fused
multiply-adds, and the order changes with the CPU's kernel (``OPENBLAS_CORETYPE``) and the
thread count. A sum that is *exact* has no order, though. (The argument needs a BLAS that
computes each entry as a sum of the products of its float64 operands, as OpenBLAS, MKL,
BLIS, Accelerate and NumPy's own fallback do; a Strassen-like or reduced-precision emulated
``dgemm`` would break it.) :func:`matmul` follows the Ozaki
scheme (Ozaki, Ogita, Oishi & Rump 2012): each row of ``a`` and each column of ``b`` is
scaled by a power of two into ``(-1, 1)`` and cut into *slices* of integers of at most
``bits`` bits (:func:`slice_bits`), few enough that every product of two slices, and every
partial sum of ``inner`` such products, is an integer below ``2**53``: BLAS computes each
slice product exactly, in any order. The slice products are then added with element-wise
NumPy in one fixed order. Only the first ``slices`` slices of each side enter, and of their
products those of the ``slices`` largest orders of magnitude, so the result is an
approximation, but one that is the same bytes everywhere.

:func:`ordered_matmul` is the small counterpart, without BLAS: each sum strictly in index
order (``cumsum``).
"""

from __future__ import annotations

from typing import Any
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = ["Split", "join", "matmul", "ordered_matmul", "product", "slice_bits", "split"]

Array = npt.NDArray[Any]


def slice_bits(inner: int) -> int:
    """The bits per slice for which a sum of ``inner`` slice products is exact in float64.

    A slice holds integers of magnitude at most ``2**bits``, a product at most
    ``2**(2*bits)``, and ``inner`` of them at most ``2**53`` when
    ``2*bits + ceil(log2(inner)) <= 53``: every partial sum, in any order, is then an
    integer that float64 holds exactly.

    >>> slice_bits(1), slice_bits(256), slice_bits(4096), slice_bits(4097)
    (26, 22, 20, 20)
    """
    return (53 - (max(inner, 1) - 1).bit_length()) // 2


class Split(NamedTuple):
    """``x = scale * sum_p 2**(-(p+1)*bits) * parts[p] + rest``, parts integer-valued.

    ``scale`` holds powers of two: one per row (a left factor), one per column (a right
    factor) or one for the whole matrix (either).
    """

    scale: Array
    parts: Array
    bits: int

    @property
    def T(self) -> Split:  # noqa: N802 - the transpose, as NumPy names it
        """The split of the transposed matrix (or matrices; a view)."""
        return Split(self.scale.swapaxes(-1, -2), self.parts.swapaxes(-1, -2), self.bits)


def split(
    x: Array, axis: int | None, bits: int, slices: int, *, exponent: int | None = None
) -> Split:
    """Cut ``x`` (a matrix, or a stack of them) into ``slices`` integer slices of at most
    ``bits`` bits.

    ``axis=1`` scales each row (``x`` is a left factor), ``axis=0`` each column (a right
    factor), ``axis=None`` all of ``x`` (either); the scale is the power of two just
    above the largest magnitude, or ``2**exponent`` when given (every magnitude must then
    be below it; ``axis=None`` only). Every step is exact in IEEE arithmetic (scaling by
    powers of two, ``rint``, the subtraction of a value's own rounding):
    ``|parts[0]| <= 2**bits`` and ``|parts[p]| <= 2**(bits-1)`` after. The slices are
    stored last to first, as :func:`product` stacks a right factor. Magnitudes must be
    finite and, where not zero, above about ``2**-960`` (the scale would overflow its
    reciprocal), which every factor of the orthogonal construction is.
    """
    x = np.asarray(x, dtype=np.float64)
    if exponent is not None and axis is None:
        exponents = np.full((1,) * x.ndim, exponent)
    elif exponent is None and x.size:
        over = None if axis is None else (-2, -1)[axis]
        _, exponents = np.frexp(np.abs(x).max(axis=over, keepdims=True))
    elif exponent is None:
        exponents = np.zeros((1,) * x.ndim, dtype=np.int32)
    else:
        raise ValueError(f"a given exponent needs axis=None; got axis={axis}.")
    scale = np.ldexp(1.0, exponents)  # above the largest magnitude; 1 for a zero row
    rest = x * np.ldexp(1.0, bits - exponents)  # in (-2**bits, 2**bits)
    stored = np.empty((slices, *x.shape))
    parts = stored[::-1]
    step = float(2**bits)
    for p in range(slices):
        np.rint(rest, out=parts[p])
        if p + 1 < slices:
            rest -= parts[p]
            rest *= step
    return Split(scale, parts, bits)


def join(cut: Split) -> Array:
    """The sum of the slices: ``x`` rounded to the finest slice's unit (exact in float64).

    Each partial sum, coarsest slice first, is ``x`` rounded to a coarser unit, so it is
    representable and every addition is exact.
    """
    total = np.zeros(cut.parts.shape[1:])
    for p, part in enumerate(cut.parts):
        total += part * float(2.0 ** (-(p + 1) * cut.bits))
    total *= cut.scale
    return total


def product(left: Split, right: Split, *, scale_first: bool | None = None) -> Array:
    """The float64 product of a left (row-scaled) and a right (column-scaled) split.

    The slice products of one order of magnitude, ``sum_p left[p] @ right[o - p]``, are one
    BLAS call on the slices laid side by side (``[L0 L1 ...] @ [... R1; R0]``), exact since
    ``slices * k`` terms fit the bits; the orders below the number of slices are added
    smallest first. The powers of two (the scales and each slice's unit) multiply the
    factors when the result is larger than they are (or as ``scale_first`` says), else the
    result: either way every scaling is exact, so the bytes are the same.
    """
    slices, m, k = left.parts.shape[0], *left.parts.shape[-2:]
    n = right.parts.shape[-1]
    batch = (
        np.broadcast_shapes(left.parts.shape[1:-2], right.parts.shape[1:-2])
        if left.parts.ndim > 3 or right.parts.ndim > 3
        else ()
    )
    if right.bits != left.bits or left.bits > slice_bits(slices * k):
        raise ValueError(
            f"a product over {k} terms of {slices} slices needs both sides cut into slices "
            f"of at most {slice_bits(slices * k)} bits; got {left.bits} and {right.bits}."
        )
    units = [2.0 ** (-left.bits * p) for p in range(1, slices + 1)]
    before = m * n > slices * k * (m + n) if scale_first is None else scale_first
    if before:  # row = [L0 L1 ...] and column = [... R1; R0], each slice in its own unit
        row = np.concatenate(
            [p * (left.scale * u) for p, u in zip(left.parts, units, strict=True)], axis=-1
        )
        scaled = [
            p * (right.scale * u) for p, u in zip(right.parts[::-1], units[::-1], strict=True)
        ]
        column = np.concatenate(scaled, axis=-2)
    else:
        row = np.concatenate(list(left.parts), axis=-1) if slices > 1 else left.parts[0]
        if right.parts.ndim == 3:  # one matrix, stored last slice first: a view
            column = np.ascontiguousarray(right.parts[::-1]).reshape(slices * k, n)
        else:
            column = np.concatenate(list(right.parts[::-1]), axis=-2)
    total, level = np.empty((*batch, m, n)), np.empty((*batch, m, n))
    for order in reversed(range(slices)):
        out = total if order == slices - 1 else level
        inner = slice((slices - 1 - order) * k, None)
        np.matmul(row[..., : (order + 1) * k], column[..., inner, :], out=out)
        if order < slices - 1:
            if not before:
                total *= units[0]
            total += level
    if not before:
        total *= left.scale * (units[0] * units[0])
        total *= right.scale
    return total


def matmul(a: Array, b: Array, slices: int) -> Array:
    """``a @ b`` in float64 from exact slice products, the same bytes with any BLAS.

    ``a`` is ``(m, k)`` and ``b`` is ``(k, n)``, finite, with magnitudes in float64's
    normal range. The result carries the slice products of orders ``0 .. slices - 1``
    (``slices`` calls of BLAS); its error is about ``sqrt(k) * 2**(-slices * bits)``
    times the largest entry of the row of ``a`` times that of the column of ``b``, with
    ``bits = slice_bits(slices * k)`` (``2e-10`` for ``k = 4096`` and two slices,
    ``3e-16`` for three).

    >>> a = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> matmul(a, a, 2)
    array([[ 7., 10.],
           [15., 22.]])
    """
    bits = slice_bits(slices * a.shape[-1])
    return product(split(a, 1, bits, slices), split(b, 0, bits, slices))


def ordered_matmul(x: Array, y: Array) -> Array:
    """``x @ y`` for stacks of small matrices, each sum strictly in index order.

    An accumulation (``cumsum``) fixes the order of every addition, so the bytes depend on
    neither BLAS nor SIMD width; it holds ``x.shape[-2] * x.shape[-1] * y.shape[-1]``
    products per matrix at once, so it is meant for small ones.

    >>> ordered_matmul(np.array([[[1.0, 2.0], [0.0, 3.0]]]), np.ones((1, 2, 1)))
    array([[[3.],
            [3.]]])
    """
    if x.shape[-1] == 0:
        return np.zeros((*x.shape[:-1], y.shape[-1]))
    return np.cumsum(x[..., :, :, None] * y[..., None, :, :], axis=-2)[..., -1, :]
