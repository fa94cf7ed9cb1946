"""Every initializer prints as the public call that makes it.

``eval(repr(init), vars(weightinit))`` rebuilds an equal initializer (with the same hash),
``weightinit.get(init.get_config())`` does too, and the reprs of the common initializers are
pinned exactly.
"""

from __future__ import annotations

import json
import math

import pytest

import weightinit as wi
from weightinit.presets import PRESETS

#: Presets whose factory needs the weight's fan_in (PyTorch's biases).
NEEDS_FAN_IN = tuple(n for n in PRESETS if PRESETS[n][2].endswith("needs fan_in)"))


def _preset(name: str) -> wi.Initializer:
    return wi.presets.preset(name, fan_in=400) if name in NEEDS_FAN_IN else wi.presets.preset(name)


#: Every factory of the package, with its defaults and with other parameters.
FACTORY_CALLS: dict[str, wi.Initializer] = {
    "zeros()": wi.zeros(),
    "ones()": wi.ones(),
    "constant(0.5)": wi.constant(0.5),
    "constant(-3)": wi.constant(-3),
    "constant(0)": wi.constant(0),
    "normal()": wi.normal(),
    "normal(0.02)": wi.normal(0.02),
    "normal(0.5, mean=1.5)": wi.normal(0.5, 1.5),
    "scaled_normal()": wi.scaled_normal(),
    "scaled_normal(0.5, 1.5)": wi.scaled_normal(0.5, 1.5),
    "scaled_normal(mean=-2.0)": wi.scaled_normal(mean=-2.0),
    "uniform()": wi.uniform(),
    "uniform(-0.1, 0.1)": wi.uniform(-0.1, 0.1),
    "uniform(0, 1)": wi.uniform(0, 1),
    "truncated_normal()": wi.truncated_normal(),
    "truncated_normal(0.02)": wi.truncated_normal(0.02),
    "truncated_normal(0.1, 0.5, 3.0)": wi.truncated_normal(0.1, 0.5, 3.0),
    "truncated_normal(bound=0.5)": wi.truncated_normal(bound=0.5),
    "variance_scaling()": wi.variance_scaling(),
    "variance_scaling(1.7, 'fan_avg', 'uniform')": wi.variance_scaling(1.7, "fan_avg", "uniform"),
    "variance_scaling(1 / 3, 'fan_in', 'uniform')": wi.variance_scaling(1 / 3, "fan_in", "uniform"),
    "variance_scaling(2.0, 'fan_out', 'truncated_normal')": wi.variance_scaling(
        2.0, "fan_out", "truncated_normal"
    ),
    "variance_scaling(0.3, 'fan_geo_avg', 'normal')": wi.variance_scaling(
        0.3, "fan_geo_avg", "normal"
    ),
    "variance_scaling(2.0, 'fan_avg', 'normal')": wi.variance_scaling(2.0, "fan_avg", "normal"),
    "variance_scaling(math.pi, 'fan_in', 'normal')": wi.variance_scaling(
        math.pi, "fan_in", "normal"
    ),
    "lecun_normal()": wi.lecun_normal(),
    "lecun_normal(gain=2.0)": wi.lecun_normal(gain=2.0),
    "lecun_normal(gain='gelu')": wi.lecun_normal(gain="gelu"),
    "lecun_uniform()": wi.lecun_uniform(),
    "lecun_uniform(gain=0.37)": wi.lecun_uniform(gain=0.37),
    "glorot_normal()": wi.glorot_normal(),
    "glorot_normal(gain='tanh')": wi.glorot_normal(gain="tanh"),
    "glorot_uniform()": wi.glorot_uniform(),
    "glorot_uniform(gain=math.sqrt(2))": wi.glorot_uniform(gain=math.sqrt(2)),
    "he_normal()": wi.he_normal(),
    "he_normal(negative_slope=0.01)": wi.he_normal(negative_slope=0.01),
    "he_normal(0.2, 'fan_out')": wi.he_normal(0.2, "fan_out"),
    "he_normal(math.sqrt(5))": wi.he_normal(math.sqrt(5)),
    "he_uniform()": wi.he_uniform(),
    "he_uniform(mode='fan_out')": wi.he_uniform(mode="fan_out"),
    "he_uniform(negative_slope=1.0)": wi.he_uniform(negative_slope=1.0),
    "xavier_normal()": wi.xavier_normal(),
    "xavier_uniform(gain=5 / 3)": wi.xavier_uniform(gain=5 / 3),
    "kaiming_normal()": wi.kaiming_normal(),
    "kaiming_uniform(0.1)": wi.kaiming_uniform(0.1),
    "orthogonal()": wi.orthogonal(),
    "orthogonal(2.0)": wi.orthogonal(2.0),
    "identity()": wi.identity(),
    "identity(-0.5)": wi.identity(-0.5),
    "dirac()": wi.dirac(),
    "dirac(2, 0.5)": wi.dirac(2, 0.5),
    "delta_orthogonal()": wi.delta_orthogonal(),
    "delta_orthogonal(1.5)": wi.delta_orthogonal(1.5),
    "sparse()": wi.sparse(),
    "sparse(0.5)": wi.sparse(0.5),
    "sparse(0.07, 0.2)": wi.sparse(0.07, 0.2),
}

#: The known activations, taken at import (other tests register activations of their own).
ACTIVATIONS: dict[str, tuple[str, ...]] = dict(wi.activations())

#: The recommendation for every known activation, by name and by alias, with each
#: distribution, and with parameters.
RECOMMENDATIONS: dict[str, wi.Initializer] = {
    **{
        f"recommend({name!r})": wi.recommend(name)
        for name, aliases in ACTIVATIONS.items()
        for name in (name, *aliases)
    },
    **{
        f"recommend({name!r}, distribution={distribution!r})": wi.recommend(
            name, distribution=distribution
        )
        for name in ACTIVATIONS
        for distribution in ("normal", "uniform", "truncated_normal")
    },
    "recommend('leaky_relu', negative_slope=0.2)": wi.recommend("leaky_relu", negative_slope=0.2),
    "recommend('elu', alpha=0.5)": wi.recommend("elu", alpha=0.5),
}

PRESET_CALLS: dict[str, wi.Initializer] = {f"preset({name!r})": _preset(name) for name in PRESETS}

EVERY = {**FACTORY_CALLS, **RECOMMENDATIONS, **PRESET_CALLS}


#: Public callables of the package that do not make an initializer.
NOT_FACTORIES = frozenset(
    {
        "Activation",
        "Fans",
        "Initializer",
        "Key",
        "LSUVReport",
        "Param",
        "Weight",
        "Report",
        "activations",
        "compare",
        "diagnose",
        "explain",
        "fans",
        "gain",
        "initialize",
        "get",
        "lsuv",
        "names",
        "recommend",
        "register",
        "register_activation",
    }
)


def test_the_list_is_broad() -> None:
    # Every factory of the package is called at least once.
    factories = {
        name for name in wi.__all__ if callable(getattr(wi, name)) and name not in NOT_FACTORIES
    }
    called = {text.split("(")[0] for text in FACTORY_CALLS}
    assert factories == called
    assert len(PRESET_CALLS) == len(PRESETS)
    assert {text.split("'")[1] for text in RECOMMENDATIONS} >= set(ACTIVATIONS)
    assert len(ACTIVATIONS) >= 15


@pytest.mark.parametrize("init", EVERY.values(), ids=EVERY.keys())
def test_repr_evaluates_to_an_equal_initializer(init: wi.Initializer) -> None:
    text = repr(init)
    assert "0x" not in text and "<" not in text
    rebuilt = eval(text, vars(wi))
    assert type(rebuilt) is type(init)
    assert rebuilt == init
    assert hash(rebuilt) == hash(init)
    # The rebuilt initializer prints the same call again.
    assert repr(rebuilt) == text


@pytest.mark.parametrize("init", EVERY.values(), ids=EVERY.keys())
def test_config_rebuilds_an_equal_initializer(init: wi.Initializer) -> None:
    config = init.get_config()
    assert json.loads(json.dumps(config)) == config
    rebuilt = wi.get(config)
    assert rebuilt == init
    assert hash(rebuilt) == hash(init)
    assert wi.get(json.loads(json.dumps(config))) == init


REPRS = [
    (wi.he_normal(), "he_normal()"),
    (wi.kaiming_normal(), "he_normal()"),
    (wi.variance_scaling(2.0, "fan_in", "normal"), "he_normal()"),
    (wi.he_normal(negative_slope=0.01), "he_normal(negative_slope=0.01)"),
    (wi.glorot_uniform(), "glorot_uniform()"),
    (wi.xavier_uniform(), "glorot_uniform()"),
    (wi.lecun_normal(gain="gelu"), "lecun_normal(gain='gelu')"),
    (wi.recommend("gelu"), "lecun_normal(gain='gelu')"),
    (wi.recommend("relu"), "he_normal()"),
    (wi.orthogonal(gain=2.0), "orthogonal(gain=2.0)"),
    (wi.orthogonal(2), "orthogonal(gain=2.0)"),
    (wi.truncated_normal(0.02), "truncated_normal(0.02)"),
    (wi.uniform(-0.1, 0.1), "uniform(-0.1, 0.1)"),
    (wi.variance_scaling(1.7, "fan_avg", "uniform"), "variance_scaling(1.7, 'fan_avg', 'uniform')"),
    (wi.presets.preset("pytorch.linear"), "presets.preset('pytorch.linear')"),
    (wi.zeros(), "zeros()"),
    (wi.constant(0.0), "zeros()"),
]


@pytest.mark.parametrize(("init", "text"), REPRS, ids=[text for _, text in REPRS])
def test_exact_reprs(init: wi.Initializer, text: str) -> None:
    assert repr(init) == text
    assert str(init) == text


def test_he_normal_is_its_variance_scaling_core() -> None:
    core = wi.variance_scaling(2.0, "fan_in", "normal")
    assert wi.he_normal() == core
    assert hash(wi.he_normal()) == hash(core)
    assert wi.he_normal().get_config() == core.get_config()
    assert wi.he_normal() != wi.variance_scaling(2.0, "fan_in", "truncated_normal")
    assert wi.he_uniform() == wi.variance_scaling(2.0, "fan_in", "uniform")
    assert hash(wi.he_uniform()) == hash(wi.variance_scaling(2.0, "fan_in", "uniform"))


def test_a_named_initializer_is_not_a_preset() -> None:
    with pytest.raises(
        ValueError, match=r"'he_normal' is not a framework preset; the closest are"
    ) as error:
        wi.presets.preset("he_normal")
    message = str(error.value)
    assert "weightinit.presets.PRESETS" in message
    assert "weightinit.get()" in message
    # A misspelt preset name gets the closest preset names.
    with pytest.raises(ValueError, match=r"the closest are 'pytorch\.linear'"):
        wi.presets.preset("pytorch.lineer")


# --------------------------------------------------------------------------- subclasses, labels


def test_subclasses_print_as_their_own_call() -> None:
    import dataclasses

    from weightinit.families import Constant
    from weightinit.families import VarianceScaling
    from weightinit.structured import Orthogonal

    @dataclasses.dataclass(frozen=True)
    class MyScaling(VarianceScaling):
        pass

    @dataclasses.dataclass(frozen=True)
    class MyConstant(Constant):
        pass

    @dataclasses.dataclass(frozen=True)
    class MyOrthogonal(Orthogonal):
        pass

    assert repr(MyScaling(2.0, "fan_in", "normal")) == (
        "MyScaling(scale=2.0, mode='fan_in', distribution='normal')"
    )
    assert repr(MyConstant(0.0)) == "MyConstant(value=0.0)"
    assert repr(MyOrthogonal(2.0)) == "MyOrthogonal(gain=2.0)"
    namespace = {"MyScaling": MyScaling, "MyConstant": MyConstant, "MyOrthogonal": MyOrthogonal}
    for init in (MyScaling(2.0, "fan_in", "normal"), MyConstant(3.0), MyOrthogonal(2.0)):
        assert eval(repr(init), namespace) == init


def test_negative_zero_keeps_its_sign_in_the_repr() -> None:
    init = wi.constant(-0.0)
    assert repr(init) == "constant(-0.0)"
    again = eval(repr(init), vars(wi))
    assert again((3,)).tobytes() == init((3,)).tobytes()
    assert repr(wi.constant(0.0)) == "zeros()"


def test_labels_are_not_fields() -> None:
    import copy
    import dataclasses
    import pickle

    init = wi.recommend("gelu")
    assert repr(init) == "lecun_normal(gain='gelu')"
    assert [f.name for f in dataclasses.fields(init)] == ["scale", "mode", "distribution"]
    assert type(init)(**dataclasses.asdict(init)) == init
    assert repr(pickle.loads(pickle.dumps(init))) == repr(init)
    assert repr(copy.deepcopy(init)) == repr(init)
    changed = dataclasses.replace(init, distribution="uniform")
    assert repr(changed).startswith("variance_scaling(")  # other values: the label is gone
    assert eval(repr(changed), vars(wi)) == changed


def test_preset_names_are_normalised_as_registry_names() -> None:
    assert wi.presets.preset("PyTorch.Conv-Transpose2d") == wi.get("pytorch.conv_transpose2d")
