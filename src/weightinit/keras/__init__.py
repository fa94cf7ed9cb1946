"""Keras: weightinit's initializers in Keras 3 models, and whole built models in one call.

Needs the ``keras`` extra (with any Keras backend). Importing this package imports Keras and
registers :class:`KerasInitializer` with Keras' serialisation, so that a model saved as
``.keras`` with it loads back (once this package is imported), and every weightinit name
as a string identifier: ``keras.layers.Dense(8, kernel_initializer="weightinit>he_normal")``.
:func:`initialize` makes every weight of a built model from one seed with the plans of
``weightinit.torch``; :func:`plan` says what it would give each.
"""

from __future__ import annotations

import warnings

from weightinit.keras import _names
from weightinit.keras._initializer import KerasInitializer
from weightinit.keras._model import initialize
from weightinit.keras._model import plan

__all__ = ["KerasInitializer", "initialize", "plan"]

# Saved configs name the module to import, so name the public one.
KerasInitializer.__module__ = __name__
_names.register()


def __getattr__(name: str) -> object:
    """``Initializer``, the former name of :class:`KerasInitializer`, with a
    ``DeprecationWarning``."""
    if name == "Initializer":
        warnings.warn(
            "weightinit.keras.Initializer is now KerasInitializer (weightinit.Initializer is "
            "the base class of weightinit's own initializers).",
            DeprecationWarning,
            stacklevel=2,
        )
        return KerasInitializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
