"""weightinit.torch: plans read from module types, models filled in place (needs PyTorch)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import weightinit as wi

torch = pytest.importorskip("torch")
nn = torch.nn

from weightinit.torch import Plan  # noqa: E402
from weightinit.torch import initialize_  # noqa: E402
from weightinit.torch import plan  # noqa: E402


def _equal_to_initialize(module, result: Plan, seed: int) -> None:
    values = wi.initialize(result, seed)
    for name, parameter in module.named_parameters():
        expected = torch.from_numpy(values[name]).to(parameter.dtype)
        assert torch.equal(parameter.detach().cpu(), expected), name


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (nn.Linear(5, 7), {"weight": ("out_in", 1, 1), "bias": ("in_out", 1, 1)}),
        (nn.Bilinear(3, 4, 5), {"weight": ("out_in", 1, 1)}),
        (nn.Conv1d(4, 6, 3, groups=2), {"weight": ("out_in", 2, 1)}),
        (nn.Conv2d(4, 8, 3, groups=4), {"weight": ("out_in", 4, 1)}),
        (nn.Conv3d(2, 4, 3), {"weight": ("out_in", 1, 1)}),
        (nn.ConvTranspose1d(4, 6, 3, groups=2), {"weight": ("pytorch_transposed", 2, 1)}),
        (nn.ConvTranspose2d(4, 6, 3, groups=2), {"weight": ("pytorch_transposed", 2, 1)}),
        (nn.ConvTranspose3d(2, 4, 3), {"weight": ("pytorch_transposed", 1, 1)}),
        (nn.Embedding(10, 4), {"weight": ("in_out", 1, 1)}),
        (nn.EmbeddingBag(10, 4), {"weight": ("in_out", 1, 1)}),
        (nn.MultiheadAttention(8, 2), {"in_proj_weight": ("out_in", 1, 3)}),
        (nn.MultiheadAttention(8, 2, kdim=5, vdim=6), {"k_proj_weight": ("out_in", 1, 1)}),
        (nn.RNN(4, 6), {"weight_ih_l0": ("out_in", 1, 1), "weight_hh_l0": ("out_in", 1, 1)}),
        (nn.LSTM(4, 6), {"weight_ih_l0": ("out_in", 1, 4), "weight_hh_l0": ("out_in", 1, 4)}),
        (nn.GRU(4, 6, bidirectional=True), {"weight_hh_l0_reverse": ("out_in", 1, 3)}),
        (nn.LSTMCell(4, 6), {"weight_hh": ("out_in", 1, 4)}),
        (nn.GRUCell(4, 6), {"weight_ih": ("out_in", 1, 3)}),
        (nn.RNNCell(4, 6), {"weight_ih": ("out_in", 1, 1)}),
        (nn.LSTM(4, 6, proj_size=3), {"weight_hr_l0": ("out_in", 1, 1)}),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "",
)
def test_layouts_groups_and_blocks_come_from_the_module_type(module, expected) -> None:
    result = plan(module)
    assert list(result) == [name for name, _ in module.named_parameters()]
    for name, (layout, groups, blocks) in expected.items():
        p = result[name]
        assert (p.layout, p.groups, p.blocks) == (layout, groups, blocks), name
        assert p.shape == tuple(module.get_parameter(name).shape)
    initialize_(module, 3)
    _equal_to_initialize(module, result, 3)


@pytest.mark.parametrize("norm", [nn.BatchNorm1d(4), nn.LayerNorm(4), nn.GroupNorm(2, 4)])
def test_norms_are_one_and_zero(norm) -> None:
    result = initialize_(norm, 0)
    assert result["weight"].initializer == wi.ones()
    assert torch.equal(norm.weight.detach(), torch.ones(4))
    assert torch.equal(norm.bias.detach(), torch.zeros(4))


def test_recommended_scheme_fixes_packed_attention_and_gates() -> None:
    embed = 256
    attention = nn.MultiheadAttention(embed, 4)
    initialize_(attention, 0)
    for block in attention.in_proj_weight.detach().numpy().reshape(3, embed, embed):
        # glorot_uniform per projection: variance 2 / (E + E); uniform kurtosis 1.8.
        target, n = 1 / embed, block.size
        assert abs(float(block.var(dtype=np.float64)) / target - 1) < 4.3 * math.sqrt(0.8 / n)
    lstm = nn.LSTM(16, 32)
    initialize_(lstm, 1)
    for gate in lstm.weight_hh_l0.detach().numpy().reshape(4, 32, 32):
        np.testing.assert_allclose(gate @ gate.T, np.eye(32), atol=1e-5)
    assert torch.equal(lstm.bias_hh_l0.detach(), torch.zeros(128))


def test_pytorch_scheme_draws_pytorchs_distributions() -> None:
    layer = nn.Linear(300, 20)
    result = plan(layer, scheme="pytorch")
    assert result["weight"].initializer.variance((20, 300), layout="pytorch") == 1 / (3 * 300)
    assert result["bias"].initializer == wi.uniform(-1 / math.sqrt(300), 1 / math.sqrt(300))
    conv = nn.ConvTranspose2d(8, 6, 3, groups=2)
    result = plan(conv, scheme="pytorch")
    bound = 1 / math.sqrt(3 * 9)  # PyTorch reads the fan-in from dimension 1: out / groups * k
    assert result["bias"].initializer == wi.uniform(-bound, bound)
    attention = plan(nn.MultiheadAttention(8, 2), scheme="pytorch")
    assert attention["in_proj_weight"].blocks == 1  # xavier over the whole packed weight
    assert attention["out_proj.bias"].initializer == wi.zeros()
    lstm = plan(nn.LSTM(4, 16), scheme="pytorch")
    assert {p.initializer for p in lstm.values()} == {wi.uniform(-0.25, 0.25)}
    with pytest.raises(ValueError, match="scheme must be one of 'recommended', 'pytorch'"):
        plan(layer, scheme="torch")


def test_rules_by_pattern_type_and_param() -> None:
    model = nn.ModuleDict(
        {"body": nn.Linear(4, 8), "head": nn.Linear(8, 2), "emb": nn.Embedding(5, 4)}
    )
    rules = {
        "head.*": "zeros",
        nn.Embedding: wi.normal(0.02),
        "body.bias": wi.Param(wi.constant(0.1), (8,)),
    }
    result = initialize_(model, 0, rules=rules)
    assert result["head.weight"].initializer == wi.zeros()
    assert result["emb.weight"].initializer == wi.normal(0.02)
    assert torch.equal(model["body"].bias.detach(), torch.full((8,), 0.1))
    with pytest.raises(ValueError, match=r"the rule for 'body.bias' gives shape \(3,\)"):
        plan(model, rules={"body.bias": wi.Param(wi.zeros(), (3,))})


def test_unknown_modules_need_a_rule() -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.alpha = nn.Parameter(torch.empty(3, 4))

    with pytest.raises(ValueError, match=r"parameters 'alpha' belong to a Scale.*give it a rule"):
        plan(Scale())
    result = initialize_(Scale(), 0, rules={Scale: wi.he_normal()})
    assert result["alpha"].layout == "out_in"


def test_meta_device_models_are_materialised_with_their_buffers() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Flatten(), nn.LazyLinear(4))
    model = model[:2]
    result = initialize_(model, 7, activation="relu")
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    assert torch.equal(model[1].running_mean, torch.zeros(8))
    assert torch.equal(model[1].running_var, torch.ones(8))
    plain = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    initialize_(plain, 7, activation="relu")
    assert torch.equal(plain[0].weight, model[0].weight)
    _equal_to_initialize(model, result, 7)

    class WithBuffer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.register_buffer("table", torch.empty(3))

    with torch.device("meta"):
        odd = WithBuffer()
    with pytest.raises(ValueError, match=r"buffer 'table' of a WithBuffer is on the meta device"):
        initialize_(odd, 0)
    assert all(t.is_meta for t in [*odd.parameters(), *odd.buffers()])  # untouched
    initialize_(odd, 0, buffers={"table": torch.arange(3.0)})
    assert torch.equal(odd.table, torch.arange(3.0)) and not odd.fc.weight.is_meta


def test_tied_dtypes_and_padding() -> None:
    emb = nn.Embedding(10, 4, padding_idx=0)
    decoder = nn.Linear(4, 10, bias=False)
    decoder.weight = emb.weight  # tied: one parameter, filled once
    model = nn.ModuleDict({"emb": emb, "decoder": decoder})
    result = initialize_(model, 0)
    assert list(result) == ["emb.weight"]
    assert torch.equal(emb.weight[0].detach(), torch.zeros(4))

    wide = nn.Linear(6, 5).double()
    result = initialize_(wide, 2)
    assert result["weight"].dtype == np.dtype(np.float64)
    key = wi.Key.from_seed(2).fold_in("weight")
    expected = wi.glorot_uniform()((5, 6), np.float64, seed=key, layout="pytorch")
    assert np.array_equal(wide.weight.detach().numpy(), expected)

    half = nn.Linear(6, 5).to(torch.bfloat16)
    initialize_(half, 2)
    expected32 = torch.from_numpy(wi.glorot_uniform()((5, 6), seed=key, layout="pytorch"))
    assert torch.equal(half.weight.detach(), expected32.to(torch.bfloat16))


def test_adding_a_layer_changes_no_other_parameter() -> None:
    small = nn.ModuleDict({"a": nn.Linear(4, 4), "b": nn.Conv1d(2, 3, 3)})
    large = nn.ModuleDict({"a": nn.Linear(4, 4), "extra": nn.Linear(3, 3), "b": nn.Conv1d(2, 3, 3)})
    initialize_(small, 9)
    initialize_(large, 9)
    for name, parameter in small.named_parameters():
        assert torch.equal(parameter, large.get_parameter(name)), name


def test_the_plan_prints_as_a_table() -> None:
    text = str(plan(nn.MultiheadAttention(64, 4)))
    lines = text.splitlines()
    head = ["name", "role", "l", "shape", "initializer", "formula", "layout", "groups"]
    assert lines[0].split() == [*head, "blocks", "fan_in", "fan_out", "std", "tied_to"]
    columns = [lines[0].index(f" {h} ") + 1 for h in ("role", "l", "shape", "formula", "layout")]

    def cell(line: str, start: int, end: int) -> str:
        return line[start:end].strip()

    row = lines[1]
    assert row.split()[0] == "in_proj_weight"
    assert cell(row, columns[0], columns[1]) == "attention_in"
    assert cell(row, columns[1], columns[2]) == ""  # in no residual block
    assert cell(row, columns[3], columns[4]) == "Glorot per projection"
    assert row[columns[4] :].split() == ["out_in", "1", "3", "64", "64", "0.125"]
    assert lines[2].split()[:5] == ["in_proj_bias", "bias", "192", "zeros()", "0"]


def test_meta_models_keep_their_tied_parameters() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(100, 16)
            self.out = nn.Linear(16, 100, bias=False)
            self.out.weight = self.emb.weight

    with torch.device("meta"):
        model = Tied()
    result = initialize_(model, 0)
    assert list(result) == ["emb.weight"]
    assert model.out.weight is model.emb.weight
    assert not model.emb.weight.is_meta


def test_pytorch_scheme_inside_a_transformer() -> None:
    torch.manual_seed(0)
    model = nn.Transformer(
        d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=64,
        batch_first=True,
    )  # fmt: skip
    result = plan(model, scheme="pytorch")
    for name in ("encoder.layers.0.linear2.weight", "decoder.layers.0.self_attn.out_proj.weight"):
        assert result[name].initializer == wi.glorot_uniform(), name
    # Glorot uniform as PyTorch's constructor draws it: bound sqrt(6 / (fan_in + fan_out)).
    weight = model.get_parameter("encoder.layers.0.linear2.weight")
    assert float(weight.detach().abs().max()) <= math.sqrt(6 / (64 + 32))
    alone = plan(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), scheme="pytorch")
    assert alone["linear2.weight"].initializer == wi.presets.preset("pytorch.linear")


def test_lazy_empty_and_subclassed_modules() -> None:
    with pytest.raises(ValueError, match=r"parameter '0.weight' of a LazyLinear has no shape yet"):
        plan(nn.Sequential(nn.LazyLinear(10)))
    with pytest.warns(UserWarning, match="zero-element"):  # PyTorch's own, on construction
        layer = nn.Linear(0, 4)
    empty = plan(layer, scheme="pytorch")
    assert empty["bias"].initializer == wi.zeros()

    class MyLSTM(nn.LSTM):
        pass

    assert plan(MyLSTM(4, 6))["weight_hh_l0"].blocks == 4


def test_a_float64_model_gets_float64_values_from_rules_too() -> None:
    """A rule's Param without a dtype takes the parameter's: float64 values in a float64
    model (drawn in float64, not float32 rounded up), here for the orthogonal factor."""
    model = nn.Linear(6, 5).double()
    rules = {"weight": wi.Param(wi.orthogonal(), (5, 6), layout="pytorch"), "bias": wi.zeros()}
    result = initialize_(model, 3, rules=rules)
    assert result["weight"].dtype == np.dtype(np.float64)
    key = wi.Key.from_seed(3).fold_in("weight")
    expected = wi.orthogonal()((5, 6), np.float64, seed=key, layout="pytorch")
    assert np.array_equal(model.weight.detach().numpy(), expected)
    assert not np.array_equal(expected, expected.astype(np.float32).astype(np.float64))
