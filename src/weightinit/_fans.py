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
from weightinit._layouts import LAYOUTS
from weightinit._layouts import canonical_axes
from weightinit._layouts import layout_axes
from weightinit._layouts import layout_row
from weightinit._layouts import nonnegative
from weightinit._layouts import resolve_layout

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


AxisArg = int | Sequence[int] | None
#: An axis request as given, its types checked: ``(in, out, batch)``, each a tuple of ints
#: that may be negative (``None``: the layout's axes).
_Request = tuple[tuple[int, ...] | None, tuple[int, ...] | None, tuple[int, ...]]
_NO_REQUEST: _Request = (None, None, ())


def _axis_list(name: str, value: object) -> tuple[int, ...]:
    """An axis argument (an int or a sequence of ints) as a tuple, its types checked."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        items: tuple[object, ...] = tuple(value)
    else:
        items = (value,)  # an int, or a wrong type that ``integer`` names
    return tuple(integer(name, item) for item in items)


def _request(in_axis: object, out_axis: object, batch_axis: object) -> _Request:
    """The axis arguments of a call, their types checked."""
    if in_axis is None and out_axis is None and batch_axis == ():
        return _NO_REQUEST
    return (
        None if in_axis is None else _axis_list("in_axis", in_axis),
        None if out_axis is None else _axis_list("out_axis", out_axis),
        _axis_list("batch_axis", batch_axis),
    )


def _in_range(name: str, axes: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    rank = len(shape)
    for axis in axes:
        if not -rank <= axis < rank:
            raise ValueError(
                f"{name}={axis!r} is out of range for shape {shape} of rank {rank}; "
                f"valid axes are {-rank} to {rank - 1}."
            )
    return tuple(axis % rank for axis in axes)


def _resolve(request: _Request, shape: tuple[int, ...], layout: str) -> _Request:
    """The explicit axes of ``request`` for ``shape``: non-negative, in range and disjoint
    from each other and from the layout's axes they leave in place. A shape of rank 0 (a
    bridge's options, checked before it sees a shape) keeps them as given."""
    if request == _NO_REQUEST or not shape:
        return request
    in_axes, out_axes, batch_axes = request
    ins = None if in_axes is None else _in_range("in_axis", in_axes, shape)
    outs = None if out_axes is None else _in_range("out_axis", out_axes, shape)
    batch = _in_range("batch_axis", batch_axes, shape)
    if len(shape) < 2:
        return ins, outs, batch
    preset = layout_row(layout)
    rank = len(shape)
    sides = (
        ("in_axis", ins if ins is not None else nonnegative(preset.in_axes, rank)),
        ("out_axis", outs if outs is not None else nonnegative(preset.out_axes, rank)),
        ("batch_axis", batch),
    )
    used = [a for _, side in sides for a in side]
    if len(set(used)) != len(used):
        implied = [n for n, given in (("in_axis", ins), ("out_axis", outs)) if given is None]
        note = (
            f"; {' and '.join(implied)} {'comes' if len(implied) == 1 else 'come'} from "
            f"layout {layout!r}: pass {'it' if len(implied) == 1 else 'them'} explicitly"
            if implied
            else ""
        )
        (_, i), (_, o), (_, b) = sides
        raise ValueError(
            f"in_axis {i}, out_axis {o} and batch_axis {b} must not share an axis (shape "
            f"{shape}){note}."
        )
    if preset.depthwise and (len(sides[0][1]) != 1 or len(sides[1][1]) != 1 or batch):
        raise ValueError(
            "layout 'keras_depthwise' takes one in_axis and one out_axis and no batch_axis; "
            f"got in_axis {sides[0][1]}, out_axis {sides[1][1]}, batch_axis {batch}. Use "
            "layout 'in_out' with groups for other depthwise kernels."
        )
    return ins, outs, batch


@dataclass(frozen=True, repr=False)
class Weight:
    """A weight as a call describes it: its shape, canonical layout, group count, the
    number of equal blocks stacked along its output axes, and any explicit axes.

    ``in_axes``, ``out_axes`` and ``batch_axes`` are the axes a call gave with ``in_axis``,
    ``out_axis`` and ``batch_axis`` (non-negative; ``None`` means the layout's);
    :attr:`fan_axes` says which are in effect. A weight of shape ``()`` (a bridge's options,
    checked before it sees a shape) holds them as given, and :meth:`with_shape` resolves
    them for each shape.

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

    A Flax ``DenseGeneral`` kernel from 512 features to 8 heads of 64:

    >>> w = Weight.checked((512, 8, 64), "in_out", 1, 1, in_axis=0, out_axis=(-2, -1))
    >>> w
    Weight(shape=(512, 8, 64), layout='in_out', groups=1, blocks=1, in_axes=(0,), out_axes=(1, 2))
    >>> w.fans, w.axes
    (Fans(fan_in=512, fan_out=512, receptive_field=1), (1, 2, 0))
    """

    shape: tuple[int, ...]
    layout: str = "in_out"
    groups: int = 1
    blocks: int = 1
    in_axes: tuple[int, ...] | None = None
    out_axes: tuple[int, ...] | None = None
    batch_axes: tuple[int, ...] = ()

    def __repr__(self) -> str:
        text = (
            f"Weight(shape={self.shape!r}, layout={self.layout!r}, groups={self.groups!r}, "
            f"blocks={self.blocks!r}"
        )
        for name in ("in_axes", "out_axes", "batch_axes"):
            value = getattr(self, name)
            if value is not None and value != ():
                text += f", {name}={value!r}"
        return text + ")"

    @classmethod
    def checked(
        cls,
        shape: object,
        layout: object,
        groups: object,
        blocks: object,
        *,
        in_axis: object = None,
        out_axis: object = None,
        batch_axis: object = (),
    ) -> Weight:
        """The weight a call describes, every argument validated (layout made canonical,
        axes made non-negative; see :func:`fans` for their meaning)."""
        dims, name = check_shape(shape), resolve_layout(layout)
        request = _request(in_axis, out_axis, batch_axis)
        return cls._made(dims, name, check_groups(groups), check_blocks(blocks), request)

    @classmethod
    def _made(
        cls, shape: tuple[int, ...], layout: str, groups: int, blocks: int, request: _Request
    ) -> Weight:
        ins, outs, batch = _resolve(request, shape, layout)
        weight = cls.trusted(shape, layout, groups, blocks, ins, outs, batch)
        if request != _NO_REQUEST:
            object.__setattr__(weight, "_request", request)
        return weight

    @classmethod
    def trusted(
        cls,
        shape: tuple[int, ...],
        layout: str,
        groups: int,
        blocks: int,
        in_axes: tuple[int, ...] | None = None,
        out_axes: tuple[int, ...] | None = None,
        batch_axes: tuple[int, ...] = (),
    ) -> Weight:
        """A weight whose facts the caller has already checked (a canonical layout, a shape
        of non-negative ints, positive groups and blocks, disjoint non-negative axes in
        range): it is marked as checked, so nothing checks it again. For callers that made
        the facts themselves (a framework's module table); anything else goes through
        :meth:`checked`."""
        weight = cls(shape, layout, groups, blocks, in_axes, out_axes, batch_axes)
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
        return Weight.checked(
            self.shape,
            self.layout,
            self.groups,
            self.blocks,
            in_axis=self.in_axes,
            out_axis=self.out_axes,
            batch_axis=self.batch_axes,
        )

    def with_shape(self, shape: object) -> Weight:
        """The same layout, groups, blocks and axes for another shape (only the shape, and
        the axes against it, are checked): a bridge checks its options once and calls this
        for each shape it is given. Axes given as negative numbers count from the end of
        each shape."""
        request = self.__dict__.get("_request", (self.in_axes, self.out_axes, self.batch_axes))
        return Weight._made(check_shape(shape), self.layout, self.groups, self.blocks, request)

    @property
    def size(self) -> int:
        """The number of elements."""
        return math.prod(self.shape)

    @functools.cached_property
    def fan_axes(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """The (input, output, batch) axes in effect, non-negative: the explicit ones, else
        the layout's (rank 2 or more; below, all are empty).

        >>> from weightinit import Weight
        >>> Weight.checked((3, 3, 16, 32), "in_out", 1, 1).fan_axes
        ((2,), (3,), ())
        """
        rank = len(self.shape)
        if rank < 2:
            return (), (), ()
        preset = layout_row(self.layout)
        ins = self.in_axes if self.in_axes is not None else nonnegative(preset.in_axes, rank)
        outs = self.out_axes if self.out_axes is not None else nonnegative(preset.out_axes, rank)
        return ins, outs, self.batch_axes

    @functools.cached_property
    def in_axis(self) -> int:
        """The input-channel axis (non-negative; rank 2 or more, one input axis)."""
        return self._single(0, "in_axis")

    @functools.cached_property
    def out_axis(self) -> int:
        """The output-channel axis (non-negative; rank 2 or more, one output axis)."""
        return self._single(1, "out_axis")

    def _single(self, side: int, name: str) -> int:
        axes = self.fan_axes[side]
        if len(axes) != 1:
            raise ValueError(f"shape {self.shape} has {len(axes)} {name} axes {axes}, not one.")
        return axes[0]

    @functools.cached_property
    def axes(self) -> tuple[int, ...]:
        """The axes in the order values are drawn in: the output axes, the input axes, then
        every other axis (kernel and batch axes) in its order; ``(out, in, *kernel)`` for a
        layout (:func:`canonical_axes`). Ranks below 2 keep their order."""
        rank = len(self.shape)
        if rank < 2:
            return tuple(range(rank))
        ins, outs, _ = self.fan_axes
        lead = (*outs, *ins)
        return (*lead, *(a for a in range(rank) if a not in lead))

    @property
    def canonical_shape(self) -> tuple[int, ...]:
        """The shape in that order: ``(*out, *in, *rest)``."""
        return tuple(self.shape[a] for a in self.axes)

    @functools.cached_property
    def fans(self) -> Fans:
        """Fan-in, fan-out and receptive field (``ValueError`` below rank 2, or for groups
        or blocks that do not divide their axes)."""
        return _fans(self)


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

    - ``(*kernel, in, out)``: ``"in_out"``, the default (``x @ W``, Keras, JAX, HWIO);
    - ``(out, in, *kernel)``: ``"pytorch"`` (``W @ x``, PyTorch, OIHW, and the
      ``(FN, C, FH, FW)`` filters of NumPy textbook code);
    - ``(in, out / groups, *kernel)``: ``"pytorch_transposed"`` (``ConvTranspose``);
    - ``(*kernel, out, in)``: ``"keras_transposed"`` (Keras ``Conv*DTranspose``);
    - ``(*kernel, in, multiplier)``: ``"keras_depthwise"``.

    A data format (``"channels_first"``, ``"NCHW"``, ...) is not a layout: it says how
    activations are stored, and each framework stores its kernels one way whatever the data
    format, so such a name is a ``ValueError``.

    A textbook NumPy filter bank ``(FN, C, FH, FW) = (30, 1, 5, 5)`` needs ``layout="pytorch"``:
    read with the default it is a 30 x 1 kernel from 5 to 5 channels, and its fan-in is six
    times too large.

    Parameters
    ----------
    shape : sequence of int
        The weight's shape, of rank 2 or more.
    layout : str, default "in_out"
        Which axes hold the input and output channels:

        - ``"in_out"`` (aliases ``"keras"``, ``"tensorflow"``, ``"tf"``, ``"jax"``,
          ``"flax"``, ``"hwio"``): ``(*kernel, in, out)``, as ``x @ W`` and Keras/JAX
          convolution kernels (HWIO) in either data format;
        - ``"out_in"`` (aliases ``"pytorch"``, ``"torch"``, ``"onnx"``, ``"oihw"``):
          ``(out, in, *kernel)``, as PyTorch ``Linear`` and ``Conv`` weights (OIHW) in
          either memory format;
        - ``"pytorch_transposed"`` (``"torch_transposed"``, ``"iohw"``):
          ``(in, out, *kernel)``, PyTorch ``ConvTranspose``;
        - ``"keras_transposed"`` (``"keras_conv_transpose"``, ``"hwoi"``):
          ``(*kernel, out, in)``, Keras ``Conv*DTranspose`` and Flax
          ``ConvTranspose(transpose_kernel=True)``;
        - ``"keras_depthwise"`` (``"depthwise"``): ``(*kernel, in, multiplier)``; each
          output sees one input channel, so ``fan_in = receptive_field`` and
          ``fan_out = multiplier * receptive_field``.
    groups : int, default 1
        Number of channel groups. The side that holds the full channel count (``out`` for
        ``in_out`` and ``out_in``, ``in`` for the transposed layouts) is divided by it; the
        other side already holds the per-group count.
    in_axis, out_axis : int or sequence of int, optional
        Replace the layout's input or output axes, with the meaning of JAX's
        ``variance_scaling``: fans multiply the sizes of all listed axes. Negative axes
        count from the end. Each names at least one axis; no axis may be named twice, nor
        be both an explicit axis and one the layout still supplies (JAX silently computes
        odd fans then).
    batch_axis : int or sequence of int, default ()
        Axes that belong to neither the fans nor the receptive field.
    blocks : int, default 1
        The output axes hold ``blocks`` equal stacked blocks, as a fused weight does (the
        q, k and v projections of attention, an LSTM's four gates): the fans are those of
        one block.

    Returns
    -------
    Fans
        ``(fan_in, fan_out, receptive_field)``.

    Raises
    ------
    ValueError
        For shapes of rank 0 or 1 (biases have no fans), unknown layouts and data formats,
        axes out of range or shared, or ``groups`` or ``blocks`` that does not divide its
        channel count.

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

    A Flax ``DenseGeneral`` kernel from 512 features to 8 heads of 64, and a Keras
    ``Conv2DTranspose(32, 4)`` kernel on 64 channels:

    >>> wi.fans((512, 8, 64), in_axis=0, out_axis=(1, 2))
    Fans(fan_in=512, fan_out=512, receptive_field=1)
    >>> wi.fans((4, 4, 32, 64), layout="keras_transposed")
    Fans(fan_in=1024, fan_out=512, receptive_field=16)
    """
    weight = Weight.checked(
        shape, layout, groups, blocks, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis
    )
    return weight.fans


def _fans(weight: Weight) -> Fans:
    """The fans of a checked weight, read along its axes in effect."""
    dims = weight.shape
    rank = len(dims)
    if rank < 2:
        raise ValueError(
            f"shape {dims} of rank {rank} has no fans: biases and scalars have no input and "
            "output axes. Use zeros() (or constant(), uniform(), scaled_normal()) for them."
        )
    preset = layout_row(weight.layout)
    n_groups = weight.groups
    ins, outs, batch = weight.fan_axes
    used = ins + outs + batch
    receptive = math.prod(size for axis, size in enumerate(dims) if axis not in used)
    n_in = math.prod(dims[axis] for axis in ins)
    n_out = math.prod(dims[axis] for axis in outs)
    n_blocks = weight.blocks
    if n_out % n_blocks:
        raise ValueError(
            f"blocks={n_blocks} does not divide the output channel count {n_out} of shape "
            f"{dims}: the output axes must hold {n_blocks} equal stacked blocks."
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
