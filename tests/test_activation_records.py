"""One record per activation: what a registered activation gets through every public function,
the checks ``register_activation`` makes, and the completeness of the built-in table.

Every test that registers an activation does it in an isolated copy of the table, so that
nothing it adds outlives it.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import string
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import weightinit as wi

# ``weightinit.activations`` is the function re-exported by the package; the module itself
# is reached through importlib (or ``from weightinit._activations import ...``).
acts = importlib.import_module("weightinit._activations")
recommend_module = importlib.import_module("weightinit._recommend")

BUILTIN: dict[str, tuple[str, ...]] = dict(wi.activations())


@pytest.fixture
def isolated_activations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Activations registered by a test disappear after it, whatever order tests run in."""
    monkeypatch.setattr(acts, "_TABLE", dict(acts._TABLE))
    monkeypatch.setattr(acts, "_LOOKUP", dict(acts._LOOKUP))


def hard_sigmoid(x: np.ndarray) -> np.ndarray:
    return np.clip(x / 6.0 + 0.5, 0.0, 1.0)


def leaky(x: np.ndarray, negative_slope: float = 0.1) -> np.ndarray:
    return np.where(x >= 0, x, negative_slope * x)


def leaky_pytorch_gain(negative_slope: float = 0.1) -> float:
    return math.sqrt(2.0 / (1.0 + negative_slope**2))


# --------------------------------------------------------------------------- every fact


@pytest.mark.usefixtures("isolated_activations")
def test_a_registered_activation_gets_every_fact_a_builtin_gets() -> None:
    wi.register_activation(
        "Rec-Hard-Sigmoid",
        hard_sigmoid,
        derivative=lambda x: np.where(np.abs(x) < 3.0, 1.0 / 6.0, 0.0),
        aliases=("rec_hsig",),
        family="glorot",
        pytorch_gain=lambda: 1.0,
        saturation=lambda h, a: (a <= 0.0) | (a >= 1.0),
        caveats=(
            "{name} is not zero-centred; PyTorch's gain {pytorch_gain} is {pytorch_excess:.0%} "
            "off its gain {gain:.4f}.",
        ),
    )
    name = "rec_hard_sigmoid"
    entry = acts.lookup("REC_HSIG")
    assert entry.name == name
    assert (entry.family, entry.parameters) == ("glorot", ())
    assert wi.activations()[name] == ("rec_hsig",)

    g = wi.gain(name)
    assert g == wi.gain(hard_sigmoid)
    assert wi.gain("rec_hsig", convention="pytorch") == 1.0

    assert wi.recommend(name) == wi.glorot_uniform()
    assert wi.recommend(name, distribution="normal") == wi.glorot_normal()

    text = wi.explain(name)
    lines = text.splitlines()
    assert lines[0] == f"{name}: glorot_uniform()"
    assert "Glorot & Bengio (2010)" in text
    assert f"Second-moment gain: {g:.6f}, shown for reference" in text
    caveat = " ".join(text.split("Caveat: ")[1].split())
    assert caveat == (
        f"{name} is not zero-centred; PyTorch's gain 1.0 is {1.0 / g - 1.0:.0%} off its gain "
        f"{g:.4f}."
    )

    # Weights of variance 4 / fan_in push most pre-activations beyond +-3.
    report = wi.diagnose(wi.scaled_normal(2.0), name, depth=3, seed=0)
    assert all(layer.saturated > 0.3 for layer in report.layers)
    assert report.verdict == "saturated"
    unmarked = wi.diagnose(wi.scaled_normal(2.0), hard_sigmoid, depth=3, seed=0)
    assert [s.std for s in unmarked.layers] == [s.std for s in report.layers]


@pytest.mark.usefixtures("isolated_activations")
def test_the_saturation_test_gets_the_pre_activation_first() -> None:
    # h < 0 holds for half of the pre-activations; a = f(h) >= 0 is never below 0.
    wi.register_activation("rec_order", hard_sigmoid, saturation=lambda h, a: h < 0.0)
    wi.register_activation("rec_order_a", hard_sigmoid, saturation=lambda h, a: a < 0.0)
    first = wi.diagnose("glorot_normal", "rec_order", depth=2, seed=1)
    second = wi.diagnose("glorot_normal", "rec_order_a", depth=2, seed=1)
    assert all(0.4 < layer.saturated < 0.6 for layer in first.layers)
    assert all(layer.saturated == 0.0 for layer in second.layers)


@pytest.mark.usefixtures("isolated_activations")
def test_an_activation_without_a_saturation_test_never_saturates() -> None:
    wi.register_activation("rec_plain", hard_sigmoid)
    report = wi.diagnose(wi.scaled_normal(2.0), "rec_plain", depth=3, seed=0)
    assert all(layer.saturated == 0.0 for layer in report.layers)


@pytest.mark.usefixtures("isolated_activations")
def test_the_he_family_reads_the_negative_slope_parameter() -> None:
    wi.register_activation(
        "rec_leaky", leaky, family="he", pytorch_gain=leaky_pytorch_gain, derivative=None
    )
    assert acts.lookup("rec_leaky").parameters == ("negative_slope",)
    assert wi.recommend("rec_leaky") == wi.he_normal(negative_slope=0.1)
    assert wi.recommend("rec_leaky", negative_slope=0.3) == wi.he_normal(negative_slope=0.3)
    assert wi.recommend("rec_leaky", distribution="uniform") == wi.he_uniform(negative_slope=0.1)
    assert wi.gain("rec_leaky", convention="pytorch") == leaky_pytorch_gain(0.1)
    assert wi.gain("rec_leaky", convention="pytorch", negative_slope=0.3) == (
        leaky_pytorch_gain(0.3)
    )
    assert math.isclose(wi.gain("rec_leaky"), leaky_pytorch_gain(0.1), rel_tol=1e-9)
    text = wi.explain("rec_leaky", negative_slope=0.3)
    assert text.splitlines()[0] == "rec_leaky: he_normal(negative_slope=0.3)"
    assert "He et al. (2015)" in text
    assert "Caveat" not in text


@pytest.mark.usefixtures("isolated_activations")
def test_the_lecun_family_and_an_own_reason() -> None:
    wi.register_activation(
        "rec_scaled_tanh",
        lambda x: 1.7159 * np.tanh(2.0 * x / 3.0),
        family="LeCun",
        reason="LeCun et al. (1998) scaled tanh so that its gain, {gain:.3f}, is near 1.",
    )
    assert acts.lookup("rec_scaled_tanh").family == "lecun"
    assert wi.recommend("rec_scaled_tanh") == wi.lecun_normal()
    assert wi.recommend("rec_scaled_tanh", distribution="uniform") == wi.lecun_uniform()
    g = wi.gain("rec_scaled_tanh")
    lines = wi.explain("rec_scaled_tanh").splitlines()
    assert lines[1] == f"LeCun et al. (1998) scaled tanh so that its gain, {g:.3f}, is near 1."
    assert lines[2].startswith(f"Second-moment gain: {g:.6f}, shown for reference")


@pytest.mark.usefixtures("isolated_activations")
def test_the_lecun_family_without_a_reason_gets_the_familys() -> None:
    wi.register_activation("rec_lecun", np.tanh, family="lecun")
    assert "LeCun et al. (1998), 'Efficient BackProp'" in wi.explain("rec_lecun")


@pytest.mark.usefixtures("isolated_activations")
def test_the_default_family_is_the_activations_own_gain() -> None:
    wi.register_activation("rec_sin", np.sin, caveats=("periodic, so {name} is odd here.",))
    assert acts.lookup("rec_sin").family == "gain"
    assert wi.recommend("rec_sin") == wi.lecun_normal(gain="rec_sin")
    assert repr(wi.recommend("rec_sin")) == "lecun_normal(gain='rec_sin')"
    text = wi.explain("rec_sin")
    assert f"Its gain 1 / sqrt(E[f(z)^2]) = {wi.gain(np.sin):.6f}" in text
    assert text.splitlines()[-1] == "Caveat: periodic, so rec_sin is odd here."
    with pytest.raises(ValueError, match=r"does not define 'rec_sin'"):
        wi.gain("rec_sin", convention="pytorch")


@pytest.mark.usefixtures("isolated_activations")
def test_a_pytorch_gain_may_be_a_number() -> None:
    wi.register_activation("rec_number", np.tanh, pytorch_gain=1.5)
    assert wi.gain("rec_number", convention="pytorch") == 1.5
    # The message lists the activations of PyTorch's own table, not the user's.
    with pytest.raises(
        ValueError, match=r"it knows linear, sigmoid, tanh, relu, leaky_relu, selu\.$"
    ):
        wi.gain("gelu", convention="pytorch")


@pytest.mark.usefixtures("isolated_activations")
def test_an_own_recommendation_keeps_the_caveats_and_may_give_its_reason() -> None:
    wi.register_activation(
        "rec_custom",
        np.tanh,
        recommend=lambda: wi.orthogonal(),
        caveats=("orthogonal weights keep the spectrum flat.",),
    )
    lines = wi.explain("rec_custom").splitlines()
    assert lines[0] == "rec_custom: orthogonal()"
    assert lines[1] == "This activation was registered with its own recommendation."
    assert lines[-1] == "Caveat: orthogonal weights keep the spectrum flat."
    wi.register_activation(
        "rec_custom_reason", np.tanh, recommend=lambda: wi.orthogonal(), reason="Saxe et al."
    )
    assert wi.explain("rec_custom_reason").splitlines()[1] == "Saxe et al."


@pytest.mark.usefixtures("isolated_activations")
def test_the_old_signature_still_registers() -> None:
    wi.register_activation("rec_old", np.abs, derivative=np.sign, aliases=("rec_old_alias",))
    entry = acts.lookup("rec_old_alias")
    assert (entry.function, entry.derivative, entry.recommend) == (np.abs, np.sign, None)
    assert (entry.family, entry.pytorch_gain, entry.saturation) == ("gain", None, None)
    assert (entry.reason, entry.caveats) == (None, ())


# --------------------------------------------------------------------------- checks


def _boom(*args: Any) -> Any:
    return 1.0 / 0.0


@pytest.mark.parametrize(
    ("arguments", "error", "pattern"),
    [
        (
            {"family": "hee"},
            ValueError,
            r"family must be one of 'he', 'glorot', 'lecun', 'gain'; got 'hee'\. "
            r"Did you mean 'he'\?",
        ),
        ({"family": "xavier"}, ValueError, r"family must be one of .*; got 'xavier'\.$"),
        ({"family": 3}, ValueError, r"family must be one of .*; got 3\."),
        (
            {"family": "he", "recommend": lambda: wi.he_normal()},
            ValueError,
            r"give recommend or family='he', not both",
        ),
        ({"pytorch_gain": "1"}, TypeError, r"pytorch_gain must be a real number; got '1'"),
        ({"pytorch_gain": -1.0}, ValueError, r"pytorch_gain must be positive and finite; got -1"),
        ({"pytorch_gain": math.nan}, ValueError, r"pytorch_gain must be positive and finite"),
        (
            {"pytorch_gain": lambda: 0.0},
            ValueError,
            r"pytorch_gain\(\) gives no gain: ValueError: it must be positive and finite; got 0",
        ),
        (
            {"pytorch_gain": _boom},
            ValueError,
            r"pytorch_gain\(\) gives no gain: ZeroDivisionError",
        ),
        ({"saturation": 3}, TypeError, r"saturation must be callable or None; got 3"),
        (
            {"saturation": lambda h, a: h},
            ValueError,
            r"saturation\(h, a\) must give booleans of h's shape",
        ),
        (
            {"saturation": lambda h, a: True},
            ValueError,
            r"saturation\(h, a\) must give booleans of h's shape; got array\(True\)",
        ),
        ({"saturation": _boom}, ValueError, r"saturation\(h, a\) raised ZeroDivisionError"),
        ({"reason": 3}, TypeError, r"reason must be a non-empty string or None; got 3"),
        ({"reason": " "}, TypeError, r"reason must be a non-empty string or None; got ' '"),
        (
            {"reason": "its {gian}"},
            ValueError,
            r"reason or caveat 'its \{gian\}': unknown field 'gian'\. Its fields may be name, gain",
        ),
        ({"caveats": "one caveat"}, TypeError, r"caveats must be a tuple of non-empty strings"),
        ({"caveats": ("",)}, TypeError, r"caveats must be a tuple of non-empty strings"),
        (
            {"caveats": ("{pytorch_excess:.1%} too high",)},
            ValueError,
            r"unknown field 'pytorch_excess'.*\(pytorch_\* need a pytorch_gain\)",
        ),
        ({"caveats": ("E[f] = {",)}, ValueError, r"Single '\{' encountered"),
        ({"caveats": ("{gain:q}",)}, ValueError, r"Unknown format code 'q'"),
    ],
)
@pytest.mark.usefixtures("isolated_activations")
def test_bad_facts_are_refused_and_the_table_is_unchanged(
    arguments: dict[str, Any], error: type[Exception], pattern: str
) -> None:
    before = wi.activations()
    table = dict(acts._TABLE)
    with pytest.raises(error, match=pattern) as info:
        wi.register_activation("rec_bad", np.tanh, **arguments)
    assert type(info.value) is error
    assert wi.activations() == before
    assert table == acts._TABLE
    with pytest.raises(ValueError, match=r"got 'rec_bad'"):
        wi.gain("rec_bad")


def test_a_pytorch_gain_must_take_the_activations_parameters() -> None:
    with pytest.raises(ValueError, match=r"pytorch_gain\(beta=2\.0\) gives no gain: TypeError"):
        wi.register_activation(
            "rec_bad_params", lambda x, beta=2.0: beta * x, pytorch_gain=lambda: 1.0
        )
    assert "rec_bad_params" not in wi.activations()


def test_a_failing_function_leaves_no_trace_of_the_other_facts() -> None:
    with pytest.raises(ValueError, match=r"E\[f\(z\)\^2\] = 0"):
        wi.register_activation("rec_zero", np.zeros_like, family="he", caveats=("never",))
    assert "rec_zero" not in wi.activations()


# --------------------------------------------------------------------------- the built-ins


@pytest.mark.parametrize("name", sorted(BUILTIN))
@pytest.mark.usefixtures("isolated_activations")
def test_every_builtin_has_a_complete_record(name: str) -> None:
    entry = acts._TABLE[name]
    assert callable(entry.function)
    assert callable(entry.derivative)
    assert entry.family in acts.FAMILIES
    # The built-in passes the checks a user's record passes, and comes out unchanged: its
    # name and aliases normalised, its parameters those of its function, its PyTorch gain and
    # saturation test working, its reason and caveats using known fields only.
    del acts._TABLE[name]
    acts._rebuild_lookup()
    assert acts._checked(entry) == entry
    for text in (entry.reason or "", *entry.caveats):
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields <= set(acts.TEXT_FIELDS)


def test_every_family_has_a_reason() -> None:
    assert set(recommend_module._REASONS) == set(acts.FAMILIES)


def test_the_table_has_one_record_per_activation() -> None:
    names = [entry.name for entry in acts._BUILTINS]
    assert names == list(BUILTIN)
    assert all(isinstance(entry, acts.Activation) for entry in acts._BUILTINS)


def test_the_families_of_the_builtins() -> None:
    families = {name: acts._TABLE[name].family for name in BUILTIN}
    assert {n for n, f in families.items() if f == "he"} == {"relu", "leaky_relu"}
    assert {n for n, f in families.items() if f == "glorot"} == {"linear", "tanh", "sigmoid"}
    assert {n for n, f in families.items() if f == "lecun"} == {"selu"}


def test_pytorch_gains_and_saturation_tests_of_the_builtins() -> None:
    torch = {name for name in BUILTIN if acts._TABLE[name].pytorch_gain is not None}
    assert torch == {"linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"}
    saturating = {name for name in BUILTIN if acts._TABLE[name].saturation is not None}
    assert saturating == {"tanh", "sigmoid", "hard_tanh", "softsign", "relu6", "elu", "selu"}


SATURATION_POINTS: list[tuple[str, float, bool]] = [
    ("tanh", 2.7, True),
    ("tanh", 2.5, False),
    ("sigmoid", -4.7, True),
    ("sigmoid", 4.5, False),
    ("hard_tanh", -1.0, True),
    ("hard_tanh", 0.99, False),
    ("softsign", 100.0, True),
    ("softsign", 98.0, False),
    ("relu6", 6.0, True),
    ("relu6", 5.9, False),
    ("elu", -4.7, True),
    ("selu", -4.5, False),
]


@pytest.mark.parametrize(("name", "h", "saturated"), SATURATION_POINTS)
def test_builtin_saturation_tests(name: str, h: float, saturated: bool) -> None:
    entry = acts._TABLE[name]
    x = np.array([h])
    test: Callable[[np.ndarray, np.ndarray], np.ndarray] = entry.saturation  # type: ignore[assignment]
    assert bool(test(x, entry.function(x))[0]) is saturated


def test_records_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        acts._TABLE["tanh"].family = "he"  # type: ignore[misc]


@pytest.mark.usefixtures("isolated_activations")
def test_a_record_registers_as_the_same_facts_given_as_keywords() -> None:
    record = wi.Activation(
        "Rec-Record",
        hard_sigmoid,
        aliases=("rec_rec",),
        family="glorot",
        pytorch_gain=lambda: 1.0,
        saturation=lambda h, a: (a <= 0.0) | (a >= 1.0),
        caveats=("its gain is {gain:.3f}.",),
    )
    wi.register_activation(record)
    entry = acts.lookup("rec_rec")
    assert entry.name == "rec_record" and entry.aliases == ("rec_rec",)
    assert wi.recommend("rec_record") == wi.glorot_uniform()
    assert wi.gain("rec_record", convention="pytorch") == 1.0
    assert wi.explain("rec_record").splitlines()[-1] == (
        f"Caveat: its gain is {wi.gain('rec_record'):.3f}."
    )
    assert wi.gain("rec_record") == pytest.approx(wi.gain(hard_sigmoid), rel=1e-12)


@pytest.mark.usefixtures("isolated_activations")
def test_a_record_with_other_arguments_is_refused_and_registers_nothing() -> None:
    before = wi.activations()
    record = wi.Activation("rec_mixed", np.tanh)
    with pytest.raises(TypeError, match="an Activation record alone"):
        wi.register_activation(record, np.tanh)
    with pytest.raises(TypeError, match="an Activation record alone"):
        wi.register_activation(record, family="lecun")
    assert "rec_mixed" not in wi.activations()
    with pytest.raises(ValueError, match=r"family must be one of 'he', 'glorot'.*'lecun'"):
        wi.register_activation(wi.Activation("rec_mixed", np.tanh, family="lecunn"))
    assert wi.activations() == before
