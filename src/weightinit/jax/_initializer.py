"""JAX and Flax: an initializer as a ``kernel_init`` whose values are a pure function of the key.

Needs the ``jax`` extra (JAX is imported when a function here is called). The values are
made by weightinit in NumPy, on the host, through ``jax.pure_callback``, so they are the same
eagerly, under ``jax.jit`` and on every device.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from weightinit import registry
from weightinit._errors import install_hint
from weightinit._fans import Weight
from weightinit.initializers import checked_recipe
from weightinit.seeds import Key

__all__ = ["haiku_initializer", "initializer", "make_array", "seed_from_key"]

_DOMAIN = b"weightinit.jax\0"


def _jax() -> Any:
    try:
        import jax
    except ImportError:
        raise ImportError(
            f"weightinit.jax needs JAX: install the jax extra with {install_hint('jax')}."
        ) from None
    return jax


def _key_data(key: Any) -> Any:
    """The raw words of a JAX key, a typed key or a legacy ``uint32[2]`` one (traceable)."""
    jax = _jax()
    return (
        jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    )


def _seed_from_words(words: Any) -> Key:
    """The seed of a key's raw words, brought to the host."""
    host = np.asarray(words, dtype=np.uint32).reshape(-1)
    digest = hashlib.sha256(_DOMAIN + host.astype("<u4").tobytes()).digest()
    return Key(struct.unpack("<4Q", digest))


def seed_from_key(key: Any) -> Key:
    """The weightinit seed of a JAX PRNG key: a documented pure function of its bits.

    The key's raw words (``jax.random.key_data`` for a typed key), as little-endian
    32-bit integers, are hashed with SHA-256 after the tag ``b"weightinit.jax\\0"``; the
    digest, read as four little-endian 64-bit words, is the :class:`~weightinit.Key`.

    Examples
    --------
    >>> import jax
    >>> from weightinit.jax import seed_from_key
    >>> seed_from_key(jax.random.key(0)) == seed_from_key(jax.random.PRNGKey(0))
    True
    """
    return _seed_from_words(_key_data(key))


def initializer(
    init: object, *, layout: str = "in_out", groups: int = 1, blocks: int = 1
) -> Callable[..., Any]:
    """``init`` as a JAX initializer ``(key, shape, dtype=float32) -> jax.Array``, usable as
    a Flax ``kernel_init``.

    ``initializer(init)(key, shape)`` equals ``init(shape, seed=seed_from_key(key))``; it
    works eagerly and under ``jax.jit`` with identical values. Flax's kernels are
    ``(in, out)`` and HWIO, the default layout ``"in_out"``. float16 and bfloat16 get the
    float32 values cast by JAX.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> import weightinit as wi
    >>> from weightinit.jax import initializer, seed_from_key
    >>> kernel_init = initializer(wi.he_normal())
    >>> key = jax.random.key(0)
    >>> w = kernel_init(key, (784, 256))
    >>> bool((np.asarray(w) == wi.he_normal()((784, 256), seed=seed_from_key(key))).all())
    True
    >>> bool((jax.jit(kernel_init, static_argnums=1)(key, (784, 256)) == w).all())
    True
    """
    made = registry.get(init)
    # Checked here, once, with a shape of the rank that does not matter yet.
    options = Weight.checked((), layout, groups, blocks)

    def make(key: Any, shape: Any, dtype: Any = None) -> Any:
        jax = _jax()
        jnp = jax.numpy
        dims = tuple(int(d) for d in shape)
        # As JAX's own initializers do, float64 means float32 unless x64 is enabled.
        target = jax.dtypes.canonicalize_dtype(dtype if dtype is not None else jnp.float32)
        host = np.float64 if target == jnp.float64 else np.float32

        weight = options.with_shape(dims)

        def values(words: Any) -> np.ndarray[Any, Any]:
            return made._make(weight, np.dtype(host), _seed_from_words(words), None)

        # Checked on the host now, so a bad shape fails here rather than inside a callback.
        checked_recipe(made, weight, np.dtype(host))
        words = _key_data(key)
        # Under vmap each key is its own call: the values stay a function of the key alone.
        shape_dtype = jax.ShapeDtypeStruct(dims, host)
        result = jax.pure_callback(values, shape_dtype, words, vmap_method="sequential")
        return result.astype(target)

    return make


def haiku_initializer(
    init: object, *, layout: str = "in_out", groups: int = 1, blocks: int = 1
) -> Callable[..., Any]:
    """``init`` as a Haiku initializer ``(shape, dtype) -> jax.Array`` (``w_init``), keyed by
    ``haiku.next_rng_key()``: the values of :func:`initializer` for that key.

    Examples
    --------
    (Haiku, ``dm-haiku``, is not among the extras; ``tests/test_jax_keras.py`` runs this.)

    >>> import haiku as hk  # doctest: +SKIP
    >>> import jax
    >>> import weightinit as wi
    >>> from weightinit.jax import haiku_initializer
    >>> linear = lambda x: hk.Linear(8, w_init=haiku_initializer(wi.he_normal()))(x)
    >>> x = jax.numpy.ones((1, 4))
    >>> params = hk.transform(linear).init(jax.random.key(0), x)  # doctest: +SKIP
    >>> params["linear"]["w"].shape  # doctest: +SKIP
    (4, 8)
    """
    make = initializer(init, layout=layout, groups=groups, blocks=blocks)

    def w_init(shape: Any, dtype: Any = None) -> Any:
        try:
            import haiku
        except ImportError:
            raise ImportError("haiku_initializer needs Haiku: pip install dm-haiku.") from None
        return make(haiku.next_rng_key(), shape, dtype)

    return w_init


def make_array(
    init: object,
    shape: Any,
    sharding: Any,
    seed: Any,
    *,
    dtype: Any = np.float32,
    layout: str = "in_out",
    groups: int = 1,
    blocks: int = 1,
) -> Any:
    """A ``jax.Array`` of ``shape`` with ``sharding``, each device's shard made from its own
    region (``init(..., region=...)``), equal to the unsharded ``init(shape, dtype,
    seed=seed, ...)``.

    Only the tiles of each device's shard are generated, on the host, for that device; no
    device holds more than its shard. A ``Generator`` or ``None`` seed is resolved once,
    so every shard shares it.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> import weightinit as wi
    >>> from weightinit.jax import make_array
    >>> mesh = jax.sharding.Mesh(np.array(jax.devices()[:1]), ("rows",))
    >>> rows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("rows"))
    >>> w = make_array(wi.he_normal(), (1024, 512), rows, seed=0)
    >>> w.sharding == rows, bool((np.asarray(w) == wi.he_normal()((1024, 512), seed=0)).all())
    (True, True)
    """
    jax = _jax()
    made = registry.get(init)
    weight = Weight.checked(tuple(int(d) for d in shape), layout, groups, blocks)
    key = Key.from_seed(seed)
    target = jax.dtypes.canonicalize_dtype(dtype)
    host = np.dtype(np.float64 if target == np.float64 else np.float32)
    # Checked once, here, before any shard is made.
    checked_recipe(made, weight, host)

    def shard(index: tuple[slice, ...]) -> Any:
        values = made._make(weight, host, key, 1, index)
        return values.astype(target) if values.dtype != target else values

    return jax.make_array_from_callback(weight.shape, sharding, shard)
