"""The buffers of a PyTorch model that are functions of its configuration.

A buffer left on the meta device has no value; :func:`recompute` says how to make the one a
normally built model has: position ids (``arange``), token type ids (zeros), a norm's running
statistics, and the buffers a configuration-built module computes in its constructor
(rotary embeddings' ``inv_freq`` and ``original_inv_freq``), by building that module again
on the CPU from its own ``config``. For the rest of a model built from a ``config``
(relative position indices, causal masks), :func:`model_buffers` builds the whole model
again with its parameters on the meta device (no memory, no initialisation) and its buffers
on the CPU, and reads them. Anything else needs ``buffers=``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["recompute"]

#: A buffer's value as a function of (torch, owner module, buffer leaf, the meta buffer).
Maker = Callable[[Any, Any, str, Any], Any]


def _position_ids(torch: Any, owner: Any, leaf: str, meta: Any) -> Any:
    return torch.arange(meta.shape[-1], dtype=meta.dtype).expand(meta.shape).clone()


def _zeros(torch: Any, owner: Any, leaf: str, meta: Any) -> Any:
    return torch.zeros(meta.shape, dtype=meta.dtype)


def _ones(torch: Any, owner: Any, leaf: str, meta: Any) -> Any:
    return torch.ones(meta.shape, dtype=meta.dtype)


#: Buffer leaf names whose value is the same function of the shape in every model.
BY_NAME: dict[str, Maker] = {
    "position_ids": _position_ids,  # BERT, RoBERTa, ViT-style embeddings: arange(n)
    "token_type_ids": _zeros,  # BERT-style embeddings: segment 0
    "running_mean": _zeros,  # batch norms
    "running_var": _ones,
    "num_batches_tracked": _zeros,
}


def _rebuilt(torch: Any, owner: Any) -> Any | None:
    """``owner`` built again on the CPU from its own ``config`` (a module with buffers and
    no parameters of its own, such as transformers' rotary embeddings), or ``None``."""
    config = getattr(owner, "config", None)
    if config is None or any(True for _ in owner.parameters(recurse=False)):
        return None
    try:
        with torch.device("cpu"):
            return type(owner)(config)
    except Exception:  # a constructor that needs more than the config: not rebuildable
        return None


def recompute(torch: Any, owner: Any, leaf: str, meta: Any) -> Callable[[], Any] | None:
    """How to make buffer ``leaf`` of ``owner`` (now ``meta``, on the meta device) as a
    normally built model has it: a function that returns the CPU tensor, or ``None``."""
    if leaf in BY_NAME:
        maker = BY_NAME[leaf]
        return lambda: maker(torch, owner, leaf, meta)
    again = _rebuilt(torch, owner)
    if again is None:
        return None
    value = dict(again.named_buffers(recurse=False)).get(leaf)
    if value is None or tuple(value.shape) != tuple(meta.shape):
        return None
    return lambda: value.to(meta.dtype)


def model_buffers(torch: Any, model: Any) -> dict[str, Any] | None:
    """The buffers of ``model`` built again from its own ``config`` with every parameter on
    the meta device (so it takes no memory and runs no initialisation) and the buffers on
    the CPU; ``None`` for a model without a ``config`` or whose constructor fails."""
    config = getattr(model, "config", None)
    if config is None:
        return None
    module_type = torch.nn.Module
    original = module_type.register_parameter

    def register(self: Any, name: str, param: Any) -> None:
        if param is not None and not param.is_meta:
            param = torch.nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        original(self, name, param)

    module_type.register_parameter = register
    try:
        with torch.device("cpu"):
            again = type(model)(config)
    except Exception:  # a model that is not built from its config alone
        return None
    finally:
        module_type.register_parameter = original
    return {name: buffer for name, buffer in again.named_buffers() if not buffer.is_meta}
