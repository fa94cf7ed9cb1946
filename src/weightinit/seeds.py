"""Seeds and keys: what ``seed=`` accepts, and the root key every value is a function of.

A seed resolves once into a root key of four 64-bit words (by
:class:`numpy.random.SeedSequence`); :class:`Key` holds one, and :meth:`Key.fold_in` derives
a child key from a name, so each parameter of a model is keyed by its name. The engine draws
tile ``i`` of a tensor from a stream keyed by the root key's words and ``i``.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import struct
from dataclasses import dataclass
from typing import Union

import numpy as np

from weightinit._engine.streams import MASK64
from weightinit._engine.streams import Words
from weightinit._errors import integer

__all__ = ["Key", "SeedLike", "check_seed", "root_key"]

SeedLike = Union[None, int, np.integer, np.random.SeedSequence, np.random.Generator, "Key"]

_FOLD_DOMAIN = b"weightinit.fold_in\0"


@dataclass(frozen=True)
class Key:
    """A resolved root key: four 64-bit words. Passing it as ``seed`` reuses it as it is.

    Resolve a seed once with ``Key.from_seed(seed)`` to make several pieces of one tensor
    (regions, Dask chunks) from one ``Generator`` or ``None`` seed.

    Examples
    --------
    >>> import numpy as np
    >>> import weightinit as wi
    >>> key = wi.Key.from_seed(np.random.default_rng(0))
    >>> a = wi.he_normal()((4, 3), seed=key)
    >>> bool((a == wi.he_normal()((4, 3), seed=key)).all())
    True
    """

    words: Words

    def __post_init__(self) -> None:
        words = self.words
        if (
            not isinstance(words, tuple)
            or len(words) != 4
            or not all(isinstance(w, int) and not isinstance(w, bool) for w in words)
            or not all(0 <= w <= MASK64 for w in words)
        ):
            raise ValueError(
                f"a Key holds four integers in [0, 2**64); got {words!r}. Make one with "
                "Key.from_seed(seed)."
            )

    @classmethod
    def from_seed(cls, seed: SeedLike) -> Key:
        """Resolve ``seed`` (advancing a ``Generator``) into a reusable key."""
        return cls(root_key(seed))

    def fold_in(self, name: str | int) -> Key:
        """A child key for ``name``, a string or an integer: a pure function of the two.

        The child's four words are the SHA-256 digest (32 bytes, read as four little-endian
        64-bit words) of ``b"weightinit.fold_in\\0"``, this key's words (8 bytes each,
        little-endian), a type tag (``b"s"`` or ``b"i"``) and ``name`` (UTF-8, or the
        integer in decimal ASCII). So ``fold_in("3")`` and ``fold_in(3)`` differ, the
        same (key, name) gives the same child on every platform, and children chain:
        ``key.fold_in("encoder").fold_in(3)``. Key each parameter of a model by its name,
        and adding or removing a layer changes no other layer's values.

        Examples
        --------
        >>> import weightinit as wi
        >>> root = wi.Key.from_seed(0)
        >>> root.fold_in("fc1.weight") == root.fold_in("fc1.weight")
        True
        >>> root.fold_in("3") == root.fold_in(3)
        False
        >>> w = wi.he_normal()((4, 3), seed=root.fold_in("encoder").fold_in(0))
        """
        if isinstance(name, str):
            try:
                payload = b"s" + name.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(
                    f"fold_in needs a name that UTF-8 can encode; got {name!r}."
                ) from None
        elif isinstance(name, bool) or not hasattr(name, "__index__"):
            raise TypeError(
                f"fold_in takes a str or an int name; got {name!r} of type {type(name).__name__}."
            )
        else:
            payload = b"i" + str(operator.index(name)).encode("ascii")
        words = b"".join(w.to_bytes(8, "little") for w in self.words)
        digest = hashlib.sha256(_FOLD_DOMAIN + words + payload).digest()
        child = object.__new__(Key)  # the words are valid by construction: skip the checks
        object.__setattr__(child, "words", struct.unpack("<4Q", digest))
        return child


def check_seed(seed: object) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``seed`` is a valid seed."""
    if seed is None or isinstance(seed, (np.random.SeedSequence, np.random.Generator, Key)):
        return
    if isinstance(seed, bool) or not hasattr(seed, "__index__"):
        raise TypeError(
            "seed must be None, a non-negative int, a numpy.random.SeedSequence, a "
            f"numpy.random.Generator or a weightinit.Key; got {seed!r} of type "
            f"{type(seed).__name__}."
        )
    integer("seed", seed, minimum=0)


@functools.lru_cache(maxsize=256)
def _key_from_int(seed: int) -> Words:
    return _key_from_sequence(np.random.SeedSequence(seed))


def _key_from_sequence(sequence: np.random.SeedSequence) -> Words:
    words = sequence.generate_state(4, np.uint64)
    return (int(words[0]), int(words[1]), int(words[2]), int(words[3]))


def root_key(seed: SeedLike) -> Words:
    """Derive the four-word root key of all tile streams from ``seed``.

    An int or a ``SeedSequence`` always gives the same key. A ``Generator`` is advanced by
    four 64-bit draws, so two calls with one generator give different keys. ``None`` draws
    fresh entropy from the operating system.
    """
    check_seed(seed)
    if isinstance(seed, Key):
        return seed.words
    if isinstance(seed, np.random.Generator):
        entropy = seed.integers(0, 2**63, size=4, dtype=np.int64)
        return _key_from_sequence(np.random.SeedSequence([int(x) for x in entropy]))
    if isinstance(seed, np.random.SeedSequence):
        return _key_from_sequence(seed)
    if seed is None:
        return _key_from_sequence(np.random.SeedSequence())
    return _key_from_int(operator.index(seed))
