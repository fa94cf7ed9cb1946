"""The portable transforms from random 64-bit words to normal, uniform and truncated values.

Only operations that IEEE 754 rounds exactly enter (``+ - * /``, ``sqrt``, integer and bit
operations); logarithm, sine, cosine and exponential are polynomials evaluated with them. No
platform-dependent ``log``/``sin``/``cos`` (SIMD or libm) is used, so the same words give the
same bytes on every platform and NumPy version.

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

Every kernel makes *rows*: one row of ``n`` values per generator (per tile), all rows in one
chain of NumPy calls; each step is element-wise, so a tile's values do not depend on the
batch it is made in.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from weightinit._engine.streams import MASK64
from weightinit._engine.tiles import BLOCK

__all__ = ["NORMAL_LIMIT", "Law", "Scratch", "batch_kind", "rows"]

Array = npt.NDArray[Any]
Generators = list[np.random.Generator]

#: The largest |z| the normal sampler can return: sqrt(-2 ln 2**-24) for float32 (and
#: float16) output, sqrt(-2 ln 2**-53) for float64 output; keyed by the compute itemsize.
NORMAL_LIMIT = {4: math.sqrt(48.0 * math.log(2.0)), 8: math.sqrt(106.0 * math.log(2.0))}


class Scratch:
    """Named scratch arrays, so the kernels allocate nothing in their loops.

    One ``Scratch`` serves one thread for one call and is dropped with it, so no thread
    keeps megabytes between calls. Each name is one buffer per dtype; a kernel must not use
    a name that a caller still holds.
    """

    def __init__(self) -> None:
        self._arrays: dict[tuple[str, str], Array] = {}

    def get(self, dtype: type[np.generic], name: str, n: int) -> Array:
        """A buffer of at least ``n`` elements of ``dtype`` under ``name``, cut to ``n``."""
        key = (np.dtype(dtype).str, name)
        array = self._arrays.get(key)
        if array is None or array.shape[0] < n:
            array = np.empty(n, dtype=dtype)
            self._arrays[key] = array
        return array[:n]


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
    return bitgen.integers(0, MASK64, size=count, dtype=np.uint64, endpoint=True)


def _halves(words: Array) -> tuple[Array, Array]:
    """The high and low 32-bit halves of each word, on any byte order."""
    pairs = words.view(np.uint32).reshape(-1, 2)
    if sys.byteorder == "little":
        return pairs[:, 1], pairs[:, 0]
    return pairs[:, 0], pairs[:, 1]  # pragma: no cover - big-endian machines


def _box_muller(
    scratch: Scratch, spec: _Float, k1: Array, k2: Array, x_out: Array, y_out: Array
) -> None:
    """Write standard normals ``r cos(theta)`` into ``x_out`` and ``r sin(theta)`` into
    ``y_out``: radii from ``k1``, angles from ``k2`` (``spec.bits``-bit integers).

    All four arrays have one shape; every step is element-wise, so a batch of tiles laid out
    as rows gives each element the bits it would get alone.
    """
    shape, n = k1.shape, k1.size
    f, i = spec.ftype, spec.itype
    fa, fb, fc, fd = (scratch.get(f, f"float{s}", n).reshape(shape) for s in range(4))
    ia, ib, ic = (scratch.get(i, f"int{s}", n).reshape(shape) for s in range(3))
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


def _box_muller_inputs(
    scratch: Scratch, generators: list[np.random.Generator], pairs: list[int], ftype: type
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
        k = scratch.get(np.uint64, "k64", 2 * total)
        for generator, count in zip(generators, pairs, strict=True):
            words = _words(generator, 2 * count)
            stop = start + count
            np.right_shift(words[:count], np.uint64(11), out=k[start:stop])
            np.right_shift(words[count:], np.uint64(11), out=k[total + start : total + stop])
            start = stop
        return k[:total], k[total:], _F64
    k32 = scratch.get(np.uint32, "k32", 2 * total)
    for generator, count in zip(generators, pairs, strict=True):
        high, low = _halves(_words(generator, count))
        stop = start + count
        np.right_shift(high, 8, out=k32[start:stop])
        np.right_shift(low, 8, out=k32[total + start : total + stop])
        start = stop
    return k32[:total], k32[total:], _F32


def _normal_rows(scratch: Scratch, generators: Generators, n: int, ftype: type) -> Array:
    """``n`` standard normals from each of ``generators``, one generator per row.

    A row holds ``r cos(theta)`` for its ``ceil(n / 2)`` pairs, then ``r sin(theta)``; cut to
    ``n`` elements (an odd count drops the last sine), it is the tile's values. The rows share
    one chain of NumPy calls, which costs less per element than one chain per tile and keeps
    each call long enough for threads to overlap.
    """
    pairs, rows = (n + 1) // 2, len(generators)
    k1, k2, spec = _box_muller_inputs(scratch, generators, [pairs] * rows, ftype)
    values = scratch.get(ftype, "values", rows * 2 * pairs).reshape(rows, 2 * pairs)
    shape = (rows, pairs)
    _box_muller(
        scratch, spec, k1.reshape(shape), k2.reshape(shape), values[:, :pairs], values[:, pairs:]
    )
    return values


def _uniform_rows(scratch: Scratch, generators: Generators, n: int, ftype: type) -> Array:
    """``n`` uniforms on the open interval ``(-1, 1)`` from each of ``generators``, one
    generator per row (rows may be longer than ``n``; their first ``n`` elements count)."""
    rows = len(generators)
    if ftype is np.float64:
        k = scratch.get(np.uint64, "k64", rows * n).reshape(rows, n)
        for row, generator in enumerate(generators):
            np.right_shift(_words(generator, n), np.uint64(12), out=k[row])
        k <<= np.uint64(1)
        k += np.uint64(1)
        values = scratch.get(ftype, "values", rows * n).reshape(rows, n)
        np.copyto(values, k, casting="unsafe")  # exact: 2k + 1 < 2**53
        values -= 2.0**52
        values *= 2.0**-52
        return values
    pairs = (n + 1) // 2
    k32 = scratch.get(np.uint32, "k32", rows * 2 * pairs).reshape(rows, 2, pairs)
    for row, generator in enumerate(generators):
        high, low = _halves(_words(generator, pairs))
        np.right_shift(high, 9, out=k32[row, 0])
        np.right_shift(low, 9, out=k32[row, 1])
    flat = k32.reshape(rows, 2 * pairs)
    flat <<= 1
    flat += 1
    values = scratch.get(ftype, "values", rows * 2 * pairs).reshape(rows, 2 * pairs)
    np.copyto(values, flat, casting="unsafe")  # exact: 2k + 1 < 2**24
    values -= np.float32(2.0**23)
    values *= np.float32(2.0**-23)
    return values


def _symmetric_uniforms(
    scratch: Scratch, bitgen: np.random.Generator, count: int, out: Array
) -> None:
    """Fill ``out[:count]`` with uniforms on the open interval ``(-1, 1)``."""
    out[:count] = _uniform_rows(scratch, [bitgen], count, out.dtype.type)[0, :count]


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
    scratch: Scratch, bitgen: np.random.Generator, count: int, bound: float, out: Array
) -> None:
    """Fill ``out[:count]`` with standard normals truncated to ``[-bound, bound]``, ``bound
    < 1``: uniform candidates on ``[-bound, bound]`` accepted with probability
    ``exp(-z**2 / 2)``, in rounds of :func:`_round_size` candidates."""
    ftype = out.dtype.type
    limit = ftype(bound)
    filled = drawn = 0
    while filled < count:
        size = _round_size(count, filled, drawn)
        cand = scratch.get(ftype, "candidates", size)
        _symmetric_uniforms(scratch, bitgen, size, cand)
        cand *= limit
        accept = scratch.get(ftype, "thresholds", size)
        _symmetric_uniforms(scratch, bitgen, size, accept)  # acceptance threshold on (0, 1)
        accept += ftype(1.0)
        accept *= ftype(0.5)
        t = scratch.get(ftype, "half_squares", size)
        np.multiply(cand, cand, out=t)
        t *= ftype(0.5)
        terms = (_F64 if ftype is np.float64 else _F32).exp_terms
        density = _horner(t, _EXP, terms, out=scratch.get(ftype, "densities", size))
        chosen = cand[accept < density][: count - filled]
        out[filled : filled + chosen.shape[0]] = chosen
        filled += chosen.shape[0]
        drawn += size


def _normal_segments(
    scratch: Scratch, generators: list[np.random.Generator], sizes: list[int], ftype: type
) -> tuple[Array, Array, list[int]]:
    """``sizes[r]`` (even) standard normals from each of ``generators``, in one chain of calls.

    Returns ``(x, y, offsets)``: generator r's candidates are ``x[o:p]`` then ``y[o:p]``
    (``o, p = offsets[r], offsets[r + 1]``), the order :func:`_normal_rows` lays a row out in.
    """
    pairs = [size // 2 for size in sizes]
    k1, k2, spec = _box_muller_inputs(scratch, generators, pairs, ftype)
    total = k1.shape[0]
    x, y = scratch.get(ftype, "x", total), scratch.get(ftype, "y", total)
    _box_muller(scratch, spec, k1, k2, x, y)
    return x, y, list(itertools.accumulate(pairs, initial=0))


def _truncated_rows(
    scratch: Scratch, generators: Generators, n: int, ftype: type, laws: list[Law]
) -> Array:
    """``n`` values of each row's truncated normal (``laws[r]``: mean, std, bound) from each
    of ``generators``, one generator per row.

    For ``bound >= 1`` the candidates are normals accepted when ``|z| <= bound``, drawn in
    rounds of :func:`_round_size` per tile; each round draws every unfinished tile's
    candidates in one Box-Muller chain, and each tile keeps its own stream (and bound), so
    a tile's values do not depend on the batch it is in. Bounds below 1 use uniform
    proposals, tile by tile; a batch holds bounds of one kind only (:func:`batch_kind`).
    """
    count = len(generators)
    rows = scratch.get(ftype, "rows", count * n).reshape(count, n)
    if laws[0].cut < 1.0:  # uniform proposals: tile by tile
        for row, (generator, law) in enumerate(zip(generators, laws, strict=True)):
            _truncated_by_uniforms(scratch, generator, n, law.cut, rows[row])
    else:
        limits = [ftype(min(law.cut, 1e4)) for law in laws]
        filled, drawn = [0] * count, [0] * count
        todo = list(range(count))
        while todo:
            sizes = [_round_size(n, filled[r], drawn[r]) for r in todo]
            x, y, offsets = _normal_segments(scratch, [generators[r] for r in todo], sizes, ftype)
            if all(limits[r] == limits[todo[0]] for r in todo):
                limit: Any = limits[todo[0]]
            else:  # each candidate compared with its own tile's bound
                limit = np.repeat(np.array([limits[r] for r in todo]), np.diff(offsets))
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
    rows *= _column(ftype, [law.scale for law in laws])
    rows += _column(ftype, [law.loc for law in laws])
    low = _column(ftype, [law.loc - law.cut * law.scale for law in laws])
    high = _column(ftype, [law.loc + law.cut * law.scale for law in laws])
    np.clip(rows, low, high, out=rows)
    return rows


def _column(ftype: type, values: list[float]) -> Any:
    """One value per row, rounded to ``ftype`` once: a scalar when all rows share it."""
    if all(v == values[0] for v in values) and len({math.copysign(1.0, v) for v in values}) == 1:
        return ftype(values[0])
    return np.array(values, dtype=ftype).reshape(-1, 1)


def _normal_scaled(
    scratch: Scratch, generators: Generators, n: int, ftype: type, laws: list[Law]
) -> Array:
    """Standard normals scaled (``scale``) and shifted (``loc``) in the compute precision."""
    rows = _normal_rows(scratch, generators, n, ftype)
    rows *= _column(ftype, [law.scale for law in laws])
    rows += _column(ftype, [law.loc for law in laws])
    return rows


def _uniform_scaled(
    scratch: Scratch, generators: Generators, n: int, ftype: type, laws: list[Law]
) -> Array:
    """Uniforms on ``(-1, 1)`` mapped onto ``[low, high]`` in the compute precision (and
    clipped to it, against rounding)."""
    rows = _uniform_rows(scratch, generators, n, ftype)
    rows *= _column(ftype, [(law.high - law.low) / 2.0 for law in laws])
    rows += _column(ftype, [law.low + (law.high - law.low) / 2.0 for law in laws])
    np.clip(
        rows,
        _column(ftype, [law.low for law in laws]),
        _column(ftype, [law.high for law in laws]),
        out=rows,
    )
    return rows


class Law(NamedTuple):
    """What a tile is drawn from, as the kernels see it. Each field means one thing; a kind
    reads the fields it needs and leaves the others at zero.

    ``kind`` is ``"constant"`` (every value ``loc``), ``"normal"`` (mean ``loc``, standard
    deviation ``scale``), ``"uniform"`` (on ``[low, high]``) or ``"truncated"`` (mean
    ``loc``, standard deviation ``scale`` before the cut, cut at ``cut`` of them).
    """

    kind: str
    loc: float = 0.0
    scale: float = 0.0
    cut: float = 0.0
    low: float = 0.0
    high: float = 0.0


def batch_kind(law: Law) -> tuple[str, bool]:
    """Tiles whose laws share this (and their size) can share one chain of calls."""
    return law.kind, law.kind == "truncated" and law.cut < 1.0


_ROWS: dict[str, Callable[[Scratch, Generators, int, type, list[Law]], Array]] = {
    "normal": _normal_scaled,
    "uniform": _uniform_scaled,
    "truncated": _truncated_rows,
}


def rows(scratch: Scratch, generators: Generators, n: int, ftype: type, laws: list[Law]) -> Array:
    """``n`` values for each tile (one generator and one law per row, all of one
    :func:`batch_kind`), in the compute type ``ftype``; a row may be longer than ``n``."""
    return _ROWS[laws[0].kind](scratch, generators, n, ftype, laws)
