"""Schema changes are tested by upgrading a database made with the previous schema: rows indexed
under revision 0001 survive the upgrade to head unchanged, the new tables work on them, and a
downgrade gives the old schema back without touching the old rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, text

from auditdesk.store import audits
from auditdesk.store.db import (
    Database,
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from auditdesk.store.models import Base

OLD_TABLES = (
    "patients",
    "studies",
    "series",
    "images",
    "classification_overrides",
    "import_runs",
    "import_issues",
)
AUDIT_TABLES = {
    "reviewers",
    "checklist_versions",
    "audits",
    "audit_answers",
    "audit_measurements",
    "audit_scores",
    "audit_overrides",
    "audit_events",
}
SITE_TABLES = {
    "site_settings",
    "site_secrets",
    "technologists",
    "technologist_aliases",
    "locations",
    "annotations",
    "sample_plans",
    "sample_items",
}

# Plain SQL written against the 0001 schema, not the current models: this is what an
# installation of the first release has on disk.
ROWS_0001 = [
    "INSERT INTO patients (id, patient_id) VALUES (1, 'ANON0001')",
    "INSERT INTO studies (id, study_uid, patient_pk, accession_number, procedure_date, "
    "procedure_datetime, description, kind, modalities, technologist, created_at) VALUES "
    "(1, '1.2.826.0.1.3680043.10.1.1', 1, 'ACC1', '2025-03-04', '2025-03-04 09:15:00.000000', "
    "'MAMMO SCREENING', 'mammo', 'MG', 'TECH^A', '2025-03-05 10:00:00.000000')",
    "INSERT INTO studies (id, study_uid, patient_pk, kind, created_at) VALUES "
    "(2, '1.2.826.0.1.3680043.10.1.2', 1, 'mr', '2025-03-05 10:00:00.000000')",
    "INSERT INTO series (id, series_uid, study_pk, modality, series_number, description, "
    "mr_role, mr_info) VALUES (1, '1.2.826.0.1.3680043.10.2.1', 1, 'MG', 1, 'RMLO', NULL, NULL), "
    "(2, '1.2.826.0.1.3680043.10.2.2', 2, 'MR', 5, 'ep2d_diff', 'DWI', "
    "'{\"b_values\": [50, 800, 1400]}')",
    "INSERT INTO images (id, sop_uid, series_pk, path, archive_member, file_size, file_mtime_ns, "
    "instance_number, rows, columns, n_frames, photometric, view, laterality, view_modifiers, "
    "is_screening_view, is_tomosynthesis, lossy, mr_info, slice_position_mm, slice_order, "
    "indexed_at) VALUES "
    "(1, '1.2.826.0.1.3680043.10.3.1', 1, '/data/a.dcm', NULL, 1234567, 1700000000000000000, 1, "
    "3328, 2560, 1, 'MONOCHROME2', 'MLO', 'R', '[]', 1, 0, 0, NULL, NULL, NULL, "
    "'2025-03-05 10:00:00.000000'), "
    "(2, '1.2.826.0.1.3680043.10.3.2', 2, '/data/mr.zip', 'DWI/0001.dcm', 99, 12345, 1, 128, 128, "
    "1, 'MONOCHROME2', NULL, NULL, NULL, NULL, 0, 0, '{\"b_value\": 800}', -12.5, 0, "
    "'2025-03-05 10:00:00.000000')",
    "INSERT INTO classification_overrides (id, target, target_uid, field, value, reviewer, "
    "reason, created_at) VALUES (1, 'series', '1.2.826.0.1.3680043.10.2.2', 'role', 'DWI', "
    "'Alice Tech', 'b-values in private tags', '2025-03-05 11:00:00.000000')",
    "INSERT INTO import_runs (id, started_at, finished_at, sources, files_seen, images_added, "
    "images_updated, images_unchanged, files_skipped, cancelled) VALUES (1, "
    "'2025-03-05 09:59:00.000000', '2025-03-05 10:01:00.000000', '[\"/data\"]', 3, 2, 0, 0, 1, 0)",
    "INSERT INTO import_issues (id, run_pk, path, reason) VALUES "
    "(1, 1, '/data/readme.txt', 'not a DICOM file')",
]


# Columns added to the old tables by later revisions (empty on old rows; checked on their own).
LATER_COLUMNS = {"view_confidence", "view_conflict"}


def _dump(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            table: [
                tuple(v for k, v in row.items() if k not in LATER_COLUMNS)
                for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id").mappings()
            ]
            for table in OLD_TABLES
        }


@pytest.fixture
def old_db(tmp_path: Path) -> Iterator[Engine]:
    """A database created and filled by the first release (schema revision 0001)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade(engine, "0001")
    with engine.begin() as conn:
        for statement in ROWS_0001:
            conn.execute(text(statement))
    yield engine
    engine.dispose()


def test_upgrade_from_0001_keeps_indexed_rows_and_adds_working_audit_tables(
    old_db: Engine,
) -> None:
    assert current_revision(old_db) == "0001"
    assert not AUDIT_TABLES & set(inspect(old_db).get_table_names())
    before = _dump(old_db)
    assert sum(len(rows) for rows in before.values()) == 10

    upgrade(old_db)

    assert current_revision(old_db) == head_revision()
    assert _dump(old_db) == before
    assert set(inspect(old_db).get_table_names()) >= AUDIT_TABLES | SITE_TABLES
    with old_db.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []

    # The new tables work on the old rows: audit the study indexed by the first release.
    db = Database(old_db.url.render_as_string(hide_password=False))
    try:
        with db.transaction() as s:
            reviewer = audits.create_reviewer(s, "Alice Tech", "technologist", "AT")
            text = (Path(__file__).parents[1] / "checklists/acr-mammo-positioning.toml").read_text()
            version = audits.register_checklist_version(  # answers are checked against it
                s, "acr-mammo-positioning", "1.0", audits.sha256_text(text), text, "ACR"
            )
            reviewer_pk, version_pk = reviewer.id, version.id
        rec = audits.AuditRecorder.open(db, 1, reviewer_pk, version_pk)
        rec.answer("RMLO:pectoral_to_pnl", "pass")
        rec.measure(
            "RMLO:pnl_mm",
            value_px=800.0,
            value_mm=56.0,
            calibration_source="imager_pixel_spacing",
            sop_uid="1.2.826.0.1.3680043.10.3.1",
        )
        rec.save_score(version_pk, {"ok": True}, True, None, True)
        state = rec.state()
        assert state.study_pk == 1
        assert state.answers == {"RMLO:pectoral_to_pnl": "pass"}
        assert state.meets_criteria is True
        assert [e.kind for e in state.history] == ["status", "answer", "measurement", "rescore"]
    finally:
        db.dispose()
    assert _dump(old_db) == before


def test_downgrade_to_0001_drops_audit_tables_and_keeps_indexed_rows(old_db: Engine) -> None:
    before = _dump(old_db)
    upgrade(old_db)
    command.downgrade(alembic_config(old_db), "0001")
    assert current_revision(old_db) == "0001"
    assert not (AUDIT_TABLES | SITE_TABLES) & set(inspect(old_db).get_table_names())
    assert _dump(old_db) == before
    upgrade(old_db)  # and up again
    assert current_revision(old_db) == head_revision()
    assert _dump(old_db) == before


def test_downgrade_to_0002_drops_only_site_tables(old_db: Engine) -> None:
    """Revision 0003 (site, technologists, samples) only adds tables: going back to 0002 keeps
    the audit tables and every indexed row."""
    before = _dump(old_db)
    upgrade(old_db)
    assert head_revision() >= "0003"
    command.downgrade(alembic_config(old_db), "0002")
    tables = set(inspect(old_db).get_table_names())
    assert not SITE_TABLES & tables
    assert tables >= AUDIT_TABLES
    assert _dump(old_db) == before
    upgrade(old_db)
    assert set(inspect(old_db).get_table_names()) >= SITE_TABLES


# An audit with an answer, a score and a history event, written against the 0002/0003 schema.
ROWS_0003 = [
    "INSERT INTO reviewers (id, name, role, initials, active, created_at) VALUES "
    "(1, 'Alice Tech', 'technologist', 'AT', 1, '2025-03-05 10:00:00.000000'), "
    "(2, 'Carol Coach', 'coach', 'CC', 1, '2025-03-05 10:00:00.000000')",
    "INSERT INTO checklist_versions (id, checklist_id, version, content_hash, title, source_text, "
    "first_used_at) VALUES (1, 'acr-mammo-positioning', '1.0', '" + "a" * 64 + "', 'ACR', 'v1', "
    "'2025-03-05 10:00:00.000000')",
    "INSERT INTO audits (id, study_pk, reviewer_pk, checklist_version_pk, checklist_id, status, "
    "comment, learning_opportunity, blinded, started_at, updated_at, completed_at) VALUES "
    "(1, 1, 1, 1, 'acr-mammo-positioning', 'complete', NULL, 0, 1, "
    "'2025-03-05 10:00:00.000000', '2025-03-05 10:05:00.000000', '2025-03-05 10:05:00.000000')",
    "INSERT INTO audit_answers (id, audit_pk, key, value, reason_code, source, answered_by, "
    "answered_at) VALUES (1, 1, 'RMLO:pectoral_to_pnl', '\"pass\"', NULL, 'reviewer', 1, "
    "'2025-03-05 10:01:00.000000')",
    "INSERT INTO audit_scores (id, audit_pk, checklist_version_pk, result, meets_criteria, grade, "
    "complete, computed_at, is_current) VALUES (1, 1, 1, '{}', 1, NULL, 1, "
    "'2025-03-05 10:05:00.000000', 1)",
    "INSERT INTO audit_events (id, audit_pk, reviewer_pk, at, kind, key, old_value, new_value) "
    "VALUES (1, 1, 1, '2025-03-05 10:01:00.000000', 'answer', 'RMLO:pectoral_to_pnl', NULL, "
    "'\"pass\"')",
]
AUDIT_CHILD_TABLES = ("audit_answers", "audit_scores", "audit_events")


def _dump_audits(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        return {
            table: [
                tuple(row)
                for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id").fetchall()
            ]
            for table in ("reviewers", "checklist_versions", *AUDIT_CHILD_TABLES)
        }


@pytest.mark.parametrize("start", ["0002", "0003"])
def test_upgrade_to_0004_keeps_audits_as_reviews_and_downgrade_drops_other_purposes(
    old_db: Engine, start: str
) -> None:
    """0004 adds ``audits.purpose``: existing audits become "review" with their answers, scores
    and history untouched; a coach can then hold a consensus audit beside a review audit of the
    same exam. Downgrading removes consensus/reference audits (the old unique constraint could
    not hold them) and keeps every review audit."""
    upgrade(old_db, start)
    with old_db.begin() as conn:
        for statement in ROWS_0003:
            conn.execute(text(statement))
    before = _dump_audits(old_db)
    with old_db.connect() as conn:
        old_audit = tuple(conn.exec_driver_sql("SELECT * FROM audits").fetchone())

    upgrade(old_db)
    assert current_revision(old_db) == head_revision()
    assert {"calibration_sets", "calibration_items"} <= set(inspect(old_db).get_table_names())
    assert _dump_audits(old_db) == before
    with old_db.connect() as conn:
        row = conn.exec_driver_sql("SELECT * FROM audits").mappings().one()
        assert row["purpose"] == "review"
        assert tuple(v for k, v in row.items() if k != "purpose") == old_audit
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # back on
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []

    # Same study, reviewer and checklist, another purpose: allowed; a second review: refused.
    with old_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audits (id, study_pk, reviewer_pk, checklist_version_pk, "
                "checklist_id, status, learning_opportunity, blinded, started_at, updated_at, "
                "purpose) VALUES (2, 1, 1, 1, 'acr-mammo-positioning', 'in_progress', 0, 0, "
                "'2025-03-06 10:00:00', '2025-03-06 10:00:00', 'consensus')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO audit_answers (id, audit_pk, key, value, source, answered_by, "
                "answered_at) VALUES (2, 2, 'RMLO:pectoral_to_pnl', '\"fail\"', 'consensus', 1, "
                "'2025-03-06 10:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO calibration_sets (id, name, checklist_id, created_by, created_at) "
                "VALUES (1, 'Set A', 'acr-mammo-positioning', 2, '2025-03-06 10:00:00')"
            )
        )
        conn.execute(text("INSERT INTO calibration_items (id, set_pk, study_pk) VALUES (1, 1, 1)"))
    with pytest.raises(Exception, match="UNIQUE"), old_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audits (study_pk, reviewer_pk, checklist_version_pk, checklist_id, "
                "status, learning_opportunity, blinded, started_at, updated_at) VALUES "
                "(1, 1, 1, 'acr-mammo-positioning', 'in_progress', 0, 0, "
                "'2025-03-06 10:00:00', '2025-03-06 10:00:00')"
            )
        )

    command.downgrade(alembic_config(old_db), "0003")
    assert current_revision(old_db) == "0003"
    tables = set(inspect(old_db).get_table_names())
    assert not {"calibration_sets", "calibration_items"} & tables
    assert "purpose" not in {c["name"] for c in inspect(old_db).get_columns("audits")}
    assert _dump_audits(old_db) == before
    with old_db.connect() as conn:
        assert tuple(conn.exec_driver_sql("SELECT * FROM audits").one()) == old_audit
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []
    upgrade(old_db)
    assert current_revision(old_db) == head_revision()


def test_upgrade_to_0006_adds_empty_view_confidence_and_spellings_and_downgrades(
    old_db: Engine,
) -> None:
    """0006_view_confidence adds ``images.view_confidence``/``view_conflict`` (empty on images
    indexed before: nothing is marked "please confirm" until they are read again) and
    ``site_settings.view_spellings`` (empty). Downgrading to 0005_spc drops only those."""
    upgrade(old_db, "0005_spc")
    with old_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO site_settings (id, site_name, site_id, organisation, collaborative, "
                "checklist_id, is_demo, updated_at) VALUES (1, 'Old', 'OLD1', '', '', "
                "'acr-mammo-positioning', 0, '2026-01-01 00:00:00')"
            )
        )
    before = _dump(old_db)
    upgrade(old_db)
    assert current_revision(old_db) == head_revision()
    assert _dump(old_db) == before
    with old_db.connect() as conn:
        images = conn.exec_driver_sql(
            "SELECT id, view, view_confidence, view_conflict FROM images ORDER BY id"
        ).fetchall()
        assert [tuple(r) for r in images] == [(1, "MLO", None, None), (2, None, None, None)]
        assert conn.exec_driver_sql("SELECT view_spellings FROM site_settings").scalar() == ""
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db = Database(old_db.url.render_as_string(hide_password=False))
    try:
        from auditdesk.store.catalog import get_study

        with db.session() as s:
            image = get_study(s, 1).series[0].images[0]
        assert (image.label, image.view_confidence, image.needs_confirmation) == (
            "RMLO",
            None,
            False,
        )
    finally:
        db.dispose()

    command.downgrade(alembic_config(old_db), "0005_spc")
    assert current_revision(old_db) == "0005_spc"
    assert {"view_confidence", "view_conflict"}.isdisjoint(
        c["name"] for c in inspect(old_db).get_columns("images")
    )
    assert "view_spellings" not in {c["name"] for c in inspect(old_db).get_columns("site_settings")}
    assert _dump(old_db) == before
    upgrade(old_db)
    assert current_revision(old_db) == head_revision()


def test_upgrade_from_0005_adds_study_groupings_that_work_and_downgrade_drops_them(
    old_db: Engine,
) -> None:
    """0007 (issue 13) only adds ``study_groupings`` and ``study_uid_map``: indexed rows are
    untouched, a merge and its undo work on studies indexed by the first release, and going
    back to 0005 drops the two tables."""
    from auditdesk.store.study_groups import history, merge_studies, undo_grouping

    upgrade(old_db, "0005_spc")
    before = _dump(old_db)
    upgrade(old_db)
    assert {"study_groupings", "study_uid_map"} <= set(inspect(old_db).get_table_names())
    assert _dump(old_db) == before
    with old_db.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []

    db = Database(old_db.url.render_as_string(hide_password=False))
    try:
        with db.transaction() as s:  # a mammogram and an MR of different dates: forced
            merged = merge_studies(s, [1, 2], reviewer="Alice Tech", force=True)
        with db.session() as s:
            (row,) = history(s)
            assert (row.action, row.source_study_ids, row.result_study_id) == (
                "merge",
                [1, 2],
                merged.study_id,
            )
        with db.transaction() as s:
            undo_grouping(s, merged.grouping_id, reviewer="Alice Tech")
    finally:
        db.dispose()
    with old_db.connect() as conn:
        studies = conn.exec_driver_sql(
            "SELECT study_uid, kind, procedure_date, technologist FROM studies ORDER BY study_uid"
        ).fetchall()
        assert [tuple(r) for r in studies] == [
            ("1.2.826.0.1.3680043.10.1.1", "mammo", "2025-03-04", "TECH^A"),
            ("1.2.826.0.1.3680043.10.1.2", "mr", None, None),
        ]
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []

    command.downgrade(alembic_config(old_db), "0005_spc")
    assert not {"study_groupings", "study_uid_map"} & set(inspect(old_db).get_table_names())
    upgrade(old_db)
    assert current_revision(old_db) == head_revision()


def test_upgrade_to_0009_adds_empty_pacs_nodes_and_downgrade_drops_only_it(old_db: Engine) -> None:
    """0009_pacs_nodes only adds the ``pacs_nodes`` table: an upgraded database has no node, a
    node can be saved and read back, and downgrading to the revision before drops the table and
    keeps every indexed row."""
    import sqlalchemy as sa

    before = _dump(old_db)
    upgrade(old_db)
    assert current_revision(old_db) == head_revision()
    with old_db.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM pacs_nodes").scalar() == 0
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    with old_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pacs_nodes (name, protocol, aet, host, port, our_aet, our_port, auth, "
                "retrieve_method, timeout_s, created_at) VALUES ('main', 'dimse', 'ORTHANC', "
                "'127.0.0.1', 4242, 'AUDITDESK', 11113, 'none', 'get', 30, '2026-12-05 00:00:00')"
            )
        )
    with pytest.raises(sa.exc.IntegrityError), old_db.begin() as conn:  # names are unique
        conn.execute(
            text(
                "INSERT INTO pacs_nodes (name, protocol, auth, retrieve_method, timeout_s, "
                "created_at) VALUES ('main', 'dicomweb', 'none', 'get', 30, '2026-12-05')"
            )
        )
    from alembic.script import ScriptDirectory

    previous = ScriptDirectory.from_config(alembic_config(old_db)).get_revision("0009_pacs_nodes")
    command.downgrade(alembic_config(old_db), previous.down_revision)
    assert "pacs_nodes" not in inspect(old_db).get_table_names()
    assert _dump(old_db) == before
    upgrade(old_db)
    assert current_revision(old_db) == head_revision()
