"""Settings of the fix suggestions, with their documented defaults.

The three money/threshold settings come from the shop's economics
(:class:`returnrisk.config.Economics`: ``flag_threshold``, ``return_cost_per_unit``,
``margin_loss_rate``, read by the CLI and the service from ``RETURNRISK_*``): build the
parameters with :meth:`FixParams.from_economics`. The statistical knobs below are fixed defaults
that the benchmark (``benchmarks/fixes_benchmark.py``) measured on demo shops of several seeds
and cause mixes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from returnrisk.config import DEFAULT_ECONOMICS, Economics
from returnrisk.timeutil import DEFAULT_WINDOW_DAYS

__all__ = ["FixParams"]


@dataclass(frozen=True)
class FixParams:
    """How excesses are judged, levers decided and impact priced.

    Attributes
    ----------
    flag_threshold:
        A lever is suggested (and a product flagged) once the posterior probability that the
        product's rate of the lever's reason is above its reference reaches this value.
    return_cost_per_unit:
        Cost of handling one return when the data has no ``return_cost`` (currency of the data).
    margin_loss_rate:
        Share of the line's value lost on a returned item (markdown, damage, re-listing).
    prior_strength:
        Strength, in matured-line equivalents, of the beta prior centred on the reference rate.
    prior_min_returns:
        The prior holds at least this many pseudo-returns (``strength = max(prior_strength,
        prior_min_returns / reference)``), so that two rare returns in three sales do not flag.
    material_ratio:
        For the photo, description, quality and packaging levers, the rate must also exceed this
        multiple of the reference with probability ≥ ``flag_threshold``.
    credible_level:
        Level of the reported central credible interval of each rate.
    step_days:
        Spacing of the as-of evaluations that date the first flag (``flagged_since``).
    window_days:
        The return window (exposure: a line younger than this has not had its full chance).
    recent_days:
        Current sales per month are measured over this many days before the as-of date, and
        the model re-scores the product's lines of this period.
    max_lines_per_product:
        At most this many recent lines of a product are re-scored (the most recent).
    shap_lines_per_product:
        The mean SHAP contributions reported as evidence are over this many of those lines.
    fit_margin:
        A fit lever needs the kept-size offset (how far from their usual size the customers who
        kept the product ordered) to be at least this many size steps beyond the category's,
        when enough kept lines are known; it also decides on its own (see ``docs/fixes.md``).
    fit_prior_lines:
        Strength, in kept lines, of the normal prior of a product's kept-size offset.
    min_kept_for_fit:
        Kept lines with a known usual size needed before the kept-size offset is used.
    few_photos_ratio:
        "Few photos": fewer than this share of the category's median number of photos.
    short_description_ratio:
        "Short description": shorter than this share of the category's median length.
    """

    flag_threshold: float = DEFAULT_ECONOMICS.flag_threshold
    return_cost_per_unit: float = DEFAULT_ECONOMICS.return_cost_per_return
    margin_loss_rate: float = DEFAULT_ECONOMICS.margin_loss_rate
    prior_strength: float = 20.0
    prior_min_returns: float = 2.0
    material_ratio: float = 1.0
    credible_level: float = 0.9
    step_days: int = 7
    window_days: int = DEFAULT_WINDOW_DAYS
    recent_days: int = 90
    max_lines_per_product: int = 200
    shap_lines_per_product: int = 10
    fit_margin: float = 0.2
    fit_prior_lines: float = 10.0
    min_kept_for_fit: int = 10
    few_photos_ratio: float = 1.0
    short_description_ratio: float = 0.6

    def __post_init__(self):
        if not 0.5 <= self.flag_threshold < 1.0:
            raise ValueError(f"flag_threshold {self.flag_threshold} must be in [0.5, 1)")
        if self.return_cost_per_unit < 0 or not 0 <= self.margin_loss_rate <= 1:
            raise ValueError("return_cost_per_unit must be ≥ 0 and margin_loss_rate in [0, 1]")
        if self.step_days < 1 or self.recent_days < 1 or self.window_days < 1:
            raise ValueError("step_days, recent_days and window_days must be positive")

    @classmethod
    def from_economics(cls, economics: Economics, **overrides) -> FixParams:
        """Defaults with the economics' threshold and costs, then ``overrides`` (``None`` = not given)."""
        values = {
            "flag_threshold": float(economics.flag_threshold),
            # the fixes' cost of one avoided return: the economics' cost per return (a parcel)
            "return_cost_per_unit": float(economics.return_cost_per_return),
            "margin_loss_rate": float(economics.margin_loss_rate),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def to_dict(self) -> dict:
        return asdict(self)
