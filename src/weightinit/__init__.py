"""weightinit: neural-network weight initializers in pure NumPy.

>>> import weightinit as wi
>>> w = wi.he_normal()((784, 256), seed=0)
>>> w.shape, w.dtype
((784, 256), dtype('float32'))
"""

from weightinit import presets
from weightinit import schemes
from weightinit._activations import Activation
from weightinit._activations import activations
from weightinit._activations import gain
from weightinit._activations import register_activation
from weightinit._fans import Fans
from weightinit._fans import Weight
from weightinit._fans import fans
from weightinit._lsuv import LSUVReport
from weightinit._lsuv import lsuv
from weightinit._recommend import explain
from weightinit._recommend import recommend
from weightinit.diagnostics import Report
from weightinit.diagnostics import compare
from weightinit.diagnostics import diagnose
from weightinit.families import constant
from weightinit.families import normal
from weightinit.families import ones
from weightinit.families import scaled_normal
from weightinit.families import truncated_normal
from weightinit.families import uniform
from weightinit.families import variance_scaling
from weightinit.families import zeros
from weightinit.initializers import Initializer
from weightinit.model import Param
from weightinit.model import initialize
from weightinit.named import glorot_normal
from weightinit.named import glorot_uniform
from weightinit.named import he_normal
from weightinit.named import he_uniform
from weightinit.named import lecun_normal
from weightinit.named import lecun_uniform
from weightinit.registry import get
from weightinit.registry import names
from weightinit.registry import register
from weightinit.seeds import Key
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
    "Activation",
    "Fans",
    "Initializer",
    "Key",
    "LSUVReport",
    "Param",
    "Report",
    "Weight",
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
    "initialize",
    "kaiming_normal",
    "kaiming_uniform",
    "lecun_normal",
    "lecun_uniform",
    "lsuv",
    "names",
    "normal",
    "ones",
    "orthogonal",
    "presets",
    "recommend",
    "register",
    "register_activation",
    "scaled_normal",
    "schemes",
    "sparse",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]
