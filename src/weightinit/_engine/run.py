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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from weightinit._engine import kernels
from weightinit._engine import tiles as _tiles
from weightinit._engine.streams import Words
from weightinit._engine.streams import release
from weightinit._engine.streams import streams

__all__ = [
    "MAX_DEFAULT_THREADS",
    "PARALLEL_MIN",
    "Request",
    "assign",
    "compute_type",
    "default_threads",
    "generate",
]

Array = npt.NDArray[Any]

#: From this many generated elements on, ``threads=None`` uses :func:`default_threads`.
PARALLEL_MIN = 2**20
#: The most tiles in one batch: each holds a stream object while the batch is drawn.
MAX_TILES_PER_BATCH = 1024
#: Tiles below this many elements on average keep ``threads=None`` on one thread.
SMALL_TILE = 2**14
#: The most threads ``threads=None`` uses: beyond a few cores, generation is bound by memory
#: bandwidth.
MAX_DEFAULT_THREADS = 8


def compute_type(dtype: np.dtype[Any]) -> type[np.floating[Any]]:
    """The type values are computed in before they are stored as ``dtype``: float64 for
    float64 output, float32 for float32 and float16 (which is float32 rounded once)."""
    return np.float64 if dtype.itemsize == 8 else np.float32


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


class Request(NamedTuple):
    """One tensor, or a region of it, to write: ``full[ranges]`` of a ``shape`` tensor whose
    tiles are drawn from ``law`` with the streams of ``key`` (``None`` for constants)."""

    out: Array
    law: kernels.Law
    key: Words | None
    shape: tuple[int, ...]
    ranges: list[range]


class _Tile(NamedTuple):
    request: Request
    key: Words
    job: _tiles.Job


def _tasks(requests: list[tuple[Request, Words]]) -> list[list[_Tile]]:
    """The tiles of every request, grouped by size, :func:`~kernels.batch_kind` and compute
    type (in order of first appearance) and cut into batches of at most ``BATCH`` elements."""
    groups: dict[tuple[int, tuple[str, bool], type], list[_Tile]] = {}
    for request, key in requests:
        kind = kernels.batch_kind(request.law), compute_type(request.out.dtype)
        for job in _tiles.jobs(request.shape, request.ranges):
            groups.setdefault((math.prod(job.dims), *kind), []).append(_Tile(request, key, job))
    tasks: list[list[_Tile]] = []
    for (size, _, _), members in groups.items():
        step = max(1, min(_tiles.BATCH // size, MAX_TILES_PER_BATCH))
        tasks.extend(members[i : i + step] for i in range(0, len(members), step))
    return tasks


def generate(
    requests: list[Request],
    threads: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write every request, sharing chains of NumPy calls and threads between all of them.

    Only the tiles each selection touches are generated, by ``threads`` threads (``None``:
    :func:`default_threads` when at least :data:`PARALLEL_MIN` elements are generated in
    tiles of :data:`SMALL_TILE` elements or more on average, else one). Tiles of one size
    and kind, from any request, share a batch of up to ``BATCH`` elements; each tile's
    values depend on its own stream and law alone, so neither the batching nor the threads
    change a byte. Each thread has its own scratch for the call.
    ``progress``, if given, is called (from one thread at a time) with the number of
    elements each finished batch wrote.
    """
    random: list[tuple[Request, Words]] = []
    for request in requests:
        if request.out.size == 0:
            continue
        if request.law.kind == "constant" or request.key is None:
            request.out[...] = request.law.loc
            if progress is not None:
                progress(request.out.size)
        else:
            random.append((request, request.key))
    if not random:
        return

    reported = threading.Lock()

    def run(task: list[_Tile], scratch: kernels.Scratch) -> None:
        n = math.prod(task[0].job.dims)
        ftype = compute_type(task[0].request.out.dtype)
        generators = streams([(t.key, t.job.tile) for t in task])
        values = kernels.rows(scratch, generators, n, ftype, [t.request.law for t in task])
        for row, (request, _, job) in zip(values, task, strict=True):
            tile = row[:n].reshape(job.dims)[_tiles.ix(job.tile_index)]
            request.out[_tiles.ix(job.out_index)] = tile
        if progress is not None:
            with reported:
                progress(sum(t.job.size for t in task))

    tasks = _tasks(random)
    if threads is None:
        size = sum(request.out.size for request, _ in random)
        tiles = sum(len(task) for task in tasks)
        # Threads pay for long draws of large tiles; small tiles spend their time in Python
        # (keying streams, placing values), where a second thread only waits for the GIL.
        threads = default_threads() if size >= PARALLEL_MIN and size >= tiles * SMALL_TILE else 1
    count = min(threads, len(tasks))
    if count <= 1:
        scratch = kernels.Scratch()
        for task in tasks:
            run(task, scratch)
        release()
        return
    queue = iter(tasks)
    lock = threading.Lock()

    def work() -> None:
        scratch = kernels.Scratch()
        while True:
            with lock:
                task = next(queue, None)
            if task is None:
                release()
                return
            run(task, scratch)

    pool = _pool(threads)
    futures = [pool.submit(work) for _ in range(count)]
    for future in futures:
        future.result()


def assign(out: Array, whole: Array, block: int = 256) -> None:
    """``out[...] = whole``; a large transposed matrix is copied in square blocks, which
    stay in cache, instead of row by row through a stride of a whole column (twice as fast
    at 4096 x 4096)."""
    if whole.ndim == 2 and whole.size > block * block and not whole.flags.c_contiguous:
        rows, cols = whole.shape
        for i in range(0, rows, block):
            for j in range(0, cols, block):
                out[i : i + block, j : j + block] = whole[i : i + block, j : j + block]
    else:
        out[...] = whole
