"""Record PyTorch's fans, gains and initialised-tensor statistics in ``torch_reference.json``.

Run it with PyTorch installed (CI pins ``torch==2.13.0``, CPU)::

    python tests/data/make_torch_reference.py

``tests/test_torch_parity.py`` compares weightinit with the recorded values when PyTorch is
absent, and with the installed PyTorch, through the recipes below, when it is present. The
recipes are plain data (layer constructors, init function names, keyword arguments, shapes,
seeds), so the file says exactly what was measured.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("torch_reference.json")

#: Weights whose fans are recorded: (id, torch.nn layer, args, kwargs, parameter name).
FAN_CASES: list[tuple[str, str, list[Any], dict[str, Any], str]] = [
    ("linear", "Linear", [784, 256], {}, "weight"),
    ("conv1d", "Conv1d", [16, 33, 3], {}, "weight"),
    ("conv2d", "Conv2d", [32, 64, 3], {}, "weight"),
    ("conv2d_rect", "Conv2d", [3, 64, [7, 5]], {}, "weight"),
    ("conv3d", "Conv3d", [4, 8, 3], {}, "weight"),
    ("conv1d_groups3", "Conv1d", [6, 9, 5], {"groups": 3}, "weight"),
    ("conv2d_groups2", "Conv2d", [16, 32, 3], {"groups": 2}, "weight"),
    ("conv3d_groups2", "Conv3d", [4, 8, 3], {"groups": 2}, "weight"),
    ("conv2d_depthwise", "Conv2d", [8, 8, 3], {"groups": 8}, "weight"),
    ("conv2d_depthwise_x2", "Conv2d", [4, 8, 3], {"groups": 4}, "weight"),
    ("conv_transpose1d", "ConvTranspose1d", [8, 4, 5], {}, "weight"),
    ("conv_transpose1d_groups4", "ConvTranspose1d", [8, 12, 3], {"groups": 4}, "weight"),
    ("conv_transpose2d", "ConvTranspose2d", [16, 32, 3], {}, "weight"),
    ("conv_transpose2d_groups2", "ConvTranspose2d", [16, 32, 3], {"groups": 2}, "weight"),
    ("conv_transpose3d", "ConvTranspose3d", [4, 6, 2], {}, "weight"),
    ("embedding", "Embedding", [1000, 64], {}, "weight"),
    ("lstm_ih", "LSTM", [64, 128], {}, "weight_ih_l0"),
    ("lstm_hh", "LSTM", [64, 128], {}, "weight_hh_l0"),
    ("gru_ih", "GRU", [64, 96], {}, "weight_ih_l0"),
]

#: calculate_gain calls: (id, nonlinearity, param).
GAIN_CASES: list[tuple[str, str, float | None]] = [
    ("linear", "linear", None),
    ("conv1d", "conv1d", None),
    ("conv2d", "conv2d", None),
    ("conv3d", "conv3d", None),
    ("conv_transpose1d", "conv_transpose1d", None),
    ("conv_transpose2d", "conv_transpose2d", None),
    ("conv_transpose3d", "conv_transpose3d", None),
    ("sigmoid", "sigmoid", None),
    ("tanh", "tanh", None),
    ("relu", "relu", None),
    ("leaky_relu", "leaky_relu", None),
    ("leaky_relu_0.2", "leaky_relu", 0.2),
    ("selu", "selu", None),
]

_DENSE = [256, 512]
_CONV = [64, 32, 3, 3]

#: torch.nn.init calls: (id, function, kwargs, shape, seed).
INIT_CASES: list[tuple[str, str, dict[str, Any], list[int], int]] = [
    ("kaiming_normal", "kaiming_normal_", {}, _DENSE, 1),
    ("kaiming_normal_fan_out", "kaiming_normal_", {"mode": "fan_out"}, _DENSE, 2),
    ("kaiming_normal_relu", "kaiming_normal_", {"nonlinearity": "relu"}, _DENSE, 3),
    ("kaiming_normal_a0.2", "kaiming_normal_", {"a": 0.2}, _DENSE, 4),
    (
        "kaiming_normal_conv_fan_out",
        "kaiming_normal_",
        {"mode": "fan_out", "nonlinearity": "relu"},
        _CONV,
        5,
    ),
    ("kaiming_uniform", "kaiming_uniform_", {}, _DENSE, 6),
    ("kaiming_uniform_fan_out", "kaiming_uniform_", {"mode": "fan_out"}, _DENSE, 7),
    ("kaiming_uniform_a_sqrt5", "kaiming_uniform_", {"a": math.sqrt(5.0)}, _DENSE, 8),
    ("kaiming_uniform_conv_relu", "kaiming_uniform_", {"nonlinearity": "relu"}, _CONV, 9),
    ("xavier_normal", "xavier_normal_", {}, _DENSE, 10),
    ("xavier_normal_gain_5/3", "xavier_normal_", {"gain": 5.0 / 3.0}, _DENSE, 11),
    ("xavier_uniform", "xavier_uniform_", {}, _DENSE, 12),
    ("xavier_uniform_gain_sqrt2", "xavier_uniform_", {"gain": math.sqrt(2.0)}, _DENSE, 13),
    ("xavier_uniform_conv", "xavier_uniform_", {}, _CONV, 14),
    ("trunc_normal_default", "trunc_normal_", {}, _DENSE, 15),
    ("trunc_normal_2std", "trunc_normal_", {"std": 0.02, "a": -0.04, "b": 0.04}, _DENSE, 16),
    ("trunc_normal_std_only", "trunc_normal_", {"std": 0.02}, _DENSE, 17),
    (
        "trunc_normal_shifted",
        "trunc_normal_",
        {"mean": 0.5, "std": 0.1, "a": 0.3, "b": 0.7},
        _DENSE,
        18,
    ),
    ("normal", "normal_", {"mean": 0.0, "std": 0.02}, _DENSE, 19),
    ("uniform", "uniform_", {"a": -0.1, "b": 0.1}, _DENSE, 20),
    ("orthogonal_wide", "orthogonal_", {}, [128, 256], 21),
    ("orthogonal_tall_gain2", "orthogonal_", {"gain": 2.0}, [256, 128], 22),
    ("orthogonal_conv", "orthogonal_", {}, _CONV, 23),
    ("sparse", "sparse_", {"sparsity": 0.9, "std": 0.01}, [200, 100], 24),
]

#: Default-initialised layers: (id, torch.nn layer, args, kwargs, seed).
LAYER_CASES: list[tuple[str, str, list[Any], dict[str, Any], int]] = [
    ("Linear", "Linear", [512, 256], {}, 31),
    ("Conv1d", "Conv1d", [32, 64, 5], {}, 32),
    ("Conv2d", "Conv2d", [32, 64, 3], {}, 33),
    ("Conv2d_groups4", "Conv2d", [32, 64, 3], {"groups": 4}, 34),
    ("Conv3d", "Conv3d", [16, 32, 3], {}, 35),
    ("ConvTranspose2d", "ConvTranspose2d", [32, 64, 3], {}, 36),
    ("ConvTranspose2d_groups2", "ConvTranspose2d", [64, 128, 3], {"groups": 2}, 37),
    ("Embedding", "Embedding", [1000, 64], {}, 38),
    ("LSTM", "LSTM", [64, 128], {}, 39),
    ("GRU", "GRU", [64, 96], {}, 40),
]


def _args(torch: Any, args: list[Any]) -> list[Any]:
    # JSON has no tuples; a kernel size given as a list is a tuple to PyTorch.
    return [tuple(a) if isinstance(a, list) else a for a in args]


def make_layer(torch: Any, layer: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Build ``torch.nn.<layer>(*args, **kwargs)``."""
    return getattr(torch.nn, layer)(*_args(torch, args), **kwargs)


def statistics(tensor: Any) -> dict[str, Any]:
    """Size, mean, standard deviation (with Bessel's correction) and largest magnitude.

    Sums are exact (``math.fsum`` in float64), so the numbers do not depend on how many
    threads PyTorch or NumPy would have split a reduction into.
    """
    values = tensor.detach().double().numpy().ravel()
    n = values.size
    mean = math.fsum(values) / n
    squares = (values - mean) ** 2
    return {
        "shape": list(tensor.shape),
        "n": n,
        "mean": mean,
        "std": math.sqrt(math.fsum(squares) / (n - 1)),
        "absmax": float(abs(values).max()),
    }


def fan_record(torch: Any, case: tuple[str, str, list[Any], dict[str, Any], str]) -> dict[str, Any]:
    name, layer, args, kwargs, param = case
    weight = getattr(make_layer(torch, layer, args, kwargs), param)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    return {
        "id": name,
        "layer": layer,
        "args": args,
        "kwargs": kwargs,
        "param": param,
        "shape": list(weight.shape),
        "fan_in": fan_in,
        "fan_out": fan_out,
    }


def gain_record(torch: Any, case: tuple[str, str, float | None]) -> dict[str, Any]:
    name, nonlinearity, param = case
    value = torch.nn.init.calculate_gain(nonlinearity, param)
    return {"id": name, "nonlinearity": nonlinearity, "param": param, "gain": float(value)}


def formula_std(torch: Any, function: str, kwargs: dict[str, Any], tensor: Any) -> float | None:
    """The standard deviation PyTorch's own code computes for ``function`` (None if none).

    These lines repeat PyTorch's ``kaiming_*_`` and ``xavier_*_`` with its private helpers,
    so the recorded value is PyTorch's formula evaluated on PyTorch's fans.
    """
    init = torch.nn.init
    if function.startswith("kaiming_"):
        fan = init._calculate_correct_fan(tensor, kwargs.get("mode", "fan_in"))
        gain = init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
        return float(gain / math.sqrt(fan))
    if function.startswith("xavier_"):
        fan_in, fan_out = init._calculate_fan_in_and_fan_out(tensor)
        return float(kwargs.get("gain", 1.0) * math.sqrt(2.0 / float(fan_in + fan_out)))
    return None


def init_record(
    torch: Any, case: tuple[str, str, dict[str, Any], list[int], int], seed: int | None = None
) -> dict[str, Any]:
    name, function, kwargs, shape, case_seed = case
    torch.manual_seed(case_seed if seed is None else seed)
    tensor = torch.empty(*shape)
    getattr(torch.nn.init, function)(tensor, **kwargs)
    return {
        "id": name,
        "function": function,
        "kwargs": kwargs,
        "seed": case_seed if seed is None else seed,
        "formula_std": formula_std(torch, function, kwargs, tensor),
        **statistics(tensor),
    }


def layer_record(
    torch: Any, case: tuple[str, str, list[Any], dict[str, Any], int], seed: int | None = None
) -> dict[str, Any]:
    name, layer, args, kwargs, case_seed = case
    torch.manual_seed(case_seed if seed is None else seed)
    module = make_layer(torch, layer, args, kwargs)
    return {
        "id": name,
        "layer": layer,
        "args": args,
        "kwargs": kwargs,
        "seed": case_seed if seed is None else seed,
        "params": {p: statistics(t) for p, t in module.named_parameters()},
    }


def build(torch: Any) -> dict[str, Any]:
    """Every record, keyed by section, with the PyTorch version they came from."""
    return {
        "torch_version": torch.__version__,
        "generator": "tests/data/make_torch_reference.py",
        "fans": [fan_record(torch, c) for c in FAN_CASES],
        "gains": [gain_record(torch, c) for c in GAIN_CASES],
        "inits": [init_record(torch, c) for c in INIT_CASES],
        "layers": [layer_record(torch, c) for c in LAYER_CASES],
    }


def main() -> None:
    import torch

    text = json.dumps(build(torch), indent=1, sort_keys=False) + "\n"
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text.encode())} bytes, torch {torch.__version__})")


if __name__ == "__main__":
    main()
