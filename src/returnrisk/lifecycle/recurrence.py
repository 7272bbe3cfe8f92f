"""Has a done fix's problem come back? The suggestions' own evidence, on the sales since it went live.

For a done fix, the weekly evidence of its report (:attr:`returnrisk.fixes.FixReport.detection`)
gives the returns of the lever's reasons and the exposure of its product at every cut-off. The
evidence gathered since the live date is the difference between the last cut-off and the first
one on or after the live date. The problem has **recurred** when that new evidence, on its own,
shows the product above its reference again with the suggestions' rule: P(rate > reference) ≥
the flag threshold, under the same beta prior — once at least ``min_exposure`` sale-equivalents
have been seen since the live date. A size-level fix is judged on its product's evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from returnrisk.evidence import excess_probability

__all__ = ["Recurrence", "recurrence"]


@dataclass(frozen=True)
class Recurrence:
    fix_id: str
    recurred: bool
    returns: float           # returns of the lever's reasons since the live date
    exposure: float          # exposure-adjusted sales since the live date
    rate: float | None
    reference_rate: float
    p_worse: float | None
    reason: str

    def to_dict(self) -> dict:
        def rounded(v, d=4):
            return None if v is None or not np.isfinite(v) else round(float(v), d)
        return {"fix_id": self.fix_id, "recurred": self.recurred, "returns": rounded(self.returns, 2),
                "exposure": rounded(self.exposure, 2), "rate": rounded(self.rate),
                "reference_rate": rounded(self.reference_rate), "p_worse": rounded(self.p_worse),
                "reason": self.reason}


def recurrence(detection, fix_id: str, product_id: str, lever: str, live_at, *, min_exposure: float = 30.0
               ) -> Recurrence | None:
    """The recurrence check of one done fix (``None`` when its product or lever has no evidence)."""
    if detection is None or lever not in detection.levers:
        return None
    keys = detection.panel.keys
    row = keys.get_indexer([str(product_id)])[0]
    if row < 0:
        return None
    evidence = detection.levers[lever]
    cutoffs = detection.panel.cutoffs
    live_s = int(pd.Timestamp(live_at, tz="UTC").timestamp()) if not isinstance(live_at, pd.Timestamp) \
        else int(live_at.timestamp())
    first = int(np.searchsorted(cutoffs, live_s, side="left"))
    last = len(cutoffs) - 1
    reference = float(evidence.reference[row, last])
    if first >= last:
        return Recurrence(fix_id, False, 0.0, 0.0, None, reference, None, "no weekly evaluation since the live date")
    k = float(evidence.k[row, last] - evidence.k[row, first])
    e = float(evidence.exposure[row, last] - evidence.exposure[row, first])
    if e < min_exposure:
        return Recurrence(fix_id, False, k, e, k / e if e > 0 else None, reference, None,
                          f"{e:.0f} sales since the live date: judged from {min_exposure:.0f}")
    params = detection.params
    ref = min(max(reference, 1e-4), 1 - 1e-4)
    strength = max(params.prior_strength, params.prior_min_returns / ref)
    p = float(excess_probability(max(k, 0.0), e, ref, strength))
    recurred = p >= params.flag_threshold
    verdict = "above its reference again" if recurred else "not above its reference"
    return Recurrence(fix_id, recurred, k, e, k / e, reference, p,
                      f"{k:.0f} returns of its reasons in {e:.0f} sales since the live date ({k / e:.1%} against "
                      f"{reference:.1%}, P(worse) {p:.2f}): {verdict}")
