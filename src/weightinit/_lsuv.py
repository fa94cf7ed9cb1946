"""Layer-sequential unit-variance (LSUV) initialisation: rescale weights from data.

Mishkin & Matas (2015) start from orthogonal weights, then walk through the network one layer
at a time: push a batch through, measure the standard deviation of the layer's output, divide
the layer's weights by it, and repeat until the output std is close to the target.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit._errors import integer
from weightinit._errors import real

__all__ = ["LSUVLayer", "LSUVReport", "lsuv"]

Array = npt.NDArray[Any]
FloatArray = npt.NDArray[np.floating[Any]]
Forward = Callable[[Any, Any], Sequence[Array]]

# A layer whose output std moves by less than this fraction of the relative rescaling is
# taken not to depend on its weights (a linear layer moves by the full fraction).
_MIN_RESPONSE = 1e-3


@dataclass(frozen=True)
class LSUVLayer:
    """What :func:`lsuv` did to one layer.

    ``layer`` counts from 1; ``initial_std`` is the output std before any rescaling,
    ``std`` the one after the last; ``iterations`` is the number of rescalings applied
    (0 if the layer was already within ``tol``); ``scale`` is the factor the weights were
    multiplied by in all.
    """

    layer: int
    iterations: int
    initial_std: float
    std: float
    scale: float
    converged: bool


@dataclass(frozen=True)
class LSUVReport:
    """The result of :func:`lsuv`: the target, the tolerance and one entry per layer."""

    target_std: float
    tol: float
    max_iter: int
    layers: tuple[LSUVLayer, ...]

    @property
    def converged(self) -> bool:
        """Whether every layer's output std ended within ``tol`` of ``target_std``."""
        return all(layer.converged for layer in self.layers)

    def __str__(self) -> str:
        head = f"LSUV: target std {self.target_std:g} +- {self.tol:g}, at most {self.max_iter} "
        head += "rescalings per layer"
        columns = f"{'layer':>5} {'std before':>10} {'std after':>10} {'scale':>10} {'iters':>5} ok"
        rows = [head, columns, "-" * len(columns)]
        for s in self.layers:
            rows.append(
                f"{s.layer:5d} {s.initial_std:10.4g} {s.std:10.4g} {s.scale:10.4g} "
                f"{s.iterations:5d} {'yes' if s.converged else 'no'}"
            )
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: the settings, ``converged`` and a list of per-layer dicts."""
        data = asdict(self)
        data["layers"] = list(data["layers"])
        data["converged"] = self.converged
        return data


def lsuv(
    weights: Sequence[FloatArray],
    forward: Forward,
    x: Any,
    *,
    target_std: float = 1.0,
    tol: float = 0.05,
    max_iter: int = 10,
) -> LSUVReport:
    """Rescale each layer's weights in place until its output has std ``target_std``.

    Layer by layer, from the first: run ``forward(weights, x)``, measure the standard
    deviation ``s`` of that layer's output over every element, and multiply the layer's
    weights by ``target_std / s``; repeat until ``|s - target_std| <= tol`` or the layer has
    been rescaled ``max_iter`` times. A layer that does not converge is reported
    (``converged=False``), not raised. Earlier layers are fixed before later ones are
    measured, so each layer sees inputs of the right scale.

    Parameters
    ----------
    weights : list of float ndarrays
        The layers' weights, already initialised (the paper uses :func:`orthogonal`). They
        are rescaled in place: the same array objects hold the result.
    forward : callable
        ``forward(weights, x)`` runs the network on ``x`` with ``weights`` and returns a list
        of arrays, the output of each layer before its activation (``x @ W + b``), one per
        weight and in the same order. It must read the arrays in ``weights`` on every call.
    x : array_like
        A batch of inputs, passed to ``forward`` unchanged (the paper uses one minibatch).
    target_std : float
        The output standard deviation to reach (1 in the paper).
    tol : float
        How close to ``target_std`` is close enough; smaller than ``target_std``.
    max_iter : int
        The most rescalings per layer.

    Returns
    -------
    LSUVReport
        ``report.layers`` has, per layer, the number of rescalings, the std before and after
        and whether it converged; ``report.converged`` is true when every layer did.

    Raises
    ------
    TypeError
        ``weights`` is not a list of float ndarrays, ``forward`` is not callable or returns
        something other than a list of ndarrays, or a setting has the wrong type.
    ValueError
        ``forward`` returns the wrong number of outputs, or non-finite values; a layer's
        output has std 0 or does not change when its weights are rescaled; a setting is out
        of range.

    The arguments are all checked before any weight changes; an error met while running
    ``forward`` leaves the layers before the failing one rescaled.

    Notes
    -----
    The output of a layer ``h = a @ W + b`` is linear in ``W``, so without a bias one
    rescaling by ``target_std / std(h)`` lands exactly on the target and the second
    measurement confirms it; a bias, batch normalisation or any other non-linear dependence
    is what the repetition is for.

    References
    ----------
    D. Mishkin and J. Matas, "All you need is a good init", ICLR 2016, arXiv:1511.06422.

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> x = wi.scaled_normal(1.0)((256, 64), seed=0)
    >>> weights = [wi.orthogonal()((64, 64), seed=i) for i in range(6)]
    >>> def forward(weights, x):
    ...     outputs, a = [], x
    ...     for w in weights:
    ...         h = a @ w
    ...         outputs.append(h)
    ...         a = np.maximum(h, 0.0)
    ...     return outputs
    >>> report = wi.lsuv(weights, forward, x)
    >>> report.converged, [layer.iterations for layer in report.layers]
    (True, [0, 1, 1, 1, 1, 1])
    >>> all(abs(float(h.std()) - 1.0) <= 0.05 for h in forward(weights, x))
    True
    """
    arrays = _check_weights(weights)
    if not callable(forward):
        raise TypeError(f"forward must be a callable forward(weights, x); got {forward!r}.")
    target = real("target_std", target_std, positive=True)
    tolerance = real("tol", tol, positive=True)
    if not tolerance < target:
        raise ValueError(
            f"tol must be smaller than target_std, or a std near 0 would count as reached; "
            f"got tol={tol!r} with target_std={target_std!r}."
        )
    limit = _check_max_iter(max_iter)

    layers: list[LSUVLayer] = []
    for index, w in enumerate(arrays):
        std = _measure(forward, weights, x, index, len(arrays))
        if std == 0.0:
            raise ValueError(
                f"layer {index + 1}'s output has std 0 on x, so it does not depend on "
                f"weights[{index}] (all-zero weights or inputs?) and cannot be rescaled; "
                "start from random weights, e.g. wi.orthogonal()."
            )
        initial, total, iterations = std, 1.0, 0
        while abs(std - target) > tolerance and iterations < limit:
            scale = target / std
            _rescale(w, scale, index)
            total *= scale
            iterations += 1
            previous, std = std, _measure(forward, weights, x, index, len(arrays))
            # A factor within a few ulps of 1 may leave the weights as they were; only a
            # real rescaling can show that the output ignores them.
            visible = abs(scale - 1.0) > 64 * float(np.finfo(w.dtype).eps)
            if visible and abs(std - previous) <= _MIN_RESPONSE * abs(scale - 1.0) * previous:
                raise ValueError(
                    f"layer {index + 1}'s output std stayed at {previous:.6g} when "
                    f"weights[{index}] was multiplied by {scale:.6g}, so it does not depend on "
                    f"those weights; forward must return the output of layer {index + 1} "
                    f"computed from weights[{index}] itself (not a copy made earlier)."
                )
        layers.append(
            LSUVLayer(
                layer=index + 1,
                iterations=iterations,
                initial_std=initial,
                std=std,
                scale=total,
                converged=abs(std - target) <= tolerance,
            )
        )
    return LSUVReport(target_std=target, tol=tolerance, max_iter=limit, layers=tuple(layers))


def _check_weights(weights: object) -> list[FloatArray]:
    if not isinstance(weights, (list, tuple)):
        raise TypeError(
            f"weights must be a list of float ndarrays (rescaled in place); got "
            f"{type(weights).__name__}."
        )
    if not weights:
        raise ValueError("weights must hold at least one array; got an empty list.")
    arrays: list[FloatArray] = []
    for i, w in enumerate(weights):
        if not isinstance(w, np.ndarray):
            raise TypeError(
                f"weights must be a list of float ndarrays; weights[{i}] is "
                f"{type(w).__name__}, use np.asarray(..., dtype=np.float32) first."
            )
        if not np.issubdtype(w.dtype, np.floating):
            raise TypeError(
                f"weights must be a list of float ndarrays; weights[{i}] has dtype {w.dtype.name}."
            )
        if w.size == 0:
            raise ValueError(f"weights[{i}] is empty (shape {w.shape}); there is nothing to scale.")
        if not w.flags.writeable:
            raise ValueError(f"weights[{i}] is read-only; lsuv rescales weights in place.")
        if not np.isfinite(w).all():
            raise ValueError(f"weights[{i}] holds non-finite values (inf or nan).")
        for j, earlier in enumerate(arrays):
            if np.may_share_memory(w, earlier):
                raise ValueError(
                    f"weights[{i}] shares memory with weights[{j}]; lsuv rescales each layer "
                    "on its own, so tied weights cannot be given twice."
                )
        arrays.append(w)
    return arrays


def _check_max_iter(value: object) -> int:
    return integer("max_iter", value, minimum=1)


def _measure(forward: Forward, weights: object, x: Any, index: int, count: int) -> float:
    """Run ``forward`` and return the std (in float64) of layer ``index``'s output."""
    outputs = forward(weights, x)
    if isinstance(outputs, np.ndarray) or not isinstance(outputs, Sequence):
        raise TypeError(
            f"forward must return a list of arrays, one per layer; got {type(outputs).__name__}."
        )
    if len(outputs) != count:
        raise ValueError(
            f"forward returned {len(outputs)} outputs for {count} weights; it must return "
            "one pre-activation array per weight, in the same order."
        )
    out = outputs[index]
    if not isinstance(out, np.ndarray):
        raise TypeError(
            f"forward must return a list of arrays; output {index} is {type(out).__name__}."
        )
    if not np.issubdtype(out.dtype, np.number) or np.issubdtype(out.dtype, np.complexfloating):
        raise TypeError(
            f"forward must return arrays of real numbers; output {index} has dtype "
            f"{out.dtype.name}."
        )
    if out.size == 0:
        raise ValueError(f"forward's output {index} is empty (shape {out.shape}).")
    with np.errstate(over="ignore", invalid="ignore"):
        std = float(np.std(out, dtype=np.float64))
    bad = int(out.size - np.count_nonzero(np.isfinite(out)))
    if bad:
        raise ValueError(
            f"forward's output {index} (layer {index + 1}) has non-finite values "
            f"({bad} of {out.size} are inf or nan); check x and the weights."
        )
    if not math.isfinite(std):
        raise ValueError(
            f"forward's output {index} (layer {index + 1}) is finite but its standard "
            f"deviation overflows float64 (largest |value| {float(np.abs(out).max()):.3g}); "
            "check the scale of x and the weights."
        )
    return std


def _rescale(w: FloatArray, scale: float, index: int) -> None:
    """``w *= scale`` in place, unless that would overflow ``w``'s dtype or flush it to 0."""
    largest = float(np.max(np.abs(w)))
    limit = float(np.finfo(w.dtype).max)
    if not largest * scale < limit:
        raise ValueError(
            f"rescaling weights[{index}] by {scale:.6g} would overflow {w.dtype.name} "
            f"(largest |weight| {largest:.6g}); use a wider dtype or smaller inputs."
        )
    if not largest * scale >= float(np.finfo(w.dtype).smallest_subnormal):
        raise ValueError(
            f"rescaling weights[{index}] by {scale:.6g} would flush every weight to zero in "
            f"{w.dtype.name} (largest |weight| {largest:.6g}); use a wider dtype or larger "
            "inputs."
        )
    w *= scale
