"""Filling a PyTorch model as planned: materialising meta tensors, the values, the buffers,
tied parameters and the shards of ``DTensor`` parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from weightinit import registry
from weightinit._errors import check_threads
from weightinit.families import normal
from weightinit.initializers import Prepared
from weightinit.initializers import write_all
from weightinit.model import Param
from weightinit.seeds import Key
from weightinit.seeds import SeedLike
from weightinit.seeds import check_seed
from weightinit.torch._plan import Plan
from weightinit.torch._plan import aliases_of
from weightinit.torch._plan import padding_rows
from weightinit.torch._plan import plan
from weightinit.torch._plan import torch_module

__all__ = ["initialize_"]


def initialize_(
    module: Any,
    seed: SeedLike,
    *,
    scheme: object = "recommended",
    activation: object = None,
    rules: Mapping[object, object] | None = None,
    buffers: Mapping[str, object] | None = None,
    roles: Mapping[str, object] | None = None,
    device: Any = None,
    threads: int | None = None,
) -> Plan:
    """Fill every parameter of ``module`` in place (no autograd) and return the plan.

    Everything is planned first (:func:`plan`, with the same arguments): an error, which
    lists every problem at once, leaves the model exactly as it was. Then only tensors on
    the meta device are materialised (on ``device``, default CPU), every planned parameter
    is filled, and the buffers are set: a buffer already on a real device keeps its value
    unless ``buffers=`` gives one (a spectral norm's power-iteration vectors follow its
    drawn weight); a buffer on the meta device that is a function of the
    configuration (position ids, token type ids, running statistics, rotary frequencies)
    gets the value a normally built model has. An ``Embedding``'s ``padding_idx`` row is
    zero, as in PyTorch. Tied parameters are filled once; a weight norm's magnitude is the
    norm of its direction, so the layer's weight equals the drawn direction.

    The values equal ``weightinit.initialize(plan(module, ...), seed)``: float32 and float64
    parameters on the CPU are written in place (no copy of the model), float16, bfloat16 and
    other devices' parameters get the float32 values cast by PyTorch through a staging
    buffer of at most 64 MiB, and the bytes do not depend on the device.

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
    result = plan(
        module, scheme=scheme, activation=activation, rules=rules, buffers=buffers, roles=roles
    )
    check_threads(threads)
    check_seed(seed)
    _check_device(torch, device)
    root = Key.from_seed(seed)  # resolved once: every parameter, sharded or not, shares it
    # Nothing has been touched so far; from here on nothing can fail for a planned reason.
    _materialise(torch, module, device)
    if device is not None:
        module.to(device)
    parameters = dict(module.named_parameters())
    with torch.no_grad():
        work: list[Prepared] = []
        staged: list[tuple[Any, Param, Key]] = []
        for name, p in result.items():
            tensor, key = parameters[name], root.fold_in(name)
            if _is_dtensor(tensor):
                _fill_shard(tensor, p, key, threads)
            elif _in_place(torch, tensor):
                out = tensor.detach().numpy()
                whole = [range(d) for d in p.shape]
                work.append(registry.get(p.initializer)._prepare(out, p.weight, whole, seed=key))
            else:
                staged.append((tensor, p, key))
        write_all(work, threads)
        for tensor, p, key in staged:
            _stage(torch, tensor, p, key, threads)
        for name, direction in result.derived.items():
            norm = module.get_submodule(name.rpartition(".")[0])[0]
            _weight_norm(torch, parameters[name], parameters[direction], norm.dim)
        for name, planned in result.buffers.items():
            if planned.action == "spectral":
                owner_name, _, leaf = name.rpartition(".")
                _spectral_vector(torch, module, owner_name, leaf, root.fold_in(name))
            elif planned.value is not None:
                module.get_buffer(name).copy_(planned.value)
        drawn = {id(parameters[name]) for name in result}
        for weight, row in padding_rows(torch, module):
            if id(weight) in drawn:
                _zero_row(weight, row)
    return result


#: The most bytes of float32 values made at once for a parameter that is not filled in place.
STAGING = 64 * 2**20


def _check_device(torch: Any, device: Any) -> None:
    """``ValueError`` for a device the model cannot be filled on (the meta device, an
    unknown or unavailable one), before anything is touched."""
    if device is None:
        return
    try:
        resolved = torch.device(device)
        if resolved.type == "meta":
            raise ValueError("the meta device holds no values")
        torch.empty(0, device=resolved)
    except (RuntimeError, TypeError, ValueError, AssertionError) as error:
        raise ValueError(f"device={device!r} cannot hold the model's values: {error}") from None


def _in_place(torch: Any, tensor: Any) -> bool:
    """Whether the values can be written straight into ``tensor``'s memory."""
    return tensor.device.type == "cpu" and tensor.dtype in (torch.float32, torch.float64)


def _stage(torch: Any, tensor: Any, p: Param, key: Key, threads: int | None) -> None:
    """Fill a parameter of another dtype or device through float32 slabs of at most
    :data:`STAGING` bytes along its first axis (a structured weight is built whole)."""
    init = registry.get(p.initializer)
    weight = p.weight
    host = np.dtype(np.float64 if p.dtype == np.float64 else np.float32)
    if not weight.shape or not init._recipe(weight).elementwise:
        values = init._make(weight, host, key, threads)
        tensor.copy_(torch.from_numpy(np.ascontiguousarray(values)).to(dtype=tensor.dtype))
        return
    row = max(1, math.prod(weight.shape[1:])) * host.itemsize
    step = max(1, STAGING // row)
    for start in range(0, weight.shape[0], step):
        region = (slice(start, min(start + step, weight.shape[0])),)
        values = init._make(weight, host, key, threads, region)
        tensor[region].copy_(torch.from_numpy(values).to(dtype=tensor.dtype))


def _materialise(torch: Any, module: Any, device: Any) -> None:
    """Give every tensor on the meta device real (uninitialised) memory on ``device``
    (default CPU), touching no other tensor, and keep tied parameters tied."""
    if not any(t.is_meta for t in (*module.parameters(), *module.buffers())):
        return
    target = device if device is not None else "cpu"
    # Tied parameters and shared buffers: each owner gets its own new tensor below.
    groups = [
        (kind, names)
        for kind, named in (
            ("_parameters", module.named_parameters(remove_duplicate=False)),
            ("_buffers", module.named_buffers(remove_duplicate=False)),
        )
        for names in aliases_of(named).values()
        if len(names) > 1
    ]

    def real(t: Any) -> Any:
        return torch.empty_like(t, device=target) if t.is_meta else t

    module._apply(real)
    for kind, names in groups:  # tie them again: one tensor under every name
        first_owner, _, first_leaf = names[0].rpartition(".")
        first = getattr(module.get_submodule(first_owner), kind)[first_leaf]
        for other in names[1:]:
            owner_name, _, leaf = other.rpartition(".")
            getattr(module.get_submodule(owner_name), kind)[leaf] = first


def _weight_norm(torch: Any, magnitude: Any, direction: Any, dim: int | None) -> None:
    """A weight norm's magnitude: the norm of the direction over every axis but ``dim``
    (all of them for ``None`` or -1), summed exactly (``math.fsum``), so the layer's weight
    equals the direction on every machine."""
    v = direction.detach().to(torch.float64).cpu().numpy()
    if dim is None or dim == -1 or v.ndim == 0:
        rows = v.reshape(1, -1)
    else:
        rows = np.moveaxis(v, dim, 0).reshape(v.shape[dim], -1)
    norms = [math.sqrt(math.fsum((row * row).tolist())) for row in rows]
    values = torch.tensor(norms, dtype=torch.float64).reshape(magnitude.shape)
    magnitude.copy_(values.to(dtype=magnitude.dtype))


def _spectral_vector(torch: Any, module: Any, path: str, leaf: str, key: Key) -> None:
    """One of a spectral norm's power-iteration vectors (``_u`` or ``_v``), made as
    PyTorch's constructor makes them: a normalised normal vector (here keyed by the buffer's
    name), then, once both are set, its 15 power iterations on the filled weight."""
    norm = module.get_submodule(path)
    original = module.get_submodule(path.rpartition(".")[0]).original.detach()
    matrix = norm._reshape_weight_to_matrix(original)
    size = matrix.shape[0] if leaf == "_u" else matrix.shape[1]
    host = np.float64 if original.dtype == torch.float64 else np.float32
    values = torch.from_numpy(normal(1.0)((size,), host, seed=key))
    vector = torch.nn.functional.normalize(values, dim=0, eps=norm.eps)
    norm.get_buffer(leaf).copy_(vector.to(norm.get_buffer(leaf).dtype))
    if leaf == "_v":
        norm._power_method(matrix, 15)


def _is_dtensor(tensor: Any) -> bool:
    """Whether ``tensor`` is a ``torch.distributed.tensor.DTensor`` (FSDP2, tensor parallel)."""
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # pragma: no cover - PyTorch built without distributed support
        return False
    return isinstance(tensor, DTensor)


def _fill_shard(parameter: Any, p: Param, key: Key, threads: int | None) -> None:
    """Fill this rank's shard of a ``DTensor`` parameter from its own region of the whole.

    No communication: each rank computes the region of its local shard (``Shard(d)`` on any
    mesh dimension, uneven shards, ``Replicate``) and makes only those values, which equal
    the same slice of the unsharded parameter.
    """
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    placements = tuple(parameter.placements)  # Shard and Replicate only: plan() checked
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
