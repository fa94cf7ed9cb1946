"""PyTorch models in one call: a plan of every parameter, then portable, name-keyed values.

Needs the ``torch`` extra (PyTorch is imported when a function here is called).
:func:`plan` reads each parameter's layout, groups and stacked blocks from its module's type;
:func:`initialize_` fills the model in place with ``weightinit.initialize(plan, seed)``: the
same bytes on every machine and device, each parameter keyed by its qualified name.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import numpy as np

from weightinit import presets
from weightinit import registry
from weightinit._engine.keys import Key
from weightinit._engine.keys import SeedLike
from weightinit._errors import choice_error
from weightinit._errors import install_hint
from weightinit.families import normal
from weightinit.families import ones
from weightinit.families import uniform
from weightinit.families import zeros
from weightinit.fans import fans
from weightinit.initializers import Initializer
from weightinit.model import Param
from weightinit.model import initialize
from weightinit.named import glorot_normal
from weightinit.named import glorot_uniform
from weightinit.recommend import recommend
from weightinit.structured import orthogonal

__all__ = ["Plan", "initialize_", "plan"]

SCHEMES = ("recommended", "pytorch")


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"weightinit.torch needs PyTorch: install the torch extra with {install_hint('torch')}."
        ) from None
    return torch


class Plan(dict[str, Param]):
    """What :func:`plan` says each parameter gets, in ``named_parameters()`` order; it
    prints as a table (name, shape, initializer, layout, groups, blocks, fans, std)."""

    def __str__(self) -> str:
        head = ("name", "shape", "initializer", "layout", "groups", "blocks", "fan_in")
        rows: list[tuple[str, ...]] = [(*head, "fan_out", "std")]
        rows += [_row(name, p) for name, p in self.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
        return "\n".join(line.rstrip() for line in lines)


def _row(name: str, p: Param) -> tuple[str, ...]:
    """One row of a plan's table."""
    init = registry.get(p.initializer)
    options = {"layout": p.layout, "groups": p.groups, "blocks": p.blocks}
    try:
        std = f"{math.sqrt(init.variance(p.shape, **options)):.4g}"  # type: ignore[arg-type]
    except ValueError:
        std = "-"
    try:
        f = fans(p.shape, **options)  # type: ignore[arg-type]
        fan_in, fan_out = str(f.fan_in), str(f.fan_out)
    except ValueError:
        fan_in = fan_out = "-"
    shape = "x".join(map(str, p.shape)) or "()"
    options_text = (p.layout if len(p.shape) >= 2 else "-", str(p.groups), str(p.blocks))
    return (name, shape, repr(init), *options_text, fan_in, fan_out, std)


def _symmetric(bound: float) -> Initializer:
    """``U(-bound, bound)``, or zeros for a bound of zero."""
    return uniform(-bound, bound) if bound > 0 else zeros()


def _fan_in_bound(weight: Any) -> float:
    """PyTorch's ``1 / sqrt(fan_in)`` of a weight, its fan-in read from dimension 1 (0 for
    an empty fan-in, as PyTorch does)."""
    receptive = math.prod(weight.shape[2:]) if weight.dim() > 2 else 1
    fan_in = weight.shape[1] * receptive
    return 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0


def _scheme_param(
    module: Any, leaf: str, scheme: str, activation: object
) -> tuple[Initializer, dict[str, Any]] | None:
    """The initializer and the ``Param`` options of parameter ``leaf`` of ``module`` under
    ``scheme``, or ``None`` for a module type this module does not know."""
    torch = _torch()
    nn = torch.nn
    pytorch = scheme == "pytorch"
    weight_init = recommend(activation)
    if isinstance(module, nn.Linear):
        if leaf == "weight":
            init = presets.preset("pytorch.linear") if pytorch else weight_init
            return init, {"layout": "out_in"}
        # MultiheadAttention zeroes its output projection's bias.
        attention = isinstance(module, nn.modules.linear.NonDynamicallyQuantizableLinear)
        bound = _fan_in_bound(module.weight)
        return (_symmetric(bound) if pytorch and not attention else zeros()), {}
    if isinstance(module, nn.Bilinear):
        bound = 1.0 / math.sqrt(module.in1_features)
        if leaf == "weight":
            return (uniform(-bound, bound) if pytorch else weight_init), {"layout": "out_in"}
        return (uniform(-bound, bound) if pytorch else zeros()), {}
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        if leaf == "weight":
            init = presets.preset("pytorch.conv2d") if pytorch else weight_init
            return init, {"layout": "out_in", "groups": module.groups}
        bound = _fan_in_bound(module.weight)
        return (_symmetric(bound) if pytorch else zeros()), {}
    if isinstance(module, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        if leaf == "weight":
            init = presets.preset("pytorch.conv_transpose2d") if pytorch else weight_init
            return init, {"layout": "pytorch_transposed", "groups": module.groups}
        bound = _fan_in_bound(module.weight)
        return (_symmetric(bound) if pytorch else zeros()), {}
    if isinstance(module, (nn.Embedding, nn.EmbeddingBag)):
        return normal(1.0), {"layout": "in_out"}
    if isinstance(module, nn.MultiheadAttention):
        if leaf == "in_proj_weight":  # q, k and v stacked: fans per projection
            return glorot_uniform(), {"layout": "out_in", "blocks": 1 if pytorch else 3}
        if leaf in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
            return glorot_uniform(), {"layout": "out_in"}
        if leaf in ("bias_k", "bias_v"):
            return glorot_normal(), {"layout": "out_in"}
        return zeros(), {}
    if isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
        if isinstance(module, nn.RNNBase):
            gates = {"LSTM": 4, "GRU": 3}.get(module.mode, 1)
        else:
            gates = (
                4 if isinstance(module, nn.LSTMCell) else 3 if isinstance(module, nn.GRUCell) else 1
            )
        if pytorch:
            bound = 1.0 / math.sqrt(module.hidden_size)
            return uniform(-bound, bound), {}
        if leaf.startswith("weight_ih"):
            return glorot_uniform(), {"layout": "out_in", "blocks": gates}
        if leaf.startswith("weight_hh"):
            return orthogonal(), {"layout": "out_in", "blocks": gates}
        if leaf.startswith("weight_hr"):
            return glorot_uniform(), {"layout": "out_in"}
        return zeros(), {}
    norms = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.RMSNorm)
    if isinstance(module, norms):
        return (ones() if leaf == "weight" else zeros()), {}
    return None


def _rule(rules: Mapping[object, object], name: str, module: Any) -> object | None:
    """The rule for parameter ``name`` of ``module``: the first glob pattern that matches
    the qualified name, else the first module class it is an instance of."""
    for key, value in rules.items():
        if isinstance(key, str) and fnmatch.fnmatchcase(name, key):
            return value
    for key, value in rules.items():
        if isinstance(key, type) and isinstance(module, key):
            return value
    return None


def plan(
    module: Any,
    *,
    scheme: str = "recommended",
    activation: object = None,
    rules: Mapping[object, object] | None = None,
) -> Plan:
    """What :func:`initialize_` gives each parameter of ``module``, in
    ``named_parameters()`` order.

    Parameters
    ----------
    module : torch.nn.Module
    scheme : {"recommended", "pytorch"}, default "recommended"
        ``"recommended"``: weights from ``recommend(activation)`` with their true fans
        (groups, and the stacked q/k/v blocks of ``MultiheadAttention``), recurrent input
        weights Glorot per gate and recurrent weights orthogonal per gate, biases zero,
        norms one and zero, embeddings ``N(0, 1)``. ``"pytorch"``: every layer's own PyTorch
        default distribution, drawn portably (inside an ``nn.Transformer``, Glorot uniform
        for every weight of two or more dimensions, as its constructor re-draws them).
    activation : str, callable or None
        The network's activation, as for :func:`weightinit.recommend` (``None``: linear).
    rules : mapping, optional
        Glob patterns on qualified parameter names (``"head.*"``) or module classes
        (``nn.Embedding``), mapped to an initializer (or its name) or a
        :class:`~weightinit.Param`; a rule wins over the scheme. Patterns are tried first,
        in order, then classes.

    Raises
    ------
    ValueError
        For a parameter of a module type this function does not know and no rule covers,
        naming both.
    """
    torch = _torch()
    if scheme not in SCHEMES:
        raise choice_error("scheme", scheme, SCHEMES)
    rules = dict(rules or {})
    # nn.Transformer re-draws every weight of two or more dimensions with xavier_uniform_.
    transformers = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Transformer)]
    result = Plan()
    for name, tensor in module.named_parameters():
        owner_name, _, leaf = name.rpartition(".")
        owner = module.get_submodule(owner_name)
        if isinstance(tensor, torch.nn.parameter.UninitializedParameter):
            raise ValueError(
                f"parameter {name!r} of a {type(owner).__name__} has no shape yet (a lazy "
                "module); run one forward pass before planning its initialisation."
            )
        shape = tuple(tensor.shape)
        dtype = np.float64 if tensor.dtype == torch.float64 else np.float32
        known = _scheme_param(owner, leaf, scheme, activation)
        inside = any(name.startswith(f"{t}.") or not t for t in transformers)
        if scheme == "pytorch" and inside and len(shape) > 1:
            known = glorot_uniform(), {"layout": "out_in"}
        rule = _rule(rules, name, owner)
        if isinstance(rule, Param):
            if rule.shape != shape:
                raise ValueError(
                    f"the rule for {name!r} gives shape {rule.shape}; the parameter has {shape}."
                )
            result[name] = rule
            continue
        if rule is None and known is None:
            raise ValueError(
                f"parameter {name!r} belongs to a {type(owner).__name__}, a module type "
                "weightinit.torch does not know; give it a rule (rules={"
                f"{name!r}: initializer}} or rules={{{type(owner).__name__}: initializer}})."
            )
        options = known[1] if known is not None else {"layout": "out_in"}
        init = registry.get(rule) if rule is not None else known[0]  # type: ignore[index]
        result[name] = Param(init, shape, dtype=dtype, **options)
    return result


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
    torch = _torch()
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
    values = registry.get(p.initializer)(
        p.shape,
        dtype,
        seed=key,
        layout=p.layout,
        groups=p.groups,
        blocks=p.blocks,
        region=region,
        threads=threads,
    )
    torch = _torch()
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
