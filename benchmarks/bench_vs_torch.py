"""Side-by-side speed of weightinit, NumPy's raw sampler and (when installed) PyTorch.

Every figure is measured in this one run, and the script prints ratios of our time to the
baselines' (below 1.0 means we are faster). Usage::

    python benchmarks/bench_vs_torch.py [--size 4096] [--repeat 7] [--memory]
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import weightinit as wi

try:
    import torch
except ImportError:  # the comparison with PyTorch is optional
    torch = None


def median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    numpy_normal = median_time(
        lambda: generator.standard_normal(shape, dtype=np.float32, out=out), repeat
    )
    print(f"numpy {np.__version__}; torch {torch.__version__ if torch else 'not installed'}")
    print(f"float32 {n}x{n}, median of {repeat}")
    print(f"numpy standard_normal(float32): {numpy_normal * 1e3:8.1f} ms")
    print(f"{'ours':38} {'ms':>8} {'M/s':>7} {'/numpy':>7} {'/torch':>7}  torch baseline")

    torch_times: dict[str, float] = {}
    if torch is not None:
        t = torch.empty(shape)
        torch_times["kaiming_normal_"] = median_time(
            lambda: torch.nn.init.kaiming_normal_(t), repeat
        )
        torch_times["kaiming_uniform_"] = median_time(
            lambda: torch.nn.init.kaiming_uniform_(t), repeat
        )
        torch_times["trunc_normal_"] = median_time(
            lambda: torch.nn.init.trunc_normal_(t, std=1.0, a=-2.0, b=2.0), max(3, repeat // 2)
        )

    cases = [
        ("he_normal()", wi.he_normal(), "kaiming_normal_"),
        ("glorot_normal()", wi.glorot_normal(), "kaiming_normal_"),
        ("he_uniform()", wi.he_uniform(), "kaiming_uniform_"),
        ("glorot_uniform()", wi.glorot_uniform(), "kaiming_uniform_"),
        ("truncated_normal(1.0)", wi.truncated_normal(1.0), "trunc_normal_"),
        ("variance_scaling(truncated_normal)", wi.variance_scaling(), "trunc_normal_"),
    ]
    ours_normal = 0.0
    for label, init, baseline in cases:
        seconds = median_time(lambda init=init: init.fill(out, seed=0), repeat)
        if label == "he_normal()":
            ours_normal = seconds
        versus_torch = (
            f"{seconds / torch_times[baseline]:7.2f}" if baseline in torch_times else "      -"
        )
        print(
            f"{label:38} {seconds * 1e3:8.1f} {elements / seconds / 1e6:7.0f} "
            f"{seconds / numpy_normal:7.2f} {versus_torch}  {baseline}"
        )
    truncated = median_time(lambda: wi.truncated_normal(1.0).fill(out, seed=0), repeat)
    print(f"truncated_normal / our normal: {truncated / ours_normal:.2f}")

    small = np.empty((64, 64), dtype=np.float32)
    small_ours = median_time(lambda: wi.he_normal().fill(small, seed=0), 200)
    line = f"64x64 he_normal: {small_ours * 1e6:.1f} us"
    if torch is not None:
        ts = torch.empty(64, 64)
        small_torch = median_time(lambda: torch.nn.init.kaiming_normal_(ts), 200)
        line += f"; torch kaiming_normal_ {small_torch * 1e6:.1f} us"
        line += f"; ratio {small_ours / small_torch:.2f}"
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
