"""weightinit.torch.diagnose on real models: the statistics, the verdicts, and a model left
as it was."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from weightinit.signals import summarize  # noqa: E402
from weightinit.torch import diagnose  # noqa: E402
from weightinit.torch import initialize_  # noqa: E402

nn = torch.nn

_HOOKS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
)


def hook_counts(model: nn.Module) -> dict[tuple[str, str], int]:
    return {
        (name, attribute): len(getattr(module, attribute))
        for name, module in model.named_modules()
        for attribute in _HOOKS
    }


def state_bytes(model: nn.Module) -> dict[str, bytes]:
    return {k: v.detach().clone().numpy().tobytes() for k, v in model.state_dict().items()}


def problems(report) -> list[str]:
    return [v.problem for v in report.verdicts]


# -- models for the stories -------------------------------------------------------------------


class ResidualBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(width, width)
        self.skipinit_gain = nn.Parameter(torch.ones(()))  # SkipInit's gate, 1 under He

    def forward(self, x):
        return x + self.skipinit_gain * self.fc2(self.act(self.fc1(x)))


class ResidualMLP(nn.Module):
    def __init__(self, width: int = 64, depth: int = 16) -> None:
        super().__init__()
        self.stem = nn.Linear(width, width)
        self.blocks = nn.ModuleList(ResidualBlock(width) for _ in range(depth))
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def mlp(activation: type[nn.Module], depth: int = 8, width: int = 64) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), activation()]
    return nn.Sequential(*layers, nn.Linear(width, 10))


def gpt2(depth: int) -> nn.Module:
    config = transformers.GPT2Config(
        n_layer=depth,
        n_embd=64,
        n_head=2,
        vocab_size=256,
        n_positions=32,
        bos_token_id=0,
        eos_token_id=0,
    )
    return transformers.GPT2LMHeadModel(config)


def conv_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
    )


# -- (1) a deep residual network without normalisation -----------------------------------


def test_unnormalised_residual_mlp_explodes_under_he_and_not_with_skipinit():
    model = ResidualMLP()
    initialize_(model, 0, activation="relu")
    report = diagnose(model)
    exploding = [v for v in report.verdicts if v.problem == "forward variance exploding"]
    assert exploding and exploding[0].layer.startswith("blocks.")
    # Each He-scaled branch adds about the stream's own variance: the stream doubles.
    blocks = [s for s in report.layers if s.branch_var is not None]
    assert len(blocks) == 16
    assert all(0.3 < s.branch_ratio < 3 for s in blocks)

    initialize_(model, 0, scheme="recommended+skipinit", activation="relu")
    calm = diagnose(model)
    assert "forward variance exploding" not in problems(calm)
    assert all(s.branch_var == 0 for s in calm.layers if s.branch_var is not None)


# -- (2) GPT-2's residual stream over depth ----------------------------------------------------


def normal_002(model: nn.Module) -> None:
    """N(0, 0.02) for every weight, zero biases, unit norm gains: no depth scaling."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "ln" in name:
                parameter.fill_(1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                parameter.zero_()
            else:
                parameter.normal_(0.0, 0.02, generator=torch.Generator().manual_seed(0))


def last_block_var(model: nn.Module) -> float:
    blocks = [s for s in diagnose(model).layers if s.kind == "GPT2Block"]
    assert len(blocks) == model.config.n_layer
    return blocks[-1].channel_var


def test_gpt2_stream_grows_with_depth_without_scaled_projections():
    shallow, deep = gpt2(2), gpt2(12)
    normal_002(shallow)
    normal_002(deep)
    growth_plain = last_block_var(deep) / last_block_var(shallow)
    initialize_(shallow, 0, scheme="gpt2")
    initialize_(deep, 0, scheme="gpt2")
    growth_gpt2 = last_block_var(deep) / last_block_var(shallow)
    # Unscaled, every block adds branches as large as the stream it started from: the last
    # of 12 blocks holds about 20x what the last of 2 does (19.7 with these seeds). gpt2
    # divides the residual projections' std by sqrt(2L): 12 blocks add what 2 do (0.97).
    assert growth_plain > 5
    assert growth_gpt2 < 1.25
    assert growth_plain - 1 > 3 * (growth_gpt2 - 1)


# -- (3) saturated and dead units ------------------------------------------------------------


def test_tanh_mlp_with_too_large_init_saturates():
    model = mlp(nn.Tanh)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=4 / math.sqrt(layer.in_features))
                nn.init.zeros_(layer.bias)
    report = diagnose(model)
    saturated = [v for v in report.verdicts if v.problem == "saturated activation"]
    kinds = {s.name: s.kind for s in report.layers}
    assert saturated and kinds[saturated[0].layer] == "Tanh"
    assert all(s.saturated > 0.3 for s in report.layers if s.kind == "Tanh")

    initialize_(model, 0, activation="tanh")
    assert "saturated activation" not in problems(diagnose(model))


def test_relu_mlp_with_negative_biases_has_dead_units():
    model = mlp(nn.ReLU)
    initialize_(model, 0, activation="relu")
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                layer.bias.fill_(-5.0)
    report = diagnose(model)
    dead = [v for v in report.verdicts if v.problem == "dead units"]
    assert dead and dead[0].layer == "1"  # the first ReLU

    initialize_(model, 0, activation="relu")
    assert "dead units" not in problems(diagnose(model))


# -- (4) the first loss ------------------------------------------------------------------------


def classifier() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    initialize_(model, 0, activation="relu")
    return model


def test_a_large_head_puts_the_first_loss_far_from_ln_classes():
    model = classifier()
    with torch.no_grad():
        model[2].weight.mul_(100)
    report = diagnose(model)
    assert report.output.classes == 10
    assert "first loss far from ln(classes)" in problems(report)


def test_a_zero_head_scores_ln_classes():
    model = classifier()
    with torch.no_grad():
        model[2].weight.zero_()
        model[2].bias.zero_()
    report = diagnose(model)
    assert abs(report.output.loss - math.log(10)) < 1e-3
    assert report.output.logit_std == 0
    assert "first loss far from ln(classes)" not in problems(report)


# -- real models -------------------------------------------------------------------------------


def test_gpt2_language_model():
    model = gpt2(2)
    implementation = model.config._attn_implementation
    report = diagnose(model)
    assert report.output.classes == 256
    assert abs(report.output.loss - math.log(256)) < 0.5
    attention = [s for s in report.layers if s.kind == "GPT2Attention"]
    assert len(attention) == 2
    for s in attention:  # causal rows of 1..32 keys: the entropy of nearly uniform rows
        expected = np.mean(np.log(np.arange(1, 33)))
        assert abs(s.attention_entropy - expected) < 0.1
        assert 0 < s.attention_logit_std < 0.5
    assert all(s.grad_rms is not None and s.grad_rms > 0 for s in report.layers)
    assert model.config._attn_implementation == implementation
    assert "synthetic tokens" in report.batch and "(4, 32)" in report.batch


def test_bert_classifier_with_a_dict_batch():
    config = transformers.BertConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        vocab_size=128,
        num_labels=3,
    )
    model = transformers.BertForSequenceClassification(config)
    ids = torch.randint(0, 128, (4, 16), generator=torch.Generator().manual_seed(1))
    report = diagnose(model, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})
    assert report.output.classes == 3
    assert abs(report.output.loss - math.log(3)) < 1.0
    attention = [s for s in report.layers if s.kind == "BertAttention"]
    assert len(attention) == 2 and all(s.attention_entropy is not None for s in attention)
    assert all(s.attention_entropy <= math.log(16) + 1e-4 for s in attention)
    assert model.training is True  # built in training mode, and left so


def test_vit_classifier():
    config = transformers.ViTConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
        num_labels=4,
    )
    model = transformers.ViTForImageClassification(config)
    report = diagnose(model)
    assert "(8, 3, 32, 32)" in report.batch
    assert report.output.classes == 4
    blocks = [s for s in report.layers if s.kind == "ViTLayer"]
    assert len(blocks) == 2 and all(s.branch_var is not None for s in blocks)
    assert all(s.attention_entropy is not None for s in report.layers if s.kind == "ViTAttention")


def test_transformers_resnet_keeps_its_batch_norm_statistics():
    config = transformers.ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[2, 1], layer_type="basic", num_labels=3
    )
    model = transformers.ResNetForImageClassification(config).eval()
    before = state_bytes(model)
    report = diagnose(model, torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert state_bytes(model) == before
    assert not any(m.training for m in model.modules())
    norms = [s for s in report.layers if s.kind == "BatchNorm2d"]
    # Batch statistics (training mode), not the fresh running ones: unit variance per channel.
    assert all(abs(s.channel_var - 1) < 0.01 for s in norms)
    identity = [s for s in report.layers if s.name == "resnet.encoder.stages.0.layers.1"]
    assert identity[0].branch_var is not None


# -- the pass leaves the model as it was -------------------------------------------------------


class Boom(nn.Module):
    def forward(self, x):
        raise ValueError("no forward today")


def test_an_error_in_forward_names_the_layer_and_leaves_the_model_as_it_was():
    model = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), Boom())
    model[0].weight.grad = torch.ones(8, 8)
    model[1].weight.requires_grad_(False)
    model.train()
    before, hooks = state_bytes(model), hook_counts(model)
    with pytest.raises(ValueError, match=r"no forward today.*layer '3'") as caught:
        diagnose(model, torch.randn(16, 8))
    assert isinstance(caught.value.__cause__, ValueError)
    assert state_bytes(model) == before
    assert hook_counts(model) == hooks
    assert torch.equal(model[0].weight.grad, torch.ones(8, 8))
    assert model[0].bias.grad is None and model[1].weight.requires_grad is False
    assert all(m.training for m in model.modules())


def test_hooks_grads_modes_and_running_statistics_are_restored():
    model = conv_net()
    model[3].weight.grad = torch.full_like(model[3].weight, 2.0)
    frozen = model[6].weight
    frozen.requires_grad_(False)
    model.eval()
    model[1].train()
    before, hooks = state_bytes(model), hook_counts(model)
    modes = [m.training for m in model.modules()]
    report = diagnose(model, torch.randn(4, 3, 16, 16))
    assert state_bytes(model) == before
    assert hook_counts(model) == hooks
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(model[3].weight.grad, torch.full_like(model[3].weight, 2.0))
    assert model[0].weight.grad is None and frozen.grad is None
    assert frozen.requires_grad is False
    assert report.layers[-1].grad_rms is not None  # the frozen head still gets its gradient


def test_in_place_relu_after_a_convolution():
    model = conv_net()
    report = diagnose(model, torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0)))
    names = [s.name for s in report.layers]
    assert names == ["0", "1", "2", "3", "6"]
    norm, relu = report.layers[1], report.layers[2]
    # The norm's row was read before the ReLU overwrote its output in place.
    assert abs(norm.mean) < 1e-4 and abs(norm.channel_var - 1) < 1e-2
    assert relu.mean > 0.3 and sum(relu.histogram[0][:30]) == 0
    assert relu.grad_rms != norm.grad_rms
    assert all(s.grad_rms is not None and math.isfinite(s.grad_rms) for s in report.layers)


class Twice(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(16, 16)
        self.act = nn.GELU()

    def forward(self, x):
        return self.fc(self.act(self.fc(x)))


def test_a_module_called_twice_gets_two_rows():
    report = diagnose(Twice())
    assert [s.name for s in report.layers] == ["fc", "act", "fc#2"]
    assert all(s.grad_rms is not None for s in report.layers)


def test_statistics_agree_with_summarize():
    model = conv_net()
    seen = {}

    def keep(name):
        def hook(module, args, output):
            seen[name] = output.detach().clone().numpy()

        return hook

    handles = [model[0].register_forward_hook(keep("0")), model[6].register_forward_hook(keep("6"))]
    try:
        report = diagnose(model, torch.randn(4, 3, 16, 16) * 3 + 1, bins=20)
    finally:
        for handle in handles:
            handle.remove()
    rows = {s.name: s for s in report.layers}
    for name, axis in (("0", 1), ("6", -1)):
        expected = summarize(seen[name], channel_axis=axis, kind=rows[name].kind, bins=20)
        row = rows[name]
        for key in ("mean", "std", "channel_sq_mean", "channel_var", "max_abs"):
            assert getattr(row, key) == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key
        assert (row.dead, row.saturated, row.nonfinite) == (
            expected["dead"],
            expected["saturated"],
            expected["nonfinite"],
        )
        counts, edges = row.histogram
        assert edges == expected["histogram"][1]
        # Values within float32 rounding of an edge may fall on its other side.
        assert sum(abs(a - b) for a, b in zip(counts, expected["histogram"][0], strict=True)) <= 4


def test_non_finite_values_are_counted_and_read_as_zeros():
    x = torch.randn(32, 4)
    x[0, 0] = float("inf")
    x[1, 1] = float("nan")
    model = nn.Sequential(nn.Identity(), nn.Tanh())
    report = diagnose(model, x)
    row = report.layers[0]
    expected = summarize(torch.tanh(x).numpy(), kind="Tanh")
    assert row.nonfinite == expected["nonfinite"] == 1
    assert row.mean == pytest.approx(expected["mean"], abs=1e-6)


def test_report_is_json_safe_and_reproducible():
    model = gpt2(2)
    first = diagnose(model, seed=3).to_dict()
    json.dumps(first, allow_nan=False)
    assert diagnose(model, seed=3).to_dict() == first
    assert diagnose(model, seed=4).to_dict() != first


def test_synthetic_batch_for_an_embedding_first_model():
    model = nn.Sequential(nn.Embedding(50, 16), nn.Linear(16, 50))
    report = diagnose(model)
    assert "synthetic tokens in [0, 50)" in report.batch and "(4, 128) int64" in report.batch
    # (N, T, V) logits on their tokens: next-token cross-entropy over 50 classes.
    assert report.output.classes == 50


def test_synthetic_batch_for_a_conv_first_model():
    model = nn.Sequential(nn.Conv2d(2, 4, 7, stride=8), nn.ReLU())
    report = diagnose(model)
    assert "(8, 2, 224, 224) float32" in report.batch
    # Feature maps are no logits: the loss is their mean square.
    assert report.output.classes is None
    x = torch.randn((8, 2, 224, 224), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = float(model(x).pow(2).mean())
    assert report.output.loss == pytest.approx(expected, rel=1e-5)


def test_a_user_loss_and_a_scheme():
    model = classifier()
    x = torch.randn(16, 32)
    report = diagnose(
        model,
        (x,),
        loss=lambda out, batch: out.abs().mean(),
        scheme="recommended",
        activation="relu",
    )
    assert report.output.classes is None
    with torch.no_grad():
        expected = float(model(x).abs().mean())
    assert report.output.loss == pytest.approx(expected, rel=1e-5)
    assert report.audit is not None and report.audit.ok


def test_bad_arguments():
    model = classifier()
    with pytest.raises(ValueError, match="bins must be a positive int; got 0"):
        diagnose(model, bins=0)
    with pytest.raises(TypeError, match=r"batch must be None .* got str"):
        diagnose(model, "tokens")
    with pytest.raises(TypeError, match="loss must be a callable"):
        diagnose(model, loss="mse")
    with pytest.raises(TypeError, match=r"LayerNorm first.*pass batch="):
        diagnose(nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 2)))


def test_the_docs_figure_script_runs_small(tmp_path: Path) -> None:

    pytest.importorskip("matplotlib")
    script = Path(__file__).resolve().parent.parent / "docs" / "make_diagnose_figures.py"
    result = subprocess.run(
        [sys.executable, str(script), "--small", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["signal_gpt.png", "signal_resnet.png"]
    assert "SkipInit: block 1" in result.stdout


def test_a_relus_zeros_fall_in_the_bin_numpy_puts_them_in():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU())
    seen = {}
    handle = model[1].register_forward_hook(lambda m, a, out: seen.update(x=out.detach().numpy()))
    try:
        report = diagnose(model, torch.randn(128, 16), loss=lambda out, batch: out.pow(2).mean())
    finally:
        handle.remove()
    relu = next(s for s in report.layers if s.name == "1")
    expected = summarize(seen["x"], kind="ReLU")
    zeros = int((seen["x"] == 0).sum())
    assert zeros > 1000
    assert relu.histogram[0][30] == expected["histogram"][0][30] >= zeros  # [0, edge): zeros
    assert relu.histogram[0][29] == expected["histogram"][0][29] == 0  # nothing is negative


def test_a_tied_head_over_a_unit_table_is_named():
    model = gpt2(2)
    with torch.no_grad():
        model.transformer.wte.weight.normal_(0.0, 1.0, generator=torch.Generator().manual_seed(0))
    report = diagnose(model)
    tied = [v for v in report.verdicts if v.problem == "tied head with a huge logit scale"]
    assert [v.layer for v in tied] == ["lm_head"]
    assert "transformer.wte" in tied[0].cause
    initialize_(model, seed=0)  # recommended: the tied table N(0, 1/d)
    assert not [v for v in diagnose(model).verdicts if v.problem.startswith("tied head")]


def test_a_base_model_is_scored_by_its_mean_square():
    # Hidden states (N, T, 64) over tokens up to 255: not logits.
    report = diagnose(transformers.GPT2Model(gpt2(2).config))
    assert report.output.classes is None and report.output.loss is not None


def test_transformers_hooks_are_not_left_behind():
    model = gpt2(2)
    before = hook_counts(model)
    first = diagnose(model)
    assert hook_counts(model) == before
    again = diagnose(model)
    entropies = [s.attention_entropy for s in again.layers if s.attention_entropy is not None]
    assert len(entropies) == 2 and entropies == [
        s.attention_entropy for s in first.layers if s.attention_entropy is not None
    ]
