"""Look initializers up by name, alias or configuration dict."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from weightinit import families
from weightinit import named
from weightinit import presets as _presets
from weightinit import structured as _structured
from weightinit._errors import normalise_name
from weightinit._errors import unknown_name
from weightinit.initializers import Initializer

__all__ = ["get", "names", "register"]

Factory = Callable[..., Initializer]

_FACTORIES: dict[str, Factory] = {
    "zeros": families.zeros,
    "ones": families.ones,
    "constant": families.constant,
    "normal": families.normal,
    "scaled_normal": families.scaled_normal,
    "uniform": families.uniform,
    "truncated_normal": families.truncated_normal,
    "variance_scaling": families.variance_scaling,
    "lecun_normal": named.lecun_normal,
    "lecun_uniform": named.lecun_uniform,
    "glorot_normal": named.glorot_normal,
    "glorot_uniform": named.glorot_uniform,
    "he_normal": named.he_normal,
    "he_uniform": named.he_uniform,
    "orthogonal": _structured.orthogonal,
    "identity": _structured.identity,
    "dirac": _structured.dirac,
    "delta_orthogonal": _structured.delta_orthogonal,
    "sparse": _structured.sparse,
    "recurrent": _presets.Recurrent,
}

_ALIASES: dict[str, str] = {
    "zero": "zeros",
    "one": "ones",
    "xavier_normal": "glorot_normal",
    "xavier_uniform": "glorot_uniform",
    "kaiming_normal": "he_normal",
    "kaiming_uniform": "he_uniform",
    "eye": "identity",
    "random_normal": "normal",
    "random_uniform": "uniform",
}


def _key(name: str) -> str:
    return normalise_name(name)


def names(*, aliases: bool = False) -> tuple[str, ...]:
    """The names that :func:`get` accepts, sorted; with ``aliases=True``, the aliases too.

    Examples
    --------
    >>> import weightinit as wi
    >>> "he_normal" in wi.names(), "kaiming_normal" in wi.names(aliases=True)
    (True, True)
    """
    found = set(_FACTORIES) | set(_presets.PRESETS)
    if aliases:
        found |= set(_ALIASES)
    return tuple(sorted(found))


def _lookup(name: object) -> tuple[str, Factory]:
    if isinstance(name, str):
        key = _key(name)
        key = _ALIASES.get(key, key)
        if key in _FACTORIES:
            return key, _FACTORIES[key]
        if key in _presets.PRESETS:
            return key, _presets.PRESETS[key][0]
    raise unknown_name(
        "initializer name",
        name,
        names(aliases=True),
        f"weightinit.names() lists all {len(names())}.",
    )


def get(identifier: object) -> Initializer:
    """Return an initializer from a name, an alias, a config dict or an initializer.

    Parameters
    ----------
    identifier : str, dict or Initializer
        A name or alias (case-insensitive) gives the initializer with default parameters;
        a dict as returned by :meth:`Initializer.get_config` (``{"name": ..., **params}``)
        rebuilds that initializer; an ``Initializer`` is returned as it is.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.get("Kaiming_Normal") == wi.he_normal()
    True
    >>> init = wi.truncated_normal(stddev=0.02)
    >>> wi.get(init.get_config()) == init
    True
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        name, factory = _lookup(identifier)
        return _built(name, _call(name, factory, {}))
    if isinstance(identifier, Mapping):
        params: dict[str, Any] = dict(identifier)
        if "name" not in params:
            raise ValueError(
                f"an initializer config needs a 'name' key; got keys {sorted(params)!r}."
            )
        name, factory = _lookup(params.pop("name"))
        return _built(name, _call(name, factory, params))
    raise TypeError(
        "get() takes an initializer name, a config dict or an Initializer; "
        f"got {identifier!r} of type {type(identifier).__name__}."
    )


def _call(name: str, factory: Factory, params: dict[str, Any]) -> object:
    """Call ``factory(**params)``, naming missing or unknown parameters if they do not fit."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return factory(**params)
    try:
        signature.bind(**params)
    except TypeError:
        accepted = [p for p in signature.parameters if p not in ("self",)]
        required = [
            p.name
            for p in signature.parameters.values()
            if p.default is inspect.Parameter.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        ]
        missing = [p for p in required if p not in params]
        unknown = sorted(set(params) - set(accepted))
        if not any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values()) and unknown:
            raise TypeError(
                f"{name}() takes parameters ({', '.join(accepted) or 'none'}); got unknown "
                f"{', '.join(unknown)}."
            ) from None
        raise TypeError(
            f"{name}() needs parameter(s) {', '.join(missing)}; pass a config dict such as "
            f"{{'name': {name!r}, {', '.join(f'{m!r}: ...' for m in missing)}}}."
        ) from None
    return factory(**params)


def _built(name: str, result: object) -> Initializer:
    if not isinstance(result, Initializer):
        raise TypeError(
            f"the factory registered as {name!r} returned {result!r} of type "
            f"{type(result).__name__}, not an Initializer."
        )
    return result


#: Callables told the name of each initializer registered from now on (a bridge that makes
#: every name known to its framework, as ``weightinit.keras`` does for string identifiers).
LISTENERS: list[Callable[[str], object]] = []


def register(name: str, factory: Factory, *, overwrite: bool = False) -> None:
    """Register ``factory`` (a callable returning an :class:`Initializer`) under ``name``.

    The initializer's ``get_config()`` should carry ``name`` (set the class attribute
    ``_name``) so that ``get(init.get_config())`` finds the factory again.

    Examples
    --------
    >>> import weightinit as wi
    >>> wi.register("tiny_normal", lambda stddev=1e-3: wi.scaled_normal(stddev))
    >>> wi.get("tiny_normal") == wi.scaled_normal(1e-3)
    True
    """
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"name must be a non-empty string; got {name!r}.")
    if not callable(factory):
        raise TypeError(f"factory must be callable; got {factory!r}.")
    key = _key(name)
    if not overwrite and (key in _FACTORIES or key in _ALIASES):
        raise ValueError(
            f"an initializer named {name!r} is already registered; pass overwrite=True to "
            "replace it."
        )
    _ALIASES.pop(key, None)
    _FACTORIES[key] = factory
    for listener in LISTENERS:
        listener(name)
