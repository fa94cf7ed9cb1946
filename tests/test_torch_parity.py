"""Parity with PyTorch: fans, gains, variances and default layer initialisations.

Two halves run the same checks:

- without PyTorch, against ``tests/data/torch_reference.json``, recorded from PyTorch by
  ``tests/data/make_torch_reference.py`` (the file names the version it came from);
- with PyTorch installed, against that PyTorch itself, through the same recipes with fresh
  seeds, plus PyTorch's own fan function on every shape of the table and, when the installed
  version is the recorded one, a check that the recipes reproduce the file (to rounding).

Statistical checks compare a recorded standard deviation ``s`` of ``n`` values with our
``sqrt(variance())``. For independent values with kurtosis ``k``, ``s`` is approximately
normal around ``sigma`` with standard error ``sigma * sqrt((k - 1) / (4 n))``; the tolerance
is ``Z`` of those. The seeds are fixed, so the outcome is too.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

import weightinit as wi
from weightinit import distributions
from weightinit import families
from weightinit.distributions import TRUNCATION_STD
from weightinit.distributions import truncated_variance
from weightinit.initializers import Initializer
from weightinit.presets import fan_in_bias
from weightinit.presets import preset
from weightinit.structured import Orthogonal
from weightinit.structured import Sparse

DATA = Path(__file__).resolve().parent / "data"
REFERENCE = json.loads((DATA / "torch_reference.json").read_text(encoding="utf-8"))

#: Standard errors allowed: a two-sided normal tail of 5.7e-7 per comparison.
Z = 5.0


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "make_torch_reference", DATA / "make_torch_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECIPES = _generator()


def _ids(section: str) -> list[str]:
    return [record["id"] for record in REFERENCE[section]]


def _records(section: str) -> list[Any]:
    return [pytest.param(r, id=r["id"]) for r in REFERENCE[section]]


# --------------------------------------------------------------------------- fans
# Each row: our layout and groups for that weight, and our (fan_in, fan_out) where PyTorch's
# _calculate_fan_in_and_fan_out is wrong for the layer, or None where ours equals PyTorch's.
# PyTorch reads every weight as (out, in, *kernel) with no groups: fan_in = shape[1] * k,
# fan_out = shape[0] * k, with k the product of the remaining axes.
FAN_RULES: dict[str, tuple[str, int, tuple[int, int] | None]] = {
    "linear": ("out_in", 1, None),
    "conv1d": ("out_in", 1, None),
    "conv2d": ("out_in", 1, None),
    "conv2d_rect": ("out_in", 1, None),
    "conv3d": ("out_in", 1, None),
    # Grouped convs: shape[1] is already in/groups, so PyTorch's fan_in is right; but
    # shape[0] counts the outputs of every group, while an input reaches only the
    # out/groups outputs of its own group. Conv1d(6, 9, 5, groups=3): (9, 2, 5), each input
    # feeds 9/3 = 3 outputs at 5 positions: fan_out = 15, not PyTorch's 45.
    "conv1d_groups3": ("out_in", 3, (10, 15)),
    # Conv2d(16, 32, 3, groups=2): (32, 8, 3, 3): fan_out = 16 * 9 = 144, not 288.
    "conv2d_groups2": ("out_in", 2, (72, 144)),
    # Conv3d(4, 8, 3, groups=2): (8, 2, 3, 3, 3): fan_out = 4 * 27 = 108, not 216.
    "conv3d_groups2": ("out_in", 2, (54, 108)),
    # Depthwise Conv2d(8, 8, 3, groups=8): (8, 1, 3, 3): each input feeds one output:
    # fan_out = 1 * 9 = 9, not 72.
    "conv2d_depthwise": ("out_in", 8, (9, 9)),
    # Depthwise with multiplier 2, Conv2d(4, 8, 3, groups=4): fan_out = 2 * 9 = 18, not 72.
    "conv2d_depthwise_x2": ("out_in", 4, (9, 18)),
    # Transposed convs store (in, out/groups, *kernel): PyTorch's "fan_in" (shape[1] * k) is
    # the per-group output count times the kernel, i.e. the true fan_out, and its "fan_out"
    # (shape[0] * k) is the fan_in, ignoring groups. ConvTranspose1d(8, 4, 5): (8, 4, 5):
    # fan_in = 8 * 5 = 40, fan_out = 4 * 5 = 20; PyTorch gives (20, 40).
    "conv_transpose1d": ("pytorch_transposed", 1, (40, 20)),
    # ConvTranspose1d(8, 12, 3, groups=4): (8, 3, 3): fan_in = 8/4 * 3 = 6, fan_out = 3 * 3
    # = 9; PyTorch gives (9, 24).
    "conv_transpose1d_groups4": ("pytorch_transposed", 4, (6, 9)),
    # ConvTranspose2d(16, 32, 3): (16, 32, 3, 3): (144, 288); PyTorch gives (288, 144).
    "conv_transpose2d": ("pytorch_transposed", 1, (144, 288)),
    # ConvTranspose2d(16, 32, 3, groups=2): (16, 16, 3, 3): fan_in = 8 * 9 = 72,
    # fan_out = 16 * 9 = 144; PyTorch gives (144, 144).
    "conv_transpose2d_groups2": ("pytorch_transposed", 2, (72, 144)),
    # ConvTranspose3d(4, 6, 2): (4, 6, 2, 2, 2): (32, 48); PyTorch gives (48, 32).
    "conv_transpose3d": ("pytorch_transposed", 1, (32, 48)),
    # An embedding table (num, dim) is looked up as one_hot(index) @ table, an (in, out)
    # weight: fan_in = num = 1000, fan_out = dim = 64. PyTorch reads it as (out, in) and gives
    # (64, 1000); its own default (N(0, 1)) uses no fan, so only explicit kaiming_/xavier_
    # calls on an embedding see the difference.
    "embedding": ("in_out", 1, (1000, 64)),
    # Recurrent weights (gates * hidden, in): PyTorch's reading, with the gates fused into
    # the output count; the presets for them use the hidden size, not fans.
    "lstm_ih": ("out_in", 1, None),
    "lstm_hh": ("out_in", 1, None),
    "gru_ih": ("out_in", 1, None),
}


def check_fans(record: dict[str, Any], torch_fans: tuple[int, int]) -> None:
    """Our fans of ``record``'s shape: PyTorch's where it is right, else the correction."""
    layout, groups, corrected = FAN_RULES[record["id"]]
    ours = wi.fans(record["shape"], layout=layout, groups=groups)
    if corrected is None:
        assert (ours.fan_in, ours.fan_out) == tuple(torch_fans)
    else:
        assert (ours.fan_in, ours.fan_out) == corrected
        assert corrected != tuple(torch_fans), "a documented correction equals PyTorch's value"
        # The receptive field, and the product rule behind both, are the same.
        k = math.prod(record["shape"][2:])
        assert ours.receptive_field == k


def test_fan_table_covers_the_reference() -> None:
    assert set(FAN_RULES) == set(_ids("fans"))


@pytest.mark.parametrize("record", _records("fans"))
def test_fans_match_recorded_pytorch(record: dict[str, Any]) -> None:
    check_fans(record, (record["fan_in"], record["fan_out"]))


@pytest.mark.parametrize("layer", ["conv2d_depthwise", "conv2d_depthwise_x2"])
def test_depthwise_correction_equals_keras_depthwise_layout(layer: str) -> None:
    # The same depthwise kernel as Keras stores it, (kh, kw, in, multiplier), has the fans we
    # give PyTorch's grouped (in * multiplier, 1, kh, kw) weight.
    record = next(r for r in REFERENCE["fans"] if r["id"] == layer)
    out, _, kh, kw = record["shape"]
    channels = record["args"][0]
    keras = wi.fans((kh, kw, channels, out // channels), layout="keras_depthwise")
    torch_layout = wi.fans(record["shape"], layout="out_in", groups=channels)
    assert keras == torch_layout


def test_transposed_preset_fan_is_pytorchs_fan_in() -> None:
    # What PyTorch calls fan_in of a transposed weight (and scales its default by) is our
    # fan_out, groups included: the preset scales by fan_out for that reason.
    for record in REFERENCE["fans"]:
        if record["layer"].startswith("ConvTranspose"):
            layout, groups, _ = FAN_RULES[record["id"]]
            ours = wi.fans(record["shape"], layout=layout, groups=groups)
            assert ours.fan_out == record["fan_in"]


# --------------------------------------------------------------------------- gains


def check_gain(record: dict[str, Any]) -> None:
    params = {} if record["param"] is None else {"negative_slope": record["param"]}
    ours = wi.gain(record["nonlinearity"], convention="pytorch", **params)
    assert ours == record["gain"]


@pytest.mark.parametrize("record", _records("gains"))
def test_pytorch_gains_equal_recorded_calculate_gain(record: dict[str, Any]) -> None:
    check_gain(record)


# --------------------------------------------------------------------------- distributions


def _standardised_kurtosis(
    init: Initializer, shape: tuple[int, ...], layout: str, groups: int
) -> float:
    """The fourth standardised moment of one element (its mixture form for ``sparse``)."""
    if isinstance(init, Orthogonal):
        return 3.0  # entries of a Haar matrix are close to normal
    if isinstance(init, Sparse):
        # A fraction p of N(0, s^2) values, the rest zeros: E[x^4] / E[x^2]^2 = 3 / p.
        kept = init.variance(shape, layout=layout) / init.stddev**2
        return 3.0 / kept
    dist = init.recipe(shape, layout=layout, groups=groups)
    if isinstance(dist, distributions.UniformDistribution):
        return 9.0 / 5.0
    if isinstance(dist, distributions.TruncatedNormalDistribution) and dist.bound < 8.0:
        b = dist.bound
        m2 = truncated_variance(b)
        tail = 2.0 * math.exp(-0.5 * b * b) / math.sqrt(2.0 * math.pi) / math.erf(b / math.sqrt(2))
        m4 = 3.0 * m2 - b**3 * tail
        return m4 / (m2 * m2)
    return 3.0


def _mean(init: Initializer) -> float:
    if isinstance(init, families.Uniform):
        return (init.low + init.high) / 2.0
    return float(getattr(init, "mean", 0.0))


def check_distribution(
    stats: dict[str, Any], init: Initializer, layout: str = "in_out", groups: int = 1
) -> None:
    """``stats`` (n, mean, std, absmax of a PyTorch tensor) are a sample of ``init``."""
    shape = tuple(stats["shape"])
    n = stats["n"]
    sigma = math.sqrt(init.variance(shape, layout=layout, groups=groups))
    kurtosis = _standardised_kurtosis(init, shape, layout, groups)
    std_error = sigma * math.sqrt((kurtosis - 1.0) / (4.0 * n))
    assert abs(stats["std"] - sigma) <= Z * std_error, (stats["std"], sigma, std_error)
    assert abs(stats["mean"] - _mean(init)) <= Z * sigma / math.sqrt(n)
    if isinstance(init, (Orthogonal, Sparse)):
        return
    dist = init.recipe(shape, layout=layout, groups=groups)
    if isinstance(dist, distributions.UniformDistribution):
        edge, density = max(abs(dist.low), abs(dist.high)), 1.0 / (dist.high - dist.low)
    elif isinstance(dist, distributions.TruncatedNormalDistribution) and dist.bound < 8.0:
        edge = abs(dist.loc) + dist.bound * dist.std
        density = (
            math.exp(-0.5 * dist.bound**2)
            / math.sqrt(2.0 * math.pi)
            / (dist.std * math.erf(dist.bound / math.sqrt(2.0)))
        )
    else:
        # Not truncated (or truncated too far out to matter): values beyond 3 standard
        # deviations occur; with n >= 10^4 the chance that none does is below e^-27. This is
        # what tells PyTorch's kaiming_normal_ from Keras' truncated he_normal.
        if n >= 10_000:
            assert stats["absmax"] > abs(_mean(init)) + 3.0 * sigma
        return
    # Bounded: nothing beyond the edge (float32 rounding aside), and the largest of n values
    # lies within delta of it, where P(none in the last delta) = exp(-n density delta) = e^-30.
    assert stats["absmax"] <= edge * (1.0 + 1e-6)
    assert stats["absmax"] >= edge - 30.0 / (n * density)


#: PyTorch init call id -> (our initializer with the same distribution, layout to read it in).
INIT_EQUIVALENTS: dict[str, tuple[Initializer, str]] = {
    "kaiming_normal": (wi.he_normal(), "out_in"),
    "kaiming_normal_fan_out": (wi.he_normal(mode="fan_out"), "out_in"),
    "kaiming_normal_relu": (wi.he_normal(), "out_in"),
    "kaiming_normal_a0.2": (wi.he_normal(negative_slope=0.2), "out_in"),
    "kaiming_normal_conv_fan_out": (wi.he_normal(mode="fan_out"), "out_in"),
    "kaiming_uniform": (wi.he_uniform(), "out_in"),
    "kaiming_uniform_fan_out": (wi.he_uniform(mode="fan_out"), "out_in"),
    "kaiming_uniform_a_sqrt5": (preset("pytorch.linear"), "out_in"),
    "kaiming_uniform_conv_relu": (wi.he_uniform(), "out_in"),
    "xavier_normal": (wi.glorot_normal(), "out_in"),
    "xavier_normal_gain_5/3": (wi.glorot_normal(gain=5.0 / 3.0), "out_in"),
    "xavier_uniform": (wi.glorot_uniform(), "out_in"),
    "xavier_uniform_gain_sqrt2": (wi.glorot_uniform(gain=math.sqrt(2.0)), "out_in"),
    "xavier_uniform_conv": (wi.glorot_uniform(), "out_in"),
    # trunc_normal_'s a and b are absolute values, not standard deviations.
    "trunc_normal_default": (wi.truncated_normal(stddev=1.0), "out_in"),
    "trunc_normal_2std": (wi.truncated_normal(stddev=0.02), "out_in"),
    # std=0.02 with the default a=-2, b=2 cuts at 100 standard deviations: a plain normal.
    "trunc_normal_std_only": (wi.truncated_normal(stddev=0.02, bound=100.0), "out_in"),
    "trunc_normal_shifted": (wi.truncated_normal(stddev=0.1, mean=0.5), "out_in"),
    "normal": (wi.scaled_normal(0.02), "out_in"),
    "uniform": (wi.uniform(-0.1, 0.1), "out_in"),
    "orthogonal_wide": (wi.orthogonal(), "out_in"),
    "orthogonal_tall_gain2": (wi.orthogonal(2.0), "out_in"),
    "orthogonal_conv": (wi.orthogonal(), "out_in"),
    # sparse_ zeroes ceil(sparsity * rows) of every *column* of its (rows, cols) tensor:
    # read as in_out, each column is one unit with `rows` inputs, as our sparse counts.
    "sparse": (wi.sparse(0.9, 0.01), "in_out"),
}


def check_init(record: dict[str, Any]) -> None:
    init, layout = INIT_EQUIVALENTS[record["id"]]
    shape = tuple(record["shape"])
    check_distribution(record, init, layout)
    if record["formula_std"] is not None:
        # PyTorch's formula on PyTorch's fans equals our exact variance: no sampling here.
        ours = math.sqrt(init.variance(shape, layout=layout))
        assert ours == pytest.approx(record["formula_std"], rel=1e-12)
        dist = init.recipe(shape, layout=layout)
        if isinstance(dist, distributions.UniformDistribution):
            assert dist.high == pytest.approx(math.sqrt(3.0) * record["formula_std"], rel=1e-12)


def test_init_table_covers_the_reference() -> None:
    assert set(INIT_EQUIVALENTS) == set(_ids("inits"))


@pytest.mark.parametrize("record", _records("inits"))
def test_init_functions_match_recorded_pytorch(record: dict[str, Any]) -> None:
    check_init(record)


def test_keras_and_pytorch_he_normal_differ_only_in_truncation() -> None:
    torch_he = wi.he_normal()
    keras_he = wi.variance_scaling(2.0, "fan_in", "truncated_normal")
    shape = (256, 512)
    assert torch_he.variance(shape) == keras_he.variance(shape)
    assert torch_he != keras_he
    # The recorded kaiming_normal_ tensor has values a truncated normal cannot produce.
    record = next(r for r in REFERENCE["inits"] if r["id"] == "kaiming_normal")
    keras_edge = 2.0 * math.sqrt(keras_he.variance(record["shape"], layout="out_in"))
    assert record["absmax"] > keras_edge / TRUNCATION_STD


# --------------------------------------------------------------------------- layers
# Layer id -> parameter name -> (preset, layout, groups). A bias preset takes the fan_in
# PyTorch reads from the weight; we compute it with our fans: fan_in for (out, in, *k)
# weights, fan_out for transposed ones (PyTorch's "fan_in" there, see FAN_RULES).
LAYER_PRESETS: dict[str, dict[str, tuple[str, str, int]]] = {
    "Linear": {"weight": ("pytorch.linear", "out_in", 1), "bias": ("pytorch.linear.bias", "", 0)},
    "Conv1d": {"weight": ("pytorch.conv1d", "out_in", 1), "bias": ("pytorch.conv1d.bias", "", 0)},
    "Conv2d": {"weight": ("pytorch.conv2d", "out_in", 1), "bias": ("pytorch.conv2d.bias", "", 0)},
    "Conv2d_groups4": {
        "weight": ("pytorch.conv2d", "out_in", 4),
        "bias": ("pytorch.conv2d.bias", "", 0),
    },
    "Conv3d": {"weight": ("pytorch.conv3d", "out_in", 1), "bias": ("pytorch.conv3d.bias", "", 0)},
    "ConvTranspose2d": {
        "weight": ("pytorch.conv_transpose2d", "pytorch_transposed", 1),
        "bias": ("pytorch.conv_transpose2d.bias", "", 0),
    },
    "ConvTranspose2d_groups2": {
        "weight": ("pytorch.conv_transpose2d", "pytorch_transposed", 2),
        "bias": ("pytorch.conv_transpose2d.bias", "", 0),
    },
    "Embedding": {"weight": ("pytorch.embedding", "in_out", 1)},
    "LSTM": {
        "weight_ih_l0": ("pytorch.lstm", "out_in", 1),
        "weight_hh_l0": ("pytorch.lstm", "out_in", 1),
        "bias_ih_l0": ("pytorch.lstm.bias", "out_in", 1),
        "bias_hh_l0": ("pytorch.lstm.bias", "out_in", 1),
    },
    "GRU": {
        "weight_ih_l0": ("pytorch.gru", "out_in", 1),
        "weight_hh_l0": ("pytorch.gru", "out_in", 1),
        "bias_ih_l0": ("pytorch.gru.bias", "out_in", 1),
        "bias_hh_l0": ("pytorch.gru.bias", "out_in", 1),
    },
}


def _bias_fan_in(layer: dict[str, Any], presets: dict[str, tuple[str, str, int]]) -> int:
    _, layout, groups = presets["weight"]
    weight = wi.fans(layer["params"]["weight"]["shape"], layout=layout, groups=groups)
    return weight.fan_out if layout == "pytorch_transposed" else weight.fan_in


def check_layer(layer: dict[str, Any]) -> None:
    presets = LAYER_PRESETS[layer["id"]]
    assert set(presets) == set(layer["params"])
    for param, stats in layer["params"].items():
        name, layout, groups = presets[param]
        if layout == "":  # a fan_in bias: the fan comes from the weight
            fan_in = _bias_fan_in(layer, presets)
            init = preset(name, fan_in)
            assert init == fan_in_bias(fan_in)
            check_distribution(stats, init)
        else:
            assert wi.presets.PRESET_LAYOUTS[name] == layout
            check_distribution(stats, preset(name), layout, groups)


def test_layer_table_covers_the_reference() -> None:
    assert set(LAYER_PRESETS) == set(_ids("layers"))


@pytest.mark.parametrize("record", _records("layers"))
def test_layer_defaults_match_recorded_pytorch(record: dict[str, Any]) -> None:
    check_layer(record)


def test_reference_was_made_by_the_current_recipes() -> None:
    # The recorded cases are exactly those the generator script lists, in order.
    assert _ids("fans") == [c[0] for c in RECIPES.FAN_CASES]
    assert _ids("gains") == [c[0] for c in RECIPES.GAIN_CASES]
    assert _ids("inits") == [c[0] for c in RECIPES.INIT_CASES]
    assert _ids("layers") == [c[0] for c in RECIPES.LAYER_CASES]
    for record, (_, function, kwargs, shape, seed) in zip(
        REFERENCE["inits"], RECIPES.INIT_CASES, strict=True
    ):
        assert (record["function"], record["kwargs"], record["shape"], record["seed"]) == (
            function,
            kwargs,
            shape,
            seed,
        )
    assert REFERENCE["torch_version"].startswith("2.13.0")
    assert (DATA / "torch_reference.json").stat().st_size < 100_000


# --------------------------------------------------------------------------- live PyTorch

#: Offset added to the recorded seeds, so the live checks draw fresh tensors.
LIVE_SEED_OFFSET = 1000


@pytest.fixture(scope="module")
def torch() -> Any:
    return pytest.importorskip("torch")


@pytest.mark.parametrize("record", _records("fans"))
def test_live_fans(torch: Any, record: dict[str, Any]) -> None:
    layer = RECIPES.make_layer(torch, record["layer"], record["args"], record["kwargs"])
    weight = getattr(layer, record["param"])
    assert list(weight.shape) == record["shape"]
    check_fans(record, torch.nn.init._calculate_fan_in_and_fan_out(weight))


@pytest.mark.parametrize("record", _records("gains"))
def test_live_gains(torch: Any, record: dict[str, Any]) -> None:
    case = (record["id"], record["nonlinearity"], record["param"])
    check_gain(RECIPES.gain_record(torch, case))


@pytest.mark.parametrize("case", RECIPES.INIT_CASES, ids=[c[0] for c in RECIPES.INIT_CASES])
def test_live_init_functions(torch: Any, case: tuple[Any, ...]) -> None:
    check_init(RECIPES.init_record(torch, case, seed=case[-1] + LIVE_SEED_OFFSET))


@pytest.mark.parametrize("case", RECIPES.LAYER_CASES, ids=[c[0] for c in RECIPES.LAYER_CASES])
def test_live_layer_defaults(torch: Any, case: tuple[Any, ...]) -> None:
    check_layer(RECIPES.layer_record(torch, case, seed=case[-1] + LIVE_SEED_OFFSET))


def test_live_recorded_version_reproduces(torch: Any) -> None:
    if torch.__version__ != REFERENCE["torch_version"]:
        pytest.skip(
            f"installed torch {torch.__version__} is not the recorded {REFERENCE['torch_version']}"
        )
    rebuilt = json.loads(json.dumps(RECIPES.build(torch)))
    assert rebuilt.keys() == REFERENCE.keys()
    for section, records in REFERENCE.items():
        if not isinstance(records, list):
            assert rebuilt[section] == records, section
            continue
        for ours, recorded in zip(rebuilt[section], records, strict=True):
            # orthogonal_ goes through LAPACK's QR, whose float32 result may change in the
            # last bits with the BLAS thread count; the other samplers are elementwise.
            rel = 1e-5 if recorded.get("function") == "orthogonal_" else 1e-12
            assert _close(ours, recorded, rel), (section, recorded["id"], ours, recorded)


def _close(a: Any, b: Any, rel: float) -> bool:
    """Equal, floats to ``rel`` (the exp/log behind PyTorch's samplers may differ in the
    last bit between CPUs)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, rel) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)
