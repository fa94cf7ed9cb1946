"""What each PyTorch module type's parameters are: one row per type, read by class name.

A row is a function of the module and a parameter's leaf name that returns the parameter's
:class:`~weightinit.roles.Slot` (role, geometry, PyTorch's facts), or ``None`` for a leaf
it does not know. Rows are keyed by the qualified class name, and a module is matched
through its class's method resolution order, so subclasses inherit their parent's row and a
third-party class can have a row without its package being imported. Adding a module type
is adding one row; what a scheme gives a role is :mod:`weightinit.schemes`' business.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from weightinit._fans import Weight
from weightinit.roles import Slot

__all__ = ["ROWS", "slot"]

Row = Callable[[Any, str, tuple[int, ...]], "Slot | None"]


def _weight(
    shape: tuple[int, ...], layout: str = "out_in", groups: int = 1, blocks: int = 1
) -> Weight:
    """The geometry of a parameter (a vector's layout is the default: it has no channel
    axes). The module type fixes valid options, so nothing is checked again."""
    return Weight(shape, layout if len(shape) >= 2 else "in_out", groups, blocks)


def _pytorch_fan_in(weight: Any) -> int:
    """The fan-in PyTorch's ``reset_parameters`` computes for a bias's bound: dimension 1
    of the weight times its receptive field (for a transposed convolution, that is the
    output channels per group)."""
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return int(weight.shape[1]) * receptive


def _linear(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
    if leaf == "weight":
        return Slot("projection", _weight(shape))
    if leaf == "bias":
        return Slot("bias", _weight(shape), fan_in=_pytorch_fan_in(module.weight))
    return None


def _attention_out(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
    # MultiheadAttention's output projection: a Linear whose bias PyTorch zeroes.
    if leaf == "bias":
        return Slot("bias", _weight(shape))
    return _linear(module, leaf, shape)


def _bilinear(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
    role = {"weight": "bilinear", "bias": "bias"}.get(leaf)
    return Slot(role, _weight(shape), fan_in=int(module.in1_features)) if role else None


def _convolution(layout: str) -> Row:
    def row(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
        if leaf == "weight":
            return Slot("convolution", _weight(shape, layout, int(module.groups)))
        if leaf == "bias":
            return Slot("bias", _weight(shape), fan_in=_pytorch_fan_in(module.weight))
        return None

    return row


def _embedding(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
    return Slot("embedding", _weight(shape, "in_out")) if leaf == "weight" else None


def _attention(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
    if leaf == "in_proj_weight":  # q, k and v stacked along the output axis
        return Slot("attention_in", _weight(shape, blocks=3))
    if leaf in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
        return Slot("attention_in", _weight(shape))
    if leaf in ("bias_k", "bias_v"):
        return Slot("attention_kv_bias", _weight(shape))
    if leaf == "in_proj_bias":
        return Slot("bias", _weight(shape))
    return None


def _recurrent(gates: Callable[[Any], int]) -> Row:
    def row(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
        hidden = int(module.hidden_size)
        n = gates(module)
        if leaf.startswith("weight_ih"):
            return Slot("recurrent_input", _weight(shape, blocks=n), hidden=hidden)
        if leaf.startswith("weight_hh"):
            return Slot("recurrent_hidden", _weight(shape, blocks=n), hidden=hidden)
        if leaf.startswith("weight_hr"):
            return Slot("recurrent_projection", _weight(shape), hidden=hidden)
        if leaf.startswith("bias"):
            return Slot("recurrent_bias", _weight(shape), hidden=hidden)
        return None

    return row


def _norm(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
    role = {"weight": "norm_gain", "bias": "norm_bias"}.get(leaf)
    return Slot(role, _weight(shape)) if role else None


_GATES = {"LSTM": 4, "GRU": 3}
_NN = "torch.nn.modules"

#: Qualified class name -> row. A module takes the row of the first class of its MRO here.
ROWS: dict[str, Row] = {
    f"{_NN}.linear.Linear": _linear,
    f"{_NN}.linear.NonDynamicallyQuantizableLinear": _attention_out,
    f"{_NN}.linear.Bilinear": _bilinear,
    f"{_NN}.conv.Conv1d": _convolution("out_in"),
    f"{_NN}.conv.Conv2d": _convolution("out_in"),
    f"{_NN}.conv.Conv3d": _convolution("out_in"),
    f"{_NN}.conv.ConvTranspose1d": _convolution("pytorch_transposed"),
    f"{_NN}.conv.ConvTranspose2d": _convolution("pytorch_transposed"),
    f"{_NN}.conv.ConvTranspose3d": _convolution("pytorch_transposed"),
    f"{_NN}.sparse.Embedding": _embedding,
    f"{_NN}.sparse.EmbeddingBag": _embedding,
    f"{_NN}.activation.MultiheadAttention": _attention,
    f"{_NN}.rnn.RNNBase": _recurrent(lambda m: _GATES.get(m.mode, 1)),
    f"{_NN}.rnn.LSTMCell": _recurrent(lambda m: 4),
    f"{_NN}.rnn.GRUCell": _recurrent(lambda m: 3),
    f"{_NN}.rnn.RNNCellBase": _recurrent(lambda m: 1),
    f"{_NN}.batchnorm._NormBase": _norm,  # batch and instance norms
    f"{_NN}.normalization.LayerNorm": _norm,
    f"{_NN}.normalization.GroupNorm": _norm,
    f"{_NN}.normalization.RMSNorm": _norm,
}


def row_of(module: Any) -> Row | None:
    """The row of ``module``'s type: that of the first class of its MRO with one."""
    for kind in type(module).__mro__:
        row = ROWS.get(f"{kind.__module__}.{kind.__qualname__}")
        if row is not None:
            return row
    return None


def slot(module: Any, leaf: str, shape: tuple[int, ...]) -> Slot | None:
    """The slot of parameter ``leaf`` (of ``shape``) of ``module``, or ``None`` if its type
    or the leaf is unknown."""
    row = row_of(module)
    return row(module, leaf, shape) if row is not None else None
