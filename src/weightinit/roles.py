"""What a parameter does in a model: its role, its geometry and the facts a scheme reads.

A framework's adapter (``weightinit.torch``'s module table) says, for each parameter, one
:class:`Slot`: the role (a projection, a convolution, a norm's gain, ...), the
:class:`~weightinit.Weight` geometry its fans are read from, the few facts a framework's
own defaults need beyond the shape (the fan-in a bias's bound is computed from, a recurrent
layer's hidden size), and where the parameter sits in the network: its :class:`Place` (the
residual block it belongs to, the depth and width of the stack of blocks, which projection
of the block it is). A scheme (:mod:`weightinit.schemes`) maps slots to initializers and
knows nothing of frameworks; the adapter knows nothing of schemes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from weightinit._errors import choice_error
from weightinit._fans import Weight

__all__ = ["PARTS", "ROLES", "Place", "Slot"]

#: Every role, with what it is. A scheme gives each of them an initializer.
ROLES: dict[str, str] = {
    "projection": "a dense weight that reads its input (q, k, v, an MLP's up, gate or fc1)",
    "residual_projection": "a dense weight whose output is added to the residual stream "
    "(attention's output projection, an MLP's down projection: c_proj, o_proj, wo, w2, fc2)",
    "head": "the output layer's weight (a classifier, a language model's head)",
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
    "residual_gate": "a scalar that multiplies a residual branch (SkipInit's and ReZero's alpha)",
    "bias": "any other layer's bias",
}


#: Which projection of a block a dense weight is, where the architecture says.
PARTS: dict[str, str] = {
    "q": "attention's query projection",
    "k": "attention's key projection",
    "v": "attention's value projection",
    "qkv": "q, k and v stacked in one weight (or k and v)",
    "attn_out": "attention's output projection (into the residual stream)",
    "fc_in": "an MLP's input projection (fc1, c_fc, an intermediate dense layer)",
    "gate": "a gated MLP's gate projection (gate_proj, w1, wi_0)",
    "up": "a gated MLP's up projection (up_proj, w3, wi_1)",
    "gate_up": "a gated MLP's gate and up projections stacked in one weight",
    "down": "an MLP's output projection (into the residual stream: down_proj, c_proj, w2, fc2)",
}


@dataclass(frozen=True)
class Place:
    """Where a parameter sits in a network of residual blocks.

    Parameters
    ----------
    layer : int, optional
        The index ``l`` (from 0) of the residual block that holds it in its stack; ``None``
        outside the blocks (embeddings, the head, a stem).
    depth : int, optional
        ``L``, the number of blocks in that stack (an encoder's and a decoder's are apart).
    width : int, optional
        ``d``, the width of the residual stream (a transformer's hidden size; a
        convolutional block's output channels).
    part : str, optional
        Which projection of its block it is (:data:`PARTS`).
    last : bool, default False
        It is the last convolution, or the last norm, of a residual branch (what
        zero-init-residual and Fixup zero).
    branch : int, optional
        ``m``, the number of weight layers of its residual branch (Fixup's exponent); 0 for
        a weight layer on the block's shortcut.
    stack : str, default ""
        The stack of blocks it belongs to: ``"encoder"`` or ``"decoder"`` in an
        encoder-decoder, else ``""``.
    encoder_depth, decoder_depth : int, optional
        An encoder-decoder's ``N`` and ``M`` (DeepNorm's and T-Fixup's constants need both).
    head : bool, default False
        It belongs to the model's output layer (its weight or its bias).

    Examples
    --------
    >>> from weightinit.roles import Place
    >>> Place(layer=3, depth=12, width=768, part="attn_out").part
    'attn_out'
    """

    layer: int | None = None
    depth: int | None = None
    width: int | None = None
    part: str | None = None
    last: bool = False
    branch: int | None = None
    stack: str = ""
    encoder_depth: int | None = None
    decoder_depth: int | None = None
    head: bool = False

    def __post_init__(self) -> None:
        if self.part is not None and self.part not in PARTS:
            raise choice_error("part", self.part, tuple(PARTS))
        if self.stack not in ("", "encoder", "decoder"):
            raise choice_error("stack", self.stack, ("", "encoder", "decoder"))
        for name in ("last", "head"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"Place.{name} must be a bool; got {getattr(self, name)!r}.")
        for name in ("layer", "depth", "width", "branch", "encoder_depth", "decoder_depth"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"Place.{name} must be an int or None; got {value!r}.")
            least = 0 if name in ("layer", "branch") else 1
            if value is not None and value < least:
                raise ValueError(f"Place.{name} must be at least {least}; got {value}.")
        if self.layer is not None and self.depth is not None and self.layer >= self.depth:
            raise ValueError(
                f"Place.layer counts the blocks from 0, so it must be below depth "
                f"{self.depth}; got {self.layer}."
            )


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
    place : Place
        Where it sits among the model's residual blocks.
    name : str
        Its name in the model (what a scheme with per-parameter facts, ``mup``'s base
        shapes, reads).
    model : mapping
        Facts of the model's own configuration a scheme may read (``family``, the
        ``initializer_range``, a T5's ``d_kv``, ...).

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
    place: Place = field(default_factory=Place)
    name: str = ""
    model: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise choice_error("role", self.role, tuple(ROLES))
