"""The frameworks' own defaults as schemes: ``"flax"``, ``"haiku"``, ``"equinox"`` and
``"keras"`` (``"pytorch"`` is in :mod:`weightinit.schemes._defaults`).

Each gives every role what the framework's layer of that role starts with, read from the
framework's source (Flax 0.12, Haiku 0.0.x, Equinox 0.13, Keras 3):

- Flax: kernels ``lecun_normal`` (``variance_scaling(1, "fan_in", "truncated_normal")``),
  biases 0, ``Embed`` ``variance_scaling(1, "fan_in", "normal", out_axis=0)``, that is
  ``N(0, 1/d)`` for a ``(vocab, d)`` table, recurrent cells' hidden kernels orthogonal per
  gate, norms 1 and 0;
- Haiku: ``Linear`` and ``ConvND`` weights ``TruncatedNormal(1/sqrt(fan_in))`` cut at two of
  those deviations, biases 0, ``Embed`` ``TruncatedNormal(1)``, norms 1 and 0;
- Equinox: ``Linear`` and ``Conv`` weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
  (the law of PyTorch's defaults), ``Embedding`` ``N(0, 1)``, ``LSTMCell``/``GRUCell``
  everything ``U(-1/sqrt(hidden), 1/sqrt(hidden))``, norms 1 and 0;
- Keras: kernels ``glorot_uniform`` (an ``EinsumDense`` kernel's fans from its equation's
  input and output axes, as Keras 3 reads them), a recurrent layer's kernels as one matrix
  each (Glorot uniform, and orthogonal for the recurrent kernel), biases 0, ``Embedding``
  ``U(-0.05, 0.05)``, norms 1 and 0; an LSTM's bias is refused (Keras starts its forget gate
  at 1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from weightinit import presets
from weightinit.families import normal
from weightinit.families import truncated_normal
from weightinit.families import uniform
from weightinit.families import zeros
from weightinit.initializers import Initializer
from weightinit.named import glorot_uniform
from weightinit.roles import ROLES
from weightinit.roles import Slot
from weightinit.schemes._core import Choice
from weightinit.schemes._core import Rule
from weightinit.schemes._core import Scheme
from weightinit.schemes._core import UnknownValueError
from weightinit.schemes._core import value_of
from weightinit.structured import orthogonal

__all__ = ["equinox", "flax", "haiku", "keras"]

_START = "the model's start"


def _rule(init: Callable[[Slot], Initializer], formula: str, whole: bool = False) -> Rule:
    """A rule giving ``init(slot)`` with the slot's geometry (``whole``: over the whole
    weight, as the framework draws it, not per stacked block)."""

    def rule(slot: Slot, activation: object) -> Choice:
        weight = dataclasses.replace(slot.weight, blocks=1) if whole else slot.weight
        return Choice(init(slot), weight.ensure_checked(), formula)

    return rule


def _value(slot: Slot, activation: object) -> Choice:
    return Choice(value_of(slot), slot.weight, _START)


def _none(framework: str) -> Rule:
    def rule(slot: Slot, activation: object) -> Choice:
        raise UnknownValueError(f"{framework} has no default for a {slot.role}")

    return rule


def _width_normal(slot: Slot) -> Initializer:
    width = slot.weight.shape[-1] if slot.weight.shape else 1
    return normal(1.0 / math.sqrt(max(width, 1)))


def _scheme(name: str, rules: dict[str, Rule]) -> Scheme:
    for role in ROLES:
        rules.setdefault(role, _none(name))
    return Scheme(name, rules)


def _flax_scheme() -> Scheme:
    lecun = _rule(lambda s: presets.preset("flax.dense"), "lecun_normal (truncated)")
    zero = _rule(lambda s: zeros(), "0")
    embed = _rule(_width_normal, "σ = 1/√d")
    return _scheme(
        "flax",
        {
            **dict.fromkeys(
                ("projection", "residual_projection", "head", "convolution", "bilinear"), lecun
            ),
            **dict.fromkeys(("attention_in", "recurrent_input", "recurrent_projection"), lecun),
            "recurrent_hidden": _rule(lambda s: orthogonal(), "orthogonal per gate"),
            **dict.fromkeys(("embedding", "tied_embedding", "position_embedding", "token"), embed),
            **dict.fromkeys(("bias", "recurrent_bias", "norm_bias", "mask_token"), zero),
            **dict.fromkeys(
                ("norm_gain", "layer_scale", "activation_parameter", "logit_scale"), _value
            ),
            "residual_gate": _value,
        },
    )


def _haiku_scheme() -> Scheme:
    fan_in = _rule(lambda s: presets.preset("haiku.linear"), "TruncatedNormal(1/√fan_in)")
    zero = _rule(lambda s: zeros(), "0")
    # TruncatedNormal(stddev=1): the stddev of the normal before the cut at ±2.
    embed = _rule(lambda s: truncated_normal(1.0), "TruncatedNormal(1)")
    return _scheme(
        "haiku",
        {
            **dict.fromkeys(
                ("projection", "residual_projection", "head", "convolution", "bilinear"), fan_in
            ),
            **dict.fromkeys(
                ("attention_in", "recurrent_input", "recurrent_hidden", "recurrent_projection"),
                fan_in,
            ),
            **dict.fromkeys(("embedding", "tied_embedding", "position_embedding", "token"), embed),
            **dict.fromkeys(("bias", "recurrent_bias", "norm_bias", "mask_token"), zero),
            **dict.fromkeys(
                ("norm_gain", "layer_scale", "activation_parameter", "logit_scale"), _value
            ),
            "residual_gate": _value,
        },
    )


def _bound(slot: Slot) -> Initializer:
    """``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, the fan-in the layer's (zeros without one)."""
    if not slot.fan_in:
        return zeros()
    return presets.fan_in_bias(slot.fan_in)


def _hidden(slot: Slot) -> Initializer:
    return presets.fan_in_bias(slot.hidden) if slot.hidden else zeros()


def _equinox_scheme() -> Scheme:
    weight = _rule(lambda s: presets.preset("pytorch.linear"), "U(±1/√fan_in)")
    hidden = _rule(_hidden, "U(±1/√hidden)", whole=True)
    return _scheme(
        "equinox",
        {
            **dict.fromkeys(
                ("projection", "residual_projection", "head", "convolution", "attention_in"),
                weight,
            ),
            "bias": _rule(_bound, "U(±1/√fan_in)"),
            **dict.fromkeys(
                ("recurrent_input", "recurrent_hidden", "recurrent_projection", "recurrent_bias"),
                hidden,
            ),
            **dict.fromkeys(("embedding", "tied_embedding"), _rule(lambda s: normal(1.0), "σ = 1")),
            **dict.fromkeys(("norm_bias", "mask_token"), _rule(lambda s: zeros(), "0")),
            **dict.fromkeys(
                ("norm_gain", "layer_scale", "activation_parameter", "logit_scale"), _value
            ),
            "residual_gate": _value,
        },
    )


def _keras_recurrent_bias(slot: Slot, activation: object) -> Choice:
    hidden = slot.hidden
    if hidden and slot.weight.shape and slot.weight.shape[0] == 4 * hidden:
        raise UnknownValueError(
            "keras has no default for a recurrent_bias of an LSTM in weightinit: Keras starts "
            "its forget-gate bias at 1 (unit_forget_bias) and the others at 0"
        )
    return Choice(zeros(), slot.weight, "0")


def _keras_scheme() -> Scheme:
    glorot = _rule(lambda s: glorot_uniform(), "glorot_uniform", whole=True)
    zero = _rule(lambda s: zeros(), "0")
    return _scheme(
        "keras",
        {
            **dict.fromkeys(
                ("projection", "residual_projection", "head", "convolution", "bilinear"), glorot
            ),
            **dict.fromkeys(("attention_in", "recurrent_input", "recurrent_projection"), glorot),
            "recurrent_hidden": _rule(lambda s: orthogonal(), "orthogonal", whole=True),
            "recurrent_bias": _keras_recurrent_bias,
            **dict.fromkeys(
                ("embedding", "tied_embedding", "position_embedding", "token"),
                _rule(lambda s: uniform(-0.05, 0.05), "U(±0.05)"),
            ),
            **dict.fromkeys(("bias", "norm_bias", "mask_token"), zero),
            **dict.fromkeys(
                ("norm_gain", "layer_scale", "activation_parameter", "logit_scale"), _value
            ),
            "residual_gate": _value,
        },
    )


_FLAX = _flax_scheme()
_HAIKU = _haiku_scheme()
_EQUINOX = _equinox_scheme()
_KERAS = _keras_scheme()


def flax() -> Scheme:
    """Flax's own defaults (see the module's docstring).

    Examples
    --------
    >>> from weightinit.schemes import flax
    >>> flax().name
    'flax'
    """
    return _FLAX


def haiku() -> Scheme:
    """Haiku's own defaults (see the module's docstring).

    Examples
    --------
    >>> from weightinit.schemes import haiku
    >>> haiku().name
    'haiku'
    """
    return _HAIKU


def equinox() -> Scheme:
    """Equinox's own defaults (see the module's docstring).

    Examples
    --------
    >>> from weightinit.schemes import equinox
    >>> equinox().name
    'equinox'
    """
    return _EQUINOX


def keras() -> Scheme:
    """Keras' own defaults (see the module's docstring).

    Examples
    --------
    >>> from weightinit.schemes import keras
    >>> keras().name
    'keras'
    """
    return _KERAS
