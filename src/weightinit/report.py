"""The report of a depth experiment: per-layer statistics, their text and plots, and JSON.

:func:`weightinit.diagnose` and :func:`weightinit.compare` run the experiment
(:mod:`weightinit.diagnostics`); what they return is built from the classes here, which
print it as a table, draw its activation histograms with block characters or matplotlib,
and turn it into JSON-safe data.
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

from weightinit._errors import install_hint
from weightinit._text import blocks
from weightinit._text import side_by_side
from weightinit.seeds import Key

__all__ = ["Comparison", "LayerStats", "Report", "report_json"]

#: Bins of each layer's activation histogram (``LayerStats.histogram``).
BINS = 60


@dataclass(frozen=True)
class LayerStats:
    """Statistics of one layer's activations ``a = f(h)`` over the batch.

    ``std`` pools every unit and input; ``unit_std`` averages, over units, each unit's
    standard deviation across the batch (small when units differ from one another but
    each barely responds to its input); ``across_units`` averages, over inputs, the spread
    across units (zero when every unit computes the same function). ``grad_norm`` is the
    Frobenius norm of the gradient with respect to the layer's pre-activations ``h``.
    ``predicted_std`` is the infinite-width value of ``std`` (NaN where the mean-field map
    does not apply: weights with a non-zero mean or without a per-element variance).
    """

    layer: int
    mean: float
    std: float
    unit_std: float
    across_units: float
    pre_std: float
    saturated: float
    zeros: float
    dead_units: int
    grad_norm: float
    predicted_std: float
    histogram: tuple[tuple[int, ...], tuple[float, ...]] = field(repr=False)


@dataclass(frozen=True)
class Report:
    """The result of :func:`diagnose`: per-layer statistics, a verdict and its explanation."""

    init: str
    activation: str
    depth: int
    width: int
    batch: int
    seed: int | Key
    bias: float
    layers: list[LayerStats]
    verdict: str
    explanation: str
    #: The name ``compare`` was given for this initializer ("" when none was).
    label: str = ""

    @property
    def name(self) -> str:
        """The label ``compare`` was given, else the initializer's call."""
        return self.label or self.init

    def histograms(self, *, width: int = 15, height: int = 4) -> str:
        """One block-character histogram of the activations per layer, side by side: the
        picture of :meth:`plot` with NumPy alone (each from ``LayerStats.histogram``).

        Examples
        --------
        >>> import weightinit as wi
        >>> text = wi.diagnose("glorot_normal", "tanh", depth=3).histograms()
        >>> print(text.splitlines()[1])
        layer 1          layer 2          layer 3
        """
        head = f"{self.name} with {self.activation}: activations at each layer ({self.verdict})"
        return "\n".join([head, *_panels(self.layers, width, height)])

    def __str__(self) -> str:
        head = (
            f"{self.name} with {self.activation}: depth {self.depth}, width {self.width}, "
            f"batch {self.batch}, seed {self.seed}"
        )
        columns = (
            f"{'layer':>5} {'mean':>9} {'std':>9} {'predicted':>9} {'unit_std':>9} "
            f"{'saturated':>9} {'zeros':>7} {'dead':>5} {'grad_norm':>10}"
        )
        rows = [head, columns, "-" * len(columns)]
        for s in self.layers:
            rows.append(
                f"{s.layer:5d} {s.mean:9.4g} {s.std:9.4g} {s.predicted_std:9.4g} "
                f"{s.unit_std:9.4g} {s.saturated:9.1%} {s.zeros:7.1%} {s.dead_units:5d} "
                f"{s.grad_norm:10.4g}"
            )
        rows.append(f"verdict: {self.verdict}. {self.explanation}")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of everything in the report (non-finite numbers become None)."""
        data = asdict(self)
        for layer in data["layers"]:
            counts, edges = layer.pop("histogram")
            layer["histogram"] = {"counts": list(counts), "edges": list(edges)}
        return _json_safe(data)  # type: ignore[no-any-return]

    def plot(self) -> Any:
        """A matplotlib figure with one activation histogram per layer.

        Needs the ``plot`` extra: ``pip install "weightinit[plot]"``; :meth:`histograms` needs
        nothing more than NumPy.
        """
        plt = _pyplot()
        count = len(self.layers)
        figure, axes = plt.subplots(1, count, figsize=(2.2 * count, 2.4), sharey=True)
        for ax, stats in zip(np.atleast_1d(axes), self.layers, strict=True):
            _draw(ax, stats)
            ax.set_title(f"layer {stats.layer}", fontsize=9)
        figure.suptitle(f"{self.init}, {self.activation}: {self.verdict}", fontsize=10)
        figure.tight_layout()
        return figure


@dataclass(frozen=True)
class Comparison:
    """Several reports made on the same inputs; see :func:`compare`."""

    reports: list[Report]

    def __str__(self) -> str:
        depth = self.reports[0].depth
        wide = max(len("initializer"), *(len(r.name) for r in self.reports))
        head = f"{'initializer':{wide}} {'std@1':>9} {f'std@{depth}':>9} {'saturated':>9} verdict"
        rows = [f"activation: {self.reports[0].activation}", head, "-" * len(head)]
        for r in self.reports:
            first, last = r.layers[0], r.layers[-1]
            rows.append(
                f"{r.name:{wide}} {first.std:9.4g} {last.std:9.4g} {last.saturated:9.1%} "
                f"{r.verdict}"
            )
        return "\n".join(rows)

    def histograms(self, *, width: int = 15, height: int = 4) -> str:
        """Block-character histograms: one row of layers per initializer, as :meth:`plot`
        draws them, with NumPy alone."""
        rows = [f"activation: {self.reports[0].activation}"]
        for report in self.reports:
            rows += ["", f"{report.name} ({report.verdict})"]
            rows += _panels(report.layers, width, height)
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: ``{"reports": [report.to_dict(), ...]}``."""
        return {"reports": [r.to_dict() for r in self.reports]}

    def plot(self) -> Any:
        """A grid of activation histograms: one row per initializer, one column per layer."""
        plt = _pyplot()
        rows, cols = len(self.reports), self.reports[0].depth
        figure, axes = plt.subplots(
            rows, cols, figsize=(2.0 * cols, 1.9 * rows), squeeze=False, sharey="row"
        )
        for i, report in enumerate(self.reports):
            for j, stats in enumerate(report.layers):
                _draw(axes[i][j], stats)
                if i == 0:
                    axes[i][j].set_title(f"layer {stats.layer}", fontsize=9)
            axes[i][0].set_ylabel(f"{report.name}\n{report.verdict}", fontsize=8)
        figure.suptitle(f"activation: {self.reports[0].activation}", fontsize=10)
        figure.tight_layout()
        return figure


def _panels(layers: Sequence[LayerStats], width: int, height: int) -> list[str]:
    """One text panel per layer (title, histogram, range, std), side by side."""
    panels = []
    for stats in layers:
        counts, edges = stats.histogram
        lines = [f"layer {stats.layer}", *blocks(counts, width=width, height=height)]
        lines += [f"{edges[0]:.3g}..{edges[-1]:.3g}", f"std {stats.std:.3g}"]
        panels.append(lines)
    return side_by_side(panels)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            f"plotting needs matplotlib: install the plot extra with {install_hint('plot')}, "
            "or use .histograms() for text histograms."
        ) from None
    return plt


def _draw(ax: Any, stats: LayerStats) -> None:
    counts, edges = stats.histogram
    ax.stairs(counts, edges, fill=True, alpha=0.8)
    ax.tick_params(labelsize=7)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def report_json(report: Report | Comparison) -> str:
    """The report as a JSON string (for the command line)."""
    return json.dumps(report.to_dict(), indent=2, allow_nan=False)
