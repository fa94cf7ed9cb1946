"""PyTorch models in one call: a plan of every parameter, then portable, name-keyed values.

Needs the ``torch`` extra (PyTorch is imported when a function here is called).
:func:`plan` reads each parameter's role, layout, groups and stacked blocks from its
module's type (the module table knows ``torch.nn``'s layers and those of transformers, timm
and torchvision by their class names, without importing those packages) and asks a scheme
for its initializer; :func:`initialize_` fills the model in place with
``weightinit.initialize(plan, seed)``: the same bytes on every machine and device, each
parameter keyed by its qualified name.

The package is split by job: ``_modules`` (what each module type's parameters are),
``_structure`` (the residual blocks, their depth and width, each projection's part, the
head), ``_roles`` (a parameter's placed role, and the user's ``roles=``), ``_buffers`` (the
buffers that are functions of a configuration), ``_rules`` (what a user's rule says and
reaches), ``_plan`` (table x structure x scheme x rules -> :class:`Plan`), ``_fill``
(materialising and filling), ``_audit`` (a model's values against its plan, μP's
optimizer groups), ``_batch`` and ``_diagnose`` (one forward and backward pass, each
layer's statistics and their verdicts), ``_coord`` (μP's coordinate check over widths).
"""

from weightinit.torch._audit import audit
from weightinit.torch._audit import mup_param_groups
from weightinit.torch._coord import coord_check
from weightinit.torch._diagnose import diagnose
from weightinit.torch._fill import initialize_
from weightinit.torch._plan import Plan
from weightinit.torch._plan import plan
from weightinit.torch._rules import KEEP
from weightinit.torch._rules import Rule

__all__ = [
    "KEEP",
    "Plan",
    "Rule",
    "audit",
    "coord_check",
    "diagnose",
    "initialize_",
    "mup_param_groups",
    "plan",
]
