"""Where each parameter of a PyTorch model sits: its residual block, the depth and width of
the stack of blocks, which projection of the block it is, and the model's output head.

Read from the model's structure and names, without importing the model's package:

- a *block* is a module held in a ``ModuleList`` or ``Sequential`` whose class (or a base
  class of the model's own library) is named ``...Block``, ``...Layer`` or
  ``...Bottleneck`` (``GPT2Block``, ``LlamaDecoderLayer``, ``BertLayer``, ``T5Block``,
  torchvision's ``Bottleneck``), and not inside another block;
- the blocks of one container form a *stack*, and so do those of containers whose paths
  differ only in numbers (a ResNet's ``layer1`` ... ``layer4``, ``stages.0.layers`` ...);
  ``l`` counts a stack's blocks in order from 0, and ``L`` is their number. A model with one
  stack under a module named ``encoder`` and one under ``decoder`` is an encoder-decoder;
- a dense layer's *part* (q, k, v, the attention output, an MLP's input, gate, up or down
  projection) comes from its path inside the block, by the table :data:`PARTS` of the
  architectures' names (GPT-2, BERT, Llama/Mistral/Qwen2, T5, ViT, nanoGPT, torchtitan,
  NeoX, ConvNeXt, PyTorch's own layers);
- a block without such projections, which has a shortcut module (``downsample``,
  ``shortcut``) or a residual class name (``BasicBlock``, ``Bottleneck``, ``ResBlock``,
  ``ResidualBlock``), and does not say it skips no connection (``use_res_connect=False``),
  is a residual block of one branch: its weight layers outside the shortcut and
  squeeze-excitation modules; the last of them and a norm after it are marked ``last``;
- the *head* is a dense layer outside the blocks called ``lm_head``, ``head``,
  ``classifier``, ``fc``, ``output``, ``score`` or ``decoder`` (or the last dense layer of a
  module with one of those names); in a ``Sequential`` model without one, the last layer
  if it is dense.

``roles=`` in :func:`~weightinit.torch.plan` corrects any of this per parameter.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from weightinit._places import HEAD_NAMES as _HEADS
from weightinit._places import PART_NAMES as PARTS
from weightinit._places import RESIDUAL_NAME as _RESIDUAL_NAME
from weightinit._places import SHORTCUTS as _SHORTCUTS
from weightinit._places import SQUEEZE_GATES as _GATES
from weightinit.roles import Place
from weightinit.torch._modules import is_a
from weightinit.torch._modules import qualified

__all__ = ["PARTS", "Structure", "structure"]

_BLOCK = re.compile(r"(Block|Layer|Bottleneck)$")
#: Base classes whose name says nothing of the subclass (transformers' stages and blocks
#: both derive from GradientCheckpointingLayer).
_NEUTRAL_BASES = ("torch.", "transformers.modeling_layers")
_CONTAINERS = ("torch.nn.modules.container.ModuleList", "torch.nn.modules.container.Sequential")

#: Parts of blocks of a known class that their path does not say (torchvision's ConvNeXt
#: block is one Sequential).
CLASS_PARTS: dict[str, dict[str, str]] = {
    "torchvision.models.convnext.CNBlock": {"block.3": "fc_in", "block.5": "down"},
}

#: nn.MultiheadAttention's own tensors.
LEAF_PARTS = {
    "in_proj_weight": "qkv",
    "q_proj_weight": "q",
    "k_proj_weight": "k",
    "v_proj_weight": "v",
}

#: Attributes by which blocks say whether they add their input (False: no skip).
_SKIP_FLAGS = ("use_res_connect", "use_residual", "has_skip", "use_shortcut", "apply_dropout")
_WIDTHS = ("hidden_size", "n_embd", "d_model", "dim", "hidden_dim", "embed_dim")
#: Facts of a transformers configuration a scheme may read.
_FACTS = (
    "initializer_range",
    "initializer_factor",
    "d_kv",
    "d_model",
    "num_heads",
    "n_layer",
    "num_hidden_layers",
    "hidden_size",
)


def _is_container(module: Any) -> bool:
    return is_a(module, _CONTAINERS)


def _is_block_class(module: Any) -> bool:
    """Whether ``module``'s class, or a base of its own library, is named like a block."""
    for kind in type(module).__mro__:
        if kind.__module__.startswith(_NEUTRAL_BASES):
            continue
        if _BLOCK.search(kind.__name__):
            return True
    return False


def part_of(relative: str, leaf: str, block: Any) -> str | None:
    """The part of a dense layer at ``relative`` inside ``block`` (``leaf``: the tensor's
    name, for nn.MultiheadAttention's packed weights)."""
    if leaf in LEAF_PARTS:
        return LEAF_PARTS[leaf]
    for kind in type(block).__mro__:
        known = CLASS_PARTS.get(qualified(kind))
        if known is not None and relative in known:
            return known[relative]
    for pattern, part in PARTS:
        if fnmatch.fnmatchcase(relative, pattern):
            return part
    return None


@dataclass
class Structure:
    """The places of a model's modules: :meth:`place` gives a parameter's."""

    #: Block path -> (stack, index, depth).
    blocks: dict[str, tuple[str, int, int]] = field(default_factory=dict)
    #: Block path -> width of its residual stream.
    widths: dict[str, int] = field(default_factory=dict)
    #: Stack -> depth.
    depths: dict[str, int] = field(default_factory=dict)
    #: Stack -> "encoder", "decoder" or "".
    kinds: dict[str, str] = field(default_factory=dict)
    #: An encoder-decoder's (N, M).
    pair: tuple[int, int] | None = None
    #: Parameter-holding module path -> (last, branch size) in a convolutional block.
    branch: dict[str, tuple[bool, int]] = field(default_factory=dict)
    #: Module paths of heads.
    heads: set[str] = field(default_factory=set)
    #: Transformer blocks with an input projection the table knows but no output projection
    #: into the residual stream: block path -> (the missing parts, its dense layers of no
    #: known part).
    incomplete: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    #: Blocks that are not convolutional branches -> their dense layers of no known part.
    unknown: dict[str, list[str]] = field(default_factory=dict)
    width: int | None = None
    #: The configuration's facts.
    facts: dict[str, object] = field(default_factory=dict)

    def block_of(self, path: str) -> str | None:
        """The block that holds the module at ``path``."""
        parts = path.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in self.blocks:
                return prefix
        return None

    def place(self, path: str, leaf: str, modules: dict[str, Any]) -> Place:
        """The place of parameter ``leaf`` of the module at ``path``."""
        encoder, decoder = self.pair if self.pair is not None else (None, None)
        block = self.block_of(path)
        if block is None:
            single = next(iter(self.depths.values())) if len(self.depths) == 1 else None
            return Place(
                depth=single,
                width=self.width,
                encoder_depth=encoder,
                decoder_depth=decoder,
                head=path in self.heads,
            )
        stack, index, depth = self.blocks[block]
        relative = path[len(block) + 1 :]
        part = part_of(relative, leaf, modules[block]) if relative or leaf in LEAF_PARTS else None
        last, size = self.branch.get(path, (False, None))
        return Place(
            layer=index,
            depth=depth,
            width=self.widths.get(block, self.width),
            part=part,
            last=last,
            branch=size,
            stack=self.kinds.get(stack, "") if self.pair is not None else "",
            encoder_depth=encoder,
            decoder_depth=decoder,
        )


def _stack(path: str) -> str:
    """The stack of the block at ``path``: its container's path, with numbered components
    (``0``, ``layer1``) made one, so that a network's stages form one stack."""
    container = path.rpartition(".")[0]
    return ".".join(
        "*" if c.isdigit() else re.sub(r"\d+$", "", c) if _NUMBERED.match(c) else c
        for c in container.split(".")
    )


#: Names of numbered stages (torchvision's layer1, detectron's res2, stage3).
_NUMBERED = re.compile(r"^(layer|stage|block|res|level)s?_?\d+$")


def _kind(stack: str) -> str:
    lowered = stack.lower()
    return "decoder" if "decoder" in lowered else "encoder" if "encoder" in lowered else ""


def _rank(tensor: Any) -> int:
    """The number of axes of ``tensor`` (-1 for a lazy module's parameter without a shape)."""
    if "Uninitialized" in type(tensor).__name__:
        return -1
    return int(tensor.dim())


def _names(module: Any) -> set[str]:
    return {k.__name__ for k in type(module).__mro__}


def _weight_layer(module: Any) -> bool:
    """Whether ``module`` holds a dense or convolution weight of its own."""
    weight = getattr(module, "_parameters", {}).get("weight")
    if weight is None:
        return False
    return _rank(weight) >= 2 and bool(
        _names(module) & {"Linear", "Conv1d", "Conv2d", "Conv3d", "Conv1D", "_ConvNd"}
    )


def _convolution(module: Any) -> bool:
    return "_ConvNd" in _names(module)


def _is_norm(module: Any) -> bool:
    return any(re.search(r"(Norm|BatchNorm)(\d?[dP])?$", n) for n in _names(module)) and bool(
        getattr(module, "_parameters", {}).get("weight") is not None
    )


def structure(module: Any) -> Structure:
    """The structure of ``module``."""
    found = Structure()
    config = getattr(module, "config", None)
    if config is not None:
        family = getattr(config, "model_type", None)
        if isinstance(family, str) and family:
            found.facts["family"] = family
        for name in _FACTS:
            value = getattr(config, name, None)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                found.facts[name] = value
        for name in _WIDTHS:
            value = getattr(config, name, None)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                found.width = value
                break
    named = list(module.named_modules())
    modules = dict(named)
    stacks: dict[str, list[str]] = {}
    for path in _blocks(named, modules, module):
        stack = _stack(path)
        stacks.setdefault(stack, []).append(path)
        found.blocks[path] = (stack, 0, 0)
    for stack, paths in stacks.items():
        found.depths[stack] = len(paths)
        found.kinds[stack] = _kind(stack)
        for index, path in enumerate(paths):
            found.blocks[path] = (stack, index, len(paths))
    encoders = [s for s, kind in found.kinds.items() if kind == "encoder"]
    decoders = [s for s, kind in found.kinds.items() if kind == "decoder"]
    if len(encoders) == 1 and len(decoders) == 1:
        found.pair = (found.depths[encoders[0]], found.depths[decoders[0]])
    inside: dict[str, list[tuple[str, Any]]] = {block: [] for block in found.blocks}
    for path, child in named:  # each module, to the block that holds it
        block = found.block_of(path.rpartition(".")[0]) if path else None
        if block is not None and path != block:
            inside[block].append((path[len(block) + 1 :], child))
    for block, children in inside.items():
        _read_block(found, block, modules[block], children)
    if found.width is None and found.widths:
        found.width = Counter(found.widths.values()).most_common(1)[0][0]
    _find_heads(found, named, module)
    return found


def _blocks(named: list[tuple[str, Any]], modules: dict[str, Any], root: Any) -> list[str]:
    """The paths of the model's blocks, in order: block-named modules held in containers,
    the outermost, unless one holds a stack of blocks of its own (two or more of one class,
    each with an output projection into the residual stream: a stage of MobileViT's
    transformer blocks), where those are the blocks."""
    candidates = []
    for path, child in named:
        parent = modules[path.rpartition(".")[0]] if "." in path else root
        if (
            path
            and _is_container(parent)
            and _is_block_class(child)
            and any(_rank(p) >= 2 for p in child.parameters())
        ):
            candidates.append(path)

    def residual(path: str) -> bool:
        return any(
            part_of(p[len(path) + 1 :], "", modules[path]) in ("attn_out", "down")
            for p, m in named
            if p.startswith(path + ".") and _weight_layer(m)
        )

    def holds_stack(path: str) -> bool:
        inner = [c for c in candidates if c.startswith(path + ".")]
        by_container: dict[tuple[str, type], int] = {}
        for c in inner:
            key = (c.rpartition(".")[0], type(modules[c]))
            by_container[key] = by_container.get(key, 0) + 1
        return any(
            count >= 2 and residual(next(c for c in inner if c.rpartition(".")[0] == key[0]))
            for key, count in by_container.items()
        )

    chosen: list[str] = []
    for path in candidates:
        if any(path.startswith(c + ".") for c in chosen):
            continue
        if not holds_stack(path):
            chosen.append(path)
    return chosen


def _read_block(found: Structure, block: str, owner: Any, inside: list[tuple[str, Any]]) -> None:
    """The width of ``block`` and, for a convolutional residual block, its branch."""
    layers = [(relative, m) for relative, m in inside if _weight_layer(m)]
    parts = {relative: part_of(relative, "", owner) for relative, _ in layers}
    residual = [m for relative, m in layers if parts[relative] in ("attn_out", "down")]
    known = set(parts.values())
    missing = ["attn_out"] * bool({"q", "k", "v", "qkv"} & known and "attn_out" not in known)
    missing += ["down"] * bool({"fc_in", "gate", "up", "gate_up"} & known and "down" not in known)
    dense = {relative for relative, m in layers if not _convolution(m)}
    unknown = [r for r, part in parts.items() if part is None and r in dense]
    if missing:
        found.incomplete[block] = (missing, unknown)
    if residual:
        weight = residual[-1]._parameters["weight"]
        layout_in_out = "Conv1D" in _names(residual[-1])
        found.widths[block] = int(weight.shape[1] if layout_in_out else weight.shape[0])
    if not known - {None} and _residual_branch(owner, inside, layers):
        _mark_branch(found, block, inside)
    elif unknown:
        found.unknown[block] = unknown


def _residual_branch(
    owner: Any, inside: list[tuple[str, Any]], layers: list[tuple[str, Any]]
) -> bool:
    """Whether a block without attention or MLP projections is a residual block whose
    weight layers form one branch: it has a shortcut module or a residual class name, and
    no flag that says it skips no connection."""
    if not layers:
        return False
    if any(getattr(owner, flag, True) is False for flag in _SKIP_FLAGS):
        return False
    names = {relative.split(".")[0] for relative, _ in inside}
    return bool(names & _SHORTCUTS) or any(
        _RESIDUAL_NAME.search(kind.__name__)
        for kind in type(owner).__mro__
        if not kind.__module__.startswith(_NEUTRAL_BASES)
    )


def _mark_branch(found: Structure, block: str, inside: list[tuple[str, Any]]) -> None:
    outside = _SHORTCUTS | _GATES
    branch = [
        (relative, m)
        for relative, m in inside
        if (_weight_layer(m) or _is_norm(m)) and not set(relative.split(".")) & outside
    ]
    weights = [(relative, m) for relative, m in branch if _weight_layer(m)]
    if not weights:
        return
    for relative, m in inside:  # the shortcut's own weight layers: branch 0
        if _weight_layer(m) and relative.split(".")[0] in _SHORTCUTS:
            found.branch[f"{block}.{relative}"] = (False, 0)
    for relative, _ in weights:
        found.branch[f"{block}.{relative}"] = (False, len(weights))
    last_relative, last = weights[-1]
    found.branch[f"{block}.{last_relative}"] = (True, len(weights))
    found.widths.setdefault(block, int(last._parameters["weight"].shape[0]))
    after = False
    norm = None
    for relative, m in branch:
        if m is last:
            after = True
        elif after and _is_norm(m):
            norm = relative
    if norm is not None:
        found.branch[f"{block}.{norm}"] = (True, len(weights))


def _find_heads(found: Structure, named: list[tuple[str, Any]], root: Any) -> None:
    dense = [
        path
        for path, m in named
        if path and _weight_layer(m) and not _convolution(m) and found.block_of(path) is None
    ]
    for path in dense:
        attribute = path.rpartition(".")[2]
        parent = path.rpartition(".")[0]
        if attribute in _HEADS:
            found.heads.add(path)
        elif parent and parent.rpartition(".")[2] in ("classifier", "head", "heads"):
            last = [p for p in dense if p.rpartition(".")[0] == parent][-1]
            if last == path:
                found.heads.add(path)
    if not found.heads and dense and _is_container(root):
        # A Sequential model: its last dense layer, if nothing with parameters follows it.
        holders = [p for p, m in named if p and any(True for _ in m.parameters(recurse=False))]
        if holders and holders[-1] == dense[-1]:
            found.heads.add(dense[-1])
