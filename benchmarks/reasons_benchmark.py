"""Benchmark of the return-reason classifier: accuracy on the held-out set, filler throughput.

Run from the repository root::

    .venv/bin/python benchmarks/reasons_benchmark.py            # 1,000,000 returns
    .venv/bin/python benchmarks/reasons_benchmark.py --rows 200000 --json

It prints

1. macro-F1 per language on ``src/returnrisk/reasons/seed/eval_reasons.csv`` (held out: never
   used for fitting) for a classifier fitted on the seed set, and the F1 of every code;
2. the time of :func:`returnrisk.reasons.default_reason_filler` on a synthetic returns table of
   ``--rows`` rows shaped like the loader's output: ``--text-only`` of them with a text and no
   code (to infer), ``--labelled`` with a code and a text (used to refine the classifier), the
   rest with a code only. Texts are drawn, with a skewed (Zipf-like) frequency, from a pool of
   ``--distinct`` variants of the seed and held-out phrasings (case changes, accents removed,
   typos, extra words), so that many texts repeat as they do in real returns portals;
   ``--unique-texts`` makes every one of them different instead (worst case).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
import unicodedata

import numpy as np
import pandas as pd

from returnrisk.data.loader import _clean_returns
from returnrisk.reasons import (
    DEFAULT_THRESHOLD,
    ReasonClassifier,
    default_reason_filler,
    evaluate_classifier,
    load_eval_set,
    load_seed_set,
)
from returnrisk.reasons.fill import fit_for_shop, infer_reasons


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


_SUFFIXES = ("", " thanks", " merci", " !!", ", please refund", ", remboursement svp", " :(", " cordialement")


def _variant(text: str, rng: np.random.Generator) -> str:
    """A plausible rewrite of ``text``: case, accents, one typo, a polite suffix."""
    out = text
    roll = rng.random(4)
    if roll[0] < 0.3:
        out = out.lower()
    elif roll[0] < 0.4:
        out = out.upper()
    if roll[1] < 0.4:
        out = _strip_accents(out)
    if roll[2] < 0.5 and len(out) > 4:
        i = int(rng.integers(1, len(out) - 1))
        kind = rng.integers(3)
        out = out[:i] + out[i + 1:] if kind == 0 else (
            out[:i] + out[i] + out[i:] if kind == 1 else out[:i] + out[i + 1] + out[i] + out[i + 2:])
    out += _SUFFIXES[int(rng.integers(len(_SUFFIXES)))] if roll[3] < 0.5 else ""
    return out


def _pool(frame: pd.DataFrame, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    base = rng.integers(len(frame), size=size)
    texts = np.array([_variant(frame["text"].iat[i], rng) for i in base], dtype=object)
    return texts, frame["reason_code"].to_numpy(dtype=object)[base]


def synthetic_returns(rows: int, text_only: float, labelled: float, distinct: int, seed: int,
                      unique_texts: bool = False) -> pd.DataFrame:
    """A returns table like ``load_shop`` produces (before the reason filler).

    With ``unique_texts`` every text-only row gets its own text (two phrasings joined and a
    made-up word): the worst case, where deduplication saves nothing.
    """
    rng = np.random.default_rng(seed)
    # text-only rows speak like the held-out set, labelled rows like the seed (and the shop)
    infer_texts, _ = _pool(load_eval_set(), distinct, rng)
    shop_texts, shop_codes = _pool(load_seed_set(), distinct, rng)
    zipf = 1.0 / np.arange(1, distinct + 1) ** 1.1
    zipf /= zipf.sum()
    kind = rng.choice(3, size=rows, p=[text_only, labelled, 1 - text_only - labelled])
    n_text_only, n_labelled = int((kind == 0).sum()), int((kind == 1).sum())
    text = np.full(rows, None, dtype=object)
    code = np.full(rows, None, dtype=object)
    if unique_texts:
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        pairs = rng.integers(distinct, size=(n_text_only, 2))
        words = ["".join(w) for w in letters[rng.integers(26, size=(n_text_only, 7))]]
        text[kind == 0] = [f"{infer_texts[a]}. {infer_texts[b]} {w}" for (a, b), w in zip(pairs, words)]
    else:
        text[kind == 0] = infer_texts[rng.choice(distinct, size=n_text_only, p=zipf)]
    pick = rng.choice(distinct, size=n_labelled, p=zipf)
    text[kind == 1], code[kind == 1] = shop_texts[pick], shop_codes[pick]
    given = kind == 2
    code[given] = rng.choice(np.array(load_seed_set()["reason_code"].unique(), dtype=object), size=int(given.sum()))
    start = pd.Timestamp("2025-01-01", tz="UTC")
    returned = start + pd.to_timedelta(rng.integers(0, 365 * 24 * 3600, size=rows), unit="s")
    frame = pd.DataFrame({
        "line_id": pd.array([f"L{i:08d}" for i in range(rows)], dtype="string[pyarrow]"),
        "returned_at": returned,
        "reason_code": pd.array(code, dtype="string[pyarrow]"),
        "reason_text": pd.array(text, dtype="string[pyarrow]"),
        "refunded_at": returned + pd.Timedelta(days=3),
        "return_cost": rng.uniform(3, 12, size=rows).round(2),
    })
    return _clean_returns(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--text-only", type=float, default=0.30, help="share of rows with a text and no code")
    parser.add_argument("--labelled", type=float, default=0.20, help="share of rows with a code and a text")
    parser.add_argument("--distinct", type=int, default=20_000, help="size of the pool of distinct texts")
    parser.add_argument("--unique-texts", action="store_true",
                        help="worst case: every text-only row has a different text")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="time the filler this many times, keep the best")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args()
    results: dict = {"python": platform.python_version(), "machine": platform.machine()}

    # 1. accuracy on the held-out set
    started = time.perf_counter()
    classifier = ReasonClassifier.from_seed(threshold=args.threshold)
    fit_seconds = time.perf_counter() - started
    report = evaluate_classifier(classifier)
    print(f"held-out evaluation set: {report.n['all']} texts "
          f"({', '.join(f'{k} {v}' for k, v in report.n.items() if k != 'all')}); "
          f"classifier fitted on {classifier.n_examples_} seed phrasings in {fit_seconds:.2f} s")
    print("\nmacro-F1 (top code)      " + "  ".join(f"{k:>6}" for k in report.macro_f1))
    print("                         " + "  ".join(f"{v:6.3f}" for v in report.macro_f1.values()))
    print(f"macro-F1 at threshold {args.threshold:.2f} "
          + "  ".join(f"{v:6.3f}" for v in report.macro_f1_at_threshold.values()))
    print("accuracy (top code)      " + "  ".join(f"{v:6.3f}" for v in report.accuracy.values()))
    print(f"\nconfidence ≥ {args.threshold:.2f} for {report.coverage:.1%} of texts; accuracy on those "
          f"{report.accuracy_confident:.1%} (the rest is written 'other' and marked for review)")
    print("\nF1 per code (top code):")
    print(report.per_class_f1.round(3).to_string())
    results["evaluation"] = report.to_dict()

    # 2. throughput of the filler
    frame = synthetic_returns(args.rows, args.text_only, args.labelled, args.distinct, args.seed,
                              args.unique_texts)
    todo = int((frame["reason_code"].isna() & frame["reason_text"].notna()).sum())
    distinct = int(frame.loc[frame["reason_code"].isna(), "reason_text"].nunique())
    labelled = int((frame["reason_code"].notna() & frame["reason_text"].notna()).sum())
    print(f"\nfiller on {len(frame):,} returns: {todo:,} with text and no code "
          f"({distinct:,} distinct texts), {labelled:,} with code and text")
    filler = default_reason_filler(args.threshold)
    timings = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        out = filler(frame)
        timings.append(time.perf_counter() - started)
    best = min(timings)
    started = time.perf_counter()
    shop_classifier = fit_for_shop(frame, threshold=args.threshold)
    fit_time = time.perf_counter() - started
    started = time.perf_counter()
    infer_reasons(frame.loc[frame["reason_code"].isna(), "reason_text"], shop_classifier, args.threshold)
    infer_time = time.perf_counter() - started
    inferred = out["reason_source"].eq("inferred")
    print(f"filler: best {best:.2f} s of {len(timings)} runs ({', '.join(f'{t:.2f}' for t in timings)}) "
          f"= {len(frame) / best:,.0f} rows/s; of which fitting on seed + "
          f"{shop_classifier.n_examples_ - len(load_seed_set()):,} shop phrasings {fit_time:.2f} s, "
          f"classifying {infer_time:.2f} s")
    print(f"inferred {int(inferred.sum()):,} codes, {int(out['reason_review'].sum()):,} "
          f"({out['reason_review'].sum() / max(1, inferred.sum()):.1%}) below the threshold → 'other' + review")
    results["filler"] = {
        "rows": len(frame), "to_infer": todo, "distinct_texts": distinct, "labelled_rows": labelled,
        "seconds_best": best, "seconds_all": timings, "rows_per_second": len(frame) / best,
        "fit_seconds": fit_time, "infer_seconds": infer_time,
        "review_share": float(out["reason_review"].sum() / max(1, inferred.sum())),
    }
    if args.json:
        print(json.dumps(results, default=float))


if __name__ == "__main__":
    main()
