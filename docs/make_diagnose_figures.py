"""Regenerate the figures of docs/real_diagnostics.md: three stories told by
``weightinit.torch.diagnose`` on models people train.

    python docs/make_diagnose_figures.py                          # writes docs/figures/*.png
    python docs/make_diagnose_figures.py --small --out DIRECTORY  # tiny versions, in seconds

1. A deep pre-activation residual CNN with batch norm, without normalisation, and without
   normalisation under SkipInit: the average channel variance of each block's output
   against depth (the signal-propagation plot).
2. A pre-LN GPT-2 at depths 6 to 48 under N(0, 0.02) and under GPT-2's 1/sqrt(2L) residual
   scaling: the residual stream's variance at the last block against depth.
3. transformers' ResNet-50 under He initialization with and without zero-init residual,
   evaluated before training (batch norms at their initial running statistics): the logits'
   scale.

Every number comes from ``diagnose`` (and ``initialize_``); this script only builds the
models, arranges and labels the numbers, and prints them.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import torch
import transformers
from torch import nn

from weightinit import schemes
from weightinit.torch import diagnose
from weightinit.torch import initialize_

FIGURES = Path(__file__).resolve().parent / "figures"
DPI = 90


@dataclass(frozen=True)
class Size:
    blocks: int  # residual blocks of story 1
    channels: int
    image: int
    gpt_depths: tuple[int, ...]
    gpt_width: int
    resnet50: bool  # story 3 on the real ResNet-50, else a small ResNet of the same code


FULL = Size(
    blocks=100, channels=16, image=16, gpt_depths=(6, 12, 24, 48), gpt_width=128, resnet50=True
)
SMALL = Size(blocks=6, channels=4, image=8, gpt_depths=(2, 4), gpt_width=32, resnet50=False)


class BasicBlock(nn.Module):
    """A pre-activation residual block ``x + conv(relu(norm(conv(relu(norm(x))))))``, with
    batch norm or without, and with SkipInit's gain on the branch or without."""

    def __init__(self, channels: int, norm: bool, gate: bool) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels) if norm else nn.Identity()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels) if norm else nn.Identity()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.skipinit_gain = nn.Parameter(torch.ones(())) if gate else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.conv2(torch.relu(self.bn2(self.conv1(torch.relu(self.bn1(x))))))
        return x + (branch if self.skipinit_gain is None else self.skipinit_gain * branch)


def residual_cnn(size: Size, norm: bool, gate: bool) -> nn.Module:
    stem = nn.Conv2d(3, size.channels, 3, padding=1)
    blocks = [BasicBlock(size.channels, norm, gate) for _ in range(size.blocks)]
    return nn.Sequential(stem, *blocks)


def story_resnets(size: Size) -> dict[str, list[float]]:
    """Each variant's average channel variance at each block's output."""
    images = torch.randn(8, 3, size.image, size.image, generator=torch.Generator().manual_seed(0))
    variants = {
        "batch norm (He)": (True, False, "recommended"),
        "no normalisation (He)": (False, False, "recommended"),
        "no normalisation, SkipInit": (False, True, "recommended+skipinit"),
    }
    found = {}
    for label, (norm, gate, scheme) in variants.items():
        model = residual_cnn(size, norm, gate)
        initialize_(model, seed=0, scheme=scheme, activation="relu")
        report = diagnose(model, images, loss=lambda out, batch: out.float().pow(2).mean())
        found[label] = [s.channel_var for s in report.layers if s.kind == "BasicBlock"]
    return found


def gpt2(depth: int, width: int) -> Any:
    config = transformers.GPT2Config(
        n_layer=depth,
        n_embd=width,
        n_head=4,
        vocab_size=256,
        n_positions=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(config)


def story_gpt(size: Size) -> dict[str, list[float]]:
    """The residual stream's variance at the last block, for each depth and scheme."""
    tokens = torch.randint(0, 256, (4, 64), generator=torch.Generator().manual_seed(0))
    found: dict[str, list[float]] = {"N(0, 0.02)": [], "GPT-2's 0.02/sqrt(2L)": []}
    for depth in size.gpt_depths:
        for label, scheme in zip(found, (schemes.gpt2(scaled=False), schemes.gpt2()), strict=True):
            model = gpt2(depth, size.gpt_width)
            initialize_(model, seed=0, scheme=scheme)
            report = diagnose(model, {"input_ids": tokens})
            blocks = [s for s in report.layers if s.kind == "GPT2Block"]
            found[label].append(blocks[-1].channel_var)
    return found


def story_logits(size: Size) -> dict[str, float]:
    """The logits' standard deviation of a ResNet under He with and without zero-init
    residual."""
    if size.resnet50:
        config = transformers.ResNetConfig()  # ResNet-50: bottlenecks of depths 3, 4, 6, 3
        images = torch.randn(8, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    else:
        config = transformers.ResNetConfig(
            embedding_size=8, hidden_sizes=[16, 32], depths=[1, 1], layer_type="bottleneck"
        )
        images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    found = {}
    for label, scheme in (
        ("He", "recommended"),
        ("He + zero-init residual", "recommended+zero_init_residual"),
    ):
        model = transformers.ResNetForImageClassification(config)
        initialize_(model, seed=0, scheme=scheme, activation="relu")
        report = diagnose(model, {"pixel_values": images}, train=False)
        assert report.output is not None
        found[label] = report.output.logit_std
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="tiny models, for a test")
    parser.add_argument("--out", type=Path, default=None, help="directory for the PNGs")
    args = parser.parse_args()
    size = SMALL if args.small else FULL
    out = args.out or (Path(tempfile.mkdtemp()) if args.small else FIGURES)
    out.mkdir(parents=True, exist_ok=True)

    resnets = story_resnets(size)
    figure, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, values in resnets.items():
        finite = [v if math.isfinite(v) else float("nan") for v in values]
        ax.semilogy(range(1, len(finite) + 1), finite, label=label)
        print(
            f"residual CNN, {label}: block 1 {values[0]:.3g}, block {len(values)} {values[-1]:.3g}"
        )
    ax.set_xlabel("residual block")
    ax.set_ylabel("average channel variance")
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "signal_resnet.png", dpi=DPI)

    streams = story_gpt(size)
    figure, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, values in streams.items():
        ax.plot(size.gpt_depths, values, marker="o", label=label)
        print(
            f"GPT-2, {label}: "
            + ", ".join(f"L={d} {v:.3g}" for d, v in zip(size.gpt_depths, values, strict=True))
        )
    ax.set_xlabel("blocks L")
    ax.set_ylabel("residual stream variance at block L")
    ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "signal_gpt.png", dpi=DPI)

    logits = story_logits(size)
    for label, value in logits.items():
        print(f"ResNet{'-50' if size.resnet50 else ''}, {label}: logit std {value:.3g}")
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
