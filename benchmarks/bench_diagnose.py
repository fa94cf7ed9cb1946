"""Time one diagnose() run (default: depth 50, width 1000, batch 1000, He normal with ReLU).

Usage::

    python benchmarks/bench_diagnose.py [--depth 50] [--width 1000] [--batch 1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import weightinit as wi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=50)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = wi.diagnose(
            wi.he_normal(), "relu", depth=args.depth, width=args.width, batch=args.batch
        )
        times.append(time.perf_counter() - start)
    # The floor: the matrix products alone (forward and backward) in float32.
    a = np.ones((args.batch, args.width), dtype=np.float32)
    w = np.ones((args.width, args.width), dtype=np.float32)
    start = time.perf_counter()
    for _ in range(2 * args.depth):
        a @ w
    matmuls = time.perf_counter() - start
    print(
        f"diagnose depth {args.depth}, width {args.width}, batch {args.batch}: "
        f"median {statistics.median(times):.2f} s of {args.repeat} (target < 5 s); "
        f"its {2 * args.depth} matrix products alone take {matmuls:.2f} s; "
        f"verdict {report.verdict}"
    )


if __name__ == "__main__":
    main()
