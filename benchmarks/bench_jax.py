"""A Flax linen MLP of many small Dense layers initialized with Flax's own ``kernel_init`` and
with ``weightinit.jax.initializer``: eagerly, and under ``jax.jit`` (first call, which
compiles, and steady state); and the whole model at once with ``weightinit.jax.initialize``
over its ``jax.eval_shape`` shapes (both timed), against Flax's eager and jitted steady
init. Ratios are ours / Flax's; below 1.0 means faster.

Usage::

    python benchmarks/bench_jax.py [--layers 200] [--width 64] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import flax.linen as linen
import jax

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import ratio
from timing import rounds
from timing import timed

import weightinit as wi
from weightinit.jax import initialize
from weightinit.jax import initializer


class MLP(linen.Module):
    layers: int
    width: int
    kernel_init: object = None

    @linen.compact
    def __call__(self, x):  # type: ignore[no-untyped-def]
        options = {} if self.kernel_init is None else {"kernel_init": self.kernel_init}
        for _ in range(self.layers):
            x = linen.Dense(self.width, **options)(x)
        return x


def block(tree):  # type: ignore[no-untyped-def]
    return jax.block_until_ready(tree)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layers", type=int, default=200)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    x = jax.numpy.ones((1, args.width))
    models = {
        "flax": MLP(args.layers, args.width),
        "ours": MLP(args.layers, args.width, initializer(wi.lecun_normal())),
    }
    print(f"jax {jax.__version__}; {args.layers} x Dense({args.width}); {args.repeat} rounds")
    print("times are medians (best in brackets), ratios medians of per-round ratios")

    key = jax.random.key(0)
    eager = rounds({n: lambda m=m: block(m.init(key, x)) for n, m in models.items()}, args.repeat)
    # First jitted call: a new jit of a new bound method each time, so it traces and compiles.
    first = rounds(
        {n: lambda m=m: block(jax.jit(m.init)(key, x)) for n, m in models.items()},
        max(2, args.repeat // 2),
    )
    jitted = {n: jax.jit(m.init) for n, m in models.items()}
    steady = rounds({n: lambda f=f: block(f(key, x)) for n, f in jitted.items()}, args.repeat)
    ours_once = timed(lambda: block(models["ours"].init(jax.random.key(1), x)))
    for label, times in (("eager", eager), ("jit first call", first), ("jit steady", steady)):
        line = "  ".join(
            f"{n} {statistics.median(t) * 1e3:8.1f} ms ({min(t) * 1e3:.1f})"
            for n, t in times.items()
        )
        print(
            f"{label:15} {line}  ours/flax {ratio(times, 'ours', 'flax'):.2f}"
            f" (best {min(times['ours']) / min(times['flax']):.2f})"
        )
    print(f"eager, a new key: {ours_once * 1e3:.1f} ms")
    flax_model = models["flax"]

    def whole() -> object:
        shapes = jax.eval_shape(flax_model.init, key, x)
        return block(initialize(shapes, seed=0, scheme="flax"))

    at_once = rounds({"ours": whole, "flax": lambda: block(flax_model.init(key, x))}, args.repeat)
    steady_flax = {"ours": at_once["ours"], "flax": steady["flax"]}
    for label, times in (("whole vs eager", at_once), ("whole vs jit", steady_flax)):
        print(
            f"{label:15} ours {statistics.median(times['ours']) * 1e3:8.1f} ms  flax "
            f"{statistics.median(times['flax']) * 1e3:8.1f} ms  ours/flax "
            f"{statistics.median(times['ours']) / statistics.median(times['flax']):.2f}"
        )


if __name__ == "__main__":
    main()
