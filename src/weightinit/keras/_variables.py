"""Which Keras variable an initializer is making, and what its layer says about its axes.

Keras calls an initializer with a shape and a dtype only. The variable being made is the
``self`` of the Keras method that calls it (``Variable._initialize_with_initializer``, on
every backend, whether the variable is made at once or, inside a ``StatelessScope``, later),
and when ``Layer.add_weight`` made the variable, the layer is the ``self`` of that frame. Both
are read from the call stack, a few frames up, and nothing else is: if a Keras version moved
these calls, :func:`current` would find nothing, and the tests (``tests/test_keras_layer.py``)
say so.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from types import FrameType

import keras

__all__ = ["Site", "current"]

# How far up the stack to look: Keras calls the initializer from the variable's method,
# which Variable.__init__ calls from Layer.add_weight. A few frames of slack allow for a
# backend's wrapper in between.
_DEPTH = 8


@dataclass(frozen=True)
class Site:
    """The variable an initializer is called for.

    ``path`` is ``variable.path`` (``"model/dense/kernel"``); ``layout``, ``groups`` and
    ``blocks`` are what the variable's layer says about the weight's axes, or ``None`` where
    the layer is unknown or says nothing.
    """

    path: str
    layout: str | None = None
    groups: int | None = None
    blocks: int | None = None


# One row per Keras layer type whose weights need more than the default in_out reading:
# (class names, matched along the layer's class hierarchy among Keras' own classes; the
# names of the variables the row is about; layout; blocks).
_TABLE: tuple[tuple[tuple[str, ...], tuple[str, ...], str | None, int | None], ...] = (
    (("DepthwiseConv1D", "DepthwiseConv2D"), ("kernel",), "keras_depthwise", None),
    (("SeparableConv1D", "SeparableConv2D"), ("depthwise_kernel",), "keras_depthwise", None),
    (
        ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"),
        ("kernel",),
        "keras_transposed",
        None,
    ),
    # Keras stacks an LSTM's four gates (i, f, c, o) and a GRU's three (z, r, h) along the
    # output axis of the input and recurrent kernels.
    (("LSTMCell", "ConvLSTMCell"), ("kernel", "recurrent_kernel"), None, 4),
    (("GRUCell",), ("kernel", "recurrent_kernel"), None, 3),
)

# Grouped convolutions: the kernel is (*kernel, in / groups, out).
_GROUPED = ("Conv1D", "Conv2D", "Conv3D")


def current() -> Site | None:
    """The variable whose initial value the calling initializer is making, or ``None`` when
    it is called directly (not by a Keras variable)."""
    frame: FrameType | None = sys._getframe(2)
    variable = None
    for _ in range(_DEPTH):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "_initialize_with_initializer" and isinstance(
            owner, keras.Variable
        ):
            variable = owner
            frame = frame.f_back
            break
        frame = frame.f_back
    if variable is None:
        return None
    for _ in range(_DEPTH):
        if frame is None:
            break
        owner = frame.f_locals.get("self")
        if frame.f_code.co_name == "add_weight" and isinstance(owner, keras.layers.Layer):
            return _read(str(variable.path), str(variable.name), owner)
        frame = frame.f_back
    return Site(str(variable.path))


def _keras_names(layer: object) -> set[str]:
    return {
        kind.__name__
        for kind in type(layer).__mro__
        if kind.__module__ == "keras" or kind.__module__.startswith("keras.")
    }


def _read(path: str, name: str, layer: object) -> Site:
    kinds = _keras_names(layer)
    for classes, variables, layout, blocks in _TABLE:
        if name in variables and kinds.intersection(classes):
            return Site(path, layout=layout, blocks=blocks)
    if name == "kernel" and kinds.intersection(_GROUPED):
        groups = getattr(layer, "groups", 1)
        return Site(path, groups=int(groups))
    return Site(path)
