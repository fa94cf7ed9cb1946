"""The Keras initializer: a serialisable ``keras.initializers.Initializer`` around any
weightinit initializer, keyed by the variable it makes."""

from __future__ import annotations

import operator
import random
import warnings
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from weightinit import registry
from weightinit._fans import Weight
from weightinit.keras import _variables
from weightinit.seeds import Key
from weightinit.seeds import check_seed

__all__ = ["FLOAT_DTYPES", "OPTIONS", "KerasInitializer"]

#: The dtypes a KerasInitializer makes, in the order error messages list them.
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")

#: The constructor's keyword options (everything in a config but ``init``).
OPTIONS = ("seed", "layout", "name", "groups", "blocks", "in_axis", "out_axis", "batch_axis")

_SEEDS = (
    "None, a non-negative int, a weightinit.Key, a keras.random.SeedGenerator, a "
    "numpy.random.SeedSequence or a numpy.random.Generator"
)


class KerasInitializer(keras.initializers.Initializer):  # type: ignore[misc]
    """A weightinit initializer as a Keras initializer.

    Parameters
    ----------
    init : Initializer, str or dict
        Anything :func:`weightinit.get` takes.
    seed : int, Key, keras.random.SeedGenerator or None, optional
        What the values are a function of. A weight that Keras makes in a layer
        (``Layer.add_weight``) gets the key ``Key.from_seed(seed).fold_in(path)``, ``path``
        being the variable's ``path`` (``"dense/kernel"``), so the query, key and value of a
        ``MultiHeadAttention``, the two directions of a ``Bidirectional`` layer and an LSTM's
        kernel and recurrent kernel differ although Keras gives each a copy of this
        initializer, and a model rebuilt with the same layer names gets the same values. A
        direct call (no variable) uses ``Key.from_seed(seed)`` itself. A ``SeedGenerator``
        gives fresh values on every call, reproducibly: the key of a call is
        ``Key.from_seed((a << 32) | b)``, ``(a, b)`` being the generator's next seed as
        unsigned 32-bit integers, then folded as above. A ``SeedSequence`` or ``Generator``
        is resolved once, here, into a ``Key``. ``None`` (the default) draws a 64-bit seed
        here from Python's ``random`` module, as Keras' own initializers draw theirs, so
        ``keras.utils.set_random_seed`` makes the values reproducible; call ``n`` (from 0)
        of this object then gets ``Key.from_seed(drawn).fold_in(n)``: fresh values on every
        call, for every copy.
    layout : str, optional
        How to read the kernel's axes. ``None`` (the default): as the variable's layer
        stores it: ``"keras_depthwise"`` for ``DepthwiseConv*D`` kernels and
        ``SeparableConv*D`` depthwise kernels, ``"keras_transposed"`` for ``Conv*DTranspose``
        kernels and ``"in_out"`` (Keras' ``(*kernel, in, out)``) for everything else.
    name : str, optional
        Keys a seeded initializer's values by this name instead of the variable's path:
        ``Key.from_seed(seed).fold_in(name)``, as ``weightinit.initialize`` keys a parameter
        of that name. Every weight of one shape that this initializer and Keras' copies of it
        make then gets the same values, so give a name only to the initializer of one
        weight.
    groups : int, optional
        Channel groups. ``None``: the ``groups`` of a ``Conv*D`` layer's kernel, else 1.
    blocks : int, optional
        Equal blocks stacked along the output axis, whose fans and structured draws are per
        block. ``None``: 4 for an ``LSTM`` (and ``ConvLSTM*D``) cell's kernel and recurrent
        kernel (its gates), 3 for a ``GRU`` cell's, else 1.
    in_axis, out_axis : int or sequence of int, optional
        The axes whose sizes multiply into the fan-in and fan-out, as in JAX's
        ``variance_scaling`` (negative axes count from the end), for kernels whose fans span
        several axes: a ``MultiHeadAttention`` query kernel ``(embed, heads, head_dim)``
        takes ``in_axis=0, out_axis=(1, 2)``. ``None``: the layout's.
    batch_axis : int or sequence of int, default ()
        Axes that belong to neither fan.

    Notes
    -----
    The layer a variable belongs to and the variable's path are read from the Keras call
    that makes the variable. A seeded initializer without a name that is called directly
    twice for one shape gives the same values twice and warns once.

    Examples
    --------
    >>> import keras
    >>> import numpy as np
    >>> import weightinit as wi
    >>> from weightinit.keras import KerasInitializer
    >>> init = KerasInitializer(wi.he_normal(), seed=0)
    >>> layer = keras.layers.Dense(256, kernel_initializer=init, name="fc")
    >>> layer.build((None, 784))
    >>> layer.kernel.path
    'fc/kernel'
    >>> key = wi.Key.from_seed(0).fold_in("fc/kernel")
    >>> kernel = keras.ops.convert_to_numpy(layer.kernel.value)
    >>> bool((kernel == wi.he_normal()((784, 256), seed=key)).all())
    True
    >>> KerasInitializer.from_config(init.get_config()).get_config() == init.get_config()
    True
    """

    def __init__(
        self,
        init: object,
        seed: object = None,
        *,
        layout: str | None = None,
        name: str | None = None,
        groups: int | None = None,
        blocks: int | None = None,
        in_axis: int | Sequence[int] | None = None,
        out_axis: int | Sequence[int] | None = None,
        batch_axis: int | Sequence[int] = (),
    ) -> None:
        self.init = registry.get(init)
        if name is not None and not isinstance(name, str):
            raise TypeError(
                f"name must be a str or None; got {name!r} of type {type(name).__name__}."
            )
        stated = Weight.checked(
            (),
            "in_out" if layout is None else layout,
            1 if groups is None else groups,
            1 if blocks is None else blocks,
            in_axis=_listed(in_axis),
            out_axis=_listed(out_axis),
            batch_axis=_listed(batch_axis),
        )
        self._axes = (stated.in_axes, stated.out_axes, stated.batch_axes)
        self._layout = None if layout is None else stated.layout
        self._groups = None if groups is None else stated.groups
        self._blocks = None if blocks is None else stated.blocks
        self.name = name
        self.seed = _seed(seed)
        self._drawn = random.getrandbits(64) if self.seed is None else None
        self._calls = 0
        self._unkeyed: set[tuple[int, ...]] = set()
        self._warned = False

    @property
    def layout(self) -> str | None:
        """The canonical layout stated, or ``None``: read from the variable's layer."""
        return self._layout

    @property
    def groups(self) -> int | None:
        """The channel groups stated, or ``None``: read from the variable's layer."""
        return self._groups

    @property
    def blocks(self) -> int | None:
        """The stacked blocks stated, or ``None``: read from the variable's layer."""
        return self._blocks

    def __call__(self, shape: Any, dtype: Any = None) -> Any:
        dims = tuple(int(d) for d in shape)
        target = _float_dtype(dtype)
        site = _variables.current()
        weight = self._weight(dims, site)
        key = self._key(dims, site)
        host = np.dtype(np.float64 if target == "float64" else np.float32)
        values = self.init._make(weight, host, key, None)
        return keras.ops.cast(keras.ops.convert_to_tensor(values), target)

    def _weight(self, dims: tuple[int, ...], site: _variables.Site | None) -> Weight:
        def pick(stated: Any, found: Any, default: Any) -> Any:
            if stated is not None:
                return stated
            return found if found is not None else default

        known = site or _variables.Site("")
        return Weight.checked(
            dims,
            pick(self._layout, known.layout, "in_out"),
            pick(self._groups, known.groups, 1),
            pick(self._blocks, known.blocks, 1),
            in_axis=self._axes[0],
            out_axis=self._axes[1],
            batch_axis=self._axes[2],
        )

    def _key(self, dims: tuple[int, ...], site: _variables.Site | None) -> Key:
        if self.seed is None:
            assert self._drawn is not None
            call, self._calls = self._calls, self._calls + 1
            return Key.from_seed(self._drawn).fold_in(call)
        if isinstance(self.seed, keras.random.SeedGenerator):
            root = _generator_key(self.seed)
        else:
            root = Key.from_seed(self.seed)
        if self.name is not None:
            return root.fold_in(self.name)
        if site is not None:
            return root.fold_in(site.path)
        if not isinstance(self.seed, keras.random.SeedGenerator):
            self._note_unkeyed(dims)
        return root

    def _note_unkeyed(self, dims: tuple[int, ...]) -> None:
        if dims in self._unkeyed and not self._warned:
            self._warned = True
            warnings.warn(
                f"KerasInitializer(seed={_seed_config(self.seed)!r}) made a second weight of "
                f"shape {dims} outside a Keras variable and without a name, so both have the "
                "same values. Make the weights with Layer.add_weight (the variable's path "
                "keys them), or give each its own KerasInitializer(..., name=...).",
                UserWarning,
                stacklevel=3,
            )
        self._unkeyed.add(dims)

    def get_config(self) -> dict[str, Any]:
        return {
            "init": self.init.get_config(),
            "seed": _seed_config(self.seed),
            "layout": self._layout,
            "name": self.name,
            "groups": self._groups,
            "blocks": self._blocks,
            "in_axis": _config_axes(self._axes[0]),
            "out_axis": _config_axes(self._axes[1]),
            "batch_axis": _config_axes(self._axes[2]),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasInitializer:
        return cls(**config)


def _listed(axes: object) -> object:
    """Axes from a config (JSON lists) as the tuples a call takes; anything else as it is."""
    return tuple(axes) if isinstance(axes, list) else axes


def _config_axes(axes: tuple[int, ...] | None) -> list[int] | None:
    return None if axes is None else list(axes)


def _seed(seed: object) -> int | Key | keras.random.SeedGenerator | None:
    """The seed as this class keeps it: ``None``, an int, a ``Key`` or a ``SeedGenerator``
    (a ``SeedSequence`` or ``Generator`` resolved into a ``Key``)."""
    if seed is None or isinstance(seed, (Key, keras.random.SeedGenerator)):
        return seed
    if isinstance(seed, dict):  # from a config
        if set(seed) == {"key"}:
            return Key(tuple(seed["key"]))
        restored = keras.saving.deserialize_keras_object(seed)
        if isinstance(restored, keras.random.SeedGenerator):
            return restored
        raise TypeError(f"seed must be {_SEEDS}; the config {seed!r} gives {restored!r}.")
    try:
        check_seed(seed)
    except TypeError:
        raise TypeError(
            f"seed must be {_SEEDS}; got {seed!r} of type {type(seed).__name__}."
        ) from None
    if isinstance(seed, (np.random.SeedSequence, np.random.Generator)):
        return Key.from_seed(seed)
    return operator.index(seed)  # type: ignore[arg-type]


def _seed_config(seed: int | Key | keras.random.SeedGenerator | None) -> Any:
    if seed is None or isinstance(seed, int):
        return seed
    if isinstance(seed, Key):
        return {"key": list(seed.words)}
    return keras.saving.serialize_keras_object(seed)


def _generator_key(generator: keras.random.SeedGenerator) -> Key:
    drawn = np.asarray(keras.ops.convert_to_numpy(generator.next())).astype(np.int64)
    high, low = (int(word) & 0xFFFFFFFF for word in drawn.reshape(-1)[:2])
    return Key.from_seed((high << 32) | low)


def _float_dtype(dtype: Any) -> str:
    """The Keras dtype name of ``dtype`` (``None``: ``keras.config.floatx()``) if it is a
    floating-point one this class makes, else a ``TypeError`` naming it."""
    name = str(keras.backend.standardize_dtype(dtype or keras.config.floatx()))
    if name in FLOAT_DTYPES:
        return name
    if name.startswith("complex"):
        hint = " Make the real and imaginary parts as two float weights."
    elif name == "bool" or "int" in name:
        hint = " Integer and boolean variables take keras.initializers.Zeros or Constant."
    else:
        hint = ""
    raise TypeError(
        f"KerasInitializer makes floating-point weights: dtype must be one of "
        f"{', '.join(FLOAT_DTYPES)}; got {name!r}.{hint}"
    )
