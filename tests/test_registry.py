"""Looking initializers up by name, alias and config; registering new ones."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

import weightinit as wi
from weightinit import registry

BUILT_IN = (
    "constant",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "lecun_normal",
    "lecun_uniform",
    "ones",
    "scaled_normal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "zeros",
)
ALIASES = {
    "zero": "zeros",
    "one": "ones",
    "xavier_normal": "glorot_normal",
    "xavier_uniform": "glorot_uniform",
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
}
MODES = ("fan_in", "fan_out", "fan_avg", "fan_geo_avg")
DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")


@pytest.fixture
def isolated_registry(monkeypatch):
    """Registrations made by a test disappear after it, whatever order tests run in."""
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))


def unique_name(stem: str = "user_init") -> str:
    return f"{stem}_{uuid.uuid4().hex[:12]}"


# --------------------------------------------------------------------------- names


def test_names_lists_built_ins_sorted():
    found = wi.names()
    assert found == tuple(sorted(found))
    assert set(BUILT_IN) <= set(found)
    assert not set(ALIASES) & set(found)
    with_aliases = wi.names(aliases=True)
    assert with_aliases == tuple(sorted(with_aliases))
    assert set(BUILT_IN) | set(ALIASES) <= set(with_aliases)


def test_get_constant_needs_a_value():
    with pytest.raises(TypeError, match="value"):
        wi.get("constant")
    assert wi.get({"name": "constant", "value": 0.5}) == wi.constant(0.5)


@pytest.mark.parametrize("name", [n for n in BUILT_IN if n != "constant"])
def test_get_by_name(name):
    expected = getattr(wi, name)()
    assert wi.get(name) == expected
    assert wi.get(name.upper()) == expected
    assert wi.get(f"  {name.title().replace('_', '-')} ") == expected


@pytest.mark.parametrize(("alias", "name"), ALIASES.items())
def test_get_by_alias(alias, name):
    expected = getattr(wi, name)()
    assert wi.get(alias) == expected
    assert wi.get(alias.upper()) == expected
    assert wi.get(alias.replace("_", "-").title()) == expected


def test_get_initializer_returns_it():
    init = wi.he_uniform(0.1)
    assert wi.get(init) is init


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("he_norml", "he_normal"),
        ("glorot_unifrom", "glorot_uniform"),
        ("kaiming_norml", "kaiming_normal"),
        ("Xavier_Uniforn", "xavier_uniform"),
        ("zeroes", "zeros"),
    ],
)
def test_unknown_name_suggests(name, suggestion):
    with pytest.raises(ValueError, match=rf"unknown initializer name '{name}'\. The closest are "):
        wi.get(name)
    with pytest.raises(ValueError) as error:
        wi.get(name)
    closest = str(error.value).split("The closest are ")[1].split(". ")[0]
    assert f"'{suggestion}'" in closest.split(", ")[:2]


def test_unknown_name_points_to_names_and_stays_short():
    with pytest.raises(ValueError, match=r"^unknown initializer name 'completely_unknown'\. "):
        wi.get("completely_unknown")
    with pytest.raises(ValueError, match=rf"weightinit\.names\(\) lists all {len(wi.names())}\.$"):
        wi.get("completely_unknown")
    # A prefix leads to its names, and the message stays a few lines long.
    with pytest.raises(ValueError) as error:
        wi.get("he")
    message = str(error.value)
    assert "The closest are 'he_normal', 'he_uniform'" in message
    assert len(message) < 200


@pytest.mark.parametrize("bad", [3, None, 1.5, ["he_normal"], wi.he_normal])
def test_get_bad_type(bad):
    with pytest.raises(TypeError, match=r"get\(\) takes an initializer name, a config dict"):
        wi.get(bad)


# --------------------------------------------------------------------------- configs


def test_config_without_name():
    with pytest.raises(ValueError, match=r"needs a 'name' key; got keys \['mode', 'scale'\]"):
        wi.get({"scale": 2.0, "mode": "fan_in"})


def test_config_with_unknown_name():
    with pytest.raises(ValueError, match=r"'he_normall'\. The closest are 'he_normal'"):
        wi.get({"name": "he_normall"})


def test_config_with_non_string_name():
    with pytest.raises(ValueError, match=r"got 3"):
        wi.get({"name": 3})


@pytest.mark.parametrize(
    ("config", "pattern"),
    [
        (
            {"name": "he_normal", "gain": 2.0},
            r"he_normal\(\) takes parameters \(negative_slope, mode\); got unknown gain",
        ),
        (
            {"name": "variance_scaling", "scale": 1.0, "stdev": 0.1},
            r"variance_scaling\(\) takes parameters \(scale, mode, distribution\); "
            r"got unknown stdev",
        ),
        (
            {"name": "zeros", "value": 0.0},
            r"zeros\(\) takes parameters \(none\); got unknown value",
        ),
    ],
)
def test_config_with_unknown_parameters(config, pattern):
    with pytest.raises(TypeError, match=pattern):
        wi.get(config)


def test_config_with_bad_values():
    with pytest.raises(ValueError, match=r"'fan_inn'\. Did you mean 'fan_in'\?"):
        wi.get({"name": "variance_scaling", "mode": "fan_inn"})
    with pytest.raises(ValueError, match=r"stddev must be positive and finite; got -1"):
        wi.get({"name": "truncated_normal", "stddev": -1})


def test_config_is_not_mutated():
    config = {"name": "he_normal", "negative_slope": 0.1}
    wi.get(config)
    assert config == {"name": "he_normal", "negative_slope": 0.1}


def test_config_defaults():
    assert wi.get({"name": "he_normal"}) == wi.he_normal()
    assert wi.get({"name": "Kaiming-Normal", "mode": "fan_out"}) == wi.he_normal(mode="fan_out")


CONFIG_TABLE = [
    (wi.zeros(), {"name": "constant", "value": 0.0}),
    (wi.ones(), {"name": "constant", "value": 1.0}),
    (wi.scaled_normal(), {"name": "scaled_normal", "stddev": 0.01, "mean": 0.0}),
    (wi.uniform(), {"name": "uniform", "low": -0.05, "high": 0.05}),
    (
        wi.truncated_normal(),
        {"name": "truncated_normal", "stddev": 0.05, "mean": 0.0, "bound": 2.0},
    ),
    (
        wi.he_normal(),
        {"name": "variance_scaling", "scale": 2.0, "mode": "fan_in", "distribution": "normal"},
    ),
    (
        wi.glorot_uniform(),
        {"name": "variance_scaling", "scale": 1.0, "mode": "fan_avg", "distribution": "uniform"},
    ),
]


@pytest.mark.parametrize(("init", "config"), CONFIG_TABLE, ids=[repr(i) for i, _ in CONFIG_TABLE])
def test_config_table(init, config):
    assert init.get_config() == config
    assert wi.get(config) == init


finite = st.floats(-1e6, 1e6, allow_nan=False)
positive = st.floats(1e-6, 1e6)


@st.composite
def uniforms(draw):
    low = draw(finite)
    return wi.uniform(low, low + draw(st.floats(1e-3, 1e6)))


every_initializer = st.one_of(
    st.just(wi.zeros()),
    st.just(wi.ones()),
    st.builds(wi.constant, finite),
    st.builds(wi.scaled_normal, positive, finite),
    uniforms(),
    st.builds(wi.truncated_normal, positive, finite, st.floats(1e-3, 10.0)),
    st.builds(
        wi.variance_scaling, positive, st.sampled_from(MODES), st.sampled_from(DISTRIBUTIONS)
    ),
    st.sampled_from(
        [
            wi.lecun_normal,
            wi.lecun_uniform,
            wi.glorot_normal,
            wi.glorot_uniform,
            wi.xavier_normal,
            wi.xavier_uniform,
        ]
    ).flatmap(lambda f: st.builds(f, st.floats(1e-3, 1e3))),
    st.sampled_from([wi.he_normal, wi.he_uniform, wi.kaiming_normal, wi.kaiming_uniform]).flatmap(
        lambda f: st.builds(f, st.floats(-1e3, 1e3), st.sampled_from(MODES))
    ),
)


@settings(max_examples=100, deadline=None)
@given(every_initializer)
def test_config_round_trip(init):
    config = init.get_config()
    text = json.dumps(config)
    assert isinstance(config["name"], str)
    assert config["name"] in wi.names()
    assert wi.get(config) == init
    assert wi.get(json.loads(text)) == init
    assert hash(wi.get(json.loads(text))) == hash(init)
    assert json.loads(text) == config


@settings(max_examples=30, deadline=None)
@given(every_initializer, st.integers(0, 2**32))
def test_rebuilt_initializer_gives_the_same_values(init, seed):
    rebuilt = wi.get(json.loads(json.dumps(init.get_config())))
    a = init((6, 7), np.float64, seed=seed)
    assert a.tobytes() == rebuilt((6, 7), np.float64, seed=seed).tobytes()


# --------------------------------------------------------------------------- register


def test_register_user_factory(isolated_registry):
    name = unique_name()
    wi.register(name, lambda stddev=1e-3: wi.scaled_normal(stddev))
    assert name in wi.names()
    assert wi.get(name) == wi.scaled_normal(1e-3)
    assert wi.get(name.upper()) == wi.scaled_normal(1e-3)
    assert wi.get({"name": name, "stddev": 0.5}) == wi.scaled_normal(0.5)


def test_register_normalises_name(isolated_registry):
    name = unique_name("My-Init")
    wi.register(name, wi.he_normal)
    key = name.lower().replace("-", "_")
    assert key in wi.names()
    assert wi.get(key) == wi.he_normal()


def test_register_duplicate(isolated_registry):
    name = unique_name()
    wi.register(name, wi.zeros)
    with pytest.raises(ValueError, match=rf"'{name}' is already registered.*overwrite=True"):
        wi.register(name, wi.ones)
    with pytest.raises(ValueError, match=r"already registered"):
        wi.register(name.upper(), wi.ones)
    assert wi.get(name) == wi.zeros()
    wi.register(name, wi.ones, overwrite=True)
    assert wi.get(name) == wi.ones()


@pytest.mark.parametrize("name", ["he_normal", "HE_NORMAL", "kaiming_normal", "zero"])
def test_register_cannot_shadow_built_ins_silently(isolated_registry, name):
    before = wi.get(name)
    with pytest.raises(ValueError, match="already registered"):
        wi.register(name, lambda: wi.constant(123.0))
    assert wi.get(name) == before


def test_register_overwrite_of_alias(isolated_registry):
    wi.register("kaiming_normal", lambda: wi.constant(123.0), overwrite=True)
    assert wi.get("kaiming_normal") == wi.constant(123.0)
    assert wi.get("he_normal") == wi.he_normal()
    assert "kaiming_normal" in wi.names()


def test_registry_is_restored_after_isolated_tests():
    # Runs in any order with the tests above: built-ins are untouched outside the fixture.
    assert wi.get("kaiming_normal") == wi.he_normal()
    assert wi.get("he_normal") == wi.he_normal()


@pytest.mark.parametrize("name", ["", "   ", 3, None])
def test_register_bad_name(isolated_registry, name):
    with pytest.raises(TypeError, match=r"name must be a non-empty string"):
        wi.register(name, wi.zeros)


def test_register_bad_factory(isolated_registry):
    with pytest.raises(TypeError, match=r"factory must be callable; got 3"):
        wi.register(unique_name(), 3)
