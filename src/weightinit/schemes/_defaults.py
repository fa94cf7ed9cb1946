"""The two schemes every model has: ``"recommended"`` and ``"pytorch"``.

- ``"recommended"``: weights from :func:`weightinit.recommend` with their true fans (groups,
  and stacked q/k/v or gate blocks), attention's packed input projections
  (``nn.MultiheadAttention``'s, a fused q/k/v layer) Glorot uniform per projection (separate
  q, k and v layers are projections like any other), recurrent input weights Glorot uniform
  per gate and recurrent hidden weights orthogonal per gate, biases zero, norms at their
  neutral gain and zero, embeddings ``N(0, 1)``; an embedding tied to the output head ``N(0,
  1/d)`` (``d`` its width), so the logits after a unit-variance final norm have a standard
  deviation of about 1; position tables and class tokens ``N(0, 0.02**2)`` (GPT-2's, BERT's
  and ViT's own standard deviation), mask tokens zero, layer scales, residual gates and
  learned activation slopes at the value the model starts them at;
- ``"pytorch"``: each layer's own PyTorch default, from :mod:`weightinit.presets` (whose
  parity tests pin them against PyTorch itself).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from weightinit import presets
from weightinit._fans import Weight
from weightinit._recommend import recommend
from weightinit.families import normal
from weightinit.families import zeros
from weightinit.initializers import Initializer
from weightinit.named import glorot_normal
from weightinit.named import glorot_uniform
from weightinit.roles import Slot
from weightinit.schemes._core import Choice
from weightinit.schemes._core import Rule
from weightinit.schemes._core import Scheme
from weightinit.schemes._core import value_of
from weightinit.structured import orthogonal

__all__ = ["pytorch", "recommended"]


def _as_is(init: Callable[[], Initializer]) -> Rule:
    """A rule that gives every slot of a role ``init()`` with the slot's own geometry."""
    return lambda slot, activation: (init(), slot.weight)


def _recommended(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
    return recommend(activation), slot.weight


def _value(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
    """The value the model starts the parameter at (``UnknownValueError`` where unknown)."""
    return value_of(slot), slot.weight


def _tied(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
    width = slot.weight.shape[-1] if slot.weight.shape else 1
    return normal(1.0 / math.sqrt(max(width, 1))), slot.weight


def _small(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
    return normal(0.02), slot.weight


def _pytorch_default_or(rule: Rule) -> Rule:
    """The slot's own PyTorch preset where it has one, else ``rule``."""

    def chosen(slot: Slot, activation: object) -> Choice | tuple[Initializer, Weight] | None:
        if slot.default is not None:
            return presets.preset(slot.default), slot.weight
        return rule(slot, activation)

    return chosen


def _bias_bound(slot: Slot) -> Initializer:
    """PyTorch's ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` (zeros where the layer zeroes its
    bias, or has an empty fan-in)."""
    if not slot.fan_in:
        return zeros()
    return presets.preset("pytorch.linear.bias", slot.fan_in)


def _hidden_bound(slot: Slot) -> Initializer:
    """PyTorch's recurrent layers draw every weight and bias ``U(-1/sqrt(hidden),
    1/sqrt(hidden))``: the law of a bias of fan-in ``hidden``."""
    return presets.fan_in_bias(slot.hidden) if slot.hidden else zeros()


def _pytorch_weight(name: str) -> Rule:
    def rule(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
        return presets.preset(name), slot.weight

    return rule


def _pytorch_convolution(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
    transposed = slot.weight.layout == "pytorch_transposed"
    return presets.preset("pytorch.conv_transpose2d" if transposed else "pytorch.conv2d"), (
        slot.weight
    )


def _pytorch_attention_in(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
    # PyTorch draws a packed q/k/v weight with xavier_uniform_ as one matrix.
    return presets.preset("pytorch.multihead_attention"), dataclasses.replace(slot.weight, blocks=1)


def _pytorch_value(name: str, start: float) -> Rule:
    """PyTorch's preset ``name`` (which starts at ``start``), unless the model starts the
    parameter elsewhere (a Gemma norm at 0, a PReLU made with another ``init``)."""

    def rule(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
        if slot.value is None or slot.value == start:
            return presets.preset(name), slot.weight
        return _value(slot, activation)

    return rule


def _pytorch_bound(bound: Callable[[Slot], Initializer], plain: bool = False) -> Rule:
    """A rule of PyTorch's ``U(-b, b)`` defaults; ``plain`` draws it without the slot's
    layout and blocks (``U(-b, b)`` has no fans: PyTorch's recurrent layers)."""

    def rule(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
        weight = Weight(slot.weight.shape) if plain else slot.weight
        return bound(slot), weight

    return rule


def _redrawn(slot: Slot, activation: object) -> tuple[Initializer, Weight]:
    """PyTorch's ``nn.Transformer`` re-draws every weight of two or more axes with
    ``xavier_uniform_`` over the whole tensor read as ``(out, in, *kernel)``."""
    return presets.preset("pytorch.transformer"), Weight(slot.weight.shape, "out_in")


_RECOMMENDED: dict[str, Rule] = {
    "projection": _recommended,
    "residual_projection": _recommended,
    "head": _recommended,
    "convolution": _recommended,
    "bilinear": _recommended,
    "embedding": _as_is(lambda: normal(1.0)),
    "tied_embedding": _tied,
    "position_embedding": _small,
    "token": _small,
    "mask_token": _as_is(zeros),
    "attention_in": _as_is(glorot_uniform),
    "attention_kv_bias": _as_is(glorot_normal),
    "recurrent_input": _as_is(glorot_uniform),
    "recurrent_hidden": _as_is(orthogonal),
    "recurrent_projection": _as_is(glorot_uniform),
    "recurrent_bias": _as_is(zeros),
    "norm_gain": _value,
    "norm_bias": _as_is(zeros),
    "layer_scale": _value,
    "activation_parameter": _value,
    "logit_scale": _value,
    "residual_gate": _value,
    "bias": _as_is(zeros),
}

_PYTORCH: dict[str, Rule] = {
    "projection": _pytorch_weight("pytorch.linear"),
    "residual_projection": _pytorch_weight("pytorch.linear"),
    "head": _pytorch_weight("pytorch.linear"),
    "convolution": _pytorch_convolution,
    "bilinear": _pytorch_bound(_bias_bound),
    "embedding": _pytorch_weight("pytorch.embedding"),
    "tied_embedding": _pytorch_weight("pytorch.embedding"),
    "position_embedding": _pytorch_default_or(_small),
    "token": _small,
    "mask_token": _as_is(zeros),
    "attention_in": _pytorch_attention_in,
    "attention_kv_bias": _pytorch_weight("pytorch.multihead_attention.bias_kv"),
    "recurrent_input": _pytorch_bound(_hidden_bound, plain=True),
    "recurrent_hidden": _pytorch_bound(_hidden_bound, plain=True),
    "recurrent_projection": _pytorch_bound(_hidden_bound, plain=True),
    "recurrent_bias": _pytorch_bound(_hidden_bound, plain=True),
    "norm_gain": _pytorch_value("pytorch.layer_norm", 1.0),
    "norm_bias": _pytorch_weight("pytorch.layer_norm.bias"),
    "layer_scale": _value,
    "activation_parameter": _pytorch_value("pytorch.prelu", 0.25),
    "logit_scale": _value,
    "residual_gate": _value,
    "bias": _pytorch_bound(_bias_bound),
}


def recommended() -> Scheme:
    """The recommended scheme (see the module's docstring).

    Examples
    --------
    >>> from weightinit.schemes import recommended
    >>> recommended().name
    'recommended'
    """
    return _RECOMMENDED_SCHEME


def pytorch() -> Scheme:
    """Every layer's own PyTorch default, drawn portably (``nn.Transformer``'s re-draw of
    its weights included).

    Examples
    --------
    >>> from weightinit.schemes import pytorch
    >>> pytorch().name
    'pytorch'
    """
    return _PYTORCH_SCHEME


def _described(rule: Rule, formula: str | Callable[[Slot, object], str]) -> Rule:
    """``rule``, whose answers say ``formula`` (or ``formula(slot, activation)``)."""

    def described(slot: Slot, activation: object) -> Choice | tuple[Initializer, Weight] | None:
        answer = rule(slot, activation)
        if answer is None or isinstance(answer, Choice):
            return answer
        text = formula(slot, activation) if callable(formula) else formula
        return Choice(answer[0], answer[1], text)

    return described


def _recommend_text(slot: Slot, activation: object) -> str:
    return f"recommend({activation!r})"


def _tied_text(slot: Slot, activation: object) -> str:
    return f"σ = 1/√d, d={slot.weight.shape[-1] if slot.weight.shape else 1}"


_START = "the model's start"
_RECOMMENDED_TEXT: dict[str, str | Callable[[Slot, object], str]] = {
    "projection": _recommend_text,
    "residual_projection": _recommend_text,
    "head": _recommend_text,
    "convolution": _recommend_text,
    "bilinear": _recommend_text,
    "embedding": "σ = 1",
    "tied_embedding": _tied_text,
    "position_embedding": "σ = 0.02",
    "token": "σ = 0.02",
    "mask_token": "0",
    "attention_in": "Glorot per projection",
    "attention_kv_bias": "Glorot",
    "recurrent_input": "Glorot per gate",
    "recurrent_hidden": "orthogonal per gate",
    "recurrent_projection": "Glorot",
    "recurrent_bias": "0",
    "norm_gain": _START,
    "norm_bias": "0",
    "layer_scale": _START,
    "activation_parameter": _START,
    "logit_scale": _START,
    "residual_gate": _START,
    "bias": "0",
}

_RECOMMENDED_SCHEME = Scheme(
    "recommended",
    {role: _described(rule, _RECOMMENDED_TEXT[role]) for role, rule in _RECOMMENDED.items()},
)
_PYTORCH_SCHEME = Scheme(
    "pytorch",
    {role: _described(rule, "PyTorch's default") for role, rule in _PYTORCH.items()},
    redraw=_described(_redrawn, "nn.Transformer's re-draw"),
)
