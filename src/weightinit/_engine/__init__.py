"""The private engine: every line here can change a byte that users reproduce.

It holds the keys and the per-tile streams (:mod:`.keys`), the cutting of tensors into tiles
and regions (:mod:`.tiles`), the portable transforms from random words to values
(:mod:`.kernels`), the batching and threading of tiles (:mod:`.run`), the matrix products
whose bits do not depend on BLAS (:mod:`.exact`) and the orthogonal factor built from them
(:mod:`.qr`). It imports nothing from the public package, only
:mod:`weightinit._errors`; the golden digests in ``tests/test_sampling.py`` and
``tests/data/golden_digests.json`` pin its output.
"""
