"""``auditdesk db check|migrate|backup|copy`` and ``AUDITDESK_DB`` on a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from tests.conftest import skip_or_fail

from auditdesk.cli import main
from auditdesk.store.db import head_revision, open_database
from auditdesk.store.models import Base


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_reports_server_version_and_schema_state(pg_url: str, capsys) -> None:
    code, out, _ = run(capsys, "--db", pg_url, "db", "check")
    assert code == 0
    assert out.startswith("Connected to PostgreSQL 1")  # e.g. 15.x
    assert "empty" in out
    code, out, _ = run(capsys, "--db", pg_url, "db", "migrate")
    assert code == 0 and head_revision() in out
    code, out, _ = run(capsys, "--db", pg_url, "db", "check")
    assert code == 0 and f"up to date (schema {head_revision()})" in out


def test_check_refuses_a_database_that_is_not_auditdesks(pg_cluster, pg_url: str, capsys) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE payroll (id integer)"))
    engine.dispose()
    code, out, _ = run(capsys, "--db", pg_url, "db", "check")
    assert code == 3 and "not an AuditDesk database" in out
    code, _, err = run(capsys, "--db", pg_url, "db", "migrate")  # refused, nothing created
    assert code == 3 and "not AuditDesk's" in err
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname='public'")).scalar()
            == 1
        )
    engine.dispose()


def test_check_names_an_unreachable_server_in_one_sentence(tmp_path: Path, capsys) -> None:
    url = f"postgresql+psycopg://postgres@/nothing?host={tmp_path}"
    code, _, err = run(capsys, "--db", url, "db", "check")
    assert code == 3
    assert "Could not connect to the database server" in err
    assert len(err.strip().splitlines()) == 1


def test_auditdesk_db_variable_selects_the_server(
    pg_url: str, test_set, monkeypatch, capsys
) -> None:
    from auditdesk.store.models import Study

    monkeypatch.setenv("AUDITDESK_DB", pg_url)
    code, _, err = run(capsys, "import", str(test_set.root))
    assert code == 0, err
    code, out, _ = run(capsys, "db", "check")
    assert code == 0 and "Connected to PostgreSQL" in out and "up to date" in out
    server = open_database(pg_url)
    try:
        with server.session() as s:
            uids = set(s.scalars(select(Study.study_uid)))
    finally:
        server.dispose()
    assert uids == {study.study_uid for study in test_set.studies}


def test_backup_with_pg_dump(pg_url: str, tmp_path: Path, capsys) -> None:
    from auditdesk.store.pg import find_pg_dump

    if find_pg_dump() is None:
        skip_or_fail("pg_dump is not installed (Debian: postgresql-client); run scripts/setup")
    open_database(pg_url).dispose()
    target = tmp_path / "server.dump"
    code, _, err = run(capsys, "--db", pg_url, "db", "backup", "-o", str(target))
    assert code == 0, err
    assert target.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom-format signature
    assert "site_secrets" in target.read_bytes().decode("latin-1")


def test_backup_without_pg_dump_says_so(pg_url: str, tmp_path: Path, monkeypatch, capsys) -> None:
    from auditdesk.store import pg

    monkeypatch.setattr(pg, "find_pg_dump", lambda: None)
    code, _, err = run(capsys, "--db", pg_url, "db", "backup", "-o", str(tmp_path / "x.dump"))
    assert code == 3 and "needs pg_dump" in err
    assert not (tmp_path / "x.dump").exists()


def test_backup_of_a_sqlite_file_to_a_chosen_file(tmp_path: Path, capsys) -> None:
    url = f"sqlite:///{tmp_path / 'a.sqlite'}"
    open_database(url).dispose()
    code, _, err = run(capsys, "--db", url, "db", "backup", "-o", str(tmp_path / "copy.sqlite"))
    assert code == 0, err
    assert (tmp_path / "copy.sqlite").read_bytes()[:16] == b"SQLite format 3\x00"


def test_copy_moves_a_sites_sqlite_data_to_the_server_without_loss(
    pg_url: str, tmp_path: Path, test_set, capsys
) -> None:
    from auditdesk.dicom.index import import_paths

    lite_url = f"sqlite:///{tmp_path / 'site.sqlite'}"
    lite = open_database(lite_url)
    import_paths(lite, [test_set.root])
    counts = {}
    with lite.session() as s:
        for table in Base.metadata.sorted_tables:
            counts[table.name] = s.scalar(select(func.count()).select_from(table))
        rows = {
            t.name: s.execute(select(t).order_by(*t.primary_key)).all()
            for t in Base.metadata.sorted_tables
        }
    lite.dispose()
    assert counts["studies"] > 0
    code, _, err = run(capsys, "db", "copy", "--from", lite_url, "--to", pg_url)
    assert code == 0, err
    server = open_database(pg_url)
    try:
        with server.session() as s:
            for table in Base.metadata.sorted_tables:
                assert (
                    s.execute(select(table).order_by(*table.primary_key)).all() == rows[table.name]
                )
        # New rows after the copy get fresh keys (sequences moved past the copied ones).
        import_paths(server, [test_set.root])  # nothing new, but must not fail
        from auditdesk.store.models import Study

        with server.transaction() as s:  # would collide with copied key 1 without setval
            s.add(Study(study_uid="1.2.826.0.1.3680043.10.999.5", kind="mammo"))
    finally:
        server.dispose()
    # A second copy into the now-used server is refused.
    code, _, err = run(capsys, "db", "copy", "--from", lite_url, "--to", pg_url)
    assert code == 3 and "already holds AuditDesk data" in err
