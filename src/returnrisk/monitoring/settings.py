"""Monitoring thresholds: environment variables prefixed ``RETURNRISK_MONITOR_`` (documented in
docs/monitoring.md). Library code receives a :class:`MonitorSettings`; only entry points (the CLI,
the service) read the environment.

Each check has two levels: crossing the first makes the verdict ``degraded``, crossing the second
``retrain_recommended``. Checks on outcomes (AUC, calibration) need matured lines; drift checks use
every line scored since the as-of date.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["MonitorSettings"]


class MonitorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RETURNRISK_MONITOR_", extra="ignore")

    min_matured_lines: int = Field(500, ge=1, description="Matured lines needed before AUC and calibration are judged.")
    auc_drop_degraded: float = Field(0.02, description="AUC this much below the validation AUC: degraded.")
    auc_drop_retrain: float = Field(0.04, description="AUC this much below the validation AUC: retrain recommended.")
    ece_degraded: float = Field(0.02, description="Expected calibration error (10 bins) from which the model is "
                                                  "degraded — when also above what chance alone gives on these lines.")
    ece_retrain: float = Field(0.035, description="ECE from which retraining is recommended (same chance rule).")
    ece_chance_quantile: float = Field(0.99, gt=0, lt=1, description="Quantile of the ECE a perfectly calibrated "
                                       "model reaches by chance on the same lines; an ECE below it is not judged "
                                       "(0.99: one false alarm in a hundred monitoring runs of a perfect model).")
    segment_gap_degraded: float = Field(0.05, description="|observed − predicted| return rate of a category, brand or "
                                                          "risk band from which the model is degraded.")
    segment_gap_retrain: float = Field(0.10, description="Same gap from which retraining is recommended.")
    segment_min_lines: int = Field(200, ge=1, description="Matured lines a segment needs to be judged.")
    segment_z: float = Field(4.0, description="A segment's gap must also be this many standard errors from zero "
                                              "(so that noise on a small segment raises no alarm).")
    feature_psi_degraded: float = Field(0.25, description="PSI of a feature against training: degraded (0.25 is the "
                                                          "usual 'large shift' rule of thumb). Feature drift alone "
                                                          "never recommends retraining.")
    prediction_psi_degraded: float = Field(0.25, description="PSI of the predicted P(return): degraded.")
    prediction_psi_retrain: float = Field(0.5, description="PSI of the predicted P(return): retrain recommended.")
    unknown_excess_degraded: float = Field(0.15, description="Share of lines with an unknown product, customer or "
                                                             "size this much above training's: degraded.")
    unknown_excess_retrain: float = Field(0.30, description="Same excess from which retraining is recommended (the "
                                                            "model's snapshot no longer knows the shop).")
    ignored_features: tuple[str, ...] = Field(
        ("month", "product_age_days", "shop_rate", "category_rate", "category_size_rate", "brand_small_rate",
         "brand_large_rate", "brand_fit_offset"),
        description="Features left out of drift checks (still shown): the month and the days since a product's "
                    "launch move with the calendar after the as-of date; the shop's, categories' and brands' "
                    "aggregates are frozen in the model's snapshot — after the as-of date they take one value per "
                    "category or brand whatever happens, so their histogram says nothing about the incoming lines.")
