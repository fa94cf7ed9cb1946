"""Whole models: ``weightinit.initialize`` against PyTorch's init functions over the same shapes.

Each workload is timed in the same rounds as its PyTorch counterpart (contenders in turn,
ratios as medians of per-round ratios; below 1.0 means weightinit is faster). Without
PyTorch, only our times are printed. Usage::

    python benchmarks/bench_models.py [--repeat 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from timing import ratio
from timing import rounds

import weightinit as wi

try:
    import torch
except ImportError:  # the comparison with PyTorch is optional
    torch = None

Shapes = list[tuple[str, tuple[int, ...], str]]  # (name, shape, kind)


def gpt2_small() -> Shapes:
    """GPT-2 small (12 layers, width 768, vocabulary 50257, context 1024): matrices are
    normal(0, 0.02), vectors zeros."""
    d, shapes = 768, [("wte", (50257, 768), "normal"), ("wpe", (1024, 768), "normal")]
    for i in range(12):
        p = f"h.{i}."
        shapes += [
            (p + "ln_1.weight", (d,), "zeros"),
            (p + "ln_1.bias", (d,), "zeros"),
            (p + "attn.c_attn.weight", (d, 3 * d), "normal"),
            (p + "attn.c_attn.bias", (3 * d,), "zeros"),
            (p + "attn.c_proj.weight", (d, d), "normal"),
            (p + "attn.c_proj.bias", (d,), "zeros"),
            (p + "ln_2.weight", (d,), "zeros"),
            (p + "ln_2.bias", (d,), "zeros"),
            (p + "mlp.c_fc.weight", (d, 4 * d), "normal"),
            (p + "mlp.c_fc.bias", (4 * d,), "zeros"),
            (p + "mlp.c_proj.weight", (4 * d, d), "normal"),
            (p + "mlp.c_proj.bias", (d,), "zeros"),
        ]
    return shapes


def resnet50() -> Shapes:
    """ResNet-50's parameters in PyTorch's layout: convolutions He normal (fan_out), batch
    norms ones and zeros, the classifier He normal and a zero bias."""
    shapes: Shapes = [("conv1.weight", (64, 3, 7, 7), "he")]
    shapes += [("bn1.weight", (64,), "ones"), ("bn1.bias", (64,), "zeros")]
    inplanes = 64
    for stage, (planes, blocks) in enumerate(
        zip((64, 128, 256, 512), (3, 4, 6, 3), strict=True), 1
    ):
        for b in range(blocks):
            p = f"layer{stage}.{b}."
            convs = [(planes, inplanes, 1, 1), (planes, planes, 3, 3), (4 * planes, planes, 1, 1)]
            for j, shape in enumerate(convs, 1):
                shapes.append((f"{p}conv{j}.weight", shape, "he"))
                shapes += [(f"{p}bn{j}.weight", (shape[0],), "ones")]
                shapes += [(f"{p}bn{j}.bias", (shape[0],), "zeros")]
            if b == 0:
                shapes.append((p + "downsample.0.weight", (4 * planes, inplanes, 1, 1), "he"))
                shapes += [(p + "downsample.1.weight", (4 * planes,), "ones")]
                shapes += [(p + "downsample.1.bias", (4 * planes,), "zeros")]
            inplanes = 4 * planes
    return [*shapes, ("fc.weight", (1000, 2048), "he"), ("fc.bias", (1000,), "zeros")]


def small_tensors() -> Shapes:
    return [(f"w{i}", (64, 64), "he") for i in range(1000)]


OURS = {
    "normal": wi.scaled_normal(0.02),
    "zeros": wi.zeros(),
    "ones": wi.ones(),
    "he": wi.he_normal(mode="fan_out"),
}


def _ours(shapes: Shapes) -> dict[str, wi.Param]:
    return {name: wi.Param(OURS[kind], shape, layout="pytorch") for name, shape, kind in shapes}


def _theirs(shapes: Shapes) -> Callable[[], object]:
    assert torch is not None
    tensors = [(torch.empty(shape), kind) for _, shape, kind in shapes]
    init = torch.nn.init
    fill: dict[str, Callable[[Any], object]] = {
        "normal": lambda t: init.normal_(t, 0.0, 0.02),
        "zeros": init.zeros_,
        "ones": init.ones_,
        "he": lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"),
    }

    def run() -> None:
        with torch.no_grad():
            for tensor, kind in tensors:
                fill[kind](tensor)

    return run


def _peak(call: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2, help="threads for both libraries")
    args = parser.parse_args()
    if torch is not None:
        torch.set_num_threads(args.threads)
    workloads = {
        "GPT-2 small": gpt2_small(),
        "ResNet-50": resnet50(),
        "1000 x 64x64": small_tensors(),
    }
    print(f"threads {args.threads}, float32, {args.repeat} rounds")
    for label, shapes in workloads.items():
        params = _ours(shapes)
        values = sum(int(np.prod(s)) for _, s, _ in shapes)
        calls: dict[str, Callable[[], object]] = {
            "ours": lambda p=params: wi.initialize(p, 0, threads=args.threads)
        }
        if torch is not None:
            calls["torch"] = _theirs(shapes)
        times = rounds(calls, args.repeat)
        ms = statistics.median(times["ours"]) * 1e3
        line = f"{label:14} {len(shapes):5} tensors {values / 1e6:7.1f}M values  ours {ms:8.1f} ms"
        if torch is not None:
            line += f"  torch {statistics.median(times['torch']) * 1e3:8.1f} ms"
            line += f"  ratio {ratio(times, 'ours', 'torch'):5.2f}"
        extra = _peak(lambda p=params: wi.initialize(p, 0, threads=args.threads)) - values * 4
        print(line + f"  peak beyond outputs {extra / 2**20:6.1f} MiB")

    single: dict[str, tuple[tuple[int, int], Callable[[], object]]] = {
        "one 64x64": ((64, 64), lambda: wi.he_normal()((64, 64), seed=0, layout="pytorch")),
        "one 4096x4096": (
            (4096, 4096),
            lambda: wi.he_normal()((4096, 4096), seed=0, layout="pytorch", threads=args.threads),
        ),
    }
    for label, (shape, ours) in single.items():
        calls = {"ours": ours}
        if torch is not None:
            tensor = torch.empty(shape)
            calls["torch"] = lambda t=tensor: torch.nn.init.kaiming_normal_(t)
        times = rounds(calls, args.repeat * (20 if shape == (64, 64) else 1))
        line = f"{label:14} he_normal ours {statistics.median(times['ours']) * 1e3:8.3f} ms"
        if torch is not None:
            line += f"  kaiming_normal_ {statistics.median(times['torch']) * 1e3:8.3f} ms"
            line += f"  ratio {ratio(times, 'ours', 'torch'):5.2f}"
        print(line)


if __name__ == "__main__":
    main()
