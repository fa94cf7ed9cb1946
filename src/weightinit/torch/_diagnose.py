"""One forward and backward pass of a PyTorch model, each layer's output and gradient reduced
as the pass goes into the statistics of :mod:`weightinit.signals`, with their verdicts."""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from weightinit.report import BINS
from weightinit.signals import LayerSignal
from weightinit.signals import OutputSignal
from weightinit.signals import SignalReport
from weightinit.signals import Verdict
from weightinit.signals import saturation
from weightinit.signals import verdicts
from weightinit.torch._audit import audit as audit_model
from weightinit.torch._batch import class_names
from weightinit.torch._batch import first_loss
from weightinit.torch._batch import first_tensor
from weightinit.torch._batch import make_batch
from weightinit.torch._plan import torch_module
from weightinit.torch._structure import structure

__all__ = ["diagnose"]

#: Activation modules, by the end of their class name (torch.nn's and transformers' own
#: ``...Activation`` classes).
_ACTIVATION = re.compile(
    r"(ReLU6?|GELU|ELU|SiLU|Swish|Mish|Tanh|Sigmoid|Softplus|Softsign|Activation)$", re.I
)
#: Attention modules, by the end of their class name (the outermost of nested ones).
_ATTENTION = re.compile(r"Attention$")
#: Modules whose outputs have their channels on axis 1 (when of rank 3 or more).
_CHANNELS_FIRST = ("_ConvNd", "_NormBase", "GroupNorm", "LocalResponseNorm")
#: Normalization modules that keep running statistics (trained mode uses batch statistics).
_RUNNING = ("running_mean", "running_var", "num_batches_tracked")
_HOOK_TABLES = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
)
#: Attributes transformers sets on a model when it installs its output-capturing hooks.
_FLAGS = ("_output_capturing_hooks_installed",)
_ABSENT = object()


# -- statistics of one output, in float32 ------------------------------------------------


def _reduce(x: Any, channel_axis: int, kind: str, bins: int) -> tuple[Any, Any, Any]:
    """The statistics of :func:`weightinit.signals.summarize` of ``x``: a float32 tensor
    ``(mean, std, channel_sq_mean, channel_var, max_abs, dead, saturated)``, the count of
    non-finite values and the histogram's counts.

    A few reading passes over ``x`` and no copy of it when it is finite float32: the channel
    means and variances in one pass, the channels' extremes, the histogram.
    """
    torch = torch_module()
    x = x.detach().to(torch.float32)
    if x.dim() == 0:
        x = x.reshape(1, 1)
    elif x.dim() == 1:
        x = x.reshape(-1, 1)
    if x.numel() == 0:
        return torch.zeros(7), 0, torch.zeros(bins, dtype=torch.int64)
    axis = channel_axis % x.dim()
    dims = tuple(d for d in range(x.dim()) if d != axis)
    channel_var, channel_mean = torch.var_mean(x, dim=dims, correction=0)
    finite = bool(torch.isfinite(channel_var).all() & torch.isfinite(channel_mean).all())
    nonfinite = 0
    if not finite:  # rare: count, then read the non-finite values as zeros
        nonfinite = int(x.numel() - torch.isfinite(x).sum())
        x = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        channel_var, channel_mean = torch.var_mean(x, dim=dims, correction=0)
    channel_max = torch.maximum(x.amax(dim=dims), -x.amin(dim=dims))
    top = channel_max.max()
    dead = (channel_max == 0).to(torch.float32).mean()
    mean = channel_mean.mean()
    # Equal counts per channel: the pooled variance is the channels' mean variance plus the
    # variance of their means.
    std = (channel_var.mean() + channel_mean.var(correction=0)).sqrt()
    rule = saturation(kind)
    if rule == "tanh":
        saturated = (x.abs() > 0.99).to(torch.float32).mean()
    elif rule == "sigmoid":
        saturated = ((x < 0.01) | (x > 0.99)).to(torch.float32).mean()
    else:
        saturated = torch.zeros((), device=x.device)
    bound = float(top) or 1.0
    # The bins of numpy.histogram over the same edges (histc's float32 arithmetic can put a
    # value on an edge, a ReLU's zeros, into the bin below).
    edges = torch.as_tensor(np.linspace(-bound, bound, bins + 1)[1:-1], device=x.device)
    where = torch.bucketize(x.reshape(-1), edges.to(x.dtype), right=True)
    counts = torch.bincount(where, minlength=bins)
    stats = torch.stack(
        [mean, std, channel_mean.square().mean(), channel_var.mean(), top, dead, saturated]
    )
    return stats, nonfinite, counts


def _attention(probabilities: Any) -> tuple[float, float]:
    """The mean entropy (nats) of attention rows ``(..., queries, keys)``, and the mean over
    rows of two or more unmasked keys of the standard deviation of their log-probabilities
    (the logits' standard deviation, the softmax's shift removed)."""
    torch = torch_module()
    p = probabilities.detach().to(torch.float32)
    entropy = -torch.special.xlogy(p, p).sum(dim=-1).mean()
    unmasked = p > 0
    count = unmasked.sum(dim=-1)
    logp = torch.where(unmasked, p.clamp_min(torch.finfo(torch.float32).tiny).log(), 0.0)
    mean = logp.sum(dim=-1, keepdim=True) / count.clamp_min(1).unsqueeze(-1)
    square = torch.where(unmasked, (logp - mean).square(), 0.0).sum(dim=-1)
    spread = (square / count.clamp_min(1)).sqrt()[count >= 2]
    logit_std = spread.mean() if spread.numel() else torch.zeros(())
    return float(entropy), float(logit_std)


# -- the pass --------------------------------------------------------------------------------


@dataclass
class _Row:
    name: str
    kind: str
    role: str
    stats: Any
    nonfinite: int
    counts: Any
    grad: Any = None
    branch_var: Any = None
    stream_var: Any = None
    attention: tuple[float, float] | None = None
    shape: tuple[int, ...] = ()


@dataclass
class _Pass:
    """The hooks of one pass: what they record, and their handles."""

    bins: int
    selected: dict[str, str]  # module path -> "layer", "block" or "attention"
    rows: list[_Row] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    running: list[str] = field(default_factory=list)
    handles: list[Any] = field(default_factory=list)
    axis: int = -1  # the channel axis of the last parameter layer that ran

    def attach(self, model: Any) -> None:
        for name, module in model.named_modules():
            self.handles.append(module.register_forward_pre_hook(self._enter(name)))
            self.handles.append(
                module.register_forward_hook(self._leave(name, module), with_kwargs=True)
            )

    def detach(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def _enter(self, name: str) -> Callable[..., None]:
        def hook(module: Any, args: Any) -> None:
            self.running.append(name)

        return hook

    def _leave(self, name: str, module: Any) -> Callable[..., None]:
        role = self.selected.get(name)
        kind = type(module).__name__
        holds = any(True for _ in module.parameters(recurse=False))
        first_axis = bool(class_names(module) & set(_CHANNELS_FIRST))

        def hook(module: Any, args: Any, kwargs: Any, output: Any) -> None:
            while self.running and self.running.pop() != name:
                pass  # a child that raised and was caught left its name behind
            if role is None:
                return
            y = first_tensor(output)
            if y is None or not y.is_floating_point():
                return
            if holds:
                self.axis = 1 if first_axis else -1
            axis = self.axis if y.dim() >= 3 else -1
            self._record(name, kind, role, y, axis, args, kwargs)

        return hook

    def _record(
        self, name: str, kind: str, role: str, y: Any, axis: int, args: Any, kwargs: Any
    ) -> None:
        torch = torch_module()
        count = self.calls.get(name, 0) + 1
        self.calls[name] = count
        label = (name or "(model)") + (f"#{count}" if count > 1 else "")
        with torch.no_grad():
            stats, nonfinite, counts = _reduce(y, axis, kind, self.bins)
            row = _Row(label, kind, role, stats, nonfinite, counts, shape=tuple(y.shape))
            if role == "block":
                x = first_tensor(args) if args else first_tensor(kwargs)
                if x is not None and x.shape == y.shape and x.data_ptr() != y.data_ptr():
                    x32 = x.detach().to(torch.float32)
                    row.stream_var = x32.var(correction=0)
                    row.branch_var = (y.detach().to(torch.float32) - x32).var(correction=0)
        self.rows.append(row)
        if y.requires_grad:
            self.handles.append(y.register_hook(_grad_hook(row)))


def _grad_hook(row: _Row) -> Callable[[Any], None]:
    def hook(grad: Any) -> None:
        torch = torch_module()
        norm = torch.linalg.vector_norm(grad.detach(), dtype=torch.float32)
        row.grad = norm / math.sqrt(max(grad.numel(), 1))

    return hook


# -- what to hook, and the batch ---------------------------------------------------------------


def _selected(model: Any) -> dict[str, str]:
    """Module path -> its role in the report: every module that holds parameters of its own
    and every activation (``"layer"``), the residual blocks (``"block"``), and the outermost
    attention modules (``"attention"``)."""
    blocks = structure(model).blocks
    chosen: dict[str, str] = {}
    attention: list[str] = []
    for name, module in model.named_modules():
        kind = type(module).__name__
        if name in blocks:
            chosen[name] = "block"
        elif _ATTENTION.search(kind) and not any(name.startswith(a + ".") for a in attention):
            attention.append(name)
            chosen[name] = "attention"
        elif any(True for _ in module.parameters(recurse=False)) or (
            name and _ACTIVATION.search(kind)
        ):
            chosen[name] = "layer"
    return chosen


# -- the model's state, saved and restored -------------------------------------------------


@dataclass
class _State:
    """What the pass changes: modes, ``requires_grad``, gradients, running statistics and a
    transformers model's attention implementation."""

    modes: list[tuple[Any, bool]]
    requires: list[tuple[Any, bool]]
    grads: list[tuple[Any, Any]]
    running: list[tuple[Any, Any]]
    #: Each module's hook tables and the keys they held (transformers installs hooks of its
    #: own when asked for attention probabilities).
    hooks: list[tuple[Any, set[Any]]]
    #: The modules' attributes as they were, for the ones a pass may set.
    flags: list[tuple[Any, str, Any]]
    attention: str | None = None

    @classmethod
    def save(cls, model: Any) -> _State:
        parameters = list(model.parameters())
        running = []
        for module in model.modules():
            for key in _RUNNING:
                buffer = module._buffers.get(key)
                if buffer is not None:
                    running.append((buffer, buffer.detach().clone()))
        hooks = []
        flags = []
        for module in model.modules():
            for table in _HOOK_TABLES:
                found = getattr(module, table, None)
                if isinstance(found, dict):
                    hooks.append((found, set(found)))
            for flag in _FLAGS:
                flags.append((module, flag, module.__dict__.get(flag, _ABSENT)))
        return cls(
            modes=[(m, m.training) for m in model.modules()],
            requires=[(p, p.requires_grad) for p in parameters],
            grads=[(p, p.grad) for p in parameters],
            running=running,
            hooks=hooks,
            flags=flags,
        )

    def restore(self, model: Any) -> None:
        torch = torch_module()
        if self.attention is not None:
            model.set_attn_implementation(self.attention)
        for module, training in self.modes:
            module.training = training
        for parameter, requires in self.requires:
            parameter.requires_grad_(requires)
        for parameter, grad in self.grads:
            if parameter.grad is not grad:
                parameter.grad = grad
        with torch.no_grad():
            for buffer, saved in self.running:
                buffer.copy_(saved)
        for table, keys in self.hooks:
            for key in [k for k in table if k not in keys]:
                del table[key]
        for module, flag, value in self.flags:
            if value is _ABSENT:
                module.__dict__.pop(flag, None)
            else:
                module.__dict__[flag] = value


def _prepare(model: Any, state: _State, train: bool) -> None:
    """Training mode for the norms that keep running statistics (batch statistics, as the
    first step uses) when ``train``, evaluation mode elsewhere (dropout, stochastic depth
    and layer drop off), and gradients for every floating parameter."""
    for module in model.modules():
        running = any(module._buffers.get(key) is not None for key in _RUNNING[:2])
        module.training = train and running
    for parameter in model.parameters():
        if parameter.is_floating_point() or parameter.is_complex():
            parameter.requires_grad_(True)


def _wants_attentions(model: Any, selected: Mapping[str, str], kwargs: Mapping[str, Any]) -> bool:
    """Whether to ask a transformers model for its attention probabilities."""
    if "output_attentions" in kwargs or "attention" not in selected.values():
        return False
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "set_attn_implementation"):
        return False
    parameters = inspect.signature(model.forward).parameters
    return "output_attentions" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def _located(error: Exception, where: str | None, model: Any) -> Exception | None:
    """``error`` again, of its own type, naming the layer that was running."""
    place = "the model's own forward" if not where else f"layer {where!r}"
    message = f"{error} (raised in {place} of {type(model).__name__}, in diagnose's forward pass)"
    try:
        located = type(error)(message)
    except Exception:
        return None
    return located if isinstance(located, type(error)) else None


# -- the public function -------------------------------------------------------------------


def diagnose(
    model: Any,
    batch: Any = None,
    *,
    loss: Callable[[Any, Any], Any] | None = None,
    scheme: object = None,
    activation: object = None,
    seed: int = 0,
    bins: int = BINS,
    train: bool = True,
) -> SignalReport:
    """How a signal propagates through ``model`` as it is: one forward and one backward pass,
    each layer's output and gradient reduced as the pass goes, and the verdicts.

    The layers are the modules that hold parameters of their own, the activation modules
    (ReLU, GELU, Tanh, Sigmoid, SiLU... and transformers' ``...Activation`` classes), the
    residual blocks and the outermost attention modules, in the order their forward calls
    end; a module called twice gives two rows (``name``, ``name#2``). Each output is reduced
    in float32 as soon as it is made (memory holds the statistics, never the activations), so
    in-place activations are safe; channels are on axis 1 of the outputs of convolutions and
    batch norms of rank 3 or more (and of the activations and blocks after them), on the last
    axis elsewhere.

    The pass runs with the norms that keep running statistics in training mode (batch
    statistics, as the first step uses them; ``train=False``: their running statistics, as
    inference at initialization uses them) and every other module in evaluation mode
    (dropout off); afterwards every module's mode, every parameter's ``requires_grad`` and
    ``.grad``, and the running statistics are as they were, also when the forward raises.
    Gradients are taken with :func:`torch.autograd.grad`, so none are left behind. A
    transformers model is asked for its attention probabilities (with its eager attention
    for the pass), from which each attention layer's entropy and logit spread come.

    Parameters
    ----------
    model : torch.nn.Module
        The model, on any device.
    batch : Tensor, tuple or dict, optional
        One positional input, a tuple of positional inputs, or a dict of keyword inputs (as
        transformers models take them). ``None``: a synthetic batch from the model's first
        layer, reproducible from ``seed``: random token ids (4 x 128, within the vocabulary)
        for an embedding or a transformers text model, unit-normal images (8 x channels x
        224 x 224, or the configuration's image size) for a convolution, unit-normal vectors
        (64) for a linear layer.
    loss : callable, optional
        ``loss(output, batch) -> scalar tensor``. ``None``: the model's own loss when it
        returns one; next-token cross-entropy for a language model's ``(N, T, V)`` logits on
        its tokens; cross-entropy against random labels (from ``seed``) for ``(N, C)``
        logits; else the mean square of the output.
    scheme, activation : optional
        With a scheme, the parameters are also audited against its plan
        (:func:`~weightinit.torch.audit`), and the audit joins the verdicts.
    seed : int
        Seeds the synthetic batch and the random labels.
    bins : int
        Bins of each layer's histogram, over ``[-max|x|, max|x|]``.
    train : bool, default True
        Batch norms normalise with the batch's statistics (the first training step);
        ``False``: with their running statistics, which at initialization are the identity
        (a model evaluated, or served, before it is trained).

    Returns
    -------
    SignalReport
        The layers' :class:`~weightinit.signals.LayerSignal` rows, the output's
        :class:`~weightinit.signals.OutputSignal`, the verdicts and the audit.

    Raises
    ------
    TypeError
        For a batch of another type, or ``batch=None`` for a model whose first layer is none
        of those above. An error inside the model's forward comes back as its own type,
        chained, naming the layer that was running.
    ValueError
        For ``bins`` below 1.

    Examples
    --------
    >>> import torch
    >>> from weightinit.torch import diagnose
    >>> nn = torch.nn
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 10))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.mul_(30)
    >>> report = diagnose(net)
    >>> [s.name for s in report.layers]
    ['0', '1', '2']
    >>> report.layers[1].saturated > 0.5
    True
    >>> [v.layer for v in report.verdicts if v.problem == "saturated activation"]
    ['1']
    >>> report.output.classes, net[0].weight.grad is None
    (10, True)
    """
    torch = torch_module()
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive int; got {bins!r}.")
    if not isinstance(train, bool):
        raise TypeError(f"train must be a bool; got {train!r}.")
    if loss is not None and not callable(loss):
        raise TypeError(f"loss must be a callable (output, batch) -> scalar or None; got {loss!r}.")
    audited = None
    if scheme is not None:
        audited = audit_model(model, scheme=scheme, activation=activation)
    generator = torch.Generator().manual_seed(seed)
    args, kwargs, description = make_batch(model, batch, generator)
    selected = _selected(model)
    recorder = _Pass(bins, selected)
    state = _State.save(model)
    attentions: Any = None
    try:
        if _wants_attentions(model, selected, kwargs):
            current = getattr(model.config, "_attn_implementation", None)
            if current != "eager":
                model.set_attn_implementation("eager")
                state.attention = current
            kwargs["output_attentions"] = True
        _prepare(model, state, train)
        recorder.attach(model)
        with torch.enable_grad():
            try:
                output = model(*args, **kwargs)
            except Exception as error:
                where = recorder.running[-1] if recorder.running else None
                located = _located(error, where, model)
                if located is None:
                    raise
                raise located from error
            if kwargs.get("output_attentions"):
                attentions = getattr(output, "attentions", None)
            given = batch if batch is not None else (kwargs or args)
            if loss is not None:
                logits = getattr(output, "logits", None)
                logits = logits if isinstance(logits, torch.Tensor) else first_tensor(output)
                value, classes = loss(output, given), None
            else:
                logits, value, classes = first_loss(output, args, kwargs, generator)
            leaves = [p for p in dict.fromkeys(model.parameters()) if p.requires_grad]
            if isinstance(value, torch.Tensor) and value.requires_grad and leaves:
                torch.autograd.grad(value, leaves, allow_unused=True)
    finally:
        recorder.detach()
        state.restore(model)
    layers = _signals(recorder.rows, attentions, bins)
    logit_std = (
        float(logits.detach().to(torch.float32).std(correction=0)) if logits.numel() else 0.0
    )
    first = float(value.detach()) if isinstance(value, torch.Tensor) else value
    output_signal = OutputSignal(logit_std, None if first is None else float(first), classes)
    return SignalReport(
        model=type(model).__name__,
        batch=description,
        layers=layers,
        output=output_signal,
        verdicts=verdicts(layers, output_signal, audited) + _tied_head(model, output_signal),
        audit=audited,
    )


#: Logits whose standard deviation exceeds this, out of a head tied to the embedding, are a
#: verdict of their own: a unit-variance table read back as the head.
TIED_LOGITS = 3.0


def _tied_head(model: Any, output: OutputSignal) -> list[Verdict]:
    """A verdict on an output layer that shares its weight with an embedding table and
    gives logits of a huge scale (the table drawn N(0, 1), then read as the head)."""
    if output.logit_std <= TIED_LOGITS:
        return []
    tables = {
        id(module.weight): name
        for name, module in model.named_modules()
        if type(module).__name__ in ("Embedding", "EmbeddingBag")
        and getattr(module, "weight", None) is not None
    }
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if weight is None or type(module).__name__ in ("Embedding", "EmbeddingBag"):
            continue
        table = tables.get(id(weight))
        if table is not None:
            return [
                Verdict(
                    name,
                    "tied head with a huge logit scale",
                    f"It shares {table}'s table, and the logits' std is {output.logit_std:.3g}.",
                    "draw the tied table N(0, 1/d) (scheme recommended's tied_embedding), "
                    "or scale the logits by 1/sqrt(d).",
                )
            ]
    return []


def _signals(rows: list[_Row], attentions: Any, bins: int) -> list[LayerSignal]:
    """The rows as :class:`LayerSignal`: the tensors read back in one transfer each."""
    torch = torch_module()
    if not rows:
        return []
    stats = torch.stack([r.stats.to("cpu") for r in rows]).tolist()
    counts = torch.stack([r.counts.to("cpu") for r in rows]).tolist()
    # The i-th attention probabilities belong to the i-th attention layer, when they match.
    heads = [r for r in rows if r.role == "attention"]
    if isinstance(attentions, (tuple, list)) and len(attentions) == len(heads):
        for row, probabilities in zip(heads, attentions, strict=True):
            if probabilities is not None:
                row.attention = _attention(probabilities)

    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    layers = []
    for index, (row, values, histogram) in enumerate(zip(rows, stats, counts, strict=True)):
        top = values[4]
        edges = np.linspace(-top, top, bins + 1) if top > 0 else np.linspace(-1.0, 1.0, bins + 1)
        entropy, spread = row.attention if row.attention is not None else (None, None)
        mean, std, channel_sq_mean, channel_var, max_abs, dead, saturated = values
        layers.append(
            LayerSignal(
                row.name,
                row.kind,
                index,
                mean=mean,
                std=std,
                channel_sq_mean=channel_sq_mean,
                channel_var=channel_var,
                max_abs=max_abs,
                dead=dead,
                saturated=saturated,
                nonfinite=row.nonfinite,
                grad_rms=number(row.grad),
                branch_var=number(row.branch_var),
                stream_var=number(row.stream_var),
                attention_logit_std=spread,
                attention_entropy=entropy,
                histogram=(tuple(int(c) for c in histogram), tuple(float(e) for e in edges)),
                shape=row.shape,
            )
        )
    return layers
