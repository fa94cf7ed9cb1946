"""Real PyTorch models: ``weightinit.torch.initialize_`` against the libraries' own init.

Three measurements on the CPU, with every library's default threads (``threads=None``):

1. GPT-2 small (``transformers.GPT2LMHeadModel(GPT2Config())``, 124M parameters): the time
   of ``initialize_(model, 0)`` against ``model.apply(model._init_weights)``, the per-module
   init that transformers' ``initialize_weights`` dispatches to (``initialize_weights`` and
   ``init_weights`` skip modules already flagged ``_is_hf_initialized`` by the constructor, so
   they would time a no-op). Target: ratio <= 1.3.
2. The peak memory of ``initialize_`` on GPT-2 small built normally and built on the meta
   device, each in a fresh subprocess: the peak resident set (``VmHWM``, reset by writing 5
   to ``/proc/self/clear_refs`` just before the call) minus the resident set just before it,
   after one warm-up call on a tiny model so that lazily imported code is not counted.
   PyTorch's allocations are invisible to tracemalloc, hence the resident set. Target: peak
   <= parameters + 64 MiB (for a normally built model the parameters are already resident,
   so everything the call adds counts against the 64 MiB).
3. ResNet-50 (``transformers.ResNetModel(ResNetConfig())``: bottleneck blocks 3-4-6-3, widths
   256-2048, stem 64; ResNet-50 without its classifier, 23.5M parameters): the time of
   ``initialize_(model, 0, activation="relu")`` against ``reset_parameters()`` on every module
   that has it (PyTorch's own init: Kaiming uniform convolutions, batch norms ones/zeros).
   Target: ratio <= 1.3. A third contender, ``initialize_(model, 0, scheme="pytorch")``
   (the same laws as ``reset_parameters``), is timed in the same rounds for comparison.

Contenders are timed in turn in every round after a warm-up call each (``timing.rounds``);
ratios are medians of per-round ratios (below 1.0 means weightinit is faster). Usage::

    python benchmarks/bench_torch_models.py [--repeat 5] [--no-memory]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import transformers
from timing import ratio
from timing import rounds
from transformers import GPT2Config
from transformers import GPT2LMHeadModel
from transformers import ResNetConfig
from transformers import ResNetModel

from weightinit.torch import initialize_

SPEED_TARGET = 1.3
MEMORY_SLACK = 64 * 2**20
MiB = 2**20


def parameter_bytes(model: Any) -> int:
    """Bytes of the model's unique parameters (tied ones counted once)."""
    return sum(p.numel() * p.element_size() for p in model.parameters())


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _speed_line(label: str, times: dict[str, list[float]], theirs: str) -> str:
    r = ratio(times, "ours", "theirs")
    ours_ms = statistics.median(times["ours"]) * 1e3
    theirs_ms = statistics.median(times["theirs"]) * 1e3
    return (
        f"{label:10} initialize_ {ours_ms:7.1f} ms  {theirs:38} {theirs_ms:7.1f} ms  "
        f"ratio {r:5.2f}  target <= {SPEED_TARGET}  {_verdict(r <= SPEED_TARGET)}"
    )


def gpt2_speed(repeat: int) -> str:
    model = GPT2LMHeadModel(GPT2Config())
    calls: dict[str, Callable[[], object]] = {
        "ours": lambda: initialize_(model, 0),
        "theirs": lambda: model.apply(model._init_weights),
    }
    return _speed_line("GPT-2", rounds(calls, repeat), "model.apply(model._init_weights)")


def resnet_speed(repeat: int) -> str:
    model = ResNetModel(ResNetConfig())
    owners = [m for m in model.modules() if hasattr(m, "reset_parameters")]

    def reset() -> None:
        with torch.no_grad():
            for m in owners:
                m.reset_parameters()

    calls: dict[str, Callable[[], object]] = {
        "ours": lambda: initialize_(model, 0, activation="relu"),
        "theirs": reset,
        "same laws": lambda: initialize_(model, 0, scheme="pytorch"),
    }
    times = rounds(calls, repeat)
    label = f"reset_parameters() x {len(owners)}"
    line = _speed_line("ResNet-50", times, label)
    # Not a target: the same laws as reset_parameters (Kaiming uniform, not He normal), to
    # tell the cost of the portable normal transform from the cost of everything else.
    same = statistics.median(times["same laws"]) * 1e3
    same_ratio = ratio(times, "same laws", "theirs")
    line += f"\n{'':10} initialize_ {same:7.1f} ms  with scheme='pytorch' (the same laws)"
    line += f"{'':7} ratio {same_ratio:5.2f}  (no target)"
    return line


# -- memory, one fresh subprocess per case -------------------------------------------------


def _status() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in bytes."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) * 1024
    return fields


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _child(case: str) -> None:
    """Measure one case in this (fresh) process and print its figures as JSON."""
    small = GPT2Config(
        n_layer=1,
        n_embd=32,
        n_head=2,
        vocab_size=64,
        n_positions=16,
        bos_token_id=0,
        eos_token_id=0,
    )
    with torch.device("meta"):  # warm-up: imports and caches of both paths, on a tiny model
        initialize_(GPT2LMHeadModel(small), 0)
    initialize_(GPT2LMHeadModel(small), 0)
    if case == "meta":
        with torch.device("meta"):
            model = GPT2LMHeadModel(GPT2Config())
    else:
        model = GPT2LMHeadModel(GPT2Config())
    gc.collect()
    params = parameter_bytes(model)
    before = _status()["VmRSS"]
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cleared = _reset_peak()
    initialize_(model, 0)
    peak_status = _status()["VmHWM"]
    maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if cleared:
        method, peak = "VmHWM after clear_refs", peak_status
    else:  # only a lower bound when the process peaked earlier (e.g. while building)
        method, peak = "ru_maxrss (clear_refs refused)", maxrss_after
        if maxrss_after <= maxrss_before:
            method += ", peak not above the earlier one"
    print(json.dumps({"params": params, "before": before, "peak": peak, "method": method}))


def memory_line(case: str) -> str:
    """Run one memory case in a fresh interpreter and format its line."""
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", case],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return f"GPT-2 {case}: child failed\n{done.stderr[-2000:]}"
    r = json.loads(done.stdout.strip().splitlines()[-1])
    params, grown = r["params"], r["peak"] - r["before"]
    # Built normally, the parameters are resident before the call: all growth is overhead.
    beyond = grown if case == "normal" else grown - params
    label = "GPT-2 built normally" if case == "normal" else "GPT-2 on meta device"
    return (
        f"{label:21} parameters {params / MiB:6.1f} MiB  RSS before {r['before'] / MiB:6.1f} MiB"
        f"  peak {r['peak'] / MiB:6.1f} MiB  peak = parameters + {beyond / MiB:6.1f} MiB"
        f"  target <= parameters + {MEMORY_SLACK // MiB} MiB"
        f"  {_verdict(beyond <= MEMORY_SLACK)}  ({r['method']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-memory", action="store_true", help="skip the memory cases")
    parser.add_argument("--child", choices=("normal", "meta"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers "
        f"{transformers.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs; "
        f"weightinit threads=None"
    )
    print(
        f"float32 CPU; times are medians of {args.repeat} rounds, "
        "ratios medians of per-round ratios"
    )
    print(gpt2_speed(args.repeat))
    print(resnet_speed(args.repeat))
    if not args.no_memory:
        print(
            "memory: a fresh process per case; peak = VmHWM during initialize_ minus VmRSS "
            "before it (after a warm-up on a tiny model)"
        )
        for case in ("normal", "meta"):
            print(memory_line(case))


if __name__ == "__main__":
    main()
