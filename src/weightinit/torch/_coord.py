"""The coordinate check of a PyTorch model: the same model at several widths, a few optimizer
steps on one fixed batch, and each layer's mean absolute output at every step
(:class:`weightinit.coords.CoordReport` reads the slopes)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from weightinit._errors import choice_error
from weightinit._errors import integer
from weightinit._errors import real
from weightinit.coords import CoordReport
from weightinit.schemes import Scheme
from weightinit.schemes import base_shapes
from weightinit.schemes import mup
from weightinit.torch._audit import mup_param_groups
from weightinit.torch._fill import initialize_
from weightinit.torch._plan import torch_module

__all__ = ["coord_check"]

_OPTIMIZERS = ("adam", "sgd")
#: Where activation modules (no parameters, but an output worth watching) are defined.
_ACTIVATIONS = (
    "torch.nn.modules.activation",
    "transformers.activations",
    "timm.layers.activations",
)
#: The name under which the model's own output is recorded (after any multiplier its forward
#: applies to the readout), beside its modules' qualified names.
OUTPUT = "(output)"
#: The synthetic batch: its size, a sequence's length and an image's side.
_BATCH, _TOKENS, _SIDE = 16, 32, 16


def coord_check(
    build: Callable[[int], Any],
    widths: Sequence[int],
    *,
    steps: int = 3,
    optimizer: str = "adam",
    lr: float = 1e-3,
    scheme: object = None,
    base: int | None = None,
    batch: Any = None,
    loss: Callable[[Any, Any], Any] | None = None,
    seed: int = 0,
    layers: str | Sequence[str] | None = None,
    activation: object = None,
) -> CoordReport:
    """The coordinate check: build the model at each width, train it ``steps - 1`` optimizer
    steps on one fixed batch, and record each layer's mean absolute output at every step
    (Yang et al. 2022, "Tensor Programs V"; the mup package's ``get_coord_data``).

    For each width, ``build(width)`` makes the model (with ``torch.manual_seed(seed)`` set
    first; the caller's random state is restored afterwards), ``scheme`` initializes it
    (:func:`~weightinit.torch.initialize_` with ``seed``; ``None`` keeps the model's own
    initialization), and the optimizer trains it. Step 0 is a forward pass at
    initialization, step ``t`` one after ``t`` updates. The layers recorded are the
    modules with parameters of their own and the activation modules (``torch.nn``'s,
    transformers' and timm's), in the order the first forward pass calls them, or the
    modules whose qualified names match one of the glob patterns ``layers``; the model's own
    output (its ``logits`` if it has them, after any multiplier the model's forward applies)
    is recorded too, as ``"(output)"``. Each hook
    reduces the output to its mean absolute value in float32 at once (a module called
    several times gets the mean of its calls); every hook is removed afterwards, also when
    the build, the forward pass or the loss fails.

    Under μP (``scheme="mup"``, or a scheme made by :func:`weightinit.schemes.mup`) the
    optimizer takes the groups of :func:`~weightinit.torch.mup_param_groups` against the
    base model ``build(base)``, so each parameter trains at its μP learning rate. What
    only the model can do, it must do itself: multiply the readout's output by
    ``base / width`` inside the readout module (without it the readout grows like the
    width even under μP; a multiplier applied in the model's ``forward`` after the readout
    leaves the readout module's own output growing, and the check reports it) and scale
    attention logits by ``1/d_head`` (or keep ``d_head`` fixed and add heads).

    Parameters
    ----------
    build : callable
        ``build(width)`` returns a ``torch.nn.Module`` of that width.
    widths : sequence of int
        At least two different widths.
    steps : int
        Forward passes recorded (>= 1): step 0 and ``steps - 1`` updates.
    optimizer : {"adam", "sgd"}
        ``torch.optim.Adam`` or ``torch.optim.SGD``.
    lr : float
        The learning rate (under μP, the base model's).
    scheme : str or Scheme, optional
        ``"mup"``: ``weightinit.schemes.mup(build(base))`` with μP learning rates; any
        other scheme name or object is passed to :func:`~weightinit.torch.initialize_`.
    base : int, optional
        μP's base width (default: the smallest of ``widths``); with a scheme made by
        :func:`weightinit.schemes.mup`, the width of the base model it was made against.
    batch : tensor, tuple or dict, optional
        The model's input (``model(batch)``, ``model(*batch)``, ``model(**batch)``).
        Default: a seeded batch for the first module with parameters: token ids below its
        ``num_embeddings`` for an ``Embedding``, unit-normal images for a convolution,
        unit-normal vectors for a ``Linear``.
    loss : callable, optional
        ``loss(output, batch)`` -> scalar tensor. Default: the output's own ``loss`` if it
        has one; the next-token cross-entropy for logits ``(B, T, V)`` of token ids
        ``(B, T)``; the cross-entropy against fixed random labels for logits ``(N, C)``;
        otherwise the mean square of the output.
    seed : int
        Seeds the build, the initialization, the batch and the labels.
    layers : str or sequence of str, optional
        Glob patterns over the modules' qualified names (``"transformer.h.*.mlp.c_fc"``).
    activation : optional
        Passed to :func:`~weightinit.torch.initialize_` (``"relu"`` for a ReLU network).

    Returns
    -------
    CoordReport
        ``values[layer][step]`` over the widths, ``slopes``, ``blowing_up``, a table, JSON
        and a plot.

    Examples
    --------
    >>> import torch
    >>> from weightinit.torch import coord_check
    >>> def mlp(width):
    ...     return torch.nn.Sequential(
    ...         torch.nn.Linear(8, width), torch.nn.ReLU(), torch.nn.Linear(width, 4))
    >>> report = coord_check(mlp, [16, 32], steps=2, scheme="recommended", activation="relu")
    >>> report.widths, report.steps, list(report.values)
    ((16, 32), 2, ['0', '1', '2', '(output)'])
    >>> coord_check(mlp, [16, 32], optimizer="adamw")
    Traceback (most recent call last):
    ...
    ValueError: optimizer must be one of 'adam', 'sgd'; got 'adamw'. Did you mean 'adam'?
    """
    torch = torch_module()
    if not callable(build):
        raise TypeError(f"build must be a callable build(width) -> Module; got {build!r}.")
    widths = _widths(widths)
    steps = integer("steps", steps, minimum=1)
    if optimizer not in _OPTIMIZERS:
        raise choice_error("optimizer", optimizer, _OPTIMIZERS)
    lr = real("lr", lr, positive=True)
    seed = integer("seed", seed, minimum=0)
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be a callable loss(output, batch) or None; got {loss!r}.")
    patterns = _patterns(layers)
    is_mup = (isinstance(scheme, str) and scheme.strip().lower() == "mup") or (
        isinstance(scheme, Scheme) and scheme.name.startswith("mup")
    )
    if base is not None:
        if not is_mup:
            raise ValueError(
                f"base={base!r} is μP's base width; it needs scheme='mup' (or a "
                "weightinit.schemes.mup scheme)."
            )
        base = integer("base", base, minimum=1)

    values: dict[str, list[list[float]]] = {}
    kinds: dict[str, str] = {}
    title = "model"
    with torch.random.fork_rng(devices=[]):
        shapes = None
        resolved = scheme
        if is_mup:
            torch.manual_seed(seed)
            shapes = base_shapes(_built(build, widths[0] if base is None else base, torch))
            resolved = mup(shapes) if isinstance(scheme, str) else scheme
        for w, width in enumerate(widths):
            torch.manual_seed(seed)
            model = _built(build, width, torch)
            if resolved is not None:
                initialize_(model, seed, scheme=resolved, activation=activation)
            if is_mup:
                groups: Any = mup_param_groups(model, lr, base=shapes, optimizer=optimizer)
            else:
                groups = model.parameters()
            optim = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(groups, lr=lr)
            if batch is None and w == 0:
                batch = _synthetic_batch(torch, model, seed)
            inputs = _to_device(torch, batch, _device(torch, model))
            torch.manual_seed(seed)  # dropout draws the same masks at every width
            recorded, names = _train(torch, model, optim, inputs, steps, loss, patterns, seed)
            if w == 0:
                values = {name: [[] for _ in range(steps)] for name in recorded}
                kinds = names
                title = f"{type(model).__name__} ({_describe(scheme, optimizer, lr, is_mup)})"
            elif set(recorded) != set(values):
                missing = sorted(set(values) ^ set(recorded))
                raise ValueError(
                    f"build({width}) does not have the layers build({widths[0]}) has: "
                    f"{', '.join(missing[:5])} differ; a coordinate check needs one "
                    "architecture at every width."
                )
            for name, per_step in recorded.items():
                for t, value in enumerate(per_step):
                    values[name][t].append(value)
            del model, optim
    return CoordReport(widths, values, kinds, model=title)


def _widths(widths: object) -> tuple[int, ...]:
    if isinstance(widths, (str, bytes, Mapping)) or not isinstance(widths, Iterable):
        raise TypeError(f"widths must be a sequence of ints; got {widths!r}.")
    widths = list(widths)
    found = tuple(integer("each width", w, minimum=1) for w in widths)
    if len(set(found)) < 2 or len(set(found)) != len(found):
        raise ValueError(
            f"widths must be at least two different widths, each once; got {widths!r}."
        )
    return tuple(sorted(found))


def _patterns(layers: object) -> tuple[str, ...] | None:
    if layers is None:
        return None
    found = (layers,) if isinstance(layers, str) else layers
    if not isinstance(found, Sequence) or not found or not all(isinstance(p, str) for p in found):
        raise TypeError(f"layers must be a glob pattern or a sequence of them; got {layers!r}.")
    return tuple(found)


def _built(build: Callable[[int], Any], width: int, torch: Any) -> Any:
    model = build(width)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(
            f"build({width}) must return a torch.nn.Module; got {type(model).__name__}."
        )
    return model


def _describe(scheme: object, optimizer: str, lr: float, is_mup: bool) -> str:
    name = "own initialization" if scheme is None else f"scheme {getattr(scheme, 'name', scheme)}"
    rates = ", μP learning rates" if is_mup else ""
    return f"{name}, {'Adam' if optimizer == 'adam' else 'SGD'} lr={lr:g}{rates}"


def _selected(model: Any, patterns: tuple[str, ...] | None) -> list[tuple[str, Any]]:
    named = [(name or OUTPUT, m) for name, m in model.named_modules()]
    if patterns is not None:
        chosen = [(n, m) for n, m in named if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
        if not chosen:
            some = ", ".join(n for n, _ in named[:8])
            raise ValueError(
                f"layers={list(patterns)!r} matches no module; the modules are named like {some}."
            )
        return chosen
    return [
        (n, m)
        for n, m in named
        if m is model
        or any(True for _ in m.parameters(recurse=False))
        or type(m).__module__.startswith(_ACTIVATIONS)
    ]


def _train(
    torch: Any,
    model: Any,
    optim: Any,
    batch: Any,
    steps: int,
    loss: Callable[[Any, Any], Any] | None,
    patterns: tuple[str, ...] | None,
    seed: int,
) -> tuple[dict[str, list[float]], dict[str, str]]:
    """Each recorded layer's mean |output| at every step, in the order of the first call,
    and the layers' module types; the hooks are gone when this returns or raises."""
    chosen = _selected(model, patterns)
    sums: dict[str, list[float]] = {}
    order: list[str] = []

    def hook_for(name: str) -> Callable[..., None]:
        def hook(module: Any, args: Any, output: Any) -> None:
            tensor = _first_tensor(torch, output)
            if tensor is None or not (tensor.is_floating_point() or tensor.is_complex()):
                return
            if name not in sums:
                sums[name] = [0.0, 0.0]
                order.append(name)
            with torch.no_grad():
                value = tensor.detach().abs().float().mean().item()
            sums[name][0] += value
            sums[name][1] += 1

        return hook

    labels = torch.Generator().manual_seed(seed + 1)
    per_step: list[dict[str, float]] = []
    handles = []
    try:
        for name, module in chosen:
            handles.append(module.register_forward_hook(hook_for(name)))
        model.train()
        for t in range(steps):
            optim.zero_grad(set_to_none=True)
            sums.clear()
            output = _call(model, batch)
            per_step.append({name: total / count for name, (total, count) in sums.items()})
            if t == steps - 1:
                break  # nothing would observe a last update
            value = _loss(torch, output, batch, labels) if loss is None else loss(output, batch)
            value.backward()
            optim.step()
    finally:
        for handle in handles:
            handle.remove()
    kinds = dict(chosen)
    recorded = {name: [step.get(name, float("nan")) for step in per_step] for name in order}
    return recorded, {name: type(kinds[name]).__name__ for name in order}


def _call(model: Any, batch: Any) -> Any:
    if isinstance(batch, Mapping):
        return model(**batch)
    if isinstance(batch, tuple):
        return model(*batch)
    return model(batch)


def _first_tensor(torch: Any, output: Any) -> Any:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):
        # A transformers output's first value is the loss when labels were given.
        logits = output.get("logits")
        output = [logits] if isinstance(logits, torch.Tensor) else list(output.values())
    if isinstance(output, (tuple, list)):
        for item in output:
            found = _first_tensor(torch, item)
            if found is not None:
                return found
    return None


def _loss(torch: Any, output: Any, batch: Any, labels: Any) -> Any:
    own = output.get("loss") if isinstance(output, Mapping) else getattr(output, "loss", None)
    if isinstance(own, torch.Tensor) and own.dim() == 0:
        return own
    logits = output.get("logits") if isinstance(output, Mapping) else None
    logits = _first_tensor(torch, output if logits is None else logits)
    if logits is None:
        raise TypeError(
            f"the model's output ({type(output).__name__}) holds no tensor to take a loss of; "
            "pass loss=callable(output, batch)."
        )
    ids = batch.get("input_ids") if isinstance(batch, Mapping) else _first_tensor(torch, batch)
    functional = torch.nn.functional
    if (
        isinstance(ids, torch.Tensor)
        and not ids.is_floating_point()
        and ids.dim() == 2
        and logits.dim() == 3
        and tuple(logits.shape[:2]) == tuple(ids.shape)
    ):
        shifted = logits[:, :-1].reshape(-1, logits.shape[-1]).float()
        return functional.cross_entropy(shifted, ids[:, 1:].reshape(-1))
    if logits.dim() == 2 and logits.shape[1] > 1 and logits.is_floating_point():
        labels.manual_seed(labels.initial_seed())  # the same labels at every step and width
        targets = torch.randint(0, logits.shape[1], (logits.shape[0],), generator=labels)
        return functional.cross_entropy(logits.float(), targets.to(logits.device))
    return logits.float().pow(2).mean()


def _device(torch: Any, model: Any) -> Any:
    first = next(iter(model.parameters()), None)
    return torch.device("cpu") if first is None else first.device


def _to_device(torch: Any, batch: Any, device: Any) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: _to_device(torch, v, device) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return tuple(_to_device(torch, v, device) for v in batch)
    return batch


def _synthetic_batch(torch: Any, model: Any, seed: int) -> Any:
    """A seeded batch for the model's first module with parameters."""
    generator = torch.Generator().manual_seed(seed)
    nn = torch.nn
    for name, module in model.named_modules():
        if isinstance(module, nn.Embedding):
            length = _TOKENS
            config = getattr(model, "config", None)
            for key in ("n_positions", "max_position_embeddings"):
                limit = getattr(config, key, None)
                if isinstance(limit, int) and limit > 1:
                    length = min(length, limit)
            shape = (_BATCH, length)
            return torch.randint(0, module.num_embeddings, shape, generator=generator)
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            side = max(_SIDE, *module.kernel_size)
            shape = (_BATCH, module.in_channels, *(side,) * len(module.kernel_size))
            return torch.randn(shape, generator=generator)
        if isinstance(module, nn.Linear):
            return torch.randn((_BATCH, module.in_features), generator=generator)
        if any(True for _ in module.parameters(recurse=False)):
            raise ValueError(
                f"coord_check makes a batch for a first layer that is an Embedding, a "
                f"convolution or a Linear; {name!r} is a {type(module).__name__}: pass batch=."
            )
    raise ValueError("the model has no parameters to make a batch for: pass batch=.")
