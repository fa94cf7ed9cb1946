"""What an initializer does to activations and gradients through a deep stack, as one call.

The experiment: ``batch`` unit-normal inputs of width ``width`` go through ``depth`` bias-free
(or constant-bias) dense layers ``h_l = a_{l-1} @ W_l + bias``, ``a_l = f(h_l)``; a unit-normal
gradient enters at the top and flows back. Each layer's statistics sit beside the
infinite-width (mean-field) prediction of the same quantity. What it returns
(:class:`Report`, :class:`LayerStats`, :class:`Comparison`) is defined, printed and drawn in
:mod:`weightinit.report`, and importable from here too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from weightinit import families
from weightinit import registry as _registry
from weightinit._activations import lookup
from weightinit._activations import resolve
from weightinit._errors import integer
from weightinit._errors import real
from weightinit._quadrature import expect
from weightinit.initializers import Initializer
from weightinit.report import BINS
from weightinit.report import Comparison
from weightinit.report import LayerStats
from weightinit.report import Report
from weightinit.report import report_json as report_json
from weightinit.seeds import Key
from weightinit.seeds import SeedLike
from weightinit.seeds import check_seed

__all__ = ["Comparison", "LayerStats", "Report", "compare", "diagnose"]

Array = npt.NDArray[Any]


def _resolved(seed: SeedLike) -> int | Key:
    """The seed to report: an int as it is, any other seed as the ``Key`` it resolves to
    (which gives the same report again)."""
    check_seed(seed)
    if seed is not None and hasattr(seed, "__index__"):
        return integer("seed", seed)
    return Key.from_seed(seed)


def _children(seed: SeedLike, count: int) -> tuple[int | Key, list[np.random.SeedSequence]]:
    """The seed to report (see :func:`_resolved`) and ``count`` independent child sequences
    of it."""
    used = _resolved(seed)
    entropy = used if isinstance(used, int) else list(used.words)
    return used, np.random.SeedSequence(entropy).spawn(count)


def _derivative(
    name: str | None, fn: Callable[[Array], Array], params: dict[str, Any] | None = None
) -> Callable[[Array], Array]:
    entry = lookup(name) if name is not None else None
    if entry is not None and entry.derivative is not None:
        known = entry
        bound = params or {}
        return lambda x: known.slope(x, **bound)  # type: ignore[return-value]

    def central(x: Array) -> Array:
        step = 1e-3
        return ((fn(x + step) - fn(x - step)) / (2 * step)).astype(x.dtype)

    return central


def _saturation(name: str | None, fn: Callable[[Array], Array]) -> Callable[[Array, Array], Array]:
    test = lookup(name).saturation if name is not None else None
    if test is not None:
        known = test
        return lambda a, h: known(h, a)  # the table's tests take (pre-activation, activation)
    if name is not None:
        return lambda a, h: np.zeros(a.shape, dtype=bool)
    # A callable: saturated where its slope is under 1% of its steepest slope on [-3, 3].
    probe = np.linspace(-3.0, 3.0, 601)
    slope = np.abs(np.gradient(np.asarray(fn(probe), dtype=np.float64), probe)).max()
    if slope == 0.0:
        return lambda a, h: np.zeros(a.shape, dtype=bool)
    deriv = _derivative(None, fn)
    return lambda a, h: (np.abs(deriv(h)) < 0.01 * slope) & (a != 0)


def _predicted_stds(
    fn: Callable[[Array], Array], weight_variance: float, width: int, bias: float, depth: int
) -> list[float]:
    """Iterate the mean-field map ``q_l = n Var(W) E[f(sqrt(q_{l-1}) z + b)^2]``."""
    if not math.isfinite(weight_variance):
        return [math.nan] * depth
    second = 1.0  # E[a_0^2] for unit-normal inputs
    stds: list[float] = []
    for _ in range(depth):
        q = width * weight_variance * second
        if not math.isfinite(q) or q > 1e300:
            stds.extend([math.inf] * (depth - len(stds)))
            break
        root = math.sqrt(q)

        def shifted(z: Array, r: float = root) -> Array:
            return np.asarray(fn(r * z + bias), dtype=np.float64)

        try:
            second = expect(lambda z: shifted(z) ** 2, abs_tol=1e-300)
            # E[f] may vanish (odd f): its tolerance is set by the size of f.
            first = expect(shifted, abs_tol=1e-12 * math.sqrt(second))
        except ValueError:
            stds.extend([math.nan] * (depth - len(stds)))
            break
        stds.append(math.sqrt(max(second - first * first, 0.0)))
    return stds


def diagnose(
    init: object,
    activation: object,
    *,
    depth: int = 5,
    width: int = 100,
    batch: int = 1000,
    seed: SeedLike = 0,
    bias: float = 0.0,
    **params: Any,
) -> Report:
    """Push unit-normal inputs through a deep dense stack and report what happens.

    Parameters
    ----------
    init : Initializer or str
        The weight initializer (or its name, as for :func:`weightinit.get`). Weights are
        ``(width, width)`` in layout ``"in_out"`` (``h = a @ W``).
    activation : str, callable or None
        As for :func:`weightinit.recommend`, with its parameters as keywords
        (``negative_slope=0.2``).
    depth, width, batch : int
        Number of layers, units per layer, and inputs.
    seed : int, SeedSequence, Generator, Key or None
        Seeds the inputs, the weights and the upstream gradient. ``report.seed`` is what was
        used: the int, or the :class:`~weightinit.Key` any other seed resolved to (pass it
        again to get the same report).
    bias : float
        A constant added to every pre-activation.
    **params
        The activation's parameters (``negative_slope`` for leaky ReLU, ``alpha`` for ELU).

    Returns
    -------
    Report
        ``report.layers`` (one :class:`LayerStats` per layer), ``report.verdict`` (one of
        ``"healthy"``, ``"vanishing"``, ``"exploding"``, ``"saturated"``,
        ``"collapsed"``) and ``report.explanation``.

    Examples
    --------
    >>> import weightinit as wi
    >>> report = wi.diagnose("he_normal", "relu", depth=5, seed=0)
    >>> report.verdict
    'healthy'
    >>> round(report.layers[-1].predicted_std, 2)      # the infinite-width value
    0.83
    >>> abs(report.layers[-1].std - 0.83) < 0.25        # one network of width 100
    True
    >>> wi.diagnose(wi.scaled_normal(0.01), "tanh").verdict
    'vanishing'
    """
    initializer = _registry.get(init)
    depth = integer("depth", depth, minimum=1)
    width = integer("width", width, minimum=1)
    batch = integer("batch", batch, minimum=1)
    bias = real("bias", bias)
    name, fn = resolve(activation, params)
    label = name or getattr(activation, "__name__", "callable")
    if params:
        label = f"{label}({', '.join(f'{k}={v!r}' for k, v in params.items())})"
    deriv = _derivative(name, fn, params)
    saturated_at = _saturation(name, fn)

    used, children = _children(seed, depth + 2)
    dtype = np.float32
    x = families.scaled_normal(1.0)((batch, width), dtype, seed=children[0])
    upstream = families.scaled_normal(1.0)((batch, width), dtype, seed=children[1])
    weights = [initializer((width, width), dtype, seed=children[2 + i]) for i in range(depth)]

    a = x
    slopes: list[Array] = []
    raw: list[dict[str, Any]] = []
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        for w in weights:
            h = a @ w
            if bias:
                h += dtype(bias)
            a = np.asarray(fn(h), dtype=dtype)
            slopes.append(deriv(h))
            raw.append(_layer_numbers(a, h, saturated_at))
        grad = upstream * slopes[-1]
        norms = [0.0] * depth
        norms[-1] = _norm(grad)
        for i in range(depth - 2, -1, -1):
            grad = (grad @ weights[i + 1].T) * slopes[i]
            norms[i] = _norm(grad)

    variance = _weight_variance(initializer, width)
    predicted = _predicted_stds(fn, variance, width, float(bias), depth)
    layers = [
        LayerStats(layer=i + 1, grad_norm=norms[i], predicted_std=predicted[i], **raw[i])
        for i in range(depth)
    ]
    verdict, explanation = _verdict(layers, label)
    return Report(
        init=repr(initializer),
        activation=str(label),
        depth=depth,
        width=width,
        batch=batch,
        seed=used,
        bias=bias,
        layers=layers,
        verdict=verdict,
        explanation=explanation,
    )


def _norm(grad: Array) -> float:
    """Frobenius norm; inf once the gradient has overflowed (inf * 0 gives NaN entries)."""
    value = float(np.linalg.norm(grad.astype(np.float64)))
    return value if math.isfinite(value) else math.inf


def _weight_variance(init: Initializer, width: int) -> float:
    """The weights' variance if the mean-field map applies (zero-mean weights), else NaN."""
    try:
        variance = init.variance((width, width))
        mean = init.recipe((width, width)).mean()
    except (ValueError, TypeError):  # no common per-element mean and variance
        return math.nan
    return variance if mean == 0.0 else math.nan


def _layer_numbers(
    a: Array, h: Array, saturated_at: Callable[[Array, Array], Array]
) -> dict[str, Any]:
    """Statistics of one layer, in float64, from data centred before squaring."""
    f64 = np.float64
    a64 = a.astype(f64)
    column = a64.mean(axis=0)
    centred = a64 - column
    centred *= centred
    unit_var = centred.mean(axis=0)
    total = float(column.sum()) * a.shape[0]
    # Pooled variance = mean within-unit variance + variance of the unit means (no
    # cancellation, however large the mean is against the spread).
    pooled_var = float(unit_var.mean()) + float(column.var())
    finite = math.isfinite(total) and math.isfinite(pooled_var)
    low, high = (float(a.min()), float(a.max())) if finite else (-1.0, 1.0)
    if low == high:
        low, high = low - 0.5, high + 0.5
    if finite:
        scaled = (a64 - low) * (BINS / (high - low))
        bins = np.minimum(scaled.astype(np.intp), BINS - 1)
        counts = np.bincount(bins.ravel(), minlength=BINS)
    else:
        counts = np.zeros(BINS, dtype=np.intp)
    edges = np.linspace(low, high, BINS + 1)
    is_zero = a == 0.0
    return {
        "mean": total / a.size,
        "std": math.sqrt(pooled_var) if finite else math.inf,
        "unit_std": float(np.sqrt(unit_var).mean()) if finite else math.inf,
        "across_units": float(a.std(axis=1).mean()) if finite else math.inf,
        "pre_std": float(h.std(dtype=f64)),
        "saturated": float(np.mean(saturated_at(a, h))),
        "zeros": float(is_zero.mean()),
        "dead_units": int(is_zero.all(axis=0).sum()),
        "histogram": (tuple(int(c) for c in counts), tuple(float(e) for e in edges)),
    }


def _verdict(layers: list[LayerStats], label: object) -> tuple[str, str]:
    first, last = layers[0], layers[-1]
    grads = (
        f"the gradient norm goes from {last.grad_norm:.3g} at the top to "
        f"{first.grad_norm:.3g} at layer 1"
    )
    if not all(math.isfinite(s.std) for s in layers) or last.std > 10.0 or last.pre_std > 1e3:
        return "exploding", (
            f"Activations grow without bound through depth (std {last.std:.3g} at layer "
            f"{last.layer}); {grads}."
        )
    if last.saturated > 0.3:
        return "saturated", (
            f"{last.saturated:.0%} of the {label} activations sit on a flat part of the "
            f"function at layer {last.layer}, where its slope is nearly zero; {grads}."
        )
    ratio = (last.std / first.std) ** 2 if first.std > 0 else 0.0
    if last.std < 0.05 or (len(layers) >= 3 and ratio < 0.1):
        return "vanishing", (
            f"The activations' spread shrinks from std {first.std:.3g} at layer 1 to "
            f"{last.std:.3g} at layer {last.layer}, so the signal fades with depth; {grads}."
        )
    if ratio > 10.0:
        return "exploding", (
            f"The activations' spread grows from std {first.std:.3g} at layer 1 to "
            f"{last.std:.3g} at layer {last.layer}; {grads}."
        )
    if last.std > 0 and last.across_units < 1e-6 * last.std:
        return "collapsed", (
            "Every unit computes the same function of the input (the weights do not break "
            "the symmetry between units), so the layer is as narrow as a single unit."
        )
    if last.unit_std < 0.1 * last.std:
        return "collapsed", (
            f"Each unit barely responds to its input (mean per-unit std {last.unit_std:.3g} "
            f"against a pooled std of {last.std:.3g}): units differ from one another, not "
            "from input to input."
        )
    return "healthy", (
        f"The activations keep their spread through depth (std {first.std:.3g} at layer 1, "
        f"{last.std:.3g} at layer {last.layer}); {grads}."
    )


def compare(
    inits: Sequence[object] | Mapping[str, object], activation: object, **kwargs: Any
) -> Comparison:
    """Run :func:`diagnose` for several initializers on the same inputs and gradient.

    ``inits`` is a sequence of initializers (or names), or a mapping of labels to them; the
    labels name the rows. ``kwargs`` go to :func:`diagnose` (``depth``, ``seed``, the
    activation's parameters, ...).

    Examples
    --------
    >>> import weightinit as wi
    >>> table = wi.compare(["glorot_normal", "he_normal"], "relu", depth=5)
    >>> [r.verdict for r in table.reports]
    ['vanishing', 'healthy']
    >>> table = wi.compare({"N(0,1)": wi.normal(1.0), "Xavier": "glorot_normal"}, "tanh")
    >>> [(r.name, r.verdict) for r in table.reports]
    [('N(0,1)', 'saturated'), ('Xavier', 'healthy')]
    """
    labelled = dict(inits) if isinstance(inits, Mapping) else None
    if labelled is None and (
        isinstance(inits, (str, Initializer)) or not isinstance(inits, Sequence)
    ):
        raise TypeError(
            "inits must be a sequence of initializers or names, or a mapping of labels to "
            f"them; got {inits!r}."
        )
    if not inits:
        raise ValueError("inits must name at least one initializer.")
    # Resolved once, so that every initializer meets the same inputs and gradient even for a
    # Generator or None seed.
    kwargs["seed"] = _resolved(kwargs.get("seed", 0))
    if labelled is not None:
        return Comparison(
            [
                dataclasses.replace(diagnose(init, activation, **kwargs), label=str(label))
                for label, init in labelled.items()
            ]
        )
    return Comparison([diagnose(init, activation, **kwargs) for init in inits])
