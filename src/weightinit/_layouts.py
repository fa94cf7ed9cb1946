"""Weight layouts: which axes of a stored weight hold its input and output channels.

Each framework stores a layer's kernel one way, whatever the data format of its activations;
a layout names that way, and this table is the one place that says which axis is which.
"""

from __future__ import annotations

from dataclasses import dataclass

from weightinit._errors import normalise_name
from weightinit._errors import resolve_name

__all__ = [
    "LAYOUTS",
    "canonical_axes",
    "layout_axes",
    "layout_row",
    "nonnegative",
    "resolve_layout",
]


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
    "keras_transposed": _Layout((-1,), (-2,), "in"),
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
    "pytorch_transposed": "pytorch_transposed",
    "torch_transposed": "pytorch_transposed",
    "iohw": "pytorch_transposed",
    "keras_depthwise": "keras_depthwise",
    "depthwise": "keras_depthwise",
    "keras_transposed": "keras_transposed",
    "keras_conv_transpose": "keras_transposed",
    "hwoi": "keras_transposed",
}

#: Names of activation data formats, which say nothing about how a kernel is stored.
_DATA_FORMATS = (
    "channels_first",
    "channels_last",
    "nchw",
    "nhwc",
    "ncw",
    "nwc",
    "ncdhw",
    "ndhwc",
)


def resolve_layout(layout: object) -> str:
    """Return the canonical name of ``layout`` (case-insensitive, aliases allowed).

    A data format (``"channels_first"``, ``"NHWC"``, ...) is not a layout: it says how
    activations are stored, while a framework stores its kernels one way whatever the data
    format.

    >>> resolve_layout("HWIO"), resolve_layout("pytorch")
    ('in_out', 'out_in')
    """
    if isinstance(layout, str) and normalise_name(layout) in _DATA_FORMATS:
        raise ValueError(
            f"layout {layout!r} is a data format: it says how activations are stored, not "
            "kernels. Keras, JAX and TensorFlow store convolution kernels as (*kernel, in, "
            "out) (HWIO, layout 'in_out') and PyTorch and ONNX as (out, in, *kernel) (OIHW, "
            "layout 'out_in'), whatever the data format. Layouts: "
            f"{', '.join(map(repr, LAYOUTS))}."
        )
    try:
        return resolve_name("layout", layout, _LAYOUT_ALIASES, LAYOUTS)
    except ValueError as error:
        aliases = ", ".join(repr(a) for a in _LAYOUT_ALIASES if a not in LAYOUTS)
        raise ValueError(f"{error} Aliases: {aliases}.") from None


def nonnegative(axes: tuple[int, ...], rank: int) -> tuple[int, ...]:
    """``axes`` of a rank-``rank`` shape, counted from the start."""
    return tuple(a % rank for a in axes)


def layout_row(layout: str) -> _Layout:
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
    return _channel_axes(rank, layout_row(layout))


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
    return _canonical_axes(rank, layout_row(layout))
