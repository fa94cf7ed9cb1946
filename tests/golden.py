"""How a recorded call of ``tests/data/golden_digests.json`` becomes its digest.

Shared by ``tests/test_portability.py`` and ``tests/data/make_golden_digests.py``, so the
file is written and checked by one recipe.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

import weightinit as wi

PATH = Path(__file__).parent / "data" / "golden_digests.json"


def _little_endian_bytes(values: np.ndarray) -> bytes:
    return np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("<")).tobytes()


def initializer(call: str) -> wi.Initializer:
    """The initializer a recorded call makes (``repr`` of an initializer is such a call)."""
    init = eval(call, {"__builtins__": {}}, vars(wi))
    assert isinstance(init, wi.Initializer) and repr(init) == call
    return init


def case_digest(case: dict[str, Any]) -> str:
    """The digest of one recorded call."""
    keywords: dict[str, Any] = {"seed": case["seed"]}
    for name in ("layout", "groups", "blocks", "threads"):
        if name in case:
            keywords[name] = case[name]
    if "region" in case:
        keywords["region"] = eval(case["region"], {"__builtins__": {}}, {"np": np})
    values = initializer(case["init"])(
        tuple(case["shape"]), case.get("dtype", "float32"), **keywords
    )
    return hashlib.sha256(_little_endian_bytes(values)).hexdigest()


def model_digest(model: dict[str, Any]) -> str:
    """The digest of a whole model, its entries' bytes in name order."""
    params = {
        name: wi.Param(initializer(call), tuple(shape), **kwargs)
        for name, (call, shape, kwargs) in model["params"].items()
    }
    values = wi.initialize(params, seed=model["seed"])
    data = b"".join(_little_endian_bytes(values[name]) for name in sorted(values))
    return hashlib.sha256(data).hexdigest()
