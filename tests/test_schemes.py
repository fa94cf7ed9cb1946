"""Roles and schemes, framework-neutral: every scheme covers every role, a scheme object works
wherever a name does, and the names renamed by the house's refactoring still resolve, with a
warning that gives the new name."""

from __future__ import annotations

import dataclasses
import warnings

import pytest

import weightinit as wi
from weightinit import presets
from weightinit.roles import ROLES
from weightinit.roles import Place
from weightinit.roles import Slot
from weightinit.schemes import SCHEMES
from weightinit.schemes import Scheme
from weightinit.schemes import UnknownValueError
from weightinit.schemes import scheme


@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_every_scheme_gives_every_role_an_initializer(name: str) -> None:
    chosen = scheme(name)
    assert set(chosen.rules) == set(ROLES)
    place = Place(layer=1, depth=4, width=8, branch=2)
    for role in ROLES:
        shape = (8, 4) if role not in ("norm_gain", "norm_bias", "bias") else (8,)
        weight = wi.Weight.checked(shape, "out_in", 1, 1)
        slot = Slot(
            role, weight, fan_in=4, hidden=2, value=1.0, place=place, model={"family": "gpt2"}
        )
        try:
            init, drawn = chosen.initializer(slot, "relu")
        except UnknownValueError as error:
            # The other frameworks' defaults refuse the roles their layers do not have.
            assert name in ("flax", "haiku", "equinox", "keras"), (name, role)
            assert f"{name} has no default for a {role}" in str(error)
            continue
        assert isinstance(init, wi.Initializer)
        assert drawn.shape == shape


def test_a_scheme_missing_a_role_is_refused_with_the_roles_it_misses() -> None:
    rules = dict(SCHEMES["recommended"]().rules)
    del rules["layer_scale"]
    with pytest.raises(ValueError, match=r"missing \['layer_scale'\], unknown \[\]"):
        Scheme("partial", rules)
    with pytest.raises(ValueError, match=r"role must be one of 'projection'.*got 'projector'"):
        Slot("projector", wi.Weight.checked((2, 2), "out_in", 1, 1))
    with pytest.raises(ValueError, match="scheme must be one of 'recommended', 'pytorch', 'flax'"):
        scheme("recommend")


def test_the_schemes_read_the_facts_of_a_slot() -> None:
    weight = wi.Weight.checked((50257, 768), "in_out", 1, 1)
    tied, _ = scheme("recommended").initializer(Slot("tied_embedding", weight))
    assert tied.variance((50257, 768)) == pytest.approx(1 / 768, rel=1e-12)
    gain = wi.Weight.checked((8,), "in_out", 1, 1)
    assert scheme("recommended").initializer(Slot("norm_gain", gain, value=0.0))[0] == wi.zeros()
    with pytest.raises(UnknownValueError, match="starting value"):
        scheme("recommended").initializer(Slot("layer_scale", gain))
    bias = Slot("bias", gain, fan_in=400)
    assert scheme("pytorch").initializer(bias)[0] == presets.fan_in_bias(400)
    assert scheme("pytorch").initializer(dataclasses.replace(bias, fan_in=None))[0] == wi.zeros()
    packed = wi.Weight.checked((24, 8), "out_in", 1, 3)
    _, drawn = scheme("pytorch").initializer(Slot("attention_in", packed))
    assert drawn.blocks == 1  # PyTorch's xavier_uniform_ over the whole packed weight


def test_former_names_still_resolve_with_a_warning() -> None:
    from weightinit import distributions

    with pytest.warns(DeprecationWarning, match="now UniformDistribution"):
        assert distributions.Uniform is distributions.UniformDistribution
    with pytest.warns(DeprecationWarning, match="now PRESET_LAYOUTS"):
        assert presets.LAYOUTS is presets.PRESET_LAYOUTS
    with pytest.warns(DeprecationWarning, match=r"now Initializer.recipe\(shape\)"):
        assert wi.he_normal().plan((4, 3)) == wi.he_normal().recipe((4, 3))
    with pytest.warns(DeprecationWarning, match="the hook is now called _recipe"):

        @dataclasses.dataclass(frozen=True)
        class Old(wi.Initializer):
            def _plan(self, weight: wi.Weight) -> distributions.Distribution:
                return distributions.ConstantDistribution(2.0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert float(Old()((2, 2), seed=0).sum()) == 8.0
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        distributions.Nothing  # noqa: B018
