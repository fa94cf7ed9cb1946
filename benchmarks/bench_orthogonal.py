"""Time ``wi.orthogonal()`` on square matrices against PyTorch and NumPy's own QR.

For each size n, after one warm-up call of each, it runs ``--repeat`` rounds; each round
times, back to back,

- ours: ``wi.orthogonal()((n, n), dtype, seed=0)`` (Gaussian draw, QR, sign fix, gain);
- PyTorch (when importable): ``torch.nn.init.orthogonal_`` on an ``(n, n)`` tensor of the
  same dtype, with PyTorch's default thread count;
- NumPy (with ``--numpy``): ``np.linalg.qr`` alone on a Gaussian matrix drawn beforehand,
  what a QR-based initializer built on ``numpy.linalg`` pays at least;

and it prints the median time of each and the median of the per-round ratios. Timing the
contenders in the same round keeps a machine whose speed drifts from favouring either; a
pause before each timed call (``--pause``, 0.3 s) keeps the threads the other contender left
spinning from slowing it, which otherwise doubles small timings on two cores.
Ours is portable (its products are exact, the same bytes with any BLAS) and PyTorch's is not;
the targets for that price are ours/torch <= 8 for float32 at n = 4096 and <= 3 up to n = 512.

    python benchmarks/bench_orthogonal.py                 # float32, n = 256, 512, 1024, 4096
    python benchmarks/bench_orthogonal.py --sizes 4096 --repeat 7 --numpy
    python benchmarks/bench_orthogonal.py --dtype float64
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Callable

import numpy as np
from timing import ratio
from timing import rounds

import weightinit as wi


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024, 4096])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per size")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--numpy", action="store_true", help="also time np.linalg.qr")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.3,
        help="seconds of sleep before each timed call, so that the threads the previous "
        "call left spinning (PyTorch's OpenMP, OpenBLAS) do not slow it",
    )
    args = parser.parse_args(argv)

    try:
        import torch
    except ImportError:
        torch = None

    print(f"numpy {np.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs")
    if torch is None:
        print("torch not importable: PyTorch column skipped")
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads (default)")
    print(f"{args.dtype}, medians of {args.repeat} rounds after a warm-up\n")
    header = (
        f"{'n':>6} {'ours':>10} {'torch':>10} {'numpy qr':>10} {'ours/torch':>11} {'ours/qr':>8}"
    )
    print(header)
    print("-" * len(header))

    dtype = np.dtype(args.dtype)
    init = wi.orthogonal()
    for n in args.sizes:
        calls: dict[str, Callable[[], object]] = {"ours": lambda n=n: init((n, n), dtype, seed=0)}
        if torch is not None:
            tensor = torch.empty((n, n), dtype=getattr(torch, args.dtype))
            calls["torch"] = lambda t=tensor: torch.nn.init.orthogonal_(t)
        if args.numpy:
            gaussian = np.random.default_rng(0).standard_normal((n, n), dtype=dtype)
            calls["qr"] = lambda g=gaussian: np.linalg.qr(g)
        print(row(n, rounds(calls, args.repeat, args.pause)), flush=True)


def row(n: int, times: dict[str, list[float]]) -> str:
    """One table row: median times and median per-round ratios of ours to the others."""

    def cell(name: str) -> str:
        return f"{statistics.median(times[name]) * 1e3:8.1f}ms" if name in times else "-"

    def versus(name: str) -> str:
        return f"{ratio(times, 'ours', name):.2f}" if name in times else "-"

    return (
        f"{n:>6} {cell('ours'):>10} {cell('torch'):>10} {cell('qr'):>10} "
        f"{versus('torch'):>11} {versus('qr'):>8}"
    )


if __name__ == "__main__":
    main()
