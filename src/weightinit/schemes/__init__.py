"""Schemes: which initializer each role of a model's parameters gets.

A scheme reads a :class:`~weightinit.roles.Slot` (role, geometry, place among the residual
blocks, a framework's facts) and the network's activation, and answers with an
initializer, the geometry to draw it with and the formula it follows. Schemes know nothing
of frameworks, so one scheme gives a PyTorch model and a JAX model the same plan.

By name (``scheme="megatron"``) or with parameters (``scheme=wi.schemes.megatron(std=0.006)``);
partial schemes compose on a complete one with ``+`` (``"gpt2+zero_init_residual"``, or
``wi.schemes.gpt2() + wi.schemes.zero_init_residual()``).

Complete: ``recommended``, ``pytorch``, the other frameworks' defaults ``flax``,
``haiku``, ``equinox`` and ``keras``, ``hf``, ``gpt2``, ``megatron``, ``torchtitan``,
``olmo``, ``small_init``, ``t_fixup`` and ``mup`` (which needs its base shapes, so it has
no name). Partial: ``zero_init_residual``, ``fixup``, ``skipinit``, ``rezero`` and
``deepnorm``.
"""

from __future__ import annotations

from collections.abc import Callable

from weightinit._errors import choice_error
from weightinit.schemes._core import Choice
from weightinit.schemes._core import Rule
from weightinit.schemes._core import Scheme
from weightinit.schemes._core import UnknownValueError
from weightinit.schemes._core import compose
from weightinit.schemes._defaults import pytorch
from weightinit.schemes._defaults import recommended
from weightinit.schemes._frameworks import equinox
from weightinit.schemes._frameworks import flax
from weightinit.schemes._frameworks import haiku
from weightinit.schemes._frameworks import keras
from weightinit.schemes._mup import Widths
from weightinit.schemes._mup import base_shapes
from weightinit.schemes._mup import mup
from weightinit.schemes._mup import widths
from weightinit.schemes._residual import deepnorm
from weightinit.schemes._residual import fixup
from weightinit.schemes._residual import rezero
from weightinit.schemes._residual import skipinit
from weightinit.schemes._residual import t_fixup
from weightinit.schemes._residual import zero_init_residual
from weightinit.schemes._transformers import gpt2
from weightinit.schemes._transformers import hf
from weightinit.schemes._transformers import megatron
from weightinit.schemes._transformers import olmo
from weightinit.schemes._transformers import small_init
from weightinit.schemes._transformers import torchtitan

__all__ = [
    "SCHEMES",
    "Choice",
    "Rule",
    "Scheme",
    "UnknownValueError",
    "Widths",
    "base_shapes",
    "compose",
    "deepnorm",
    "equinox",
    "fixup",
    "flax",
    "gpt2",
    "haiku",
    "hf",
    "keras",
    "megatron",
    "mup",
    "olmo",
    "pytorch",
    "recommended",
    "rezero",
    "scheme",
    "skipinit",
    "small_init",
    "t_fixup",
    "torchtitan",
    "widths",
    "zero_init_residual",
]

#: The schemes that have a name, each with its default parameters.
SCHEMES: dict[str, Callable[[], Scheme]] = {
    "recommended": recommended,
    "pytorch": pytorch,
    "flax": flax,
    "haiku": haiku,
    "equinox": equinox,
    "keras": keras,
    "hf": hf,
    "gpt2": gpt2,
    "megatron": megatron,
    "torchtitan": torchtitan,
    "olmo": olmo,
    "small_init": small_init,
    "t_fixup": t_fixup,
    "zero_init_residual": zero_init_residual,
    "fixup": fixup,
    "skipinit": skipinit,
    "rezero": rezero,
    "deepnorm": deepnorm,
}


def scheme(name: object) -> Scheme:
    """The scheme called ``name`` (``"gpt2+zero_init_residual"``: composed), or ``name``
    itself if it is a :class:`Scheme`. A partial scheme alone sits on ``"recommended"``.

    Examples
    --------
    >>> from weightinit.schemes import scheme
    >>> scheme("pytorch").name
    'pytorch'
    >>> scheme("zero_init_residual").name
    'recommended+zero_init_residual'
    """
    if isinstance(name, Scheme):
        found = name
    elif isinstance(name, str):
        parts = [part.strip() for part in name.split("+")]
        if "" in parts:
            raise ValueError(
                f"scheme {name!r} has an empty part; compose names with + between them, "
                "such as 'gpt2+zero_init_residual'."
            )
        made = []
        for part in parts:
            if part not in SCHEMES:
                hint = " (mup needs its base shapes: scheme=weightinit.schemes.mup(base))"
                error = choice_error("scheme", part, tuple(SCHEMES))
                raise ValueError(str(error) + (hint if part == "mup" else "")) from None
            made.append(SCHEMES[part]())
        if len(made) == 1:
            found = made[0]
        else:
            found = (
                compose(made[0], *made[1:])
                if not made[0].partial
                else compose(recommended(), *made)
            )
    else:
        raise TypeError(
            f"scheme must be a name ({', '.join(map(repr, SCHEMES))}) or a "
            f"weightinit.schemes.Scheme; got {type(name).__name__}."
        )
    return compose(recommended(), found) if found.partial else found
