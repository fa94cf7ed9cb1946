"""JAX, Flax and Haiku: weightinit's initializers as JAX initializers and sharded arrays.

Needs the ``jax`` extra (JAX is imported when a function here is called). The values are
made by weightinit in NumPy, on the host, so they are the same eagerly, under ``jax.jit``
and on every device.
"""

from weightinit.jax._arrays import make_array
from weightinit.jax._callback import ExportError
from weightinit.jax._initializer import haiku_initializer
from weightinit.jax._initializer import initializer
from weightinit.jax._keys import seed_from_key

__all__ = ["ExportError", "haiku_initializer", "initializer", "make_array", "seed_from_key"]
