"""Keras: weightinit's initializers in Keras 3 models.

Needs the ``keras`` extra (with any Keras backend). Importing this package imports Keras and
registers :class:`KerasInitializer` with Keras' serialisation, so that a model saved as
``.keras`` with it loads back (once this package is imported), and every weightinit name
as a string identifier: ``keras.layers.Dense(8, kernel_initializer="weightinit>he_normal")``.
"""

from __future__ import annotations

import warnings

from weightinit.keras import _names
from weightinit.keras._initializer import KerasInitializer

__all__ = ["KerasInitializer"]

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
