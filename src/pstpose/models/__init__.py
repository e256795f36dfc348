"""The PSTPose model: ViTPose backbone (vit), refinement modules (dfe, fcg, dsf), heads, weights.

Entry points: ``build_model`` and ``PSTPose`` in ``pstpose.models.pstpose``, and ``load_model``
(any weights file this package writes, or the packaged default), re-exported here from
``pstpose.models.loading``, which imports torch only when called. Weights formats:
``pretrained`` (this package's folders), ``vitpose_weights`` (foreign ViTPose files), and the
shared error type in ``errors``.
"""

from pstpose.models.loading import load_model

__all__ = ["load_model"]
