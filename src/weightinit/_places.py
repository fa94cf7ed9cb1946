"""Where each parameter of a model sits, read from its module path alone: the tables of
the architectures' names and the residual blocks, stacks, branches and heads they give.

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

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from weightinit.roles import Place
from weightinit.roles import Slot

__all__ = [
    "HEAD_NAMES",
    "PART_NAMES",
    "RESIDUAL_NAME",
    "SHORTCUTS",
    "SQUEEZE_GATES",
    "Leaf",
    "PathStructure",
    "host_dtype",
    "part_of",
]


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


def host_dtype(dtype: object) -> np.dtype[Any]:
    """The dtype a framework's floating-point parameter of ``dtype`` is made in: float16,
    float32 or float64 as it is, anything else (bfloat16) in float32, cast by the framework.

    >>> host_dtype("bfloat16"), host_dtype("float64")
    (dtype('float32'), dtype('float64'))
    """
    name = str(getattr(dtype, "name", dtype))
    return np.dtype(name if name in ("float16", "float64") else "float32")


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
    {
        "downsample",
        "shortcut",
        "conv_shortcut",
        "skip",
        "proj_shortcut",
        "conv_proj",  # the Flax examples' ResNet: the projection and its norm
        "norm_proj",
        "norm_shortcut",
    }
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
        # The weights under each candidate: each module counts for its own innermost one and
        # for every candidate above it.
        known = set(candidates)
        counts: dict[str, int] = {}
        for candidate in candidates:
            parts = candidate.split(".")
            for end in range(1, len(parts) + 1):
                prefix = ".".join(parts[:end])
                if prefix in known:
                    counts[prefix] = counts.get(prefix, 0) + 1
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
            found._read_block(
                block, [leaf for leaf in leaves if found.block_of(leaf.module) == block]
            )
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
        missing += ["down"] * bool(
            {"fc_in", "gate", "up", "gate_up"} & known and "down" not in known
        )
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
        # In the order the block applies them, which a tree sorted by name (jax.eval_shape's)
        # has lost: by the number in each layer's name (Conv_1 and BatchNorm_1, conv2 and
        # bn2), a weight layer before the norm of the same number.
        order = {id(leaf): i for i, leaf in enumerate(branch)}

        def applied(leaf: Leaf) -> tuple[tuple[int, ...], int, int]:
            norm = leaf.slot is not None and leaf.slot.role in ("norm_gain", "norm_bias")
            return _numbers(relative[leaf.module]), int(norm), order[id(leaf)]

        branch.sort(key=applied)
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
                norm = leaf.module  # the first norm after the branch's last weight layer
                break
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
        if not self.heads and sequential and dense:
            # The model's last layer, by the numbers of its layers (layers_12 after layers_8,
            # whatever order the tree keeps): the head if it is dense.
            last = max(weights, key=lambda leaf: _numbers(leaf.module))
            if last in dense:
                self.heads.add(last.module)

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
