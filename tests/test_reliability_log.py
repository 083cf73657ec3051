"""The log file after a real run (import and audit of the test set, a refused database and an
unexpected error quoting the test set's identifiers) holds none of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditdesk.cli import main
from auditdesk.runtime import app_log
from phi_scan import find_phi


def test_log_after_import_and_audit_carries_no_patient_data(
    test_set, phi_values, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from sqlalchemy import select

    from auditdesk.store.db import open_database
    from auditdesk.store.models import Study

    url = f"sqlite:///{tmp_path / 'audits.sqlite'}"
    assert main(["--db", url, "import", str(test_set.root)]) in (0, 1)
    assert (
        main(["--db", url, "reviewer", "add", "Robin", "--role", "coach", "--initials", "RB"]) == 0
    )
    db = open_database(url)
    with db.session() as s:
        study = s.scalar(select(Study.id).where(Study.kind == "mammo"))
    db.dispose()
    args = ["--db", url, "audit", "record", "--study", str(study), "--reviewer", "Robin"]
    args += ["--checklist", "acr-mammo-positioning", "--answer", "RCC:medial_tissue=pass"]
    assert main(args) == 0
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert main(["--db", f"sqlite:///{empty}", "studies"]) == 3
    # An unexpected error whose message quotes every identifier of the test set, and the
    # paths of its files (folders named after patients and accession numbers).
    quoted = (
        " ".join(sorted(phi_values))
        + " "
        + " ".join(str(f.path) for study in test_set.studies for f in study.files)
    )

    def boom(_args) -> int:
        raise RuntimeError(quoted)

    import auditdesk.cli as cli

    monkeypatch.setattr(cli, "cmd_studies", boom)
    assert main(["--db", url, "studies"]) == 4
    capsys.readouterr()
    log = app_log.log_path()
    text = log.read_text()
    assert "RuntimeError" in text and "studies started" in text
    assert find_phi(log, phi_values) == []
