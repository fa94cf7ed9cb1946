"""μP, the maximal update parametrisation (Yang et al. 2021, "Tensor Programs V"): the
initialization that keeps every layer's update of the same size at every width, given the
shapes of a base model.

The widths travel in the plan (the base shapes, read by parameter name), not in tensor
attributes, so nothing is lost when a model is sharded or reloaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from weightinit._errors import choice_error
from weightinit._fans import Weight
from weightinit._recommend import recommend
from weightinit.families import normal
from weightinit.families import zeros
from weightinit.roles import Slot
from weightinit.schemes._core import Choice
from weightinit.schemes._core import Rule
from weightinit.schemes._core import Scheme
from weightinit.schemes._core import UnknownValueError
from weightinit.schemes._core import number
from weightinit.schemes._defaults import recommended

__all__ = ["Widths", "base_shapes", "mup", "widths"]

_READOUTS = ("zero", "constant", "scaled")
_MATRICES = (
    "projection",
    "residual_projection",
    "convolution",
    "attention_in",
    "bilinear",
    "recurrent_input",
    "recurrent_hidden",
    "recurrent_projection",
)


def base_shapes(base: object) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter of ``base``: a mapping of names to shapes (or to
    anything with a ``shape``: a plan of ``weightinit.jax`` or ``weightinit.keras``), or a
    model with ``named_parameters()`` (a PyTorch module; built on the meta device it costs
    no memory).

    Examples
    --------
    >>> from weightinit.schemes import base_shapes
    >>> base_shapes({"fc.weight": [64, 32]})
    {'fc.weight': (64, 32)}
    """
    if isinstance(base, Mapping):
        items: list[tuple[object, Any]] = [
            (name, getattr(shape, "shape", shape)) for name, shape in base.items()
        ]
    elif callable(getattr(base, "named_parameters", None)):
        items = [(name, tuple(t.shape)) for name, t in base.named_parameters()]  # type: ignore[attr-defined]
    else:
        raise TypeError(
            "base must be a mapping of parameter names to shapes, or a model with "
            f"named_parameters(); got {type(base).__name__}."
        )
    shapes: dict[str, tuple[int, ...]] = {}
    for name, shape in items:
        try:
            shapes[str(name)] = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise TypeError(
                f"the base shape of {name!r} must be a sequence of ints; got {shape!r}."
            ) from None
    return shapes


@dataclass(frozen=True)
class Widths:
    """How much wider a parameter is than its base: the multipliers of its fan-in and
    fan-out (a vector's size is its fan-out, its fan-in 1), and how many of them differ
    from 1 (μP's number of
    "infinite" dimensions: 2 for a hidden matrix, 1 for an input or output weight or a
    vector of the width, 0 for a parameter of fixed size)."""

    fan_in: float
    fan_out: float

    @property
    def infinite(self) -> int:
        if self.fan_in == self.fan_out == 1.0:
            return 0
        return 2 if self.fan_in != 1.0 and self.fan_out != 1.0 else 1

    def adam(self) -> float:
        """The factor of the learning rate under Adam: ``1/m`` (the fan-in's multiplier)
        for a hidden matrix, 1 otherwise."""
        return 1.0 / self.fan_in if self.infinite == 2 else 1.0

    def sgd(self) -> float:
        """The factor of the learning rate under SGD: ``m`` (the wide dimension's
        multiplier) for an input or output weight or a vector, ``fan_out/fan_in``
        multipliers for a hidden matrix, 1 for a parameter of fixed size."""
        if self.infinite == 2:
            return self.fan_out / self.fan_in
        if self.infinite == 1:
            return self.fan_in if self.fan_in != 1.0 else self.fan_out
        return 1.0

    def adam_decay(self) -> float:
        """The factor of the weight decay under Adam (the mup package's ``MuAdam`` and
        ``MuAdamW``): ``m`` for a hidden matrix, 1 otherwise."""
        return self.fan_in if self.infinite == 2 else 1.0

    def sgd_decay(self) -> float:
        """The factor of the weight decay under SGD (``MuSGD``): the inverse of the
        learning rate's factor."""
        return 1.0 / self.sgd()


def widths(slot: Slot, shapes: Mapping[str, tuple[int, ...]]) -> Widths:
    """The multipliers of ``slot``'s parameter against its base shape in ``shapes``
    (:class:`UnknownValueError` where the base has no such parameter).

    Examples
    --------
    >>> from weightinit import Weight
    >>> from weightinit.roles import Slot
    >>> from weightinit.schemes import widths
    >>> slot = Slot("projection", Weight((512, 512), "out_in"), name="fc.weight")
    >>> widths(slot, {"fc.weight": (128, 128)})
    Widths(fan_in=4.0, fan_out=4.0)
    """
    weight, base = slot.weight, _at_base(slot, shapes)
    if len(weight.shape) < 2:
        size, base_size = math.prod(weight.shape), math.prod(base.shape)
        return Widths(1.0, size / base_size if base_size else 1.0)  # a vector: its one axis
    own, fans = weight.fans, base.fans
    return Widths(own.fan_in / fans.fan_in, own.fan_out / fans.fan_out)


def _at_base(slot: Slot, shapes: Mapping[str, tuple[int, ...]]) -> Weight:
    """``slot``'s geometry at the base width (its groups, where they do not divide the base
    shape, are the base's one group): :class:`UnknownValueError` where the base has no such
    parameter or one of another rank."""
    base = shapes.get(slot.name)
    if base is None:
        raise UnknownValueError(f"μP's base model has no parameter called {slot.name!r}")
    weight = slot.weight
    if len(base) != len(weight.shape):
        raise UnknownValueError(
            f"μP's base shape of {slot.name!r} is {base}, of another rank than {weight.shape}"
        )
    axes = {"in_axis": weight.in_axes, "out_axis": weight.out_axes, "batch_axis": weight.batch_axes}
    try:
        return Weight.checked(base, weight.layout, weight.groups, weight.blocks, **axes)
    except ValueError:
        return Weight.checked(base, weight.layout, 1, weight.blocks, **axes)


def mup(
    base: object,
    *,
    std: float | None = None,
    readout: str = "zero",
    query_zero: bool = True,
) -> Scheme:
    """μP's initialization against a base model (the mup package's ``set_base_shapes``).

    ``m`` is a weight's fan-in over its base fan-in. Hidden and input weights get the
    variance ``σ²/m`` (an input weight's fan-in does not grow, so its ``m`` is 1), where
    ``σ`` is ``std``, or (``std=None``) the recommended initializer's at the base width;
    embeddings, tied or not, ``N(0, std**2)`` (``std=None``: ``N(0, 1)``); the readout (the
    head) zero (``readout="zero"``, recommended), ``σ²`` (``"constant"``), or ``σ²/m²``
    (``"scaled"``); queries zero
    (``query_zero``); biases zero, norms one.

    What the model itself must do, which no initialization can: multiply the readout's
    output by ``α/m`` (whatever the readout starts at: it trains at the full learning
    rate), scale attention logits by ``1/d_head`` instead of ``1/√d_head``, and train with
    the learning rates of :func:`weightinit.torch.mup_param_groups`.

    Parameters
    ----------
    base : mapping or model
        The base model's shapes by parameter name (:func:`base_shapes`), or the base
        model itself.

    Examples
    --------
    >>> from weightinit import Weight
    >>> from weightinit.roles import Slot
    >>> from weightinit.schemes import mup
    >>> scheme = mup({"fc.weight": (128, 128)}, std=0.02)
    >>> slot = Slot("projection", Weight((2048, 2048), "out_in"), name="fc.weight")
    >>> choice = scheme.choose(slot)
    >>> choice.initializer, choice.formula
    (normal(0.005), 'σ²/m, σ=0.02, m=16')
    """
    shapes = base_shapes(base)
    if readout not in _READOUTS:
        raise choice_error("readout", readout, _READOUTS)
    if std is not None and (
        isinstance(std, bool) or not isinstance(std, (int, float)) or not std > 0
    ):
        raise ValueError(f"std must be a positive number or None; got {std!r}.")

    def sigma(slot: Slot, activation: object) -> tuple[float, str]:
        if std is not None:
            return float(std), f"σ={number(std)}"
        at_base = _at_base(slot, shapes)
        init = recommend(activation)
        variance = init._recipe(at_base).variance()
        return math.sqrt(variance), f"σ of {init!r} at the base width"

    def hidden(slot: Slot, activation: object) -> Choice:
        if query_zero and slot.place.part == "q":
            return Choice(zeros(), slot.weight, "0: μP's zero query")
        if query_zero and (slot.place.part == "qkv" or slot.role == "attention_in"):
            raise UnknownValueError(
                "μP zeroes the queries, which are one block of this fused q/k/v weight "
                "(mup(..., query_zero=False) leaves them drawn)"
            )
        m = widths(slot, shapes).fan_in
        s, formula = sigma(slot, activation)
        return Choice(normal(s / math.sqrt(m)), slot.weight, f"σ²/m, {formula}, m={m:g}")

    def head(slot: Slot, activation: object) -> Choice:
        if readout == "zero":
            return Choice(zeros(), slot.weight, "0: μP's zero readout")
        m = widths(slot, shapes).fan_in
        s, formula = sigma(slot, activation)
        if readout == "constant":
            return Choice(normal(s), slot.weight, f"σ², {formula} (the model multiplies by 1/m)")
        return Choice(normal(s / m), slot.weight, f"σ²/m², {formula}, m={m:g}")

    def embedding(slot: Slot, activation: object) -> Choice:
        # An embedding is wide in its output only: its variance stays as it is at any width
        # (a tied one too, where the recommended scheme's 1/d would shrink with the width).
        sigma_value = 1.0 if std is None else float(std)
        return Choice(normal(sigma_value), slot.weight, f"σ={number(sigma_value)}")

    rules: dict[str, Rule] = dict(recommended().rules)
    rules.update({role: hidden for role in _MATRICES})
    rules.update({"head": head, "embedding": embedding, "tied_embedding": embedding})
    options = [] if std is None else [f"std={std:g}"]
    options += [f"readout={readout!r}"] * (readout != "zero") + ["query_zero=False"] * (
        not query_zero
    )
    return Scheme("mup" + (f"({', '.join(options)})" if options else ""), rules)
