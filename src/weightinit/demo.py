"""A short, printed tour: fans, generated weights and their statistics, recommendations."""

from __future__ import annotations

import math

import weightinit as wi

_CASES = (
    ("he_normal", (784, 256), "in_out", "dense layer, x @ W"),
    ("glorot_uniform", (256, 784), "pytorch", "torch.nn.Linear(784, 256).weight"),
    ("lecun_normal", (3, 3, 64, 128), "in_out", "Keras/JAX conv kernel, HWIO"),
    ("he_uniform", (128, 64, 3, 3), "pytorch", "torch.nn.Conv2d(64, 128, 3).weight"),
)


def report() -> str:
    """Return the demonstration text.

    Examples
    --------
    >>> text = report()
    >>> "he_normal" in text and "fan_in" in text
    True
    """
    lines = [f"weightinit {wi.__version__}: weight statistics for seed 0", ""]
    header = f"{'initializer':16} {'shape':18} {'layout':8} {'fan_in':>7} {'fan_out':>7}"
    header += f" {'target std':>10} {'measured std':>12} {'mean':>9}"
    lines.append(header)
    lines.append("-" * len(header))
    for name, shape, layout, _ in _CASES:
        init = wi.get(name)
        f = wi.fans(shape, layout=layout)
        w = init(shape, seed=0, layout=layout)
        target = math.sqrt(init.variance(shape, layout=layout))
        lines.append(
            f"{name:16} {shape!s:18} {layout:8} {f.fan_in:7d} {f.fan_out:7d}"
            f" {target:10.5f} {float(w.std()):12.5f} {float(w.mean()):9.5f}"
        )
    lines.append("")
    for _, shape, layout, meaning in _CASES:
        lines.append(f"{shape!s:18} {layout:8} {meaning}")
    lines.append("")
    lines.append(f"wi.get('kaiming_normal') -> {wi.get('kaiming_normal')!r}")
    lines.append("")
    lines.append(f"{'activation':11} {'gain':>9}  recommended initializer")
    for activation in ("relu", "leaky_relu", "tanh", "selu", "gelu", "silu"):
        lines.append(f"{activation:11} {wi.gain(activation):9.6f}  {wi.recommend(activation)!r}")
    return "\n".join(lines)
