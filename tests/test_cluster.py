"""Training on a Dask cluster (issue 20): a LocalCluster of 2 worker processes on small demo shops.

What must hold: the partitioned loader applies the loader's rules (and writes one quarantine file
per part); the sharded features equal the single-process ones to float32 rounding; the model
trained on the cluster is as good as the single-process one (AUC within 0.005), logged, registered
and served the same way; a worker killed during the feature stage is recovered by Dask; the
single-process path never imports Dask.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from browser_support import running_service
from returnrisk.errors import InputError
from returnrisk.timeutil import default_as_of

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

FAST = Path(__file__).with_name("fast_params.yaml")
CLI = [sys.executable, "-m", "returnrisk"]


# ---- fixtures -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_client():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                           memory_limit="3GiB")
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def split_into_parts(source: Path, target: Path, parts: int) -> Path:
    """The same shop with order lines and returns as ``parts`` Parquet parts each (rows in order)."""
    target.mkdir(parents=True)
    for name in ("products", "order_lines", "returns"):
        table = _read_any(source, name)
        if name == "products":
            pq.write_table(table, target / "products.parquet")
            continue
        (target / name).mkdir()
        bounds = np.linspace(0, table.num_rows, parts + 1).astype(int)
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
            pq.write_table(table.slice(a, b - a), target / name / f"part-{i:05d}.parquet")
    if (source / "truth").is_dir():
        (target / "truth").symlink_to(source / "truth")
    return target


def _read_any(folder: Path, name: str) -> pa.Table:
    if (folder / f"{name}.parquet").is_file():
        return pq.read_table(folder / f"{name}.parquet")
    import pyarrow.csv as pacsv

    header = (folder / f"{name}.csv").read_text().splitlines()[0].split(",")
    return pacsv.read_csv(folder / f"{name}.csv",
                          convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header}))


@pytest.fixture(scope="module")
def parts_shop(demo_small, tmp_path_factory) -> Path:
    return split_into_parts(demo_small, tmp_path_factory.mktemp("parts") / "shop", 3)


@pytest.fixture(scope="module")
def real_shop(tmp_path_factory) -> tuple[Path, Path]:
    """A shop shaped like a real export (partial returns in several parts, postage lines, no sizes,
    no reasons, wholesale lines): as one file per table, and as 3 parts."""
    from returnrisk.demo.realshop import build_real_shop

    root = tmp_path_factory.mktemp("real")
    build_real_shop(root / "single", n_lines=4000, seed=1)
    return root / "single", split_into_parts(root / "single", root / "parts", 3)


# ---- the --cluster value ----------------------------------------------------------------------------
def test_cluster_spec_is_parsed_and_bad_values_are_explained():
    from returnrisk.cluster.connect import parse_cluster_spec

    assert parse_cluster_spec("local").workers == os.cpu_count()
    assert parse_cluster_spec("local:3").workers == 3 and parse_cluster_spec("local:3").is_local
    remote = parse_cluster_spec("tcp://10.0.0.5:8786")
    assert remote.address == "tcp://10.0.0.5:8786" and not remote.is_local
    for bad in ("locale", "local:x", "10.0.0.5:8786", "local:0", ""):
        with pytest.raises(InputError, match="use local|at least one worker"):
            parse_cluster_spec(bad)


def test_worker_memory_is_checked_and_applies_to_local_clusters_only(tmp_path):
    from returnrisk.cluster.connect import parse_cluster_spec

    assert parse_cluster_spec("local:2", memory_limit="3GiB").memory_limit == "3GiB"
    assert parse_cluster_spec("local").memory_limit is None
    with pytest.raises(InputError, match="applies to a local cluster"):
        parse_cluster_spec("tcp://10.0.0.5:8786", memory_limit="3GiB")
    for bad in ("lots", "10", "100MiB", ""):
        with pytest.raises(InputError, match="is not a memory size"):
            parse_cluster_spec("local:2", memory_limit=bad)
    env = {k: v for k, v in os.environ.items() if k != "RETURNRISK_DASK_SCHEDULER"}
    r = subprocess.run([*CLI, "train", "--data", str(tmp_path), "--worker-memory", "3GiB"], capture_output=True,
                       text=True, env=env, timeout=900)
    assert r.returncode == 2 and "--worker-memory 3GiB applies to the workers of --cluster local" in r.stderr
    r = subprocess.run([*CLI, "train", "--data", str(tmp_path), "--shards", "16"], capture_output=True,
                       text=True, env=env, timeout=900)
    assert r.returncode == 2 and "--shards 16 applies to the workers of --cluster" in r.stderr


def test_the_flag_wins_over_the_environment(tmp_path):
    env = {**os.environ, "RETURNRISK_DASK_SCHEDULER": "from-env"}
    r = subprocess.run([*CLI, "train", "--data", str(tmp_path), "--cluster", "from-flag"], capture_output=True,
                       text=True, env=env, timeout=900)
    assert r.returncode == 2 and "--cluster 'from-flag' is not a cluster" in r.stderr
    r = subprocess.run([*CLI, "train", "--data", str(tmp_path)], capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 2 and "'from-env' is not a cluster" in r.stderr and "RETURNRISK_DASK_SCHEDULER" in r.stderr


def test_single_process_path_does_not_import_dask():
    code = ("import sys; import returnrisk.cli.model_commands, returnrisk.cli.data_commands, "
            "returnrisk.pipeline.train, returnrisk.features.build, returnrisk.demo.generator, returnrisk.serving; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]; print(bad); "
            "sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr


# ---- loading --------------------------------------------------------------------------------------
def _hostile_shop(folder: Path, cuts: tuple[int, int] | None) -> Path:
    """A shop breaking every loader rule, as one file per table (``cuts`` None) or as two parts of
    lines and two of returns cut at ``cuts`` — the duplicates, over-returns and repeated returns
    then span parts."""
    from tests.conftest import PRODUCTS

    lines = pd.DataFrame([
        # line_id, order_id, customer_id, product_id, size, quantity, unit_price, ordered_at
        ("L1", "O1", "C1", "P1", "M", "1", "79.9", "2025-03-01T10:00:00Z"),
        ("L2", "O1", "C1", "P1", "L", "3", "79.9", "2025-03-01T10:00:00Z"),   # returned in parts
        ("L3", "O2", "C2", "P2", "W30", "1", None, "2025-03-02"),
        ("L4", "O3", "C3", "P3", None, "2", "89", "2025-03-03"),
        ("S1", "O1", "C1", "SHIP", None, "1", "4.9", "2025-03-01T10:00:00Z"),  # postage: set aside
        ("L2", "O4", "C2", "P1", "S", "1", None, "2025-03-04"),              # duplicate id (other part)
        ("L6", "O5", "C4", "P9", "M", "1", "10", "2025-03-05"),               # unknown product
        ("L7", "O6", "C5", "P2", "W32", "x", "69", "2025-03-06"),             # wrong type
        ("L8", "O6", "C5", "P2", "W32", "1", "69", "9999-12-31"),             # out of range
        ("L9", "O7", "NULL", "P1", "M", "1", "79.9", "2025-03-07"),           # placeholder id
        ("L10", "O8", "C6", "P1", "M", "1234567890123456789", "79.9", "2025-03-07"),  # too large
        ("L11", "O9", "C7", "P1", "M", "1", "79.9", "2025-03-08"),
        ("S2", "O9", "C7", "SHIP", None, "1", "4.9", "2025-03-08"),
    ], columns=["line_id", "order_id", "customer_id", "product_id", "size", "quantity", "unit_price", "ordered_at"])
    returns = pd.DataFrame([
        # line_id, returned_at, reason_code, reason_text, refunded_at, return_cost, quantity, return_id
        ("L2", "2025-03-09", "too_large", None, "2025-03-11", "7.5", "1", "R1"),
        ("L3", "2025-03-10", None, "trop petit", None, None, None, "R2"),
        ("L2", "2025-03-12", "too_small", None, None, None, "1", "R3"),
        ("L1", "2025-03-05", "other", None, "2025-03-04", None, None, "R5"),      # refund before return
        ("L2", "2025-03-13", None, None, None, None, "2", "R4"),                  # over-returned
        ("L2", "2025-03-12", "too_small", None, None, None, "1", "R3"),           # the same return again
        ("L3", "2025-03-11", "too_small", None, None, None, None, "R6"),          # over-returned
        ("L8x", "2025-03-12", "other", None, None, None, None, "R7"),             # unknown line
        ("L4", "2025-03-01", "other", None, None, None, None, "R8"),              # before its order
        ("S1", "2025-03-05", None, None, None, None, None, "R9"),                 # postage: set aside
        ("L11", "2025-09-01", "changed_mind", "N/A", None, None, None, "R10"),    # late; placeholder text
    ], columns=["line_id", "returned_at", "reason_code", "reason_text", "refunded_at", "return_cost", "quantity",
                "return_id"])
    folder.mkdir(parents=True)
    (folder / "products.csv").write_text(PRODUCTS + "SHIP,Shipping,,4.90,,,,\n")
    if cuts is None:
        lines.to_csv(folder / "order_lines.csv", index=False)
        returns.to_csv(folder / "returns.csv", index=False)
        return folder
    for name, table, cut in (("order_lines", lines, cuts[0]), ("returns", returns, cuts[1])):
        (folder / name).mkdir()
        table.iloc[:cut].to_csv(folder / name / "part-00000.csv", index=False)
        table.iloc[cut:].to_csv(folder / name / "part-00001.csv", index=False)
    return folder


def counts(problems) -> dict:
    """Rows concerned per (table, rule, column), over every file the problems name."""
    out: dict = {}
    for p in problems:
        out[(p.table, p.rule, p.column)] = out.get((p.table, p.rule, p.column), 0) + p.count
    return out


def _same_frames(a: pd.DataFrame, b: pd.DataFrame, key: str = "line_id") -> None:
    a = a.sort_values(key, kind="stable").reset_index(drop=True)
    b = b.sort_values(key, kind="stable").reset_index(drop=True)[list(a.columns)]
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


@pytest.mark.parametrize("shards", [1, 3])
def test_partitioned_loading_of_one_file_per_table_is_the_loader_itself(dask_client, tmp_path, shards):
    """Every problem, warning, quarantine file and clean row exactly as the single-process loader's."""
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.loader import load_shop

    single = _hostile_shop(tmp_path / "single", None)
    reference = load_shop(single, quarantine_dir=tmp_path / "q-single")
    shop = load_partitioned(dask_client, str(single), quarantine_dir=tmp_path / "q-cluster", reason_filler=False,
                            shards=shards)
    assert [p.render() for p in shop.problems] == [p.render() for p in reference.problems]
    assert [p.render() for p in shop.warnings] == [p.render() for p in reference.warnings]
    rules = {p.rule for p in reference.problems} | {p.rule for p in reference.warnings}
    assert {"duplicate_id", "unknown_product", "wrong_type", "out_of_range", "placeholder_value", "too_large",
            "over_returned", "duplicate_return", "unknown_line", "returned_before_ordered",
            "refunded_before_returned", "late_return", "placeholder_read_as_missing"} <= rules
    for name in ("products", "order_lines", "returns"):
        mine, theirs = shop.tables[name], reference.tables[name]
        assert (mine.file, mine.rows_read, mine.rows_kept, mine.rows_excluded) == \
            (theirs.file, theirs.rows_read, theirs.rows_kept, theirs.rows_excluded), name
    for name in ("order_lines", "returns"):
        assert (tmp_path / "q-cluster" / f"{name}.csv").read_bytes() == \
            (tmp_path / "q-single" / f"{name}.csv").read_bytes(), name
    assert shop.merchandise.to_dict() == reference.merchandise.to_dict()
    assert (shop.merchandise.lines, shop.merchandise.returns) == (2, 1)
    _same_frames(reference.order_lines, pd.concat(dask_client.gather(shop.line_parts), ignore_index=True))
    returns = pd.concat(dask_client.gather(shop.return_parts), ignore_index=True)
    _same_frames(reference.returns, returns)
    assert returns.set_index("line_id").loc["L2", ["quantity", "n_parts"]].tolist() == [2, 2]
    assert shop.n_returns == len(reference.returns) and default_as_of(shop.last_events()) == default_as_of(reference)


def test_partitioned_loading_applies_the_loaders_rules_across_parts(dask_client, tmp_path):
    """Duplicates, repeated and over-returns spanning parts are found; each part quarantines its own rows."""
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.loader import load_shop

    reference = load_shop(_hostile_shop(tmp_path / "single", None))
    parted = _hostile_shop(tmp_path / "parted", (5, 4))
    shop = load_partitioned(dask_client, str(parted), reason_filler=False, shards=2)

    assert counts(shop.problems) == counts(reference.problems)
    assert counts(shop.warnings) == counts(reference.warnings)
    # each problem names its part and quotes that part's own rows and values
    duplicate = next(p for p in shop.problems if p.rule == "duplicate_id")
    assert duplicate.file == "order_lines/part-00001.csv" and duplicate.rows == [1] and duplicate.values == ["L2"]
    assert duplicate.message == next(p for p in reference.problems if p.rule == "duplicate_id").message
    over = next(p for p in shop.problems if p.rule == "over_returned")
    assert over.file == "returns/part-00001.csv" and over.rows == [1, 3] and over.count == 2
    assert "line L2: 2 returned after 2, 3 ordered" in over.values[0]
    repeated = next(p for p in shop.problems if p.rule == "duplicate_return")
    assert repeated.file == "returns/part-00001.csv" and repeated.rows == [2] and repeated.values == ["R3 / L2"]
    # one quarantine file per part, holding exactly the rows (and reasons) one process sets aside
    quarantine = parted / ".returnrisk" / "quarantine"
    assert not (quarantine / "order_lines" / "part-00000.csv").exists()
    got = pd.concat([pd.read_csv(f) for t in ("order_lines", "returns") for f in sorted((quarantine / t).glob("*.csv"))])
    expected = pd.concat([pd.read_csv(parted.parent / "single" / ".returnrisk" / "quarantine" / f"{t}.csv")
                          for t in ("order_lines", "returns")])

    def rules_of(frame):
        return sorted((str(line), tuple(sorted(x.split(":")[0] for x in reason.split("; "))))
                      for line, reason in zip(frame["line_id"], frame["_reason"]))

    assert rules_of(got) == rules_of(expected) and len(got) == 12
    for name in ("products", "order_lines", "returns"):
        mine, theirs = shop.tables[name], reference.tables[name]
        assert (mine.rows_read, mine.rows_kept, mine.rows_excluded) == \
            (theirs.rows_read, theirs.rows_kept, theirs.rows_excluded), name
    assert shop.tables["order_lines"].file == "order_lines/"
    assert shop.merchandise.to_dict() == reference.merchandise.to_dict()
    _same_frames(reference.order_lines, pd.concat(dask_client.gather(shop.line_parts), ignore_index=True))
    _same_frames(reference.returns, pd.concat(dask_client.gather(shop.return_parts), ignore_index=True))


def test_partitioned_loading_of_a_real_shops_export(dask_client, real_shop):
    """A real shop's traits (partial returns in several parts, postage lines, unsized, no reasons)."""
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.loader import load_shop

    single, parts = real_shop
    reference = load_shop(single, quarantine_dir=single.parent / "q")
    assert reference.return_events is not None and (reference.returns["n_parts"] > 1).any()
    shop = load_partitioned(dask_client, str(parts), quarantine_dir=parts.parent / "q-parts")
    assert shop.merchandise.to_dict() == reference.merchandise.to_dict() and shop.merchandise.lines > 1000
    _same_frames(reference.order_lines, pd.concat(dask_client.gather(shop.line_parts), ignore_index=True))
    returns = pd.concat(dask_client.gather(shop.return_parts), ignore_index=True)
    _same_frames(reference.returns, returns[[c for c in returns.columns if c in reference.returns.columns]])
    assert counts(shop.warnings) == counts(reference.warnings) and counts(shop.problems) == counts(reference.problems)
    assert default_as_of(shop.last_events()) == default_as_of(reference)


def test_strict_partitioned_loading_writes_nothing(dask_client, tmp_path):
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.problems import DataError

    parted = _hostile_shop(tmp_path / "parted", (5, 4))
    with pytest.raises(DataError) as info:
        load_partitioned(dask_client, str(parted), strict=True, reason_filler=False)
    assert {"duplicate_id", "over_returned", "unknown_product"} <= {p.rule for p in info.value.problems}
    assert not (parted / ".returnrisk").exists()


def test_a_missing_table_is_reported_like_the_single_process_loader(dask_client, tmp_path):
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.problems import DataError

    (tmp_path / "products.csv").write_text("product_id,category,brand,price\nP1,tops,A,1\n")
    with pytest.raises(DataError) as info:
        load_partitioned(dask_client, str(tmp_path))
    messages = " ".join(p.message for p in info.value.problems)
    assert "order_lines" in messages and "returns" in messages and "folder order_lines/" in messages


# ---- features ---------------------------------------------------------------------------------------
def _assert_cluster_features_equal(client, single: Path, parts: Path, shards: int, window_days: int = 30) -> None:
    """Features, outcomes and the serving snapshot of the shop in ``parts`` computed on the cluster
    equal the single-process ones of the same shop in ``single``."""
    from returnrisk.cluster.features import build_cluster_features
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.loader import load_shop
    from returnrisk.features.build import build_training_frame, outcomes_at
    from returnrisk.features.derive import Smoothing
    from returnrisk.features.snapshot import Snapshot
    from returnrisk.reasons.fill import default_reason_filler

    shop = load_partitioned(client, str(parts), shards=shards)
    reference_shop = load_shop(single, reason_filler=default_reason_filler())
    as_of = default_as_of(shop.last_events())
    assert as_of == default_as_of(reference_shop)
    validation_start = as_of - pd.Timedelta(days=120)
    features = build_cluster_features(client, shop, as_of, validation_start, window_days=window_days,
                                      smoothing=Smoothing())
    frames = client.gather(features.frames)
    reference = build_training_frame(reference_shop, as_of, window_days=window_days)
    ids = np.concatenate([f.line_id for f in frames])
    row = pd.Index(reference.lines["line_id"].astype(str)).get_indexer(ids)
    assert (row >= 0).all() and len(ids) == len(reference.X) == features.n_lines
    assert len({f.shard for f in frames}) == shards
    X, R = np.vstack([f.X for f in frames]), reference.X[row]
    same = (X == R) | (np.isnan(X) & np.isnan(R))
    assert same.mean() > 0.999            # almost every value bit for bit
    # the others only by float32 rounding: sums added in another order round the last bit apart
    ulps = np.abs(X.view(np.int32).astype(np.int64) - R.view(np.int32).astype(np.int64))[~same]
    assert ulps.size == 0 or ulps.max() <= 4
    np.testing.assert_array_equal(np.concatenate([f.outcome for f in frames]), reference.outcome[row])
    np.testing.assert_array_equal(np.concatenate([f.outcome_validation for f in frames]),
                                  outcomes_at(reference, validation_start)[row])

    expected = Snapshot.from_history(reference.history, reference.attrs, reference.vocabulary, Smoothing(),
                                     window_days)
    got = features.snapshot
    for entity, table in expected.states.items():
        mine = got.states[entity]
        assert sorted(mine.index) == sorted(table.index), entity
        np.testing.assert_allclose(mine.loc[table.index].to_numpy(), table.to_numpy(), rtol=1e-7, atol=1e-7)
    for name in ("profiles", "bodies", "fit_offsets", "brand_offsets", "moments"):
        mine, table = getattr(got, name), getattr(expected, name)
        assert sorted(mine.index) == sorted(table.index), name
        np.testing.assert_allclose(mine.loc[table.index].to_numpy(), table.to_numpy(), rtol=1e-7, atol=1e-7)
    pd.testing.assert_frame_equal(got.product_sizes, expected.product_sizes)
    pd.testing.assert_frame_equal(got.products, expected.products)


def test_features_on_the_cluster_equal_the_single_process_ones(dask_client, demo_small, parts_shop):
    _assert_cluster_features_equal(dask_client, demo_small, parts_shop, shards=5)


def test_features_of_a_real_shops_export_equal_the_single_process_ones(dask_client, real_shop):
    """Partial returns in several parts, postage lines set aside, no sizes, no reasons, wholesale lines."""
    _assert_cluster_features_equal(dask_client, *real_shop, shards=3)


# ---- exact metrics ------------------------------------------------------------------------------------
def test_metrics_over_partitions_equal_the_metrics_of_all_rows(dask_client):
    from returnrisk.cluster.metrics import Scored, distributed_probability_metrics
    from returnrisk.model.evaluation import probability_metrics

    rng = np.random.default_rng(4)
    p = np.round(rng.random(3000), 2)            # many ties, some across partitions
    y = (rng.random(3000) < p).astype(int)
    cuts = [0, 10, 1200, 1201, 3000]
    parts = [dask_client.scatter(Scored(y[a:b], p[a:b])) for a, b in zip(cuts[:-1], cuts[1:])]
    got, expected = distributed_probability_metrics(dask_client, parts), probability_metrics(y, p)
    for key in ("auc", "log_loss", "brier", "ece"):
        assert got[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-12), key


def test_early_stopping_rule_and_platt_match_lightgbm_and_scikit_learn(dask_client):
    from returnrisk.cluster.fitting import early_stopping_round, platt_newton
    from returnrisk.model.estimator import fit_platt

    assert early_stopping_round(np.array([5, 4, 3, 3.5, 3.2, 3.1, 3.0, 2.9]), 3) == 3
    assert early_stopping_round(np.array([5, 4, 3, 2.5]), 3) == 4
    rng = np.random.default_rng(2)
    margin = rng.normal(0, 1.5, 4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.8 * margin - 0.3)))).astype(float)
    parts = [dask_client.scatter((margin[a:a + 1000], y[a:a + 1000])) for a in range(0, 4000, 1000)]
    a, b = platt_newton(dask_client, parts)
    a_ref, b_ref = fit_platt(margin, y)
    assert a == pytest.approx(a_ref, abs=1e-3) and b == pytest.approx(b_ref, abs=1e-3)


# ---- training, logging, serving -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def both_runs(demo_train, tmp_path_factory):
    """The same shop trained in one process and with ``returnrisk train --cluster local:2 --json``
    (fast parameters, own MLflow stores)."""
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler
    from returnrisk.tracking import Tracker

    params = load_params(FAST)
    root = tmp_path_factory.mktemp("cluster_runs")
    single_uri, cluster_uri = f"sqlite:///{root}/single/mlflow.db", f"sqlite:///{root}/cluster/mlflow.db"
    (root / "cluster").mkdir()
    single = run_training(demo_train, params=params, tracker=Tracker(single_uri), reason_filler=default_reason_filler())
    env = {**{k: v for k, v in os.environ.items() if k != "RETURNRISK_DASK_SCHEDULER"}, "COLUMNS": "200"}
    r = subprocess.run([*CLI, "train", "--data", str(demo_train), "--cluster", "local:2", "--worker-memory", "2GiB",
                        "--params", str(FAST), "--tracking-uri", cluster_uri, "--json"], capture_output=True, text=True,
                       env=env,
                       cwd=root / "cluster", timeout=1800)
    assert r.returncode == 0, r.stderr[-4000:]
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout[:2000]     # the JSON line alone on stdout (workers print to stderr)

    def no_constant(name):
        raise ValueError(f"{name} in --json output")

    on_cluster = json.loads(lines[0], parse_constant=no_constant)
    # progress: the cluster with its memory limit per worker, the dashboard, the stages with the workers' memory
    assert "local cluster of 2 worker processes of 2.0 GiB each" in r.stderr and "Dask dashboard: http://" in r.stderr
    assert "point-in-time features" in r.stderr and "MiB, workers" in r.stderr
    return single, single_uri, on_cluster, cluster_uri


def test_cluster_model_is_as_good_as_the_single_process_one(both_runs):
    single, _, on_cluster, _ = both_runs
    m, s = on_cluster["metrics"], single.metrics
    assert abs(m["val_auc"] - s["val_auc"]) <= 0.005
    # the same validation rows, labels and baselines: only the model differs
    for key in ("val_rows", "val_return_rate", "train_rows", "calibration_rows", "immature_rows",
                "val_cold_start_rows", "baseline_product_rate_auc", "baseline_global_rate_log_loss", "ceiling_auc"):
        assert m[key] == pytest.approx(s[key], rel=1e-9, abs=1e-9), key
    assert m["val_ece"] < 0.05 and m["val_auc_too_small"] > 0.72
    stages = {s["name"]: s for s in on_cluster["stages"]}
    assert list(stages) == ["load", "validate", "features", "fit", "evaluate", "snapshot", "log"]
    assert all(len(stages[name]["workers_peak_mb"]) == 2 for name in ("load", "features", "fit"))


def test_cluster_run_logs_the_same_mlflow_artefacts_and_is_served(both_runs, tmp_path):
    """``returnrisk serve`` serves the model trained with --cluster as any other: same registry entry,
    same bundle kind, the same answers as the app built in this process."""
    from fastapi.testclient import TestClient

    from returnrisk.serving import Settings, create_app
    from returnrisk.tracking import Tracker

    single, single_uri, on_cluster, cluster_uri = both_runs
    a, b = Tracker(single_uri), Tracker(cluster_uri)
    run_a, run_b = a.client.get_run(single.run_id), b.client.get_run(on_cluster["run_id"])
    assert set(run_b.data.params) >= set(run_a.data.params)
    assert set(run_b.data.metrics) >= set(run_a.data.metrics)
    paths_a = {f.path for f in a.client.list_artifacts(single.run_id)}
    assert paths_a == {f.path for f in b.client.list_artifacts(on_cluster["run_id"])}
    assert on_cluster["promoted"] and on_cluster["model_version"] == "1" and b.champion().version == "1"
    bundle, _ = b.load_bundle("models:/returnrisk@champion")
    assert bundle.model.info["trained_on"] == "dask" and bundle.snapshot.states["customer"].shape[0] > 1000
    reference, _ = a.load_bundle("models:/returnrisk@champion")
    assert set(bundle.meta) == set(reference.meta)
    pairs = bundle.snapshot.product_sizes
    queries = [tuple(pairs.iloc[i][["product_id", "size"]]) for i in (0, len(pairs) // 2, len(pairs) - 1)]
    with TestClient(create_app(Settings(tracking_uri=cluster_uri))) as client:
        expected = [client.get(f"/v1/products/{p}/risk", params={"size": s}).json() for p, s in queries]
    # the real server, started by the command a user runs
    env = {**os.environ, "RETURNRISK_DATABASE_URL": f"sqlite:///{tmp_path}/service.db"}
    with running_service(env, tmp_path, args=("--tracking-uri", cluster_uri)) as base:
        for (product, size), want in zip(queries, expected):
            with urllib.request.urlopen(f"{base}/v1/products/{product}/risk?size={urllib.parse.quote(str(size))}",
                                        timeout=30) as answer:
                body = json.loads(answer.read())
            assert 0 < body["p_return"] < 1 and body["model_version"] == "1"
            assert body["p_return"] == want["p_return"] and body == want


def test_a_worker_killed_during_the_features_is_recovered(dask_client, parts_shop, tmp_path):
    from returnrisk.cluster.train import ClusterStageClock, run_cluster_training
    from returnrisk.pipeline.params import load_params
    from returnrisk.tracking import Tracker

    killed: list[int] = []

    def kill_a_worker_once_features_exist() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            holders = dask_client.who_has()
            done = [w for key, ws in holders.items() if "_customer_pass" in str(key) for w in ws]
            if done:
                pid = dask_client.run(os.getpid, workers=[done[0]])[done[0]]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    def start(name: str) -> None:
        if name == "features":
            threading.Thread(target=kill_a_worker_once_features_exist, daemon=True).start()

    params = load_params(FAST)
    result = run_cluster_training(str(parts_shop), client=dask_client, params=params,
                                  tracker=Tracker(f"sqlite:///{tmp_path}/mlflow.db"),
                                  clock=ClusterStageClock(on_start=start, client=dask_client))
    assert killed, "no worker was killed: the feature stage ended before any shard result existed"
    dask_client.wait_for_workers(2, timeout=60)
    # nothing lost: every line of the shop is in the frame, the run registered a complete model
    assert result.metrics["train_rows"] + result.metrics["calibration_rows"] > 5000
    assert result.metrics["val_rows"] > 500 and result.model_version == "1"
    assert result.metrics["val_auc"] > result.metrics["baseline_product_rate_auc"]


def test_cluster_errors_are_clear_when_a_worker_keeps_dying(tmp_path):
    from returnrisk.cli.cluster_train import explain_cluster_failure
    from distributed.scheduler import KilledWorker

    error = explain_cluster_failure(KilledWorker("('_home_pass-3')", "tcp://127.0.0.1:1", 3))
    assert "worker died" in str(error) and "_home_pass" in str(error) and "nothing was registered" in str(error)


# ---- the streamed demo shop ----------------------------------------------------------------------------
def test_demo_parts_are_reproducible_and_valid(dask_client, tmp_path):
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.demo.parts import generate_demo_parts

    a = generate_demo_parts(tmp_path / "a", seed=4, n_lines=12_000, parts=3)
    generate_demo_parts(tmp_path / "b", seed=4, n_lines=12_000, parts=3)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.parquet"))
    assert len([f for f in files if f.parts[0] == "order_lines"]) == 3
    for f in files:
        assert pq.read_table(tmp_path / "a" / f).to_pandas().equals(pq.read_table(tmp_path / "b" / f).to_pandas()), f
    assert a["n_lines"] == 12_000 and 0.25 < a["return_rate_observed"] < 0.45
    shop = load_partitioned(dask_client, str(tmp_path / "a"))
    assert shop.problems == [] and shop.tables["order_lines"].rows_kept == 12_000
    lines = pd.concat([pq.read_table(tmp_path / "a" / f).to_pandas() for f in files if f.parts[0] == "order_lines"])
    assert lines["line_id"].is_unique and lines["ordered_at"].is_monotonic_increasing
    truth = pq.read_table(tmp_path / "a" / "truth" / "lines.parquet")
    assert truth.num_rows == 12_000
