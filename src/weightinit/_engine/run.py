"""Running the kernels over the tiles of a selection: batches, threads and the dtype rule.

:func:`generate` writes ``full[ranges]`` of a tensor into an output array: it lists the
tiles the selection touches, groups tiles of one size into batches that share one chain of
NumPy calls, and hands batches to threads. Each tile's values depend on its stream alone, so
neither the batching nor the threads change a byte.
"""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit._engine import tiles as _tiles
from weightinit._engine.kernels import Rows
from weightinit._engine.kernels import Scratch
from weightinit._engine.keys import Words
from weightinit._engine.keys import streams
from weightinit._errors import integer

__all__ = [
    "DTYPES",
    "MAX_DEFAULT_THREADS",
    "PARALLEL_MIN",
    "check_dtype",
    "check_threads",
    "compute_type",
    "default_threads",
    "generate",
]

Array = npt.NDArray[Any]

#: The output dtypes, in the order error messages list them.
DTYPES = ("float16", "float32", "float64")
#: From this many generated elements on, ``threads=None`` uses :func:`default_threads`.
PARALLEL_MIN = 2**20
#: The most threads ``threads=None`` uses: beyond a few cores, generation is bound by memory
#: bandwidth.
MAX_DEFAULT_THREADS = 8


def check_dtype(dtype: npt.DTypeLike) -> np.dtype[np.floating[Any]]:
    """Return ``np.dtype(dtype)`` if it is float16, float32 or float64 (``None``: float32);
    else a ``TypeError`` that lists them."""
    if dtype is None:
        return np.dtype(np.float32)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}.") from None
    if resolved.kind != "f" or resolved.name not in DTYPES:
        raise TypeError(f"dtype must be one of {', '.join(DTYPES)}; got {resolved.name!r}.")
    return resolved  # type: ignore[return-value]


def compute_type(dtype: np.dtype[Any]) -> type[np.floating[Any]]:
    """The type values are computed in before they are stored as ``dtype``: float64 for
    float64 output, float32 for float32 and float16 (which is float32 rounded once)."""
    return np.float64 if dtype.itemsize == 8 else np.float32


def check_threads(threads: object) -> int | None:
    """Validate ``threads``: ``None`` or an integer >= 1."""
    if threads is None:
        return None
    return integer("threads", threads, minimum=1)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools() -> None:
    # A forked child inherits the pools but not their threads: start afresh there.
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _pool(threads: int) -> ThreadPoolExecutor:
    with _POOLS_LOCK:
        pool = _POOLS.get(threads)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="weightinit")
            _POOLS[threads] = pool
        return pool


def _cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


def default_threads() -> int:
    """The threads ``threads=None`` uses for large draws: the usable cores, at most
    :data:`MAX_DEFAULT_THREADS`."""
    return max(1, min(_cores(), MAX_DEFAULT_THREADS))


def generate(
    out: Array,
    rows: Rows,
    key: Words,
    shape: tuple[int, ...],
    ranges: list[range],
    threads: int | None = None,
) -> None:
    """Write the values of ``full[ranges]`` into ``out``, where ``full`` has ``shape`` and
    its tiles are made by the kernel ``rows`` from the streams of ``key``.

    ``out`` has the shape of the selection (one axis per range). Only the tiles the selection
    touches are generated, by ``threads`` threads (``None``: :func:`default_threads` when at
    least :data:`PARALLEL_MIN` elements are generated, else one), in batches of up to
    ``BATCH`` elements of tiles of one size. Each thread has its own scratch for the call.
    """
    if out.size == 0:
        return
    ftype = compute_type(out.dtype)

    def run(task: list[_tiles.Job], scratch: Scratch) -> None:
        n = math.prod(task[0].dims)
        values = rows(scratch, streams(key, [job.tile for job in task]), n, ftype)
        for row, job in zip(values, task, strict=True):
            out[_tiles.ix(job.out_index)] = row[:n].reshape(job.dims)[_tiles.ix(job.tile_index)]

    tasks = _tiles.batches(_tiles.jobs(shape, ranges))
    if threads is None:
        threads = default_threads() if out.size >= PARALLEL_MIN else 1
    count = min(threads, len(tasks))
    if count <= 1:
        scratch = Scratch()
        for task in tasks:
            run(task, scratch)
        return
    queue = iter(tasks)
    lock = threading.Lock()

    def work() -> None:
        scratch = Scratch()
        while True:
            with lock:
                task = next(queue, None)
            if task is None:
                return
            run(task, scratch)

    futures = [_pool(threads).submit(work) for _ in range(count)]
    for future in futures:
        future.result()
