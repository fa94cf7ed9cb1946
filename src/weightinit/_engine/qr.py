"""Gaussian matrices and their orthogonal factors, for the structured initializers.

:func:`gaussian` draws from the same portable sampler as every other initializer.
:func:`haar_blocks` turns Gaussian matrices into Haar-distributed (semi-)orthogonal ones by
QR: from :data:`QR_BLOCKED_MIN` columns on, a right-looking blocked Householder QR whose
products run in the matrix's own precision (:func:`blocked_q`); below, one LAPACK call. The
factorisation runs on LAPACK and BLAS, so the last bits of an orthogonal weight may differ
between BLAS/LAPACK builds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit._engine import kernels
from weightinit._engine.run import Request
from weightinit._engine.run import compute_type
from weightinit._engine.run import generate
from weightinit._engine.streams import Words

__all__ = ["QR_BLOCKED_MIN", "blocked_q", "gaussian", "haar_blocks"]

Array = npt.NDArray[Any]


def gaussian(
    shape: tuple[int, ...], dtype: np.dtype[Any], key: Words, threads: int | None
) -> Array:
    """Standard normals of ``shape`` in the compute type of ``dtype``, tile-keyed by ``key``."""
    out = np.empty(shape, dtype=compute_type(dtype))
    law = kernels.Law("normal", loc=0.0, scale=1.0)
    generate([Request(out, law, key, shape, [range(d) for d in shape])], threads)
    return out


# Blocked Householder QR. NumPy's ``linalg.qr`` always factorises in float64 with LAPACK's
# tall-skinny-unfriendly kernels; for large matrices most of the work can instead go through
# matrix products in the output's own precision, as LAPACK's blocked ``geqrf``/``orgqr`` do
# (Schreiber & Van Loan 1989, the compact WY form).
QR_BLOCKED_MIN = 128  # below this many columns, one LAPACK call is as fast


def _qr_block(cols: int) -> int:
    """Columns per panel: wider panels make faster products but slower panel factorisations."""
    return 64 if cols < 512 else 128 if cols < 1536 else 256


def _t_factor(y: Array, tau: Array) -> Array:
    """The upper triangular T with ``H_1 ... H_b = I - y T y^T``, ``H_i = I - tau_i y_i y_i^T``.

    ``T^-1 = diag(1/tau) + strictly_upper(y^T y)`` (Puglisi 1992); it is solved here in the
    form ``(I + diag(tau) U) T = diag(tau)``, which also holds when some ``tau_i = 0`` (a
    reflector that is the identity).
    """
    system = np.triu(y.T @ y, 1) * tau[:, None]
    system[np.diag_indices(len(tau))] = 1.0
    return np.linalg.solve(system, np.diag(tau))


def _panel(panel: Array) -> tuple[Array, Array, Array]:
    """Householder QR of one ``m x b`` panel (``m >= b``), in compact WY form.

    Returns ``(y, t, signs)``: the reflectors ``H_1 ... H_b = I - y t y^T`` (``y`` unit lower
    trapezoidal, ``t`` upper triangular, both in the panel's dtype) and the signs of the
    diagonal of R. LAPACK factorises the panel in float64.
    """
    b = panel.shape[1]
    raw, tau = np.linalg.qr(np.asfortranarray(panel, dtype=np.float64), mode="raw")
    factors = raw.T  # R on and above the diagonal, the reflectors' tails below it
    signs = np.where(np.diagonal(factors) < 0, -1.0, 1.0)
    y = np.tril(factors, -1)
    y[np.diag_indices(b)] = 1.0
    return y.astype(panel.dtype), _t_factor(y, tau).astype(panel.dtype), signs


def _cholesky_panel(panel: Array) -> tuple[Array, Array, Array] | None:
    """One tall float32 panel (``m >= 2 b``) as a block reflector, from matrix products only.

    CholeskyQR in float64 gives ``panel = Q1 R`` (R from the Cholesky factor of the Gram
    matrix, so its diagonal is positive). With ``S = -sign(diag(Q1))`` and ``E`` the first b
    columns of the identity, ``V = Q1 - E S`` and ``T = (I - Q11^T S)^-1`` make
    ``H = I - V T V^T`` orthogonal with ``H E = Q1 S`` (``V^T V = T^-1 + T^-T`` follows from
    ``Q1^T Q1 = I``), so ``H^T panel = [S R; 0]``: a QR step whose R has the signs S. The
    block reflector generalises the compact WY form with a full T (Schreiber & Parlett 1988), and
    rebuilding reflectors from an orthonormal panel follows Ballard et al. (2015).

    Returns ``(v, t, signs)`` like :func:`_panel`, or ``None`` when rounding could cost
    orthogonality: CholeskyQR loses about ``eps * cond(panel)**2``, bounded here by
    ``eps * trace(G) * ||R^-1||_F**2``, and a large ``T`` would amplify it (the signs make
    the diagonal of ``I - Q11^T S`` at least 1, which makes a large T rare but not
    impossible; Ballard et al. choose the signs during an LU factorisation instead).
    """
    b = panel.shape[1]
    p = panel.astype(np.float64)
    gram = p.T @ p
    try:
        r = np.linalg.cholesky(gram).T
    except np.linalg.LinAlgError:
        return None
    r_inv = np.linalg.inv(r)
    if not np.finfo(np.float64).eps * np.trace(gram) * np.sum(r_inv * r_inv) <= 1e-10:
        return None
    q1 = p @ r_inv
    signs = np.where(np.diagonal(q1) > 0, -1.0, 1.0)
    try:
        t = np.linalg.inv(np.eye(b) - q1[:b].T * signs)  # Q11^T S: column j times signs[j]
    except np.linalg.LinAlgError:
        return None
    # Rounding V and T to float32 costs H about eps32 * ||T||_2 * ||V||^2 of orthogonality;
    # ||T||_2 <= 8 keeps that near 1e-6. The bound sqrt(||T||_1 ||T||_inf) settles most
    # panels cheaply; the singular values settle the rest.
    abs_t = np.abs(t)
    cheap_bound = abs_t.sum(axis=0).max() * abs_t.sum(axis=1).max() <= 64.0
    if not cheap_bound and not np.linalg.norm(t, 2) <= 8.0:
        return None
    q1[np.arange(b), np.arange(b)] -= signs
    return q1.astype(panel.dtype), t.astype(panel.dtype), signs


def blocked_q(matrix: Array, block: int | None = None) -> Array:
    """The Q of ``matrix = Q R`` (``m x n``, ``m >= n``) with R's diagonal made non-negative.

    Right-looking blocked Householder QR: each panel of ``block`` columns is factorised (by
    :func:`_cholesky_panel` for tall float32 panels, else by :func:`_panel`) into a block
    reflector ``I - y t y^T`` and applied to the columns on its right with two matrix
    products; Q is then accumulated backwards from the identity, as LAPACK's ``orgqr`` does.
    Every product runs in the matrix's own precision (sgemm for float32). Column j of Q is
    finally multiplied by the sign of ``R[j, j]``, so Q is the unique factor whose R has a
    positive diagonal.

    ``matrix`` (float32 or float64) is overwritten when it is C-contiguous and writeable.
    """
    if matrix.dtype not in (np.float32, np.float64):
        raise TypeError(f"blocked_q needs float32 or float64; got {matrix.dtype}.")
    a = matrix if matrix.flags.c_contiguous and matrix.flags.writeable else matrix.copy()
    m, n = a.shape
    block = _qr_block(n) if block is None else block
    dtype = a.dtype
    # Q does not change when a column is multiplied by a positive number: bring every column's
    # largest magnitude into [1/2, 1) by a power of two (exact), so that no product overflows
    # and no subnormal loses digits.
    _, exponents = np.frexp(np.abs(a).max(axis=0))
    limit = np.finfo(dtype).maxexp - 2
    a *= np.ldexp(np.ones(n, dtype=dtype), np.clip(-exponents, -limit, limit))
    panels: list[tuple[int, Array, Array]] = []
    signs = np.empty(n, dtype=dtype)
    scratch = np.empty(max(m - min(block, n), 0) * n, dtype=dtype)
    small = np.empty(block * n, dtype=dtype)

    for k in range(0, n, block):
        b = min(block, n - k)
        panel = a[k:, k : k + b]
        fast = _cholesky_panel(panel) if dtype == np.float32 and m - k >= 2 * b else None
        y, t, s = fast if fast is not None else _panel(panel)
        signs[k : k + b] = s
        panels.append((k, y, t))
        cols = n - k - b
        if cols:  # apply H^T = I - y t^T y^T to the columns on the right
            right = a[k:, k + b :]
            w = np.matmul(y.T, right, out=small[: b * cols].reshape(b, cols))
            # Only rows k+b: feed later panels; the top b rows would be R, which is not kept.
            product = scratch[: (m - k - b) * cols].reshape(m - k - b, cols)
            right[b:] -= np.matmul((y @ t.T)[b:], w, out=product)
    q = np.zeros((m, n), dtype=dtype)
    for k, y, t in reversed(panels):  # Q = H_1 (H_2 (... [I; 0]))
        # Columns k: of Q are, so far, [I; 0] in rows k:k+b and zero outside rows k+b:, so
        # H_k = I - (y t) y^T only needs the products with q[k+b:, k+b:].
        b = y.shape[1]
        yt = y @ t
        q[k:, k : k + b] = -yt @ y[:b].T
        q[np.arange(k, k + b), np.arange(k, k + b)] += 1.0
        cols = n - k - b
        if cols:
            w = np.matmul(y[b:].T, q[k + b :, k + b :], out=small[: b * cols].reshape(b, cols))
            q[k : k + b, k + b :] = -yt[:b] @ w
            product = np.matmul(yt[b:], w, out=scratch[: (m - k - b) * cols].reshape(-1, cols))
            q[k + b :, k + b :] -= product
    q *= signs
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

    Each is the QR of a Gaussian matrix, with the signs of R's diagonal moved into Q so the
    result is uniform on the orthogonal group (Mezzadri 2007). The Gaussian matrices are the
    slabs of one ``(blocks, max, min)`` draw; with one block its tiles and values are those
    of a ``(max, min)`` draw. From :data:`QR_BLOCKED_MIN` columns on, a blocked QR in the
    output's precision replaces NumPy's float64 LAPACK call.
    """
    tall = (max(rows, cols), min(rows, cols))
    draws = gaussian((blocks, *tall), dtype, key, threads)
    stacked = []
    for matrix in draws:
        if tall[1] >= QR_BLOCKED_MIN:
            q = blocked_q(matrix)
        else:
            q, r = np.linalg.qr(matrix)
            q *= np.where(np.diagonal(r) < 0, -1.0, 1.0).astype(q.dtype)
        stacked.append(q if rows >= cols else q.T)
    return stacked[0] if blocks == 1 else np.concatenate(stacked, axis=0)
