"""Sharded PyTorch parameters (DTensor): each rank makes only its shard, and the gathered
model equals the unsharded one for every world size and mesh (needs torch.distributed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
if not torch.distributed.is_available():  # pragma: no cover - builds without distributed
    pytest.skip("torch.distributed is not available", allow_module_level=True)

SCRIPT = r"""
import socket
import sys

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 16, padding_idx=3)
        self.conv = nn.Conv1d(16, 22, 3, groups=2)
        self.attn = nn.MultiheadAttention(22, 2)
        self.up = nn.Linear(22, 30)
        self.down = nn.Linear(30, 7)


class Base(Net):
    # muP's base model: the same names, half the width.
    def __init__(self):
        super().__init__()
        self.up = nn.Linear(22, 15)
        self.down = nn.Linear(15, 7)


def scheme_of(case):
    from weightinit.schemes import mup

    if case.endswith("mup"):
        with torch.device("meta"):
            return mup(Base(), std=0.02, query_zero=False)
    return "recommended"


def reference(case):
    from weightinit.torch import initialize_

    model = Net()
    initialize_(model, seed=5, activation="relu", scheme=scheme_of(case))
    return {n: p.detach().numpy() for n, p in model.named_parameters()}


def learning_rates(model):
    from weightinit.torch import mup_param_groups

    with torch.device("meta"):
        base = Base()
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: g["lr"] for g in mup_param_groups(model, 1.0, base=base)
            for p in g["params"]}


def check(model, rank, case):
    full = {n: p.full_tensor().detach().numpy() if hasattr(p, "full_tensor") else
            p.detach().numpy() for n, p in model.named_parameters()}
    if rank == 0:
        expected = reference(case)
        for name, values in expected.items():
            assert full[name].tobytes() == values.tobytes(), name
    if case.endswith("mup"):  # the widths are in the plan: sharding loses nothing
        rates = learning_rates(model)
        assert rates == learning_rates(Net()), rates
        assert rates["up.weight"] == 1.0 and rates["down.weight"] == 1.0  # one wide axis


def run(rank, world, port, case):
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel
    from torch.distributed.tensor.parallel import parallelize_module
    from weightinit.torch import initialize_

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        if case in ("fsdp", "fsdp_mup"):
            mesh = init_device_mesh("cpu", (world,))
            with torch.device("meta"):
                model = Net()
            for child in model.children():
                fully_shard(child, mesh=mesh)
            fully_shard(model, mesh=mesh)
        elif case == "tensor_parallel":
            mesh = init_device_mesh("cpu", (world,))
            model = Net()
            parallelize_module(model, mesh, {"up": ColwiseParallel(), "down": RowwiseParallel()})
        else:  # a 2 x 2 mesh, sharded on both dimensions or replicated on one
            mesh = init_device_mesh("cpu", (2, 2))
            model = Net()
            for name, placements in (
                ("up", [Shard(0), Shard(1)]),
                ("down", [Replicate(), Shard(0)]),
                ("emb", [Shard(1), Shard(0)]),
            ):
                layer = getattr(model, name)
                tensor = distribute_tensor(layer.weight.detach(), mesh, placements)
                layer.weight = nn.Parameter(tensor)
        initialize_(model, seed=5, activation="relu", scheme=scheme_of(case))
        check(model, rank, case)
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    world, case = int(sys.argv[1]), sys.argv[2]
    mp.spawn(run, args=(world, free_port(), case), nprocs=world, join=True)
    print("ok")
"""


@pytest.mark.parametrize(
    ("world", "case"),
    [(2, "fsdp"), (3, "fsdp"), (2, "tensor_parallel"), (4, "mesh_2d"), (2, "fsdp_mup")],
)
def test_sharded_models_gather_to_the_unsharded_values(world, case, tmp_path) -> None:
    script = tmp_path / "sharded.py"
    script.write_text(SCRIPT)
    # Its own session, so that on a timeout the launcher and every rank it spawned are killed.
    process = subprocess.Popen(
        [sys.executable, str(script), str(world), case],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{case} on {world} ranks did not finish in 180 s")
    assert process.returncode == 0, err[-3000:]
    assert out.strip().endswith("ok")
