"""What a parameter does in a model: its role, its geometry and the facts a scheme reads.

A framework's adapter (``weightinit.torch``'s module table) says, for each parameter, one
:class:`Slot`: the role (a projection, a convolution, a norm's gain, ...), the
:class:`~weightinit.Weight` geometry its fans are read from, and the few facts a
framework's own defaults need beyond the shape (the fan-in a bias's bound is computed from,
a recurrent layer's hidden size). A scheme (:mod:`weightinit.schemes`) maps slots to
initializers and knows nothing of frameworks; the adapter knows nothing of schemes.
"""

from __future__ import annotations

from dataclasses import dataclass

from weightinit._errors import choice_error
from weightinit._fans import Weight

__all__ = ["ROLES", "Slot"]

#: Every role, with what it is. A scheme gives each of them an initializer.
ROLES: dict[str, str] = {
    "projection": "a dense weight (a linear layer, an attention's output projection)",
    "convolution": "a convolution kernel, transposed or not",
    "bilinear": "a bilinear layer's weight (x1^T W x2)",
    "embedding": "an embedding table (rows are tokens)",
    "tied_embedding": "an embedding table that is also the output head (tied weights)",
    "position_embedding": "a table of position or segment embeddings",
    "token": "a learned token a model prepends (class, register, distillation)",
    "mask_token": "the learned token that stands for masked inputs",
    "attention_in": "attention's input projections: q, k and v, packed as blocks or apart",
    "attention_kv_bias": "the learned key and value biases appended to a sequence",
    "recurrent_input": "a recurrent layer's input-to-hidden weight (gates as blocks)",
    "recurrent_hidden": "a recurrent layer's hidden-to-hidden weight (gates as blocks)",
    "recurrent_projection": "a recurrent layer's hidden-state projection",
    "recurrent_bias": "a recurrent layer's bias",
    "norm_gain": "a normalisation layer's scale (its neutral value in ``value``)",
    "norm_bias": "a normalisation layer's shift",
    "layer_scale": "a per-channel scale of a residual branch (its start in ``value``)",
    "activation_parameter": "a learned activation's parameter (PReLU's slope, in ``value``)",
    "logit_scale": "a learned scale of a model's logits (CLIP's log-temperature, in ``value``)",
    "bias": "any other layer's bias",
}


@dataclass(frozen=True)
class Slot:
    """One parameter as a scheme sees it.

    Parameters
    ----------
    role : str
        One of :data:`ROLES`.
    weight : Weight
        The parameter's shape, layout, groups and stacked blocks.
    fan_in : int, optional
        The fan-in of the layer as its framework computes it, where a default needs it
        beyond the shape (a bias's bound; ``0`` for an empty fan-in; ``None`` where the
        framework zeroes the bias instead).
    hidden : int, optional
        A recurrent layer's hidden size.
    redrawn : bool, default False
        The framework's container re-draws this weight with Glorot uniform after building
        it (PyTorch's ``nn.Transformer`` does so for every weight of two or more axes).
    value : float, optional
        The value the parameter starts at where the model fixes it: a norm's neutral gain
        (1, or 0 where the layer multiplies by ``1 + gain``), a layer scale's start, PReLU's
        slope. ``None`` where it is unknown (a layer scale on the meta device whose module
        does not keep its start).
    default : str, optional
        The framework preset of this parameter where it differs from its role's
        (``"pytorch.embedding"`` for a position table held in an ``nn.Embedding``).

    Examples
    --------
    >>> from weightinit import Weight
    >>> from weightinit.roles import Slot
    >>> Slot("projection", Weight((256, 784), "out_in")).weight.fans.fan_in
    784
    """

    role: str
    weight: Weight
    fan_in: int | None = None
    hidden: int | None = None
    redrawn: bool = False
    value: float | None = None
    default: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise choice_error("role", self.role, tuple(ROLES))
