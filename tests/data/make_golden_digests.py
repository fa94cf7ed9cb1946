"""Write ``golden_digests.json``: the SHA-256 of the bytes of many initializer calls.

Run it once, when a stream version is introduced, and commit the file::

    python tests/data/make_golden_digests.py

``tests/test_portability.py`` recomputes every digest and compares it with the file. CI runs
that test under every OpenBLAS kernel, one and two BLAS threads, and the oldest and newest
NumPy the package supports: the file is written once, so each of those runs is checked
against the same bytes. The cases are plain data (the initializer as the call that makes it,
shape, dtype, layout, groups, blocks, region, threads), so the file says what was measured.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("golden_digests.json")

SEED = 2026

#: (id, initializer call, shape, keyword arguments); dtype float32 unless given.
CASES: list[tuple[str, str, list[int], dict[str, Any]]] = [
    # Element-wise, in every dtype and over several tiles.
    ("he_normal-f32", "he_normal()", [300, 301], {}),
    ("he_normal-f64", "he_normal()", [300, 301], {"dtype": "float64"}),
    ("he_normal-f16", "he_normal()", [37, 129], {"dtype": "float16"}),
    ("glorot_uniform-f32", "glorot_uniform()", [1024, 1024], {}),
    ("uniform-f64", "uniform(-0.3, 0.7)", [513, 7], {"dtype": "float64"}),
    ("truncated_normal-wide", "truncated_normal()", [300, 301], {}),
    ("truncated_normal-narrow", "truncated_normal(bound=0.5)", [300, 301], {"dtype": "float64"}),
    ("lecun_normal-gelu", "lecun_normal(gain='gelu')", [64, 3, 3, 3], {"layout": "pytorch"}),
    # Every layout, groups and blocks.
    ("he_normal-in_out", "he_normal()", [3, 3, 16, 32], {}),
    ("he_normal-pytorch", "he_normal()", [32, 16, 3, 3], {"layout": "pytorch"}),
    ("he_uniform-transposed", "he_uniform()", [16, 8, 3, 3], {"layout": "pytorch_transposed"}),
    ("uniform-keras_depthwise", "uniform()", [3, 3, 16, 2], {"layout": "keras_depthwise"}),
    ("glorot_normal-groups", "glorot_normal()", [64, 8, 3, 3], {"layout": "pytorch", "groups": 8}),
    ("glorot_uniform-blocks", "glorot_uniform()", [512, 128], {"layout": "pytorch", "blocks": 4}),
    # Regions and threads.
    ("he_normal-region", "he_normal()", [1000, 700], {"region": "np.s_[100:300, ::7]"}),
    ("he_normal-threads1", "he_normal()", [1100, 1000], {"threads": 1}),
    ("he_normal-threads3", "he_normal()", [1100, 1000], {"threads": 3}),
    # Structured: the orthogonal factor from exact products, at several block counts.
    ("orthogonal-tall-f32", "orthogonal()", [300, 200], {}),
    ("orthogonal-tall-f64", "orthogonal()", [300, 200], {"dtype": "float64"}),
    ("orthogonal-wide-f64", "orthogonal()", [200, 300], {"dtype": "float64", "layout": "pytorch"}),
    ("orthogonal-square-f32", "orthogonal(1.5)", [512, 512], {}),
    ("orthogonal-blocked-f32", "orthogonal()", [1000, 700], {}),
    ("orthogonal-f16", "orthogonal()", [96, 64], {"dtype": "float16"}),
    ("orthogonal-conv", "orthogonal()", [256, 128, 3, 3], {"layout": "pytorch"}),
    ("orthogonal-conv-in_out", "orthogonal()", [3, 3, 64, 96], {}),
    ("orthogonal-gates", "orthogonal()", [2048, 512], {"layout": "pytorch", "blocks": 4}),
    ("orthogonal-region", "orthogonal()", [600, 400], {"region": "np.s_[50:550:3, 10:]"}),
    ("orthogonal-threads2", "orthogonal()", [600, 400], {"threads": 2}),
    ("delta_orthogonal", "delta_orthogonal()", [3, 3, 64, 128], {}),
    (
        "delta_orthogonal-f64",
        "delta_orthogonal(2.0)",
        [96, 64, 3, 3],
        {"layout": "pytorch", "dtype": "float64"},
    ),
    ("sparse", "sparse(0.9)", [300, 200], {}),
    ("identity", "identity(0.5)", [40, 60], {}),
    ("dirac", "dirac()", [3, 3, 8, 16], {}),
]

#: A whole model by name, through wi.initialize (orthogonal and element-wise entries).
MODEL = {
    "conv.weight": ("he_normal()", [64, 32, 3, 3], {"layout": "pytorch"}),
    "conv.bias": ("zeros()", [64], {}),
    "lstm.weight_hh": ("orthogonal()", [1024, 256], {"layout": "pytorch", "blocks": 4}),
    "fc": ("glorot_uniform()", [256, 10], {}),
}


def main() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from golden import case_digest
    from golden import model_digest

    import weightinit as wi

    def canonical(call: str) -> str:  # the call as the initializer prints itself
        return repr(eval(call, {"__builtins__": {}}, vars(wi)))

    cases = []
    for name, init, shape, kwargs in CASES:
        record = {"id": name, "init": canonical(init), "shape": shape, "seed": SEED, **kwargs}
        cases.append({**record, "digest": case_digest(record)})
    params = {k: [canonical(c), s, kw] for k, (c, s, kw) in MODEL.items()}
    model: dict[str, Any] = {"seed": SEED, "params": params}
    model["digest"] = model_digest(model)
    OUTPUT.write_text(json.dumps({"cases": cases, "model": model}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases and a model to {OUTPUT}")


if __name__ == "__main__":
    main()
