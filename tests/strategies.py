"""Hypothesis strategies shared by the tests: ``from strategies import shapes, ...``.

Each is a function returning a strategy, as ``hypothesis.strategies`` does, so a test can
narrow it (``shapes(max_rank=3)``) without a new strategy.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from weightinit._fans import LAYOUTS

__all__ = ["DTYPES", "dtypes", "layouts", "seeds", "shapes"]

#: The floating dtypes every initializer supports.
DTYPES: tuple[np.dtype[np.floating], ...] = (
    np.dtype(np.float16),
    np.dtype(np.float32),
    np.dtype(np.float64),
)


def shapes(
    *, min_rank: int = 2, max_rank: int = 5, min_dim: int = 0, max_dim: int = 6
) -> st.SearchStrategy[tuple[int, ...]]:
    """Weight shapes: tuples of ``min_rank`` to ``max_rank`` small dims, zero dims included.

    The default rank 2 starts where weights have fans; the default dims stay small so that
    sampling a weight of every drawn shape stays fast.
    """
    return hnp.array_shapes(
        min_dims=min_rank, max_dims=max_rank, min_side=min_dim, max_side=max_dim
    )


def layouts() -> st.SearchStrategy[str]:
    """The canonical layout names of :func:`weightinit._fans`."""
    return st.sampled_from(LAYOUTS)


def seeds() -> st.SearchStrategy[int]:
    """Integer seeds, from 0 up to the 64-bit range that ``SeedSequence`` entropy covers."""
    return st.integers(min_value=0, max_value=2**64 - 1)


def dtypes() -> st.SearchStrategy[np.dtype[np.floating]]:
    """float16, float32 and float64, as ``numpy.dtype`` objects."""
    return st.sampled_from(DTYPES)
