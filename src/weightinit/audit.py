"""An audit: a model's values held against what its plan says they should be.

For every planned parameter, the measured mean and standard deviation are compared with the
initializer's exact moments, with tolerances from the sampling distribution: a parameter
of ``n`` values of kurtosis ``κ`` has a sample standard deviation within
``Z·√((κ-1)/(4n))`` (relative) of the truth, ``Z/√(2n)`` for normal values, and a sample
mean within ``Z·σ/√n``, except with odds below 1e-8 for ``Z = 5.75``; ``κ`` is the values'
own, at least a normal's 3. So an audit of a model that its plan initialized passes, and a
5% error in a normal weight of 6,700 values or more is caught. A constant (zeros, ones, a
layer scale) must hold its value everywhere, up to the rounding of its dtype; a drawn
weight must not be mostly exact zeros.

Framework-neutral: the bridges read the values (``weightinit.torch.audit``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from weightinit import registry
from weightinit.model import Param

__all__ = ["Audit", "Finding", "audit"]

#: Sampling bounds in standard errors: P(|N(0, 1)| > 5.75) = 8.9e-9.
Z = 5.75


@dataclass(frozen=True)
class Finding:
    """One parameter's audit: what the plan says (mean and standard deviation, ``None``
    where the elements have no common moments), what was measured, and the verdict
    (``""`` when it agrees)."""

    name: str
    role: str
    formula: str
    size: int
    planned_mean: float | None
    planned_std: float | None
    mean: float
    std: float
    verdict: str = ""

    @property
    def ok(self) -> bool:
        return not self.verdict


class Audit(list[Finding]):
    """The findings of :func:`audit`, one per parameter, in the plan's order. It prints as
    a table; :attr:`failures` lists the parameters that differ from the plan.

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> from weightinit.audit import audit
    >>> plan = {"w": wi.Param(wi.normal(0.02), (256, 256))}
    >>> good = {"w": wi.initialize(plan, seed=0)["w"]}
    >>> audit(good, plan).ok
    True
    >>> bad = {"w": good["w"] * 2}
    >>> print(audit(bad, plan).failures[0].verdict)  # doctest: +ELLIPSIS
    std 0.03991 is 2x the planned 0.02 (sampling allows ±1...%)
    """

    def __init__(self, findings: list[Finding], scheme: str = "") -> None:
        super().__init__(findings)
        self.scheme = scheme

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self if not f.ok]

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "findings": [asdict(f) for f in self]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def __str__(self) -> str:
        head = ("name", "role", "n", "planned mean", "planned std", "mean", "std", "verdict")
        rows = [head]
        for f in self:
            rows.append(
                (
                    f.name,
                    f.role,
                    str(f.size),
                    _short(f.planned_mean),
                    _short(f.planned_std),
                    _short(f.mean),
                    _short(f.std),
                    f.verdict or "ok",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        summary = (
            f"{len(self.failures)} of {len(self)} parameters differ from "
            f"{'the plan' if not self.scheme else 'scheme ' + repr(self.scheme)}"
        )
        return "\n".join([*lines, summary])


def _short(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _moments(p: Param) -> tuple[float | None, float | None, bool]:
    """The planned mean and standard deviation of every element of ``p`` (``None`` where
    they differ), and whether its elements are drawn one by one."""
    init = registry.get(p.initializer)
    try:
        recipe = init.recipe(
            p.shape,
            layout=p.layout,
            groups=p.groups,
            blocks=p.blocks,
            in_axis=p.in_axis,
            out_axis=p.out_axis,
            batch_axis=p.batch_axis,
        )
    except ValueError:
        return None, None, False
    try:
        mean, variance = recipe.mean(), recipe.variance()
    except ValueError:
        return None, None, recipe.elementwise
    return float(mean), math.sqrt(max(float(variance), 0.0)), recipe.elementwise


def check(values: np.ndarray, p: Param) -> tuple[float | None, float | None, float, float, str]:
    """The planned and measured moments of ``values`` against ``p``, and the verdict."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    n = flat.size
    mean = float(flat.mean()) if n else 0.0
    std = float(flat.std()) if n else 0.0
    planned_mean, planned_std, elementwise = _moments(p)
    if n == 0 or planned_mean is None or planned_std is None:
        return planned_mean, planned_std, mean, std, ""
    problems: list[str] = []
    if not np.isfinite(flat).all():
        problems.append(f"{int((~np.isfinite(flat)).sum())} values are not finite")
    elif planned_std == 0.0:
        # Exactly, up to the rounding of the dtype it is stored in (bfloat16: 2^-9).
        tolerance = abs(planned_mean) * 2.0**-7
        off = int((np.abs(flat - planned_mean) > tolerance).sum())
        if off:
            problems.append(f"{off} of {n} values are not the planned constant {planned_mean:g}")
    else:
        mean_bound = Z * planned_std / math.sqrt(n)
        if abs(mean - planned_mean) > mean_bound:
            problems.append(
                f"mean {mean:.4g} is off the planned {planned_mean:.4g} by more than "
                f"sampling allows (±{mean_bound:.2g})"
            )
        if n >= 2:
            # The sample std's relative standard error is sqrt((kurtosis - 1) / (4n)); the
            # kurtosis is the values' own (at least a normal's 3), so heavy-tailed laws
            # (sparse weights) get the wider bound they need.
            centred = flat - planned_mean
            second = float(np.mean(centred * centred))
            kurtosis = float(np.mean(centred**4)) / second**2 if second > 0 else 3.0
            std_bound = Z * math.sqrt((max(kurtosis, 3.0) - 1) / (4 * n))
            if abs(std / planned_std - 1) > std_bound:
                problems.append(
                    f"std {std:.4g} is {std / planned_std:.3g}x the planned {planned_std:.4g} "
                    f"(sampling allows ±{std_bound:.1%})"
                )
        zeros = int((flat == 0).sum())
        if elementwise and n >= 100 and zeros > 0.01 * n:
            problems.append(f"{zeros} of {n} values are exactly zero")
    return planned_mean, planned_std, mean, std, "; ".join(problems)


def audit(
    values: Mapping[str, Any],
    plan: Mapping[str, Param],
    *,
    roles: Mapping[str, str] | None = None,
    formulas: Mapping[str, str] | None = None,
    scheme: str = "",
) -> Audit:
    """Hold each array of ``values`` against the :class:`~weightinit.Param` of the same
    name in ``plan`` (every planned name must have values).

    Parameters
    ----------
    values : mapping
        Parameter names mapped to arrays (anything ``numpy.asarray`` reads).
    plan : mapping
        Parameter names mapped to :class:`~weightinit.Param` (a bridge's plan).
    roles, formulas : mapping, optional
        Each parameter's role and its scheme's formula, shown in the table.
    scheme : str
        The name of the scheme audited against.

    Examples
    --------
    >>> import weightinit as wi
    >>> from weightinit.audit import audit
    >>> plan = {"w": wi.Param(wi.normal(0.02), (128, 128)), "b": wi.Param(wi.zeros(), (128,))}
    >>> values = wi.initialize(plan, seed=1)
    >>> audit(values, plan).ok
    True
    """
    missing = [name for name in plan if name not in values]
    if missing:
        raise ValueError(f"no values for the planned parameters {missing}.")
    findings = []
    for name, p in plan.items():
        array = np.asarray(values[name])  # a bridge may leave out rows it does not audit
        planned_mean, planned_std, mean, std, verdict = check(array, p)
        findings.append(
            Finding(
                name,
                (roles or {}).get(name, ""),
                (formulas or {}).get(name, ""),
                int(array.size),
                planned_mean,
                planned_std,
                mean,
                std,
                verdict,
            )
        )
    return Audit(findings, scheme)
