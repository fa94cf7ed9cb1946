"""The coordinate check: how the size of each layer's output changes with the width of the
model, at initialization and over the first training steps, and what to do when it grows.

A framework's ``coord_check`` (``weightinit.torch.coord_check``) builds the same model at
several widths, trains each a few steps on one fixed batch and records, at every step, the
mean absolute value of each layer's output; :class:`CoordReport` holds those values and
reads them. Under a parametrisation that is right for every width (μP, Yang et al. 2022,
"Tensor Programs V"), each layer's output stays of the same size at every width, so its
log-log slope against the width is about 0 at every step; under the standard
parametrisation with one learning rate, a wider layer takes a bigger step, and after the
first update its output grows like a power of the width (the readout's about like the width
itself, slope 1). The check is the mup package's ``get_coord_data`` and its plots, read as
numbers: one least-squares slope per layer and step.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from weightinit.report import _json_safe
from weightinit.report import _pyplot

__all__ = ["BLOWING_UP", "CoordReport", "slope"]

#: A layer whose log-log slope against the width is above this at a step after the first
#: update grows with the width: its output is width-dependent, and so is the best learning
#: rate. μP's slopes stay within a few hundredths of 0; the standard parametrisation's
#: readout under Adam reaches about 1.
BLOWING_UP = 0.5

_FIX = (
    'scheme="mup" with μP learning rates (mup_param_groups), the readout multiplied by '
    "base_width / width in the model"
)


def slope(widths: Sequence[float], values: Sequence[float]) -> float:
    """The least-squares slope of ``log(values)`` against ``log(widths)``: the power of the
    width a quantity grows with (NaN where a value is zero, negative or not finite).

    Examples
    --------
    >>> from weightinit.coords import slope
    >>> round(slope([64, 128, 256], [1.0, 2.0, 4.0]), 6)
    1.0
    >>> round(slope([64, 128, 256], [3.0, 3.0, 3.0]), 6)
    0.0
    >>> slope([64, 128], [0.0, 1.0])
    nan
    """
    x = np.log(np.asarray(widths, dtype=np.float64))
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(
            f"slope needs as many values as widths, at least two; got {x.size} widths and "
            f"{y.size} values."
        )
    if not (np.isfinite(y).all() and (y > 0).all()):
        return math.nan
    x = x - x.mean()
    y = np.log(y)
    return float((x * (y - y.mean())).sum() / (x * x).sum())


@dataclass(frozen=True)
class CoordReport:
    """The mean absolute output of each layer at each width and training step, and its
    log-log slope against the width.

    Parameters
    ----------
    widths : sequence of int
        The widths, at least two, different from one another (sorted on the way in).
    values : mapping
        ``values[layer][step]``: the mean absolute output of ``layer`` at ``step`` (0 is at
        initialization, ``t`` after ``t`` optimizer steps), one value per width in the order
        of ``widths``.
    kinds : mapping, optional
        Each layer's module type, for the table.
    model : str
        What was checked (the model and its training), for the title.
    threshold : float
        A slope above this at a step after 0 is a layer :attr:`blowing_up`.

    Examples
    --------
    >>> from weightinit.coords import CoordReport
    >>> report = CoordReport(
    ...     (32, 64, 128),
    ...     {"hidden": [[1.0, 1.0, 1.0], [1.1, 1.0, 1.1]],
    ...      "head": [[0.5, 0.5, 0.5], [1.0, 2.0, 4.0]]},
    ... )
    >>> report.steps, report.slopes["head"]
    (2, [0.0, 1.0])
    >>> report.blowing_up
    ['head']
    >>> print(report)  # doctest: +ELLIPSIS
    coordinate check of model, widths 32..128, 2 steps: slope of log mean |output| vs log width
    layer   kind    t=0    t=1   |x| w=128 t=1
    ----...
    hidden          0.00   0.00     1.1
    head            0.00   1.00       4
    blowing up (slope > 0.5 after step 0): head; fix: scheme="mup" with μP learning rates ...
    """

    widths: tuple[int, ...]
    values: dict[str, list[list[float]]]
    kinds: dict[str, str] = field(default_factory=dict)
    model: str = "model"
    threshold: float = BLOWING_UP
    slopes: dict[str, list[float]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        widths = tuple(self.widths)
        bad = [w for w in widths if isinstance(w, bool) or not isinstance(w, (int, np.integer))]
        if bad or any(w < 1 for w in widths):
            raise ValueError(f"widths must be positive integers; got {widths!r}.")
        if len(set(widths)) < 2 or len(set(widths)) != len(widths):
            raise ValueError(
                f"widths must be at least two different widths, each once; got {widths!r}."
            )
        order = sorted(range(len(widths)), key=widths.__getitem__)
        values: dict[str, list[list[float]]] = {}
        steps = None
        for layer, per_step in self.values.items():
            rows = [[float(v) for v in row] for row in per_step]
            if any(len(row) != len(widths) for row in rows):
                raise ValueError(
                    f"values[{layer!r}] must hold one value per width ({len(widths)}) at "
                    "every step."
                )
            if steps is None:
                steps = len(rows)
            if len(rows) != steps or not rows:
                raise ValueError(
                    f"every layer must have values at the same steps, at least one; "
                    f"{layer!r} has {len(rows)}, others {steps}."
                )
            values[str(layer)] = [[row[i] for i in order] for row in rows]
        if not values:
            raise ValueError("values must hold at least one layer; got none.")
        ordered = tuple(int(widths[i]) for i in order)
        object.__setattr__(self, "widths", ordered)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "kinds", dict(self.kinds))
        slopes = {name: [slope(ordered, row) for row in rows] for name, rows in values.items()}
        object.__setattr__(self, "slopes", slopes)

    @property
    def steps(self) -> int:
        """How many steps were recorded (step 0 is at initialization)."""
        return len(next(iter(self.values.values()), []))

    @property
    def blowing_up(self) -> list[str]:
        """The layers whose slope is above :attr:`threshold` at some step after 0, or whose
        output is not finite at some width and step, in the order of :attr:`values`."""
        found = []
        for name, rows in self.values.items():
            late = self.slopes[name][1:]
            if any(s > self.threshold for s in late if not math.isnan(s)) or not all(
                math.isfinite(v) for row in rows for v in row
            ):
                found.append(name)
        return found

    @property
    def verdict(self) -> str:
        """One sentence: the layers that grow with the width and the fix, or that none do."""
        if self.steps < 2:
            return "only step 0 was recorded: the check needs steps >= 2 to see the updates."
        found = self.blowing_up
        if not found:
            return (
                f"no layer grows with the width: every slope is <= {self.threshold:g} after step 0."
            )
        return (
            f"blowing up (slope > {self.threshold:g} after step 0): {', '.join(found)}; "
            f"fix: {_FIX}."
        )

    def __str__(self) -> str:
        last = self.steps - 1
        title = (
            f"coordinate check of {self.model}, widths {self.widths[0]}..{self.widths[-1]}, "
            f"{self.steps} steps: slope of log mean |output| vs log width"
        )
        name_width = max([5, *(min(40, len(n)) for n in self.values)])
        kind_width = max([4, *(min(18, len(k)) for k in self.kinds.values())])
        wide = f"|x| w={self.widths[-1]} t={last}"
        columns = (
            f"{'layer':{name_width}} {'kind':{kind_width}} "
            + " ".join(f"{f't={t}':>6}" for t in range(self.steps))
            + f" {wide:>{max(9, len(wide))}}"
        )
        rows = [title, columns, "-" * len(columns)]
        for name, slopes in self.slopes.items():
            cells = " ".join("     —" if math.isnan(s) else f"{s:6.2f}" for s in slopes)
            value = self.values[name][last][-1]
            rows.append(
                f"{name[-name_width:]:{name_width}} {self.kinds.get(name, '')[:18]:{kind_width}} "
                f"{cells} {value:>{max(9, len(wide))}.3g}"
            )
        rows.append(self.verdict)
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the report (non-finite numbers become None)."""
        result = {
            "model": self.model,
            "widths": list(self.widths),
            "steps": self.steps,
            "threshold": self.threshold,
            "layers": [
                {
                    "name": name,
                    "kind": self.kinds.get(name),
                    "values": self.values[name],
                    "slopes": self.slopes[name],
                }
                for name in self.values
            ],
            "blowing_up": self.blowing_up,
            "verdict": self.verdict,
        }
        return _json_safe(result)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)

    def plot(self, *, layers: Sequence[str] | None = None) -> Any:
        """A matplotlib figure with one panel per step: the mean absolute output of each
        layer (or of ``layers``) against the width, on log-log axes (zeros are left out).
        Flat lines are what μP gives. Needs the ``plot`` extra."""
        plt = _pyplot()
        names = list(self.values) if layers is None else list(layers)
        unknown = [n for n in names if n not in self.values]
        if unknown:
            raise ValueError(
                f"plot: no layer named {unknown[0]!r}; the layers are {', '.join(self.values)}."
            )
        figure, axes = plt.subplots(
            1, self.steps, figsize=(3.2 * self.steps + 2.5, 3.4), sharey=True, squeeze=False
        )
        for t, ax in enumerate(axes[0]):
            for name in names:
                row = np.asarray(self.values[name][t], dtype=np.float64)
                shown = np.where(np.isfinite(row) & (row > 0), row, np.nan)
                ax.loglog(self.widths, shown, marker=".", label=name)
            title = "initialization" if t == 0 else f"after {t} step{'s' * (t > 1)}"
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("width", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[0][0].set_ylabel("mean |output|", fontsize=8)
        axes[0][-1].legend(fontsize=6, loc="center left", bbox_to_anchor=(1.02, 0.5))
        figure.suptitle(f"{self.model}: coordinate check", fontsize=10)
        figure.tight_layout()
        return figure
