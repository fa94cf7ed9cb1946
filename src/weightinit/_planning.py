"""A whole model's plan from its parameters' paths: the framework-neutral half of
``weightinit.jax.initialize`` and ``weightinit.keras.initialize``.

A framework's adapter lists the model's parameters as :class:`Leaf` records: each one's
canonical name (module path and leaf, joined by dots: ``blocks.0.attn.query.weight``), its
path in the framework, its module's kind and, where the kind is known, its
:class:`~weightinit.roles.Slot`. :func:`plan` places every slot among the model's residual
blocks by its path (:class:`PathStructure`), corrects it by the user's ``roles=``, asks the
scheme, applies the user's ``rules=`` and returns a :class:`ModelPlan`, or raises one error
that lists every problem.

Blocks, read from paths alone:

- a *block* is the module at a path component that is a number inside a container named
  like a stack (``layers.0``, ``h.3``, ``blocks.11``), or whose own name says block or layer
  (``Block_0``, ``transformer_block_1``, ``encoder_layer``, ``ResNetBlock_2``), and that
  holds two or more weights; the innermost such module wins;
- blocks whose paths differ only in numbers form a *stack*; ``l`` counts them in the order
  of the model's parameters, ``L`` is their number; a stack under ``encoder`` and one under
  ``decoder`` make an encoder-decoder;
- a dense layer's *part* comes from its path inside the block (:data:`PART_NAMES`);
- a block whose dense layers have no part, with a shortcut module or a residual name, is a
  residual block of one branch: its last weight layer (and a norm after it) is ``last``;
- the *head* is a dense layer outside the blocks named like one (:data:`HEAD_NAMES`), or in
  a sequential model the last layer when it is dense.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import math
import re
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from weightinit import registry
from weightinit._errors import choice_error
from weightinit._fans import Weight
from weightinit._recommend import recommend
from weightinit.model import Param
from weightinit.roles import ROLES
from weightinit.roles import Place
from weightinit.roles import Slot
from weightinit.schemes import UnknownValueError
from weightinit.schemes import scheme as resolve_scheme

__all__ = [
    "HEAD_NAMES",
    "PART_NAMES",
    "Leaf",
    "ModelPlan",
    "PathStructure",
    "RoleRules",
    "idle_schemes",
    "plan",
    "promoted",
    "row",
]

#: Glob patterns on a dense layer's path inside its block (``"attn.c_proj"``), in order:
#: the first that matches gives its part. The names of GPT-2, BERT, Llama/Mistral/Qwen2,
#: T5, ViT, nanoGPT, torchtitan, NeoX, ConvNeXt, PyTorch's, Flax's, Haiku's, Equinox's and
#: Keras' layers.
PART_NAMES: list[tuple[str, str]] = [
    # attention's output projection, written into the residual stream
    ("*attn.c_proj", "attn_out"),  # GPT-2, nanoGPT
    ("*attention.c_proj", "attn_out"),  # GPT-2's cross-attention
    ("*attention.output.dense", "attn_out"),  # BERT, ViT
    ("*attention.dense", "attn_out"),  # GPT-NeoX
    ("*self_attention.linear_proj", "attn_out"),  # Megatron
    ("*Attention.o", "attn_out"),  # T5's SelfAttention.o and EncDecAttention.o
    ("*attn.proj", "attn_out"),  # timm
    ("*o_proj", "attn_out"),  # Llama, Mistral, Qwen2
    ("*out_proj", "attn_out"),  # nn.MultiheadAttention, BART, CLIP
    ("*output_proj", "attn_out"),  # Equinox's MultiheadAttention
    ("*attention.wo", "attn_out"),  # torchtitan, llama2.c
    ("*attn.o", "attn_out"),  # MPNet
    ("*out_lin", "attn_out"),  # DistilBERT
    ("*self_attn.dense", "attn_out"),  # Phi
    ("*attn.out", "attn_out"),
    ("*Attention*.out", "attn_out"),  # Flax's MultiHeadDotProductAttention_0.out
    ("*attention.out", "attn_out"),
    ("*attention_output", "attn_out"),  # Keras' MultiHeadAttention
    ("*multi_head_attention.linear", "attn_out"),  # Haiku's MultiHeadAttention
    ("*attn_out", "attn_out"),  # OLMo
    # the MLP's output projection
    ("*mlp.c_proj", "down"),  # GPT-2, nanoGPT
    ("*output.dense", "down"),  # BERT, ViT (after the attention's output.dense)
    ("*DenseReluDense.wo", "down"),  # T5
    ("*down_proj", "down"),
    ("*feed_forward.w2", "down"),
    ("*.w2", "down"),
    ("w2", "down"),
    ("*fc2", "down"),
    ("*lin2", "down"),  # DistilBERT
    ("*ffn_output", "down"),  # ALBERT
    ("*mlp.fc_out", "down"),  # GPT-J
    ("*dense_4h_to_h", "down"),  # GPT-NeoX
    ("*linear_fc2", "down"),  # Megatron
    ("*pwconv2", "down"),  # ConvNeXt (transformers)
    ("*ff_out", "down"),  # OLMo
    ("linear2", "down"),  # nn.TransformerEncoderLayer
    # the input side
    ("*c_attn", "qkv"),
    ("*qkv", "qkv"),
    ("*query_key_value", "qkv"),
    ("*Wqkv", "qkv"),
    ("*qkv_proj", "qkv"),
    ("*linear_qkv", "qkv"),
    ("*att_proj", "qkv"),  # OLMo
    ("*q_attn", "q"),  # GPT-2's cross-attention
    ("*query_proj", "q"),  # DeBERTa, Equinox
    ("*key_proj", "k"),
    ("*value_proj", "v"),
    ("*q_lin", "q"),  # DistilBERT
    ("*k_lin", "k"),
    ("*v_lin", "v"),
    ("*attn.q", "q"),  # MPNet
    ("*attn.k", "k"),
    ("*attn.v", "v"),
    ("*q_proj", "q"),
    ("*k_proj", "k"),
    ("*v_proj", "v"),
    ("*.query", "q"),
    ("*.key", "k"),
    ("*.value", "v"),
    ("*Attention.q", "q"),
    ("*Attention.k", "k"),
    ("*Attention.v", "v"),
    ("*.wq", "q"),
    ("*.wk", "k"),
    ("*.wv", "v"),
    ("*gate_up_proj", "gate_up"),
    ("*gate_proj", "gate"),
    ("*up_proj", "up"),
    ("*.wi_0", "gate"),  # T5's gated MLP
    ("*.wi_1", "up"),
    ("*.w1", "gate"),  # torchtitan, llama2.c: w1 the gate, w3 the up projection
    ("*.w3", "up"),
    ("*.wi", "fc_in"),  # T5
    ("*c_fc", "fc_in"),
    ("*intermediate.dense", "fc_in"),
    ("*fc1", "fc_in"),
    ("*lin1", "fc_in"),  # DistilBERT
    ("*attention.ffn", "fc_in"),  # ALBERT
    ("*mlp.fc_in", "fc_in"),  # GPT-J
    ("*dense_h_to_4h", "fc_in"),
    ("*linear_fc1", "fc_in"),
    ("*pwconv1", "fc_in"),
    ("*ff_proj", "fc_in"),
    ("linear1", "fc_in"),
]

#: Names of a model's output layer.
HEAD_NAMES = frozenset(
    {
        "lm_head",
        "head",
        "classifier",
        "fc",
        "output",
        "score",
        "decoder",
        "embed_out",
        "qa_outputs",  # question answering
        "seq_relationship",  # BERT's next-sentence head
        "dense_prediction",  # ELECTRA's discriminator
        "logits",
    }
)
#: Submodules outside a residual branch: the shortcut, and squeeze-excitation gates.
SHORTCUTS = frozenset(
    {"downsample", "shortcut", "conv_shortcut", "skip", "proj_shortcut", "conv_proj"}
)
SQUEEZE_GATES = frozenset(
    {"se", "attn", "attention", "squeeze_excite", "squeeze_excitation", "se_module", "se_layer"}
)
#: Class or module names of residual blocks.
RESIDUAL_NAME = re.compile(r"Basic|Bottle|Res(idual|Block|Net)?", re.IGNORECASE)

#: A path component that is itself a block (``Block_0``, ``transformer_block_1``,
#: ``EncoderLayer``, ``ResNetBlock_2``): a name ending in block or layer, then a number.
_BLOCK_NAME = re.compile(r"^[A-Za-z0-9_]*?(block|layer)(_?\d+)?$", re.IGNORECASE)
#: A container of blocks, whose numbered children are blocks (``layers.0``, ``h.3``).
_STACK_NAME = re.compile(r"^(h|blocks?|layers?|[A-Za-z0-9_]*_(blocks|layers))$", re.IGNORECASE)
_NUMBER = re.compile(r"_\d+$")

_PLACE_FIELDS = tuple(f.name for f in dataclasses.fields(Place))
_FIELDS = ("role", "layout", "in_axis", "out_axis", *_PLACE_FIELDS)


@dataclass(frozen=True)
class Leaf:
    """One parameter as a framework's adapter reads it.

    ``name`` is the canonical name (the module's path and the leaf, joined by dots, with
    the leaf in PyTorch's words: ``weight`` for a kernel, ``bias``); ``path`` the
    framework's own; ``module`` the canonical path of the module that holds it; ``kind``
    the module's kind, for messages; ``slot`` its role and geometry, ``None`` where the
    adapter does not know the module.
    """

    name: str
    path: str
    module: str
    kind: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    slot: Slot | None = None
    #: A hint for an unknown parameter: what ``roles=`` should say of it.
    hint: str = ""


def promoted(slot: Slot) -> Slot:
    """A dense weight whose part writes into the residual stream (attention's output, the
    MLP's down projection) as a ``residual_projection``."""
    if slot.role == "projection" and slot.place.part in ("attn_out", "down"):
        return dataclasses.replace(slot, role="residual_projection")
    return slot


def idle_schemes(composed: tuple[Any, ...], used: set[str]) -> list[str]:
    """A line per scheme composed on the base that gave no parameter anything (``used``:
    the names of the schemes that did)."""
    return [
        f"scheme {layer.name!r} changes nothing in this model: it acts on "
        f"{layer.acts_on or 'roles this model does not have'}, and no parameter is one "
        "(say which are with roles=)."
        for layer in composed[1:]
        if layer.name not in used
    ]


def part_of(relative: str) -> str | None:
    """The part of the dense layer at ``relative`` inside its block, from :data:`PART_NAMES`."""
    for pattern, part in PART_NAMES:
        if fnmatch.fnmatchcase(relative, pattern):
            return part
    return None


def _numbers(path: str) -> tuple[int, ...]:
    """The numbers in ``path``, in order: the key that sorts blocks as the model counts them."""
    return tuple(int(n) for n in re.findall(r"\d+", path))


def _stem(component: str) -> str:
    return _NUMBER.sub("", component)


@dataclass
class PathStructure:
    """The residual blocks, stacks, branches and heads of a model read from its parameters'
    module paths (see the module's docstring); :meth:`place` gives a leaf's place."""

    #: Block path -> (stack, index, depth).
    blocks: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    widths: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    pair: tuple[int, int] | None = None
    #: Module path -> (last, branch size) in a convolutional residual block.
    branch: dict[str, tuple[bool, int]] = field(default_factory=dict)
    heads: set[str] = field(default_factory=set)
    #: Blocks with dense layers of no known part -> those layers.
    unknown: dict[str, list[str]] = field(default_factory=dict)
    #: Blocks with an input projection the table knows and no output projection.
    incomplete: dict[str, list[str]] = field(default_factory=dict)
    width: int | None = None

    @classmethod
    def read(cls, leaves: Sequence[Leaf], *, sequential: bool = False) -> PathStructure:
        """The structure of the model whose parameters are ``leaves`` (in the model's order);
        ``sequential``: the model is a plain sequence of layers (its last dense layer is
        the head)."""
        found = cls()
        weights = [leaf for leaf in leaves if leaf.slot is not None and len(leaf.shape) >= 2]
        modules = list(dict.fromkeys(leaf.module for leaf in weights))
        candidates: list[str] = []
        for module in modules:
            parts = module.split(".")
            for end in range(len(parts), 0, -1):
                here, above = parts[end - 1], parts[end - 2] if end >= 2 else ""
                if (
                    (here.isdigit() and _STACK_NAME.match(above))
                    or (not here.isdigit() and _BLOCK_NAME.match(here))
                    or (_NUMBER.search(here) and _STACK_NAME.match(_stem(here)))
                ):
                    candidates.append(".".join(parts[:end]))
                    break
        counts: dict[str, int] = {}
        for module in modules:
            for candidate in dict.fromkeys(candidates):
                if module == candidate or module.startswith(candidate + "."):
                    counts[candidate] = counts.get(candidate, 0) + 1
        blocks = [c for c in dict.fromkeys(candidates) if counts.get(c, 0) >= 2]
        stacks: dict[str, list[str]] = {}
        for block in blocks:
            stack = ".".join("*" if c.isdigit() else _stem(c) for c in block.split("."))
            stacks.setdefault(stack, []).append(block)
        for stack, members in stacks.items():
            members.sort(key=_numbers)  # h_2 before h_10, whatever order the tree keeps
            lower = stack.lower()
            found.kinds[stack] = (
                "encoder" if "encoder" in lower else "decoder" if "decoder" in lower else ""
            )
            for index, block in enumerate(members):
                found.blocks[block] = (stack, index, len(members))
        encoders = [s for s, k in found.kinds.items() if k == "encoder"]
        decoders = [s for s, k in found.kinds.items() if k == "decoder"]
        if len(encoders) == 1 and len(decoders) == 1:
            found.pair = (len(stacks[encoders[0]]), len(stacks[decoders[0]]))
        for block in found.blocks:
            found._read_block(block, [leaf for leaf in leaves if found.block_of(leaf.module) == block])
        if found.widths:
            values = list(found.widths.values())
            found.width = max(set(values), key=values.count)
        found._find_heads(weights, sequential)
        return found

    def block_of(self, module: str) -> str | None:
        """The block that holds the module at ``module``."""
        parts = module.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in self.blocks:
                return prefix
        return None

    def _read_block(self, block: str, inside: list[Leaf]) -> None:
        dense = [
            leaf
            for leaf in inside
            if leaf.slot is not None
            and leaf.slot.role in ("projection", "attention_in")
            and leaf.name.endswith(".weight")
        ]
        relative = {leaf.module: leaf.module[len(block) + 1 :] for leaf in inside}
        parts = {leaf.module: part_of(relative[leaf.module]) for leaf in dense}
        known = set(parts.values()) - {None}
        missing = ["attn_out"] * bool({"q", "k", "v", "qkv"} & known and "attn_out" not in known)
        missing += ["down"] * bool({"fc_in", "gate", "up", "gate_up"} & known and "down" not in known)
        if missing:
            self.incomplete[block] = missing
        for leaf in dense:  # the stream's width: what a projection into it writes
            if parts[leaf.module] in ("attn_out", "down") and leaf.slot is not None:
                self.widths[block] = leaf.slot.weight.fans.fan_out * leaf.slot.weight.blocks
        layers = [
            leaf
            for leaf in inside
            if leaf.slot is not None and leaf.name.endswith(".weight") and len(leaf.shape) >= 2
        ]
        names = {relative[leaf.module].split(".")[0] for leaf in inside}
        residual = bool(names & SHORTCUTS) or bool(RESIDUAL_NAME.search(block.rpartition(".")[2]))
        if not known and layers and residual:
            self._mark_branch(block, inside, relative)
        else:
            unknown = [relative[leaf.module] for leaf in dense if parts[leaf.module] is None]
            if unknown:
                self.unknown[block] = unknown

    def _mark_branch(self, block: str, inside: list[Leaf], relative: dict[str, str]) -> None:
        outside = SHORTCUTS | SQUEEZE_GATES
        branch = [
            leaf
            for leaf in inside
            if leaf.slot is not None and not set(relative[leaf.module].split(".")) & outside
        ]
        weights = [
            leaf.module for leaf in branch if leaf.name.endswith(".weight") and len(leaf.shape) >= 2
        ]
        weights = list(dict.fromkeys(weights))
        if not weights:
            return
        for leaf in inside:
            if relative[leaf.module].split(".")[0] in SHORTCUTS:
                self.branch[leaf.module] = (False, 0)
        for module in weights:
            self.branch[module] = (False, len(weights))
        self.branch[weights[-1]] = (True, len(weights))
        after = False
        norm = None
        for leaf in branch:
            if leaf.module == weights[-1]:
                after = True
            elif after and leaf.slot is not None and leaf.slot.role == "norm_gain":
                norm = leaf.module
        if norm is not None:
            self.branch[norm] = (True, len(weights))
        last = next(leaf for leaf in reversed(branch) if leaf.module == weights[-1])
        if last.slot is not None and len(last.shape) >= 2:
            self.widths.setdefault(block, last.slot.weight.fans.fan_out // max(1, _field(last)))

    def _find_heads(self, weights: list[Leaf], sequential: bool) -> None:
        dense = [
            leaf
            for leaf in weights
            if leaf.slot is not None
            and leaf.slot.role == "projection"
            and self.block_of(leaf.module) is None
        ]
        for leaf in dense:
            attribute = _stem(leaf.module.rpartition(".")[2])
            if attribute in HEAD_NAMES:
                self.heads.add(leaf.module)
        if not self.heads and sequential and dense and weights[-1] is dense[-1]:
            self.heads.add(dense[-1].module)

    def place(self, leaf: Leaf) -> Place:
        """The place of ``leaf``."""
        encoder, decoder = self.pair if self.pair is not None else (None, None)
        block = self.block_of(leaf.module)
        if block is None:
            depths = {depth for _, _, depth in self.blocks.values()}
            stacks = {stack for stack, _, _ in self.blocks.values()}
            return Place(
                depth=next(iter(depths)) if len(stacks) == 1 else None,
                width=self.width,
                encoder_depth=encoder,
                decoder_depth=decoder,
                head=leaf.module in self.heads,
            )
        stack, index, depth = self.blocks[block]
        relative = leaf.module[len(block) + 1 :]
        dense = leaf.slot is not None and leaf.slot.role in ("projection", "attention_in")
        last, size = self.branch.get(leaf.module, (False, None))
        return Place(
            layer=index,
            depth=depth,
            width=self.widths.get(block, self.width),
            part=part_of(relative) if dense and relative else None,
            last=last,
            branch=size,
            stack=self.kinds.get(stack, "") if self.pair is not None else "",
            encoder_depth=encoder,
            decoder_depth=decoder,
        )


def _field(leaf: Leaf) -> int:
    """The receptive field of a weight leaf (1 for a dense one)."""
    assert leaf.slot is not None
    return leaf.slot.weight.fans.receptive_field


class RoleRules:
    """The user's ``roles=``: glob patterns on parameter names, each mapped to a role or to a
    mapping of a role, a layout (or ``in_axis``/``out_axis``) and
    :class:`~weightinit.roles.Place` fields."""

    def __init__(self, roles: Mapping[str, object] | None) -> None:
        if roles is not None and not isinstance(roles, Mapping):
            raise TypeError(f"roles must be a mapping; got {type(roles).__name__}.")
        self.items: list[tuple[str, dict[str, object]]] = []
        for key, value in (roles or {}).items():
            if not isinstance(key, str):
                raise TypeError(f"a key of roles= must be a glob pattern (str); got {key!r}.")
            fields = {"role": value} if isinstance(value, str) else value
            if not isinstance(fields, Mapping):
                raise TypeError(
                    f"roles[{key!r}] must be a role name or a mapping of {', '.join(_FIELDS)}; "
                    f"got {value!r}."
                )
            for name in fields:
                if name not in _FIELDS:
                    raise choice_error(f"a field of roles[{key!r}]", name, _FIELDS)
            if "role" in fields and fields["role"] not in ROLES:
                raise choice_error(f"roles[{key!r}]", fields["role"], tuple(ROLES))
            if "layout" in fields:
                Weight.checked((), fields["layout"], 1, 1)  # a known layout, checked now
            Place(**{k: v for k, v in fields.items() if k in _PLACE_FIELDS})  # type: ignore[arg-type]
            self.items.append((key, dict(fields)))
        self.used: set[int] = set()
        #: The parameters a pattern gave a role or a part.
        self.said: set[str] = set()

    def geometry(self, fields: Mapping[str, object], weight: Weight) -> Weight:
        """``weight`` with the layout and axes ``fields`` say."""
        layout = fields.get("layout", weight.layout)
        axes = {k: fields[k] for k in ("in_axis", "out_axis") if k in fields}
        return Weight.checked(weight.shape, layout, weight.groups, weight.blocks, **axes)  # type: ignore[arg-type]

    def apply(
        self, names: Sequence[str], slot: Slot | None, shape: tuple[int, ...], framework: str
    ) -> Slot | None:
        """``slot`` as the first pattern matching one of ``names`` corrects it (unplaced: the
        caller places it); a parameter the adapter does not know gets a slot from a pattern
        that names its role and, for a weight of two or more axes, its layout or axes."""
        for index, (pattern, fields) in enumerate(self.items):
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                continue
            self.used.add(index)
            if "role" in fields or "part" in fields:
                self.said.add(names[0])
            if slot is None:
                role = fields.get("role")
                if role is None:
                    raise ValueError(
                        f"roles[{pattern!r}] reaches a parameter of a module {framework} does "
                        "not know; say its role"
                    )
                if len(shape) >= 2 and not {"layout", "in_axis", "out_axis"} & set(fields):
                    raise ValueError(
                        f"roles[{pattern!r}] reaches a weight of a module {framework} does not "
                        "know; say its layout too ({'role': ..., 'layout': 'in_out'})"
                    )
                slot = Slot(str(role), Weight.checked(shape, "in_out", 1, 1))
            changes: dict[str, Any] = {}
            if "role" in fields:
                changes["role"] = fields["role"]
            if {"layout", "in_axis", "out_axis"} & set(fields):
                changes["weight"] = self.geometry(fields, slot.weight)
            place = {k: v for k, v in fields.items() if k in _PLACE_FIELDS}
            if place:
                changes["place"] = dataclasses.replace(slot.place, **place)  # type: ignore[arg-type]
            changed = dataclasses.replace(slot, **changes)
            return changed if "role" in fields else promoted(changed)
        return None if slot is None else promoted(slot)

    def unused(self, names: list[str]) -> list[str]:
        """A line per pattern that matched no parameter, with the closest names."""
        return [
            f"roles[{pattern!r}] matches no parameter; the closest names are "
            f"{', '.join(map(repr, difflib.get_close_matches(pattern, names, n=3, cutoff=0.0)))}."
            for index, (pattern, _) in enumerate(self.items)
            if index not in self.used
        ]


class ModelPlan(dict[str, Param]):
    """What a whole-model ``initialize`` gives each parameter, by canonical name, in the
    model's order; it prints as a table (name, role, block index ``l``, shape, initializer,
    the scheme's formula, layout, groups, blocks, fans and std).

    ``paths`` maps each canonical name to the framework's own path; ``slots`` holds each
    parameter's role and place, ``formulas`` what the scheme's rule says of it (``"rule"``
    for a user's rule) and ``schemes`` which scheme of a composition gave it.
    """

    def __init__(self) -> None:
        super().__init__()
        self.paths: dict[str, str] = {}
        self.slots: dict[str, Slot] = {}
        self.formulas: dict[str, str] = {}
        self.schemes: dict[str, str] = {}

    def __str__(self) -> str:
        head = ("name", "role", "l", "shape", "initializer", "formula", "layout", "groups")
        rows: list[tuple[str, ...]] = [(*head, "blocks", "fan_in", "fan_out", "std")]
        for name, p in self.items():
            found = self.slots.get(name)
            role = found.role if found is not None else "-"
            layer = "" if found is None or found.place.layer is None else str(found.place.layer)
            rows.append(row(name, p, role, layer, self.formulas.get(name, "")))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
        return "\n".join(line.rstrip() for line in lines)


def row(name: str, p: Param, role: str, layer: str, formula: str) -> tuple[str, ...]:
    """One row of a plan's table."""
    init = registry.get(p.initializer)
    weight = p.weight
    try:
        std = f"{math.sqrt(init._recipe(weight).variance()):.4g}"  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        std = "-"
    try:
        fan_in, fan_out = str(weight.fans.fan_in), str(weight.fans.fan_out)
    except ValueError:
        fan_in = fan_out = "-"
    shape = "x".join(map(str, p.shape)) or "()"
    options_text = (p.layout if len(p.shape) >= 2 else "-", str(p.groups), str(p.blocks))
    return (name, role, layer, shape, repr(init), formula, *options_text, fan_in, fan_out, std)


def _rule_param(value: object, slot: Slot | None, leaf: Leaf) -> Param:
    """A user's rule as the parameter's :class:`Param`: an initializer (or its name or
    config) drawn with the slot's geometry (the leaf's shape in ``in_out`` where the adapter
    does not know it), or a :class:`Param` of the leaf's shape."""
    if isinstance(value, Param):
        if value.shape != leaf.shape:
            raise ValueError(f"the rule gives shape {value.shape}; the parameter has {leaf.shape}")
        return value if value.dtype is not None else Param.of(value.initializer, value.weight, dtype=leaf.dtype)
    weight = slot.weight if slot is not None else Weight.checked(leaf.shape, "in_out", 1, 1)
    checked = Param.of(registry.get(value), weight, dtype=leaf.dtype)
    registry.get(checked.initializer)._recipe(checked.weight)  # it can fill it
    return checked


def plan(
    leaves: Sequence[Leaf],
    *,
    scheme: object,
    activation: object,
    rules: Mapping[str, object] | None,
    roles: Mapping[str, object] | None,
    framework: str,
    sequential: bool = False,
) -> ModelPlan:
    """The plan of a model whose parameters are ``leaves``: every problem is collected and
    raised together as one ``ValueError`` (each unknown parameter with what ``roles=`` or
    ``rules=`` should say, each rule that matches nothing with the closest names, each
    parameter the scheme has no rule for)."""
    chosen = resolve_scheme(scheme)
    recommend(activation)  # a misspelt activation is an error under every scheme
    if rules is not None and not isinstance(rules, Mapping):
        raise TypeError(f"rules must be a mapping of glob patterns; got {type(rules).__name__}.")
    rule_items = list((rules or {}).items())
    for key, _ in rule_items:
        if not isinstance(key, str):
            raise TypeError(f"a key of rules= must be a glob pattern (str); got {key!r}.")
    corrections = RoleRules(roles)
    found = PathStructure.read(leaves, sequential=sequential)
    result = ModelPlan()
    problems: list[str] = []
    used_rules: set[int] = set()
    unknown: dict[str, list[Leaf]] = {}
    refused: dict[str, list[tuple[str, str, int]]] = {}
    seen: dict[str, str] = {}
    for leaf in leaves:
        names = [leaf.name, leaf.path]
        if leaf.name in seen:
            problems.append(
                f"parameters {seen[leaf.name]!r} and {leaf.path!r} have the same canonical "
                f"name {leaf.name!r}; rename one of the modules."
            )
            continue
        seen[leaf.name] = leaf.path
        result.paths[leaf.name] = leaf.path
        slot = leaf.slot
        try:
            slot = corrections.apply(names, slot, leaf.shape, framework)
        except ValueError as error:
            problems.append(f"{error}.")
            continue
        if slot is not None:
            role = slot.role
            if role == "projection" and leaf.module in found.heads and leaf.name.endswith("weight"):
                role = "head"
            place = found.place(leaf)
            if slot.place != Place():  # roles= said some of it
                place = dataclasses.replace(
                    place,
                    **{
                        f.name: getattr(slot.place, f.name)
                        for f in dataclasses.fields(Place)
                        if getattr(slot.place, f.name) != getattr(Place(), f.name)
                    },
                )
            slot = dataclasses.replace(slot, role=role, place=place, name=leaf.name)
            if role == "projection":
                slot = promoted(slot)
        rule = next(
            (
                (i, value)
                for i, (key, value) in enumerate(rule_items)
                if any(fnmatch.fnmatchcase(n, key) for n in names)
            ),
            None,
        )
        if rule is not None:
            used_rules.add(rule[0])
            try:
                result[leaf.name] = _rule_param(rule[1], slot, leaf)
            except (TypeError, ValueError) as error:
                problems.append(f"the rule for {leaf.name!r}: {error}.")
                continue
            if slot is not None:
                result.slots[leaf.name] = slot
            result.formulas[leaf.name] = "rule"
            continue
        if slot is None:
            unknown.setdefault(leaf.kind, []).append(leaf)
            continue
        try:
            choice = chosen.choose(slot, activation)
            if choice is None:
                raise UnknownValueError(f"scheme {chosen.name!r} has no rule for it")
            checked = Param.of(choice.initializer, choice.weight, dtype=leaf.dtype)
        except (UnknownValueError, ValueError) as error:
            refused.setdefault(str(error).rstrip("."), []).append(
                (leaf.name, f"{slot.role} of a {leaf.kind}", len(leaf.shape))
            )
            continue
        result[leaf.name] = checked
        result.slots[leaf.name] = slot
        result.formulas[leaf.name] = choice.formula
        result.schemes[leaf.name] = choice.scheme
    for text, where in refused.items():
        name, what, rank = where[0]
        hint = "weightinit.constant(...)" if rank < 2 else "an initializer"
        more = f" (and {len(where) - 1} more parameters)" if len(where) > 1 else ""
        problems.append(
            f"parameter {name!r} ({what}){more}: {text}; give it a rule "
            f"(rules={{{name!r}: {hint}}})."
        )
    for kind, missing in unknown.items():
        listed = ", ".join(repr(leaf.name) for leaf in missing[:6]) + (
            f" and {len(missing) - 6} more" if len(missing) > 6 else ""
        )
        hints = sorted({leaf.hint for leaf in missing if leaf.hint})
        problems.append(
            f"parameters {listed} (of {kind}) are of a kind {framework} does not know"
            + (f" ({'; '.join(hints)})" if hints else "")
            + "; say what each is with roles= ({'<name>': {'role': 'projection', 'layout': "
            "'in_out'}} for a weight, {'<name>': 'bias'} for a vector) or give it a rule "
            "(rules={'<name>': weightinit.lecun_normal()})."
        )
    all_names = [leaf.name for leaf in leaves]
    for index, (key, _) in enumerate(rule_items):
        if index not in used_rules:
            close = difflib.get_close_matches(key, all_names, n=3, cutoff=0.0)
            problems.append(
                f"rule {key!r} matches no parameter; the closest names are "
                f"{', '.join(map(repr, close))}."
            )
    problems += corrections.unused(all_names)
    problems += idle_schemes(chosen.composed, set(result.schemes.values()))
    if chosen.residual:
        problems += _unscaled(chosen.name, found, result)
    if problems:
        raise ValueError(
            f"{framework} cannot plan this model ({len(problems)} problem"
            f"{'s' if len(problems) > 1 else ''}):\n- " + "\n- ".join(problems)
        )
    return result


def _unscaled(name: str, found: PathStructure, result: ModelPlan) -> list[str]:
    """Where a scheme scales residual projections: a line per block whose dense layers the
    table cannot place (nor ``roles=``), or one if the model has no residual projection."""
    lines = []
    for block in sorted({*found.incomplete, *found.unknown}, key=list(found.blocks).index):
        inside = [s for n, s in result.slots.items() if found.block_of(n.rpartition(".")[0]) == block]
        if any(s.role == "residual_projection" for s in inside) and block not in found.unknown:
            continue
        unsaid = found.unknown.get(block, [])
        if not unsaid and any(s.role == "residual_projection" for s in inside):
            continue
        example = f"*.{unsaid[0]}.weight" if unsaid else "*.<name>.weight"
        lines.append(
            f"block {block!r} has dense layers of no known part "
            f"({', '.join(map(repr, unsaid)) or 'and no output projection'}), and scheme "
            f"{name!r} scales the projections that write into the residual stream; say what "
            f"each is with roles=: {{{example!r}: {{'role': 'residual_projection', 'part': "
            "'down'}} (or part 'attn_out'), or {'role': 'projection', 'part': 'fc_in'} (or q, "
            "k, v, gate, up) for one that reads the stream."
        )
    if not lines and not any(s.role == "residual_projection" for s in result.slots.values()):
        lines.append(
            f"scheme {name!r} scales the projections that write into the residual stream, and "
            "this model has none the path table knows; say which they are with roles= "
            "({'<name>.weight': {'role': 'residual_projection', 'depth': L, 'layer': l}})."
        )
    return lines
