"""Fix suggestions for merchandisers: which product pages to fix, how, and what it saves.

Entry point: :func:`compute_fixes` (``returnrisk fixes``, ``GET /v1/fixes``) gives a
:class:`FixReport` of typed :class:`FixSuggestion` records (:mod:`returnrisk.fixes.suggestion`);
see ``docs/fixes.md``.
"""

from returnrisk.fixes.engine import FixReport, compute_fixes, load_fix_shop
from returnrisk.fixes.impact import ESTIMATE_NOTE
from returnrisk.fixes.levers import LEVER_LABELS, LEVER_REASONS, LEVERS
from returnrisk.fixes.params import FixParams
from returnrisk.fixes.suggestion import FIX_FIELDS, Evidence, FixSuggestion, Impact

__all__ = [
    "ESTIMATE_NOTE",
    "FIX_FIELDS",
    "LEVERS",
    "LEVER_LABELS",
    "LEVER_REASONS",
    "Evidence",
    "FixParams",
    "FixReport",
    "FixSuggestion",
    "Impact",
    "compute_fixes",
    "load_fix_shop",
]
