"""Several workstations record answers at the same moment on one database (SQLite file and a
real PostgreSQL server): no answer is lost and each reviewer gets exactly one audit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from auditdesk.store import audits
from auditdesk.store.db import Database, WriteConflictError
from auditdesk.store.models import Audit, AuditAnswer, Study, utcnow

BOTH_BACKENDS = True

REPO_ROOT = Path(__file__).resolve().parents[1]
ACR = (REPO_ROOT / "checklists" / "acr-mammo-positioning.toml").read_text()
# Pass/fail items of the ACR checklist; each process writes its own two.
KEYS = [
    "RCC:medial_tissue", "RCC:lateral_tissue", "LCC:medial_tissue", "LCC:lateral_tissue",
    "RCC:nipple_profile", "LCC:nipple_profile",
]  # fmt: skip

CHILD = textwrap.dedent(
    """
    import sys
    from sqlalchemy import text
    from auditdesk.store.audits import AuditRecorder
    from auditdesk.store.db import open_database

    url, study, reviewer, version, keys = sys.argv[1:6]
    db = open_database(url, migrate=False)
    with db.session() as s:
        s.execute(text("SELECT 1"))  # connected before the start signal
    print("ready", flush=True)
    sys.stdin.readline()
    for key in keys.split(","):
        rec = db.retrying(lambda: AuditRecorder.open(db, int(study), int(reviewer), int(version)))
        rec.answer(key, "pass")
    print("done", flush=True)
    db.dispose()
    """
)


def _setup(db: Database) -> tuple[int, list[int], int]:
    with db.transaction() as s:
        study = Study(study_uid="1.2.826.0.1.3680043.10.999.77", kind="mammo")
        s.add(study)
        s.flush()
        reviewers = [
            audits.create_reviewer(s, name, "technologist", name[:2].upper()).id
            for name in ("Ann", "Bea", "Cid")
        ]
        version = audits.register_checklist_version(
            s, "acr-mammo-positioning", "1.0", audits.sha256_text(ACR), ACR, "ACR positioning"
        )
        return study.id, reviewers, version.id


def test_simultaneous_writers_lose_nothing_and_share_one_audit(db: Database) -> None:
    study, reviewers, version = _setup(db)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
    children = []
    # One reviewer on three workstations at once writing to the same new audit (the "look up,
    # else create" race for the audit), and a second reviewer at the same moment.
    plan = [(reviewers[0], KEYS[0::3]), (reviewers[0], KEYS[1::3]), (reviewers[0], KEYS[2::3])]
    plan.append((reviewers[1], KEYS))
    for reviewer, keys in plan:
        args = [db.url, str(study), str(reviewer), str(version), ",".join(keys)]
        pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        children.append(
            subprocess.Popen([sys.executable, "-c", CHILD, *args], text=True, env=env, **pipes)
        )
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
        for child in children:  # release them together
            child.stdin.write("go\n")
            child.stdin.flush()
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0 and "done" in out, err
    finally:
        for child in children:
            child.kill()
    with db.session() as s:
        for reviewer in reviewers[:2]:
            audit_pks = s.scalars(select(Audit.id).where(Audit.reviewer_pk == reviewer)).all()
            assert len(audit_pks) == 1
            answers = dict(
                s.execute(
                    select(AuditAnswer.key, AuditAnswer.value).where(
                        AuditAnswer.audit_pk == audit_pks[0]
                    )
                ).all()
            )
            assert answers == {key: "pass" for key in KEYS}
        assert s.scalar(select(func.count()).select_from(Audit)) == 2


def test_a_duplicate_audit_is_refused_by_the_database_with_one_sentence(db: Database) -> None:
    """The unique constraint, not Python, refuses a second audit for reviewer+exam+checklist."""
    study, reviewers, version = _setup(db)
    audits.AuditRecorder.open(db, study, reviewers[0], version)
    duplicate = {
        "study_pk": study, "reviewer_pk": reviewers[0], "checklist_version_pk": version,
        "checklist_id": "acr-mammo-positioning", "status": "in_progress", "purpose": "review",
        "learning_opportunity": False, "blinded": False,
    }  # fmt: skip
    expected = WriteConflictError if db.engine.dialect.name == "postgresql" else Exception
    with pytest.raises(expected) as caught, db.transaction() as s:
        s.add(Audit(**duplicate, started_at=utcnow(), updated_at=utcnow()))
    cause = str(caught.value.__cause__ or caught.value)
    assert "uq_audits_study_reviewer_checklist_purpose" in cause or (
        "UNIQUE constraint failed: audits.study_pk, audits.reviewer_pk" in cause
    )
    if db.engine.dialect.name == "postgresql":
        assert caught.value.kind == "unique"
        assert "Another workstation saved the same record" in str(caught.value)
        assert "postgres@" in str(caught.value)  # names the database (no password in it)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Audit)) == 1
