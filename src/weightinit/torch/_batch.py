"""The batch of :func:`weightinit.torch.diagnose`: a synthetic one made from the model's
first layer, the user's own put on the model's device, and the first loss."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weightinit.torch._plan import torch_module

__all__ = ["class_names", "first_loss", "first_tensor", "make_batch"]

_TOKENS = (4, 128)
_IMAGES = 8
_VECTORS = 64
_SPATIAL = {1: (224,), 2: (224, 224), 3: (32, 32, 32)}


def class_names(module: Any) -> set[str]:
    return {kind.__name__ for kind in type(module).__mro__}


def first_tensor(value: Any) -> Any:
    """The first tensor of a module's output: itself, the first of a tuple or list, or the
    first tensor field of a transformers output."""
    torch = torch_module()
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, Mapping):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        for item in value:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


def _describe(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    torch = torch_module()
    items = [(f"args[{i}]", a) for i, a in enumerate(args)] + list(kwargs.items())
    parts = [
        f"{key} {tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}"
        for key, value in items
        if isinstance(value, torch.Tensor)
    ]
    return ", ".join(parts) or "no tensors"


def _synthetic(model: Any, generator: Any) -> tuple[tuple[Any, ...], dict[str, Any], str]:
    """A batch made from the model's first layer (or a transformers configuration)."""
    torch = torch_module()
    config = getattr(model, "config", None)
    main = getattr(model, "main_input_name", None)
    floats = next((p.dtype for p in model.parameters() if p.is_floating_point()), None)
    vocabulary = getattr(config, "vocab_size", None)
    if main == "input_ids" and isinstance(vocabulary, int) and vocabulary > 0:
        longest = next(
            (
                v
                for key in ("n_positions", "max_position_embeddings", "n_ctx")
                if isinstance(v := getattr(config, key, None), int) and v > 0
            ),
            _TOKENS[1],
        )
        shape = (_TOKENS[0], min(_TOKENS[1], longest))
        ids = torch.randint(0, vocabulary, shape, generator=generator)
        return (), {"input_ids": ids}, f"synthetic tokens in [0, {vocabulary})"
    if main == "pixel_values" and config is not None:
        channels = getattr(config, "num_channels", 3)
        size = getattr(config, "image_size", 224)
        side = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        pixels = torch.randn((_IMAGES, channels, *side), generator=generator, dtype=floats)
        return (), {"pixel_values": pixels}, "synthetic unit-normal images"
    first: Any = next(
        (m for _, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))),
        None,
    )
    names = class_names(first) if first is not None else set()
    if names & {"Embedding", "EmbeddingBag"}:
        shape = _TOKENS
        ids = torch.randint(0, first.num_embeddings, shape, generator=generator)
        return (ids,), {}, f"synthetic tokens in [0, {first.num_embeddings})"
    if "_ConvNd" in names:
        spatial = _SPATIAL.get(len(first.kernel_size), (224,) * len(first.kernel_size))
        shape = (_IMAGES, first.in_channels, *spatial)
        return (torch.randn(shape, generator=generator, dtype=floats),), {}, "synthetic images"
    if "Linear" in names:
        shape = (_VECTORS, first.in_features)
        return (torch.randn(shape, generator=generator, dtype=floats),), {}, "synthetic vectors"
    found = "no parameters" if first is None else f"{type(first).__name__} first"
    raise TypeError(
        f"diagnose makes a batch for a model whose first layer is an Embedding, a Conv1d, "
        f"Conv2d or Conv3d, or a Linear (or a transformers model with token or pixel inputs); "
        f"{type(model).__name__} has {found}: pass batch= (a tensor, a tuple of arguments or "
        "a dict of keyword arguments)."
    )


def make_batch(
    model: Any, batch: Any, generator: Any
) -> tuple[tuple[Any, ...], dict[str, Any], str]:
    torch = torch_module()
    if batch is None:
        args, kwargs, source = _synthetic(model, generator)
    elif isinstance(batch, torch.Tensor):
        args, kwargs, source = (batch,), {}, "batch"
    elif isinstance(batch, (tuple, list)):
        args, kwargs, source = tuple(batch), {}, "batch"
    elif isinstance(batch, Mapping):
        args, kwargs, source = (), dict(batch), "batch"
    else:
        raise TypeError(
            "batch must be None (a synthetic batch), a tensor, a tuple of positional "
            f"arguments or a dict of keyword arguments; got {type(batch).__name__}."
        )
    device = next((p.device for p in model.parameters()), None)
    if device is not None:
        args = tuple(a.to(device) if isinstance(a, torch.Tensor) else a for a in args)
        kwargs = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    return args, kwargs, f"{source}: {_describe(args, kwargs)}"


def _tokens(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    torch = torch_module()
    ids = kwargs.get("input_ids", args[0] if args else None)
    if isinstance(ids, torch.Tensor) and not ids.is_floating_point() and ids.dim() == 2:
        return ids
    return None


def first_loss(
    output: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], generator: Any
) -> tuple[Any, Any, int | None]:
    """The logits, the first loss and the number of classes, by the rules of :func:`diagnose`."""
    torch = torch_module()
    logits = getattr(output, "logits", None)
    if not isinstance(logits, torch.Tensor):
        logits = first_tensor(output)
    if logits is None:
        raise TypeError(
            f"diagnose needs a tensor in the model's output; got {type(output).__name__}."
        )
    given = getattr(output, "loss", None)
    if isinstance(given, torch.Tensor) and given.numel() == 1:
        return logits, given, int(logits.shape[-1]) if logits.dim() >= 2 else None
    scores = logits.to(torch.float32)
    tokens = _tokens(args, kwargs)
    # Next-token logits: a (N, T, V) output over a vocabulary that holds every token, not a
    # base model's (N, T, hidden) states.
    if (
        tokens is not None
        and scores.dim() == 3
        and scores.shape[:2] == tokens.shape
        and not hasattr(output, "last_hidden_state")
        and int(tokens.max()) < scores.shape[-1]
    ):
        classes = int(scores.shape[-1])
        shifted = scores[:, :-1].reshape(-1, classes)
        return (
            logits,
            torch.nn.functional.cross_entropy(shifted, tokens[:, 1:].reshape(-1)),
            classes,
        )
    if scores.dim() == 2 and scores.shape[1] > 1:
        classes = int(scores.shape[1])
        labels = torch.randint(0, classes, (scores.shape[0],), generator=generator)
        labels = labels.to(scores.device)
        return logits, torch.nn.functional.cross_entropy(scores, labels), classes
    return logits, scores.pow(2).mean(), None
