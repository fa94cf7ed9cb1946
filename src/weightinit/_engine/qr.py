"""Haar-distributed (semi-)orthogonal matrices, the same bytes with every BLAS.

:func:`gaussian` draws from the same portable sampler as every other initializer.
:func:`haar_blocks` turns Gaussian matrices into Haar-distributed (semi-)orthogonal ones:
the Gaussian columns become Householder reflectors whose product is the orthogonal factor
(:func:`haar_q`). Every matrix product is made of exact slice products
(:mod:`weightinit._engine.exact`) and every sequential sum runs in a fixed order, so the
bytes depend on neither the BLAS library nor its kernel nor its thread count.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit._engine import exact
from weightinit._engine import kernels
from weightinit._engine.run import Request
from weightinit._engine.run import compute_type
from weightinit._engine.run import generate
from weightinit._engine.streams import Words

__all__ = ["PRECISION", "gaussian", "haar_blocks", "haar_q", "slice_count"]

Array = npt.NDArray[Any]


def gaussian(
    shape: tuple[int, ...], dtype: np.dtype[Any], key: Words, threads: int | None
) -> Array:
    """Standard normals of ``shape`` in the compute type of ``dtype``, tile-keyed by ``key``."""
    out = np.empty(shape, dtype=compute_type(dtype))
    law = kernels.Law("normal", loc=0.0, scale=1.0)
    generate([Request(out, law, key, shape, [range(d) for d in shape])], threads)
    return out


# Significant bits the slices of each factor carry, at least: float32 weights need 24,
# float64 ones 53; the margin covers the sums. Two slices serve float32 and three float64
# up to tens of thousands of rows; taller matrices take one more (see `slice_count`).
PRECISION = {np.dtype(np.float32): 36, np.dtype(np.float64): 57}


def slice_count(dtype: np.dtype[Any], rows: int) -> int:
    """The fewest slices per factor that carry :data:`PRECISION` bits in sums of ``rows``.

    >>> slice_count(np.dtype(np.float32), 4096), slice_count(np.dtype(np.float64), 4096)
    (2, 3)
    >>> slice_count(np.dtype(np.float64), 300_000)
    4
    """
    slices = 1
    while slices * exact.slice_bits(slices * rows) < PRECISION[np.dtype(dtype)]:
        slices += 1
    return slices


# Matrices of at most this many entries sum their squared norms in one accumulation.
SMALL = 1 << 16

# Blocks of the triangular inverse up to this size use sums in index order, larger ones
# exact products.
ORDERED_MAX = 16


def block_size(cols: int) -> int:
    """Reflectors per block: wider blocks make fewer, larger products."""
    return 32 if cols <= 64 else 64 if cols <= 128 else 128 if cols <= 2048 else 256


def reflectors(draw: Array) -> tuple[Array, Array, Array]:
    """Householder vectors from the columns of ``draw`` (a matrix or a stack), in float64.

    Column ``j`` uses ``x = draw[j:, j]``: the reflector that maps it to ``beta_j e_1``
    with ``beta_j = -sign(x_0) ||x||`` (LAPACK's ``dlarfg`` convention, ``sign(0) = 1``)
    has ``v_j`` zero above row ``j``, one at row ``j`` and ``x[1:] / (x_0 - beta_j)``
    below. Returns ``(v, active, signs)``: a column with nothing below the diagonal is no
    reflector (``active`` false, ``beta = x_0``), and ``signs`` are those of the
    ``beta_j``. The squared norms are summed from the bottom row up, one row at a time (in
    one accumulation for small matrices: the same additions in the same order); their
    rounding moves ``v`` a little but not the orthogonality of the reflector, whose ``tau``
    comes from ``v`` itself (:func:`t_factors`).
    """
    *batch, m, n = draw.shape
    x = draw.astype(np.float64)
    cols = np.arange(n)
    head = x[..., cols, cols].copy()
    tail = np.zeros((*batch, n))
    if m * n <= SMALL:
        below = np.cumsum((x * x)[..., :0:-1, :], axis=-2)[..., ::-1, :]  # rows i+1 ..
        inner = cols[: min(n, m - 1)]
        tail[..., inner] = below[..., inner, inner]
    else:
        total = np.zeros((*batch, n))
        for i in range(m - 1, 0, -1):  # total[j] = sum of x[r, j]**2 for r >= i, j < i
            width = min(i, n)
            row = x[..., i, :width]
            total[..., :width] += row * row
            if i <= n:
                tail[..., i - 1] = total[..., i - 1]
    active = tail != 0.0
    norm = np.sqrt(head * head + tail)
    beta = np.where(active, np.where(head >= 0.0, -norm, norm), head)
    v = np.tril(x, -1)
    v /= np.where(active, head - beta, 1.0)[..., None, :]
    v[..., cols, cols] = 1.0
    return v, active, np.where(beta < 0.0, -1.0, 1.0)


def t_factors(blocks: list[tuple[Array, Array]], slices: int, gram_slices: int) -> list[Array]:
    """The upper triangular T with ``H_1 ... H_b = I - v T v^T`` of each ``(v, active)``.

    Each ``H_i = I - tau_i v_i v_i^T`` with ``tau_i = 2 / (v_i^T v_i)`` (0 for an inactive
    column), which makes it orthogonal to the precision of the Gram matrix ``v^T v``,
    whatever ``v`` is; the Gram matrix takes ``gram_slices`` slices (float64 weights one
    more than their other products). Then ``T = M^-1 diag(tau)`` with the unit upper triangular
    ``M = I + diag(tau) strictly_upper(v^T v)`` (Puglisi 1992's
    ``T^-1 = diag(1/tau) + strictly_upper(v^T v)``, in a form that allows ``tau = 0``); the
    ``M`` of all blocks are inverted together, as one stack padded to the widest.
    """
    width = max(active.shape[-1] for _, active in blocks)
    batch = blocks[0][1].shape[:-1]  # the stack the blocks belong to
    stricts = np.zeros((len(blocks), *batch, width, width))
    taus = np.zeros((len(blocks), *batch, width))
    for i, (v, active) in enumerate(blocks):
        b = active.shape[-1]
        cut = exact.split(v, 0, exact.slice_bits(gram_slices * v.shape[-2]), gram_slices)
        gram = exact.product(cut.T, cut)
        diagonal = np.diagonal(gram, axis1=-2, axis2=-1)
        taus[i, ..., :b] = np.divide(2.0, diagonal, out=np.zeros(diagonal.shape), where=active)
        stricts[i, ..., :b, :b] = np.triu(gram, 1) * taus[i, ..., :b, None]
    inverses = unit_upper_inverse(stricts, slices)
    return [
        inverses[i, ..., :b, :b] * taus[i, ..., None, :b]
        for i, b in enumerate(active.shape[-1] for _, active in blocks)
    ]


def unit_upper_inverse(strict: Array, slices: int) -> Array:
    """``(I + strict)^-1`` for strictly upper triangular ``strict`` (``(..., b, b)``).

    By doubling: the diagonal blocks of sizes 1, 2, 4, ... are inverted level by level,
    ``[[A, B], [0, C]]^-1`` having ``-A^-1 B C^-1`` top right, all blocks of a level (and
    all matrices of the stack) at once: up to :data:`ORDERED_MAX` with sums in index
    order, above with exact products of ``slices`` slices. The matrices are padded with
    the identity to a power of two.
    """
    *batch, b, _ = strict.shape
    size = 1 << max(b - 1, 0).bit_length()
    inverse = np.zeros((*batch, size, size))
    inverse[..., np.arange(size), np.arange(size)] = 1.0
    upper = np.zeros((*batch, size, size))
    upper[..., :b, :b] = strict
    half = 1
    while half < size:
        pairs = size // (2 * half)
        at = np.arange(pairs)
        shape = (*batch, pairs, 2 * half, pairs, 2 * half)
        diagonal = inverse.reshape(shape)  # a view; indexing it puts the pairs first
        a_inv = diagonal[..., at, :half, at, :half]
        c_inv = diagonal[..., at, half:, at, half:]
        top = upper.reshape(shape)[..., at, :half, at, half:]
        if half <= ORDERED_MAX:
            corner = exact.ordered_matmul(exact.ordered_matmul(a_inv, top), c_inv)
        else:
            corner = exact.matmul(exact.matmul(a_inv, top, slices), c_inv, slices)
        diagonal[..., at, :half, at, half:] = -corner
        half *= 2
    return inverse


def haar_q(draw: Array, block: int | None = None) -> Array:
    """A Haar-distributed ``m x n`` matrix with orthonormal columns (``m >= n``), or a stack
    of them from a stack of draws (each the bytes it gets alone).

    Stewart (1980): ``Q = H_1 ... H_n [I; 0] D``, each reflector ``H_j`` made from a fresh
    standard normal vector ``draw[j:, j]`` (:func:`reflectors`) and ``D`` the signs of the
    ``beta_j``. It is the Q of the Householder QR of a Gaussian matrix with R's diagonal
    made positive (Mezzadri 2007), in distribution: the QR would reflect a vector that
    earlier reflectors have rotated, and a rotated standard normal vector is again one, so
    this skips the factorisation and keeps only the accumulation of Q. Q is accumulated
    backwards in blocks of ``block`` reflectors in compact WY form, as LAPACK's ``orgqr``
    does, every product exact (:mod:`~weightinit._engine.exact`) with the slices of
    :func:`slice_count` for ``draw``'s dtype and rows. Returns float64.
    """
    *batch, m, n = draw.shape
    q = np.zeros((*batch, m, n))
    if n == 0:
        return q
    block = block_size(n) if block is None else block
    slices = slice_count(draw.dtype, max(m, block))
    v, active, signs = reflectors(draw)
    # Every entry of v is at most 1 (below 2**1): rounded to the unit of the last of
    # `slices` slices below 2, v is held exactly by the slices of any of its rows, columns
    # or blocks, so every product below sees the same reflectors. (The rounding, to
    # 2**(1 - PRECISION) or finer, moves the reflectors by about the resolution of their
    # largest entries; it cannot cost orthogonality, which the Gram matrix of the rounded v
    # settles.)
    bits = exact.slice_bits(slices * max(m, block))  # sums run over rows or a block
    v = exact.join(exact.split(v, None, bits, slices, exponent=1))
    # The blocks' T factors depend on v alone: their triangular inverses run as one stack.
    starts = list(range(0, n, block))
    ends = [min(k + block, n) for k in starts]
    pieces = [(v[..., k:, k:e], active[..., k:e]) for k, e in zip(starts, ends, strict=True)]
    ts = t_factors(pieces, slices, slices + (draw.dtype == np.float64))
    for k, t_block in reversed(list(zip(starts, ts, strict=True))):
        b = min(block, n - k)
        y = v[..., k:, k : k + b]
        t = exact.split(t_block, 0, bits, slices)
        yt = exact.split(exact.product(exact.split(y, 1, bits, slices), t), 1, bits, slices)
        # Columns k: of the product so far are [I; 0] in rows k:k+b (and zero in rows k:k+b
        # right of them), so only rows k+b: of y meet the columns on the right: the block
        # reflector maps them to q[k:, k:] = [I; 0] - yt [y[:b]^T, y[b:]^T q[k+b:, k+b:]].
        right = np.empty((*batch, b, n - k))
        right[..., :b] = y[..., :b, :].swapaxes(-1, -2)
        trailing = q[..., k + b :, k + b :]
        if k + b < n:
            below = exact.split(y[..., b:, :], 0, bits, slices).T
            right[..., b:] = exact.product(below, exact.split(trailing, 0, bits, slices))
        update = exact.product(yt, exact.split(right, 0, bits, slices))
        q[..., k : k + b, k:] = -update[..., :b, :]
        trailing -= update[..., b:, b:]
        q[..., k + b :, k : k + b] = -update[..., b:, :b]
        q[..., np.arange(k, k + b), np.arange(k, k + b)] += 1.0
    q *= signs[..., None, :]
    return q


def haar_blocks(
    blocks: int,
    rows: int,
    cols: int,
    dtype: np.dtype[Any],
    key: Words,
    threads: int | None,
) -> Array:
    """``blocks`` independent ``rows x cols`` matrices with orthonormal rows or columns
    (whichever are fewer), Haar-distributed, stacked into one ``(blocks * rows) x cols``
    matrix.

    Each is built by :func:`haar_q` from one slab of a ``(blocks, max, min)`` Gaussian draw
    (with one block, its tiles and values are those of a ``(max, min)`` draw), in float64,
    all slabs as one stack, and rounded once to the draw's compute type.
    """
    tall = (max(rows, cols), min(rows, cols))
    draws = gaussian((blocks, *tall), dtype, key, threads)
    q = haar_q(draws).astype(draws.dtype)
    if rows < cols:
        q = q.swapaxes(-1, -2)
    return q[0] if blocks == 1 else q.reshape(blocks * rows, cols)
