"""Same work on SQLite and on a real PostgreSQL server gives byte-identical exports.

Dates, time zones, booleans, JSON answer columns and row ordering all pass through the database;
any backend difference in them shows up as a byte difference in one of these files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from auditdesk.cli import main

FIXED_SECRET = bytes(range(32))  # exam keys derive from it: the same on both databases
TODAY = "2030-01-01"  # every demo week is complete by then: no "partial" flag depends on the clock


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from auditdesk.demo.generator import generate_demo

    root = tmp_path_factory.mktemp("same-numbers")
    manifest = generate_demo(root / "data", weeks=5, mammo_per_week=2, mr_exams=0, size=(160, 130))
    return manifest.root


def _do_the_work(url: str, folder: Path, out: Path, capsys) -> dict[str, bytes]:
    """Import the folder, record the demo audits (double reads included), export three files."""
    from auditdesk.demo.audits import fill_demo_audits
    from auditdesk.dicom.index import import_paths
    from auditdesk.store.db import open_database
    from auditdesk.store.models import SiteSecret

    db = open_database(url)
    try:
        with db.transaction() as session:
            session.execute(update(SiteSecret).values(secret=FIXED_SECRET))
        import_paths(db, [folder])
        fill_demo_audits(db, manifest=folder)
    finally:
        db.dispose()
    out.mkdir()
    commands = {
        "weekly.csv": ["export", "weekly", "--breakdowns", "--today", TODAY],
        "exams.csv": ["export", "exams"],
        "agreement.csv": ["agreement"],
    }
    files = {}
    for name, argv in commands.items():
        path = out / name
        assert main(["--db", url, *argv, "-o", str(path)]) == 0, capsys.readouterr().err
        files[name] = path.read_bytes()
    return files


def test_exports_are_byte_identical_on_sqlite_and_postgresql(
    demo_folder: Path, pg_url: str, tmp_path: Path, capsys
) -> None:
    lite = _do_the_work(f"sqlite:///{tmp_path / 'a.sqlite'}", demo_folder, tmp_path / "a", capsys)
    pg = _do_the_work(pg_url, demo_folder, tmp_path / "b", capsys)
    # The files hold real work, not just a header: the comparison would catch a difference.
    assert lite["weekly.csv"].count(b"\n") >= 5
    assert lite["exams.csv"].count(b"\n") >= 10
    assert lite["agreement.csv"].count(b"\n") >= 3
    for name in lite:
        assert pg[name] == lite[name], name
