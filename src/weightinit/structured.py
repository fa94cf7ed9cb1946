"""Structured initializers: orthogonal, identity, dirac, delta-orthogonal, sparse.

Unlike the element-wise families, their elements are not independent: each weight is built
whole by a :class:`~weightinit.initializers.Builder` (a region is cut from the whole weight).
The Gaussian matrices they start from come from the same portable, tile-keyed sampler as every
other initializer; the orthogonal factor behind ``orthogonal`` and ``delta_orthogonal`` is
built from matrix products that are exact whatever the BLAS, so every byte is portable.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit._engine import qr
from weightinit._errors import real
from weightinit._errors import shape_hint
from weightinit._fans import check_groups
from weightinit._layouts import layout_row
from weightinit.distributions import ConstantDistribution
from weightinit.distributions import NormalDistribution
from weightinit.initializers import Builder
from weightinit.initializers import Initializer
from weightinit.initializers import Weight
from weightinit.seeds import SeedLike
from weightinit.seeds import root_key

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

_DETERMINISTIC = (
    "{name} places its values by structure, so its elements have no common per-element variance."
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


def _no_batch(name: str, weight: Weight) -> None:
    if weight.batch_axes:
        raise ValueError(
            f"{name} builds one weight whose elements depend on each other; batch_axis="
            f"{weight.batch_axes} is not supported. Make each entry along the batch axes "
            "separately (each with its own key) and stack them with np.stack."
        )


def _one_axis_each(name: str, weight: Weight) -> None:
    """A weight with one input axis, one output axis and no batch axis, or a named error."""
    _no_batch(name, weight)
    ins, outs, _ = weight.fan_axes
    if len(ins) != 1 or len(outs) != 1:
        raise ValueError(
            f"{name} needs exactly one input axis and one output axis; got in_axis {ins} and "
            f"out_axis {outs} for shape {weight.shape}. Pass a single in_axis and out_axis."
        )


def _block_rows(name: str, weight: Weight) -> int:
    """The output channels of one of ``weight.blocks`` stacked blocks (a named error if the
    output axis does not split evenly)."""
    rows, _ = _matrix_dims(weight)
    if rows % weight.blocks:
        raise ValueError(
            f"blocks={weight.blocks} does not divide the {rows} output channels of shape "
            f"{weight.shape}: {name} needs equal stacked blocks."
        )
    return rows // weight.blocks


def _stacked(block: Array, blocks: int) -> Array:
    """``blocks`` copies of a canonical ``(out, ...)`` block, stacked along the output axis."""
    return block if blocks == 1 else np.concatenate([block] * blocks, axis=0)


def _matrix_dims(weight: Weight) -> tuple[int, int]:
    """(rows = out channels, cols = everything else) of a weight of rank 2 or more: its
    matrix view, whose rows are the output axes and whose columns are the canonical
    ``(in, *kernel)`` positions, both in C order."""
    rows = math.prod(weight.shape[a] for a in weight.fan_axes[1])
    return rows, weight.size // rows if rows else 0


def _conv_axes(name: str, weight: Weight) -> tuple[int, int]:
    shape = weight.shape
    if not 3 <= len(shape) <= 5:
        raise ValueError(
            f"{name} needs a convolution kernel of rank 3 to 5; got {shape} of rank {len(shape)}."
        )
    if weight.layout == "keras_depthwise":
        raise ValueError(f"{name} does not apply to layout 'keras_depthwise'.")
    _one_axis_each(name, weight)
    return weight.in_axis, weight.out_axis


@dataclass(frozen=True)
class Orthogonal(Initializer):
    """A (semi-)orthogonal weight times ``gain``. See :func:`orthogonal`."""

    gain: float = 1.0
    _name = "orthogonal"
    _public = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", real("gain", self.gain, positive=True))

    def _recipe(self, weight: Weight) -> Builder:
        shape = weight.shape
        _rank_at_least("orthogonal", shape, 2)
        _no_groups("orthogonal", weight.groups)
        _no_batch("orthogonal", weight)
        _, cols = _matrix_dims(weight)
        rows = _block_rows("orthogonal", weight)  # each block is (semi-)orthogonal

        def build(dtype: np.dtype[Any], seed: SeedLike, threads: int | None) -> Array:
            blocks = weight.blocks
            matrix = qr.haar_blocks(blocks, rows, cols, dtype, root_key(seed), threads)
            if self.gain != 1.0:
                matrix *= self.gain
            return matrix.reshape(weight.canonical_shape)

        if weight.size == 0:
            reason = f"shape {shape} is empty, so it has no variance."
            return Builder(build, ConstantDistribution(self.gain), weight.axes, None, reason)
        moments = (0.0, self.gain * self.gain / max(rows, cols))
        return Builder(build, ConstantDistribution(self.gain), weight.axes, moments)


@dataclass(frozen=True)
class Identity(Initializer):
    """``gain`` on the main diagonal of a matrix. See :func:`identity`."""

    gain: float = 1.0
    _name = "identity"
    _public = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", real("gain", self.gain))

    def _recipe(self, weight: Weight) -> Builder:
        shape = weight.shape
        if len(shape) != 2:
            raise ValueError(
                f"identity needs a 2-D shape; got {shape} of rank {len(shape)}. For "
                "convolution kernels use dirac()."
            )
        _one_axis_each("identity", weight)

        rows = _block_rows("identity", weight)

        def build(dtype: np.dtype[Any], seed: SeedLike, threads: int | None) -> Array:
            cols = weight.canonical_shape[1]
            return _stacked(np.eye(rows, cols, dtype=np.float64) * self.gain, weight.blocks)

        reason = _DETERMINISTIC.format(name="identity")
        return Builder(build, ConstantDistribution(abs(self.gain)), weight.axes, None, reason)


@dataclass(frozen=True)
class Dirac(Initializer):
    """The kernel that makes a convolution the identity map. See :func:`dirac`."""

    groups: int = 1
    gain: float = 1.0
    _name = "dirac"
    _public = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", check_groups(self.groups))
        object.__setattr__(self, "gain", real("gain", self.gain))

    def _groups(self, groups: int) -> int:
        if groups != 1 and self.groups != 1 and groups != self.groups:
            raise ValueError(
                f"dirac(groups={self.groups}) was called with groups={groups}; they must agree."
            )
        return max(groups, self.groups)

    def _recipe(self, weight: Weight) -> Builder:
        shape = weight.shape
        in_axis, out_axis = _conv_axes("dirac", weight)
        count = self._groups(weight.groups)
        # The axis that holds every group: the output channels, or the input channels of a
        # transposed kernel.
        full = in_axis if layout_row(weight.layout).grouped == "in" else out_axis
        # One block's canonical shape (out / blocks, in, *kernel): every block is a Dirac.
        block = (_block_rows("dirac", weight), *weight.canonical_shape[1:])
        channels = block[0] if full == out_axis else shape[full]
        if channels % count:
            side = "output" if full == out_axis else "input"
            raise ValueError(
                f"groups={count} does not divide the {side} channel count "
                f"{channels} of {'each block of ' if weight.blocks > 1 else ''}shape {shape}."
            )

        def build(dtype: np.dtype[Any], seed: SeedLike, threads: int | None) -> Array:
            # In the canonical order (out, in, *kernel): the full axis is 0, or 1 for a
            # transposed kernel.
            whole, part = (0, 1) if full == out_axis else (1, 0)
            per_group = block[whole] // count
            values = np.zeros(block, dtype=np.float64)
            index: list[Any] = [0, 0, *(d // 2 for d in block[2:])]
            for g in range(count):
                for i in range(min(per_group, block[part])):
                    index[whole], index[part] = g * per_group + i, i
                    values[tuple(index)] = self.gain
            return _stacked(values, weight.blocks)

        reason = _DETERMINISTIC.format(name="dirac")
        return Builder(build, ConstantDistribution(abs(self.gain)), weight.axes, None, reason)


@dataclass(frozen=True)
class DeltaOrthogonal(Initializer):
    """Zero but at the kernel's centre, which holds an orthogonal matrix. See
    :func:`delta_orthogonal`."""

    gain: float = 1.0
    _name = "delta_orthogonal"
    _public = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "gain", real("gain", self.gain, positive=True))

    def _recipe(self, weight: Weight) -> Builder:
        shape = weight.shape
        in_axis, _ = _conv_axes("delta_orthogonal", weight)
        _no_groups("delta_orthogonal", weight.groups)
        rows = _block_rows("delta_orthogonal", weight)
        if shape[in_axis] > rows:
            per = " per block" if weight.blocks > 1 else ""
            raise ValueError(
                f"delta_orthogonal needs in channels <= out channels{per}; shape {shape} has "
                f"{shape[in_axis]} in and {rows} out{per} (Xiao et al. 2018)."
            )

        def build(dtype: np.dtype[Any], seed: SeedLike, threads: int | None) -> Array:
            key, cols = root_key(seed), shape[in_axis]
            centre = qr.haar_blocks(weight.blocks, rows, cols, dtype, key, threads)
            canonical = weight.canonical_shape  # (out, in, *kernel)
            values = np.zeros(canonical, dtype=centre.dtype)
            index: tuple[Any, ...] = (slice(None), slice(None), *(d // 2 for d in canonical[2:]))
            values[index] = centre * self.gain
            return values

        reason = _DETERMINISTIC.format(name="delta_orthogonal")
        return Builder(build, ConstantDistribution(self.gain), weight.axes, None, reason)


@dataclass(frozen=True)
class Sparse(Initializer):
    """Each output unit keeps a fraction ``1 - sparsity`` of its inputs. See :func:`sparse`."""

    sparsity: float = 0.9
    stddev: float = 0.01
    _name = "sparse"
    _positional = 2
    _public = True

    def __post_init__(self) -> None:
        value = real("sparsity", self.sparsity)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"sparsity must lie in [0, 1]; got {self.sparsity!r}.")
        object.__setattr__(self, "sparsity", value)
        object.__setattr__(self, "stddev", real("stddev", self.stddev, positive=True))

    def zeros_per_unit(self, shape: Sequence[int], *, layout: str = "in_out") -> int:
        """How many inputs of each output unit are zero: ``ceil(sparsity * inputs)``.

        Computed exactly with the sparsity's shortest decimal form, so 0.07 of 100 inputs is
        7 (PyTorch's ``sparse_`` computes in floating point and zeroes 8 there).
        """
        return self._zeros_per_unit(Weight.checked(shape, layout, 1, 1))

    def _zeros_per_unit(self, weight: Weight) -> int:
        _rank_at_least("sparse", weight.shape, 2)
        _no_batch("sparse", weight)
        _, cols = _matrix_dims(weight)
        return math.ceil(Fraction(repr(self.sparsity)) * cols)

    def _recipe(self, weight: Weight) -> Builder:
        shape = weight.shape
        _rank_at_least("sparse", shape, 2)
        _no_batch("sparse", weight)
        rows, cols = _matrix_dims(weight)
        _block_rows("sparse", weight)  # zeros are counted per unit, so blocks change nothing else
        like = NormalDistribution(0.0, self.stddev)

        def build(dtype: np.dtype[Any], seed: SeedLike, threads: int | None) -> Array:
            # One draw gives the values and, as a second slab, the keys that pick the zeros.
            draws = qr.gaussian((2, rows, cols), dtype, root_key(seed), threads)
            values = draws[0] * self.stddev
            order = np.argsort(draws[1], axis=1, kind="stable")
            # A kept value that the output dtype would round to zero becomes its smallest
            # subnormal, so that the count of zeros per unit stays exact.
            tiny = float(np.finfo(dtype).smallest_subnormal)
            lost = (values != 0) & (np.abs(values) < tiny)
            values[lost] = np.copysign(tiny, values[lost])
            zeros = self._zeros_per_unit(weight)
            np.put_along_axis(values, order[:, :zeros], 0.0, axis=1)
            weight_values: Array = values.reshape(weight.canonical_shape)
            return weight_values

        if cols == 0:
            reason = f"shape {shape} has no inputs per unit, so it has no variance."
            return Builder(build, like, weight.axes, None, reason)
        kept = 1.0 - self._zeros_per_unit(weight) / cols
        return Builder(build, like, weight.axes, (0.0, kept * self.stddev * self.stddev))


@shape_hint
def orthogonal(gain: float = 1.0) -> Orthogonal:
    """A (semi-)orthogonal weight, uniform on the orthogonal group, times ``gain``.

    The weight is viewed as a matrix whose rows are the output channels (the out axis of
    ``layout``, or every axis of ``out_axis`` in its order) and whose columns are everything
    else; the result has orthonormal rows or columns, whichever are fewer (Saxe et al. 2013,
    "Exact solutions to the nonlinear dynamics of learning in deep linear neural
    networks"). ``batch_axis`` is not supported: stack separately made weights instead.

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> w = wi.orthogonal()((256, 128), seed=0)     # in_out: 128 rows of length 256
    >>> bool(np.allclose(w.T @ w, np.eye(128), atol=1e-5))
    True

    Eight heads of 64 from 512 features (a Flax ``DenseGeneral`` kernel) are 512 orthonormal
    rows:

    >>> w = wi.orthogonal()((512, 8, 64), seed=0, in_axis=0, out_axis=(1, 2))
    >>> m = w.reshape(512, 512).T
    >>> bool(np.allclose(m @ m.T, np.eye(512), atol=1e-5))
    True
    """
    return Orthogonal(gain)


@shape_hint
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


@shape_hint
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


@shape_hint
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


@shape_hint
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
