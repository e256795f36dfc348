"""The PSTPose model: ViTPose backbone (vit), refinement modules (dfe, fcg, dsf), heads, weights.

Entry points live in ``pstpose.models.pstpose``: ``build_model`` and ``PSTPose``.
"""
