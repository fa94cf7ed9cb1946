"""The same int seed gives the same bytes everywhere: checked against digests written once.

``tests/data/golden_digests.json`` holds the SHA-256 of the little-endian bytes of element-wise
and structured weights in every layout, with groups, blocks, regions and thread counts, and of
a whole model (``tests/data/make_golden_digests.py`` wrote it). This test recomputes each
digest on the machine it runs on. CI runs it under every OpenBLAS kernel
(``OPENBLAS_CORETYPE`` Prescott, Sandybridge, Haswell, SkylakeX, Zen, where the CPU has
them), with ``OPENBLAS_NUM_THREADS`` 1 and 2, and under the oldest and the newest NumPy the
package supports (``.ci/portability``): every run compares with the same file.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from golden import PATH
from golden import case_digest
from golden import model_digest

GOLDEN = json.loads(PATH.read_text())


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["id"] for c in GOLDEN["cases"]])
def test_golden_digest(case: dict[str, Any]) -> None:
    assert case_digest(case) == case["digest"]


def test_golden_digest_of_a_model() -> None:
    assert model_digest(GOLDEN["model"]) == GOLDEN["model"]["digest"]


def test_the_golden_cases_cover_every_layout_and_structuredinitializer() -> None:
    cases = GOLDEN["cases"]
    layouts = {c.get("layout", "in_out") for c in cases}
    assert layouts >= {"in_out", "pytorch", "pytorch_transposed", "keras_depthwise"}
    names = {c["init"].split("(")[0] for c in cases}
    assert names >= {"orthogonal", "delta_orthogonal", "sparse", "identity", "dirac"}
    assert any("region" in c and c["init"].startswith("orthogonal") for c in cases)
    assert {c.get("threads") for c in cases} >= {1, 2, 3}
    assert {c.get("dtype", "float32") for c in cases} == {"float16", "float32", "float64"}
