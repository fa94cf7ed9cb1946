"""Histograms drawn with block characters, for terminals and notebooks without matplotlib."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["blocks", "side_by_side"]

_EIGHTHS = " ▁▂▃▄▅▆▇█"


def blocks(counts: Sequence[int], *, width: int = 15, height: int = 4) -> list[str]:
    """``counts`` as ``height`` lines of ``width`` columns of block characters, top line first.

    Neighbouring bins are summed into ``width`` columns; the tallest column fills the whole
    height, and every non-empty column shows at least its lowest eighth.

    >>> print("\\n".join(blocks([0, 1, 2, 3, 8, 3, 2, 1], width=8, height=2)))
        █
     ▂▄▆█▆▄▂
    """
    if width < 1 or height < 1:
        raise ValueError(f"width and height must be >= 1; got {width} and {height}.")
    bins = len(counts)
    columns = [
        sum(counts[i * bins // width : (i + 1) * bins // width]) if bins else 0
        for i in range(width)
    ]
    top = max(columns, default=0)
    levels = [0 if top == 0 or c == 0 else max(1, round(8 * height * c / top)) for c in columns]
    lines = []
    for row in range(height - 1, -1, -1):
        lines.append("".join(_EIGHTHS[min(8, max(0, level - 8 * row))] for level in levels))
    return lines


def side_by_side(panels: Sequence[Sequence[str]], *, gap: int = 2) -> list[str]:
    """Panels of lines (each panel's lines of one width) joined left to right."""
    height = max((len(p) for p in panels), default=0)
    widths = [max((len(line) for line in p), default=0) for p in panels]
    return [
        (" " * gap)
        .join((p[i] if i < len(p) else "").ljust(w) for p, w in zip(panels, widths, strict=True))
        .rstrip()
        for i in range(height)
    ]
