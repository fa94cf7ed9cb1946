"""Structured initializers: orthogonal, identity, dirac, delta-orthogonal, sparse.

Unlike the variance-scaling family, their elements are not independent: each weight is built
whole (a region is cut from the whole weight). The Gaussian matrices they start from come
from the same portable, block-keyed sampler as every other initializer; the QR
factorisation behind ``orthogonal`` and ``delta_orthogonal`` runs on LAPACK and BLAS, so their
last bits may differ between BLAS/LAPACK builds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit import sampling
from weightinit.fans import check_groups
from weightinit.fans import check_shape
from weightinit.fans import layout_axes
from weightinit.fans import resolve_layout
from weightinit.initializers import Initializer
from weightinit.initializers import _check_representable
from weightinit.initializers import _finite
from weightinit.initializers import _finite_variance
from weightinit.initializers import _positive

__all__ = [
    "DeltaOrthogonal",
    "Dirac",
    "Identity",
    "Orthogonal",
    "Sparse",
    "delta_orthogonal",
    "dirac",
    "identity",
    "orthogonal",
    "sparse",
]

Array = npt.NDArray[Any]


def _compute_dtype(dtype: np.dtype[Any]) -> type[np.floating[Any]]:
    return np.float64 if dtype.itemsize == 8 else np.float32


def _gaussian(
    shape: tuple[int, ...],
    dtype: np.dtype[Any],
    key: tuple[int, int, int, int],
    threads: int | None,
) -> Array:
    out = np.empty(shape, dtype=_compute_dtype(dtype))
    ranges = [range(d) for d in shape]
    sampling.generate(out, sampling.Normal(0.0, 1.0), key, shape, ranges, threads)
    return out


# Blocked Householder QR. NumPy's ``linalg.qr`` always factorises in float64 with LAPACK's
# tall-skinny-unfriendly kernels; for large matrices most of the work can instead go through
# matrix products in the output's own precision, as LAPACK's blocked ``geqrf``/``orgqr`` do
# (Schreiber & Van Loan 1989, the compact WY form).
_QR_BLOCKED_MIN = 128  # below this many columns, one LAPACK call is as fast


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


def _blocked_q(matrix: Array, block: int | None = None) -> Array:
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
        raise TypeError(f"_blocked_q needs float32 or float64; got {matrix.dtype}.")
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


def _haar(
    rows: int,
    cols: int,
    dtype: np.dtype[Any],
    key: tuple[int, int, int, int],
    threads: int | None,
) -> Array:
    """A ``rows x cols`` matrix with orthonormal rows or columns (whichever are fewer), Haar.

    QR of a Gaussian matrix, with the signs of R's diagonal moved into Q so the result is
    uniform on the orthogonal group (Mezzadri 2007). From :data:`_QR_BLOCKED_MIN` columns on,
    a blocked QR in the output's precision replaces NumPy's float64 LAPACK call.
    """
    tall = (max(rows, cols), min(rows, cols))
    gaussian = _gaussian(tall, dtype, key, threads)
    if tall[1] >= _QR_BLOCKED_MIN:
        q = _blocked_q(gaussian)
    else:
        q, r = np.linalg.qr(gaussian)
        q *= np.where(np.diagonal(r) < 0, -1.0, 1.0).astype(q.dtype)
    return q if rows >= cols else q.T


def _assign(out: Array, whole: Array, block: int = 256) -> None:
    """``out[...] = whole``; a large transposed matrix is copied in square blocks, which
    stay in cache, instead of row by row through a stride of a whole column (twice as fast
    at 4096 x 4096)."""
    if whole.ndim == 2 and whole.size > block * block and not whole.flags.c_contiguous:
        rows, cols = whole.shape
        for i in range(0, rows, block):
            for j in range(0, cols, block):
                out[i : i + block, j : j + block] = whole[i : i + block, j : j + block]
    else:
        out[...] = whole


@dataclass(frozen=True)
class Structured(Initializer):
    """Base of the initializers that build a whole weight at once."""

    def _build(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        seed: sampling.SeedLike,
        layout: str,
        groups: int,
        threads: int | None,
    ) -> Array:
        raise NotImplementedError

    def _produce(
        self,
        out: Array,
        shape: tuple[int, ...],
        ranges: list[range],
        seed: sampling.SeedLike,
        layout: str,
        groups: int,
        threads: int | None,
    ) -> None:
        self._check_call(seed, layout, groups, threads)
        self._check_shape(shape, layout, groups)
        if math.prod(shape) == 0:
            return
        largest, scale = self._magnitudes(out.dtype)
        _check_representable(largest, out.dtype, scale)
        whole = self._build(shape, out.dtype, seed, layout, groups, threads)
        if all(r == range(d) for r, d in zip(ranges, shape, strict=True)):
            _assign(out, whole)
        else:
            out[...] = whole[np.ix_(*[np.arange(r.start, r.stop, r.step) for r in ranges])]

    def _magnitudes(self, dtype: np.dtype[Any]) -> tuple[float, float]:
        """(largest |value| the weight can hold, its non-zero scale) for the dtype checks."""
        gain = abs(getattr(self, "gain", 1.0))
        return gain, gain

    def _distribution(
        self, shape: tuple[int, ...], *, layout: str = "in_out", groups: int = 1
    ) -> sampling.Distribution:
        raise ValueError(f"{type(self).__name__} has no per-element distribution.")

    def variance(
        self, shape: int | Sequence[int], *, layout: str = "in_out", groups: int = 1
    ) -> float:
        raise ValueError(
            f"{type(self).__name__} is deterministic or places its values by structure, so "
            "its elements have no common per-element variance."
        )


def _no_groups(name: str, groups: int) -> None:
    if groups != 1:
        raise ValueError(
            f"{name} builds one (semi-)orthogonal matrix for the whole weight; groups={groups} "
            "is not supported. Build each group's weight separately."
        )


def _rank_at_least(name: str, shape: tuple[int, ...], rank: int) -> None:
    if len(shape) < rank:
        raise ValueError(
            f"{name} needs a shape of rank >= {rank}; got {shape} of rank {len(shape)}. "
            "Use zeros() for biases."
        )


def _from_matrix(matrix: Array, shape: tuple[int, ...], out_axis: int) -> Array:
    """The weight of ``shape`` whose matrix view (out axis first, the rest flattened) is
    ``matrix``."""
    rest = [d for a, d in enumerate(shape) if a != out_axis]
    return np.moveaxis(matrix.reshape(shape[out_axis], *rest), 0, out_axis)


def _matrix_dims(shape: tuple[int, ...], layout: str) -> tuple[int, int, int]:
    """(out axis, rows = out channels, cols = everything else) of a weight."""
    _, out_axis = layout_axes(len(shape), layout)
    rows = shape[out_axis]
    return out_axis, rows, math.prod(shape) // rows if rows else 0


@dataclass(frozen=True)
class Orthogonal(Structured):
    """A (semi-)orthogonal weight times ``gain``. See :func:`orthogonal`."""

    gain: float = 1.0
    _name = "orthogonal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", _positive("gain", self.gain))

    def _check_shape(self, shape: tuple[int, ...], layout: str, groups: int) -> None:
        _rank_at_least("orthogonal", shape, 2)
        _no_groups("orthogonal", groups)

    def _build(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        seed: sampling.SeedLike,
        layout: str,
        groups: int,
        threads: int | None,
    ) -> Array:
        out_axis, rows, cols = _matrix_dims(shape, layout)
        matrix = _haar(rows, cols, dtype, sampling.root_key(seed), threads)
        if self.gain != 1.0:
            matrix *= self.gain
        return _from_matrix(matrix, shape, out_axis)

    def variance(
        self, shape: int | Sequence[int], *, layout: str = "in_out", groups: int = 1
    ) -> float:
        dims = check_shape(shape)
        self._check_shape(dims, layout, groups)
        _, rows, cols = _matrix_dims(dims, layout)
        if math.prod(dims) == 0:
            raise ValueError(f"shape {dims} is empty, so it has no variance.")
        return _finite_variance(self.gain * self.gain / max(rows, cols), self)


@dataclass(frozen=True)
class Identity(Structured):
    """``gain`` on the main diagonal of a matrix. See :func:`identity`."""

    gain: float = 1.0
    _name = "identity"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", _finite("gain", self.gain))

    def _check_shape(self, shape: tuple[int, ...], layout: str, groups: int) -> None:
        if len(shape) != 2:
            raise ValueError(
                f"identity needs a 2-D shape; got {shape} of rank {len(shape)}. For "
                "convolution kernels use dirac()."
            )

    def _build(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        seed: sampling.SeedLike,
        layout: str,
        groups: int,
        threads: int | None,
    ) -> Array:
        return np.eye(shape[0], shape[1], dtype=np.float64) * self.gain


def _conv_axes(name: str, shape: tuple[int, ...], layout: str) -> tuple[int, int, list[int]]:
    if not 3 <= len(shape) <= 5:
        raise ValueError(
            f"{name} needs a convolution kernel of rank 3 to 5; got {shape} of rank {len(shape)}."
        )
    canonical = resolve_layout(layout)
    if canonical == "keras_depthwise":
        raise ValueError(f"{name} does not apply to layout 'keras_depthwise'.")
    in_axis, out_axis = layout_axes(len(shape), canonical)
    kernel = [a for a in range(len(shape)) if a not in (in_axis, out_axis)]
    return in_axis, out_axis, kernel


def _full_axis(in_axis: int, out_axis: int, layout: str) -> int:
    """The channel axis that holds every group (the input axis of transposed kernels)."""
    return in_axis if resolve_layout(layout) == "pytorch_transposed" else out_axis


@dataclass(frozen=True)
class Dirac(Structured):
    """The kernel that makes a convolution the identity map. See :func:`dirac`."""

    groups: int = 1
    gain: float = 1.0
    _name = "dirac"

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", check_groups(self.groups))
        object.__setattr__(self, "gain", _finite("gain", self.gain))

    def _groups(self, groups: int) -> int:
        if groups != 1 and self.groups != 1 and groups != self.groups:
            raise ValueError(
                f"dirac(groups={self.groups}) was called with groups={groups}; they must agree."
            )
        return max(groups, self.groups)

    def _plan(
        self, shape: tuple[int, ...], layout: str, groups: int
    ) -> tuple[int, int, list[int], int]:
        """(axis holding every group, the other channel axis, kernel axes, group count).

        The full axis is the output channels, or the input channels of a transposed kernel.
        """
        in_axis, out_axis, kernel = _conv_axes("dirac", shape, layout)
        count = self._groups(groups)
        full = _full_axis(in_axis, out_axis, layout)
        if shape[full] % count:
            side = "output" if full == out_axis else "input"
            raise ValueError(
                f"groups={count} does not divide the {side} channel count "
                f"{shape[full]} of shape {shape}."
            )
        return full, in_axis if full == out_axis else out_axis, kernel, count

    def _check_shape(self, shape: tuple[int, ...], layout: str, groups: int) -> None:
        self._plan(shape, layout, groups)

    def _build(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        seed: sampling.SeedLike,
        layout: str,
        groups: int,
        threads: int | None,
    ) -> Array:
        full, other, kernel, count = self._plan(shape, layout, groups)
        per_group = shape[full] // count
        weight = np.zeros(shape, dtype=np.float64)
        index: list[Any] = [0] * len(shape)
        for axis in kernel:
            index[axis] = shape[axis] // 2
        for g in range(count):
            for i in range(min(per_group, shape[other])):
                index[full], index[other] = g * per_group + i, i
                weight[tuple(index)] = self.gain
        return weight


@dataclass(frozen=True)
class DeltaOrthogonal(Structured):
    """Zero but at the kernel's centre, which holds an orthogonal matrix. See
    :func:`delta_orthogonal`."""

    gain: float = 1.0
    _name = "delta_orthogonal"

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", _positive("gain", self.gain))

    def _check_shape(self, shape: tuple[int, ...], layout: str, groups: int) -> None:
        in_axis, out_axis, _ = _conv_axes("delta_orthogonal", shape, layout)
        _no_groups("delta_orthogonal", groups)
        if shape[in_axis] > shape[out_axis]:
            raise ValueError(
                f"delta_orthogonal needs in channels <= out channels; shape {shape} has "
                f"{shape[in_axis]} in and {shape[out_axis]} out (Xiao et al. 2018)."
            )

    def _build(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        seed: sampling.SeedLike,
        layout: str,
        groups: int,
        threads: int | None,
    ) -> Array:
        in_axis, out_axis, kernel = _conv_axes("delta_orthogonal", shape, layout)
        centre = _haar(shape[out_axis], shape[in_axis], dtype, sampling.root_key(seed), threads)
        weight = np.zeros(shape, dtype=centre.dtype)
        index: list[Any] = [slice(None)] * len(shape)
        for axis in kernel:
            index[axis] = shape[axis] // 2
        # After integer indexing the two channel axes remain in their original order.
        block = centre if out_axis < in_axis else centre.T
        weight[tuple(index)] = block * self.gain
        return weight


@dataclass(frozen=True)
class Sparse(Structured):
    """Each output unit keeps a fraction ``1 - sparsity`` of its inputs. See :func:`sparse`."""

    sparsity: float = 0.9
    stddev: float = 0.01
    _name = "sparse"

    def __post_init__(self) -> None:
        value = _finite("sparsity", self.sparsity)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"sparsity must lie in [0, 1]; got {self.sparsity!r}.")
        object.__setattr__(self, "sparsity", value)
        object.__setattr__(self, "stddev", _positive("stddev", self.stddev))

    def _check_shape(self, shape: tuple[int, ...], layout: str, groups: int) -> None:
        _rank_at_least("sparse", shape, 2)

    def zeros_per_unit(self, shape: Sequence[int], *, layout: str = "in_out") -> int:
        """How many inputs of each output unit are zero: ``ceil(sparsity * inputs)``.

        Computed exactly with the sparsity's shortest decimal form, so 0.07 of 100 inputs is
        7 (PyTorch's ``sparse_`` computes in floating point and zeroes 8 there).
        """
        dims = check_shape(shape)
        self._check_shape(dims, layout, 1)
        _, _, cols = _matrix_dims(dims, layout)
        # The sparsity as the decimal it was written as: 0.07 of 100 inputs is 7, not the 8
        # that ceil(0.07 * 100 = 7.000000000000001) gives in floating point.
        return math.ceil(Fraction(repr(self.sparsity)) * cols)

    def _build(
        self,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        seed: sampling.SeedLike,
        layout: str,
        groups: int,
        threads: int | None,
    ) -> Array:
        out_axis, rows, cols = _matrix_dims(shape, layout)
        # One draw gives the values and, as a second slab, the keys that pick the zeros.
        draws = _gaussian((2, rows, cols), dtype, sampling.root_key(seed), threads)
        values = draws[0] * self.stddev
        order = np.argsort(draws[1], axis=1, kind="stable")
        # A kept value that the output dtype would round to zero becomes its smallest
        # subnormal, so that the count of zeros per unit stays exact.
        tiny = float(np.finfo(dtype).smallest_subnormal)
        lost = (values != 0) & (np.abs(values) < tiny)
        values[lost] = np.copysign(tiny, values[lost])
        np.put_along_axis(
            values, order[:, : self.zeros_per_unit(shape, layout=layout)], 0.0, axis=1
        )
        return _from_matrix(values, shape, out_axis)

    def variance(
        self, shape: int | Sequence[int], *, layout: str = "in_out", groups: int = 1
    ) -> float:
        dims = check_shape(shape)
        self._check_shape(dims, layout, groups)
        _, _, cols = _matrix_dims(dims, layout)
        if cols == 0:
            raise ValueError(f"shape {dims} has no inputs per unit, so it has no variance.")
        kept = 1.0 - self.zeros_per_unit(dims, layout=layout) / cols
        return _finite_variance(kept * self.stddev * self.stddev, self)

    def _magnitudes(self, dtype: np.dtype[Any]) -> tuple[float, float]:
        limit = sampling.NORMAL_LIMIT[8 if dtype.itemsize == 8 else 4] * 1.0001
        return limit * self.stddev, self.stddev


def orthogonal(gain: float = 1.0) -> Orthogonal:
    """A (semi-)orthogonal weight, uniform on the orthogonal group, times ``gain``.

    The weight is viewed as a matrix whose rows are the output channels (the out axis of
    ``layout``) and whose columns are everything else; the result has orthonormal rows or
    columns, whichever are fewer (Saxe et al. 2013, "Exact solutions to the nonlinear
    dynamics of learning in deep linear neural networks").

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> w = wi.orthogonal()((256, 128), seed=0)     # in_out: 128 rows of length 256
    >>> bool(np.allclose(w.T @ w, np.eye(128), atol=1e-5))
    True
    """
    return Orthogonal(gain)


def identity(gain: float = 1.0) -> Identity:
    """``gain`` on the main diagonal of a 2-D weight, zero elsewhere (PyTorch's ``eye_``).

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.identity()((2, 3))
    array([[1., 0., 0.],
           [0., 1., 0.]], dtype=float32)
    """
    return Identity(gain)


def dirac(groups: int = 1, gain: float = 1.0) -> Dirac:
    """The convolution kernel that passes the first ``min(in, out)`` channels of each group
    through unchanged (PyTorch's ``dirac_``), for kernels of rank 3 to 5 in either layout.

    Examples
    --------
    >>> import weightinit as wi
    >>> w = wi.dirac()((4, 4, 3, 3), layout="pytorch")
    >>> float(w.sum()), float(w[2, 2, 1, 1])
    (4.0, 1.0)
    """
    return Dirac(groups, gain)


def delta_orthogonal(gain: float = 1.0) -> DeltaOrthogonal:
    """Zero everywhere but the kernel's centre, which holds an orthogonal ``in x out`` matrix
    (Xiao et al. 2018, "Dynamical Isometry and a Mean Field Theory of CNNs"). Needs
    ``in <= out``.

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> w = wi.delta_orthogonal()((3, 3, 16, 32), seed=0)   # HWIO
    >>> centre = w[1, 1]
    >>> bool(np.allclose(centre @ centre.T, np.eye(16), atol=1e-5)), float(abs(w[0]).max())
    (True, 0.0)
    """
    return DeltaOrthogonal(gain)


def sparse(sparsity: float = 0.9, stddev: float = 0.01) -> Sparse:
    """Each output unit has exactly ``ceil(sparsity * inputs)`` zero input weights; the
    others are ``N(0, stddev**2)`` (Martens 2010, "Deep learning via Hessian-free
    optimization").

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> w = wi.sparse(0.9)((100, 20), seed=0)     # in_out: 20 units with 100 inputs each
    >>> sorted(set((w == 0).sum(axis=0).tolist()))
    [90]
    """
    return Sparse(sparsity, stddev)
