"""A model sharded over 2 processes (FSDP2, one thread each) against the same model in one.

Each rank times ``weightinit.torch.initialize_`` on its shards of a meta-device model and
measures the peak of NumPy memory it allocates (tracemalloc) beside the size of its largest
shard. Usage::

    python benchmarks/bench_sharded.py [--width 2048] [--repeat 3]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn


def model(width: int) -> nn.Module:
    return nn.Sequential(
        nn.Embedding(8 * width, width),
        nn.Linear(width, 4 * width),
        nn.Linear(4 * width, width),
        nn.Linear(width, 4 * width),
        nn.Linear(4 * width, width),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank(rank: int, world: int, port: int, width: int, repeat: int, out: str) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from weightinit.torch import initialize_

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        mesh = init_device_mesh("cpu", (world,))
        times, peaks, largest = [], [], 0
        for _ in range(repeat + 1):  # the first round warms up
            with torch.device("meta"):
                net = model(width)
            for child in net.children():
                fully_shard(child, mesh=mesh)
            fully_shard(net, mesh=mesh)
            dist.barrier()
            tracemalloc.start()
            start = time.perf_counter()
            initialize_(net, seed=0, threads=1)
            times.append(time.perf_counter() - start)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
            shards = [p.to_local().numel() * 4 for p in net.parameters()]
            largest = max(shards)
        Path(f"{out}.{rank}").write_text(
            f"{statistics.median(times[1:])} {max(peaks[1:])} {largest} {sum(shards)}"
        )
    finally:
        dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    values = sum(p.numel() for p in model(args.width).parameters())
    print(f"model: {values / 1e6:.1f}M float32 values, width {args.width}, one thread a rank")
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for world in (1, 2):
            out = str(Path(folder) / f"w{world}")
            mp.spawn(
                _rank,
                args=(world, _free_port(), args.width, args.repeat, out),
                nprocs=world,
                join=True,
            )
            rows = [Path(f"{out}.{r}").read_text().split() for r in range(world)]
            results[world] = [tuple(float(x) for x in row) for row in rows]
    single = results[1][0][0]
    for world, rows in results.items():
        for rank, (seconds, peak, largest, held) in enumerate(rows):
            print(
                f"{world} rank(s), rank {rank}: {seconds * 1e3:7.1f} ms "
                f"({seconds / single:.2f} of one process), shards {held / 2**20:6.1f} MiB, "
                f"NumPy peak {peak / 2**20:6.1f} MiB (largest shard {largest / 2**20:.1f} MiB)"
            )


if __name__ == "__main__":
    main()
