"""What a scheme is: a map from roles to rules, each rule a function of a slot that answers
with an initializer, the geometry to draw it with and the formula it follows; and how
schemes compose (a base scheme under partial ones that answer for some slots only)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

from weightinit._fans import Weight
from weightinit.families import constant
from weightinit.families import ones
from weightinit.families import zeros
from weightinit.initializers import Initializer
from weightinit.roles import ROLES
from weightinit.roles import Slot

__all__ = ["Choice", "Rule", "Scheme", "UnknownValueError", "compose"]


@dataclass(frozen=True)
class Choice:
    """A scheme's answer for one parameter: the initializer, the geometry to draw it with,
    the formula it follows (``""`` where the initializer says it all) and the scheme of a
    composition that gave it."""

    initializer: Initializer
    weight: Weight
    formula: str = ""
    scheme: str = ""


#: A role's rule: (slot, activation) -> a Choice, an (initializer, geometry) pair, or
#: ``None`` where a partial scheme leaves the slot to the scheme under it.
Rule = Callable[[Slot, object], Union[Choice, tuple[Initializer, Weight], None]]


class UnknownValueError(LookupError):
    """A rule needs a fact of the model that its adapter could not read (a layer scale's
    starting value on the meta device, the depth of a model without residual blocks): the
    parameter needs a rule, or a role, of the user's."""


@dataclass(frozen=True)
class Scheme:
    """A named map from roles to rules.

    A complete scheme has a rule for every role of :data:`weightinit.roles.ROLES` (checked
    when it is made). A *partial* one (``partial=True``: zero-init residual, SkipInit, ...)
    answers for some slots only and is used on top of a complete one: ``base + partial``
    (or ``"gpt2+zero_init_residual"`` by name); alone, it sits on ``"recommended"``.

    Examples
    --------
    >>> from weightinit import Weight
    >>> from weightinit.roles import Slot
    >>> from weightinit.schemes import scheme
    >>> slot = Slot("projection", Weight.checked((256, 784), "out_in", 1, 1))
    >>> scheme("recommended").initializer(slot, "relu")
    (he_normal(), Weight(shape=(256, 784), layout='out_in', groups=1, blocks=1))
    >>> scheme("pytorch").initializer(slot, None)[0]
    presets.preset('pytorch.linear')
    >>> scheme("gpt2+zero_init_residual").name
    'gpt2+zero_init_residual'
    """

    name: str
    rules: Mapping[str, Rule] = dataclasses.field(repr=False)
    #: The rule of a weight a framework's container re-draws after building it
    #: (``Slot.redrawn``); ``None``: the container's re-draw is not part of this scheme.
    redraw: Rule | None = dataclasses.field(default=None, repr=False)
    #: Whether it answers for some slots only (and needs a complete scheme under it).
    partial: bool = False
    #: What a partial scheme acts on, for the error when a model has none of it.
    acts_on: str = dataclasses.field(default="", repr=False)
    #: Whether it gives residual projections (attention's output, the MLP's down
    #: projection) their own rule: a block whose output projection is not recognised is
    #: then an error, not a silently unscaled weight.
    residual: bool = dataclasses.field(default=False, repr=False)
    #: A complete scheme and the partial ones composed on it, base first (a plain scheme:
    #: itself).
    composed: tuple[Scheme, ...] = dataclasses.field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = [role for role in self.rules if role not in ROLES]
        missing = [] if self.partial else [role for role in ROLES if role not in self.rules]
        if missing or unknown:
            raise ValueError(
                f"scheme {self.name!r} must give every role of weightinit.roles.ROLES a rule; "
                f"missing {missing}, unknown {unknown}."
            )
        if not self.composed:
            object.__setattr__(self, "composed", (self,))

    def choose(self, slot: Slot, activation: object = None) -> Choice | None:
        """What this scheme gives ``slot`` (``None``: a partial scheme leaves it to the
        scheme under it)."""
        if len(self.composed) > 1:
            for layer in reversed(self.composed):
                found = layer.choose(slot, activation)
                if found is not None:
                    return found
            return None
        if slot.redrawn and self.redraw is not None:
            return _as_choice(self.redraw(slot, activation), slot, self.name)
        rule = self.rules.get(slot.role)
        return None if rule is None else _as_choice(rule(slot, activation), slot, self.name)

    def initializer(self, slot: Slot, activation: object = None) -> tuple[Initializer, Weight]:
        """The initializer of ``slot`` under this scheme, and the geometry to draw it with."""
        found = self.choose(slot, activation)
        if found is None:
            raise UnknownValueError(f"scheme {self.name!r} has no rule for a {slot.role}")
        return found.initializer, found.weight

    def __add__(self, other: object) -> Scheme:
        if not isinstance(other, Scheme):
            return NotImplemented
        return compose(self, other)


def _as_choice(
    answer: Choice | tuple[Initializer, Weight] | None, slot: Slot, name: str
) -> Choice | None:
    if answer is None:
        return None
    if isinstance(answer, Choice):
        return dataclasses.replace(answer, scheme=answer.scheme or name)
    init, weight = answer
    return Choice(init, weight, "", name)


def compose(base: Scheme, *overlays: Scheme) -> Scheme:
    """``base`` with ``overlays`` on top: each slot gets the answer of the last overlay that
    has one, else the base's. ``base`` must be complete and the overlays partial.

    Examples
    --------
    >>> from weightinit.schemes import compose, gpt2, zero_init_residual
    >>> compose(gpt2(), zero_init_residual()).name
    'gpt2+zero_init_residual'
    """
    if base.partial:
        raise ValueError(
            f"scheme {base.name!r} is partial ({base.acts_on}); put a complete scheme under "
            f"it, such as 'recommended+{base.name}'."
        )
    complete = [s.name for s in overlays if not s.partial]
    if complete:
        raise ValueError(
            f"only partial schemes compose on {base.name!r}; {', '.join(map(repr, complete))} "
            "gives every parameter its own rule, so use it alone."
        )
    composed = tuple(layer for s in (base, *overlays) for layer in s.composed)
    return Scheme(
        "+".join(s.name for s in (base, *overlays)),
        base.rules,
        base.redraw,
        residual=any(layer.residual for layer in composed),
        composed=composed,
    )


# ----------------------------------------------------------------------------- rule helpers


def value_of(slot: Slot) -> Initializer:
    """The constant the model starts the parameter at (:class:`UnknownValueError` where
    unknown)."""
    if slot.value is None:
        raise UnknownValueError(f"its starting value ({slot.role}) is not known")
    value = slot.value
    return ones() if value == 1.0 else zeros() if value == 0.0 else constant(value)


def neutral(slot: Slot, activation: object) -> Choice:
    """A rule that starts the parameter where the model starts it (a norm's neutral gain)."""
    return Choice(value_of(slot), slot.weight, "the model's start")


def zero(slot: Slot, activation: object) -> Choice:
    return Choice(zeros(), slot.weight, "0")


def depth_of(slot: Slot) -> int:
    """The depth ``L`` of the slot's stack of blocks (:class:`UnknownValueError` if unknown)."""
    if slot.place.depth is None:
        raise UnknownValueError(
            "the scheme scales it by the depth L, which is not known (the parameter is in no "
            "residual block the architecture table knows; say its place with roles=)"
        )
    return slot.place.depth


def layer_of(slot: Slot) -> int:
    """The block index ``l`` of the slot (:class:`UnknownValueError` if unknown)."""
    if slot.place.layer is None:
        raise UnknownValueError(
            "the scheme scales it by its block index l, which is not known (say its place "
            "with roles=)"
        )
    return slot.place.layer


def width_of(slot: Slot) -> int:
    """The width ``d`` of the slot's residual stream (:class:`UnknownValueError` if unknown)."""
    if slot.place.width is None:
        raise UnknownValueError(
            "the scheme reads the model's width d, which is not known (say it with roles=)"
        )
    return slot.place.width


def number(value: float) -> str:
    """A number as a formula shows it (four significant digits)."""
    return f"{value:.4g}"
