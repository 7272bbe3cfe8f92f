"""The demo shop's customers: true body sizes per size system, habits and activity."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_customers"]


def make_customers(rng: np.random.Generator, n_customers: int, days: int) -> pd.DataFrame:
    """Customers with hidden truth.

    * ``true_<system>``: the ordinal (see :mod:`returnrisk.sizes`) of the label that fits them
      in a garment that runs true to size; letter, EU and waist sizes are correlated through
      one body-size factor, shoe size through a weaker link.
    * ``habit_<system>``: their "usual size" error (people believe they are a size they are not).
    * ``propensity``: how much more than others they return (serial returners exist).
    * ``bracketer``: orders two sizes of the same item and sends one back.
    * ``activity`` and ``arrival_day``: how often they order and from when.
    """
    body = rng.standard_normal(n_customers)
    feet = 0.5 * body + np.sqrt(1 - 0.25) * rng.standard_normal(n_customers)
    true_letter = 0.4 + 1.15 * body + 0.2 * rng.standard_normal(n_customers)
    true_eu = 19.4 + 1.25 * body + 0.2 * rng.standard_normal(n_customers)
    true_waist = 30.5 + 2.6 * body + 0.4 * rng.standard_normal(n_customers)
    true_shoe = 39.8 + 1.9 * feet
    propensity = rng.normal(0.0, 0.45, n_customers) + np.where(rng.random(n_customers) < 0.08, 1.3, 0.0)
    activity = rng.lognormal(0.0, 1.1, n_customers)
    existing = rng.random(n_customers) < 0.35
    arrival = np.where(existing, -1, rng.integers(0, days, n_customers))
    return pd.DataFrame({
        "customer_id": [f"C{i:07d}" for i in range(1, n_customers + 1)],
        "true_letter": true_letter,
        "true_eu": true_eu,
        "true_waist": true_waist,
        "true_shoe": true_shoe,
        "habit_letter": rng.normal(0.0, 0.3, n_customers),
        "habit_eu": rng.normal(0.0, 0.3, n_customers),
        "habit_waist": rng.normal(0.0, 0.5, n_customers),
        "habit_shoe": rng.normal(0.0, 0.3, n_customers),
        "propensity": propensity,
        "bracketer": rng.random(n_customers) < 0.07,
        "activity": activity,
        "arrival_day": arrival,
    })
