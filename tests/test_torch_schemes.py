"""Schemes on real models: roles and places read from transformers' GPT-2, BERT, Llama, T5,
ViT, BART, ResNet and ConvNeXt (and a nanoGPT-style model); each scheme's standard
deviations worked out by hand from its reference; the audit, which passes on a model the
scheme initialized and catches the bugs the references shipped; HF parity; μP; and every
error path leaving the model as it was.

Statistical checks go through :func:`weightinit.torch.audit`, whose tolerances come from
the sampling distribution (``Z = 5.75`` standard errors: odds below 1e-8 per check); the
configurations are sized so that every weight whose spread matters has at least 8,192
values, where a 5% error is more than twice the tolerance.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import weightinit as wi
from weightinit import schemes

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
nn = torch.nn

from weightinit.torch import audit  # noqa: E402
from weightinit.torch import initialize_  # noqa: E402
from weightinit.torch import mup_param_groups  # noqa: E402
from weightinit.torch import plan  # noqa: E402

SEED = 7
WIDTH = 128
VOCAB = 512


def _gpt2(layers: int = 4) -> Any:
    config = transformers.GPT2Config(
        n_layer=layers, n_embd=WIDTH, n_head=4, vocab_size=VOCAB, n_positions=64
    )
    return transformers.GPT2LMHeadModel(config)


def _bert(classes: int = 0) -> Any:
    config = transformers.BertConfig(
        num_hidden_layers=3,
        hidden_size=WIDTH,
        num_attention_heads=4,
        intermediate_size=4 * WIDTH,
        vocab_size=VOCAB,
        max_position_embeddings=64,
        num_labels=max(classes, 2),
    )
    if classes:
        return transformers.BertForSequenceClassification(config)
    return transformers.BertModel(config)


def _llama(layers: int = 3) -> Any:
    config = transformers.LlamaConfig(
        num_hidden_layers=layers,
        hidden_size=WIDTH,
        num_attention_heads=4,
        num_key_value_heads=4,
        intermediate_size=2 * WIDTH,
        vocab_size=VOCAB,
        max_position_embeddings=64,
        bos_token_id=1,
        eos_token_id=2,
    )
    return transformers.LlamaForCausalLM(config)


def _t5() -> Any:
    config = transformers.T5Config(
        num_layers=2,
        num_decoder_layers=3,
        d_model=WIDTH,
        d_kv=32,
        num_heads=4,
        d_ff=2 * WIDTH,
        vocab_size=VOCAB,
    )
    return transformers.T5ForConditionalGeneration(config)


def _vit() -> Any:
    config = transformers.ViTConfig(
        num_hidden_layers=2,
        hidden_size=WIDTH,
        num_attention_heads=4,
        intermediate_size=2 * WIDTH,
        image_size=32,
        patch_size=8,
        num_labels=10,
    )
    return transformers.ViTForImageClassification(config)


def _bart() -> Any:
    config = transformers.BartConfig(
        encoder_layers=2,
        decoder_layers=3,
        d_model=WIDTH,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=2 * WIDTH,
        decoder_ffn_dim=2 * WIDTH,
        vocab_size=VOCAB,
        max_position_embeddings=64,
    )
    return transformers.BartForConditionalGeneration(config)


def _resnet() -> Any:
    config = transformers.ResNetConfig(
        embedding_size=32,
        hidden_sizes=[32, 64],
        depths=[2, 3],
        layer_type="bottleneck",
        num_labels=10,
    )
    return transformers.ResNetForImageClassification(config)


def _convnext() -> Any:
    config = transformers.ConvNextConfig(
        num_stages=2, hidden_sizes=[32, 64], depths=[2, 2], num_labels=10
    )
    return transformers.ConvNextForImageClassification(config)


class _Attention(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)


class _MLP(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.c_fc = nn.Linear(d, 4 * d)
        self.c_proj = nn.Linear(4 * d, d)


class Block(nn.Module):
    """nanoGPT's block: its names and structure."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = _Attention(d)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = _MLP(d)


class NanoGPT(nn.Module):
    def __init__(self, layers: int = 3, d: int = WIDTH) -> None:
        super().__init__()
        self.transformer = nn.ModuleDict(
            {
                "wte": nn.Embedding(VOCAB, d),
                "wpe": nn.Embedding(64, d),
                "h": nn.ModuleList(Block(d) for _ in range(layers)),
                "ln_f": nn.LayerNorm(d),
            }
        )
        self.lm_head = nn.Linear(d, VOCAB, bias=False)
        self.transformer["wte"].weight = self.lm_head.weight


def _stds(result: Any) -> dict[str, float]:
    """Each planned parameter's standard deviation."""
    out = {}
    for name, p in result.items():
        init = wi.get(p.initializer)
        out[name] = math.sqrt(
            init.variance(p.shape, layout=p.layout, groups=p.groups, blocks=p.blocks)
        )
    return out


def _snapshot(model: Any) -> dict[str, Any]:
    return {n: t.detach().clone() for n, t in model.state_dict(keep_vars=True).items()}


def _assert_unchanged(model: Any, before: dict[str, Any]) -> None:
    after = model.state_dict(keep_vars=True)
    assert after.keys() == before.keys()
    for name, values in before.items():
        assert torch.equal(after[name].detach(), values), name


# --------------------------------------------------------------------------- roles


def test_gpt2_roles_parts_and_places() -> None:
    result = plan(_gpt2(layers=4))
    slots = result.slots
    attn_out = slots["transformer.h.2.attn.c_proj.weight"]
    assert attn_out.role == "residual_projection"
    assert (attn_out.place.part, attn_out.place.layer, attn_out.place.depth) == ("attn_out", 2, 4)
    assert attn_out.place.width == WIDTH
    assert slots["transformer.h.3.mlp.c_proj.weight"].place.part == "down"
    assert slots["transformer.h.0.mlp.c_fc.weight"].role == "projection"
    assert slots["transformer.h.0.mlp.c_fc.weight"].place.part == "fc_in"
    assert slots["transformer.h.0.attn.c_attn.weight"].place.part == "qkv"
    assert slots["transformer.wte.weight"].role == "tied_embedding"
    assert slots["transformer.wte.weight"].place.layer is None
    assert slots["transformer.wte.weight"].place.depth == 4  # the model's one stack


def test_llama_bert_vit_and_nanogpt_parts() -> None:
    llama = plan(_llama()).slots
    parts = {n.split(".")[-2]: s.place.part for n, s in llama.items() if ".layers.1." in n}
    assert parts["q_proj"] == "q" and parts["o_proj"] == "attn_out"
    assert (parts["gate_proj"], parts["up_proj"], parts["down_proj"]) == ("gate", "up", "down")
    assert llama["lm_head.weight"].role == "head"
    assert llama["model.layers.2.mlp.down_proj.weight"].place.layer == 2
    bert = plan(_bert(classes=3)).slots
    layer = "bert.encoder.layer.1."
    assert bert[layer + "attention.self.value.weight"].place.part == "v"
    assert bert[layer + "attention.output.dense.weight"].place.part == "attn_out"
    assert bert[layer + "intermediate.dense.weight"].place.part == "fc_in"
    assert bert[layer + "output.dense.weight"].role == "residual_projection"
    assert bert["bert.pooler.dense.weight"].role == "projection"  # not the head
    assert bert["classifier.weight"].role == "head"
    vit = plan(_vit()).slots
    assert vit["classifier.weight"].role == "head"
    assert vit["vit.layers.1.mlp.fc2.weight"].place.part == "down"
    nano = plan(NanoGPT()).slots
    assert nano["transformer.h.2.attn.c_proj.weight"].place.part == "attn_out"
    assert nano["transformer.h.2.mlp.c_proj.weight"].place.part == "down"
    assert nano["transformer.wte.weight"].role == "tied_embedding"


def test_encoder_decoder_stacks_have_their_own_depths() -> None:
    slots = plan(_t5()).slots
    encoder = slots["encoder.block.1.layer.0.SelfAttention.o.weight"].place
    decoder = slots["decoder.block.2.layer.1.EncDecAttention.v.weight"].place
    assert (encoder.stack, encoder.layer, encoder.depth) == ("encoder", 1, 2)
    assert (decoder.stack, decoder.layer, decoder.depth, decoder.part) == ("decoder", 2, 3, "v")
    assert (decoder.encoder_depth, decoder.decoder_depth) == (2, 3)
    gated = slots["decoder.block.0.layer.2.DenseReluDense.wo.weight"]
    assert gated.role == "residual_projection"


def test_convolutional_blocks_mark_their_branch_and_last_norm() -> None:
    slots = plan(_resnet()).slots
    block = "resnet.encoder.stages.1.layers.2."
    last_conv = slots[block + "layer.2.convolution.weight"].place
    assert (last_conv.last, last_conv.branch, last_conv.layer, last_conv.depth) == (True, 3, 4, 5)
    assert slots[block + "layer.2.normalization.weight"].place.last
    assert not slots[block + "layer.1.normalization.weight"].place.last
    assert not slots[block + "layer.0.convolution.weight"].place.last
    shortcut = slots["resnet.encoder.stages.1.layers.0.shortcut.convolution.weight"].place
    assert shortcut.branch == 0 and not shortcut.last  # on the shortcut
    assert slots["classifier.1.weight"].role == "head"
    convnext = plan(_convnext()).slots
    down = convnext["convnext.encoder.stages.1.layers.1.pwconv2.weight"]
    assert (down.role, down.place.part) == ("residual_projection", "down")


def test_roles_override_corrects_the_table() -> None:
    model = _gpt2(layers=2)
    result = plan(
        model,
        roles={
            "*.mlp.c_fc.weight": {"role": "residual_projection", "part": "down"},
            "transformer.h.0.*": {"layer": 5, "depth": 9},
        },
        scheme="gpt2",
    )
    fc = result.slots["transformer.h.1.mlp.c_fc.weight"]
    assert (fc.role, fc.place.part) == ("residual_projection", "down")
    assert _stds(result)["transformer.h.1.mlp.c_fc.weight"] == pytest.approx(0.02 / math.sqrt(4))
    moved = result.slots["transformer.h.0.ln_1.weight"].place
    assert (moved.layer, moved.depth) == (5, 9)


_SMALL = {
    "hidden_size": 64,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "vocab_size": 100,
    "num_hidden_layers": 2,
}

#: More families: how each builds, and its block 1's two residual projections.
FAMILIES = {
    "mistral": (
        lambda: transformers.MistralForCausalLM(
            transformers.MistralConfig(num_key_value_heads=2, **_SMALL)
        ),
        ("self_attn.o_proj", "mlp.down_proj"),
    ),
    "qwen2": (
        lambda: transformers.Qwen2ForCausalLM(
            transformers.Qwen2Config(num_key_value_heads=2, **_SMALL)
        ),
        ("self_attn.o_proj", "mlp.down_proj"),
    ),
    "gpt_neox": (
        lambda: transformers.GPTNeoXForCausalLM(transformers.GPTNeoXConfig(**_SMALL)),
        ("attention.dense", "mlp.dense_4h_to_h"),
    ),
    "phi": (
        lambda: transformers.PhiForCausalLM(transformers.PhiConfig(**_SMALL)),
        ("self_attn.dense", "mlp.fc2"),
    ),
    "gptj": (
        lambda: transformers.GPTJForCausalLM(
            transformers.GPTJConfig(n_embd=64, n_head=4, n_layer=2, vocab_size=100, rotary_dim=8)
        ),
        ("attn.out_proj", "mlp.fc_out"),
    ),
    "falcon": (
        lambda: transformers.FalconForCausalLM(
            transformers.FalconConfig(
                hidden_size=64, num_attention_heads=4, vocab_size=100, num_hidden_layers=2
            )
        ),
        ("self_attention.dense", "mlp.dense_4h_to_h"),
    ),
    "clip_text": (
        lambda: transformers.CLIPTextModel(transformers.CLIPTextConfig(**_SMALL)),
        ("self_attn.out_proj", "mlp.fc2"),
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_familys_residual_projections_are_found(family: str) -> None:
    build, expected = FAMILIES[family]
    result = plan(build(), scheme="gpt2")
    residual = sorted(
        name.split(".1.", 1)[1].rpartition(".")[0]
        for name, slot in result.slots.items()
        if slot.role == "residual_projection" and ".1." in name
    )
    assert residual == sorted(expected)
    for name, slot in result.slots.items():
        if slot.role == "residual_projection":
            assert slot.place.depth == 2 and slot.place.layer in (0, 1), name


def test_a_block_without_a_known_output_projection_is_an_error_where_the_scheme_scales_it() -> None:
    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.q_proj, self.k_proj, self.v_proj = (nn.Linear(16, 16) for _ in range(3))
            self.mix = nn.Linear(16, 16)  # the output projection, by a name of its own

    class MyBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = Attention()

    net = nn.Sequential(MyBlock(), MyBlock())
    match = r"blocks '0', '1' have no attn_out projection .* no known part \('attn\.mix'\)"
    with pytest.raises(ValueError, match=match):
        plan(net, scheme="gpt2")
    assert plan(net)  # the recommended scheme does not tell them apart
    given = {"*.attn.mix.weight": {"role": "residual_projection", "part": "attn_out"}}
    result = plan(net, scheme="gpt2", roles=given)
    assert result.formulas["1.attn.mix.weight"] == "σ = 0.02/√(2L), L=2"


# --------------------------------------------------------------------------- schemes by hand


def test_gpt2_and_megatron_scale_the_residual_projections() -> None:
    layers = 4
    for scheme, expected in (
        ("gpt2", 0.02 / math.sqrt(2 * layers)),
        (schemes.megatron(std=0.006), 0.006 / math.sqrt(2 * layers)),
        (schemes.megatron(multiplier=1), 0.02 / math.sqrt(layers)),
        (schemes.gpt2(scaled=False), 0.02),
    ):
        stds = _stds(plan(_gpt2(layers), scheme=scheme))
        base = 0.006 if expected == 0.006 / math.sqrt(2 * layers) else 0.02
        for name, std in stds.items():
            if name.endswith("c_proj.weight"):
                assert std == pytest.approx(expected, rel=1e-12), (scheme, name)
            elif name.endswith(("c_attn.weight", "c_fc.weight", "wte.weight", "wpe.weight")):
                assert std == pytest.approx(base, rel=1e-12), (scheme, name)
            else:
                assert std == 0.0, name  # biases zero, norms one


def test_torchtitan_scales_wo_w2_and_w3_by_the_block_index() -> None:
    result = plan(_llama(layers=3), scheme="torchtitan")
    for index in range(3):
        scaled = 0.02 / math.sqrt(2 * (index + 1))
        # trunc_normal_'s bounds a=-2, b=2 are absolute: 2/σ standard deviations.
        for leaf in ("self_attn.o_proj", "mlp.down_proj", "mlp.up_proj"):
            p = result[f"model.layers.{index}.{leaf}.weight"]
            assert p.initializer == wi.truncated_normal(scaled, bound=2 / scaled), leaf
        for leaf in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "mlp.gate_proj"):
            p = result[f"model.layers.{index}.{leaf}.weight"]
            assert p.initializer == wi.truncated_normal(0.02, bound=100.0), leaf
    assert _stds(result)["model.layers.0.self_attn.q_proj.weight"] == pytest.approx(0.02)
    assert result["model.embed_tokens.weight"].initializer == wi.normal(1.0)
    assert result["lm_head.weight"].initializer == wi.truncated_normal(WIDTH**-0.5, bound=3.0)
    flat = plan(_llama(layers=3), scheme=schemes.torchtitan(depth_init=False, cutoff=2.0))
    assert flat["model.layers.0.mlp.down_proj.weight"].initializer == wi.truncated_normal(
        0.02 / math.sqrt(6), bound=2.0
    )
    cut = wi.truncated_normal(1.0, bound=2.0).variance((1,))
    stds = _stds(flat)
    assert stds["model.layers.0.self_attn.q_proj.weight"] == pytest.approx(0.02 * math.sqrt(cut))


def test_a_model_initialized_as_torchtitan_does_passes_the_torchtitan_audit() -> None:
    model = _llama(layers=3)
    torch.manual_seed(SEED)
    with torch.no_grad():  # torchtitan's own init, with PyTorch's trunc_normal_
        nn.init.normal_(model.model.embed_tokens.weight)
        for index, layer in enumerate(model.model.layers):
            deep = 0.02 / math.sqrt(2 * (index + 1))
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                nn.init.trunc_normal_(proj.weight, std=0.02)
            nn.init.trunc_normal_(layer.mlp.gate_proj.weight, std=0.02)
            for proj in (layer.self_attn.o_proj, layer.mlp.down_proj, layer.mlp.up_proj):
                nn.init.trunc_normal_(proj.weight, std=deep)
        s = WIDTH**-0.5
        nn.init.trunc_normal_(model.lm_head.weight, std=s, a=-3 * s, b=3 * s)
    assert audit(model, scheme="torchtitan").ok
    assert not audit(model, scheme=schemes.torchtitan(cutoff=2.0)).ok


def test_olmo_mitchell_and_neox_small_init() -> None:
    result = plan(_llama(layers=3), scheme="olmo")
    stds = _stds(result)
    cut = math.sqrt(wi.truncated_normal(1.0, bound=3.0).variance((1,)))
    assert stds["model.layers.0.self_attn.q_proj.weight"] == pytest.approx(cut / math.sqrt(WIDTH))
    assert stds["model.layers.2.self_attn.o_proj.weight"] == pytest.approx(
        cut / math.sqrt(2 * WIDTH * 3)
    )
    assert stds["model.layers.1.mlp.down_proj.weight"] == pytest.approx(
        cut / math.sqrt(2 * 2 * WIDTH * 2)
    )
    neox = _stds(plan(_gpt2(layers=4), scheme="small_init"))
    assert neox["transformer.h.0.attn.c_attn.weight"] == pytest.approx(math.sqrt(2 / (5 * WIDTH)))
    assert neox["transformer.h.3.mlp.c_proj.weight"] == pytest.approx(2 / (4 * math.sqrt(WIDTH)))


def test_deepnorm_constants_for_one_stack_and_for_encoder_decoder() -> None:
    bert = plan(_bert(), scheme="recommended+deepnorm")
    beta = (8 * 3) ** -0.25
    value = bert["encoder.layer.0.attention.self.value.weight"]
    assert value.initializer == wi.variance_scaling(beta**2, "fan_avg", "normal")
    assert bert["encoder.layer.0.attention.self.query.weight"].initializer == wi.glorot_normal()
    t5 = plan(_t5(), scheme="recommended+deepnorm")
    n, m = 2, 3
    encoder = t5["encoder.block.0.layer.1.DenseReluDense.wo.weight"].initializer
    decoder = t5["decoder.block.2.layer.1.EncDecAttention.o.weight"].initializer
    assert encoder == wi.variance_scaling(
        (0.87 * (n**4 * m) ** (-1 / 16)) ** 2, "fan_avg", "normal"
    )
    assert decoder == wi.variance_scaling(((12 * m) ** -0.25) ** 2, "fan_avg", "normal")


def test_t_fixup_scales_encoder_decoder_and_embeddings() -> None:
    result = plan(_bart(), scheme="t_fixup")
    n, m = 2, 3
    stds = _stds(result)
    xavier = math.sqrt(2 / (WIDTH + 2 * WIDTH))  # fc2: (d, 2d)
    assert stds["model.encoder.layers.1.fc2.weight"] == pytest.approx(xavier * 0.67 * n**-0.25)
    xavier = math.sqrt(2 / (WIDTH + WIDTH))
    decoder = stds["model.decoder.layers.0.encoder_attn.v_proj.weight"]
    assert decoder == pytest.approx(xavier * (9 * m) ** -0.25)
    assert result["model.decoder.layers.0.fc1.weight"].initializer.distribution == "uniform"
    assert (
        result["model.decoder.layers.0.self_attn.q_proj.weight"].initializer == wi.glorot_uniform()
    )
    assert stds["model.shared.weight"] == pytest.approx(WIDTH**-0.5 * (9 * m) ** -0.25)


def test_fixup_and_zero_init_residual_on_a_resnet_start_each_block_as_the_identity() -> None:
    model = _resnet().eval()
    result = initialize_(model, SEED, scheme="fixup", activation="relu")
    stds = _stds(result)
    block = "resnet.encoder.stages.1.layers.1."
    depth, m = 5, 3
    shape = model.get_parameter(block + "layer.1.convolution.weight").shape
    fan_out = shape[0] * shape[2] * shape[3]
    expected = math.sqrt(2 / fan_out) * depth ** (-1 / (2 * m - 2))
    assert stds[block + "layer.1.convolution.weight"] == pytest.approx(expected)
    assert not model.get_parameter(block + "layer.2.convolution.weight").any()
    assert not model.get_parameter("classifier.1.weight").any()
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert not model(pixel_values=images).logits.any()  # the classifier is zero
    assert audit(model, scheme="fixup", activation="relu").ok
    model = _resnet().eval()
    initialize_(model, SEED, scheme="recommended+zero_init_residual", activation="relu")
    layer = model.resnet.encoder.stages[1].layers[1]
    assert not layer.layer[2].normalization.weight.any()
    x = torch.randn(2, 64, 8, 8)
    with torch.no_grad():  # the branch adds nothing: the block is act(shortcut(x)) = relu(x)
        assert torch.equal(layer(x), torch.relu(layer.shortcut(x)))


def test_skipinit_zeroes_gates_a_model_holds_and_gates_named_by_roles() -> None:
    class ResBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.alpha = nn.Parameter(torch.ones(()))

    net = nn.Sequential(nn.Conv2d(1, 8, 3), *[ResBlock() for _ in range(4)])
    result = initialize_(
        net, SEED, scheme="recommended+skipinit", roles={"*.alpha": "residual_gate"}
    )
    assert result.slots["1.alpha"].role == "residual_gate"
    assert all(net[i].alpha.item() == 0.0 for i in range(1, 5))
    assert audit(net, scheme="skipinit", roles={"*.alpha": "residual_gate"}).ok
    untouched = initialize_(
        net, SEED, roles={"*.alpha": "residual_gate"}, rules={"*.alpha": wi.ones()}
    )
    assert untouched.formulas["1.alpha"] == "rule"


# --------------------------------------------------------------------------- the audit


@pytest.mark.parametrize(
    ("build", "scheme"),
    [
        (_gpt2, "gpt2"),
        (_gpt2, "hf"),
        (_gpt2, "small_init"),
        (_llama, "torchtitan"),
        (_llama, "olmo"),
        (_llama, schemes.olmo("full_megatron")),
        (_llama, "megatron"),
        (_bert, "hf"),
        (_bert, "recommended+deepnorm"),
        (_t5, "hf"),
        (_vit, "hf"),
        (_bart, "t_fixup"),
        (NanoGPT, "gpt2"),
        (_convnext, "pytorch"),
        (_convnext, "gpt2"),
    ],
    ids=lambda v: v if isinstance(v, str) else getattr(v, "name", getattr(v, "__name__", "")),
)
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_a_model_the_scheme_initialized_passes_its_audit(
    build: Any, scheme: Any, device: str
) -> None:
    with torch.device(device):
        model = build()
    initialize_(model, SEED, scheme=scheme)
    found = audit(model, scheme=scheme)
    assert found.ok, str(found)
    assert len(found) == len(plan(model, scheme=scheme))


def test_the_audit_catches_gpt2_c_proj_left_unscaled() -> None:
    model = _gpt2(layers=4)
    initialize_(model, SEED, scheme="hf")
    with torch.no_grad():  # transformers 5.0's bug: c_proj drawn like every other weight
        for block in model.transformer.h:
            block.attn.c_proj.weight.normal_(0.0, 0.02)
            block.mlp.c_proj.weight.normal_(0.0, 0.02)
    flagged = {f.name for f in audit(model, scheme="hf").failures}
    assert flagged == {n for n, _ in model.named_parameters() if n.endswith("c_proj.weight")}


def test_the_audit_catches_a_depth_factor_on_q_k_v() -> None:
    model = _llama(layers=3)
    initialize_(model, SEED, scheme="torchtitan")
    with torch.no_grad():  # lingua's bug: q, k and v scaled like wo
        for index, layer in enumerate(model.model.layers):
            for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                proj.weight.mul_(1 / math.sqrt(2 * (index + 1)))
    flagged = {f.name for f in audit(model, scheme="torchtitan").failures}
    expected = {
        f"model.layers.{index}.self_attn.{p}_proj.weight"
        for index in range(3)
        for p in ("q", "k", "v")
    }
    assert flagged == expected


def test_the_audit_catches_the_w2_w3_swap() -> None:
    model = _llama(layers=3)
    initialize_(model, SEED, scheme="gpt2")
    with torch.no_grad():  # llama2.c's bug: the depth factor on w3 (up) instead of w2 (down)
        for layer in model.model.layers:
            up, down = layer.mlp.up_proj.weight, layer.mlp.down_proj.weight
            scaled = 0.02 / math.sqrt(2 * 3)
            up.normal_(0.0, scaled)
            down.normal_(0.0, 0.02)
    flagged = {f.name for f in audit(model, scheme="gpt2").failures}
    expected = {
        f"model.layers.{index}.mlp.{p}.weight"
        for index in range(3)
        for p in ("up_proj", "down_proj")
    }
    assert flagged == expected
    text = str(audit(model, scheme="gpt2"))
    assert "6 of" in text.splitlines()[-1]


def test_the_audit_catches_a_zero_init_that_did_not_happen_and_leaves_the_model() -> None:
    model = _resnet()
    initialize_(model, SEED, scheme="recommended", activation="relu")
    before = _snapshot(model)
    found = audit(model, scheme="recommended+zero_init_residual", activation="relu")
    assert {f.name for f in found.failures} == {
        n
        for n, s in plan(model, activation="relu").slots.items()
        if s.role == "norm_gain" and s.place.last
    }
    assert "not the planned constant 0" in found.failures[0].verdict
    _assert_unchanged(model, before)
    assert found.to_dict()["findings"][0]["name"] == found[0].name


def test_audit_refuses_a_meta_model() -> None:
    with torch.device("meta"):
        model = _gpt2(layers=2)
    with pytest.raises(ValueError, match="meta device"):
        audit(model, scheme="gpt2")


# --------------------------------------------------------------------------- HF parity


@pytest.mark.parametrize("build", [_gpt2, _bert, _llama, _t5, _vit], ids=lambda b: b.__name__[1:])
def test_hf_scheme_matches_the_models_own_init_weights(build: Any) -> None:
    """Every parameter's std under scheme="hf" within 5% of what the model's own
    ``_init_weights`` drew (parameters of 8,192 values or more; smaller ones within their
    sampling error), and the model's own values pass the audit against "hf"."""
    torch.manual_seed(SEED)
    model = build()
    own = {n: t.detach().double() for n, t in model.named_parameters()}
    assert audit(model, scheme="hf").ok
    result = plan(model, scheme="hf")
    planned = _stds(result)
    for name, std in planned.items():
        values = own[name]
        measured = float(values.std())
        if std == 0.0:
            assert measured == 0.0, name
            continue
        n = values.numel()
        tolerance = max(0.05, 5.75 / math.sqrt(2 * n)) if n < 8192 else 0.05
        assert abs(measured / std - 1) < tolerance, (name, measured, std)
    if build is _gpt2:
        assert planned["transformer.h.1.attn.c_proj.weight"] == pytest.approx(0.02 / math.sqrt(8))


# --------------------------------------------------------------------------- μP


def _mlp(width: int) -> Any:
    return nn.Sequential(
        nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)
    )


def test_mup_scales_hidden_weights_and_zeroes_the_readout() -> None:
    base = _mlp(128)
    model = _mlp(1024)
    result = initialize_(model, SEED, scheme=schemes.mup(base, std=0.02))
    stds = _stds(result)
    assert stds["0.weight"] == pytest.approx(0.02)  # an input weight: fan-in fixed, m = 1
    assert stds["2.weight"] == pytest.approx(0.02 / math.sqrt(8))  # hidden: σ²/m
    assert not model[4].weight.any()  # the readout
    default = _stds(plan(model, scheme=schemes.mup(base), activation="relu"))
    assert default["2.weight"] == pytest.approx(math.sqrt(2 / 128) / math.sqrt(8))
    with torch.device("meta"):
        base_on_meta = _mlp(128)
    assert plan(model, scheme=schemes.mup(base_on_meta, std=0.02)).keys() == result.keys()


def test_mup_zeroes_queries_and_refuses_a_fused_qkv_it_cannot_split() -> None:
    base = plan(_llama(layers=2)).slots
    shapes = {name: slot.weight.shape for name, slot in base.items()}
    result = plan(_llama(layers=2), scheme=schemes.mup(shapes, std=0.02))
    assert result["model.layers.1.self_attn.q_proj.weight"].initializer == wi.zeros()
    assert result["lm_head.weight"].initializer == wi.zeros()
    gpt2 = _gpt2(layers=2)
    gpt2_base = {n: tuple(t.shape) for n, t in gpt2.named_parameters()}
    with pytest.raises(ValueError, match=r"fused q/k/v.*query_zero=False"):
        plan(gpt2, scheme=schemes.mup(gpt2_base))
    assert plan(gpt2, scheme=schemes.mup(gpt2_base, query_zero=False))


def test_mup_param_groups_for_adam_and_sgd() -> None:
    model, base = _mlp(512), _mlp(128)
    adam = {id(t): g["lr"] for g in mup_param_groups(model, 0.01, base=base) for t in g["params"]}
    assert adam[id(model[2].weight)] == pytest.approx(0.01 / 4)
    assert adam[id(model[0].weight)] == adam[id(model[4].weight)] == 0.01
    assert adam[id(model[2].bias)] == 0.01
    sgd = {
        id(t): g["lr"]
        for g in mup_param_groups(model, 0.01, base=base, optimizer="sgd")
        for t in g["params"]
    }
    assert sgd[id(model[0].weight)] == pytest.approx(0.04)  # fan-out 4x wider
    assert sgd[id(model[4].weight)] == pytest.approx(0.04)  # the readout: fan-in 4x
    assert sgd[id(model[2].weight)] == pytest.approx(0.01)  # hidden: fan-out/fan-in
    assert sgd[id(model[4].bias)] == 0.01  # of fixed size
    optimizer = torch.optim.Adam(mup_param_groups(model, 0.01, base=base))
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 6
    with pytest.raises(ValueError, match="optimizer must be one of 'adam', 'sgd'; got 'adamw'"):
        mup_param_groups(model, 0.01, base=base, optimizer="adamw")
    with pytest.raises(ValueError, match=r"no parameter called '0\.bias'"):
        mup_param_groups(model, 0.01, base={"0.weight": (128, 64)})


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("build", "arguments", "match"),
    [
        (
            _gpt2,
            {"scheme": "recommended+zero_init_residual"},
            "'zero_init_residual' changes nothing",
        ),
        (_gpt2, {"scheme": "recommended+deepnorm"}, "fused q/k/v weight cannot take both"),
        (
            _gpt2,
            {"roles": {"*.c_fcc.weight": "projection"}},
            r"roles\['\*.c_fcc.weight'\] matches no",
        ),
        (_gpt2, {"scheme": "gpt2+skipinit"}, "'skipinit' changes nothing"),
        (_gpt2, {"scheme": "hf+fixup"}, "'fixup' changes nothing"),
    ],
    ids=["zero-init-on-gpt2", "deepnorm-fused", "roles-typo", "skipinit-no-gates", "fixup-on-gpt2"],
)
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_scheme_errors_leave_the_model_as_it_was(
    build: Any, arguments: Any, match: str, device: str
) -> None:
    with torch.device(device):
        model = build()
    before = _snapshot(model) if device == "cpu" else None
    meta = [n for n, t in model.named_parameters() if t.is_meta]
    with pytest.raises(ValueError, match=match):
        initialize_(model, SEED, **arguments)
    if before is not None:
        _assert_unchanged(model, before)
    assert [n for n, t in model.named_parameters() if t.is_meta] == meta


def test_bad_scheme_and_role_arguments_say_what_is_valid() -> None:
    with pytest.raises(ValueError, match=r"scheme must be one of .*got 'megatorn'.*'megatron'"):
        plan(_gpt2(2), scheme="megatorn")
    with pytest.raises(ValueError, match="mup needs its base shapes"):
        plan(_gpt2(2), scheme="mup")
    with pytest.raises(ValueError, match="is partial"):
        schemes.compose(schemes.skipinit(), schemes.fixup())
    with pytest.raises(ValueError, match=r"roles\['\*'\] must be one of .*got 'residual'"):
        plan(_gpt2(2), roles={"*": "residual"})
    with pytest.raises(ValueError, match=r"a field of roles\['\*'\] must be one of .*'depth'"):
        plan(_gpt2(2), roles={"*": {"depht": 3}})
    with pytest.raises(ValueError, match="part must be one of"):
        plan(_gpt2(2), roles={"*": {"part": "query"}})
    with pytest.raises(
        ValueError, match="init_fn must be one of 'normal', 'mitchell', 'full_megatron'"
    ):
        schemes.olmo("mitchel")
    with pytest.raises(ValueError, match="std must be a positive number"):
        schemes.megatron(std=-1)
    with pytest.raises(TypeError, match="scheme must be a name"):
        plan(_gpt2(2), scheme=3)


def test_a_scheme_needing_the_depth_says_how_to_give_it() -> None:
    net = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 8))
    with pytest.raises(ValueError, match=r"depth L, which is not known.*roles="):
        plan(net, scheme="gpt2", roles={"1.weight": "residual_projection"})
    result = plan(
        net, scheme="gpt2", roles={"1.weight": {"role": "residual_projection", "depth": 8}}
    )
    assert _stds(result)["1.weight"] == pytest.approx(0.02 / 4)


def test_meta_and_normal_builds_get_the_same_scheme_plan_and_values() -> None:
    normal = _llama()
    with torch.device("meta"):
        meta = _llama()
    for model in (normal, meta):
        initialize_(model, SEED, scheme="torchtitan")
    for (name, a), (_, b) in zip(normal.named_parameters(), meta.named_parameters(), strict=True):
        assert torch.equal(a, b), name
    tokens = torch.randint(0, VOCAB, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = normal(tokens).logits
        assert torch.equal(logits, meta(tokens).logits)
    assert torch.isfinite(logits).all()
    # torchtitan's head, d^-1/2 against a unit-variance final norm: logits of std about 1.
    assert 0.5 < float(logits.std()) < 2.0


# --------------------------------------------------------------------------- structure edges


def _clip() -> Any:
    text = {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128}
    config = transformers.CLIPConfig(
        text_config={**text, "num_hidden_layers": 2, "vocab_size": 100},
        vision_config={**text, "num_hidden_layers": 3, "image_size": 32, "patch_size": 8},
    )
    return transformers.CLIPModel(config)


def test_two_encoders_are_two_stacks_and_stages_are_one() -> None:
    slots = plan(_clip(), scheme="gpt2").slots
    text = slots["text_model.encoder.layers.1.mlp.fc2.weight"].place
    vision = slots["vision_model.encoder.layers.2.mlp.fc2.weight"].place
    assert (text.layer, text.depth, vision.layer, vision.depth) == (1, 2, 2, 3)
    assert text.encoder_depth is None  # two encoders and no decoder: not an encoder-decoder
    config = transformers.SwinConfig(
        image_size=32,
        patch_size=4,
        embed_dim=16,
        depths=[2, 2, 6, 2],
        num_heads=[1, 1, 2, 2],
        window_size=2,
    )
    swin = plan(transformers.SwinModel(config), scheme="gpt2").slots
    # Swin's stages derive from the same base class as its blocks; the blocks are the 12.
    first = swin["encoder.layers.2.blocks.0.mlp.fc2.weight"].place
    last = swin["encoder.layers.3.blocks.1.mlp.fc2.weight"].place
    assert (first.layer, last.layer, last.depth) == (4, 11, 12)


def test_blocks_that_are_not_residual_convolution_blocks_are_not_zeroed() -> None:
    distilbert = transformers.DistilBertModel(
        transformers.DistilBertConfig(n_layers=2, dim=64, n_heads=4, hidden_dim=128, vocab_size=100)
    )
    before = _snapshot(distilbert)
    with pytest.raises(ValueError, match="'zero_init_residual' changes nothing"):
        initialize_(distilbert, SEED, scheme="recommended+zero_init_residual")
    _assert_unchanged(distilbert, before)
    parts = plan(distilbert, scheme="gpt2").slots
    assert parts["transformer.layer.1.attention.out_lin.weight"].role == "residual_projection"
    assert parts["transformer.layer.1.ffn.lin2.weight"].place.part == "down"
    effnet = transformers.EfficientNetModel(
        transformers.EfficientNetConfig(
            image_size=32, depth_coefficient=0.25, width_coefficient=0.25
        )
    )
    with pytest.raises(ValueError, match="'zero_init_residual' changes nothing"):
        plan(effnet, scheme="recommended+zero_init_residual")


def test_a_part_given_by_roles_makes_a_residual_projection() -> None:
    net = nn.Sequential(*[Block(32) for _ in range(2)])
    given = {"*.mlp.c_fc.weight": {"part": "down"}}
    result = plan(net, scheme="gpt2", roles=given)
    assert result.slots["1.mlp.c_fc.weight"].role == "residual_projection"
    kept = plan(net, scheme="gpt2", roles={"*.attn.c_proj.weight": "projection"})
    assert kept.formulas["1.attn.c_proj.weight"] == "σ = 0.02"  # a role said is kept


def test_hf_refuses_families_whose_init_it_does_not_reproduce() -> None:
    model = _clip()
    before = _snapshot(model)
    with pytest.raises(ValueError, match=r"\(and \d+ more parameters\).*family is 'clip'"):
        initialize_(model, SEED, scheme="hf")
    _assert_unchanged(model, before)
    with pytest.raises(ValueError, match="not a transformers one"):
        plan(NanoGPT(), scheme="hf")


def test_fixup_zeroes_the_classifier_bias_and_wants_branches() -> None:
    model = _resnet()
    initialize_(model, SEED, scheme="pytorch+fixup")
    assert not model.classifier[1].bias.any()
    with pytest.raises(ValueError, match="'fixup' changes nothing"):
        plan(_vit(), scheme="recommended+fixup")  # it would only zero the classifier


def test_scheme_arguments_are_checked_when_the_scheme_is_made() -> None:
    with pytest.raises(ValueError, match="encoder_layers must be at least 1; got 0"):
        schemes.deepnorm(encoder_layers=0)
    with pytest.raises(TypeError, match="decoder_layers must be an int or None; got '6'"):
        schemes.t_fixup(decoder_layers="6")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="stack must be one of"):
        plan(_gpt2(2), roles={"*": {"stack": "middle"}})
    assert schemes.olmo("normal", cutoff=None).name == "olmo('normal')"


def test_the_audit_bound_follows_heavy_tails() -> None:
    """Sparse weights (90% zeros) have a kurtosis near 30: twenty correct draws all pass."""
    plan_ = {"w": wi.Param(wi.sparse(0.9), (256, 256))}
    for seed in range(20):
        assert wi.audit.audit(wi.initialize(plan_, seed=seed), plan_).ok, seed


def test_mup_weight_decay_follows_the_mup_package() -> None:
    model, base = _mlp(512), _mlp(128)
    adam = {
        id(t): (g["lr"], g["weight_decay"])
        for g in mup_param_groups(model, 0.01, base=base, weight_decay=0.1)
        for t in g["params"]
    }
    assert adam[id(model[2].weight)] == pytest.approx((0.0025, 0.4))  # MuAdam: lr/m, wd·m
    assert adam[id(model[0].weight)] == (0.01, 0.1)
    sgd = {
        id(t): (g["lr"], g["weight_decay"])
        for g in mup_param_groups(model, 0.01, base=base, optimizer="sgd", weight_decay=0.1)
        for t in g["params"]
    }
    assert sgd[id(model[0].weight)] == pytest.approx((0.04, 0.025))  # MuSGD: lr·m, wd/m
    base_shapes = dict(_shapes(NanoGPT(d=128)))
    tied = plan(NanoGPT(d=256), scheme=schemes.mup(base_shapes, query_zero=False))
    assert tied["transformer.wte.weight"].initializer == wi.normal(1.0)


def _shapes(model: Any) -> list[tuple[str, tuple[int, ...]]]:
    return [(n, tuple(t.shape)) for n, t in model.named_parameters()]


# --------------------------------------------------------------------------- second review


def test_stages_holding_transformer_blocks_give_way_to_them() -> None:
    config = transformers.MobileViTConfig(
        image_size=64,
        num_channels=3,
        neck_hidden_sizes=[8, 8, 16, 16, 24, 32, 64],
        hidden_sizes=[16, 24, 32],
        num_labels=10,
    )
    slots = plan(transformers.MobileViTForImageClassification(config), scheme="gpt2").slots
    residual = [s.place for s in slots.values() if s.role == "residual_projection"]
    # MobileViT's three transformer stages hold 2 + 4 + 3 transformer blocks.
    assert {p.depth for p in residual} == {9}
    assert sorted({p.layer for p in residual}) == list(range(9))


def test_task_heads_are_heads() -> None:
    config = transformers.BertConfig(
        num_hidden_layers=2,
        hidden_size=64,
        num_attention_heads=4,
        intermediate_size=128,
        vocab_size=100,
    )
    slots = plan(transformers.BertForQuestionAnswering(config)).slots
    assert slots["qa_outputs.weight"].role == "head"
    assert slots["qa_outputs.bias"].place.head


def test_fixup_on_blocks_without_a_residual_branch_is_an_error() -> None:
    with pytest.raises(ValueError, match="'fixup' changes nothing"):
        plan(_convnext(), scheme="recommended+fixup")  # dwconv is no shortcut


def test_roles_for_an_unknown_module_keep_its_block() -> None:
    class Mixer(nn.Module):  # a module type the table does not know
        def __init__(self) -> None:
            super().__init__()
            self.w_out = nn.Parameter(torch.empty(32, 32))

    class MixerBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mixer = Mixer()

    net = nn.Sequential(MixerBlock(), MixerBlock(), MixerBlock())
    given = {"*.w_out": {"role": "residual_projection", "layout": "out_in"}}
    result = plan(net, scheme="gpt2", roles=given)
    place = result.slots["2.mixer.w_out"].place
    assert (place.layer, place.depth) == (2, 3)
    assert result.formulas["2.mixer.w_out"] == "σ = 0.02/√(2L), L=3"


def test_scheme_names_and_compositions_are_checked() -> None:
    with pytest.raises(ValueError, match="has an empty part"):
        plan(_gpt2(2), scheme="gpt2+")
    with pytest.raises(ValueError, match="only partial schemes compose on 'gpt2'"):
        plan(_gpt2(2), scheme="gpt2+megatron")
    with pytest.raises(ValueError, match="multiplier must be a positive finite number"):
        schemes.megatron(multiplier=math.inf)
    with pytest.raises(ValueError, match="must be below depth 2; got 2"):
        plan(_gpt2(2), roles={"*": {"layer": 2, "depth": 2}})
    with pytest.raises(ValueError, match=r"roles\['\*'\] must be one of .*got None"):
        plan(_gpt2(2), roles={"*": {"role": None}})
    with pytest.raises(ValueError, match="layout must be one of"):
        plan(_gpt2(2), roles={"*": {"layout": "sideways"}})
