"""Side-by-side speed of weightinit, NumPy's raw sampler and (when installed) PyTorch.

Every figure is measured in this one run, contenders timed in turn in each round, and the
script prints ratios of our time to the baselines' (below 1.0 means we are faster). Usage::

    python benchmarks/bench_vs_torch.py [--size 4096] [--repeat 7] [--memory]
"""

from __future__ import annotations

import argparse
import statistics
import tracemalloc
from collections.abc import Callable

import numpy as np
from timing import ratio
from timing import rounds

import weightinit as wi

try:
    import torch
except ImportError:  # the comparison with PyTorch is optional
    torch = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096, help="side of the square weight")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--memory", action="store_true", help="also measure peak memory (1e8)")
    args = parser.parse_args()
    n, repeat = args.size, args.repeat
    shape = (n, n)
    elements = n * n

    generator = np.random.default_rng(0)
    out = np.empty(shape, dtype=np.float32)
    calls: dict[str, Callable[[], object]] = {
        "numpy": lambda: generator.standard_normal(shape, dtype=np.float32, out=out)
    }
    if torch is not None:
        t = torch.empty(shape)
        calls["kaiming_normal_"] = lambda: torch.nn.init.kaiming_normal_(t)
        calls["kaiming_uniform_"] = lambda: torch.nn.init.kaiming_uniform_(t)
        calls["trunc_normal_"] = lambda: torch.nn.init.trunc_normal_(t, std=1.0, a=-2.0, b=2.0)
    cases = [
        ("he_normal()", wi.he_normal(), "kaiming_normal_"),
        ("glorot_normal()", wi.glorot_normal(), "kaiming_normal_"),
        ("he_uniform()", wi.he_uniform(), "kaiming_uniform_"),
        ("glorot_uniform()", wi.glorot_uniform(), "kaiming_uniform_"),
        ("truncated_normal(1.0)", wi.truncated_normal(1.0), "trunc_normal_"),
        ("variance_scaling(truncated_normal)", wi.variance_scaling(), "trunc_normal_"),
    ]
    for label, init, _ in cases:
        calls[label] = lambda init=init: init.fill(out, seed=0)
    times = rounds(calls, repeat)

    print(f"numpy {np.__version__}; torch {torch.__version__ if torch else 'not installed'}")
    print(
        f"float32 {n}x{n}, {repeat} rounds; times are medians, ratios medians of per-round ratios"
    )
    print(f"numpy standard_normal(float32): {statistics.median(times['numpy']) * 1e3:8.1f} ms")
    print(f"{'ours':38} {'ms':>8} {'M/s':>7} {'/numpy':>7} {'/torch':>7}  torch baseline")
    for label, _, baseline in cases:
        seconds = statistics.median(times[label])
        versus_torch = f"{ratio(times, label, baseline):7.2f}" if baseline in times else "      -"
        print(
            f"{label:38} {seconds * 1e3:8.1f} {elements / seconds / 1e6:7.0f} "
            f"{ratio(times, label, 'numpy'):7.2f} {versus_torch}  {baseline}"
        )
    print(
        f"truncated_normal / our normal: {ratio(times, 'truncated_normal(1.0)', 'he_normal()'):.2f}"
    )

    small = np.empty((64, 64), dtype=np.float32)
    small_calls: dict[str, Callable[[], object]] = {
        "ours": lambda: wi.he_normal().fill(small, seed=0)
    }
    if torch is not None:
        ts = torch.empty(64, 64)
        small_calls["torch"] = lambda: torch.nn.init.kaiming_normal_(ts)
    small_times = rounds(small_calls, 200)
    line = f"64x64 he_normal: {statistics.median(small_times['ours']) * 1e6:.1f} us"
    if torch is not None:
        line += f"; torch kaiming_normal_ {statistics.median(small_times['torch']) * 1e6:.1f} us"
        line += f"; ratio {ratio(small_times, 'ours', 'torch'):.2f}"
    print(line)

    if args.memory:
        count = 100_000_000
        tracemalloc.start()
        w = wi.he_normal()((count // 10_000, 10_000), seed=0)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        extra = (peak - w.nbytes) / 2**20
        print(f"peak memory for 1e8 float32: output {w.nbytes / 2**20:.0f} MiB + {extra:.1f} MiB")


if __name__ == "__main__":
    main()
