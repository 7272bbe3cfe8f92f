"""Size advice: size ladders, the advice itself, its endpoint and CLI, and its accuracy on the demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from returnrisk.sizes import parse_size_label, product_size_systems, size_label_for

FAST = Path(__file__).with_name("fast_params.yaml")


@pytest.mark.parametrize(("label", "kind", "value"), [
    ("M", "letter", 0.0), ("xxl", "letter", 3.0), ("3XL", "letter", 4.0), ("XS", "letter", -2.0),
    ("38", "number", 38.0), ("42.5", "number", 42.5), ("42,5", "number", 42.5), ("W30", "waist", 30.0),
    ("W32 L34", "waist", 32.0), ("W30/L32", "waist", 30.0), ("", "unsized", None), ("TU", "unsized", None),
    ("One Size", "unsized", None), ("petite 8", "unknown", None), ("L/XL", "unknown", None),
])
def test_size_labels_are_parsed_never_crash(label, kind, value):
    k, v = parse_size_label(label)
    assert k == kind
    assert (np.isnan(v) if value is None else v == value)


def test_size_systems_per_product_and_canonical_labels():
    pairs = pd.DataFrame({"product_id": ["shoe", "shoe", "shoe2", "tr", "tr", "top", "jean", "bag", "odd"],
                          "size": ["40", "41", "40.5", "38", "40", "M", "W30", None, "petite"]})
    categories = pd.Series({"shoe": "sneakers", "shoe2": "misc", "tr": "trousers", "top": "tops",
                            "jean": "jeans", "bag": "bags", "odd": "dresses"})
    systems = product_size_systems(pairs, categories)
    assert systems.to_dict() == {"shoe": "shoe", "shoe2": "shoe", "tr": "eu", "top": "letter", "jean": "waist",
                                 "bag": "unsized", "odd": "unknown"}
    # the loader's arrow-backed strings (missing size = <NA>) give the same systems
    arrow = product_size_systems(pairs.astype("string[pyarrow]"), categories)
    assert arrow.to_dict() == systems.to_dict()
    assert size_label_for("letter", 1.0) == "L" and size_label_for("eu", 19.0) == "38"
    assert size_label_for("shoe", 42.5) == "42.5" and size_label_for("waist", 31.0) == "W31"


@pytest.fixture(scope="module")
def as_of_model(demo_train, tmp_path_factory):
    """A model trained as of 2026-06-01: its advice can be checked on the lines that follow."""
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler
    from returnrisk.scoring import ExplainedScorer
    from returnrisk.tracking import Tracker

    uri = f"sqlite:///{tmp_path_factory.mktemp('size')}/m.db"
    tracker = Tracker(uri)
    run_training(demo_train, params=load_params(FAST), tracker=tracker, as_of=pd.Timestamp("2026-06-01", tz="UTC"),
                 reason_filler=default_reason_filler())
    bundle, ref = tracker.load_bundle("models:/returnrisk@champion")
    return uri, ExplainedScorer(bundle, ref.version)


def test_advice_probabilities_and_recommendation(as_of_model):
    from returnrisk.scoring.size_advice import size_advice

    _, scorer = as_of_model
    profiles = scorer.snapshot.profiles
    customer, system = profiles.index[profiles["count"].to_numpy().argmax()].split("\x1f")
    product = next(p for p, sizes in scorer.sizes.items()
                   if len(sizes) >= 4 and scorer.snapshot.products.loc[p, "size_system"] == system)
    advice = size_advice(scorer, product, customer)
    assert advice.customer_known and advice.usual_size in scorer.offered_sizes(product)
    assert [o.size for o in advice.sizes] == scorer.offered_sizes(product)
    for o in advice.sizes:
        assert o.p_fit == pytest.approx(1 - o.p_too_small - o.p_too_large, abs=3e-6)  # rounded to 6 places
        assert 0 <= o.p_too_small <= o.p_return <= 1
    best = min(o.p_return for o in advice.sizes)
    chosen = next(o for o in advice.sizes if o.size == advice.recommended_size)
    assert chosen.p_return <= best + 0.005
    # risk of a too-small return falls as the size goes up (sizes are ordered)
    smalls = [o.p_too_small for o in advice.sizes]
    assert smalls[0] > smalls[-1]
    assert advice.message.startswith("We recommend " + advice.recommended_size)
    fr = size_advice(scorer, product, customer, "fr")
    assert fr.message.startswith("Nous vous conseillons " + advice.recommended_size)
    visitor = size_advice(scorer, product)
    assert visitor.recommended_size is None and visitor.customer_known is False
    assert visitor.message in (None, "Runs small: consider one size up", "Runs large: consider one size down",
                               "Runs small: most customers take one size up",
                               "Runs large: most customers take one size down")


def test_advice_beats_take_your_usual_size_on_products_that_run_small_or_large(as_of_model, demo_train):
    from returnrisk.scoring.size_evaluation import evaluate_size_advice

    _, scorer = as_of_model
    evaluation = evaluate_size_advice(scorer, demo_train, start=pd.Timestamp("2026-06-01", tz="UTC"),
                                      max_pairs=400)
    s = evaluation.summary
    assert s.loc["all", "pairs"] >= 150
    assert s.loc["all", "advice"] > 0.55
    off = evaluation.table[evaluation.table["fit"] != "true_to_size"]
    assert off["advice_right"].mean() > off["naive_right"].mean() + 0.15


def test_size_advice_endpoint_and_cli(as_of_model, tmp_path):
    from returnrisk.serving import Settings, create_app

    uri, scorer = as_of_model
    product = next(p for p, sizes in scorer.sizes.items() if len(sizes) >= 3)
    bundle = scorer.bundle
    loader = lambda: (bundle, {"version": "1", "alias": "champion", "uri": "u", "run_id": "r"})  # noqa: E731
    with TestClient(create_app(Settings(), loader=loader)) as c:
        r = c.get(f"/v1/products/{product}/size-advice", params={"lang": "fr"})
        assert r.status_code == 200
        body = r.json()
        assert [o["size"] for o in body["sizes"]] == scorer.offered_sizes(product)
        assert body["recommended_size"] is None
        assert c.get("/v1/products/NOPE/size-advice").json()["code"] == "product_not_found"
        unsized = next((p for p in scorer.snapshot.products.index if p not in scorer.sizes), None)
        if unsized is not None:
            r = c.get(f"/v1/products/{unsized}/size-advice")
            assert r.status_code == 422 and r.json()["code"] == "size_not_offered"
    proc = subprocess.run([sys.executable, "-m", "returnrisk", "size-advice", "--product", product,
                           "--tracking-uri", uri, "--json"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["product_id"] == product and len(out["sizes"]) == len(scorer.offered_sizes(product))
    proc = subprocess.run([sys.executable, "-m", "returnrisk", "size-advice", "--product", "NOPE",
                           "--tracking-uri", uri], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "product 'NOPE' is not in the model's catalogue" in proc.stderr
