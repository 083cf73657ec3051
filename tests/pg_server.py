"""A throw-away PostgreSQL cluster for the tests: ``initdb`` + ``pg_ctl`` on a Unix socket in a
temporary folder, no TCP (``listen_addresses=''``), the server log inside the cluster folder.

PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` user
(``runuser``); its folders are then owned by that user and their parent is world-readable.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path


def find_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries (Debian layout first, then PATH)."""
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(candidate, "initdb").exists() and Path(candidate, "pg_ctl").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


class PgCluster:
    """One running cluster; ``url(name)`` gives a SQLAlchemy URL for a database in it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="auditdesk-pg-"))
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.as_root = os.geteuid() == 0
        for folder in (self.data, self.sock):
            folder.mkdir(mode=0o700)
            if self.as_root:
                shutil.chown(folder, "postgres", "postgres")

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
        )  # fmt: skip
        options = f"-k {self.sock} -c listen_addresses='' -c fsync=off -c max_connections=60"
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.data / "server.log"), "-w", "start",
        )  # fmt: skip

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://postgres@/{dbname}?host={self.sock}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.sock), user="postgres", dbname="postgres") as conn:
            conn.autocommit = True
            conn.execute(sql)

    def create_database(self) -> str:
        """A fresh empty database; returns its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._run(str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
