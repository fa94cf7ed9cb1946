"""Filling a PyTorch model as planned: materialising meta tensors, the values, the buffers,
tied parameters and the shards of ``DTensor`` parameters."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import numpy as np

from weightinit import registry
from weightinit.model import Param
from weightinit.model import initialize
from weightinit.seeds import Key
from weightinit.seeds import SeedLike
from weightinit.torch._plan import Plan
from weightinit.torch._plan import plan
from weightinit.torch._plan import torch_module

__all__ = ["initialize_"]


def initialize_(
    module: Any,
    seed: SeedLike,
    *,
    scheme: str = "recommended",
    activation: object = None,
    rules: Mapping[object, object] | None = None,
    device: Any = None,
    threads: int | None = None,
) -> Plan:
    """Fill every parameter of ``module`` in place (no autograd) and return the plan.

    The values equal ``weightinit.initialize(plan(module, ...), seed)``: float16 and
    bfloat16 parameters get the float32 values cast by PyTorch, float64 parameters float64
    values, and the bytes do not depend on the device. A model built on the meta device is
    materialised on ``device`` (default CPU) without running PyTorch's own initialisation;
    the running statistics of batch norms are reset, and any other buffer left on the meta
    device is an error naming it. An ``Embedding``'s ``padding_idx`` row is zero, as in
    PyTorch. Tied parameters are filled once.

    Parameters that are ``DTensor``s (FSDP2's ``fully_shard``, tensor parallelism,
    ``distribute_tensor``) are filled rank by rank: each rank makes only its local shard,
    from its region of the whole, without communication, so the gathered parameter equals
    the unsharded one for every world size and mesh. ``threads`` is as for
    :func:`weightinit.initialize` (one per rank suits one process per core).

    Examples
    --------
    >>> import torch
    >>> import weightinit as wi
    >>> from weightinit.torch import initialize_
    >>> nn = torch.nn
    >>> net = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    >>> plan = initialize_(net, seed=0, activation="relu")
    >>> plan["0.weight"].initializer, plan["0.weight"].layout
    (he_normal(), 'out_in')
    >>> key = wi.Key.from_seed(0).fold_in("0.weight")
    >>> alone = wi.he_normal()((256, 784), seed=key, layout="pytorch")
    >>> bool((net[0].weight.detach().numpy() == alone).all())
    True
    """
    torch = torch_module()
    result = plan(module, scheme=scheme, activation=activation, rules=rules)
    tensors = [*module.parameters(), *module.buffers()]
    meta_buffers = {n for n, b in module.named_buffers() if b.is_meta}
    if any(t.is_meta for t in tensors):
        ties = _ties(module)
        module.to_empty(device=device if device is not None else "cpu")
        for names in ties:  # to_empty makes a new tensor for every name: tie them again
            first = module.get_parameter(names[0])
            for other in names[1:]:
                owner_name, _, leaf = other.rpartition(".")
                setattr(module.get_submodule(owner_name), leaf, first)
    elif device is not None:
        module.to(device)
    root = Key.from_seed(seed)  # resolved once: every parameter, sharded or not, shares it
    sharded = {name for name, p in module.named_parameters() if _is_dtensor(p)}
    unsharded = {n: p for n, p in result.items() if n not in sharded}
    values = initialize(unsharded, root, threads=threads)
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name in sharded:
                _fill_shard(parameter, result[name], root.fold_in(name), name, threads)
            else:
                parameter.copy_(torch.from_numpy(values[name]).to(dtype=parameter.dtype))
        reset = _reset_buffers(module)
        left = sorted(meta_buffers - reset)
        if left:
            raise ValueError(
                f"buffers {left} were on the meta device and weightinit.torch does not know "
                "their values; set them after initialize_."
            )
        for owner in module.modules():
            padding = getattr(owner, "padding_idx", None)
            embedding = isinstance(owner, (torch.nn.Embedding, torch.nn.EmbeddingBag))
            if embedding and padding is not None:
                _zero_row(owner.weight, padding % owner.weight.shape[0])
    return result


def _is_dtensor(tensor: Any) -> bool:
    """Whether ``tensor`` is a ``torch.distributed.tensor.DTensor`` (FSDP2, tensor parallel)."""
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # pragma: no cover - PyTorch built without distributed support
        return False
    return isinstance(tensor, DTensor)


def _fill_shard(parameter: Any, p: Param, key: Key, name: str, threads: int | None) -> None:
    """Fill this rank's shard of a ``DTensor`` parameter from its own region of the whole.

    No communication: each rank computes the region of its local shard (``Shard(d)`` on any
    mesh dimension, uneven shards, ``Replicate``) and makes only those values, which equal
    the same slice of the unsharded parameter.
    """
    from torch.distributed.tensor import Replicate
    from torch.distributed.tensor import Shard
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    placements = tuple(parameter.placements)
    if not all(type(pl) in (Shard, Replicate) for pl in placements):
        raise ValueError(
            f"parameter {name!r} is a DTensor with placements {placements}; weightinit.torch "
            "fills Shard and Replicate placements."
        )
    local = parameter.to_local()
    shape, offset = compute_local_shape_and_global_offset(
        tuple(parameter.shape), parameter.device_mesh, placements
    )
    region = tuple(slice(o, o + n) for o, n in zip(offset, shape, strict=True))
    dtype = np.float64 if p.dtype == np.float64 else np.float32
    values = registry.get(p.initializer)._make(p.weight, np.dtype(dtype), key, threads, region)
    torch = torch_module()
    local.copy_(torch.from_numpy(np.ascontiguousarray(values)).to(dtype=local.dtype))


def _zero_row(weight: Any, row: int) -> None:
    """Zero row ``row`` of a weight, or of this rank's shard of it if it holds that row."""
    if not _is_dtensor(weight):
        weight[row].zero_()
        return
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    shape, offset = compute_local_shape_and_global_offset(
        tuple(weight.shape), weight.device_mesh, tuple(weight.placements)
    )
    if offset[0] <= row < offset[0] + shape[0]:  # the local shard holds (part of) the row
        weight.to_local()[row - offset[0]].zero_()


def _ties(module: Any) -> list[list[str]]:
    """The names of each parameter that more than one name refers to."""
    names: dict[int, list[str]] = {}
    for name, parameter in module.named_parameters(remove_duplicate=False):
        names.setdefault(id(parameter), []).append(name)
    return [group for group in names.values() if len(group) > 1]


def _reset_buffers(module: Any) -> set[str]:
    """Reset the running statistics of every norm; return the buffers it set."""
    done: set[str] = set()
    for prefix, owner in module.named_modules():
        reset: Callable[[], None] | None = getattr(owner, "reset_running_stats", None)
        if reset is not None and getattr(owner, "track_running_stats", False):
            reset()
            for name, _ in owner.named_buffers(recurse=False):
                done.add(f"{prefix}.{name}" if prefix else name)
    return done
