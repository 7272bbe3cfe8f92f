"""The champion gate: may the new model replace the champion?

Shared by the single-process path (``pipeline.train``) and the cluster path (``cluster.train``):
they differ only in where the validation rows lie and how the two models are scored on them;
which champion can be compared at all, the minimum of new rows and the verdict are decided here,
with the same rules and the same words.

A decision is ``(promote, message, comparison)``: ``comparison`` holds the figures logged to the
MLflow run (empty when there was nothing to compare).
"""

from __future__ import annotations

from returnrisk.errors import ReturnRiskError
from returnrisk.features.catalog import FEATURE_NAMES
from returnrisk.model.bundle import ServingBundle
from returnrisk.pipeline.params import TrainParams
from returnrisk.tracking import Tracker

__all__ = ["Decision", "comparable_champion", "too_few_new_rows", "verdict"]

Decision = tuple[bool, str, dict]


def comparable_champion(tracker: Tracker, champion) -> tuple[ServingBundle | None, Decision | None]:
    """``(bundle, None)`` when the champion can be scored on the new validation rows, else
    ``(None, decision)``: no champion or one this version cannot load (the new model becomes
    champion), or one with another feature set (kept; a person promotes by hand)."""
    if champion is None:
        return None, (True, "no champion yet: the new model becomes champion", {})
    try:
        bundle, _ = tracker.load_bundle(champion.uri)
    except (ReturnRiskError, ValueError, OSError) as exc:
        # this version of returnrisk could not serve the old champion either
        return None, (True, (f"champion v{champion.version} cannot be loaded by this version of returnrisk "
                             f"({str(exc).splitlines()[0]}): the new model becomes champion"), {})
    if tuple(bundle.model.feature_names) != FEATURE_NAMES:
        return None, (False, (f"champion v{champion.version} uses another feature set and cannot be scored on the "
                              "same rows: not promoted automatically; promote with `returnrisk promote --version N` "
                              "after comparing the runs in MLflow"), {})
    return bundle, None


def too_few_new_rows(champion, unseen: int, returned: int, params: TrainParams) -> Decision | None:
    """The decision when the rows the champion never trained on cannot compare the two models
    (fewer than ``min_new_rows``, or all of one outcome); ``None`` when they can."""
    if unseen < params.min_new_rows or returned in (0, unseen):
        return False, (f"only {int(unseen)} validation rows are newer than what champion v{champion.version} "
                       f"trained on (need {params.min_new_rows}): no fair comparison, champion kept; "
                       "use `returnrisk promote --version N` to override"), {"comparison_rows": float(unseen)}
    return None


def verdict(champion, unseen: int, new: dict, old: dict, params: TrainParams) -> Decision:
    """Promote when the new model is not worse than the champion in log-loss and AUC (within the
    tolerances of ``params``) on the ``unseen`` rows both were scored on."""
    scores = {"comparison_rows": float(unseen),
              "candidate_log_loss": new["log_loss"], "champion_log_loss": old["log_loss"],
              "candidate_auc": new["auc"], "champion_auc": old["auc"]}
    not_worse = (new["log_loss"] <= old["log_loss"] + params.tolerance_log_loss
                 and new["auc"] >= old["auc"] - params.tolerance_auc)
    outcome = "promoted" if not_worse else "not promoted (worse than the champion)"
    return not_worse, (
        f"{outcome}: on {int(unseen)} new validation rows, log-loss {new['log_loss']:.4f} vs champion "
        f"v{champion.version} {old['log_loss']:.4f}, AUC {new['auc']:.4f} vs {old['auc']:.4f}"
    ), scores
