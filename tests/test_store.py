"""Schema and migrations: an empty database upgrades to head and matches the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auditdesk.store.db import current_revision, head_revision, make_engine, upgrade
from auditdesk.store.models import Base

BOTH_BACKENDS = True  # tests using the db fixture also run on PostgreSQL (conftest.py)


def test_empty_database_upgrades_to_head_and_matches_models(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.sqlite'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert {"patients", "studies", "series", "images", "classification_overrides"} <= tables
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_upgrade_is_idempotent_and_downgrade_round_trips(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'b.sqlite'}")
    upgrade(engine)
    upgrade(engine)  # second run is a no-op
    from alembic import command

    from auditdesk.store.db import alembic_config

    command.downgrade(alembic_config(engine), "base")
    assert "images" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert current_revision(engine) == head_revision()


@pytest.mark.sqlite_only
def test_sqlite_pragmas_make_commits_durable(db) -> None:
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
