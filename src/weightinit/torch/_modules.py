"""What each PyTorch module type's parameters are: one row per type, read by class name.

A row is a function of the module, a parameter's leaf name, its shape and the module's
qualified name in the model, that returns the parameter's :class:`~weightinit.roles.Slot`
(role, geometry, PyTorch's facts), or ``None`` for a leaf it does not know. Rows are keyed
by the qualified class name, and a module is matched through its class's method resolution
order, so subclasses inherit their parent's row and a third-party class (transformers,
timm, torchvision) has a row without its package being imported. Classes a library names
by a pattern (its many ``*RMSNorm`` and ``*LayerNorm`` variants) are matched by the class
name's ending; parameters a model holds itself (class tokens, position embeddings, layer
scales) by their leaf name. Adding a module type is adding one row; what a scheme gives a
role is :mod:`weightinit.schemes`' business.
"""

from __future__ import annotations

import contextvars
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from weightinit._fans import Weight
from weightinit.roles import Slot

__all__ = ["ROWS", "constant_value", "is_a", "qualified", "slot"]

Row = Callable[[Any, str, tuple[int, ...], str], "Slot | None"]


def _weight(
    shape: tuple[int, ...], layout: str = "out_in", groups: int = 1, blocks: int = 1
) -> Weight:
    """The geometry of a parameter (a vector's layout is the default: it has no channel
    axes). The module type fixes valid options, so nothing is checked again."""
    return Weight.trusted(shape, layout if len(shape) >= 2 else "in_out", groups, blocks)


def _pytorch_fan_in(weight: Any) -> int:
    """The fan-in PyTorch's ``reset_parameters`` computes for a bias's bound: dimension 1
    of the weight times its receptive field (for a transposed convolution, that is the
    output channels per group)."""
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    return int(weight.shape[1]) * receptive


def _weight_of(module: Any) -> Any:
    """The module's ``weight`` tensor as stored, without evaluating a parametrization (a
    spectral norm's would run a power iteration and change its buffers): only its shape is
    read."""
    parametrizations = getattr(module, "parametrizations", None)
    if parametrizations is not None and "weight" in parametrizations:
        stored = parametrizations["weight"]
        original = getattr(stored, "original", None)
        return original if original is not None else getattr(stored, "original1", None)
    return module._parameters.get("weight", None) if hasattr(module, "_parameters") else None


def _attribute(path: str) -> str:
    """The module's own name in its parent (``"c_attn"`` of ``"h.0.attn.c_attn"``)."""
    return path.rpartition(".")[2]


#: Attribute names of dense layers that stack equal projections along their output axis:
#: q, k and v (``None``: as many as the output is a multiple of the input, 3 or 2), or the
#: gate and up projections of a gated MLP.
FUSED: dict[str, int | None] = {
    "qkv": None,  # timm Attention, Swin, BEiT
    "c_attn": None,  # GPT-2 (q, k, v; or k, v in cross-attention)
    "query_key_value": None,  # GPT-NeoX, Falcon, BLOOM
    "Wqkv": None,  # MPT, ModernBERT
    "qkv_proj": None,  # Phi-3 (without grouped queries)
    "gate_up_proj": 2,  # Phi-3's fused gate and up projections
}

#: Attribute names of embeddings (and embedding-like tables) that encode positions or
#: segments rather than tokens.
POSITIONAL = frozenset(
    {
        "wpe",
        "position_embeddings",
        "position_embedding",
        "embed_positions",
        "token_type_embeddings",
        "relative_attention_bias",
        "pos_embed",
        "rel_embeddings",  # DeBERTa
        "distance_embedding",  # BERT's relative position embeddings
    }
)


def _blocks(path: str, out: int, fan_in: int) -> int:
    """The stacked blocks of a dense layer called ``path`` with ``out`` outputs."""
    name = _attribute(path)
    if name not in FUSED:
        return 1
    count = FUSED[name]
    if count is None:
        count = out // fan_in if fan_in and out % fan_in == 0 and out // fan_in in (2, 3) else 1
    return count if out % count == 0 else 1


def _dense(layout: str) -> Row:
    """A dense layer: ``(out, in)`` (``nn.Linear``) or ``(in, out)`` (transformers' ``Conv1D``)."""

    def row(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
        weight = _weight_of(module)
        if weight is None or weight.dim() != 2:
            return None
        out, fan_in = (weight.shape[0], weight.shape[1])
        if layout == "in_out":
            out, fan_in = fan_in, out
        blocks = _blocks(path, int(out), int(fan_in))
        if leaf == "weight":
            role = "attention_in" if blocks > 1 and FUSED.get(_attribute(path)) is None else None
            return Slot(role or "projection", _weight(shape, layout, blocks=blocks))
        if leaf == "bias":
            bound = _pytorch_fan_in(weight) if layout == "out_in" else int(fan_in)
            return Slot("bias", _weight(shape), fan_in=bound, default=None)
        return None

    return row


def _attention_out(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
    # MultiheadAttention's output projection: a Linear whose bias PyTorch zeroes.
    if leaf == "bias":
        return Slot("bias", _weight(shape))
    return _dense("out_in")(module, leaf, shape, path)


def _bilinear(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
    role = {"weight": "bilinear", "bias": "bias"}.get(leaf)
    return Slot(role, _weight(shape), fan_in=int(module.in1_features)) if role else None


def _convolution(layout: str) -> Row:
    def row(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
        if leaf == "weight":
            return Slot("convolution", _weight(shape, layout, int(module.groups)))
        if leaf == "bias":
            return Slot("bias", _weight(shape), fan_in=_pytorch_fan_in(_weight_of(module)))
        return None

    return row


def _embedding(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
    if leaf != "weight":
        return None
    positional = _attribute(path) in POSITIONAL
    role = "position_embedding" if positional else "embedding"
    return Slot(role, _weight(shape, "in_out"), default="pytorch.embedding")


def _attention(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
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
    def row(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
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


def _norm(neutral: float) -> Row:
    """A normalisation layer whose gain is the identity at ``neutral`` (1, or 0 for layers
    that multiply by ``1 + gain``)."""

    def row(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
        # A norm's parameters have no fans: whatever their rank, they are read as in_out.
        if leaf in ("weight", "scale", "gamma", "g"):
            return Slot("norm_gain", _weight(shape, "in_out"), value=neutral)
        if leaf in ("bias", "beta", "shift"):
            return Slot("norm_bias", _weight(shape, "in_out"))
        return None

    return row


def _prelu(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
    value = float(getattr(module, "init", 0.25))
    return Slot("activation_parameter", _weight(shape), value=value) if leaf == "weight" else None


#: The configuration of the model being planned (a layer that does not keep its own
#: starting value may find it there: transformers' ConvNeXt and DINOv2 layer scales).
MODEL_CONFIG: contextvars.ContextVar[Any] = contextvars.ContextVar("MODEL_CONFIG", default=None)

_LAYER_SCALE_VALUES = ("init_values", "layer_scale_init_value", "layerscale_value", "ls_init_value")


def _layer_scale_value(
    module: Any, tensor: Any, names: tuple[str, ...] = _LAYER_SCALE_VALUES
) -> float | None:
    """The value a layer scale (or another constant-started parameter) starts at: the
    module's (or its config's) own number under one of ``names``, else the tensor's if it
    holds one value everywhere; ``None`` if neither says."""
    for owner in (module, getattr(module, "config", None), MODEL_CONFIG.get()):
        for name in names:
            value = getattr(owner, name, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
    if tensor is not None and not tensor.is_meta and tensor.numel():
        flat = tensor.detach().reshape(-1)
        if bool((flat == flat[0]).all()):
            value = float(flat[0].item())
            # The shortest decimal that rounds to the stored float32 (1e-05, not 9.99e-06...).
            return value if tensor.element_size() == 8 else float(str(np.float32(value)))
    return None


def constant_value(module: Any, tensor: Any) -> float | None:
    """The value ``tensor`` holds everywhere, if it is on a real device and holds one."""
    return _layer_scale_value(module, tensor, ())


def _gate(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
    """A residual gate scalar: its start is the tensor's value (SkipInit and ReZero start it
    at 0; on the meta device, unknown)."""
    value = constant_value(module, getattr(module, leaf, None))
    return Slot("residual_gate", _weight(shape), value=value)


def _layer_scale(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
    tensor = getattr(module, leaf, None)
    value = _layer_scale_value(module, tensor)
    return Slot("layer_scale", _weight(shape), value=value)


def _logit_scale(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
    value = _layer_scale_value(module, getattr(module, leaf, None), ("logit_scale_init_value",))
    return Slot("logit_scale", _weight(shape), value=value)


#: Leaf names of parameters a model holds itself (not through a layer), for any module.
LEAVES: dict[str, Row] = {
    "cls_token": lambda m, leaf, shape, path: Slot("token", _weight(shape, "in_out")),
    "reg_token": lambda m, leaf, shape, path: Slot("token", _weight(shape, "in_out")),
    "register_tokens": lambda m, leaf, shape, path: Slot("token", _weight(shape, "in_out")),
    "dist_token": lambda m, leaf, shape, path: Slot("token", _weight(shape, "in_out")),
    "mask_token": lambda m, leaf, shape, path: Slot("mask_token", _weight(shape, "in_out")),
    "pos_embed": lambda m, leaf, shape, path: Slot("position_embedding", _weight(shape, "in_out")),
    "position_embeddings": lambda m, leaf, shape, path: Slot(
        "position_embedding", _weight(shape, "in_out")
    ),
    # torchvision's ViT and Swin, timm's BEiT and EVA.
    "class_token": lambda m, leaf, shape, path: Slot("token", _weight(shape, "in_out")),
    "class_embedding": lambda m, leaf, shape, path: Slot("token", _weight(shape, "in_out")),
    "logit_scale": _logit_scale,  # CLIP's learned log-temperature
    "pos_embedding": lambda m, leaf, shape, path: Slot(
        "position_embedding", _weight(shape, "in_out")
    ),
    "relative_position_bias_table": lambda m, leaf, shape, path: Slot(
        "position_embedding", _weight(shape, "in_out")
    ),
    "q_bias": lambda m, leaf, shape, path: Slot("bias", _weight(shape, "in_out")),
    "v_bias": lambda m, leaf, shape, path: Slot("bias", _weight(shape, "in_out")),
    "layer_scale": _layer_scale,  # torchvision's ConvNeXt
    "gamma": _layer_scale,
    "gamma_1": _layer_scale,
    "gamma_2": _layer_scale,
    "lambda1": _layer_scale,
    "lambda_1": _layer_scale,  # BEiT
    "lambda_2": _layer_scale,
    "layer_scale_parameter": _layer_scale,
    "skipinit_gain": _gate,  # timm's NormFreeBlock
    "skip_gain": _gate,  # NF-ResNets
    "resweight": _gate,  # ReZero
}

_GATES = {"LSTM": 4, "GRU": 3}
_NN = "torch.nn.modules"

#: Qualified class name -> row. A module takes the row of the first class of its MRO here.
ROWS: dict[str, Row] = {
    f"{_NN}.linear.Linear": _dense("out_in"),
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
    f"{_NN}.activation.PReLU": _prelu,
    f"{_NN}.rnn.RNNBase": _recurrent(lambda m: _GATES.get(m.mode, 1)),
    f"{_NN}.rnn.LSTMCell": _recurrent(lambda m: 4),
    f"{_NN}.rnn.GRUCell": _recurrent(lambda m: 3),
    f"{_NN}.rnn.RNNCellBase": _recurrent(lambda m: 1),
    f"{_NN}.batchnorm._NormBase": _norm(1.0),  # batch and instance norms
    f"{_NN}.normalization.LayerNorm": _norm(1.0),
    f"{_NN}.normalization.GroupNorm": _norm(1.0),
    f"{_NN}.normalization.RMSNorm": _norm(1.0),
    # transformers: GPT-2's (in, out) dense layer.
    "transformers.pytorch_utils.Conv1D": _dense("in_out"),
    # timm: a layer scale module of its own.
    "timm.layers.layer_scale.LayerScale": _layer_scale,
    "timm.layers.layer_scale.LayerScale2d": _layer_scale,
}

#: Norm classes that multiply by ``1 + gain`` (their gain starts at 0), read from
#: transformers 5's sources; any other norm's gain starts at 1.
OFFSET_NORMS = frozenset(
    {
        "GemmaRMSNorm",
        "Gemma2RMSNorm",
        "Gemma3RMSNorm",
        "RecurrentGemmaRMSNorm",
        "T5GemmaRMSNorm",
        "T5Gemma2RMSNorm",
        "VaultGemmaRMSNorm",
        "Qwen3NextRMSNorm",
        "Qwen3_5RMSNorm",
        "Qwen3_5MoeRMSNorm",
        "Qwen4ExpTextRMSNorm",
        "Step3p7RMSNorm",
        "MiniMaxM3VLRMSNorm",
        "MuseGlimmerTextCenteredRMSNorm",
        "MuseSparkTextCenteredRMSNorm",
        "MuseSparkTextInputScaledRMSNorm",
        "NemotronLayerNorm1P",
        "VideoPrismLayerNorm",
    }
)


def _named_norm(module: Any, leaf: str, shape: tuple[int, ...], path: str) -> Slot | None:
    """A library's norm, matched by its class name: its gain's neutral value is the constant
    its constructor stored where the tensor still holds one (0 or 1), else 0 for the norms
    of :data:`OFFSET_NORMS` and 1 for the others."""
    names = {kind.__name__ for kind in type(module).__mro__}
    neutral = 0.0 if names & OFFSET_NORMS else 1.0
    tensor = getattr(module, leaf, None)
    if tensor is not None and not tensor.is_meta and tensor.numel() > 1:
        flat = tensor.detach().reshape(-1)
        first = float(flat[0].item())
        if first in (0.0, 1.0) and bool((flat == flat[0]).all()):
            neutral = first
    return _norm(neutral)(module, leaf, shape, path)


#: Class-name endings -> row, for the norms libraries define once per model (LlamaRMSNorm,
#: T5LayerNorm, LayerNorm2d, ...).
PATTERNS: list[tuple[re.Pattern[str], Row]] = [
    (
        re.compile(r"(RMSNorm|RmsNorm|LayerNorm|GroupNorm|SimpleNorm|BatchNorm)(\d?[dP])?(Fp32)?$"),
        _named_norm,
    ),
]


def qualified(kind: type) -> str:
    """A class's qualified name (``"torch.nn.modules.linear.Linear"``)."""
    return f"{kind.__module__}.{kind.__qualname__}"


def is_a(obj: Any, names: tuple[str, ...]) -> bool:
    """Whether ``obj`` is an instance of a class whose qualified name is one of ``names``
    (its MRO included), without importing that class's package."""
    return any(qualified(kind) in names for kind in type(obj).__mro__)


def row_of(module: Any) -> Row | None:
    """The row of ``module``'s type: that of the first class of its MRO with one, else the
    first class-name pattern that one of those classes matches."""
    mro = type(module).__mro__
    for kind in mro:
        row = ROWS.get(qualified(kind))
        if row is not None:
            return row
    for kind in mro:
        for pattern, row in PATTERNS:
            if pattern.search(kind.__name__):
                return row
    return None


def slot(module: Any, leaf: str, shape: tuple[int, ...], path: str = "") -> Slot | None:
    """The slot of parameter ``leaf`` (of ``shape``) of ``module`` (called ``path`` in the
    model), or ``None`` if neither its type's row nor the model-held leaves know it."""
    row = row_of(module)
    found = row(module, leaf, shape, path) if row is not None else None
    if found is None and leaf in LEAVES:
        found = LEAVES[leaf](module, leaf, shape, path)
    return found
