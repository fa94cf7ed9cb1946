"""Keras: a serialisable ``keras.initializers.Initializer`` around any weightinit
initializer, and whole built models in one call.

Needs the ``keras`` extra (with any Keras backend). Importing this module imports Keras and
registers :class:`KerasInitializer`, so a model saved as ``.keras`` with it loads back.
:func:`initialize` makes every weight of a built model from one seed with the plans of
``weightinit.torch``; :func:`plan` says what it would give each.
"""

from weightinit.keras._initializer import KerasInitializer
from weightinit.keras._initializer import __getattr__ as __getattr__
from weightinit.keras._model import initialize
from weightinit.keras._model import plan

__all__ = ["KerasInitializer", "initialize", "plan"]
