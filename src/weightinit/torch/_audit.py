"""A PyTorch model's values held against a scheme's plan, and μP's optimizer groups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from weightinit.audit import Audit
from weightinit.audit import audit as audit_values
from weightinit.schemes import Scheme
from weightinit.schemes import UnknownValueError
from weightinit.schemes import base_shapes
from weightinit.schemes import widths
from weightinit.torch._plan import padding_rows
from weightinit.torch._plan import plan
from weightinit.torch._plan import torch_module

__all__ = ["audit", "mup_param_groups"]


def audit(
    module: Any,
    *,
    scheme: object = "recommended",
    activation: object = None,
    rules: Mapping[object, object] | None = None,
    roles: Mapping[str, object] | None = None,
) -> Audit:
    """Compare every parameter of ``module`` with what ``scheme`` plans for it: the measured
    mean and standard deviation against the planned ones, within sampling error, and
    constants (zeros, ones, layer scales) held exactly; nothing is changed.

    It catches a residual projection left unscaled, a depth factor put on the wrong
    projections, a zero-init that did not happen; a model that the scheme initialized
    passes. An embedding's padding row (zero by design) is left out of its statistics;
    parameters a rule keeps and weight-norm magnitudes are not audited.

    Parameters are as for :func:`~weightinit.torch.plan`.

    Raises
    ------
    ValueError
        For a model with parameters on the meta device (there are no values to audit), and
        whatever :func:`~weightinit.torch.plan` rejects.

    Examples
    --------
    >>> import torch
    >>> from weightinit.torch import audit, initialize_
    >>> nn = torch.nn
    >>> net = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    >>> _ = initialize_(net, seed=0, activation="relu")
    >>> audit(net, activation="relu").ok
    True
    >>> with torch.no_grad():
    ...     _ = net[0].weight.mul_(1.1)
    >>> [f.name for f in audit(net, activation="relu").failures]
    ['0.weight']
    """
    torch = torch_module()
    meta = [name for name, t in module.named_parameters() if t.is_meta]
    if meta:
        raise ValueError(
            f"audit reads the model's values, and {len(meta)} parameters are on the meta "
            f"device ({', '.join(map(repr, meta[:3]))}{', ...' if len(meta) > 3 else ''}); "
            "initialize the model first."
        )
    planned = plan(module, scheme=scheme, activation=activation, rules=rules, roles=roles)
    padding = {id(weight): row for weight, row in padding_rows(torch, module)}
    values: dict[str, np.ndarray] = {}
    for name, tensor in module.named_parameters():
        if name not in planned:
            continue
        data = tensor.detach()
        if hasattr(data, "full_tensor"):
            data = data.full_tensor()
        array = data.to(device="cpu", dtype=torch.float64).numpy()
        row = padding.get(id(tensor))
        if row is not None and array.ndim == 2:
            array = np.delete(array, row, axis=0)
        values[name] = array
    name = scheme.name if isinstance(scheme, Scheme) else str(scheme)
    roles_of = {n: s.role for n, s in planned.slots.items()}
    return audit_values(values, planned, roles=roles_of, formulas=planned.formulas, scheme=name)


def mup_param_groups(
    module: Any,
    lr: float,
    *,
    base: object,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    rules: Mapping[object, object] | None = None,
    roles: Mapping[str, object] | None = None,
) -> list[dict[str, Any]]:
    """μP's optimizer parameter groups for ``module`` against its ``base`` model (the mup
    package's ``MuAdam`` and ``MuSGD``, as plain groups any optimizer takes).

    ``m`` is how much wider a parameter is than its base (:class:`~weightinit.schemes.Widths`).
    Adam (``"adam"``, also for AdamW): a hidden matrix (wider in both fans) gets ``lr/m``
    (``m`` its fan-in's multiplier) and ``weight_decay·m``, everything else ``lr`` and
    ``weight_decay``. SGD (``"sgd"``): a parameter wider in one dimension (input and output
    weights, biases and gains of the width) gets ``lr·m`` and ``weight_decay/m``, a hidden
    matrix ``lr`` times its fan-out's over its fan-in's multiplier and the weight decay
    divided by that. These are the mup package's ``MuAdam``, ``MuAdamW`` and ``MuSGD``.

    Parameters
    ----------
    module : torch.nn.Module
    lr : float
        The base model's learning rate.
    base : mapping or model
        The base model's shapes by parameter name, or the base model (built on the meta
        device it costs nothing).
    optimizer : {"adam", "sgd"}
    weight_decay : float
        The base model's weight decay.
    rules, roles : mapping, optional
        As for :func:`~weightinit.torch.plan`, for modules the table does not know.

    Examples
    --------
    >>> import torch
    >>> from weightinit.torch import mup_param_groups
    >>> def mlp(width):
    ...     return torch.nn.Sequential(
    ...         torch.nn.Linear(784, width), torch.nn.ReLU(), torch.nn.Linear(width, width),
    ...         torch.nn.ReLU(), torch.nn.Linear(width, 10))
    >>> groups = mup_param_groups(mlp(1024), 1e-3, base=mlp(256))
    >>> [(len(g["params"]), g["lr"]) for g in groups]
    [(5, 0.001), (1, 0.00025)]
    """
    from weightinit._errors import choice_error

    if optimizer not in ("adam", "sgd"):
        raise choice_error("optimizer", optimizer, ("adam", "sgd"))
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise ValueError(f"lr must be a positive number; got {lr!r}.")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)):
        raise TypeError(f"weight_decay must be a number; got {weight_decay!r}.")
    shapes = base_shapes(base)
    planned = plan(module, rules=rules, roles=roles)
    groups: dict[tuple[float, float], list[Any]] = {}
    parameters = dict(module.named_parameters())
    for name, tensor in parameters.items():
        found = planned.slots.get(name)
        factor = decay = 1.0
        if found is not None:
            try:
                multipliers = widths(found, shapes)
            except UnknownValueError as error:
                raise ValueError(f"mup_param_groups: {error}.") from None
            if optimizer == "adam":
                factor, decay = multipliers.adam(), multipliers.adam_decay()
            else:
                factor, decay = multipliers.sgd(), multipliers.sgd_decay()
        groups.setdefault((lr * factor, weight_decay * decay), []).append(tensor)
    return [
        {"params": params, "lr": group_lr, "weight_decay": group_decay}
        for (group_lr, group_decay), params in groups.items()
    ]
