"""JAX, Flax, Equinox and Haiku: initializers whose values are a pure function of the key,
sharded arrays, and whole models in one call.

Needs the ``jax`` extra (JAX is imported when a function here is called). Per layer,
:func:`initializer` is a ``kernel_init`` (Flax) and :func:`haiku_initializer` a ``w_init``
(Haiku); :func:`make_array` makes one sharded array, each device its own region. The values
are made by weightinit in NumPy, on the host, so they are the same eagerly, under
``jax.jit`` and on every device. :func:`initialize` makes every parameter of a Flax (linen
or NNX), Equinox or Haiku model from one seed with the plans (roles, schemes, rules) of
``weightinit.torch``; :func:`plan` says what it would give each. :func:`diagnose` runs a linen model
forward and backward on a batch and reports each layer's signal, with verdicts.
"""

from weightinit.jax._arrays import make_array
from weightinit.jax._callback import ExportError
from weightinit.jax._diagnose import diagnose
from weightinit.jax._initializer import haiku_initializer
from weightinit.jax._initializer import initializer
from weightinit.jax._keys import seed_from_key
from weightinit.jax._tree import initialize
from weightinit.jax._tree import plan

__all__ = [
    "ExportError",
    "diagnose",
    "haiku_initializer",
    "initialize",
    "initializer",
    "make_array",
    "plan",
    "seed_from_key",
]
