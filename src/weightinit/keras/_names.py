"""Registration with Keras' serialisation: the initializer class under its saved names, and
one string identifier per weightinit name (``"weightinit>he_normal"``)."""

from __future__ import annotations

from typing import Any

import keras

from weightinit import registry
from weightinit.keras._initializer import OPTIONS
from weightinit.keras._initializer import KerasInitializer

__all__ = ["PACKAGE", "register"]

#: The package part of every name this module registers.
PACKAGE = "weightinit"

# The name models were saved under before the class was renamed; they load as they are.
_FORMER = f"{PACKAGE}>Initializer"


class _Named(KerasInitializer):
    """The class Keras finds for ``"weightinit>NAME"``: ``from_config`` makes a
    :class:`KerasInitializer` of the weightinit initializer ``NAME``."""

    init_name = ""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasInitializer:
        options = {k: v for k, v in config.items() if k in OPTIONS}
        params = {k: v for k, v in config.items() if k not in OPTIONS}
        try:
            return KerasInitializer({"name": cls.init_name, **params}, **options)
        except TypeError as error:
            # Keras rewords a TypeError from from_config as a question about get_config; a
            # ValueError reaches the user as it is.
            raise ValueError(
                f"{error} As a Keras identifier: {{'class_name': "
                f"'{PACKAGE}>{cls.init_name}', 'config': {{...}}}}."
            ) from None


def _identifier(name: str) -> None:
    """Make ``"weightinit>NAME"`` a Keras identifier of the weightinit initializer ``name``."""
    named = type(name, (_Named,), {"init_name": name, "__module__": __name__})
    keras.saving.get_custom_objects()[f"{PACKAGE}>{name}"] = named


def register() -> None:
    """Register :class:`KerasInitializer` (under ``"weightinit>KerasInitializer"`` and its
    former ``"weightinit>Initializer"``) and every name and alias :func:`weightinit.names`
    lists as ``"weightinit>NAME"``, and each name :func:`weightinit.register` adds later."""
    keras.saving.register_keras_serializable(package=PACKAGE)(KerasInitializer)
    keras.saving.get_custom_objects()[_FORMER] = KerasInitializer
    for name in registry.names(aliases=True):
        _identifier(name)
    if _identifier not in registry.LISTENERS:
        registry.LISTENERS.append(_identifier)
