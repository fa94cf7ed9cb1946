"""Seeding, block-keyed random streams and the samplers behind every initializer.

How values are made
-------------------
A tensor is cut into *tiles* whose shape depends on the tensor's shape only
(:func:`tile_shape`). Tile ``i`` (numbered in C order over the tile grid) draws from its own
SFC64 stream, keyed by ``(root key, i)``, where the root key is four 64-bit words derived
from the seed by :class:`numpy.random.SeedSequence`. Within a tile, values are laid out in
the tile's own C order. So every value is a pure function of (seed, shape, dtype,
distribution, position): tiles can be made in any order, by any thread, or one at a time on
another machine, and the bytes are the same.

The transforms use only operations that IEEE 754 rounds exactly (``+ - * /``, ``sqrt``,
integer and bit operations); logarithm, sine and cosine are polynomials evaluated with them.
No platform-dependent ``log``/``sin``/``cos`` (SIMD or libm) enters, so the same seed gives
the same bytes on every platform and NumPy version.

- Normal: Box-Muller. For float32 (and float16, cast from float32) one 64-bit word gives a
  pair: the top 24 bits ``k1`` give ``u1 = (k1 + 1) / 2**24`` in ``(0, 1]`` and the next 24
  bits ``k2`` the angle ``2*pi*k2 / 2**24``; so ``|z| <= sqrt(-2 ln 2**-24) ~= 5.77``. For
  float64 two words give a pair with 53-bit uniforms (``|z| <= ~8.57``).
- Uniform: ``(2k + 1 - 2**m) / 2**m`` with ``m = 23`` (float32, two per word) or ``m = 52``
  (float64), symmetric in ``(-1, 1)`` and never reaching its ends.
- Truncated normal: Box-Muller candidates accepted when ``|z| <= bound`` (bound >= 1), or
  uniform candidates on ``[-bound, bound]`` accepted with probability ``exp(-z**2 / 2)``
  (bound < 1). Candidates are drawn in rounds whose sizes are integer functions of the counts
  so far, so the accepted values are still a pure function of the tile's stream.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from typing import Union

import numpy as np
import numpy.typing as npt

__all__ = [
    "BLOCK",
    "Constant",
    "Distribution",
    "Key",
    "Normal",
    "SeedLike",
    "TruncatedNormal",
    "Uniform",
    "centre",
    "check_dtype",
    "check_seed",
    "default_threads",
    "generate",
    "largest_magnitude",
    "root_key",
    "selection",
    "spread",
    "tile_shape",
    "tiles",
]

#: The largest number of elements in one tile (one random stream).
BLOCK = 1 << 16

Array = npt.NDArray[Any]
SeedLike = Union[None, int, np.integer, np.random.SeedSequence, np.random.Generator, "Key"]

_MASK64 = (1 << 64) - 1
_SUPPORTED_DTYPES = ("float16", "float32", "float64")


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class Key:
    """A resolved root key: four 64-bit words. Passing it as ``seed`` reuses it as it is.

    Resolve a seed once with ``Key.from_seed(seed)`` to make several pieces of one tensor
    (regions, Dask chunks) from one ``Generator`` or ``None`` seed.
    """

    words: tuple[int, int, int, int]

    def __post_init__(self) -> None:
        words = self.words
        if (
            not isinstance(words, tuple)
            or len(words) != 4
            or not all(isinstance(w, int) and not isinstance(w, bool) for w in words)
            or not all(0 <= w <= _MASK64 for w in words)
        ):
            raise ValueError(
                f"a Key holds four integers in [0, 2**64); got {words!r}. Make one with "
                "Key.from_seed(seed)."
            )

    @classmethod
    def from_seed(cls, seed: SeedLike) -> Key:
        """Resolve ``seed`` (advancing a ``Generator``) into a reusable key."""
        return cls(root_key(seed))


def check_seed(seed: object) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``seed`` is a valid seed."""
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator, Key)):
        return
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise TypeError(
            "seed must be None, a non-negative int, a numpy.random.SeedSequence or a "
            f"numpy.random.Generator; got {seed!r} of type {type(seed).__name__}."
        )
    if operator.index(seed) < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}.")


@functools.lru_cache(maxsize=256)
def _key_from_int(seed: int) -> tuple[int, int, int, int]:
    return _key_from_sequence(np.random.SeedSequence(seed))


def _key_from_sequence(sequence: np.random.SeedSequence) -> tuple[int, int, int, int]:
    words = sequence.generate_state(4, np.uint64)
    return (int(words[0]), int(words[1]), int(words[2]), int(words[3]))


def root_key(seed: SeedLike) -> tuple[int, int, int, int]:
    """Derive the four-word root key of all block streams from ``seed``.

    An int or a ``SeedSequence`` always gives the same key. A ``Generator`` is advanced by
    four 64-bit draws, so two calls with one generator give different keys. ``None`` draws
    fresh entropy from the operating system.
    """
    check_seed(seed)
    if isinstance(seed, Key):
        return seed.words
    if isinstance(seed, np.random.Generator):
        entropy = seed.integers(0, 2**63, size=4, dtype=np.int64)
        return _key_from_sequence(np.random.SeedSequence([int(x) for x in entropy]))
    if isinstance(seed, np.random.SeedSequence):
        return _key_from_sequence(seed)
    if seed is None:
        return _key_from_sequence(np.random.SeedSequence())
    return _key_from_int(operator.index(seed))


def _mix64(z: int) -> int:
    # The finaliser of SplitMix64 (Steele, Lea & Flood 2014): a bijection on 64-bit words.
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


class _Stream:
    """One SFC64 bit generator, re-keyed for each block."""

    def __init__(self) -> None:
        self.bitgen = np.random.SFC64(0)
        self.generator = np.random.Generator(self.bitgen)
        self._state = np.empty(4, dtype=np.uint64)

    def start(self, key: tuple[int, int, int, int], block: int) -> np.random.Generator:
        salt = _mix64((block * 0x9E3779B97F4A7C15 + key[3]) & _MASK64)
        for j in range(3):
            self._state[j] = _mix64((key[j] ^ salt) + j * 0xD1B54A32D192ED03 & _MASK64)
        self._state[3] = 1
        self.bitgen.state = {
            "bit_generator": "SFC64",
            "state": {"state": self._state},
            "has_uint32": 0,
            "uinteger": 0,
        }
        self.bitgen.random_raw(12)  # as SFC64's own seeding does: mix the state first
        return self.generator


# --------------------------------------------------------------------------- tiles


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


def tiles(shape: tuple[int, ...]) -> Iterator[tuple[int, tuple[slice, ...]]]:
    """Yield ``(block index, slices)`` for every tile of ``shape``, in C order."""
    tile = tile_shape(shape)
    counts = [-(-d // t) for d, t in zip(shape, tile, strict=True)]
    for index, corner in enumerate(np.ndindex(*counts)):
        yield (
            index,
            tuple(
                slice(c * t, min((c + 1) * t, d))
                for c, t, d in zip(corner, tile, shape, strict=True)
            ),
        )


# --------------------------------------------------------------------------- workspace


class _Workspace(threading.local):
    """Per-thread scratch arrays, so the kernels allocate nothing in their loops."""

    def __init__(self) -> None:
        self.streams: list[_Stream] = []  # one per tile of a batch
        self.arrays: dict[tuple[str, int], Array] = {}

    def batch_streams(self, count: int) -> list[_Stream]:
        while len(self.streams) < count:
            self.streams.append(_Stream())
        return self.streams[:count]

    def get(self, dtype: type[np.generic], slot: int, n: int) -> Array:
        key = (np.dtype(dtype).str, slot)
        array = self.arrays.get(key)
        if array is None or array.shape[0] < n:
            array = np.empty(max(n, BLOCK), dtype=dtype)
            self.arrays[key] = array
        return array[:n]


_WORK = _Workspace()


@dataclass(frozen=True)
class _Float:
    """What the kernels need to know about one float format."""

    ftype: type[np.floating[Any]]
    itype: type[np.signedinteger[Any]]
    bits: int  # uniform bits used by the normal sampler
    mantissa: int  # explicit mantissa bits of the format
    sqrt2_mantissa: int  # mantissa field of sqrt(2)
    bias: int  # exponent bias
    log_terms: int
    sin_terms: int
    cos_terms: int
    exp_terms: int


_F32 = _Float(np.float32, np.int32, 24, 23, 0x3504F3, 127, 5, 5, 5, 9)
_F64 = _Float(np.float64, np.int64, 53, 52, 0x6A09E667F3BCD, 1023, 10, 9, 9, 15)

# Series coefficients, Horner order starts with the highest power.
# ln(m) = 2 s (1 + z/3 + z^2/5 + ...), s = (m - 1)/(m + 1), z = s^2: atanh's Taylor series.
_LOG = [2.0 / (2 * k + 1) for k in range(12)]
# sin(x) = x (1 - x^2/3! + x^4/5! - ...), cos(x) = 1 - x^2/2! + x^4/4! - ...
_SIN = [(-1.0) ** k / math.factorial(2 * k + 1) for k in range(12)]
_COS = [(-1.0) ** k / math.factorial(2 * k) for k in range(12)]
# exp(-t) = 1 - t + t^2/2! - ...
_EXP = [(-1.0) ** k / math.factorial(k) for k in range(18)]
_LN2 = math.log(2.0)  # correctly rounded by every libm in use; a test pins its bits
_TWO_PI = 2.0 * math.pi


def _horner(x: Array, coefs: list[float], terms: int, out: Array) -> Array:
    """``out = sum(coefs[k] * x**k for k < terms)`` by Horner's rule, in x's precision."""
    ftype = x.dtype.type
    np.multiply(x, ftype(coefs[terms - 1]), out=out)
    for k in range(terms - 2, 0, -1):
        out += ftype(coefs[k])
        out *= x
    out += ftype(coefs[0])
    return out


def _words(bitgen: np.random.Generator, count: int) -> Array:
    """The next ``count`` raw 64-bit outputs of the stream.

    A full-range ``integers`` call returns the bit generator's raw outputs unchanged (a test
    checks it against ``random_raw``), and unlike ``random_raw`` it releases the GIL and
    runs about twice as fast.
    """
    return bitgen.integers(0, _MASK64, size=count, dtype=np.uint64, endpoint=True)


def _halves(words: Array) -> tuple[Array, Array]:
    """The high and low 32-bit halves of each word, on any byte order."""
    pairs = words.view(np.uint32).reshape(-1, 2)
    if sys.byteorder == "little":
        return pairs[:, 1], pairs[:, 0]
    return pairs[:, 0], pairs[:, 1]  # pragma: no cover - big-endian machines


def _box_muller(spec: _Float, k1: Array, k2: Array, x_out: Array, y_out: Array) -> None:
    """Write standard normals ``r cos(theta)`` into ``x_out`` and ``r sin(theta)`` into
    ``y_out``: radii from ``k1``, angles from ``k2`` (``spec.bits``-bit integers).

    All four arrays have one shape; every step is element-wise, so a batch of tiles laid out
    as rows gives each element the bits it would get alone.
    """
    shape, n = k1.shape, k1.size
    f, i = spec.ftype, spec.itype
    w = _WORK
    fa, fb, fc, fd = (w.get(f, s, n).reshape(shape) for s in range(4))
    ia, ib, ic = (w.get(i, 10 + s, n).reshape(shape) for s in range(3))
    one = f(1.0)

    # ---- radius: r = sqrt(-2 ln u1), u1 = (k1 + 1) / 2**bits, so ln u1 = ln(k1 + 1) - bits ln 2
    np.add(k1, 1, out=ia, casting="unsafe")
    np.copyto(fa, ia, casting="unsafe")  # exact: k1 + 1 <= 2**bits fits the mantissa
    bits = fa.view(i)
    exponent = ib
    np.right_shift(bits, spec.mantissa, out=exponent)
    mant = ic
    np.bitwise_and(bits, (1 << spec.mantissa) - 1, out=mant)
    # Mantissas above sqrt(2) are halved (exponent + 1), so m lies in [sqrt(2)/2, sqrt(2)).
    big = ia
    np.subtract(spec.sqrt2_mantissa, mant, out=big)
    np.right_shift(big, 8 * np.dtype(i).itemsize - 1, out=big)  # 0 or -1
    exponent -= big
    exponent -= spec.bias + spec.bits
    mant |= spec.bias << spec.mantissa
    np.left_shift(big, spec.mantissa, out=big)
    mant += big
    m = mant.view(f)
    s, d, z = fb, fc, fd
    np.subtract(m, one, out=s)  # exact (Sterbenz)
    np.add(m, one, out=d)
    s /= d
    np.multiply(s, s, out=z)
    poly = _horner(z, _LOG, spec.log_terms, out=d)
    poly *= s  # ln m
    np.copyto(fa, exponent, casting="unsafe")
    fa *= f(_LN2)
    fa += poly  # ln u1 <= 0
    fa *= f(-2.0)
    radius = np.sqrt(fa, out=fa)

    # ---- angle: theta = 2 pi k2 / 2**bits = phi + j pi/2, with |phi| <= pi/4
    quarter = spec.bits - 2
    q = ib
    np.add(k2, 1 << (quarter - 1), out=q, casting="unsafe")
    q >>= quarter
    rem = ic
    np.left_shift(q, quarter, out=rem)
    np.subtract(k2, rem, out=rem, casting="unsafe")
    phi = fb
    np.copyto(phi, rem, casting="unsafe")
    phi *= f(_TWO_PI / 2.0**spec.bits)
    np.multiply(phi, phi, out=z)
    sin = _horner(z, _SIN, spec.sin_terms, out=fc)
    sin *= phi
    np.multiply(sin, radius, out=y_out)
    cos = _horner(z, _COS, spec.cos_terms, out=fc)
    np.multiply(cos, radius, out=x_out)
    # Rotate (r cos phi, r sin phi) by j quarter turns: swap for odd j, then fix the signs.
    xi, yi = x_out.view(i), y_out.view(i)
    j = q
    j &= 3
    swap = ia
    np.bitwise_and(j, 1, out=swap)
    np.negative(swap, out=swap)
    diff = ic
    np.bitwise_xor(xi, yi, out=diff)
    diff &= swap
    xi ^= diff
    yi ^= diff
    sign_bit = 8 * np.dtype(f).itemsize - 1
    flip = ia
    np.right_shift(j, 1, out=flip)  # sin < 0 for j in {2, 3}
    np.left_shift(flip, sign_bit, out=diff)
    yi ^= diff
    flip ^= j  # cos < 0 for j in {1, 2}
    flip &= 1
    flip <<= sign_bit
    xi ^= flip


def _started(key: tuple[int, int, int, int], indices: list[int]) -> list[np.random.Generator]:
    """The streams of the tiles ``indices``, each at its start (one stream object per tile)."""
    streams = _WORK.batch_streams(len(indices))
    return [stream.start(key, index) for stream, index in zip(streams, indices, strict=True)]


def _box_muller_inputs(
    generators: list[np.random.Generator], pairs: list[int], ftype: type
) -> tuple[Array, Array, _Float]:
    """The radius and angle integers ``(k1, k2)`` of ``pairs[r]`` normal pairs from each of
    ``generators``, concatenated in order.

    float32 takes one word per pair (the top 24 bits of its high half for the radius, of its
    low half for the angle); float64 takes ``2 * pairs[r]`` words, the first half for radii
    and the second for angles (their top 53 bits).
    """
    total = sum(pairs)
    start = 0
    if ftype is np.float64:
        k = _WORK.get(np.uint64, 20, 2 * total)
        for generator, count in zip(generators, pairs, strict=True):
            words = _words(generator, 2 * count)
            stop = start + count
            np.right_shift(words[:count], np.uint64(11), out=k[start:stop])
            np.right_shift(words[count:], np.uint64(11), out=k[total + start : total + stop])
            start = stop
        return k[:total], k[total:], _F64
    k32 = _WORK.get(np.uint32, 21, 2 * total)
    for generator, count in zip(generators, pairs, strict=True):
        high, low = _halves(_words(generator, count))
        stop = start + count
        np.right_shift(high, 8, out=k32[start:stop])
        np.right_shift(low, 8, out=k32[total + start : total + stop])
        start = stop
    return k32[:total], k32[total:], _F32


def _normal_rows(generators: list[np.random.Generator], n: int, ftype: type) -> Array:
    """``n`` standard normals from each of ``generators``, one generator per row.

    A row holds ``r cos(theta)`` for its ``ceil(n / 2)`` pairs, then ``r sin(theta)``; cut to
    ``n`` elements (an odd count drops the last sine), it is the tile's values. The rows share
    one chain of NumPy calls, which costs less per element than one chain per tile and keeps
    each call long enough for threads to overlap.
    """
    pairs, rows = (n + 1) // 2, len(generators)
    k1, k2, spec = _box_muller_inputs(generators, [pairs] * rows, ftype)
    values = _WORK.get(ftype, 41, rows * 2 * pairs).reshape(rows, 2 * pairs)
    shape = (rows, pairs)
    _box_muller(spec, k1.reshape(shape), k2.reshape(shape), values[:, :pairs], values[:, pairs:])
    return values


def _uniform_rows(generators: list[np.random.Generator], n: int, ftype: type) -> Array:
    """``n`` uniforms on the open interval ``(-1, 1)`` from each of ``generators``, one
    generator per row (rows may be longer than ``n``; their first ``n`` elements count)."""
    rows = len(generators)
    if ftype is np.float64:
        k = _WORK.get(np.uint64, 20, rows * n).reshape(rows, n)
        for row, generator in enumerate(generators):
            np.right_shift(_words(generator, n), np.uint64(12), out=k[row])
        k <<= np.uint64(1)
        k += np.uint64(1)
        values = _WORK.get(ftype, 41, rows * n).reshape(rows, n)
        np.copyto(values, k, casting="unsafe")  # exact: 2k + 1 < 2**53
        values -= 2.0**52
        values *= 2.0**-52
        return values
    pairs = (n + 1) // 2
    k32 = _WORK.get(np.uint32, 21, rows * 2 * pairs).reshape(rows, 2, pairs)
    for row, generator in enumerate(generators):
        high, low = _halves(_words(generator, pairs))
        np.right_shift(high, 9, out=k32[row, 0])
        np.right_shift(low, 9, out=k32[row, 1])
    flat = k32.reshape(rows, 2 * pairs)
    flat <<= 1
    flat += 1
    values = _WORK.get(ftype, 41, rows * 2 * pairs).reshape(rows, 2 * pairs)
    np.copyto(values, flat, casting="unsafe")  # exact: 2k + 1 < 2**24
    values -= np.float32(2.0**23)
    values *= np.float32(2.0**-23)
    return values


def _symmetric_uniforms(bitgen: np.random.Generator, count: int, out: Array) -> None:
    """Fill ``out[:count]`` with uniforms on the open interval ``(-1, 1)``."""
    out[:count] = _uniform_rows([bitgen], count, out.dtype.type)[0, :count]


# --------------------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Constant:
    """Every element equals ``value``."""

    value: float


@dataclass(frozen=True)
class Normal:
    """``N(mean, std**2)``."""

    mean: float
    std: float


@dataclass(frozen=True)
class Uniform:
    """``U(low, high)``; values never leave ``[low, high]``."""

    low: float
    high: float


@dataclass(frozen=True)
class TruncatedNormal:
    """``N(mean, std**2)`` conditioned on ``|x - mean| <= bound * std``."""

    mean: float
    std: float
    bound: float


Distribution = Union[Constant, Normal, Uniform, TruncatedNormal]

#: The largest |z| the normal sampler can return: sqrt(-2 ln 2**-24) for float32 (and
#: float16) output, sqrt(-2 ln 2**-53) for float64 output.
NORMAL_LIMIT = {4: math.sqrt(48.0 * math.log(2.0)), 8: math.sqrt(106.0 * math.log(2.0))}


def _compute_itemsize(dtype: np.dtype[Any]) -> int:
    return 8 if dtype.itemsize == 8 else 4


def largest_magnitude(dist: Distribution, dtype: npt.DTypeLike = np.float64) -> float:
    """An upper bound on ``|value|`` over everything ``dist`` can produce in ``dtype``."""
    if isinstance(dist, Constant):
        return abs(dist.value)
    if isinstance(dist, Normal):
        limit = NORMAL_LIMIT[_compute_itemsize(np.dtype(dtype))] * 1.0001
        return abs(dist.mean) + limit * dist.std
    if isinstance(dist, Uniform):
        return max(abs(dist.low), abs(dist.high))
    return abs(dist.mean) + dist.bound * dist.std


def centre(dist: Distribution) -> float:
    """The value ``dist`` is centred on (0 for constants, whose value is their spread)."""
    if isinstance(dist, Constant):
        return 0.0
    if isinstance(dist, Uniform):
        return dist.low + (dist.high - dist.low) / 2.0
    return dist.mean


def spread(dist: Distribution) -> float:
    """The scale of the random part of ``dist`` (a constant's value for constants)."""
    if isinstance(dist, Constant):
        return dist.value
    if isinstance(dist, Uniform):
        return dist.high - dist.low
    if isinstance(dist, TruncatedNormal):
        return dist.std * min(dist.bound, 1.0)
    return dist.std


def _round_size(count: int, filled: int, drawn: int) -> int:
    """Candidates drawn in the next round of rejection sampling for a tile of ``count``
    values: an integer function of the counts so far, so the same everywhere."""
    missing = count - filled
    if drawn == 0:
        size = missing + missing // 8 + 16
    else:
        size = (missing * drawn * 9) // (8 * filled or 1) + 16
    return min(size + (size & 1), BLOCK)


def _truncated_by_uniforms(
    bitgen: np.random.Generator, count: int, bound: float, out: Array
) -> None:
    """Fill ``out[:count]`` with standard normals truncated to ``[-bound, bound]``, ``bound
    < 1``: uniform candidates on ``[-bound, bound]`` accepted with probability
    ``exp(-z**2 / 2)``, in rounds of :func:`_round_size` candidates."""
    ftype = out.dtype.type
    limit = ftype(bound)
    filled = drawn = 0
    while filled < count:
        size = _round_size(count, filled, drawn)
        cand = _WORK.get(ftype, 30, size)
        _symmetric_uniforms(bitgen, size, cand)
        cand *= limit
        accept = _WORK.get(ftype, 31, size)
        _symmetric_uniforms(bitgen, size, accept)  # acceptance threshold on (0, 1)
        accept += ftype(1.0)
        accept *= ftype(0.5)
        t = _WORK.get(ftype, 32, size)
        np.multiply(cand, cand, out=t)
        t *= ftype(0.5)
        terms = (_F64 if ftype is np.float64 else _F32).exp_terms
        density = _horner(t, _EXP, terms, out=_WORK.get(ftype, 33, size))
        chosen = cand[accept < density][: count - filled]
        out[filled : filled + chosen.shape[0]] = chosen
        filled += chosen.shape[0]
        drawn += size


# --------------------------------------------------------------------------- public entry


def check_dtype(dtype: npt.DTypeLike) -> np.dtype[np.floating]:
    """Return ``np.dtype(dtype)`` if it is float16, float32 or float64; else ``TypeError``."""
    if dtype is None:
        return np.dtype(np.float32)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"dtype must be one of {', '.join(_SUPPORTED_DTYPES)}; got {dtype!r}."
        ) from None
    if resolved.kind != "f" or resolved.name not in _SUPPORTED_DTYPES:
        raise TypeError(
            f"dtype must be one of {', '.join(_SUPPORTED_DTYPES)}; got {resolved.name!r}."
        )
    return resolved  # type: ignore[return-value]


Region = Any  # what ``np.s_[...]`` builds: a slice, an int, Ellipsis or a tuple of them

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def check_threads(threads: object) -> int | None:
    """Validate ``threads``: ``None`` or an integer >= 1."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not hasattr(threads, "__index__"):
        raise TypeError(f"threads must be None or a positive int; got {threads!r}.")
    count = operator.index(threads)
    if count < 1:
        raise ValueError(f"threads must be None or a positive int; got {count}.")
    return int(count)


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


def _jobs(
    shape: tuple[int, ...], ranges: list[range]
) -> list[tuple[int, tuple[int, ...], tuple[Any, ...], tuple[Any, ...]]]:
    """For each tile the selection touches: (index, tile dims, out index, tile index)."""
    tile = tile_shape(shape)
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
    jobs = []
    for combo in itertools.product(*per_axis):
        corner = tuple(c for c, _, _ in combo)
        index = int(np.ravel_multi_index(corner, counts)) if corner else 0
        dims = tuple(min(t, d - c * t) for c, t, d in zip(corner, tile, shape, strict=True))
        jobs.append((index, dims, tuple(o for _, o, _ in combo), tuple(i for _, _, i in combo)))
    return jobs


_Job = tuple[int, tuple[int, ...], tuple[Any, ...], tuple[Any, ...]]

#: Elements per batch: the tiles of a batch share one chain of NumPy calls, long enough for
#: threads to overlap (NumPy releases the GIL inside each call).
BATCH = 4 * BLOCK
#: From this many generated elements on, ``threads=None`` uses :func:`default_threads`.
PARALLEL_MIN = 2**20


def _batches(jobs: list[_Job]) -> list[list[_Job]]:
    """Consecutive tiles of one size, grouped ``BATCH`` elements at a time."""
    batches: list[list[_Job]] = []
    for job in jobs:
        size = math.prod(job[1])
        last = batches[-1] if batches else None
        if last is not None and math.prod(last[0][1]) == size and (len(last) + 1) * size <= BATCH:
            last.append(job)
        else:
            batches.append([job])
    return batches


def _normal_segments(
    generators: list[np.random.Generator], sizes: list[int], ftype: type
) -> tuple[Array, Array, list[int]]:
    """``sizes[r]`` (even) standard normals from each of ``generators``, in one chain of calls.

    Returns ``(x, y, offsets)``: generator r's candidates are ``x[o:p]`` then ``y[o:p]``
    (``o, p = offsets[r], offsets[r + 1]``), the order :func:`_normal_rows` lays a row out in.
    """
    pairs = [size // 2 for size in sizes]
    k1, k2, spec = _box_muller_inputs(generators, pairs, ftype)
    total = k1.shape[0]
    x, y = _WORK.get(ftype, 43, total), _WORK.get(ftype, 44, total)
    _box_muller(spec, k1, k2, x, y)
    return x, y, list(itertools.accumulate(pairs, initial=0))


def _truncated_rows(
    dist: TruncatedNormal, generators: list[np.random.Generator], n: int, ftype: type
) -> Array:
    """``n`` truncated normals from each of ``generators``, one generator per row.

    For ``bound >= 1`` the candidates are normals accepted when ``|z| <= bound``, drawn in
    rounds of :func:`_round_size` per tile; each round draws every unfinished tile's
    candidates in one Box-Muller chain, and each tile keeps its own stream, so a tile's
    values do not depend on the batch it is in.
    """
    count = len(generators)
    rows = _WORK.get(ftype, 42, count * n).reshape(count, n)
    if dist.bound < 1.0:  # uniform proposals: tile by tile
        for row, generator in enumerate(generators):
            _truncated_by_uniforms(generator, n, dist.bound, rows[row])
    else:
        limit = ftype(min(dist.bound, 1e4))
        filled, drawn = [0] * count, [0] * count
        todo = list(range(count))
        while todo:
            sizes = [_round_size(n, filled[r], drawn[r]) for r in todo]
            x, y, offsets = _normal_segments([generators[r] for r in todo], sizes, ftype)
            keep_x = np.abs(x) <= limit
            keep_y = np.abs(y) <= limit
            for i, r in enumerate(todo):
                o, p = offsets[i], offsets[i + 1]
                for part, keep in ((x[o:p], keep_x[o:p]), (y[o:p], keep_y[o:p])):
                    # Accepted candidates in order, the x (cosine) half first, until full.
                    accepted = int(np.count_nonzero(keep))
                    room = n - filled[r]
                    if accepted <= room:
                        np.compress(keep, part, out=rows[r, filled[r] : filled[r] + accepted])
                        filled[r] += accepted
                    elif room:
                        rows[r, filled[r] :] = part[keep][:room]
                        filled[r] = n
                drawn[r] += sizes[i]
            todo = [r for r in todo if filled[r] < n]
    rows *= ftype(dist.std)
    rows += ftype(dist.mean)
    span = dist.bound * dist.std
    np.clip(rows, ftype(dist.mean - span), ftype(dist.mean + span), out=rows)
    return rows


#: The most threads ``threads=None`` uses: beyond a few cores, generation is bound by memory
#: bandwidth, and every worker keeps its scratch arrays (about 15 MB for float64).
MAX_DEFAULT_THREADS = 8


def _cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - platforms without affinity


def default_threads() -> int:
    """The threads ``threads=None`` uses for large draws: the usable cores, at most
    :data:`MAX_DEFAULT_THREADS`."""
    return max(1, min(_cores(), MAX_DEFAULT_THREADS))


def _parallel(dist: Distribution, size: int) -> bool:
    """Whether ``threads=None`` should use every core: for random draws of at least
    :data:`PARALLEL_MIN` elements, where it was measured to pay."""
    return not isinstance(dist, Constant) and size >= PARALLEL_MIN


def _scaled_rows(
    dist: Normal | Uniform, generators: list[np.random.Generator], n: int, ftype: type
) -> Array:
    """``n`` values from each of ``generators``, one generator per row: standard draws
    scaled and shifted in the compute precision (uniforms clipped to their bounds)."""
    if isinstance(dist, Normal):
        rows = _normal_rows(generators, n, ftype)
        rows *= ftype(dist.std)
        rows += ftype(dist.mean)
        return rows
    rows = _uniform_rows(generators, n, ftype)
    rows *= ftype((dist.high - dist.low) / 2.0)
    rows += ftype(dist.low + (dist.high - dist.low) / 2.0)
    np.clip(rows, ftype(dist.low), ftype(dist.high), out=rows)
    return rows


def _ix(index: tuple[Any, ...]) -> tuple[Any, ...]:
    """Turn a mix of slices and index arrays into something that indexes their product."""
    if all(isinstance(i, slice) for i in index):
        return index
    return np.ix_(
        *[np.arange(i.start, i.stop, i.step) if isinstance(i, slice) else i for i in index]
    )


def generate(
    out: Array,
    dist: Distribution,
    key: tuple[int, int, int, int],
    shape: tuple[int, ...],
    ranges: list[range],
    threads: int | None = None,
) -> None:
    """Write the values of ``full[ranges]`` into ``out``, where ``full`` has ``shape``.

    ``out`` has the shape of the selection (one axis per range). Only the tiles the selection
    touches are generated, by ``threads`` threads (``None``: :func:`default_threads` when at
    least :data:`PARALLEL_MIN` elements are generated, else one), in batches of up to
    :data:`BATCH` elements of tiles of one size, each batch by one thread.
    """
    if out.size == 0:
        return
    if isinstance(dist, Constant):
        out[...] = dist.value
        return
    jobs = _jobs(shape, ranges)
    dtype = out.dtype
    ftype: type[np.floating[Any]] = np.float64 if dtype.itemsize == 8 else np.float32

    def place(job: _Job, values: Array) -> None:
        _, dims, out_index, tile_index = job
        out[_ix(out_index)] = values.reshape(dims)[_ix(tile_index)]

    def run(task: list[_Job]) -> None:
        n = math.prod(task[0][1])
        generators = _started(key, [job[0] for job in task])
        if isinstance(dist, TruncatedNormal):
            rows = _truncated_rows(dist, generators, n, ftype)
        else:
            rows = _scaled_rows(dist, generators, n, ftype)
        for row, job in zip(rows, task, strict=True):
            place(job, row[:n])

    tasks = _batches(jobs)
    if threads is None:
        threads = default_threads() if _parallel(dist, out.size) else 1
    count = min(threads, len(tasks))
    if count <= 1:
        for task in tasks:
            run(task)
        return
    for _ in _pool(threads).map(run, tasks):
        pass
