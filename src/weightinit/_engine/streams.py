"""The SFC64 stream of each tile.

Tile ``i`` of a tensor draws from its own SFC64 stream, whose state is a bijective mix of
the root key's four words (:func:`weightinit.seeds.root_key`) and ``i``. So a value depends
on the seed and its tile alone, never on the order or the thread that makes it.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["MASK64", "Words", "release", "streams"]

MASK64 = (1 << 64) - 1

#: A root key: four 64-bit words.
Words = tuple[int, int, int, int]


def _mix64(z: int) -> int:
    # The finaliser of SplitMix64 (Steele, Lea & Flood 2014): a bijection on 64-bit words.
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class Stream:
    """One SFC64 bit generator, re-keyed for each tile."""

    def __init__(self) -> None:
        self.bitgen = np.random.SFC64(0)
        self.generator = np.random.Generator(self.bitgen)
        self._state = np.empty(4, dtype=np.uint64)

    def start(self, key: Words, tile: int) -> np.random.Generator:
        """The generator at the start of tile ``tile``'s stream under ``key``."""
        salt = _mix64((tile * 0x9E3779B97F4A7C15 + key[3]) & MASK64)
        for j in range(3):
            self._state[j] = _mix64((key[j] ^ salt) + j * 0xD1B54A32D192ED03 & MASK64)
        self._state[3] = 1
        self.bitgen.state = {
            "bit_generator": "SFC64",
            "state": {"state": self._state},
            "has_uint32": 0,
            "uinteger": 0,
        }
        self.bitgen.random_raw(12)  # as SFC64's own seeding does: mix the state first
        return self.generator


class _Streams(threading.local):
    """Each thread's stream objects (about a kilobyte each), reused from call to call; at
    most :data:`KEPT_STREAMS` of them outlive a call (see :func:`release`)."""

    def __init__(self) -> None:
        self.pool: list[Stream] = []


_STREAMS = _Streams()


#: The stream objects a thread keeps between calls.
KEPT_STREAMS = 64


def release() -> None:
    """Drop this thread's stream objects beyond :data:`KEPT_STREAMS`."""
    del _STREAMS.pool[KEPT_STREAMS:]


def streams(tiles: list[tuple[Words, int]]) -> list[np.random.Generator]:
    """The generators of ``tiles`` (``(root key, tile number)`` pairs), each at the start of
    its stream: one object per tile, reused by this thread's next call."""
    pool = _STREAMS.pool
    while len(pool) < len(tiles):
        pool.append(Stream())
    return [stream.start(key, tile) for stream, (key, tile) in zip(pool, tiles, strict=False)]
