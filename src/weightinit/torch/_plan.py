"""A PyTorch model's plan: the module table's slots, a scheme's initializers and the user's
rules, one :class:`~weightinit.Param` per parameter."""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from weightinit import registry
from weightinit._errors import install_hint
from weightinit._fans import Weight
from weightinit.model import Param
from weightinit.schemes import scheme as resolve_scheme
from weightinit.torch._modules import slot

__all__ = ["Plan", "plan"]


def torch_module() -> Any:
    """``torch``, or an ``ImportError`` that says how to install it."""
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
    weight = p.weight
    try:
        std = f"{math.sqrt(init._variance(weight)):.4g}"
    except ValueError:
        std = "-"
    try:
        fan_in, fan_out = str(weight.fans.fan_in), str(weight.fans.fan_out)
    except ValueError:
        fan_in = fan_out = "-"
    shape = "x".join(map(str, p.shape)) or "()"
    options_text = (p.layout if len(p.shape) >= 2 else "-", str(p.groups), str(p.blocks))
    return (name, shape, repr(init), *options_text, fan_in, fan_out, std)


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
        See :mod:`weightinit.schemes`.
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

    Examples
    --------
    >>> import torch
    >>> from weightinit.torch import plan
    >>> p = plan(torch.nn.Conv2d(16, 32, 3, groups=2), activation="relu")
    >>> p["weight"].initializer, p["weight"].groups, p["bias"].initializer
    (he_normal(), 2, zeros())
    """
    torch = torch_module()
    chosen = resolve_scheme(scheme)
    rules = dict(rules or {})
    # nn.Transformer re-draws every weight of two or more dimensions with xavier_uniform_.
    containers = [n for n, m in module.named_modules() if isinstance(m, torch.nn.Transformer)]
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
        rule = _rule(rules, name, owner)
        if isinstance(rule, Param):
            if rule.shape != shape:
                raise ValueError(
                    f"the rule for {name!r} gives shape {rule.shape}; the parameter has {shape}."
                )
            result[name] = rule
            continue
        known = slot(owner, leaf, shape)
        if rule is None and known is None:
            raise ValueError(
                f"parameter {name!r} belongs to a {type(owner).__name__}, a module type "
                "weightinit.torch does not know; give it a rule (rules={"
                f"{name!r}: initializer}} or rules={{{type(owner).__name__}: initializer}})."
            )
        if known is not None:
            inside = any(name.startswith(f"{c}.") or not c for c in containers)
            if inside and len(shape) > 1:
                known = dataclasses.replace(known, redrawn=True)
            init, weight = chosen.initializer(known, activation)
        if rule is not None:
            init = registry.get(rule)
            if known is None:
                weight = Weight(shape, "out_in")
        result[name] = Param.of(init, weight, dtype=dtype)
    return result
