"""Weights as Dask arrays: every chunk is made from its own region, on any worker.

Needs the ``dask`` extra: ``pip install "weightinit[dask]"``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit import registry
from weightinit._errors import check_dtype
from weightinit._errors import install_hint
from weightinit._fans import Weight
from weightinit.initializers import Initializer
from weightinit.seeds import Key
from weightinit.seeds import SeedLike

__all__ = ["array"]


def _dask_array() -> Any:
    try:
        import dask.array as da
    except ImportError:
        raise ImportError(
            f"weightinit.dask needs Dask: install the dask extra with {install_hint('dask')}."
        ) from None
    return da


def _chunk(
    init: Initializer,
    weight: Weight,
    dtype: np.dtype[Any],
    key: Key,
    block_info: dict[Any, Any] | None = None,
) -> npt.NDArray[Any]:
    shape = weight.shape
    location = block_info[None]["array-location"] if block_info else [(0, d) for d in shape]
    region = tuple(slice(start, stop) for start, stop in location)
    return init._make(weight, dtype, key, 1, region)


def array(
    init: object,
    shape: Sequence[int],
    *,
    chunks: Any,
    seed: SeedLike,
    dtype: npt.DTypeLike = np.float32,
    layout: str = "in_out",
    groups: int = 1,
    blocks: int = 1,
) -> Any:
    """A lazy ``dask.array.Array`` equal to ``init(shape, dtype, seed=seed, ...)``.

    Each chunk is computed from its own region (``init(..., region=...)``), so only the
    tiles it touches are generated, on whichever worker runs it, and ``.compute()`` equals
    the in-memory result byte for byte for any chunking and scheduler. A ``Generator`` or
    ``None`` seed is resolved once here, so all chunks share it.

    Parameters
    ----------
    init : Initializer or str
        Any element-wise initializer (the variance-scaling family, constants, uniform,
        normal, truncated normal, presets). Structured ones (orthogonal, ...) are built
        whole and are refused.
    shape : sequence of int
    chunks
        Anything ``dask.array`` accepts as chunks: ``(1000, 1000)``, ``"auto"``, ...
    seed : int, SeedSequence, Generator, None or Key
    dtype, layout, groups, blocks
        As for calling the initializer.

    Returns
    -------
    dask.array.Array

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> from weightinit.dask import array
    >>> lazy = array(wi.he_normal(), (3000, 2000), chunks=(1000, 700), seed=0)
    >>> lazy.chunks[1]
    (700, 700, 600)
    >>> bool((lazy.compute() == wi.he_normal()((3000, 2000), seed=0)).all())
    True
    """
    da = _dask_array()
    initializer = registry.get(init)
    weight = Weight.checked(shape, layout, groups, blocks)
    dims = weight.shape
    resolved = check_dtype(dtype)
    if not initializer._recipe(weight).elementwise:
        raise ValueError(
            f"{initializer!r} builds the whole weight at once, so it cannot be made chunk by "
            "chunk; use an element-wise initializer, or compute it in memory."
        )
    # Validate fans and parameters once, here (one element, or nothing for an empty shape),
    # rather than in every chunk.
    probe = tuple(slice(0, 1) for _ in dims)
    initializer._make(weight, resolved, 0, 1, probe)
    key = Key.from_seed(seed)
    try:
        normalized = da.core.normalize_chunks(chunks, dims, dtype=resolved)
    except (ValueError, TypeError, ZeroDivisionError) as error:
        raise ValueError(f"chunks {chunks!r} do not fit shape {dims}: {error}") from None
    if any(0 in sizes for sizes, d in zip(normalized, dims, strict=True) if d):
        raise ValueError(f"chunks {chunks!r} have an empty chunk along a non-empty axis.")
    make = functools.partial(_chunk, initializer, weight, resolved, key)
    return da.map_blocks(
        make,
        chunks=normalized,
        dtype=resolved,
        meta=np.empty((0,) * len(dims), dtype=resolved),
    )
