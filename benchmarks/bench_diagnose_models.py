"""Real PyTorch models: ``weightinit.torch.diagnose`` against one plain forward and backward
pass of the same batch.

Two models on the CPU, with PyTorch's default threads:

1. ResNet-50 (``transformers.ResNetForImageClassification(ResNetConfig())``: bottleneck
   blocks 3-4-6-3, widths 256-2048, the configuration's two default labels; 23.5M
   parameters) on 8 unit-normal images of 3 x 224 x 224;
2. GPT-2 small (``transformers.GPT2LMHeadModel(GPT2Config())``, 124M parameters) on 4 x 128
   random tokens.

The baseline is what a training step's first half costs: the model in training mode, one
forward pass, the loss diagnose would take (cross-entropy against random labels; next-token
cross-entropy), one ``backward()`` and the gradients dropped. Target: ``diagnose`` within 3x
of it. Contenders are timed in turn in every round after a warm-up call each
(``timing.rounds``); the ratio is the median of per-round ratios. diagnose asks GPT-2 for its
attention probabilities, which needs its eager attention for the pass: a third contender, the
baseline with eager attention, separates that cost from the hooks'.

The report's size: ``len(json.dumps(report.to_dict()))`` per 100 layers (histograms of 60
bins included). Target: at most 1 MiB per 100 layers. Usage::

    python benchmarks/bench_diagnose_models.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from typing import Any

import torch
from timing import ratio
from timing import rounds
from transformers import GPT2Config
from transformers import GPT2LMHeadModel
from transformers import ResNetConfig
from transformers import ResNetForImageClassification

from weightinit.torch import diagnose

SPEED_TARGET = 3.0
SIZE_TARGET = 2**20  # bytes per 100 layers


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _plain(model: Any, kwargs: dict[str, Any], loss: Callable[[Any], Any]) -> Callable[[], None]:
    def step() -> None:
        model.train()
        output = model(**kwargs)
        loss(output).backward()
        model.zero_grad(set_to_none=True)

    return step


def _lines(label: str, model: Any, kwargs: dict[str, Any], times: dict[str, list[float]]) -> str:
    report = diagnose(model, kwargs)
    size = len(json.dumps(report.to_dict()))
    per_100 = size * 100 / max(len(report.layers), 1)
    r = ratio(times, "diagnose", "plain")
    ours = statistics.median(times["diagnose"]) * 1e3
    theirs = statistics.median(times["plain"]) * 1e3
    lines = [
        f"{label:10} diagnose {ours:8.1f} ms  forward+backward {theirs:8.1f} ms  "
        f"ratio {r:5.2f}  target <= {SPEED_TARGET}  {_verdict(r <= SPEED_TARGET)}",
        f"{'':10} report: {len(report.layers)} layers, {size / 1024:.0f} KiB of JSON, "
        f"{per_100 / 1024:.0f} KiB per 100 layers  target <= 1024 KiB  "
        f"{_verdict(per_100 <= SIZE_TARGET)}",
    ]
    if "eager" in times:
        eager = statistics.median(times["eager"]) * 1e3
        lines.append(
            f"{'':10} forward+backward with eager attention {eager:8.1f} ms: diagnose over it "
            f"{ratio(times, 'diagnose', 'eager'):5.2f}  (no target)"
        )
    return "\n".join(lines)


def resnet50(repeat: int) -> str:
    model = ResNetForImageClassification(ResNetConfig())
    generator = torch.Generator().manual_seed(0)
    kwargs = {"pixel_values": torch.randn((8, 3, 224, 224), generator=generator)}
    labels = torch.randint(0, model.config.num_labels, (8,), generator=generator)

    def loss(output: Any) -> Any:
        return torch.nn.functional.cross_entropy(output.logits, labels)

    calls: dict[str, Callable[[], object]] = {
        "diagnose": lambda: diagnose(model, kwargs),
        "plain": _plain(model, kwargs, loss),
    }
    return _lines("ResNet-50", model, kwargs, rounds(calls, repeat))


def gpt2_small(repeat: int) -> str:
    model = GPT2LMHeadModel(GPT2Config())
    ids = torch.randint(0, 50257, (4, 128), generator=torch.Generator().manual_seed(0))
    kwargs = {"input_ids": ids, "use_cache": False}

    def loss(output: Any) -> Any:
        logits = output.logits[:, :-1].reshape(-1, output.logits.shape[-1])
        return torch.nn.functional.cross_entropy(logits, ids[:, 1:].reshape(-1))

    plain = _plain(model, kwargs, loss)

    def eager() -> None:
        implementation = model.config._attn_implementation
        model.set_attn_implementation("eager")
        try:
            plain()
        finally:
            model.set_attn_implementation(implementation)

    calls: dict[str, Callable[[], object]] = {
        "diagnose": lambda: diagnose(model, kwargs),
        "plain": plain,
        "eager": eager,
    }
    return _lines("GPT-2", model, kwargs, rounds(calls, repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(resnet50(args.repeat))
    print(gpt2_small(args.repeat))


if __name__ == "__main__":
    main()
