"""A model sharded over several processes with FSDP2, each rank making only its shards.

Run ``python examples/sharded.py --world 3``: it starts 1, 2 and 3 processes (gloo on
127.0.0.1), builds the model on the meta device, shards it with ``fully_shard``, fills it
with ``weightinit.torch.initialize_`` and prints a digest of the gathered parameters for
each world size: the same digest every time.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn


class Model(nn.Module):
    """Embedding, convolution, attention and an MLP: every kind of layer the plan reads."""

    def __init__(self, width: int = 256) -> None:
        super().__init__()
        self.emb = nn.Embedding(1000, width)
        self.conv = nn.Conv1d(width, width, 3, padding=1, groups=4)
        self.attn = nn.MultiheadAttention(width, 8)
        self.up = nn.Linear(width, 4 * width)
        self.down = nn.Linear(4 * width, width)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank(rank: int, world: int, port: int, out: str) -> None:
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from weightinit.torch import initialize_

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        mesh = init_device_mesh("cpu", (world,))
        with torch.device("meta"):
            model = Model()
        for child in model.children():
            fully_shard(child, mesh=mesh)
        fully_shard(model, mesh=mesh)
        initialize_(model, seed=0, activation="relu", threads=1)
        digest = hashlib.sha256()
        for _, parameter in model.named_parameters():
            digest.update(parameter.full_tensor().detach().numpy().tobytes())
        if rank == 0:
            Path(out).write_text(digest.hexdigest()[:16])
    finally:
        dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=int, default=3, help="the largest number of ranks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for world in range(1, args.world + 1):
            out = str(Path(folder) / f"{world}.txt")
            mp.spawn(_rank, args=(world, _free_port(), out), nprocs=world, join=True)
            print(f"{world} rank(s): parameters digest {Path(out).read_text()}")


if __name__ == "__main__":
    main()
