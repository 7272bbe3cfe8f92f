"""The service database: migrations own the schema, old databases are adopted, the service refuses a
database that is behind, ``returnrisk db upgrade`` brings it up, and the setting's two names."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient

from returnrisk.cli import main
from returnrisk.db import (
    DatabaseBehind,
    DatabaseNotRecognised,
    ensure_schema,
    head_revision,
    make_engine,
    migrate,
    upgrade,
)
from returnrisk.db.schema import RETURNS_TABLE, VERSION_TABLE, metadata
from returnrisk.operations.store import ReturnEvent, ReturnStore
from returnrisk.serving import Settings, create_app

#: A returns database written by returnrisk before migrations existed (``create_all``; commit bdf1d00):
#: returns of lines L2 (refunded, cost 7.5), L3 (text only, inferred too_small) and L5.
BEFORE_MIGRATIONS = Path(__file__).with_name("fixtures") / "returns-before-migrations.db"


def differences(url: str) -> list:
    """What the database at ``url`` lacks or has more than ``schema.metadata`` (empty: the same)."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE, "compare_type": True})
        found = compare_metadata(context, metadata)
    engine.dispose()
    return found


def rows(url: str) -> list[dict]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(sa.text(f"select * from {RETURNS_TABLE} order by line_id"))]
    engine.dispose()
    return out


@pytest.fixture
def old_db(tmp_path) -> str:
    path = tmp_path / "returns.db"
    shutil.copy(BEFORE_MIGRATIONS, path)
    return f"sqlite:///{path}"


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# ---- the migrations ------------------------------------------------------------------------------
def test_the_migrations_form_one_line_from_the_baseline():
    scripts = migrate._scripts()
    heads = scripts.get_heads()
    assert heads == [head_revision()], f"several heads {heads}: renumber the newer migration (down_revision)"
    chain = [s.revision for s in scripts.walk_revisions()]
    assert chain[-1] == migrate.BASELINE and len(chain) == len(set(chain))
    for script in scripts.walk_revisions():
        assert Path(script.path).name.startswith(f"{script.revision}_")


def test_an_empty_database_upgrades_to_exactly_the_schema_the_code_uses(db_url):
    url = db_url
    result = upgrade(url)
    assert (result.before, result.after, result.stamped) == (None, head_revision(), False)
    assert differences(url) == []          # a table added to schema.py without its migration fails here
    again = upgrade(url)
    assert (again.before, again.after) == (head_revision(), head_revision())
    assert "nothing to do" in again.describe()


@pytest.mark.parametrize("revision", [s.revision for s in migrate._scripts().walk_revisions()])
def test_a_database_at_any_earlier_revision_upgrades_to_the_head(revision, tmp_path):
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert upgrade(url, revision).after == revision
    assert upgrade(url).after == head_revision()
    assert differences(url) == []


def test_two_processes_creating_an_empty_database_at_once_both_succeed(tmp_path):
    url = f"sqlite:///{tmp_path / 'race.db'}"
    outcomes, errors = [], []

    def start():
        try:
            outcomes.append(ensure_schema(make_engine(url)).current)
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and outcomes == [head_revision()] * 4
    assert differences(url) == []


def test_a_database_at_an_unknown_revision_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'future.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"update {VERSION_TABLE} set version_num = '9999'"))
    with pytest.raises(DatabaseNotRecognised, match="revision 9999, unknown to this version of returnrisk"):
        ensure_schema(engine)
    with pytest.raises(DatabaseNotRecognised, match="upgrade returnrisk"):
        upgrade(url)


def test_new_revision_writes_the_migration_of_a_table_added_to_the_schema(tmp_path, monkeypatch):
    """The recipe of returnrisk.db's docstring: declare the table, generate its migration, upgrade."""
    head = head_revision()
    following = f"{int(head) + 1:04d}"
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrate, "MIGRATIONS", copy)
    migrate._scripts.cache_clear()
    table = sa.Table("returnrisk_test_statuses", metadata, sa.Column("fix_id", sa.String(64), primary_key=True),
                     sa.Column("status", sa.String(20), nullable=False))
    head = head_revision()
    following = f"{int(head) + 1:04d}"
    try:
        path = migrate.new_revision("test statuses")
        assert path.parent == copy / "versions" and path.name == f"{following}_test_statuses.py"
        text = path.read_text()
        assert "op.create_table('returnrisk_test_statuses'" in text and f"down_revision = '{head}'" in text
        url = f"sqlite:///{tmp_path / 'next.db'}"
        assert upgrade(url).after == following
        assert differences(url) == []
    finally:
        metadata.remove(table)
        monkeypatch.undo()
        migrate._scripts.cache_clear()
    assert head_revision() == head
    assert not list((migrate.MIGRATIONS / "versions").glob("*_test_statuses.py"))


# ---- a database made before migrations --------------------------------------------------------------
def test_a_database_made_before_migrations_is_refused_with_one_line_then_adopted_by_db_upgrade(old_db, capsys):
    before = rows(old_db)
    assert [r["line_id"] for r in before] == ["L2", "L3", "L5"]
    with pytest.raises(DatabaseBehind) as refused:
        ensure_schema(make_engine(old_db))
    message = str(refused.value)
    assert "\n" not in message and "made before migrations" in message and "run `returnrisk db upgrade`" in message

    code, out, err = run_cli(capsys, "db", "upgrade", "--db", old_db, "--json")
    assert code == 0, err
    assert "stamped at revision 0001 (nothing rewritten)" in err
    assert out.strip().endswith('"stamped": true}')
    # every return kept as it was, with the id derived from its line and the whole line returned (0002)
    assert rows(old_db) == [{**r, "return_id": f"line:{r['line_id']}", "quantity": None} for r in before]
    assert differences(old_db) == []
    code, out, _ = run_cli(capsys, "db", "upgrade", "--db", old_db)
    assert code == 0 and "nothing to do" in out

    store = ReturnStore(old_db)   # the adopted database is used as it is
    assert store.get("L3").reason == "too_small" and store.get("L2").return_cost == 7.5
    assert store.record(ReturnEvent("L9", pd.Timestamp("2025-04-01T00:00:00Z"), "form",
                                    reason_code="damaged")).status == "created"
    assert store.count() == 4
    store.dispose()


def test_the_service_refuses_to_start_on_a_database_that_is_behind(old_db, tiny_bundle):
    settings = Settings(_env_file=None, database_url=old_db, merchant_api_keys="k")
    loader = lambda: (tiny_bundle, {"version": "1"})  # noqa: E731
    with pytest.raises(DatabaseBehind, match="run `returnrisk db upgrade`"):
        with TestClient(create_app(settings, loader=loader)):
            pass
    upgrade(old_db)
    with TestClient(create_app(settings, loader=loader)) as client:
        answer = client.get("/v1/returns/L2", headers={"Authorization": "Bearer k"}).json()
        assert (answer["reason_code"], answer["refunded_at"], answer["return_cost"]) == \
            ("too_large", "2025-03-11T00:00:00Z", 7.5)


def test_serve_refuses_a_database_behind_in_one_line_before_loading_anything(old_db, capsys, monkeypatch):
    monkeypatch.setenv("RETURNRISK_DATABASE_URL", old_db)
    monkeypatch.setenv("RETURNRISK_TRACKING_URI", "sqlite:///nowhere/never-opened.db")
    code, _, err = run_cli(capsys, "serve")
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "run `returnrisk db upgrade`" in err


def test_db_upgrade_errors_are_one_clear_line(tmp_path, capsys):
    code, _, err = run_cli(capsys, "db", "upgrade", "--db", "nonsense")
    assert code == 2 and "database URL 'nonsense' is not a SQLAlchemy URL" in err
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _, err = run_cli(capsys, "db", "upgrade", "--db", f"sqlite:///{blocker}/r.db")
    assert code == 2 and "cannot upgrade the database" in err and "Traceback" not in err


def test_an_empty_database_is_created_when_the_service_starts(tmp_path, tiny_bundle):
    url = f"sqlite:///{tmp_path / 'new' / 'r.db'}"
    (tmp_path / "new").mkdir()
    with TestClient(create_app(Settings(_env_file=None, database_url=url),
                               loader=lambda: (tiny_bundle, {"version": "1"}))):
        pass
    assert differences(url) == [] and rows(url) == []


# ---- the setting's two names -------------------------------------------------------------------------
def test_the_database_setting_reads_the_new_name_and_the_old_one_and_prefers_the_new(monkeypatch):
    monkeypatch.delenv("RETURNRISK_DATABASE_URL", raising=False)
    monkeypatch.delenv("RETURNRISK_RETURNS_DB_URL", raising=False)
    assert Settings(_env_file=None).database_url == "sqlite:///returnrisk-returns.db"
    monkeypatch.setenv("RETURNRISK_RETURNS_DB_URL", "sqlite:///old-name.db")
    assert Settings(_env_file=None).database_url == "sqlite:///old-name.db"
    monkeypatch.setenv("RETURNRISK_DATABASE_URL", "sqlite:///new-name.db")
    settings = Settings(_env_file=None)
    assert settings.database_url == settings.returns_db_url == "sqlite:///new-name.db"
    monkeypatch.delenv("RETURNRISK_RETURNS_DB_URL")
    assert Settings(_env_file=None).database_url == "sqlite:///new-name.db"
    assert Settings(_env_file=None, returns_db_url="sqlite:///kw.db", database_url="sqlite:///kw2.db").database_url \
        == "sqlite:///kw2.db"


def test_the_old_name_in_a_dotenv_file_still_works(tmp_path, monkeypatch):
    monkeypatch.delenv("RETURNRISK_DATABASE_URL", raising=False)
    monkeypatch.delenv("RETURNRISK_RETURNS_DB_URL", raising=False)
    env = tmp_path / ".env"
    env.write_text("RETURNRISK_RETURNS_DB_URL=sqlite:///dotenv-old.db\n")
    assert Settings(_env_file=env).database_url == "sqlite:///dotenv-old.db"
    env.write_text("RETURNRISK_RETURNS_DB_URL=sqlite:///dotenv-old.db\nRETURNRISK_DATABASE_URL=sqlite:///dotenv-new.db\n")
    assert Settings(_env_file=env).database_url == "sqlite:///dotenv-new.db"
