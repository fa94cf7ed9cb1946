"""weightinit: neural-network weight initializers in pure NumPy.

>>> import weightinit as wi
>>> w = wi.he_normal()((784, 256), seed=0)
>>> w.shape, w.dtype
((784, 256), dtype('float32'))
"""

from weightinit import presets
from weightinit.activations import activations
from weightinit.activations import explain
from weightinit.activations import gain
from weightinit.activations import recommend
from weightinit.activations import register_activation
from weightinit.diagnostics import Report
from weightinit.diagnostics import compare
from weightinit.diagnostics import diagnose
from weightinit.fans import Fans
from weightinit.fans import fans
from weightinit.initializers import Initializer
from weightinit.initializers import constant
from weightinit.initializers import glorot_normal
from weightinit.initializers import glorot_uniform
from weightinit.initializers import he_normal
from weightinit.initializers import he_uniform
from weightinit.initializers import lecun_normal
from weightinit.initializers import lecun_uniform
from weightinit.initializers import ones
from weightinit.initializers import scaled_normal
from weightinit.initializers import truncated_normal
from weightinit.initializers import uniform
from weightinit.initializers import variance_scaling
from weightinit.initializers import zeros
from weightinit.lsuv import LSUVReport
from weightinit.lsuv import lsuv
from weightinit.registry import get
from weightinit.registry import names
from weightinit.registry import register
from weightinit.sampling import Key
from weightinit.structured import delta_orthogonal
from weightinit.structured import dirac
from weightinit.structured import identity
from weightinit.structured import orthogonal
from weightinit.structured import sparse

__version__ = "0.1.0"

xavier_normal = glorot_normal
xavier_uniform = glorot_uniform
kaiming_normal = he_normal
kaiming_uniform = he_uniform

__all__ = [
    "Fans",
    "Initializer",
    "Key",
    "LSUVReport",
    "Report",
    "activations",
    "compare",
    "constant",
    "delta_orthogonal",
    "diagnose",
    "dirac",
    "explain",
    "fans",
    "gain",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "identity",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "lsuv",
    "names",
    "ones",
    "orthogonal",
    "presets",
    "recommend",
    "register",
    "register_activation",
    "scaled_normal",
    "sparse",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
