"""The Keras initializer: a serialisable ``keras.initializers.Initializer`` around any
weightinit initializer."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from weightinit import registry
from weightinit._fans import Weight
from weightinit.seeds import Key
from weightinit.seeds import check_seed

__all__ = ["KerasInitializer"]


# Saved under its first name, "weightinit>Initializer", so models saved before load back.
@keras.saving.register_keras_serializable(package="weightinit", name="Initializer")
class KerasInitializer(keras.initializers.Initializer):  # type: ignore[misc]
    """A weightinit initializer as a Keras initializer.

    Parameters
    ----------
    init : Initializer, str or dict
        Anything :func:`weightinit.get` takes.
    seed : int, optional
        The seed; with ``name``, each layer's values are keyed by its name
        (``Key.from_seed(seed).fold_in(name)``), so layers of one shape differ. ``None``
        draws fresh values on every call, as Keras' own unseeded initializers do.
    layout : str, default "in_out"
        Keras' kernels are ``(in, out)`` and HWIO; use ``"keras_depthwise"`` for
        ``DepthwiseConv2D``.
    name : str, optional
        The key's name (see ``seed``).
    groups, blocks : int, default 1
        As for calling the initializer: a Keras LSTM's ``recurrent_kernel`` ``(H, 4 H)``
        takes ``blocks=4`` to be orthogonal per gate.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> import weightinit as wi
    >>> from weightinit.keras import KerasInitializer
    >>> init = KerasInitializer(wi.he_normal(), seed=0, name="dense")
    >>> layer = keras.layers.Dense(256, kernel_initializer=init)
    >>> layer.build((None, 784))
    >>> key = wi.Key.from_seed(0).fold_in("dense")
    >>> kernel = keras.ops.convert_to_numpy(layer.kernel.value)
    >>> bool((kernel == wi.he_normal()((784, 256), seed=key)).all())
    True
    >>> KerasInitializer.from_config(init.get_config()).get_config() == init.get_config()
    True
    """

    def __init__(
        self,
        init: object,
        seed: int | None = None,
        *,
        layout: str = "in_out",
        name: str | None = None,
        groups: int = 1,
        blocks: int = 1,
    ) -> None:
        self.init = registry.get(init)
        if seed is not None:
            check_seed(seed)
        self.seed = seed
        self._options = Weight.checked((), layout, groups, blocks)
        self.name = name

    @property
    def layout(self) -> str:
        """The canonical layout the kernels' fans are read in."""
        return self._options.layout

    @property
    def groups(self) -> int:
        """The channel groups of a grouped convolution's kernel."""
        return self._options.groups

    @property
    def blocks(self) -> int:
        """The equal blocks stacked along the output axis."""
        return self._options.blocks

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        dims = tuple(int(d) for d in shape)
        target = keras.backend.standardize_dtype(dtype or keras.config.floatx())
        host = "float64" if target == "float64" else "float32"
        if self.seed is None:
            seed: Any = None
        elif self.name is None:
            seed = self.seed
        else:
            seed = Key.from_seed(self.seed).fold_in(self.name)
        weight = self._options.with_shape(dims)
        values = self.init._make(weight, np.dtype(host), seed, None)
        return keras.ops.cast(keras.ops.convert_to_tensor(values), target)

    def get_config(self) -> dict[str, Any]:
        return {
            "init": self.init.get_config(),
            "seed": self.seed,
            "layout": self.layout,
            "name": self.name,
            "groups": self.groups,
            "blocks": self.blocks,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasInitializer:
        return cls(**config)
