"""The champion gate's rules (pipeline/gate.py), shared by the single-process and cluster paths."""

from types import SimpleNamespace

from returnrisk.pipeline.gate import comparable_champion, too_few_new_rows, verdict
from returnrisk.pipeline.params import TrainParams

CHAMPION = SimpleNamespace(version=3, uri="models:/returnrisk@champion")
PARAMS = TrainParams(min_new_rows=1000, tolerance_log_loss=0.0005, tolerance_auc=0.001)


def test_no_champion_promotes_without_comparison():
    bundle, decision = comparable_champion(tracker=None, champion=None)
    assert bundle is None
    assert decision == (True, "no champion yet: the new model becomes champion", {})


def test_an_unloadable_champion_is_replaced_and_the_reason_is_said():
    class Tracker:
        def load_bundle(self, uri):
            raise ValueError("bundle format 1 is not supported\nsecond line")

    bundle, (promote, message, comparison) = comparable_champion(Tracker(), CHAMPION)
    assert bundle is None and promote is True and comparison == {}
    assert message == ("champion v3 cannot be loaded by this version of returnrisk "
                       "(bundle format 1 is not supported): the new model becomes champion")


def test_a_champion_with_another_feature_set_is_kept():
    other = SimpleNamespace(model=SimpleNamespace(feature_names=["product_rate"]))
    tracker = SimpleNamespace(load_bundle=lambda uri: (other, None))
    bundle, (promote, message, _) = comparable_champion(tracker, CHAMPION)
    assert bundle is None and promote is False
    assert "another feature set" in message and "returnrisk promote --version N" in message


def test_too_few_new_rows_keeps_the_champion():
    promote, message, comparison = too_few_new_rows(CHAMPION, unseen=999, returned=300, params=PARAMS)
    assert promote is False and comparison == {"comparison_rows": 999.0}
    assert message.startswith("only 999 validation rows are newer than what champion v3 trained on (need 1000)")
    assert too_few_new_rows(CHAMPION, unseen=1000, returned=0, params=PARAMS)[0] is False      # one outcome only
    assert too_few_new_rows(CHAMPION, unseen=1000, returned=1000, params=PARAMS)[0] is False
    assert too_few_new_rows(CHAMPION, unseen=1000, returned=300, params=PARAMS) is None


def test_verdict_promotes_within_the_tolerances_and_not_past_them():
    old = {"log_loss": 0.5900, "auc": 0.7000}
    promote, message, scores = verdict(CHAMPION, 1500, {"log_loss": 0.5904, "auc": 0.6991}, old, PARAMS)
    assert promote is True
    assert message == ("promoted: on 1500 new validation rows, log-loss 0.5904 vs champion v3 0.5900, "
                       "AUC 0.6991 vs 0.7000")
    assert scores == {"comparison_rows": 1500.0, "candidate_log_loss": 0.5904, "champion_log_loss": 0.5900,
                      "candidate_auc": 0.6991, "champion_auc": 0.7000}
    worse_loss = verdict(CHAMPION, 1500, {"log_loss": 0.5906, "auc": 0.7100}, old, PARAMS)
    worse_auc = verdict(CHAMPION, 1500, {"log_loss": 0.5800, "auc": 0.6989}, old, PARAMS)
    assert worse_loss[0] is False and worse_loss[1].startswith("not promoted (worse than the champion)")
    assert worse_auc[0] is False
