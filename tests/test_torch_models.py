"""weightinit.torch on real transformers models, built normally and on the meta device.

Small configurations of GPT-2, BERT, Llama, Qwen2, T5 and ViT (nothing is downloaded) are
filled by ``initialize_`` with no rules, then checked against the plan: nothing is left on
the meta device, the values equal ``weightinit.initialize(plan, seed)`` byte for byte, the
empirical spread of every large parameter is its planned spread, buffers equal those of a
normally built model, padding rows are zero and a forward pass is finite. Then GPT-2's tie,
first loss and ``Conv1D`` fans, rules (misspelt, tied aliases, ``"keep"``), partly-meta
models, every error path (the model must be left exactly as it was), and the weight- and
spectral-norm parametrisations and PReLU.

Statistical tolerances are derived, not tuned: for ``n`` independent draws of a zero-mean
law with kurtosis ``k``, the root mean square has a relative standard error of
``sqrt((k - 1) / (4 n))`` (normal approximation; delta method on the mean square), and a
bound of ``Z`` of those (``P(|N(0, 1)| > Z) < 1e-8``) is what a correct library could exceed
with probability below 1e-8 per check. Every parameter whose spread is checked has enough
values for twice that bound to stay within 5%, so a spread 5% off is caught with odds of
missing it below 1e-8 too (the configurations are sized for this: position tables of 256
rows, grouped k/v projections of 64x256). Seeds are fixed: every run draws the same values.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import weightinit as wi
from weightinit.distributions import ConstantDistribution
from weightinit.distributions import NormalDistribution
from weightinit.distributions import TruncatedNormalDistribution
from weightinit.distributions import UniformDistribution

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
nn = torch.nn

from torch.nn.utils.parametrizations import spectral_norm  # noqa: E402
from torch.nn.utils.parametrizations import weight_norm  # noqa: E402
from transformers.pytorch_utils import Conv1D  # noqa: E402

from weightinit.torch import Rule  # noqa: E402
from weightinit.torch import initialize_  # noqa: E402
from weightinit.torch import plan  # noqa: E402

SEED = 20240917

#: A two-sided normal bound with tail odds below 1e-8: P(|N(0, 1)| > 5.75) = 8.9e-9
#: (math.erfc(5.75 / math.sqrt(2))). The often quoted 4.3 is only 1.7e-5.
Z = 5.75

#: Parameters with at least this many values get their spread checked.
LARGE = 4096

#: A relative error of a spread that the checks must catch.
CATCH = 0.05

#: Kurtosis of each element-wise law (the truncated normal's is below the normal's 3, so 3
#: bounds it).
KURTOSIS = {NormalDistribution: 3.0, UniformDistribution: 1.8, TruncatedNormalDistribution: 3.0}


# --------------------------------------------------------------------------- the models

VOCAB = 1000
WIDTH = 128
POSITIONS = 256


def _gpt2(**overrides):
    config = {
        "n_layer": 2,
        "n_embd": WIDTH,
        "n_head": 4,
        "vocab_size": VOCAB,
        "n_positions": POSITIONS,
        "bos_token_id": 0,
        "eos_token_id": 0,
    }
    return transformers.GPT2LMHeadModel(transformers.GPT2Config(**{**config, **overrides}))


def _bert():
    config = transformers.BertConfig(
        num_hidden_layers=2,
        hidden_size=WIDTH,
        num_attention_heads=4,
        intermediate_size=256,
        vocab_size=VOCAB,
        max_position_embeddings=POSITIONS,
    )
    return transformers.BertModel(config)


#: Llama and Qwen2: 8 heads of 32 sharing 2 key/value heads (k and v projections 64x256).
_DECODER = {
    "num_hidden_layers": 2,
    "hidden_size": 256,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "intermediate_size": 512,
    "vocab_size": VOCAB,
    "max_position_embeddings": 64,
    "bos_token_id": 1,
    "eos_token_id": 2,
}


def _llama():
    # Llama 3's rope scaling makes inv_freq differ from the plain rope's, so the meta build's
    # recomputed rotary buffers are checked against a non-trivial value; pad_token_id gives
    # the token embedding a padding row (row 3, not row 0).
    rope = {
        "rope_type": "llama3",
        "factor": 8.0,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
        "original_max_position_embeddings": 32,
    }
    config = transformers.LlamaConfig(**_DECODER, pad_token_id=3, rope_scaling=rope)
    return transformers.LlamaForCausalLM(config)


def _qwen2():
    return transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**_DECODER))


def _t5():
    config = transformers.T5Config(
        num_layers=2,
        num_decoder_layers=2,
        d_model=WIDTH,
        d_kv=32,
        num_heads=4,
        d_ff=256,
        vocab_size=VOCAB,
    )
    return transformers.T5ForConditionalGeneration(config)


def _vit():
    # 128x128 images in 8x8 patches: a 257x128 position table.
    config = transformers.ViTConfig(
        num_hidden_layers=2,
        hidden_size=WIDTH,
        num_attention_heads=4,
        intermediate_size=256,
        image_size=128,
        patch_size=8,
    )
    return transformers.ViTModel(config)


def _tokens(batch: int = 2, length: int = 16, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, VOCAB, (batch, length), generator=generator)


def _forward(name: str, model):
    """The model's main output on a small random input."""
    model.eval()
    with torch.no_grad():
        if name == "vit":
            generator = torch.Generator().manual_seed(0)
            pixels = torch.randn(2, 3, 128, 128, generator=generator)
            return model(pixel_values=pixels).last_hidden_state
        if name == "bert":
            return model(input_ids=_tokens()).last_hidden_state
        if name == "t5":
            ids = _tokens()
            return model(input_ids=ids, decoder_input_ids=ids[:, :8]).logits
        return model(input_ids=_tokens()).logits


MODELS = {"gpt2": _gpt2, "bert": _bert, "llama": _llama, "qwen2": _qwen2, "t5": _t5, "vit": _vit}


def _build(make, device: str):
    with torch.device(device):
        return make()


# --------------------------------------------------------------------------- helpers


def _meta_tensors(model) -> list[str]:
    return [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]


def _padding_rows(model, result) -> dict[str, int]:
    """Plan name -> padding row of every Embedding with a padding_idx."""
    by_tensor = {id(model.get_parameter(name)): name for name in result}
    rows = {}
    for module in model.modules():
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            name = by_tensor.get(id(module.weight))
            if name is not None:
                rows[name] = module.padding_idx % module.weight.shape[0]
    return rows


def _without_row(values: np.ndarray, row: int | None) -> np.ndarray:
    return values if row is None else np.delete(values, row, axis=0)


def _spread_tolerance(p, n: int) -> float:
    """The relative error of an n-value RMS that a correct draw exceeds with odds < 1e-8."""
    recipe = p.initializer.recipe(p.shape, layout=p.layout, groups=p.groups, blocks=p.blocks)
    kurtosis = KURTOSIS[type(recipe)]
    return Z * math.sqrt((kurtosis - 1) / (4 * n))


def _check_spread(name: str, p, values: np.ndarray) -> None:
    """Values of an element-wise planned parameter: zero-mean with the planned spread (the
    RMS about the planned mean), or exactly the planned constant."""
    recipe = p.initializer.recipe(p.shape, layout=p.layout, groups=p.groups, blocks=p.blocks)
    if isinstance(recipe, ConstantDistribution):
        assert np.all(values == np.float32(recipe.mean())), f"{name} is not constant"
        return
    planned = math.sqrt(
        p.initializer.variance(p.shape, layout=p.layout, groups=p.groups, blocks=p.blocks)
    )
    tolerance = _spread_tolerance(p, values.size)
    assert 2 * tolerance <= CATCH, f"{name}: too few values ({values.size}) to catch 5% off"
    centred = values.astype(np.float64) - recipe.mean()
    rms = math.sqrt(float(np.mean(centred * centred)))
    assert abs(rms / planned - 1) < tolerance, (name, rms, planned, tolerance)


def _snapshot(model) -> dict:
    """Every parameter and buffer (under every name): the tensor object, its device, dtype,
    shape, requires_grad, whether it is on meta, and a copy of its values if it has any."""
    state = {}
    named = (
        ("parameter", model.named_parameters(remove_duplicate=False)),
        ("buffer", model.named_buffers(remove_duplicate=False)),
    )
    for kind, items in named:
        for name, t in items:
            facts = (t.device, t.dtype, tuple(t.shape), t.requires_grad, t.is_meta)
            state[kind, name] = (t, facts, None if t.is_meta else t.detach().clone())
    return state


def _assert_unchanged(model, before: dict) -> None:
    after = _snapshot(model)
    assert after.keys() == before.keys()
    for key, (tensor, facts, values) in before.items():
        now, now_facts, now_values = after[key]
        assert now is tensor, f"{key} was replaced"
        assert now_facts == facts, key
        if values is not None:
            assert torch.equal(now_values, values), f"{key} changed"


# --------------------------------------------------------------------------- every model


@pytest.mark.parametrize("device", ["cpu", "meta"])
@pytest.mark.parametrize("name", list(MODELS))
def test_models_are_filled_as_planned(name: str, device: str) -> None:
    """initialize_ with no rules on each model, built normally or on meta: nothing left on
    meta, every value equal to weightinit.initialize(plan, seed) (padding rows aside, which
    are zero), each large parameter's spread its planned one, constants exact, buffers those
    of a normally built model, and a finite forward pass."""
    model = _build(MODELS[name], device)
    reference = MODELS[name]()  # built normally: the buffers a model should have
    result = initialize_(model, SEED)

    assert _meta_tensors(model) == []
    assert list(result) == [n for n, _ in model.named_parameters()]

    buffers = dict(model.named_buffers())
    expected_buffers = dict(reference.named_buffers())
    assert buffers.keys() == expected_buffers.keys()
    for key, buffer in buffers.items():
        assert buffer.dtype == expected_buffers[key].dtype, key
        assert torch.equal(buffer, expected_buffers[key]), key

    padding = _padding_rows(model, result)
    if name in ("bert", "llama"):  # BERT's pad_token_id is 0, this Llama's 3
        assert padding, "the padding check would be vacuous"
    values = wi.initialize(result, SEED)
    for key, p in result.items():
        actual = model.get_parameter(key).detach().numpy()
        row = padding.get(key)
        if row is not None:
            assert np.all(actual[row] == 0), f"{key}: padding row {row} is not zero"
        assert np.array_equal(_without_row(actual, row), _without_row(values[key], row)), key
        recipe = p.initializer.recipe(p.shape, layout=p.layout, groups=p.groups, blocks=p.blocks)
        if actual.size >= LARGE or isinstance(recipe, ConstantDistribution):
            _check_spread(key, p, _without_row(actual, row))

    output = _forward(name, model)
    assert torch.isfinite(output).all()


def _glorot(fan_in: int, fan_out: int) -> float:
    return math.sqrt(2 / (fan_in + fan_out))


#: Model -> parameter -> (initializer, its standard deviation or constant value, layout,
#: blocks), worked out by hand from the recommended scheme (glorot_uniform with the true
#: fans, fused q/k/v per block, Conv1D read (in, out), a tied embedding N(0, 1/d), an untied
#: one N(0, 1), position tables and class tokens N(0, 0.02^2), norms 1 and 0, biases 0), so
#: that a wrong plan cannot pass by agreeing with itself.
EXPECTED = {
    "gpt2": {
        "transformer.wte.weight": ("normal", 1 / math.sqrt(WIDTH), "in_out", 1),
        "transformer.wpe.weight": ("normal", 0.02, "in_out", 1),
        "transformer.h.0.attn.c_attn.weight": ("uniform", _glorot(WIDTH, WIDTH), "in_out", 3),
        "transformer.h.0.attn.c_attn.bias": ("constant", 0.0, "in_out", 1),
        "transformer.h.0.mlp.c_fc.weight": ("uniform", _glorot(WIDTH, 4 * WIDTH), "in_out", 1),
        "transformer.h.1.mlp.c_proj.weight": ("uniform", _glorot(4 * WIDTH, WIDTH), "in_out", 1),
        "transformer.h.0.ln_1.weight": ("constant", 1.0, "in_out", 1),
        "transformer.ln_f.bias": ("constant", 0.0, "in_out", 1),
    },
    "bert": {
        "embeddings.word_embeddings.weight": ("normal", 1.0, "in_out", 1),
        "embeddings.position_embeddings.weight": ("normal", 0.02, "in_out", 1),
        "encoder.layer.0.attention.self.query.weight": (
            "uniform",
            _glorot(WIDTH, WIDTH),
            "out_in",
            1,
        ),
        "encoder.layer.1.intermediate.dense.weight": ("uniform", _glorot(WIDTH, 256), "out_in", 1),
        "encoder.layer.0.output.LayerNorm.weight": ("constant", 1.0, "in_out", 1),
    },
    "llama": {
        "model.embed_tokens.weight": ("normal", 1.0, "in_out", 1),
        "model.layers.0.self_attn.k_proj.weight": ("uniform", _glorot(256, 64), "out_in", 1),
        "model.layers.1.mlp.down_proj.weight": ("uniform", _glorot(512, 256), "out_in", 1),
        "lm_head.weight": ("uniform", _glorot(256, VOCAB), "out_in", 1),
        "model.norm.weight": ("constant", 1.0, "in_out", 1),
    },
    "qwen2": {
        "model.layers.0.self_attn.v_proj.weight": ("uniform", _glorot(256, 64), "out_in", 1),
        "model.layers.0.self_attn.q_proj.bias": ("constant", 0.0, "in_out", 1),
    },
    "t5": {
        "shared.weight": ("normal", 1 / math.sqrt(WIDTH), "in_out", 1),
        "decoder.block.1.layer.1.EncDecAttention.k.weight": (
            "uniform",
            _glorot(WIDTH, WIDTH),
            "out_in",
            1,
        ),
        "encoder.block.0.layer.1.DenseReluDense.wi.weight": (
            "uniform",
            _glorot(WIDTH, 256),
            "out_in",
            1,
        ),
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight": (
            "normal",
            0.02,
            "in_out",
            1,
        ),
    },
    "vit": {
        "embeddings.cls_token": ("normal", 0.02, "in_out", 1),
        "embeddings.position_embeddings": ("normal", 0.02, "in_out", 1),
        # A 128x3x8x8 kernel: fan_in 3 * 64, fan_out 128 * 64.
        "embeddings.patch_embeddings.projection.weight": (
            "uniform",
            _glorot(3 * 64, WIDTH * 64),
            "out_in",
            1,
        ),
    },
}


@pytest.mark.parametrize("name", list(MODELS))
def test_the_recommended_scheme_gives_the_spreads_worked_out_by_hand(name: str) -> None:
    """Each listed parameter's law, layout, blocks and standard deviation (or constant) in the
    plan are the hand-computed ones, and so are its values' (spread checked if large)."""
    model = _build(MODELS[name], "meta")
    result = initialize_(model, SEED)
    for key, (law, spread, layout, blocks) in EXPECTED[name].items():
        p = result[key]
        assert (p.layout, p.blocks) == (layout, blocks), key
        recipe = p.initializer.recipe(p.shape, layout=p.layout, groups=p.groups, blocks=p.blocks)
        laws = {
            "normal": NormalDistribution,
            "uniform": UniformDistribution,
            "constant": ConstantDistribution,
        }
        assert isinstance(recipe, laws[law]), (key, recipe)
        values = model.get_parameter(key).detach().numpy()
        if law == "constant":
            assert np.all(values == np.float32(spread)), key
            continue
        assert math.isclose(math.sqrt(recipe.variance()), spread, rel_tol=1e-12), key
        if values.size >= LARGE:
            _check_spread(key, p, values)


def test_values_are_drawn_with_the_parameters_name_as_key() -> None:
    """Parameter ``name`` is ``initializer(shape, seed=Key.from_seed(seed).fold_in(name))``,
    checked for a fused Conv1D, a tied embedding and a position table of GPT-2."""
    model = _build(_gpt2, "meta")
    result = initialize_(model, SEED)
    for name in (
        "transformer.h.1.attn.c_attn.weight",
        "transformer.wte.weight",
        "transformer.wpe.weight",
    ):
        p = result[name]
        key = wi.Key.from_seed(SEED).fold_in(name)
        alone = p.initializer(p.shape, seed=key, layout=p.layout, groups=p.groups, blocks=p.blocks)
        assert np.array_equal(model.get_parameter(name).detach().numpy(), alone), name


@pytest.mark.parametrize("name", list(MODELS))
def test_meta_and_normal_builds_get_the_same_plan_and_values(name: str) -> None:
    """Where a tensor was (meta or CPU) changes neither the plan nor a single value."""
    normal = MODELS[name]()
    meta = _build(MODELS[name], "meta")
    normal_plan = initialize_(normal, SEED)
    meta_plan = initialize_(meta, SEED)
    assert dict(normal_plan) == dict(meta_plan)
    assert normal_plan.ties == meta_plan.ties
    for key, parameter in normal.named_parameters():
        assert torch.equal(parameter, meta.get_parameter(key)), key


# --------------------------------------------------------------------------- GPT-2


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_gpt2_tied_embedding_is_planned_once_at_one_over_sqrt_width(device: str) -> None:
    """wte is lm_head's weight: one plan entry, marked tied, drawn N(0, 1/d), still tied."""
    model = _build(_gpt2, device)
    result = initialize_(model, SEED)
    assert result.ties == {"transformer.wte.weight": ("lm_head.weight",)}
    assert "lm_head.weight" not in result
    assert model.lm_head.weight is model.transformer.wte.weight
    p = result["transformer.wte.weight"]
    assert p.initializer == wi.normal(1 / math.sqrt(WIDTH))
    assert math.isclose(math.sqrt(p.initializer.variance(p.shape)), 1 / math.sqrt(WIDTH))
    _check_spread("transformer.wte.weight", p, model.transformer.wte.weight.detach().numpy())
    row = next(line for line in str(result).splitlines() if line.startswith("transformer.wte."))
    assert row.split()[-1] == "lm_head.weight"


def _first_loss(model, seed: int) -> float:
    model.eval()
    ids = _tokens(batch=8, length=64, seed=seed)
    with torch.no_grad():
        return float(model(input_ids=ids, labels=ids).loss)


def test_gpt2_first_loss_is_near_log_vocab_and_far_below_the_pytorch_schemes() -> None:
    """With the tied embedding N(0, 1/d), the logits after the unit-variance final norm have a
    spread of about 1, so the loss on random tokens is about ln V + 1/2 (at least ln V, by
    Jensen, as the targets are independent of the logits): within ln V + [0, 1.5]. The
    pytorch scheme's N(0, 1) tied embedding gives logits of spread about sqrt(d) (~11) and a
    loss tens of nats above ln V (about 80 here)."""
    recommended = _gpt2()
    initialize_(recommended, SEED)
    loss = _first_loss(recommended, 1)
    assert math.log(VOCAB) <= loss <= math.log(VOCAB) + 1.5

    pytorch = _gpt2()
    result = initialize_(pytorch, SEED, scheme="pytorch")
    assert result["transformer.wte.weight"].initializer.variance((VOCAB, WIDTH)) == 1.0
    assert _first_loss(pytorch, 1) > math.log(VOCAB) + 20


def test_gpt2_conv1d_weights_are_read_in_out() -> None:
    """Conv1D stores its weight (in, out): a LeCun rule on it must give Var(out) = Var(in).

    Each Conv1D gets its own N(0, 1) input of shape (batch * seq, in) = (4096, in), the
    biases are the scheme's zeros (the class rule cannot fill them), and forward hooks
    record what goes in and out. Reading the layout as (out, in) would give ratios of 1/3
    (c_attn), 1/4 (c_fc) and 4 (mlp.c_proj).

    Tolerance, relative standard errors of the ratio mean(out^2) / mean(in^2): the weights'
    own draw, sqrt(2 / (in * out)) (normal, kurtosis 3), plus the rows' sampling,
    sqrt(2 ||W^T W||_F^2 / (rows ||W||_F^4)) for the numerator and sqrt(2 / (rows * in))
    for the denominator (their positive covariance, left out, only narrows the truth); Z of
    those. The widths (384) are chosen so that this bound is below 3% for every layer.
    """
    model = _gpt2(n_layer=1, n_embd=384, n_head=6, vocab_size=64, n_positions=16)
    result = initialize_(model, SEED, rules={Conv1D: "lecun_normal"})
    layers = {n: m for n, m in model.named_modules() if isinstance(m, Conv1D)}
    assert len(layers) == 4
    records = {}

    def hook(module, inputs, output):
        records[module] = (inputs[0].detach(), output.detach())

    handles = [m.register_forward_hook(hook) for m in layers.values()]
    rows = 4096
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, module in layers.items():
            assert result[f"{name}.weight"].initializer == wi.lecun_normal()
            assert result[f"{name}.weight"].layout == "in_out"
            assert torch.equal(module.bias, torch.zeros_like(module.bias))
            fan_in = module.weight.shape[0]
            module(torch.randn(rows, fan_in, generator=generator))
    for handle in handles:
        handle.remove()
    for name, module in layers.items():
        x, y = records[module]
        w = module.weight.detach().double()
        fan_in, fan_out = w.shape
        ratio = float(y.double().square().mean() / x.double().square().mean())
        gram = float(torch.linalg.matrix_norm(w.T @ w) ** 2)
        frobenius4 = float(w.square().sum() ** 2)
        relative_variance = 2 / (fan_in * fan_out) + 2 * gram / (rows * frobenius4)
        relative_variance += 2 / (rows * fan_in)
        tolerance = Z * math.sqrt(relative_variance)
        assert tolerance < 0.03, (name, tolerance)
        assert abs(ratio - 1) < tolerance, (name, ratio, tolerance)


def test_a_misspelt_rule_names_the_closest_parameters() -> None:
    """A rule matching nothing is an error naming the closest parameter names."""
    model = _gpt2()
    pattern = "transformer.h.*.atn.c_proj.weight"
    with pytest.raises(ValueError, match=r"matches no parameter; the closest names are") as info:
        initialize_(model, SEED, rules={pattern: "zeros"})
    message = str(info.value)
    assert f"rule {pattern!r}" in message
    assert "'transformer.h.0.attn.c_proj.weight'" in message
    assert "'transformer.h.1.attn.c_proj.weight'" in message


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_a_rule_on_the_tied_alias_sets_the_tied_parameter(device: str) -> None:
    """A rule naming lm_head.weight (the alias) applies to transformer.wte.weight."""
    model = _build(_gpt2, device)
    result = initialize_(model, SEED, rules={"lm_head.weight": wi.normal(0.5)})
    p = result["transformer.wte.weight"]
    assert p.initializer == wi.normal(0.5)
    assert "lm_head.weight" not in result
    assert model.lm_head.weight is model.transformer.wte.weight
    _check_spread("transformer.wte.weight", p, model.lm_head.weight.detach().numpy())


def test_keep_leaves_the_values_of_a_normally_built_model() -> None:
    """The "keep" rule (on a name, or on a tied alias) leaves those values; the rest is drawn."""
    model = _gpt2()
    wpe = model.transformer.wpe.weight.detach().clone()
    wte = model.transformer.wte.weight.detach().clone()
    c_fc = model.transformer.h[0].mlp.c_fc.weight.detach().clone()
    result = initialize_(
        model, SEED, rules={"transformer.wpe.weight": "keep", "lm_head.weight": "keep"}
    )
    assert sorted(result.kept) == ["transformer.wpe.weight", "transformer.wte.weight"]
    assert "transformer.wpe.weight" not in result and "transformer.wte.weight" not in result
    assert torch.equal(model.transformer.wpe.weight, wpe)
    assert torch.equal(model.transformer.wte.weight, wte)
    drawn = wi.initialize(result, SEED)["transformer.h.0.mlp.c_fc.weight"]
    assert np.array_equal(model.transformer.h[0].mlp.c_fc.weight.detach().numpy(), drawn)
    assert not torch.equal(model.transformer.h[0].mlp.c_fc.weight, c_fc)


def test_keep_is_refused_on_meta() -> None:
    """A meta parameter has no value to keep: a ValueError, the model untouched."""
    model = _build(_gpt2, "meta")
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"rule 'keep' for 'transformer\.wpe\.weight'"):
        initialize_(model, SEED, rules={"transformer.wpe.weight": "keep"})
    _assert_unchanged(model, before)


# --------------------------------------------------------------------------- partly meta


def _partly_meta_net():
    return nn.Sequential(
        nn.Linear(8, 16),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Sequential(nn.Linear(16, 16), nn.BatchNorm1d(16)),
    )


def test_a_partly_meta_model_keeps_its_real_buffers_and_parameter_objects() -> None:
    """Only the meta submodule is materialised (its running stats 0 and 1); the CPU batch
    norm keeps running_mean 5, running_var 3 and 7 batches; the CPU parameters are filled in
    place (same objects); every value equals that of the same network built on the CPU."""
    model = _partly_meta_net()
    real = model[1]
    real.running_mean.fill_(5.0)
    real.running_var.fill_(3.0)
    real.num_batches_tracked.fill_(7)
    first_weight = model[0].weight
    model[3].to("meta")
    assert _meta_tensors(model)

    result = initialize_(model, SEED, activation="relu")

    assert _meta_tensors(model) == []
    assert {n: b.action for n, b in result.buffers.items()} == {
        "1.running_mean": "keep",
        "1.running_var": "keep",
        "1.num_batches_tracked": "keep",
        "3.1.running_mean": "recompute",
        "3.1.running_var": "recompute",
        "3.1.num_batches_tracked": "recompute",
    }
    assert torch.equal(real.running_mean, torch.full((16,), 5.0))
    assert torch.equal(real.running_var, torch.full((16,), 3.0))
    assert int(real.num_batches_tracked) == 7
    assert torch.equal(model[3][1].running_mean, torch.zeros(16))
    assert torch.equal(model[3][1].running_var, torch.ones(16))
    assert int(model[3][1].num_batches_tracked) == 0
    assert model[0].weight is first_weight

    everywhere = _partly_meta_net()
    initialize_(everywhere, SEED, activation="relu")
    for name, parameter in everywhere.named_parameters():
        assert torch.equal(model.get_parameter(name), parameter), name
    model.eval()
    assert torch.isfinite(model(torch.randn(4, 8))).all()


def test_partly_meta_bert_keeps_real_buffers_and_recomputes_meta_ones() -> None:
    """BERT with one encoder layer on meta keeps its (changed) position and token type ids;
    with its embeddings on meta, those buffers are made again as a normal build has them."""
    model = _bert()
    reversed_positions = model.embeddings.position_ids.flip(-1).clone()
    model.embeddings.position_ids.copy_(reversed_positions)
    model.embeddings.token_type_ids.fill_(1)
    model.encoder.layer[0].to("meta")
    result = initialize_(model, SEED)
    assert _meta_tensors(model) == []
    assert result.buffers["embeddings.position_ids"].action == "keep"
    assert torch.equal(model.embeddings.position_ids, reversed_positions)
    assert torch.equal(model.embeddings.token_type_ids, torch.ones_like(reversed_positions))
    assert torch.isfinite(_forward("bert", model)).all()

    model = _bert()
    reference = _bert()
    model.embeddings.to("meta")
    result = initialize_(model, SEED)
    assert _meta_tensors(model) == []
    assert result.buffers["embeddings.position_ids"].action == "recompute"
    for name in ("position_ids", "token_type_ids"):
        buffer = model.embeddings.get_buffer(name)
        assert torch.equal(buffer, reference.embeddings.get_buffer(name)), name
    assert torch.equal(model.embeddings.word_embeddings.weight[0], torch.zeros(WIDTH))


# --------------------------------------------------------------------------- error paths


class _Scale(nn.Module):
    """A module type weightinit.torch cannot know."""

    def __init__(self) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(16, 8))


class _Net(nn.Module):
    def __init__(self, *, unknown: bool = False, table: bool = False) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 16, padding_idx=1)
        self.fc = nn.Linear(16, 8)
        self.norm = nn.BatchNorm1d(8)
        if table:  # a buffer that is no function of the configuration
            self.register_buffer("table", torch.arange(4.0))
        if unknown:
            self.scale = _Scale()


BOTH = ("cpu", "meta")

#: Cases that plan() does not reject although initialize_ does (none: plan() rejects
#: exactly what initialize_ rejects).
_PLAN_MARKS: dict[str, tuple[Any, ...]] = {}

#: (id, model, initialize_ arguments, message fragment, devices, marks by device)
ERRORS = [
    (
        "unknown-module-type",
        lambda: _Net(unknown=True),
        {},
        r"parameters 'scale\.alpha' belong to a _Scale, a module type weightinit\.torch does "
        r"not know; give it a rule: rules=\{_Scale: \{'alpha': weightinit\.torch\.Rule\(",
        BOTH,
        {},
    ),
    (
        "misspelt-rule",
        _Net,
        {"rules": {"fc.wieght": "zeros"}},
        r"rule 'fc\.wieght' matches no parameter; the closest names are 'fc\.weight'",
        BOTH,
        {},
    ),
    (
        "misspelt-rule-gpt2",
        _gpt2,
        {"rules": {"transformer.h.*.atn.c_proj.weight": "zeros"}},
        r"the closest names are 'transformer\.h\.\d\.attn\.c_proj\.weight'",
        BOTH,
        {},
    ),
    (
        "keep-on-meta",
        _Net,
        {"rules": {"fc.weight": "keep"}},
        r"rule 'keep' for 'fc\.weight': the parameter is on the meta device",
        ("meta",),
        {},
    ),
    (
        "unknown-meta-buffer",
        lambda: _Net(table=True),
        {},
        r"buffer 'table' of a _Net is on the meta device and is not a function of the "
        r"configuration",
        ("meta",),
        {},
    ),
    (
        "param-rule-with-the-wrong-shape",
        _Net,
        {"rules": {"fc.weight": wi.Param(wi.zeros(), (16, 8))}},
        r"the rule for 'fc\.weight' gives shape \(16, 8\); the parameter has \(8, 16\)",
        BOTH,
        {},
    ),
    (
        "bad-buffers-name",
        _Net,
        {"buffers": {"norm.running_maen": torch.zeros(8)}},
        r"buffers=\{'norm\.running_maen': \.\.\.\} names no buffer; the closest are "
        r"'norm\.running_mean'",
        BOTH,
        {},
    ),
    (
        "buffers-value-with-the-wrong-shape",
        _Net,
        {"buffers": {"norm.running_mean": torch.zeros(5)}},
        r"buffers\['norm\.running_mean'\] has shape \(5,\); the buffer has \(8,\)",
        BOTH,
        {},
    ),
    (
        "bad-scheme-name",
        _Net,
        {"scheme": "recomended"},
        r"scheme must be one of 'recommended', 'pytorch', .*; got 'recomended'.*Did you mean "
        r"'recommended'",
        BOTH,
        {},
    ),
    (
        # A bias has no fans: a fan-scaled initializer cannot fill it.
        "fan-scaled-rule-for-a-bias",
        _Net,
        {"rules": {"fc.bias": "lecun_normal"}},
        r"the rule for 'fc\.bias': shape \(8,\) of rank 1 has no fans",
        BOTH,
        {},
    ),
]


@pytest.mark.parametrize(
    ("make", "arguments", "match", "device"),
    [
        pytest.param(
            make, arguments, match, device, id=f"{case}-{device}", marks=marks.get(device, ())
        )
        for case, make, arguments, match, devices, marks in ERRORS
        for device in devices
    ],
)
def test_errors_leave_the_model_exactly_as_it_was(make, arguments, match, device) -> None:
    """Each planning error is a ValueError (the exact type) with its message, raised before
    anything is touched: every parameter and buffer is the same object, on the same device,
    with the same dtype, shape and values (or still on meta)."""
    model = _build(make, device)
    before = _snapshot(model)
    with pytest.raises(ValueError, match=match) as info:
        initialize_(model, SEED, **arguments)
    assert type(info.value) is ValueError
    _assert_unchanged(model, before)


@pytest.mark.parametrize(
    ("make", "arguments", "match", "device"),
    [
        pytest.param(
            make,
            arguments,
            match,
            device,
            id=f"{case}-{device}",
            marks=marks.get(device, ()) + _PLAN_MARKS.get(case, ()),
        )
        for case, make, arguments, match, devices, marks in ERRORS
        for device in devices
    ],
)
def test_plan_rejects_what_initialize_rejects(make, arguments, match, device) -> None:
    """plan() is documented to reject exactly what initialize_ rejects, with the same
    message, so a plan can be checked (and printed) before a model is filled."""
    model = _build(make, device)
    with pytest.raises(ValueError, match=match) as info:
        plan(model, **arguments)
    assert type(info.value) is ValueError


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_a_class_rule_of_a_fan_scaled_initializer_leaves_biases_to_the_scheme(device) -> None:
    """{nn.Linear: "lecun_normal"} reaches the weights; the biases, which it cannot fill
    (no fans), are the scheme's zeros."""
    with torch.device(device):
        model = _Net()
    result = initialize_(model, SEED, rules={nn.Linear: "lecun_normal"})
    assert result["fc.weight"].initializer == wi.lecun_normal()
    assert result["fc.bias"].initializer == wi.zeros()
    assert torch.equal(model.fc.bias.detach(), torch.zeros(8))
    assert _meta_tensors(model) == []


def test_a_class_rule_of_a_fan_scaled_initializer_works_through_a_leaf_dict() -> None:
    """The working form of the rule above: {Conv1D: {"weight": ...}} leaves biases zero."""
    model = _build(_gpt2, "meta")
    result = initialize_(model, SEED, rules={Conv1D: {"weight": "lecun_normal"}})
    assert result["transformer.h.0.attn.c_attn.weight"].initializer == wi.lecun_normal()
    assert result["transformer.h.0.attn.c_attn.bias"].initializer == wi.zeros()


def test_every_problem_is_listed_in_one_error() -> None:
    """Five problems at once: one ValueError that lists them all, from plan() and
    initialize_() alike, and a meta model left on meta."""
    model = _build(lambda: _Net(unknown=True, table=True), "meta")
    before = _snapshot(model)
    arguments = {
        "rules": {"fc.wieght": "zeros", "emb.weight": "keep"},
        "buffers": {"norm.running_maen": torch.zeros(8)},
    }
    with pytest.raises(ValueError, match=r"cannot plan this _Net \(5 problems\)") as info:
        initialize_(model, SEED, **arguments)
    message = str(info.value)
    for fragment in (
        "parameters 'scale.alpha' belong to a _Scale",
        "rule 'fc.wieght' matches no parameter",
        "rule 'keep' for 'emb.weight'",
        "buffer 'table' of a _Net is on the meta device",
        "buffers={'norm.running_maen': ...} names no buffer",
    ):
        assert fragment in message, fragment
    _assert_unchanged(model, before)
    with pytest.raises(ValueError) as again:
        plan(model, **arguments)
    assert str(again.value) == message


def test_bert_for_masked_lm_needs_no_rule_for_its_shared_output_bias() -> None:
    """BertForMaskedLM's output bias is held by BertLMPredictionHead (a type the module table
    does not know) and shared into the decoder Linear: planned once, as that Linear's bias
    (zeros), like the word embeddings tied to the decoder's weight (N(0, 1/d))."""
    config = transformers.BertConfig(
        num_hidden_layers=1,
        hidden_size=WIDTH,
        num_attention_heads=4,
        intermediate_size=256,
        vocab_size=VOCAB,
        max_position_embeddings=64,
    )
    model = _build(lambda: transformers.BertForMaskedLM(config), "meta")
    result = initialize_(model, SEED)
    assert _meta_tensors(model) == []
    word = "bert.embeddings.word_embeddings.weight"
    assert result.ties == {
        word: ("cls.predictions.decoder.weight",),
        "cls.predictions.bias": ("cls.predictions.decoder.bias",),
    }
    assert result["cls.predictions.bias"].initializer == wi.zeros()
    assert torch.equal(model.cls.predictions.decoder.bias, torch.zeros(VOCAB))
    assert result[word].initializer == wi.normal(1 / math.sqrt(WIDTH))
    assert torch.equal(model.get_parameter(word)[0], torch.zeros(WIDTH))  # padding row 0


def test_unknown_module_parameters_are_grouped_by_type() -> None:
    """Two unknown types, three parameters: one problem per type, naming its parameters and
    suggesting a rule keyed by that type."""

    class _Gain(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.g = nn.Parameter(torch.ones(4))
            self.b = nn.Parameter(torch.zeros(4))

    model = nn.ModuleDict({"gain": _Gain(), "scale": _Scale(), "fc": nn.Linear(4, 4)})
    with pytest.raises(ValueError, match=r"\(2 problems\)") as info:
        plan(model)
    lines = str(info.value).splitlines()[1:]
    gain = next(line for line in lines if "_Gain" in line)
    assert "'gain.g', 'gain.b' belong to a _Gain" in gain
    assert "rules={_Gain: " in gain
    scale = next(line for line in lines if "_Scale" in line)
    assert "'scale.alpha' belong to a _Scale" in scale
    assert "rules={_Scale: " in scale


# --------------------------------------------------------------------------- parametrisations


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_weight_norm_layer_weight_equals_the_drawn_direction(device: str) -> None:
    """The magnitude is each row's norm of the direction, so the layer's weight g * v / |v|
    equals the drawn direction v up to float32 rounding (a few ulp: rtol 1e-6)."""
    with torch.device(device):
        layer = weight_norm(nn.Linear(64, 32))
    result = initialize_(layer, SEED)
    direction_name = "parametrizations.weight.original1"
    assert result.derived == {"parametrizations.weight.original0": direction_name}
    assert result[direction_name].initializer == wi.glorot_uniform()
    assert result[direction_name].layout == "out_in"
    assert _meta_tensors(layer) == []
    direction = layer.get_parameter(direction_name).detach()
    drawn = wi.initialize(result, SEED)[direction_name]
    assert np.array_equal(direction.numpy(), drawn)
    magnitude = layer.parametrizations.weight.original0.detach()
    torch.testing.assert_close(magnitude, direction.norm(dim=1, keepdim=True), rtol=1e-6, atol=0)
    torch.testing.assert_close(layer.weight.detach(), direction, rtol=1e-6, atol=0)


def _check_spectral_vectors(layer) -> None:
    """_u and _v are unit vectors at the end of a power iteration on the drawn weight (PyTorch's
    iteration ends with v = normalise(W^T u)), so the eval-mode weight W / (u^T W v) has a
    spectral norm of about 1: at least 1 (u^T W v = |W^T u| never exceeds the top singular
    value) and, after the 15 iterations PyTorch's constructor also runs, below 1.1."""
    norm = layer.parametrizations.weight[0]
    u, v = norm._u, norm._v
    assert _meta_tensors(layer) == []
    assert abs(float(u.norm()) - 1) < 1e-5
    assert abs(float(v.norm()) - 1) < 1e-5
    weight = layer.parametrizations.weight.original.detach()
    torch.testing.assert_close(v, nn.functional.normalize(weight.T @ u, dim=0), rtol=0, atol=1e-5)
    layer.eval()
    sigma = float(torch.linalg.matrix_norm(layer.weight.detach(), 2))
    assert 1 - 1e-4 <= sigma < 1.1, sigma


def test_spectral_norm_on_meta_gets_unit_power_iteration_vectors() -> None:
    """A spectral norm built on meta: _u and _v are made (planned "spectral"), as unit vectors
    of a power iteration on the drawn weight; nothing is left on meta."""
    with torch.device("meta"):
        layer = spectral_norm(nn.Linear(64, 32))
    result = initialize_(layer, SEED)
    actions = {n: b.action for n, b in result.buffers.items()}
    assert actions == {
        "parametrizations.weight.0._u": "spectral",
        "parametrizations.weight.0._v": "spectral",
    }
    _check_spectral_vectors(layer)
    assert torch.isfinite(layer(torch.randn(3, 64))).all()


def test_spectral_norm_built_normally_gets_vectors_of_the_new_weight() -> None:
    """Built normally, the layer ends as the meta build does: _u and _v follow the drawn
    weight (the constructor's vectors belonged to the weight initialize_ replaced)."""
    layer = spectral_norm(nn.Linear(64, 32))
    initialize_(layer, SEED)
    _check_spectral_vectors(layer)


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_prelu_starts_at_its_own_slope(device: str) -> None:
    """PReLU's weight is its init: 0.25 by default, or the slope it was built with (a real
    slope is first moved away, so that it has to be set again)."""
    with torch.device(device):
        model = nn.Sequential(nn.Linear(8, 8), nn.PReLU(), nn.PReLU(8, init=0.1))
    if device == "cpu":
        with torch.no_grad():
            model[1].weight.fill_(0.9)
            model[2].weight.fill_(0.9)
    initialize_(model, SEED)
    assert torch.equal(model[1].weight.detach(), torch.full((1,), 0.25))
    assert torch.equal(model[2].weight.detach(), torch.full((8,), 0.1))


def test_a_rule_class_overrides_the_layout_of_an_unknown_module() -> None:
    """Rule(init, layout=...) on an unknown module type: its fans are read in that layout."""
    model = _Net(unknown=True)
    result = initialize_(model, SEED, rules={_Scale: Rule(wi.lecun_normal(), layout="in_out")})
    p = result["scale.alpha"]
    assert (p.layout, p.weight.fans.fan_in) == ("in_out", 16)
    assert math.isclose(p.initializer.variance(p.shape, layout=p.layout), 1 / 16)
    drawn = wi.initialize(result, SEED)["scale.alpha"]
    assert np.array_equal(model.scale.alpha.detach().numpy(), drawn)


def _swin() -> Any:
    config = transformers.SwinConfig(
        image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 2], window_size=4
    )
    return transformers.SwinModel(config)


def _clip() -> Any:
    text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    text |= {"num_attention_heads": 2, "vocab_size": 100, "max_position_embeddings": 16}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1}
    vision |= {"num_attention_heads": 2, "image_size": 32, "patch_size": 8}
    return transformers.CLIPModel(
        transformers.CLIPConfig(text_config=text, vision_config=vision, logit_scale_init_value=2.5)
    )


@pytest.mark.parametrize("build", [_swin, _clip], ids=["swin", "clip"])
def test_buffers_of_a_whole_configuration_and_constants_of_the_config(build: Any) -> None:
    """Swin's relative position indices (computed in a module built from more than the
    config) come from the model built again with its parameters on meta; CLIP's class
    embedding is a token and its logit scale starts at the configured value, on meta too."""
    reference = build()
    with torch.device("meta"):
        model = build()
    result = initialize_(model, SEED)
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    buffers = dict(reference.named_buffers())
    assert buffers, "the model has buffers to recompute"
    for name, buffer in buffers.items():
        assert torch.equal(model.get_buffer(name), buffer), name
        assert result.buffers[name].action == "recompute", name
    if "logit_scale" in result:
        assert result["logit_scale"].initializer == wi.constant(2.5)
        assert float(model.logit_scale.detach()) == 2.5
        token = result["vision_model.embeddings.class_embedding"]
        assert token.initializer == wi.normal(0.02)


def _gemma(offset: bool) -> Any:
    size = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 4}
    size |= {"num_key_value_heads": 2, "num_hidden_layers": 1, "vocab_size": 256, "head_dim": 16}
    if offset:  # Gemma's RMSNorm multiplies by 1 + weight: its gain starts at 0
        return transformers.GemmaForCausalLM(transformers.GemmaConfig(**size))
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(**size))


@pytest.mark.parametrize("offset", [True, False], ids=["gemma", "llama"])
@pytest.mark.parametrize("device", BOTH)
def test_norm_gains_start_where_the_library_starts_them(offset: bool, device: str) -> None:
    """A norm that multiplies by 1 + gain starts at 0 and any other at 1, on meta too; the
    output of every norm equals that of a normally built model's norm."""
    reference = _gemma(offset)
    if device == "meta":
        with torch.device("meta"):
            model = _gemma(offset)
    else:
        model = _gemma(offset)
    result = initialize_(model, SEED)
    norms = [n for n in result if n.endswith("norm.weight")]
    assert norms
    for name in norms:
        assert torch.equal(model.get_parameter(name), reference.get_parameter(name)), name
        expected = wi.zeros() if offset else wi.ones()
        assert result[name].initializer == expected, name


def test_frozen_parameters_are_kept_and_refused_on_meta() -> None:
    """A frozen parameter (a fixed table) keeps the model's own values; on the meta device it
    has none, which is an error before anything is touched; a rule still reaches it."""

    def build() -> Any:
        model = nn.ModuleDict({"table": nn.Embedding(8, 4), "fc": nn.Linear(4, 4)})
        model["table"].weight.data = torch.arange(32.0).reshape(8, 4)
        model["table"].requires_grad_(False)
        return model

    model = build()
    result = initialize_(model, SEED)
    assert result.frozen == ["table.weight"] and "table.weight" not in result
    assert torch.equal(model["table"].weight, torch.arange(32.0).reshape(8, 4))
    assert "keep (frozen)" in str(result)
    with torch.device("meta"):
        empty = build()
    before = _snapshot(empty)
    with pytest.raises(ValueError, match=r"'table\.weight' is frozen \(requires_grad=False\)"):
        initialize_(empty, SEED)
    _assert_unchanged(empty, before)
    ruled = initialize_(empty, SEED, rules={"table.weight": wi.zeros()})
    assert ruled["table.weight"].initializer == wi.zeros()


def test_a_buffer_two_modules_hold_stays_one_buffer_on_meta() -> None:
    def build() -> Any:
        model = nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.Linear(2, 2)})
        mask = torch.ones(3)
        model["a"].register_buffer("mask", mask)
        model["b"].register_buffer("mask", mask)
        return model

    with torch.device("meta"):
        model = build()
    initialize_(model, SEED, buffers={"a.mask": torch.arange(3.0)})
    assert model["a"].mask is model["b"].mask
    assert torch.equal(model["b"].mask, torch.arange(3.0))


def test_planning_reads_no_parametrisation_and_refuses_the_meta_device() -> None:
    """Planning a spectral-normed layer never evaluates it (which would run a power
    iteration and change its vectors); device="meta" is an error before anything moves."""
    layer = spectral_norm(nn.Linear(6, 5))
    before = _snapshot(layer)
    with pytest.raises(ValueError, match="rule 'nonexistent\\*' matches no parameter"):
        plan(layer, rules={"nonexistent*": "zeros"})
    _assert_unchanged(layer, before)
    model = nn.Linear(3, 2)
    before = _snapshot(model)
    with pytest.raises(ValueError, match="device='meta' cannot hold the model's values"):
        initialize_(model, SEED, device="meta")
    _assert_unchanged(model, before)


def test_leaf_rules_fall_through_and_a_misspelt_leaf_is_an_error() -> None:
    """A pattern's dict without a parameter's leaf lets the class rules answer; a leaf no
    parameter has is an error naming the leaves there are; a class rule reaches the layer a
    weight-norm parametrisation belongs to."""
    model = nn.Sequential(nn.Linear(4, 4), weight_norm(nn.Linear(4, 4)))
    rules = {"0.*": {"weight": wi.zeros()}, nn.Linear: {"bias": wi.ones()}}
    result = plan(model, rules=rules)
    assert result["0.weight"].initializer == wi.zeros()
    assert result["0.bias"].initializer == wi.ones()
    assert result["1.bias"].initializer == wi.ones()
    with pytest.raises(ValueError, match=r"names leaf 'bais', which none of the parameters"):
        plan(model, rules={nn.Linear: {"bais": wi.ones()}})
    normed = plan(model, rules={nn.Linear: {"weight": wi.orthogonal()}})
    assert normed["1.parametrizations.weight.original1"].initializer == wi.orthogonal()
    assert normed.derived == {
        "1.parametrizations.weight.original0": "1.parametrizations.weight.original1"
    }


def _convnext() -> Any:
    config = transformers.ConvNextConfig(
        hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1], layer_scale_init_value=1e-6
    )
    return transformers.ConvNextModel(config)


def _dinov2() -> Any:
    size = {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    size |= {"intermediate_size": 64, "image_size": 32, "patch_size": 8}
    return transformers.Dinov2Model(transformers.Dinov2Config(**size, layerscale_value=1e-5))


@pytest.mark.parametrize(
    ("build", "value"), [(_convnext, 1e-6), (_dinov2, 1e-5)], ids=["convnext", "dinov2"]
)
@pytest.mark.parametrize("device", BOTH)
def test_layer_scales_start_at_the_models_configured_value(
    build: Any, value: float, device: str
) -> None:
    """A layer scale whose layer does not keep its starting value finds it in the model's
    config, so it is known on the meta device too, and equals a normal build's."""
    reference = build()
    if device == "meta":
        with torch.device("meta"):
            model = build()
    else:
        model = build()
    result = initialize_(model, SEED)
    scales = [n for n in result if n.endswith(("layer_scale_parameter", "lambda1"))]
    assert scales
    for name in scales:
        assert result[name].initializer == wi.constant(value), name
        assert torch.equal(model.get_parameter(name), reference.get_parameter(name)), name
