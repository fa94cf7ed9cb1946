"""JAX itself, imported on first use, and the weightinit seed of a JAX key."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

import numpy as np

from weightinit._errors import install_hint
from weightinit.seeds import Key

_DOMAIN = b"weightinit.jax\0"


def jax_module() -> Any:
    """The ``jax`` module, or an ``ImportError`` saying how to install it."""
    try:
        import jax
    except ImportError:
        raise ImportError(
            f"weightinit.jax needs JAX: install the jax extra with {install_hint('jax')}."
        ) from None
    return jax


def key_data(key: Any) -> Any:
    """The raw words of a JAX key, a typed key or a legacy ``uint32[2]`` one (traceable)."""
    jax = jax_module()
    return (
        jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    )


def seed_from_words(words: Any) -> Key:
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
    return seed_from_words(key_data(key))
