"""How a signal propagates through a real model at initialization: the per-layer statistics a
framework's ``diagnose`` gathers, the verdicts they lead to, and their table, text
histograms, JSON and plots.

``weightinit.torch.diagnose`` and ``weightinit.jax.diagnose`` run one forward and backward
pass of the user's model and reduce each layer's output as the pass goes, into a
:class:`LayerSignal`; :func:`verdicts` reads the statistics and names the layer and the
cause of what is wrong, each with the scheme or rule that fixes it; :class:`SignalReport`
shows it all.

The statistics of an output ``x`` with channels on one axis (a convolution's ``C`` of
``(N, C, H, W)``, a transformer's last axis) are those of the signal-propagation plots of
Brock, De and Smith (2021, "Characterizing signal propagation to close the performance gap
in unnormalized ResNets"): the *average channel squared mean* ``mean_c (mean_{n,h,w} x)^2``
and the *average channel variance* ``mean_c var_{n,h,w}(x)``; besides them the pooled mean
and standard deviation, ``max |x|``, the fraction of channels that are zero for every
input (dead units after a ReLU), the fraction of saturated values after a ``tanh`` or a
sigmoid (within 1% of their bounds), and the count of non-finite values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from weightinit._text import blocks
from weightinit._text import side_by_side
from weightinit.audit import Audit
from weightinit.report import BINS
from weightinit.report import _json_safe
from weightinit.report import _pyplot

__all__ = [
    "EXPLODING",
    "GROWING",
    "LayerSignal",
    "OutputSignal",
    "SignalReport",
    "Verdict",
    "saturation",
    "summarize",
    "verdicts",
]

#: A forward or backward profile that changes by more than this factor from the first layer
#: to some later one is exploding (or, by its inverse, vanishing).
EXPLODING = 1e3
#: ... and by more than this factor, growing (or shrinking): a warning.
GROWING = 10.0
#: A residual branch whose variance is more than this times its stream's dominates it (a
#: healthy pre-norm transformer's first blocks come near 1).
DOMINATING = 4.0
#: Dead or saturated fractions above this are a verdict.
DEAD = 0.5
SATURATED = 0.3
#: A first loss this far from ``ln(classes)`` (in nats) is a verdict.
LOSS_GAP = 1.0


@dataclass(frozen=True)
class LayerSignal:
    """One layer's output over the batch, and the gradient with respect to it.

    ``index`` counts the layers in the order the forward pass ran them. ``branch_var`` and
    ``stream_var`` are a residual block's branch ``y - x`` and its input ``x`` (``None``
    elsewhere); ``attention_logit_std`` and ``attention_entropy`` (in nats, averaged over
    heads and queries) an attention layer's (``None`` elsewhere). ``grad_rms`` is the root
    mean square of the loss's gradient with respect to the output (``None`` without a
    backward pass).
    """

    name: str
    kind: str
    index: int
    mean: float
    std: float
    channel_sq_mean: float
    channel_var: float
    max_abs: float
    dead: float
    saturated: float
    nonfinite: int
    grad_rms: float | None = None
    branch_var: float | None = None
    stream_var: float | None = None
    attention_logit_std: float | None = None
    attention_entropy: float | None = None
    histogram: tuple[tuple[int, ...], tuple[float, ...]] = field(default=((), ()), repr=False)
    #: The output's shape (the batch first).
    shape: tuple[int, ...] = ()

    @property
    def branch_ratio(self) -> float | None:
        """The residual branch's variance over the stream's (``None`` outside blocks)."""
        if self.branch_var is None or not self.stream_var:
            return None
        return self.branch_var / self.stream_var


@dataclass(frozen=True)
class OutputSignal:
    """The model's output: the logits' standard deviation and, with a loss, the first loss
    beside ``ln(classes)``, what a model that knows nothing yet should score."""

    logit_std: float
    loss: float | None = None
    classes: int | None = None

    @property
    def expected_loss(self) -> float | None:
        """``ln(classes)``: the cross-entropy of a uniform prediction."""
        return math.log(self.classes) if self.classes and self.classes > 1 else None


@dataclass(frozen=True)
class Verdict:
    """What is wrong, where, why, and what fixes it."""

    layer: str
    problem: str
    cause: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.layer}: " if self.layer else ""
        return f"{where}{self.problem}. {self.cause} Fix: {self.fix}"


def saturation(kind: str) -> str | None:
    """Which bounds an activation of class or name ``kind`` saturates at: ``"tanh"`` (±1),
    ``"sigmoid"`` (0 and 1) or ``None``. Gated units whose names mention a tanh or a sigmoid
    (``GELUTanh``, ``SiLU``'s ``x·sigmoid(x)``, ``LogSigmoid``) are unbounded: ``None``.

    Examples
    --------
    >>> from weightinit.signals import saturation
    >>> saturation("Tanh"), saturation("Hardsigmoid"), saturation("PytorchGELUTanh")
    ('tanh', 'sigmoid', None)
    """
    lowered = kind.lower()
    if any(word in lowered for word in ("gelu", "silu", "swish", "logsigmoid", "shrink")):
        return None
    if "tanh" in lowered:
        return "tanh"
    if "sigmoid" in lowered:
        return "sigmoid"
    return None


def summarize(
    values: Any, *, channel_axis: int = -1, kind: str = "", bins: int = BINS
) -> dict[str, Any]:
    """The statistics of :class:`LayerSignal` of one output, reduced in float32 (NumPy).

    Examples
    --------
    >>> import numpy as np
    >>> from weightinit.signals import summarize
    >>> x = np.maximum(np.random.default_rng(0).standard_normal((64, 8)), 0)
    >>> x[:, 0] = 0  # one dead unit of eight
    >>> s = summarize(x, kind="ReLU")
    >>> s["dead"], s["nonfinite"]
    (0.125, 0)
    """
    x = np.asarray(values, dtype=np.float32)
    finite = np.isfinite(x)
    nonfinite = int(x.size - np.count_nonzero(finite))
    if nonfinite:
        x = np.where(finite, x, np.float32(0))
    if x.ndim == 0:
        x = x.reshape(1, 1)
    elif x.ndim == 1:
        x = x.reshape(-1, 1)
    moved = np.moveaxis(x, channel_axis, -1).reshape(-1, x.shape[channel_axis])
    channel_mean = moved.mean(axis=0, dtype=np.float64)
    channel_var = moved.var(axis=0, dtype=np.float64)
    top = float(np.abs(x).max()) if x.size else 0.0
    edges = np.linspace(-top, top, bins + 1) if top > 0 else np.linspace(-1.0, 1.0, bins + 1)
    counts, _ = np.histogram(x, bins=edges)
    rule = saturation(kind)
    if rule == "tanh":
        saturated = float(np.mean(np.abs(x) > 0.99)) if x.size else 0.0
    elif rule == "sigmoid":
        saturated = float(np.mean((x < 0.01) | (x > 0.99))) if x.size else 0.0
    else:
        saturated = 0.0
    return {
        "mean": float(x.mean(dtype=np.float64)) if x.size else 0.0,
        "std": float(x.std(dtype=np.float64)) if x.size else 0.0,
        "channel_sq_mean": float(np.mean(channel_mean**2)) if moved.size else 0.0,
        "channel_var": float(np.mean(channel_var)) if moved.size else 0.0,
        "max_abs": top,
        "dead": float(np.mean(np.all(moved == 0, axis=0))) if moved.size else 0.0,
        "saturated": saturated,
        "nonfinite": nonfinite,
        "histogram": (tuple(int(c) for c in counts), tuple(float(e) for e in edges)),
    }


def _profile_verdict(
    layers: Sequence[LayerSignal], values: list[float], what: str, fixes: tuple[str, str]
) -> Verdict | None:
    """A verdict on a profile over depth: where it first leaves ``[first / EXPLODING, first *
    EXPLODING]`` (or the growing band), and why."""
    pairs = [(layer, v) for layer, v in zip(layers, values, strict=True) if v > 0]
    if len(pairs) < 2:
        return None
    first_layer, first = pairs[0]
    for limit, word in ((EXPLODING, "exploding"), (GROWING, "growing")):
        for layer, value in pairs[1:]:
            ratio = value / first
            if ratio > limit or not math.isfinite(ratio):
                return Verdict(
                    layer.name,
                    f"{what} {word}",
                    f"Its {what} grows {ratio:.3g}x from {first_layer.name} to here.",
                    fixes[0],
                )
            if ratio < 1 / limit:
                shrink = "vanishing" if word == "exploding" else "shrinking"
                return Verdict(
                    layer.name,
                    f"{what} {shrink}",
                    f"Its {what} falls to {ratio:.3g}x of {first_layer.name}'s.",
                    fixes[1],
                )
    return None


def _main_path(layers: Sequence[LayerSignal]) -> list[LayerSignal]:
    """Without residual blocks, the layers whose outputs have the most common shape per
    example (the network's main width): a pooled, narrower or wider output (a head's
    logits, a pooling's features) changes its scale by design, and its per-element gradient
    with it."""
    shapes = [layer.shape[1:] for layer in layers]
    if not any(shapes):
        return list(layers)
    common = max(set(shapes), key=lambda shape: (shapes.count(shape), -shapes.index(shape)))
    return [layer for layer, shape in zip(layers, shapes, strict=True) if shape == common]


def verdicts(
    layers: Sequence[LayerSignal], output: OutputSignal | None = None, audit: Audit | None = None
) -> list[Verdict]:
    """What is wrong with a model at initialization, from its layers' signals.

    Examples
    --------
    >>> from weightinit.signals import LayerSignal, verdicts
    >>> def layer(i, var):
    ...     std = var**0.5
    ...     return LayerSignal(f"blocks.{i}", "Block", i, 0.0, std, 0.0, var, 1.0, 0.0, 0.0, 0)
    >>> found = verdicts([layer(0, 1.0), layer(1, 30.0), layer(2, 9e6)])
    >>> found[0].layer, found[0].problem
    ('blocks.2', 'forward variance exploding')
    >>> found[0].cause
    'Its forward variance grows 9e+06x from blocks.0 to here.'
    """
    found: list[Verdict] = []
    bad = [layer for layer in layers if layer.nonfinite]
    if bad:
        found.append(
            Verdict(
                bad[0].name,
                "non-finite values",
                f"{bad[0].nonfinite} values are inf or NaN, first at this layer.",
                "a scheme that keeps the variance bounded over depth (zero_init_residual, "
                "skipinit or fixup for residual networks; gpt2 for transformers).",
            )
        )
    # With two or more residual blocks whose branch was measured, the profiles follow the
    # residual stream, block by block: across other layers the scale changes by design (an
    # embedding's small outputs before a norm's unit ones, a narrow head's logits).
    stream = [layer for layer in layers if layer.stream_var is not None]
    profiled = stream if len(stream) >= 2 else _main_path(layers)
    forward = _profile_verdict(
        profiled,
        [layer.channel_var for layer in profiled],
        "forward variance",
        (
            "keep each residual branch small at the start (scheme zero_init_residual, "
            "skipinit or fixup; gpt2 or megatron for transformers), or give the weights the "
            "gain of their activation (scheme recommended with activation=...).",
            "give the weights the gain of their activation (scheme recommended with "
            "activation=...): the signal shrinks at every layer.",
        ),
    )
    if forward is not None and not bad:
        found.append(forward)
    grads = [layer.grad_rms if layer.grad_rms is not None else 0.0 for layer in profiled]
    backward = _profile_verdict(
        list(reversed(profiled)),
        list(reversed(grads)),
        "gradient",
        (
            "gradients grow toward the input: keep residual branches small (zero_init_residual,"
            " skipinit, fixup) or scale the residual projections (gpt2).",
            "gradients vanish toward the input: give the weights their activation's gain "
            "(recommended with activation=...), or use residual connections.",
        ),
    )
    if backward is not None and not bad:
        found.append(backward)
    for layer in layers:
        ratio = layer.branch_ratio
        if ratio is not None and ratio > DOMINATING:
            found.append(
                Verdict(
                    layer.name,
                    "residual branch dominates the stream",
                    f"The branch's variance is {ratio:.3g}x its input's.",
                    "start the branch near zero: scheme zero_init_residual, skipinit or rezero "
                    "(for transformers, gpt2 or megatron scale the residual projections).",
                )
            )
            break
    for layer in layers:
        # Dead units are a rectifier's: a layer that outputs zero because it starts at zero
        # (zero-init residual's last norm) is not dead.
        if layer.dead > DEAD and "relu" in layer.kind.lower():
            found.append(
                Verdict(
                    layer.name,
                    "dead units",
                    f"{layer.dead:.0%} of its channels are zero for every input.",
                    "He initialization for ReLU (recommended with activation='relu') and "
                    "zero biases.",
                )
            )
            break
    for layer in layers:
        if layer.saturated > SATURATED:
            found.append(
                Verdict(
                    layer.name,
                    "saturated activation",
                    f"{layer.saturated:.0%} of its values are within 1% of the bounds.",
                    "Glorot or LeCun with the activation's gain (recommended with "
                    "activation='tanh' or 'sigmoid').",
                )
            )
            break
    if output is not None and output.loss is not None and output.expected_loss is not None:
        gap = output.loss - output.expected_loss
        if abs(gap) > LOSS_GAP:
            found.append(
                Verdict(
                    "output",
                    "first loss far from ln(classes)",
                    f"The first loss is {output.loss:.4g}, ln({output.classes}) = "
                    f"{output.expected_loss:.4g}: the logits' std is {output.logit_std:.3g}.",
                    "start the output layer small or at zero (mup's zero readout; for a head "
                    "tied to the embedding, recommended's N(0, 1/d) table).",
                )
            )
    if audit is not None and not audit.ok:
        off = audit.failures
        found.append(
            Verdict(
                off[0].name if off else "",
                "parameters differ from the plan",
                f"{len(off)} parameters are outside their planned mean or std.",
                "initialize them with the scheme (initialize_(model, scheme=...)).",
            )
        )
    return found


@dataclass(frozen=True)
class SignalReport:
    """The result of a framework's ``diagnose``: the layers' signals in forward order, the
    output, the parameters' audit (with a scheme), and the verdicts."""

    model: str
    batch: str
    layers: list[LayerSignal]
    output: OutputSignal | None
    verdicts: list[Verdict]
    audit: Audit | None = None

    def __str__(self) -> str:
        head = f"{self.model} on {self.batch}: {len(self.layers)} layers"
        columns = (
            f"{'#':>4} {'layer':40} {'kind':18} {'std':>9} {'ch.var':>9} {'ch.mean²':>9} "
            f"{'max|x|':>9} {'dead':>6} {'sat':>6} {'branch/':>8} {'grad rms':>9}"
        )
        rows = [head, columns, "-" * len(columns)]
        for s in self.layers:
            ratio = s.branch_ratio
            rows.append(
                f"{s.index:4d} {s.name[-40:]:40} {s.kind[:18]:18} {s.std:9.3g} "
                f"{s.channel_var:9.3g} {s.channel_sq_mean:9.3g} {s.max_abs:9.3g} "
                f"{s.dead:6.1%} {s.saturated:6.1%} {'' if ratio is None else f'{ratio:.3g}':>8} "
                f"{'' if s.grad_rms is None else f'{s.grad_rms:.3g}':>9}"
            )
        if self.output is not None:
            line = f"output: logit std {self.output.logit_std:.4g}"
            if self.output.loss is not None:
                line += f", first loss {self.output.loss:.4g}"
            if self.output.expected_loss is not None:
                line += f" (ln {self.output.classes} = {self.output.expected_loss:.4g})"
            rows.append(line)
        if self.verdicts:
            rows += ["verdicts:", *(f"- {v}" for v in self.verdicts)]
        else:
            rows.append("verdict: no problem found.")
        return "\n".join(rows)

    def histograms(self, *, width: int = 15, height: int = 4, every: int = 1) -> str:
        """Block-character histograms of the outputs of every ``every``-th layer, with NumPy
        alone."""
        panels = []
        for s in self.layers[::every]:
            counts, edges = s.histogram
            lines = [s.name[-width:], *blocks(counts, width=width, height=height)]
            if edges:
                lines += [f"{edges[0]:.3g}..{edges[-1]:.3g}", f"std {s.std:.3g}"]
            panels.append(lines)
        rows: list[str] = []
        for start in range(0, len(panels), 6):
            rows += [*side_by_side(panels[start : start + 6]), ""]
        return "\n".join([f"{self.model}: outputs per layer", *rows]).rstrip()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the report (non-finite numbers become None)."""
        layers = []
        for s in self.layers:
            data = asdict(s)
            counts, edges = data.pop("histogram")
            data["histogram"] = {"counts": list(counts), "edges": list(edges)}
            data["branch_ratio"] = s.branch_ratio
            layers.append(data)
        result = {
            "model": self.model,
            "batch": self.batch,
            "layers": layers,
            "output": None if self.output is None else asdict(self.output),
            "verdicts": [asdict(v) for v in self.verdicts],
            "audit_ok": None if self.audit is None else self.audit.ok,
        }
        return _json_safe(result)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def plot(self, *, histograms: int = 8) -> Any:
        """A matplotlib figure: the signal-propagation plot (average channel squared mean and
        variance, and the gradient's RMS, against depth, on log scales) above ``histograms``
        activation histograms of layers spread over the depth. Needs the ``plot`` extra."""
        plt = _pyplot()
        count = max(1, min(histograms, len(self.layers)))
        figure = plt.figure(figsize=(max(8.0, 1.6 * count), 6.0))
        grid = figure.add_gridspec(2, count, height_ratios=(2.2, 1.0))
        top = figure.add_subplot(grid[0, :])
        depth = [s.index for s in self.layers]
        top.semilogy(
            depth, [max(s.channel_var, 1e-30) for s in self.layers], label="avg channel variance"
        )
        top.semilogy(
            depth,
            [max(s.channel_sq_mean, 1e-30) for s in self.layers],
            label="avg channel squared mean",
        )
        grads = [s.grad_rms for s in self.layers]
        if any(g is not None for g in grads):
            top.semilogy(depth, [max(g or 0.0, 1e-30) for g in grads], label="gradient RMS")
        top.set_xlabel("layer (forward order)")
        top.legend(fontsize=8)
        top.set_title(f"{self.model}: signal propagation", fontsize=10)
        chosen = np.unique(np.linspace(0, len(self.layers) - 1, count).round().astype(int))
        for column, i in enumerate(chosen):
            ax = figure.add_subplot(grid[1, column])
            counts, edges = self.layers[i].histogram
            if edges:
                ax.stairs(counts, edges, fill=True, alpha=0.8)
            ax.set_title(self.layers[i].name[-18:], fontsize=7)
            ax.tick_params(labelsize=6)
        figure.tight_layout()
        return figure
