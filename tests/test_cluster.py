"""Training on a Dask cluster (issue 20): a LocalCluster of 2 worker processes on small demo shops.

What must hold: the partitioned loader applies the loader's rules (and writes one quarantine file
per part); the sharded features equal the single-process ones to float32 rounding; the model
trained on the cluster is as good as the single-process one (AUC within 0.005), logged, registered
and served the same way; a worker killed during the feature stage is recovered by Dask; the
single-process path never imports Dask.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from returnrisk.errors import InputError

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
def test_partitioned_loading_applies_the_loaders_rules_per_part(dask_client, tmp_path):
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.loader import load_shop
    from tests.conftest import PRODUCTS

    lines = pd.DataFrame({
        "line_id": ["L1", "L2", "L3", "L4", "L2", "L6", "L7"],
        "order_id": ["O1", "O1", "O2", "O3", "O4", "O5", "O6"],
        "customer_id": ["C1", "C1", "C2", "C3", "C2", "C4", "C5"],
        "product_id": ["P1", "P1", "P2", "P3", "P1", "P9", "P2"],
        "size": ["M", "L", "W30", None, "S", "M", "W32"],
        "quantity": ["1", "1", "1", "2", "1", "1", "x"],
        "unit_price": ["79.9", "79.9", None, "89", None, "10", "69"],
        "ordered_at": ["2025-03-01T10:00:00Z", "2025-03-01T10:00:00Z", "2025-03-02", "2025-03-03", "2025-03-04",
                       "2025-03-05", "2025-03-06"],
    })
    returns = pd.DataFrame({
        "line_id": ["L2", "L3", "L3", "L8", "L4"],
        "returned_at": ["2025-03-09", "2025-03-10", "2025-03-11", "2025-03-12", "2025-03-01"],
        "reason_code": ["too_large", None, "too_small", "other", "other"],
        "reason_text": [None, "trop petit", None, None, None],
        "refunded_at": [None, None, None, None, None],
        "return_cost": [None, None, None, None, None],
    })
    single = tmp_path / "single"
    single.mkdir()
    (single / "products.csv").write_text(PRODUCTS)
    lines.to_csv(single / "order_lines.csv", index=False)
    returns.to_csv(single / "returns.csv", index=False)
    parted = tmp_path / "parted"
    (parted / "order_lines").mkdir(parents=True)
    (parted / "returns").mkdir()
    (parted / "products.csv").write_text(PRODUCTS)
    # the duplicate L2 and the return of L3 fall in other parts than their first occurrence
    lines.iloc[:4].to_csv(parted / "order_lines" / "part-00000.csv", index=False)
    lines.iloc[4:].to_csv(parted / "order_lines" / "part-00001.csv", index=False)
    returns.iloc[:2].to_csv(parted / "returns" / "part-00000.csv", index=False)
    returns.iloc[2:].to_csv(parted / "returns" / "part-00001.csv", index=False)

    reference = load_shop(single)
    shop = load_partitioned(dask_client, str(parted), reason_filler=False)
    got_lines = pd.concat(dask_client.gather(shop.line_parts), ignore_index=True)
    got_returns = pd.concat(dask_client.gather(shop.return_parts), ignore_index=True)
    assert sorted(got_lines["line_id"]) == sorted(reference.order_lines["line_id"]) == ["L1", "L2", "L3", "L4"]
    assert sorted(got_returns["line_id"]) == sorted(reference.returns["line_id"]) == ["L2", "L3"]
    rules = {(p.table, p.rule) for p in reference.problems}
    assert {(p.table, p.rule) for p in shop.problems} == rules
    assert {("order_lines", "duplicate_id"), ("order_lines", "unknown_product"), ("order_lines", "wrong_type"),
            ("returns", "returned_twice"), ("returns", "unknown_line"), ("returns", "returned_before_ordered")} <= rules
    duplicate = next(p for p in shop.problems if p.rule == "duplicate_id")
    assert duplicate.message == next(p for p in reference.problems if p.rule == "duplicate_id").message
    # one quarantine file per part, with the reasons of the single-process loader
    quarantine = parted / ".returnrisk" / "quarantine"
    q0 = pd.read_csv(quarantine / "order_lines" / "part-00001.csv")
    assert sorted(q0["line_id"]) == ["L2", "L6", "L7"]
    assert "duplicate_id" in q0.set_index("line_id").loc["L2", "_reason"]
    assert not (quarantine / "order_lines" / "part-00000.csv").exists()
    r1 = pd.read_csv(quarantine / "returns" / "part-00001.csv")
    reasons = dict(zip(r1["line_id"], r1["_reason"]))
    assert "returned_twice" in reasons["L3"] and "unknown_line" in reasons["L8"]
    assert "returned_before_ordered" in reasons["L4"]
    single_reasons = pd.read_csv(single / ".returnrisk" / "quarantine" / "returns.csv")
    assert sorted(single_reasons["line_id"]) == sorted(r1["line_id"])


def test_a_missing_table_is_reported_like_the_single_process_loader(dask_client, tmp_path):
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.problems import DataError

    (tmp_path / "products.csv").write_text("product_id,category,brand,price\nP1,tops,A,1\n")
    with pytest.raises(DataError) as info:
        load_partitioned(dask_client, str(tmp_path))
    messages = " ".join(p.message for p in info.value.problems)
    assert "order_lines" in messages and "returns" in messages and "folder order_lines/" in messages


# ---- features ---------------------------------------------------------------------------------------
def test_features_on_the_cluster_equal_the_single_process_ones(dask_client, demo_small, parts_shop):
    from returnrisk.cluster.features import build_cluster_features
    from returnrisk.cluster.loading import load_partitioned
    from returnrisk.data.loader import load_shop
    from returnrisk.features.build import build_training_frame, outcomes_at
    from returnrisk.features.derive import Smoothing
    from returnrisk.features.snapshot import Snapshot
    from returnrisk.reasons.fill import default_reason_filler

    shop = load_partitioned(dask_client, str(parts_shop), shards=5)
    as_of = max(shop.last_order, shop.last_return) + pd.Timedelta(seconds=1)
    validation_start = as_of - pd.Timedelta(days=120)
    features = build_cluster_features(dask_client, shop, as_of, validation_start, window_days=30,
                                      smoothing=Smoothing())
    frames = dask_client.gather(features.frames)
    reference = build_training_frame(load_shop(demo_small, reason_filler=default_reason_filler()), as_of)
    ids = np.concatenate([f.line_id for f in frames])
    row = pd.Index(reference.lines["line_id"].astype(str)).get_indexer(ids)
    assert (row >= 0).all() and len(ids) == len(reference.X) == features.n_lines
    assert len({f.shard for f in frames}) == 5
    X, R = np.vstack([f.X for f in frames]), reference.X[row]
    same = (X == R) | (np.isnan(X) & np.isnan(R))
    assert same.mean() > 0.999            # almost every value bit for bit
    # the others only by float32 rounding: sums added in another order round the last bit apart
    ulps = np.abs(X.view(np.int32).astype(np.int64) - R.view(np.int32).astype(np.int64))[~same]
    assert ulps.size == 0 or ulps.max() <= 4
    np.testing.assert_array_equal(np.concatenate([f.outcome for f in frames]), reference.outcome[row])
    np.testing.assert_array_equal(np.concatenate([f.outcome_validation for f in frames]),
                                  outcomes_at(reference, validation_start)[row])

    expected = Snapshot.from_history(reference.history, reference.attrs, reference.vocabulary, Smoothing(), 30)
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
def both_runs(dask_client, demo_train, tmp_path_factory):
    """The same shop trained in one process and on the cluster (fast parameters, own MLflow stores)."""
    from returnrisk.cluster.train import run_cluster_training
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler
    from returnrisk.tracking import Tracker

    params = load_params(FAST)
    root = tmp_path_factory.mktemp("cluster_runs")
    single_uri, cluster_uri = f"sqlite:///{root}/single/mlflow.db", f"sqlite:///{root}/cluster/mlflow.db"
    single = run_training(demo_train, params=params, tracker=Tracker(single_uri), reason_filler=default_reason_filler())
    on_cluster = run_cluster_training(str(demo_train), client=dask_client, params=params,
                                      tracker=Tracker(cluster_uri))
    return single, single_uri, on_cluster, cluster_uri


def test_cluster_model_is_as_good_as_the_single_process_one(both_runs):
    single, _, on_cluster, _ = both_runs
    m, s = on_cluster.metrics, single.metrics
    assert abs(m["val_auc"] - s["val_auc"]) <= 0.005
    # the same validation rows, labels and baselines: only the model differs
    for key in ("val_rows", "val_return_rate", "train_rows", "calibration_rows", "immature_rows",
                "val_cold_start_rows", "baseline_product_rate_auc", "baseline_global_rate_log_loss", "ceiling_auc"):
        assert m[key] == pytest.approx(s[key], rel=1e-9, abs=1e-9), key
    assert m["val_ece"] < 0.05 and m["val_auc_too_small"] > 0.72


def test_cluster_run_logs_the_same_mlflow_artefacts_and_is_served(both_runs):
    from fastapi.testclient import TestClient

    from returnrisk.serving import Settings, create_app
    from returnrisk.tracking import Tracker

    single, single_uri, on_cluster, cluster_uri = both_runs
    a, b = Tracker(single_uri), Tracker(cluster_uri)
    run_a, run_b = a.client.get_run(single.run_id), b.client.get_run(on_cluster.run_id)
    assert set(run_b.data.params) >= set(run_a.data.params)
    assert set(run_b.data.metrics) >= set(run_a.data.metrics)
    paths_a = {f.path for f in a.client.list_artifacts(single.run_id)}
    assert paths_a == {f.path for f in b.client.list_artifacts(on_cluster.run_id)}
    assert on_cluster.promoted and on_cluster.model_version == "1" and b.champion().version == "1"
    bundle, _ = b.load_bundle("models:/returnrisk@champion")
    assert bundle.model.info["trained_on"] == "dask" and bundle.snapshot.states["customer"].shape[0] > 1000
    reference, _ = a.load_bundle("models:/returnrisk@champion")
    assert set(bundle.meta) == set(reference.meta)
    # served exactly as a single-process model is
    with TestClient(create_app(Settings(tracking_uri=cluster_uri))) as client:
        pairs = bundle.snapshot.product_sizes
        product, size = pairs.iloc[len(pairs) // 2][["product_id", "size"]]
        body = client.get(f"/v1/products/{product}/risk", params={"size": size}).json()
        assert 0 < body["p_return"] < 1 and body["model_version"] == "1"


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
