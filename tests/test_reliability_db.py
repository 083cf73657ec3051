"""Damaged, foreign, empty, newer and read-only databases; backups; closed pipes; the log.

Every refused database must give one line and exit code 3 and stay byte-for-byte unchanged
(sha256 before and after). A read-only database opens read-only: listing works, writes are
refused with one sentence. Tests run as root, which ignores file permissions, so read-only is
tested both by forcing it (``--read-only``) and by running the command without root's power to
override permissions (``setpriv`` drops CAP_DAC_OVERRIDE), so the file really is read-only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditdesk.store import backup
from auditdesk.store.db import open_database, upgrade
from auditdesk.store.errors import DatabaseRefusedError
from auditdesk.store.models import Reviewer
from conftest import skip_or_fail

REPO_ROOT = Path(__file__).resolve().parents[1]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


DROP_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def run(args: list[str], home: Path, powerless: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "AUDITDESK_HOME": str(home)}
    cmd = [sys.executable, "-m", "auditdesk", *args]
    if powerless:  # root without CAP_DAC_OVERRIDE: file permissions apply
        cmd = [*DROP_OVERRIDE, *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def run_here(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    """The command in this process (fast); an escaping exception would fail the test."""
    from auditdesk.cli import main

    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def healthy(tmp_path: Path) -> Path:
    """A migrated database holding one reviewer, closed (no WAL left)."""
    path = tmp_path / "good.sqlite"
    db = open_database(f"sqlite:///{path}")
    from auditdesk.store.audits import create_reviewer

    with db.transaction() as s:
        create_reviewer(s, "Robin", "coach", "RB")
    db.dispose()
    return path


def _damaged(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    page = 4096
    for n in range(1, 8):  # garbage over the headers of b-tree pages 2 to 8
        data[n * page : n * page + 24] = b"\xa5" * 24
    dst.write_bytes(bytes(data))
    return dst


def _foreign(dst: Path) -> Path:
    conn = sqlite3.connect(dst)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()
    return dst


def _newer(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    conn = sqlite3.connect(dst)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    return dst


@pytest.mark.parametrize("kind", ["damaged", "foreign", "empty", "newer", "not_sqlite"])
def test_refused_database_gives_one_line_exit_3_and_stays_unchanged(
    kind: str, healthy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / f"{kind}.sqlite"
    if kind == "damaged":
        _damaged(healthy, bad)
    elif kind == "foreign":
        _foreign(bad)
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "newer":
        _newer(healthy, bad)
    else:
        bad.write_bytes(b"PK\x03\x04 a zip file, not a database" * 100)
    before = sha(bad)
    with pytest.raises(DatabaseRefusedError):
        open_database(f"sqlite:///{bad}")
    url = f"sqlite:///{bad}"
    folder = tmp_path / "dicom"
    folder.mkdir(exist_ok=True)
    for args in (
        ["studies"],
        ["import", str(folder)],
        ["reviewer", "add", "Kim", "--role", "coach", "--initials", "KM"],
        ["db", "check"],
        ["db", "backup"],
    ):
        code, out, err = run_here(capsys, ["--db", url, *args])
        assert code == 3, (args, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert str(bad) in lines[0]
        assert sha(bad) == before, f"{args} changed the {kind} file"
    if kind == "damaged":  # once through the real command: no traceback, exit code 3
        done = run(["--db", url, "import", str(folder)], tmp_path / "home")
        assert done.returncode == 3 and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
        assert sha(bad) == before
    assert sorted(p.name for p in tmp_path.glob(f"{kind}.sqlite*")) == [bad.name]


def test_damaged_message_says_what_to_do(healthy: Path, tmp_path: Path) -> None:
    bad = _damaged(healthy, tmp_path / "bad.sqlite")
    with pytest.raises(DatabaseRefusedError) as info:
        open_database(f"sqlite:///{bad}")
    assert info.value.reason == "damaged"
    assert "restore a backup" in str(info.value)


def test_forced_read_only_browses_and_refuses_writes(
    healthy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sha(healthy)
    url = f"sqlite:///{healthy}"
    code, out, err = run_here(capsys, ["--read-only", "--db", url, "reviewer", "list"])
    assert code == 0, err
    assert "Robin" in out
    assert "read-only" in err
    add = ["reviewer", "add", "Kim", "--role", "coach", "--initials", "K"]
    code, out, err = run_here(capsys, ["--read-only", "--db", url, *add])
    assert code == 3
    assert "open read-only" in err and len(err.strip().splitlines()) == 2  # note + refusal
    assert sha(healthy) == before
    db = open_database(url, read_only=True)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Reviewer)) == 1
    db.dispose()


def test_read_only_file_and_folder_really_not_writable(healthy: Path) -> None:
    """The file (444) in a folder (555), opened by a process that cannot override permissions."""
    if shutil.which("setpriv") is None:
        skip_or_fail("needs setpriv (util-linux) to drop root's permission override")
    root = Path(tempfile.mkdtemp(prefix="adro-", dir="/tmp"))
    try:
        folder = root / "share"
        folder.mkdir()
        db_path = folder / "audits.sqlite"
        shutil.copyfile(healthy, db_path)
        os.chmod(db_path, 0o444)
        os.chmod(folder, 0o555)
        home = root / "home"
        home.mkdir()
        probe = subprocess.run(
            [*DROP_OVERRIDE, "sh", "-c", f": >> '{db_path}'"], capture_output=True, check=False
        )
        assert probe.returncode != 0, "the file must really be read-only for the command"
        before = sha(db_path)
        url = f"sqlite:///{db_path}"
        listing = run(["--db", url, "reviewer", "list"], home, powerless=True)
        assert listing.returncode == 0, listing.stderr
        assert "Robin" in listing.stdout and "read-only" in listing.stderr
        write = run(
            ["--db", url, "reviewer", "add", "Kim", "--role", "coach", "--initials", "K"],
            home,
            powerless=True,
        )
        assert write.returncode == 3, write.stderr
        assert "read-only" in write.stderr and "Traceback" not in write.stderr
        assert sha(db_path) == before
    finally:
        os.chmod(root / "share", 0o755)
        shutil.rmtree(root)


def test_backup_restore_and_refusing_a_damaged_backup(
    healthy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{healthy}"

    def cli(*args: str) -> subprocess.CompletedProcess:
        code, out, err = run_here(capsys, ["--db", url, "db", *args])
        return subprocess.CompletedProcess(args, code, out, err)

    made = cli("backup", "--keep", "3")
    assert made.returncode == 0, made.stderr
    db = open_database(url)
    from auditdesk.store.audits import create_reviewer

    with db.transaction() as s:
        create_reviewer(s, "Later", "coach", "LT")
    db.dispose()
    manual = next(b for b in backup.list_backups(healthy) if b.reason == "manual")
    # A damaged or foreign backup is refused and the database is not touched.
    bad = _damaged(manual.path, tmp_path / "bad-backup.sqlite")
    before = sha(healthy)
    refused = cli("restore", str(bad))
    assert refused.returncode == 3 and "damaged" in refused.stderr
    foreign = cli("restore", str(_foreign(tmp_path / "f.sqlite")))
    assert foreign.returncode == 3 and "not AuditDesk's" in foreign.stderr
    assert sha(healthy) == before
    restored = cli("restore", str(manual.path))
    assert restored.returncode == 0, restored.stderr
    db = open_database(url)
    with db.session() as s:
        names = set(s.scalars(select(Reviewer.name)))
    db.dispose()
    assert names == {"Robin"}  # the state of the backup
    kept = [b for b in backup.list_backups(healthy) if b.reason == "before-restore"]
    assert kept, "the replaced database was kept"
    # keep=3 (a setting): never more than three backups of this database.
    for _ in range(4):
        cli("backup")
    assert len(backup.list_backups(healthy)) == 3


def test_backup_before_migration_and_daily_on_first_write(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    from auditdesk.store.db import Database

    old = Database(f"sqlite:///{path}")
    upgrade(old.engine, "0004")
    old.dispose()
    db = open_database(f"sqlite:///{path}")
    reasons = [b.reason for b in backup.list_backups(path)]
    assert reasons == ["before-upgrade"]
    check = sqlite3.connect(backup.list_backups(path)[0].path)
    assert check.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0004"
    check.close()
    db.dispose()


def test_daily_backup_on_first_write_once_a_day(tmp_path: Path) -> None:
    import datetime as dt

    from auditdesk.store.audits import create_reviewer

    path = tmp_path / "new.sqlite"
    db = open_database(f"sqlite:///{path}")
    # (a new database already wrote its site key: that was the first write of the day)
    for name in ("A", "B"):
        with db.transaction() as s:
            create_reviewer(s, name, "coach", name)
    db.dispose()
    db = open_database(f"sqlite:///{path}")  # another window, same day
    with db.transaction() as s:
        create_reviewer(s, "C", "coach", "C")
    db.dispose()
    assert [b.reason for b in backup.list_backups(path)] == ["daily"]
    daily = sqlite3.connect(backup.list_backups(path)[0].path)
    assert daily.execute("SELECT count(*) FROM reviewers").fetchone()[0] == 0  # before the write
    daily.close()
    assert not backup.daily_backup_due(path)
    assert backup.daily_backup_due(path, today=dt.date.today() + dt.timedelta(days=1))


def test_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    env = {**os.environ, "AUDITDESK_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditdesk", "studies", "--images"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    proc.stdout.close()  # like `| head -1` after its line: nobody reads any more
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0
    assert err == b""


def test_unexpected_error_is_one_line_and_logged_without_phi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected exception: one line naming the log; the log has the traceback, scrubbed."""
    import io
    from contextlib import redirect_stderr

    from auditdesk import cli
    from auditdesk.runtime import app_log

    uid, name, born = "1.2.826.0.1.3680043.10.999.4242", "Doe^Jane", "19650203"
    pid, folder = "PID0099887766", "/data/DEMO-0042/20260301_MG_ACC4242/1.dcm"

    def boom(_args) -> int:
        raise RuntimeError(f"study {uid} of {name} born {born} patient {pid} in {folder}")

    monkeypatch.setattr(cli, "cmd_studies", boom)
    err = io.StringIO()
    with redirect_stderr(err):
        code = cli.main(["studies"])
    assert code == 4
    assert len(err.getvalue().strip().splitlines()) == 1
    assert str(app_log.log_path()) in err.getvalue()
    log = app_log.log_path().read_text()
    assert "RuntimeError" in log and "Traceback" in log and "boom" in log
    for value in (uid, name, born, "Jane", pid, "DEMO-0042", "ACC4242"):
        assert value not in log


def test_read_only_and_backup_with_spaces_and_hash_in_the_path(
    healthy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = tmp_path / "share #1" / "audits 2026.sqlite"
    odd.parent.mkdir()
    shutil.copyfile(healthy, odd)
    url = f"sqlite:///{odd}"
    code, out, err = run_here(capsys, ["--read-only", "--db", url, "reviewer", "list"])
    assert code == 0 and "Robin" in out, err
    code, out, err = run_here(capsys, ["--db", url, "db", "backup"])
    assert code == 0, err
    assert len(backup.list_backups(odd)) == 1


def test_damage_found_while_open_is_one_sentence(healthy: Path) -> None:
    """The file is damaged under an open database (another program, a failing disk)."""
    from auditdesk.store.audits import create_reviewer
    from auditdesk.store.errors import DatabaseError

    db = open_database(f"sqlite:///{healthy}")
    db.engine.dispose()  # no cached pages: the next write reads the damaged file
    data = bytearray(healthy.read_bytes())
    for start in range(4096, len(data), 4096):  # every b-tree page but the schema's
        data[start : start + 24] = b"\xa5" * 24
    healthy.write_bytes(bytes(data))
    with pytest.raises(DatabaseError, match="found damaged while in use"), db.transaction() as s:
        create_reviewer(s, "Kim", "coach", "KM")
    db.dispose()
