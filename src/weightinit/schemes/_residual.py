"""Schemes that tame residual branches: zero-init residual, Fixup, SkipInit and ReZero
(partial: they sit on a complete scheme), DeepNorm (partial) and T-Fixup (complete).

The formulas, papers and reference files are listed on the documentation's schemes page.
"""

from __future__ import annotations

import math

from weightinit.families import normal
from weightinit.families import variance_scaling
from weightinit.families import zeros
from weightinit.named import glorot_normal
from weightinit.named import glorot_uniform
from weightinit.roles import Slot
from weightinit.schemes._core import Choice
from weightinit.schemes._core import Rule
from weightinit.schemes._core import Scheme
from weightinit.schemes._core import UnknownValueError
from weightinit.schemes._core import depth_of
from weightinit.schemes._defaults import recommended

__all__ = ["deepnorm", "fixup", "rezero", "skipinit", "t_fixup", "zero_init_residual"]


def _last_norm(slot: Slot, activation: object) -> Choice | None:
    if not slot.place.last:
        return None
    return Choice(zeros(), slot.weight, "0: the last norm of a residual branch")


def zero_init_residual() -> Scheme:
    """The last norm's gain of each residual branch zero (``bn2`` of a basic block,
    ``bn3`` of a bottleneck), so every block starts as the identity: torchvision's
    ``zero_init_residual=True``, timm's ``zero_init_last``. Partial: put it on a complete
    scheme (``"recommended+zero_init_residual"``, ``"pytorch+zero_init_residual"``).

    Examples
    --------
    >>> from weightinit.schemes import zero_init_residual
    >>> zero_init_residual().partial
    True
    """
    return Scheme(
        "zero_init_residual",
        {"norm_gain": _last_norm},
        partial=True,
        acts_on="the last norm of a residual branch (a convolutional block's bn2 or bn3)",
    )


def _gates(name: str) -> Scheme:
    def gate(slot: Slot, activation: object) -> Choice:
        return Choice(zeros(), slot.weight, "0: the residual gate")

    return Scheme(
        name,
        {"residual_gate": gate},
        partial=True,
        acts_on="residual gate scalars (say which parameters they are with roles=)",
    )


def skipinit() -> Scheme:
    """Every residual gate scalar zero, ``h + α·f(h)`` with ``α = 0`` (De and Smith 2020).
    Partial; the gates are the model's own parameters.

    Examples
    --------
    >>> from weightinit.schemes import skipinit
    >>> skipinit().name
    'skipinit'
    """
    return _gates("skipinit")


def rezero() -> Scheme:
    """ReZero (Bachlechner et al. 2021): the same zero residual gates as :func:`skipinit`,
    without normalisation in the branch.

    Examples
    --------
    >>> from weightinit.schemes import rezero
    >>> rezero().name
    'rezero'
    """
    return _gates("rezero")


_BRANCH_ROLES = ("convolution", "projection", "residual_projection")


def fixup() -> Scheme:
    """Fixup (Zhang, Dauphin and Ma 2019) for residual networks without normalisation: in
    each residual branch of ``m`` layers, the first ``m - 1`` He normal by fan-out (as the
    reference code) times ``L^(-1/(2m-2))`` (``L`` residual branches), the last layer zero;
    the classifier's weight zero (its bias zero, as every bias). Fixup's scalar biases and
    multiplier are the model's own parameters. The shortcuts' convolutions He by fan-out,
    unscaled. Partial: other weights (the stem) get the scheme under it.

    Examples
    --------
    >>> from weightinit import Weight
    >>> from weightinit.roles import Place, Slot
    >>> from weightinit.schemes import fixup
    >>> conv = Slot("convolution", Weight((64, 64, 3, 3), "out_in"), place=Place(0, 16, branch=2))
    >>> fixup().choose(conv).formula
    'He by fan-out × L^(-1/(2m-2)), L=16, m=2'
    """

    def branch(slot: Slot, activation: object) -> Choice | None:
        m = slot.place.branch
        if m is None:
            return None
        if m == 0:  # a layer of the block's shortcut: He by fan-out, unscaled (the reference's)
            init = variance_scaling(2.0, "fan_out", "normal")
            return Choice(init, slot.weight, "He by fan-out: a shortcut", "fixup (shortcut)")
        if slot.place.last:
            return Choice(zeros(), slot.weight, "0: the last layer of a residual branch")
        if m < 2:
            raise UnknownValueError("a residual branch of one layer has no Fixup scaling")
        depth = depth_of(slot)
        scale = 2.0 * depth ** (-1.0 / (m - 1))  # variance: (He · L^(-1/(2m-2)))²
        init = variance_scaling(scale, "fan_out", "normal")
        return Choice(init, slot.weight, f"He by fan-out × L^(-1/(2m-2)), L={depth}, m={m}")

    # The classifier alone does not count as acting on the model (scheme "fixup" must have
    # found residual branches): its choices carry their own name.
    def head(slot: Slot, activation: object) -> Choice:
        return Choice(zeros(), slot.weight, "0: the classifier", "fixup (classifier)")

    def head_bias(slot: Slot, activation: object) -> Choice | None:
        if not slot.place.head:
            return None
        return Choice(zeros(), slot.weight, "0: the classifier", "fixup (classifier)")

    rules: dict[str, Rule] = {role: branch for role in _BRANCH_ROLES}
    rules["head"] = head
    rules["bias"] = head_bias
    return Scheme(
        "fixup",
        rules,
        partial=True,
        acts_on=(
            "the layers of residual branches (mark a branch of m layers with roles=, "
            "{'*.conv2.weight': {'branch': 2, 'last': True}}) and the classifier"
        ),
    )


def _depths(encoder: object, decoder: object) -> None:
    for name, value in (("encoder_layers", encoder), ("decoder_layers", decoder)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int or None; got {value!r}.")
        if value < 1:
            raise ValueError(f"{name} must be at least 1; got {value}.")


def _deepnorm_beta(slot: Slot, encoder: int | None, decoder: int | None) -> tuple[float, str]:
    """DeepNorm's β for the slot's stack: ``(8N)^-1/4`` in an encoder-only or decoder-only
    model; ``0.87(N^4·M)^-1/16`` in an encoder and ``(12M)^-1/4`` in a decoder of an
    encoder-decoder."""
    place = slot.place
    n = encoder if encoder is not None else place.encoder_depth
    m = decoder if decoder is not None else place.decoder_depth
    if n is not None and m is not None:
        if place.stack == "decoder":
            return (12 * m) ** -0.25, f"(12M)^-1/4, M={m}"
        return 0.87 * (n**4 * m) ** (-1 / 16), f"0.87(N⁴M)^-1/16, N={n}, M={m}"
    depth = depth_of(slot)
    return (8 * depth) ** -0.25, f"(8N)^-1/4, N={depth}"


_SCALED_PARTS = ("v", "attn_out", "fc_in", "gate", "up", "gate_up", "down")


def deepnorm(encoder_layers: int | None = None, decoder_layers: int | None = None) -> Scheme:
    """DeepNorm (Wang et al. 2022): Xavier normal with gain β on the value, attention
    output and MLP projections of every block, gain 1 on the queries and keys. The
    residual scale α (``x ← LN(α·x + f(x))``) is the model's own. The depths are read
    from the model; ``encoder_layers`` and ``decoder_layers`` override them. Partial.

    Examples
    --------
    >>> from weightinit import Weight
    >>> from weightinit.roles import Place, Slot
    >>> from weightinit.schemes import deepnorm
    >>> v = Slot("projection", Weight((64, 64), "out_in"), place=Place(0, 6, 64, "v"))
    >>> deepnorm().choose(v).formula
    'Xavier normal × β, β = (8N)^-1/4, N=6'
    """

    _depths(encoder_layers, decoder_layers)

    def rule(slot: Slot, activation: object) -> Choice | None:
        part = slot.place.part
        if part is None or slot.place.layer is None:
            return None
        if part == "qkv":
            raise UnknownValueError(
                "DeepNorm gives v the gain β and q, k the gain 1, which one fused q/k/v "
                "weight cannot take both of"
            )
        if part not in _SCALED_PARTS:
            return Choice(glorot_normal(), slot.weight, "Xavier normal, gain 1")
        beta, formula = _deepnorm_beta(slot, encoder_layers, decoder_layers)
        init = variance_scaling(beta**2, "fan_avg", "normal")
        return Choice(init, slot.weight, f"Xavier normal × β, β = {formula}")

    name = "deepnorm"
    if encoder_layers is not None or decoder_layers is not None:
        name += f"(encoder_layers={encoder_layers}, decoder_layers={decoder_layers})"
    return Scheme(
        name,
        {"projection": rule, "residual_projection": rule, "attention_in": rule},
        partial=True,
        acts_on="the projections of transformer blocks",
        residual=True,
    )


def _xavier_uniform(slot: Slot, activation: object) -> Choice:
    return Choice(glorot_uniform(), slot.weight, "Xavier uniform")


def t_fixup(encoder_layers: int | None = None, decoder_layers: int | None = None) -> Scheme:
    """T-Fixup (Huang et al. 2020), for transformers without layer norm and warm-up:
    Xavier uniform projections; in each encoder block the value, attention output and MLP
    weights times ``0.67·N^(-1/4)``, in each decoder block times ``(9M)^(-1/4)``; token
    embeddings ``N(0, d^-1)`` times ``(9M)^(-1/4)`` (the paper's; in a model of one stack
    ``M`` is its depth). A stack that is not the decoder of an encoder-decoder takes the
    encoder's factor.

    Examples
    --------
    >>> from weightinit.schemes import t_fixup
    >>> t_fixup().name
    't_fixup'
    """

    _depths(encoder_layers, decoder_layers)

    def factor(slot: Slot) -> tuple[float, str]:
        place = slot.place
        m = decoder_layers if decoder_layers is not None else place.decoder_depth
        if place.stack == "decoder" or place.layer is None:
            if m is None:
                m = depth_of(slot)  # a single stack's embeddings: (9L)^-1/4
            return (9 * m) ** -0.25, f"(9M)^-1/4, M={m}"
        n = encoder_layers if encoder_layers is not None else place.encoder_depth
        if n is None:
            n = depth_of(slot)
        return 0.67 * n**-0.25, f"0.67·N^-1/4, N={n}"

    def projection(slot: Slot, activation: object) -> Choice:
        if slot.place.part == "qkv":
            raise UnknownValueError(
                "T-Fixup scales v but not q and k, which one fused q/k/v weight cannot take both of"
            )
        if slot.place.part not in _SCALED_PARTS or slot.place.layer is None:
            return Choice(glorot_uniform(), slot.weight, "Xavier uniform")
        scale, formula = factor(slot)
        init = variance_scaling(scale**2, "fan_avg", "uniform")
        return Choice(init, slot.weight, f"Xavier uniform × {formula}")

    def embedding(slot: Slot, activation: object) -> Choice:
        d = slot.weight.shape[-1]
        scale, formula = factor(slot)
        std = scale / math.sqrt(d)
        return Choice(normal(std), slot.weight, f"σ = d^-1/2 × {formula}, d={d}")

    base = dict(recommended().rules)
    base.update(
        {
            "projection": projection,
            "residual_projection": projection,
            "attention_in": projection,
            "head": _xavier_uniform,
            "embedding": embedding,
            "tied_embedding": embedding,
        }
    )
    name = "t_fixup"
    if encoder_layers is not None or decoder_layers is not None:
        name += f"(encoder_layers={encoder_layers}, decoder_layers={decoder_layers})"
    return Scheme(name, base, residual=True)
