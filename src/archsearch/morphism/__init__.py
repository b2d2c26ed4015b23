"""Network morphism: grow a trained network into a larger config without changing its function.

Function-preserving operations (Chen et al., "Net2Net", ICLR 2016; Wei et al.,
"Network Morphism", ICML 2016) on the networks the project's builders make: widen a
stage (Net2Wider: copied channels, BN copied with its running statistics, consumers'
weights split among copies), deepen it (an identity layer or a residual block that
adds nothing), grow its kernels (zero-padded around the centre). :func:`morph` goes
from one config to a larger one in one call, composing whatever grew; each builder
has a :class:`Morpher` in :data:`MORPHERS` (``cnn``, ``mobilenet``).

A search uses it through the ``morph`` strategy, whose children name their parent
(``trial.parent``), and :func:`inherit` in the objective, which grows the parent's
checkpoint into the child so that the child trains for fewer epochs (Elsken et al.,
"Simple and efficient architecture search for CNNs", 2017; Cai et al., "Efficient
architecture search by network transformation", AAAI 2018).

Example:
    >>> from archsearch.errors import ConfigError
    >>> from archsearch.models import build_model
    >>> a = {"stages": [{"n_layers": 1, "width": 8, "kernel": 3}] * 2}
    >>> b = {"stages": [{"n_layers": 1, "width": 8, "kernel": 3},
    ...                 {"n_layers": 1, "width": 4, "kernel": 3}]}
    >>> parent = build_model("cnn", a, in_channels=1)
    >>> try:
    ...     morph(parent, a, b, space="cnn", in_channels=1)
    ... except ConfigError as exc:
    ...     print(exc)
    stages[1].width: 8 -> 4 is a decrease; function-preserving morphism only grows (allowed: >= 8)
"""

from archsearch.morphism import _cnn, _mobilenet  # noqa: F401  (register the morphers)
from archsearch.morphism._base import MORPHERS, Morpher
from archsearch.morphism._morph import inherit, morph
from archsearch.morphism._ops import (
    ChannelMap,
    copy_bn,
    identity_bn_,
    identity_conv_,
    pad_kernel,
    widen_conv,
    widen_depthwise,
    widen_layer,
    zero_bn_,
)

__all__ = [
    "MORPHERS",
    "ChannelMap",
    "Morpher",
    "copy_bn",
    "identity_bn_",
    "identity_conv_",
    "inherit",
    "morph",
    "pad_kernel",
    "widen_conv",
    "widen_depthwise",
    "widen_layer",
    "zero_bn_",
]
