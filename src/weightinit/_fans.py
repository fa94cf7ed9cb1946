"""Fan-in and fan-out of weight shapes, for every common layout.

A weight's shape does not say which axis feeds the layer and which axis it feeds; the
``layout`` argument says it. Nothing here guesses.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from weightinit._errors import SIZE_LIMIT
from weightinit._errors import integer
from weightinit._errors import resolve_name

__all__ = [
    "LAYOUTS",
    "Fans",
    "Weight",
    "canonical_axes",
    "check_blocks",
    "check_groups",
    "check_shape",
    "fans",
    "layout_axes",
    "resolve_layout",
]


class Fans(NamedTuple):
    """Fan-in, fan-out and receptive field of a weight shape.

    ``fan_in = n_in * receptive_field`` and ``fan_out = n_out * receptive_field``, where
    ``n_in`` and ``n_out`` are the per-group channel counts.
    """

    fan_in: int
    fan_out: int
    receptive_field: int


@dataclass(frozen=True)
class _Layout:
    in_axes: tuple[int, ...]
    out_axes: tuple[int, ...]
    grouped: str  # "in" or "out": the side whose axis holds the full channel count
    depthwise: bool = False


_LAYOUT_TABLE: dict[str, _Layout] = {
    "in_out": _Layout((-2,), (-1,), "out"),
    "out_in": _Layout((1,), (0,), "out"),
    "pytorch_transposed": _Layout((0,), (1,), "in"),
    "keras_depthwise": _Layout((-2,), (-1,), "out", depthwise=True),
}

#: Canonical layout names, in the order error messages list them.
LAYOUTS: tuple[str, ...] = tuple(_LAYOUT_TABLE)

_LAYOUT_ALIASES: dict[str, str] = {
    "in_out": "in_out",
    "keras": "in_out",
    "tensorflow": "in_out",
    "tf": "in_out",
    "jax": "in_out",
    "flax": "in_out",
    "hwio": "in_out",
    "out_in": "out_in",
    "pytorch": "out_in",
    "torch": "out_in",
    "onnx": "out_in",
    "oihw": "out_in",
    # The weight layouts of data in NCHW / channels-first and NHWC / channels-last networks.
    "nchw": "out_in",
    "channels_first": "out_in",
    "nhwc": "in_out",
    "channels_last": "in_out",
    "pytorch_transposed": "pytorch_transposed",
    "torch_transposed": "pytorch_transposed",
    "iohw": "pytorch_transposed",
    "keras_depthwise": "keras_depthwise",
    "depthwise": "keras_depthwise",
}


def resolve_layout(layout: object) -> str:
    """Return the canonical name of ``layout`` (case-insensitive, aliases allowed)."""
    try:
        return resolve_name("layout", layout, _LAYOUT_ALIASES, LAYOUTS)
    except ValueError as error:
        aliases = ", ".join(repr(a) for a in _LAYOUT_ALIASES if a not in LAYOUTS)
        raise ValueError(f"{error} Aliases: {aliases}.") from None


def check_groups(groups: object) -> int:
    """Validate ``groups``: an integer >= 1."""
    return integer("groups", groups, minimum=1)


def check_blocks(blocks: object) -> int:
    """Validate ``blocks``: an integer >= 1."""
    return integer("blocks", blocks, minimum=1)


def check_shape(shape: object) -> tuple[int, ...]:
    """Validate a shape: an int or a sequence of non-negative integers."""
    if isinstance(shape, (str, bytes)):
        raise TypeError(f"shape must be a sequence of non-negative integers; got {shape!r}.")
    if isinstance(shape, np.ndarray):
        shape = shape.tolist() if shape.ndim else (shape.item(),)
    elif hasattr(shape, "__index__") and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, Sequence) and not hasattr(shape, "__iter__"):
        raise TypeError(f"shape must be a sequence of non-negative integers; got {shape!r}.")
    dims = []
    for dim in shape:
        if isinstance(dim, bool) or not hasattr(dim, "__index__"):
            raise TypeError(f"shape must contain integers only; got {dim!r} in {shape!r}.")
        size = int(operator.index(dim))
        if size >= SIZE_LIMIT:
            raise ValueError(f"shape {shape!r} has an axis of {size}, too large to index.")
        if size < 0:
            raise ValueError(f"shape must contain non-negative integers; got {size} in {shape!r}.")
        dims.append(size)
    if math.prod(dims) >= SIZE_LIMIT:
        raise ValueError(f"shape {tuple(dims)} has too many elements ({math.prod(dims)}).")
    return tuple(dims)


def _axes(
    name: str, value: int | Sequence[int], rank: int, shape: tuple[int, ...]
) -> tuple[int, ...]:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if hasattr(value, "__index__") or not isinstance(value, (Sequence, np.ndarray)):
        items: tuple[object, ...] = (value,)
    else:
        items = tuple(value)
    axes = []
    for item in items:
        axis = integer(name, item)
        if not -rank <= axis < rank:
            raise ValueError(
                f"{name}={item!r} is out of range for shape {shape} of rank {rank}; "
                f"valid axes are {-rank} to {rank - 1}."
            )
        axes.append(axis % rank)
    return tuple(axes)


def _preset(layout: str) -> _Layout:
    """The table row of ``layout``: a canonical name is looked up directly, anything else is
    resolved first."""
    preset = _LAYOUT_TABLE.get(layout)
    return preset if preset is not None else _LAYOUT_TABLE[resolve_layout(layout)]


def _channel_axes(rank: int, preset: _Layout) -> tuple[int, int]:
    return preset.in_axes[0] % rank, preset.out_axes[0] % rank


def _canonical_axes(rank: int, preset: _Layout) -> tuple[int, ...]:
    if rank < 2:
        return tuple(range(rank))
    in_axis, out_axis = _channel_axes(rank, preset)
    return (out_axis, in_axis, *(a for a in range(rank) if a not in (in_axis, out_axis)))


def layout_axes(rank: int, layout: str = "in_out") -> tuple[int, int]:
    """The (input axis, output axis) of a rank-``rank`` weight in ``layout``, non-negative.

    >>> layout_axes(4, "pytorch")
    (1, 0)
    >>> layout_axes(2)
    (0, 1)
    """
    return _channel_axes(rank, _preset(layout))


def canonical_axes(rank: int, layout: str = "in_out") -> tuple[int, ...]:
    """The axes of a rank-``rank`` weight in ``layout``, in the order values are drawn in:
    output channels, input channels, then the kernel axes in their order.

    Values are a function of the position in this order, so a weight made in one layout is
    exactly the axis permutation of the same weight made in another. Ranks below 2 have no
    channel axes and keep their order.

    >>> canonical_axes(4, "in_out")      # (kh, kw, in, out) is drawn as (out, in, kh, kw)
    (3, 2, 0, 1)
    >>> canonical_axes(4, "pytorch"), canonical_axes(1)
    ((0, 1, 2, 3), (0,))
    """
    return _canonical_axes(rank, _preset(layout))


@dataclass(frozen=True)
class Weight:
    """A weight as a call describes it: its shape, canonical layout, group count and the
    number of equal blocks stacked along its output axis.

    Made once per call by :meth:`checked`, which validates every argument; everything after
    (plans, variances, fans, the engine's drawing order) reads it without checking again.

    Examples
    --------
    >>> from weightinit import Weight
    >>> w = Weight.checked((64, 32, 3, 3), "pytorch", 2, 1)
    >>> w.layout, w.fans
    ('out_in', Fans(fan_in=288, fan_out=288, receptive_field=9))
    >>> w.axes, w.canonical_shape
    ((0, 1, 2, 3), (64, 32, 3, 3))
    """

    shape: tuple[int, ...]
    layout: str = "in_out"
    groups: int = 1
    blocks: int = 1

    @classmethod
    def checked(cls, shape: object, layout: object, groups: object, blocks: object) -> Weight:
        """The weight a call describes, every argument validated (layout made canonical)."""
        return cls.trusted(
            check_shape(shape), resolve_layout(layout), check_groups(groups), check_blocks(blocks)
        )

    @classmethod
    def trusted(cls, shape: tuple[int, ...], layout: str, groups: int, blocks: int) -> Weight:
        """A weight whose facts the caller has already checked (a canonical layout, a shape
        of non-negative ints, positive groups and blocks): it is marked as checked, so
        nothing checks it again. For callers that made the facts themselves (a framework's
        module table); anything else goes through :meth:`checked`."""
        weight = cls(shape, layout, groups, blocks)
        object.__setattr__(weight, "_checked", True)
        return weight

    @property
    def is_checked(self) -> bool:
        """Whether this weight was made by :meth:`checked` or :meth:`trusted` (a weight made
        by the constructor alone is checked where it is used)."""
        return bool(self.__dict__.get("_checked", False))

    def ensure_checked(self) -> Weight:
        """This weight if it is checked, else the same facts through :meth:`checked`."""
        if self.is_checked:
            return self
        return Weight.checked(self.shape, self.layout, self.groups, self.blocks)

    def with_shape(self, shape: object) -> Weight:
        """The same layout, groups and blocks for another shape (only the shape is checked):
        a bridge checks its options once and calls this for each shape it is given."""
        return Weight.trusted(check_shape(shape), self.layout, self.groups, self.blocks)

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self.shape)

    @functools.cached_property
    def in_axis(self) -> int:
        """The input-channel axis (non-negative; rank 2 or more)."""
        return _channel_axes(len(self.shape), _preset(self.layout))[0]

    @functools.cached_property
    def out_axis(self) -> int:
        """The output-channel axis (non-negative; rank 2 or more)."""
        return _channel_axes(len(self.shape), _preset(self.layout))[1]

    @functools.cached_property
    def axes(self) -> tuple[int, ...]:
        """The axes in the order values are drawn in: ``(out, in, *kernel)``
        (:func:`canonical_axes`)."""
        return _canonical_axes(len(self.shape), _preset(self.layout))

    @property
    def canonical_shape(self) -> tuple[int, ...]:
        """The shape in that order: ``(out, in, *kernel)``."""
        return tuple(self.shape[a] for a in self.axes)

    @functools.cached_property
    def fans(self) -> Fans:
        """Fan-in, fan-out and receptive field (``ValueError`` below rank 2, or for groups
        or blocks that do not divide their axis)."""
        return _fans(self, None, None, ())


def fans(
    shape: Sequence[int],
    *,
    layout: str = "in_out",
    groups: int = 1,
    in_axis: int | Sequence[int] | None = None,
    out_axis: int | Sequence[int] | None = None,
    batch_axis: int | Sequence[int] = (),
    blocks: int = 1,
) -> Fans:
    """Compute the fan-in and fan-out of a weight shape, reading its axes as ``layout`` says.

    The layout is never guessed from the shape. Pick it by how the weight is stored:

    - ``(*kernel, in, out)``: ``"in_out"``, the default (``x @ W``, Keras, JAX, HWIO, NHWC
      code);
    - ``(out, in, *kernel)``: ``"pytorch"`` (``W @ x``, PyTorch, OIHW, NCHW code and its
      ``(FN, C, FH, FW)`` filters);
    - ``(in, out / groups, *kernel)``: ``"pytorch_transposed"`` (``ConvTranspose``);
    - ``(*kernel, in, multiplier)``: ``"keras_depthwise"``.

    A textbook NumPy filter bank ``(FN, C, FH, FW) = (30, 1, 5, 5)`` needs ``layout="pytorch"``:
    read with the default it is a 30 x 1 kernel from 5 to 5 channels, and its fan-in is six
    times too large.

    Parameters
    ----------
    shape : sequence of int
        The weight's shape, of rank 2 or more.
    layout : str, default "in_out"
        Which axes hold the input and output channels:

        - ``"in_out"`` (aliases ``"keras"``, ``"tensorflow"``, ``"jax"``, ``"flax"``,
          ``"hwio"``, ``"nhwc"``, ``"channels_last"``): ``(*kernel, in, out)``, as
          ``x @ W`` and Keras/JAX convolution kernels (HWIO);
        - ``"out_in"`` (aliases ``"pytorch"``, ``"torch"``, ``"onnx"``, ``"oihw"``,
          ``"nchw"``, ``"channels_first"``): ``(out, in, *kernel)``, as PyTorch ``Linear``
          and ``Conv`` weights (OIHW);
        - ``"pytorch_transposed"`` (``"iohw"``): ``(in, out, *kernel)``, PyTorch
          ``ConvTranspose``;
        - ``"keras_depthwise"`` (``"depthwise"``): ``(*kernel, in, multiplier)``; each
          output sees one input channel, so ``fan_in = receptive_field`` and
          ``fan_out = multiplier * receptive_field``.
    groups : int, default 1
        Number of channel groups. The axis that holds the full channel count (``out`` for
        ``in_out`` and ``out_in``, ``in`` for ``pytorch_transposed``) is divided by it; the
        other axis already holds the per-group count.
    in_axis, out_axis : int or sequence of int, optional
        Override the layout's input or output axes, with the meaning of JAX's
        ``variance_scaling``: fans multiply the sizes of all listed axes.
    batch_axis : int or sequence of int, default ()
        Axes that belong to neither the fans nor the receptive field.
    blocks : int, default 1
        The output axis holds ``blocks`` equal stacked blocks, as a fused weight does (the
        q, k and v projections of attention, an LSTM's four gates): the fans are those of
        one block.

    Returns
    -------
    Fans
        ``(fan_in, fan_out, receptive_field)``.

    Raises
    ------
    ValueError
        For shapes of rank 0 or 1 (biases have no fans), unknown layouts, axes out of range,
        or ``groups`` that does not divide the full channel count.

    Examples
    --------
    A dense weight for ``x @ W`` and a PyTorch convolution weight:

    >>> import weightinit as wi
    >>> wi.fans((784, 256))
    Fans(fan_in=784, fan_out=256, receptive_field=1)
    >>> wi.fans((64, 32, 3, 3), layout="pytorch")
    Fans(fan_in=288, fan_out=576, receptive_field=9)

    The same convolution as a Keras/JAX kernel (HWIO) has the same fans:

    >>> wi.fans((3, 3, 32, 64))
    Fans(fan_in=288, fan_out=576, receptive_field=9)

    PyTorch's packed attention projection ``in_proj_weight`` of shape ``(3 E, E)`` stacks
    q, k and v; each block has fan-out ``E``:

    >>> wi.fans((3 * 512, 512), layout="pytorch", blocks=3)
    Fans(fan_in=512, fan_out=512, receptive_field=1)

    A grouped convolution, ``Conv2d(16, 32, 3, groups=2)`` in PyTorch:

    >>> wi.fans((32, 8, 3, 3), layout="out_in", groups=2)
    Fans(fan_in=72, fan_out=144, receptive_field=9)
    """
    weight = Weight.checked(shape, layout, groups, blocks)
    if in_axis is None and out_axis is None and batch_axis == ():
        return weight.fans
    return _fans(weight, in_axis, out_axis, batch_axis)


def _fans(
    weight: Weight,
    in_axis: int | Sequence[int] | None,
    out_axis: int | Sequence[int] | None,
    batch_axis: int | Sequence[int],
) -> Fans:
    """The fans of a checked weight, with optional axis overrides."""
    dims = weight.shape
    rank = len(dims)
    if rank < 2:
        raise ValueError(
            f"shape {dims} of rank {rank} has no fans: biases and scalars have no input and "
            "output axes. Use zeros() (or constant(), uniform(), scaled_normal()) for them."
        )
    preset = _preset(weight.layout)
    n_groups = weight.groups
    ins = _axes("in_axis", in_axis if in_axis is not None else preset.in_axes, rank, dims)
    outs = _axes("out_axis", out_axis if out_axis is not None else preset.out_axes, rank, dims)
    batch = _axes("batch_axis", batch_axis, rank, dims)
    used = ins + outs + batch
    if len(set(used)) != len(used):
        raise ValueError(
            f"in_axis {ins}, out_axis {outs} and batch_axis {batch} must not share an axis "
            f"(shape {dims})."
        )
    receptive = 1
    for axis, size in enumerate(dims):
        if axis not in used:
            receptive *= size
    n_in = 1
    for axis in ins:
        n_in *= dims[axis]
    n_out = 1
    for axis in outs:
        n_out *= dims[axis]
    n_blocks = weight.blocks
    if n_out % n_blocks:
        raise ValueError(
            f"blocks={n_blocks} does not divide the output channel count {n_out} of shape "
            f"{dims}: the output axis must hold {n_blocks} equal stacked blocks."
        )
    n_out //= n_blocks  # fans are those of one block (q, k or v; one gate)
    if preset.depthwise:
        if n_groups != 1:
            raise ValueError(
                f"groups={n_groups} does not apply to layout 'keras_depthwise', whose "
                "(*kernel, in, multiplier) shape already has one group per input channel; "
                "pass groups=1."
            )
        return Fans(receptive, n_out * receptive, receptive)
    full = n_out if preset.grouped == "out" else n_in
    if full % n_groups:
        side = "output" if preset.grouped == "out" else "input"
        raise ValueError(
            f"groups={n_groups} does not divide the {side} channel count {full} of shape "
            f"{dims} (layout {weight.layout!r})."
        )
    if preset.grouped == "out":
        n_out //= n_groups
    else:
        n_in //= n_groups
    return Fans(n_in * receptive, n_out * receptive, receptive)
