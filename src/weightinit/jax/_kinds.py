"""What each parameter of a JAX model is: its module's kind, read from the module's class
where the framework keeps it (Flax NNX, Equinox) and from its name, its peers' names and its
shape in a Flax linen or Haiku tree, as a :class:`~weightinit.roles.Slot`."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import numpy as np

from weightinit._fans import Weight
from weightinit.roles import Slot

__all__ = ["BIAS_LEAVES", "Entry", "slot"]

BIAS_LEAVES = frozenset({"bias", "b", "offset", "beta"})
_BIAS_LEAVES = BIAS_LEAVES
_NORM = re.compile(r"norm", re.IGNORECASE)
_CONV = re.compile(r"conv", re.IGNORECASE)
_ATTENTION = re.compile(r"attention|attn", re.IGNORECASE)
_TRANSPOSED = re.compile(r"transpose|deconv|up_?conv", re.IGNORECASE)


@dataclasses.dataclass
class Entry:
    """A parameter found in the tree: its place in the flattened tree, its leaf and facts."""

    index: int
    keys: tuple[object, ...]
    value: Any
    shape: tuple[int, ...]
    dtype: Any
    module: tuple[str, ...]
    leaf: str
    owner: Any = None  # the module object, where the framework keeps one
    stat: float | None = None  # a running statistic's start
    variable: Any = None  # an NNX Variable to write in place


def _weight(shape: tuple[int, ...], layout: str = "in_out", groups: int = 1, **axes: Any) -> Weight:
    return Weight.checked(shape, layout, groups, 1, **axes)


def slot(
    entry: Entry, style: str, siblings: dict[str, tuple[int, ...]], peers: set[str]
) -> tuple[Slot | None, str, str]:
    """The slot of ``entry``, its module's kind and, when unknown, a hint (``siblings``: the
    shapes of its module's leaves; ``peers``: the names of the modules beside its own)."""
    if entry.owner is not None:
        kind = f"a {type(entry.owner).__name__}"
    else:
        kind = f"module {entry.module[-1]!r}" if entry.module else "the model"
    shape, leaf, rank = entry.shape, entry.leaf, len(entry.shape)
    if style == "equinox":
        return _equinox(entry, kind)
    recurrent = _gate(entry, peers)
    if recurrent is not None:
        return recurrent, kind, ""
    if style == "nnx":
        found = _nnx(entry, type(entry.owner).__name__)
        if found is not None:
            return found, kind, ""
    name = entry.module[-1] if entry.module else ""
    parent = entry.module[-2] if len(entry.module) >= 2 else ""
    attention = bool(_ATTENTION.search(parent)) or {"query", "key", "value"} <= peers | {name}
    if leaf in ("embedding", "embeddings"):
        return Slot("embedding", _weight(shape)), kind, ""
    kernel = siblings.get("kernel", siblings.get("w"))
    norm = _NORM.search(name) or (kernel is None and ("scale" in siblings or "offset" in siblings))
    if norm:
        if leaf in ("scale", "gamma", "weight"):
            return Slot("norm_gain", _weight(shape), value=1.0), kind, ""
        if leaf in _BIAS_LEAVES:
            return Slot("norm_bias", _weight(shape)), kind, ""
    if leaf in _BIAS_LEAVES:
        fan_in = _fan_in(kernel, name, attention) if kernel else None
        return Slot("bias", _weight(shape), fan_in=fan_in), kind, ""
    if leaf not in ("kernel", "w"):
        return None, kind, f"{leaf!r} is not a kernel, bias, embedding or scale"
    if rank == 2:
        return Slot("projection", _weight(shape)), kind, ""
    if rank == 3 and attention and name in ("query", "key", "value"):
        return Slot("projection", _weight(shape, in_axis=0, out_axis=(1, 2))), kind, ""
    if rank == 3 and attention and name == "out":
        return Slot("projection", _weight(shape, in_axis=(0, 1), out_axis=2)), kind, ""
    if rank >= 3 and _CONV.search(name):
        # Haiku's ConvNDTranspose keeps (*kernel, out, in), and its tree says so only by the
        # module's name; Flax's ConvTranspose keeps HWIO unless transpose_kernel=True.
        transposed = style == "haiku" and bool(_TRANSPOSED.search(name))
        layout = "keras_transposed" if transposed else "in_out"
        return Slot("convolution", _weight(shape, layout)), kind, ""
    return (
        None,
        kind,
        (
            f"a kernel of rank {rank} that is neither a convolution (its module named ...conv...) "
            "nor attention's q/k/v/out: a DenseGeneral's axes are not in its shape, so say them "
            "({'<name>': {'role': 'projection', 'in_axis': ..., 'out_axis': ...}})"
        ),
    )


#: The gates' dense layers of Flax's recurrent cells (linen and NNX): input-to-hidden and
#: hidden-to-hidden, one per gate.
_CELL_INPUTS = frozenset({"ii", "if", "if_", "ig", "io", "ir", "iz", "in"})
_CELLS = (frozenset({"hi", "hf", "hg", "ho"}), frozenset({"hr", "hz", "hn"}))


def _gate(entry: Entry, peers: set[str]) -> Slot | None:
    """The slot of a gate's kernel or bias in a Flax recurrent cell (``LSTMCell``,
    ``OptimizedLSTMCell``, ``GRUCell``), known by its gates' names beside it."""
    if not entry.module:
        return None
    name, shape = entry.module[-1], entry.shape
    if not any(all(g in peers or g == name for g in cell) for cell in _CELLS):
        return None
    if name not in _CELL_INPUTS and not any(name in cell for cell in _CELLS):
        return None
    if entry.leaf in _BIAS_LEAVES:
        return Slot("recurrent_bias", _weight(shape), hidden=shape[-1] if shape else None)
    if entry.leaf != "kernel" or len(shape) != 2:
        return None
    role = "recurrent_input" if name in _CELL_INPUTS else "recurrent_hidden"
    return Slot(role, _weight(shape), hidden=shape[1])


def _fan_in(shape: tuple[int, ...], name: str, attention: bool) -> int:
    """The fan-in of the kernel of ``shape`` beside a bias (for the frameworks' bias laws)."""
    if attention and len(shape) == 3 and name == "out":
        return shape[0] * shape[1]
    if attention and len(shape) == 3:
        return shape[0]
    return int(np.prod(shape[:-1]))


def _stem(name: str) -> str:
    return re.sub(r"_\d+$", "", name)


def _nnx(entry: Entry, kind: str) -> Slot | None:
    owner, shape, leaf = entry.owner, entry.shape, entry.leaf
    if kind == "Linear":
        if leaf == "kernel":
            return Slot("projection", _weight(shape))
        return Slot("bias", _weight(shape), fan_in=int(owner.in_features))
    if kind == "LinearGeneral":
        ins = len(tuple(owner.in_features))
        outs = len(tuple(owner.out_features))
        if dict(owner.batch_axis):
            return None
        if leaf == "kernel":
            ins_axes, outs_axes = tuple(range(ins)), tuple(range(ins, ins + outs))
            return Slot("projection", _weight(shape, in_axis=ins_axes, out_axis=outs_axes))
        return Slot("bias", _weight(shape), fan_in=int(np.prod(owner.in_features)))
    if kind in ("Conv", "ConvTranspose"):
        groups = int(getattr(owner, "feature_group_count", 1) or 1)
        # ConvTranspose(transpose_kernel=True) keeps (*kernel, out, in).
        layout = "keras_transposed" if getattr(owner, "transpose_kernel", False) else "in_out"
        if leaf == "kernel":
            return Slot("convolution", _weight(shape, layout, groups=groups))
        return Slot("bias", _weight(shape))
    if kind == "Embed" and leaf == "embedding":
        return Slot("embedding", _weight(shape))
    if _NORM.search(kind):
        if leaf == "scale":
            return Slot("norm_gain", _weight(shape), value=1.0)
        if leaf == "bias":
            return Slot("norm_bias", _weight(shape))
    return None


def _equinox(entry: Entry, kind: str) -> tuple[Slot | None, str, str]:
    owner, shape, leaf = entry.owner, entry.shape, entry.leaf
    cls = type(owner).__name__
    if cls == "Linear":
        if leaf == "weight":
            return Slot("projection", _weight(shape, "out_in")), kind, ""
        return Slot("bias", _weight(shape), fan_in=int(owner.weight.shape[1])), kind, ""
    if cls.startswith(("Conv", "ConvTranspose")):
        groups = int(getattr(owner, "groups", 1))
        if leaf == "weight":
            return Slot("convolution", _weight(shape, "out_in", groups)), kind, ""
        fan_in = int(np.prod(owner.weight.shape[1:]))
        return Slot("bias", _weight(shape), fan_in=fan_in), kind, ""
    if cls == "Embedding":
        return Slot("embedding", _weight(shape)), kind, ""
    if _NORM.search(cls):
        if leaf == "weight":
            return Slot("norm_gain", _weight(shape), value=1.0), kind, ""
        return Slot("norm_bias", _weight(shape)), kind, ""
    gates = {"LSTMCell": 4, "GRUCell": 3}.get(cls)
    if gates is not None:
        hidden = int(owner.hidden_size)
        if leaf == "weight_ih":
            return (
                Slot("recurrent_input", Weight.checked(shape, "out_in", 1, gates), hidden=hidden),
                kind,
                "",
            )
        if leaf == "weight_hh":
            return (
                Slot("recurrent_hidden", Weight.checked(shape, "out_in", 1, gates), hidden=hidden),
                kind,
                "",
            )
        return Slot("recurrent_bias", _weight(shape), hidden=hidden), kind, ""
    return None, kind, ""
