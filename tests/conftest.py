"""Shared fixtures. Qt runs offscreen unless the caller chose a platform (e.g. xcb under Xvfb)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def skip_or_fail(reason: str) -> None:
    """Skip on a developer's machine, but fail in CI (``CI`` set): a check that CI skips is a
    check nobody runs, so a missing resource there must turn the build red."""
    if os.environ.get("CI", "").strip():
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public DICOM files beside the repository (../shared/data); outside the
    repository, so a checkout without them skips these tests locally and fails in CI."""
    if not SHARED_DATA.is_dir():
        skip_or_fail(f"real test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own data folder, so nothing touches the user's real database."""
    monkeypatch.setenv("AUDITDESK_HOME", str(tmp_path_factory.mktemp("home")))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules that set ``BOTH_BACKENDS = True`` run every test using ``db`` on SQLite and on a
    throw-away PostgreSQL server."""
    if "db" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_BACKENDS", False):
        # Checks of SQLite files or PRAGMAs (marked sqlite_only) have no PostgreSQL run.
        sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
        backends = ["sqlite"] if sqlite_only else ["sqlite", "postgresql"]
        metafunc.parametrize("db", backends, indirect=True)


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path):
    """A fresh, migrated database: SQLite, or PostgreSQL where the module asks for both."""
    from auditdesk.store.db import open_database

    if getattr(request, "param", "sqlite") == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'test.sqlite'}"
    database = open_database(url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def test_set(tmp_path_factory: pytest.TempPathFactory):
    """The generator's small synthetic set (mammo 4-views incl. MONOCHROME1 / JPEG 2000 /
    FOR PROCESSING / spot view, and prostate MR with several vendors' b-value tags)."""
    from auditdesk.demo.generator import generate_test_set

    return generate_test_set(tmp_path_factory.mktemp("testset"))


@pytest.fixture(scope="session")
def loader():
    """One decode process pool for every GUI test (spawned processes are slow to start)."""
    from auditdesk.dicom.loader import DisplayLoader

    pool = DisplayLoader(workers=2)
    yield pool
    pool.shutdown()


@pytest.fixture(scope="session")
def phi_values(test_set) -> frozenset[str]:
    """Every patient identifier, name, birth date and UID in the test set's headers and
    manifest: outputs that must stay de-identified are scanned for each of them."""
    import pydicom

    values: set[str] = set()
    for study in test_set.studies:
        values |= {study.study_uid, study.patient_id, study.accession_number, study.patient_name}
        for f in study.files:
            values |= {f.study_uid, f.series_uid, f.sop_uid}
            ds = pydicom.dcmread(f.path, stop_before_pixels=True, force=True)
            for keyword in (
                "PatientID",
                "AccessionNumber",
                "StudyInstanceUID",
                "SeriesInstanceUID",
                "SOPInstanceUID",
                "FrameOfReferenceUID",
                "OtherPatientIDs",
            ):
                value = ds.get(keyword)
                if value:
                    values.add(str(value))
            name = ds.get("PatientName")
            if name:
                text = str(name)
                values |= {text, text.replace("^", " "), text.replace("^", ", ")}
                values |= {part for part in text.split("^") if len(part) > 5}
            born = ds.get("PatientBirthDate")
            if born:
                values.add(str(born))
                values.add(f"{born[:4]}-{born[4:6]}-{born[6:8]}")
    values.discard("")
    return frozenset(values)


_SLOW_LIST = Path(__file__).with_name("slow_tests.txt")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests listed in tests/slow_tests.txt ``slow`` (the fast subset leaves them out)."""
    slow = {
        line.strip()
        for line in _SLOW_LIST.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    for item in items:
        if item.nodeid in slow:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def pg_cluster():
    """A throw-away PostgreSQL cluster (tests/pg_server.py), started once and removed at the end."""
    from tests.pg_server import PgCluster, find_bin_dir

    bin_dir = find_bin_dir()
    if bin_dir is None:
        skip_or_fail("PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/setup")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        skip_or_fail("psycopg (3.x) is not installed; run scripts/setup")
    import subprocess

    try:
        cluster = PgCluster(bin_dir)
        cluster.start()
    except (LookupError, OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", "") or exc
        skip_or_fail(f"could not start a throw-away PostgreSQL cluster: {detail}")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """The URL of a fresh, empty database on the throw-away server."""
    return pg_cluster.create_database()
