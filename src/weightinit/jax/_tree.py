"""Whole JAX models in one call: Flax linen variables, Flax NNX modules and states, Equinox
modules and Haiku params, with the plans of ``weightinit.torch``.

Each parameter is read from its path and, where the framework keeps it (NNX and Equinox
modules), its module's class; it gets a canonical name (the module path joined by dots,
then ``weight`` or ``bias``, the words of PyTorch: a kernel, ``w``, an embedding table and a
norm's scale are ``weight``; ``b`` and a norm's offset are ``bias``) and is drawn with
``Key.from_seed(seed).fold_in(name)``, so a model written alike in PyTorch, Flax, Equinox,
Haiku or Keras gets the same values up to layout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from weightinit._places import Leaf
from weightinit._places import host_dtype
from weightinit._planning import ModelPlan
from weightinit._planning import plan as plan_leaves
from weightinit.jax._keys import jax_module as _jax
from weightinit.jax._kinds import BIAS_LEAVES as _BIAS_LEAVES
from weightinit.jax._kinds import Entry as _Entry
from weightinit.jax._kinds import slot as _slot
from weightinit.model import Param
from weightinit.model import initialize as initialize_params
from weightinit.seeds import Key
from weightinit.seeds import SeedLike
from weightinit.seeds import check_seed

__all__ = ["initialize", "plan"]

_FRAMEWORK = "weightinit.jax"
#: Leaf names in PyTorch's words.
_WEIGHT_LEAVES = frozenset({"kernel", "w", "weight", "embedding", "embeddings", "scale", "gamma"})
#: Flax's variable collections (a dict with "params" among these keys is a variables dict).
_COLLECTIONS = frozenset(
    {"params", "batch_stats", "cache", "intermediates", "losses", "perturbations", "spectral"}
)
#: A batch norm's running statistics, at the values the frameworks start them at.
_STATS = {"mean": 0.0, "var": 1.0}


def _floating(jax: Any, dtype: Any) -> bool:
    """Whether ``dtype`` is a floating-point type, bfloat16 included (NumPy does not count
    ml_dtypes' bfloat16 as floating)."""
    return bool(jax.dtypes.issubdtype(dtype, jax.numpy.floating))


def _key_name(key: object) -> object:
    """The name or index a tree path's key stands for (``DictKey``, ``GetAttrKey``,
    ``SequenceKey``, or a plain name)."""
    if isinstance(key, (str, int)):
        return key
    for attribute in ("key", "name", "idx"):
        if hasattr(key, attribute):
            return getattr(key, attribute)
    return key


def _canonical(module: tuple[str, ...], leaf: str) -> str:
    word = "weight" if leaf in _WEIGHT_LEAVES else "bias" if leaf in _BIAS_LEAVES else leaf
    return ".".join((*module, word))


def _components(keys: tuple[object, ...]) -> tuple[str, ...]:
    """The module path of a tree path (Haiku's ``a/~/b`` made ``a.b``)."""
    parts: list[str] = []
    for key in keys:
        text = str(_key_name(key))
        parts += [p for p in re.split(r"/~/|/", text) if p]
    return tuple(parts)


def _dtype_of(value: Any) -> Any:
    return np.dtype(value.dtype) if hasattr(value, "dtype") else None


def _entries(jax: Any, tree: Any) -> tuple[str, list[_Entry], Any]:
    """The style of ``tree`` (``"nnx"``, ``"equinox"``, ``"haiku"`` or ``"flax"``), its
    parameters in the model's order, and what rebuilds it."""
    style = _style(tree)
    if style == "nnx":
        return style, _nnx_entries(tree), None
    flat, treedef = jax.tree_util.tree_flatten_with_path(tree)
    entries = []
    collections = style == "flax" and isinstance(tree, Mapping) and "params" in tree
    collections = collections and set(tree) <= _COLLECTIONS
    for index, (path, value) in enumerate(flat):
        if not hasattr(value, "shape"):
            continue
        keys = tuple(path)
        names = [_key_name(k) for k in keys]
        if names and names[-1] == "value" and style == "flax":  # an NNX state's Variable
            names = names[:-1]
            keys = keys[:-1]
        stat = None
        if collections:
            collection = names[0]
            if collection == "batch_stats" and names[-1] in _STATS:
                stat = _STATS[str(names[-1])]
            elif collection != "params":
                raise ValueError(
                    f"weightinit.jax.initialize makes parameters and batch statistics; the "
                    f"variables hold collection {collection!r} ({'/'.join(map(str, names))}): "
                    "pass variables['params'] (and 'batch_stats') only."
                )
            keys = keys[1:]
        module = _components(keys[:-1])
        leaf = str(_key_name(keys[-1])) if keys else ""
        entries.append(
            _Entry(
                index, keys, value, tuple(value.shape), _dtype_of(value), module, leaf, stat=stat
            )
        )
    if style == "equinox":
        for entry in entries:
            entry.owner = _owner(tree, entry.keys[:-1])
        entries = [e for e in entries if _floating(jax, e.dtype)]
    elif style in ("flax", "haiku") and isinstance(tree, Mapping):
        order = _insertion_order(tree, collections)
        entries.sort(key=lambda e: order.get(tuple(map(_key_name, e.keys)), e.index))
    return style, entries, (flat, treedef)


def _insertion_order(tree: Mapping[Any, Any], collections: bool) -> dict[tuple[object, ...], int]:
    """Each leaf path of nested mappings, by the order the mappings hold them (the order
    the model made them, which flattening sorts away); below its collection in a variables
    dict (``collections``), as the entries keep their paths."""
    order: dict[tuple[object, ...], int] = {}

    def walk(node: Any, prefix: tuple[object, ...]) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, (*prefix, key))
        else:
            order[prefix] = len(order)

    for top, value in tree.items():
        walk(value, () if collections else (top,))
    return order


def _owner(root: Any, keys: tuple[object, ...]) -> Any:
    node = root
    for key in keys:
        name = _key_name(key)
        node = node[name] if isinstance(name, int) else getattr(node, str(name))
    return node


def _style(tree: Any) -> str:
    bases = [c.__module__ for c in type(tree).__mro__]
    if any(b.startswith("flax.nnx") for b in bases) and not isinstance(tree, Mapping):
        return "nnx"
    if isinstance(tree, Mapping):
        leaves: set[str] = set()

        def walk(node: Any) -> None:
            for key, value in node.items():
                if isinstance(value, Mapping):
                    walk(value)
                else:
                    leaves.add(str(key))

        walk(tree)
        if leaves & {"w", "b", "embeddings", "offset"} or any("/" in str(k) for k in tree):
            return "haiku"
        return "flax"
    # Any other pytree: an Equinox module, or lists and tuples of them.
    return "equinox"


def _nnx_entries(module: Any) -> list[_Entry]:
    from flax import nnx

    entries: list[_Entry] = []

    def walk(node: Any, path: tuple[str, ...], owner: Any) -> None:
        if isinstance(node, nnx.Variable):
            if isinstance(node, nnx.Param) or (
                isinstance(node, nnx.BatchStat) and path[-1] in _STATS
            ):
                value = node[...]
                stat = _STATS[path[-1]] if isinstance(node, nnx.BatchStat) else None
                entries.append(
                    _Entry(
                        len(entries),
                        path,
                        value,
                        tuple(value.shape),
                        _dtype_of(value),
                        path[:-1],
                        path[-1],
                        owner=owner,
                        stat=stat,
                        variable=node,
                    )
                )
            return
        if isinstance(node, (list, tuple)) or type(node).__name__ == "List":
            for i, child in enumerate(node):
                walk(child, (*path, str(i)), owner)
            return
        if isinstance(node, Mapping):
            for key, child in node.items():
                walk(child, (*path, str(key)), owner)
            return
        if isinstance(node, nnx.Module):
            for name, child in vars(node).items():
                if not name.startswith("_"):
                    walk(child, (*path, name), node)

    walk(module, (), module)
    return entries


def _leaves(style: str, entries: list[_Entry]) -> list[Leaf]:
    siblings: dict[tuple[str, ...], dict[str, tuple[int, ...]]] = {}
    peers: dict[tuple[str, ...], set[str]] = {}
    for entry in entries:
        siblings.setdefault(entry.module, {})[entry.leaf] = entry.shape
        if entry.module:
            peers.setdefault(entry.module[:-1], set()).add(entry.module[-1])
    leaves = []
    for entry in entries:
        if entry.stat is not None:
            continue
        if entry.dtype is None or not _floating(_jax(), entry.dtype):
            leaves.append(
                Leaf(
                    _canonical(entry.module, entry.leaf),
                    _path(entry),
                    ".".join(entry.module),
                    f"parameter of dtype {entry.dtype}",
                    entry.shape,
                    np.dtype(np.float32),
                    hint="weightinit makes floating-point parameters only",
                )
            )
            continue
        peer = peers.get(entry.module[:-1], set()) if entry.module else set()
        slot, kind, hint = _slot(entry, style, siblings[entry.module], peer)
        host = host_dtype(entry.dtype)
        leaves.append(
            Leaf(
                _canonical(entry.module, entry.leaf),
                _path(entry),
                ".".join(entry.module),
                kind,
                entry.shape,
                host,
                slot,
                hint,
            )
        )
    return leaves


def _path(entry: _Entry) -> str:
    return "/".join(str(_key_name(k)) for k in entry.keys)


def plan(
    tree: Any,
    *,
    scheme: object = "recommended",
    activation: object = None,
    rules: Mapping[str, object] | None = None,
    roles: Mapping[str, object] | None = None,
) -> ModelPlan:
    """What :func:`initialize` gives each parameter of ``tree``, by canonical name; it
    rejects exactly what :func:`initialize` rejects.

    Parameters are those of :func:`initialize`.

    Examples
    --------
    >>> import jax
    >>> import flax.linen as nn
    >>> from weightinit.jax import plan
    >>> model = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)])
    >>> shapes = jax.eval_shape(model.init, jax.random.key(0), jax.numpy.ones((1, 784)))
    >>> p = plan(shapes, activation="relu")
    >>> p["layers_0.weight"].initializer, p.slots["layers_2.weight"].role
    (he_normal(), 'head')
    """
    return _planned(_jax(), tree, scheme, activation, rules, roles)[0]


def _planned(
    jax: Any,
    tree: Any,
    scheme: object,
    activation: object,
    rules: Mapping[str, object] | None,
    roles: Mapping[str, object] | None,
) -> tuple[ModelPlan, str, list[_Entry], list[Leaf], Any]:
    """The plan of ``tree``, with what :func:`initialize` fills it by: the tree's style,
    its entries, their leaves and what rebuilds it."""
    style, entries, rebuild = _entries(jax, tree)
    leaves = _leaves(style, entries)
    made = plan_leaves(
        leaves,
        scheme=scheme,
        activation=activation,
        rules=rules,
        roles=roles,
        framework=_FRAMEWORK,
        sequential=style == "flax" and _sequential(entries),
    )
    return made, style, entries, leaves, rebuild


def _sequential(entries: list[_Entry]) -> bool:
    """Whether a linen model is an ``nn.Sequential`` (its layers are ``layers_0`` ...)."""
    tops = {e.module[0] for e in entries if e.module}
    return bool(tops) and all(re.fullmatch(r"layers_\d+", t) for t in tops)


def initialize(
    tree: Any,
    seed: SeedLike,
    *,
    scheme: object = "recommended",
    activation: object = None,
    rules: Mapping[str, object] | None = None,
    roles: Mapping[str, object] | None = None,
    threads: int | None = None,
) -> Any:
    """Make every parameter of a JAX model from one seed, as :func:`plan` says.

    Parameters
    ----------
    tree : Flax variables or params, NNX module or state, Equinox module, Haiku params
        A tree of arrays or of ``jax.ShapeDtypeStruct`` (from ``jax.eval_shape``); a leaf
        with a sharding comes back as an array of that sharding, each device's shard made
        from its own region (no device holds more than its shard).
    seed : int, SeedSequence, Generator, Key or None
        Parameter ``name`` (its canonical name, a row of :func:`plan`) is drawn with
        ``Key.from_seed(seed).fold_in(name)``.
    scheme, activation, rules, roles
        As for ``weightinit.torch.initialize_``: a scheme by name or with parameters
        (``"recommended"``, the frameworks' own defaults ``"flax"``, ``"haiku"``,
        ``"equinox"``, ``"keras"``, ``"pytorch"``, and ``gpt2``, ``megatron``, ``mup``, ...);
        ``rules`` maps glob patterns on canonical names or tree paths to an initializer or a
        :class:`~weightinit.Param`; ``roles`` corrects a parameter's role, layout, axes
        (``in_axis``, ``out_axis``) or place.
    threads : int, optional
        As for :func:`weightinit.initialize`; values do not depend on it.

    Returns
    -------
    The same kind of tree with every parameter made (an NNX module is changed in place and
    returned; batch statistics start at mean 0 and variance 1).

    Raises
    ------
    ValueError
        Listing every problem at once (unknown parameters with what to say of them, rules
        that match nothing); nothing is made before the whole plan stands.

    Examples
    --------
    >>> import jax
    >>> import numpy as np
    >>> import flax.linen as nn
    >>> import weightinit as wi
    >>> from weightinit.jax import initialize
    >>> model = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)])
    >>> shapes = jax.eval_shape(model.init, jax.random.key(0), jax.numpy.ones((1, 784)))
    >>> params = initialize(shapes, seed=0, activation="relu")
    >>> kernel = params["params"]["layers_0"]["kernel"]
    >>> key = wi.Key.from_seed(0).fold_in("layers_0.weight")
    >>> bool((np.asarray(kernel) == wi.he_normal()((784, 32), seed=key)).all())
    True
    """
    jax = _jax()
    check_seed(seed)
    made_plan, style, entries, leaves, rebuild = _planned(
        jax, tree, scheme, activation, rules, roles
    )
    root = Key.from_seed(seed)
    by_name = {leaf.path: leaf.name for leaf in leaves}
    sharded: dict[str, Any] = {}
    plain: dict[str, Param] = {}
    for entry in entries:
        if entry.stat is not None:
            continue
        name = by_name[_path(entry)]
        sharding = getattr(entry.value, "sharding", None)
        if sharding is not None and len(getattr(sharding, "device_set", ())) > 1:
            sharded[name] = sharding
        else:
            plain[name] = made_plan[name]
    arrays = initialize_params(plain, root, threads=threads)
    values: dict[int, Any] = {}
    batch: dict[int, np.ndarray[Any, Any]] = {}  # put on the default device in one call
    for entry in entries:
        if entry.stat is not None:
            made = np.full(entry.shape, entry.stat, dtype=entry.dtype)
        else:
            name = by_name[_path(entry)]
            if name in sharded:
                key = root.fold_in(name)
                values[entry.index] = _sharded(jax, made_plan[name], key, entry, sharded[name])
                continue
            made = arrays[name]
        if getattr(entry.value, "sharding", None) is None and made.dtype == entry.dtype:
            batch[entry.index] = made
        else:
            values[entry.index] = _to_jax(jax, made, entry)
    values.update(zip(batch, jax.device_put(list(batch.values())), strict=True))
    if style == "nnx":
        for entry in entries:
            entry.variable[...] = values[entry.index]
        return tree
    assert rebuild is not None
    flat, treedef = rebuild
    leaves_out = [value for _, value in flat]
    for entry in entries:
        leaves_out[entry.index] = values[entry.index]
    return jax.tree_util.tree_unflatten(treedef, leaves_out)


def _to_jax(jax: Any, array: np.ndarray[Any, Any], entry: _Entry) -> Any:
    sharding = getattr(entry.value, "sharding", None)
    if array.dtype != entry.dtype:  # bfloat16: made in float32, cast by JAX
        return jax.device_put(jax.numpy.asarray(array, dtype=entry.dtype), sharding)
    return jax.device_put(array, sharding)


def _sharded(jax: Any, p: Param, key: Key, entry: _Entry, sharding: Any) -> Any:
    from weightinit import registry

    init = registry.get(p.initializer)
    host = np.dtype(p.dtype) if p.dtype is not None else np.dtype(np.float32)

    def shard(index: tuple[slice, ...]) -> Any:
        values = init._make(p.weight, host, key, 1, index)
        return values.astype(entry.dtype) if values.dtype != entry.dtype else values

    return jax.make_array_from_callback(entry.shape, sharding, shard)
