"""Arrays sharded over devices, each device's shard made from its own region."""

from __future__ import annotations

from typing import Any

import numpy as np

from weightinit import registry
from weightinit._fans import Weight
from weightinit.initializers import checked_recipe
from weightinit.jax._keys import jax_module
from weightinit.seeds import Key

__all__ = ["make_array"]


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
    in_axis: Any = None,
    out_axis: Any = None,
    batch_axis: Any = (),
) -> Any:
    """A ``jax.Array`` of ``shape`` with ``sharding``, each device's shard made from its own
    region (``init(..., region=...)``), equal to the unsharded ``init(shape, dtype,
    seed=seed, ...)``.

    Only the tiles of each device's shard are generated, on the host, for that device; no
    device holds more than its shard. A ``Generator`` or ``None`` seed is resolved once,
    so every shard shares it. ``in_axis``, ``out_axis`` and ``batch_axis`` are explicit
    axes, as for :func:`initializer`.

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
    jax = jax_module()
    made = registry.get(init)
    dims = tuple(int(d) for d in shape)
    weight = Weight.checked(
        dims, layout, groups, blocks, in_axis=in_axis, out_axis=out_axis, batch_axis=batch_axis
    )
    key = Key.from_seed(seed)
    target = jax.dtypes.canonicalize_dtype(dtype)
    host = np.dtype(np.float64 if target == np.float64 else np.float32)
    # Checked once, here, before any shard is made.
    checked_recipe(made, weight, host)

    def shard(index: tuple[slice, ...]) -> Any:
        values = made._make(weight, host, key, 1, index)
        return values.astype(target) if values.dtype != target else values

    return jax.make_array_from_callback(weight.shape, sharding, shard)
