"""Time ``wi.orthogonal()`` on square float32 matrices against PyTorch and raw NumPy QR.

For each size n it prints the median of ``--repeat`` timings (after one warm-up call) of

- ours: ``wi.orthogonal()((n, n), seed=0)`` (Gaussian draw, QR, sign fix, gain);
- NumPy: ``np.linalg.qr`` alone on a float32 Gaussian matrix drawn beforehand, the floor
  that any QR-based implementation on NumPy pays;
- PyTorch (when importable): ``torch.nn.init.orthogonal_`` on a float32 ``(n, n)`` tensor,
  with PyTorch's default thread count;

and the ratios ours/torch and ours/numpy-qr, all measured in the same run. The issue's
target is ours/torch <= 1 at n = 4096.

    python benchmarks/bench_orthogonal.py                 # n = 1024, 2048, 4096
    python benchmarks/bench_orthogonal.py --sizes 1024 2048 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

import weightinit as wi


def median_time(call: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` calls, after one warm-up call."""
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per case")
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
    print(f"float32, median of {args.repeat} after a warm-up\n")
    header = (
        f"{'n':>6} {'ours':>10} {'numpy qr':>10} {'torch':>10} {'ours/torch':>11} {'ours/qr':>8}"
    )
    print(header)
    print("-" * len(header))

    init = wi.orthogonal()
    for n in args.sizes:
        ours = median_time(lambda n=n: init((n, n), seed=0), args.repeat)
        gaussian = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
        raw_qr = median_time(lambda g=gaussian: np.linalg.qr(g), args.repeat)
        del gaussian
        theirs_text = ratio_text = "-"
        if torch is not None:
            tensor = torch.empty((n, n), dtype=torch.float32)
            theirs = median_time(lambda t=tensor: torch.nn.init.orthogonal_(t), args.repeat)
            del tensor
            theirs_text = f"{theirs * 1e3:8.1f}ms"
            ratio_text = f"{ours / theirs:.2f}"
        print(
            f"{n:>6} {ours * 1e3:8.1f}ms {raw_qr * 1e3:8.1f}ms {theirs_text:>10} "
            f"{ratio_text:>11} {ours / raw_qr:>8.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
