"""Tiles and regions: how a tensor is cut, and which tiles a selection touches.

A tensor is cut into tiles whose shape depends on the tensor's shape alone
(:func:`tile_shape`); tile ``i`` is numbered in C order over the tile grid. A region
(``np.s_[...]``) becomes per-axis index ranges (:func:`selection`); :func:`jobs` lists the
tiles those ranges touch and where each tile's values go.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from typing import Any
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

__all__ = [
    "BATCH",
    "BLOCK",
    "Job",
    "Region",
    "ix",
    "jobs",
    "selection",
    "tile_shape",
]

#: The largest number of elements in one tile (one random stream).
BLOCK = 1 << 16
#: Elements per batch: the tiles of a batch share one chain of NumPy calls, long enough for
#: threads to overlap (NumPy releases the GIL inside each call); see ``run.generate``.
BATCH = 4 * BLOCK

Region = Any  # what ``np.s_[...]`` builds: a slice, an int, Ellipsis or a tuple of them


@functools.lru_cache(maxsize=1024)
def tile_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of the tiles that ``shape`` is cut into (each at most :data:`BLOCK` elements).

    Starting from the whole shape, the largest tile side (the earliest on ties) is halved,
    rounding up, until the tile holds at most ``BLOCK`` elements. Tiles are close to square,
    so a slice along any axis touches few tiles that it does not need.

    >>> tile_shape((4096, 4096))
    (256, 256)
    >>> tile_shape((64, 64))
    (64, 64)
    """
    tile = [max(1, d) for d in shape]
    while math.prod(tile) > BLOCK:
        axis = max(range(len(tile)), key=lambda a: (tile[a], -a))
        tile[axis] = (tile[axis] + 1) // 2
    return tuple(tile)


def selection(region: Region, shape: tuple[int, ...]) -> tuple[list[range], tuple[int, ...]]:
    """Per-axis index ranges that ``array[region]`` selects, and the axes that ints drop.

    Supports what basic NumPy indexing supports except ``np.newaxis``: slices with any step,
    integers and one ``Ellipsis``. Errors are ``ValueError``/``TypeError``, never
    ``IndexError``.
    """
    if region is None:
        return [range(d) for d in shape], ()
    items = region if isinstance(region, tuple) else (region,)
    ellipses = [i for i, item in enumerate(items) if item is Ellipsis]
    if len(ellipses) > 1:
        raise ValueError(f"region may contain at most one Ellipsis; got {region!r}.")
    if ellipses:
        at = ellipses[0]
        fill_in = len(shape) - (len(items) - 1)
        items = items[:at] + (slice(None),) * max(fill_in, 0) + items[at + 1 :]
    if len(items) > len(shape):
        raise ValueError(
            f"region {region!r} has {len(items)} indices but the shape {shape} has "
            f"{len(shape)} axes."
        )
    items = items + (slice(None),) * (len(shape) - len(items))
    ranges: list[range] = []
    dropped: list[int] = []
    for axis, (item, dim) in enumerate(zip(items, shape, strict=True)):
        if isinstance(item, slice):
            if item.step == 0:
                raise ValueError(f"region slice step must not be zero; got {item!r}.")
            try:
                ranges.append(range(*item.indices(dim)))
            except TypeError:
                raise TypeError(f"region slices need integer bounds; got {item!r}.") from None
        elif (
            hasattr(item, "__index__")
            and not isinstance(item, (bool, np.bool_))
            and not isinstance(item, np.ndarray)
        ):
            index = operator.index(item)
            if not -dim <= index < dim:
                raise ValueError(
                    f"region index {index} is out of range for axis {axis} of size {dim}."
                )
            ranges.append(range(index % dim, index % dim + 1))
            dropped.append(axis)
        else:
            raise TypeError(
                "region entries must be slices, integers or Ellipsis (as built by np.s_); "
                f"got {item!r}."
            )
    return ranges, tuple(dropped)


def _as_index(values: npt.NDArray[np.intp]) -> slice | npt.NDArray[np.intp]:
    """A slice when ``values`` is an arithmetic progression with a positive step."""
    if values.size == 1:
        return slice(int(values[0]), int(values[0]) + 1)
    step = int(values[1] - values[0])
    if step > 0 and np.all(np.diff(values) == step):
        return slice(int(values[0]), int(values[-1]) + 1, step)
    return values


class Job(NamedTuple):
    """One tile a selection touches: its number, its dims, and where its values go."""

    tile: int
    dims: tuple[int, ...]
    out_index: tuple[Any, ...]  # the part of the output it fills
    tile_index: tuple[Any, ...]  # the part of the tile that fills it

    @property
    def size(self) -> int:
        """The number of output elements the tile fills."""
        return math.prod(
            len(range(i.start, i.stop, i.step or 1)) if isinstance(i, slice) else len(i)
            for i in self.out_index
        )


def jobs(shape: tuple[int, ...], ranges: list[range]) -> list[Job]:
    """For each tile that ``full[ranges]`` touches, in C order: a :class:`Job`."""
    tile = tile_shape(shape)
    if tile == shape and all(
        r.start == 0 and r.step == 1 and r.stop == d for r, d in zip(ranges, shape, strict=True)
    ):
        whole = tuple(slice(0, d) for d in shape)
        return [Job(0, shape, whole, whole)]  # the whole of a one-tile tensor
    counts = [-(-d // t) for d, t in zip(shape, tile, strict=True)]
    per_axis: list[list[tuple[int, Any, Any]]] = []
    for r, t in zip(ranges, tile, strict=True):
        entries: list[tuple[int, Any, Any]] = []
        if r.step == 1:
            first, last = r.start // t, (r.stop - 1) // t
            for c in range(first, last + 1):
                lo, hi = max(r.start, c * t), min(r.stop, (c + 1) * t)
                entries.append(
                    (c, slice(lo - r.start, hi - r.start), slice(lo - c * t, hi - c * t))
                )
            per_axis.append(entries)
            continue
        chosen = np.arange(r.start, r.stop, r.step, dtype=np.intp)
        owner = chosen // t
        for c in np.unique(owner):
            positions = np.nonzero(owner == c)[0]
            entries.append((int(c), _as_index(positions), _as_index(chosen[positions] - c * t)))
        per_axis.append(entries)
    strides = [math.prod(counts[a + 1 :]) for a in range(len(counts))]
    found = []
    for combo in itertools.product(*per_axis):
        corner = tuple(c for c, _, _ in combo)
        index = sum(c * s for c, s in zip(corner, strides, strict=True))  # C order
        dims = tuple(min(t, d - c * t) for c, t, d in zip(corner, tile, shape, strict=True))
        found.append(Job(index, dims, tuple(o for _, o, _ in combo), tuple(i for _, _, i in combo)))
    return found


def ix(index: tuple[Any, ...]) -> tuple[Any, ...]:
    """Turn a mix of slices and index arrays into something that indexes their product."""
    if all(isinstance(i, slice) for i in index):
        return index
    return np.ix_(
        *[np.arange(i.start, i.stop, i.step) if isinstance(i, slice) else i for i in index]
    )
