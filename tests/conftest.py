"""Shared fixtures: tiny hand-written shops, generated demo shops, a trained model."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pytest

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # LightGBM's OpenMP threads sleep, not spin, when waiting
# apps built with default settings record returns in a throw-away database, not in the repository
os.environ.setdefault("RETURNRISK_RETURNS_DB_URL", f"sqlite:///{tempfile.mkdtemp(prefix='returnrisk-test-')}/returns.db")

PRODUCTS = """product_id,category,brand,price,has_size_guide,n_photos,description,created_at
P1,dresses,Lune,79.90,true,5,"Viscose dress, length 98 cm, true to size",2025-01-01
P2,jeans,Nord,69.00,no,3,Straight jeans,2025-01-15T10:00:00+02:00
P3,bags,Lune,99.00,,2,Leather bag 32 x 24 cm,
"""
ORDER_LINES = """line_id,order_id,customer_id,product_id,size,quantity,unit_price,ordered_at
L1,O1,C1,P1,M,1,79.90,2025-03-01T10:00:00Z
L2,O1,C1,P1,L,1,79.90,2025-03-01T10:00:00Z
L3,O2,C2,P2,W30,1,,2025-03-02 12:30:00.123456789Z
L4,O3,C3,P3,,2,89.00,2025-03-03
L5,O4,C2,P1,S,,,2025-03-04T08:00:00+01:00
"""
RETURNS = """line_id,returned_at,reason_code,reason_text,refunded_at,return_cost
L2,2025-03-09,too_large,,2025-03-11,7.50
L3,2025-03-10T09:00:00Z,,trop petit à la taille,2025-03-12,
L5,2025-03-15,changed_mind,,,
"""


def write_shop(folder: Path, products: str = PRODUCTS, lines: str = ORDER_LINES, returns: str = RETURNS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "products.csv").write_text(products)
    (folder / "order_lines.csv").write_text(lines)
    (folder / "returns.csv").write_text(returns)
    return folder


@pytest.fixture
def tiny_shop(tmp_path: Path) -> Path:
    return write_shop(tmp_path / "shop")


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory) -> Path:
    """A 20,000-line demo shop (seed 3), generated once per test session."""
    from returnrisk.demo.generator import generate_demo_shop

    out = tmp_path_factory.mktemp("demo_small")
    generate_demo_shop(out, seed=3, n_lines=20_000)
    return out


@pytest.fixture(scope="session")
def demo_train(tmp_path_factory) -> Path:
    """A 60,000-line demo shop for training tests (seed 11)."""
    from returnrisk.demo.generator import generate_demo_shop

    out = tmp_path_factory.mktemp("demo_train")
    generate_demo_shop(out, seed=11, n_lines=60_000)
    return out


def read(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


class Trained:
    """A model trained once per session on ``demo_train``, in its own MLflow store."""

    def __init__(self, data: Path, tracking_uri: str, result):
        self.data = data
        self.tracking_uri = tracking_uri
        self.result = result

    def tracker(self):
        from returnrisk.tracking import Tracker

        return Tracker(self.tracking_uri)

    def bundle(self):
        bundle, _ = self.tracker().load_bundle("models:/returnrisk@champion")
        return bundle


@pytest.fixture(scope="session")
def trained(demo_train, tmp_path_factory) -> Trained:
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler
    from returnrisk.tracking import Tracker

    store = tmp_path_factory.mktemp("mlruns")
    uri = f"sqlite:///{store}/mlflow.db"
    result = run_training(demo_train, params=load_params(), tracker=Tracker(uri),
                          reason_filler=default_reason_filler())
    return Trained(demo_train, uri, result)


@pytest.fixture(scope="session")
def tiny_bundle(trained):
    """The session's model with its catalogue cut to 12 products (10 sized, 2 unsized when there are).

    A complete serving bundle — same boosters, same states, a snapshot whose catalogue is tiny — so
    loading it (scorer + every visitor answer) takes milliseconds: for tests that load a model
    many times (reload under load) or need a served model without its cost.
    """
    import dataclasses

    from returnrisk.model.bundle import ServingBundle

    bundle = trained.bundle()
    snapshot = bundle.snapshot
    sized = list(dict.fromkeys(snapshot.product_sizes["product_id"].astype(str)))[:10]
    unsized = [p for p in snapshot.products.index.astype(str) if p not in set(snapshot.product_sizes["product_id"])][:2]
    keep = set(sized + unsized)
    cut = dataclasses.replace(
        snapshot,
        products=snapshot.products[snapshot.products.index.astype(str).isin(keep)],
        product_sizes=snapshot.product_sizes[snapshot.product_sizes["product_id"].astype(str).isin(keep)]
        .reset_index(drop=True),
    )
    return ServingBundle(bundle.model, cut, bundle.meta)


@pytest.fixture(scope="session")
def planted(tmp_path_factory) -> Trained:
    """A 40,000-line demo shop with planted fixes (seed 5: improve_photos on P000122 went live on
    2025-08-12 and cut its looks-different returns; placebos on P000017, P000194…), a model trained
    on it with the fast parameters, in its own MLflow store (issue 17: fix lifecycle tests)."""
    from returnrisk.demo.generator import generate_demo_shop
    from returnrisk.pipeline.params import load_params
    from returnrisk.pipeline.train import run_training
    from returnrisk.reasons.fill import default_reason_filler
    from returnrisk.tracking import Tracker

    data = tmp_path_factory.mktemp("planted")
    generate_demo_shop(data, seed=5, n_lines=40_000, plant_fixes=True)
    store = tmp_path_factory.mktemp("mlruns_planted")
    uri = f"sqlite:///{store}/mlflow.db"
    result = run_training(data, params=load_params(Path(__file__).with_name("fast_params.yaml")),
                          tracker=Tracker(uri), reason_filler=default_reason_filler())
    return Trained(data, uri, result)


class TinyRegistry:
    """An MLflow store (SQLite, artifacts beside it) with ``tiny_bundle`` registered as version 1, champion."""

    def __init__(self, root: Path, bundle):
        self.root, self.bundle = root, bundle
        self.tracking_uri = f"sqlite:///{root}/mlflow.db"

    def tracker(self):
        from returnrisk.tracking import Tracker

        return Tracker(self.tracking_uri)

    def register(self, damage=None, champion: bool = False) -> str:
        """Log ``tiny_bundle`` again as a new version (``damage(bundle_dir)`` first, if given)."""
        tracker = self.tracker()
        with tempfile.TemporaryDirectory(prefix="returnrisk-tiny-") as tmp:
            folder = self.bundle.save(Path(tmp) / "bundle")
            if damage is not None:
                damage(folder)
            with tracker.run("tiny", {}):
                version = tracker.log_model(folder)
        tracker.set_version_tag(version, "promotion", "test")
        if champion:
            tracker.set_champion(version)
        return version

    def bundle_dir(self, version: str) -> Path:
        """Where the registry keeps ``version``'s bundle (to damage it after registration)."""
        source = self.tracker().client.get_model_version("returnrisk", version).source
        model_id = source.rsplit("/", 1)[-1]
        found = list(self.root.glob(f"artifacts/**/{model_id}/**/bundle"))
        assert len(found) == 1, found
        return found[0]


@pytest.fixture(scope="session")
def tiny_registry(tiny_bundle, tmp_path_factory) -> TinyRegistry:
    registry = TinyRegistry(tmp_path_factory.mktemp("tiny_mlruns"), tiny_bundle)
    registry.register(champion=True)
    return registry


# ---- PostgreSQL (issue 18): the store's tests run on SQLite and on a real server ------------------
#: An EMPTY database the tests may use and wipe (e.g. postgresql+psycopg://user:pw@127.0.0.1/returnrisk_test);
#: .ci/run starts PostgreSQL from the Debian packages, creates one and sets this with RETURNRISK_REQUIRE_POSTGRES=1.
#: Under pytest-xdist (make test runs two workers) each worker uses its own database beside that one,
#: ``<name>_gw0``, ``<name>_gw1``…, created on first use (the role needs CREATEDB, as .ci/run's has).
POSTGRES_URL = os.environ.get("RETURNRISK_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("RETURNRISK_REQUIRE_POSTGRES") == "1"
_postgres_problem: list = []
_worker_urls: dict[str, str] = {}


def _worker_database_url(url: str) -> str:
    """``url`` itself, or under pytest-xdist the URL of this worker's own database (created if missing)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    if url not in _worker_urls:
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        base = make_url(url)
        name = f"{base.database}_{worker}"
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                if conn.execute(sa.text("select 1 from pg_database where datname = :name"), {"name": name}).first() \
                        is None:
                    conn.execute(sa.text(f'create database "{name}"'))
        finally:
            engine.dispose()
        _worker_urls[url] = base.set(database=name).render_as_string(hide_password=False)
    return _worker_urls[url]


def postgres_url_or_skip() -> str:
    """The test server's URL, its returnrisk tables dropped; skipped (with the reason) when there is none,
    a failure instead when ``RETURNRISK_REQUIRE_POSTGRES=1`` (as ``RETURNRISK_REQUIRE_BROWSER`` for Chromium)."""
    problem = None
    if not POSTGRES_URL:
        problem = ("RETURNRISK_TEST_POSTGRES_URL is not set: point it at an empty PostgreSQL database "
                   "(.ci/run starts one) to run the PostgreSQL half of these tests")
    elif _postgres_problem:
        problem = _postgres_problem[0]
    else:
        try:
            url = _worker_database_url(POSTGRES_URL)
            drop_returnrisk_tables(url)
        except Exception as exc:  # noqa: BLE001 - any reason the server cannot be used
            problem = (f"PostgreSQL at RETURNRISK_TEST_POSTGRES_URL cannot be used ({type(exc).__name__}: "
                       f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''})")
            _postgres_problem.append(problem)
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{problem} — and RETURNRISK_REQUIRE_POSTGRES=1 makes PostgreSQL required", pytrace=False)
        pytest.skip(problem)
    return url


def drop_returnrisk_tables(url: str) -> None:
    """Drop every table of the service database (and its revision table) at ``url``."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.begin() as conn:
            names = [r[0] for r in conn.execute(sa.text(
                "select tablename from pg_tables where schemaname = current_schema() and tablename like 'returnrisk%'"))]
            for name in names:
                conn.execute(sa.text(f'drop table if exists "{name}" cascade'))
    finally:
        engine.dispose()


#: ``@pytest.fixture(params=BACKENDS)``: "sqlite" and "postgresql" (skipped or required, see above)
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """An empty service database of each backend (PostgreSQL: the test database, emptied before and after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    url = postgres_url_or_skip()
    yield url
    drop_returnrisk_tables(url)
