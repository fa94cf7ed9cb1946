"""Regenerate the figures of docs/diagnostics.md and docs/layouts.md from the library itself.

    python docs/make_figures.py                          # writes docs/figures/*.png
    python docs/make_figures.py --small --out DIRECTORY  # tiny versions, in a few seconds

Every number in the figures comes from ``weightinit.diagnose``, ``weightinit.compare`` and
``weightinit.fans``; this script only arranges and labels them. ``--small`` runs the same
code on tiny networks so that a test can check the script still works.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

import weightinit as wi

FIGURES = Path(__file__).resolve().parent / "figures"
DPI = 90


@dataclass(frozen=True)
class Size:
    depth: int
    width: int
    batch: int
    deep: int  # depth of the line plots
    deep_width: int
    deep_batch: int


FULL = Size(depth=5, width=100, batch=1000, deep=30, deep_width=500, deep_batch=500)
SMALL = Size(depth=3, width=16, batch=32, deep=4, deep_width=16, deep_batch=32)

# One grid per activation: (row label, initializer); x-range of the histograms.
GRIDS: dict[str, tuple[tuple[tuple[str, wi.Initializer], ...], tuple[float, float]]] = {
    "sigmoid": (
        (
            ("N(0, 1)", wi.scaled_normal(1.0)),
            ("N(0, 0.01²)", wi.scaled_normal(0.01)),
            ("glorot_uniform", wi.glorot_uniform()),
        ),
        (0.0, 1.0),
    ),
    "tanh": (
        (
            ("N(0, 1)", wi.scaled_normal(1.0)),
            ("N(0, 0.01²)", wi.scaled_normal(0.01)),
            ("glorot_normal", wi.glorot_normal()),
        ),
        (-1.0, 1.0),
    ),
    "relu": (
        (
            ("N(0, 0.01²)", wi.scaled_normal(0.01)),
            ("glorot_normal", wi.glorot_normal()),
            ("he_normal", wi.he_normal()),
        ),
        (0.0, 4.0),
    ),
}

# Simulation against the mean-field prediction through depth.
DEPTH_CASES = (
    ("tanh", "glorot_normal", wi.glorot_normal()),
    ("relu", "he_normal", wi.he_normal()),
    ("relu", "glorot_normal", wi.glorot_normal()),
    ("sigmoid", "glorot_uniform", wi.glorot_uniform()),
)


def grid(activation: str, size: Size, out: Path) -> Path:
    """The histogram grid of ``compare``, with short row labels and a common x-range."""
    rows, (low, high) = GRIDS[activation]
    table = wi.compare(
        [init for _, init in rows],
        activation,
        depth=size.depth,
        width=size.width,
        batch=size.batch,
        seed=0,
    )
    figure = table.plot()
    axes = figure.axes
    for i, ((label, _), report) in enumerate(zip(rows, table.reports, strict=True)):
        row = axes[i * size.depth : (i + 1) * size.depth]
        row[0].set_ylabel(f"{label}\n{report.verdict}", fontsize=9)
        for ax, stats in zip(row, report.layers, strict=True):
            _annotate(ax, stats, low, high)
        _clip_spike_at_zero(row, report)
    figure.suptitle(
        f"{activation}: activations at each layer (width {size.width}, batch {size.batch})",
        fontsize=10,
    )
    return _save(figure, out / f"{activation}.png")


def _annotate(ax: Any, stats: Any, low: float, high: float) -> None:
    """A common x-range, the std in a corner, and a line where all the mass is in a sliver."""
    ax.set_xlim(low, high)
    ax.set_yticks([])
    edges = stats.histogram[1]
    if edges[-1] - edges[0] < 0.01 * (high - low):
        # narrower than a pixel at this scale: draw the spike so that it can be seen
        ax.axvline(stats.mean, color="C0", lw=2)
    text = f"std {stats.std:.2g}"
    if stats.zeros > 0.2:
        text += f"\n{stats.zeros:.0%} zeros"
    ax.text(0.97, 0.95, text, transform=ax.transAxes, ha="right", va="top", fontsize=7)


def _clip_spike_at_zero(row: list[Any], report: Any) -> None:
    """For rectifiers, scale the row to the positive values; the zeros are stated in text."""
    if min(s.zeros for s in report.layers) <= 0.2:
        return
    tallest = max(max(s.histogram[0][1:], default=0) for s in report.layers)
    if tallest > 0:
        row[0].set_ylim(0, 1.3 * tallest)  # the row shares its y-axis


def depth(size: Size, out: Path) -> Path:
    """Pooled std per layer: simulation (dots) and the mean-field prediction (line)."""
    figure, ax = plt.subplots(figsize=(6.4, 3.8))
    for activation, label, init in DEPTH_CASES:
        report = wi.diagnose(
            init,
            activation,
            depth=size.deep,
            width=size.deep_width,
            batch=size.deep_batch,
            seed=0,
        )
        layers = [s.layer for s in report.layers]
        (line,) = ax.plot(
            layers,
            [s.predicted_std for s in report.layers],
            label=f"{activation}, {label}",
        )
        ax.plot(layers, [s.std for s in report.layers], "o", ms=3.5, color=line.get_color())
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("std of the activations")
    ax.set_title(
        f"pooled std: simulation (dots, width {size.deep_width}) and predicted_std (lines)",
        fontsize=10,
    )
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3, which="both")
    return _save(figure, out / "depth.png")


def collapse(size: Size, out: Path) -> Path:
    """Sigmoid with Glorot weights: the pooled std holds up while each unit stops responding."""
    # Twelve layers: further down, unit_std reaches the float32 spacing near 1/2 (6e-8).
    report = wi.diagnose(
        wi.glorot_uniform(),
        "sigmoid",
        depth=min(size.deep, 12),
        width=size.deep_width,
        batch=size.deep_batch,
        seed=0,
    )
    layers = [s.layer for s in report.layers]
    figure, ax = plt.subplots(figsize=(6.4, 3.6))
    ax.plot(layers, [s.std for s in report.layers], "o-", ms=3.5, label="std (pooled)")
    ax.plot(layers, [s.predicted_std for s in report.layers], "--", label="predicted_std")
    ax.plot(layers, [s.unit_std for s in report.layers], "s-", ms=3.5, label="unit_std")
    ax.set_yscale("log")
    ax.set_xlabel("layer")
    ax.set_ylabel("standard deviation")
    ax.set_title(f"sigmoid, glorot_uniform: verdict '{report.verdict}'", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3, which="both")
    return _save(figure, out / "collapse.png")


# Weights whose axes the layouts figure labels: (title, shape, layout, groups, roles).
LAYOUT_CASES = (
    ("Dense, x @ W (Keras, JAX)", (784, 256), "in_out", 1, ("in", "out")),
    ("torch.nn.Linear(784, 256)", (256, 784), "pytorch", 1, ("out", "in")),
    ("Conv2D kernel (Keras, JAX: HWIO)", (3, 3, 32, 64), "in_out", 1, ("k", "k", "in", "out")),
    ("torch.nn.Conv2d(32, 64, 3)", (64, 32, 3, 3), "pytorch", 1, ("out", "in", "k", "k")),
    (
        "torch.nn.Conv2d(16, 32, 3, groups=2)",
        (32, 8, 3, 3),
        "pytorch",
        2,
        ("out", "in / group", "k", "k"),
    ),
    (
        "torch.nn.ConvTranspose2d(16, 8, 3)",
        (16, 8, 3, 3),
        "pytorch_transposed",
        1,
        ("in", "out", "k", "k"),
    ),
    (
        "DepthwiseConv2D (Keras), multiplier 2",
        (3, 3, 8, 2),
        "keras_depthwise",
        1,
        ("k", "k", "in", "mult"),
    ),
)
ROLE_COLOURS = {"in": "#4C72B0", "out": "#DD8452", "k": "#BBBBBB", "mult": "#55A868"}


def layouts(out: Path) -> Path:
    """Which axis is which, for common weights in each framework's layout, with their fans."""
    figure, ax = plt.subplots(figsize=(8.6, 0.62 * len(LAYOUT_CASES) + 0.6))
    ax.set_xlim(0, 10.5)
    ax.set_ylim(-len(LAYOUT_CASES), 0.6)
    ax.axis("off")
    for row, (title, shape, layout, groups, roles) in enumerate(LAYOUT_CASES):
        y = -row - 0.5
        ax.text(0.0, y, title, va="center", fontsize=8)
        for i, (size, role) in enumerate(zip(shape, roles, strict=True)):
            colour = ROLE_COLOURS[role.split()[0]]
            ax.add_patch(plt.Rectangle((3.6 + 0.95 * i, y - 0.3), 0.9, 0.6, color=colour))
            ax.text(
                3.6 + 0.95 * i + 0.45,
                y,
                f"{role}\n{size}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if role != "k" else "black",
            )
        f = wi.fans(shape, layout=layout, groups=groups)
        label = f'layout="{layout}"' + (f", groups={groups}" if groups != 1 else "")
        ax.text(7.55, y + 0.12, label, va="center", fontsize=7, family="monospace")
        ax.text(7.55, y - 0.18, f"fan_in {f.fan_in}, fan_out {f.fan_out}", va="center", fontsize=7)
    ax.text(3.6, 0.35, "axes, left to right", fontsize=8, style="italic")
    return _save(figure, out / "layouts.png")


def _save(figure: Any, path: Path) -> Path:
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="tiny networks, for a quick check")
    parser.add_argument("--out", type=Path, help=f"output directory (default {FIGURES})")
    args = parser.parse_args(argv)
    size = SMALL if args.small else FULL
    if args.out is not None:
        out = args.out
    elif args.small:
        out = Path(tempfile.mkdtemp(prefix="weightinit-figures-"))
    else:
        out = FIGURES
    out.mkdir(parents=True, exist_ok=True)
    written = [grid(activation, size, out) for activation in GRIDS]
    written += [depth(size, out), collapse(size, out), layouts(out)]
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
