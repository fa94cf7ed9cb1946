"""Portable normal transforms side by side: the shipped Box-Muller and two alternatives.

Every candidate turns the same SFC64 words into float32 standard normals with exactly rounded
operations only (``+ - * /``, ``sqrt``, integer and bit operations), tile by tile in batches
of four 65536-value tiles, as the engine does, and writes them into a 4096 x 4096 array on
one thread. Times are medians of per-round times, all candidates timed in turn in each round:

- ``box-muller``: the engine's kernel (polynomial logarithm, sine and cosine);
- ``polar``: Marsaglia's polar method: two uniforms on (-1, 1) from one word, accepted when
  ``s = u^2 + v^2 < 1`` (pi/4 of pairs), ``z = u sqrt(-2 ln s / s)``; no sine or cosine, but
  a compaction of the accepted pairs;
- ``ziggurat (fast path only)``: a 256-layer ziggurat's common case alone (an index and a
  signed uniform from each half word, two table look-ups, a multiply, a comparison and a
  compaction); the wedges and the tail it leaves out would only add time, so this is a lower
  bound on any vectorised ziggurat.

Usage::

    python benchmarks/bench_normal.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
from timing import rounds

from weightinit._engine import kernels
from weightinit._engine import streams
from weightinit._engine.tiles import BLOCK
from weightinit.seeds import root_key

Array = np.ndarray[Any, Any]
SIDE = 4096
TILES_PER_BATCH = 4
KEY = root_key(0)


def _log(s: Array, scratch: kernels.Scratch) -> Array:
    """ln(s) for float32 s > 0, in scratch buffers: exponent and mantissa by bit operations,
    the mantissa's logarithm by the same atanh series as the engine's radius."""
    spec, n = kernels._F32, s.size
    bits = s.view(np.int32)
    exponent = scratch.get(np.int32, "p_exp", n)
    np.right_shift(bits, 23, out=exponent)
    mant = scratch.get(np.int32, "p_mant", n)
    np.bitwise_and(bits, (1 << 23) - 1, out=mant)
    big = scratch.get(np.int32, "p_big", n)
    np.subtract(spec.sqrt2_mantissa, mant, out=big)
    np.right_shift(big, 31, out=big)
    exponent -= big
    exponent -= 127
    mant |= 127 << 23
    np.left_shift(big, 23, out=big)
    mant += big
    m = mant.view(np.float32)
    t = scratch.get(np.float32, "p_t", n)
    d = scratch.get(np.float32, "p_d", n)
    np.subtract(m, np.float32(1.0), out=t)
    np.add(m, np.float32(1.0), out=d)
    t /= d
    z = scratch.get(np.float32, "p_z", n)
    np.multiply(t, t, out=z)
    poly = kernels._horner(z, kernels._LOG, spec.log_terms, out=d)
    poly *= t
    result = scratch.get(np.float32, "p_log", n)
    np.copyto(result, exponent, casting="unsafe")
    result *= np.float32(kernels._LN2)
    result += poly
    return result


def _polar_candidates(
    generators: list[np.random.Generator], pairs: int, scratch: kernels.Scratch
) -> tuple[Array, Array, Array]:
    """``pairs`` candidate pairs from each generator in one chain: the accepted normals
    ``(x, y)`` in order, and each generator's count of accepted pairs."""
    total = pairs * len(generators)
    u = scratch.get(np.uint32, "p_u", total)
    v = scratch.get(np.uint32, "p_v", total)
    for i, g in enumerate(generators):
        high, low = kernels._halves(kernels._words(g, pairs))
        np.right_shift(high, 8, out=u[i * pairs : (i + 1) * pairs])
        np.right_shift(low, 8, out=v[i * pairs : (i + 1) * pairs])
    ui, vi = u.view(np.int32), v.view(np.int32)
    ui <<= 1
    ui += 1 - 2**24  # odd integers in (-2**24, 2**24): exact in float32
    vi <<= 1
    vi += 1 - 2**24
    uf = scratch.get(np.float32, "p_uf", total)
    vf = scratch.get(np.float32, "p_vf", total)
    np.copyto(uf, ui, casting="unsafe")
    np.copyto(vf, vi, casting="unsafe")
    uf *= np.float32(2.0**-24)
    vf *= np.float32(2.0**-24)
    s = scratch.get(np.float32, "p_s", total)
    np.multiply(uf, uf, out=s)
    sq = scratch.get(np.float32, "p_sq", total)
    np.multiply(vf, vf, out=sq)
    s += sq
    keep = np.less(s, np.float32(1.0), out=scratch.get(np.bool_, "p_keep", total))
    counts = np.add.reduceat(keep, np.arange(0, total, pairs), dtype=np.intp)
    kept = int(counts.sum())
    ku = np.compress(keep, uf, out=scratch.get(np.float32, "p_ku", kept))
    kv = np.compress(keep, vf, out=scratch.get(np.float32, "p_kv", kept))
    ks = np.compress(keep, s, out=scratch.get(np.float32, "p_ks", kept))
    factor = _log(ks, scratch)
    factor *= np.float32(-2.0)
    factor /= ks
    np.sqrt(factor, out=factor)
    ku *= factor
    kv *= factor
    return ku, kv, counts


def polar(generators: list[np.random.Generator], n: int, scratch: kernels.Scratch) -> Array:
    """``n`` normals per generator by the polar method: one batched round drawing about 1.3x
    the pairs needed (a second, per-row round in the rare case it falls short)."""
    rows = np.empty((len(generators), n), dtype=np.float32)
    need = (n + 1) // 2
    x, y, counts = _polar_candidates(generators, need * 41 // 32 + 32, scratch)
    start = 0
    for r, generator in enumerate(generators):
        got = int(counts[r])
        take = min(got, need)
        row = np.concatenate((x[start : start + take], y[start : start + take]))
        filled = min(2 * take, n)
        rows[r, :filled] = row[:filled]
        while filled < n:  # rare: the round fell short
            more_x, more_y, _ = _polar_candidates([generator], need, scratch)
            extra = np.concatenate((more_x, more_y))[: n - filled]
            rows[r, filled : filled + len(extra)] = extra
            filled += len(extra)
        start += got
    return rows


_LAYERS = 256
_X = np.linspace(3.6541528853610088, 0.0, _LAYERS + 1)[:-1].astype(np.float32)  # layer widths
_K32 = (np.linspace(0.99, 0.5, _LAYERS) * 2**23).astype(np.int32)  # acceptance thresholds


def ziggurat_fast_path(
    generators: list[np.random.Generator], n: int, scratch: kernels.Scratch
) -> Array:
    """The common case of a ziggurat only, in scratch buffers: a lower bound on the cost of
    a complete one."""
    half_n = (n + 1) // 2
    total = half_n * len(generators)
    halves = scratch.get(np.uint32, "z_words", 2 * total).reshape(2, total)
    for i, g in enumerate(generators):
        high, low = kernels._halves(kernels._words(g, half_n))
        halves[0, i * half_n : (i + 1) * half_n] = high
        halves[1, i * half_n : (i + 1) * half_n] = low
    flat = halves.reshape(-1)
    index = scratch.get(np.intp, "z_index", flat.size)
    np.bitwise_and(flat, 255, out=index, casting="unsafe")
    signed = scratch.get(np.int32, "z_signed", flat.size)
    np.right_shift(flat.view(np.int32), 8, out=signed)  # 24-bit signed uniform
    width = np.take(_X, index, mode="clip", out=scratch.get(np.float32, "z_width", flat.size))
    limit = np.take(_K32, index, mode="clip", out=scratch.get(np.int32, "z_limit", flat.size))
    out = scratch.get(np.float32, "z_out", flat.size)
    np.copyto(out, signed, casting="unsafe")
    out *= width
    out *= np.float32(2.0**-23)
    np.abs(signed, out=signed)
    rejected = np.greater_equal(signed, limit, out=scratch.get(np.bool_, "z_rej", flat.size))
    np.putmask(out, rejected, np.float32(0.0))  # the wedge and tail cases a full one redoes
    rows = out.reshape(2, len(generators), half_n).transpose(1, 0, 2).reshape(len(generators), -1)
    return rows[:, :n]


def box_muller(generators: list[np.random.Generator], n: int, scratch: kernels.Scratch) -> Array:
    return kernels.rows(
        scratch,
        generators,
        n,
        np.float32,
        [kernels.Law("normal", loc=0.0, scale=1.0)] * len(generators),
    )


def fill(
    transform: Callable[[list[np.random.Generator], int, kernels.Scratch], Array],
) -> Callable[[], object]:
    out = np.empty((SIDE, SIDE), dtype=np.float32)
    flat = out.reshape(-1, BLOCK)
    tiles = flat.shape[0]

    def run() -> None:
        scratch = kernels.Scratch()
        for first in range(0, tiles, TILES_PER_BATCH):
            batch = list(range(first, min(first + TILES_PER_BATCH, tiles)))
            generators = streams.streams([(KEY, t) for t in batch])
            values = transform(generators, BLOCK, scratch)
            flat[batch[0] : batch[-1] + 1] = values[:, :BLOCK]

    return run


def check(transform: Callable[[list[np.random.Generator], int, kernels.Scratch], Array]) -> str:
    """Mean, standard deviation and tail frequency of one batch (sanity, not a test)."""
    generators = streams.streams([(KEY, t) for t in range(4)])
    values = transform(generators, BLOCK, kernels.Scratch()).ravel()
    tail, exact = float(np.mean(np.abs(values) > 3.0)), math.erfc(3 / math.sqrt(2))
    return f"mean {values.mean():+.4f} std {values.std():.4f} P(|z|>3) {tail:.5f} ({exact:.5f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    candidates = {
        "box-muller": box_muller,
        "polar": polar,
        "ziggurat (fast path only)": ziggurat_fast_path,
    }
    times = rounds({name: fill(t) for name, t in candidates.items()}, args.repeat)
    base = statistics.median(times["box-muller"])
    print(f"float32 {SIDE}x{SIDE}, one thread, medians of {args.repeat} rounds")
    for name, transform in candidates.items():
        t = statistics.median(times[name])
        ns = t / SIDE**2 * 1e9
        real = transform is not ziggurat_fast_path
        sanity = check(transform) if real else "(no wedges or tail: not a sampler)"
        print(
            f"{name:26} {t * 1e3:7.1f} ms {ns:6.2f} ns/value  speed-up {base / t:4.2f}x  {sanity}"
        )


if __name__ == "__main__":
    main()
